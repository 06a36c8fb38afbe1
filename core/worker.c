#include "core/worker.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/proc.h"
#include "core/sample.h"
#include "core/str.h"
#include "core/worker_impl.h"

const char *target_state_name(enum target_state s) {
        switch (s) {
        case TARGET_WAITING:
                return "waiting";
        case TARGET_ATTACHED:
                return "running";
        case TARGET_PAUSED:
                return "paused";
        case TARGET_EXITED:
                return "exited";
        case TARGET_DENIED:
                return "denied";
        case TARGET_STOPPED:
                return "stopped";
        }
        return "unknown";
}

const char *worker_event_name(enum worker_event_kind kind) {
        static const char *const names[WORKER_EVENT_KIND_COUNT] = {
            [WORKER_EVENT_ATTACH] = "attach", [WORKER_EVENT_EXIT] = "exit",
            [WORKER_EVENT_FULL] = "full",     [WORKER_EVENT_DIFF] = "diff",
            [WORKER_EVENT_ALERT] = "alert",   [WORKER_EVENT_ALERT_CLEARED] = "alert_cleared",
            [WORKER_EVENT_STATE] = "state",   [WORKER_EVENT_ERROR] = "error",
        };
        return (unsigned)kind < WORKER_EVENT_KIND_COUNT ? names[kind] : NULL;
}

static int dup_opt(char **dst, const char *src) {
        *dst = NULL;
        if (!src)
                return 0;
        *dst = mm_strdup(src);
        return *dst ? 0 : -ENOMEM;
}

int worker_params_copy(struct worker_params *dst, const struct worker_params *src) {
        struct worker_params p = {
            .selector = src->selector, .pid = src->pid, .name_follows_pid = src->name_follows_pid};
        if (dup_opt(&p.name, src->name) < 0 || dup_opt(&p.pidfile, src->pidfile) < 0 ||
            dup_opt(&p.match, src->match) < 0 || dup_opt(&p.backup_dir, src->backup_dir) < 0 ||
            target_filter_copy(&p.filter, &src->filter) < 0 ||
            target_policy_copy(&p.policy, &src->policy) < 0) {
                worker_params_fini(&p);
                return -ENOMEM;
        }
        *dst = p;
        return 0;
}

void worker_params_fini(struct worker_params *p) {
        mm_free(p->name);
        mm_free(p->pidfile);
        mm_free(p->match);
        mm_free(p->backup_dir);
        target_filter_fini(&p->filter);
        target_policy_fini(&p->policy);
        p->name = p->pidfile = p->match = p->backup_dir = NULL;
}

void worker_emit(struct worker *w, enum log_level level, const char *fmt, ...) {
        char msg[2048];
        va_list ap;
        va_start(ap, fmt);
        /* A message cut short is still worth logging. */
        (void)vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (w->env.event)
                w->env.event(w->env.user, w->params.name, level, msg);
        if (level == LOG_ERROR) {
                struct worker_event ev = {.kind = WORKER_EVENT_ERROR, .reason = msg};
                worker_report(w, &ev);
        }
}

void worker_report(struct worker *w, struct worker_event *ev) {
        if (!w->env.on_event)
                return;
        ev->target = w->params.name;
        ev->pid = w->id.pid;
        ev->start_time = w->id.start_time;
        ev->policy = &w->params.policy;
        w->env.on_event(w->env.on_event_user, ev);
}

