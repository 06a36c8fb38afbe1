#include "agent/top_model.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wchar.h>

#include "core/alloc.h"
#include "core/json.h"
#include "core/textesc.h"
#include "core/ts.h"
#include "core/utf8.h"

/* The NAME column is never narrower than this while other columns show,
 * nor wider than TOP_NAME_MAX (a name is at most 64 bytes, escaped more). */
#define TOP_NAME_MIN 8
#define TOP_NAME_MAX 40
#define TOP_REASON_MIN 8

struct col_info {
        const char *title;
        int width; /* 0: flexible */
        int right;
};

static const struct col_info cols_info[TOP_COLS] = {
    [TOP_COL_NAME] = {"NAME", 0, 0},     [TOP_COL_STATE] = {"STATE", 7, 0},
    [TOP_COL_PID] = {"PID", 7, 1},       [TOP_COL_REGIONS] = {"REGIONS", 7, 1},
    [TOP_COL_MAPPED] = {"MAPPED", 6, 1}, [TOP_COL_EXEC] = {"EXEC", 6, 1},
    [TOP_COL_RATE] = {"DIFF/M", 6, 1},   [TOP_COL_LAST] = {"LAST", 5, 1},
    [TOP_COL_ALERTS] = {"ALERTS", 6, 1}, [TOP_COL_REASON] = {"REASON", 0, 0},
};

/* The fixed columns in the order they give way on a narrow screen (the
 * last goes first). */
static const enum top_col keep_order[] = {TOP_COL_STATE,  TOP_COL_ALERTS, TOP_COL_PID,  TOP_COL_REGIONS,
                                          TOP_COL_MAPPED, TOP_COL_RATE,   TOP_COL_LAST, TOP_COL_EXEC};

static const char *const sort_names[TOP_SORTS] = {
    [TOP_SORT_NAME] = "name",      [TOP_SORT_REGIONS] = "regions", [TOP_SORT_MAPPED] = "mapped",
    [TOP_SORT_RATE] = "diffs/min", [TOP_SORT_ALERTS] = "alerts",   [TOP_SORT_LAST] = "last change",
};

const char *top_sort_name(enum top_sort s) {
        return s < TOP_SORTS ? sort_names[s] : "?";
}

static struct top_row *row_new(void) {
        struct top_row *r = mm_calloc(1, sizeof(*r));
        if (r) {
                strbuf_init(&r->name);
                strbuf_init(&r->state);
                strbuf_init(&r->reason);
        }
        return r;
}

static void row_free(struct top_row *r) {
        if (!r)
                return;
        strbuf_fini(&r->name);
        strbuf_fini(&r->state);
        strbuf_fini(&r->reason);
        mm_free(r);
}

static void agent_init(struct top_agent *a) {
        memset(a, 0, sizeof(*a));
        strbuf_init(&a->version);
        strbuf_init(&a->capture);
}

static void agent_fini(struct top_agent *a) {
        strbuf_fini(&a->version);
        strbuf_fini(&a->capture);
}

void top_model_init(struct top_model *m) {
        memset(m, 0, sizeof(*m));
        agent_init(&m->agent);
}

static void rows_free(struct top_row **v, size_t n) {
        for (size_t i = 0; i < n; i++)
                row_free(v[i]);
        mm_free(v);
}

void top_model_fini(struct top_model *m) {
        rows_free(m->rows, m->n);
        agent_fini(&m->agent);
        top_model_init(m);
}

/* Seconds since the epoch of "2026-11-25T18:33:28Z", or null (0). */
static int read_time(struct json_reader *jr, struct strbuf *scratch, int64_t *ret) {
        char ts[TS_SIZE];
        int64_t us;
        if (json_read_null(jr)) {
                *ret = 0;
                return 0;
        }
        strbuf_reset(scratch);
        int e = json_read_string(jr, scratch);
        if (e < 0)
                return e;
        if (scratch->len > 32 || memchr(strbuf_str(scratch), '\0', scratch->len) ||
            ts_parse(strbuf_str(scratch), ts) < 0 || ts_to_us(ts, &us) < 0)
                return -EINVAL;
        *ret = us / 1000000;
        return 0;
}

/* A pid, or null (0). */
static int read_pid(struct json_reader *jr, int64_t *ret) {
        if (json_read_null(jr)) {
                *ret = 0;
                return 0;
        }
        return json_read_int(jr, ret);
}

