#include "agent/capture.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "capture/bpfcap.h"

struct agent_capture {
        struct bpfcap *bpf; /* NULL: poll */
        struct capture_source source;
        char describe[600]; /* "ebpf" or "poll (WHY)" */
};

int agent_capture_start(enum capture_mode mode, struct agent_log *log, struct agent_capture **ret) {
        struct bpfcap_options o = {0};
        struct agent_capture *c = calloc(1, sizeof(*c));
        char why[512] = "";
        int r;

        if (!c)
                return -ENOMEM;
        if (mode == CAPTURE_POLL) {
                snprintf(c->describe, sizeof(c->describe), "poll (capture = poll)");
                agent_log(log, NULL, LOG_INFO, "capture: %s", c->describe);
                *ret = c;
                return 0;
        }
        /* Records wake the consumer in batches of this much; it also
         * drains on its own tick, so alerts wait at most one tick. */
        o.wake_bytes = 256 * 1024;
        r = bpfcap_new(&o, &c->bpf, why, sizeof(why));
        if (r == -ENOMEM) {
                free(c);
                return r;
        }
        if (r < 0) {
                /* A reason cut short still says why. */
                (void)snprintf(c->describe, sizeof(c->describe), "poll (%s)", why);
                if (mode == CAPTURE_EBPF)
                        agent_log(log, NULL, LOG_ERROR,
                                  "capture = ebpf, but eBPF cannot run here: %s; polling instead", why);
                agent_log(log, NULL, LOG_INFO, "capture: %s", c->describe);
                *ret = c;
                return 0;
        }
        snprintf(c->describe, sizeof(c->describe), "ebpf");
        c->source = bpfcap_source(c->bpf);
        agent_log(log, NULL, LOG_INFO, "capture: ebpf (BPF program loaded, lock hook %s)",
                  bpfcap_hook_kind(c->bpf));
        *ret = c;
        return 0;
}

void agent_capture_free(struct agent_capture *c) {
        if (!c)
                return;
        bpfcap_free(c->bpf);
        free(c);
}

const char *agent_capture_describe(const struct agent_capture *c) {
        return c->describe;
}

const struct capture_source *agent_capture_source(const struct agent_capture *c) {
        return c->bpf ? &c->source : NULL;
}
