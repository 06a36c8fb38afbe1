#include "agent/report_events.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/json.h"
#include "core/ts.h"

static const char *const keys[RA_COUNT] = {
    [RA_EVENT] = "event",   [RA_TIME] = "time",   [RA_RULE] = "rule",
    [RA_REGION] = "region", [RA_START] = "start", [RA_END] = "end",
    [RA_PERMS] = "perms",   [RA_PATH] = "path",   [RA_REASON] = "reason",
};

const char *report_alert_key(enum report_alert_field f) {
        return f < RA_COUNT ? keys[f] : "?";
}

void report_alerts_init(struct report_alerts *a) {
        memset(a, 0, sizeof(*a));
}

static void alert_free(struct report_alert *al) {
        for (size_t k = 0; k < RA_COUNT; k++)
                mm_free(al->f[k]);
}

void report_alerts_fini(struct report_alerts *a) {
        if (!a)
                return;
        for (size_t i = 0; i < a->n; i++)
                alert_free(&a->v[i]);
        mm_free(a->v);
        report_alerts_init(a);
}

static size_t skip_ws(const char *s, size_t n, size_t i) {
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
                i++;
        return i;
}

/* Skips the string starting at s[i] (a '"').  False when it does not end. */
static bool skip_string(const char *s, size_t n, size_t *i) {
        for (size_t j = *i + 1; j < n; j++) {
                if (s[j] == '\\')
                        j++;
                else if (s[j] == '"') {
                        *i = j + 1;
                        return true;
                }
        }
        return false;
}

/* Skips a value that is not a string: a number or literal (up to the next
 * delimiter), or a nested object or array (strings in it skipped whole). */
static bool skip_value(const char *s, size_t n, size_t *i) {
        size_t j = *i;
        int depth = 0;

        if (j < n && (s[j] == '{' || s[j] == '[')) {
                while (j < n) {
                        char c = s[j];

                        if (c == '"') {
                                if (!skip_string(s, n, &j))
                                        return false;
                                continue;
                        }
                        if (c == '{' || c == '[')
                                depth++;
                        else if ((c == '}' || c == ']') && --depth == 0) {
                                *i = j + 1;
                                return true;
                        }
                        j++;
                }
                return false;
        }
        while (j < n && strchr(",}] \t\r", s[j]) == NULL)
                j++;
        if (j == *i)
                return false;
        *i = j;
        return true;
}

/* The fields of one line: the alert's strings, and the event's target. */
struct line_fields {
        struct strbuf f[RA_COUNT];
        struct strbuf target;
        bool seen[RA_COUNT];
        bool has_target;
};

/* Parses a flat JSON object, keeping the string fields we know.  Returns 0,
 * -EINVAL (not one JSON object) or -ENOMEM. */
static int parse_line(const char *s, size_t n, struct line_fields *lf, struct strbuf *key) {
        size_t i = skip_ws(s, n, 0), used;
        int r;

        if (i >= n || s[i] != '{')
                return -EINVAL;
        i = skip_ws(s, n, i + 1);
        if (i < n && s[i] == '}')
                return skip_ws(s, n, i + 1) == n ? 0 : -EINVAL;
        for (;;) {
                struct strbuf *dst = NULL;

                if (i >= n || s[i] != '"')
                        return -EINVAL;
                strbuf_reset(key);
                if ((r = json_decode_string(s + i, n - i, key, &used)) < 0)
                        return r;
                i = skip_ws(s, n, i + used);
                if (i >= n || s[i] != ':')
                        return -EINVAL;
                i = skip_ws(s, n, i + 1);
                if (i >= n)
                        return -EINVAL;
                if (s[i] == '"') {
                        const char *k = strbuf_str(key);

                        if (strcmp(k, "target") == 0 && key->len == 6) {
                                dst = &lf->target;
                                lf->has_target = true;
                        }
                        for (size_t f = 0; !dst && f < RA_COUNT; f++)
                                if (strlen(keys[f]) == key->len && strcmp(k, keys[f]) == 0) {
                                        dst = &lf->f[f];
                                        lf->seen[f] = true;
                                }
                        if (dst) {
                                /* A key given twice: the last one counts. */
                                strbuf_reset(dst);
                                if ((r = json_decode_string(s + i, n - i, dst, &used)) < 0)
                                        return r;
                                i += used;
                        } else if (!skip_string(s, n, &i)) {
                                return -EINVAL;
                        }
                } else if (!skip_value(s, n, &i)) {
                        return -EINVAL;
                }
                i = skip_ws(s, n, i);
                if (i < n && s[i] == ',') {
                        i = skip_ws(s, n, i + 1);
                        continue;
                }
                if (i < n && s[i] == '}')
                        return skip_ws(s, n, i + 1) == n ? 0 : -EINVAL;
                return -EINVAL;
        }
}

