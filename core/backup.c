#include "core/backup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"

#define TS_LEN (BACKUP_TS_SIZE - 1)
#define TARGET_MAX BACKUP_TARGET_MAX
#define TMP_PREFIX ".tmp."
#define TMP_PREFIX_LEN (sizeof(TMP_PREFIX) - 1)
#define US_PER_SEC INT64_C(1000000)
/* A backup file is the maps of one process plus a few header lines; anything
 * far larger is not ours, and reading it whole would only exhaust memory. */
#define FILE_MAX ((off_t)1 << 30)

/* Fixed line numbers of the header fields, for messages. */
enum {
        LINE_MAGIC = 1,
        LINE_TARGET = 2,
        LINE_PID = 3,
        LINE_START_TIME = 4,
        LINE_TIME = 5,
        LINE_REGIONS = 6, /* full */
        LINE_BYTES = 7,
        LINE_CHECKSUM = 8,
        LINE_BASE = 6, /* diff */
        LINE_RESULT = 7,
        LINE_RECORDS = 8,
        HEADER_LINES = 8,
};

struct ts_fields {
        unsigned year, mon, day, hour, min, sec, usec;
};

/* One backup file found in full/ or incremental/. */
struct entry {
        char name[BACKUP_NAME_SIZE];
        char ts[BACKUP_TS_SIZE];
        pid_t pid;
        bool full;
        uint64_t size;
};

struct listing {
        struct entry *v;
        size_t n;
        size_t cap;
};

/* The header of a full snapshot or a diff, as read from a file. */
struct hdr {
        char target[TARGET_MAX + 1];
        pid_t pid;
        uint64_t start_time;
        char time[BACKUP_TS_SIZE];
        uint64_t regions; /* full */
        uint64_t bytes;
        uint64_t checksum;
        uint64_t base; /* diff */
        uint64_t result;
        uint64_t records;
};

/* Reading state shared by replay and verify: the chain, and the file being
 * read, whose buffer is reused from file to file. */
struct rctx {
        char *file;
        size_t file_cap;
        struct backup_chain chain;
};

struct cursor {
        const char *buf;
        size_t len;
        size_t pos;
        size_t line; /* number of the last line taken */
};

struct reporter {
        backup_report_fn fn;
        void *user;
};

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

