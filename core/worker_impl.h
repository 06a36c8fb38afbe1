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

        /* Names the `pid` command replaced (name_follows_pid): kept until
         * worker_free, as the control thread may still hold one. */
        char **old_names;
        size_t n_old_names;

        /* Thread-owned: */
        struct proc_id id;
        pid_t tid; /* the thread maps_fd reads the process through */
        int maps_fd;
        struct file_stamp pidfile_seen; /* the pidfile as last read */
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
        struct proc_dents dents;           /* for listing its file mappings */
        unsigned size_failures;            /* see SIZE_DISTRUST_TICKS in sample.c */
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

static inline struct timespec us_timespec(int64_t us) {
        struct timespec t = {.tv_sec = us / 1000000, .tv_nsec = (long)(us % 1000000) * 1000};
        return t;
}

#endif