/* The life cycle of a target: the next state for each state and event. */
#define KEEP (-1)
#define W TARGET_WAITING
#define A TARGET_ATTACHED
#define P TARGET_PAUSED
#define X TARGET_EXITED
#define D TARGET_DENIED
#define S TARGET_STOPPED
static const signed char next_state[][EV_COUNT] = {
    /*              ATTACHED MISSING REFUSED ENDED GONE RETARGET PAUSE RESUME STOP */
    [TARGET_WAITING] = {A, W, D, W, X, W, P, KEEP, S},
    [TARGET_ATTACHED] = {A, W, D, W, X, W, P, KEEP, S},
    [TARGET_PAUSED] = {KEEP, KEEP, KEEP, KEEP, KEEP, KEEP, KEEP, W, S},
    /* An exited pid target stays exited (pause and resume included), so
     * it never attaches to whatever process reuses its pid; only `pid`
     * points it somewhere new. */
    [TARGET_EXITED] = {KEEP, KEEP, KEEP, KEEP, KEEP, W, KEEP, KEEP, S},
    [TARGET_DENIED] = {A, W, D, W, X, W, P, KEEP, S},
    [TARGET_STOPPED] = {KEEP, KEEP, KEEP, KEEP, KEEP, KEEP, KEEP, KEEP, KEEP},
};
#undef W
#undef A
#undef P
#undef X
#undef D
#undef S

int worker_fire(struct worker *w, enum target_event ev, const char *reason) {
        pthread_mutex_lock(&w->lock);
        enum target_state old = w->st.state;
        int next = next_state[w->st.state][ev];
        int changed = 0;
        if (next != KEEP) {
                reason = reason ? reason : "";
                changed = w->st.state != (enum target_state)next || strcmp(w->st.reason, reason) != 0;
                w->st.state = (enum target_state)next;
                w->st.pid = w->id.pid;
                snprintf(w->st.reason, sizeof(w->st.reason), "%s", reason);
        }
        pthread_mutex_unlock(&w->lock);
        if (next != KEEP && old != (enum target_state)next) {
                struct worker_event e = {.kind = WORKER_EVENT_STATE,
                                         .old_state = old,
                                         .new_state = (enum target_state)next,
                                         .reason = reason};
                worker_report(w, &e);
        }
        return changed;
}

/* Whether comm, a command name as the kernel keeps it (its first 15
 * bytes), can be name's. */
static int comm_may_be(const char *comm, const char *name) {
        size_t n = strlen(name);

        if (n < PROC_COMM_SIZE - 1)
                return strcmp(comm, name) == 0;
        return strlen(comm) == PROC_COMM_SIZE - 1 && strncmp(comm, name, PROC_COMM_SIZE - 1) == 0;
}

struct exec_notice {
        pid_t pid;
        const char *comm;
        char exe[PROC_NAME_SIZE];
        int exe_state; /* 0: not read yet; 1: read; -1: unreadable */
        int told;
};

static void tell_of_exec(void *ctx, struct worker *w) {
        struct exec_notice *x = ctx;
        char match[PROC_NAME_SIZE];
        int want;

        pthread_mutex_lock(&w->lock);
        want = w->env.capture && w->st.state == TARGET_WAITING && w->params.selector == SELECT_MATCH &&
               w->params.match && snprintf(match, sizeof(match), "%s", w->params.match) < (int)sizeof(match);
        pthread_mutex_unlock(&w->lock);
        if (!want)
                return;
        if (!comm_may_be(x->comm, match)) {
                /* `match` also takes the executable's basename: read once
                 * per exec, and only when a name did not match. */
                if (x->exe_state == 0)
                        x->exe_state = proc_exe_name(x->pid, x->exe) == 0 ? 1 : -1;
                if (x->exe_state < 0 || strcmp(x->exe, match) != 0)
                        return;
        }
        pthread_mutex_lock(&w->lock);
        if (w->n_exec_hints < sizeof(w->exec_hints) / sizeof(w->exec_hints[0]))
                w->exec_hints[w->n_exec_hints++] = x->pid;
        else
                w->exec_hints_lost = 1;
        pthread_mutex_unlock(&w->lock);
        (void)worker_post(w, REQ_SAMPLE, 0, NULL);
        x->told++;
}

int worker_registry_exec(struct worker_registry *reg, pid_t pid, const char *comm) {
        struct exec_notice x = {.pid = pid, .comm = comm};

        worker_registry_visit(reg, tell_of_exec, &x);
        return x.told;
}

