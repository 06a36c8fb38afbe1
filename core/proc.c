#include "core/proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/users.h"

/* The first buffer of a proc_dents (proc_file_ranges). */
#define PROC_DENTS_MIN_CAP ((size_t)4 * 1024)

int proc_parse_stat_fields(const char *buf, size_t len, struct proc_stat *ret) {
        const char *p = NULL;
        for (size_t i = len; i > 0; i--) {
                if (buf[i - 1] == ')') {
                        p = buf + i;
                        break;
                }
        }
        if (!p)
                return -EINVAL;
        const char *end = buf + len;
        /* Field 3 (state) is the first after ')', flags field 9, start time
         * field 22. */
        struct proc_stat st = {0};
        for (int field = 3; field <= 22; field++) {
                while (p < end && *p == ' ')
                        p++;
                if (p >= end)
                        return -EINVAL;
                const char *tok = p;
                while (p < end && *p != ' ' && *p != '\n')
                        p++;
                if (field == 3)
                        st.state = *tok;
                if (field == 9 || field == 22) {
                        uint64_t value = 0;
                        if (tok == p)
                                return -EINVAL;
                        for (const char *q = tok; q < p; q++) {
                                if (*q < '0' || *q > '9' || value > (UINT64_MAX - 9) / 10)
                                        return -EINVAL;
                                value = value * 10 + (uint64_t)(*q - '0');
                        }
                        if (field == 9 && value > UINT_MAX)
                                return -EINVAL;
                        if (field == 9)
                                st.flags = (unsigned)value;
                        else
                                st.start_time = value;
                }
        }
        *ret = st;
        return 0;
}

int proc_parse_stat(const char *buf, size_t len, uint64_t *ret_start_time, char *ret_state) {
        struct proc_stat st;
        if (proc_parse_stat_fields(buf, len, &st) < 0)
                return -EINVAL;
        *ret_start_time = st.start_time;
        if (ret_state)
                *ret_state = st.state;
        return 0;
}

static ssize_t read_small_file(const char *path, char *buf, size_t size) {
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        size_t got = 0;
        while (got < size) {
                ssize_t n = read(fd, buf + got, size - got);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        int e = -errno;
                        close(fd);
                        return e;
                }
                if (n == 0)
                        break;
                got += (size_t)n;
        }
        close(fd);
        return (ssize_t)got;
}

/* Writes the path of a file in the /proc folder of pid, or of its thread
 * tid (tid 0 or pid: the process's own).  Returns 0 or -EINVAL. */
static int task_path(pid_t pid, pid_t tid, const char *name, char *buf, size_t size) {
        int n = tid > 0 && tid != pid ? snprintf(buf, size, "/proc/%d/task/%d/%s", (int)pid, (int)tid, name)
                                      : snprintf(buf, size, "/proc/%d/%s", (int)pid, name);
        return n < 0 || (size_t)n >= size ? -EINVAL : 0;
}

/* Reads /proc/PID/stat (or that of the thread tid of pid).  Returns 0,
 * -ESRCH when there is no such process, or another -errno. */
static int read_stat(pid_t pid, pid_t tid, struct proc_stat *ret) {
        char path[64];
        /* A stat line is well under 1 KiB unless comm is odd; 4 KiB is plenty. */
        char buf[4096];
        if (pid <= 0)
                return -ESRCH;
        if (task_path(pid, tid, "stat", path, sizeof(path)) < 0)
                return -EINVAL;
        ssize_t len = read_small_file(path, buf, sizeof(buf));
        if (len == -ENOENT || len == -ESRCH)
                return -ESRCH;
        if (len < 0)
                return (int)len;
        return proc_parse_stat_fields(buf, (size_t)len, ret);
}

static bool exited(char state) {
        return state == 'Z' || state == 'X';
}

int proc_identity(pid_t pid, struct proc_id *ret) {
        struct proc_stat st;
        int r = read_stat(pid, 0, &st);
        if (r < 0)
                return r;
        if (exited(st.state))
                return -ESRCH;
        ret->pid = pid;
        ret->start_time = st.start_time;
        return 0;
}

