#include "core/diff.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#include "core/alloc.h"

/* The index a record leaves unset.  No snapshot holds that many regions: each
 * line takes well over one byte of a text whose offsets fit in 32 bits. */
#define DIFF_NO_IDX UINT32_MAX

#define DIFF_MIN_CAP ((size_t)64)

void diff_init(struct diff *d) {
        memset(d, 0, sizeof(*d));
}

void diff_fini(struct diff *d) {
        mm_free(d->recs);
        diff_init(d);
}

/* Appends a record, growing the buffer only when it is full, so that a diff
 * reused from tick to tick stops allocating once it has held its largest
 * change.  limit (at least n + 1) is the most records this computation can
 * make, so the buffer never grows past it. */
static inline int push(struct diff *d, size_t *n, size_t limit, enum diff_kind kind, size_t old_idx,
                       size_t new_idx) {
        if (*n == d->cap) {
                size_t cap = d->cap ? d->cap * 2 : DIFF_MIN_CAP;
                struct diff_rec *recs;

                if (cap > limit)
                        cap = limit;
                recs = mm_reallocarray(d->recs, cap, sizeof(*recs));
                if (!recs)
                        return -ENOMEM;
                d->recs = recs;
                d->cap = cap;
        }
        d->recs[(*n)++] = (struct diff_rec){kind, (uint32_t)old_idx, (uint32_t)new_idx};
        return 0;
}

static int same_line(const struct maps_snapshot *a, const struct region *ra, const struct maps_snapshot *b,
                     const struct region *rb) {
        return ra->line_len == rb->line_len &&
               memcmp(region_line(a, ra), region_line(b, rb), ra->line_len) == 0;
}

/* The number of regions of s whose whole line (with its '\n') lies in
 * text[0..upto). */
static size_t lines_before(const struct maps_snapshot *s, size_t upto) {
        size_t lo = 0, hi = s->n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                const struct region *r = &s->regions[mid];

                if ((size_t)r->line_off + r->line_len + 1 <= upto)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

/* The number of regions of s whose whole line lies in the last `tail` bytes
 * of its text. */
static size_t lines_after(const struct maps_snapshot *s, size_t tail) {
        size_t lo = 0, hi = s->n;

        /* Regions [k, n) qualify when line_off >= len - tail; find the
         * smallest such k. */
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (s->regions[mid].line_off >= s->len - tail)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return s->n - lo;
}

int diff_compute(const struct maps_snapshot *old, const struct maps_snapshot *cur, struct diff *d) {
        size_t i = 0, j = 0, n = 0, added = 0, removed = 0, changed = 0;
        size_t limit = old->n + cur->n;
        size_t old_end = old->n, cur_end = cur->n;
        int r = 0;

        /* The count is returned as an int. */
        if (limit > INT_MAX)
                return -EOVERFLOW;
        /* Lines in the common prefix and suffix of the two texts are the
         * same regions at the same indexes (counted from either end), so
         * only the lines in between take part in the merge: a change costs
         * a memcmp of the text plus its own size. */
        if (old->len > 0 && cur->len > 0) {
                size_t min = old->len < cur->len ? old->len : cur->len;
                size_t pre = maps_common_prefix(old->text, cur->text, min);
                size_t k = lines_before(old, pre);
                size_t suf, ko, kc;

                if (k > cur->n)
                        k = cur->n;
                i = j = k;
                /* The suffix may not reach into the lines the prefix took. */
                suf = maps_common_suffix(old->text, old->len, cur->text, cur->len, min - pre);
                ko = lines_after(old, suf);
                kc = lines_after(cur, suf);
                if (ko == kc && ko <= old->n - i && kc <= cur->n - j) {
                        old_end = old->n - ko;
                        cur_end = cur->n - kc;
                }
        }
        while (i < old_end && j < cur_end && r == 0) {
                const struct region *o = &old->regions[i], *c = &cur->regions[j];

                if (o->start < c->start) {
                        r = push(d, &n, limit, DIFF_REMOVED, i++, DIFF_NO_IDX);
                        removed++;
                } else if (o->start > c->start) {
                        r = push(d, &n, limit, DIFF_ADDED, DIFF_NO_IDX, j++);
                        added++;
                } else {
                        if (!same_line(old, o, cur, c)) {
                                r = push(d, &n, limit, DIFF_CHANGED, i, j);
                                changed++;
                        }
                        i++;
                        j++;
                }
        }
        for (; i < old_end && r == 0; i++, removed++)
                r = push(d, &n, limit, DIFF_REMOVED, i, DIFF_NO_IDX);
        for (; j < cur_end && r == 0; j++, added++)
                r = push(d, &n, limit, DIFF_ADDED, DIFF_NO_IDX, j);
        if (r < 0) {
                /* The records written so far are a meaningless prefix. */
                d->n = d->added = d->removed = d->changed = 0;
                return r;
        }
        d->n = n;
        d->added = added;
        d->removed = removed;
        d->changed = changed;
        return (int)n;
}
