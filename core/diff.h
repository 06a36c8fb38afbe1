/*
 * diff: what changed between two parsed snapshots of the same process.
 *
 * Regions are compared by start address in one sorted merge, O(n + m).  A
 * region is changed when its start is the same and anything else on its line
 * differs (end, permissions, offset, device, inode or path).
 */
#ifndef MEMMON_CORE_DIFF_H
#define MEMMON_CORE_DIFF_H

#include <stddef.h>
#include <stdint.h>

#include "core/maps.h"

#ifdef __cplusplus
extern "C" {
#endif

enum diff_kind {
        DIFF_ADDED = '+',
        DIFF_REMOVED = '-',
        DIFF_CHANGED = '~',
};

struct diff_rec {
        enum diff_kind kind;
        uint32_t old_idx; /* index in the old snapshot (REMOVED, CHANGED) */
        uint32_t new_idx; /* index in the new snapshot (ADDED, CHANGED) */
};

struct diff {
        struct diff_rec *recs; /* owned; in start-address order */
        size_t n;
        size_t cap;
        size_t added, removed, changed;
};

void diff_init(struct diff *d);
void diff_fini(struct diff *d);

/* Computes the records that turn old into new (both parsed).  Reuses d's
 * buffer.  Returns the number of records, or -ENOMEM. */
int diff_compute(const struct maps_snapshot *old, const struct maps_snapshot *cur, struct diff *d);

#ifdef __cplusplus
}
#endif
#endif
