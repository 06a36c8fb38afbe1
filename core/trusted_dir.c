#include "core/trusted_dir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int failf(int err, char *why, size_t why_size, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int failf(int err, char *why, size_t why_size, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(why, why_size, fmt, ap);
        va_end(ap);
        if (n < 0 && why_size)
                why[0] = '\0';
        return err;
}

/* Checks the folder fd refers to; shown is its path, for messages.  With
 * above (a folder above the one asked for, when publishing) only what could
 * move things inside it counts: writable by group or others, unless sticky;
 * its owner may be anyone (see trusted_dir.h). */
static int check(int fd, const char *shown, bool above, char *why, size_t why_size) {
        struct stat st;
        if (fstat(fd, &st) < 0)
                return failf(-errno, why, why_size, "%s: %s", shown, strerror(errno));
        if (!S_ISDIR(st.st_mode))
                return failf(-ENOTDIR, why, why_size, "%s is not a folder", shown);
        if (above && (st.st_mode & S_ISVTX))
                return 0;
        if (!above && st.st_uid != 0 && st.st_uid != geteuid())
                return failf(-EPERM, why, why_size, "%s belongs to uid %u, neither root nor us", shown,
                             (unsigned)st.st_uid);
        if (st.st_mode & 022)
                return failf(-EPERM, why, why_size, "%s is writable by %s (mode %04o)", shown,
                             (st.st_mode & 022) == 022 ? "its group and others"
                             : (st.st_mode & 020)      ? "its group"
                                                       : "others",
                             (unsigned)(st.st_mode & 07777));
        return 0;
}

/* Walks dir from / as trusted_dir.h says; publish: the folders above the
 * last are judged as `above` (check()). */
static int open_walk(const char *dir, bool publish, char *why, size_t why_size) {
        char real[PATH_MAX], walked[PATH_MAX] = "";
        if (!realpath(dir, real))
                return failf(-errno, why, why_size, "%s: %s", dir, strerror(errno));
        int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return failf(-errno, why, why_size, "/: %s", strerror(errno));
        /* Whether a component is the last: the folder asked for. */
        size_t depth = 0, last = 0;
        for (const char *q = real; *q; q++)
                last += *q == '/' && q[1] && q[1] != '/';
        int r = check(fd, "/", publish && last > 0, why, why_size);
        size_t wlen = 0;
        char *save = NULL;
        for (char *c = strtok_r(real, "/", &save); r == 0 && c; c = strtok_r(NULL, "/", &save)) {
                /* walked fits: it is a prefix of real. */
                wlen += (size_t)snprintf(walked + wlen, sizeof(walked) - wlen, "/%s", c);
                int next = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (next < 0) {
                        int e = errno;
                        r = failf(-e, why, why_size, "%s: %s", walked,
                                  e == ELOOP || e == ENOTDIR ? "not a folder (replaced by a symlink?)"
                                                             : strerror(e));
                        break;
                }
                close(fd);
                fd = next;
                depth++;
                r = check(fd, walked, publish && depth < last, why, why_size);
        }
        if (r < 0) {
                close(fd);
                return r;
        }
        return fd;
}

int trusted_dir_open(const char *dir, char *why, size_t why_size) {
        return open_walk(dir, false, why, why_size);
}

static int write_all(int fd, const char *p, size_t len) {
        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return -EIO;
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

int trusted_dir_replace_file(const char *path, const void *data, size_t len, mode_t mode, char *why,
                             size_t why_size) {
        const char *slash = strrchr(path, '/');
        const char *name = slash ? slash + 1 : path;
        char dir[PATH_MAX];
        int n = slash ? snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path)
                      : snprintf(dir, sizeof(dir), ".");
        if (n < 0 || (size_t)n >= sizeof(dir) || !*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
                return failf(-EINVAL, why, why_size, "%s: not a file name", path);
        if (n == 0)
                snprintf(dir, sizeof(dir), "/");
        int dfd = open_walk(dir, true, why, why_size);
        if (dfd < 0)
                return dfd;
        /* A leading dot and no .prom ending: node_exporter's textfile
         * collector reads *.prom only, so it never sees a half-written
         * file. */
        char tmp[NAME_MAX + 1];
        n = snprintf(tmp, sizeof(tmp), ".%s.%ld.tmp", name, (long)getpid());
        if (n < 0 || (size_t)n >= sizeof(tmp)) {
                close(dfd);
                return failf(-ENAMETOOLONG, why, why_size, "%s: name too long", path);
        }
        int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, mode);
        if (fd < 0 && errno == EEXIST) {
                /* Left by a crashed agent that had our pid. */
                (void)unlinkat(dfd, tmp, 0);
                fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, mode);
        }
        if (fd < 0) {
                int e = errno;
                close(dfd);
                return failf(-e, why, why_size, "cannot create %s/%s: %s", dir, tmp, strerror(e));
        }
        int r = fchmod(fd, mode) < 0 ? -errno : 0;
        if (r == 0)
                r = write_all(fd, data, len);
        /* The data reaches the disk before the name does, so that a crash
         * leaves the old file or the new one, never an empty one.  The
         * folder is not synced: a rename lost in a crash only brings back
         * the previous contents, which the next write replaces. */
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        if (close(fd) < 0 && r == 0)
                r = -errno;
        if (r == 0 && renameat(dfd, tmp, dfd, name) < 0)
                r = -errno;
        if (r < 0) {
                (void)unlinkat(dfd, tmp, 0);
                failf(r, why, why_size, "cannot write %s: %s", path, strerror(-r));
        }
        close(dfd);
        return r;
}
