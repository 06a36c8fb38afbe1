/* Retention: deleting whole chains, oldest first, within keep_full and
 * max_bytes; and measuring what a target's folder holds. */
#include "core/backup_read.h"

#include <errno.h>
#include <unistd.h>

#include "core/alloc.h"

#include "core/backup_folder.h"

/* Removes name from the folder fd, counting it in *deleted; one already
 * gone is no error.  Returns 0 or -errno. */
static int remove_file(int fd, const char *name, int *deleted) {
        if (unlinkat(fd, name, 0) < 0)
                return errno == ENOENT ? 0 : -errno;
        (*deleted)++;
        return 0;
}

/* Deletes the group [g, end) of l: its diffs newest first, then its full
 * snapshot, so that a crash at any point leaves a full snapshot with a
 * prefix of its diffs (a shorter chain that still verifies), never a chain
 * with a hole in it.  Counts what goes in *n, *deleted and *total.
 * Returns 0 or -errno. */
static int delete_chain(struct backup_store *st, const struct listing *l, size_t g, size_t end,
                        struct backup_retention_note *n, int *deleted, uint64_t *total) {
        bool any_diff = false;
        int r;

        for (size_t j = end; j-- > g;) {
                if (l->v[j].full)
                        continue;
                r = remove_file(st->incr_fd, l->v[j].name, deleted);
                if (r < 0)
                        return r;
                any_diff = true;
                *total -= l->v[j].size;
                n->files++;
                n->bytes += l->v[j].size;
        }
        if (any_diff && fsync(st->incr_fd) < 0)
                return -errno;
        if (!l->v[g].full)
                return 0;
        r = remove_file(st->full_fd, l->v[g].name, deleted);
        if (r < 0)
                return r;
        *total -= l->v[g].size;
        n->files++;
        n->bytes += l->v[g].size;
        return fsync(st->full_fd) < 0 ? -errno : 0;
}

int backup_retention(struct backup_store *st, unsigned keep_full, uint64_t max_bytes,
                     backup_retention_fn note, void *user) {
        struct listing l = {0};
        char now[TS_SIZE];
        uint64_t total = 0;
        size_t nfull = 0, g = 0, last_group = 0;
        int deleted = 0, r;
        bool measured = false;

        if (!st || st->full_fd < 0 || st->incr_fd < 0)
                return -EINVAL;
        if (keep_full == 0 && max_bytes == 0)
                return 0;
        /* A file from the future (planted, or written under a wrong clock)
         * would pass for the newest chain and have the real ones deleted:
         * it is left out, neither counted nor removed. */
        r = ts_next("", now);
        if (r < 0)
                return r;
        r = bf_list_chains(st->full_fd, st->incr_fd, true, now, &l);
        if (r < 0)
                goto out;
        for (size_t i = 0; i < l.n; i++) {
                total += l.v[i].size;
                if (l.v[i].full) {
                        nfull++;
                        last_group = i;
                }
        }
        measured = true;
        /* Groups before last_group may go; the newest chain never does. */
        while (g < last_group &&
               ((keep_full > 0 && nfull > keep_full) || (max_bytes > 0 && total > max_bytes))) {
                size_t end = bf_group_end(&l, g);
                struct backup_retention_note n = {
                    .first = l.v[g].name,
                    .from_ts = l.v[g].ts,
                    .to_ts = l.v[end - 1].ts,
                    .over_keep_full = keep_full > 0 && nfull > keep_full,
                    .over_max_bytes = max_bytes > 0 && total > max_bytes,
                };

                r = delete_chain(st, &l, g, end, &n, &deleted, &total);
                if (l.v[g].full && r == 0)
                        nfull--;
                n.complete = r == 0;
                /* What was deleted is told, also when deleting failed
                 * midway: history never goes silently. */
                if (note)
                        note(user, &n);
                if (r < 0)
                        goto out;
                g = end;
        }
        r = deleted;
out:
        /* What is left is what the folder holds (memmon_backup_bytes). */
        if (measured)
                st->bytes = total;
        mm_free(l.v);
        return r;
}

void backup_store_measure(struct backup_store *st) {
        struct listing l = {0};

        if (bf_list_chains(st->full_fd, st->incr_fd, true, NULL, &l) == 0) {
                st->bytes = 0;
                for (size_t i = 0; i < l.n; i++)
                        st->bytes += l.v[i].size;
        }
        mm_free(l.v);
}
