/*
 * worker_alerts: a worker's alert rules.  The worker thread owns one alert
 * state (core/alerts.h) and one view of the file system through /proc
 * (alert_sysfs, its facts dropped after each evaluation); sample.c calls in
 * at the first snapshot of each process instance, on each change, on every
 * tick, and when the instance ends.  What is raised or cleared becomes a
 * message line (one WARN per alert raised), a typed event, and counters.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/alerts_fs.h"
#include "core/proc.h"
#include "core/worker_impl.h"

static uint64_t now_us(void) {
        struct timespec t = mono_now();
        return (uint64_t)timespec_us(&t);
}

int worker_alerts_init(struct worker *w) {
        int r;

        alert_events_init(&w->alert_ev);
        strbuf_init(&w->alert_text);
        strbuf_init(&w->alerts_reply[0]);
        strbuf_init(&w->alerts_reply[1]);
        /* A worker's target changes over time: no facts are kept between
         * evaluations (keep_cache 0). */
        r = alert_sysfs_new(0, &w->alert_fs);
        if (r == 0)
                r = alert_state_new(&alert_sysfs_ops, w->alert_fs, &w->alerts);
        if (r == 0)
                r = alerts_set_policy(w->alerts, &w->params.policy.alerts, NULL, 0, &w->alert_ev);
        if (r < 0) {
                worker_alerts_fini(w);
                return r;
        }
        return 0;
}

void worker_alerts_fini(struct worker *w) {
        alert_state_free(w->alerts);
        alert_sysfs_free(w->alert_fs);
        w->alerts = NULL;
        w->alert_fs = NULL;
        alert_events_fini(&w->alert_ev);
        strbuf_fini(&w->alert_text);
        strbuf_fini(&w->alerts_reply[0]);
        strbuf_fini(&w->alerts_reply[1]);
}

/* Reports what the last evaluation raised and cleared, then forgets it. */
static void report(struct worker *w, int r, const char *what) {
        struct alert_events *e = &w->alert_ev;
        char eb[ERRBUF];

        if (r < 0)
                worker_emit(w, LOG_ERROR, "alert rules (%s) failed: %s", what,
                            strerror_r(-r, eb, sizeof(eb)));
        if (e->n == 0 && e->dropped == 0)
                return;
        for (size_t i = 0; i < e->n; i++) {
                const struct alert_event *a = &e->v[i];
                int raised = a->change == ALERT_RAISED;
                struct worker_event ev = {
                    .kind = raised ? WORKER_EVENT_ALERT : WORKER_EVENT_ALERT_CLEARED,
                    .alerts = e,
                    .alert = a,
                };

                strbuf_reset(&w->alert_text);
                if (alerts_format_text(&w->alert_text, a->rule, alert_event_line(e, a), a->line_len,
                                       alert_event_reason(e, a), a->reason_len) == 0)
                        worker_emit(w, raised ? LOG_WARN : LOG_INFO, "%s: %s",
                                    raised ? "alert" : "alert cleared", strbuf_str(&w->alert_text));
                if (raised) {
                        pthread_mutex_lock(&w->lock);
                        w->st.alerts_raised[a->rule]++;
                        pthread_mutex_unlock(&w->lock);
                }
                worker_report(w, &ev);
        }
        if (e->dropped > 0)
                worker_emit(w, LOG_WARN,
                            "%llu alerts not raised: pid %d already has %d alerts up (the most one process "
                            "instance holds)",
                            (unsigned long long)e->dropped, (int)w->id.pid, ALERTS_MAX_ACTIVE);
        pthread_mutex_lock(&w->lock);
        w->st.alerts_active = alerts_active_count(w->alerts);
        pthread_mutex_unlock(&w->lock);
        alert_events_reset(e);
}

void worker_alerts_policy(struct worker *w) {
        int r = alerts_set_policy(w->alerts, &w->params.policy.alerts, w->have_prev ? &w->prev : NULL,
                                  now_us(), &w->alert_ev);
        report(w, r, "new policy");
}

void worker_alerts_first(struct worker *w, const struct maps_snapshot *snap) {
        struct alert_proc proc = {.pid = w->id.pid, .start_time = w->id.start_time};
        int r;

        /* "Its own user" is who it runs as now: read at every new address
         * space, since an exec may change it.  Unreadable, the process is
         * exiting: nothing is judged on a guess, and the next snapshot of a
         * process that lives on tries again. */
        if (proc_effective_uid(w->id.pid, &proc.uid) < 0) {
                w->alerts_fresh = 1;
                return;
        }
        w->alerts_fresh = 0;
        r = alerts_first(w->alerts, &proc, snap, now_us(), &w->alert_ev);
        report(w, r, "first snapshot");
}

void worker_alerts_change(struct worker *w) {
        int r;

        if (w->alerts_fresh) {
                worker_alerts_first(w, &w->cur);
                return;
        }
        r = alerts_change(w->alerts, &w->prev, &w->cur, &w->diff, now_us(), &w->alert_ev);
        report(w, r, "change");
}

void worker_alerts_tick(struct worker *w, const struct maps_snapshot *snap) {
        int r = alerts_tick(w->alerts, snap, now_us(), &w->alert_ev);

        /* Nothing due, nothing found: the common case returns here. */
        if (r == 0 && w->alert_ev.n == 0 && w->alert_ev.dropped == 0)
                return;
        report(w, r, "timed check");
}

void worker_alerts_end(struct worker *w, const char *why) {
        int r = alerts_end(w->alerts, why, &w->alert_ev);

        report(w, r, "end");
}

void worker_alerts_render(struct worker *w, unsigned requests) {
        pthread_mutex_lock(&w->lock);
        for (int json = 0; json < 2; json++) {
                struct strbuf *b = &w->alerts_reply[json];
                int r;

                if (!(requests & (json ? REQ_ALERTS_JSON : REQ_ALERTS)))
                        continue;
                strbuf_reset(b);
                r = json ? alerts_format_active_json(w->alerts, w->params.name, b)
                         : alerts_format_active(w->alerts, b);
                /* Out of memory: an empty reply, which the caller tells from
                 * no alerts by the count. */
                if (r < 0)
                        strbuf_reset(b);
        }
        pthread_mutex_unlock(&w->lock);
}

int worker_alerts(struct worker *w, int json, struct strbuf *out, int timeout_ms) {
        int64_t t = worker_post(w, json ? REQ_ALERTS_JSON : REQ_ALERTS, 0, NULL);
        const struct strbuf *reply = &w->alerts_reply[json ? 1 : 0];
        int r = worker_wait(w, t, timeout_ms), n = 0;

        if (r < 0)
                return r;
        pthread_mutex_lock(&w->lock);
        /* One line per alert, in both forms. */
        for (size_t i = 0; i < reply->len; i++)
                n += reply->s[i] == '\n';
        r = strbuf_append(out, strbuf_str(reply), reply->len);
        pthread_mutex_unlock(&w->lock);
        return r < 0 ? r : n;
}
