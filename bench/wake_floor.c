/*
 * wake_floor: what waking a thread per target every interval costs, with no
 * work at all.  The agent's workers are one thread per target that wakes
 * every interval; with the eBPF capture a quiet target's tick reads no file
 * (it compares a counter in shared memory), so what is left of its cost is
 * this floor.  bench/agent_bench.sh runs it beside the agent and the bare
 * reader (FLOOR=1).
 *
 *   wake_floor -n THREADS [-T INTERVAL] [-s SECONDS]
 *
 * Each thread sleeps in sem_clockwait() on its own absolute CLOCK_MONOTONIC
 * deadline, thread i first due at i * INTERVAL / THREADS, as the agent
 * spreads its workers, then every INTERVAL, and does nothing when it wakes.
 * -T takes microseconds or 100ms, 1s (default 1s).  It runs until SIGTERM or
 * SIGINT (or -s SECONDS), then prints its wake-ups and CPU time to stderr.
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static atomic_int stop;
static volatile sig_atomic_t stop_signal;

static void on_signal(int sig) {
        (void)sig;
        stop_signal = 1;
}

struct sleeper {
        pthread_t th;
        sem_t sem;
        int64_t first_us;
        int64_t interval_us;
        uint64_t wakeups;
};

static int64_t now_us(void) {
        struct timespec t;

        clock_gettime(CLOCK_MONOTONIC, &t);
        return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static void *sleeper_main(void *arg) {
        struct sleeper *s = arg;
        int64_t next = s->first_us;

        while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
                struct timespec dl = {.tv_sec = (time_t)(next / 1000000),
                                      .tv_nsec = (long)(next % 1000000) * 1000};

                if (sem_clockwait(&s->sem, CLOCK_MONOTONIC, &dl) < 0 && errno != ETIMEDOUT && errno != EINTR)
                        break;
                s->wakeups++;
                next += s->interval_us;
        }
        return NULL;
}

/* "1s", "100ms", "250us" or plain microseconds; 0 when invalid. */
static int64_t parse_interval(const char *s) {
        char *end;
        unsigned long long v;

        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno || end == s || v == 0 || v > 3600ULL * 1000000)
                return 0;
        if (*end == 0 || strcmp(end, "us") == 0)
                return (int64_t)v;
        if (strcmp(end, "ms") == 0)
                return (int64_t)v * 1000;
        if (strcmp(end, "s") == 0)
                return (int64_t)v * 1000000;
        return 0;
}

int main(int argc, char **argv) {
        unsigned long n = 0, seconds = 0;
        int64_t interval = 1000000, start;
        struct sleeper *s;
        struct sigaction sa;
        struct rusage ru;
        uint64_t wakeups = 0;
        int opt;

        while ((opt = getopt(argc, argv, "n:T:s:")) != -1) {
                char *end;

                switch (opt) {
                case 'n':
                        errno = 0;
                        n = strtoul(optarg, &end, 10);
                        if (errno || end == optarg || *end || n == 0 || n > 100000) {
                                fprintf(stderr, "wake_floor: invalid -n '%s' (1 to 100000)\n", optarg);
                                return 64;
                        }
                        break;
                case 'T':
                        interval = parse_interval(optarg);
                        if (interval == 0) {
                                fprintf(stderr, "wake_floor: invalid -T '%s' (e.g. 1s, 100ms, 5000)\n",
                                        optarg);
                                return 64;
                        }
                        break;
                case 's':
                        errno = 0;
                        seconds = strtoul(optarg, &end, 10);
                        if (errno || end == optarg || *end || seconds > 86400) {
                                fprintf(stderr, "wake_floor: invalid -s '%s' (0 to 86400)\n", optarg);
                                return 64;
                        }
                        break;
                default:
                        fprintf(stderr, "usage: wake_floor -n THREADS [-T INTERVAL] [-s SECONDS]\n");
                        return 64;
                }
        }
        if (n == 0) {
                fprintf(stderr, "usage: wake_floor -n THREADS [-T INTERVAL] [-s SECONDS]\n");
                return 64;
        }
        s = calloc(n, sizeof(*s));
        if (!s) {
                fprintf(stderr, "wake_floor: out of memory\n");
                return 1;
        }
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        start = now_us();
        for (unsigned long i = 0; i < n; i++) {
                pthread_attr_t attr;
                int r;

                s[i].interval_us = interval;
                s[i].first_us = start + (int64_t)((double)interval * (double)i / (double)n);
                sem_init(&s[i].sem, 0, 0);
                /* The agent's workers run on 256 KiB stacks at most; the
                 * floor is about wake-ups, not stacks. */
                pthread_attr_init(&attr);
                pthread_attr_setstacksize(&attr, 64 * 1024);
                r = pthread_create(&s[i].th, &attr, sleeper_main, &s[i]);
                pthread_attr_destroy(&attr);
                if (r) {
                        fprintf(stderr, "wake_floor: thread %lu: %s\n", i, strerror(r));
                        return 1;
                }
        }
        while (!stop_signal && (seconds == 0 || now_us() - start < (int64_t)seconds * 1000000))
                usleep(100000);
        atomic_store(&stop, 1);
        for (unsigned long i = 0; i < n; i++) {
                sem_post(&s[i].sem);
                pthread_join(s[i].th, NULL);
                wakeups += s[i].wakeups;
                sem_destroy(&s[i].sem);
        }
        getrusage(RUSAGE_SELF, &ru);
        fprintf(stderr, "wake_floor: %lu threads, %llu wake-ups, CPU %.3f s\n", n,
                (unsigned long long)wakeups,
                (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
        free(s);
        return 0;
}
