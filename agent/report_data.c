#include "agent/report_data.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

static const struct {
        const char *id;
        const char *name;
} kinds[REPORT_KIND_COUNT] = {
    [REPORT_KIND_RWX] = {"rwx", "rwx: writable and executable"},
    [REPORT_KIND_GUARD] = {"guard", "---: no access (guard, reserve)"},
    [REPORT_KIND_HEAP] = {"heap", "[heap]"},
    [REPORT_KIND_STACK] = {"stack", "[stack]"},
    [REPORT_KIND_SPECIAL] = {"special", "[vdso], [vvar] and the like"},
    [REPORT_KIND_FILE_RX] = {"file_rx", "file r-x: code"},
    [REPORT_KIND_FILE_R] = {"file_r", "file r--"},
    [REPORT_KIND_FILE_RW] = {"file_rw", "file rw-: data"},
    [REPORT_KIND_ANON_X] = {"anon_x", "anon r-x: JIT or injected code"},
    [REPORT_KIND_ANON_RW] = {"anon_rw", "anon rw-"},
    [REPORT_KIND_ANON_R] = {"anon_r", "anon r--"},
};

const char *report_kind_id(enum report_kind k) {
        return k < REPORT_KIND_COUNT ? kinds[k].id : "?";
}

const char *report_kind_name(enum report_kind k) {
        return k < REPORT_KIND_COUNT ? kinds[k].name : "?";
}

static bool path_is(const char *p, size_t n, const char *lit) {
        return n == strlen(lit) && memcmp(p, lit, n) == 0;
}

static bool path_starts(const char *p, size_t n, const char *lit) {
        return n >= strlen(lit) && memcmp(p, lit, strlen(lit)) == 0;
}

enum report_kind report_kind_of(const struct maps_snapshot *s, const struct region *r) {
        const char *p = region_path(s, r);
        size_t n = r->path_len;
        bool rd = r->perms[0] == 'r', wr = r->perms[1] == 'w', ex = r->perms[2] == 'x';

        if (wr && ex)
                return REPORT_KIND_RWX;
        if (!rd && !wr && !ex)
                return REPORT_KIND_GUARD;
        if (path_is(p, n, "[heap]"))
                return REPORT_KIND_HEAP;
        if (path_is(p, n, "[stack]") || path_starts(p, n, "[stack:"))
                return REPORT_KIND_STACK;
        /* [anon:NAME] (prctl PR_SET_VMA_ANON_NAME) and [anon_shmem:NAME]
         * name anonymous memory; other bracketed names are the kernel's. */
        bool anon = n == 0 || path_starts(p, n, "[anon");
        if (!anon && n > 0 && p[0] == '[')
                return REPORT_KIND_SPECIAL;
        if (!anon)
                return ex ? REPORT_KIND_FILE_RX : wr ? REPORT_KIND_FILE_RW : REPORT_KIND_FILE_R;
        return ex ? REPORT_KIND_ANON_X : wr ? REPORT_KIND_ANON_RW : REPORT_KIND_ANON_R;
}

void report_history_init(struct report_history *h) {
        memset(h, 0, sizeof(*h));
}

void report_history_fini(struct report_history *h) {
        if (!h)
                return;
        for (size_t i = 0; i < h->n_moments; i++)
                mm_free(h->moments[i].fault);
        mm_free(h->moments);
        mm_free(h->iv);
        mm_free(h->arena);
        mm_free(h->open);
        mm_free(h->open_next);
        report_history_init(h);
}

/* Makes the open lists hold at least n ids. */
static int open_reserve(struct report_history *h, size_t n) {
        uint32_t *a, *b;

        if (n <= h->open_cap)
                return 0;
        a = mm_reallocarray(h->open, n, sizeof(*a));
        if (!a)
                return -ENOMEM;
        h->open = a;
        b = mm_reallocarray(h->open_next, n, sizeof(*b));
        if (!b)
                return -ENOMEM;
        h->open_next = b;
        h->open_cap = n;
        return 0;
}

