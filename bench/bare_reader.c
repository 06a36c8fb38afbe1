/*
 * bare_reader: the baseline of the agent benchmark.  It reads the maps of
 * the same processes at the same interval as the agent would, and does
 * nothing else: every interval, on absolute CLOCK_MONOTONIC deadlines, it
 * opens each /proc/PID/maps, reads it whole into one reused buffer and closes
 * it.  One thread (but with -P).
 *
 *   bare_reader [-T INTERVAL] [-c FILE.ini] [-s SECONDS] [-k] [-S | -P] [PID...]
 *
 * -T takes microseconds or 100ms, 1s (default 1s).  -c takes the pids of the
 * `pid = N` keys of an INI file's [target:NAME] sections (exec, pidfile and
 * match targets are ignored).  -s stops after that many seconds (default: at
 * SIGTERM or SIGINT).  -k keeps each fd open and preads from 0 instead, as
 * the agent's workers do.  -S spreads the targets over the interval, one
 * wake-up per target (target i is due at i * INTERVAL / N), as the agent
 * spreads its workers' first samples: it shows what the wake-ups cost apart
 * from threads.  -P runs one thread per target instead (spread the same
 * way, each sleeping in clock_nanosleep on its own absolute deadline, with
 * its own buffer and an fd kept open), as the agent's thread-per-target
 * design does minus its locks and condition variables.  At the end it
 * prints one line to stderr: ticks, files read, bytes, missed deadlines and
 * its own CPU time.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/proc.h"

static volatile sig_atomic_t stop;
/* -P: the signal handler's flag, seen by the target threads. */
static atomic_int stop_threads;

static void on_signal(int sig) {
        (void)sig;
        stop = 1;
}

struct target {
        pid_t pid;
        char path[32];
        int fd; /* -k only */
};

struct reader {
        struct target *t;
        size_t n;
        size_t cap;
        char *buf;
        size_t buf_cap;
        uint64_t reads;
        uint64_t failed;
        uint64_t bytes;
};

static int parse_u64(const char *s, uint64_t *ret) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || end == s || *end)
                return -EINVAL;
        *ret = v;
        return 0;
}

/* Microseconds, or a number with a unit: us, ms, s. */
static int parse_interval(const char *s, uint64_t *ret) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || end == s)
                return -EINVAL;
        uint64_t mul = 1;
        if (strcmp(end, "ms") == 0)
                mul = 1000;
        else if (strcmp(end, "s") == 0)
                mul = 1000000;
        else if (*end && strcmp(end, "us") != 0)
                return -EINVAL;
        if (v == 0 || v > UINT64_MAX / mul)
                return -EINVAL;
        *ret = v * mul;
        return 0;
}

static int add_pid(struct reader *r, uint64_t pid) {
        if (pid == 0 || pid > PROC_PID_MAX)
                return -EINVAL;
        if (r->n == r->cap) {
                size_t cap = r->cap ? r->cap * 2 : 64;
                struct target *t = realloc(r->t, cap * sizeof(*t));
                if (!t)
                        return -ENOMEM;
                r->t = t;
                r->cap = cap;
        }
        struct target *t = &r->t[r->n++];
        t->pid = (pid_t)pid;
        t->fd = -1;
        snprintf(t->path, sizeof(t->path), "/proc/%d/maps", (int)pid);
        return 0;
}

static char *trim(char *s) {
        while (isspace((unsigned char)*s))
                s++;
        char *e = s + strlen(s);
        while (e > s && isspace((unsigned char)e[-1]))
                *--e = '\0';
        return s;
}

