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

int diff_compute(const struct maps_snapshot *old, const struct maps_snapshot *cur, struct diff *d) {
        size_t i = 0, j = 0, n = 0, added = 0, removed = 0, changed = 0;
        size_t limit = old->n + cur->n;
        int r = 0;

        /* The count is returned as an int. */
        if (limit > INT_MAX)
                return -EOVERFLOW;
        /* Both snapshots are sorted by start and no two regions of one share
         * a start, so one merge pairs every region with its namesake. */
        while (i < old->n && j < cur->n && r == 0) {
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
        for (; i < old->n && r == 0; i++, removed++)
                r = push(d, &n, limit, DIFF_REMOVED, i, DIFF_NO_IDX);
        for (; j < cur->n && r == 0; j++, added++)
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