static int key_is(const struct strbuf *key, const char *lit) {
        return key->len == strlen(lit) && memcmp(strbuf_str(key), lit, key->len) == 0;
}

static int read_agent(struct json_reader *jr, struct strbuf *key, struct strbuf *scratch,
                      struct top_agent *a) {
        size_t count = 0;
        int more = -EINVAL, e = json_read_open(jr, '{');
        a->known = 1;
        while (e == 0 && (more = json_read_more(jr, '}', &count)) == 1) {
                if ((e = json_read_key(jr, key)) < 0)
                        break;
                if (key_is(key, "pid")) {
                        e = json_read_int(jr, &a->pid);
                } else if (key_is(key, "version")) {
                        strbuf_reset(&a->version);
                        e = json_read_string(jr, &a->version);
                } else if (key_is(key, "started")) {
                        e = read_time(jr, scratch, &a->started);
                } else if (key_is(key, "capture")) {
                        strbuf_reset(&a->capture);
                        if (!json_read_null(jr))
                                e = json_read_string(jr, &a->capture);
                } else {
                        e = json_read_skip(jr);
                }
        }
        return e < 0 ? e : more < 0 ? more : 0;
}

static int read_row(struct json_reader *jr, struct strbuf *key, struct strbuf *scratch, struct top_row *r) {
        static const char *const kinds[] = {"anon_bytes", "file_bytes", "heap_bytes", "stack_bytes",
                                            "other_bytes"};
        size_t count = 0;
        int more = -EINVAL, e = json_read_open(jr, '{'), named = 0;
        while (e == 0 && (more = json_read_more(jr, '}', &count)) == 1) {
                uint64_t v;
                if ((e = json_read_key(jr, key)) < 0)
                        break;
                if (key_is(key, "name")) {
                        strbuf_reset(&r->name);
                        e = json_read_string(jr, &r->name);
                        named = 1;
                } else if (key_is(key, "state")) {
                        strbuf_reset(&r->state);
                        e = json_read_string(jr, &r->state);
                } else if (key_is(key, "reason")) {
                        strbuf_reset(&r->reason);
                        e = json_read_string(jr, &r->reason);
                } else if (key_is(key, "pid")) {
                        e = read_pid(jr, &r->pid);
                } else if (key_is(key, "regions")) {
                        e = json_read_uint(jr, &r->regions);
                } else if (key_is(key, "diffs")) {
                        e = json_read_uint(jr, &r->diffs);
                } else if (key_is(key, "exec_bytes")) {
                        e = json_read_uint(jr, &r->exec);
                } else if (key_is(key, "alerts_active")) {
                        e = json_read_uint(jr, &r->alerts);
                } else if (key_is(key, "last_change")) {
                        e = read_time(jr, scratch, &r->last_change);
                } else {
                        int kind = 0;
                        for (size_t k = 0; !kind && k < sizeof(kinds) / sizeof(kinds[0]); k++)
                                kind = key_is(key, kinds[k]);
                        if (kind && (e = json_read_uint(jr, &v)) == 0)
                                r->mapped += v;
                        else if (!kind)
                                e = json_read_skip(jr);
                }
        }
        if (e < 0)
                return e;
        return more == 0 && named ? 0 : -EINVAL;
}

/* Reads the document into rows (*ret_v, *ret_n) and agent.  Returns 0 or
 * -errno (nothing allocated left behind). */
static int parse_doc(const char *doc, size_t len, struct top_agent *agent, struct top_row ***ret_v,
                     size_t *ret_n) {
        struct json_reader jr;
        struct strbuf key, scratch;
        struct top_row **v = NULL;
        size_t n = 0, cap = 0, count = 0;
        int e, more = 0, have_targets = 0;

        strbuf_init(&key);
        strbuf_init(&scratch);
        json_read_init(&jr, doc, len);
        e = json_read_open(&jr, '{');
        while (e == 0 && (more = json_read_more(&jr, '}', &count)) == 1) {
                if ((e = json_read_key(&jr, &key)) < 0)
                        break;
                if (key_is(&key, "agent")) {
                        e = read_agent(&jr, &key, &scratch, agent);
                } else if (key_is(&key, "targets") && !have_targets) {
                        size_t k = 0;
                        have_targets = 1;
                        e = json_read_open(&jr, '[');
                        while (e == 0 && (more = json_read_more(&jr, ']', &k)) == 1) {
                                if (mm_grow(&v, &cap, n + 1, sizeof(*v)) < 0 || !(v[n] = row_new())) {
                                        e = -ENOMEM;
                                        break;
                                }
                                e = read_row(&jr, &key, &scratch, v[n++]);
                        }
                        if (e == 0 && more < 0)
                                e = more;
                } else {
                        e = json_read_skip(&jr);
                }
        }
        if (e == 0 && more < 0)
                e = more;
        if (e == 0 && (!have_targets || json_read_end(&jr) < 0))
                e = -EINVAL;
        strbuf_fini(&key);
        strbuf_fini(&scratch);
        if (e < 0) {
                rows_free(v, n);
                /* A number out of range is as wrong as any other value. */
                return e == -ENOMEM ? e : -EINVAL;
        }
        *ret_v = v;
        *ret_n = n;
        return 0;
}

