/*
 * workload: a process whose mappings change on command or on a timer, for
 * memmon's tests, demo and benchmarks.
 *
 *   workload [--regions N] [--file PATH] [--churn PER_SEC] [--seconds S] [--nodump] [--exit-code N]
 *            [--mremap-phantom PATH]
 *
 * --regions N makes N extra regions that the kernel cannot merge (adjacent
 * pages with alternating protections), anonymous or, with --file, mapped
 * from PATH (created and sized as needed).  --churn flips one page's
 * protection PER_SEC times a second.  --nodump makes the process
 * non-dumpable (prctl PR_SET_DUMPABLE 0), as a setuid program is: an
 * unprivileged process of the same uid may then not read its maps.
 * --mremap-phantom PATH maps one page of PATH (created as needed) in a hole
 * left at one end of the --regions block, and a thread of its own moves it
 * with mremap to a hole at the other end and back, as fast as it can, for
 * ever: a reader of the maps that is not careful sees it twice or not at
 * all, as the walk passes one end before the other.  It prints
 * "ready PID" when set up, then reads commands, one per line, from stdin,
 * answering each with "ok ..." or "error ...":
 *   map PAGES [PROT]          anonymous mapping (PROT: r, rw, rx, rwx, none)
 *   mapfile PATH [PAGES]      a private read-only mapping of a file
 *   unmap ADDR PAGES
 *   protect ADDR PAGES PROT
 *   flash COUNT [GAP_US]      COUNT times: map one page rwx, write to it, unmap it at
 *                             once, wait GAP_US; answers "ok COUNT LONGEST_NS"
 *   phantom-stop              the --mremap-phantom thread stops moving (answered
 *                             once it has)
 *   ping
 *   exit
 *   leader-exit               the main thread exits (as pthread_exit) and a new
 *                             thread serves the commands and --churn from then
 *                             on: the process lives on with a zombie main thread
 * and the techniques memmon's alert rules look for (bench/techniques.c),
 * each answering "ok ADDR" with the address of the region it affected:
 *   map PAGES rwx             writable and executable memory (wx)
 *   jit [PAGES]               anonymous memory written, then made RX (anon_exec)
 *   memfd [PAGES]             a memfd mapped executable (memfd_exec)
 *   dlopen PATH               load a shared library (from a world-writable
 *                             folder: writable_exec_file); ADDR is its code
 *   replace PATH              copy PATH and rename the copy over it while
 *                             mapped, as an upgrade does (deleted_exec)
 *   patch                     change a byte of this program's own code
 *                             through /proc/self/mem (text_mismatch)
 * (--regions N, or many `map`s, pass a max_regions bound.)
 * It ends at EOF on stdin (unless --seconds keeps it alive that long) or on
 * SIGTERM.  --exit-code N is its exit status when it ends by itself (at the
 * end of --seconds or of stdin, or on `exit`); 0 by default.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bench/techniques.h"

static long page;
static int exit_code;
/* Set by `leader-exit`: the serving thread hands over to a new one. */
static int hand_over;

static int parse_prot(const char *s, int *ret) {
        static const struct {
                const char *name;
                int prot;
        } t[] = {
            {"none", PROT_NONE},
            {"r", PROT_READ},
            {"rw", PROT_READ | PROT_WRITE},
            {"rx", PROT_READ | PROT_EXEC},
            {"rwx", PROT_READ | PROT_WRITE | PROT_EXEC},
        };
        for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
                if (strcmp(s, t[i].name) == 0) {
                        *ret = t[i].prot;
                        return 0;
                }
        }
        return -1;
}

static int parse_u64(const char *s, int base, uint64_t *ret) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, base);
        if (errno || end == s || *end)
                return -1;
        *ret = v;
        return 0;
}

/* Maps n pages that stay n separate regions: every other page has another
 * protection, so neighbours never merge. */
static char *make_regions(uint64_t n, const char *file) {
        size_t len = (size_t)n * (size_t)page;
        char *base;
        if (file) {
                int fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
                if (fd < 0 || ftruncate(fd, (off_t)len) < 0) {
                        perror(file);
                        exit(1);
                }
                base = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
                close(fd);
        } else {
                base = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        }
        if (base == MAP_FAILED) {
                perror("mmap");
                exit(1);
        }
        for (uint64_t i = 1; i < n; i += 2) {
                if (mprotect(base + i * (size_t)page, (size_t)page, PROT_READ | PROT_WRITE) < 0) {
                        perror("mprotect (is vm.max_map_count too low?)");
                        exit(1);
                }
        }
        return base;
}

