/*
 * The alert rules' questions answered from /proc and the file system, as
 * the target process sees them (see core/alerts_fs.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/alerts_fs.h"
#include "core/alloc.h"
#include "core/users.h"

/* Header-only, as in core/maps.c. */
#define XXH_INLINE_ALL
#include <xxhash.h>

/* The cache of path facts is dropped whole when it reaches this many
 * entries: a bound on what hostile paths can make the agent hold. */
#define CACHE_MAX ((size_t)1 << 16)
#define CACHE_MIN ((size_t)256)
/* A worker's cache lives for one evaluation: a few dozen paths at most. */
#define CACHE_MIN_ONE_SHOT ((size_t)32)
/* /etc/group and /etc/passwd larger than USERS_DB_MAX are not read (the
 * answer is then "others may be in the group"). */

/* Which file-system tree a path is looked up in: the mount namespace and
 * the root folder of the process. */
struct tree_id {
        uint64_t mntns;
        uint64_t root_dev;
        uint64_t root_ino;
};

struct cache_entry {
        char *path; /* owned; NULL: free slot */
        uint64_t hash;
        struct tree_id tree;
        int err;
        struct alert_stat st;
};

struct alert_sysfs {
        int keep_cache;
        uint64_t own_mntns;
        /* "/" of the agent, O_PATH; without keep_cache open only during an
         * evaluation, so that a thousand idle workers hold no fd for it. */
        int own_root_fd;

        /* The process of the evaluation under way (begin() to end()). */
        pid_t pid;
        int proc_fd; /* /proc/PID, O_PATH */
        int root_fd; /* its root, O_PATH: own_root_fd or its own */
        struct tree_id tree;
        int tree_ok;
        int opened; /* proc_fd and root_fd were opened (or tried) */

        struct cache_entry *tab;
        size_t cap;
        size_t n;

        /* The folder of the last lookup, kept open: libraries come in
         * batches from the same folder. */
        char *dir_path;
        int dir_fd;
        struct tree_id dir_tree;

        /* /etc/group and /etc/passwd of one tree. */
        char *group_db;
        char *passwd_db;
        int db_loaded; /* 1: loaded (the texts may be NULL: unreadable) */
        struct tree_id db_tree;
};

static int same_tree(const struct tree_id *a, const struct tree_id *b) {
        return a->mntns == b->mntns && a->root_dev == b->root_dev && a->root_ino == b->root_ino;
}

static void to_alert_stat(const struct stat *st, struct alert_stat *ret) {
        ret->dev_major = major(st->st_dev);
        ret->dev_minor = minor(st->st_dev);
        ret->ino = st->st_ino;
        ret->mode = st->st_mode;
        ret->uid = st->st_uid;
        ret->gid = st->st_gid;
        ret->nlink = st->st_nlink;
        ret->size = (uint64_t)st->st_size;
}

static void close_dir(struct alert_sysfs *fs) {
        if (fs->dir_fd >= 0)
                close(fs->dir_fd);
        fs->dir_fd = -1;
        mm_free(fs->dir_path);
        fs->dir_path = NULL;
}

static void drop_db(struct alert_sysfs *fs) {
        mm_free(fs->group_db);
        mm_free(fs->passwd_db);
        fs->group_db = fs->passwd_db = NULL;
        fs->db_loaded = 0;
}

static void flush_cache(struct alert_sysfs *fs) {
        for (size_t i = 0; i < fs->cap; i++) {
                mm_free(fs->tab[i].path);
                fs->tab[i].path = NULL;
        }
        fs->n = 0;
}

