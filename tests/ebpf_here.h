// ebpf_here: whether eBPF capture can run in the test's own process, for
// the tests that need it to skip and say why where it cannot.
#ifndef MEMMON_TESTS_EBPF_HERE_H
#define MEMMON_TESTS_EBPF_HERE_H

#include <string>

namespace memmon_test {

// Loads the BPF program and lets it go: true when that worked; otherwise
// *why holds the capture's one-line reason.
bool EbpfHere(std::string *why);

} // namespace memmon_test

#endif
