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

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "core/alerts.h"
#include "core/maps.h"
#include "core/policy.h"
#include "core/prom.h"
#include "core/strbuf.h"

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
struct worker;
struct capture_source;
struct exit_watch;

/* The workers of one supervisor, for readers on other threads (the
 * watchdog's health check, the systemd status line).  A worker is listed
 * from worker_new() until worker_free() has joined its thread, so a worker
 * being stopped (a final snapshot, a read its target blocks) is still seen.
 * The lock is held only to link, unlink and visit; never while waiting. */
struct worker_registry {
        pthread_mutex_t lock;
        struct worker *head;
};

int worker_registry_init(struct worker_registry *reg);
void worker_registry_fini(struct worker_registry *reg);
/* Lists w in reg until worker_free() (call before worker_start()). */
void worker_registry_add(struct worker_registry *reg, struct worker *w);
/* Calls fn(ctx, w) for every listed worker, under the registry's lock: fn
 * may call worker_get_status() and worker_get_health() on w and nothing
 * that waits.  Safe from any thread. */
void worker_registry_visit(struct worker_registry *reg, void (*fn)(void *ctx, struct worker *w), void *ctx);

/* What happened to a target, for programs (logs/events.jsonl, alert_exec):
 * the typed twin of the message lines a worker reports. */
enum worker_event_kind {
        WORKER_EVENT_ATTACH,        /* a process instance was found and its maps opened */
        WORKER_EVENT_EXIT,          /* the process instance ended (reason says how) */
        WORKER_EVENT_FULL,          /* a full snapshot was written */
        WORKER_EVENT_DIFF,          /* an incremental diff was written */
        WORKER_EVENT_ALERT,         /* an alert was raised */
        WORKER_EVENT_ALERT_CLEARED, /* an alert was cleared */
        WORKER_EVENT_STATE,         /* the target's state changed */
        WORKER_EVENT_ERROR,         /* something failed; message says what */
        WORKER_EVENT_KIND_COUNT,
};

/* "attach", "exit", "full", "diff", "alert", "alert_cleared", "state",
 * "error" (the "event" of events.jsonl), or NULL out of range. */
const char *worker_event_name(enum worker_event_kind kind);

/* One typed event.  Every pointer is borrowed for the callback's duration
 * only; fields that do not belong to the kind are 0 or NULL. */
struct worker_event {
        enum worker_event_kind kind;
        const char *target;
        pid_t pid;           /* the process instance (0: none yet) */
        uint64_t start_time; /* its start time (0: not known) */
        /* FULL and DIFF: the file's name (in full/ or incremental/), and
         * the regions of the maps it records. */
        const char *file;
        size_t regions;
        /* FULL: why it was written ("sampling started", "manual", ...). */
        const char *why;
        /* DIFF: its records. */
        size_t added, removed, changed;
        /* ALERT and ALERT_CLEARED: the event among alerts' (core/alerts.h),
         * with its rule, region, path and reason. */
        const struct alert_events *alerts;
        const struct alert_event *alert;
        /* STATE: the states before and after. */
        enum target_state old_state, new_state;
        /* STATE and EXIT: why; ERROR: the message. */
        const char *reason;
        /* The target's policy in force (alert_exec and its rate). */
        const struct target_policy *policy;
};

/* What a worker needs from the outside, passed in rather than global. */
struct worker_env {
        /* Called from the worker thread with one message line (no '\n'). */
        void (*event)(void *user, const char *target, enum log_level level, const char *msg);
        void *user;
        /* Shared by the `match` targets to find their process (see
         * core/procscan.h); NULL: each scans /proc itself. */
        struct proc_scan *scan;
        /* The base directory, opened by the agent (core/fs.h), and its
         * path (borrowed): a backup_dir under base is then reached from
         * base_fd through fs's door, never through a symlink, and one
         * elsewhere is refused.  base_fd 0 (what an env initialised without
         * it holds; the agent keeps fds 0 to 2 open, so the base is never
         * one of them) or less: backup_dir is an ordinary path (tests). */
        int base_fd;
        const char *base;
        /* Called from the worker thread with each typed event (NULL: not
         * wanted), with on_event_user.  It must not block for long: the
         * target's sampling waits for it. */
        void (*on_event)(void *user, const struct worker_event *ev);
        void *on_event_user;
        /* The eBPF capture (core/capture.h), borrowed; NULL: poll.  With
         * it a target's maps are read only when its change counter moved,
         * and at least every resync_us; each change is kept as an event
         * record in its chain; `match` targets attach when their process
         * execs (worker_registry_exec) rather than by scanning /proc, but
         * for one scan every resync_us. */
        const struct capture_source *capture;
        uint64_t resync_us;
        /* Tells a worker at once that its process ended (core/exitwatch.h);
         * NULL: the worker looks at its pidfd at each tick instead. */
        struct exit_watch *exits;
};

