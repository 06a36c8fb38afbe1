/*
 * worker_impl: what worker.c (the thread and its requests) and sample.c
 * (one sample of one target) share: struct worker, its state machine and
 * its messages.  Private to those two files.
 */
#ifndef MEMMON_CORE_WORKER_IMPL_H
#define MEMMON_CORE_WORKER_IMPL_H

#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "core/alerts.h"
#include "core/backup.h"
#include "core/capture.h"
#include "core/diff.h"
#include "core/maps.h"
#include "core/proc.h"
#include "core/worker.h"

/* Enough of a file's stat to tell that it was rewritten or replaced. */
struct file_stamp {
        dev_t dev;
        ino_t ino;
        off_t size;
        struct timespec mtime;
};

/* A mapping made or changed by a capture event since the last snapshot,
 * for the alert rules to know what is behind a later mprotect or mremap of
 * it (worker_alerts.c). */
struct event_mapping {
        uint64_t start, end;
        char perms[4];
        uint64_t offset;
        uint32_t dev_major, dev_minor;
        uint64_t ino;
        char *path; /* owned; NULL: anonymous or not known */
        size_t path_len;
        int known; /* what is behind it is known */
};

/* At most this many are remembered (the oldest go first). */
#define EVENT_MAPPINGS_MAX 64

struct worker {
        pthread_t thread;
        int started;
        struct worker_env env;

        pthread_mutex_t lock;
        pthread_cond_t cond; /* CLOCK_MONOTONIC; wakes those waiting for a request to be done */
        sem_t wake;          /* posted with every request: wakes the worker */
        /* Under lock: */
        struct worker_params params;
        struct target_policy new_policy; /* with REQ_PARAMS */
        pid_t new_pid;
        unsigned requests;
        uint64_t ticket; /* requests handed out */
        uint64_t done;   /* requests completed */
        int last_result; /* of the last REQ_BACKUP: 0 or -errno */
        struct worker_status st;
        uint64_t first_delay_us;

        /* Names the `pid` command replaced (name_follows_pid): kept until
         * worker_free, as the control thread may still hold one. */
        char **old_names;
        size_t n_old_names;

        /* Thread-owned: */
        struct proc_id id;
        pid_t tid; /* the thread maps_fd reads the process through */
        int maps_fd;
        struct file_stamp pidfile_seen; /* the pidfile as last read */
        uid_t pidfile_owner;            /* its owner when attached: checked again at every exec */
        int have_prev;
        int need_full;
        unsigned diffs_since_full;
        struct timespec last_full; /* CLOCK_MONOTONIC */
        struct maps_snapshot prev;
        struct maps_snapshot cur;
        struct maps_snapshot alt; /* the confirming re-read of a change */
        struct diff diff;
        struct backup_store store;
        struct timespec last_error_log;    /* rate limit for write errors */
        struct timespec last_unstable_log; /* rate limit for unstable ticks */
        uint64_t unstable_unlogged;        /* since the last such line */
        int compare_only;                  /* torn reads are found by comparing alone (sample.c) */
        uint64_t retry_us;                 /* no state recorded yet: the next try this soon; 0: none */
        struct proc_dents dents;           /* for listing its file mappings */
        unsigned size_failures;            /* see SIZE_DISTRUST_TICKS in sample.c */

        /* Listed in registry (NULL: nowhere), under its lock. */
        struct worker_registry *registry;
        struct worker *reg_prev, *reg_next;
        /* Progress stamps for the health check (struct worker_health),
         * written by the thread with __atomic stores, read by anyone. */
        uint64_t busy_since_us;
        uint64_t on_target_since_us;
        uint64_t last_done_us;
        uint64_t health_interval_us;
        int health_idle;
        /* Alerts (issue 10; worker_alerts.c).  Thread-owned: */
        struct alert_sysfs *alert_fs;
        struct alert_state *alerts;
        struct alert_events alert_ev; /* reset after each report */
        struct strbuf alert_text;     /* one message being built */
        /* The next parsed snapshot is a new address space of the same
         * instance (it exec'ed): judged as a first snapshot. */
        int alerts_fresh;
        /* Under lock: the latest rendering of the active alerts for
         * worker_alerts(), [0] as text, [1] as JSON. */
        struct strbuf alerts_reply[2];