static int cmp_name_ptr(const void *a, const void *b) {
        const struct top_row *x = *(const struct top_row *const *)a, *y = *(const struct top_row *const *)b;
        size_t n = x->name.len < y->name.len ? x->name.len : y->name.len;
        int c = n ? memcmp(x->name.s, y->name.s, n) : 0;
        return c ? c : (x->name.len > y->name.len) - (x->name.len < y->name.len);
}

/* Adds the counter seen at now_us to r's history and works out the diffs
 * per minute: the growth since the newest sample at least a window old
 * (or, in the first minute, the oldest), per minute. */
static void row_sample(struct top_row *r, uint64_t now_us) {
        if (r->n_hist && (r->diffs < r->hist[r->n_hist - 1].diffs || now_us < r->hist[r->n_hist - 1].at_us))
                r->n_hist = 0;
        size_t drop = 0;
        while (drop + 1 < r->n_hist && r->hist[drop + 1].at_us + TOP_RATE_WINDOW_US <= now_us)
                drop++;
        if (drop) {
                memmove(r->hist, r->hist + drop, (r->n_hist - drop) * sizeof(r->hist[0]));
                r->n_hist -= drop;
        }
        r->rate_known = 0;
        if (r->n_hist && now_us > r->hist[0].at_us) {
                r->rate = (double)(r->diffs - r->hist[0].diffs) * 60e6 / (double)(now_us - r->hist[0].at_us);
                r->rate_known = 1;
        }
        if (r->n_hist && now_us - r->hist[r->n_hist - 1].at_us < TOP_HISTORY_STEP_US)
                return;
        if (r->n_hist == TOP_HISTORY) {
                memmove(r->hist, r->hist + 1, (TOP_HISTORY - 1) * sizeof(r->hist[0]));
                r->n_hist--;
        }
        r->hist[r->n_hist++] = (struct top_sample){.at_us = now_us, .diffs = r->diffs};
}

int top_model_update(struct top_model *m, const char *doc, size_t len, uint64_t now_us) {
        struct top_agent agent;
        struct top_row **v = NULL, **old = NULL;
        size_t n = 0;

        agent_init(&agent);
        int e = parse_doc(doc, len, &agent, &v, &n);
        if (e < 0) {
                agent_fini(&agent);
                return e;
        }
        /* The history of each target carries over, found by name. */
        if (m->n) {
                old = mm_calloc(m->n, sizeof(*old));
                if (!old) {
                        rows_free(v, n);
                        agent_fini(&agent);
                        return -ENOMEM;
                }
                memcpy(old, m->rows, m->n * sizeof(*old));
                qsort(old, m->n, sizeof(*old), cmp_name_ptr);
        }
        for (size_t i = 0; i < n; i++) {
                struct top_row **prev = old ? bsearch(&v[i], old, m->n, sizeof(*old), cmp_name_ptr) : NULL;
                if (prev) {
                        memcpy(v[i]->hist, (*prev)->hist, sizeof(v[i]->hist));
                        v[i]->n_hist = (*prev)->n_hist;
                }
                row_sample(v[i], now_us);
        }
        mm_free(old);
        rows_free(m->rows, m->n);
        m->rows = v;
        m->n = m->cap = n;
        agent_fini(&m->agent);
        m->agent = agent;
        top_model_sort(m);
        return 0;
}

/* The sort key's order of a and b, largest first for numbers; 0 when the
 * key does not tell them apart. */
