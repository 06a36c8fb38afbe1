/*
 * faultshim: an LD_PRELOAD library for memmon's fault-injection tests.  It
 * makes file-system calls on files under one folder fail, as a full or broken
 * disk would, and leaves every other call alone.
 *
 *   MEMMON_FAULT_DIR     the folder (absolute, no trailing '/'); a call is
 *                        eligible when its file is the folder or lies under it
 *                        (fds are resolved through /proc/self/fd)
 *   MEMMON_FAULT_OPS     comma-separated operations to fail:
 *                          open      openat() or openat2() with O_CREAT
 *                          write     write()
 *                          short     write() writes half and returns a short
 *                                    count (not an error; every call)
 *                          fsync     fsync()/fdatasync() of a file
 *                          close     close() of a file (after closing it)
 *                          rename    rename(), renameat(), renameat2()
 *                          dirfsync  fsync() of a folder
 *   MEMMON_FAULT_EVERY   every Kth eligible call of each operation fails
 *                        (default 3)
 *   MEMMON_FAULT_ERRNO   EIO (default), ENOSPC or EDQUOT
 *   MEMMON_FAULT_REPORT  a file that gets, at exit, one line per operation:
 *                        "NAME CALLS FAULTS"
 *
 * The counters are atomic: the agent writes from one thread per target.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

enum op {
        OP_OPEN,
        OP_WRITE,
        OP_SHORT,
        OP_FSYNC,
        OP_CLOSE,
        OP_RENAME,
        OP_DIRFSYNC,
        OP_COUNT,
};

static const char *const op_names[OP_COUNT] = {"open",  "write",  "short",   "fsync",
                                               "close", "rename", "dirfsync"};

static char fault_dir[PATH_MAX];
static size_t fault_dir_len;
static int enabled[OP_COUNT];
static unsigned long every = 3;
static int fault_errno = EIO;
static atomic_ulong calls[OP_COUNT];
static atomic_ulong faults[OP_COUNT];

static ssize_t (*real_write)(int, const void *, size_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_close)(int);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_rename)(const char *, const char *);
static int (*real_renameat)(int, const char *, int, const char *);
static int (*real_renameat2)(int, const char *, int, const char *, unsigned int);
static long (*real_syscall)(long, ...);

static void resolve(void) {
        if (real_write)
                return;
        real_fsync = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
        real_fdatasync = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
        real_close = (int (*)(int))dlsym(RTLD_NEXT, "close");
        real_openat = (int (*)(int, const char *, int, ...))dlsym(RTLD_NEXT, "openat");
        real_rename = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
        real_renameat = (int (*)(int, const char *, int, const char *))dlsym(RTLD_NEXT, "renameat");
        real_renameat2 =
            (int (*)(int, const char *, int, const char *, unsigned int))dlsym(RTLD_NEXT, "renameat2");
        real_syscall = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
        real_write = (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
}

__attribute__((constructor)) static void faultshim_init(void) {
        resolve();
        const char *dir = getenv("MEMMON_FAULT_DIR");
        if (!dir || dir[0] != '/' || strlen(dir) >= sizeof(fault_dir))
                return;
        strcpy(fault_dir, dir);
        fault_dir_len = strlen(fault_dir);
        while (fault_dir_len > 1 && fault_dir[fault_dir_len - 1] == '/')
                fault_dir[--fault_dir_len] = '\0';
        const char *ops = getenv("MEMMON_FAULT_OPS");
        for (int i = 0; ops && i < OP_COUNT; i++) {
                size_t n = strlen(op_names[i]);
                for (const char *p = ops; (p = strstr(p, op_names[i])) != NULL; p += n) {
                        if ((p == ops || p[-1] == ',') && (p[n] == '\0' || p[n] == ','))
                                enabled[i] = 1;
                }
        }
        const char *e = getenv("MEMMON_FAULT_EVERY");
        if (e) {
                char *end;
                unsigned long v = strtoul(e, &end, 10);
                if (end != e && *end == '\0' && v > 0)
                        every = v;
        }
        const char *en = getenv("MEMMON_FAULT_ERRNO");
        if (en && strcmp(en, "ENOSPC") == 0)
                fault_errno = ENOSPC;
        else if (en && strcmp(en, "EDQUOT") == 0)
                fault_errno = EDQUOT;
}

__attribute__((destructor)) static void faultshim_report(void) {
        const char *path = getenv("MEMMON_FAULT_REPORT");
        if (!path || !real_openat)
                return;
        int fd = real_openat(AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return;
        for (int i = 0; i < OP_COUNT; i++) {
                char line[128];
                int n = snprintf(line, sizeof(line), "%s %lu %lu\n", op_names[i], atomic_load(&calls[i]),
                                 atomic_load(&faults[i]));
                if (n > 0 && (size_t)n < sizeof(line))
                        (void)!real_write(fd, line, (size_t)n);
        }
        real_close(fd);
}

static int under_dir(const char *path) {
        return fault_dir_len > 0 && strncmp(path, fault_dir, fault_dir_len) == 0 &&
               (path[fault_dir_len] == '\0' || path[fault_dir_len] == '/');
}

/* The path of fd, or "" when it cannot be told. */
static void fd_path(int fd, char *buf, size_t size) {
        char link[64];
        buf[0] = '\0';
        if (fd < 0 || snprintf(link, sizeof(link), "/proc/self/fd/%d", fd) >= (int)sizeof(link))
                return;
        ssize_t n = readlink(link, buf, size - 1);
        buf[n > 0 ? n : 0] = '\0';
}

