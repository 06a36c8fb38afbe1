#include "core/backup.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/backup_event.h"
#include "core/backup_read.h"
#include "core/fs.h"

#define TMP_PREFIX_LEN (sizeof(FS_TMP_PREFIX) - 1)
/* A file's buffer is kept for the next file when bigger than this: a big
 * process's files would cost page faults each time. */
#define BUF_KEEP ((size_t)64 * 1024)

/* Removes the temp files a crash left in a folder and finds the newest
 * timestamp named there that is not in the future (now), so that new names
 * sort after every old one.  A name that is not one of ours, or whose
 * timestamp lies in the future, plays no part: it is counted in st->ignored
 * (the first one kept in st->ignored_name) for the caller to report. */
static int sweep_dir(struct backup_store *st, int fd, bool full, const char *now) {
        struct dirent *de;
        DIR *d;
        int r;

        r = fs_dir_stream(fd, &d);
        if (r < 0)
                return r;
        while ((r = fs_dir_next(d, &de)) > 0) {
                char ts[TS_SIZE];
                pid_t pid;

                if (strncmp(de->d_name, FS_TMP_PREFIX, TMP_PREFIX_LEN) == 0) {
                        /* A folder by that name is not ours to remove. */
                        if (unlinkat(fd, de->d_name, 0) < 0 && errno != ENOENT && errno != EISDIR) {
                                r = -errno;
                                break;
                        }
                        continue;
                }
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                if (backup_name_parse(de->d_name, full, &pid, ts) < 0 || strcmp(ts, now) > 0) {
                        if (st->ignored++ == 0)
                                snprintf(st->ignored_name, sizeof(st->ignored_name), "%s/%s",
                                         full ? "full" : "incremental", de->d_name);
                        continue;
                }
                if (strcmp(ts, st->last_ts) > 0)
                        memcpy(st->last_ts, ts, TS_SIZE);
        }
        closedir(d);
        return r;
}

void backup_store_init(struct backup_store *st) {
        st->dir_fd = -1;
        st->full_fd = -1;
        st->incr_fd = -1;
        st->dir = NULL;
        st->last_ts[0] = '\0';
        st->ignored = 0;
        st->ignored_name[0] = '\0';
        st->buf = NULL;
        st->buf_cap = 0;
        st->bytes = 0;
}

bool backup_store_is_open(const struct backup_store *st) {
        return st->dir_fd >= 0;
}

/* Opens full/ and incremental/ of the folder s->dir_fd is open on, and
 * sweeps them.  Returns 0 or -errno. */
static int open_chain_dirs(struct backup_store *s, const char *dir) {
        char why[FS_WHY_SIZE], now[TS_SIZE];
        int r;

        /* A folder someone else owns or may write to could be swapped
         * under the agent: not one to write backups into. */
        r = fs_check_own_dir(s->dir_fd, dir, why, sizeof(why));
        if (r == 0)
                r = fs_make_dir_at(s->dir_fd, "full", &s->full_fd);
        if (r == 0)
                r = fs_check_own_dir(s->full_fd, "full", why, sizeof(why));
        if (r == 0)
                r = fs_make_dir_at(s->dir_fd, "incremental", &s->incr_fd);
        if (r == 0)
                r = fs_check_own_dir(s->incr_fd, "incremental", why, sizeof(why));
        if (r < 0)
                return r;
        s->dir = mm_strdup(dir);
        if (!s->dir)
                return -ENOMEM;
        /* Timestamps come from the clock: a name from the future (planted,
         * or from a clock that was wrong) must not drag every new name
         * along, nor make them unrepresentable. */
        r = ts_next("", now);
        if (r == 0)
                r = sweep_dir(s, s->full_fd, true, now);
        if (r == 0)
                r = sweep_dir(s, s->incr_fd, false, now);
        return r;
}

/* Opens the store of dir: root_fd < 0 opens dir as a path the caller
 * trusts, else rel is dir's path beneath root_fd.  On failure *st is left
 * closed. */
static int store_open(struct backup_store *st, int root_fd, const char *rel, const char *dir) {
        struct backup_store s;
        int r;

        backup_store_init(&s);
        r = root_fd < 0 ? fs_make_dirs(dir, &s.dir_fd) : fs_make_dir_at(root_fd, rel, &s.dir_fd);
        if (r == 0)
                r = open_chain_dirs(&s, dir);
        if (r == 0)
                backup_store_measure(&s);
        if (r < 0) {
                backup_store_close(&s);
                backup_store_init(st);
                return r;
        }
        *st = s;
        return 0;
}