int worker_tick(struct worker *w) {
        if (w->st.state == TARGET_EXITED || w->st.state == TARGET_PAUSED)
                return 0;
        return sample_tick(w);
}

/* Takes over the new policy (called under the lock). */
static void apply_policy(struct worker *w) {
        target_policy_fini(&w->params.policy);
        w->params.policy = w->new_policy;
        memset(&w->new_policy, 0, sizeof(w->new_policy));
        w->st.interval_us = w->params.policy.interval_us;
}

static int is_idle_state(enum target_state s) {
        return s == TARGET_PAUSED || s == TARGET_EXITED || s == TARGET_STOPPED;
}

/* The thread goes to sleep: it is no longer busy, and the health check
 * knows whether a tick is scheduled, and how far away (an interval, or a
 * quiet target's resync). */
static void health_asleep(struct worker *w, int idle, uint64_t span_us) {
        __atomic_store_n(&w->health_idle, idle, __ATOMIC_RELAXED);
        __atomic_store_n(&w->health_interval_us, span_us, __ATOMIC_RELAXED);
        __atomic_store_n(&w->last_done_us, mono_now_us(), __ATOMIC_RELAXED);
        __atomic_store_n(&w->busy_since_us, 0, __ATOMIC_RELEASE);
}

static void health_busy(struct worker *w) {
        if (__atomic_load_n(&w->busy_since_us, __ATOMIC_RELAXED) == 0)
                __atomic_store_n(&w->busy_since_us, mono_now_us(), __ATOMIC_RELEASE);
}

/* One tick of the thread, timed for memmon_sample_duration_seconds when it
 * read the maps. */
static void timed_tick(struct worker *w) {
        /* st.samples is written by this thread only, so it reads it
         * without the lock. */
        uint64_t samples = w->st.samples;
        uint64_t t0 = mono_now_us();
        (void)worker_tick(w);
        if (w->st.samples == samples)
                return;
        double secs = (double)(mono_now_us() - t0) / 1e6;
        pthread_mutex_lock(&w->lock);
        prom_histogram_observe(&w->st.sample_duration, secs);
        pthread_mutex_unlock(&w->lock);
}

/* A record came for a quiet target: its tick is now, or one interval
 * after its last read, whichever is later (at most one read per
 * interval, however many records a burst brings). */
static int64_t record_tick(struct worker *w) {
        struct timespec now = mono_now();
        int64_t at = (int64_t)w->last_read_us + (int64_t)w->params.policy.interval_us;

        return at > timespec_us(&now) ? at : timespec_us(&now);
}

/* `top -H` and /proc/PID/task/TID/comm tell the workers apart: "w:" and
 * the target's name, cut to what the kernel keeps.  Called by the worker's
 * own thread, at start and when its target is renamed. */
static void name_thread(const struct worker *w) {
        char comm[16];

        (void)snprintf(comm, sizeof(comm), "w:%s", worker_name(w));
        (void)pthread_setname_np(pthread_self(), comm);
}

