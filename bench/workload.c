/*
 * workload: a process whose mappings change on command or on a timer, for
 * memmon's tests, demo and benchmarks.
 *
 *   workload [--regions N] [--file PATH] [--churn PER_SEC] [--seconds S] [--nodump] [--exit-code N]
 *
 * --regions N makes N extra regions that the kernel cannot merge (adjacent
 * pages with alternating protections), anonymous or, with --file, mapped
 * from PATH (created and sized as needed).  --churn flips one page's
 * protection PER_SEC times a second.  --nodump makes the process
 * non-dumpable (prctl PR_SET_DUMPABLE 0), as a setuid program is: an
 * unprivileged process of the same uid may then not read its maps.  It prints
 * "ready PID" when set up, then reads commands, one per line, from stdin,
 * answering each with "ok ..." or "error ...":
 *   map PAGES [PROT]          anonymous mapping (PROT: r, rw, rx, rwx, none)
 *   mapfile PATH [PAGES]      a private read-only mapping of a file
 *   unmap ADDR PAGES
 *   protect ADDR PAGES PROT
 *   ping
 *   exit
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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench/techniques.h"

static long page;
static int exit_code;

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
        } else if (!technique_command(argc, argv)) {
                printf("error bad command: %s\n", argv[0]);
        }
        fflush(stdout);
}

int main(int argc, char **argv) {
        uint64_t regions = 0, churn = 0, seconds = 0, code = 0;
        const char *file = NULL;
        int nodump = 0;
        page = sysconf(_SC_PAGESIZE);
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--regions") == 0 && i + 1 < argc &&
                    parse_u64(argv[i + 1], 10, &regions) == 0)
                        i++;
                else if (strcmp(argv[i], "--churn") == 0 && i + 1 < argc &&
                         parse_u64(argv[i + 1], 10, &churn) == 0)
                        i++;
                else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc &&
                         parse_u64(argv[i + 1], 10, &seconds) == 0)
                        i++;
                else if (strcmp(argv[i], "--file") == 0 && i + 1 < argc)
                        file = argv[++i];
                else if (strcmp(argv[i], "--nodump") == 0)
                        nodump = 1;
                else if (strcmp(argv[i], "--exit-code") == 0 && i + 1 < argc &&
                         parse_u64(argv[i + 1], 10, &code) == 0 && code <= 255) {
                        exit_code = (int)code;
                        i++;
                } else {
                        fprintf(stderr, "usage: workload [--regions N] [--file PATH] [--churn PER_SEC] "
                                        "[--seconds S] [--nodump] [--exit-code N]\n");
                        return 64;
                }
        }
        if (nodump && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
                perror("prctl(PR_SET_DUMPABLE)");
                return 1;
        }
        char *base = regions ? make_regions(regions, file) : NULL;
        printf("ready %d\n", (int)getpid());
        fflush(stdout);

        struct timespec start;
        clock_gettime(CLOCK_MONOTONIC, &start);
        uint64_t flips = 0;
        int stdin_open = 1;
        char line[4096];
        size_t len = 0;
        for (;;) {
                struct timespec now;
                clock_gettime(CLOCK_MONOTONIC, &now);
                double elapsed =
                    (double)(now.tv_sec - start.tv_sec) + (double)(now.tv_nsec - start.tv_nsec) / 1e9;
                if (seconds && elapsed >= (double)seconds)
                        return exit_code;
                if (!stdin_open && !seconds && !churn)
                        return exit_code;
                int timeout = -1;
                if (churn) {
                        double due = (double)(flips + 1) / (double)churn;
                        timeout = due > elapsed ? (int)((due - elapsed) * 1000) : 0;
                } else if (seconds) {
                        timeout = (int)(((double)seconds - elapsed) * 1000) + 1;
                }
                struct pollfd p = {.fd = stdin_open ? 0 : -1, .events = POLLIN};
                int n = poll(&p, 1, timeout);
                if (n > 0) {
                        ssize_t got = read(0, line + len, sizeof(line) - 1 - len);
                        if (got <= 0) {
                                stdin_open = 0;
                                if (!seconds && !churn)
                                        return exit_code;
                                continue;
                        }
                        len += (size_t)got;
                        char *nl;
                        while ((nl = memchr(line, '\n', len))) {
                                *nl = '\0';
                                command(line);
                                size_t used = (size_t)(nl - line) + 1;
                                memmove(line, nl + 1, len - used);
                                len -= used;
                        }
                        if (len == sizeof(line) - 1)
                                len = 0;
                }
                if (churn) {
                        clock_gettime(CLOCK_MONOTONIC, &now);
                        elapsed =
                            (double)(now.tv_sec - start.tv_sec) + (double)(now.tv_nsec - start.tv_nsec) / 1e9;
                        while ((double)(flips + 1) / (double)churn <= elapsed) {
                                /* Flip a page that is read-only in the layout:
                                 * its region merges with both neighbours and
                                 * splits again on the next flip. */
                                if (base && regions > 2) {
                                        uint64_t i = ((flips / 2) * 2) % (regions - 1);
                                        int prot = (flips & 1) ? PROT_READ : PROT_READ | PROT_WRITE;
                                        (void)mprotect(base + i * (size_t)page, (size_t)page, prot);
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
                                flips++;
                        }
                }
        }
}