int backup_store_open(struct backup_store *st, const char *dir) {
        if (!st || !dir)
                return -EINVAL;
        return store_open(st, -1, NULL, dir);
}

int backup_store_open_at(struct backup_store *st, int root_fd, const char *root, const char *dir) {
        size_t len;

        if (!st || !dir || !root || root_fd < 0)
                return -EINVAL;
        len = strlen(root);
        while (len > 1 && root[len - 1] == '/')
                len--;
        if (strncmp(dir, root, len) != 0 || (dir[len] != '/' && dir[len] != '\0'))
                return -EXDEV;
        const char *rel = dir + len;
        while (*rel == '/')
                rel++;
        return store_open(st, root_fd, *rel ? rel : ".", dir);
}

void backup_store_close(struct backup_store *st) {
        if (!st)
                return;
        fs_close(&st->dir_fd);
        fs_close(&st->full_fd);
        fs_close(&st->incr_fd);
        mm_free(st->dir);
        mm_free(st->buf);
        backup_store_init(st);
}

static int ensure_buf(struct backup_store *st, size_t need) {
        size_t cap;
        char *p;

        if (need <= st->buf_cap)
                return 0;
        cap = st->buf_cap < 4096 ? 4096 : st->buf_cap;
        while (cap < need) {
                if (cap > SIZE_MAX / 2) {
                        cap = need;
                        break;
                }
                cap *= 2;
        }
        p = mm_realloc(st->buf, cap);
        if (!p)
                return -ENOMEM;
        st->buf = p;
        st->buf_cap = cap;
        return 0;
}

static int check_info(const struct backup_store *st, const struct backup_info *info) {
        if (!st || !info || !info->target || st->full_fd < 0 || st->incr_fd < 0)
                return -EINVAL;
        if (!backup_target_ok(info->target, strnlen(info->target, BACKUP_TARGET_MAX + 1)) || info->pid <= 0)
                return -EINVAL;
        return 0;
}

static int check_snapshot(const struct maps_snapshot *s) {
        if (!s || (s->len > 0 && (!s->text || s->text[s->len - 1] != '\n')))
                return -EINVAL;
        if (s->len > UINT32_MAX || maps_checksum(s->text, s->len) != s->checksum)
                return -EINVAL;
        return 0;
}

/* Checks what cap adds to a file: well-formed events, in order, none after
 * the file's seq.  Returns the bytes their lines take at most, or -EINVAL. */
static ssize_t check_capture(const struct backup_capture *cap) {
        size_t total = 0;

        if (!cap)
                return 0;
        if (cap->n_events > 0 && !cap->events)
                return -EINVAL;
        for (size_t i = 0; i < cap->n_events; i++) {
                const struct capture_event *ev = &cap->events[i];

                if (capture_event_check(ev) < 0 || (cap->has_seq && ev->seq > cap->seq))
                        return -EINVAL;
                if (i > 0 && (strcmp(ev->time, ev[-1].time) < 0 || ev->seq < ev[-1].seq))
                        return -EINVAL;
                total += backup_event_line_max(ev->path_len);
        }
        return (ssize_t)total;
}

/* Names the next file of the chain and starts its header with the lines
 * every backup file has.  Returns the header's length so far, or -errno. */
static int start_entry(struct backup_store *st, const struct backup_info *info, bool full,
                       const struct backup_capture *cap, char ts[TS_SIZE], char name[BACKUP_NAME_SIZE],
                       char *hdr, size_t size) {
        int n, m, r;

        r = ts_next(st->last_ts, ts);
        if (r < 0)
                return r;
        r = backup_name_format(full, info->pid, ts, name);
        if (r < 0)
                return r;
        n = snprintf(hdr, size,
                     "# memmon %s %d\n"
                     "# target %s\n"
                     "# pid %d\n"
                     "# start_time %" PRIu64 "\n"
                     "# time %s\n",
                     full ? "full" : "diff", BACKUP_FORMAT, info->target, (int)info->pid, info->start_time,
                     ts);
        if (n < 0 || (size_t)n >= size)
                return -EINVAL;
        if (cap && cap->has_seq) {
                m = snprintf(hdr + n, size - (size_t)n, "# seq %" PRIu64 "\n", cap->seq);
                if (m < 0 || (size_t)m >= size - (size_t)n)
                        return -EINVAL;
                n += m;
        }
        return n;
}