static void *worker_main(void *arg) {
        struct worker *w = arg;
        struct timespec now = mono_now();
        int64_t next = timespec_us(&now) + (int64_t)w->first_delay_us;
        /* eBPF: the target is quiet, and next is its resync or its next
         * timed alert check; a record posts w->wake (sample_capture_quiet). */
        int quiet = 0;

        name_thread(w);
        for (;;) {
                pthread_mutex_lock(&w->lock);
                int idle = is_idle_state(w->st.state);
                now = mono_now();
                int due = !idle && timespec_us(&now) >= next;
                if (!w->requests && !due) {
                        pthread_mutex_unlock(&w->lock);
                        if (quiet && sample_capture_arm(w) < 0) {
                                /* Records came since the tick. */
                                quiet = 0;
                                next = record_tick(w);
                                continue;
                        }
                        health_asleep(w, idle,
                                      quiet ? (uint64_t)(next - timespec_us(&now))
                                            : w->params.policy.interval_us);
                        /* Sleep on a semaphore, not a condition variable:
                         * a timed condition wait takes the mutex back marked
                         * contended, which makes the unlock of every tick a
                         * futex-wake system call (14% of the agent's CPU with
                         * 1,000 targets).  A post between the unlock and the
                         * wait is kept in the count, so none is lost. */
                        if (idle) {
                                (void)sem_wait(&w->wake);
                        } else {
                                struct timespec dl = us_timespec(next);
                                (void)sem_clockwait(&w->wake, CLOCK_MONOTONIC, &dl);
                        }
                        if (quiet && sample_capture_woken(w)) {
                                quiet = 0;
                                next = record_tick(w);
                        }
                        continue;
                }
                unsigned req = w->requests;
                w->requests = 0;
                uint64_t upto = w->ticket;
                pid_t new_pid = w->new_pid;
                if (req & REQ_PARAMS) {
                        int64_t old_interval = (int64_t)w->params.policy.interval_us;
                        apply_policy(w);
                        /* Keep the phase: the next tick is one new interval
                         * after the last one. */
                        next += (int64_t)w->params.policy.interval_us - old_interval;
                }
                pthread_mutex_unlock(&w->lock);
                health_busy(w);

                if (req & REQ_PARAMS)
                        worker_alerts_policy(w);
                int backup_result = 0;
                if (req & REQ_STOP) {
                        sample_stop(w, req & REQ_FINAL);
                        worker_fire(w, EV_STOP, "");
                        pthread_mutex_lock(&w->lock);
                        w->done = upto;
                        pthread_cond_broadcast(&w->cond);
                        pthread_mutex_unlock(&w->lock);
                        return NULL;
                }
                if (req & REQ_PID)
                        sample_follow_pid(w, new_pid);
                if ((req & REQ_PAUSE) && worker_fire(w, EV_PAUSE, "paused by command"))
                        worker_emit(w, LOG_INFO, "paused");
                if ((req & REQ_RESUME) && worker_fire(w, EV_RESUME, "")) {
                        worker_emit(w, LOG_INFO, "resumed");
                        if (w->maps_fd >= 0)
                                worker_fire(w, EV_ATTACHED, "");
                        due = 1;
                }
                /* A request reads the maps, whatever the capture's counter
                 * says (eBPF: an exit, an exec, SIGHUP, `backup`). */
                w->force_read = (req & (REQ_SAMPLE | REQ_PID | REQ_BACKUP)) != 0;
                if (req & REQ_BACKUP)
                        backup_result = sample_backup(w);
                else if ((req & (REQ_SAMPLE | REQ_PID)) || due)
                        timed_tick(w);
                if (req & (REQ_ALERTS | REQ_ALERTS_JSON))
                        worker_alerts_render(w, req);
                if (due) {
                        now = mono_now();
                        int64_t iv = (int64_t)w->params.policy.interval_us;
                        next += iv;
                        /* Behind schedule (a stall, a huge write): skip the
                         * missed ticks but keep the phase. */
                        if (next <= timespec_us(&now))
                                next += ((timespec_us(&now) - next) / iv + 1) * iv;
                }

                pthread_mutex_lock(&w->lock);
                if (req & REQ_BACKUP)
                        w->last_result = backup_result;
                w->done = upto;
                if (req)
                        pthread_cond_broadcast(&w->cond);
                idle = is_idle_state(w->st.state);
                pthread_mutex_unlock(&w->lock);
                /* eBPF: a quiet target sleeps until something happens, not
                 * from tick to tick. */
                uint64_t until;
                int was_quiet = quiet;
                quiet = !idle && w->env.capture && sample_capture_quiet(w, &until);
                if (quiet) {
                        next = (int64_t)until;
                } else if (was_quiet) {
                        /* Not quiet any more (an exit, a request): ticks
                         * again, an interval from now. */
                        now = mono_now();
                        next = timespec_us(&now) + (int64_t)w->params.policy.interval_us;
                }
                /* A first state that raced the process's changes: tried
                 * again soon, not an interval later. */
                uint64_t retry = quiet || idle ? 0 : sample_retry_us(w);
                int64_t soon = retry ? (int64_t)(mono_now_us() + retry) : 0;
                if (soon && soon < next)
                        next = soon;
        }
}