static uint64_t now_ns(void) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (uint64_t)t.tv_sec * 1000000000 + (uint64_t)t.tv_nsec;
}

/* `flash COUNT [GAP_US]`: COUNT times, maps one page writable and
 * executable, writes a byte into it and unmaps it at once (the shape of
 * injected shellcode), then waits GAP_US.  Answers "ok COUNT LONGEST_NS":
 * how long the longest of them lived. */
static void flash(uint64_t count, uint64_t gap_us) {
        uint64_t longest = 0;
        for (uint64_t i = 0; i < count; i++) {
                uint64_t t0 = now_ns();
                volatile char *p = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE | PROT_EXEC,
                                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (p == MAP_FAILED) {
                        printf("error mmap: %s\n", strerror(errno));
                        return;
                }
                p[0] = (char)0xc3; /* ret */
                if (munmap((void *)p, (size_t)page) < 0) {
                        printf("error munmap: %s\n", strerror(errno));
                        return;
                }
                if (now_ns() - t0 > longest)
                        longest = now_ns() - t0;
                if (gap_us) {
                        struct timespec ts = {.tv_sec = (time_t)(gap_us / 1000000),
                                              .tv_nsec = (long)(gap_us % 1000000) * 1000};
                        nanosleep(&ts, NULL);
                }
        }
        printf("ok %llu %llu\n", (unsigned long long)count, (unsigned long long)longest);
}

/* The --mremap-phantom thread, and the flag that stops it. */
static pthread_t phantom_thread;
static int phantom_started;
static atomic_int phantom_stop;

static void command(char *line) {
        char *argv[4] = {0};
        int argc = 0;
        char *save = NULL;
        for (char *t = strtok_r(line, " \t\r\n", &save); t && argc < 4; t = strtok_r(NULL, " \t\r\n", &save))
                argv[argc++] = t;
        if (argc == 0)
                return;
        uint64_t a = 0, n = 0;
        int prot = PROT_READ | PROT_WRITE;
        if (strcmp(argv[0], "ping") == 0) {
                printf("ok\n");
        } else if (strcmp(argv[0], "exit") == 0) {
                printf("ok\n");
                fflush(stdout);
                exit(exit_code);
        } else if (strcmp(argv[0], "phantom-stop") == 0) {
                if (!phantom_started) {
                        printf("error no --mremap-phantom thread\n");
                } else {
                        atomic_store(&phantom_stop, 1);
                        (void)pthread_join(phantom_thread, NULL);
                        phantom_started = 0;
                        printf("ok\n");
                }
        } else if (strcmp(argv[0], "leader-exit") == 0) {
                /* Answered by the new thread once the main one is gone. */
                hand_over = 1;
                return;
        } else if (strcmp(argv[0], "map") == 0 && argc >= 2 && parse_u64(argv[1], 10, &n) == 0 && n > 0 &&
                   (argc < 3 || parse_prot(argv[2], &prot) == 0)) {
                void *p = mmap(NULL, (size_t)n * (size_t)page, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (p == MAP_FAILED)
                        printf("error mmap: %s\n", strerror(errno));
                else
                        printf("ok %p\n", p);
        } else if (strcmp(argv[0], "mapfile") == 0 && argc >= 2) {
                int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
                struct stat st;
                if (fd < 0 || fstat(fd, &st) < 0) {
                        printf("error %s: %s\n", argv[1], strerror(errno));
                } else {
                        size_t len = argc >= 3 && parse_u64(argv[2], 10, &n) == 0 ? (size_t)n * (size_t)page
                                                                                  : (size_t)st.st_size;
                        void *p = mmap(NULL, len ? len : (size_t)page, PROT_READ, MAP_PRIVATE, fd, 0);
                        if (p == MAP_FAILED)
                                printf("error mmap: %s\n", strerror(errno));
                        else
                                printf("ok %p\n", p);
                }
                if (fd >= 0)
                        close(fd);
        } else if (strcmp(argv[0], "unmap") == 0 && argc == 3 && parse_u64(argv[1], 16, &a) == 0 &&
                   parse_u64(argv[2], 10, &n) == 0) {
                if (munmap((void *)(uintptr_t)a, (size_t)n * (size_t)page) < 0)
                        printf("error munmap: %s\n", strerror(errno));
                else
                        printf("ok\n");
        } else if (strcmp(argv[0], "protect") == 0 && argc == 4 && parse_u64(argv[1], 16, &a) == 0 &&
                   parse_u64(argv[2], 10, &n) == 0 && parse_prot(argv[3], &prot) == 0) {
                if (mprotect((void *)(uintptr_t)a, (size_t)n * (size_t)page, prot) < 0)
                        printf("error mprotect: %s\n", strerror(errno));
                else
                        printf("ok\n");
        } else if (strcmp(argv[0], "flash") == 0 && argc >= 2 && parse_u64(argv[1], 10, &n) == 0 &&
                   (argc < 3 || parse_u64(argv[2], 10, &a) == 0)) {
                flash(n, a);
        } else if (!technique_command(argc, argv)) {
                printf("error bad command: %s\n", argv[0]);
        }
        fflush(stdout);
}

/* What the serving thread works on: kept outside it, so that after
 * `leader-exit` a new thread goes on where the old one stopped. */
static struct {
        uint64_t regions, churn, seconds;
        char *base;
        struct timespec start;
        uint64_t flips;
        int stdin_open;
        char line[4096];
        size_t len;
} sv;

/* Moves one page between the two holes at the ends of the block, until
 * phantom_stop. */
static void *phantom_mover(void *arg) {
        char **ends = arg;
        char *at = ends[0], *other = ends[1];
        while (!atomic_load_explicit(&phantom_stop, memory_order_relaxed)) {
                if (mremap(at, (size_t)page, (size_t)page, MREMAP_MAYMOVE | MREMAP_FIXED, other) ==
                    MAP_FAILED) {
                        perror("mremap");
                        exit(1);
                }
                char *t = at;
                at = other;
                other = t;
        }
        return NULL;
}

/* Makes holes of the first and last of the n pages at base, maps a page
 * of path in the first, and starts the thread that moves it. */
static void start_phantom(char *base, uint64_t n, const char *path) {
        static char *ends[2];
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0 || ftruncate(fd, page) < 0) {
                perror(path);
                exit(1);
        }
        ends[0] = base;
        ends[1] = base + (size_t)(n - 1) * (size_t)page;
        if (munmap(ends[1], (size_t)page) < 0 ||
            mmap(ends[0], (size_t)page, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0) == MAP_FAILED) {
                perror("mmap");
                exit(1);
        }
        close(fd);
        if (pthread_create(&phantom_thread, NULL, phantom_mover, ends) != 0) {
                fprintf(stderr, "workload: cannot start the mremap thread\n");
                exit(1);
        }
        phantom_started = 1;
}

