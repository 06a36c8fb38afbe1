/*
 * service: the agent as a systemd service (Type=notify).  It tells systemd
 * when it is ready, reloading and stopping, keeps a one-line STATUS= up to
 * date, and pings the watchdog from the control loop while it is healthy.
 * Without $NOTIFY_SOCKET all of this costs nothing (see notify.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/notify.h"

/*
 * HOOK for the lead (issue 11): the watchdog's health condition.
 *
 * The watchdog is pinged only while this returns 1.  It must return 1 while
 * every worker made progress within its own deadline (say, two of its
 * intervals plus the time a maps read may legitimately take) or is
 * legitimately blocked on its target (a read of /proc/PID/maps waiting for
 * a target that holds its mmap lock: systemd must not kill the whole agent
 * for one stuck target), and 0 when a worker is stuck anywhere else (a
 * deadlock in the agent, which systemd should end by restarting it).
 *
 * Telling those apart needs worker internals (a progress stamp and "inside
 * the maps read" flag per worker) that arrive with the opaque struct
 * worker; until then a control loop that runs is taken as healthy, which
 * already catches a control loop that is stuck: it stops pinging.
 */
int agent_healthy(struct agent *a) {
        (void)a;
        return 1;
}

/* Logs the first failure to reach systemd as a warning and the rest at
 * debug level: a socket that went away should not flood the log. */
static void notified(struct agent *a, const char *what, int r) {
        if (r >= 0)
                return;
        agent_log(a->log, NULL, a->notify_warned ? LOG_DEBUG : LOG_WARN, "systemd notification %s failed: %s",
                  what, strerror(-r));
        a->notify_warned = 1;
}

int agent_status_line(struct agent *a, char *buf, size_t size) {
        size_t count[TARGET_STOPPED + 1] = {0};
        for (size_t i = 0; i < a->sup.n; i++) {
                struct worker_status st;
                worker_get_status(a->sup.workers[i], &st);
                if ((unsigned)st.state <= TARGET_STOPPED)
                        count[st.state]++;
        }
        int n = snprintf(buf, size, "%zu target%s", a->sup.n, a->sup.n == 1 ? "" : "s");
        if (n < 0 || (size_t)n >= size)
                return -ENOBUFS;
        size_t len = (size_t)n;
        const char *sep = ": ";
        for (int s = 0; s <= TARGET_STOPPED; s++) {
                if (!count[s])
                        continue;
                n = snprintf(buf + len, size - len, "%s%zu %s", sep, count[s],
                             target_state_name((enum target_state)s));
                if (n < 0 || (size_t)n >= size - len)
                        return -ENOBUFS;
                len += (size_t)n;
                sep = ", ";
        }
        return 0;
}

static void send_status(struct agent *a, int force) {
        char line[NOTIFY_STATUS_MAX];
        if (agent_status_line(a, line, sizeof(line)) == 0)
                notified(a, "STATUS", notify_status(&a->notify, line, force));
}

void agent_service_ready(struct agent *a) {
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
}

void agent_service_stopping(struct agent *a) {
        notified(a, "STOPPING", notify_stopping(&a->notify));
        notified(a, "STATUS", notify_status(&a->notify, "stopping", 1));
}

void agent_service_reloading(struct agent *a) {
        notified(a, "RELOADING", notify_reloading(&a->notify));
}

void agent_service_reloaded(struct agent *a) {
        notified(a, "READY", notify_ready(&a->notify));
        send_status(a, 1);
}

int agent_reload_notified(void *user, struct strbuf *reply) {
        struct agent *a = user;
        agent_service_reloading(a);
        int r = agent_reload(a, reply);
        agent_service_reloaded(a);
        return r;
}

int agent_service_timeout_ms(struct agent *a) {
        return notify_timeout_ms(&a->notify, notify_now_us());
}

void agent_service_tick(struct agent *a) {
        uint64_t now = notify_now_us();
        if (notify_watchdog_due(&a->notify, now))
                notified(a, "WATCHDOG", notify_watchdog_tick(&a->notify, now, agent_healthy(a)));
        if (notify_status_due(&a->notify, now))
                send_status(a, 0);
}
