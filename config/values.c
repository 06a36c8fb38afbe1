/*
 * values: the values of configuration keys: parsing a value into its field
 * (numbers with their units, users, choices, paths, commands), writing it
 * back, and the messages that say what is wrong with one.  The keys
 * themselves are the rows of config/keys.c.
 */
#include "config/keys.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>

#include "config/paths.h"
#include "config/strv.h"
#include "core/alloc.h"

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

struct unit {
        const char *suffix;
        uint64_t factor;
};

/* The units of core/units.h, largest first, for writing values back. */
/* clang-format off */
static const struct unit duration_units[] = {
        {"h", UINT64_C(3600000000)},
        {"m", UINT64_C(60000000)},
        {"s", UINT64_C(1000000)},
        {"ms", UINT64_C(1000)},
        {"us", UINT64_C(1)},
};
/* clang-format on */

/* clang-format off */
static const struct unit size_units[] = {
        {"T", UINT64_C(1) << 40},
        {"G", UINT64_C(1) << 30},
        {"M", UINT64_C(1) << 20},
        {"K", UINT64_C(1) << 10},
};
/* clang-format on */

/* Parses a decimal integer made of digits only: strtoull alone would take
 * blanks and a sign. Returns 0, -EINVAL or -ERANGE. */
static int parse_uint(const char *s, uint64_t *ret) {
        unsigned long long v;
        char *end;

        if (*s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        if (errno != 0 || *end != '\0')
                return -EINVAL;
        *ret = v;
        return 0;
}

/* Writes V with the largest unit that divides it exactly, so that it reads
 * back as the same number: 2000000 us is "2s", 1500 us is "1500us". */
static void format_with_units(uint64_t v, const struct unit *units, size_t n_units, char *buf, size_t size) {
        const char *suffix = "";
        uint64_t n = v;
        int len;

        for (size_t i = 0; v != 0 && i < n_units; i++) {
                if (v % units[i].factor == 0) {
                        n = v / units[i].factor;
                        suffix = units[i].suffix;
                        break;
                }
        }
        len = snprintf(buf, size, "%llu%s", (unsigned long long)n, suffix);
        if (len < 0 || (size_t)len >= size)
                buf[0] = '\0';
}
/* Formats a message for keys_set() into BUF, marking a cut with "...".
 * Always returns -EINVAL, for keys_set() to return. */
static int msgf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int msgf(char *buf, size_t size, const char *fmt, ...) {
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(buf, size, fmt, ap);
        va_end(ap);
        if (n < 0)
                snprintf(buf, size, "invalid value");
        else if ((size_t)n >= size && size > 4)
                memcpy(buf + size - 4, "...", 4);
        return -EINVAL;
}
const char *keys_type_name(enum key_type t) {
        switch (t) {
        case KT_UINT:
                return "integer";
        case KT_PID:
                return "pid";
        case KT_DURATION:
                return "duration";
        case KT_SIZE:
                return "size";
        case KT_LOG_LEVEL:
                return "log level";
        case KT_PATH:
                return "path";
        case KT_NAME:
                return "name";
        case KT_ARGV:
                return "command";
        case KT_GLOBS:
                return "globs";
        case KT_USER:
                return "user";
        case KT_EXE:
                return "path";
        case KT_BOOL:
                return "switch";
        case KT_CHOICE:
                return "choice";
        }
        return "?";
}

/* Writes a number of type T as it would be written in a file. */
void keys_format_number(enum key_type t, uint64_t v, char *buf, size_t size) {
        if (t == KT_DURATION)
                format_with_units(v, duration_units, ELEMENTSOF(duration_units), buf, size);
        else if (t == KT_SIZE)
                format_with_units(v, size_units, ELEMENTSOF(size_units), buf, size);
        else
                format_with_units(v, NULL, 0, buf, size);
}

void *keys_field_of(void *base, const struct key_def *k) {
        return (char *)base + k->offset;
}

/* Bytes of the field of a numeric key. */
size_t keys_field_size(enum key_type t) {
        switch (t) {
        case KT_UINT:
                return sizeof(unsigned);
        case KT_PID:
                return sizeof(pid_t);
        case KT_DURATION:
        case KT_SIZE:
                return sizeof(uint64_t);
        case KT_LOG_LEVEL:
                return sizeof(enum log_level);
        case KT_BOOL:
                return sizeof(bool);
        case KT_CHOICE:
                return sizeof(int);
        default:
                return 0;
        }
}

uint64_t keys_number(const void *base, const struct key_def *k) {
        const void *f = (const char *)base + k->offset;
        const pid_t *pid = f;

        switch (k->type) {
        case KT_UINT:
                return *(const unsigned *)f;
        case KT_PID:
                return *pid > 0 ? (uint64_t)*pid : 0;
        case KT_DURATION:
        case KT_SIZE:
                return *(const uint64_t *)f;
        default:
                return 0;
        }
}

static int set_number(const struct key_def *k, void *base, const char *value, char *msg, size_t msgsz) {
        char lo[KEYS_NUMBER_SIZE], hi[KEYS_NUMBER_SIZE];
        void *f = keys_field_of(base, k);
        uint64_t v = 0;
        int r;

        if (k->type == KT_DURATION)
                r = units_parse_duration_us(value, &v);
        else if (k->type == KT_SIZE)
                r = units_parse_size(value, &v);
        else
                r = parse_uint(value, &v);
        keys_format_number(k->type, k->min, lo, sizeof(lo));
        keys_format_number(k->type, k->max, hi, sizeof(hi));
        if (r == -EINVAL) {
                if (k->type == KT_DURATION)
                        return msgf(msg, msgsz,
                                    "%s = " QFMT ": bad duration; expected microseconds or a number "
                                    "with us, ms, s, m or h (e.g. 500ms, 2s) in %s..%s",
                                    k->name, QARG(value), lo, hi);
                if (k->type == KT_SIZE)
                        return msgf(msg, msgsz,
                                    "%s = " QFMT ": bad size; expected bytes or a number with K, M, "
                                    "G or T (e.g. 256M) in %s..%s",
                                    k->name, QARG(value), lo, hi);
                return msgf(msg, msgsz, "%s = " QFMT ": bad number; expected an integer in %s..%s", k->name,
                            QARG(value), lo, hi);
        }
        if (r < 0 || v < k->min || v > k->max)
                return msgf(msg, msgsz, "%s = " QFMT ": out of range %s..%s", k->name, QARG(value), lo, hi);
        switch (k->type) {
        case KT_UINT:
                *(unsigned *)f = (unsigned)v;
                break;
        case KT_PID:
                *(pid_t *)f = (pid_t)v;
                break;
        default:
                *(uint64_t *)f = v;
                break;
        }
        return 0;
}

/* user = NAME|UID: a uid is taken as it is (a user may exist only in a
 * container), a name must be known now. */
static int set_user(const struct key_def *k, void *field, const char *value, char *msg, size_t msgsz) {
        struct target_filter *f = field;
        struct passwd pw, *res = NULL;
        char buf[4096];
        uint64_t v;

        if (parse_uint(value, &v) == 0) {
                if (v >= UINT32_MAX)
                        return msgf(msg, msgsz, "%s = " QFMT ": not a uid", k->name, QARG(value));
                f->has_uid = true;
                f->uid = (uid_t)v;
                return 0;
        }
        if (!*value)
                return msgf(msg, msgsz, "%s: empty user name", k->name);
        if (getpwnam_r(value, &pw, buf, sizeof(buf), &res) != 0 || !res)
                return msgf(msg, msgsz, "%s = " QFMT ": no such user", k->name, QARG(value));
        f->has_uid = true;
        f->uid = res->pw_uid;
        return 0;
}

void keys_choices_text(const struct key_def *k, const char *sep, const char *last, char *buf, size_t size) {
        size_t len = 0, n = 0;

        buf[0] = '\0';
        while (k->choices && k->choices[n])
                n++;
        for (size_t i = 0; i < n; i++) {
                if (i > 0)
                        keys_append(buf, size, &len, i + 1 == n ? last : sep);
                keys_append(buf, size, &len, k->choices[i]);
        }
}

static int set_choice(const struct key_def *k, void *f, const char *value, char *msg, size_t msgsz) {
        char words[128];

        for (int i = 0; k->choices && k->choices[i]; i++) {
                if (strcmp(value, k->choices[i]) == 0) {
                        *(int *)f = i;
                        return 0;
                }
        }
        keys_choices_text(k, ", ", " or ", words, sizeof(words));
        return msgf(msg, msgsz, "%s = " QFMT ": expected %s", k->name, QARG(value), words);
}

int keys_set(const struct key_def *k, void *base, const char *value, const char *dir, char *msg,
             size_t msgsz) {
        void *f = keys_field_of(base, k);
        enum log_level level;
        char **argv = NULL, *s;
        int r;

        switch (k->type) {
        case KT_UINT:
        case KT_PID:
        case KT_DURATION:
        case KT_SIZE:
                return set_number(k, base, value, msg, msgsz);
        case KT_LOG_LEVEL:
                if (log_level_from_name(value, &level) < 0)
                        return msgf(msg, msgsz, "%s = " QFMT ": expected error, warn, info or debug", k->name,
                                    QARG(value));
                *(enum log_level *)f = level;
                return 0;
        case KT_PATH:
                if (!*value)
                        return msgf(msg, msgsz, "%s: empty path", k->name);
                s = path_join(dir, value);
                if (!s)
                        return -ENOMEM;
                mm_free(*(char **)f);
                *(char **)f = s;
                return 0;
        case KT_NAME:
                if (!*value)
                        return msgf(msg, msgsz, "%s: empty process name", k->name);
                if (strchr(value, '/'))
                        return msgf(msg, msgsz, "%s = " QFMT ": a process name has no '/'", k->name,
                                    QARG(value));
                if (strlen(value) > KEYS_MATCH_MAX)
                        return msgf(msg, msgsz, "%s = " QFMT ": longer than %d bytes", k->name, QARG(value),
                                    KEYS_MATCH_MAX);
                s = mm_strdup(value);
                if (!s)
                        return -ENOMEM;
                mm_free(*(char **)f);
                *(char **)f = s;
                return 0;
        case KT_ARGV:
                r = strv_split(value, &argv);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return msgf(msg, msgsz, "%s = " QFMT ": unterminated double quote", k->name,
                                    QARG(value));
                if (r == 0 && k->empty_ok) {
                        strv_free(argv);
                        strv_free(*(char ***)f);
                        *(char ***)f = NULL;
                        return 0;
                }
                if (r == 0) {
                        strv_free(argv);
                        return msgf(msg, msgsz, "%s: empty command", k->name);
                }
                /* A program named by a relative path with a '/' is found
                 * from this file's folder, as pidfile is; a bare name is
                 * looked up in PATH. */
                if (argv[0][0] != '/' && strchr(argv[0], '/')) {
                        s = path_join(dir, argv[0]);
                        if (!s) {
                                strv_free(argv);
                                return -ENOMEM;
                        }
                        mm_free(argv[0]);
                        argv[0] = s;
                }
                strv_free(*(char ***)f);
                *(char ***)f = argv;
                return 0;
        case KT_USER:
                return set_user(k, f, value, msg, msgsz);
        case KT_EXE:
                if (value[0] != '/')
                        return msgf(msg, msgsz, "%s = " QFMT ": not an absolute path", k->name, QARG(value));
                if (strlen(value) >= PATH_MAX)
                        return msgf(msg, msgsz, "%s = " QFMT ": longer than %d bytes", k->name, QARG(value),
                                    PATH_MAX - 1);
                s = mm_strdup(value);
                if (!s)
                        return -ENOMEM;
                mm_free(((struct target_filter *)f)->exe);
                ((struct target_filter *)f)->exe = s;
                return 0;
        case KT_BOOL:
                if (alert_parse_switch(value, &r) < 0)
                        return msgf(msg, msgsz, "%s = " QFMT ": expected on or off", k->name, QARG(value));
                *(bool *)f = r != 0;
                return 0;
        case KT_CHOICE:
                return set_choice(k, f, value, msg, msgsz);
        case KT_GLOBS:
                break;
        }
        return msgf(msg, msgsz, "%s: cannot be set here", k->name);
}
