#include "agent/capture.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/bpfcap.h"

/* A process the exec hook watched for a `match` target that the target
 * did not take over within this long is let go. */
#define ADOPT_MS 5000

struct agent_capture {
        struct bpfcap *bpf; /* NULL: poll */
        struct capture_source source;
        char describe[600]; /* "ebpf" or "poll (WHY)" */
        /* Where exec records go; taken by the capture's thread and by
         * workers that flush. */
        pthread_mutex_t route_lock;
        struct worker_registry *registry;
};

/* bpfcap's on_proc: an exec may be the process a waiting `match` target
 * waits for. */
static void on_proc(void *ctx, const struct bpfcap_proc *p) {
        struct agent_capture *c = ctx;

        if (p->kind != BPFCAP_EXEC)
                return;
        pthread_mutex_lock(&c->route_lock);
        if (c->registry)
                (void)worker_registry_exec(c->registry, p->pid, p->comm);
        pthread_mutex_unlock(&c->route_lock);
}

/* The largest power of two at most v (v >= 1). */
static uint64_t power_of_two_floor(uint64_t v) {
        uint64_t p = 1;

        while (p <= v / 2)
                p *= 2;
        return p;
}

int agent_capture_start(enum capture_mode mode, uint64_t ring_bytes, struct agent_log *log,
                        struct agent_capture **ret) {
        struct bpfcap_options o = {0};
        struct agent_capture *c = calloc(1, sizeof(*c));
        char why[512] = "";
        int r;

        if (!c)
                return -ENOMEM;
        r = -pthread_mutex_init(&c->route_lock, NULL);
        if (r < 0) {
                free(c);
                return r;
        }
        if (mode == CAPTURE_POLL) {
                snprintf(c->describe, sizeof(c->describe), "poll (capture = poll)");
                agent_log(log, NULL, LOG_INFO, "capture: %s", c->describe);
                *ret = c;
                return 0;
        }
        /* Records wake the consumer in batches of this much; it also
         * drains on its own tick, so alerts wait at most one tick. */
        o.wake_bytes = 256 * 1024;
        o.ring_bytes = ring_bytes ? (size_t)power_of_two_floor(ring_bytes) : 0;
        if (o.ring_bytes && o.wake_bytes > o.ring_bytes / 2)
                o.wake_bytes = o.ring_bytes / 2;
        o.adopt_ms = ADOPT_MS;
        o.on_proc = on_proc;
        o.ctx = c;
        r = bpfcap_new(&o, &c->bpf, why, sizeof(why));
        if (r == 0 && (r = bpfcap_start(c->bpf)) < 0) {
                (void)snprintf(why, sizeof(why), "cannot start the capture's thread: %s", strerror(-r));
                bpfcap_free(c->bpf);
                c->bpf = NULL;
        }
        if (r == -ENOMEM) {
                agent_capture_free(c);
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
        pthread_mutex_destroy(&c->route_lock);
        free(c);
}

const char *agent_capture_describe(const struct agent_capture *c) {
        return c->describe;
}

const char *agent_capture_mode(const struct agent_capture *c) {
        return c->bpf ? "ebpf" : "poll";
}

const struct capture_source *agent_capture_source(const struct agent_capture *c) {
        return c->bpf ? &c->source : NULL;
}

void agent_capture_route(struct agent_capture *c, struct worker_registry *reg) {
        if (!c)
                return;
        pthread_mutex_lock(&c->route_lock);
        c->registry = reg;
        pthread_mutex_unlock(&c->route_lock);
}