/* Appends the lines that end a format 2 header (`# lost`, `# events`) to
 * hdr, of which n bytes are used.  Returns the new length or -EINVAL. */
static int end_header(const struct backup_capture *cap, char *hdr, size_t size, int n) {
        int m;

        if (cap && cap->lost > 0) {
                m = snprintf(hdr + n, size - (size_t)n, "# lost %" PRIu64 "\n", cap->lost);
                if (m < 0 || (size_t)m >= size - (size_t)n)
                        return -EINVAL;
                n += m;
        }
        if (cap && cap->n_events > 0) {
                m = snprintf(hdr + n, size - (size_t)n, "# events %zu\n", cap->n_events);
                if (m < 0 || (size_t)m >= size - (size_t)n)
                        return -EINVAL;
                n += m;
        }
        return n;
}

/* Writes cap's event lines at p.  Returns the end of what was written. */
static char *put_events(char *p, const struct backup_capture *cap) {
        for (size_t i = 0; cap && i < cap->n_events; i++)
                p += backup_event_format(&cap->events[i], p); /* checked by check_capture */
        return p;
}

/* Writes the file built in st->buf under its final name in folder fd, and
 * makes its timestamp the chain's newest.  Returns 0 or -errno. */
static int finish_entry(struct backup_store *st, int fd, const char *name, const char *ts, size_t len,
                        char ret_name[BACKUP_NAME_SIZE]) {
        int r = fs_write_atomic(fd, name, st->buf, len);

        /* A small buffer is not kept between files: an agent of 1,000
         * quiet targets would hold one per target for nothing. */
        if (st->buf_cap <= BUF_KEEP) {
                mm_free(st->buf);
                st->buf = NULL;
                st->buf_cap = 0;
        }
        if (r < 0)
                return r;
        memcpy(st->last_ts, ts, TS_SIZE);
        st->bytes += len;
        if (ret_name)
                memcpy(ret_name, name, BACKUP_NAME_SIZE);
        return 0;
}

int backup_write_full(struct backup_store *st, const struct backup_info *info, const struct maps_snapshot *s,
                      char ret_name[BACKUP_NAME_SIZE]) {
        return backup_write_full_captured(st, info, s, NULL, ret_name);
}

int backup_write_full_captured(struct backup_store *st, const struct backup_info *info,
                               const struct maps_snapshot *s, const struct backup_capture *cap,
                               char ret_name[BACKUP_NAME_SIZE]) {
        char ts[TS_SIZE], name[BACKUP_NAME_SIZE];
        char hdr[1024];
        ssize_t evbytes;
        char *p;
        int n, m, r;

        r = check_info(st, info);
        if (r < 0)
                return r;
        r = check_snapshot(s);
        if (r < 0)
                return r;
        evbytes = check_capture(cap);
        if (evbytes < 0)
                return (int)evbytes;
        n = start_entry(st, info, true, cap, ts, name, hdr, sizeof(hdr));
        if (n < 0)
                return n;
        m = snprintf(hdr + n, sizeof(hdr) - (size_t)n,
                     "# regions %zu\n"
                     "# bytes %zu\n"
                     "# checksum %016" PRIx64 "\n",
                     s->n, s->len, s->checksum);
        if (m < 0 || (size_t)m >= sizeof(hdr) - (size_t)n)
                return -EINVAL;
        n = end_header(cap, hdr, sizeof(hdr), n + m);
        if (n < 0)
                return n;
        r = ensure_buf(st, (size_t)n + (size_t)evbytes + s->len);
        if (r < 0)
                return r;
        memcpy(st->buf, hdr, (size_t)n);
        p = put_events(st->buf + n, cap);
        if (s->len > 0)
                memcpy(p, s->text, s->len);
        return finish_entry(st, st->full_fd, name, ts, (size_t)(p - st->buf) + s->len, ret_name);
}

static char *put_record(char *p, char kind, const struct maps_snapshot *s, const struct region *r) {
        *p++ = kind;
        *p++ = ' ';
        memcpy(p, region_line(s, r), r->line_len);
        p += r->line_len;
        *p++ = '\n';
        return p;
}

