#include "core/backup_chain.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/backup_event.h"

/* Line numbers of the header fields every file has at the same place,
 * for messages; the lines after them move with the optional `# seq`, and
 * struct hdr keeps where they were. */
enum {
        LINE_MAGIC = 1,
        LINE_TARGET = 2,
        LINE_PID = 3,
        LINE_START_TIME = 4,
        LINE_TIME = 5,
};

/* The header of a full snapshot or a diff, as read from a file. */
struct hdr {
        unsigned version;
        char target[BACKUP_TARGET_MAX + 1];
        pid_t pid;
        uint64_t start_time;
        char time[TS_SIZE];
        bool has_seq;
        uint64_t seq;
        uint64_t regions; /* full */
        uint64_t bytes;
        uint64_t checksum;
        uint64_t base; /* diff */
        uint64_t result;
        uint64_t records;
        uint64_t lost;
        size_t n_events;
        /* Where the lines that move were. */
        size_t line_first;  /* regions (full), base (diff) */
        size_t line_second; /* bytes, result */
        size_t line_third;  /* checksum, records */
        size_t line_events;
};

struct cursor {
        const char *buf;
        size_t len;
        size_t pos;
        size_t line; /* number of the last line taken */
};

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

/* Converts the len (at most 20) digits at s, which need not be
 * NUL-terminated and are known to be digits of base.  False on overflow. */
static bool to_u64(const char *s, size_t len, int base, unsigned long long *ret) {
        char tmp[24];
        char *end;

        memcpy(tmp, s, len);
        tmp[len] = '\0';
        errno = 0;
        *ret = strtoull(tmp, &end, base);
        return errno == 0 && end == tmp + len;
}

/* Parses a canonical decimal number (no sign, no leading zeros) of exactly
 * len bytes that need not be NUL-terminated. */