static int key_order(enum top_sort s, const struct top_row *a, const struct top_row *b) {
        uint64_t x = 0, y = 0;
        switch (s) {
        case TOP_SORT_NAME:
                return 0;
        case TOP_SORT_REGIONS:
                x = a->regions, y = b->regions;
                break;
        case TOP_SORT_MAPPED:
                x = a->mapped, y = b->mapped;
                break;
        case TOP_SORT_ALERTS:
                x = a->alerts, y = b->alerts;
                break;
        case TOP_SORT_LAST:
                x = (uint64_t)(a->last_change > 0 ? a->last_change : 0);
                y = (uint64_t)(b->last_change > 0 ? b->last_change : 0);
                break;
        case TOP_SORT_RATE: {
                /* An unknown rate sorts below every known one. */
                double p = a->rate_known ? a->rate : -1, q = b->rate_known ? b->rate : -1;
                return (p < q) - (p > q);
        }
        default:
                return 0;
        }
        return (x < y) - (x > y);
}

/* qsort_r is a GNU extension with a different signature on BSD; the model
 * is sorted by a merge sort of its own instead, which is also stable. */
static int row_order(const struct top_model *m, const struct top_row *a, const struct top_row *b) {
        int c = key_order(m->sort, a, b);
        if (c == 0)
                c = cmp_name_ptr(&a, &b);
        return m->reverse ? -c : c;
}

static void merge_sort(const struct top_model *m, struct top_row **v, struct top_row **tmp, size_t n) {
        if (n < 2)
                return;
        size_t h = n / 2, i = 0, j = h, k = 0;
        merge_sort(m, v, tmp, h);
        merge_sort(m, v + h, tmp, n - h);
        while (i < h && j < n)
                tmp[k++] = row_order(m, v[j], v[i]) < 0 ? v[j++] : v[i++];
        while (i < h)
                tmp[k++] = v[i++];
        while (j < n)
                tmp[k++] = v[j++];
        memcpy(v, tmp, n * sizeof(*v));
}

void top_model_sort(struct top_model *m) {
        if (m->n < 2)
                return;
        struct top_row **tmp = mm_calloc(m->n, sizeof(*tmp));
        if (!tmp)
                return; /* left as it was: a display order, not data */
        merge_sort(m, m->rows, tmp, m->n);
        mm_free(tmp);
}

/* The columns one escaped code point takes, or -1 when it is not shown as
 * it is. */
static int cp_width(uint32_t cp, int utf8) {
        if (cp < 0x80)
                return 1;
        if (!utf8)
                return -1;
        int w = wcwidth((wchar_t)cp);
        return w < 0 ? -1 : w;
}

/* The escaped text as units of display: each with its bytes and width. */
struct unit {
        char b[16];
        size_t len;
        int width;
};

static size_t next_unit(const char *s, size_t len, size_t i, int utf8, struct unit *u) {
        uint32_t cp;
        size_t n = utf8_decode((const unsigned char *)s + i, len - i, &cp);
        int w = n ? cp_width(cp, utf8) : -1;
        if (n == 0)
                n = 1;
        if (w >= 0) {
                memcpy(u->b, s + i, n);
                u->len = n;
                u->width = w;
                return n;
        }
        /* Shown byte by byte: \xNN each. */
        u->len = 0;
        for (size_t k = 0; k < n; k++)
                u->len += (size_t)snprintf(u->b + u->len, sizeof(u->b) - u->len, "\\x%02x",
                                           (unsigned char)s[i + k]);
        u->width = (int)u->len;
        return n;
}

int top_fit(const char *s, size_t len, int width, int right, int utf8, struct strbuf *out) {
        struct strbuf esc;
        struct unit u;
        int used = 0, e = 0;
        size_t i, start = out->len;

        if (width <= 0)
                return 0;
        strbuf_init(&esc);
        if (textesc_append(&esc, s, len) < 0) {
                strbuf_fini(&esc);
                return -ENOMEM;
        }
        /* The total width decides whether the text is cut (to width - 1,
         * and a '~'). */
        int total = 0;
        for (i = 0; i < esc.len;) {
                i += next_unit(esc.s, esc.len, i, utf8, &u);
                total += u.width;
        }
        int room = total > width ? width - 1 : width;
        if (right && total < width)
                for (; used < width - total && e == 0; used++)
                        e = strbuf_append(out, " ", 1);
        int placed = 0;
        for (i = 0; i < esc.len && e == 0;) {
                i += next_unit(esc.s, esc.len, i, utf8, &u);
                if (placed + u.width > room)
                        break;
                e = strbuf_append(out, u.b, u.len);
                placed += u.width;
        }
        used += placed;
        if (e == 0 && total > width) {
                e = strbuf_append(out, "~", 1);
                used++;
        }
        for (; used < width && e == 0; used++)
                e = strbuf_append(out, " ", 1);
        strbuf_fini(&esc);
        if (e < 0) {
                out->len = start;
                if (out->s)
                        out->s[start] = '\0';
                return -ENOMEM;
        }
        return 0;
}