/* Starts an interval for region r of s at moment m; its id goes to *ret. */
static int interval_open(struct report_history *h, const struct maps_snapshot *s, const struct region *r,
                         uint32_t m, uint32_t *ret) {
        struct report_interval *iv;
        int err;

        if (h->n_iv >= UINT32_MAX || h->arena_len + r->line_len > UINT32_MAX)
                return -EFBIG;
        if ((err = mm_grow(&h->iv, &h->iv_cap, h->n_iv + 1, sizeof(*h->iv))) < 0)
                return err;
        if (h->arena_len + r->line_len > h->arena_cap) {
                size_t cap = h->arena_cap ? h->arena_cap : 65536;
                char *p;

                while (cap < h->arena_len + r->line_len)
                        cap *= 2;
                p = mm_realloc(h->arena, cap);
                if (!p)
                        return -ENOMEM;
                h->arena = p;
                h->arena_cap = cap;
        }
        memcpy(h->arena + h->arena_len, region_line(s, r), r->line_len);
        iv = &h->iv[h->n_iv];
        *iv = (struct report_interval){
            .start = r->start,
            .end = r->end,
            .from = m,
            .to = REPORT_OPEN,
            .line_off = (uint32_t)h->arena_len,
            .line_len = r->line_len,
            .kind = (uint8_t)report_kind_of(s, r),
        };
        h->arena_len += r->line_len;
        *ret = (uint32_t)h->n_iv++;
        return 0;
}

static bool same_line(const struct report_history *h, uint32_t id, const struct maps_snapshot *s,
                      const struct region *r) {
        const struct report_interval *iv = &h->iv[id];

        return iv->line_len == r->line_len &&
               memcmp(h->arena + iv->line_off, region_line(s, r), r->line_len) == 0;
}

/* Moves the current state to s at moment m: one sorted merge by start
 * address, as core/diff.c compares.  With fresh, every open interval ends
 * and every region of s starts a new one (another process). */
static int advance(struct report_history *h, const struct maps_snapshot *s, uint32_t m, bool fresh,
                   struct report_moment *mo) {
        size_t i = 0, j = 0, k = 0;
        uint32_t *tmp;
        int err;

        if ((err = open_reserve(h, s->n > h->n_open ? s->n : h->n_open)) < 0)
                return err;
        if (fresh) {
                for (; i < h->n_open; i++)
                        h->iv[h->open[i]].to = m;
                mo->removed = (uint32_t)h->n_open;
                i = h->n_open;
        }
        while (i < h->n_open || j < s->n) {
                const struct region *r = j < s->n ? &s->regions[j] : NULL;
                const struct report_interval *o = i < h->n_open ? &h->iv[h->open[i]] : NULL;

                if (o && (!r || o->start < r->start)) {
                        h->iv[h->open[i++]].to = m;
                        mo->removed++;
                } else if (!o || r->start < o->start) {
                        if ((err = interval_open(h, s, r, m, &h->open_next[k++])) < 0)
                                return err;
                        mo->added++;
                        j++;
                } else if (same_line(h, h->open[i], s, r)) {
                        h->open_next[k++] = h->open[i++];
                        j++;
                } else {
                        h->iv[h->open[i++]].to = m;
                        if ((err = interval_open(h, s, r, m, &h->open_next[k++])) < 0)
                                return err;
                        mo->changed++;
                        j++;
                }
        }
        tmp = h->open;
        h->open = h->open_next;
        h->open_next = tmp;
        h->n_open = k;
        return 0;
}

