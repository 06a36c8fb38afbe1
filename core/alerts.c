/*
 * The alert state of one process instance: which alerts are up, and the
 * evaluation of snapshots, diffs, timed checks and policy changes.
 */
#include "core/alerts.h"

#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/alerts_fs.h"
#include "core/alerts_int.h"
#include "core/alloc.h"

#define RULE_BIT(r) ALERTS_RULE_BIT(r)
/* Rules judged per region when it appears or changes; text_mismatch has
 * its own schedule. */
#define REGION_RULES                                                                                         \
        (RULE_BIT(ALERT_WX) | RULE_BIT(ALERT_ANON_EXEC) | RULE_BIT(ALERT_MEMFD_EXEC) |                       \
         RULE_BIT(ALERT_DELETED_EXEC) | RULE_BIT(ALERT_WRITABLE_EXEC_FILE) | RULE_BIT(ALERT_NEW_EXEC))

#define TEXT_BUF_SIZE ((size_t)256 * 1024)
/* A glob of allow_exec is at most 4096 bytes (alert_parse_globs). */
#define GLOB_BUF 4100

static const char *const rule_reason[ALERT_RULE_COUNT] = {
    [ALERT_WX] = "memory both writable and executable: code can be written and run there (a JIT, or injected "
                 "code)",
    [ALERT_ANON_EXEC] = "executable memory with no file behind it (injected code, a JIT or an unpacked "
                        "program)",
    [ALERT_MEMFD_EXEC] = "runs code from memory that only looks like a file (memfd, /dev/shm or SysV shm): "
                         "fileless execution",
    [ALERT_NEW_EXEC] = "an executable file was mapped after attach",
};

void alert_events_init(struct alert_events *e) {
        memset(e, 0, sizeof(*e));
        strbuf_init(&e->text);
}

void alert_events_fini(struct alert_events *e) {
        mm_free(e->v);
        strbuf_fini(&e->text);
        alert_events_init(e);
}

void alert_events_reset(struct alert_events *e) {
        e->n = 0;
        e->dropped = 0;
        strbuf_reset(&e->text);
}

/* Appends s and a NUL to the events' text; *ret_off is where s went. */
static int add_text(struct alert_events *e, const char *s, size_t len, uint32_t *ret_off) {
        size_t off = e->text.len;

        if (off > UINT32_MAX - len - 1)
                return -ENOMEM;
        if (strbuf_append(&e->text, s, len) < 0 || strbuf_append(&e->text, "", 1) < 0)
                return -ENOMEM;
        *ret_off = (uint32_t)off;
        return 0;
}

/* Appends an event for a, with reason (a's own when NULL). */
static int push_event(struct alert_events *e, enum alert_change change, const struct alert_active *a,
                      const char *reason) {
        struct alert_event *ev;
        size_t text_len = e->text.len;

        if (e->n == e->cap) {
                size_t cap = e->cap ? e->cap * 2 : 16;
                struct alert_event *v = mm_reallocarray(e->v, cap, sizeof(*v));
                if (!v)
                        return -ENOMEM;
                e->v = v;
                e->cap = cap;
        }
        ev = &e->v[e->n];
        memset(ev, 0, sizeof(*ev));
        ev->change = change;
        ev->rule = a->rule;
        ev->start = a->start;
        ev->end = a->end;
        memcpy(ev->perms, a->perms, sizeof(ev->perms));
        ev->line_len = a->line_len;
        ev->path_len = a->path_len;
        if (!reason)
                reason = a->text + a->reason_off;
        ev->reason_len = (uint32_t)strlen(reason);
        if (add_text(e, a->text, a->line_len, &ev->line_off) < 0 ||
            add_text(e, reason, ev->reason_len, &ev->reason_off) < 0) {
                e->text.len = text_len;
                return -ENOMEM;
        }
        ev->path_off = ev->line_off + a->path_off;
        e->n++;
        return 0;
}

int alert_state_new(const struct alert_fs_ops *ops, void *ctx, struct alert_state **ret) {
        struct alert_state *s = mm_calloc(1, sizeof(*s));

        if (!s)
                return -ENOMEM;
        s->ops = ops;
        s->ctx = ctx;
        alert_policy_init(&s->policy);
        *ret = s;
        return 0;
}

