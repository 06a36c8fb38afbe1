/*
 * service: the agent as a systemd service (Type=notify).  It tells systemd
 * when it is ready, reloading and stopping, keeps a one-line STATUS= up to
 * date, and pings the watchdog from the control loop while it is healthy.
 * Without $NOTIFY_SOCKET all of this costs nothing (see notify.h).
 *
 * The loop pings and refreshes the status; the executor sends RELOADING=1
 * and READY=1 around a reload: every message goes out under notify_lock.
 * Neither reads the supervisor's arrays (the executor's alone): the health
 * check and the status line read the workers through their registry
 * (core/worker.h), which also lists a worker being stopped.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/notify.h"

/* -i replies that cannot be written this long (nobody reads the agent's
 * standard output) make the agent unhealthy, as a blocked loop would be. */
#define OUTPUT_STUCK_MAX_US (5ULL * 1000 * 1000)
#define MINUTE_US (60ULL * 1000 * 1000)
/* How often the status line's totals are kept for "in the last minute". */
#define STATUS_HISTORY_STEP_US (10ULL * 1000 * 1000)

struct health_scan {
        uint64_t now;
        int stuck;
        char name[TARGET_NAME_MAX + 1];
        uint64_t busy_us;
};

static void check_worker(void *ctx, struct worker *w) {
        struct health_scan *h = ctx;
        struct worker_health wh;
        worker_get_health(w, &wh);
        if (h->stuck || !worker_health_stuck(&wh, h->now))
                return;
        h->stuck = 1;
        snprintf(h->name, sizeof(h->name), "%s", worker_name(w));
        h->busy_us = wh.busy_since_us ? h->now - wh.busy_since_us : h->now - wh.last_done_us;
}

/*
 * The watchdog's health condition.  The agent pings only while:
 *  - every worker made progress within its deadline (busy at most
 *    WORKER_BUSY_MAX_US on one piece of work, and ticking when a tick is
 *    due) or is blocked in a call on its target (a read of /proc/PID/maps
 *    waiting for a process that holds its mmap lock: systemd must not kill
 *    the whole agent for one stuck target);
 *  - the executor is not stuck on a command outside a wait for a worker
 *    (EXECUTOR_BUSY_MAX_US: a deadlock in the agent);
 *  - in -i, its replies are not stuck on standard output.
 * A stuck control loop pings nothing anyway.
 */
int agent_healthy(struct agent *a, char *why, size_t why_size) {
        struct health_scan h = {.now = notify_now_us()};
        if (a->sup_init)
                worker_registry_visit(&a->sup.registry, check_worker, &h);
        if (h.stuck) {
                snprintf(why, why_size, "target %s has made no progress for %.1f s outside its target",
                         h.name, (double)h.busy_us / 1e6);
                return 0;
        }
        if (a->exec_ready && executor_stuck(&a->exec, h.now)) {
                snprintf(why, why_size, "a command has run for more than %llu s without waiting for a worker",
                         (unsigned long long)(EXECUTOR_BUSY_MAX_US / 1000000));
                return 0;
        }
        if (a->output_stuck_since_us && h.now - a->output_stuck_since_us > OUTPUT_STUCK_MAX_US) {
                snprintf(why, why_size, "replies have waited %.1f s for standard output",
                         (double)(h.now - a->output_stuck_since_us) / 1e6);
                return 0;
        }
        return 1;
}

/* Logs the first failure to reach systemd as a warning and the rest at
 * debug level: a socket that went away should not flood the log.  Called
 * under notify_lock. */
static void notified(struct agent *a, const char *what, int r) {
        if (r >= 0)
                return;
        agent_log(a->log, NULL, a->notify_warned ? LOG_DEBUG : LOG_WARN, "systemd notification %s failed: %s",
                  what, strerror(-r));
        a->notify_warned = 1;
}

struct status_scan {
        size_t n;
        size_t count[TARGET_STOPPED + 1];
        uint64_t diffs, alerts;
};

static void count_worker(void *ctx, struct worker *w) {
        struct status_scan *s = ctx;
        struct worker_status st;
        worker_get_status(w, &st);
        s->n++;
        if ((unsigned)st.state <= TARGET_STOPPED)
                s->count[st.state]++;
        s->diffs += st.diffs_written;
        for (int k = 0; k < ALERT_RULE_COUNT; k++)
                s->alerts += st.alerts_raised[k];
}

/* Keeps the totals now and again, and returns how much each grew over
 * about the last minute (since the oldest total kept that is at most a
 * minute old; totals that fell, as when a reload removed a target, count
 * from where they fell to). */
