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

#include "core/backup.h"
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

        /* Thread-owned: */
        struct proc_id id;
        int maps_fd;
        struct file_stamp pidfile_seen; /* the pidfile as last read */
        uid_t pidfile_owner;            /* its owner when attached: checked again at every exec */
        int have_prev;
        int need_full;
        unsigned diffs_since_full;
        struct timespec last_full; /* CLOCK_MONOTONIC */
        struct maps_snapshot prev;
        struct maps_snapshot cur;
        struct diff diff;
        struct backup_store store;
        struct timespec last_error_log; /* rate limit for write errors */

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

/* Reports one message line through the worker's event callback. */
void worker_emit(struct worker *w, enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

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