static int parse_dec(const char *s, size_t len, uint64_t max, uint64_t *ret) {
        unsigned long long v;

        if (len == 0 || len > 20)
                return -EINVAL;
        for (size_t i = 0; i < len; i++)
                if (!is_digit(s[i]))
                        return -EINVAL;
        if (len > 1 && s[0] == '0')
                return -EINVAL;
        if (!to_u64(s, len, 10, &v) || v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

/* Parses exactly 16 lowercase hex digits. */
static int parse_hex64(const char *s, size_t len, uint64_t *ret) {
        unsigned long long v;

        if (len != 16)
                return -EINVAL;
        for (size_t i = 0; i < len; i++)
                if (!is_digit(s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
                        return -EINVAL;
        if (!to_u64(s, len, 16, &v))
                return -EINVAL;
        *ret = v;
        return 0;
}

bool backup_target_ok(const char *s, size_t len) {
        if (!s || len == 0 || len > BACKUP_TARGET_MAX)
                return false;
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)s[i];
                if (c < 0x20 || c == 0x7f)
                        return false;
        }
        return true;
}

int backup_name_parse(const char *name, bool full, pid_t *ret_pid, char ret_ts[TS_SIZE]) {
        const char *prefix = full ? "backup_" : "diff_";
        const char *suffix = full ? ".maps" : ".diff";
        size_t plen = strlen(prefix);
        size_t len = strnlen(name, BACKUP_NAME_SIZE);
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
        if ((size_t)(name + len - 5 - (us + 1)) != TS_LEN || !ts_valid(us + 1, TS_LEN))
                return -EINVAL;
        *ret_pid = (pid_t)pid;
        memcpy(ret_ts, us + 1, TS_LEN);
        ret_ts[TS_LEN] = '\0';
        return 0;
}

int backup_name_format(bool full, pid_t pid, const char ts[TS_SIZE], char ret[BACKUP_NAME_SIZE]) {
        int n;

        if (full)
                n = snprintf(ret, BACKUP_NAME_SIZE, "backup_%d_%s.maps", (int)pid, ts);
        else
                n = snprintf(ret, BACKUP_NAME_SIZE, "diff_%d_%s.diff", (int)pid, ts);
        if (n < 0 || n >= BACKUP_NAME_SIZE)
                return -ENAMETOOLONG;
        return 0;
}

int backup_faultf(struct backup_fault *f, size_t line, const char *fmt, ...) {
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

void backup_chain_init(struct backup_chain *c) {
        memset(c, 0, sizeof(*c));
        maps_snapshot_init(&c->cur);
        maps_snapshot_init(&c->next);
}

void backup_chain_fini(struct backup_chain *c) {
        if (!c)
                return;
        mm_free(c->out);
        mm_free(c->events);
        mm_free(c->ev_next);
        mm_free(c->ev_paths);
        mm_free(c->ev_paths_next);
        maps_snapshot_fini(&c->cur);
        maps_snapshot_fini(&c->next);
        backup_chain_init(c);
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
                return backup_faultf(f, c->line + 1, "line is cut off (no newline) where %s was expected",
                                     what);
        return backup_faultf(f, c->line + 1, "file ends where %s was expected", what);
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
                return backup_faultf(f, c->line, "expected '# %s VALUE'", key);
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
                return backup_faultf(f, c->line, "bad number in '# %s'", key);
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
                return backup_faultf(f, c->line, "'# %s' is not 16 lowercase hex digits", key);
        return 0;
}

/* True when the next line starts with "# KEY ": an optional header line is
 * there. */
static bool next_is(const struct cursor *c, const char *key) {
        size_t klen = strlen(key), rest = c->len - c->pos;
        const char *p = c->buf + c->pos;

        return c->pos < c->len && rest > klen + 3 && p[0] == '#' && p[1] == ' ' &&
               memcmp(p + 2, key, klen) == 0 && p[2 + klen] == ' ';
}

/* Takes "# KEY N" with N > 0 when the next line is one (format 2): an
 * optional count that is written only when it is not zero. */
static int hdr_optional_count(struct cursor *c, const struct hdr *h, const char *key, uint64_t *ret,
                              struct backup_fault *f) {
        int r;

        *ret = 0;
        if (h->version < 2 || !next_is(c, key))
                return 0;
        r = hdr_dec(c, key, UINT64_MAX, ret, f);
        if (r < 0)
                return r;
        if (*ret == 0)
                return backup_faultf(f, c->line, "'# %s 0' is written as no line at all", key);
        return 0;
}

/* Parses the header lines both kinds share and checks them against the
 * pid and timestamp of the file's name. */
static int parse_common(struct cursor *c, bool full, pid_t name_pid, const char *name_ts, struct hdr *h,
                        struct backup_fault *f) {
        const char *magic = full ? "# memmon full " : "# memmon diff ";
        size_t mlen = strlen(magic);
        const char *v;
        size_t n;
        uint64_t pid;
        int r;

        if (!next_line(c, &v, &n))
                return missing_line(c, f, "the format line");
        if (n < mlen || memcmp(v, magic, mlen) != 0)
                return backup_faultf(f, c->line, "not a memmon %s file", full ? "full snapshot" : "diff");
        if (n != mlen + 1 || v[mlen] < '1' || v[mlen] > '0' + BACKUP_FORMAT)
                return backup_faultf(f, c->line, "unsupported format version");
        h->version = (unsigned)(v[mlen] - '0');
        r = hdr_field(c, "target", &v, &n, f);
        if (r < 0)
                return r;
        if (!backup_target_ok(v, n))
                return backup_faultf(f, c->line, "bad target name");
        memcpy(h->target, v, n);
        h->target[n] = '\0';
        r = hdr_dec(c, "pid", INT_MAX, &pid, f);
        if (r < 0)
                return r;
        if (pid != (uint64_t)name_pid)
                return backup_faultf(f, c->line, "pid %" PRIu64 " differs from the file name's %d", pid,
                                     (int)name_pid);
        h->pid = (pid_t)pid;
        r = hdr_dec(c, "start_time", UINT64_MAX, &h->start_time, f);
        if (r < 0)
                return r;
        r = hdr_field(c, "time", &v, &n, f);
        if (r < 0)
                return r;
        if (!ts_valid(v, n))
                return backup_faultf(f, c->line, "bad timestamp");
        memcpy(h->time, v, TS_LEN);
        h->time[TS_LEN] = '\0';
        if (strcmp(h->time, name_ts) != 0)
                return backup_faultf(f, c->line, "time differs from the file name's %s", name_ts);
        if (h->version >= 2 && next_is(c, "seq")) {
                r = hdr_dec(c, "seq", UINT64_MAX, &h->seq, f);
                if (r < 0)
                        return r;
                h->has_seq = true;
        }
        return 0;
}

/* Takes the lines that follow the kind's own header lines in format 2:
 * `# lost` and `# events`, both optional. */
static int parse_tail(struct cursor *c, struct hdr *h, struct backup_fault *f) {
        uint64_t n;
        int r;

        r = hdr_optional_count(c, h, "lost", &h->lost, f);
        if (r < 0)
                return r;
        r = hdr_optional_count(c, h, "events", &n, f);
        if (r < 0)
                return r;
        h->line_events = c->line;
        /* Only what the file holds is ever allocated: the count is checked
         * against the lines as they are read. */
        h->n_events = n > SIZE_MAX ? SIZE_MAX : (size_t)n;
        return 0;
}

/* Makes room for one more event of the file being read, and for its path
 * (at most the line's length) in the scratch buffers.  Bounded by the
 * file: one event per line read. */
static int event_room(struct backup_chain *ch, size_t n, size_t path_need) {
        if (n == ch->ev_cap) {
                size_t cap = ch->ev_cap ? 2 * ch->ev_cap : 16;
                struct capture_event *a = mm_reallocarray(ch->ev_next, cap, sizeof(*a));
                struct capture_event *b;

                if (!a)
                        return -ENOMEM;
                ch->ev_next = a;
                b = mm_reallocarray(ch->events, cap, sizeof(*b));
                if (!b)
                        return -ENOMEM;
                ch->events = b;
                ch->ev_cap = cap;
        }
        if (path_need > ch->ev_paths_cap) {
                char *a = mm_realloc(ch->ev_paths_next, path_need);
                char *b;

                if (!a)
                        return -ENOMEM;
                ch->ev_paths_next = a;
                /* The last file's events point into ev_paths: they move
                 * with it. */
                uintptr_t old = (uintptr_t)ch->ev_paths;
                b = mm_realloc(ch->ev_paths, path_need);
                if (!b)
                        return -ENOMEM;
                for (size_t i = 0; i < ch->n_events; i++)
                        if (ch->events[i].path)
                                ch->events[i].path = b + ((uintptr_t)ch->events[i].path - old);
                ch->ev_paths = b;
                ch->ev_paths_cap = path_need;
        }
        return 0;
}

/* Reads the h->n_events event lines into ch->ev_next (their paths into
 * ev_paths_next) and checks their order: among themselves, against the
 * file's seq, and (after, when set) against the chain so far. */
static int parse_events(struct backup_chain *ch, struct cursor *c, const struct hdr *h, bool after,
                        struct backup_fault *f) {
        /* A copy: ev_next moves as it grows. */
        char prev_buf[TS_SIZE];
        const char *prev_time = NULL;
        uint64_t prev_seq = after && ch->have_event ? ch->last_event_seq : 0;
        size_t used = 0;
        int r;

        if (after && ch->have_event) {
                memcpy(prev_buf, ch->last_event_time, TS_SIZE);
                prev_time = prev_buf;
        }
        for (size_t i = 0; i < h->n_events; i++) {
                struct capture_event *ev;
                const char *l, *why = "";
                size_t n;

                if (c->pos >= c->len || c->buf[c->pos] != '!') {
                        if (c->pos < c->len && memchr(c->buf + c->pos, '\n', c->len - c->pos))
                                return backup_faultf(f, h->line_events, "events says %zu, the file has %zu",
                                                     h->n_events, i);
                        return missing_line(c, f, "an event line");
                }
                if (!next_line(c, &l, &n))
                        return missing_line(c, f, "an event line");
                /* Room for every path of the file at once (c->len), so
                 * the paths of the events so far never move. */
                r = event_room(ch, i, c->len);
                if (r < 0)
                        return r;
                ev = &ch->ev_next[i];
                if (backup_event_parse(l, n, ev, ch->ev_paths_next + used, &why) < 0)
                        return backup_faultf(f, c->line, "%s", why);
                used += ev->path_len;
                if (prev_time && (strcmp(ev->time, prev_time) < 0 || ev->seq < prev_seq))
                        return backup_faultf(f, c->line, "event out of order (time or seq goes back)");
                if (h->has_seq && ev->seq > h->seq)
                        return backup_faultf(f, c->line,
                                             "event seq %" PRIu64 " is after the file's seq %" PRIu64,
                                             ev->seq, h->seq);
                memcpy(prev_buf, ev->time, TS_SIZE);
                prev_time = prev_buf;
                prev_seq = ev->seq;
        }
        if (c->pos < c->len && c->buf[c->pos] == '!')
                return backup_faultf(f, h->line_events ? h->line_events : c->line + 1,
                                     "more event lines than the %zu the header says", h->n_events);
        return 0;
}

/* Makes the file just read the chain's last: its version, seq, lost and
 * events, and the order the next file must keep. */
static void keep_events(struct backup_chain *ch, const struct hdr *h) {
        struct capture_event *ev = ch->ev_next;
        char *paths = ch->ev_paths_next;

        /* Swapped, not copied: the paths stay where the events point. */
        ch->ev_next = ch->events;
        ch->events = ev;
        ch->ev_paths_next = ch->ev_paths;
        ch->ev_paths = paths;
        ch->n_events = h->n_events;
        if (ch->n_events > 0) {
                const struct capture_event *last = &ev[ch->n_events - 1];

                ch->have_event = true;
                ch->last_event_seq = last->seq;
                memcpy(ch->last_event_time, last->time, TS_SIZE);
        }
        ch->version = h->version;
        ch->has_seq = h->has_seq;
        ch->seq = h->seq;
        ch->lost = h->lost;
        if (h->has_seq) {
                ch->have_file_seq = true;
                ch->last_file_seq = h->seq;
        }
}

/* The name's identity as a caller hands it in: a pid and a backup
 * timestamp. */
static bool name_ok(pid_t pid, const char *ts) {
        return pid > 0 && ts && ts_valid(ts, strnlen(ts, TS_SIZE));
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
        h.line_first = c.line;
        r = hdr_dec(&c, "bytes", UINT64_MAX, &h.bytes, f);
        if (r < 0)
                return r;
        h.line_second = c.line;
        r = hdr_hex(&c, "checksum", &h.checksum, f);
        if (r < 0)
                return r;
        h.line_third = c.line;
        r = parse_tail(&c, &h, f);
        if (r < 0)
                return r;
        /* A full snapshot starts a chain: its events follow nothing. */
        r = parse_events(ch, &c, &h, false, f);
        if (r < 0)
                return r;
        rest = c.len - c.pos;
        if (h.bytes != rest)
                return backup_faultf(f, h.line_second, "bytes says %" PRIu64 ", the file holds %zu", h.bytes,
                                     rest);
        sum = maps_checksum(c.buf + c.pos, rest);
        if (sum != h.checksum)
                return backup_faultf(f, h.line_third, "checksum mismatch (the text hashes to %016" PRIx64 ")",
                                     sum);
        /* Parsed into the scratch snapshot, so that a bad file leaves the
         * chain as it was. */
        r = maps_snapshot_set_text(&ch->next, c.buf + c.pos, rest, &bad);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return backup_faultf(f, c.line + bad, "bad maps line");
        if (ch->next.n != h.regions)
                return backup_faultf(f, h.line_first, "regions says %" PRIu64 ", the text has %zu", h.regions,
                                     ch->next.n);
        ch->next.checksum = sum;
        maps_snapshot_swap(&ch->cur, &ch->next);
        memcpy(ch->target, h.target, sizeof(ch->target));
        ch->pid = h.pid;
        ch->start_time = h.start_time;
        ch->loaded = 1;
        ch->have_event = false;
        ch->have_file_seq = false;
        keep_events(ch, &h);
        return 0;
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
                return backup_faultf(f, c->line, "bad record");
        if (maps_parse_line(c->buf, (size_t)(l + 2 - c->buf), n - 2, ret) < 0)
                return backup_faultf(f, c->line, "bad maps line in the record");
        return 0;
}

/* The region of the current state at *i must be exactly the line l (n bytes). */
static int match_old(struct backup_chain *ch, const struct cursor *c, size_t i, const struct region *rr,
                     const char *l, size_t n, struct backup_fault *f) {
        const struct region *have;

        if (i >= ch->cur.n || ch->cur.regions[i].start != rr->start)
                return backup_faultf(f, c->line, "no region at %" PRIx64 " in the state before this diff",
                                     rr->start);
        have = &ch->cur.regions[i];
        if (have->line_len != n || memcmp(region_line(&ch->cur, have), l, n) != 0)
                return backup_faultf(
                    f, c->line, "the line differs from the region at %" PRIx64 " in the state", rr->start);
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
                return backup_faultf(f, LINE_TARGET, "target '%s' differs from the chain's '%s'", h.target,
                                     ch->target);
        if (h.pid != ch->pid)
                return backup_faultf(f, LINE_PID, "pid %d differs from the chain's %d", (int)h.pid,
                                     (int)ch->pid);
        if (h.start_time != ch->start_time)
                return backup_faultf(f, LINE_START_TIME,
                                     "start_time %" PRIu64 " differs from the chain's %" PRIu64, h.start_time,
                                     ch->start_time);
        if (h.has_seq && ch->have_file_seq && h.seq < ch->last_file_seq)
                return backup_faultf(f, LINE_TIME + 1, "seq %" PRIu64 " is before the chain's %" PRIu64,
                                     h.seq, ch->last_file_seq);
        r = hdr_hex(&c, "base", &h.base, f);
        if (r < 0)
                return r;
        h.line_first = c.line;
        r = hdr_hex(&c, "result", &h.result, f);
        if (r < 0)
                return r;
        h.line_second = c.line;
        r = hdr_dec(&c, "records", UINT64_MAX, &h.records, f);
        if (r < 0)
                return r;
        h.line_third = c.line;
        if (h.base != ch->cur.checksum)
                return backup_faultf(f, h.line_first,
                                     "base %016" PRIx64 " is not the state before it (%016" PRIx64 ")",
                                     h.base, ch->cur.checksum);
        r = parse_tail(&c, &h, f);
        if (r < 0)
                return r;
        r = parse_events(ch, &c, &h, true, f);
        if (r < 0)
                return r;

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
                        return backup_faultf(f, c.line, "more records than the %" PRIu64 " the header says",
                                             h.records);
                if (n >= 1 && l[0] == '>')
                        return backup_faultf(f, c.line, "a '>' line without a '<' line before it");
                if (n < 1 || (l[0] != '+' && l[0] != '-' && l[0] != '<'))
                        return backup_faultf(f, c.line, "not a record");
                r = record_region(&c, l, n, &rr, f);
                if (r < 0)
                        return r;
                if (nrec > 0 && rr.start <= prev_start)
                        return backup_faultf(f, c.line, "records out of address order");
                prev_start = rr.start;
                copy_state(ch, &i, first_from(&ch->cur, i, rr.start), &olen);
                switch (l[0]) {
                case '+':
                        if (i < ch->cur.n && ch->cur.regions[i].start == rr.start)
                                return backup_faultf(
                                    f, c.line, "added region at %" PRIx64 " is already there", rr.start);
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
                                return backup_faultf(f, c.line, "a '<' line must be followed by a '>' line");
                        r = record_region(&c, l2, n2, &rn, f);
                        if (r < 0)
                                return r;
                        if (rn.start != rr.start)
                                return backup_faultf(f, c.line,
                                                     "the new line's start differs from the old one's");
                        append_line(ch, l2 + 2, n2 - 2, &olen);
                        i++;
                        break;
                }
                nrec++;
        }
        if (c.pos != c.len)
                return backup_faultf(f, c.line + 1, "data after '# end'");
        if (nrec != h.records)
                return backup_faultf(f, h.line_third, "records says %" PRIu64 ", the file has %zu", h.records,
                                     nrec);
        /* No change and no event, no file: format 2 writes a diff with
         * events only, never an empty one. */
        if (h.version >= 2 && nrec == 0 && h.n_events == 0)
                return backup_faultf(f, h.line_third, "a diff with no record and no event");
        copy_state(ch, &i, ch->cur.n, &olen);
        sum = maps_checksum(ch->out, olen);
        if (sum != h.result)
                return backup_faultf(f, h.line_second,
                                     "result checksum mismatch (the result hashes to %016" PRIx64 ")", sum);
        r = maps_snapshot_set_text(&ch->next, ch->out, olen, &bad);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return backup_faultf(f, c.line, "the result is not a valid maps text (its line %zu)", bad);
        ch->next.checksum = sum;
        maps_snapshot_swap(&ch->cur, &ch->next);
        keep_events(ch, &h);
        return 0;
}