/* Initialises the lock, the condition (on CLOCK_MONOTONIC) and the
 * semaphore.  Returns 0 or -errno, with none of them left initialised. */
static int sync_init(struct worker *w) {
        pthread_condattr_t ca;
        int cond = 0, mutex = 0;
        int r = -pthread_condattr_init(&ca);
        if (r < 0)
                return r;
        r = -pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        if (r == 0)
                cond = (r = -pthread_cond_init(&w->cond, &ca)) == 0;
        pthread_condattr_destroy(&ca);
        if (r == 0)
                mutex = (r = -pthread_mutex_init(&w->lock, NULL)) == 0;
        if (r == 0 && sem_init(&w->wake, 0, 0) < 0)
                r = -errno;
        if (r < 0) {
                if (mutex)
                        pthread_mutex_destroy(&w->lock);
                if (cond)
                        pthread_cond_destroy(&w->cond);
        }
        return r;
}

int worker_registry_init(struct worker_registry *reg) {
        reg->head = NULL;
        return -pthread_mutex_init(&reg->lock, NULL);
}

void worker_registry_fini(struct worker_registry *reg) {
        pthread_mutex_destroy(&reg->lock);
}

void worker_registry_visit(struct worker_registry *reg, void (*fn)(void *ctx, struct worker *w), void *ctx) {
        pthread_mutex_lock(&reg->lock);
        for (struct worker *w = reg->head; w; w = w->reg_next)
                fn(ctx, w);
        pthread_mutex_unlock(&reg->lock);
}

void worker_registry_add(struct worker_registry *reg, struct worker *w) {
        w->registry = reg;
        pthread_mutex_lock(&reg->lock);
        w->reg_prev = NULL;
        w->reg_next = reg->head;
        if (reg->head)
                reg->head->reg_prev = w;
        reg->head = w;
        pthread_mutex_unlock(&reg->lock);
}

static void registry_unlink(struct worker *w) {
        struct worker_registry *reg = w->registry;
        if (!reg)
                return;
        pthread_mutex_lock(&reg->lock);
        if (w->reg_prev)
                w->reg_prev->reg_next = w->reg_next;
        else
                reg->head = w->reg_next;
        if (w->reg_next)
                w->reg_next->reg_prev = w->reg_prev;
        w->reg_prev = w->reg_next = NULL;
        pthread_mutex_unlock(&reg->lock);
}

void worker_get_health(const struct worker *w, struct worker_health *ret) {
        ret->busy_since_us = __atomic_load_n(&w->busy_since_us, __ATOMIC_ACQUIRE);
        ret->on_target_since_us = __atomic_load_n(&w->on_target_since_us, __ATOMIC_RELAXED);
        ret->last_done_us = __atomic_load_n(&w->last_done_us, __ATOMIC_RELAXED);
        ret->interval_us = __atomic_load_n(&w->health_interval_us, __ATOMIC_RELAXED);
        ret->idle = __atomic_load_n(&w->health_idle, __ATOMIC_RELAXED);
}

int worker_health_stuck(const struct worker_health *h, uint64_t now_us) {
        if (h->on_target_since_us)
                return 0;
        if (h->busy_since_us)
                return now_us > h->busy_since_us && now_us - h->busy_since_us > WORKER_BUSY_MAX_US;
        if (h->idle)
                return 0;
        uint64_t late = 3 * h->interval_us + WORKER_LATE_MAX_US;
        return now_us > h->last_done_us && now_us - h->last_done_us > late;
}