        /* eBPF capture (sample_capture.c).  Under lock: pids a capture exec
         * named for a waiting `match` target (worker_registry_exec), and
         * whether more came than fit (then /proc is scanned). */
        pid_t exec_hints[8];
        size_t n_exec_hints;
        int exec_hints_lost;
        /* Thread-owned: */
        int watched; /* its process is watched: counter and events valid */
        struct capture_counter counter;
        struct capture_queue *cap_queue; /* the capture pushes its events here */
        uint64_t last_seq;               /* the counter the last recorded state was read at */
        uint64_t cur_seq;                /* ... the state in cur */
        uint64_t last_lost;              /* capture_lost() when the last file was written */
        uint64_t prepared_lost;          /* ... when the file being written was prepared */
        uint64_t flushed_upto;           /* events up to this seq have all been taken */
        uint64_t last_read_us;           /* CLOCK_MONOTONIC of the last consistent read */
        int force_read;                  /* read even if the counter did not move (a request) */
        struct capture_batch taken;      /* reused for capture_queue_take */
        struct capture_batch pend;       /* events not yet written, in order */
        size_t judged;                   /* of pend, judged by the alert rules already */
        size_t written;                  /* of pend, in a file already (forgotten once judged) */
        unsigned lost_files;             /* files in a row that lost events */
        unsigned raced_lossy;            /* ticks in a row raced while events were lost */
        uint64_t raced_since_us;         /* the first of the ticks in a row raced; 0: none */
        int lost_logged;                 /* losses were logged for this target */
        int capture_off;                 /* this instance polls (capture_why says why) */
        int pidfd;                       /* of the watched process; -1: none */
        uint64_t exit_id;                /* its entry in env.exits; 0: none */
        uint64_t last_scan_us;           /* the last /proc scan for a waiting match target */
        int match_held;                  /* its match name is in the exec hook's list */
        /* The alert rules on events (worker_alerts.c): mappings events
         * made since the last snapshot, and a one-region snapshot reused
         * for each judged event. */
        struct event_mapping evmaps[EVENT_MAPPINGS_MAX];
        size_t n_evmaps, next_evmap;
        struct maps_snapshot event_snap;
};

/* Room for strerror_r's message: strerror() is not safe in worker threads. */
#define ERRBUF 128

/* What happens to a target.  Every state change goes through worker_fire()
 * and its table in worker.c, so the whole life cycle is in one place. */
enum target_event {
        EV_ATTACHED, /* its process was found and its maps opened */
        EV_MISSING,  /* no process to watch (yet) */
        EV_REFUSED,  /* not allowed to read it, or its pidfile is untrusted */
        EV_ENDED,    /* the process exited; another may take its place */
        EV_GONE,     /* the process exited and nothing will replace it */
        EV_RETARGET, /* told to follow another pid */
        EV_PAUSE,
        EV_RESUME,
        EV_STOP,
        EV_COUNT,
};

/* Applies an event: moves to the state machine's next state (if any) with
 * reason.  Returns 1 when the state changed or the reason did, 0 otherwise. */
int worker_fire(struct worker *w, enum target_event ev, const char *reason);

/* Renames the target (called by its thread; see worker_name()).  Returns
 * 0 or -ENOMEM (the name unchanged). */
int worker_set_name(struct worker *w, const char *name);

/* Reports one message line through the worker's event callback; an error
 * is reported as an ERROR typed event too. */
