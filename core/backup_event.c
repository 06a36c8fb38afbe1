#include "core/backup_event.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROT_RWX 7u

/* A byte of a path that is written as \ooo: those that could end or forge
 * a line, and the escape character itself. */
static bool needs_escape(unsigned char c) {
        return c < 0x20 || c == 0x7f || c == '\\';
}

size_t backup_event_line_max(size_t path_len) {
        /* "! " TIME, then 11 fields of at most 21 bytes (a 64-bit decimal
         * and its space; PID/TID, PROT and DEV are shorter than two of
         * them), the "..." of a cut path, 4 bytes per escaped byte, '\n'. */
        return 2 + TS_LEN + 12 * 22 + 3 + 4 * path_len + 1;
}

static char *put_path(char *p, const struct capture_event *ev) {
        if (!ev->path) {
                *p++ = '-';
                return p;
        }
        if (ev->path_cut) {
                memcpy(p, "...", 3);
                p += 3;
        }
        for (size_t i = 0; i < ev->path_len; i++) {
                unsigned char c = (unsigned char)ev->path[i];

                if (needs_escape(c)) {
                        *p++ = '\\';
                        *p++ = (char)('0' + (c >> 6));
                        *p++ = (char)('0' + ((c >> 3) & 7));
                        *p++ = (char)('0' + (c & 7));
                } else {
                        *p++ = (char)c;
                }
        }
        return p;
}

int backup_event_format(const struct capture_event *ev, char *buf) {
        char prot[16];
        uint32_t extra;
        char *p;
        int n;

        if (capture_event_check(ev) < 0)
                return -EINVAL;
        prot[0] = ev->prot & 1 ? 'r' : '-';
        prot[1] = ev->prot & 2 ? 'w' : '-';
        prot[2] = ev->prot & 4 ? 'x' : '-';
        prot[3] = '\0';
        extra = ev->prot & ~PROT_RWX;
        if (extra)
                snprintf(prot + 3, sizeof(prot) - 3, "+%" PRIx32, extra);
        /* The fixed fields fit backup_event_line_max's room by its sum. */
        n = sprintf(buf,
                    "! %s %" PRIu64 " %s %d/%d %" PRIx64 " %" PRIx64 " %s %" PRIx32 " %" PRIx64 " %" PRIx64
                    " %02" PRIx32 ":%02" PRIx32 " %" PRIu64 " ",
                    ev->time, ev->seq, capture_op_name(ev->op), (int)ev->pid, (int)ev->tid, ev->addr, ev->len,
                    prot, ev->flags, ev->arg, ev->arg2, ev->dev_major, ev->dev_minor, ev->ino);
        if (n < 0)
                return -EINVAL;
        p = put_path(buf + n, ev);
        *p++ = '\n';
        return (int)(p - buf);
}

struct fields {
        const char *s;
        size_t n;
        size_t pos;
};

/* Takes the next field, up to a single space; the last field (last) is the
 * rest of the line. */
static bool next_field(struct fields *f, bool last, const char **ret, size_t *ret_len) {
        const char *sp;

        if (f->pos >= f->n)
                return false;
        *ret = f->s + f->pos;
        if (last) {
                *ret_len = f->n - f->pos;
                f->pos = f->n;
                return true;
        }
        sp = memchr(*ret, ' ', f->n - f->pos);
        if (!sp || sp == *ret)
                return false;
        *ret_len = (size_t)(sp - *ret);
        f->pos += *ret_len + 1;
        return true;
}

enum spelling {
        DEC,   /* %llu */
        HEX,   /* %llx */
        HEX02, /* %02llx, as maps writes a device number */
};

/* Parses s[0..len) as a number and accepts it only in the one spelling it
 * is written in (no sign, no blanks, no leading zeros beyond the width,
 * lowercase hex). */
static bool canon_number(const char *s, size_t len, enum spelling sp, uint64_t max, uint64_t *ret) {
        char tmp[32], back[32];
        unsigned long long v;
        char *end;
        int n;

        if (len == 0 || len >= sizeof(tmp) || s[0] == '-' || s[0] == '+' || s[0] == ' ')
                return false;
        memcpy(tmp, s, len);
        tmp[len] = '\0';
        errno = 0;
        v = strtoull(tmp, &end, sp == DEC ? 10 : 16);
        if (errno != 0 || end != tmp + len || v > max)
                return false;
        if (sp == DEC)
                n = snprintf(back, sizeof(back), "%llu", v);
        else if (sp == HEX)
                n = snprintf(back, sizeof(back), "%llx", v);
        else
                n = snprintf(back, sizeof(back), "%02llx", v);
        if (n != (int)len || memcmp(back, s, len) != 0)
                return false;
        *ret = v;
        return true;
}

static bool take_number(struct fields *f, enum spelling sp, uint64_t max, uint64_t *ret) {
        const char *s;
        size_t n;

        return next_field(f, false, &s, &n) && canon_number(s, n, sp, max, ret);
}

/* "rwx" with '-' for missing bits, then "+HEX" for the other bits. */
static bool parse_prot(const char *s, size_t n, uint32_t *ret) {
        static const char bits[] = "rwx";
        uint64_t extra = 0;
        uint32_t v = 0;

        if (n < 3)
                return false;
        for (size_t i = 0; i < 3; i++) {
                if (s[i] == bits[i])
                        v |= 1u << i;
                else if (s[i] != '-')
                        return false;
        }
        if (n > 3) {
                if (s[3] != '+' || !canon_number(s + 4, n - 4, HEX, UINT32_MAX, &extra) || extra == 0 ||
                    (extra & PROT_RWX))
                        return false;
        }
        *ret = v | (uint32_t)extra;
        return true;
}

