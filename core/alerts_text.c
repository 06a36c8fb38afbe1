/*
 * text_mismatch: the code a process runs, compared with the file it was
 * mapped from.  A private executable mapping shares its pages with the
 * file's page cache until someone writes to them (a debugger's breakpoint,
 * an inline hook, a patch through /proc/PID/mem); such pages then differ
 * from the file at the same offset.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alerts_int.h"

/* Header-only, as in core/maps.c. */
#define XXH_INLINE_ALL
#include <xxhash.h>

/* Pages hashed as one run: a hash per page would cost more calls than it
 * saves; pages of a run that differs are then told apart with memcmp. */
#define RUN_PAGES 16
#define LISTED_MAX 4

static size_t min_size(size_t a, uint64_t b) {
        return (uint64_t)a < b ? a : (size_t)b;
}

/* Reads up to len bytes at off, short only at the end of the file. */
static ssize_t read_full(const struct alert_fs_ops *ops, void *ctx, int h, unsigned char *buf, size_t len,
                         uint64_t off) {
        size_t got = 0;

        while (got < len) {
                ssize_t n = ops->read_file(ctx, h, buf + got, len - got, off + got);
                if (n < 0)
                        return got > 0 ? (ssize_t)got : n;
                if (n == 0)
                        break;
                got += (size_t)n;
        }
        return (ssize_t)got;
}

struct mismatch {
        unsigned pages;
        uint64_t addr[LISTED_MAX];
};

/* Compares n bytes at addr, run by run, and notes the pages that differ. */
static void compare_runs(const struct alerts_text_bufs *b, size_t n, uint64_t addr, size_t page,
                         struct mismatch *m) {
        size_t run = RUN_PAGES * page;

        for (size_t o = 0; o < n; o += run) {
                size_t k = n - o < run ? n - o : run;

                if (XXH3_64bits(b->mem + o, k) == XXH3_64bits(b->file + o, k))
                        continue;
                for (size_t q = o; q < o + k; q += page) {
                        size_t l = o + k - q < page ? o + k - q : page;

                        if (memcmp(b->mem + q, b->file + q, l) == 0)
                                continue;
                        if (m->pages < LISTED_MAX)
                                m->addr[m->pages] = addr + q;
                        m->pages++;
                }
        }
}

static void describe(const struct mismatch *m, const struct region *r, char *reason, size_t size) {
        size_t o;
        int n =
            snprintf(reason, size,
                     "code differs from its file in %u page%s (patched code or an inline hook):", m->pages,
                     m->pages == 1 ? "" : "s");

        /* The list is cut short, not the sentence before it. */
        o = n > 0 && (size_t)n < size ? (size_t)n : 0;
        for (unsigned i = 0; i < m->pages && i < LISTED_MAX && o < size; i++) {
                n = snprintf(reason + o, size - o, "%s %" PRIx64 " (file offset %" PRIx64 ")", i ? "," : "",
                             m->addr[i], r->offset + (m->addr[i] - r->start));
                if (n < 0 || (size_t)n >= size - o)
                        break;
                o += (size_t)n;
        }
        if (m->pages > LISTED_MAX && o < size)
                (void)snprintf(reason + o, size - o, " and %u more", m->pages - LISTED_MAX);
}

static int same_identity(const struct alert_stat *a, const struct alert_stat *b) {
        return a->dev_major == b->dev_major && a->dev_minor == b->dev_minor && a->ino == b->ino;
}

int alerts_text_compare(const struct alert_fs_ops *ops, void *ctx, const struct alert_proc *proc,
                        const struct maps_snapshot *snap, const struct region *r, uint64_t from,
                        uint64_t budget, struct alerts_text_bufs *bufs, uint64_t *ret_used,
                        uint64_t *ret_next, char *reason, size_t reason_size) {
        size_t page = (size_t)sysconf(_SC_PAGESIZE);
        char path[ALERTS_PATH_MAX];
        struct alert_stat before, after;
        struct mismatch m = {0};
        uint64_t addr = from & ~(uint64_t)(page - 1), used = 0;
        int have_before = ops->mapped_stat(ctx, proc, r->start, r->end, &before) == 0;
        int h;

        *ret_used = 0;
        *ret_next = r->end;
        if (addr < r->start)
                addr = r->start;
        if ((have_before && !S_ISREG(before.mode)) || r->path_len >= sizeof(path))
                return 0;
        memcpy(path, region_path(snap, r), r->path_len);
        path[r->path_len] = '\0';
        h = ops->open_mapped(ctx, proc, r->start, r->end, path, r->dev_major, r->dev_minor, r->inode);
        if (h < 0)
                return 0;
        while (addr < r->end && used < budget) {
                /* At least a page, so that a small budget still moves on. */
                size_t want = min_size(min_size(bufs->size, r->end - addr),
                                       budget - used < page ? page : budget - used);
                ssize_t nf = read_full(ops, ctx, h, bufs->file, want, r->offset + (addr - r->start));
                ssize_t nm;
                size_t step;

                /* Past the end of the file nothing backs the rest. */
                if (nf <= 0) {
                        addr = r->end;
                        break;
                }
                nm = ops->read_mem(ctx, proc, addr, bufs->mem, (size_t)nf);
                if (nm <= 0) {
                        /* A page that cannot be read (never backed, or gone
                         * since): step over it. */
                        addr += page;
                        used += page;
                        continue;
                }
                compare_runs(bufs, (size_t)nm, addr, page, &m);
                step = ((size_t)nm + page - 1) & ~(page - 1);
                addr += step;
                used += step;
        }
        ops->close_file(ctx, h);
        *ret_used = used;
        *ret_next = addr < r->end ? addr : r->end;
        if (m.pages == 0)
                return 0;
        /* Something else may have been mapped there since maps was read:
         * then the pages compared were not this file's. */
        if (have_before &&
            (ops->mapped_stat(ctx, proc, r->start, r->end, &after) < 0 || !same_identity(&before, &after)))
                return 0;
        describe(&m, r, reason, reason_size);
        return 1;
}