/* The width of s escaped, as top_fit() would show it whole. */
static int text_width(const char *s, size_t len, int utf8) {
        struct strbuf esc;
        struct unit u;
        int w = 0;
        strbuf_init(&esc);
        if (textesc_append(&esc, s, len) == 0)
                for (size_t i = 0; i < esc.len;) {
                        i += next_unit(esc.s, esc.len, i, utf8, &u);
                        w += u.width;
                }
        strbuf_fini(&esc);
        return w;
}

void top_format_size(uint64_t bytes, char *buf, size_t size) {
        static const char units[] = "KMGTPE";
        if (bytes < 1024) {
                snprintf(buf, size, bytes ? "%lluB" : "%llu", (unsigned long long)bytes);
                return;
        }
        double v = (double)bytes / 1024;
        size_t u = 0;
        while (v >= 999.5 && u + 1 < sizeof(units) - 1) {
                v /= 1024;
                u++;
        }
        snprintf(buf, size, v < 9.95 ? "%.1f%c" : "%.0f%c", v, units[u]);
}

void top_format_age(int64_t s, char *buf, size_t size) {
        if (s < 0)
                s = 0;
        if (s < 60)
                snprintf(buf, size, "%llds", (long long)s);
        else if (s < 3600)
                snprintf(buf, size, "%lldm", (long long)(s / 60));
        else if (s < 86400)
                snprintf(buf, size, "%lldh", (long long)(s / 3600));
        else
                snprintf(buf, size, "%lldd", (long long)(s / 86400));
}

static void format_rate(const struct top_row *r, char *buf, size_t size) {
        if (!r->rate_known)
                snprintf(buf, size, "-");
        else if (r->rate == 0)
                snprintf(buf, size, "0");
        else if (r->rate < 9.95)
                snprintf(buf, size, "%.1f", r->rate);
        else if (r->rate < 99999.5)
                snprintf(buf, size, "%.0f", r->rate);
        else
                snprintf(buf, size, "%.0fk", r->rate / 1000);
}

void top_model_layout(const struct top_model *m, int cols, struct top_layout *l) {
        int name_need = 4, has_reason = 0;
        memset(l, 0, sizeof(*l));
        for (size_t i = 0; i < m->n; i++) {
                int w = text_width(m->rows[i]->name.s, m->rows[i]->name.len, m->utf8);
                if (w > name_need)
                        name_need = w;
                has_reason |= m->rows[i]->reason.len > 0;
        }
        if (name_need > TOP_NAME_MAX)
                name_need = TOP_NAME_MAX;
        if (cols < 1)
                cols = 1;
        int used = TOP_NAME_MIN;
        l->shown[TOP_COL_NAME] = 1;
        for (size_t k = 0; k < sizeof(keep_order) / sizeof(keep_order[0]); k++) {
                int w = cols_info[keep_order[k]].width;
                if (used + 1 + w > cols)
                        break;
                l->shown[keep_order[k]] = 1;
                l->width[keep_order[k]] = w;
                used += 1 + w;
        }
        int name_w = name_need < TOP_NAME_MIN ? TOP_NAME_MIN : name_need;
        if (name_w > cols - (used - TOP_NAME_MIN))
                name_w = cols - (used - TOP_NAME_MIN);
        l->width[TOP_COL_NAME] = name_w;
        used += name_w - TOP_NAME_MIN;
        if (has_reason && cols - used - 1 >= TOP_REASON_MIN) {
                l->shown[TOP_COL_REASON] = 1;
                l->width[TOP_COL_REASON] = cols - used - 1;
        }
        int x = 0;
        for (int c = 0; c < TOP_COLS; c++) {
                if (!l->shown[c])
                        continue;
                l->x[c] = x;
                x += l->width[c] + 1;
        }
}

