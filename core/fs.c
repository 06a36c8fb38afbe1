#include "core/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/users.h"

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

/* Flags every open under the base directory gets. */
#define ALWAYS (O_CLOEXEC | O_NOCTTY | O_NOFOLLOW)

static int whyf(int err, char *why, size_t why_size, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int whyf(int err, char *why, size_t why_size, const char *fmt, ...) {
        va_list ap;
        if (!why || why_size == 0)
                return err;
        va_start(ap, fmt);
        int n = vsnprintf(why, why_size, fmt, ap);
        va_end(ap);
        if (n < 0)
                why[0] = '\0';
        return err;
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

/* What no path under the base directory may be: empty, absolute, or
 * holding a ".." (openat2 would accept a ".." that stays beneath; the walk
 * refuses all, and so does this, so that both answer the same). */
static int check_path(const char *path) {
        const char *c;
        size_t len, pos = 0;

        if (!path || !*path)
                return -EINVAL;
        if (path[0] == '/')
                return -EXDEV;
        while (next_component(path, &pos, &c, &len)) {
                if (len == 2 && c[0] == '.' && c[1] == '.')
                        return -EXDEV;
                if (len > NAME_MAX)
                        return -ENAMETOOLONG;
        }
        return 0;
}

/* True when name under dfd is a symlink: O_DIRECTORY|O_NOFOLLOW reports
 * one as ENOTDIR, which the door reports as ELOOP, as openat2 does. */
static bool is_symlink_at(int dfd, const char *name) {
        struct stat st;
        return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
}

int fs_walk_at(int dfd, const char *path, int flags, mode_t mode) {
        char comp[NAME_MAX + 1];
        const char *c;
        size_t len, pos = 0;
        int cur = dfd, r;

        r = check_path(path);
        if (r < 0)
                return r;
        if (!next_component(path, &pos, &c, &len)) {
                /* "." or "./": the folder itself. */
                r = openat(dfd, ".", flags | ALWAYS, mode);
                return r < 0 ? -errno : r;
        }
        for (;;) {
                const char *c2;
                size_t len2, after = pos;
                bool last = !next_component(path, &after, &c2, &len2);
                int next;

                memcpy(comp, c, len);
                comp[len] = '\0';
                if (last) {
                        next = openat(cur, comp, flags | ALWAYS, mode);
                        r = next < 0 ? -errno : next;
                        if (r == -ENOTDIR && (flags & O_DIRECTORY) && is_symlink_at(cur, comp))
                                r = -ELOOP;
                        break;
                }
                next = openat(cur, comp, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
                if (next < 0) {
                        r = -errno;
                        if (r == -ENOTDIR && is_symlink_at(cur, comp))
                                r = -ELOOP;
                        break;
                }
                if (cur != dfd)
                        close(cur);
                cur = next;
                c = c2;
                len = len2;
                pos = after;
        }
        if (cur != dfd)
                close(cur);
        return r;
}

int fs_open_at(int dfd, const char *path, int flags, mode_t mode) {
        struct open_how how = {
            .flags = (unsigned long long)(flags | ALWAYS),
            .mode = ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) ? mode : 0,
            .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        int r = check_path(path);

        if (r < 0)
                return r;
        /* EAGAIN: a rename raced the resolution; it is safe to try again. */
        for (int tries = 0; tries < 8; tries++) {
                long fd = syscall(SYS_openat2, dfd, path, &how, sizeof(how));
                if (fd >= 0)
                        return (int)fd;
                r = -errno;
                if (r != -EAGAIN && r != -EINTR)
                        break;
        }
        /* No openat2 (before Linux 5.6), or a seccomp filter that refuses
         * system calls it does not know with EPERM: the walk is as strict,
         * one system call per component. */
        if (r == -ENOSYS || r == -EPERM)
                return fs_walk_at(dfd, path, flags, mode);
        /* openat2 says ENOTDIR for a symlink where a folder is asked for;
         * the walk tells the two apart (ELOOP for a symlink). */
        if (r == -ENOTDIR && (flags & O_DIRECTORY))
                return fs_walk_at(dfd, path, flags, mode);
        return r;
}

int fs_open_dir_at(int dfd, const char *path) {
        return fs_open_at(dfd, path, O_RDONLY | O_DIRECTORY, 0);
}

int fs_make_dir_at(int dfd, const char *path, int *ret_fd) {
        char comp[NAME_MAX + 1];
        const char *c;
        size_t len, pos = 0;
        int cur, r;

        r = check_path(path);
        if (r < 0)
                return r;
        cur = fs_open_dir_at(dfd, ".");
        if (cur < 0)
                return cur;
        while (next_component(path, &pos, &c, &len)) {
                bool created = false;
                int fd;

                memcpy(comp, c, len);
                comp[len] = '\0';
                fd = fs_open_dir_at(cur, comp);
                if (fd == -ENOENT) {
                        if (mkdirat(cur, comp, 0700) == 0)
                                created = true;
                        else if (errno != EEXIST) {
                                r = -errno;
                                goto fail;
                        }
                        fd = fs_open_dir_at(cur, comp);
                }
                if (fd < 0) {
                        r = fd;
                        goto fail;
                }
                close(cur);
                cur = fd;
                /* A folder we create is chmod'ed so that the umask cannot
                 * matter. */
                if (created && fchmod(cur, 0700) < 0) {
                        r = -errno;
                        goto fail;
                }
        }
        *ret_fd = cur;
        return 0;
fail:
        close(cur);
        return r;
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
                int flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | (last ? O_NOFOLLOW : 0);
                bool created = false;
                int fd;

                if (clen > NAME_MAX) {
                        close(cur);
                        return -ENAMETOOLONG;
                }
                memcpy(comp, c, clen);
                comp[clen] = '\0';
                fd = openat(cur, comp, flags);
                if (fd < 0 && errno == ENOENT) {
                        if (mkdirat(cur, comp, 0700) == 0)
                                created = true;
                        else if (errno != EEXIST) {
                                r = -errno;
                                close(cur);
                                return r;
                        }
                        fd = openat(cur, comp, flags);
                }
                if (fd < 0) {
                        r = -errno;
                        if (r == -ENOTDIR && last && is_symlink_at(cur, comp))
                                r = -ELOOP;
                        close(cur);
                        return r;
                }
                close(cur);
                cur = fd;
                if (created && fchmod(cur, 0700) < 0) {
                        r = -errno;
                        close(cur);
                        return r;
                }
        }
        *ret_fd = cur;
        return 0;
}

static const char *file_kind(mode_t m) {
        return S_ISFIFO(m)   ? "a FIFO"
               : S_ISDIR(m)  ? "a folder"
               : S_ISCHR(m)  ? "a character device"
               : S_ISBLK(m)  ? "a block device"
               : S_ISSOCK(m) ? "a socket"
               : S_ISLNK(m)  ? "a symlink"
                             : "not a regular file";
}

int fs_check_own_file(int fd, const char *shown, char *why, size_t why_size) {
        char name[USERS_NAME_SIZE];
        struct stat st;

        if (fstat(fd, &st) < 0)
                return whyf(-errno, why, why_size, "%s: %s", shown, strerror(errno));
        if (!S_ISREG(st.st_mode))
                return whyf(-EPERM, why, why_size, "%s is %s, not a regular file; not using it", shown,
                            file_kind(st.st_mode));
        if (st.st_uid != geteuid())
                return whyf(-EPERM, why, why_size, "%s is owned by uid %u (%s), not by us; not using it",
                            shown, (unsigned)st.st_uid, users_user_name(st.st_uid, name, sizeof(name)));
        if (st.st_nlink != 1)
                return whyf(-EPERM, why, why_size,
                            "%s has %ju links (a hard link to a file elsewhere?); not using it", shown,
                            (uintmax_t)st.st_nlink);
        return 0;
}

int fs_open_own_file_at(int dfd, const char *path, int flags, mode_t mode, const char *shown, char *why,
                        size_t why_size) {
        bool trunc = (flags & O_TRUNC) != 0;
        int fd, fl, r;

        fd = fs_open_at(dfd, path, (flags & ~O_TRUNC) | O_NONBLOCK, mode);
        if (fd == -ENXIO) {
                /* O_WRONLY|O_NONBLOCK on a FIFO nobody reads. */
                struct stat st;
                if (fs_stat_at(dfd, path, &st) == 0 && !S_ISREG(st.st_mode))
                        return whyf(-EPERM, why, why_size, "%s is %s, not a regular file; not using it",
                                    shown, file_kind(st.st_mode));
        }
        if (fd < 0)
                return whyf(fd, why, why_size, "%s: %s", shown, strerror(-fd));
        r = fs_check_own_file(fd, shown, why, why_size);
        if (r < 0)
                goto fail;
        /* A regular file ignores O_NONBLOCK; it is dropped so that the fd
         * behaves as an ordinary one wherever it goes (a child's stdout). */
        if ((fl = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0 ||
            (mode && fchmod(fd, mode) < 0) || (trunc && ftruncate(fd, 0) < 0)) {
                r = whyf(-errno, why, why_size, "%s: %s", shown, strerror(errno));
                goto fail;
        }
        return fd;
fail:
        close(fd);
        return r;
}

/* Opens the folder that holds the last component of path (dfd itself when
 * there is only one) and copies that component into name.  *ret_fd is -1
 * when it is dfd.  Returns 0 or -errno. */
static int open_parent(int dfd, const char *path, int *ret_fd, char name[NAME_MAX + 1]) {
        const char *slash;
        int r = check_path(path);

        if (r < 0)
                return r;
        /* check_path() refused "", so a trailing slash is all that can be
         * left after the last component. */
        size_t end = strlen(path);
        while (end > 1 && path[end - 1] == '/')
                end--;
        slash = memrchr(path, '/', end);
        size_t start = slash ? (size_t)(slash - path) + 1 : 0;
        if (end - start > NAME_MAX || end == start)
                return -EINVAL;
        memcpy(name, path + start, end - start);
        name[end - start] = '\0';
        if (strcmp(name, ".") == 0)
                return -EINVAL;
        *ret_fd = -1;
        if (!slash)
                return 0;
        char parent[PATH_MAX];
        if ((size_t)(slash - path) >= sizeof(parent))
                return -ENAMETOOLONG;
        memcpy(parent, path, (size_t)(slash - path));
        parent[slash - path] = '\0';
        r = fs_open_dir_at(dfd, parent[0] ? parent : ".");
        if (r < 0)
                return r;
        *ret_fd = r;
        return 0;
}

int fs_make_fifo_at(int dfd, const char *path, mode_t mode) {
        char name[NAME_MAX + 1];
        int pfd, r = open_parent(dfd, path, &pfd, name);

        if (r < 0)
                return r;
        r = mkfifoat(pfd >= 0 ? pfd : dfd, name, mode) < 0 ? -errno : 0;
        fs_close(&pfd);
        return r;
}

int fs_stat_at(int dfd, const char *path, struct stat *ret) {
        char name[NAME_MAX + 1];
        int pfd, r = open_parent(dfd, path, &pfd, name);

        if (r < 0)
                return r;
        r = fstatat(pfd >= 0 ? pfd : dfd, name, ret, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
        fs_close(&pfd);
        return r;
}

int fs_unlink_at(int dfd, const char *path, int flags, const struct stat *st) {
        char name[NAME_MAX + 1];
        struct stat now;
        int pfd, r = open_parent(dfd, path, &pfd, name);

        if (r < 0)
                return r;
        int at = pfd >= 0 ? pfd : dfd;
        if (st && (fstatat(at, name, &now, AT_SYMLINK_NOFOLLOW) < 0 || now.st_dev != st->st_dev ||
                   now.st_ino != st->st_ino))
                r = errno == ENOENT ? -ENOENT : -ESTALE;
        else if (unlinkat(at, name, flags) < 0)
                r = -errno;
        fs_close(&pfd);
        return r;
}

/* Who may change a folder besides its owner, or NULL when nobody may:
 * others (unless the folder is sticky, when ancestor is set), or a group
 * that has members other than root and us. */
static const char *open_to(const struct stat *st, bool ancestor, char *buf, size_t size) {
        char g[USERS_NAME_SIZE];
        bool sticky = ancestor && (st->st_mode & S_ISVTX);

        if ((st->st_mode & S_IWOTH) && !sticky)
                return "others";
        if ((st->st_mode & S_IWGRP) && !sticky &&
            (!ancestor || users_group_has_others(st->st_gid, geteuid()))) {
                int n = snprintf(buf, size, "group %u (%s)%s", (unsigned)st->st_gid,
                                 users_group_name(st->st_gid, g, sizeof(g)),
                                 ancestor ? ", which has other members" : "");
                return n < 0 ? "its group" : buf;
        }
        return NULL;
}

/* Checks the folder fd is open on: see fs_check_own_dir(); ancestor
 * selects the rule for the folders above the base directory. */
static int check_dir(int fd, const char *shown, bool ancestor, char *why, size_t why_size) {
        char user[USERS_NAME_SIZE], who[128];
        struct stat st;
        const char *open;

        if (fstat(fd, &st) < 0)
                return whyf(-errno, why, why_size, "%s: %s", shown, strerror(errno));
        if (!S_ISDIR(st.st_mode))
                return whyf(-ENOTDIR, why, why_size, "%s is not a folder", shown);
        users_user_name(st.st_uid, user, sizeof(user));
        if (st.st_uid != 0 && st.st_uid != geteuid())
                return whyf(-EPERM, why, why_size,
                            "%s: owned by uid %u (%s), mode %04o: neither root nor the agent's user (uid %u) "
                            "owns it",
                            shown, (unsigned)st.st_uid, user, (unsigned)(st.st_mode & 07777),
                            (unsigned)geteuid());
        open = open_to(&st, ancestor, who, sizeof(who));
        if (open)
                return whyf(-EPERM, why, why_size, "%s: owned by uid %u (%s), mode %04o: writable by %s",
                            shown, (unsigned)st.st_uid, user, (unsigned)(st.st_mode & 07777), open);
        return 0;
}

int fs_check_own_dir(int fd, const char *shown, char *why, size_t why_size) {
        return check_dir(fd, shown, false, why, why_size);
}

/* Checks the owner of a symlink met on the way: whoever owns it can point
 * it elsewhere, even in a sticky folder. */
static int check_link_owner(int dfd, const char *name, const char *shown, char *why, size_t why_size) {
        char user[USERS_NAME_SIZE];
        struct stat st;

        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return whyf(-errno, why, why_size, "%s: %s", shown, strerror(errno));
        if (st.st_uid != 0 && st.st_uid != geteuid())
                return whyf(-EPERM, why, why_size,
                            "%s: a symlink owned by uid %u (%s), who could point it anywhere", shown,
                            (unsigned)st.st_uid, users_user_name(st.st_uid, user, sizeof(user)));
        return 0;
}

/* Replaces the component just read from todo (ending at *pos) with the
 * target of the symlink name in dfd: todo becomes target + the rest.
 * Returns 0 (todo restarts at 0) or -errno. */
static int splice_link(int dfd, const char *name, char todo[PATH_MAX], size_t *pos) {
        char target[PATH_MAX], rest[PATH_MAX];
        ssize_t n = readlinkat(dfd, name, target, sizeof(target) - 1);
        int m;

        if (n < 0)
                return -errno;
        if (n == 0)
                return -ENOENT;
        target[n] = '\0';
        m = snprintf(rest, sizeof(rest), "%s", todo + *pos);
        if (m < 0 || (size_t)m >= sizeof(rest))
                return -ENAMETOOLONG;
        m = snprintf(todo, PATH_MAX, "%s%s", target, rest);
        if (m < 0 || m >= PATH_MAX)
                return -ENAMETOOLONG;
        *pos = 0;
        return 0;
}

/* Opens "/" as the start of a walk (or again, for an absolute symlink). */
static int walk_from_root(int *fd, char *walked, size_t *wlen, char *why, size_t why_size) {
        int r = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (r < 0)
                return whyf(-errno, why, why_size, "/: %s", strerror(errno));
        if (*fd >= 0)
                close(*fd);
        *fd = r;
        walked[0] = '\0';
        *wlen = 0;
        return check_dir(r, "/", true, why, why_size);
}

/* Resolves path from / as a trusted path, in the manner of systemd's
 * chase(): every folder passed is checked (the ancestor rule of
 * fs_open_base(); the last folder, the one that holds the file or is the
 * base directory, as fs_check_own_dir()), and a symlink is followed only
 * once the folder holding it was checked and when root or the agent's user
 * owns it.  With dir, path names a folder (created, 0700, when missing and
 * create is set) and its fd is returned; else path names a file, which is
 * opened with flags (O_NOFOLLOW, O_NONBLOCK, O_CLOEXEC and O_NOCTTY added)
 * and returned unchecked for the caller to judge. */
static int chase(const char *path, bool dir, bool create, int flags, char *why, size_t why_size) {
        char todo[PATH_MAX], walked[PATH_MAX], comp[NAME_MAX + 1];
        size_t pos = 0, wlen = 0, len;
        const char *c;
        int fd = -1, links = 0, r;

        if (!path || !*path)
                return whyf(-EINVAL, why, why_size, "an empty path");
        if (path[0] == '/')
                r = snprintf(todo, sizeof(todo), "%s", path);
        else {
                char cwd[PATH_MAX];
                if (!getcwd(cwd, sizeof(cwd)))
                        return whyf(-errno, why, why_size, "%s: %s", path, strerror(errno));
                r = snprintf(todo, sizeof(todo), "%s/%s", cwd, path);
        }
        if (r < 0 || (size_t)r >= sizeof(todo))
                return whyf(-ENAMETOOLONG, why, why_size, "%s: %s", path, strerror(ENAMETOOLONG));
        r = walk_from_root(&fd, walked, &wlen, why, why_size);
        if (r < 0)
                goto fail;
        bool more = next_component(todo, &pos, &c, &len);
        if (!more && !dir) {
                r = whyf(-EISDIR, why, why_size, "%s: a folder", path);
                goto fail;
        }
        if (!more) {
                /* The base directory is / itself. */
                r = check_dir(fd, "/", false, why, why_size);
                if (r < 0)
                        goto fail;
                return fd;
        }
        while (more) {
                size_t after = pos;
                const char *c2;
                size_t len2;
                bool last = !next_component(todo, &after, &c2, &len2);
                int next;

                if (len > NAME_MAX) {
                        r = whyf(-ENAMETOOLONG, why, why_size, "%s: %s", path, strerror(ENAMETOOLONG));
                        goto fail;
                }
                memcpy(comp, c, len);
                comp[len] = '\0';
                if (strcmp(comp, "..") == 0) {
                        /* walked holds no symlink (each was replaced by its
                         * target), so its parent is the real one. */
                        next = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                        if (next < 0) {
                                r = whyf(-errno, why, why_size, "%s/..: %s", walked, strerror(errno));
                                goto fail;
                        }
                        close(fd);
                        fd = next;
                        char *slash = strrchr(walked, '/');
                        wlen = slash ? (size_t)(slash - walked) : 0;
                        walked[wlen] = '\0';
                        r = check_dir(fd, wlen ? walked : "/", !(last && dir), why, why_size);
                        if (r < 0)
                                goto fail;
                        if (last && !dir) {
                                r = whyf(-EISDIR, why, why_size, "%s: a folder", path);
                                goto fail;
                        }
                } else {
                        int n = snprintf(walked + wlen, sizeof(walked) - wlen, "/%s", comp);
                        if (n < 0 || (size_t)n >= sizeof(walked) - wlen) {
                                r = whyf(-ENAMETOOLONG, why, why_size, "%s: %s", path,
                                         strerror(ENAMETOOLONG));
                                goto fail;
                        }
                        if (last && !dir) {
                                /* The folder that holds the file. */
                                walked[wlen] = '\0';
                                r = check_dir(fd, wlen ? walked : "/", false, why, why_size);
                                walked[wlen] = '/';
                                if (r < 0)
                                        goto fail;
                                next =
                                    openat(fd, comp, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
                        } else {
                                next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                                if (next < 0 && errno == ENOENT && last && create) {
                                        if (mkdirat(fd, comp, 0700) < 0 && errno != EEXIST) {
                                                r = whyf(-errno, why, why_size, "cannot create %s: %s",
                                                         walked, strerror(errno));
                                                goto fail;
                                        }
                                        next =
                                            openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                                        if (next >= 0 && fchmod(next, 0700) < 0) {
                                                r = whyf(-errno, why, why_size, "%s: %s", walked,
                                                         strerror(errno));
                                                close(next);
                                                goto fail;
                                        }
                                }
                        }
                        if (next < 0 && (errno == ELOOP || errno == ENOTDIR) && is_symlink_at(fd, comp)) {
                                r = check_link_owner(fd, comp, walked, why, why_size);
                                if (r == 0 && ++links > 40)
                                        r = whyf(-ELOOP, why, why_size, "%s: too many symlinks", path);
                                if (r == 0) {
                                        r = splice_link(fd, comp, todo, &pos);
                                        if (r < 0)
                                                whyf(r, why, why_size, "%s: %s", walked, strerror(-r));
                                }
                                if (r < 0)
                                        goto fail;
                                walked[wlen] = '\0';
                                pos = 0;
                                if (todo[0] == '/') {
                                        r = walk_from_root(&fd, walked, &wlen, why, why_size);
                                        if (r < 0)
                                                goto fail;
                                }
                                more = next_component(todo, &pos, &c, &len);
                                continue;
                        }
                        if (next < 0) {
                                r = whyf(-errno, why, why_size, "%s: %s", walked, strerror(errno));
                                goto fail;
                        }
                        close(fd);
                        fd = next;
                        wlen += (size_t)n;
                        if (!(last && !dir)) {
                                r = check_dir(fd, walked, !last, why, why_size);
                                if (r < 0)
                                        goto fail;
                        }
                }
                c = c2;
                len = len2;
                pos = after;
                more = !last;
        }
        return fd;
fail:
        if (fd >= 0)
                close(fd);
        return r;
}

int fs_open_base(const char *path, bool create, char *why, size_t why_size) {
        return chase(path, true, create, 0, why, why_size);
}

int fs_open_trusted_file(const char *path, int flags, char *why, size_t why_size) {
        return chase(path, false, false, flags, why, why_size);
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

        if (strchr(name, '/'))
                return -EINVAL;
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