int alert_sysfs_new(int keep_cache, struct alert_sysfs **ret) {
        struct alert_sysfs *fs = mm_calloc(1, sizeof(*fs));
        struct stat st;

        if (!fs)
                return -ENOMEM;
        fs->keep_cache = keep_cache;
        fs->proc_fd = fs->root_fd = fs->dir_fd = fs->own_root_fd = -1;
        if (keep_cache && (fs->own_root_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
                int r = -errno;
                mm_free(fs);
                return r;
        }
        /* Without a namespace to compare with, every process is looked at
         * through its /proc/PID/root. */
        fs->own_mntns = stat("/proc/self/ns/mnt", &st) == 0 ? st.st_ino : 0;
        *ret = fs;
        return 0;
}

static void end_process(struct alert_sysfs *fs) {
        if (fs->proc_fd >= 0)
                close(fs->proc_fd);
        if (fs->root_fd >= 0 && fs->root_fd != fs->own_root_fd)
                close(fs->root_fd);
        fs->proc_fd = fs->root_fd = -1;
        fs->tree_ok = 0;
        fs->opened = 0;
}

void alert_sysfs_free(struct alert_sysfs *fs) {
        if (!fs)
                return;
        end_process(fs);
        close_dir(fs);
        drop_db(fs);
        flush_cache(fs);
        mm_free(fs->tab);
        if (fs->own_root_fd >= 0)
                close(fs->own_root_fd);
        mm_free(fs);
}

/* Opens what the process's questions go through, on the first question of
 * an evaluation: many evaluations ask none (no executable file came). */
static void open_process(struct alert_sysfs *fs) {
        char name[32];
        struct stat st;

        fs->opened = 1;
        if (snprintf(name, sizeof(name), "/proc/%d", (int)fs->pid) >= (int)sizeof(name))
                return;
        /* Everything about the process goes through this fd, so that a pid
         * reused meanwhile cannot answer for it. */
        fs->proc_fd = open(name, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fs->proc_fd < 0 || fstatat(fs->proc_fd, "ns/mnt", &st, 0) < 0)
                return;
        fs->tree.mntns = st.st_ino;
        if (fs->own_root_fd < 0)
                fs->own_root_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (st.st_ino == fs->own_mntns && fs->own_mntns != 0 && fs->own_root_fd >= 0) {
                /* The kernel prints paths of our own namespace relative to
                 * our root (a chrooted process's too). */
                fs->root_fd = fs->own_root_fd;
        } else {
                fs->root_fd = openat(fs->proc_fd, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (fs->root_fd < 0)
                        return;
        }
        if (fstat(fs->root_fd, &st) < 0)
                return;
        fs->tree.root_dev = st.st_dev;
        fs->tree.root_ino = st.st_ino;
        fs->tree_ok = 1;
}

static struct alert_sysfs *process_fs(void *ctx) {
        struct alert_sysfs *fs = ctx;

        if (!fs->opened)
                open_process(fs);
        return fs;
}

static void sys_begin(void *ctx, const struct alert_proc *proc) {
        struct alert_sysfs *fs = ctx;

        end_process(fs);
        fs->pid = proc->pid;
}

static void sys_end(void *ctx) {
        struct alert_sysfs *fs = ctx;

        end_process(fs);
        /* A worker's facts may be stale by its next evaluation, and a
         * thousand idle workers should not each hold a cache. */
        if (!fs->keep_cache) {
                flush_cache(fs);
                mm_free(fs->tab);
                fs->tab = NULL;
                fs->cap = 0;
                close_dir(fs);
                drop_db(fs);
                if (fs->own_root_fd >= 0)
                        close(fs->own_root_fd);
                fs->own_root_fd = -1;
        }
}

static int sys_mapped_stat(void *ctx, const struct alert_proc *proc, uint64_t start, uint64_t end,
                           struct alert_stat *ret) {
        struct alert_sysfs *fs = process_fs(ctx);
        char name[64];
        struct stat st;

        (void)proc;
        if (fs->proc_fd < 0)
                return -ESRCH;
        if (snprintf(name, sizeof(name), "map_files/%" PRIx64 "-%" PRIx64, start, end) >= (int)sizeof(name))
                return -EINVAL;
        if (fstatat(fs->proc_fd, name, &st, 0) < 0)
                return -errno;
        to_alert_stat(&st, ret);
        return 0;
}

/* A path the kernel printed is absolute and canonical: no "", "." or ".."
 * component, which could otherwise climb out of the process's root. */
static int path_ok(const char *path, size_t len) {
        size_t i = 1;

        if (len == 0 || path[0] != '/' || len >= 4096)
                return 0;
        while (len > 1 && i <= len) {
                size_t j = i;

                while (j < len && path[j] != '/')
                        j++;
                if (j == i || (j - i == 1 && path[i] == '.') ||
                    (j - i == 2 && path[i] == '.' && path[i + 1] == '.'))
                        return 0;
                i = j + 1;
        }
        return 1;
}

static uint64_t path_hash(const struct tree_id *t, const char *path, size_t len) {
        return XXH3_64bits_withSeed(path, len,
                                    t->mntns * 0x9e3779b97f4a7c15ULL ^ t->root_dev ^ t->root_ino << 7);
}

static struct cache_entry *cache_find(struct alert_sysfs *fs, const char *path, size_t len, uint64_t h) {
        if (fs->cap == 0)
                return NULL;
        for (size_t i = h & (fs->cap - 1);; i = (i + 1) & (fs->cap - 1)) {
                struct cache_entry *e = &fs->tab[i];
                if (!e->path)
                        return NULL;
                if (e->hash == h && same_tree(&e->tree, &fs->tree) && strlen(e->path) == len &&
                    memcmp(e->path, path, len) == 0)
                        return e;
        }
}

static int cache_grow(struct alert_sysfs *fs) {
        size_t cap = fs->cap ? fs->cap * 2 : fs->keep_cache ? CACHE_MIN : CACHE_MIN_ONE_SHOT;
        struct cache_entry *tab = mm_calloc(cap, sizeof(*tab));

        if (!tab)
                return -ENOMEM;
        for (size_t i = 0; i < fs->cap; i++) {
                struct cache_entry *e = &fs->tab[i];
                if (!e->path)
                        continue;
                size_t k = e->hash & (cap - 1);
                while (tab[k].path)
                        k = (k + 1) & (cap - 1);
                tab[k] = *e;
        }
        mm_free(fs->tab);
        fs->tab = tab;
        fs->cap = cap;
        return 0;
}

/* Remembers what path gave.  A cache that cannot grow is simply skipped. */
static void cache_put(struct alert_sysfs *fs, const char *path, size_t len, int err,
                      const struct alert_stat *st) {
        uint64_t h = path_hash(&fs->tree, path, len);
        struct cache_entry *e;
        size_t k;

        if (cache_find(fs, path, len, h))
                return;
        if (fs->n >= CACHE_MAX)
                flush_cache(fs);
        if ((fs->n + 1) * 4 > fs->cap * 3 && cache_grow(fs) < 0)
                return;
        for (k = h & (fs->cap - 1); fs->tab[k].path; k = (k + 1) & (fs->cap - 1))
                ;
        e = &fs->tab[k];
        e->path = mm_malloc(len + 1);
        if (!e->path)
                return;
        memcpy(e->path, path, len);
        e->path[len] = '\0';
        e->hash = h;
        e->tree = fs->tree;
        e->err = err;
        if (st)
                e->st = *st;
        fs->n++;
}

/* Opens the folder that holds the last component of path (absolute,
 * checked), walking from the process's root one component at a time and
 * refusing symlinks; each folder's facts go to the cache on the way.
 * Returns an O_PATH fd that the caller must not close (it is kept as the
 * folder of the last lookup), or -errno. */
static int open_parent(struct alert_sysfs *fs, const char *path, size_t *ret_base) {
        size_t dlen = strlen(path);
        int fd;

        while (dlen > 0 && path[dlen - 1] != '/')
                dlen--;
        *ret_base = dlen;
        /* path[0..dlen) ends in '/'; the folder is that without it. */
        if (dlen <= 1)
                return fs->root_fd;
        dlen--;
        if (fs->dir_path && same_tree(&fs->dir_tree, &fs->tree) && strlen(fs->dir_path) == dlen &&
            memcmp(fs->dir_path, path, dlen) == 0)
                return fs->dir_fd;
        close_dir(fs);
        fd = fs->root_fd;
        for (size_t i = 1; i < dlen;) {
                size_t j = i;
                char comp[256];
                struct stat st;
                struct alert_stat as;
                int nfd = -1, r = 0;

                while (j < dlen && path[j] != '/')
                        j++;
                if (j - i >= sizeof(comp)) {
                        r = -ENAMETOOLONG;
                } else {
                        memcpy(comp, path + i, j - i);
                        comp[j - i] = '\0';
                        nfd = openat(fd, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                        if (nfd < 0) {
                                r = -errno;
                        } else if (fstat(nfd, &st) < 0) {
                                r = -errno;
                                close(nfd);
                        } else {
                                to_alert_stat(&st, &as);
                                if (S_ISLNK(st.st_mode))
                                        r = -ELOOP;
                                else if (!S_ISDIR(st.st_mode))
                                        r = -ENOTDIR;
                                cache_put(fs, path, j, 0, &as);
                                if (r < 0)
                                        close(nfd);
                        }
                }
                if (fd != fs->root_fd)
                        close(fd);
                if (r < 0)
                        return r;
                fd = nfd;
                i = j + 1;
        }
        fs->dir_path = mm_malloc(dlen + 1);
        if (!fs->dir_path) {
                close(fd);
                return -ENOMEM;
        }
        memcpy(fs->dir_path, path, dlen);
        fs->dir_path[dlen] = '\0';
        fs->dir_fd = fd;
        fs->dir_tree = fs->tree;
        return fd;
}

static int sys_path_stat(void *ctx, const struct alert_proc *proc, const char *path, struct alert_stat *ret) {
        struct alert_sysfs *fs = process_fs(ctx);
        size_t len = strlen(path), base;
        struct cache_entry *e;
        struct stat st;
        int dfd, r;

        (void)proc;
        if (!fs->tree_ok)
                return -ESRCH;
        if (!path_ok(path, len))
                return -EINVAL;
        e = cache_find(fs, path, len, path_hash(&fs->tree, path, len));
        if (e) {
                if (e->err == 0)
                        *ret = e->st;
                return e->err;
        }
        if (len == 1) {
                r = fstat(fs->root_fd, &st) < 0 ? -errno : 0;
        } else {
                dfd = open_parent(fs, path, &base);
                if (dfd < 0) {
                        /* A failure on the way (ELOOP, ENOENT) is the answer
                         * for every path below it too. */
                        if (dfd != -ENOMEM)
                                cache_put(fs, path, len, dfd, NULL);
                        return dfd;
                }
                r = fstatat(dfd, path + base, &st, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT) < 0 ? -errno : 0;
        }
        if (r == 0)
                to_alert_stat(&st, ret);
        cache_put(fs, path, len, r, r == 0 ? ret : NULL);
        return r;
}

/* The one door through which a file another user may control is opened
 * for reading: dirfd/name is first opened O_PATH (which opens nothing: a
 * FIFO cannot block, a device's driver is not called), checked to be a
 * regular file, and only that very inode is then opened for reading,
 * through /proc/self/fd.  flags: extra openat flags for the O_PATH open
 * (O_NOFOLLOW).  With want_ino, the file must also be dev:ino.  Returns an
 * fd or -errno. */
static int open_regular(int dirfd, const char *name, int flags, const struct stat *want) {
        char self[64];
        struct stat st, again;
        int pfd = openat(dirfd, name, O_PATH | O_CLOEXEC | flags), fd;

        if (pfd < 0)
                return -errno;
        if (fstat(pfd, &st) < 0 || !S_ISREG(st.st_mode) ||
            (want && (st.st_dev != want->st_dev || st.st_ino != want->st_ino)) ||
            snprintf(self, sizeof(self), "/proc/self/fd/%d", pfd) >= (int)sizeof(self)) {
                close(pfd);
                return -EINVAL;
        }
        fd = open(self, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        close(pfd);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &again) < 0 || again.st_dev != st.st_dev || again.st_ino != st.st_ino) {
                close(fd);
                return -EINVAL;
        }
        return fd;
}

/* Reads the regular file path of the process's tree whole, up to USERS_DB_MAX,
 * into a NUL-terminated buffer.  Returns it, or NULL. */
static char *read_db(struct alert_sysfs *fs, const char *path) {
        size_t base;
        int dfd = open_parent(fs, path, &base);

        if (dfd < 0)
                return NULL;
        return users_read_db(open_regular(dfd, path + base, O_NOFOLLOW, NULL));
}

static int sys_group_has_others(void *ctx, const struct alert_proc *proc, uint32_t gid, uint32_t uid) {
        struct alert_sysfs *fs = process_fs(ctx);

        (void)proc;
        if (!fs->tree_ok)
                return 1;
        if (!fs->db_loaded || !same_tree(&fs->db_tree, &fs->tree)) {
                drop_db(fs);
                fs->group_db = read_db(fs, "/etc/group");
                fs->passwd_db = read_db(fs, "/etc/passwd");
                fs->db_loaded = 1;
                fs->db_tree = fs->tree;
        }
        if (!fs->group_db || !fs->passwd_db)
                return 1;
        return users_group_db_has_others(fs->group_db, fs->passwd_db, gid, uid) ? 1 : 0;
}

static int sys_open_mapped(void *ctx, const struct alert_proc *proc, uint64_t start, uint64_t end,
                           const char *path, uint32_t maj, uint32_t min, uint64_t ino) {
        struct alert_sysfs *fs = process_fs(ctx);
        char name[64];
        struct stat want;
        size_t base;
        int fd, dfd;

        (void)proc;
        if (fs->proc_fd < 0)
                return -ESRCH;
        /* By identity: the very file mapped there. */
        if (snprintf(name, sizeof(name), "map_files/%" PRIx64 "-%" PRIx64, start, end) < (int)sizeof(name)) {
                fd = open_regular(fs->proc_fd, name, 0, NULL);
                if (fd >= 0 || fd == -ENOENT)
                        return fd;
        }
        /* Else by path, when the file there is the one maps names. */
        if (!fs->tree_ok || !path_ok(path, strlen(path)))
                return -ENOENT;
        dfd = open_parent(fs, path, &base);
        if (dfd < 0)
                return dfd;
        memset(&want, 0, sizeof(want));
        want.st_dev = makedev(maj, min);
        want.st_ino = (ino_t)ino;
        return open_regular(dfd, path + base, O_NOFOLLOW, &want);
}

static ssize_t sys_read_file(void *ctx, int handle, void *buf, size_t len, uint64_t off) {
        ssize_t n;

        (void)ctx;
        do
                n = pread(handle, buf, len, (off_t)off);
        while (n < 0 && errno == EINTR);
        return n < 0 ? -errno : n;
}

static void sys_close_file(void *ctx, int handle) {
        (void)ctx;
        close(handle);
}

static ssize_t sys_read_mem(void *ctx, const struct alert_proc *proc, uint64_t addr, void *buf, size_t len) {
        struct iovec local = {buf, len};
        struct iovec remote = {(void *)(uintptr_t)addr, len};
        ssize_t n;

        (void)ctx;
        n = process_vm_readv(proc->pid, &local, 1, &remote, 1, 0);
        return n < 0 ? -errno : n;
}

const struct alert_fs_ops alert_sysfs_ops = {
    .begin = sys_begin,
    .end = sys_end,
    .mapped_stat = sys_mapped_stat,
    .path_stat = sys_path_stat,
    .group_has_others = sys_group_has_others,
    .open_mapped = sys_open_mapped,
    .read_file = sys_read_file,
    .close_file = sys_close_file,
    .read_mem = sys_read_mem,
};