int worker_new(const struct worker_params *params, const struct worker_env *env, uint64_t first_delay_us,
               struct worker **ret) {
        struct worker *w = mm_calloc(1, sizeof(*w));
        int synced = 0;
        if (!w)
                return -ENOMEM;
        int r = worker_params_copy(&w->params, params);
        if (r == 0 && (r = sync_init(w)) == 0)
                synced = 1;
        if (r == 0)
                r = worker_alerts_init(w);
        if (r < 0)
                goto fail;
        w->env = *env;
        w->maps_fd = -1;
        w->pidfd = -1;
        w->tid = params->pid;
        w->first_delay_us = first_delay_us;
        w->id.pid = params->pid;
        w->st.state = TARGET_WAITING;
        w->st.pid = params->pid;
        w->st.interval_us = params->policy.interval_us;
        maps_snapshot_init(&w->prev);
        maps_snapshot_init(&w->cur);
        maps_snapshot_init(&w->alt);
        diff_init(&w->diff);
        backup_store_init(&w->store);
        w->last_done_us = mono_now_us();
        w->health_interval_us = params->policy.interval_us;
        *ret = w;
        return 0;
fail:
        if (synced) {
                pthread_cond_destroy(&w->cond);
                sem_destroy(&w->wake);
                pthread_mutex_destroy(&w->lock);
        }
        worker_params_fini(&w->params);
        mm_free(w);
        return r;
}

int worker_start(struct worker *w) {
        /* Attach before the thread runs, so that a `status` right after
         * start-up already names the process; the first snapshot still
         * waits for the first tick. */
        (void)sample_attach(w);
        pthread_attr_t a;
        pthread_attr_init(&a);
        /* Thousands of workers: keep their stacks small. */
        pthread_attr_setstacksize(&a, 256 * 1024);
        int r = pthread_create(&w->thread, &a, worker_main, w);
        pthread_attr_destroy(&a);
        if (r != 0)
                return -r;
        w->started = 1;
        return 0;
}

int64_t worker_post(struct worker *w, unsigned requests, pid_t new_pid, const struct worker_params *params) {
        pthread_mutex_lock(&w->lock);
        if (requests & REQ_PARAMS) {
                struct target_policy p;
                int r = target_policy_copy(&p, &params->policy);
                if (r < 0) {
                        pthread_mutex_unlock(&w->lock);
                        return r;
                }
                target_policy_fini(&w->new_policy);
                w->new_policy = p;
        }
        if (requests & REQ_PID)
                w->new_pid = new_pid;
        w->requests |= requests;
        int64_t t = (int64_t)++w->ticket;
        pthread_mutex_unlock(&w->lock);
        (void)sem_post(&w->wake);
        return t;
}

int64_t worker_set_interval(struct worker *w, uint64_t interval_us) {
        pthread_mutex_lock(&w->lock);
        if (!(w->requests & REQ_PARAMS)) {
                struct target_policy p;
                int r = target_policy_copy(&p, &w->params.policy);
                if (r < 0) {
                        pthread_mutex_unlock(&w->lock);
                        return r;
                }
                target_policy_fini(&w->new_policy);
                w->new_policy = p;
        }
        w->new_policy.interval_us = interval_us;
        w->requests |= REQ_PARAMS;
        int64_t t = (int64_t)++w->ticket;
        pthread_mutex_unlock(&w->lock);
        (void)sem_post(&w->wake);
        return t;
}

int worker_wait(struct worker *w, int64_t ticket, int timeout_ms) {
        if (ticket < 0)
                return (int)ticket;
        struct timespec dl = mono_now();
        int64_t end = timespec_us(&dl) + (int64_t)timeout_ms * 1000;
        dl = us_timespec(end);
        int r = 0;
        pthread_mutex_lock(&w->lock);
        while (w->done < (uint64_t)ticket && w->st.state != TARGET_STOPPED) {
                if (pthread_cond_timedwait(&w->cond, &w->lock, &dl) == ETIMEDOUT) {
                        r = w->done < (uint64_t)ticket ? -ETIMEDOUT : 0;
                        break;
                }
        }
        pthread_mutex_unlock(&w->lock);
        return r;
}

