#include "core/supervisor.h"

#include <errno.h>
#include <string.h>

#include "core/alloc.h"
#include "core/exitwatch.h"

int supervisor_init(struct supervisor *s, const struct worker_env *env) {
        memset(s, 0, sizeof(*s));
        int r = proc_scan_init(&s->scan, PROC_SCAN_INTERVAL_US);
        if (r < 0)
                return r;
        r = worker_registry_init(&s->registry);
        if (r < 0) {
                proc_scan_fini(&s->scan);
                return r;
        }
        s->env = *env;
        s->env.scan = &s->scan;
        /* eBPF capture: exits are known at once, through pidfds. */
        if (env->capture && !env->exits) {
                r = exit_watch_new(&s->exits);
                if (r < 0) {
                        proc_scan_fini(&s->scan);
                        worker_registry_fini(&s->registry);
                        return r;
                }
                s->env.exits = s->exits;
        }
        return 0;
}

void supervisor_fini(struct supervisor *s) {
        /* Ask every worker to stop first so they wind down in parallel. */
        for (size_t i = 0; i < s->n; i++)
                (void)worker_post(s->workers[i], REQ_STOP, 0, NULL);
        for (size_t i = 0; i < s->n; i++)
                worker_free(s->workers[i], 0);
        mm_free(s->workers);
        s->workers = NULL;
        s->n = s->cap = 0;
        exit_watch_free(s->exits);
        s->exits = NULL;
        proc_scan_fini(&s->scan);
        worker_registry_fini(&s->registry);
}

struct worker *supervisor_find(const struct supervisor *s, const char *name) {
        for (size_t i = 0; i < s->n; i++)
                if (strcmp(worker_name(s->workers[i]), name) == 0)
                        return s->workers[i];
        return NULL;
}

int supervisor_add(struct supervisor *s, const struct worker_params *params, uint64_t first_delay_us) {
        if (supervisor_find(s, params->name))
                return -EEXIST;
        if (s->n == s->cap) {
                size_t cap = s->cap ? s->cap * 2 : 8;
                struct worker **v = mm_reallocarray(s->workers, cap, sizeof(*v));
                if (!v)
                        return -ENOMEM;
                s->workers = v;
                s->cap = cap;
        }
        struct worker *w;
        int r = worker_new(params, &s->env, first_delay_us, &w);
        if (r < 0)
                return r;
        worker_registry_add(&s->registry, w);
        r = worker_start(w);
        if (r < 0) {
                worker_free(w, 0);
                return r;
        }
        s->workers[s->n++] = w;
        return 0;
}

int supervisor_remove(struct supervisor *s, const char *name, int final) {
        for (size_t i = 0; i < s->n; i++) {
                if (strcmp(worker_name(s->workers[i]), name) != 0)
                        continue;
                worker_free(s->workers[i], final);
                memmove(&s->workers[i], &s->workers[i + 1], (s->n - i - 1) * sizeof(*s->workers));
                s->n--;
                return 0;
        }
        return -ENOENT;
}

int supervisor_post_all(struct supervisor *s, unsigned requests, int timeout_ms) {
        int64_t stack_tickets[64];
        int64_t *tickets = stack_tickets;
        if (s->n > 64) {
                tickets = mm_reallocarray(NULL, s->n, sizeof(*tickets));
                if (!tickets)
                        return (int)s->n;
        }
        for (size_t i = 0; i < s->n; i++)
                tickets[i] = worker_post(s->workers[i], requests, 0, NULL);
        int late = 0;
        for (size_t i = 0; i < s->n; i++)
                if (tickets[i] < 0 || worker_wait(s->workers[i], tickets[i], timeout_ms) < 0)
                        late++;
        if (tickets != stack_tickets)
                mm_free(tickets);
        return late;
}

int supervisor_apply(struct supervisor *s, const struct worker_params *targets, size_t n,
                     struct supervisor_changes *ret) {
        struct supervisor_changes c = {0};
        int r;
        /* Removed first, so a name freed and reused never collides. */
        for (size_t i = 0; i < s->n;) {
                const char *name = worker_name(s->workers[i]);
                int found = 0;
                for (size_t j = 0; j < n && !found; j++)
                        found = strcmp(targets[j].name, name) == 0;
                if (found) {
                        i++;
                        continue;
                }
                (void)supervisor_remove(s, name, 1);
                c.removed++;
        }
        for (size_t j = 0; j < n; j++) {
                const struct worker_params *p = &targets[j];
                struct worker *w = supervisor_find(s, p->name);
                uint64_t delay = p->policy.interval_us * j / (n ? n : 1);
                if (!w) {
                        r = supervisor_add(s, p, delay);
                        if (r < 0)
                                goto out;
                        c.added++;
                        continue;
                }
                /* Compared once, under one lock: what is decided is what
                 * the worker was at that moment. */
                switch (worker_compare(w, p)) {
                case WORKER_SELECTOR_CHANGED:
                        r = supervisor_remove(s, p->name, 1);
                        if (r == 0)
                                r = supervisor_add(s, p, 0);
                        if (r < 0)
                                goto out;
                        c.restarted++;
                        break;
                case WORKER_POLICY_CHANGED: {
                        int64_t t = worker_post(w, REQ_PARAMS, 0, p);
                        if (t < 0) {
                                r = (int)t;
                                goto out;
                        }
                        c.changed++;
                        break;
                }
                case WORKER_SAME:
                        c.kept++;
                        break;
                }
        }
        r = 0;
out:
        if (ret)
                *ret = c;
        return r;
}