int top_model_title(const struct top_layout *l, enum top_col c, struct strbuf *out) {
        const char *t = cols_info[c].title;
        return top_fit(t, strlen(t), l->width[c], cols_info[c].right, 0, out);
}

int top_model_cell(const struct top_model *m, const struct top_row *r, const struct top_layout *l,
                   enum top_col c, int64_t now, struct strbuf *out) {
        char b[32] = "";
        const struct strbuf *text = NULL;
        switch (c) {
        case TOP_COL_NAME:
                text = &r->name;
                break;
        case TOP_COL_STATE:
                text = &r->state;
                break;
        case TOP_COL_REASON:
                text = &r->reason;
                break;
        case TOP_COL_PID:
                snprintf(b, sizeof(b), r->pid > 0 ? "%lld" : "-", (long long)r->pid);
                break;
        case TOP_COL_REGIONS:
                snprintf(b, sizeof(b), "%llu", (unsigned long long)r->regions);
                break;
        case TOP_COL_MAPPED:
                top_format_size(r->mapped, b, sizeof(b));
                break;
        case TOP_COL_EXEC:
                top_format_size(r->exec, b, sizeof(b));
                break;
        case TOP_COL_RATE:
                format_rate(r, b, sizeof(b));
                break;
        case TOP_COL_LAST:
                if (r->last_change > 0)
                        top_format_age(now - r->last_change, b, sizeof(b));
                else
                        snprintf(b, sizeof(b), "-");
                break;
        case TOP_COL_ALERTS:
                snprintf(b, sizeof(b), "%llu", (unsigned long long)r->alerts);
                break;
        default:
                return 0;
        }
        if (text)
                return top_fit(text->s, text->len, l->width[c], cols_info[c].right, m->utf8, out);
        return top_fit(b, strlen(b), l->width[c], cols_info[c].right, 0, out);
}

int top_model_line(const struct top_model *m, const struct top_row *r, const struct top_layout *l, int cols,
                   int64_t now, struct strbuf *out) {
        int e = 0, x = 0;
        for (int c = 0; c < TOP_COLS && e == 0; c++) {
                if (!l->shown[c])
                        continue;
                if (x > 0) {
                        e = strbuf_append(out, " ", 1);
                        x++;
                }
                if (e == 0)
                        e = r ? top_model_cell(m, r, l, (enum top_col)c, now, out)
                              : top_model_title(l, (enum top_col)c, out);
                x += l->width[c];
        }
        for (; x < cols && e == 0; x++)
                e = strbuf_append(out, " ", 1);
        return e;
}

/* text at the left and right at the right of a line cols wide; the left
 * part is cut first. */
static int two_sides(const char *left, size_t left_len, int left_utf8, const char *right, int cols,
                     struct strbuf *out) {
        int rw = (int)strlen(right);
        if (rw + 2 > cols)
                return top_fit(left, left_len, cols, 0, left_utf8, out);
        int e = top_fit(left, left_len, cols - rw - 1, 0, left_utf8, out);
        if (e == 0)
                e = strbuf_append(out, " ", 1);
        return e ? e : strbuf_append(out, right, (size_t)rw);
}

int top_model_title_line(const struct top_model *m, int64_t now, int paused, int cols, struct strbuf *out) {
        struct strbuf left;
        char up[32], clock[48] = "";
        struct tm tm;
        time_t t = (time_t)now;
        strbuf_init(&left);
        strbuf_printf(&left, "memmon top");
        if (m->agent.known) {
                strbuf_printf(&left, " - agent %lld", (long long)m->agent.pid);
                if (m->agent.started > 0) {
                        top_format_age(now - m->agent.started, up, sizeof(up));
                        strbuf_printf(&left, ", up %s", up);
                }
                if (m->agent.version.len) {
                        strbuf_printf(&left, ", v");
                        strbuf_append(&left, m->agent.version.s, m->agent.version.len);
                }
                if (m->agent.capture.len) {
                        strbuf_printf(&left, ", capture ");
                        strbuf_append(&left, m->agent.capture.s, m->agent.capture.len);
                }
        }
        if (localtime_r(&t, &tm))
                strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
        char right[64];
        snprintf(right, sizeof(right), "%s%s", paused ? "PAUSED " : "", clock);
        int e = left.len ? two_sides(left.s, left.len, m->utf8, right, cols, out) : -ENOMEM;
        strbuf_fini(&left);
        return e;
}