/* "PID/TID", both decimal and > 0. */
static bool parse_ids(const char *s, size_t n, pid_t *ret_pid, pid_t *ret_tid) {
        const char *slash = memchr(s, '/', n);
        uint64_t pid, tid;

        if (!slash || !canon_number(s, (size_t)(slash - s), DEC, INT32_MAX, &pid) ||
            !canon_number(slash + 1, n - (size_t)(slash - s) - 1, DEC, INT32_MAX, &tid) || pid == 0 ||
            tid == 0)
                return false;
        *ret_pid = (pid_t)pid;
        *ret_tid = (pid_t)tid;
        return true;
}

/* "MAJ:MIN" as "%02x:%02x" writes it. */
static bool parse_dev(const char *s, size_t n, uint32_t *ret_major, uint32_t *ret_minor) {
        const char *colon = memchr(s, ':', n);
        uint64_t major, minor;

        if (!colon || !canon_number(s, (size_t)(colon - s), HEX02, 0xfff, &major) ||
            !canon_number(colon + 1, n - (size_t)(colon - s) - 1, HEX02, 0xfffff, &minor))
                return false;
        *ret_major = (uint32_t)major;
        *ret_minor = (uint32_t)minor;
        return true;
}

/* Unescapes the PATH field into out.  Returns its length, or -EINVAL. */
static int parse_path(const char *s, size_t n, char *out, bool *ret_cut) {
        size_t len = 0, i = 0;
        bool cut = false;

        if (n == 1 && s[0] == '-')
                return 0;
        if (n >= 3 && memcmp(s, "...", 3) == 0) {
                cut = true;
                i = 3;
        } else if (n == 0 || s[0] != '/') {
                return -EINVAL;
        }
        for (; i < n; i++) {
                unsigned char c = (unsigned char)s[i];

                if (c == '\\') {
                        unsigned v = 0;

                        if (n - i < 4)
                                return -EINVAL;
                        for (size_t k = 1; k <= 3; k++) {
                                if (s[i + k] < '0' || s[i + k] > '7')
                                        return -EINVAL;
                                v = v * 8 + (unsigned)(s[i + k] - '0');
                        }
                        if (v > 0xff || !needs_escape((unsigned char)v))
                                return -EINVAL;
                        c = (unsigned char)v;
                        i += 3;
                } else if (needs_escape(c)) {
                        return -EINVAL;
                }
                out[len++] = (char)c;
        }
        if (len == 0 || len > CAPTURE_PATH_MAX)
                return -EINVAL;
        *ret_cut = cut;
        return (int)len;
}

int backup_event_parse(const char *l, size_t n, struct capture_event *ret, char *path_buf,
                       const char **ret_why) {
        struct fields f = {l, n, 2};
        struct capture_event ev;
        const char *s;
        size_t sn;
        uint64_t v;
        int plen;

        memset(&ev, 0, sizeof(ev));
        if (n < 2 || l[0] != '!' || l[1] != ' ') {
                *ret_why = "not an event line";
                return -EINVAL;
        }
        if (!next_field(&f, false, &s, &sn) || !ts_valid(s, sn)) {
                *ret_why = "bad time in an event";
                return -EINVAL;
        }
        memcpy(ev.time, s, TS_LEN);
        if (!take_number(&f, DEC, UINT64_MAX, &ev.seq)) {
                *ret_why = "bad seq in an event";
                return -EINVAL;
        }
        if (!next_field(&f, false, &s, &sn) || capture_op_from_name(s, sn, &ev.op) < 0) {
                *ret_why = "unknown operation in an event";
                return -EINVAL;
        }
        if (!next_field(&f, false, &s, &sn) || !parse_ids(s, sn, &ev.pid, &ev.tid)) {
                *ret_why = "bad PID/TID in an event";
                return -EINVAL;
        }
        if (!take_number(&f, HEX, UINT64_MAX, &ev.addr) || !take_number(&f, HEX, UINT64_MAX, &ev.len)) {
                *ret_why = "bad address or length in an event";
                return -EINVAL;
        }
        if (!next_field(&f, false, &s, &sn) || !parse_prot(s, sn, &ev.prot)) {
                *ret_why = "bad protections in an event";
                return -EINVAL;
        }
        if (!take_number(&f, HEX, UINT32_MAX, &v)) {
                *ret_why = "bad flags in an event";
                return -EINVAL;
        }
        ev.flags = (uint32_t)v;
        if (!take_number(&f, HEX, UINT64_MAX, &ev.arg) || !take_number(&f, HEX, UINT64_MAX, &ev.arg2)) {
                *ret_why = "bad argument in an event";
                return -EINVAL;
        }
        if (!next_field(&f, false, &s, &sn) || !parse_dev(s, sn, &ev.dev_major, &ev.dev_minor) ||
            !take_number(&f, DEC, UINT64_MAX, &ev.ino)) {
                *ret_why = "bad device or inode in an event";
                return -EINVAL;
        }
        if (!next_field(&f, true, &s, &sn) || (plen = parse_path(s, sn, path_buf, &ev.path_cut)) < 0) {
                *ret_why = "bad path in an event";
                return -EINVAL;
        }
        if (plen > 0) {
                ev.path = path_buf;
                ev.path_len = (size_t)plen;
        }
        *ret = ev;
        return 0;
}
