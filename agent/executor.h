/*
 * executor: the one thread that carries out the agent's commands.
 *
 * The control loop (loop.c) only multiplexes I/O and acts on SIGTERM and
 * SIGINT itself.  Everything that drives the supervisor (commands from the
 * FIFO, the prompt, stdin and the control socket; the reload of SIGHUP, the
 * backups of SIGUSR1, the reaping of SIGCHLD; the metrics file) is a job,
 * queued here and run in order on this thread: the "one control thread"
 * core/supervisor.h asks for.  A finished job goes back to the loop through
 * a done list and an eventfd, so that its reply reaches whoever asked, and a
 * slow command (a worker that takes 10 s to answer) delays no signal, no
 * FIFO line and no other client.
 *
 * Waits for workers go through executor_wait_worker(): they are cut into
 * slices so that executor_cancel_waits() (a quit, a stop) abandons them
 * within EXECUTOR_WAIT_SLICE_MS, and they are marked, so that the
 * watchdog's health check can tell an executor waiting on a worker (whose
 * own health is checked) from one that is stuck (executor_stuck()).
 */
#ifndef MEMMON_AGENT_EXECUTOR_H
#define MEMMON_AGENT_EXECUTOR_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "core/strbuf.h"
#include "core/worker.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EXECUTOR_WAIT_SLICE_MS 50
/* An executor busy this long on one job, outside a wait for a worker, is
 * stuck (a deadlock in the agent): the watchdog stops. */
#define EXECUTOR_BUSY_MAX_US (5ULL * 1000 * 1000)

enum job_kind {
        JOB_COMMAND,  /* line: a command */
        JOB_REJECTED, /* line: why a line was refused before it could run (too long) */
        JOB_RELOAD,   /* SIGHUP */
        JOB_BACKUP,   /* SIGUSR1 */
        JOB_REAP,     /* SIGCHLD */
};

/* Where a command came from, and so where its reply goes. */
enum job_origin {
        ORIGIN_AGENT,  /* a signal: nobody waits for a reply */
        ORIGIN_FIFO,   /* the reply goes to monitor.log */
        ORIGIN_STDIN,  /* -i: the reply goes to standard output */
        ORIGIN_SOCKET, /* `agent ctl`: the reply goes back to the client */
};

struct job {
        struct job *next;
        enum job_kind kind;
        enum job_origin origin;
        uint64_t client;   /* ORIGIN_SOCKET: the connection's id */
        int json;          /* answer as JSON (command_execute_json()) */
        unsigned peer_uid; /* ORIGIN_SOCKET: who asked, for the log */
        int peer_pid;
        char *line; /* owned; NUL-terminated */
        size_t len;
        /* Set by the executor: */
        int result; /* command_execute()'s */
        struct strbuf reply;
};

/* A job of kind and origin with a copy of line[0..len) (line may be NULL).
 * Returns NULL when out of memory. */
struct job *job_new(enum job_kind kind, enum job_origin origin, const char *line, size_t len);
void job_free(struct job *j);
/* Frees a list of jobs linked by next. */
void job_free_list(struct job *j);

/* Runs a job on the executor thread: sets j->result and j->reply. */
typedef void (*executor_run_fn)(void *user, struct job *j);
/* Called on the executor thread between jobs and when idle, for the work
 * it does by the clock.  Returns when it wants to be called next
 * (CLOCK_MONOTONIC microseconds), or 0 for "only after the next job". */
typedef uint64_t (*executor_tick_fn)(void *user, uint64_t now_us);

struct executor {
        pthread_t thread;
        int started;
        pthread_mutex_t lock;
        pthread_cond_t cond; /* CLOCK_MONOTONIC */
        /* Under lock: */
        struct job *todo, *todo_tail;
        struct job *done, *done_tail;
        int stop;
        int efd; /* eventfd: readable while jobs wait in done */
        executor_run_fn run;
        executor_tick_fn tick;
        void *user;
        /* Atomic (__atomic builtins), read by any thread: */
        int cancel;             /* abandon waits for workers */
        uint64_t busy_since_us; /* when the current job began; 0 when idle */
        int waiting;            /* in a wait for a worker */
};

/* Returns 0 or -errno (then nothing needs executor_fini()). */
int executor_init(struct executor *ex, executor_run_fn run, executor_tick_fn tick, void *user);
/* Starts the thread.  Returns 0 or -errno. */
int executor_start(struct executor *ex);
/* Queues j (taking it over); it runs after every job queued before it. */
void executor_submit(struct executor *ex, struct job *j);
/* Takes the finished jobs, oldest first (a list linked by next), and
 * drains the eventfd. */
struct job *executor_take_done(struct executor *ex);
/* From now on waits for workers are abandoned (-ECANCELED). */
void executor_cancel_waits(struct executor *ex);
int executor_cancelled(const struct executor *ex);
/* Cancels the waits, lets the running job end, joins the thread and frees
 * every job it did not run or hand back.  Idempotent. */
void executor_stop(struct executor *ex);
void executor_fini(struct executor *ex);

/* For job code on the executor thread: waits for worker w to carry out the
 * request of that ticket (at most timeout_ms), as worker_wait() does, in
 * slices that a cancellation ends with -ECANCELED.  A negative ticket is
 * returned as it is. */
int executor_wait_worker(struct executor *ex, struct worker *w, int64_t ticket, int timeout_ms);
/* Marks the start (on = 1) and end (0) of some other wait on workers or
 * children (joining a stopped worker, stopping a program). */
void executor_waiting(struct executor *ex, int on);

/* True when, at now_us, the executor has been busy on one job for more
 * than EXECUTOR_BUSY_MAX_US outside a wait for a worker.  Safe from any
 * thread. */
int executor_stuck(const struct executor *ex, uint64_t now_us);

#ifdef __cplusplus
}
#endif
#endif
