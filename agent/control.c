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

/* Tries pidfile_acquire() this often before giving up: each retry means
 * that an agent stopped between our open and our lock. */
#define PIDFILE_TRIES 100

int pidfile_acquire(int dfd, const char *name, const char *shown, pid_t *ret_holder, char *why,
                    size_t why_size) {
        for (int tries = 0; tries < PIDFILE_TRIES; tries++) {
                int fd = fs_open_own_file_at(dfd, name, O_RDWR | O_CREAT, 0600, shown, why, why_size);
                struct stat locked, there;
                if (fd < 0)
                        return fd;
                if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                        int e = errno;
                        char buf[32] = "";
                        ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
                        close(fd);
                        if (e != EWOULDBLOCK) {
                                snprintf(why, why_size, "cannot lock %s: %s", shown, strerror(e));
                                return -e;
                        }
                        pid_t holder = 0;
                        if (n > 0 && proc_parse_pid(buf, (size_t)n, &holder) < 0)
                                holder = 0;
                        *ret_holder = holder;
                        return -EWOULDBLOCK;
                }
                if (fstat(fd, &locked) == 0 && fs_stat_at(dfd, name, &there) == 0 &&
                    locked.st_dev == there.st_dev && locked.st_ino == there.st_ino) {
                        char buf[32];
                        int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
                        if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
                                int e = errno;
                                close(fd);
                                snprintf(why, why_size, "cannot write %s: %s", shown, strerror(e));
                                return -e;
                        }
                        return fd;
                }
                /* Locked a file its holder had removed: not the pid file any
                 * more. */
                close(fd);
        }
        snprintf(why, why_size, "%s keeps changing under us", shown);
        return -EAGAIN;
}

/* Removes name from dfd if it is still the file fd is open on, then closes
 * fd: what another agent put at the name is never removed. */
static void remove_own(int dfd, const char *name, int fd) {
        struct stat st;
        if (fd < 0)
                return;
        if (fstat(fd, &st) == 0)
                (void)fs_unlink_at(dfd, name, 0, &st);
        close(fd);
}

void pidfile_release(int dfd, const char *name, int fd) {
        remove_own(dfd, name, fd);
}

static const char *kind(mode_t m) {
        return S_ISLNK(m)   ? "a symlink"
               : S_ISREG(m) ? "a regular file"
               : S_ISDIR(m) ? "a directory"
                            : "another kind of file";
}

int fifo_open(int dfd, const char *name, const char *shown, char *why, size_t why_size) {
        struct stat st;
        int r = fs_stat_at(dfd, name, &st);
        if (r == 0) {
                if (!S_ISFIFO(st.st_mode)) {
                        snprintf(why, why_size, "%s exists and is not a FIFO (%s); not touching it", shown,
                                 kind(st.st_mode));
                        return -EEXIST;
                }
                if (st.st_uid != geteuid()) {
                        snprintf(why, why_size, "%s is a FIFO owned by uid %u, not by us; not touching it",
                                 shown, (unsigned)st.st_uid);
                        return -EPERM;
                }
        } else if (r != -ENOENT) {
                snprintf(why, why_size, "%s: %s", shown, strerror(-r));
                return r;
        } else if ((r = fs_make_fifo_at(dfd, name, 0600)) < 0) {
                snprintf(why, why_size, "cannot create FIFO %s: %s", shown, strerror(-r));
                return r;
        }
        int fd = fs_open_at(dfd, name, O_RDWR | O_NONBLOCK, 0);
        if (fd < 0) {
                snprintf(why, why_size, "cannot open FIFO %s: %s", shown, strerror(-fd));
                return fd;
        }
        /* The name could have been swapped between the stat and the open. */
        struct stat fst;
        if (fstat(fd, &fst) < 0 || !S_ISFIFO(fst.st_mode) || fst.st_uid != geteuid()) {
                close(fd);
                snprintf(why, why_size, "%s changed while being opened; not using it", shown);
                return -EPERM;
        }
        (void)fchmod(fd, 0600);
        return fd;
}

void fifo_remove(int dfd, const char *name, int fd) {
        remove_own(dfd, name, fd);
}

int daemon_open_output(int logs_fd, char *why, size_t why_size) {
        return fs_open_own_file_at(logs_fd, DAEMON_OUTPUT_NAME, O_WRONLY | O_CREAT | O_APPEND, 0600,
                                   "logs/" DAEMON_OUTPUT_NAME, why, why_size);
}

static int redirect(int fd, int f) {
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

int daemonize(int logs_fd) {
        char why[FS_WHY_SIZE];
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
        int out = daemon_open_output(logs_fd, why, sizeof(why));
        if (redirect(STDOUT_FILENO, out) < 0 || dup2(STDOUT_FILENO, STDERR_FILENO) < 0) {
                int code = out == -EPERM ? EX_NOPERM : EX_CANTCREAT;
                daemon_failed(code, out < 0 ? why : "cannot open the daemon's output log");
                _exit(code);
        }
        if (redirect(STDIN_FILENO, open("/dev/null", O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
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
