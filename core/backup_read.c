#include "core/backup_read.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/fs.h"

#include "core/backup_folder.h"

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

        bf_rctx_init(&x);
        if (!dir || !ret || (at && !ts_valid(at, strlen(at)))) {
                r = -EINVAL;
                goto out;
        }
        r = bf_folder_open_path(dir, &dfd, &fo);
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
                r = bf_read_entry(&x, &fo, &l->v[c], &f);
                if (r == -EBADMSG) {
                        bf_report_fault(&rp, dir, "full", l->v[c].name, &f, "; trying an older chain");
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
                        r = bf_read_entry(&x, &fo, &l->v[j], &f);
                        if (r == -EBADMSG) {
                                n = snprintf(tail, sizeof(tail), "; stopped at %s", good);
                                bf_report_fault(&rp, dir, "incremental", l->v[j].name, &f,
                                                n > 0 && (size_t)n < sizeof(tail) ? tail : "");
                                early = true;
                                break;
                        }
                        if (r < 0)
                                goto out;
                        good = l->v[j].ts;
                }
                if (early && c != chosen)
                        bf_reportf(&rp, "%s: stopped at %s, in the chain of full/%s", dir, good,
                                   l->v[c].name);
                maps_snapshot_swap(ret, &x.chain.cur);
                r = early ? 1 : 0;
                goto out;
        }
        bf_reportf(&rp, "%s: no readable full snapshot at or before %s", dir, at ? at : "the end");
        r = -EBADMSG;
out:
        bf_rctx_fini(&x);
        bf_folder_close(&fo);
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

        r = bf_read_entry(x, fo, &v[i], &f);
        if (r == -EBADMSG) {
                bf_report_fault(rp, path, "full", v[i].name, &f, "");
                bf_reportf(rp, "bad %s/full/%s: 0 of %zu diffs checked", path, v[i].name, ndiff);
                return 1;
        }
        if (r < 0)
                return r;
        for (size_t j = i + 1; j < end; j++) {
                r = bf_read_entry(x, fo, &v[j], &f);
                if (r == -EBADMSG) {
                        bf_report_fault(rp, path, "incremental", v[j].name, &f, "");
                        bf_reportf(rp, "bad %s/full/%s: %zu of %zu diffs good", path, v[i].name, j - i - 1,
                                   ndiff);
                        return 1;
                }
                if (r < 0)
                        return r;
        }
        bf_reportf(rp, "ok %s/full/%s: %zu diffs", path, v[i].name, ndiff);
        return 0;
}

/* Checks every chain of one target's folder; adds the broken ones to
 * *broken. */
static int verify_target(struct rctx *x, const char *path, int dfd, const struct reporter *rp,
                         unsigned *broken) {
        struct folder fo;
        size_t i = 0;
        int r;

        r = bf_folder_open(dfd, &fo);
        if (r < 0)
                return r;
        if (fo.l.n == 0)
                bf_reportf(rp, "ok %s: no backups", path);
        while (i < fo.l.n) {
                size_t end = bf_group_end(&fo.l, i);

                if (!fo.l.v[i].full) {
                        bf_reportf(rp, "%s/incremental/%s: no full snapshot before it", path, fo.l.v[i].name);
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
        bf_folder_close(&fo);
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
                bf_reportf(vw->rp, "%s: cannot open: %s", path, strerror_r(-fd, eb, sizeof(eb)));
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

        bf_rctx_init(&x);
        if (!dir) {
                r = -EINVAL;
                goto out;
        }
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0) {
                r = -errno;
                goto out;
        }
        if (bf_is_target_dir(dfd)) {
                r = verify_target(&x, dir, dfd, &rp, &vw.broken);
        } else {
                r = bf_walk_targets(dfd, dir, verify_one, &vw);
                if (r == 0)
                        r = -ENOENT;
        }
        if (r >= 0)
                r = vw.broken > INT_MAX ? INT_MAX : (int)vw.broken;
out:
        bf_rctx_fini(&x);
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
                r = bf_read_entry(x, fo, &l->v[c], &f);
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

        bf_rctx_init(&x);
        if (!dir || !fn || (from && !ts_valid(from, strlen(from))) || (to && !ts_valid(to, strlen(to)))) {
                r = -EINVAL;
                goto out;
        }
        r = bf_folder_open_path(dir, &dfd, &fo);
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
                        r = bf_read_entry(&x, &fo, e, &f);
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
        bf_rctx_fini(&x);
        bf_folder_close(&fo);
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

        bf_rctx_init(&x);
        if (!dir || !fn || (from && !ts_valid(from, strlen(from))) || (to && !ts_valid(to, strlen(to)))) {
                r = -EINVAL;
                goto out;
        }
        r = bf_folder_open_path(dir, &dfd, &fo);
        if (r < 0)
                goto out;
        if (l->n == 0) {
                r = -ENOENT;
                goto out;
        }
        while (i < l->n) {
                size_t end = bf_group_end(l, i);

                /* Events come before the file that holds them: a chain
                 * whose successor starts before `from` ends before it. */
                if (!l->v[i].full || (from && end < l->n && strcmp(l->v[end].ts, from) < 0)) {
                        if (!l->v[i].full) {
                                bf_reportf(&rp, "%s/incremental/%s: no full snapshot before it", dir,
                                           l->v[i].name);
                                bad = 1;
                        }
                        i = end;
                        continue;
                }
                for (size_t j = i; j < end; j++) {
                        const struct entry *e = &l->v[j];
                        char file[BACKUP_NAME_SIZE + 16];

                        r = bf_read_entry(&x, &fo, e, &f);
                        if (r == -EBADMSG) {
                                bf_report_fault(&rp, dir, e->full ? "full" : "incremental", e->name, &f,
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
        bf_rctx_fini(&x);
        bf_folder_close(&fo);
        fs_close(&dfd);
        return r;
}

/* The span of the target folder dfd. */
static int span_at(int dfd, struct backup_span *ret) {
        struct folder fo;
        struct backup_span sp = {0};
        int r = bf_folder_open(dfd, &fo);

        if (r < 0)
                return r;
        for (size_t i = 0; i < fo.l.n; i++) {
                const struct entry *e = &fo.l.v[i];

                if (e->full && sp.chains++ == 0)
                        memcpy(sp.first, e->ts, TS_SIZE);
                memcpy(sp.last, e->ts, TS_SIZE);
        }
        sp.files = fo.l.n;
        bf_folder_close(&fo);
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
        r = bf_is_target_dir(dfd) ? 0 : bf_walk_targets(dfd, dir, list_one, &lw);
        close(dfd);
        return r;
}
