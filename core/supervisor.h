/*
 * supervisor: the set of targets and their workers.
 *
 * It is driven by one control thread (the agent's loop): adding, removing
 * and reconfiguring targets, and posting requests to their workers.  Targets
 * keep the order they were added in.
 */
#ifndef MEMMON_CORE_SUPERVISOR_H
#define MEMMON_CORE_SUPERVISOR_H

#include <stddef.h>

#include "core/procscan.h"
#include "core/worker.h"

#ifdef __cplusplus
extern "C" {
#endif

struct supervisor {
        struct worker **workers; /* owned */
        size_t n;
        size_t cap;
        struct worker_env env; /* its scan is &scan */
        /* One scan of /proc for every waiting `match` target, at most once
         * per PROC_SCAN_INTERVAL_US. */
        struct proc_scan scan;
        /* Every worker, for readers on other threads (health, status). */
        struct worker_registry registry;
        /* With eBPF capture: the pidfds of watched processes (NULL: none). */
        struct exit_watch *exits;
};

/* s must stay where it is until supervisor_fini: its workers point into it.
 * Returns 0 or -errno (then s needs no supervisor_fini). */
int supervisor_init(struct supervisor *s, const struct worker_env *env);
/* Stops every worker (no final snapshot) and frees them. */
void supervisor_fini(struct supervisor *s);

/* Starts a worker for params.  -EEXIST when the name is taken. */
int supervisor_add(struct supervisor *s, const struct worker_params *params, uint64_t first_delay_us);
/* Stops and frees the named target, writing a final snapshot when final.
 * Returns 0 or -ENOENT. */
int supervisor_remove(struct supervisor *s, const char *name, int final);
struct worker *supervisor_find(const struct supervisor *s, const char *name);

/* Posts requests to every worker and waits (at most timeout_ms in all) until
 * each has done them.  Returns the number of workers that timed out. */
int supervisor_post_all(struct supervisor *s, unsigned requests, int timeout_ms);

/* Result of supervisor_apply. */
struct supervisor_changes {
        unsigned added, removed, changed, restarted, kept;
};

/* Makes the running set match targets[0..n): removed targets stop with a
 * final snapshot, new ones start (first samples spread over their
 * interval), targets whose selector changed restart with a new chain, those
 * whose interval or policy changed get it applied in place (same worker,
 * same chain), and untouched ones are left alone.  Returns 0 or -errno;
 * *ret (when not NULL) says what was done, also when a failure stopped it
 * midway. */
int supervisor_apply(struct supervisor *s, const struct worker_params *targets, size_t n,
                     struct supervisor_changes *ret);

#ifdef __cplusplus
}
#endif
#endif
