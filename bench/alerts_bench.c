/*
 * alerts_bench: what the alert rules cost, next to the bare read() of the
 * maps they judge.
 *
 *   alerts_bench [--regions N] [--rounds R] [--text-mib M] [--dir TMPDIR]
 *
 * The process makes N regions of its own (adjacent anonymous pages with
 * alternating protections, which the kernel cannot merge; default 60,000)
 * and reads its own /proc/self/maps.  Each round, after an untimed change,
 * it times alternately:
 *   bare     pread from 0 to EOF into a preallocated buffer
 *   sample   maps_read_fd + maps_parse_since + diff_compute (a worker's
 *            change tick without the write)
 *   alerts   alerts_change on that diff
 * for three kinds of change: one page's protection flipped (no region
 * executable: what nearly every change tick is), an anonymous page made
 * executable then unmapped (a raise and a clear), and a file mapped
 * executable then unmapped (the file-system checks, through alert_sysfs).
 * It also times alerts_first on the whole snapshot (attach, or a policy
 * change), alerts_tick on an unchanged tick (with the allocations both
 * make), and text_mismatch's comparison of an M MiB executable file
 * mapping (default 64) with its file, next to the floor of reading the
 * same bytes twice (pread + process_vm_readv) and comparing them.
 * Prints medians in microseconds and each one's median ratio to the bare
 * read of the same round.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "core/alerts.h"
#include "core/alerts_fs.h"
#include "core/alerts_int.h"
#include "core/alloc.h"
#include "core/diff.h"
#include "core/maps.h"

enum change {
        CH_FLIP,
        CH_ANON_EXEC,
        CH_FILE_EXEC,
        CH_COUNT,
};

static const char *const change_name[CH_COUNT] = {
    [CH_FLIP] = "one page's protection flipped",
    [CH_ANON_EXEC] = "anonymous page made executable / unmapped",
    [CH_FILE_EXEC] = "a file mapped executable / unmapped",
};

struct bench {
        uint64_t regions;
        size_t rounds;
        uint64_t text_mib;
        const char *dir;
        size_t page;
        char *area; /* the N regions */
        char *bare_buf;
        size_t bare_cap;
        int maps_fd;
        char lib_path[4096]; /* a small file mapped executable for CH_FILE_EXEC */
        struct maps_snapshot prev, cur;
        struct diff diff;
        struct alert_sysfs *fs;
        struct alert_state *st;
        struct alert_events ev;
        struct alert_proc self;
};

static void die(const char *what) {
        fprintf(stderr, "alerts_bench: %s: %s\n", what, strerror(errno));
        exit(1);
}

static double now_us(void) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *)a, y = *(const double *)b;
        return x < y ? -1 : x > y;
}

static double median(double *v, size_t n) {
        qsort(v, n, sizeof(*v), cmp_double);
        return n ? v[n / 2] : 0;
}

/* Reads the whole maps into a preallocated buffer: the baseline. */
static double bare_read(struct bench *b) {
        double t0 = now_us();
        size_t len = 0;
        ssize_t n;

        while ((n = pread(b->maps_fd, b->bare_buf + len, b->bare_cap - len, (off_t)len)) > 0) {
                len += (size_t)n;
                if (len == b->bare_cap) {
                        b->bare_cap *= 2;
                        b->bare_buf = realloc(b->bare_buf, b->bare_cap);
                        if (!b->bare_buf)
                                die("realloc");
                }
        }
        return now_us() - t0;
}

/* A worker's change tick: read, parse what changed, diff. */
static double sample(struct bench *b) {
        size_t bad;
        double t0 = now_us();

        if (maps_read_fd(b->maps_fd, &b->cur) < 0 || maps_parse_since(&b->cur, &b->prev, &bad) < 0 ||
            diff_compute(&b->prev, &b->cur, &b->diff) < 0)
                die("sample");
        return now_us() - t0;
}

