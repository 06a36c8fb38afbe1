#include "tests/ebpf_here.h"

#include "capture/bpfcap.h"

namespace memmon_test {

bool EbpfHere(std::string *why) {
        bpfcap_options o = {};
        bpfcap *c = nullptr;
        char reason[512] = "";
        int r = bpfcap_new(&o, &c, reason, sizeof(reason));
        bpfcap_free(c);
        *why = reason;
        return r == 0;
}

} // namespace memmon_test