static void drop_all(struct alert_state *s) {
        for (size_t i = 0; i < s->n_active; i++)
                mm_free(s->active[i].text);
        s->n_active = 0;
        s->n_from_event = 0;
}

void alert_state_free(struct alert_state *s) {
        if (!s)
                return;
        drop_all(s);
        mm_free(s->active);
        alert_policy_fini(&s->policy);
        mm_free(s);
}

const struct alert_policy *alerts_policy(const struct alert_state *s) {
        return &s->policy;
}

const struct alert_proc *alerts_process(const struct alert_state *s) {
        return s->attached ? &s->proc : NULL;
}

size_t alerts_active_count(const struct alert_state *s) {
        return s->n_active;
}

const struct alert_active *alerts_active_get(const struct alert_state *s, size_t i) {
        return i < s->n_active ? &s->active[i] : NULL;
}

static int key_less(uint64_t start_a, enum alert_rule rule_a, uint64_t start_b, enum alert_rule rule_b) {
        return start_a < start_b || (start_a == start_b && rule_a < rule_b);
}

size_t alerts_lower_bound(const struct alert_state *s, uint64_t start, enum alert_rule rule) {
        size_t lo = 0, hi = s->n_active;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (key_less(s->active[mid].start, s->active[mid].rule, start, rule))
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

static int is_active(const struct alert_state *s, uint64_t start, enum alert_rule rule) {
        size_t i = alerts_lower_bound(s, start, rule);
        return i < s->n_active && s->active[i].start == start && s->active[i].rule == rule;
}

int alerts_clear_at(struct alert_state *s, size_t i, const char *why, struct alert_events *out) {
        struct alert_active *a = &s->active[i];

        if (out && push_event(out, ALERT_CLEARED, a, why) < 0)
                return -ENOMEM;
        if (a->from_event)
                s->n_from_event--;
        mm_free(a->text);
        memmove(a, a + 1, (s->n_active - i - 1) * sizeof(*a));
        s->n_active--;
        return 0;
}

/* Clears the region alerts at start. */
static int clear_region(struct alert_state *s, uint64_t start, const char *why, struct alert_events *out) {
        size_t i = alerts_lower_bound(s, start, (enum alert_rule)0);
        int r = 0;

        while (r == 0 && i < s->n_active && s->active[i].start == start) {
                if (alert_rule_info(s->active[i].rule)->per_region)
                        r = alerts_clear_at(s, i, why, out);
                else
                        i++;
        }
        return r;
}

/* Raises rule on region reg of snap (NULL for a process rule). */
static int raise_alert(struct alert_state *s, enum alert_rule rule, const struct maps_snapshot *snap,
                       const struct region *reg, const char *reason, struct alert_events *out) {
        struct alert_active a;
        size_t line_len = reg ? reg->line_len : 0, reason_len = strlen(reason), i;

        if (s->n_active >= ALERTS_MAX_ACTIVE) {
                out->dropped++;
                return 0;
        }
        if (s->n_active == s->cap_active) {
                size_t cap = s->cap_active ? s->cap_active * 2 : 8;
                struct alert_active *v = mm_reallocarray(s->active, cap, sizeof(*v));
                if (!v)
                        return -ENOMEM;
                s->active = v;
                s->cap_active = cap;
        }
        memset(&a, 0, sizeof(a));
        a.rule = rule;
        a.text = mm_malloc(line_len + reason_len + 2);
        if (!a.text)
                return -ENOMEM;
        if (reg) {
                a.start = reg->start;
                a.end = reg->end;
                memcpy(a.perms, reg->perms, 4);
                a.dev_major = reg->dev_major;
                a.dev_minor = reg->dev_minor;
                a.inode = reg->inode;
                memcpy(a.text, region_line(snap, reg), line_len);
                a.path_off = reg->path_off - reg->line_off;
                a.path_len = reg->path_len;
        } else {
                a.path_off = 0;
        }
        a.text[line_len] = '\0';
        memcpy(a.text + line_len + 1, reason, reason_len + 1);
        a.line_len = (uint32_t)line_len;
        a.reason_off = (uint32_t)line_len + 1;
        a.reason_len = (uint32_t)reason_len;
        clock_gettime(CLOCK_REALTIME, &a.raised);
        if (push_event(out, ALERT_RAISED, &a, NULL) < 0) {
                mm_free(a.text);
                return -ENOMEM;
        }
        i = alerts_lower_bound(s, a.start, rule);
        memmove(&s->active[i + 1], &s->active[i], (s->n_active - i) * sizeof(a));
        s->active[i] = a;
        s->n_active++;
        return 0;
}

/* Whether glob matches name.  A glob for a [name] is written as the name
 * ("[anon:jit*]"): its outer brackets are the name's, not a set. */
static int glob_matches(const char *glob, const char *name) {
        char lit[GLOB_BUF];
        size_t len = strlen(glob);

        if (glob[0] != '[' || len < 2 || glob[len - 1] != ']' || len + 3 > sizeof(lit))
                return fnmatch(glob, name, 0) == 0;
        lit[0] = '\\';
        memcpy(lit + 1, glob, len - 1);
        lit[len] = '\\';
        lit[len + 1] = ']';
        lit[len + 2] = '\0';
        return fnmatch(lit, name, 0) == 0;
}

/* Whether allow_exec covers the printed path (as printed, and without
 * " (deleted)", so that an allowed library stays allowed once replaced). */
static int allowed(const struct alert_policy *p, const char *path, size_t len) {
        char buf[ALERTS_PATH_MAX];

        if (p->n_allow_exec == 0 || len >= sizeof(buf))
                return 0;
        memcpy(buf, path, len);
        buf[len] = '\0';
        for (int pass = 0; pass < 2; pass++) {
                for (size_t i = 0; i < p->n_allow_exec; i++)
                        if (glob_matches(p->allow_exec[i], buf))
                                return 1;
                if (!alerts_path_deleted(path, len))
                        break;
                buf[len - strlen(" (deleted)")] = '\0';
        }
        return 0;
}

/* Whether the mapping at reg's address is still the one of an alert raised
 * there: the same file (device and inode), or anonymous memory of the same
 * name. */
static int same_mapping(const struct region *o, const struct maps_snapshot *os, const struct region *n,
                        const struct maps_snapshot *ns) {
        if (o->dev_major != n->dev_major || o->dev_minor != n->dev_minor || o->inode != n->inode)
                return 0;
        if (o->inode != 0)
                return 1;
        return o->path_len == n->path_len && memcmp(region_path(os, o), region_path(ns, n), o->path_len) == 0;
}

void alerts_judge_region(struct alert_state *s, const struct maps_snapshot *snap, const struct region *reg,
                         int is_new, int again, struct alerts_verdict *v) {
        const struct alert_policy *p = &s->policy;
        const char *path = region_path(snap, reg);
        enum alert_path_kind kind;

        v->holds = 0;
        if (reg->perms[2] != 'x')
                return;
        kind = alerts_path_kind(path, reg->path_len);
        if (kind == ALERT_PATH_SPECIAL || allowed(p, path, reg->path_len))
                return;
        if (reg->perms[1] == 'w' && p->on[ALERT_WX])
                v->holds |= RULE_BIT(ALERT_WX);
        if (kind == ALERT_PATH_ANON && p->on[ALERT_ANON_EXEC])
                v->holds |= RULE_BIT(ALERT_ANON_EXEC);
        if (kind == ALERT_PATH_SHM && p->on[ALERT_MEMFD_EXEC])
                v->holds |= RULE_BIT(ALERT_MEMFD_EXEC);
        if (kind != ALERT_PATH_FILE)
                return;
        if (is_new && p->on[ALERT_NEW_EXEC])
                v->holds |= RULE_BIT(ALERT_NEW_EXEC);
        if (!again && (is_active(s, reg->start, ALERT_DELETED_EXEC) ||
                       is_active(s, reg->start, ALERT_WRITABLE_EXEC_FILE)))
                return;
        if (p->on[ALERT_DELETED_EXEC] || p->on[ALERT_WRITABLE_EXEC_FILE]) {
                enum alert_rule r = alerts_file_check(
                    s->ops, s->ctx, &s->proc, snap, reg, p->on[ALERT_DELETED_EXEC],
                    p->on[ALERT_WRITABLE_EXEC_FILE], v->file_reason, sizeof(v->file_reason));
                if (r != ALERT_RULE_COUNT)
                        v->holds |= RULE_BIT(r);
        }
}

static const char *reason_of(enum alert_rule r, const struct alerts_verdict *v) {
        return rule_reason[r] ? rule_reason[r] : v->file_reason;
}

/* An rwx region without a file is one finding, not two: wx speaks for
 * it. */
int alerts_raise_held(struct alert_state *s, const struct maps_snapshot *snap, const struct region *reg,
                      const struct alerts_verdict *v, struct alert_events *out) {
        int r = 0;

        for (int rule = 0; rule < ALERT_RULE_COUNT && r == 0; rule++) {
                if (!(v->holds & RULE_BIT(rule)) || is_active(s, reg->start, (enum alert_rule)rule))
                        continue;
                if (rule == ALERT_ANON_EXEC &&
                    ((v->holds & RULE_BIT(ALERT_WX)) || is_active(s, reg->start, ALERT_WX)))
                        continue;
                r = raise_alert(s, (enum alert_rule)rule, snap, reg, reason_of((enum alert_rule)rule, v),
                                out);
        }
        return r;
}

/* On a policy change: the alerts at reg's address that no longer hold are
 * cleared.  new_exec and text_mismatch record something that happened, so
 * they stay while their rule is on and the path is not allowed. */
static int reconcile_region(struct alert_state *s, const struct maps_snapshot *snap, const struct region *reg,
                            const struct alerts_verdict *v, struct alert_events *out) {
        size_t i = alerts_lower_bound(s, reg->start, (enum alert_rule)0);
        int is_allowed = allowed(&s->policy, region_path(snap, reg), reg->path_len);
        int r = 0;

        while (r == 0 && i < s->n_active && s->active[i].start == reg->start) {
                enum alert_rule rule = s->active[i].rule;
                const char *why = NULL;

                if (!alert_rule_info(rule)->per_region) {
                        i++;
                        continue;
                }
                if (!alert_policy_rule_active(&s->policy, rule))
                        why = "rule turned off";
                else if (is_allowed)
                        why = "path allowed by allow_exec";
                else if (rule == ALERT_NEW_EXEC || rule == ALERT_TEXT_MISMATCH)
                        why = NULL;
                else if (rule == ALERT_ANON_EXEC && (v->holds & RULE_BIT(ALERT_WX)))
                        why = NULL;
                else if (!(v->holds & RULE_BIT(rule)))
                        why = "no longer holds";
                if (why)
                        r = alerts_clear_at(s, i, why, out);
                else
                        i++;
        }
        return r;
}

static uint64_t region_size(const struct region *r) {
        return r->end - r->start;
}

static uint64_t growth_slice_us(const struct alert_state *s) {
        uint64_t w = s->policy.growth_window_us / GROWTH_SLICES;
        return w ? w : 1;
}

/* Notes the mapped bytes at now: each slice of the window keeps the least
 * value seen in it, starting from the value carried into it. */
static void growth_note(struct alert_state *s, uint64_t now_us, uint64_t mapped, int fresh) {
        uint64_t epoch = now_us / growth_slice_us(s) + 1;
        struct growth_slice *g = &s->growth[epoch % GROWTH_SLICES];

        if (fresh) {
                memset(s->growth, 0, sizeof(s->growth));
                s->growth_now = mapped;
        }
        if (g->epoch != epoch) {
                g->epoch = epoch;
                g->min = s->growth_now;
        }
        if (mapped < g->min)
                g->min = mapped;
        s->growth_now = mapped;
}

/* How much the mapped bytes grew within the window that ends at now. */
static uint64_t growth_within(const struct alert_state *s, uint64_t now_us) {
        uint64_t epoch = now_us / growth_slice_us(s) + 1, least = s->growth_now;

        for (size_t i = 0; i < GROWTH_SLICES; i++) {
                const struct growth_slice *g = &s->growth[i];
                if (g->epoch != 0 && g->epoch + GROWTH_SLICES > epoch && g->min < least)
                        least = g->min;
        }
        return s->growth_now - least;
}

static size_t process_alert_index(const struct alert_state *s, enum alert_rule rule) {
        size_t i = alerts_lower_bound(s, 0, rule);
        return i < s->n_active && s->active[i].start == 0 && s->active[i].rule == rule ? i : SIZE_MAX;
}

/* The reason of a process rule, written only when it is raised. */
static void process_reason(const struct alert_state *s, enum alert_rule rule, uint64_t grew, char *buf,
                           size_t size) {
        const struct alert_policy *p = &s->policy;

        /* A reason cut short still names the bound. */
        if (rule == ALERT_MAX_REGIONS)
                (void)snprintf(buf, size, "%" PRIu64 " regions, more than max_regions = %" PRIu64, s->regions,
                               p->max_regions);
        else if (rule == ALERT_MAX_MAPPED)
                (void)snprintf(buf, size, "%" PRIu64 " bytes mapped, more than max_mapped = %" PRIu64,
                               s->mapped, p->max_mapped);
        else
                (void)snprintf(buf, size,
                               "mapped bytes grew by %" PRIu64 " within %" PRIu64
                               " s, more than max_growth = %" PRIu64 " bytes",
                               grew, p->growth_window_us / 1000000, p->max_growth);
}

/* Raises or re-arms one process rule. */
static int bound_rule(struct alert_state *s, enum alert_rule rule, int over, uint64_t grew,
                      struct alert_events *out) {
        size_t i = process_alert_index(s, rule);
        char reason[ALERTS_REASON_MAX];

        if (!alert_policy_rule_active(&s->policy, rule))
                return i == SIZE_MAX ? 0 : alerts_clear_at(s, i, "rule turned off", out);
        if (over && i == SIZE_MAX) {
                process_reason(s, rule, grew, reason, sizeof(reason));
                return raise_alert(s, rule, NULL, NULL, reason, out);
        }
        if (!over && i != SIZE_MAX)
                return alerts_clear_at(s, i, "back within the bound", out);
        return 0;
}

static int process_rules(struct alert_state *s, uint64_t now_us, struct alert_events *out) {
        const struct alert_policy *p = &s->policy;
        uint64_t grew = alert_policy_rule_active(p, ALERT_MAX_GROWTH) ? growth_within(s, now_us) : 0;
        int r;

        r = bound_rule(s, ALERT_MAX_REGIONS, s->regions > p->max_regions, 0, out);
        if (r == 0)
                r = bound_rule(s, ALERT_MAX_MAPPED, s->mapped > p->max_mapped, 0, out);
        if (r == 0)
                r = bound_rule(s, ALERT_MAX_GROWTH, grew > p->max_growth, grew, out);
        /* While max_growth is up, it re-arms as the window slides, even with
         * no change to look at. */
        s->growth_recheck_us = process_alert_index(s, ALERT_MAX_GROWTH) != SIZE_MAX
                                   ? (now_us / growth_slice_us(s) + 1) * growth_slice_us(s)
                                   : 0;
        return r;
}

static uint64_t first_text_check(const struct alert_state *s, uint64_t now_us) {
        uint64_t iv = s->policy.text_check_us;

        if (!alert_policy_rule_active(&s->policy, ALERT_TEXT_MISMATCH))
                return 0;
        /* Spread the first checks of many targets over one interval. */
        return now_us + iv / 8 * (1 + (uint64_t)s->proc.pid % 8);
}

static int begin_events(const struct alert_events *out) {
        return (int)out->n;
}

static int end_events(const struct alert_events *out, int before, int r) {
        return r < 0 ? r : (int)out->n - before;
}

int alerts_first(struct alert_state *s, const struct alert_proc *proc, const struct maps_snapshot *cur,
                 uint64_t now_us, struct alert_events *out) {
        int before = begin_events(out), r = 0;
        struct alerts_verdict v;

        if (s->n_active > 0 && alerts_end(s, "another process instance", out) < 0)
                return -ENOMEM;
        s->attached = 1;
        s->proc = *proc;
        s->regions = cur->n;
        s->mapped = 0;
        for (size_t i = 0; i < cur->n; i++)
                s->mapped += region_size(&cur->regions[i]);
        growth_note(s, now_us, s->mapped, 1);
        s->text_cursor = 0;
        s->next_text_us = first_text_check(s, now_us);
        s->ops->begin(s->ctx, &s->proc);
        for (size_t i = 0; i < cur->n && r == 0; i++) {
                alerts_judge_region(s, cur, &cur->regions[i], 0, 0, &v);
                if (v.holds)
                        r = alerts_raise_held(s, cur, &cur->regions[i], &v, out);
        }
        s->ops->end(s->ctx);
        if (r == 0)
                r = process_rules(s, now_us, out);
        return end_events(out, before, r);
}

int alerts_change(struct alert_state *s, const struct maps_snapshot *prev, const struct maps_snapshot *cur,
                  const struct diff *d, uint64_t now_us, struct alert_events *out) {
        int before = begin_events(out), r = 0, began = 0;
        struct alerts_verdict v;

        if (!s->attached)
                return 0;
        for (size_t k = 0; k < d->n && r == 0; k++) {
                const struct diff_rec *rec = &d->recs[k];
                const struct region *o = rec->kind != DIFF_ADDED ? &prev->regions[rec->old_idx] : NULL;
                const struct region *n = rec->kind != DIFF_REMOVED ? &cur->regions[rec->new_idx] : NULL;
                int is_new = 1;

                if (o) {
                        s->mapped -= region_size(o);
                        if (!n)
                                r = clear_region(s, o->start, "region unmapped", out);
                        else if (!same_mapping(o, prev, n, cur))
                                r = clear_region(s, o->start, "something else is mapped there now", out);
                        else
                                is_new = o->perms[2] != 'x';
                }
                if (!n || r < 0)
                        continue;
                s->mapped += region_size(n);
                if (n->perms[2] != 'x')
                        continue;
                /* The file system is only asked when an executable region
                 * came or changed. */
                if (!began) {
                        s->ops->begin(s->ctx, &s->proc);
                        began = 1;
                }
                alerts_judge_region(s, cur, n, is_new, 0, &v);
                if (v.holds)
                        r = alerts_raise_held(s, cur, n, &v, out);
        }
        if (began)
                s->ops->end(s->ctx);
        s->regions = cur->n;
        growth_note(s, now_us, s->mapped, 0);
        if (r == 0)
                r = process_rules(s, now_us, out);
        return end_events(out, before, r);
}

/* Judges every region of cur again under the current policy. */
static int reevaluate(struct alert_state *s, const struct maps_snapshot *cur, uint64_t now_us,
                      struct alert_events *out) {
        struct alerts_verdict v;
        int r = 0;

        s->ops->begin(s->ctx, &s->proc);
        for (size_t i = 0; i < cur->n && r == 0; i++) {
                const struct region *reg = &cur->regions[i];

                alerts_judge_region(s, cur, reg, 0, 1, &v);
                r = reconcile_region(s, cur, reg, &v, out);
                if (r == 0 && v.holds)
                        r = alerts_raise_held(s, cur, reg, &v, out);
        }
        s->ops->end(s->ctx);
        if (r == 0)
                r = process_rules(s, now_us, out);
        return r;
}

int alerts_set_policy(struct alert_state *s, const struct alert_policy *p, const struct maps_snapshot *cur,
                      uint64_t now_us, struct alert_events *out) {
        struct alert_policy copy;
        int before = begin_events(out), r, window_changed, text_changed;

        if (alert_policy_equal(&s->policy, p))
                return 0;
        alert_policy_init(&copy);
        if ((r = alert_policy_copy(&copy, p)) < 0)
                return r;
        window_changed = copy.growth_window_us != s->policy.growth_window_us;
        text_changed = copy.text_check_us != s->policy.text_check_us ||
                       copy.on[ALERT_TEXT_MISMATCH] != s->policy.on[ALERT_TEXT_MISMATCH];
        alert_policy_fini(&s->policy);
        s->policy = copy;
        if (!s->attached || !cur)
                return 0;
        if (window_changed)
                growth_note(s, now_us, s->mapped, 1);
        if (text_changed)
                s->next_text_us = alert_policy_rule_active(&s->policy, ALERT_TEXT_MISMATCH)
                                      ? now_us + s->policy.text_check_us
                                      : 0;
        r = reevaluate(s, cur, now_us, out);
        return end_events(out, before, r);
}

static int exec_file(const struct maps_snapshot *snap, const struct region *reg) {
        return reg->perms[2] == 'x' &&
               alerts_path_kind(region_path(snap, reg), reg->path_len) == ALERT_PATH_FILE;
}

/* The first region of cur that ends after addr. */
static size_t region_after(const struct maps_snapshot *cur, uint64_t addr) {
        size_t lo = 0, hi = cur->n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (cur->regions[mid].end <= addr)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

int alerts_check_text(struct alert_state *s, const struct maps_snapshot *cur, uint64_t budget,
                      struct alert_events *out) {
        struct alerts_text_bufs bufs = {NULL, NULL, TEXT_BUF_SIZE};
        char reason[ALERTS_REASON_MAX];
        int before = begin_events(out), r = 0;
        size_t i, visited;

        if (!s->attached || !s->policy.on[ALERT_TEXT_MISMATCH] || cur->n == 0)
                return 0;
        bufs.mem = mm_malloc(2 * TEXT_BUF_SIZE);
        if (!bufs.mem)
                return -ENOMEM;
        bufs.file = bufs.mem + TEXT_BUF_SIZE;
        s->ops->begin(s->ctx, &s->proc);
        /* Round the regions from where the last check stopped, once at most. */
        i = region_after(cur, s->text_cursor);
        for (visited = 0; visited <= cur->n && budget > 0 && r == 0; visited++, i++) {
                const struct region *reg;
                uint64_t used, next;

                if (i >= cur->n) {
                        i = 0;
                        s->text_cursor = 0;
                }
                reg = &cur->regions[i];
                if (!exec_file(cur, reg) || is_active(s, reg->start, ALERT_TEXT_MISMATCH) ||
                    allowed(&s->policy, region_path(cur, reg), reg->path_len))
                        continue;
                uint64_t from = s->text_cursor > reg->start ? s->text_cursor : reg->start;
                int differs = alerts_text_compare(s->ops, s->ctx, &s->proc, cur, reg, from, budget, &bufs,
                                                  &used, &next, reason, sizeof(reason));
                budget = used < budget ? budget - used : 0;
                s->text_cursor = next;
                if (differs)
                        r = raise_alert(s, ALERT_TEXT_MISMATCH, cur, reg, reason, out);
                if (next < reg->end)
                        break;
        }
        s->ops->end(s->ctx);
        mm_free(bufs.mem);
        return end_events(out, before, r);
}

int alerts_tick(struct alert_state *s, const struct maps_snapshot *cur, uint64_t now_us,
                struct alert_events *out) {
        int before = begin_events(out), r = 0;

        if (!s->attached)
                return 0;
        if (s->next_text_us != 0 && now_us >= s->next_text_us) {
                s->next_text_us = now_us + s->policy.text_check_us;
                r = alerts_check_text(s, cur, s->policy.text_check_budget, out);
        }
        if (r >= 0 && s->growth_recheck_us != 0 && now_us >= s->growth_recheck_us)
                r = process_rules(s, now_us, out);
        return end_events(out, before, r);
}

uint64_t alerts_next_due(const struct alert_state *s) {
        uint64_t due = 0;

        if (!s->attached)
                return 0;
        if (s->next_text_us != 0)
                due = s->next_text_us;
        if (s->growth_recheck_us != 0 && (due == 0 || s->growth_recheck_us < due))
                due = s->growth_recheck_us;
        return due;
}

int alerts_end(struct alert_state *s, const char *why, struct alert_events *out) {
        int before = begin_events(out), r = 0;

        /* In address order, then all at once: clearing one by one from the
         * front would move the rest each time. */
        for (size_t i = 0; i < s->n_active && r == 0; i++)
                r = push_event(out, ALERT_CLEARED, &s->active[i], why);
        if (r < 0)
                return r;
        alerts_forget(s);
        return end_events(out, before, r);
}

void alerts_forget(struct alert_state *s) {
        drop_all(s);
        s->attached = 0;
        s->growth_recheck_us = 0;
        s->next_text_us = 0;
}