int top_model_totals_line(const struct top_model *m, int cols, struct strbuf *out) {
        /* The states as the agent names them (core/policy.h), in this
         * order; anything else is counted as "other". */
        static const char *const states[] = {"running", "waiting", "paused", "exited", "denied", "stopped"};
        size_t by_state[sizeof(states) / sizeof(states[0]) + 1] = {0};
        uint64_t regions = 0, mapped = 0, exec = 0, alerts = 0;
        double rate = 0;
        int rate_known = 0;
        for (size_t i = 0; i < m->n; i++) {
                const struct top_row *r = m->rows[i];
                size_t k = 0;
                while (k < sizeof(states) / sizeof(states[0]) && !key_is(&r->state, states[k]))
                        k++;
                by_state[k]++;
                regions += r->regions;
                mapped += r->mapped;
                exec += r->exec;
                alerts += r->alerts;
                if (r->rate_known) {
                        rate += r->rate;
                        rate_known = 1;
                }
        }
        /* The parts, in screen order; on a narrow screen the ones with the
         * highest drop rank go first, the state counts never. */
        struct part {
                char text[160];
                int drop;
        } parts[6];
        size_t np = 0;
        char b[32];
        int n = snprintf(parts[np].text, sizeof(parts[np].text), "%zu target%s", m->n, m->n == 1 ? "" : "s");
        const char *sep = ": ";
        for (size_t k = 0; k <= sizeof(states) / sizeof(states[0]); k++) {
                if (!by_state[k] || n < 0 || (size_t)n >= sizeof(parts[np].text))
                        continue;
                n += snprintf(parts[np].text + n, sizeof(parts[np].text) - (size_t)n, "%s%zu %s", sep,
                              by_state[k], k < sizeof(states) / sizeof(states[0]) ? states[k] : "other");
                sep = ", ";
        }
        parts[np++].drop = 0;
        snprintf(parts[np].text, sizeof(parts[np].text), "%llu regions", (unsigned long long)regions);
        parts[np++].drop = 3;
        top_format_size(mapped, b, sizeof(b));
        snprintf(parts[np].text, sizeof(parts[np].text), "%s mapped", b);
        parts[np++].drop = 4;
        top_format_size(exec, b, sizeof(b));
        snprintf(parts[np].text, sizeof(parts[np].text), "%s exec", b);
        parts[np++].drop = 5;
        if (rate_known)
                snprintf(parts[np].text, sizeof(parts[np].text), "%.0f diffs/min", rate);
        else
                snprintf(parts[np].text, sizeof(parts[np].text), "- diffs/min");
        parts[np++].drop = 2;
        snprintf(parts[np].text, sizeof(parts[np].text), "%llu alert%s", (unsigned long long)alerts,
                 alerts == 1 ? "" : "s");
        parts[np++].drop = 1;
        int limit = 5, width;
        do {
                width = -2;
                for (size_t i = 0; i < np; i++)
                        if (parts[i].drop <= limit)
                                width += 2 + (int)strlen(parts[i].text);
        } while (width > cols && --limit > 0);
        struct strbuf line;
        strbuf_init(&line);
        for (size_t i = 0; i < np; i++)
                if (parts[i].drop <= limit)
                        strbuf_printf(&line, "%s%s", line.len ? "; " : "", parts[i].text);
        int e = line.s ? top_fit(line.s, line.len, cols, 0, 0, out) : -ENOMEM;
        strbuf_fini(&line);
        return e;
}

int top_model_footer_line(const struct top_model *m, size_t first, size_t shown, int cols,
                          struct strbuf *out) {
        char right[64], left[160];
        if (m->n == 0)
                snprintf(right, sizeof(right), "0/0");
        else
                snprintf(right, sizeof(right), "%zu-%zu/%zu", first + 1, first + shown, m->n);
        /* Names go up, numbers and times down, unless reversed. */
        int up = (m->sort == TOP_SORT_NAME) != (m->reverse != 0);
        snprintf(left, sizeof(left), "q quit  p pause  s,R sort: %s %s  n r m d a c  arrows scroll",
                 top_sort_name(m->sort), up ? "asc" : "desc");
        return two_sides(left, strlen(left), 0, right, cols, out);
}
