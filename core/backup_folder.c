#include "core/backup_folder.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/fs.h"

/* A backup file is the maps of one process plus a few header lines; anything
 * far larger is not ours, and reading it whole would only exhaust memory. */
#define FILE_MAX ((off_t)1 << 30)

void bf_reportf(const struct reporter *rp, const char *fmt, ...) {
        char line[PATH_MAX + 512];
        va_list ap;
        int n;

        if (!rp->fn)
                return;
        va_start(ap, fmt);
        n = vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        if (n < 0) {
                rp->fn(rp->user, "(a message could not be formatted)");
                return;
        }
        if ((size_t)n >= sizeof(line))
                memcpy(line + sizeof(line) - 4, "...", 4);
        rp->fn(rp->user, line);
}

void bf_report_fault(const struct reporter *rp, const char *dir, const char *sub, const char *name,
                     const struct backup_fault *f, const char *tail) {
        if (f->line > 0)
                bf_reportf(rp, "%s/%s/%s: line %zu: %s%s", dir, sub, name, f->line, f->why, tail);
        else
                bf_reportf(rp, "%s/%s/%s: %s%s", dir, sub, name, f->why, tail);
}

void bf_rctx_init(struct rctx *x) {
        x->file = NULL;
        x->file_cap = 0;
        backup_chain_init(&x->chain);
}

void bf_rctx_fini(struct rctx *x) {
        mm_free(x->file);
        backup_chain_fini(&x->chain);
}

/* Reads a whole backup file into x->file.  Its size on disk bounds the
 * allocation; nothing read from the content does.  Returns the length,
 * -EBADMSG with *f set, or -ENOMEM. */
static int read_whole(struct rctx *x, int dir_fd, const char *name, size_t *ret_len, struct backup_fault *f) {
        char eb[128];
        struct stat sb;
        size_t size, got = 0;
        int fd, r;

        fd = fs_open_at(dir_fd, name, O_RDONLY | O_NONBLOCK, 0);
        if (fd < 0)
                return backup_faultf(f, 0, "cannot open: %s", strerror_r(-fd, eb, sizeof(eb)));
        if (fstat(fd, &sb) < 0) {
                r = backup_faultf(f, 0, "cannot stat: %s", strerror_r(errno, eb, sizeof(eb)));
                goto out;
        }
        if (!S_ISREG(sb.st_mode)) {
                r = backup_faultf(f, 0, "not a regular file");
                goto out;
        }
        if (sb.st_size > FILE_MAX) {
                r = backup_faultf(f, 0, "too large (%jd bytes)", (intmax_t)sb.st_size);
                goto out;
        }
        size = (size_t)sb.st_size;
        if (size + 1 > x->file_cap) {
                char *p = mm_realloc(x->file, size + 1);
                if (!p) {
                        r = -ENOMEM;
                        goto out;
                }
                x->file = p;
                x->file_cap = size + 1;
        }
        while (got < size) {
                ssize_t n = read(fd, x->file + got, size - got);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = backup_faultf(f, 0, "cannot read: %s", strerror_r(errno, eb, sizeof(eb)));
                        goto out;
                }
                if (n == 0)
                        break;
                got += (size_t)n;
        }
        *ret_len = got;
        r = 0;
out:
        close(fd);
        return r;
}
static int listing_push(struct listing *l, const struct entry *e) {
        if (l->n == l->cap) {
                size_t cap = l->cap ? l->cap * 2 : 64;
                struct entry *v = mm_reallocarray(l->v, cap, sizeof(*v));
                if (!v)
                        return -ENOMEM;
                l->v = v;
                l->cap = cap;
        }
        l->v[l->n++] = *e;
        return 0;
}

/* Adds the backup files of one folder to l; dotfiles (temp files among them)
 * and names that are not backup names are left out, and so are timestamps
 * after not_after (when not NULL).  With sizes, each entry gets its size on
 * disk. */