static void last_minute(struct status_history *h, uint64_t now, uint64_t diffs, uint64_t alerts,
                        uint64_t *ret_diffs, uint64_t *ret_alerts) {
        size_t newest = (h->next + STATUS_HISTORY - 1) % STATUS_HISTORY;
        if (h->n == 0 || now - h->at_us[newest] >= STATUS_HISTORY_STEP_US) {
                h->at_us[h->next] = now;
                h->diffs[h->next] = diffs;
                h->alerts[h->next] = alerts;
                h->next = (h->next + 1) % STATUS_HISTORY;
                if (h->n < STATUS_HISTORY)
                        h->n++;
        }
        uint64_t base_d = diffs, base_a = alerts;
        for (size_t i = 0; i < h->n; i++) {
                size_t k = (h->next + STATUS_HISTORY - h->n + i) % STATUS_HISTORY;
                if (now - h->at_us[k] > MINUTE_US)
                        continue;
                base_d = h->diffs[k] < base_d ? h->diffs[k] : base_d;
                base_a = h->alerts[k] < base_a ? h->alerts[k] : base_a;
                break;
        }
        *ret_diffs = diffs - base_d;
        *ret_alerts = alerts - base_a;
}

int agent_status_line(struct agent *a, char *buf, size_t size) {
        struct status_scan s = {0};
        if (a->sup_init)
                worker_registry_visit(&a->sup.registry, count_worker, &s);
        int n = snprintf(buf, size, "%zu target%s", s.n, s.n == 1 ? "" : "s");
        if (n < 0 || (size_t)n >= size)
                return -ENOBUFS;
        size_t len = (size_t)n;
        const char *sep = ": ";
        for (int st = 0; st <= TARGET_STOPPED; st++) {
                if (!s.count[st])
                        continue;
                n = snprintf(buf + len, size - len, "%s%zu %s", sep, s.count[st],
                             target_state_name((enum target_state)st));
                if (n < 0 || (size_t)n >= size - len)
                        return -ENOBUFS;
                len += (size_t)n;
                sep = ", ";
        }
        uint64_t diffs, alerts;
        last_minute(&a->history, notify_now_us(), s.diffs, s.alerts, &diffs, &alerts);
        n = snprintf(buf + len, size - len, "; %llu diff%s in the last minute; %llu alert%s",
                     (unsigned long long)diffs, diffs == 1 ? "" : "s", (unsigned long long)alerts,
                     alerts == 1 ? "" : "s");
        if (n < 0 || (size_t)n >= size - len)
                return -ENOBUFS;
        return 0;
}

/* Under notify_lock. */
static void send_status(struct agent *a, int force) {
        char line[NOTIFY_STATUS_MAX];
        if (agent_status_line(a, line, sizeof(line)) == 0)
                notified(a, "STATUS", notify_status(&a->notify, line, force));
}

void agent_service_ready(struct agent *a) {
        pthread_mutex_lock(&a->notify_lock);
        int r = notify_init(&a->notify);
        if (r < 0)
                agent_log(a->log, NULL, LOG_WARN,
                          "WATCHDOG_USEC is not a number of microseconds: watchdog off");
        if (a->notify.watchdog_usec)
                agent_log(a->log, NULL, LOG_INFO, "systemd watchdog: %llu ms, pinged every %llu ms",
                          (unsigned long long)(a->notify.watchdog_usec / 1000),
                          (unsigned long long)(a->notify.watchdog_usec / 2000));
        notified(a, "READY", notify_ready(&a->notify));
        send_status(a, 1);
        pthread_mutex_unlock(&a->notify_lock);
}

void agent_service_stopping(struct agent *a) {
        pthread_mutex_lock(&a->notify_lock);
        notified(a, "STOPPING", notify_stopping(&a->notify));
        notified(a, "STATUS", notify_status(&a->notify, "stopping", 1));
        pthread_mutex_unlock(&a->notify_lock);
}

void agent_service_reloading(struct agent *a) {
        pthread_mutex_lock(&a->notify_lock);
        notified(a, "RELOADING", notify_reloading(&a->notify));
        pthread_mutex_unlock(&a->notify_lock);
}

void agent_service_reloaded(struct agent *a) {
        pthread_mutex_lock(&a->notify_lock);
        notified(a, "READY", notify_ready(&a->notify));
        send_status(a, 1);
        pthread_mutex_unlock(&a->notify_lock);
}

int agent_reload_notified(void *user, struct strbuf *reply) {
        struct agent *a = user;
        agent_service_reloading(a);
        int r = agent_reload(a, reply);
        agent_service_reloaded(a);
        return r;
}

int agent_service_timeout_ms(struct agent *a) {
        pthread_mutex_lock(&a->notify_lock);
        int t = notify_timeout_ms(&a->notify, notify_now_us());
        pthread_mutex_unlock(&a->notify_lock);
        return t;
}

void agent_service_tick(struct agent *a) {
        uint64_t now = notify_now_us();
        pthread_mutex_lock(&a->notify_lock);
        if (notify_watchdog_due(&a->notify, now)) {
                char why[256];
                int healthy = agent_healthy(a, why, sizeof(why));
                /* Said once when it starts and once when it ends. */
                if (!healthy && !a->unhealthy)
                        agent_log(a->log, NULL, LOG_ERROR, "not pinging the systemd watchdog: %s", why);
                else if (healthy && a->unhealthy)
                        agent_log(a->log, NULL, LOG_INFO, "pinging the systemd watchdog again");
                a->unhealthy = !healthy;
                notified(a, "WATCHDOG", notify_watchdog_tick(&a->notify, now, healthy));
        }
        if (notify_status_due(&a->notify, now))
                send_status(a, 0);
        pthread_mutex_unlock(&a->notify_lock);
}