static int fd_under_dir(int fd) {
        char path[PATH_MAX];
        if (fault_dir_len == 0)
                return 0;
        fd_path(fd, path, sizeof(path));
        return under_dir(path);
}

/* The folder path of dirfd joined with name (name when it is absolute). */
static int at_under_dir(int dirfd, const char *name) {
        char path[PATH_MAX];
        if (fault_dir_len == 0 || !name)
                return 0;
        if (name[0] == '/')
                return under_dir(name);
        if (dirfd == AT_FDCWD) {
                if (!getcwd(path, sizeof(path)))
                        return 0;
        } else {
                fd_path(dirfd, path, sizeof(path));
        }
        size_t len = strlen(path);
        if (len + 1 + strlen(name) >= sizeof(path))
                return 0;
        path[len] = '/';
        strcpy(path + len + 1, name);
        return under_dir(path);
}

/* Counts an eligible call of op; returns 1 when this one must fail. */
static int should_fail(enum op op) {
        if (!enabled[op])
                return 0;
        unsigned long n = atomic_fetch_add(&calls[op], 1) + 1;
        if (n % every != 0)
                return 0;
        atomic_fetch_add(&faults[op], 1);
        return 1;
}

ssize_t write(int fd, const void *buf, size_t count) {
        resolve();
        if ((enabled[OP_WRITE] || enabled[OP_SHORT]) && count > 0 && fd_under_dir(fd)) {
                if (should_fail(OP_WRITE)) {
                        errno = fault_errno;
                        return -1;
                }
                if (enabled[OP_SHORT] && count > 1) {
                        /* A short count is legal at any time: every one is. */
                        atomic_fetch_add(&calls[OP_SHORT], 1);
                        atomic_fetch_add(&faults[OP_SHORT], 1);
                        return real_write(fd, buf, count / 2);
                }
        }
        return real_write(fd, buf, count);
}

static int is_dir_fd(int fd) {
        struct stat st;
        return fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
}

static int fsync_fault(int fd) {
        if (!(enabled[OP_FSYNC] || enabled[OP_DIRFSYNC]) || !fd_under_dir(fd))
                return 0;
        return should_fail(is_dir_fd(fd) ? OP_DIRFSYNC : OP_FSYNC);
}

int fsync(int fd) {
        resolve();
        if (fsync_fault(fd)) {
                errno = fault_errno;
                return -1;
        }
        return real_fsync(fd);
}

int fdatasync(int fd) {
        resolve();
        if (fsync_fault(fd)) {
                errno = fault_errno;
                return -1;
        }
        return real_fdatasync(fd);
}

int close(int fd) {
        resolve();
        /* Decided before closing: afterwards the fd names nothing. */
        int fail = enabled[OP_CLOSE] && !is_dir_fd(fd) && fd_under_dir(fd) && should_fail(OP_CLOSE);
        int r = real_close(fd);
        if (fail && r == 0) {
                errno = fault_errno;
                return -1;
        }
        return r;
}

int openat(int dirfd, const char *path, int flags, ...) {
        resolve();
        mode_t mode = 0;
        if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) {
                va_list ap;
                va_start(ap, flags);
                mode = (mode_t)va_arg(ap, int);
                va_end(ap);
        }
        if ((flags & O_CREAT) && enabled[OP_OPEN] && at_under_dir(dirfd, path) && should_fail(OP_OPEN)) {
                errno = fault_errno;
                return -1;
        }
        return real_openat(dirfd, path, flags, mode);
}

/* core/fs.c opens through openat2, which libc has no wrapper for: the
 * agent calls syscall(SYS_openat2, ...).  Every other number goes through
 * as it came (six register arguments, as the x86-64 and arm64 ABIs pass
 * them). */
long syscall(long number, ...) {
        va_list ap;
        long a[6];
        resolve();
        va_start(ap, number);
        for (int i = 0; i < 6; i++)
                a[i] = va_arg(ap, long);
        va_end(ap);
        if (number == SYS_openat2) {
                const struct open_how *how = (const struct open_how *)a[2];
                if (how && (how->flags & O_CREAT) && enabled[OP_OPEN] &&
                    at_under_dir((int)a[0], (const char *)a[1]) && should_fail(OP_OPEN)) {
                        errno = fault_errno;
                        return -1;
                }
        }
        return real_syscall(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}

int rename(const char *from, const char *to) {
        resolve();
        if (enabled[OP_RENAME] && at_under_dir(AT_FDCWD, to) && should_fail(OP_RENAME)) {
                errno = fault_errno;
                return -1;
        }
        return real_rename(from, to);
}

int renameat(int fromfd, const char *from, int tofd, const char *to) {
        resolve();
        if (enabled[OP_RENAME] && at_under_dir(tofd, to) && should_fail(OP_RENAME)) {
                errno = fault_errno;
                return -1;
        }
        return real_renameat(fromfd, from, tofd, to);
}

int renameat2(int fromfd, const char *from, int tofd, const char *to, unsigned int flags) {
        resolve();
        if (enabled[OP_RENAME] && at_under_dir(tofd, to) && should_fail(OP_RENAME)) {
                errno = fault_errno;
                return -1;
        }
        if (!real_renameat2) {
                errno = ENOSYS;
                return -1;
        }
        return real_renameat2(fromfd, from, tofd, to, flags);
}
