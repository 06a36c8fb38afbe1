#include "agent/control.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "core/fs.h"
#include "core/proc.h"

/* The pipe the daemon reports its start-up on; -1 when not detaching. */
static int ready_fd = -1;

int make_dir(const char *path) {
        int fd;
        int r = fs_make_dir_at(AT_FDCWD, path, true, &fd);
        if (r < 0)
                return r;
        close(fd);
        return 0;
}

int pidfile_acquire(const char *path, pid_t *ret_holder) {
        int fd = fs_open_at(AT_FDCWD, path, O_RDWR | O_CREAT, 0600);
        if (fd < 0)
                return fd;
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                int e = errno;
                char buf[32] = "";
                ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
                close(fd);
                if (e != EWOULDBLOCK)
                        return -e;
                pid_t holder = 0;
                if (n > 0 && proc_parse_pid(buf, (size_t)n, &holder) < 0)
                        holder = 0;
                *ret_holder = holder;
                return -EWOULDBLOCK;
        }
        char buf[32];
        int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
        if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
                int e = -errno;
                close(fd);
                return e;
        }
        (void)fchmod(fd, 0600);
        return fd;
}

void pidfile_release(const char *path, int fd) {
        if (fd < 0)
                return;
        unlink(path);
        close(fd);
}

int fifo_open(const char *path, char *why, size_t why_size) {
        struct stat st;
        if (lstat(path, &st) == 0) {
                if (!S_ISFIFO(st.st_mode)) {
                        snprintf(why, why_size, "%s exists and is not a FIFO (%s); not touching it", path,
                                 S_ISLNK(st.st_mode)   ? "a symlink"
                                 : S_ISREG(st.st_mode) ? "a regular file"
                                 : S_ISDIR(st.st_mode) ? "a directory"
                                                       : "another kind of file");
                        return -EEXIST;
                }
                if (st.st_uid != geteuid()) {
                        snprintf(why, why_size, "%s is a FIFO owned by uid %u, not by us; not touching it",
                                 path, (unsigned)st.st_uid);
                        return -EPERM;
                }
        } else if (errno != ENOENT) {
                int e = errno;
                snprintf(why, why_size, "%s: %s", path, strerror(e));
                return -e;
        } else if (mkfifo(path, 0600) < 0) {
                int e = errno;
                snprintf(why, why_size, "cannot create FIFO %s: %s", path, strerror(e));
                return -e;
        }
        int fd = fs_open_at(AT_FDCWD, path, O_RDWR | O_NONBLOCK, 0);
        if (fd < 0) {
                int e = -fd;
                snprintf(why, why_size, "cannot open FIFO %s: %s", path, strerror(e));
                return -e;
        }
        /* The path could have been swapped between lstat and open. */
        struct stat fst;
        if (fstat(fd, &fst) < 0 || !S_ISFIFO(fst.st_mode) || fst.st_uid != geteuid()) {
                close(fd);
                snprintf(why, why_size, "%s changed while being opened; not using it", path);
                return -EPERM;
        }
        (void)fchmod(fd, 0600);
        return fd;
}

static int redirect(int fd, const char *path, int flags) {
        int f = fs_open_at(AT_FDCWD, path, flags, 0600);
        if (f < 0)
                return f;
        if (dup2(f, fd) < 0) {
                int e = -errno;
                close(f);
                return e;
        }
        close(f);
        return 0;
}

/* In the original process: relays the daemon's start-up report. */
static void wait_for_daemon(int fd, pid_t child) {
        char buf[1024];
        size_t got = 0;
        for (;;) {
                ssize_t n = read(fd, buf + got, sizeof(buf) - 1 - got);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                got += (size_t)n;
                if (got == sizeof(buf) - 1)
                        break;
        }
        buf[got] = '\0';
        (void)waitpid(child, NULL, 0);
        if (got == 0) {
                fprintf(stderr, "agent: the daemon died while starting (see logs/daemon_output.log)\n");
                _exit(EX_SOFTWARE);
        }
        char *end;
        long code = strtol(buf, &end, 10);
        if (*end == ' ')
                end++;
        if (code != 0 && *end)
                fprintf(stderr, "agent: %s\n", end);
        _exit((int)code);
}

int daemonize(const char *out_path) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
                int e = -errno;
                close(p[0]);
                close(p[1]);
                return e;
        }
        if (pid > 0) {
                close(p[1]);
                wait_for_daemon(p[0], pid);
        }
        close(p[0]);
        ready_fd = p[1];
        if (setsid() < 0)
                _exit(EX_OSERR);
        pid = fork();
        if (pid < 0)
                _exit(EX_OSERR);
        if (pid > 0)
                _exit(0);
        umask(077);
        if (redirect(STDOUT_FILENO, out_path, O_WRONLY | O_CREAT | O_APPEND) < 0 ||
            dup2(STDOUT_FILENO, STDERR_FILENO) < 0) {
                daemon_failed(EX_CANTCREAT, "cannot open the daemon's output log");
                _exit(EX_CANTCREAT);
        }
        if (redirect(STDIN_FILENO, "/dev/null", O_RDONLY) < 0) {
                daemon_failed(EX_OSERR, "cannot open /dev/null");
                _exit(EX_OSERR);
        }
        if (chdir("/") < 0) {
                daemon_failed(EX_OSERR, "cannot chdir to /");
                _exit(EX_OSERR);
        }
        return 0;
}

static void report(const char *msg) {
        if (ready_fd < 0)
                return;
        (void)fs_write_all(ready_fd, msg, strlen(msg));
        close(ready_fd);
        ready_fd = -1;
}

void daemon_ready(void) {
        report("0");
}

void daemon_failed(int code, const char *msg) {
        char buf[1024];
        int n = snprintf(buf, sizeof(buf), "%d %s", code, msg);
        if (n < 0)
                return;
        report(buf);
}