static bool is_leap(unsigned y) {
        return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(unsigned y, unsigned m) {
        static const unsigned char days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        if (m == 2 && is_leap(y))
                return 29;
        return days[m - 1];
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
        y -= m <= 2;
        int64_t era = (y >= 0 ? y : y - 399) / 400;
        unsigned yoe = (unsigned)(y - era * 400);
        unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
        unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + (int64_t)doe - 719468;
}

/* Reads exactly n decimal digits. */
static bool take_digits(const char *s, size_t n, unsigned *ret) {
        unsigned v = 0;
        for (size_t i = 0; i < n; i++) {
                if (!is_digit(s[i]))
                        return false;
                v = v * 10 + (unsigned)(s[i] - '0');
        }
        *ret = v;
        return true;
}

static bool ts_fields_valid(const struct ts_fields *f) {
        return f->year <= 9999 && f->mon >= 1 && f->mon <= 12 && f->day >= 1 &&
               f->day <= days_in_month(f->year, f->mon) && f->hour < 24 && f->min < 60 && f->sec < 60 &&
               f->usec < 1000000;
}

static int ts_encode(const struct ts_fields *f, char ret[BACKUP_TS_SIZE]) {
        char buf[BACKUP_TS_SIZE + 16];
        int n;

        if (!ts_fields_valid(f))
                return -EINVAL;
        n = snprintf(buf, sizeof(buf), "%04u%02u%02uT%02u%02u%02u.%06uZ", f->year, f->mon, f->day, f->hour,
                     f->min, f->sec, f->usec);
        if (n != TS_LEN)
                return -EINVAL;
        memcpy(ret, buf, BACKUP_TS_SIZE);
        return 0;
}

/* Decodes a timestamp in the exact form backup_format_ts writes. */
static int ts_decode(const char *s, size_t len, struct ts_fields *ret) {
        struct ts_fields f;

        if (len != TS_LEN || s[8] != 'T' || s[15] != '.' || s[22] != 'Z')
                return -EINVAL;
        if (!take_digits(s, 4, &f.year) || !take_digits(s + 4, 2, &f.mon) || !take_digits(s + 6, 2, &f.day) ||
            !take_digits(s + 9, 2, &f.hour) || !take_digits(s + 11, 2, &f.min) ||
            !take_digits(s + 13, 2, &f.sec) || !take_digits(s + 16, 6, &f.usec))
                return -EINVAL;
        if (!ts_fields_valid(&f))
                return -EINVAL;
        *ret = f;
        return 0;
}

static int64_t ts_fields_to_us(const struct ts_fields *f) {
        int64_t days = days_from_civil(f->year, f->mon, f->day);
        int64_t secs = days * 86400 + f->hour * 3600 + f->min * 60 + f->sec;
        return secs * US_PER_SEC + f->usec;
}

static int us_to_ts(int64_t us, char ret[BACKUP_TS_SIZE]) {
        int64_t sec = us / US_PER_SEC;
        int64_t rem = us % US_PER_SEC;
        struct timespec t;

        if (rem < 0) {
                rem += US_PER_SEC;
                sec--;
        }
        t.tv_sec = (time_t)sec;
        t.tv_nsec = (long)(rem * 1000);
        return backup_format_ts(&t, ret);
}

int backup_format_ts(const struct timespec *t, char ret[BACKUP_TS_SIZE]) {
        struct tm tm;
        struct ts_fields f;

        if (!t || !ret || t->tv_nsec < 0 || t->tv_nsec >= 1000000000L)
                return -EINVAL;
        if (!gmtime_r(&t->tv_sec, &tm))
                return -EINVAL;
        if (tm.tm_year < -1900 || tm.tm_year > 9999 - 1900)
                return -EINVAL;
        f.year = (unsigned)(tm.tm_year + 1900);
        f.mon = (unsigned)tm.tm_mon + 1;
        f.day = (unsigned)tm.tm_mday;
        f.hour = (unsigned)tm.tm_hour;
        f.min = (unsigned)tm.tm_min;
        /* gmtime_r never reports a leap second, but keep the field in range. */
        f.sec = tm.tm_sec > 59 ? 59 : (unsigned)tm.tm_sec;
        f.usec = (unsigned)(t->tv_nsec / 1000);
        return ts_encode(&f, ret);
}

int backup_parse_ts(const char *s, char ret[BACKUP_TS_SIZE]) {
        struct ts_fields f;
        size_t pos;
        bool ext;

        if (!s || !ret)
                return -EINVAL;
        ext = s[0] && s[1] && s[2] && s[3] && s[4] == '-';
        if (ext) {
                /* 2026-11-25T18:33:28 */
                if (strnlen(s, 19) < 19 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
                    s[16] != ':')
                        return -EINVAL;
                if (!take_digits(s, 4, &f.year) || !take_digits(s + 5, 2, &f.mon) ||
                    !take_digits(s + 8, 2, &f.day) || !take_digits(s + 11, 2, &f.hour) ||
                    !take_digits(s + 14, 2, &f.min) || !take_digits(s + 17, 2, &f.sec))
                        return -EINVAL;
                pos = 19;
        } else {
                /* 20261125T183328 */
                if (strnlen(s, 15) < 15 || s[8] != 'T')
                        return -EINVAL;
                if (!take_digits(s, 4, &f.year) || !take_digits(s + 4, 2, &f.mon) ||
                    !take_digits(s + 6, 2, &f.day) || !take_digits(s + 9, 2, &f.hour) ||
                    !take_digits(s + 11, 2, &f.min) || !take_digits(s + 13, 2, &f.sec))
                        return -EINVAL;
                pos = 15;
        }

        /* A fraction given to fewer than six digits means the end of that
         * interval, as a missing fraction means the end of the second. */
        f.usec = 999999;
        if (s[pos] == '.') {
                size_t nd = 0;
                unsigned v = 0;

                pos++;
                while (is_digit(s[pos + nd]) && nd < 6) {
                        v = v * 10 + (unsigned)(s[pos + nd] - '0');
                        nd++;
                }
                if (nd == 0 || is_digit(s[pos + nd]))
                        return -EINVAL;
                for (size_t i = nd; i < 6; i++)
                        v = v * 10 + 9;
                f.usec = v;
                pos += nd;
        }
        if (s[pos] == 'Z')
                pos++;
        if (s[pos] != '\0')
                return -EINVAL;
        return ts_encode(&f, ret);
}

/* Parses a canonical decimal number (no sign, no leading zeros) of exactly
 * len bytes that need not be NUL-terminated. */
static int parse_dec(const char *s, size_t len, uint64_t max, uint64_t *ret) {
        char tmp[24];
        char *end;
        unsigned long long v;

        if (len == 0 || len > 20)
                return -EINVAL;
        for (size_t i = 0; i < len; i++)
                if (!is_digit(s[i]))
                        return -EINVAL;
        if (len > 1 && s[0] == '0')
                return -EINVAL;
        memcpy(tmp, s, len);
        tmp[len] = '\0';
        errno = 0;
        v = strtoull(tmp, &end, 10);
        if (errno != 0 || end != tmp + len)
                return -ERANGE;
        if (v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

/* Parses exactly 16 lowercase hex digits. */
static int parse_hex64(const char *s, size_t len, uint64_t *ret) {
        char tmp[17];
        char *end;
        unsigned long long v;

        if (len != 16)
                return -EINVAL;
        for (size_t i = 0; i < len; i++)
                if (!is_digit(s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
                        return -EINVAL;
        memcpy(tmp, s, len);
        tmp[len] = '\0';
        errno = 0;
        v = strtoull(tmp, &end, 16);
        if (errno != 0 || end != tmp + len)
                return -EINVAL;
        *ret = v;
        return 0;
}

/* A target name goes on one header line: 1..255 bytes, no control bytes. */
static bool target_ok(const char *s, size_t len) {
        if (len == 0 || len > TARGET_MAX)
                return false;
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)s[i];
                if (c < 0x20 || c == 0x7f)
                        return false;
        }
        return true;
}

/* Parses backup_<PID>_<TS>.maps (full) or diff_<PID>_<TS>.diff. */
static int parse_name(const char *name, bool full, pid_t *ret_pid, char ret_ts[BACKUP_TS_SIZE]) {
        const char *prefix = full ? "backup_" : "diff_";
        const char *suffix = full ? ".maps" : ".diff";
        size_t plen = strlen(prefix);
        size_t len = strnlen(name, BACKUP_NAME_SIZE);
        struct ts_fields f;
        const char *p, *us;
        uint64_t pid;

        if (len >= BACKUP_NAME_SIZE || len < plen + 2 + TS_LEN + 5 || strncmp(name, prefix, plen) != 0 ||
            strcmp(name + len - 5, suffix) != 0)
                return -EINVAL;
        p = name + plen;
        us = memchr(p, '_', len - plen);
        if (!us)
                return -EINVAL;
        if (parse_dec(p, (size_t)(us - p), INT_MAX, &pid) < 0 || pid == 0)
                return -EINVAL;
        if ((size_t)(name + len - 5 - (us + 1)) != TS_LEN || ts_decode(us + 1, TS_LEN, &f) < 0)
                return -EINVAL;
        *ret_pid = (pid_t)pid;
        memcpy(ret_ts, us + 1, TS_LEN);
        ret_ts[TS_LEN] = '\0';
        return 0;
}

static int make_name(bool full, pid_t pid, const char ts[BACKUP_TS_SIZE], char ret[BACKUP_NAME_SIZE]) {
        int n;

        if (full)
                n = snprintf(ret, BACKUP_NAME_SIZE, "backup_%d_%s.maps", (int)pid, ts);
        else
                n = snprintf(ret, BACKUP_NAME_SIZE, "diff_%d_%s.diff", (int)pid, ts);
        if (n < 0 || n >= BACKUP_NAME_SIZE)
                return -ENAMETOOLONG;
        return 0;
}

static void close_fd(int *fd) {
        if (*fd >= 0) {
                close(*fd);
                *fd = -1;
        }
}

/* Opens the folder `name` under at, creating it (0700) when it is missing.
 * A folder we create is chmod'ed to 0700 so that the umask cannot matter. */
static int open_or_make_dir(int at, const char *name, bool nofollow, int *ret_fd) {
        int flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0);
        bool created = false;
        int fd, r;

        fd = openat(at, name, flags);
        if (fd < 0 && errno == ENOENT) {
                if (mkdirat(at, name, 0700) == 0)
                        created = true;
                else if (errno != EEXIST)
                        return -errno;
                fd = openat(at, name, flags);
        }
        if (fd < 0) {
                struct stat sb;

                /* O_DIRECTORY reports a symlink as ENOTDIR; say what it is. */
                r = -errno;
                if (r == -ENOTDIR && nofollow && fstatat(at, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
                    S_ISLNK(sb.st_mode))
                        r = -ELOOP;
                return r;
        }
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

/* mkdir -p: creates every missing component; the last one must not be a
 * symlink. */
static int make_dirs(const char *path, int *ret_fd) {
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
                r = open_or_make_dir(cur, comp, last, &fd);
                close(cur);
                if (r < 0)
                        return r;
                cur = fd;
        }
        *ret_fd = cur;
        return 0;
}

/* A directory stream over the folder fd refers to; fd stays the caller's.
 * Returns 0 or -errno. */
static int open_dir_stream(int fd, DIR **ret) {
        int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int r;

        if (dfd < 0)
                return -errno;
        *ret = fdopendir(dfd);
        if (!*ret) {
                r = -errno;
                close(dfd);
                return r;
        }
        return 0;
}

/* The next entry of d: returns 1 with *ret set, 0 at the end, or -errno. */
static int next_entry(DIR *d, struct dirent **ret) {
        errno = 0;
        *ret = readdir(d);
        if (*ret)
                return 1;
        return errno ? -errno : 0;
}

/* Removes the temp files a crash left in a folder and finds the newest
 * timestamp named there, so that new names sort after every old one even
 * when the clock went back across a restart. */
static int sweep_dir(int fd, bool full, char last_ts[BACKUP_TS_SIZE]) {
        struct dirent *de;
        DIR *d;
        int r;

        r = open_dir_stream(fd, &d);
        if (r < 0)
                return r;
        while ((r = next_entry(d, &de)) > 0) {
                char ts[BACKUP_TS_SIZE];
                pid_t pid;

                if (strncmp(de->d_name, TMP_PREFIX, TMP_PREFIX_LEN) == 0) {
                        /* A folder by that name is not ours to remove. */
                        if (unlinkat(fd, de->d_name, 0) < 0 && errno != ENOENT && errno != EISDIR) {
                                r = -errno;
                                break;
                        }
                        continue;
                }
                if (parse_name(de->d_name, full, &pid, ts) == 0 && strcmp(ts, last_ts) > 0)
                        memcpy(last_ts, ts, BACKUP_TS_SIZE);
        }
        closedir(d);
        return r;
}

static void store_reset(struct backup_store *st) {
        st->dir_fd = -1;
        st->full_fd = -1;
        st->incr_fd = -1;
        st->dir = NULL;
        st->last_ts[0] = '\0';
        st->buf = NULL;
        st->buf_cap = 0;
}

int backup_store_open(struct backup_store *st, const char *dir) {
        struct backup_store s;
        int r;

        if (!st)
                return -EINVAL;
        store_reset(&s);
        r = make_dirs(dir, &s.dir_fd);
        if (r < 0)
                goto fail;
        r = open_or_make_dir(s.dir_fd, "full", true, &s.full_fd);
        if (r < 0)
                goto fail;
        r = open_or_make_dir(s.dir_fd, "incremental", true, &s.incr_fd);
        if (r < 0)
                goto fail;
        s.dir = mm_strdup(dir);
        if (!s.dir) {
                r = -ENOMEM;
                goto fail;
        }
        r = sweep_dir(s.full_fd, true, s.last_ts);
        if (r < 0)
                goto fail;
        r = sweep_dir(s.incr_fd, false, s.last_ts);
        if (r < 0)
                goto fail;
        *st = s;
        return 0;
fail:
        backup_store_close(&s);
        store_reset(st);
        return r;
}

void backup_store_close(struct backup_store *st) {
        if (!st)
                return;
        close_fd(&st->dir_fd);
        close_fd(&st->full_fd);
        close_fd(&st->incr_fd);
        mm_free(st->dir);
        mm_free(st->buf);
        store_reset(st);
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

/* The timestamp for the next file: now, or 1 µs after the last one when the
 * clock did not move or went back. */
static int next_ts(const struct backup_store *st, char ret[BACKUP_TS_SIZE]) {
        struct timespec now;
        struct ts_fields last;
        int64_t us;

        if (clock_gettime(CLOCK_REALTIME, &now) < 0)
                return -errno;
        /* Years past 9999 cannot be named; refuse before the product overflows. */
        if (now.tv_sec < 0 || now.tv_sec > INT64_C(253402300799))
                return -EINVAL;
        us = (int64_t)now.tv_sec * US_PER_SEC + now.tv_nsec / 1000;
        if (st->last_ts[0] != '\0' && ts_decode(st->last_ts, strlen(st->last_ts), &last) == 0) {
                int64_t last_us = ts_fields_to_us(&last);
                if (us <= last_us)
                        us = last_us + 1;
        }
        return us_to_ts(us, ret);
}

static int write_all(int fd, const char *buf, size_t len) {
        while (len > 0) {
                ssize_t n = write(fd, buf, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        return -EIO;
                buf += n;
                len -= (size_t)n;
        }
        return 0;
}

/* temp file, fsync, rename, fsync of the folder.  On failure nothing is left
 * under either name. */
static int write_atomic(int dir_fd, const char *name, const char *buf, size_t len) {
        char tmp[BACKUP_NAME_SIZE + TMP_PREFIX_LEN];
        int fd, n, r;

        n = snprintf(tmp, sizeof(tmp), TMP_PREFIX "%s", name);
        if (n < 0 || (size_t)n >= sizeof(tmp))
                return -ENAMETOOLONG;
        fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        if (fchmod(fd, 0600) < 0) {
                r = -errno;
                goto fail;
        }
        r = write_all(fd, buf, len);
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
        if (renameat2(dir_fd, tmp, dir_fd, name, RENAME_NOREPLACE) < 0) {
                if (errno != EINVAL && errno != ENOSYS) {
                        r = -errno;
                        goto fail;
                }
                if (renameat(dir_fd, tmp, dir_fd, name) < 0) {
                        r = -errno;
                        goto fail;
                }
        }
        if (fsync(dir_fd) < 0) {
                /* The caller will treat this file as not written, so it must
                 * not stay behind to break the chain. */
                r = -errno;
                (void)unlinkat(dir_fd, name, 0);
                (void)fsync(dir_fd);
                return r;
        }
        return 0;
fail:
        if (fd >= 0)
                close(fd);
        (void)unlinkat(dir_fd, tmp, 0);
        return r;
}

static int check_info(const struct backup_store *st, const struct backup_info *info) {
        if (!st || !info || !info->target || st->full_fd < 0 || st->incr_fd < 0)
                return -EINVAL;
        if (!target_ok(info->target, strnlen(info->target, TARGET_MAX + 1)) || info->pid <= 0)
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

/* Names the next file of the chain and starts its header with the lines
 * every backup file has.  Returns the header's length so far, or -errno. */
static int start_entry(struct backup_store *st, const struct backup_info *info, bool full,
                       char ts[BACKUP_TS_SIZE], char name[BACKUP_NAME_SIZE], char *hdr, size_t size) {
        int n, r;

        r = next_ts(st, ts);
        if (r < 0)
                return r;
        r = make_name(full, info->pid, ts, name);
        if (r < 0)
                return r;
        n = snprintf(hdr, size,
                     "# memmon %s 1\n"
                     "# target %s\n"
                     "# pid %d\n"
                     "# start_time %" PRIu64 "\n"
                     "# time %s\n",
                     full ? "full" : "diff", info->target, (int)info->pid, info->start_time, ts);
        if (n < 0 || (size_t)n >= size)
                return -EINVAL;
        return n;
}

/* Writes the file built in st->buf under its final name in folder fd, and
 * makes its timestamp the chain's newest.  Returns 0 or -errno. */
static int finish_entry(struct backup_store *st, int fd, const char *name, const char *ts, size_t len,
                        char ret_name[BACKUP_NAME_SIZE]) {
        int r = write_atomic(fd, name, st->buf, len);

        if (r < 0)
                return r;
        memcpy(st->last_ts, ts, BACKUP_TS_SIZE);
        if (ret_name)
                memcpy(ret_name, name, BACKUP_NAME_SIZE);
        return 0;
}

int backup_write_full(struct backup_store *st, const struct backup_info *info, const struct maps_snapshot *s,
                      char ret_name[BACKUP_NAME_SIZE]) {
        char ts[BACKUP_TS_SIZE], name[BACKUP_NAME_SIZE];
        char hdr[512];
        int n, m, r;

        r = check_info(st, info);
        if (r < 0)
                return r;
        r = check_snapshot(s);
        if (r < 0)
                return r;
        n = start_entry(st, info, true, ts, name, hdr, sizeof(hdr));
        if (n < 0)
                return n;
        m = snprintf(hdr + n, sizeof(hdr) - (size_t)n,
                     "# regions %zu\n"
                     "# bytes %zu\n"
                     "# checksum %016" PRIx64 "\n",
                     s->n, s->len, s->checksum);
        if (m < 0 || (size_t)m >= sizeof(hdr) - (size_t)n)
                return -EINVAL;
        n += m;
        r = ensure_buf(st, (size_t)n + s->len);
        if (r < 0)
                return r;
        memcpy(st->buf, hdr, (size_t)n);
        if (s->len > 0)
                memcpy(st->buf + n, s->text, s->len);
        return finish_entry(st, st->full_fd, name, ts, (size_t)n + s->len, ret_name);
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
        static const char trailer[] = "# end\n";
        char ts[BACKUP_TS_SIZE], name[BACKUP_NAME_SIZE];
        char hdr[512];
        size_t total;
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
        if (d->n == 0)
                return -ENODATA;

        /* Check the records against both snapshots and size the file, so
         * that a bad diff is refused before anything touches the disk. */
        total = 0;
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

        n = start_entry(st, info, false, ts, name, hdr, sizeof(hdr));
        if (n < 0)
                return n;
        m = snprintf(hdr + n, sizeof(hdr) - (size_t)n,
                     "# base %016" PRIx64 "\n"
                     "# result %016" PRIx64 "\n"
                     "# records %zu\n",
                     old->checksum, cur->checksum, d->n);
        if (m < 0 || (size_t)m >= sizeof(hdr) - (size_t)n)
                return -EINVAL;
        n += m;
        total += (size_t)n + sizeof(trailer) - 1;
        r = ensure_buf(st, total);
        if (r < 0)
                return r;

        p = st->buf;
        memcpy(p, hdr, (size_t)n);
        p += n;
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
        if ((size_t)(p - st->buf) != total)
                return -EINVAL;

        return finish_entry(st, st->incr_fd, name, ts, total, ret_name);
}

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

static int faultf(struct backup_fault *f, size_t line, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Records why a file is rejected.  Returns -EBADMSG for the caller to pass on. */
static int faultf(struct backup_fault *f, size_t line, const char *fmt, ...) {
        va_list ap;
        int n;

        f->line = line;
        va_start(ap, fmt);
        n = vsnprintf(f->why, sizeof(f->why), fmt, ap);
        va_end(ap);
        if (n < 0)
                memcpy(f->why, "(unformattable)", sizeof("(unformattable)"));
        else if ((size_t)n >= sizeof(f->why))
                memcpy(f->why + sizeof(f->why) - 4, "...", 4);
        return -EBADMSG;
}

static void report_fault(const struct reporter *rp, const char *dir, const char *sub, const char *name,
                         const struct backup_fault *f, const char *tail) {
        if (f->line > 0)
                reportf(rp, "%s/%s/%s: line %zu: %s%s", dir, sub, name, f->line, f->why, tail);
        else
                reportf(rp, "%s/%s/%s: %s%s", dir, sub, name, f->why, tail);
}

void backup_chain_init(struct backup_chain *c) {
        memset(c, 0, sizeof(*c));
        maps_snapshot_init(&c->cur);
        maps_snapshot_init(&c->next);
}

void backup_chain_fini(struct backup_chain *c) {
        if (!c)
                return;
        mm_free(c->out);
        maps_snapshot_fini(&c->cur);
        maps_snapshot_fini(&c->next);
        backup_chain_init(c);
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
static int read_whole(struct rctx *x, int dir_fd, const char *name, size_t *ret_len,
                      struct backup_fault *f) {
        char eb[128];
        struct stat sb;
        size_t size, got = 0;
        int fd, r;

        fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
        if (fd < 0)
                return faultf(f, 0, "cannot open: %s", strerror_r(errno, eb, sizeof(eb)));
        if (fstat(fd, &sb) < 0) {
                r = faultf(f, 0, "cannot stat: %s", strerror_r(errno, eb, sizeof(eb)));
                goto out;
        }
        if (!S_ISREG(sb.st_mode)) {
                r = faultf(f, 0, "not a regular file");
                goto out;
        }
        if (sb.st_size > FILE_MAX) {
                r = faultf(f, 0, "too large (%jd bytes)", (intmax_t)sb.st_size);
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
                        r = faultf(f, 0, "cannot read: %s", strerror_r(errno, eb, sizeof(eb)));
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

/* Takes the next '\n'-terminated line, without its '\n'. */
static bool next_line(struct cursor *c, const char **ret, size_t *ret_len) {
        const char *p, *nl;

        if (c->pos >= c->len)
                return false;
        p = c->buf + c->pos;
        nl = memchr(p, '\n', c->len - c->pos);
        if (!nl)
                return false;
        *ret = p;
        *ret_len = (size_t)(nl - p);
        c->pos += *ret_len + 1;
        c->line++;
        return true;
}

static int missing_line(struct cursor *c, struct backup_fault *f, const char *what) {
        if (c->pos < c->len)
                return faultf(f, c->line + 1, "line is cut off (no newline) where %s was expected", what);
        return faultf(f, c->line + 1, "file ends where %s was expected", what);
}

/* Takes the header line "# KEY VALUE"; exactly that key, one space, a
 * non-empty value. */
static int hdr_field(struct cursor *c, const char *key, const char **ret_val, size_t *ret_vlen,
                     struct backup_fault *f) {
        size_t klen = strlen(key), n;
        const char *l;

        if (!next_line(c, &l, &n))
                return missing_line(c, f, key);
        if (n <= klen + 3 || l[0] != '#' || l[1] != ' ' || memcmp(l + 2, key, klen) != 0 ||
            l[2 + klen] != ' ')
                return faultf(f, c->line, "expected '# %s VALUE'", key);
        *ret_val = l + 3 + klen;
        *ret_vlen = n - 3 - klen;
        return 0;
}

static int hdr_dec(struct cursor *c, const char *key, uint64_t max, uint64_t *ret, struct backup_fault *f) {
        const char *v;
        size_t n;
        int r;

        r = hdr_field(c, key, &v, &n, f);
        if (r < 0)
                return r;
        if (parse_dec(v, n, max, ret) < 0)
                return faultf(f, c->line, "bad number in '# %s'", key);
        return 0;
}

static int hdr_hex(struct cursor *c, const char *key, uint64_t *ret, struct backup_fault *f) {
        const char *v;
        size_t n;
        int r;

        r = hdr_field(c, key, &v, &n, f);
        if (r < 0)
                return r;
        if (parse_hex64(v, n, ret) < 0)
                return faultf(f, c->line, "'# %s' is not 16 lowercase hex digits", key);
        return 0;
}

/* Parses the header lines both kinds share and checks them against the
 * pid and timestamp of the file's name. */
static int parse_common(struct cursor *c, bool full, pid_t name_pid, const char *name_ts, struct hdr *h,
                        struct backup_fault *f) {
        const char *magic = full ? "# memmon full 1" : "# memmon diff 1";
        struct ts_fields tf;
        const char *v;
        size_t n;
        uint64_t pid;
        int r;

        if (!next_line(c, &v, &n))
                return missing_line(c, f, "the format line");
        if (n != strlen(magic) || memcmp(v, magic, n) != 0) {
                if (n > 14 && memcmp(v, magic, 14) == 0)
                        return faultf(f, c->line, "unsupported format version");
                return faultf(f, c->line, "not a memmon %s file", full ? "full snapshot" : "diff");
        }
        r = hdr_field(c, "target", &v, &n, f);
        if (r < 0)
                return r;
        if (!target_ok(v, n))
                return faultf(f, c->line, "bad target name");
        memcpy(h->target, v, n);
        h->target[n] = '\0';
        r = hdr_dec(c, "pid", INT_MAX, &pid, f);
        if (r < 0)
                return r;
        if (pid != (uint64_t)name_pid)
                return faultf(f, c->line, "pid %" PRIu64 " differs from the file name's %d", pid,
                              (int)name_pid);
        h->pid = (pid_t)pid;
        r = hdr_dec(c, "start_time", UINT64_MAX, &h->start_time, f);
        if (r < 0)
                return r;
        r = hdr_field(c, "time", &v, &n, f);
        if (r < 0)
                return r;
        if (ts_decode(v, n, &tf) < 0)
                return faultf(f, c->line, "bad timestamp");
        memcpy(h->time, v, TS_LEN);
        h->time[TS_LEN] = '\0';
        if (strcmp(h->time, name_ts) != 0)
                return faultf(f, c->line, "time differs from the file name's %s", name_ts);
        return 0;
}

/* The name's identity as a caller hands it in: a pid and a backup
 * timestamp. */
static bool name_ok(pid_t pid, const char *ts) {
        struct ts_fields tf;

        return pid > 0 && ts && ts_decode(ts, strnlen(ts, BACKUP_TS_SIZE), &tf) == 0;
}

int backup_chain_load_full(struct backup_chain *ch, const char *buf, size_t len, pid_t pid, const char *ts,
                           struct backup_fault *f) {
        struct cursor c = {0};
        struct hdr h;
        size_t rest, bad = 0;
        uint64_t sum;
        int r;

        if (!ch || (!buf && len > 0) || !name_ok(pid, ts) || !f)
                return -EINVAL;
        memset(&h, 0, sizeof(h));
        c.buf = buf;
        c.len = len;
        r = parse_common(&c, true, pid, ts, &h, f);
        if (r < 0)
                return r;
        r = hdr_dec(&c, "regions", UINT32_MAX, &h.regions, f);
        if (r < 0)
                return r;
        r = hdr_dec(&c, "bytes", UINT64_MAX, &h.bytes, f);
        if (r < 0)
                return r;
        r = hdr_hex(&c, "checksum", &h.checksum, f);
        if (r < 0)
                return r;
        rest = c.len - c.pos;
        if (h.bytes != rest)
                return faultf(f, LINE_BYTES, "bytes says %" PRIu64 ", the file holds %zu", h.bytes, rest);
        sum = maps_checksum(c.buf + c.pos, rest);
        if (sum != h.checksum)
                return faultf(f, LINE_CHECKSUM, "checksum mismatch (the text hashes to %016" PRIx64 ")", sum);
        /* Parsed into the scratch snapshot, so that a bad file leaves the
         * chain as it was. */
        r = maps_snapshot_set_text(&ch->next, c.buf + c.pos, rest, &bad);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return faultf(f, HEADER_LINES + bad, "bad maps line");
        if (ch->next.n != h.regions)
                return faultf(f, LINE_REGIONS, "regions says %" PRIu64 ", the text has %zu", h.regions,
                              ch->next.n);
        ch->next.checksum = sum;
        maps_snapshot_swap(&ch->cur, &ch->next);
        memcpy(ch->target, h.target, sizeof(ch->target));
        ch->pid = h.pid;
        ch->start_time = h.start_time;
        ch->loaded = 1;
        return 0;
}

/* Reads the file of entry e (a full snapshot, from full_fd, starts x's
 * chain; a diff, from incr_fd, is applied to it).  Returns 0, -EBADMSG with
 * *f set, or -ENOMEM. */
static int read_entry(struct rctx *x, int full_fd, int incr_fd, const struct entry *e, struct backup_fault *f) {
        size_t len;
        int r;

        r = read_whole(x, e->full ? full_fd : incr_fd, e->name, &len, f);
        if (r < 0)
                return r;
        if (e->full)
                return backup_chain_load_full(&x->chain, x->file, len, e->pid, e->ts, f);
        return backup_chain_apply_diff(&x->chain, x->file, len, e->pid, e->ts, f);
}

/* The first region of s at or after index i that does not start below start. */
static size_t first_from(const struct maps_snapshot *s, size_t i, uint64_t start) {
        while (i < s->n && s->regions[i].start < start)
                i++;
        return i;
}

/* Appends the state's lines of regions [*i, j) to the result: they are
 * consecutive in the text, so one copy. */
static void copy_state(struct backup_chain *ch, size_t *i, size_t j, size_t *olen) {
        const struct maps_snapshot *s = &ch->cur;
        size_t from, to;

        if (j <= *i)
                return;
        from = s->regions[*i].line_off;
        to = (size_t)s->regions[j - 1].line_off + s->regions[j - 1].line_len + 1;
        memcpy(ch->out + *olen, s->text + from, to - from);
        *olen += to - from;
        *i = j;
}

static void append_line(struct backup_chain *ch, const char *l, size_t n, size_t *olen) {
        memcpy(ch->out + *olen, l, n);
        ch->out[*olen + n] = '\n';
        *olen += n + 1;
}

/* Parses the maps line of a record ("K LINE") at l, n bytes long. */
static int record_region(const struct cursor *c, const char *l, size_t n, struct region *ret,
                         struct backup_fault *f) {
        if (n < 3 || l[1] != ' ')
                return faultf(f, c->line, "bad record");
        if (maps_parse_line(c->buf, (size_t)(l + 2 - c->buf), n - 2, ret) < 0)
                return faultf(f, c->line, "bad maps line in the record");
        return 0;
}

/* The region of the current state at *i must be exactly the line l (n bytes). */
static int match_old(struct backup_chain *ch, const struct cursor *c, size_t i, const struct region *rr,
                     const char *l, size_t n, struct backup_fault *f) {
        const struct region *have;

        if (i >= ch->cur.n || ch->cur.regions[i].start != rr->start)
                return faultf(f, c->line, "no region at %" PRIx64 " in the state before this diff",
                              rr->start);
        have = &ch->cur.regions[i];
        if (have->line_len != n || memcmp(region_line(&ch->cur, have), l, n) != 0)
                return faultf(f, c->line, "the line differs from the region at %" PRIx64 " in the state",
                              rr->start);
        return 0;
}

int backup_chain_apply_diff(struct backup_chain *ch, const char *buf, size_t len, pid_t pid, const char *ts,
                            struct backup_fault *f) {
        struct cursor c = {0};
        struct hdr h;
        size_t olen = 0, i = 0, nrec = 0, bad = 0;
        uint64_t prev_start = 0, sum;
        int r;

        if (!ch || !ch->loaded || (!buf && len > 0) || !name_ok(pid, ts) || !f)
                return -EINVAL;
        memset(&h, 0, sizeof(h));
        c.buf = buf;
        c.len = len;
        r = parse_common(&c, false, pid, ts, &h, f);
        if (r < 0)
                return r;
        if (strcmp(h.target, ch->target) != 0)
                return faultf(f, LINE_TARGET, "target '%s' differs from the chain's '%s'", h.target,
                              ch->target);
        if (h.pid != ch->pid)
                return faultf(f, LINE_PID, "pid %d differs from the chain's %d", (int)h.pid, (int)ch->pid);
        if (h.start_time != ch->start_time)
                return faultf(f, LINE_START_TIME, "start_time %" PRIu64 " differs from the chain's %" PRIu64,
                              h.start_time, ch->start_time);
        r = hdr_hex(&c, "base", &h.base, f);
        if (r < 0)
                return r;
        r = hdr_hex(&c, "result", &h.result, f);
        if (r < 0)
                return r;
        r = hdr_dec(&c, "records", UINT64_MAX, &h.records, f);
        if (r < 0)
                return r;
        if (h.base != ch->cur.checksum)
                return faultf(f, LINE_BASE, "base %016" PRIx64 " is not the state before it (%016" PRIx64 ")",
                              h.base, ch->cur.checksum);

        /* Every result line comes from the state or from a record line that
         * is two bytes longer, so this bounds the result. */
        if (ch->cur.len + len + 1 > ch->out_cap) {
                size_t cap = ch->cur.len + len + 1;
                char *p = mm_realloc(ch->out, cap);
                if (!p)
                        return -ENOMEM;
                ch->out = p;
                ch->out_cap = cap;
        }

        for (;;) {
                struct region rr, rn;
                const char *l, *l2;
                size_t n, n2;

                if (!next_line(&c, &l, &n))
                        return missing_line(&c, f, "a record or '# end'");
                if (n == 5 && memcmp(l, "# end", 5) == 0)
                        break;
                if (nrec >= h.records)
                        return faultf(f, c.line, "more records than the %" PRIu64 " the header says",
                                      h.records);
                if (n >= 1 && l[0] == '>')
                        return faultf(f, c.line, "a '>' line without a '<' line before it");
                if (n < 1 || (l[0] != '+' && l[0] != '-' && l[0] != '<'))
                        return faultf(f, c.line, "not a record");
                r = record_region(&c, l, n, &rr, f);
                if (r < 0)
                        return r;
                if (nrec > 0 && rr.start <= prev_start)
                        return faultf(f, c.line, "records out of address order");
                prev_start = rr.start;
                copy_state(ch, &i, first_from(&ch->cur, i, rr.start), &olen);
                switch (l[0]) {
                case '+':
                        if (i < ch->cur.n && ch->cur.regions[i].start == rr.start)
                                return faultf(f, c.line, "added region at %" PRIx64 " is already there",
                                              rr.start);
                        append_line(ch, l + 2, n - 2, &olen);
                        break;
                case '-':
                        r = match_old(ch, &c, i, &rr, l + 2, n - 2, f);
                        if (r < 0)
                                return r;
                        i++;
                        break;
                case '<':
                        r = match_old(ch, &c, i, &rr, l + 2, n - 2, f);
                        if (r < 0)
                                return r;
                        if (!next_line(&c, &l2, &n2))
                                return missing_line(&c, f, "the '>' line of a change");
                        if (n2 < 1 || l2[0] != '>')
                                return faultf(f, c.line, "a '<' line must be followed by a '>' line");
                        r = record_region(&c, l2, n2, &rn, f);
                        if (r < 0)
                                return r;
                        if (rn.start != rr.start)
                                return faultf(f, c.line, "the new line's start differs from the old one's");
                        append_line(ch, l2 + 2, n2 - 2, &olen);
                        i++;
                        break;
                }
                nrec++;
        }
        if (c.pos != c.len)
                return faultf(f, c.line + 1, "data after '# end'");
        if (nrec != h.records)
                return faultf(f, LINE_RECORDS, "records says %" PRIu64 ", the file has %zu", h.records, nrec);
        copy_state(ch, &i, ch->cur.n, &olen);
        sum = maps_checksum(ch->out, olen);
        if (sum != h.result)
                return faultf(f, LINE_RESULT,
                              "result checksum mismatch (the result hashes to %016" PRIx64 ")", sum);
        r = maps_snapshot_set_text(&ch->next, ch->out, olen, &bad);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return faultf(f, c.line, "the result is not a valid maps text (its line %zu)", bad);
        ch->next.checksum = sum;
        maps_snapshot_swap(&ch->cur, &ch->next);
        return 0;
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
 * and names that are not backup names are left out.  With sizes, each entry
 * gets its size on disk. */
static int list_dir(int fd, bool full, bool sizes, struct listing *l) {
        struct dirent *de;
        DIR *d;
        int r;

        if (fd < 0)
                return 0;
        r = open_dir_stream(fd, &d);
        if (r < 0)
                return r;
        while ((r = next_entry(d, &de)) > 0) {
                struct entry e;

                if (de->d_name[0] == '.')
                        continue;
                memset(&e, 0, sizeof(e));
                if (parse_name(de->d_name, full, &e.pid, e.ts) < 0)
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

/* Lists full/ and incremental/ in time order. */
static int list_chains(int full_fd, int incr_fd, bool sizes, struct listing *l) {
        int r;

        r = list_dir(full_fd, true, sizes, l);
        if (r < 0)
                return r;
        r = list_dir(incr_fd, false, sizes, l);
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

/* Opens DIR/sub without following a symlink; a missing folder gives fd -1. */
static int open_sub(int dfd, const char *sub, int *ret_fd) {
        int fd = openat(dfd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);

        if (fd < 0) {
                if (errno != ENOENT)
                        return -errno;
        }
        *ret_fd = fd;
        return 0;
}

int backup_retention(struct backup_store *st, unsigned keep_full, uint64_t max_bytes) {
        struct listing l = {0};
        uint64_t total = 0;
        size_t nfull = 0, g = 0, last_group = 0;
        int deleted = 0, r;

        if (!st || st->full_fd < 0 || st->incr_fd < 0)
                return -EINVAL;
        if (keep_full == 0 && max_bytes == 0)
                return 0;
        r = list_chains(st->full_fd, st->incr_fd, true, &l);
        if (r < 0)
                goto out;
        for (size_t i = 0; i < l.n; i++) {
                total += l.v[i].size;
                if (l.v[i].full) {
                        nfull++;
                        last_group = i;
                }
        }
        /* Groups before last_group may go; the newest chain never does. */
        while (g < last_group &&
               ((keep_full > 0 && nfull > keep_full) || (max_bytes > 0 && total > max_bytes))) {
                size_t end = group_end(&l, g);
                bool any_diff = false;

                /* Diffs newest first, then the full snapshot: a crash at any
                 * point leaves a full snapshot with a prefix of its diffs (a
                 * shorter chain that still verifies), never a chain with a
                 * hole in it. */
                for (size_t j = end; j-- > g;) {
                        if (l.v[j].full)
                                continue;
                        if (unlinkat(st->incr_fd, l.v[j].name, 0) < 0) {
                                if (errno != ENOENT) {
                                        r = -errno;
                                        goto out;
                                }
                        } else {
                                deleted++;
                        }
                        any_diff = true;
                        total -= l.v[j].size;
                }
                if (any_diff && fsync(st->incr_fd) < 0) {
                        r = -errno;
                        goto out;
                }
                if (l.v[g].full) {
                        if (unlinkat(st->full_fd, l.v[g].name, 0) < 0) {
                                if (errno != ENOENT) {
                                        r = -errno;
                                        goto out;
                                }
                        } else {
                                deleted++;
                        }
                        total -= l.v[g].size;
                        nfull--;
                        if (fsync(st->full_fd) < 0) {
                                r = -errno;
                                goto out;
                        }
                }
                g = end;
        }
        r = deleted;
out:
        mm_free(l.v);
        return r;
}

int backup_replay(const char *dir, const char *at, struct maps_snapshot *ret, backup_report_fn report,
                  void *user) {
        struct reporter rp = {report, user};
        struct listing l = {0};
        struct rctx x;
        struct backup_fault f;
        struct ts_fields tf;
        size_t chosen = SIZE_MAX;
        int dfd = -1, full_fd = -1, incr_fd = -1, r;
        bool early = false;

        rctx_init(&x);
        if (!dir || !ret || (at && ts_decode(at, strlen(at), &tf) < 0)) {
                r = -EINVAL;
                goto out;
        }
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0) {
                r = -errno;
                goto out;
        }
        r = open_sub(dfd, "full", &full_fd);
        if (r < 0)
                goto out;
        r = open_sub(dfd, "incremental", &incr_fd);
        if (r < 0)
                goto out;
        r = list_chains(full_fd, incr_fd, false, &l);
        if (r < 0)
                goto out;
        for (size_t i = 0; i < l.n; i++)
                if (l.v[i].full && (!at || strcmp(l.v[i].ts, at) <= 0))
                        chosen = i;
        if (chosen == SIZE_MAX) {
                r = -ENOENT;
                goto out;
        }

        /* The newest chain at or before `at`; if its full snapshot is bad, the
         * end of an older chain is the last good point. */
        for (size_t c = chosen + 1; c-- > 0;) {
                const char *good;

                if (!l.v[c].full)
                        continue;
                r = read_entry(&x, full_fd, incr_fd, &l.v[c], &f);
                if (r == -EBADMSG) {
                        report_fault(&rp, dir, "full", l.v[c].name, &f, "; trying an older chain");
                        early = true;
                        continue;
                }
                if (r < 0)
                        goto out;
                good = l.v[c].ts;
                for (size_t j = c + 1; j < l.n && !l.v[j].full; j++) {
                        char tail[64];
                        int n;

                        if (at && strcmp(l.v[j].ts, at) > 0)
                                break;
                        r = read_entry(&x, full_fd, incr_fd, &l.v[j], &f);
                        if (r == -EBADMSG) {
                                n = snprintf(tail, sizeof(tail), "; stopped at %s", good);
                                report_fault(&rp, dir, "incremental", l.v[j].name, &f,
                                             n > 0 && (size_t)n < sizeof(tail) ? tail : "");
                                early = true;
                                break;
                        }
                        if (r < 0)
                                goto out;
                        good = l.v[j].ts;
                }
                if (early && c != chosen)
                        reportf(&rp, "%s: stopped at %s, in the chain of full/%s", dir, good, l.v[c].name);
                maps_snapshot_swap(ret, &x.chain.cur);
                r = early ? 1 : 0;
                goto out;
        }
        reportf(&rp, "%s: no readable full snapshot at or before %s", dir, at ? at : "the end");
        r = -EBADMSG;
out:
        mm_free(l.v);
        rctx_fini(&x);
        close_fd(&incr_fd);
        close_fd(&full_fd);
        close_fd(&dfd);
        return r;
}

/* Checks one chain starting at l->v[i] (a full snapshot).  Returns 0 (good),
 * 1 (broken) or -ENOMEM. */
static int verify_chain(struct rctx *x, const char *path, int full_fd, int incr_fd, const struct listing *l,
                        size_t i, size_t end, const struct reporter *rp) {
        struct backup_fault f;
        size_t ndiff = end - i - 1;
        int r;

        r = read_entry(x, full_fd, incr_fd, &l->v[i], &f);
        if (r == -EBADMSG) {
                report_fault(rp, path, "full", l->v[i].name, &f, "");
                reportf(rp, "bad %s/full/%s: 0 of %zu diffs checked", path, l->v[i].name, ndiff);
                return 1;
        }
        if (r < 0)
                return r;
        for (size_t j = i + 1; j < end; j++) {
                r = read_entry(x, full_fd, incr_fd, &l->v[j], &f);
                if (r == -EBADMSG) {
                        report_fault(rp, path, "incremental", l->v[j].name, &f, "");
                        reportf(rp, "bad %s/full/%s: %zu of %zu diffs good", path, l->v[i].name, j - i - 1,
                                ndiff);
                        return 1;
                }
                if (r < 0)
                        return r;
        }
        reportf(rp, "ok %s/full/%s: %zu diffs", path, l->v[i].name, ndiff);
        return 0;
}

/* Checks every chain of one target's folder; adds the broken ones to
 * *broken. */
static int verify_target(struct rctx *x, const char *path, int dfd, const struct reporter *rp,
                         unsigned *broken) {
        struct listing l = {0};
        int full_fd = -1, incr_fd = -1, r;
        size_t i = 0;

        r = open_sub(dfd, "full", &full_fd);
        if (r < 0)
                goto out;
        r = open_sub(dfd, "incremental", &incr_fd);
        if (r < 0)
                goto out;
        r = list_chains(full_fd, incr_fd, false, &l);
        if (r < 0)
                goto out;
        if (l.n == 0)
                reportf(rp, "ok %s: no backups", path);
        while (i < l.n) {
                size_t end = group_end(&l, i);

                if (!l.v[i].full) {
                        reportf(rp, "%s/incremental/%s: no full snapshot before it", path, l.v[i].name);
                        (*broken)++;
                } else {
                        r = verify_chain(x, path, full_fd, incr_fd, &l, i, end, rp);
                        if (r < 0)
                                goto out;
                        *broken += (unsigned)r;
                }
                i = end;
        }
        r = 0;
out:
        mm_free(l.v);
        close_fd(&incr_fd);
        close_fd(&full_fd);
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

        r = open_dir_stream(dfd, &d);
        if (r < 0)
                return r;
        while ((r = next_entry(d, &de)) > 0) {
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

int backup_verify(const char *dir, backup_report_fn report, void *user) {
        struct reporter rp = {report, user};
        struct rctx x;
        char **names = NULL;
        size_t nnames = 0, ntargets = 0;
        unsigned broken = 0;
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
                r = verify_target(&x, dir, dfd, &rp, &broken);
                if (r < 0)
                        goto out;
                r = broken > INT_MAX ? INT_MAX : (int)broken;
                goto out;
        }
        r = list_subdirs(dfd, &names, &nnames);
        if (r < 0)
                goto out;
        for (size_t i = 0; i < nnames; i++) {
                char path[PATH_MAX];
                int sub, n;

                n = snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
                if (n < 0 || (size_t)n >= sizeof(path)) {
                        r = -ENAMETOOLONG;
                        goto out;
                }
                sub = openat(dfd, names[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
                if (sub < 0) {
                        char eb[128];
                        reportf(&rp, "%s: cannot open: %s", path, strerror_r(errno, eb, sizeof(eb)));
                        broken++;
                        continue;
                }
                if (!is_target_dir(sub)) {
                        close(sub);
                        continue;
                }
                ntargets++;
                r = verify_target(&x, path, sub, &rp, &broken);
                close(sub);
                if (r < 0)
                        goto out;
        }
        if (ntargets == 0) {
                r = -ENOENT;
                goto out;
        }
        r = broken > INT_MAX ? INT_MAX : (int)broken;
out:
        for (size_t i = 0; i < nnames; i++)
                mm_free(names[i]);
        mm_free(names);
        rctx_fini(&x);
        close_fd(&dfd);
        return r;
}
