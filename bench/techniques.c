#include "bench/techniques.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* x86 `ret`, so that the bytes placed in executable memory are code. */
#define RET 0xc3

/* Never called: `patch` changes its first byte, which is harmless as long
 * as nobody runs it, and makes the workload's code differ from its file. */
__attribute__((noinline, used)) int technique_patch_target(int x) {
        return x * 3 + 1;
}

static int parse_pages(const char *s, size_t *ret) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || end == s || *end || v == 0 || v > 1 << 20)
                return -1;
        *ret = (size_t)v;
        return 0;
}

static void reply_error(const char *what) {
        printf("error %s: %s\n", what, strerror(errno));
}

/* Anonymous memory written as data, then made executable: a JIT, or a
 * loader that unpacks code (RW then RX, never both at once). */
static void jit(size_t len) {
        char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
                return reply_error("mmap");
        memset(p, RET, len);
        if (mprotect(p, len, PROT_READ | PROT_EXEC) < 0)
                return reply_error("mprotect");
        printf("ok %p\n", (void *)p);
}

/* Code in a memfd, mapped executable: fileless execution. */
static void memfd(size_t len) {
        int fd = memfd_create("payload", MFD_CLOEXEC);
        if (fd < 0)
                return reply_error("memfd_create");
        char *buf = malloc(len);
        if (!buf || ftruncate(fd, (off_t)len) < 0) {
                free(buf);
                close(fd);
                return reply_error("ftruncate");
        }
        memset(buf, RET, len);
        ssize_t n = pwrite(fd, buf, len, 0);
        free(buf);
        void *p = n == (ssize_t)len ? mmap(NULL, len, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0) : MAP_FAILED;
        int e = errno;
        close(fd);
        errno = e;
        if (p == MAP_FAILED)
                return reply_error("memfd mmap");
        printf("ok %p\n", p);
}

struct exec_segment {
        ElfW(Addr) base;
        uintptr_t start;
};

static int find_exec_segment(struct dl_phdr_info *info, size_t size, void *data) {
        struct exec_segment *seg = data;
        (void)size;
        if (info->dlpi_addr != seg->base)
                return 0;
        for (int i = 0; i < info->dlpi_phnum; i++) {
                const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
                if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
                        seg->start =
                            (info->dlpi_addr + ph->p_vaddr) & ~(uintptr_t)(sysconf(_SC_PAGESIZE) - 1);
                        return 1;
                }
        }
        return 0;
}

/* Loads a library; the reply is where its code was mapped. */
static void load(const char *path) {
        void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        struct link_map *map = NULL;
        if (!h) {
                printf("error dlopen: %s\n", dlerror());
                return;
        }
        if (dlinfo(h, RTLD_DI_LINKMAP, &map) < 0 || !map) {
                printf("error dlinfo: %s\n", dlerror());
                return;
        }
        struct exec_segment seg = {map->l_addr, 0};
        if (dl_iterate_phdr(find_exec_segment, &seg) == 0 || seg.start == 0) {
                printf("error %s has no executable segment\n", path);
                return;
        }
        printf("ok %p\n", (void *)seg.start);
}

/* The start of this process's first executable mapping of path, or 0. */
static uintptr_t exec_mapping_of(const char *path) {
        FILE *f = fopen("/proc/self/maps", "re");
        char line[8192];
        uintptr_t found = 0;
        if (!f)
                return 0;
        while (!found && fgets(line, sizeof(line), f)) {
                unsigned long long start;
                char perms[5];
                int at = 0;
                size_t len = strlen(line);
                if (len > 0 && line[len - 1] == '\n')
                        line[--len] = '\0';
                if (sscanf(line, "%llx-%*x %4s %*x %*x:%*x %*u %n", &start, perms, &at) == 2 && at > 0 &&
                    perms[2] == 'x' && strcmp(line + at, path) == 0)
                        found = (uintptr_t)start;
        }
        fclose(f);
        return found;
}

/* A package upgrade: a new copy of the file renamed over the one this
 * process has mapped, which keeps running the old, nameless one. */
static void replace(const char *path) {
        uintptr_t addr = exec_mapping_of(path);
        char tmp[4096];
        if (!addr) {
                printf("error %s is not mapped executable here\n", path);
                return;
        }
        if (snprintf(tmp, sizeof(tmp), "%s.new", path) >= (int)sizeof(tmp)) {
                printf("error path too long\n");
                return;
        }
        int in = open(path, O_RDONLY | O_CLOEXEC);
        int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
        char buf[65536];
        ssize_t n = 0;
        while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
                if (write(out, buf, (size_t)n) != n) {
                        n = -1;
                        break;
                }
        int e = errno;
        if (in >= 0)
                close(in);
        if (out >= 0 && close(out) < 0 && n == 0)
                n = -1;
        errno = e;
        if (in < 0 || out < 0 || n < 0 || rename(tmp, path) < 0) {
                reply_error("replace");
                unlink(tmp);
                return;
        }
        printf("ok %p\n", (void *)addr);
}

/* Changes one byte of code through /proc/self/mem, as a debugger or an
 * injected hook would: the page becomes a private copy that differs from
 * the file. */
static void patch(uintptr_t addr) {
        int fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
        unsigned char b;
        if (fd < 0)
                return reply_error("/proc/self/mem");
        if (pread(fd, &b, 1, (off_t)addr) != 1) {
                close(fd);
                return reply_error("read");
        }
        b ^= 0xff;
        ssize_t n = pwrite(fd, &b, 1, (off_t)addr);
        int e = errno;
        close(fd);
        errno = e;
        if (n != 1)
                return reply_error("write through /proc/self/mem");
        printf("ok %p\n", (void *)addr);
}

int technique_command(int argc, char **argv) {
        size_t page = (size_t)sysconf(_SC_PAGESIZE), pages = 1;
        if (strcmp(argv[0], "jit") == 0 && (argc < 2 || parse_pages(argv[1], &pages) == 0))
                jit(pages * page);
        else if (strcmp(argv[0], "memfd") == 0 && (argc < 2 || parse_pages(argv[1], &pages) == 0))
                memfd(pages * page);
        else if (strcmp(argv[0], "dlopen") == 0 && argc == 2)
                load(argv[1]);
        else if (strcmp(argv[0], "replace") == 0 && argc == 2)
                replace(argv[1]);
        else if (strcmp(argv[0], "patch") == 0 && argc == 1)
                patch((uintptr_t)technique_patch_target);
        else
                return 0;
        return 1;
}
