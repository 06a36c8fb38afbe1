#include "config/keys.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "config/paths.h"
#include "config/strv.h"
#include "core/alerts.h"
#include "core/alloc.h"
#include "core/capture_mode.h"
#include "core/proc.h"
#include "core/strbuf.h"

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

#define FULL_INTERVAL_MAX_US (UINT64_C(720) * 3600 * 1000000)
#define MAX_BYTES_MAX (UINT64_C(1) << 40)
#define RESYNC_MIN_US UINT64_C(1000000)
#define RESYNC_MAX_US (UINT64_C(24) * 3600 * 1000000)
/* A ring is whole pages, a power of two of them. */
#define CAPTURE_RING_MIN UINT64_C(4096)
#define CAPTURE_RING_MAX (UINT64_C(1) << 30)
/* Longest process name for match: an exe basename is at most NAME_MAX. */
#define MATCH_MAX 255
/* alert_exec runs per minute and target, at most. */
#define ALERT_EXEC_RATE_MAX 10000

/* Every configuration key. Parsing, defaults, validation, inheritance,
 * comparison and config_write*() are all driven by this table. */
/* clang-format off */
static const struct key_def rows[] = {
        {
                .name = "base_dir",
                .sections = IN(SEC_AGENT),
                .type = KT_PATH,
                .offset = offsetof(struct config, base_dir),
                .selector = -1,
                .help = "folder of logs/ and backups/; default: the config file's folder",
        },
        {
                .name = "interval",
                .sections = IN(SEC_AGENT),
                .type = KT_DURATION,
                .min = INTERVAL_MIN_US,
                .max = INTERVAL_MAX_US,
                .def = "2s",
                .offset = offsetof(struct config, interval_us),
                .selector = -1,
                .help = "default sampling interval of every target",
        },
        {
                .name = "log_level",
                .sections = IN(SEC_AGENT),
                .type = KT_LOG_LEVEL,
                .def = "info",
                .offset = offsetof(struct config, log_level),
                .selector = -1,
                .help = "error, warn, info or debug",
        },
        /* Kernel-driven capture (issue 12): how the agent learns that a
         * target's mappings changed. */
        {
                .name = "capture",
                .sections = IN(SEC_AGENT),
                .type = KT_CHOICE,
                .def = "auto",
                .offset = offsetof(struct config, capture),
                .selector = -1,
                .help = "auto: eBPF where the kernel and privileges allow, else poll; poll: read every interval; "
                        "ebpf: eBPF, an error and poll where it cannot run",
                .choices = capture_mode_names,
        },
        {
                .name = "resync",
                .sections = IN(SEC_AGENT),
                .type = KT_DURATION,
                .min = RESYNC_MIN_US,
                .max = RESYNC_MAX_US,
                .def = "60s",
                .offset = offsetof(struct config, resync_us),
                .selector = -1,
                .help = "with eBPF capture: read the maps this often even when nothing was reported",
        },
        {
                .name = "capture_ring",
                .sections = IN(SEC_AGENT),
                .type = KT_SIZE,
                .min = CAPTURE_RING_MIN,
                .max = CAPTURE_RING_MAX,
                .def = "4M",
                .offset = offsetof(struct config, capture_ring),
                .selector = -1,
                .help = "with eBPF capture: the kernel's ring of mapping events shared by every target "
                        "(rounded down to a power of two); a full ring loses events, which are counted",
        },
        {
                .name = "interval",
                .sections = POLICY,
                .type = KT_DURATION,
                .min = INTERVAL_MIN_US,
                .max = INTERVAL_MAX_US,
                .from_agent = true,
                .offset = offsetof(struct target_policy, interval_us),
                .selector = -1,
                .help = "sampling interval; default: [agent] interval",
        },
        {
                .name = "full_every",
                .sections = POLICY,
                .type = KT_UINT,
                .min = 1,
                .max = 1000000,
                .def = "100",
                .offset = offsetof(struct target_policy, full_every),
                .selector = -1,
                .help = "a full snapshot after this many incremental diffs",
        },
        {
                .name = "full_interval",
                .sections = POLICY,
                .type = KT_DURATION,
                .min = 0,
                .max = FULL_INTERVAL_MAX_US,
                .def = "1h",
                .offset = offsetof(struct target_policy, full_interval_us),
                .selector = -1,
                .help = "... or after this long, whichever comes first; 0: off",
        },
        {
                .name = "keep_full",
                .sections = POLICY,
                .type = KT_UINT,
                .min = 0,
                .max = 100000,
                .def = "10",
                .offset = offsetof(struct target_policy, keep_full),
                .selector = -1,
                .help = "full snapshots kept per target, with their diffs; 0: all",
        },
        {
                .name = "max_bytes",
                .sections = POLICY,
                .type = KT_SIZE,
                .min = 0,
                .max = MAX_BYTES_MAX,
                .def = "256M",
                .offset = offsetof(struct target_policy, max_bytes),
                .selector = -1,
                .help = "bytes of backups kept per target; 0: no limit",
        },
        {
                .name = "pid",
                .sections = IN(SEC_TARGET),
                .type = KT_PID,
                .min = 1,
                .max = PROC_PID_MAX,
                .offset = offsetof(struct target_config, pid),
                .selector = SELECT_PID,
                .help = "selector: this process id",
        },
        {
                .name = "pidfile",
                .sections = IN(SEC_TARGET),
                .type = KT_PATH,
                .offset = offsetof(struct target_config, pidfile),
                .selector = SELECT_PIDFILE,
                .help = "selector: the process whose id this file holds",
        },
        {
                .name = "match",
                .sections = IN(SEC_TARGET),
                .type = KT_NAME,
                .offset = offsetof(struct target_config, match),
                .selector = SELECT_MATCH,
                .help = "selector: the oldest process of this name (comm or exe basename)",
        },
        {
                .name = "exec",
                .sections = IN(SEC_TARGET),
                .type = KT_ARGV,
                .offset = offsetof(struct target_config, argv),
                .selector = SELECT_EXEC,
                .help = "selector: a command to start and watch from its first instruction (a relative "
                        "program path with a '/' is relative to this file's folder)",
        },
        /* Metrics (issue 11): the Prometheus textfile the agent keeps. */
        {
                .name = "metrics_file",
                .sections = IN(SEC_AGENT),
                .type = KT_PATH,
                .offset = offsetof(struct config, metrics_file),
                .selector = -1,
                .help = "Prometheus text file for node_exporter's textfile collector (0644, in a folder only "
                        "root or the agent can change); default: none",
        },
        {
                .name = "metrics_interval",
                .sections = IN(SEC_AGENT),
                .type = KT_DURATION,
                .min = 1000000,
                .max = INTERVAL_MAX_US,
                .def = "15s",
                .offset = offsetof(struct config, metrics_interval_us),
                .selector = -1,
                .help = "how often metrics_file is written",
        },
        {
                .name = "files",
                .sections = IN(SEC_INCLUDE),
                .type = KT_GLOBS,
                .selector = -1,
                .help = "globs of more files to read, relative to this file's folder",
        },
        /* What a match target asks of its process besides a name (issue 8):
         * a name alone can be taken by any user's process. */
        {
                .name = "user",
                .sections = IN(SEC_TARGET),
                .type = KT_USER,
                .offset = offsetof(struct target_config, filter),
                .selector = -1,
                .filter = true,
                .help = "with match: only a process whose real and effective uid is this user (name or uid)",
        },
        {
                .name = "exe",
                .sections = IN(SEC_TARGET),
                .type = KT_EXE,
                .offset = offsetof(struct target_config, filter),
                .selector = -1,
                .filter = true,
                .help = "with match: only a process running this very file (an absolute path)",
        },
        /* Alerts (issue 10): the events file and the program run for each
         * alert.  The alert rules themselves ([alerts] and the same keys per
         * target) are the rows of core/alerts.h's key table. */
        {
                .name = "events",
                .sections = IN(SEC_AGENT),
                .type = KT_BOOL,
                .def = "on",
                .offset = offsetof(struct config, events),
                .selector = -1,
                .help = "write logs/events.jsonl, one JSON object per event: on or off",
        },
        {
                .name = "alert_exec",
                .sections = IN(SEC_AGENT),
                .type = KT_ARGV,
                .offset = offsetof(struct config, alert_exec),
                .selector = -1,
                .help = "PROG ARGS run without a shell for each alert raised, its JSON on stdin; empty: none",
                .empty_ok = true,
        },
        {
                .name = "alert_exec_rate",
                .sections = IN(SEC_AGENT),
                .type = KT_UINT,
                .min = 1,
                .max = ALERT_EXEC_RATE_MAX,
                .def = "10",
                .offset = offsetof(struct config, alert_exec_rate),
                .selector = -1,
                .help = "alert_exec runs per minute and target at most; the rest are counted and logged",
        },
        {
                .name = "alert_exec",
                .sections = POLICY,
                .type = KT_ARGV,
                .from_agent = true,
                .offset = offsetof(struct target_policy, alert_exec),
                .selector = -1,
                .help = "alert_exec of this target (empty: none); default: [agent] alert_exec",
                .empty_ok = true,
        },
        {
                .name = "alert_exec_rate",
                .sections = POLICY,
                .type = KT_UINT,
                .min = 1,
                .max = ALERT_EXEC_RATE_MAX,
                .from_agent = true,
                .offset = offsetof(struct target_policy, alert_exec_rate),
                .selector = -1,
                .help = "alert_exec runs per minute of this target; default: [agent] alert_exec_rate",
        },
};
/* clang-format on */