/* A thread of pid other than the main one that has not exited.  Returns
 * 0, -ESRCH when there is none, or another -errno. */
static int live_thread(pid_t pid, pid_t *ret) {
        char path[64];
        int n = snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
        if (n < 0 || (size_t)n >= sizeof(path))
                return -EINVAL;
        DIR *d = opendir(path);
        if (!d)
                return errno == ENOENT ? -ESRCH : -errno;
        int r = -ESRCH;
        struct dirent *de;
        while (r == -ESRCH && (de = readdir(d))) {
                pid_t tid;
                struct proc_stat st;
                if (proc_parse_pid(de->d_name, strlen(de->d_name), &tid) < 0 || tid == pid)
                        continue;
                if (read_stat(pid, tid, &st) == 0 && !exited(st.state)) {
                        *ret = tid;
                        r = 0;
                }
        }
        closedir(d);
        return r;
}

int proc_task_find(pid_t pid, struct proc_task *ret) {
        struct proc_stat st;
        int r = read_stat(pid, 0, &st);
        if (r < 0)
                return r;
        struct proc_task t = {
            .id = {.pid = pid, .start_time = st.start_time},
            .tid = pid,
            .kernel_thread = (st.flags & PROC_PF_KTHREAD) != 0,
        };
        /* The main thread's state is the process's in /proc/PID/stat: a
         * zombie main thread with live threads is a live process, whose
         * own maps file reads empty (the main thread has no address space
         * any more) while its threads' show the process's. */
        if (exited(st.state)) {
                r = live_thread(pid, &t.tid);
                if (r < 0)
                        return r;
        }
        *ret = t;
        return 0;
}

int proc_task_open(const struct proc_task *t, const char *name) {
        char path[96];
        if (t->id.pid <= 0)
                return -ESRCH;
        if (task_path(t->id.pid, t->tid, name, path, sizeof(path)) < 0)
                return -EINVAL;
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return errno == ENOENT || errno == ESRCH ? -ESRCH : -errno;
        return fd;
}

int proc_parse_pid(const char *s, size_t len, pid_t *ret) {
        size_t i = 0;
        while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
                i++;
        uint64_t v = 0;
        size_t digits = 0;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
                v = v * 10 + (uint64_t)(s[i] - '0');
                if (v > PROC_PID_MAX)
                        return -EINVAL;
                i++;
                digits++;
        }
        while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
                i++;
        if (digits == 0 || i != len || v == 0)
                return -EINVAL;
        *ret = (pid_t)v;
        return 0;
}

/* Reads the pid in the pidfile fd is open on, after checking that it is a
 * regular file.  Returns 0, -EINVAL or -errno. */
static int read_pidfile_fd(int fd, pid_t *ret) {
        char buf[64];
        struct stat st;
        ssize_t len;

        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        do
                len = read(fd, buf, sizeof(buf));
        while (len < 0 && errno == EINTR);
        if (len < 0)
                return -errno;
        if ((size_t)len == sizeof(buf))
                return -EINVAL;
        return proc_parse_pid(buf, (size_t)len, ret);
}

static int open_pidfile_at(int dfd, const char *name) {
        int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK);
        return fd < 0 ? -errno : fd;
}

int proc_read_pidfile(const char *path, pid_t *ret) {
        int fd = open_pidfile_at(AT_FDCWD, path);
        if (fd < 0)
                return fd;
        int r = read_pidfile_fd(fd, ret);
        close(fd);
        return r;
}

int proc_uid(pid_t pid, uid_t *ret) {
        uid_t ruid, euid;
        int r = proc_uids(pid, &ruid, &euid);
        if (r < 0)
                return r;
        *ret = ruid;
        return 0;
}

