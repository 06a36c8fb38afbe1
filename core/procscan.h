/*
 * procscan: finding processes by name with one scan of /proc shared by
 * every waiting `match` target.  A scan reads the comm and exe basename of
 * every process; lookups between scans use it, so that N targets cost one
 * scan per min_interval rather than N per tick.  A process that appears is
 * found at the first scan after it did.  The owner (the supervisor) keeps
 * the scan; core/ has no process-global state.
 */
#ifndef MEMMON_CORE_PROCSCAN_H
#define MEMMON_CORE_PROCSCAN_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/proc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How often the supervisor's scan may look at /proc. */
#define PROC_SCAN_INTERVAL_US UINT64_C(1000000)

struct proc_scan_entry;

/* The fields are the scan's own, under lock. */
struct proc_scan {
        pthread_mutex_t lock;
        uint64_t min_interval_us;
        int scanned;               /* a scan has been made */
        struct timespec last;      /* CLOCK_MONOTONIC of the last scan */
        struct proc_scan_entry *v; /* every process seen, in /proc order */
        size_t n, cap;
        uint64_t scans; /* scans made so far */
};

/* A scan that looks at /proc at most once per min_interval_us (0: at every
 * lookup).  Returns 0 or -errno. */
int proc_scan_init(struct proc_scan *s, uint64_t min_interval_us);
void proc_scan_fini(struct proc_scan *s);

/* Finds the oldest live process whose comm or exe basename equals name
 * and that passes filter (core/policy.h; NULL or empty: any), the caller's
 * own process excepted, scanning /proc again first when the last scan is
 * min_interval_us old.  A process the scan saw is checked again before it is
 * returned, so an exited or renamed one is never given; the filter (uids,
 * executable) is checked then too, on the few processes of that name only,
 * so that filtered targets still share the one scan.  Any thread may call
 * it.  Returns 0, -ESRCH when none matches, or another -errno. */
int proc_scan_find(struct proc_scan *s, const char *name, const struct target_filter *filter,
                   struct proc_id *ret);

/* How many scans of /proc have been made (for tests and figures). */
uint64_t proc_scan_count(struct proc_scan *s);

/* proc_scan_find with a scan of its own, made now.  Returns as it does. */
int proc_find_by_name(const char *name, const struct target_filter *filter, struct proc_id *ret);

#ifdef __cplusplus
}
#endif
#endif