/* The `pid = N` keys of [target:NAME] sections. */
static int read_ini(struct reader *r, const char *path) {
        FILE *f = fopen(path, "re");
        if (!f) {
                fprintf(stderr, "bare_reader: %s: %s\n", path, strerror(errno));
                return -1;
        }
        char line[4096];
        int in_target = 0, lineno = 0, bad = 0;
        while (fgets(line, sizeof(line), f)) {
                lineno++;
                char *semi = strchr(line, ';');
                if (semi)
                        *semi = '\0';
                char *s = trim(line);
                if (*s == '[') {
                        in_target = strncmp(s, "[target:", 8) == 0;
                        continue;
                }
                char *eq = strchr(s, '=');
                if (!in_target || !eq)
                        continue;
                *eq = '\0';
                uint64_t pid;
                if (strcmp(trim(s), "pid") != 0)
                        continue;
                if (parse_u64(trim(eq + 1), &pid) < 0 || add_pid(r, pid) < 0) {
                        fprintf(stderr, "bare_reader: %s:%d: bad pid\n", path, lineno);
                        bad = 1;
                }
        }
        fclose(f);
        return bad ? -1 : 0;
}

/* Reads the file behind fd from offset 0 to EOF into the shared buffer. */
static int read_all(struct reader *r, int fd) {
        size_t len = 0;
        for (;;) {
                if (len == r->buf_cap) {
                        size_t cap = r->buf_cap ? r->buf_cap * 2 : 64 * 1024;
                        char *p = realloc(r->buf, cap);
                        if (!p)
                                return -ENOMEM;
                        r->buf = p;
                        r->buf_cap = cap;
                }
                ssize_t k = pread(fd, r->buf + len, r->buf_cap - len, (off_t)len);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                len += (size_t)k;
        }
        r->bytes += len;
        return 0;
}

static void read_one(struct reader *r, struct target *t, int keep_open) {
        int fd = t->fd;
        if (fd < 0) {
                fd = open(t->path, O_RDONLY | O_CLOEXEC);
                if (fd < 0) {
                        r->failed++;
                        return;
                }
        }
        if (read_all(r, fd) < 0)
                r->failed++;
        else
                r->reads++;
        if (keep_open)
                t->fd = fd;
        else
                close(fd);
}

static int64_t mono_us(void) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

/* -P: one target's thread and its own reader state. */
struct per_thread {
        pthread_t thread;
        struct reader r; /* t points at the one target */
        int64_t first;   /* its first deadline */
        int64_t interval_us;
        uint64_t missed;
};

static void *target_thread(void *arg) {
        struct per_thread *pt = arg;
        int64_t next = pt->first;
        while (!atomic_load_explicit(&stop_threads, memory_order_relaxed)) {
                struct timespec dl = {.tv_sec = next / 1000000, .tv_nsec = (long)(next % 1000000) * 1000};
                while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &dl, NULL) == EINTR)
                        ;
                if (atomic_load_explicit(&stop_threads, memory_order_relaxed))
                        break;
                read_one(&pt->r, pt->r.t, 1);
                next += pt->interval_us;
                int64_t now = mono_us();
                if (next <= now) {
                        int64_t behind = (now - next) / pt->interval_us + 1;
                        pt->missed += (uint64_t)behind;
                        next += behind * pt->interval_us;
                }
        }
        return NULL;
}

/* -P: runs the threads until a signal or -s; returns the totals in *r. */
static int run_threads(struct reader *r, uint64_t interval_us, uint64_t seconds, uint64_t *ret_missed) {
        struct per_thread *pts = calloc(r->n, sizeof(*pts));
        if (!pts)
                return -ENOMEM;
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setstacksize(&a, 64 * 1024);
        int64_t start = mono_us();
        size_t started = 0;
        for (size_t i = 0; i < r->n; i++) {
                pts[i].r.t = &r->t[i];
                pts[i].r.n = 1;
                pts[i].first = start + (int64_t)(interval_us * i / r->n);
                pts[i].interval_us = (int64_t)interval_us;
                if (pthread_create(&pts[i].thread, &a, target_thread, &pts[i]) != 0)
                        break;
                started++;
        }
        pthread_attr_destroy(&a);
        while (!stop && started == r->n && (!seconds || mono_us() - start < (int64_t)seconds * 1000000))
                usleep(100 * 1000);
        atomic_store(&stop_threads, 1);
        /* Threads asleep until their deadline notice within one interval. */
        for (size_t i = 0; i < started; i++) {
                pthread_join(pts[i].thread, NULL);
                r->reads += pts[i].r.reads;
                r->failed += pts[i].r.failed;
                r->bytes += pts[i].r.bytes;
                *ret_missed += pts[i].missed;
                free(pts[i].r.buf);
        }
        free(pts);
        return started == r->n ? 0 : -EAGAIN;
}