int proc_uids(pid_t pid, uid_t *ret_ruid, uid_t *ret_euid) {
        char path[64], buf[4096]; /* "Uid:" is among the first lines */
        int n = snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        if (n < 0 || (size_t)n >= sizeof(path) || pid <= 0)
                return -ESRCH;
        ssize_t len = read_small_file(path, buf, sizeof(buf) - 1);
        if (len == -ENOENT || len == -ESRCH)
                return -ESRCH;
        if (len < 0)
                return (int)len;
        buf[len] = '\0';
        /* "Uid:\treal\teffective\tsaved\tfs" */
        const char *p = strstr(buf, "\nUid:");
        if (!p)
                return -EINVAL;
        p += 5;
        uid_t ids[2];
        for (int field = 0; field < 2; field++) {
                char *end;
                while (*p == ' ' || *p == '\t')
                        p++;
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                errno = 0;
                unsigned long long v = strtoull(p, &end, 10);
                if (errno != 0 || v > UINT32_MAX)
                        return -EINVAL;
                ids[field] = (uid_t)v;
                p = end;
        }
        *ret_ruid = ids[0];
        *ret_euid = ids[1];
        return 0;
}

int proc_owner_may_name(uid_t owner, pid_t pid, const char *path, char *why, size_t why_size) {
        char name[USERS_NAME_SIZE];
        uid_t ruid, euid;
        int r;

        if (owner == 0)
                return 0;
        r = proc_uids(pid, &ruid, &euid);
        if (r < 0)
                return r;
        if (ruid == owner && euid == owner)
                return 0;
        if (why) {
                uid_t other = euid != owner ? euid : ruid;
                snprintf(
                    why, why_size,
                    "pidfile %s (owned by uid %u) names pid %d of another user (uid %u, %s; real uid %u)",
                    path, (unsigned)owner, (int)pid, (unsigned)other,
                    users_user_name(other, name, sizeof(name)), (unsigned)ruid);
        }
        return -EPERM;
}

/* Who besides root and the file's owner may replace a file in the folder
 * ds describes, or NULL: see proc_read_pidfile_trusted(). */
static const char *folder_open_to(const struct stat *ds, uid_t file_owner) {
        if (ds->st_uid != 0 && ds->st_uid != geteuid() && ds->st_uid != file_owner)
                return "a folder owned by another user";
        if (ds->st_mode & S_ISVTX)
                return NULL;
        if (ds->st_mode & S_IWOTH)
                return "a world-writable folder";
        if ((ds->st_mode & S_IWGRP) && users_group_has_others(ds->st_gid, file_owner))
                return "a group-writable folder whose group has other members";
        return NULL;
}

int proc_read_pidfile_trusted(const char *path, pid_t *ret, uid_t *ret_owner, char *why, size_t why_size) {
        char dir[4096], owner[USERS_NAME_SIZE];
        const char *slash = strrchr(path, '/'), *open_to;
        struct stat ds, fs;
        pid_t pid;
        int dfd = -1, fd = -1, r;

        int n = slash ? snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path)
                      : snprintf(dir, sizeof(dir), ".");
        if (n < 0 || (size_t)n >= sizeof(dir))
                return -ENAMETOOLONG;
        if (!dir[0])
                dir[0] = '/', dir[1] = '\0';
        dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        fd = open_pidfile_at(dfd, slash ? slash + 1 : path);
        if (fd < 0) {
                r = fd;
                goto out;
        }
        if (fstat(dfd, &ds) < 0 || fstat(fd, &fs) < 0) {
                r = -errno;
                goto out;
        }
        r = -EPERM;
        if (!S_ISREG(fs.st_mode)) {
                snprintf(why, why_size, "pidfile %s is not a regular file", path);
                goto out;
        }
        users_user_name(fs.st_uid, owner, sizeof(owner));
        if ((open_to = folder_open_to(&ds, fs.st_uid))) {
                snprintf(why, why_size,
                         "pidfile %s is in %s (uid %u, mode %04o): someone else could plant it", path,
                         open_to, (unsigned)ds.st_uid, (unsigned)(ds.st_mode & 07777));
                goto out;
        }
        if ((fs.st_mode & S_IWOTH) ||
            ((fs.st_mode & S_IWGRP) && users_group_has_others(fs.st_gid, fs.st_uid))) {
                snprintf(why, why_size, "pidfile %s (owned by uid %u, %s) is writable by %s (mode %04o)",
                         path, (unsigned)fs.st_uid, owner, (fs.st_mode & S_IWOTH) ? "anyone" : "its group",
                         (unsigned)(fs.st_mode & 07777));
                goto out;
        }
        r = read_pidfile_fd(fd, &pid);
        if (r < 0)
                goto out;
        /* A pidfile naming no process is no threat; the caller finds it
         * missing. */
        r = proc_owner_may_name(fs.st_uid, pid, path, why, why_size);
        if (r == -ESRCH)
                r = 0;
        if (r < 0)
                goto out;
        *ret = pid;
        if (ret_owner)
                *ret_owner = fs.st_uid;
