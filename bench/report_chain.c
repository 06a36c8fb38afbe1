/*
 * report_chain: writes a synthetic backup chain with memmon's own writer
 * (core/backup.h), for `agent report`'s benchmark and tests.
 *
 *   report_chain DIR [--regions N] [--states M] [--churn K] [--full-every F] [--target NAME]
 *
 * DIR becomes a target's folder (DIR/full, DIR/incremental).  The process
 * it describes looks like a real one: a program (its text, data and heap)
 * low in the address space; high up, N regions (default 60,000) of shared
 * libraries (r--, r-x, r--, rw- runs), anonymous memory, guard pages and
 * thread stacks; then the stack, [vvar], [vdso] and [vsyscall].  The first
 * state is a full snapshot; each of the M-1 that follow (default M 1,000)
 * changes K regions (default 20): protections flipped, mappings added and
 * removed at the bottom of the mmap area, the heap grown; and an rwx page
 * appears at states 5, 55, 105... (at 0x7e8000000000 + state pages) and
 * goes 10 states later.  A full snapshot is written every F states
 * (default 100), as the agent does.  Prints the numbers it wrote.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/backup.h"
#include "core/diff.h"
#include "core/maps.h"

#define PAGE 4096ULL

struct reg {
        uint64_t start, end;
        char perms[5];
        uint64_t offset;
        unsigned major, minor;
        uint64_t inode;
        char path[96];
};

struct gen {
        struct reg *v;
        size_t n, cap;
        uint64_t seed;
};

static void die(const char *what, int err) {
        fprintf(stderr, "report_chain: %s: %s\n", what, strerror(err));
        exit(1);
}

static uint64_t rnd(struct gen *g) {
        g->seed ^= g->seed << 13;
        g->seed ^= g->seed >> 7;
        g->seed ^= g->seed << 17;
        return g->seed;
}

static void add(struct gen *g, uint64_t start, uint64_t pages, const char *perms, uint64_t offset,
                unsigned major, uint64_t inode, const char *path) {
        struct reg *r;

        if (g->n == g->cap) {
                g->cap = g->cap ? g->cap * 2 : 1024;
                g->v = realloc(g->v, g->cap * sizeof(*g->v));
                if (!g->v)
                        die("realloc", ENOMEM);
        }
        /* Kept sorted by start: most regions come in address order. */
        size_t at = g->n;
        while (at > 0 && g->v[at - 1].start > start)
                at--;
        memmove(&g->v[at + 1], &g->v[at], (g->n - at) * sizeof(*g->v));
        g->n++;
        r = &g->v[at];
        memset(r, 0, sizeof(*r));
        r->start = start;
        r->end = start + pages * PAGE;
        memcpy(r->perms, perms, 4);
        r->offset = offset;
        r->major = major;
        r->minor = major ? 1 : 0;
        r->inode = inode;
        snprintf(r->path, sizeof(r->path), "%s", path);
}

static void drop(struct gen *g, size_t j) {
        memmove(&g->v[j], &g->v[j + 1], (g->n - j - 1) * sizeof(*g->v));
        g->n--;
}

/* The maps text of the current regions, as the kernel prints it. */
static void text_of(struct gen *g, struct maps_snapshot *s) {
        size_t cap = g->n * 160 + 1, len = 0, bad = 0;
        char *buf = malloc(cap);
        int r;

        if (!buf)
                die("malloc", ENOMEM);
        for (size_t i = 0; i < g->n; i++) {
                const struct reg *x = &g->v[i];
                size_t line = len;

                len += (size_t)snprintf(buf + len, cap - len,
                                        "%08" PRIx64 "-%08" PRIx64 " %s %08" PRIx64 " %02x:%02x %" PRIu64 " ",
                                        x->start, x->end, x->perms, x->offset, x->major, x->minor, x->inode);
                if (x->path[0]) {
                        /* The kernel pads the path to column 73. */
                        while (len - line < 73)
                                buf[len++] = ' ';
                        len += (size_t)snprintf(buf + len, cap - len, "%s", x->path);
                }
                buf[len++] = '\n';
        }
        r = maps_snapshot_set_text(s, buf, len, &bad);
        if (r < 0) {
                fprintf(stderr, "report_chain: bad line %zu\n", bad);
                die("maps_snapshot_set_text", -r);
        }
        s->checksum = maps_checksum(s->text, s->len);
        free(buf);
}

