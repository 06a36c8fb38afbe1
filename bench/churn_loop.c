/*
 * churn_loop: the map-churn microbenchmark of bench/capture_bench.sh, what
 * the eBPF capture costs a process that changes its mappings.
 *
 *   churn_loop [-n ITERATIONS] [-m churn|mprotect|getppid] [-w]
 *
 * churn (the default): each iteration maps 16 KiB read-write anonymous
 * memory, touches its first page, makes that page read-only and unmaps the
 * whole (three write sections of the mmap lock, one downgrade, and one
 * address choice: what a program that allocates and frees large buffers
 * does).  mprotect: flips one page of a two-page mapping between r and rw
 * (one write section per iteration, nothing allocated).  getppid: a system
 * call that touches no mapping, to show that the capture leaves the rest of
 * a process's calls alone.
 *
 * -w prints "ready PID" and waits for a line on stdin before it starts, so
 * that an agent can start watching it first.  At the end it prints one line:
 *   MODE ITERATIONS CPU_NS_PER_ITERATION WALL_NS_PER_ITERATION
 * where the CPU time is the process's own (user + system, getrusage): the
 * BPF programs run in the context of the task that takes the lock, so their
 * cost lands there and not in the agent, whatever else the machine runs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
        struct timespec t;

        clock_gettime(CLOCK_MONOTONIC, &t);
        return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static double cpu_ns(void) {
        struct rusage ru;

        getrusage(RUSAGE_SELF, &ru);
        return ((double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec) * 1e9 +
               ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) * 1e3;
}

static int churn(unsigned long n) {
        for (unsigned long i = 0; i < n; i++) {
                char *p = mmap(NULL, 16384, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

                if (p == MAP_FAILED)
                        return -errno;
                p[0] = 1;
                if (mprotect(p, 4096, PROT_READ) < 0 || munmap(p, 16384) < 0)
                        return -errno;
        }
        return 0;
}

static int flip(unsigned long n) {
        char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

        if (p == MAP_FAILED)
                return -errno;
        for (unsigned long i = 0; i < n; i++)
                if (mprotect(p, 4096, (i & 1) ? PROT_READ | PROT_WRITE : PROT_READ) < 0)
                        return -errno;
        return munmap(p, 8192) < 0 ? -errno : 0;
}

static int calls(unsigned long n) {
        for (unsigned long i = 0; i < n; i++)
                syscall(SYS_getppid);
        return 0;
}

int main(int argc, char **argv) {
        static const struct {
                const char *name;
                int (*run)(unsigned long n);
        } modes[] = {{"churn", churn}, {"mprotect", flip}, {"getppid", calls}};
        unsigned long n = 50000;
        size_t mode = 0;
        int wait = 0, opt, r;
        double c0, w0, c1, w1;

        while ((opt = getopt(argc, argv, "n:m:w")) != -1) {
                char *end;
                size_t k;

                switch (opt) {
                case 'n':
                        errno = 0;
                        n = strtoul(optarg, &end, 10);
                        if (errno || end == optarg || *end || n == 0 || n > 1000000000UL) {
                                fprintf(stderr, "churn_loop: invalid -n '%s' (1 to 1000000000)\n", optarg);
                                return 64;
                        }
                        break;
                case 'm':
                        for (k = 0; k < sizeof(modes) / sizeof(modes[0]); k++)
                                if (strcmp(optarg, modes[k].name) == 0)
                                        break;
                        if (k == sizeof(modes) / sizeof(modes[0])) {
                                fprintf(stderr, "churn_loop: invalid -m '%s' (churn, mprotect or getppid)\n",
                                        optarg);
                                return 64;
                        }
                        mode = k;
                        break;
                case 'w':
                        wait = 1;
                        break;
                default:
                        fprintf(stderr,
                                "usage: churn_loop [-n ITERATIONS] [-m churn|mprotect|getppid] [-w]\n");
                        return 64;
                }
        }
        if (wait) {
                char line[16];

                printf("ready %ld\n", (long)getpid());
                fflush(stdout);
                if (!fgets(line, sizeof(line), stdin)) {
                        fprintf(stderr, "churn_loop: stdin closed before the start\n");
                        return 1;
                }
        }
        c0 = cpu_ns();
        w0 = now_ns();
        r = modes[mode].run(n);
        w1 = now_ns();
        c1 = cpu_ns();
        if (r < 0) {
                fprintf(stderr, "churn_loop: %s: %s\n", modes[mode].name, strerror(-r));
                return 1;
        }
        printf("%s %lu %.1f %.1f\n", modes[mode].name, n, (c1 - c0) / (double)n, (w1 - w0) / (double)n);
        return 0;
}
