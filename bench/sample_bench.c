/*
 * sample_bench: what one sample of /proc/PID/maps costs, next to the bare
 * read() of the same file.
 *
 *   sample_bench [--regions 100,1000,10000,60000] [--kinds anon,file]
 *                [--seconds S] [--max-reps N] [--no-pmap] [--workload PATH]
 *                [--dir TMPDIR]
 *
 * For every size and kind it starts bench/workload as a child, then times
 * the variants below alternately, one of each per round in a new random
 * order every round, after a warm-up, until about S seconds have passed:
 *   a     pread from 0 until EOF into a preallocated buffer, fd opened once
 *   a_ocr open + read until EOF + close
 *   a2    maps_read_fd alone (the agent's read)
 *   b     read + maps_parse (a full parse: the first sample of a target)
 *   c     read + maps_parse_since + diff_compute against an identical
 *         previous snapshot (parse and diff as the worker does them)
 *   c2    read + length check + memcmp with the previous text (the worker's
 *         path on a tick where nothing changed)
 *   d     the workload has just flipped one page (untimed, by command):
 *         read + maps_parse_since + checksum + diff + backup_write_diff in a
 *         temp folder: the change tick as the agent did it before reads
 *         were confirmed (issue 9)
 *   e     the same change, through the agent's own code: worker_tick(),
 *         which reads again until two reads agree and checks them against
 *         the process's size and file mappings before it writes (the page
 *         is flipped back, and that change recorded, untimed)
 *   e0    worker_tick() on a tick with no change (read + memcmp)
 *   pmap  `pmap PID` as a whole process (fork, exec, wait), when installed
 * and prints markdown tables: median and p90 wall time (CLOCK_MONOTONIC) in
 * microseconds; the ratio to (a), as the median over rounds of each sample's
 * time divided by the bare read of the same round, in wall time and in the
 * thread's CPU time (which leaves out time spent preempted on a busy
 * machine); and the allocations per tick in steady state, counted both by
 * core/alloc's mm_alloc_count and by wrapping malloc at link time (which
 * also gives the bytes).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/backup.h"
#include "core/diff.h"
#include "core/maps.h"
#include "core/proc.h"
#include "core/worker.h"

/* Link-time wrappers (-Wl,--wrap=...): every malloc call made by code linked
 * into this binary, core/ included, is counted here with its size. */
void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);

static _Thread_local uint64_t wrap_calls;
static _Thread_local uint64_t wrap_bytes;

void *__wrap_malloc(size_t size) {
        wrap_calls++;
        wrap_bytes += size;
        return __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size) {
        wrap_calls++;
        wrap_bytes += n * size;
        return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size) {
        wrap_calls++;
        wrap_bytes += size;
        return __real_realloc(p, size);
}

enum variant {
        V_A,
        V_A_OCR,
        V_A2,
        V_B,
        V_C,
        V_C2,
        V_D,
        V_E,
        V_E0,
        V_PMAP,
        V_COUNT,
};

static const char *const variant_name[V_COUNT] = {
    [V_A] = "(a) bare pread, fd kept open",
    [V_A_OCR] = "(a') open + read + close",
    [V_A2] = "(a2) maps_read_fd",
    [V_B] = "(b) read + parse",
    [V_C] = "(c) read + parse + diff, no change",
    [V_C2] = "(c2) read + memcmp (worker, no change)",
    [V_D] = "(d) change: read + parse + xxh3 + diff + write",
    [V_E] = "(e) change: worker_tick (confirmed re-read) + write",
    [V_E0] = "(e0) worker_tick, no change",
    [V_PMAP] = "pmap PID (fork, exec, wait)",
};

#define MAX_STAGE_LINES 64
#define BARE_MIN_CAP ((size_t)64 * 1024)

/* Stages of (d), timed separately inside its sample. */
enum stage {
        S_READ,
        S_PARSE,
        S_SUM,
        S_DIFF,
        S_WRITE,
        S_COUNT,
};

struct series {
        double *v;   /* wall time, CLOCK_MONOTONIC, µs; v[k] is round k's */
        double *cpu; /* the thread's CPU time, µs */
        size_t n;
        size_t cap;
        uint64_t allocs;     /* mm_alloc_count delta, summed */
        uint64_t wrap_calls; /* malloc calls seen by the wrappers, summed */
        uint64_t wrap_bytes;
};