static void make_regions(struct bench *b) {
        size_t len = b->regions * b->page;

        b->area = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (b->area == MAP_FAILED)
                die("mmap");
        for (uint64_t i = 1; i < b->regions; i += 2)
                if (mprotect(b->area + i * b->page, b->page, PROT_READ | PROT_WRITE) < 0)
                        die("mprotect (is vm.max_map_count high enough?)");
}

/* Makes the untimed change of a round; on odd rounds, undoes it. */
static void change(struct bench *b, enum change c, size_t round) {
        static void *mapped;
        int undo = round & 1;

        switch (c) {
        case CH_FLIP: {
                /* Even rounds flip a page, odd rounds flip it back. */
                char *p = b->area + 2 * (round / 2 % (b->regions / 2)) * b->page;
                if (mprotect(p, b->page, undo ? PROT_READ : PROT_READ | PROT_WRITE) < 0)
                        die("mprotect");
                break;
        }
        case CH_ANON_EXEC:
        case CH_FILE_EXEC:
                if (undo) {
                        munmap(mapped, b->page);
                        break;
                }
                if (c == CH_ANON_EXEC) {
                        mapped =
                            mmap(NULL, b->page, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                } else {
                        int fd = open(b->lib_path, O_RDONLY | O_CLOEXEC);
                        if (fd < 0)
                                die(b->lib_path);
                        mapped = mmap(NULL, b->page, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
                        close(fd);
                }
                if (mapped == MAP_FAILED)
                        die("mmap");
                break;
        case CH_COUNT:
                break;
        }
}

static void measure_changes(struct bench *b) {
        double *bare = calloc(b->rounds, sizeof(double)), *smp = calloc(b->rounds, sizeof(double));
        double *al = calloc(b->rounds, sizeof(double)), *ra = calloc(b->rounds, sizeof(double));
        double *rs = calloc(b->rounds, sizeof(double));

        if (!bare || !smp || !al || !ra || !rs)
                die("calloc");
        printf("| change (%llu regions) | bare read µs | sample µs | alerts_change µs | alerts / bare | "
               "(sample + alerts) / bare | events | allocations per tick |\n",
               (unsigned long long)b->regions);
        printf("|---|---|---|---|---|---|---|---|\n");
        for (int c = 0; c < CH_COUNT; c++) {
                uint64_t events = 0, allocs = 0;
                for (size_t k = 0; k < b->rounds; k++) {
                        change(b, (enum change)c, k);
                        bare[k] = bare_read(b);
                        smp[k] = sample(b);
                        alert_events_reset(&b->ev);
                        uint64_t a0 = mm_alloc_count();
                        double t0 = now_us();
                        if (alerts_change(b->st, &b->prev, &b->cur, &b->diff, (uint64_t)t0, &b->ev) < 0)
                                die("alerts_change");
                        al[k] = now_us() - t0;
                        allocs += mm_alloc_count() - a0;
                        events += b->ev.n;
                        ra[k] = al[k] / bare[k];
                        rs[k] = (smp[k] + al[k]) / bare[k];
                        maps_snapshot_swap(&b->prev, &b->cur);
                }
                printf("| %s | %.0f | %.0f | %.1f | %.5f | %.3f | %.2f | %.2f |\n", change_name[c],
                       median(bare, b->rounds), median(smp, b->rounds), median(al, b->rounds),
                       median(ra, b->rounds), median(rs, b->rounds), (double)events / (double)b->rounds,
                       (double)allocs / (double)b->rounds);
        }
        free(bare);
        free(smp);
        free(al);
        free(ra);
        free(rs);
}

static void measure_first_and_unchanged(struct bench *b) {
        size_t n = b->rounds < 20 ? b->rounds : 20;
        double *bare = calloc(n, sizeof(double)), *t = calloc(n, sizeof(double)),
               *r = calloc(n, sizeof(double));
        const size_t ticks = 1000000;

        if (!bare || !t || !r)
                die("calloc");
        for (size_t k = 0; k < n; k++) {
                bare[k] = bare_read(b);
                alerts_forget(b->st);
                alert_events_reset(&b->ev);
                double t0 = now_us();
                if (alerts_first(b->st, &b->self, &b->prev, (uint64_t)t0, &b->ev) < 0)
                        die("alerts_first");
                t[k] = now_us() - t0;
                r[k] = t[k] / bare[k];
        }
        printf("\n| whole snapshot (%zu regions) | bare read µs | alerts_first µs | ratio "
               "|\n|---|---|---|---|\n",
               b->prev.n);
        printf("| attach or policy change | %.0f | %.0f | %.3f |\n", median(bare, n), median(t, n),
               median(r, n));

        uint64_t a0 = mm_alloc_count();
        double t0 = now_us(), bare_one = median(bare, n);
        for (size_t k = 0; k < ticks; k++)
                if (alerts_tick(b->st, &b->prev, (uint64_t)t0, &b->ev) != 0)
                        die("alerts_tick");
        double per = (now_us() - t0) / (double)ticks;
        printf("\n| unchanged tick | alerts_tick ns | ratio to the bare read | allocations "
               "|\n|---|---|---|---|\n");
        printf("| no change, no timed check due | %.1f | %.7f | %llu in %zu ticks |\n", per * 1000,
               per / bare_one, (unsigned long long)(mm_alloc_count() - a0), ticks);
        free(bare);
        free(t);
        free(r);
}

/* text_mismatch on one executable file mapping of M MiB, against reading
 * the same bytes from the file and the memory and comparing them. */
static void measure_text(struct bench *b) {
        char path[4096];
        size_t len = (size_t)b->text_mib << 20;
        struct maps_snapshot s;
        size_t bad;
        struct alerts_text_bufs bufs = {NULL, NULL, 256 * 1024};
        char reason[ALERTS_REASON_MAX];
        double best_text = 1e30, best_floor = 1e30;

        snprintf(path, sizeof(path), "%s/alerts_bench_text.XXXXXX", b->dir);
        int fd = mkstemp(path);
        if (fd < 0)
                die(path);
        char *chunk = malloc(1 << 20);
        if (!chunk)
                die("malloc");
        for (size_t i = 0; i < (1 << 20); i++)
                chunk[i] = (char)(i * 131 + (i >> 12));
        for (size_t off = 0; off < len; off += 1 << 20)
                if (pwrite(fd, chunk, 1 << 20, (off_t)off) != 1 << 20)
                        die("pwrite");
        char *m = mmap(NULL, len, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED)
                die("mmap text");
        unlink(path);
        volatile char sink = 0;
        for (size_t i = 0; i < len; i += b->page)
                sink += m[i];
        (void)sink;
        bufs.mem = malloc(2 * bufs.size);
        if (!bufs.mem)
                die("malloc");
        bufs.file = bufs.mem + bufs.size;
        maps_snapshot_init(&s);
        int mfd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
        if (mfd < 0 || maps_read_fd(mfd, &s) < 0 || maps_parse(&s, &bad) < 0)
                die("maps");
        close(mfd);
        const struct region *reg = NULL;
        for (size_t i = 0; i < s.n; i++)
                if (s.regions[i].start == (uintptr_t)m)
                        reg = &s.regions[i];
        if (!reg)
                die("the text mapping is not in maps");
        for (int rep = 0; rep < 5; rep++) {
                uint64_t used = 0, next = 0;
                alert_sysfs_ops.begin(b->fs, &b->self);
                double t0 = now_us();
                int d = alerts_text_compare(&alert_sysfs_ops, b->fs, &b->self, &s, reg, reg->start,
                                            UINT64_MAX, &bufs, &used, &next, reason, sizeof(reason));
                double t = now_us() - t0;
                alert_sysfs_ops.end(b->fs);
                if (d != 0 || used != len)
                        die("text compare did not compare it all, or found a difference");
                if (t < best_text)
                        best_text = t;
                /* The floor: the same reads and a memcmp. */
                t0 = now_us();
                for (size_t off = 0; off < len; off += bufs.size) {
                        struct iovec l = {bufs.mem, bufs.size}, r = {m + off, bufs.size};
                        if (pread(fd, bufs.file, bufs.size, (off_t)off) != (ssize_t)bufs.size ||
                            process_vm_readv(getpid(), &l, 1, &r, 1, 0) != (ssize_t)bufs.size)
                                die("floor read");
                        if (memcmp(bufs.mem, bufs.file, bufs.size) != 0)
                                die("floor compare");
                }
                t = now_us() - t0;
                if (t < best_floor)
                        best_floor = t;
        }
        double mib = (double)b->text_mib;
        printf("\n| text_mismatch (%llu MiB mapping, best of 5) | ms per MiB | MiB/s | floor (pread + "
               "process_vm_readv + memcmp) ms per MiB | ratio to the floor |\n|---|---|---|---|---|\n",
               (unsigned long long)b->text_mib);
        printf("| alerts_text_compare | %.3f | %.0f | %.3f | %.2f |\n", best_text / 1000 / mib,
               mib / (best_text / 1e6), best_floor / 1000 / mib, best_text / best_floor);
        maps_snapshot_fini(&s);
        munmap(m, len);
        close(fd);
        free(chunk);
        free(bufs.mem);
}

static uint64_t arg_u64(const char *s) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || end == s || *end || v == 0) {
                fprintf(stderr, "alerts_bench: bad number '%s'\n", s);
                exit(64);
        }
        return v;
}