int worker_last_result(struct worker *w) {
        pthread_mutex_lock(&w->lock);
        int r = w->last_result;
        pthread_mutex_unlock(&w->lock);
        return r;
}

void worker_get_status(struct worker *w, struct worker_status *ret) {
        pthread_mutex_lock(&w->lock);
        *ret = w->st;
        ret->interval_us = w->params.policy.interval_us;
        pthread_mutex_unlock(&w->lock);
}

static int same_selector(const struct worker_params *a, const struct worker_params *b) {
        if (a->selector != b->selector || !streq(a->backup_dir, b->backup_dir))
                return 0;
        switch (a->selector) {
        case SELECT_PID:
        case SELECT_EXEC:
                return a->pid == b->pid;
        case SELECT_PIDFILE:
                return streq(a->pidfile, b->pidfile);
        case SELECT_MATCH:
                return streq(a->match, b->match) && target_filter_equal(&a->filter, &b->filter);
        }
        return 0;
}

enum worker_change worker_compare(struct worker *w, const struct worker_params *p) {
        enum worker_change c = WORKER_SAME;
        pthread_mutex_lock(&w->lock);
        /* A policy change already posted but not yet applied counts. */
        const struct target_policy *cur = (w->requests & REQ_PARAMS) ? &w->new_policy : &w->params.policy;
        if (!same_selector(&w->params, p))
                c = WORKER_SELECTOR_CHANGED;
        else if (!target_policy_equal(cur, &p->policy))
                c = WORKER_POLICY_CHANGED;
        pthread_mutex_unlock(&w->lock);
        return c;
}

const char *worker_name(const struct worker *w) {
        /* Only the worker's thread changes the name (worker_set_name), by
         * swapping the pointer; a name it replaced stays allocated until
         * worker_free, so no lock is needed. */
        return __atomic_load_n(&w->params.name, __ATOMIC_ACQUIRE);
}

int worker_set_name(struct worker *w, const char *name) {
        char *copy = mm_strdup(name);
        if (!copy)
                return -ENOMEM;
        pthread_mutex_lock(&w->lock);
        char **v = mm_reallocarray(w->old_names, w->n_old_names + 1, sizeof(*v));
        if (!v) {
                pthread_mutex_unlock(&w->lock);
                mm_free(copy);
                return -ENOMEM;
        }
        w->old_names = v;
        w->old_names[w->n_old_names++] = w->params.name;
        __atomic_store_n(&w->params.name, copy, __ATOMIC_RELEASE);
        pthread_mutex_unlock(&w->lock);
        name_thread(w);
        return 0;
}

void worker_free(struct worker *w, int final) {
        if (!w)
                return;
        if (w->started) {
                (void)worker_post(w, REQ_STOP | (final ? REQ_FINAL : 0), 0, NULL);
                pthread_join(w->thread, NULL);
        }
        registry_unlink(w);
        sample_close(w);
        sample_capture_waiting(w, 0);
        sample_capture_fini(w);
        backup_store_close(&w->store);
        maps_snapshot_fini(&w->prev);
        maps_snapshot_fini(&w->cur);
        maps_snapshot_fini(&w->alt);
        proc_dents_fini(&w->dents);
        diff_fini(&w->diff);
        worker_alerts_fini(w);
        worker_params_fini(&w->params);
        for (size_t i = 0; i < w->n_old_names; i++)
                mm_free(w->old_names[i]);
        mm_free(w->old_names);
        target_policy_fini(&w->new_policy);
        pthread_cond_destroy(&w->cond);
        sem_destroy(&w->wake);
        pthread_mutex_destroy(&w->lock);
        mm_free(w);
}