static bool buf_is(const struct strbuf *b, const char *lit) {
        return b->len == strlen(lit) && memcmp(strbuf_str(b), lit, b->len) == 0;
}

/* The time of an event, as microseconds since the epoch. */
static int event_us(const struct strbuf *t, int64_t *ret) {
        char ts[TS_SIZE];

        /* The longest form ts_parse() takes is 2026-11-25T18:33:28.123456Z. */
        if (t->len == 0 || t->len > 32 || memchr(strbuf_str(t), '\0', t->len))
                return -EINVAL;
        if (ts_parse(strbuf_str(t), ts) < 0)
                return -EINVAL;
        return ts_to_us(ts, ret);
}

static int keep(struct report_alerts *a, struct line_fields *lf, int64_t us) {
        struct report_alert al = {.us = us};

        if (mm_grow(&a->v, &a->cap, a->n + 1, sizeof(*a->v)) < 0)
                return -ENOMEM;
        for (size_t k = 0; k < RA_COUNT; k++) {
                /* Taken over from the strbuf, which starts afresh. */
                al.len[k] = lf->f[k].len;
                al.f[k] = lf->f[k].s ? lf->f[k].s : mm_strdup("");
                if (!al.f[k]) {
                        alert_free(&al);
                        return -ENOMEM;
                }
                strbuf_init(&lf->f[k]);
        }
        a->v[a->n++] = al;
        return 0;
}

int report_alerts_add_line(struct report_alerts *a, const char *line, size_t len, const char *target,
                           int64_t from_us, int64_t to_us) {
        struct line_fields lf;
        struct strbuf key;
        int64_t us = 0;
        int r;

        memset(&lf, 0, sizeof(lf));
        strbuf_init(&key);
        a->lines++;
        r = parse_line(line, len, &lf, &key);
        if (r == -ENOMEM)
                goto out;
        if (r < 0 || !lf.seen[RA_EVENT]) {
                a->bad_lines++;
                r = 0;
                goto out;
        }
        r = 0;
        if (!buf_is(&lf.f[RA_EVENT], "alert") && !buf_is(&lf.f[RA_EVENT], "alert_cleared"))
                goto out;
        if (!lf.has_target || !buf_is(&lf.target, target))
                goto out;
        if (event_us(&lf.f[RA_TIME], &us) < 0) {
                a->bad_lines++;
                goto out;
        }
        if (us < from_us || us > to_us)
                goto out;
        if (a->n >= REPORT_ALERTS_MAX) {
                a->dropped++;
                goto out;
        }
        r = keep(a, &lf, us);
out:
        for (size_t k = 0; k < RA_COUNT; k++)
                strbuf_fini(&lf.f[k]);
        strbuf_fini(&lf.target);
        strbuf_fini(&key);
        return r;
}

int report_alerts_read(struct report_alerts *a, const char *path, bool nofollow, const char *target,
                       int64_t from_us, int64_t to_us) {
        char *buf = NULL;
        size_t len = 0, cap = REPORT_EVENT_LINE_MAX + 1;
        bool skipping = false; /* inside a line too long to keep */
        struct stat sb;
        int fd, r;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | (nofollow ? O_NOFOLLOW : 0));
        if (fd < 0)
                return -errno;
        if (fstat(fd, &sb) < 0) {
                r = -errno;
                goto out;
        }
        if (!S_ISREG(sb.st_mode)) {
                r = -EINVAL;
                goto out;
        }
        buf = mm_malloc(cap);
        if (!buf) {
                r = -ENOMEM;
                goto out;
        }
        for (;;) {
                ssize_t got = read(fd, buf + len, cap - len);
                size_t start = 0;

                if (got < 0 && errno == EINTR)
                        continue;
                if (got < 0) {
                        r = -errno;
                        goto out;
                }
                if (got == 0)
                        break;
                len += (size_t)got;
                for (;;) {
                        char *nl = memchr(buf + start, '\n', len - start);
                        size_t n;

                        if (!nl)
                                break;
                        n = (size_t)(nl - (buf + start));
                        if (skipping) {
                                skipping = false;
                        } else if ((r = report_alerts_add_line(a, buf + start, n, target, from_us, to_us)) <
                                   0) {
                                goto out;
                        }
                        start += n + 1;
                }
                memmove(buf, buf + start, len - start);
                len -= start;
                if (len == cap) {
                        /* A line longer than any event we write. */
                        if (!skipping) {
                                a->lines++;
                                a->bad_lines++;
                        }
                        skipping = true;
                        len = 0;
                }
        }
        /* A last line without '\n' is one the agent is still writing. */
        r = 0;
out:
        mm_free(buf);
        close(fd);
        return r;
}