int main(int argc, char **argv) {
        struct reader r = {0};
        uint64_t interval_us = 1000000, seconds = 0;
        int keep_open = 0, spread = 0, threads = 0, c;
        while ((c = getopt(argc, argv, "T:c:s:kSPh")) != -1) {
                switch (c) {
                case 'T':
                        if (parse_interval(optarg, &interval_us) < 0) {
                                fprintf(stderr, "bare_reader: bad interval '%s'\n", optarg);
                                return 64;
                        }
                        break;
                case 'c':
                        if (read_ini(&r, optarg) < 0)
                                return 1;
                        break;
                case 's':
                        if (parse_u64(optarg, &seconds) < 0) {
                                fprintf(stderr, "bare_reader: bad seconds '%s'\n", optarg);
                                return 64;
                        }
                        break;
                case 'k':
                        keep_open = 1;
                        break;
                case 'S':
                        spread = 1;
                        break;
                case 'P':
                        threads = 1;
                        break;
                default:
                        fprintf(stderr, "usage: bare_reader [-T INTERVAL] [-c FILE.ini] [-s SECONDS] [-k] "
                                        "[-S | -P] [PID...]\n");
                        return c == 'h' ? 0 : 64;
                }
        }
        for (int i = optind; i < argc; i++) {
                uint64_t pid;
                if (parse_u64(argv[i], &pid) < 0 || add_pid(&r, pid) < 0) {
                        fprintf(stderr, "bare_reader: bad pid '%s'\n", argv[i]);
                        return 64;
                }
        }
        if (r.n == 0) {
                fprintf(stderr, "bare_reader: no pids\n");
                return 64;
        }
        struct sigaction sa = {.sa_handler = on_signal};
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);

        uint64_t ticks = 0, missed = 0;
        if (threads) {
                if (run_threads(&r, interval_us, seconds, &missed) < 0)
                        fprintf(stderr, "bare_reader: could not start a thread per target\n");
                goto out;
        }
        int64_t start = mono_us(), next = start;
        /* Without -S one step is the whole interval and reads every target;
         * with -S it is 1/N of it and reads one. */
        int64_t step = spread ? (int64_t)(interval_us / r.n) : (int64_t)interval_us;
        size_t turn = 0;
        if (step < 1)
                step = 1;
        while (!stop) {
                if (spread) {
                        read_one(&r, &r.t[turn], keep_open);
                        turn = (turn + 1) % r.n;
                } else {
                        for (size_t i = 0; i < r.n && !stop; i++)
                                read_one(&r, &r.t[i], keep_open);
                }
                ticks++;
                next += step;
                int64_t now = mono_us();
                if (seconds && now - start >= (int64_t)seconds * 1000000)
                        break;
                /* Behind: skip the missed ticks, keep the phase.  With -S a
                 * step is one target's read, so a late one is read late
                 * rather than skipped. */
                if (next <= now && !spread) {
                        int64_t behind = (now - next) / step + 1;
                        missed += (uint64_t)behind;
                        next += behind * step;
                }
                struct timespec dl = {.tv_sec = next / 1000000, .tv_nsec = (long)(next % 1000000) * 1000};
                while (!stop && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &dl, NULL) == EINTR)
                        ;
        }
out:;
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        fprintf(stderr,
                "bare_reader: %zu pids, %llu ticks, %llu reads, %llu failed, %llu bytes, %llu missed ticks, "
                "cpu %.3f s\n",
                r.n, (unsigned long long)ticks, (unsigned long long)r.reads, (unsigned long long)r.failed,
                (unsigned long long)r.bytes, (unsigned long long)missed,
                (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
        for (size_t i = 0; i < r.n; i++)
                if (r.t[i].fd >= 0)
                        close(r.t[i].fd);
        free(r.t);
        free(r.buf);
        return 0;
}
