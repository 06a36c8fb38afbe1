/*
 * worker_tick_bench: what the alert rules add to a worker's tick when
 * nothing changed, and to a worker's memory.
 *
 *   worker_tick_bench [--rounds R] [--ticks T] [--workers N] [--dir TMPDIR]
 *
 * Two workers (core/worker.h, ticked by hand with worker_tick, no thread)
 * follow the same quiet process (/bin/sleep): one with every alert rule
 * off (a zeroed policy), one with the built-in rules and every timed and
 * bound rule armed (text_check 1h, max_regions, max_mapped, max_growth).
 * Each round times T ticks of one, then T of the other (the order
 * alternating), in thread CPU time; the medians over R rounds are printed
 * with their ratio, and the allocations per tick.  Then N workers of each
 * kind are made and given their first snapshot, and the heap they hold
 * (mallinfo2) is printed per worker.
 */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/alerts.h"
#include "core/alerts_fs.h"
#include "core/alloc.h"
#include "core/worker.h"

static void die(const char *what) {
        fprintf(stderr, "worker_tick_bench: %s: %s\n", what, strerror(errno));
        exit(1);
}

static double cpu_ns(void) {
        struct timespec t;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
        return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *)a, y = *(const double *)b;
        return (x > y) - (x < y);
}

static double median(double *v, size_t n) {
        qsort(v, n, sizeof(*v), cmp_double);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void quiet(void *user, const char *target, enum log_level level, const char *msg) {
        (void)user;
        (void)target;
        (void)level;
        (void)msg;
}

/* Worker parameters for pid, with the alert rules off or all armed. */
static void params(struct worker_params *p, pid_t pid, const char *dir, int alerts) {
        memset(p, 0, sizeof(*p));
        p->name = "t";
        p->selector = SELECT_PID;
        p->pid = pid;
        p->backup_dir = (char *)dir;
        p->policy.interval_us = 1000000;
        p->policy.full_every = 100;
        if (!alerts)
                return;
        alert_policy_init(&p->policy.alerts);
        p->policy.alerts.text_check_us = 3600000000u;
        p->policy.alerts.max_regions = 1000000;
        p->policy.alerts.max_mapped = UINT64_C(1) << 62;
        p->policy.alerts.max_growth = UINT64_C(1) << 40;
        p->policy.alerts.growth_window_us = 3600000000u;
}

/* A worker with its own backup folder (n) under dir. */
static struct worker *make_worker(pid_t pid, const char *dir, int alerts, size_t n) {
        struct worker_env env = {.event = quiet};
        struct worker_params p;
        struct worker *w;
        char sub[4200];

        if (snprintf(sub, sizeof(sub), "%s/%d.%zu", dir, alerts, n) >= (int)sizeof(sub))
                die("folder name");
        params(&p, pid, sub, alerts);
        if (worker_new(&p, &env, 0, &w) < 0)
                die("worker_new");
        /* The first snapshot (and, with rules, their first evaluation). */
        if (worker_tick(w) < 0)
                die("worker_tick");
        return w;
}

int main(int argc, char **argv) {
        size_t rounds = 200, ticks = 1000, n_workers = 1000;
        const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        char dir[4096];

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
                        rounds = strtoul(argv[++i], NULL, 10);
                else if (strcmp(argv[i], "--ticks") == 0 && i + 1 < argc)
                        ticks = strtoul(argv[++i], NULL, 10);
                else if (strcmp(argv[i], "--workers") == 0 && i + 1 < argc)
                        n_workers = strtoul(argv[++i], NULL, 10);
                else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
                        tmp = argv[++i];
                else {
                        fprintf(stderr, "usage: worker_tick_bench [--rounds R] [--ticks T] [--workers N] "
                                        "[--dir TMPDIR]\n");
                        return 64;
                }
        }
        if (rounds == 0 || ticks == 0 ||
            snprintf(dir, sizeof(dir), "%s/worker_tick_bench.XXXXXX", tmp) >= (int)sizeof(dir) ||
            !mkdtemp(dir))
                die("arguments or temp folder");
        pid_t child = fork();
        if (child < 0)
                die("fork");
        if (child == 0) {
                execl("/bin/sleep", "sleep", "100000", (char *)NULL);
                _exit(127);
        }
        /* Until the exec is done, the child's maps are the bench's own. */
        for (int i = 0; i < 1000; i++) {
                char exe[64], buf[256];
                snprintf(exe, sizeof(exe), "/proc/%d/exe", (int)child);
                ssize_t n = readlink(exe, buf, sizeof(buf) - 1);
                if (n > 0 && (buf[n] = '\0', strstr(buf, "sleep")))
                        break;
                usleep(1000);
        }

        struct worker *w[2] = {make_worker(child, dir, 0, 0), make_worker(child, dir, 1, 0)};
        double *t[2] = {calloc(rounds, sizeof(double)), calloc(rounds, sizeof(double))};
        uint64_t allocs[2] = {0, 0};
        if (!t[0] || !t[1])
                die("calloc");
        for (size_t r = 0; r < rounds; r++) {
                for (int k = 0; k < 2; k++) {
                        int which = (int)(r % 2) ^ k;
                        uint64_t a = mm_alloc_count();
                        double t0 = cpu_ns();
                        for (size_t i = 0; i < ticks; i++)
                                if (worker_tick(w[which]) < 0)
                                        die("worker_tick");
                        t[which][r] = (cpu_ns() - t0) / (double)ticks;
                        allocs[which] += mm_alloc_count() - a;
                }
        }
        double off = median(t[0], rounds), on = median(t[1], rounds);
        struct worker_status st;
        worker_get_status(w[0], &st);
        printf("worker_tick_bench: /bin/sleep (%zu regions), %zu rounds of %zu ticks each\n\n", st.regions,
               rounds, ticks);
        printf("| a tick with no change | CPU ns per tick (median) | ratio | allocations |\n");
        printf("|---|---|---|---|\n");
        printf("| alert rules off | %.0f | 1.000 | %llu in %zu ticks |\n", off, (unsigned long long)allocs[0],
               rounds * ticks);
        printf("| every rule armed | %.0f | %.3f | %llu in %zu ticks |\n\n", on, on / off,
               (unsigned long long)allocs[1], rounds * ticks);
        worker_free(w[0], 0);
        worker_free(w[1], 0);

        printf("| %zu workers, after their first snapshot | heap bytes per worker |\n", n_workers);
        printf("|---|---|\n");
        struct worker **v = calloc(n_workers, sizeof(*v));
        if (!v)
                die("calloc");
        for (int alerts = 0; alerts < 2; alerts++) {
                malloc_trim(0);
                struct mallinfo2 before = mallinfo2();
                for (size_t i = 0; i < n_workers; i++)
                        v[i] = make_worker(child, dir, alerts, i + 1);
                struct mallinfo2 after = mallinfo2();
                printf("| alert rules %s | %.0f |\n", alerts ? "on (built-in, all armed)" : "off",
                       (double)(after.uordblks - before.uordblks) / (double)n_workers);
                for (size_t i = 0; i < n_workers; i++)
                        worker_free(v[i], 0);
        }
        /* Of which the alert state and its view of the file system, which
         * every worker holds whatever its rules. */
        struct alert_state **as = calloc(n_workers, sizeof(*as));
        struct alert_sysfs **fs = calloc(n_workers, sizeof(*fs));
        if (!as || !fs)
                die("calloc");
        malloc_trim(0);
        struct mallinfo2 before = mallinfo2();
        for (size_t i = 0; i < n_workers; i++)
                if (alert_sysfs_new(0, &fs[i]) < 0 || alert_state_new(&alert_sysfs_ops, fs[i], &as[i]) < 0)
                        die("alert state");
        struct mallinfo2 after = mallinfo2();
        printf("| of which the alert state and its file-system view | %.0f |\n",
               (double)(after.uordblks - before.uordblks) / (double)n_workers);
        for (size_t i = 0; i < n_workers; i++) {
                alert_state_free(as[i]);
                alert_sysfs_free(fs[i]);
        }
        free(as);
        free(fs);
        free(v);
        free(t[0]);
        free(t[1]);
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        /* The backups are left in dir (a temp folder) for a look. */
        printf("\n(backups in %s)\n", dir);
        return 0;
}