static int list_dir(int fd, bool full, bool sizes, const char *not_after, struct listing *l) {
        struct dirent *de;
        DIR *d;
        int r;

        if (fd < 0)
                return 0;
        r = fs_dir_stream(fd, &d);
        if (r < 0)
                return r;
        while ((r = fs_dir_next(d, &de)) > 0) {
                struct entry e;

                if (de->d_name[0] == '.')
                        continue;
                memset(&e, 0, sizeof(e));
                if (backup_name_parse(de->d_name, full, &e.pid, e.ts) < 0 ||
                    (not_after && strcmp(e.ts, not_after) > 0))
                        continue;
                memcpy(e.name, de->d_name, strlen(de->d_name) + 1);
                e.full = full;
                if (sizes) {
                        struct stat sb;
                        if (fstatat(fd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
                                if (errno == ENOENT)
                                        continue;
                                r = -errno;
                                break;
                        }
                        e.size = (uint64_t)sb.st_size;
                }
                r = listing_push(l, &e);
                if (r < 0)
                        break;
        }
        closedir(d);
        return r;
}

static int entry_cmp(const void *a, const void *b) {
        const struct entry *x = a, *y = b;
        int c = strcmp(x->ts, y->ts);

        if (c != 0)
                return c;
        if (x->full != y->full)
                return x->full ? -1 : 1;
        return strcmp(x->name, y->name);
}

/* Lists full/ and incremental/ in time order (up to not_after, when it is
 * not NULL). */
int bf_list_chains(int full_fd, int incr_fd, bool sizes, const char *not_after, struct listing *l) {
        int r;

        r = list_dir(full_fd, true, sizes, not_after, l);
        if (r < 0)
                return r;
        r = list_dir(incr_fd, false, sizes, not_after, l);
        if (r < 0)
                return r;
        if (l->n > 1)
                qsort(l->v, l->n, sizeof(l->v[0]), entry_cmp);
        return 0;
}

/* The end of the group starting at i: a full snapshot and its diffs, or the
 * diffs before the first full snapshot. */
size_t bf_group_end(const struct listing *l, size_t i) {
        size_t j = i + 1;

        while (j < l->n && !l->v[j].full)
                j++;
        return j;
}

void bf_folder_close(struct folder *fo) {
        fs_close(&fo->incr_fd);
        fs_close(&fo->full_fd);
        mm_free(fo->l.v);
        fo->l = (struct listing){0};
}

/* Opens the target folder dfd refers to.  Returns 0 or -errno; on failure
 * *fo is closed. */
int bf_folder_open(int dfd, struct folder *fo) {
        static const char *const subs[2] = {"full", "incremental"};
        int *fds[2] = {&fo->full_fd, &fo->incr_fd};
        int r;

        *fo = (struct folder){.full_fd = -1, .incr_fd = -1};
        for (size_t i = 0; i < 2; i++) {
                r = fs_open_dir_at(dfd, subs[i]);
                if (r < 0 && r != -ENOENT)
                        goto fail;
                *fds[i] = r;
        }
        r = bf_list_chains(fo->full_fd, fo->incr_fd, false, NULL, &fo->l);
        if (r < 0)
                goto fail;
        return 0;
fail:
        bf_folder_close(fo);
        return r;
}

/* Opens the target folder at path: *ret_dfd and *fo, both closed by the
 * caller whatever is returned.  Returns 0 or -errno. */
int bf_folder_open_path(const char *path, int *ret_dfd, struct folder *fo) {
        *ret_dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (*ret_dfd < 0)
                return -errno;
        return bf_folder_open(*ret_dfd, fo);
}

/* Reads the file of entry e of the folder fo: a full snapshot starts x's
 * chain, a diff is applied to it.  Returns 0, -EBADMSG with *f set, or
 * -ENOMEM. */
int bf_read_entry(struct rctx *x, const struct folder *fo, const struct entry *e, struct backup_fault *f) {
        size_t len;
        int r;

        r = read_whole(x, e->full ? fo->full_fd : fo->incr_fd, e->name, &len, f);
        if (r < 0)
                return r;
        if (e->full)
                return backup_chain_load_full(&x->chain, x->file, len, e->pid, e->ts, f);
        return backup_chain_apply_diff(&x->chain, x->file, len, e->pid, e->ts, f);
}

bool bf_is_target_dir(int dfd) {
        struct stat sb;

        if (fstatat(dfd, "full", &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(sb.st_mode))
                return true;
        return fstatat(dfd, "incremental", &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(sb.st_mode);
}

static int name_cmp(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names of the subfolders of dfd, sorted, dotfiles left out. */
static int list_subdirs(int dfd, char ***ret_names, size_t *ret_n) {
        char **names = NULL;
        size_t n = 0, cap = 0;
        struct dirent *de;
        DIR *d;
        int r;

        r = fs_dir_stream(dfd, &d);
        if (r < 0)
                return r;
        while ((r = fs_dir_next(d, &de)) > 0) {
                struct stat sb;
                char *s;

                if (de->d_name[0] == '.')
                        continue;
                if (fstatat(dfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(sb.st_mode))
                        continue;
                if (n == cap) {
                        size_t ncap = cap ? cap * 2 : 16;
                        char **v = mm_reallocarray(names, ncap, sizeof(*v));
                        if (!v) {
                                r = -ENOMEM;
                                break;
                        }
                        names = v;
                        cap = ncap;
                }
                s = mm_strdup(de->d_name);
                if (!s) {
                        r = -ENOMEM;
                        break;
                }
                names[n++] = s;
        }
        closedir(d);
        if (r < 0) {
                for (size_t i = 0; i < n; i++)
                        mm_free(names[i]);
                mm_free(names);
                return r;
        }
        if (n > 1)
                qsort(names, n, sizeof(names[0]), name_cmp);
        *ret_names = names;
        *ret_n = n;
        return 0;
}

/* Walks the target folders of the root dfd (named dir): the subfolders that
 * hold full/ or incremental/, in name order.  Returns how many were
 * visited, or -errno (also what fn returned to stop). */
int bf_walk_targets(int dfd, const char *dir, bf_target_fn fn, void *user) {
        char **names = NULL;
        size_t nnames = 0;
        int ntargets = 0, r;

        r = list_subdirs(dfd, &names, &nnames);
        if (r < 0)
                return r;
        for (size_t i = 0; i < nnames; i++) {
                char path[PATH_MAX];
                int sub, n;

                n = snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
                if (n < 0 || (size_t)n >= sizeof(path)) {
                        r = -ENAMETOOLONG;
                        goto out;
                }
                sub = fs_open_dir_at(dfd, names[i]);
                if (sub >= 0 && !bf_is_target_dir(sub)) {
                        close(sub);
                        continue;
                }
                if (sub >= 0)
                        ntargets++;
                r = fn(user, names[i], path, sub);
                fs_close(&sub);
                if (r < 0)
                        goto out;
        }
        r = ntargets;
out:
        for (size_t i = 0; i < nnames; i++)
                mm_free(names[i]);
        mm_free(names);
        return r;
}