struct options {
        uint64_t sizes[16];
        size_t n_sizes;
        int anon;
        int file;
        double seconds;
        size_t max_reps;
        int pmap;
        char workload[4096];
        char pmap_path[4096];
        const char *dir;
};

struct workload {
        pid_t pid;       /* the child */
        pid_t target;    /* the pid it reported */
        FILE *in;        /* its stdin */
        FILE *out;       /* its stdout */
        char file[4096]; /* the backing file, "" for anon */
};

struct bench {
        const struct options *opt;
        struct workload wl;
        char maps_path[64];
        int fd_a, fd_a2, fd_b, fd_c, fd_c2, fd_d;
        char *buf; /* (a) */
        size_t buf_cap;
        size_t len_a;
        struct maps_snapshot s_a2, s_b, prev_c, cur_c, prev_c2, cur_c2, prev_d, cur_d;
        struct diff diff_c, diff_d;
        struct backup_store store;
        char store_dir[4096];
        struct worker *worker; /* (e), (e0) */
        char worker_dir[4096];
        struct backup_info info;
        uint64_t flip_addr;
        struct series ser[V_COUNT];
        struct series stage[S_COUNT];
        uint64_t unexpected; /* samples that did not see what they should have */
        char stage_lines[MAX_STAGE_LINES][256];
        size_t n_stage_lines;
};

static double now_us(void) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static double cpu_us(void) {
        struct timespec t;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
        return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...) {
        va_list ap;
        fprintf(stderr, "sample_bench: ");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        exit(1);
}

static void series_add(struct series *s, double v, double cpu) {
        if (s->n == s->cap) {
                size_t cap = s->cap ? s->cap * 2 : 256;
                double *p = realloc(s->v, cap * sizeof(*p)), *q;
                if (!p)
                        die("out of memory");
                s->v = p;
                q = realloc(s->cpu, cap * sizeof(*q));
                if (!q)
                        die("out of memory");
                s->cpu = q;
                s->cap = cap;
        }
        s->cpu[s->n] = cpu;
        s->v[s->n++] = v;
}

static void series_reset(struct series *s) {
        s->n = 0;
        s->allocs = s->wrap_calls = s->wrap_bytes = 0;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *)a, y = *(const double *)b;
        return x < y ? -1 : x > y;
}

/* The q-quantile (nearest rank) of v[0..n); sorts v in place. */
static double quantile(double *v, size_t n, double q) {
        if (n == 0)
                return 0;
        qsort(v, n, sizeof(*v), cmp_double);
        size_t k = (size_t)(q * (double)n + 0.999999);
        if (k < 1)
                k = 1;
        if (k > n)
                k = n;
        return v[k - 1];
}

/* The median over rounds of x[k] / a[k]: each sample against the bare read
 * of its own round, so that slow drifts of the machine cancel out. */
static double paired_ratio(const double *x, const double *a, size_t n, double *tmp) {
        for (size_t k = 0; k < n; k++)
                tmp[k] = x[k] / a[k];
        return quantile(tmp, n, 0.5);
}

static int parse_u64(const char *s, uint64_t *ret) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || end == s || *end)
                return -EINVAL;
        *ret = v;
        return 0;
}

/* The path of a program next to this binary, or found in PATH. */
static int find_next_to_self(const char *name, char *ret, size_t size) {
        char self[4096];
        ssize_t k = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (k <= 0)
                return -errno;
        self[k] = '\0';
        char *slash = strrchr(self, '/');
        if (!slash)
                return -ENOENT;
        *slash = '\0';
        int n = snprintf(ret, size, "%s/%s", self, name);
        if (n < 0 || (size_t)n >= size)
                return -ENAMETOOLONG;
        return access(ret, X_OK) == 0 ? 0 : -ENOENT;
}