int main(int argc, char **argv) {
        struct bench b;
        size_t bad;

        memset(&b, 0, sizeof(b));
        b.regions = 60000;
        b.rounds = 200;
        b.text_mib = 64;
        b.dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--regions") == 0 && i + 1 < argc)
                        b.regions = arg_u64(argv[++i]);
                else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
                        b.rounds = (size_t)arg_u64(argv[++i]);
                else if (strcmp(argv[i], "--text-mib") == 0 && i + 1 < argc)
                        b.text_mib = arg_u64(argv[++i]);
                else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
                        b.dir = argv[++i];
                else {
                        fprintf(stderr,
                                "usage: alerts_bench [--regions N] [--rounds R] [--text-mib M] [--dir D]\n");
                        return 64;
                }
        }
        b.page = (size_t)sysconf(_SC_PAGESIZE);
        b.self = (struct alert_proc){getpid(), 0, getuid()};
        snprintf(b.lib_path, sizeof(b.lib_path), "%s/alerts_bench_lib.XXXXXX", b.dir);
        int lfd = mkstemp(b.lib_path);
        if (lfd < 0 || ftruncate(lfd, (off_t)b.page) < 0)
                die(b.lib_path);
        close(lfd);
        make_regions(&b);
        b.bare_cap = 1 << 20;
        b.bare_buf = malloc(b.bare_cap);
        b.maps_fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
        if (!b.bare_buf || b.maps_fd < 0)
                die("/proc/self/maps");
        maps_snapshot_init(&b.prev);
        maps_snapshot_init(&b.cur);
        diff_init(&b.diff);
        alert_events_init(&b.ev);
        if (alert_sysfs_new(0, &b.fs) < 0 || alert_state_new(&alert_sysfs_ops, b.fs, &b.st) < 0)
                die("alert state");
        if (maps_read_fd(b.maps_fd, &b.prev) < 0 || maps_parse(&b.prev, &bad) < 0)
                die("first read");
        if (alerts_first(b.st, &b.self, &b.prev, (uint64_t)now_us(), &b.ev) < 0)
                die("alerts_first");
        printf("alerts_bench: %zu regions in /proc/self/maps (%zu bytes), %zu rounds\n\n", b.prev.n,
               b.prev.len, b.rounds);
        measure_changes(&b);
        measure_first_and_unchanged(&b);
        measure_text(&b);
        unlink(b.lib_path);
        alert_state_free(b.st);
        alert_sysfs_free(b.fs);
        alert_events_fini(&b.ev);
        diff_fini(&b.diff);
        maps_snapshot_fini(&b.prev);
        maps_snapshot_fini(&b.cur);
        free(b.bare_buf);
        return 0;
}
