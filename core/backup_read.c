#include "core/backup_read.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/fs.h"

/* A backup file is the maps of one process plus a few header lines; anything
 * far larger is not ours, and reading it whole would only exhaust memory. */
#define FILE_MAX ((off_t)1 << 30)

/* One backup file found in full/ or incremental/. */
struct entry {
        char name[BACKUP_NAME_SIZE];
        char ts[TS_SIZE];
        pid_t pid;
        bool full;
        uint64_t size;
};

struct listing {
        struct entry *v;
        size_t n;
        size_t cap;
};

/* Reading state shared by replay and verify: the chain, and the file being
 * read, whose buffer is reused from file to file. */
struct rctx {
        char *file;
        size_t file_cap;
        struct backup_chain chain;
};

struct reporter {
        backup_report_fn fn;
        void *user;
};

static void reportf(const struct reporter *rp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void reportf(const struct reporter *rp, const char *fmt, ...) {
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

static void report_fault(const struct reporter *rp, const char *dir, const char *sub, const char *name,
                         const struct backup_fault *f, const char *tail) {
        if (f->line > 0)
                reportf(rp, "%s/%s/%s: line %zu: %s%s", dir, sub, name, f->line, f->why, tail);
        else
                reportf(rp, "%s/%s/%s: %s%s", dir, sub, name, f->why, tail);
}

static void rctx_init(struct rctx *x) {
        x->file = NULL;
        x->file_cap = 0;
        backup_chain_init(&x->chain);
}

static void rctx_fini(struct rctx *x) {
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
static int list_chains(int full_fd, int incr_fd, bool sizes, const char *not_after, struct listing *l) {
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
static size_t group_end(const struct listing *l, size_t i) {
        size_t j = i + 1;

        while (j < l->n && !l->v[j].full)
                j++;
        return j;
}

/* One target's folder opened for reading: its full/ and incremental/
 * folders (-1 when missing) and their backup files in time order.  Replay
 * and verify both walk a target's folder through this. */
struct folder {
        int full_fd;
        int incr_fd;
        struct listing l;
};

static void folder_close(struct folder *fo) {
        fs_close(&fo->incr_fd);
        fs_close(&fo->full_fd);
        mm_free(fo->l.v);
        fo->l = (struct listing){0};
}

/* Opens the target folder dfd refers to.  Returns 0 or -errno; on failure
 * *fo is closed. */
static int folder_open(int dfd, struct folder *fo) {
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
        r = list_chains(fo->full_fd, fo->incr_fd, false, NULL, &fo->l);
        if (r < 0)
                goto fail;
        return 0;
fail:
        folder_close(fo);
        return r;
}

/* Opens the target folder at path: *ret_dfd and *fo, both closed by the
 * caller whatever is returned.  Returns 0 or -errno. */
static int folder_open_path(const char *path, int *ret_dfd, struct folder *fo) {
        *ret_dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (*ret_dfd < 0)
                return -errno;
        return folder_open(*ret_dfd, fo);
}

/* Reads the file of entry e of the folder fo: a full snapshot starts x's
 * chain, a diff is applied to it.  Returns 0, -EBADMSG with *f set, or
 * -ENOMEM. */
static int read_entry(struct rctx *x, const struct folder *fo, const struct entry *e,
                      struct backup_fault *f) {
        size_t len;
        int r;

        r = read_whole(x, e->full ? fo->full_fd : fo->incr_fd, e->name, &len, f);
        if (r < 0)
                return r;
        if (e->full)
                return backup_chain_load_full(&x->chain, x->file, len, e->pid, e->ts, f);
        return backup_chain_apply_diff(&x->chain, x->file, len, e->pid, e->ts, f);
}

/* Removes name from the folder fd, counting it in *deleted; one already
 * gone is no error.  Returns 0 or -errno. */
static int remove_file(int fd, const char *name, int *deleted) {
        if (unlinkat(fd, name, 0) < 0)
                return errno == ENOENT ? 0 : -errno;
        (*deleted)++;
        return 0;
}

/* Deletes the group [g, end) of l: its diffs newest first, then its full
 * snapshot, so that a crash at any point leaves a full snapshot with a
 * prefix of its diffs (a shorter chain that still verifies), never a chain
 * with a hole in it.  Counts what goes in *n, *deleted and *total.
 * Returns 0 or -errno. */
static int delete_chain(struct backup_store *st, const struct listing *l, size_t g, size_t end,
                        struct backup_retention_note *n, int *deleted, uint64_t *total) {
        bool any_diff = false;
        int r;

        for (size_t j = end; j-- > g;) {
                if (l->v[j].full)
                        continue;
                r = remove_file(st->incr_fd, l->v[j].name, deleted);
                if (r < 0)
                        return r;
                any_diff = true;
                *total -= l->v[j].size;
                n->files++;
                n->bytes += l->v[j].size;
        }
        if (any_diff && fsync(st->incr_fd) < 0)
                return -errno;
        if (!l->v[g].full)
                return 0;
        r = remove_file(st->full_fd, l->v[g].name, deleted);
        if (r < 0)
                return r;
        *total -= l->v[g].size;
        n->files++;
        n->bytes += l->v[g].size;
        return fsync(st->full_fd) < 0 ? -errno : 0;
}

int backup_retention(struct backup_store *st, unsigned keep_full, uint64_t max_bytes,
                     backup_retention_fn note, void *user) {
        struct listing l = {0};
        char now[TS_SIZE];
        uint64_t total = 0;
        size_t nfull = 0, g = 0, last_group = 0;
        int deleted = 0, r;
        bool measured = false;

        if (!st || st->full_fd < 0 || st->incr_fd < 0)
                return -EINVAL;
        if (keep_full == 0 && max_bytes == 0)
                return 0;
        /* A file from the future (planted, or written under a wrong clock)
         * would pass for the newest chain and have the real ones deleted:
         * it is left out, neither counted nor removed. */
        r = ts_next("", now);
        if (r < 0)
                return r;
        r = list_chains(st->full_fd, st->incr_fd, true, now, &l);
        if (r < 0)
                goto out;
        for (size_t i = 0; i < l.n; i++) {
                total += l.v[i].size;
                if (l.v[i].full) {
                        nfull++;
                        last_group = i;
                }
        }
        measured = true;
        /* Groups before last_group may go; the newest chain never does. */
        while (g < last_group &&
               ((keep_full > 0 && nfull > keep_full) || (max_bytes > 0 && total > max_bytes))) {
                size_t end = group_end(&l, g);
                struct backup_retention_note n = {
                    .first = l.v[g].name,
                    .from_ts = l.v[g].ts,
                    .to_ts = l.v[end - 1].ts,
                    .over_keep_full = keep_full > 0 && nfull > keep_full,
                    .over_max_bytes = max_bytes > 0 && total > max_bytes,
                };

                r = delete_chain(st, &l, g, end, &n, &deleted, &total);
                if (l.v[g].full && r == 0)
                        nfull--;
                n.complete = r == 0;
                /* What was deleted is told, also when deleting failed
                 * midway: history never goes silently. */
                if (note)
                        note(user, &n);
                if (r < 0)
                        goto out;
                g = end;
        }
        r = deleted;
out:
        /* What is left is what the folder holds (memmon_backup_bytes). */
        if (measured)
                st->bytes = total;
        mm_free(l.v);
        return r;
}

void backup_store_measure(struct backup_store *st) {
        struct listing l = {0};

        if (list_chains(st->full_fd, st->incr_fd, true, NULL, &l) == 0) {
                st->bytes = 0;
                for (size_t i = 0; i < l.n; i++)
                        st->bytes += l.v[i].size;
        }
        mm_free(l.v);
}

int backup_replay(const char *dir, const char *at, struct maps_snapshot *ret, backup_report_fn report,
                  void *user) {
        struct reporter rp = {report, user};
        struct folder fo = {.full_fd = -1, .incr_fd = -1};
        const struct listing *l = &fo.l;
        struct rctx x;
        struct backup_fault f;
        size_t chosen = SIZE_MAX;
        int dfd = -1, r;
        bool early = false;

        rctx_init(&x);
        if (!dir || !ret || (at && !ts_valid(at, strlen(at)))) {
                r = -EINVAL;
                goto out;
        }
        r = folder_open_path(dir, &dfd, &fo);
        if (r < 0)
                goto out;
        for (size_t i = 0; i < l->n; i++)
                if (l->v[i].full && (!at || strcmp(l->v[i].ts, at) <= 0))
                        chosen = i;
        if (chosen == SIZE_MAX) {
                r = -ENOENT;
                goto out;
        }

        /* The newest chain at or before `at`; if its full snapshot is bad, the
         * end of an older chain is the last good point. */
        for (size_t c = chosen + 1; c-- > 0;) {
                const char *good;

                if (!l->v[c].full)
                        continue;
                r = read_entry(&x, &fo, &l->v[c], &f);
                if (r == -EBADMSG) {
                        report_fault(&rp, dir, "full", l->v[c].name, &f, "; trying an older chain");
                        early = true;
                        continue;
                }
                if (r < 0)
                        goto out;
                good = l->v[c].ts;
                for (size_t j = c + 1; j < l->n && !l->v[j].full; j++) {
                        char tail[64];
                        int n;

                        if (at && strcmp(l->v[j].ts, at) > 0)
                                break;
                        r = read_entry(&x, &fo, &l->v[j], &f);
                        if (r == -EBADMSG) {
                                n = snprintf(tail, sizeof(tail), "; stopped at %s", good);
                                report_fault(&rp, dir, "incremental", l->v[j].name, &f,
                                             n > 0 && (size_t)n < sizeof(tail) ? tail : "");
                                early = true;
                                break;
                        }
                        if (r < 0)
                                goto out;
                        good = l->v[j].ts;
                }
                if (early && c != chosen)
                        reportf(&rp, "%s: stopped at %s, in the chain of full/%s", dir, good, l->v[c].name);
                maps_snapshot_swap(ret, &x.chain.cur);
                r = early ? 1 : 0;
                goto out;
        }
        reportf(&rp, "%s: no readable full snapshot at or before %s", dir, at ? at : "the end");
        r = -EBADMSG;
out:
        rctx_fini(&x);
        folder_close(&fo);
        fs_close(&dfd);
        return r;
}

/* Checks the chain of fo starting at entry i (a full snapshot) and ending
 * before end.  Returns 0 (good), 1 (broken) or -ENOMEM. */
static int verify_chain(struct rctx *x, const char *path, const struct folder *fo, size_t i, size_t end,
                        const struct reporter *rp) {
        const struct entry *v = fo->l.v;
        struct backup_fault f;
        size_t ndiff = end - i - 1;
        int r;

        r = read_entry(x, fo, &v[i], &f);
        if (r == -EBADMSG) {
                report_fault(rp, path, "full", v[i].name, &f, "");
                reportf(rp, "bad %s/full/%s: 0 of %zu diffs checked", path, v[i].name, ndiff);
                return 1;
        }
        if (r < 0)
                return r;
        for (size_t j = i + 1; j < end; j++) {
                r = read_entry(x, fo, &v[j], &f);
                if (r == -EBADMSG) {
                        report_fault(rp, path, "incremental", v[j].name, &f, "");
                        reportf(rp, "bad %s/full/%s: %zu of %zu diffs good", path, v[i].name, j - i - 1,
                                ndiff);
                        return 1;
                }
                if (r < 0)
                        return r;
        }
        reportf(rp, "ok %s/full/%s: %zu diffs", path, v[i].name, ndiff);
        return 0;
}

/* Checks every chain of one target's folder; adds the broken ones to
 * *broken. */
static int verify_target(struct rctx *x, const char *path, int dfd, const struct reporter *rp,
                         unsigned *broken) {
        struct folder fo;
        size_t i = 0;
        int r;

        r = folder_open(dfd, &fo);
        if (r < 0)
                return r;
        if (fo.l.n == 0)
                reportf(rp, "ok %s: no backups", path);
        while (i < fo.l.n) {
                size_t end = group_end(&fo.l, i);

                if (!fo.l.v[i].full) {
                        reportf(rp, "%s/incremental/%s: no full snapshot before it", path, fo.l.v[i].name);
                        (*broken)++;
                } else {
                        r = verify_chain(x, path, &fo, i, end, rp);
                        if (r < 0)
                                goto out;
                        *broken += (unsigned)r;
                }
                i = end;
        }
        r = 0;
out:
        folder_close(&fo);
        return r;
}

static bool is_target_dir(int dfd) {
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

/* Called by walk_targets() for each target folder of a root: its name, its
 * path (root/name) and an fd on it (closed after the call), or -errno
 * when it could not be opened.  Returns 0 to go on, or -errno to stop. */
typedef int (*target_fn)(void *user, const char *name, const char *path, int fd);

/* Walks the target folders of the root dfd (named dir): the subfolders that
 * hold full/ or incremental/, in name order.  Returns how many were
 * visited, or -errno (also what fn returned to stop). */
static int walk_targets(int dfd, const char *dir, target_fn fn, void *user) {
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
                if (sub >= 0 && !is_target_dir(sub)) {
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

struct verify_walk {
        struct rctx *x;
        const struct reporter *rp;
        unsigned broken;
};

static int verify_one(void *user, const char *name, const char *path, int fd) {
        struct verify_walk *vw = user;

        (void)name;
        if (fd < 0) {
                char eb[128];
                reportf(vw->rp, "%s: cannot open: %s", path, strerror_r(-fd, eb, sizeof(eb)));
                vw->broken++;
                return 0;
        }
        return verify_target(vw->x, path, fd, vw->rp, &vw->broken);
}

int backup_verify(const char *dir, backup_report_fn report, void *user) {
        struct reporter rp = {report, user};
        struct rctx x;
        struct verify_walk vw = {&x, &rp, 0};
        int dfd = -1, r;

        rctx_init(&x);
        if (!dir) {
                r = -EINVAL;
                goto out;
        }
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0) {
                r = -errno;
                goto out;
        }
        if (is_target_dir(dfd)) {
                r = verify_target(&x, dir, dfd, &rp, &vw.broken);
        } else {
                r = walk_targets(dfd, dir, verify_one, &vw);
                if (r == 0)
                        r = -ENOENT;
        }
        if (r >= 0)
                r = vw.broken > INT_MAX ? INT_MAX : (int)vw.broken;
out:
        rctx_fini(&x);
        fs_close(&dfd);
        return r;
}

/* The index of the newest full snapshot at or before `from` that reads
 * well, loaded into x's chain, as backup_replay() picks it; SIZE_MAX when
 * there is none.  Returns 0 or -ENOMEM. */
static int walk_start(struct rctx *x, const struct folder *fo, const char *from, size_t *ret) {
        const struct listing *l = &fo->l;
        struct backup_fault f;
        size_t newest = SIZE_MAX;

        for (size_t i = 0; i < l->n && strcmp(l->v[i].ts, from) <= 0; i++)
                if (l->v[i].full)
                        newest = i;
        for (size_t c = newest == SIZE_MAX ? 0 : newest + 1; c-- > 0;) {
                int r;

                if (!l->v[c].full)
                        continue;
                r = read_entry(x, fo, &l->v[c], &f);
                if (r == 0) {
                        *ret = c;
                        return 0;
                }
                if (r != -EBADMSG)
                        return r;
        }
        *ret = SIZE_MAX;
        return 0;
}

int backup_walk(const char *dir, const char *from, const char *to, backup_walk_fn fn, void *user) {
        struct folder fo = {.full_fd = -1, .incr_fd = -1};
        const struct listing *l = &fo.l;
        struct rctx x;
        struct backup_fault f;
        size_t start = SIZE_MAX, i;
        int dfd = -1, bad = 0, r;
        bool head = false;     /* a full snapshot came before the current file */
        bool chain_ok = false; /* the current chain reads well so far */

        rctx_init(&x);
        if (!dir || !fn || (from && !ts_valid(from, strlen(from))) || (to && !ts_valid(to, strlen(to)))) {
                r = -EINVAL;
                goto out;
        }
        r = folder_open_path(dir, &dfd, &fo);
        if (r < 0)
                goto out;
        if (l->n == 0 || (to && strcmp(l->v[0].ts, to) > 0)) {
                r = -ENOENT;
                goto out;
        }
        if (from) {
                r = walk_start(&x, &fo, from, &start);
                if (r < 0)
                        goto out;
        }
        for (i = start == SIZE_MAX ? 0 : start; i < l->n && (!to || strcmp(l->v[i].ts, to) <= 0); i++) {
                const struct entry *e = &l->v[i];
                struct backup_step st = {
                    .name = e->name, .ts = e->ts, .pid = e->pid, .full = e->full, .chain = &x.chain};

                if (i == start) {
                        /* walk_start() has read it already. */
                        r = 0;
                } else if (!e->full && !head) {
                        r = backup_faultf(&f, 0, "no full snapshot before it");
                } else if (!e->full && !chain_ok) {
                        st.result = BACKUP_STEP_SKIPPED;
                        r = 1;
                } else {
                        r = read_entry(&x, &fo, e, &f);
                }
                if (r < 0 && r != -EBADMSG)
                        goto out;
                if (r == -EBADMSG) {
                        st.result = BACKUP_STEP_BAD;
                        st.fault = &f;
                        bad++;
                }
                if (e->full) {
                        head = true;
                        chain_ok = r == 0;
                } else if (r != 0) {
                        chain_ok = false;
                }
                r = fn(user, &st);
                if (r < 0)
                        goto out;
        }
        r = bad;
out:
        rctx_fini(&x);
        folder_close(&fo);
        fs_close(&dfd);
        return r;
}

/* The events of a folder, chain by chain.  A chain's files are read whole
 * (a diff is only checked against the state it applies to), so a time
 * range saves the chains that end before it, not the reading of the
 * chains it touches. */
int backup_events(const char *dir, const char *from, const char *to, backup_event_fn fn,
                  backup_report_fn report, void *user) {
        struct reporter rp = {report, user};
        struct folder fo = {.full_fd = -1, .incr_fd = -1};
        const struct listing *l = &fo.l;
        struct backup_fault f;
        struct rctx x;
        size_t i = 0;
        int dfd = -1, r, bad = 0;

        rctx_init(&x);
        if (!dir || !fn || (from && !ts_valid(from, strlen(from))) || (to && !ts_valid(to, strlen(to)))) {
                r = -EINVAL;
                goto out;
        }
        r = folder_open_path(dir, &dfd, &fo);
        if (r < 0)
                goto out;
        if (l->n == 0) {
                r = -ENOENT;
                goto out;
        }
        while (i < l->n) {
                size_t end = group_end(l, i);

                /* Events come before the file that holds them: a chain
                 * whose successor starts before `from` ends before it. */
                if (!l->v[i].full || (from && end < l->n && strcmp(l->v[end].ts, from) < 0)) {
                        if (!l->v[i].full) {
                                reportf(&rp, "%s/incremental/%s: no full snapshot before it", dir,
                                        l->v[i].name);
                                bad = 1;
                        }
                        i = end;
                        continue;
                }
                for (size_t j = i; j < end; j++) {
                        const struct entry *e = &l->v[j];
                        char file[BACKUP_NAME_SIZE + 16];

                        r = read_entry(&x, &fo, e, &f);
                        if (r == -EBADMSG) {
                                report_fault(&rp, dir, e->full ? "full" : "incremental", e->name, &f,
                                             j + 1 < end ? "; the rest of its chain is skipped" : "");
                                bad = 1;
                                break;
                        }
                        if (r < 0)
                                goto out;
                        snprintf(file, sizeof(file), "%s/%s", e->full ? "full" : "incremental", e->name);
                        /* A file's lost events fall in the interval since the
                         * file before it. */
                        if (x.chain.lost > 0 && (!from || strcmp(e->ts, from) >= 0) &&
                            (!to || j == 0 || strcmp(l->v[j - 1].ts, to) < 0))
                                fn(user, &(struct backup_event_item){.lost = x.chain.lost, .file = file});
                        for (size_t k = 0; k < x.chain.n_events; k++) {
                                const struct capture_event *ev = &x.chain.events[k];

                                if ((from && strcmp(ev->time, from) < 0) || (to && strcmp(ev->time, to) > 0))
                                        continue;
                                fn(user, &(struct backup_event_item){.ev = ev, .file = file});
                        }
                }
                i = end;
        }
        r = bad;
out:
        rctx_fini(&x);
        folder_close(&fo);
        fs_close(&dfd);
        return r;
}

/* The span of the target folder dfd. */
static int span_at(int dfd, struct backup_span *ret) {
        struct folder fo;
        struct backup_span sp = {0};
        int r = folder_open(dfd, &fo);

        if (r < 0)
                return r;
        for (size_t i = 0; i < fo.l.n; i++) {
                const struct entry *e = &fo.l.v[i];

                if (e->full && sp.chains++ == 0)
                        memcpy(sp.first, e->ts, TS_SIZE);
                memcpy(sp.last, e->ts, TS_SIZE);
        }
        sp.files = fo.l.n;
        folder_close(&fo);
        if (sp.files == 0)
                return -ENOENT;
        *ret = sp;
        return 0;
}

int backup_span(const char *dir, struct backup_span *ret) {
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int r;

        if (dfd < 0)
                return -errno;
        r = span_at(dfd, ret);
        close(dfd);
        return r;
}

struct list_walk {
        backup_target_fn fn;
        void *user;
};

static int list_one(void *user, const char *name, const char *path, int fd) {
        struct list_walk *lw = user;
        struct backup_span sp = {0};

        (void)path;
        if (!lw->fn)
                return 0;
        /* A folder that cannot be read is listed, with nothing in it. */
        if (fd >= 0)
                (void)span_at(fd, &sp);
        lw->fn(lw->user, name, &sp);
        return 0;
}

int backup_list_targets(const char *dir, backup_target_fn fn, void *user) {
        struct list_walk lw = {fn, user};
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int r;

        if (dfd < 0)
                return -errno;
        r = is_target_dir(dfd) ? 0 : walk_targets(dfd, dir, list_one, &lw);
        close(dfd);
        return r;
}
