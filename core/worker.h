/*
 * worker: one sampling thread per target.
 *
 * The thread owns the target's maps fd, its previous snapshot, its diff
 * buffer and its backup store; nothing else touches them.  Everything the
 * control thread may read or change (state, interval, requests, counters)
 * sits under the worker's lock, reached through the functions below.  The
 * worker never exits the process and never prints: it reports through the
 * event callback it was given.
 */
#ifndef MEMMON_CORE_WORKER_H
#define MEMMON_CORE_WORKER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "core/policy.h"

#ifdef __cplusplus
extern "C" {
#endif

enum target_state {
        TARGET_WAITING,  /* no process yet: polled every interval */
        TARGET_ATTACHED, /* sampling ("running" in replies) */
        TARGET_PAUSED,   /* told to pause */
        TARGET_EXITED,   /* the process ended and will not come back */
        TARGET_DENIED,   /* not allowed to read its maps */
        TARGET_STOPPED,  /* the worker has ended */
};

const char *target_state_name(enum target_state s);

struct proc_scan;

/* What a worker needs from the outside, passed in rather than global. */
struct worker_env {
        /* Called from the worker thread with one message line (no '\n'). */
        void (*event)(void *user, const char *target, enum log_level level, const char *msg);
        void *user;
        /* Shared by the `match` targets to find their process (see
         * core/procscan.h); NULL: each scans /proc itself. */
        struct proc_scan *scan;
};

/* A target's configuration.  Strings are owned by the struct. */
struct worker_params {
        char *name;
        enum target_selector selector;
        pid_t pid;        /* SELECT_PID, SELECT_EXEC */
        char *pidfile;    /* SELECT_PIDFILE */
        char *match;      /* SELECT_MATCH */
        char *backup_dir; /* backups/<name>, or backups in the single-target layout */
        struct target_policy policy;
        /* Named after its pid (pid<PID>, the single-target layout): the
         * `pid` command renames it after the pid it then watches. */
        bool name_follows_pid;
};

int worker_params_copy(struct worker_params *dst, const struct worker_params *src);
void worker_params_fini(struct worker_params *p);

/* Counters and facts for status replies; copied out under the lock. */
struct worker_status {
        enum target_state state;
        pid_t pid;
        uint64_t interval_us;
        size_t regions;
        uint64_t samples;
        uint64_t full_written;
        uint64_t diffs_written;
        uint64_t write_errors;
        struct timespec last_change; /* CLOCK_REALTIME; 0 when none */
        /* Why waiting/denied/exited: room for a long pidfile path and the
         * error, but not PATH_MAX, as every worker's stack holds copies. */
        char reason[1024];
        /* Change ticks whose maps never held still: no two consecutive reads
         * agreed (the last sound read was recorded unconfirmed, or none was
         * sound and nothing was recorded). */
        uint64_t unstable;
};

enum worker_request {
        REQ_SAMPLE = 1 << 0, /* sample now (SIGHUP) */
        REQ_BACKUP = 1 << 1, /* full snapshot now (SIGUSR1, `backup`) */
        REQ_STOP = 1 << 2,   /* end the thread */
        REQ_FINAL = 1 << 3,  /* with REQ_STOP: write a final full snapshot */
        REQ_PAUSE = 1 << 4,
        REQ_RESUME = 1 << 5,
        REQ_PID = 1 << 6,    /* follow another pid: new chain */
        REQ_PARAMS = 1 << 7, /* apply new interval and policy */
};

/* One target's sampling thread; opaque outside worker.c. */
struct worker;

/* Allocates a worker for params (copied).  first_delay_us spreads first
 * samples of many targets over the interval.  Returns 0 or -errno. */
int worker_new(const struct worker_params *params, const struct worker_env *env, uint64_t first_delay_us,
               struct worker **ret);
int worker_start(struct worker *w);
/* Posts requests (enum worker_request bits).  new_pid is used with REQ_PID,
 * params with REQ_PARAMS (copied).  Returns a ticket for worker_wait, or
 * -errno. */
int64_t worker_post(struct worker *w, unsigned requests, pid_t new_pid, const struct worker_params *params);
/* Posts a new interval (keeping the rest of the policy).  Returns a ticket
 * or -errno. */
int64_t worker_set_interval(struct worker *w, uint64_t interval_us);
/* Waits until the request with that ticket is done, at most timeout_ms.
 * Returns 0 or -ETIMEDOUT; a negative ticket (the -errno of a failed
 * worker_post) is returned at once, so that a caller may pass what
 * worker_post returned without checking it first. */
int worker_wait(struct worker *w, int64_t ticket, int timeout_ms);
/* The result of the last backup request (0 or -errno). */
int worker_last_result(struct worker *w);
void worker_get_status(struct worker *w, struct worker_status *ret);
enum worker_change {
        WORKER_SAME,
        WORKER_POLICY_CHANGED,   /* interval or backup policy */
        WORKER_SELECTOR_CHANGED, /* which process, or where backups go */
};

/* Compares the worker's current parameters with p. */
enum worker_change worker_compare(struct worker *w, const struct worker_params *p);

/* The target's name (borrowed: valid until worker_free, also after a `pid`
 * command renamed a target named after its pid). */
const char *worker_name(const struct worker *w);

/* Stops the thread (with a final snapshot when final), joins and frees. */
void worker_free(struct worker *w, int final);

/* One tick without a thread, for tests and benchmarks: samples the target
 * once as the thread would.  Returns 0 or -errno. */
int worker_tick(struct worker *w);

#ifdef __cplusplus
}
#endif
#endif