_Static_assert(ELEMENTSOF(rows) == KEYS_N, "KEYS_N counts the rows of the key table");

const struct key_def *const config_keys = rows;

/* clang-format off */
static const char *const section_names[] = {
        [SEC_AGENT] = "[agent]",
        [SEC_DEFAULTS] = "[defaults]",
        [SEC_TARGET] = "[target:NAME]",
        [SEC_INCLUDE] = "[include]",
        [SEC_ALERTS] = "[alerts]",
};
/* clang-format on */

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

static void append(char *buf, size_t size, size_t *len, const char *s);

static void *field_of(void *base, const struct key_def *k) {
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
        void *f = field_of(base, k);
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
                        append(buf, size, &len, i + 1 == n ? last : sep);
                append(buf, size, &len, k->choices[i]);
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
        void *f = field_of(base, k);
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
                if (strlen(value) > MATCH_MAX)
                        return msgf(msg, msgsz, "%s = " QFMT ": longer than %d bytes", k->name, QARG(value),
                                    MATCH_MAX);
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

/* Sets every key of the kinds in MASK that has a built-in default. */
static int set_defaults(struct config *c, unsigned mask) {
        char msg[KEYS_MSG_SIZE];
        int r;

        for (size_t i = 0; i < KEYS_N; i++) {
                const struct key_def *k = &config_keys[i];
                void *base = k->sections & IN(SEC_AGENT) ? (void *)c : (void *)&c->defaults;

                if (!(k->sections & mask) || !k->def)
                        continue;
                r = keys_set(k, base, k->def, "/", msg, sizeof(msg));
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The [agent] key that a from_agent key defaults to. */
static const struct key_def *agent_key(const struct key_def *k) {
        for (size_t i = 0; i < KEYS_N; i++)
                if (config_keys[i].sections == IN(SEC_AGENT) && strcmp(config_keys[i].name, k->name) == 0)
                        return &config_keys[i];
        return NULL;
}

/* Copies the field of key k from src to dst (both of k's kind of struct):
 * numbers by value, a command deeply.  Returns 0 or -ENOMEM (dst
 * unchanged). */
static int copy_field(const struct key_def *k, void *dst, const void *src, size_t src_offset) {
        const void *from = (const char *)src + src_offset;
        char **copy = NULL;

        if (k->type != KT_ARGV) {
                memcpy(field_of(dst, k), from, keys_field_size(k->type));
                return 0;
        }
        if (*(char **const *)from && !(copy = strv_copy(*(char **const *)from)))
                return -ENOMEM;
        strv_free(*(char ***)field_of(dst, k));
        *(char ***)field_of(dst, k) = copy;
        return 0;
}

int keys_resolve_from_agent(struct config *c, const struct key_origin *set) {
        for (size_t i = 0; i < KEYS_N; i++) {
                const struct key_def *k = &config_keys[i], *a;

                if (!k->from_agent || (set && set[i].line) || !(a = agent_key(k)) || k->type != a->type)
                        continue;
                if (copy_field(k, &c->defaults, c, a->offset) < 0)
                        return -ENOMEM;
        }
        return 0;
}

bool keys_is_policy(const struct key_def *k) {
        return (k->sections & IN(SEC_TARGET)) && k->selector < 0 && !k->filter;
}

int keys_filter_set(const struct key_origin *set) {
        for (size_t i = 0; i < KEYS_N; i++)
                if (config_keys[i].filter && set[i].line)
                        return (int)i;
        return -1;
}

/* The alert rules of a target: [alerts], with the keys the target sets
 * itself (alert_set, NULL: none) taken from its own. */
static int inherit_alerts(struct target_config *t, const struct key_origin *alert_set,
                          const struct config *c) {
        struct alert_policy p;
        struct strbuf value;
        char why[256];
        int r = 0;

        alert_policy_init(&p);
        strbuf_init(&value);
        if (alert_policy_copy(&p, &c->defaults.alerts) < 0) {
                r = -ENOMEM;
                goto finish;
        }
        for (size_t i = 0; alert_set && i < ALERT_POLICY_KEYS && r == 0; i++) {
                const char *key = alert_policy_key_name(i);

                if (!alert_set[i].line)
                        continue;
                strbuf_reset(&value);
                /* What alert_policy_format() writes reads back the same. */
                r = alert_policy_format(&t->policy.alerts, key, &value);
                if (r == 0)
                        r = alert_policy_set(&p, key, strbuf_str(&value), why, sizeof(why));
        }
        if (r == 0) {
                alert_policy_fini(&t->policy.alerts);
                t->policy.alerts = p;
                alert_policy_init(&p);
        }
finish:
        alert_policy_fini(&p);
        strbuf_fini(&value);
        return r < 0 ? -ENOMEM : 0;
}

int keys_inherit_policy(struct target_config *t, const struct key_origin *set,
                        const struct key_origin *alert_set, const struct config *c) {
        for (size_t i = 0; i < KEYS_N; i++) {
                const struct key_def *k = &config_keys[i];

                if (!keys_is_policy(k) || (set && set[i].line))
                        continue;
                if (copy_field(k, &t->policy, &c->defaults, k->offset) < 0)
                        return -ENOMEM;
        }
        return inherit_alerts(t, alert_set, c);
}

const struct key_def *keys_find(enum section_kind sec, const char *name) {
        for (size_t i = 0; i < KEYS_N; i++)
                if ((config_keys[i].sections & IN(sec)) && strcmp(config_keys[i].name, name) == 0)
                        return &config_keys[i];
        return NULL;
}

/* Appends S to BUF (of SIZE bytes, LEN used); a cut is harmless here since
 * the result only decorates a message. */
static void append(char *buf, size_t size, size_t *len, const char *s) {
        int n = snprintf(buf + *len, size - *len, "%s", s);

        if (n < 0 || (size_t)n >= size - *len)
                *len = size - 1;
        else
                *len += (size_t)n;
}

const char *keys_section_name(enum section_kind s) {
        return (size_t)s < ELEMENTSOF(section_names) ? section_names[s] : NULL;
}

void keys_sections_text(unsigned mask, bool prose, char *buf, size_t size) {
        unsigned count = 0, seen = 0;
        size_t len = 0;

        buf[0] = '\0';
        for (size_t s = 0; s < ELEMENTSOF(section_names); s++)
                if (section_names[s] && (mask & IN(s)))
                        count++;
        for (size_t s = 0; s < ELEMENTSOF(section_names); s++) {
                if (!section_names[s] || !(mask & IN(s)))
                        continue;
                if (seen)
                        append(buf, size, &len, !prose ? " " : seen + 1 == count ? " or " : ", ");
                append(buf, size, &len, section_names[s]);
                seen++;
        }
}

void keys_hint(const char *name, char *buf, size_t size) {
        static const char intro[] = "; it belongs in ";
        unsigned mask = 0;

        buf[0] = '\0';
        for (size_t i = 0; i < KEYS_N; i++)
                if (strcmp(config_keys[i].name, name) == 0)
                        mask |= config_keys[i].sections;
        if (alert_policy_key_index(name) >= 0)
                mask |= IN(SEC_ALERTS) | IN(SEC_TARGET);
        if (!mask || size <= sizeof(intro))
                return;
        memcpy(buf, intro, sizeof(intro));
        keys_sections_text(mask, true, buf + sizeof(intro) - 1, size - (sizeof(intro) - 1));
}

int keys_config_new(struct config **ret) {
        struct config *c;
        int r;

        c = mm_calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        alert_policy_init(&c->defaults.alerts);
        r = set_defaults(c, IN(SEC_AGENT) | IN(SEC_DEFAULTS));
        if (r == 0)
                r = keys_resolve_from_agent(c, NULL);
        if (r < 0) {
                config_free(c);
                return r;
        }
        *ret = c;
        return 0;
}