out:
        if (fd >= 0)
                close(fd);
        close(dfd);
        return r;
}

/* When pid's main thread has exited, its /proc/PID/exe link is gone
 * (ENOENT) while its other threads still run the program: the link of a
 * live one into path.  Returns 0, or -ESRCH when there is none. */
static int thread_exe_link(pid_t pid, char *path, size_t size) {
        struct proc_task t;
        if (proc_task_find(pid, &t) < 0 || t.tid == pid)
                return -ESRCH;
        int n = snprintf(path, size, "/proc/%d/task/%d/exe", (int)pid, (int)t.tid);
        return n < 0 || (size_t)n >= size ? -ESRCH : 0;
}

bool proc_exe_is(pid_t pid, const char *path) {
        char exe[96];
        struct stat a, b;
        int n = snprintf(exe, sizeof(exe), "/proc/%d/exe", (int)pid);
        if (n < 0 || (size_t)n >= sizeof(exe))
                return false;
        /* stat() follows the magic link to the file the process runs. */
        if (stat(exe, &a) < 0 &&
            (errno != ENOENT || thread_exe_link(pid, exe, sizeof(exe)) < 0 || stat(exe, &a) < 0))
                return false;
        return stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int proc_filter_check(pid_t pid, const struct target_filter *f, char *why, size_t why_size) {
        char name[USERS_NAME_SIZE];
        if (f && f->has_uid) {
                uid_t ruid, euid;
                int r = proc_uids(pid, &ruid, &euid);
                if (r < 0)
                        return r;
                if (ruid != f->uid || euid != f->uid) {
                        if (why)
                                snprintf(why, why_size,
                                         "pid %d runs as uid %u (real uid %u), not as uid %u (%s)", (int)pid,
                                         (unsigned)euid, (unsigned)ruid, (unsigned)f->uid,
                                         users_user_name(f->uid, name, sizeof(name)));
                        return -EPERM;
                }
        }
        if (f && f->exe && !proc_exe_is(pid, f->exe)) {
                struct proc_id id;
                if (proc_identity(pid, &id) < 0)
                        return -ESRCH;
                if (why)
                        snprintf(why, why_size, "pid %d does not run %s", (int)pid, f->exe);
                return -EPERM;
        }
        return 0;
}

int proc_comm(pid_t pid, char ret[PROC_COMM_SIZE]) {
        char path[64], buf[PROC_COMM_SIZE + 1];
        int n = snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
        if (n < 0 || (size_t)n >= sizeof(path))
                return -EINVAL;
        ssize_t len = read_small_file(path, buf, sizeof(buf) - 1);
        if (len < 0)
                return len == -ENOENT ? -ESRCH : (int)len;
        if (len > 0 && buf[len - 1] == '\n')
                len--;
        if ((size_t)len >= PROC_COMM_SIZE)
                return -EINVAL;
        memcpy(ret, buf, (size_t)len);
        ret[len] = '\0';
        return 0;
}

int proc_exe_name(pid_t pid, char ret[PROC_NAME_SIZE]) {
        char path[96], buf[PATH_MAX];
        int n = snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
        if (n < 0 || (size_t)n >= sizeof(path))
                return -EINVAL;
        ssize_t len = readlink(path, buf, sizeof(buf) - 1);
        if (len < 0 && errno == ENOENT && thread_exe_link(pid, path, sizeof(path)) == 0)
                len = readlink(path, buf, sizeof(buf) - 1);
        if (len < 0)
                return errno == ENOENT ? -ESRCH : -errno;
        if (len == 0)
                return -EINVAL;
        buf[len] = '\0';
        const char *del = " (deleted)";
        size_t dl = strlen(del);
        if ((size_t)len > dl && strcmp(buf + len - dl, del) == 0)
                buf[len - dl] = '\0';
        const char *base = strrchr(buf, '/');
        base = base ? base + 1 : buf;
        if (strlen(base) >= PROC_NAME_SIZE)
                return -EINVAL;
        memcpy(ret, base, strlen(base) + 1);
        return 0;
}

bool proc_name_matches(pid_t pid, const char *name) {
        char buf[PROC_NAME_SIZE];
        if (proc_comm(pid, buf) == 0 && strcmp(buf, name) == 0)
                return true;
        /* comm is cut at 15 bytes, so longer names are matched on the exe. */
        return proc_exe_name(pid, buf) == 0 && strcmp(buf, name) == 0;
}

/* The alert rules' "its own user" (issue 10), for workers and `agent scan`. */
int proc_effective_uid(pid_t pid, uid_t *ret) {
        uid_t ruid, euid;
        int r = proc_uids(pid, &ruid, &euid);
        if (r < 0)
                return r;
        *ret = euid;
        return 0;
}

void proc_dents_fini(struct proc_dents *d) {
        mm_free(d->buf);
        d->buf = NULL;
        d->cap = 0;
}

void proc_dents_release(struct proc_dents *d, size_t keep) {
        if (d->cap <= keep)
                proc_dents_fini(d);
}

/* Parses a map_files name, "start-end" in hex. */
static int parse_range(const char *name, uint64_t *ret_start, uint64_t *ret_end) {
        char *dash, *end;
        errno = 0;
        unsigned long long a = strtoull(name, &dash, 16);
        if (dash == name || *dash != '-' || errno)
                return -EINVAL;
        unsigned long long b = strtoull(dash + 1, &end, 16);
        if (end == dash + 1 || *end || errno || b <= a)
                return -EINVAL;
        *ret_start = a;
        *ret_end = b;
        return 0;
}

int proc_file_ranges(const struct proc_task *t, struct proc_dents *d, uint64_t *ret_count,
                     uint64_t *ret_hash) {
        int fd = proc_task_open(t, "map_files");
        uint64_t count = 0, hash = PROC_RANGES_HASH_INIT;
        int r;

        if (fd < 0)
                return fd;
        for (;;) {
                if (d->cap == 0) {
                        /* About 80 entries; a bigger process's listing
                         * grows it (once: it is kept). */
                        char *buf = mm_malloc(PROC_DENTS_MIN_CAP);
                        if (!buf) {
                                r = -ENOMEM;
                                goto out;
                        }
                        d->buf = buf;
                        d->cap = PROC_DENTS_MIN_CAP;
                }
                long n = syscall(SYS_getdents64, fd, d->buf, d->cap);
                if (n < 0) {
                        r = errno == ENOENT ? -ESRCH : -errno;
                        goto out;
                }
                /* One call must hold it all: a second one gathers again,
                 * at another instant. */
                long more = n > 0 ? syscall(SYS_getdents64, fd, d->buf + n, d->cap - (size_t)n) : 0;
                if (more == 0) {
                        for (long off = 0; off < n;) {
                                const struct dirent64 *de = (const struct dirent64 *)(d->buf + off);
                                uint64_t a, b;
                                off += de->d_reclen;
                                if (parse_range(de->d_name, &a, &b) < 0)
                                        continue;
                                hash = proc_ranges_hash(hash, a, b);
                                count++;
                        }
                        r = 0;
                        break;
                }
                if (more < 0 && errno != EINVAL) {
                        r = -errno;
                        goto out;
                }
                if (d->cap > SIZE_MAX / 4) {
                        r = -ENOMEM;
                        goto out;
                }
                char *buf = mm_realloc(d->buf, d->cap * 4);
                if (!buf) {
                        r = -ENOMEM;
                        goto out;
                }
                d->buf = buf;
                d->cap *= 4;
                if (lseek(fd, 0, SEEK_SET) < 0) {
                        r = -errno;
                        goto out;
                }
        }
        *ret_count = count;
        *ret_hash = hash;
out:
        close(fd);
        return r;
}