/* A process of about n regions. */
static void build(struct gen *g, uint64_t n) {
        uint64_t exe = 0x55d4c0a00000ULL, a = 0x7f0000000000ULL;
        char path[96];

        add(g, exe, 2, "r--p", 0, 254, 1001, "/usr/sbin/server");
        add(g, exe + 2 * PAGE, 40, "r-xp", 2 * PAGE, 254, 1001, "/usr/sbin/server");
        add(g, exe + 42 * PAGE, 10, "r--p", 42 * PAGE, 254, 1001, "/usr/sbin/server");
        add(g, exe + 52 * PAGE, 2, "rw-p", 52 * PAGE, 254, 1001, "/usr/sbin/server");
        add(g, exe + 0x2000000ULL, 33, "rw-p", 0, 0, 0, "[heap]");
        for (uint64_t i = 0; g->n + 8 < n; i++) {
                uint64_t kind = rnd(g) % 10;

                if (kind < 3) {
                        /* A shared library: four regions. */
                        snprintf(path, sizeof(path), "/usr/lib/x86_64-linux-gnu/libsynth%" PRIu64 ".so.1", i);
                        add(g, a, 4, "r--p", 0, 254, 2000 + i, path);
                        add(g, a + 4 * PAGE, 16, "r-xp", 4 * PAGE, 254, 2000 + i, path);
                        add(g, a + 20 * PAGE, 6, "r--p", 20 * PAGE, 254, 2000 + i, path);
                        add(g, a + 26 * PAGE, 2, "rw-p", 26 * PAGE, 254, 2000 + i, path);
                        a += 28 * PAGE;
                } else if (kind < 5) {
                        /* A thread stack and its guard page. */
                        add(g, a, 1, "---p", 0, 0, 0, "");
                        add(g, a + PAGE, 2048, "rw-p", 0, 0, 0, "");
                        a += 2049 * PAGE;
                } else {
                        /* Anonymous memory that cannot merge with the next. */
                        add(g, a, 1 + rnd(g) % 64, rnd(g) % 4 ? "rw-p" : "r--p", 0, 0, 0, "");
                        a = g->v[g->n - 1].end + PAGE;
                }
        }
        add(g, 0x7ffd5a000000ULL, 33, "rw-p", 0, 0, 0, "[stack]");
        add(g, 0x7ffd5a100000ULL, 4, "r--p", 0, 0, 0, "[vvar]");
        add(g, 0x7ffd5a104000ULL, 2, "r-xp", 0, 0, 0, "[vdso]");
        add(g, 0xffffffffff600000ULL, 1, "--xp", 0, 0, 0, "[vsyscall]");
}

/* One state's changes. */
static void churn(struct gen *g, uint64_t k, uint64_t state) {
        for (uint64_t i = 0; i < k; i++) {
                uint64_t what = rnd(g) % 8;
                struct reg *r = &g->v[5 + rnd(g) % (g->n - 10)];

                if (what < 4) {
                        /* A protection flipped. */
                        if (r->path[0] == '\0' && r->perms[0] != '-' && r->perms[2] != 'x')
                                r->perms[1] = r->perms[1] == 'w' ? '-' : 'w';
                } else if (what < 6) {
                        /* A mapping added below the mmap area. */
                        add(g, 0x7e0000000000ULL + (state * k + i) * 16 * PAGE, 1 + rnd(g) % 8, "rw-p", 0, 0,
                            0, "");
                } else {
                        /* The oldest of those removed again; or the heap grows. */
                        for (size_t j = 0; what == 6 && j < g->n; j++) {
                                if (g->v[j].start >= 0x7e0000000000ULL && g->v[j].start < 0x7e8000000000ULL) {
                                        drop(g, j);
                                        break;
                                }
                        }
                        for (size_t j = 0; what == 7 && j < g->n; j++)
                                if (strcmp(g->v[j].path, "[heap]") == 0)
                                        g->v[j].end += PAGE;
                }
        }
        /* At state 5, 55, 105... an rwx page appears; it goes 10 states later. */
        if (state % 50 == 5)
                add(g, 0x7e8000000000ULL + state * PAGE, 1, "rwxp", 0, 0, 0, "");
        if (state % 50 == 15) {
                for (size_t j = 0; j < g->n; j++) {
                        if (g->v[j].perms[1] == 'w' && g->v[j].perms[2] == 'x') {
                                drop(g, j);
                                break;
                        }
                }
        }
}

