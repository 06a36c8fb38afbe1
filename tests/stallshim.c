/*
 * stallshim: an LD_PRELOAD library that makes one kind of call of the agent
 * block while a flag file exists, for the watchdog's health tests.
 *
 *   MEMMON_STALL_OP    fsync  fsync()/fdatasync() of a file under
 *                             MEMMON_STALL_DIR: a worker stuck writing a
 *                             backup, outside any call on its target;
 *                      maps   pread() of a /proc/PID/maps: a worker blocked
 *                             on its target, as when the target holds its
 *                             mmap lock (which a test cannot make a process
 *                             do for seconds on demand)
 *   MEMMON_STALL_DIR   the folder for fsync (absolute)
 *   MEMMON_STALL_FLAG  the flag file: while it exists, every such call waits
 *                      (checked every 10 ms) before it runs; the test makes
 *                      and removes it
 *   MEMMON_STALL_MARK  a file created (once) when a call starts to wait, so
 *                      that the test knows the stall has begun
 *
 * The blocked call then runs for real: nothing fails, it only takes long.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static ssize_t (*real_pread)(int, void *, size_t, off_t);

static pthread_once_t resolved = PTHREAD_ONCE_INIT;

static void resolve_once(void) {
        real_fsync = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
        real_fdatasync = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
        real_pread = (ssize_t(*)(int, void *, size_t, off_t))dlsym(RTLD_NEXT, "pread");
}

/* Once, whichever thread of the agent calls first. */
static void resolve(void) {
        pthread_once(&resolved, resolve_once);
}

static int op_is(const char *name) {
        const char *op = getenv("MEMMON_STALL_OP");
        return op && strcmp(op, name) == 0;
}

static void fd_path(int fd, char *buf, size_t size) {
        char link[64];
        buf[0] = '\0';
        snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, buf, size - 1);
        buf[n > 0 ? n : 0] = '\0';
}

/* Waits while the flag file exists. */
static void stall(void) {
        const char *flag = getenv("MEMMON_STALL_FLAG");
        if (!flag)
                return;
        int marked = 0;
        while (access(flag, F_OK) == 0) {
                const char *mark = getenv("MEMMON_STALL_MARK");
                if (!marked && mark) {
                        int fd = open(mark, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
                        if (fd >= 0)
                                close(fd);
                        marked = 1;
                }
                struct timespec t = {0, 10 * 1000 * 1000};
                nanosleep(&t, NULL);
        }
}

static int fd_in_dir(int fd) {
        const char *dir = getenv("MEMMON_STALL_DIR");
        char path[PATH_MAX];
        if (!dir)
                return 0;
        fd_path(fd, path, sizeof(path));
        size_t n = strlen(dir);
        return strncmp(path, dir, n) == 0 && path[n] == '/';
}

static int fd_is_maps(int fd) {
        char path[PATH_MAX];
        fd_path(fd, path, sizeof(path));
        size_t n = strlen(path);
        return strncmp(path, "/proc/", 6) == 0 && n > 5 && strcmp(path + n - 5, "/maps") == 0;
}

int fsync(int fd) {
        resolve();
        if (op_is("fsync") && fd_in_dir(fd))
                stall();
        return real_fsync(fd);
}

int fdatasync(int fd) {
        resolve();
        if (op_is("fsync") && fd_in_dir(fd))
                stall();
        return real_fdatasync(fd);
}

ssize_t pread(int fd, void *buf, size_t count, off_t off) {
        resolve();
        if (op_is("maps") && fd_is_maps(fd))
                stall();
        return real_pread(fd, buf, count, off);
}

ssize_t pread64(int fd, void *buf, size_t count, off_t off) {
        return pread(fd, buf, count, off);
}