int backup_write_diff(struct backup_store *st, const struct backup_info *info,
                      const struct maps_snapshot *old, const struct maps_snapshot *cur, const struct diff *d,
                      char ret_name[BACKUP_NAME_SIZE]) {
        return backup_write_diff_captured(st, info, old, cur, d, NULL, ret_name);
}

int backup_write_diff_captured(struct backup_store *st, const struct backup_info *info,
                               const struct maps_snapshot *old, const struct maps_snapshot *cur,
                               const struct diff *d, const struct backup_capture *cap,
                               char ret_name[BACKUP_NAME_SIZE]) {
        static const char trailer[] = "# end\n";
        char ts[TS_SIZE], name[BACKUP_NAME_SIZE];
        char hdr[1024];
        size_t total;
        ssize_t evbytes;
        uint64_t prev_start = 0;
        char *p;
        int n, m, r;

        r = check_info(st, info);
        if (r < 0)
                return r;
        if (!d || (d->n > 0 && !d->recs))
                return -EINVAL;
        r = check_snapshot(old);
        if (r < 0)
                return r;
        r = check_snapshot(cur);
        if (r < 0)
                return r;
        evbytes = check_capture(cap);
        if (evbytes < 0)
                return (int)evbytes;
        if (d->n == 0 && (!cap || cap->n_events == 0))
                return -ENODATA;
        /* Events alone: the state did not change. */
        if (d->n == 0 && (old->len != cur->len || old->checksum != cur->checksum ||
                          (old->len > 0 && memcmp(old->text, cur->text, old->len) != 0)))
                return -EINVAL;

        /* Check the records against both snapshots and size the file, so
         * that a bad diff is refused before anything touches the disk. */
        total = (size_t)evbytes;
        for (size_t i = 0; i < d->n; i++) {
                const struct diff_rec *rec = &d->recs[i];
                const struct region *ro = NULL, *rn = NULL;
                uint64_t start;

                if (rec->kind == DIFF_REMOVED || rec->kind == DIFF_CHANGED) {
                        if (rec->old_idx >= old->n)
                                return -EINVAL;
                        ro = &old->regions[rec->old_idx];
                        total += ro->line_len + 3;
                }
                if (rec->kind == DIFF_ADDED || rec->kind == DIFF_CHANGED) {
                        if (rec->new_idx >= cur->n)
                                return -EINVAL;
                        rn = &cur->regions[rec->new_idx];
                        total += rn->line_len + 3;
                }
                if (!ro && !rn)
                        return -EINVAL;
                if (ro && rn && ro->start != rn->start)
                        return -EINVAL;
                start = ro ? ro->start : rn->start;
                if (i > 0 && start <= prev_start)
                        return -EINVAL;
                prev_start = start;
        }

        n = start_entry(st, info, false, cap, ts, name, hdr, sizeof(hdr));
        if (n < 0)
                return n;
        m = snprintf(hdr + n, sizeof(hdr) - (size_t)n,
                     "# base %016" PRIx64 "\n"
                     "# result %016" PRIx64 "\n"
                     "# records %zu\n",
                     old->checksum, cur->checksum, d->n);
        if (m < 0 || (size_t)m >= sizeof(hdr) - (size_t)n)
                return -EINVAL;
        n = end_header(cap, hdr, sizeof(hdr), n + m);
        if (n < 0)
                return n;
        total += (size_t)n + sizeof(trailer) - 1;
        r = ensure_buf(st, total);
        if (r < 0)
                return r;

        p = st->buf;
        memcpy(p, hdr, (size_t)n);
        p = put_events(p + n, cap);
        for (size_t i = 0; i < d->n; i++) {
                const struct diff_rec *rec = &d->recs[i];

                switch (rec->kind) {
                case DIFF_ADDED:
                        p = put_record(p, '+', cur, &cur->regions[rec->new_idx]);
                        break;
                case DIFF_REMOVED:
                        p = put_record(p, '-', old, &old->regions[rec->old_idx]);
                        break;
                case DIFF_CHANGED:
                        p = put_record(p, '<', old, &old->regions[rec->old_idx]);
                        p = put_record(p, '>', cur, &cur->regions[rec->new_idx]);
                        break;
                }
        }
        memcpy(p, trailer, sizeof(trailer) - 1);
        p += sizeof(trailer) - 1;
        /* Event lines take at most their room; records exactly theirs. */
        if ((size_t)(p - st->buf) > total)
                return -EINVAL;

        return finish_entry(st, st->incr_fd, name, ts, (size_t)(p - st->buf), ret_name);
}