int report_history_step(void *user, const struct backup_step *st) {
        struct report_history *h = user;
        const struct backup_chain *c = st->chain;
        struct report_moment *mo;
        uint32_t m;
        int err;

        if (h->n_moments >= UINT32_MAX - 1)
                return -EFBIG;
        if ((err = mm_grow(&h->moments, &h->moments_cap, h->n_moments + 1, sizeof(*h->moments))) < 0)
                return err;
        m = (uint32_t)h->n_moments;
        mo = &h->moments[m];
        memset(mo, 0, sizeof(*mo));
        snprintf(mo->ts, sizeof(mo->ts), "%s", st->ts);
        snprintf(mo->file, sizeof(mo->file), "%s", st->name);
        if (ts_to_us(st->ts, &mo->us) < 0)
                return -EINVAL;
        mo->pid = st->pid;
        mo->full = st->full;
        mo->result = st->result;
        if (st->result == BACKUP_STEP_BAD && st->fault) {
                struct strbuf b;

                strbuf_init(&b);
                err = st->fault->line ? strbuf_printf(&b, "line %zu: %s", st->fault->line, st->fault->why)
                                      : strbuf_printf(&b, "%s", st->fault->why);
                if (err < 0) {
                        strbuf_fini(&b);
                        return err;
                }
                mo->fault = b.s;
        }
        /* The moment is counted only once it is whole, so that fini() frees
         * its fault whatever happens below. */
        h->n_moments++;
        if (st->result == BACKUP_STEP_BAD)
                h->bad++;
        if (st->result == BACKUP_STEP_GOOD && c->loaded) {
                bool fresh = !h->have_state || c->pid != h->pid || c->start_time != h->start_time ||
                             strcmp(c->target, h->target) != 0;

                if (!h->have_state && !h->target[0])
                        snprintf(h->target, sizeof(h->target), "%s", c->target);
                if ((err = advance(h, &c->cur, m, fresh, mo)) < 0)
                        return err;
                mo->new_process = fresh;
                h->have_state = true;
                h->pid = c->pid;
                h->start_time = c->start_time;
        }
        mo->has_state = h->have_state;
        mo->start_time = h->have_state ? h->start_time : 0;
        mo->regions = (uint32_t)h->n_open;
        return 0;
}

static int interval_cmp(const void *a, const void *b) {
        const struct report_interval *x = a, *y = b;

        if (x->start != y->start)
                return x->start < y->start ? -1 : 1;
        return x->from < y->from ? -1 : x->from > y->from ? 1 : 0;
}

void report_history_finish(struct report_history *h, int64_t from_us) {
        size_t k0 = 0, n = 0;

        for (size_t m = 0; m < h->n_moments; m++)
                if (h->moments[m].us <= from_us)
                        k0 = m;
        if (k0 > 0) {
                for (size_t m = 0; m < k0; m++)
                        mm_free(h->moments[m].fault);
                memmove(h->moments, h->moments + k0, (h->n_moments - k0) * sizeof(*h->moments));
                h->n_moments -= k0;
                for (size_t i = 0; i < h->n_iv; i++) {
                        struct report_interval iv = h->iv[i];

                        if (iv.to != REPORT_OPEN && iv.to <= k0)
                                continue;
                        iv.from = iv.from > k0 ? (uint32_t)(iv.from - k0) : 0;
                        if (iv.to != REPORT_OPEN)
                                iv.to -= (uint32_t)k0;
                        h->iv[n++] = iv;
                }
                h->n_iv = n;
        }
        /* The open list names intervals by their old ids: done with it. */
        h->n_open = 0;
        if (h->n_iv > 1)
                qsort(h->iv, h->n_iv, sizeof(*h->iv), interval_cmp);
}

int report_history_text_at(const struct report_history *h, size_t m, struct strbuf *out) {
        for (size_t i = 0; i < h->n_iv; i++) {
                const struct report_interval *iv = &h->iv[i];
                int err;

                if (iv->from > m || (iv->to != REPORT_OPEN && iv->to <= m))
                        continue;
                if ((err = strbuf_append(out, h->arena + iv->line_off, iv->line_len)) < 0 ||
                    (err = strbuf_append(out, "\n", 1)) < 0)
                        return err;
        }
        return 0;
}
