#include "agent/report_page.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/report_tpl.h"
#include "core/alloc.h"
#include "core/json.h"

/* A JSON writer over a strbuf whose first error sticks, so that a long run
 * of appends checks once. */
struct jw {
        struct strbuf *b;
        int err;
};

static void raw(struct jw *w, const char *s, size_t n) {
        if (w->err == 0)
                w->err = strbuf_append(w->b, s, n);
}

static void lit(struct jw *w, const char *s) {
        raw(w, s, strlen(s));
}

static void str(struct jw *w, const char *s, size_t n) {
        if (w->err == 0)
                w->err = json_append_string(w->b, s ? s : "", s ? n : 0);
}

static void cstr(struct jw *w, const char *s) {
        str(w, s, s ? strlen(s) : 0);
}

static void num(struct jw *w, int64_t v) {
        char t[24];
        int n = snprintf(t, sizeof(t), "%" PRId64, v);

        raw(w, t, (size_t)n);
}

/* ,"key": (the comma unless first) */
static void key(struct jw *w, const char *k, bool first) {
        if (!first)
                lit(w, ",");
        cstr(w, k);
        lit(w, ":");
}

static int u64_cmp(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

        return x < y ? -1 : x > y;
}

/* Every start and end address of h's intervals, sorted and unique. */
static int bounds_of(const struct report_history *h, uint64_t **ret, size_t *ret_n) {
        uint64_t *v;
        size_t n = 0;

        v = mm_reallocarray(NULL, h->n_iv * 2 + 1, sizeof(*v));
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < h->n_iv; i++) {
                v[n++] = h->iv[i].start;
                v[n++] = h->iv[i].end;
        }
        if (n > 1)
                qsort(v, n, sizeof(*v), u64_cmp);
        if (n > 0) {
                size_t k = 1;

                for (size_t i = 1; i < n; i++)
                        if (v[i] != v[k - 1])
                                v[k++] = v[i];
                n = k;
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

static size_t bound_index(const uint64_t *v, size_t n, uint64_t a) {
        size_t lo = 0, hi = n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (v[mid] < a)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

static const char *result_name(enum backup_step_result r) {
        return r == BACKUP_STEP_GOOD ? "good" : r == BACKUP_STEP_BAD ? "bad" : "skipped";
}

static void moments_json(struct jw *w, const struct report_history *h) {
        char st[24];

        lit(w, "[");
        for (size_t i = 0; i < h->n_moments && w->err == 0; i++) {
                const struct report_moment *m = &h->moments[i];

                lit(w, i ? ",\n{" : "\n{");
                key(w, "t", true);
                cstr(w, m->ts);
                key(w, "us", false);
                num(w, m->us);
                key(w, "pid", false);
                num(w, m->pid);
                key(w, "st", false);
                snprintf(st, sizeof(st), "%" PRIu64, m->start_time);
                cstr(w, st);
                key(w, "full", false);
                num(w, m->full);
                key(w, "res", false);
                cstr(w, result_name(m->result));
                key(w, "state", false);
                num(w, m->has_state);
                key(w, "new", false);
                num(w, m->new_process);
                key(w, "add", false);
                num(w, m->added);
                key(w, "rm", false);
                num(w, m->removed);
                key(w, "chg", false);
                num(w, m->changed);
                key(w, "n", false);
                num(w, m->regions);
                key(w, "file", false);
                cstr(w, m->file);
                key(w, "fault", false);
                cstr(w, m->fault);
                lit(w, "}");
        }
        lit(w, "]");
}

static void regions_json(struct jw *w, const struct report_history *h, const uint64_t *bounds, size_t nb) {
        lit(w, "[");
        for (size_t i = 0; i < h->n_iv && w->err == 0; i++) {
                const struct report_interval *iv = &h->iv[i];

                lit(w, i ? ",\n[" : "\n[");
                num(w, iv->from);
                lit(w, ",");
                num(w, iv->to == REPORT_OPEN ? -1 : (int64_t)iv->to);
                lit(w, ",");
                num(w, (int64_t)bound_index(bounds, nb, iv->start));
                lit(w, ",");
                num(w, (int64_t)bound_index(bounds, nb, iv->end));
                lit(w, ",");
                num(w, iv->kind);
                lit(w, ",");
                str(w, h->arena + iv->line_off, iv->line_len);
                lit(w, "]");
        }
        lit(w, "]");
}

static void alerts_json(struct jw *w, const struct report_alerts *a) {
        lit(w, "[");
        for (size_t i = 0; a && i < a->n && w->err == 0; i++) {
                const struct report_alert *al = &a->v[i];

                lit(w, i ? ",\n{" : "\n{");
                key(w, "us", true);
                num(w, al->us);
                for (size_t k = 0; k < RA_COUNT; k++) {
                        key(w, report_alert_key(k), false);
                        str(w, al->f[k], al->len[k]);
                }
                lit(w, "}");
        }
        lit(w, "]");
}

int report_page_json(const struct report_history *h, const struct report_alerts *a,
                     const struct report_meta *meta, struct strbuf *out) {
        struct jw w = {out, 0};
        uint64_t *bounds = NULL;
        size_t nb = 0;
        char hex[24];
        int r;

        if ((r = bounds_of(h, &bounds, &nb)) < 0)
                return r;
        lit(&w, "{");
        key(&w, "v", true);
        num(&w, 1);
        key(&w, "generator", false);
        cstr(&w, "memmon " MEMMON_VERSION);
        key(&w, "target", false);
        cstr(&w, h->target);
        key(&w, "dir", false);
        cstr(&w, meta->dir);
        key(&w, "from", false);
        cstr(&w, meta->from ? meta->from : "");
        key(&w, "to", false);
        cstr(&w, meta->to ? meta->to : "");
        key(&w, "from_us", false);
        if (meta->from)
                num(&w, meta->from_us);
        else
                lit(&w, "null");
        key(&w, "to_us", false);
        if (meta->to)
                num(&w, meta->to_us);
        else
                lit(&w, "null");
        key(&w, "kinds", false);
        lit(&w, "[");
        for (size_t k = 0; k < REPORT_KIND_COUNT; k++) {
                lit(&w, k ? ",[" : "[");
                cstr(&w, report_kind_id(k));
                lit(&w, ",");
                cstr(&w, report_kind_name(k));
                lit(&w, "]");
        }
        lit(&w, "]");
        key(&w, "bounds", false);
        lit(&w, "[");
        for (size_t i = 0; i < nb && w.err == 0; i++) {
                snprintf(hex, sizeof(hex), "%" PRIx64, bounds[i]);
                lit(&w, i ? "," : "");
                cstr(&w, hex);
        }
        lit(&w, "]");
        key(&w, "regions", false);
        regions_json(&w, h, bounds, nb);
        key(&w, "moments", false);
        moments_json(&w, h);
        key(&w, "alerts", false);
        alerts_json(&w, a);
        key(&w, "events", false);
        lit(&w, "{");
        key(&w, "path", true);
        cstr(&w, meta->events_path);
        key(&w, "status", false);
        cstr(&w, meta->events_status ? meta->events_status : "none");
        key(&w, "lines", false);
        num(&w, a ? (int64_t)a->lines : 0);
        key(&w, "bad_lines", false);
        num(&w, a ? (int64_t)a->bad_lines : 0);
        key(&w, "dropped", false);
        num(&w, a ? (int64_t)a->dropped : 0);
        lit(&w, "}");
        key(&w, "broken", false);
        num(&w, (int64_t)h->bad);
        lit(&w, "}\n");
        mm_free(bounds);
        return w.err;
}

/* Appends the JSON text with '<', '>' and '&' as \u escapes: outside its
 * strings JSON has none of them, and inside a string the escape means the
 * same character, so the data reads the same and can never close the
 * element it sits in. */
static int append_script_safe(struct strbuf *out, const char *s, size_t n) {
        size_t run = 0;
        int r = 0;

        for (size_t i = 0; i < n && r == 0; i++) {
                const char *e = s[i] == '<'   ? "\\u003c"
                                : s[i] == '>' ? "\\u003e"
                                : s[i] == '&' ? "\\u0026"
                                              : NULL;

                if (!e)
                        continue;
                if ((r = strbuf_append(out, s + run, i - run)) == 0)
                        r = strbuf_append(out, e, 6);
                run = i + 1;
        }
        if (r == 0)
                r = strbuf_append(out, s + run, n - run);
        return r;
}

int report_page_html(const struct report_history *h, const struct report_alerts *a,
                     const struct report_meta *meta, struct strbuf *out) {
        struct strbuf json;
        int r;

        strbuf_init(&json);
        r = report_page_json(h, a, meta, &json);
        if (r == 0)
                r = strbuf_append(out, report_page_head, report_page_head_len);
        if (r == 0)
                r = append_script_safe(out, strbuf_str(&json), json.len);
        if (r == 0)
                r = strbuf_append(out, report_page_tail, report_page_tail_len);
        strbuf_fini(&json);
        return r;
}