static uint64_t arg_u64(const char *s, const char *name) {
        char *end;
        unsigned long long v;

        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno || end == s || *end || v == 0) {
                fprintf(stderr, "report_chain: bad %s: '%s'\n", name, s);
                exit(2);
        }
        return v;
}

int main(int argc, char **argv) {
        uint64_t regions = 60000, states = 1000, k = 20, full_every = 100, diffs = 0, fulls = 0;
        const char *dir = NULL, *target = "synth";
        struct gen g = {.seed = 0x9e3779b97f4a7c15ULL};
        struct maps_snapshot prev, cur;
        struct backup_store st;
        struct diff d;
        int r;

        for (int i = 1; i < argc; i++) {
                if (i + 1 < argc && strcmp(argv[i], "--regions") == 0)
                        regions = arg_u64(argv[++i], "--regions");
                else if (i + 1 < argc && strcmp(argv[i], "--states") == 0)
                        states = arg_u64(argv[++i], "--states");
                else if (i + 1 < argc && strcmp(argv[i], "--churn") == 0)
                        k = arg_u64(argv[++i], "--churn");
                else if (i + 1 < argc && strcmp(argv[i], "--full-every") == 0)
                        full_every = arg_u64(argv[++i], "--full-every");
                else if (i + 1 < argc && strcmp(argv[i], "--target") == 0)
                        target = argv[++i];
                else if (argv[i][0] != '-' && !dir)
                        dir = argv[i];
                else {
                        fprintf(stderr, "usage: report_chain DIR [--regions N] [--states M] [--churn K] "
                                        "[--full-every F] [--target NAME]\n");
                        return 2;
                }
        }
        if (!dir) {
                fprintf(stderr, "usage: report_chain DIR [--regions N] [--states M] [--churn K]\n");
                return 2;
        }
        if (regions < 20)
                regions = 20;
        maps_snapshot_init(&prev);
        maps_snapshot_init(&cur);
        diff_init(&d);
        backup_store_init(&st);
        if ((r = backup_store_open(&st, dir)) < 0)
                die(dir, -r);
        struct backup_info info = {.target = target, .pid = 4242, .start_time = 987654};
        build(&g, regions);
        text_of(&g, &cur);
        for (uint64_t s = 0; s < states; s++) {
                if (s > 0) {
                        maps_snapshot_swap(&prev, &cur);
                        churn(&g, k, s);
                        text_of(&g, &cur);
                }
                if (s % full_every == 0) {
                        if ((r = backup_write_full(&st, &info, &cur, NULL)) < 0)
                                die("backup_write_full", -r);
                        fulls++;
                        continue;
                }
                if ((r = diff_compute(&prev, &cur, &d)) < 0)
                        die("diff_compute", -r);
                r = backup_write_diff(&st, &info, &prev, &cur, &d, NULL);
                if (r == -ENODATA)
                        continue;
                if (r < 0)
                        die("backup_write_diff", -r);
                diffs++;
        }
        printf("report_chain: %s: %" PRIu64 " full snapshots, %" PRIu64 " diffs, %zu regions at the end\n",
               dir, fulls, diffs, cur.n);
        backup_store_close(&st);
        diff_fini(&d);
        maps_snapshot_fini(&prev);
        maps_snapshot_fini(&cur);
        free(g.v);
        return 0;
}