/* The state letter of the main thread (/proc/self/stat field 3), or 0. */
static char main_thread_state(void) {
        char buf[512];
        int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
        ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
        if (fd >= 0)
                close(fd);
        if (n <= 0)
                return 0;
        buf[n] = '\0';
        char *p = strrchr(buf, ')');
        return p && p[1] == ' ' ? p[2] : 0;
}

/* Serves commands from stdin and flips pages for --churn; ends the process
 * at the end of --seconds or of stdin.  After `leader-exit`, hands over to
 * a new thread and exits its own; arg is non-NULL in that new thread. */
static void *serve(void *arg) {
        if (arg) {
                /* Taking over from the main thread: answer once it is gone
                 * (a zombie, state Z in /proc/PID/stat). */
                for (int i = 0; i < 5000 && main_thread_state() != 'Z'; i++)
                        usleep(1000);
                printf("ok\n");
                fflush(stdout);
        }
        for (;;) {
                struct timespec now;
                clock_gettime(CLOCK_MONOTONIC, &now);
                double elapsed =
                    (double)(now.tv_sec - sv.start.tv_sec) + (double)(now.tv_nsec - sv.start.tv_nsec) / 1e9;
                if (sv.seconds && elapsed >= (double)sv.seconds)
                        exit(exit_code);
                if (!sv.stdin_open && !sv.seconds && !sv.churn)
                        exit(exit_code);
                int timeout = -1;
                if (sv.churn) {
                        double due = (double)(sv.flips + 1) / (double)sv.churn;
                        timeout = due > elapsed ? (int)((due - elapsed) * 1000) : 0;
                } else if (sv.seconds) {
                        timeout = (int)(((double)sv.seconds - elapsed) * 1000) + 1;
                }
                struct pollfd p = {.fd = sv.stdin_open ? 0 : -1, .events = POLLIN};
                int n = poll(&p, 1, timeout);
                if (n > 0) {
                        ssize_t got = read(0, sv.line + sv.len, sizeof(sv.line) - 1 - sv.len);
                        if (got <= 0) {
                                sv.stdin_open = 0;
                                if (!sv.seconds && !sv.churn)
                                        exit(exit_code);
                                continue;
                        }
                        sv.len += (size_t)got;
                        char *nl;
                        while ((nl = memchr(sv.line, '\n', sv.len))) {
                                *nl = '\0';
                                command(sv.line);
                                size_t used = (size_t)(nl - sv.line) + 1;
                                memmove(sv.line, nl + 1, sv.len - used);
                                sv.len -= used;
                        }
                        if (sv.len == sizeof(sv.line) - 1)
                                sv.len = 0;
                }
                if (hand_over) {
                        static int taking_over = 1;
                        pthread_t t;
                        hand_over = 0;
                        if (pthread_create(&t, NULL, serve, &taking_over) != 0) {
                                printf("error pthread_create\n");
                                fflush(stdout);
                                continue;
                        }
                        /* Only this thread ends, as pthread_exit() would
                         * end it, but without C++ unwinding or sanitizer
                         * runtimes that expect the main thread to stay. */
                        syscall(SYS_exit, 0);
                }
                if (sv.churn) {
                        clock_gettime(CLOCK_MONOTONIC, &now);
                        elapsed = (double)(now.tv_sec - sv.start.tv_sec) +
                                  (double)(now.tv_nsec - sv.start.tv_nsec) / 1e9;
                        while ((double)(sv.flips + 1) / (double)sv.churn <= elapsed) {
                                /* Flip a page that is read-only in the layout:
                                 * its region merges with both neighbours and
                                 * splits again on the next flip. */
                                if (sv.base && sv.regions > 2) {
                                        uint64_t i = ((sv.flips / 2) * 2) % (sv.regions - 1);
                                        int prot = (sv.flips & 1) ? PROT_READ : PROT_READ | PROT_WRITE;
                                        (void)mprotect(sv.base + i * (size_t)page, (size_t)page, prot);
                                } else {
                                        static void *p;
                                        if (p) {
                                                munmap(p, (size_t)page);
                                                p = NULL;
                                        } else {
                                                p = mmap(NULL, (size_t)page, PROT_READ,
                                                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                                        }
                                }
                                sv.flips++;
                        }
                }
        }
}

int main(int argc, char **argv) {
        uint64_t code = 0;
        const char *file = NULL, *phantom = NULL;
        int nodump = 0;
        page = sysconf(_SC_PAGESIZE);
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--regions") == 0 && i + 1 < argc &&
                    parse_u64(argv[i + 1], 10, &sv.regions) == 0)
                        i++;
                else if (strcmp(argv[i], "--churn") == 0 && i + 1 < argc &&
                         parse_u64(argv[i + 1], 10, &sv.churn) == 0)
                        i++;
                else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc &&
                         parse_u64(argv[i + 1], 10, &sv.seconds) == 0)
                        i++;
                else if (strcmp(argv[i], "--file") == 0 && i + 1 < argc)
                        file = argv[++i];
                else if (strcmp(argv[i], "--mremap-phantom") == 0 && i + 1 < argc)
                        phantom = argv[++i];
                else if (strcmp(argv[i], "--nodump") == 0)
                        nodump = 1;
                else if (strcmp(argv[i], "--exit-code") == 0 && i + 1 < argc &&
                         parse_u64(argv[i + 1], 10, &code) == 0 && code <= 255) {
                        exit_code = (int)code;
                        i++;
                } else {
                        fprintf(stderr, "usage: workload [--regions N] [--file PATH] [--churn PER_SEC] "
                                        "[--seconds S] [--nodump] [--exit-code N] [--mremap-phantom PATH]\n");
                        return 64;
                }
        }
        if (nodump && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
                perror("prctl(PR_SET_DUMPABLE)");
                return 1;
        }
        if (phantom) {
                if (sv.regions < 2) {
                        fprintf(stderr, "workload: --mremap-phantom needs --regions 2 or more\n");
                        return 64;
                }
                sv.base = make_regions(sv.regions + 2, file);
                start_phantom(sv.base, sv.regions + 2, phantom);
                /* The block proper lies between the two holes. */
                sv.base += page;
        } else if (sv.regions) {
                sv.base = make_regions(sv.regions, file);
        }
        printf("ready %d\n", (int)getpid());
        fflush(stdout);
        clock_gettime(CLOCK_MONOTONIC, &sv.start);
        sv.stdin_open = 1;
        serve(NULL);
        return exit_code;
}