void worker_emit(struct worker *w, enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reports a typed event: fills in its target, process and policy, and
 * hands it to env.on_event. */
void worker_report(struct worker *w, struct worker_event *ev);

/* The alert rules of the target (worker_alerts.c).  Every function but
 * init and fini runs on the worker's thread. */
/* Returns 0 or -errno. */
int worker_alerts_init(struct worker *w);
void worker_alerts_fini(struct worker *w);
/* Applies the policy in w->params (at start and after REQ_PARAMS). */
void worker_alerts_policy(struct worker *w);
/* snap (parsed) is the first snapshot of the instance w->id, or of its
 * address space after an exec. */
void worker_alerts_first(struct worker *w, const struct maps_snapshot *snap);
/* w->diff turns w->prev into w->cur (both parsed). */
void worker_alerts_change(struct worker *w);
/* Every tick, with the latest parsed snapshot: the timed checks.  Without
 * a check due it allocates nothing. */
void worker_alerts_tick(struct worker *w, const struct maps_snapshot *snap);
/* The instance is gone, or no longer followed: every alert is cleared. */
void worker_alerts_end(struct worker *w, const char *why);
/* Judges events[from..to) (of events[0..n), in order) with the alert
 * rules: what each mapped, unmapped, moved or protected, its region made
 * from the event and from what earlier events and w->prev say is there. */
void worker_alerts_events(struct worker *w, const struct capture_event *events, size_t n, size_t from,
                          size_t to);
/* snap (parsed) is the first snapshot after the events judged so far:
 * their alerts are confirmed or cleared, the mappings they made forgotten. */
void worker_alerts_settle(struct worker *w, const struct maps_snapshot *snap);
/* Renders the active alerts for worker_alerts() (requests: REQ_ALERTS and
 * REQ_ALERTS_JSON bits). */
void worker_alerts_render(struct worker *w, unsigned requests);

static inline struct timespec mono_now(void) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return t;
}

static inline int64_t timespec_us(const struct timespec *t) {
        return (int64_t)t->tv_sec * 1000000 + t->tv_nsec / 1000;
}

static inline uint64_t mono_now_us(void) {
        struct timespec t = mono_now();
        return (uint64_t)t.tv_sec * 1000000 + (uint64_t)t.tv_nsec / 1000;
}

/* Marks the start and the end of a call on the target's /proc files (the
 * maps read, which waits while the target holds its mmap lock): the health
 * check does not count a worker blocked there as stuck. */
static inline void worker_on_target(struct worker *w) {
        __atomic_store_n(&w->on_target_since_us, mono_now_us(), __ATOMIC_RELAXED);
}

static inline void worker_off_target(struct worker *w) {
        __atomic_store_n(&w->on_target_since_us, 0, __ATOMIC_RELAXED);
}

/* The calls on the target's /proc files, marked as such (see above). */
static inline int worker_maps_open(struct worker *w, pid_t pid) {
        worker_on_target(w);
        int r = maps_open(pid);
        worker_off_target(w);
        return r;
}

/* Opens /proc/PID/task/TID/NAME of the watched process (proc_task_open()),
 * marked as a call on the target. */
static inline int worker_task_open(struct worker *w, const struct proc_task *t, const char *name) {
        worker_on_target(w);
        int r = proc_task_open(t, name);
        worker_off_target(w);
        return r;
}

static inline int worker_maps_read(struct worker *w, struct maps_snapshot *s) {
        worker_on_target(w);
        int r = maps_read_fd(w->maps_fd, s);
        worker_off_target(w);
        return r;
}

static inline ssize_t worker_maps_pread(struct worker *w, void *buf, size_t n, off_t off) {
        worker_on_target(w);
        ssize_t r = pread(w->maps_fd, buf, n, off);
        worker_off_target(w);
        return r;
}

static inline struct timespec us_timespec(int64_t us) {
        struct timespec t = {.tv_sec = us / 1000000, .tv_nsec = (long)(us % 1000000) * 1000};
        return t;
}

#endif