static int find_in_path(const char *name, char *ret, size_t size) {
        const char *path = getenv("PATH");
        if (!path)
                path = "/usr/bin:/bin";
        while (*path) {
                const char *colon = strchr(path, ':');
                size_t len = colon ? (size_t)(colon - path) : strlen(path);
                int n = snprintf(ret, size, "%.*s/%s", (int)len, path, name);
                if (n > 0 && (size_t)n < size && access(ret, X_OK) == 0)
                        return 0;
                path += len + (colon ? 1 : 0);
        }
        return -ENOENT;
}

static void usage(FILE *f) {
        fprintf(f, "usage: sample_bench [--regions LIST] [--kinds anon,file] [--seconds S] [--max-reps N]\n"
                   "                    [--no-pmap] [--workload PATH] [--dir TMPDIR]\n"
                   "  --regions LIST   comma-separated region counts (default 100,1000,10000,60000)\n"
                   "  --kinds LIST     anon, file or both (default anon,file)\n"
                   "  --seconds S      measuring time per size and kind (default 8)\n"
                   "  --max-reps N     at most N rounds per size and kind (default 3000)\n"
                   "  --no-pmap        do not time pmap\n");
}

static void parse_options(int argc, char **argv, struct options *o) {
        memset(o, 0, sizeof(*o));
        static const uint64_t def_sizes[] = {100, 1000, 10000, 60000};
        memcpy(o->sizes, def_sizes, sizeof(def_sizes));
        o->n_sizes = 4;
        o->anon = o->file = 1;
        o->seconds = 8;
        o->max_reps = 3000;
        o->pmap = 1;
        o->dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        const char *workload = NULL;
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
                if (strcmp(a, "--regions") == 0 && v) {
                        char tmp[256];
                        snprintf(tmp, sizeof(tmp), "%s", v);
                        o->n_sizes = 0;
                        char *save = NULL;
                        for (char *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                                if (o->n_sizes == 16 || parse_u64(t, &o->sizes[o->n_sizes]) < 0 ||
                                    o->sizes[o->n_sizes] < 4)
                                        die("bad --regions '%s' (counts of at least 4)", v);
                                o->n_sizes++;
                        }
                        i++;
                } else if (strcmp(a, "--kinds") == 0 && v) {
                        o->anon = strstr(v, "anon") != NULL;
                        o->file = strstr(v, "file") != NULL;
                        if (!o->anon && !o->file)
                                die("bad --kinds '%s'", v);
                        i++;
                } else if (strcmp(a, "--seconds") == 0 && v) {
                        char *end;
                        o->seconds = strtod(v, &end);
                        if (*end || o->seconds <= 0)
                                die("bad --seconds '%s'", v);
                        i++;
                } else if (strcmp(a, "--max-reps") == 0 && v) {
                        uint64_t n;
                        if (parse_u64(v, &n) < 0 || n < 5)
                                die("bad --max-reps '%s'", v);
                        o->max_reps = n;
                        i++;
                } else if (strcmp(a, "--no-pmap") == 0) {
                        o->pmap = 0;
                } else if (strcmp(a, "--workload") == 0 && v) {
                        workload = v;
                        i++;
                } else if (strcmp(a, "--dir") == 0 && v) {
                        o->dir = v;
                        i++;
                } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
                        usage(stdout);
                        exit(0);
                } else {
                        usage(stderr);
                        exit(64);
                }
        }
        if (workload)
                snprintf(o->workload, sizeof(o->workload), "%s", workload);
        else if (find_next_to_self("workload", o->workload, sizeof(o->workload)) < 0)
                die("cannot find the workload binary next to this one; pass --workload PATH");
        if (o->pmap && find_in_path("pmap", o->pmap_path, sizeof(o->pmap_path)) < 0) {
                fprintf(stderr, "sample_bench: pmap not found (procps); its row is left out\n");
                o->pmap = 0;
        }
}

/* Reads one line from the workload.  Dies when it ends or says "error". */
static void wl_line(struct workload *wl, char *line, size_t size) {
        if (!fgets(line, (int)size, wl->out))
                die("the workload ended unexpectedly");
        if (strncmp(line, "error", 5) == 0)
                die("workload: %s", line);
}

