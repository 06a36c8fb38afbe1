/* settle: a change is recorded only when its text held still (issue 9):
 * the re-reads of a change tick, and the judge of a torn read. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "core/sample.h"
#include "core/worker_impl.h"

/* A change is read at most this many times until two consecutive reads
 * agree. */
#define SETTLE_READS 4

/* The kernel builds /proc/PID/maps a page or so per read() and lets the
 * process change its mappings in between (on 6.17 and later each region is
 * printed under its own lock, so no single read() is atomic either).  A
 * read that spans a change mixes two moments: a mapping moved by mremap
 * shows twice or not at all, a merge or split shows lines that overlap.
 * Such a read is torn: it is never recorded.  A read is proven torn when
 * its lines overlap or go backwards, when its regions add up to none of the
 * sizes the process had while it was read (maps_sizes_refute), or when its
 * file-backed regions are not those the kernel lists at one instant in
 * /proc/PID/map_files.  That listing is taken only when they cover other
 * addresses than the ones last recorded. */

/* The file-backed regions of s: their count and proc_ranges_hash(), and
 * the hash of the addresses they cover (adjacent ones joined). */
struct file_part {
        uint64_t count;
        uint64_t ranges;
        uint64_t coverage;
};

static void file_part(const struct maps_snapshot *s, struct file_part *ret) {
        struct file_part f = {0, PROC_RANGES_HASH_INIT, PROC_RANGES_HASH_INIT};
        uint64_t from = 0, to = 0;
        for (size_t i = 0; i < s->n; i++) {
                const struct region *r = &s->regions[i];
                if (r->inode == 0)
                        continue;
                f.ranges = proc_ranges_hash(f.ranges, r->start, r->end);
                f.count++;
                if (f.count > 1 && r->start == to) {
                        to = r->end;
                        continue;
                }
                if (f.count > 1)
                        f.coverage = proc_ranges_hash(f.coverage, from, to);
                from = r->start;
                to = r->end;
        }
        if (f.count)
                f.coverage = proc_ranges_hash(f.coverage, from, to);
        *ret = f;
}

/* True when one size, the same, was seen all through both reads. */
static int size_stood_still(const struct maps_sizes *a, const struct maps_sizes *b) {
        return a->n == 1 && b->n == 1 && a->value[0] == b->value[0] && !a->overflow && !b->overflow;
}

/* Parses s and says whether it is torn, by its lines, by the sizes sampled
 * during the reads that returned its text (a; b too when two reads agreed)
 * and by the file-backed regions listed now.  Returns 1 (sound), 0 (torn)
 * or -errno (-ENOMEM). */
static int judge(struct worker *w, struct maps_snapshot *s, const struct maps_sizes *a,
                 const struct maps_sizes *b, struct settle_stats *st) {
        size_t bad_line = 0;
        /* Only the lines between the unchanged head and tail are parsed. */
        int r = w->have_prev ? maps_parse_since(s, &w->prev, &bad_line) : maps_parse(s, &bad_line);
        if (r == -EINVAL) {
                st->out_of_order++;
                return 0;
        }
        if (r < 0)
                return r;
        /* Without the process's size and file listing (found not to agree
         * with its maps), the texts are all there is. */
        if (w->compare_only)
                return 1;
        uint64_t pages = maps_mapped_bytes(s) / (uint64_t)sysconf(_SC_PAGESIZE);
        if (maps_sizes_refute(a, pages) || (b && maps_sizes_refute(b, pages))) {
                st->size++;
                st->steady += b && size_stood_still(a, b);
                return 0;
        }
        /* A read that shows a file mapping twice or not at all covers
         * other addresses with files than the last record; one that only
         * splits, joins or changes file regions where files were (an
         * mprotect) does not, and if torn its lines overlap or its size is
         * off. */
        struct file_part now_part, prev_part;
        file_part(s, &now_part);
        if (w->have_prev) {
                file_part(&w->prev, &prev_part);
                if (now_part.coverage == prev_part.coverage)
                        return 1;
        }
        struct proc_task t;
        uint64_t now_n, now_hash;
        /* The kernel lists them for the main thread only: none once it has
         * exited. */
        if (proc_task_find(w->id.pid, &t) < 0 || t.tid != t.id.pid)
                return 1;
        r = proc_file_ranges(&t, &w->dents, &now_n, &now_hash);
        if (r == -ENOMEM)
                return r;
        /* Not allowed to list them (an older kernel or a lesser user): the
         * other checks stand. */
        if (r < 0 || (now_n == now_part.count && now_hash == now_part.ranges))
                return 1;
        st->files++;
        st->steady += b && size_stood_still(a, b);
        return 0;
}

/* w->cur holds a read whose text differs from the last one recorded: reads
 * again at once, into w->alt, until two consecutive reads agree and their
 * text is not torn (judge()), at most SETTLE_READS reads in all.  Texts are
 * compared before anything is parsed, and only a text that may be
 * recorded is parsed (incrementally, against the last recorded one).
 * Returns SETTLED or UNSETTLED with the text to record parsed in w->cur,
 * -EAGAIN when every read was torn, -ESTALE when the address space went
 * away during a read, or another -errno. */
int sample_settle(struct worker *w, struct settle_stats *st) {
        struct proc_task t = {.id = w->id, .tid = w->tid};
        struct maps_sizes cur_sz = {0}, older_sz = {0}, alt_sz;
        /* Through a thread that still runs: the main thread's statm reads
         * 0 once it has exited. */
        if (proc_task_find(w->id.pid, &t) < 0 || t.id.start_time != w->id.start_time)
                t = (struct proc_task){.id = w->id, .tid = w->tid};
        int statm = w->compare_only ? -1 : worker_task_open(w, &t, "statm");
        int r;

        st->reads = 1;
        for (int i = 1; i < SETTLE_READS; i++) {
                worker_on_target(w);
                r = maps_read_fd_sized(w->maps_fd, statm, &w->alt, &alt_sz);
                worker_off_target(w);
                st->reads++;
                if (r == -ESRCH || (r == 0 && w->alt.len == 0)) {
                        r = -ESTALE;
                        goto out;
                }
                if (r < 0)
                        goto out;
                if (w->alt.len == w->cur.len && memcmp(w->alt.text, w->cur.text, w->cur.len) == 0) {
                        /* Two reads can agree and still both be torn: a
                         * process that changes in step with the reader
                         * tears every read the same way. */
                        r = judge(w, &w->cur, &cur_sz, &alt_sz, st);
                        if (r != 0) {
                                r = r < 0 ? r : SETTLED;
                                goto out;
                        }
                }
                older_sz = cur_sz;
                cur_sz = alt_sz;
                maps_snapshot_swap(&w->cur, &w->alt);
        }
        /* No two reads agreed: the newer sound one of the last two. */
        r = judge(w, &w->cur, &cur_sz, NULL, st);
        if (r != 0) {
                r = r < 0 ? r : UNSETTLED;
                goto out;
        }
        r = judge(w, &w->alt, &older_sz, NULL, st);
        if (r != 0) {
                if (r > 0)
                        maps_snapshot_swap(&w->cur, &w->alt);
                r = r < 0 ? r : UNSETTLED;
                goto out;
        }
        r = -EAGAIN;
out:
        if (statm >= 0)
                close(statm);
        return r;
}
