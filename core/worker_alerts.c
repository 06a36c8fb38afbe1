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
#include <unistd.h>

#include "core/alerts_fs.h"
#include "core/alloc.h"
#include "core/proc.h"
#include "core/worker_impl.h"

static uint64_t now_us(void) {
        struct timespec t = mono_now();
        return (uint64_t)timespec_us(&t);
}

int worker_alerts_init(struct worker *w) {
        int r;

        alert_events_init(&w->alert_ev);
        maps_snapshot_init(&w->event_snap);
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

static void forget_mappings(struct worker *w) {
        for (size_t i = 0; i < w->n_evmaps; i++) {
                mm_free(w->evmaps[i].path);
                w->evmaps[i].path = NULL;
        }
        w->n_evmaps = w->next_evmap = 0;
}

void worker_alerts_fini(struct worker *w) {
        forget_mappings(w);
        maps_snapshot_fini(&w->event_snap);
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

/* What is mapped at addr, as the events judged since the last snapshot
 * and then that snapshot (w->prev) say: 1 with *ret filled (its path
 * borrowed), 0 when nothing is known to be there. */
static int mapping_at(struct worker *w, uint64_t addr, struct event_mapping *ret) {
        /* The newest event first: it may have replaced an older one. */
        for (size_t k = 0; k < w->n_evmaps; k++) {
                size_t i = (w->next_evmap + EVENT_MAPPINGS_MAX - 1 - k) % EVENT_MAPPINGS_MAX;

                if (i < w->n_evmaps && w->evmaps[i].start <= addr && addr < w->evmaps[i].end) {
                        *ret = w->evmaps[i];
                        return 1;
                }
        }
        if (!w->have_prev)
                return 0;
        for (size_t lo = 0, hi = w->prev.n; lo < hi;) {
                size_t mid = lo + (hi - lo) / 2;
                const struct region *r = &w->prev.regions[mid];

                if (r->end <= addr) {
                        lo = mid + 1;
                } else if (r->start > addr) {
                        hi = mid;
                } else {
                        memset(ret, 0, sizeof(*ret));
                        ret->start = r->start;
                        ret->end = r->end;
                        memcpy(ret->perms, r->perms, 4);
                        ret->offset = r->offset;
                        ret->dev_major = r->dev_major;
                        ret->dev_minor = r->dev_minor;
                        ret->ino = r->inode;
                        ret->path = r->path_len ? (char *)region_path(&w->prev, r) : NULL;
                        ret->path_len = r->path_len;
                        ret->known = 1;
                        return 1;
                }
        }
        return 0;
}

/* Remembers m (its path copied) as the newest mapping events made. */
static void remember(struct worker *w, const struct event_mapping *m) {
        struct event_mapping *to = &w->evmaps[w->next_evmap];
        char *path = NULL;

        if (m->path && m->path_len) {
                path = mm_malloc(m->path_len);
                if (path)
                        memcpy(path, m->path, m->path_len);
        }
        if (w->next_evmap < w->n_evmaps)
                mm_free(to->path);
        *to = *m;
        to->path = path;
        to->path_len = path ? m->path_len : 0;
        to->known = m->known && (path || !m->path_len);
        w->next_evmap = (w->next_evmap + 1) % EVENT_MAPPINGS_MAX;
        if (w->n_evmaps < EVENT_MAPPINGS_MAX)
                w->n_evmaps++;
}

/* Forgets the mappings events made that start in [start, end). */
static void forget_range(struct worker *w, uint64_t start, uint64_t end) {
        for (size_t i = 0; i < w->n_evmaps; i++) {
                if (w->evmaps[i].start >= start && w->evmaps[i].start < end) {
                        mm_free(w->evmaps[i].path);
                        w->evmaps[i].path = NULL;
                        w->evmaps[i].start = w->evmaps[i].end = 0;
                }
        }
}

/* The mapping events[i] made or changed, as m (its path borrowed).
 * Returns 1, or 0 when nothing is known of it to judge. */
static int mapping_of(struct worker *w, const struct capture_event *ev, const struct capture_effect *e,
                      struct event_mapping *m) {
        struct event_mapping base;
        uint64_t at = e->how == CAPTURE_MOVED ? e->from : e->start;

        memset(m, 0, sizeof(*m));
        m->start = e->start;
        m->end = e->end;
        if (e->how == CAPTURE_MAPPED) {
                m->perms[0] = e->prot & 1 ? 'r' : '-';
                m->perms[1] = e->prot & 2 ? 'w' : '-';
                m->perms[2] = e->prot & 4 ? 'x' : '-';
                m->perms[3] = e->shared ? 's' : 'p';
                /* MAP_ANONYMOUS (0x20): nothing behind it.  A file whose
                 * path the capture could not give is not known. */
                if (!(ev->flags & 0x20)) {
                        m->offset = ev->arg;
                        m->dev_major = ev->dev_major;
                        m->dev_minor = ev->dev_minor;
                        m->ino = ev->ino;
                        m->path = (char *)ev->path;
                        m->path_len = ev->path ? ev->path_len : 0;
                        m->known = ev->path != NULL && !ev->path_cut;
                } else {
                        m->known = 1;
                }
                return 1;
        }
        if (!mapping_at(w, at, &base))
                return 0;
        memcpy(m->perms, base.perms, 4);
        if (e->how == CAPTURE_PROTECTED) {
                m->perms[0] = e->prot & 1 ? 'r' : '-';
                m->perms[1] = e->prot & 2 ? 'w' : '-';
                m->perms[2] = e->prot & 4 ? 'x' : '-';
        }
        m->offset = base.ino ? base.offset + (at - base.start) : 0;
        m->dev_major = base.dev_major;
        m->dev_minor = base.dev_minor;
        m->ino = base.ino;
        m->path = base.path;
        m->path_len = base.path_len;
        m->known = base.known;
        /* new_exec: a protection that makes it executable makes it new
         * code; a move does not. */
        return 1 + (e->how == CAPTURE_PROTECTED && base.perms[2] != 'x');
}

/* Gives m a copy of its path of its own (*ret_own, for the caller to
 * free).  Returns 0, or -ENOMEM. */
static int own_path(struct event_mapping *m, char **ret_own) {
        char *own = mm_malloc(m->path_len);

        if (!own)
                return -ENOMEM;
        memcpy(own, m->path, m->path_len);
        m->path = own;
        *ret_own = own;
        return 0;
}

void worker_alerts_events(struct worker *w, const struct capture_event *events, size_t n, size_t from,
                          size_t to) {
        uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
        int r = 0;

        for (size_t i = from; i < to && i < n && r >= 0; i++) {
                struct capture_effect e;
                struct event_mapping m;
                char *own = NULL;
                int got, is_new;

                if (capture_event_effect(events, n, i, page, &e) < 0)
                        continue;
                if (e.everything) {
                        r = alerts_event_unmap(w->alerts, 0, UINT64_MAX, "the process called exec",
                                               &w->alert_ev);
                        forget_mappings(w);
                        continue;
                }
                /* What is moved away is known before it goes. */
                got = e.map ? mapping_of(w, &events[i], &e, &m) : 0;
                /* Its path may be borrowed from a mapping the unmap below
                 * forgets (and frees): a move's old place. */
                if (got && e.unmap && m.path_len && own_path(&m, &own) < 0)
                        got = 0;
                if (e.unmap) {
                        r = alerts_event_unmap(w->alerts, e.unmap_start, e.unmap_end, "region unmapped",
                                               &w->alert_ev);
                        forget_range(w, e.unmap_start, e.unmap_end);
                }
                if (!got || r < 0) {
                        mm_free(own);
                        continue;
                }
                is_new = e.how == CAPTURE_MAPPED || got == 2;
                if (m.perms[2] == 'x') {
                        r = capture_region_snapshot(m.start, m.end, m.perms, m.offset, m.dev_major,
                                                    m.dev_minor, m.ino, m.path, m.path_len, &w->event_snap);
                        if (r == 0)
                                r = alerts_event_map(w->alerts, &w->event_snap, &w->event_snap.regions[0],
                                                     is_new, m.known, &w->alert_ev);
                }
                remember(w, &m);
                mm_free(own);
        }
        report(w, r, "events");
}

void worker_alerts_settle(struct worker *w, const struct maps_snapshot *snap) {
        int r = 0;

        forget_mappings(w);
        if (alerts_active_count(w->alerts) > 0)
                r = alerts_event_settle(w->alerts, snap, &w->alert_ev);
        if (r == 0 && w->alert_ev.n == 0 && w->alert_ev.dropped == 0)
                return;
        report(w, r, "events");
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