static void wl_start(struct workload *wl, const char *bin, uint64_t regions, const char *file) {
        int in[2], out[2];
        char n[32];
        snprintf(n, sizeof(n), "%llu", (unsigned long long)regions);
        if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
                die("pipe: %s", strerror(errno));
        pid_t pid = fork();
        if (pid < 0)
                die("fork: %s", strerror(errno));
        if (pid == 0) {
                /* The workload must not outlive the benchmark. */
                prctl(PR_SET_PDEATHSIG, SIGTERM);
                dup2(in[0], 0);
                dup2(out[1], 1);
                if (file)
                        execl(bin, "workload", "--regions", n, "--file", file, (char *)NULL);
                else
                        execl(bin, "workload", "--regions", n, (char *)NULL);
                _exit(127);
        }
        close(in[0]);
        close(out[1]);
        wl->pid = pid;
        wl->in = fdopen(in[1], "w");
        wl->out = fdopen(out[0], "r");
        snprintf(wl->file, sizeof(wl->file), "%s", file ? file : "");
        char line[256];
        int target;
        wl_line(wl, line, sizeof(line));
        if (sscanf(line, "ready %d", &target) != 1)
                die("workload said '%s' instead of 'ready PID'", line);
        wl->target = target;
}

static void wl_command(struct workload *wl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void wl_command(struct workload *wl, const char *fmt, ...) {
        char line[256];
        va_list ap;
        va_start(ap, fmt);
        vfprintf(wl->in, fmt, ap);
        va_end(ap);
        fflush(wl->in);
        wl_line(wl, line, sizeof(line));
}

static void wl_stop(struct workload *wl) {
        fclose(wl->in);
        fclose(wl->out);
        kill(wl->pid, SIGTERM);
        waitpid(wl->pid, NULL, 0);
        if (wl->file[0])
                unlink(wl->file);
}

/* (a): the kernel's floor.  The buffer is sized in the warm-up, so the loop
 * only reads.  It starts at 64 KiB and doubles, as the agent's does: the
 * size of the count passed to read() shows in the kernel's cost (a few per
 * cent more with 1 MiB than with 64 KiB on small maps), and the floor must
 * not be made slower than what it is compared with. */
static int bare_read(int fd, char **buf, size_t *cap, size_t *ret_len) {
        size_t len = 0;
        for (;;) {
                if (len == *cap) {
                        size_t ncap = *cap ? *cap * 2 : BARE_MIN_CAP;
                        char *p = realloc(*buf, ncap);
                        if (!p)
                                return -ENOMEM;
                        *buf = p;
                        *cap = ncap;
                }
                ssize_t k = pread(fd, *buf + len, *cap - len, (off_t)len);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                len += (size_t)k;
        }
        *ret_len = len;
        return 0;
}

static int open_maps(const struct bench *b) {
        int fd = open(b->maps_path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                die("%s: %s", b->maps_path, strerror(errno));
        return fd;
}

static void read_parse(struct bench *b, int fd, struct maps_snapshot *s) {
        size_t bad = 0;
        if (maps_read_fd(fd, s) < 0 || s->len == 0 || maps_parse(s, &bad) < 0)
                die("cannot read or parse %s (line %zu)", b->maps_path, bad);
}

/* Finds a one-page read-only region whose neighbours are one-page
 * read-write regions right next to it, in the middle of the workload's
 * block: making it read-write merges the three, and making it read-only
 * again splits them back into the same lines. */
static uint64_t find_flip_page(const struct maps_snapshot *s, int file) {
        long page = sysconf(_SC_PAGESIZE);
        size_t found[2] = {0, 0}, count = 0;
        for (size_t i = 1; i + 1 < s->n; i++) {
                const struct region *p = &s->regions[i - 1], *r = &s->regions[i], *q = &s->regions[i + 1];
                if (r->end - r->start != (uint64_t)page || memcmp(r->perms, "r--p", 4) != 0 ||
                    memcmp(p->perms, "rw-p", 4) != 0 || memcmp(q->perms, "rw-p", 4) != 0 ||
                    p->end != r->start || r->end != q->start || (r->inode != 0) != file)
                        continue;
                if (count == 0)
                        found[0] = i;
                found[1] = i;
                count++;
        }
        if (count == 0)
                die("no page to flip in the workload's maps");
        /* The middle candidate. */
        size_t k = found[0] + (found[1] - found[0]) / 2;
        while (k < s->n && memcmp(s->regions[k].perms, "r--p", 4) != 0)
                k++;
        return s->regions[k].start;
}

static void remove_store(struct bench *b) {
        char p[4200];
        backup_store_close(&b->store);
        snprintf(p, sizeof(p), "%s/incremental", b->store_dir);
        rmdir(p);
        snprintf(p, sizeof(p), "%s/full", b->store_dir);
        rmdir(p);
        rmdir(b->store_dir);
}

/* Removes the files of one folder of a store, then the folder. */
static void remove_files(const char *dir) {
        DIR *d = opendir(dir);
        struct dirent *e;
        char p[4400];
        while (d && (e = readdir(d))) {
                if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
                        continue;
                snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
                unlink(p);
        }
        if (d)
                closedir(d);
        rmdir(dir);
}

/* The agent's worker for (e) and (e0): the workload by pid, its backups in
 * a folder of their own, no full snapshot but the first, no retention. */
static void worker_setup(struct bench *b) {
        int n = snprintf(b->worker_dir, sizeof(b->worker_dir), "%s/memmon_bench_%d_worker", b->opt->dir,
                         (int)getpid());
        if (n < 0 || (size_t)n >= sizeof(b->worker_dir))
                die("--dir too long");
        struct worker_params p = {
            .name = "bench",
            .selector = SELECT_PID,
            .pid = b->wl.target,
            .backup_dir = b->worker_dir,
            .policy = {.interval_us = 1000000, .full_every = UINT32_MAX},
        };
        struct worker_env env = {0};
        int r = worker_new(&p, &env, 0, &b->worker);
        if (r < 0)
                die("worker_new: %s", strerror(-r));
        r = worker_tick(b->worker);
        if (r < 0)
                die("the worker's first snapshot: %s", strerror(-r));
}

static void worker_teardown(struct bench *b) {
        char p[4200];
        worker_free(b->worker, 0);
        b->worker = NULL;
        snprintf(p, sizeof(p), "%s/incremental", b->worker_dir);
        remove_files(p);
        snprintf(p, sizeof(p), "%s/full", b->worker_dir);
        remove_files(p);
        rmdir(b->worker_dir);
}

static void setup(struct bench *b, uint64_t regions, int file) {
        const struct options *o = b->opt;
        char path[4096];
        if (file) {
                int n = snprintf(path, sizeof(path), "%s/memmon_bench_%d_%llu.data", o->dir, (int)getpid(),
                                 (unsigned long long)regions);
                if (n < 0 || (size_t)n >= sizeof(path))
                        die("--dir too long");
        }
        wl_start(&b->wl, o->workload, regions, file ? path : NULL);
        snprintf(b->maps_path, sizeof(b->maps_path), "/proc/%d/maps", (int)b->wl.target);
        b->fd_a = open_maps(b);
        b->fd_a2 = open_maps(b);
        b->fd_b = open_maps(b);
        b->fd_c = open_maps(b);
        b->fd_c2 = open_maps(b);
        b->fd_d = open_maps(b);

        struct maps_snapshot *snaps[] = {&b->s_a2,    &b->s_b,    &b->prev_c, &b->cur_c,
                                         &b->prev_c2, &b->cur_c2, &b->prev_d, &b->cur_d};
        for (size_t i = 0; i < sizeof(snaps) / sizeof(snaps[0]); i++)
                maps_snapshot_init(snaps[i]);
        diff_init(&b->diff_c);
        diff_init(&b->diff_d);

        read_parse(b, b->fd_c, &b->prev_c);
        read_parse(b, b->fd_c2, &b->prev_c2);
        read_parse(b, b->fd_d, &b->prev_d);
        b->prev_d.checksum = maps_checksum(b->prev_d.text, b->prev_d.len);
        b->flip_addr = find_flip_page(&b->prev_d, file);

        int n =
            snprintf(b->store_dir, sizeof(b->store_dir), "%s/memmon_bench_%d_backups", o->dir, (int)getpid());
        if (n < 0 || (size_t)n >= sizeof(b->store_dir))
                die("--dir too long");
        int r = backup_store_open(&b->store, b->store_dir);
        if (r < 0)
                die("backup_store_open %s: %s", b->store_dir, strerror(-r));
        struct proc_id id;
        if (proc_identity(b->wl.target, &id) < 0)
                die("the workload is gone");
        b->info = (struct backup_info){.target = "bench", .pid = id.pid, .start_time = id.start_time};
        worker_setup(b);
        for (int v = 0; v < V_COUNT; v++)
                series_reset(&b->ser[v]);
        for (int s = 0; s < S_COUNT; s++)
                series_reset(&b->stage[s]);
        b->unexpected = 0;
}

static void teardown(struct bench *b) {
        int fds[] = {b->fd_a, b->fd_a2, b->fd_b, b->fd_c, b->fd_c2, b->fd_d};
        for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
                close(fds[i]);
        struct maps_snapshot *snaps[] = {&b->s_a2,    &b->s_b,    &b->prev_c, &b->cur_c,
                                         &b->prev_c2, &b->cur_c2, &b->prev_d, &b->cur_d};
        for (size_t i = 0; i < sizeof(snaps) / sizeof(snaps[0]); i++)
                maps_snapshot_fini(snaps[i]);
        diff_fini(&b->diff_c);
        diff_fini(&b->diff_d);
        remove_store(b);
        worker_teardown(b);
        wl_stop(&b->wl);
        free(b->buf);
        b->buf = NULL;
        b->buf_cap = 0;
}

static int run_pmap(struct bench *b) {
        char pid[32];
        snprintf(pid, sizeof(pid), "%d", (int)b->wl.target);
        pid_t child = fork();
        if (child < 0)
                return -errno;
        if (child == 0) {
                int null = open("/dev/null", O_WRONLY);
                if (null >= 0) {
                        dup2(null, 1);
                        dup2(null, 2);
                }
                execl(b->opt->pmap_path, "pmap", pid, (char *)NULL);
                _exit(127);
        }
        int status;
        while (waitpid(child, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

/* Runs variant v once.  Returns its time in µs; record says whether to keep
 * the time and the allocation counts. */
static double run_variant(struct bench *b, enum variant v, int record) {
        struct series *ser = &b->ser[v];
        double t0, t1, c0, c1, st[S_COUNT + 1];
        size_t bad = 0;
        int r = 0;
        char name[BACKUP_NAME_SIZE];

        if (v == V_D || v == V_E)
                wl_command(&b->wl, "protect %llx 1 rw\n", (unsigned long long)b->flip_addr);
        struct worker_status ws0, ws1;
        if (v == V_E || v == V_E0)
                worker_get_status(b->worker, &ws0);
        uint64_t a0 = mm_alloc_count(), w0 = wrap_calls, wb0 = wrap_bytes;
        c0 = cpu_us();
        t0 = now_us();
        switch (v) {
        case V_A:
                r = bare_read(b->fd_a, &b->buf, &b->buf_cap, &b->len_a);
                break;
        case V_A_OCR: {
                int fd = open(b->maps_path, O_RDONLY | O_CLOEXEC);
                if (fd < 0) {
                        r = -errno;
                        break;
                }
                r = bare_read(fd, &b->buf, &b->buf_cap, &b->len_a);
                close(fd);
                break;
        }
        case V_A2:
                r = maps_read_fd(b->fd_a2, &b->s_a2);
                break;
        case V_B:
                r = maps_read_fd(b->fd_b, &b->s_b);
                if (r == 0)
                        r = maps_parse(&b->s_b, &bad);
                break;
        case V_C:
                r = maps_read_fd(b->fd_c, &b->cur_c);
                if (r == 0)
                        r = maps_parse_since(&b->cur_c, &b->prev_c, &bad);
                if (r == 0)
                        r = diff_compute(&b->prev_c, &b->cur_c, &b->diff_c);
                if (r > 0) {
                        b->unexpected++;
                        r = 0;
                }
                break;
        case V_C2:
                r = maps_read_fd(b->fd_c2, &b->cur_c2);
                if (r == 0 && !(b->cur_c2.len == b->prev_c2.len &&
                                memcmp(b->cur_c2.text, b->prev_c2.text, b->cur_c2.len) == 0))
                        b->unexpected++;
                break;
        case V_D:
                st[0] = t0;
                r = maps_read_fd(b->fd_d, &b->cur_d);
                st[1] = now_us();
                if (r == 0)
                        r = maps_parse_since(&b->cur_d, &b->prev_d, &bad);
                st[2] = now_us();
                b->cur_d.checksum = maps_checksum(b->cur_d.text, b->cur_d.len);
                st[3] = now_us();
                if (r == 0)
                        r = diff_compute(&b->prev_d, &b->cur_d, &b->diff_d);
                st[4] = now_us();
                if (r == 0)
                        b->unexpected++;
                if (r > 0)
                        r = backup_write_diff(&b->store, &b->info, &b->prev_d, &b->cur_d, &b->diff_d, name);
                else if (r == 0)
                        r = -ENODATA;
                st[5] = now_us();
                break;
        case V_E:
        case V_E0:
                r = worker_tick(b->worker);
                break;
        case V_PMAP:
                r = run_pmap(b);
                break;
        case V_COUNT:
                break;
        }
        t1 = now_us();
        c1 = cpu_us();
        uint64_t a1 = mm_alloc_count(), w1 = wrap_calls, wb1 = wrap_bytes;
        if (r < 0)
                die("%s on %s failed: %s", variant_name[v], b->maps_path, strerror(-r));
        if (v == V_D) {
                /* Leave the workload and the folder as they were. */
                if (unlinkat(b->store.incr_fd, name, 0) < 0)
                        die("unlink %s: %s", name, strerror(errno));
                wl_command(&b->wl, "protect %llx 1 r\n", (unsigned long long)b->flip_addr);
        }
        if (v == V_E || v == V_E0) {
                worker_get_status(b->worker, &ws1);
                uint64_t written =
                    ws1.diffs_written + ws1.full_written - ws0.diffs_written - ws0.full_written;
                if (written != (v == V_E ? 1u : 0u))
                        b->unexpected++;
        }
        if (v == V_E) {
                /* Back as it was, and that recorded, so that the next (e)
                 * sees a change and (e0) none. */
                wl_command(&b->wl, "protect %llx 1 r\n", (unsigned long long)b->flip_addr);
                if (worker_tick(b->worker) < 0)
                        die("worker_tick after the flip back failed");
        }
        if (record) {
                series_add(ser, t1 - t0, c1 - c0);
                ser->allocs += a1 - a0;
                ser->wrap_calls += w1 - w0;
                ser->wrap_bytes += wb1 - wb0;
                if (v == V_D)
                        for (int s = 0; s < S_COUNT; s++)
                                series_add(&b->stage[s], st[s + 1] - st[s], 0);
        }
        return t1 - t0;
}

static void measure(struct bench *b, uint64_t regions, int file) {
        const struct options *o = b->opt;
        int nv = o->pmap ? V_COUNT : V_PMAP;

        setup(b, regions, file);
        /* Warm-up: buffers reach their size, caches fill, and one round
         * tells how many rounds fit in the time given. */
        double round_us = 0;
        for (int w = 0; w < 3; w++) {
                double t0 = now_us();
                for (int v = 0; v < nv; v++)
                        run_variant(b, (enum variant)v, 0);
                round_us = now_us() - t0;
        }
        size_t reps = (size_t)(o->seconds * 1e6 / round_us);
        if (reps < 21)
                reps = 21;
        if (reps > o->max_reps)
                reps = o->max_reps;
        /* A new random order every round: in a fixed cycle each variant would
         * always follow the same one, and what runs before a sample shows in
         * its time (after (d) and pmap the caches are cold). */
        uint64_t seed = UINT64_C(0x9e3779b97f4a7c15);
        for (size_t k = 0; k < reps; k++) {
                int order[V_COUNT];
                for (int i = 0; i < nv; i++)
                        order[i] = i;
                for (int i = nv - 1; i > 0; i--) {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        int j = (int)(seed % (uint64_t)(i + 1)), t = order[i];
                        order[i] = order[j];
                        order[j] = t;
                }
                for (int i = 0; i < nv; i++)
                        run_variant(b, (enum variant)order[i], 1);
        }

        struct series *sa = &b->ser[V_A];
        size_t nr = sa->n;
        double *tmp = malloc(nr * sizeof(*tmp));
        if (!tmp)
                die("out of memory");
        /* Ratios first: quantile() sorts, which breaks the pairing. */
        double ratio[V_COUNT], cpu_ratio[V_COUNT];
        for (int v = 0; v < nv; v++) {
                ratio[v] = paired_ratio(b->ser[v].v, sa->v, nr, tmp);
                cpu_ratio[v] = paired_ratio(b->ser[v].cpu, sa->cpu, nr, tmp);
        }
        free(tmp);
        double a_med = 0;
        size_t lines = b->prev_c.n;
        for (int v = 0; v < nv; v++) {
                struct series *s = &b->ser[v];
                size_t n = s->n;
                double med = quantile(s->v, n, 0.5), p90 = quantile(s->v, n, 0.9);
                if (v == V_A)
                        a_med = med;
                printf("| %llu | %s | %s | %.1f | %.1f | %.3f | ", (unsigned long long)regions,
                       file ? "file" : "anon", variant_name[v], med, p90, ratio[v]);
                /* A child's CPU time is not the thread's. */
                if (v == V_PMAP)
                        printf("– |");
                else
                        printf("%.3f |", cpu_ratio[v]);
                printf(" %.2f | %.2f | %.0f |\n", (double)s->allocs / (double)n,
                       (double)s->wrap_calls / (double)n, (double)s->wrap_bytes / (double)n);
        }
        printf(
            "| %llu | %s | _maps: %zu lines, %zu bytes, %zu rounds; read %.3f µs/line_ | | | | | | | | |\n",
            (unsigned long long)regions, file ? "file" : "anon", lines, b->prev_c.len, reps,
            a_med / (double)lines);
        if (b->unexpected)
                printf("| %llu | %s | _warning: %llu samples saw an unexpected change_ | | | | | | | | |\n",
                       (unsigned long long)regions, file ? "file" : "anon",
                       (unsigned long long)b->unexpected);
        fflush(stdout);

        /* The stages of (d), kept for the second table. */
        if (b->n_stage_lines < MAX_STAGE_LINES) {
                double m[S_COUNT];
                for (int s = 0; s < S_COUNT; s++)
                        m[s] = quantile(b->stage[s].v, b->stage[s].n, 0.5);
                snprintf(b->stage_lines[b->n_stage_lines++], sizeof(b->stage_lines[0]),
                         "| %llu | %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.3f |",
                         (unsigned long long)regions, file ? "file" : "anon", m[S_READ], m[S_PARSE], m[S_SUM],
                         m[S_DIFF], m[S_WRITE], (m[S_READ] + m[S_PARSE] + m[S_SUM] + m[S_DIFF]) / m[S_READ]);
        }
        teardown(b);
}

int main(int argc, char **argv) {
        struct options o;
        parse_options(argc, argv, &o);
        struct bench *b = calloc(1, sizeof(*b));
        if (!b)
                die("out of memory");
        b->opt = &o;
        printf("| regions | kind | variant | median µs | p90 µs | × (a) | × (a) CPU | mm_alloc/tick | "
               "malloc/tick | bytes/tick |\n");
        printf("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
        fflush(stdout);
        for (size_t i = 0; i < o.n_sizes; i++) {
                if (o.anon)
                        measure(b, o.sizes[i], 0);
                if (o.file)
                        measure(b, o.sizes[i], 1);
        }
        printf("\nStages of (d), medians in µs (each stage's median on its own, so they need not add up to "
               "(d)):\n\n");
        printf("| regions | kind | read | parse | xxh3 | diff | write | (read..diff) / read |\n");
        printf("|---:|---|---:|---:|---:|---:|---:|---:|\n");
        for (size_t i = 0; i < b->n_stage_lines; i++)
                printf("%s\n", b->stage_lines[i]);
        for (int v = 0; v < V_COUNT; v++) {
                free(b->ser[v].v);
                free(b->ser[v].cpu);
        }
        for (int s = 0; s < S_COUNT; s++) {
                free(b->stage[s].v);
                free(b->stage[s].cpu);
        }
        free(b);
        return 0;
}