/* A target's configuration.  Strings are owned by the struct. */
struct worker_params {
        char *name;
        enum target_selector selector;
        pid_t pid;                   /* SELECT_PID, SELECT_EXEC */
        char *pidfile;               /* SELECT_PIDFILE */
        char *match;                 /* SELECT_MATCH */
        char *backup_dir;            /* backups/<name>, or backups in the single-target layout */
        struct target_filter filter; /* SELECT_MATCH: user =, exe = */
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
        /* Metrics (memmon_* series, see core/metrics.h).  Byte counts are of
         * the last sample that changed the maps (regions above too). */
        uint64_t mapped_bytes[REGION_KINDS]; /* by kind: anon, file, heap, stack, other */
        uint64_t exec_bytes;                 /* mapped executable */
        /* Every tick that read the maps: how long it took (reading, and when
         * they changed, parsing, comparing and writing). */
        struct prom_histogram sample_duration;
        uint64_t backup_bytes; /* of the backups kept in the target's folder */
        /* Alerts (issue 10): how many are up now, and how many of each
         * rule (enum alert_rule) were raised since the worker started. */
        size_t alerts_active;
        uint64_t alerts_raised[ALERT_RULE_COUNT];
        /* Change ticks whose maps never held still: no two consecutive reads
         * agreed (the last sound read was recorded unconfirmed, or none was
         * sound and nothing was recorded); in eBPF capture, reads that a
         * change raced every time (nothing recorded). */
        uint64_t unstable;
        /* eBPF capture: whether this target's changes come from it now; if
         * not, why it polls although the agent captures (capture_why, ""
         * when the agent itself polls).  Events kept in its chain, events
         * lost (the ring or its queue had no room), and times it went back
         * to polling because events were lost again and again. */
        int capture_ebpf;
        char capture_why[256];
        uint64_t capture_events;
        uint64_t capture_lost;
        uint64_t capture_fallbacks;
};

/* What the watchdog's health check reads of a worker, lock-free.  Times are
 * CLOCK_MONOTONIC microseconds. */
struct worker_health {
        uint64_t busy_since_us;      /* when its current piece of work began; 0 asleep */
        uint64_t on_target_since_us; /* when a call on the target's /proc files began; 0 outside */
        uint64_t last_done_us;       /* when it last finished a piece of work (or started) */
        uint64_t interval_us;        /* its sampling interval */
        int idle;                    /* asleep with nothing scheduled (paused, exited) */
};

/* A worker busy this long outside calls on its target is stuck. */
#define WORKER_BUSY_MAX_US (5ULL * 1000 * 1000)
/* A worker with a tick scheduled that has done nothing for three intervals
 * and this long is stuck too (its timer never fired). */
#define WORKER_LATE_MAX_US (5ULL * 1000 * 1000)

/* True when h, read at now_us, shows a stuck worker: busy for longer than
 * WORKER_BUSY_MAX_US outside a call on its target, or asleep past its next
 * tick by more than three intervals and WORKER_LATE_MAX_US.  A worker
 * blocked on its target (a read of /proc/PID/maps waiting for a process
 * that holds its mmap lock) is never stuck: the target is.  Pure. */
int worker_health_stuck(const struct worker_health *h, uint64_t now_us);

enum worker_request {
        REQ_SAMPLE = 1 << 0, /* sample now (SIGHUP) */
        REQ_BACKUP = 1 << 1, /* full snapshot now (SIGUSR1, `backup`) */
        REQ_STOP = 1 << 2,   /* end the thread */
        REQ_FINAL = 1 << 3,  /* with REQ_STOP: write a final full snapshot */
        REQ_PAUSE = 1 << 4,
        REQ_RESUME = 1 << 5,
        REQ_PID = 1 << 6,         /* follow another pid: new chain */
        REQ_PARAMS = 1 << 7,      /* apply new interval and policy */
        REQ_ALERTS = 1 << 8,      /* render the active alerts (worker_alerts) as text */
        REQ_ALERTS_JSON = 1 << 9, /* ... as JSON Lines */
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
/* The worker's progress stamps, without its lock (see struct
 * worker_health). */
void worker_get_health(const struct worker *w, struct worker_health *ret);
enum worker_change {
        WORKER_SAME,
        WORKER_POLICY_CHANGED,   /* interval or backup policy */
        WORKER_SELECTOR_CHANGED, /* which process, or where backups go */
};

/* Compares the worker's current parameters with p. */
enum worker_change worker_compare(struct worker *w, const struct worker_params *p);

/* Appends the target's active alerts to out: as text, one line per alert
 * ("RULE: LINE: REASON (since ...)", see alerts_format_active()), or with
 * json as JSON Lines (alerts_format_active_json()).  The worker thread
 * owns the alerts: this asks it and waits at most timeout_ms.  Returns the
 * number of alerts, -ETIMEDOUT, or -ENOMEM. */
int worker_alerts(struct worker *w, int json, struct strbuf *out, int timeout_ms);

/* The target's name (borrowed: valid until worker_free, also after a `pid`
 * command renamed a target named after its pid). */
const char *worker_name(const struct worker *w);

/* An exec reported by the eBPF capture (pid now runs a program named
 * comm): every waiting `match` target of reg in eBPF capture that could
 * be that process (comm, or the basename of /proc/PID/exe, is its name) is
 * told to look at pid now.  Any thread.  Returns how many were told. */
int worker_registry_exec(struct worker_registry *reg, pid_t pid, const char *comm);

/* Stops the thread (with a final snapshot when final), joins and frees. */
void worker_free(struct worker *w, int final);

/* One tick without a thread, for tests and benchmarks: samples the target
 * once as the thread would.  Returns 0 or -errno. */
int worker_tick(struct worker *w);

#ifdef __cplusplus
}
#endif
#endif
