#include "agent/executor.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "agent/notify.h"

struct job *job_new(enum job_kind kind, enum job_origin origin, const char *line, size_t len) {
        struct job *j = calloc(1, sizeof(*j));
        if (!j)
                return NULL;
        j->line = malloc(len + 1);
        if (!j->line) {
                free(j);
                return NULL;
        }
        if (len)
                memcpy(j->line, line, len);
        j->line[len] = '\0';
        j->len = len;
        j->kind = kind;
        j->origin = origin;
        strbuf_init(&j->reply);
        return j;
}

void job_free(struct job *j) {
        if (!j)
                return;
        strbuf_fini(&j->reply);
        free(j->line);
        free(j);
}

void job_free_list(struct job *j) {
        while (j) {
                struct job *next = j->next;
                job_free(j);
                j = next;
        }
}

static struct timespec deadline_after_us(uint64_t at_us) {
        struct timespec t = {.tv_sec = (time_t)(at_us / 1000000), .tv_nsec = (long)(at_us % 1000000) * 1000};
        return t;
}

/* Appends j to the list head..tail (under the lock). */
static void push(struct job **head, struct job **tail, struct job *j) {
        if (*tail)
                (*tail)->next = j;
        else
                *head = j;
        *tail = j;
}

/* The clock's work, counted as busy time like a job's. */
static uint64_t run_tick(struct executor *ex) {
        if (!ex->tick)
                return 0;
        uint64_t now = notify_now_us();
        __atomic_store_n(&ex->busy_since_us, now, __ATOMIC_RELEASE);
        uint64_t next = ex->tick(ex->user, now);
        __atomic_store_n(&ex->busy_since_us, 0, __ATOMIC_RELEASE);
        return next;
}

static void *executor_main(void *arg) {
        struct executor *ex = arg;
        pthread_mutex_lock(&ex->lock);
        for (;;) {
                if (ex->stop)
                        break;
                struct job *j = ex->todo;
                if (!j) {
                        /* The clock's work first, unlocked: a job queued
                         * meanwhile is seen before the wait below. */
                        pthread_mutex_unlock(&ex->lock);
                        uint64_t next = run_tick(ex);
                        pthread_mutex_lock(&ex->lock);
                        if (ex->stop || ex->todo)
                                continue;
                        if (next) {
                                struct timespec dl = deadline_after_us(next);
                                (void)pthread_cond_timedwait(&ex->cond, &ex->lock, &dl);
                        } else {
                                (void)pthread_cond_wait(&ex->cond, &ex->lock);
                        }
                        continue;
                }
                ex->todo = j->next;
                if (!ex->todo)
                        ex->todo_tail = NULL;
                j->next = NULL;
                pthread_mutex_unlock(&ex->lock);

                __atomic_store_n(&ex->busy_since_us, notify_now_us(), __ATOMIC_RELEASE);
                ex->run(ex->user, j);
                __atomic_store_n(&ex->busy_since_us, 0, __ATOMIC_RELEASE);
                (void)run_tick(ex);

                pthread_mutex_lock(&ex->lock);
                push(&ex->done, &ex->done_tail, j);
                uint64_t one = 1;
                /* Fails only when the counter would overflow: it is
                 * readable then anyway. */
                (void)!write(ex->efd, &one, sizeof(one));
        }
        pthread_mutex_unlock(&ex->lock);
        return NULL;
}

int executor_init(struct executor *ex, executor_run_fn run, executor_tick_fn tick, void *user) {
        memset(ex, 0, sizeof(*ex));
        ex->run = run;
        ex->tick = tick;
        ex->user = user;
        ex->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (ex->efd < 0)
                return -errno;
        pthread_condattr_t ca;
        int r = -pthread_condattr_init(&ca);
        if (r == 0) {
                r = -pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
                if (r == 0)
                        r = -pthread_cond_init(&ex->cond, &ca);
                pthread_condattr_destroy(&ca);
        }
        if (r == 0) {
                r = -pthread_mutex_init(&ex->lock, NULL);
                if (r < 0)
                        pthread_cond_destroy(&ex->cond);
        }
        if (r < 0) {
                close(ex->efd);
                ex->efd = -1;
        }
        return r;
}

int executor_start(struct executor *ex) {
        int r = pthread_create(&ex->thread, NULL, executor_main, ex);
        if (r != 0)
                return -r;
        ex->started = 1;
        return 0;
}

void executor_submit(struct executor *ex, struct job *j) {
        j->next = NULL;
        pthread_mutex_lock(&ex->lock);
        push(&ex->todo, &ex->todo_tail, j);
        pthread_cond_signal(&ex->cond);
        pthread_mutex_unlock(&ex->lock);
}

struct job *executor_take_done(struct executor *ex) {
        uint64_t n;
        (void)!read(ex->efd, &n, sizeof(n));
        pthread_mutex_lock(&ex->lock);
        struct job *j = ex->done;
        ex->done = ex->done_tail = NULL;
        pthread_mutex_unlock(&ex->lock);
        return j;
}

void executor_cancel_waits(struct executor *ex) {
        __atomic_store_n(&ex->cancel, 1, __ATOMIC_RELEASE);
}

int executor_cancelled(const struct executor *ex) {
        return __atomic_load_n(&ex->cancel, __ATOMIC_ACQUIRE);
}

void executor_stop(struct executor *ex) {
        executor_cancel_waits(ex);
        pthread_mutex_lock(&ex->lock);
        ex->stop = 1;
        pthread_cond_signal(&ex->cond);
        pthread_mutex_unlock(&ex->lock);
        if (ex->started) {
                pthread_join(ex->thread, NULL);
                ex->started = 0;
        }
        job_free_list(ex->todo);
        job_free_list(ex->done);
        ex->todo = ex->todo_tail = ex->done = ex->done_tail = NULL;
}

void executor_fini(struct executor *ex) {
        executor_stop(ex);
        pthread_cond_destroy(&ex->cond);
        pthread_mutex_destroy(&ex->lock);
        if (ex->efd >= 0)
                close(ex->efd);
        ex->efd = -1;
}

void executor_waiting(struct executor *ex, int on) {
        __atomic_store_n(&ex->waiting, on, __ATOMIC_RELEASE);
}

int executor_wait_worker(struct executor *ex, struct worker *w, int64_t ticket, int timeout_ms) {
        if (ticket < 0)
                return (int)ticket;
        executor_waiting(ex, 1);
        int r, waited = 0;
        for (;;) {
                if (executor_cancelled(ex)) {
                        r = -ECANCELED;
                        break;
                }
                int slice = timeout_ms - waited;
                if (slice > EXECUTOR_WAIT_SLICE_MS)
                        slice = EXECUTOR_WAIT_SLICE_MS;
                r = worker_wait(w, ticket, slice > 0 ? slice : 0);
                waited += slice > 0 ? slice : 0;
                if (r != -ETIMEDOUT || waited >= timeout_ms)
                        break;
        }
        executor_waiting(ex, 0);
        return r;
}

int executor_stuck(const struct executor *ex, uint64_t now_us) {
        uint64_t since = __atomic_load_n(&ex->busy_since_us, __ATOMIC_ACQUIRE);
        if (!since || __atomic_load_n(&ex->waiting, __ATOMIC_ACQUIRE))
                return 0;
        return now_us > since && now_us - since > EXECUTOR_BUSY_MAX_US;
}
