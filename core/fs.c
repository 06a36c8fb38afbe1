#include "core/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TMP_PREFIX_LEN (sizeof(FS_TMP_PREFIX) - 1)

int fs_open_at(int dfd, const char *name, int flags, mode_t mode) {
        int fd = openat(dfd, name, flags | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW, mode);

        return fd < 0 ? -errno : fd;
}

int fs_open_dir_at(int dfd, const char *name) {
        int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);

        return fd < 0 ? -errno : fd;
}

int fs_make_dir_at(int dfd, const char *name, bool nofollow, int *ret_fd) {
        int flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0);
        bool created = false;
        int fd, r;

        fd = openat(dfd, name, flags);
        if (fd < 0 && errno == ENOENT) {
                if (mkdirat(dfd, name, 0700) == 0)
                        created = true;
                else if (errno != EEXIST)
                        return -errno;
                fd = openat(dfd, name, flags);
        }
        if (fd < 0) {
                struct stat sb;

                /* O_DIRECTORY reports a symlink as ENOTDIR; say what it is. */
                r = -errno;
                if (r == -ENOTDIR && nofollow && fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
                    S_ISLNK(sb.st_mode))
                        r = -ELOOP;
                return r;
        }
        /* A folder we create is chmod'ed so that the umask cannot matter. */
        if (created && fchmod(fd, 0700) < 0) {
                r = -errno;
                close(fd);
                return r;
        }
        *ret_fd = fd;
        return 0;
}

/* Finds the next path component after *pos, skipping slashes and ".". */
static bool next_component(const char *path, size_t *pos, const char **ret, size_t *ret_len) {
        size_t i = *pos;

        for (;;) {
                size_t n;

                while (path[i] == '/')
                        i++;
                if (path[i] == '\0') {
                        *pos = i;
                        return false;
                }
                n = strcspn(path + i, "/");
                if (n == 1 && path[i] == '.') {
                        i += n;
                        continue;
                }
                *ret = path + i;
                *ret_len = n;
                *pos = i + n;
                return true;
        }
}

int fs_make_dirs(const char *path, int *ret_fd) {
        char comp[NAME_MAX + 1];
        const char *c;
        size_t clen, pos = 0;
        int cur, r;

        if (!path || path[0] == '\0')
                return -EINVAL;
        cur = open(path[0] == '/' ? "/" : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (cur < 0)
                return -errno;
        while (next_component(path, &pos, &c, &clen)) {
                size_t after = pos;
                const char *c2;
                size_t clen2;
                bool last = !next_component(path, &after, &c2, &clen2);
                int fd = -1;

                if (clen > NAME_MAX) {
                        close(cur);
                        return -ENAMETOOLONG;
                }
                memcpy(comp, c, clen);
                comp[clen] = '\0';
                r = fs_make_dir_at(cur, comp, last, &fd);
                close(cur);
                if (r < 0)
                        return r;
                cur = fd;
        }
        *ret_fd = cur;
        return 0;
}

int fs_write_all(int fd, const void *buf, size_t len) {
        const char *p = buf;

        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        return -EIO;
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

int fs_write_atomic(int dfd, const char *name, const void *buf, size_t len) {
        char tmp[NAME_MAX + 1];
        int fd, n, r;

        n = snprintf(tmp, sizeof(tmp), FS_TMP_PREFIX "%s", name);
        if (n < 0 || (size_t)n >= sizeof(tmp))
                return -ENAMETOOLONG;
        fd = fs_open_at(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (fd < 0)
                return fd;
        if (fchmod(fd, 0600) < 0) {
                r = -errno;
                goto fail;
        }
        r = fs_write_all(fd, buf, len);
        if (r < 0)
                goto fail;
        if (fsync(fd) < 0) {
                r = -errno;
                goto fail;
        }
        r = close(fd);
        fd = -1;
        if (r < 0) {
                r = -errno;
                goto fail;
        }
        /* Never replace a file already there: a name is used once. */
        if (renameat2(dfd, tmp, dfd, name, RENAME_NOREPLACE) < 0) {
                if (errno != EINVAL && errno != ENOSYS) {
                        r = -errno;
                        goto fail;
                }
                if (renameat(dfd, tmp, dfd, name) < 0) {
                        r = -errno;
                        goto fail;
                }
        }
        if (fsync(dfd) < 0) {
                /* The caller will treat this file as not written, so it must
                 * not stay behind under its final name. */
                r = -errno;
                (void)unlinkat(dfd, name, 0);
                (void)fsync(dfd);
                return r;
        }
        return 0;
fail:
        if (fd >= 0)
                close(fd);
        (void)unlinkat(dfd, tmp, 0);
        return r;
}

int fs_dir_stream(int fd, DIR **ret) {
        int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d;
        int r;

        if (dfd < 0)
                return -errno;
        d = fdopendir(dfd);
        if (!d) {
                r = -errno;
                close(dfd);
                return r;
        }
        *ret = d;
        return 0;
}

int fs_dir_next(DIR *d, struct dirent **ret) {
        errno = 0;
        *ret = readdir(d);
        if (*ret)
                return 1;
        return errno ? -errno : 0;
}

void fs_close(int *fd) {
        if (*fd >= 0) {
                close(*fd);
                *fd = -1;
        }
}
