#include "config/config.h"

#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/proc.h"
#include "core/str.h"
#include "core/strbuf.h"
#include "core/units.h"

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

#define FULL_INTERVAL_MAX_US (UINT64_C(720) * 3600 * 1000000)
#define MAX_BYTES_MAX (UINT64_C(1) << 40)
/* Longest process name for match: an exe basename is at most NAME_MAX. */
#define MATCH_MAX 255
/* Values quoted in messages are cut to this many bytes. */
#define QUOTE_MAX 64
#define MSG_SIZE 512
/* Large enough for any number written by format_number(). */
#define NUMBER_SIZE 32

#define QFMT "'%.*s%s'"
#define QARG(s) (int)QUOTE_MAX, (s), (strlen(s) > QUOTE_MAX ? "..." : "")

enum section_kind {
        SEC_NONE, /* before the first header of a file */
        SEC_SKIP, /* after a bad header, which was reported: its keys are ignored */
        SEC_AGENT,
        SEC_DEFAULTS,
        SEC_TARGET,
        SEC_INCLUDE,
};

#define IN(kind) (1u << (kind))
#define POLICY (IN(SEC_DEFAULTS) | IN(SEC_TARGET))

enum key_type {
        KT_UINT,
        KT_PID,
        KT_DURATION,
        KT_SIZE,
        KT_LOG_LEVEL,
        KT_PATH,
        KT_NAME,
        KT_ARGV,
        KT_GLOBS,
};

struct key_def {
        const char *name;
        unsigned sections; /* IN(SEC_...) */
        enum key_type type;
        uint64_t min, max; /* numeric types only */
        /* Built-in default as it would be written in a file; NULL when there
         * is none or when from_agent says where it comes from. */
        const char *def;
        /* The default is the [agent] key of the same name. */
        bool from_agent;
        /* Where the value lives: in struct config for [agent] keys, in struct
         * target_policy for policy keys ([defaults] and [target:NAME]), in
         * struct target_config for selectors. */
        size_t offset;
        int selector; /* enum target_selector, or -1 for other keys */
        const char *help;
};

/* Every configuration key. Parsing, defaults, validation, inheritance,
 * comparison and config_write*() are all driven by this table. */
/* clang-format off */
static const struct key_def keys[] = {
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
        {
                .name = "files",
                .sections = IN(SEC_INCLUDE),
                .type = KT_GLOBS,
                .selector = -1,
                .help = "globs of more files to read, relative to this file's folder",
        },
};
/* clang-format on */

#define N_KEYS ELEMENTSOF(keys)

/* clang-format off */
static const char *const section_names[] = {
        [SEC_AGENT] = "[agent]",
        [SEC_DEFAULTS] = "[defaults]",
        [SEC_TARGET] = "[target:NAME]",
        [SEC_INCLUDE] = "[include]",
};
/* clang-format on */

/* Where a key was set; line 0 means not set. file is borrowed from
 * parse_ctx.files. */
struct origin {
        const char *file;
        unsigned line;
};

struct target_rec {
        struct target_config t;
        struct origin set[N_KEYS];
        int sel_key;  /* index in keys[] of the selector set, or -1 */
        bool discard; /* bad or duplicate name: checked, then dropped */
};

struct parse_ctx;

/* One file being read. Frames of nested includes form a stack through
 * parent, which is what detects include cycles. */
struct frame {
        struct parse_ctx *ctx;
        struct frame *parent;
        const char *file; /* as shown in messages; borrowed from ctx->files */
        char *dir;        /* absolute folder, for relative values */
        char *glob_dir;   /* the folder as shown, escaped for glob(3): "" or "dir/" */
        char *real;       /* realpath(3) of the file */
        FILE *fp;
        char *buf; /* getline(3) buffer */
        size_t buf_size;
        /* The current line as handed to inih, in chunks if need be. */
        const char *out;
        size_t out_len, out_pos;
        unsigned line;
        bool done;
        int read_error; /* -errno of a failed read, or 0 */
        enum section_kind sec;
        size_t target; /* index in ctx->recs when sec is SEC_TARGET */
        struct origin include_files;
};

struct parse_ctx {
        struct config *cfg;
        struct origin agent_set[N_KEYS];
        struct origin defaults_set[N_KEYS];
        struct target_rec *recs;
        size_t n_recs, cap_recs;
        char **files;
        size_t n_files, cap_files;
        struct config_errors *errs;
        size_t n_errors;
        struct frame *top;
        int fatal; /* -ENOMEM: stop reading */
};

/* glob(3) gives its error callback no user pointer, so the errno of a failed
 * folder read comes back through this. */
static _Thread_local int glob_errno;

static bool is_blank(char c) {
        return isspace((unsigned char)c);
}

static const char *errno_str(int e, char *buf, size_t size) {
        return strerror_r(e, buf, size);
}

/* Grows the array that PP points to (any T **), of *cap elements of SIZE
 * bytes, to hold at least NEED. The pointer is copied in and out with
 * memcpy so that callers need no aliasing-breaking cast to void **. */
static int grow(void *pp, size_t *cap, size_t need, size_t size) {
        size_t n;
        void *p, *q;

        if (need <= *cap)
                return 0;
        n = *cap ? *cap : 8;
        while (n < need) {
                if (n > SIZE_MAX / 2)
                        return -ENOMEM;
                n *= 2;
        }
        memcpy(&p, pp, sizeof(p));
        q = mm_reallocarray(p, n, size);
        if (!q)
                return -ENOMEM;
        memcpy(pp, &q, sizeof(q));
        *cap = n;
        return 0;
}

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

static char *concat(const char *a, const char *b) {
        size_t la = strlen(a), lb = strlen(b);
        char *s = mm_malloc(la + lb + 1);

        if (!s)
                return NULL;
        memcpy(s, a, la);
        memcpy(s + la, b, lb + 1);
        return s;
}

static void strv_free(char **v) {
        if (!v)
                return;
        for (char **p = v; *p; p++)
                mm_free(*p);
        mm_free(v);
}

static char **strv_copy(char *const *v) {
        size_t n = 0;
        char **c;

        while (v[n])
                n++;
        c = mm_calloc(n + 1, sizeof(*c));
        if (!c)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                c[i] = mm_strdup(v[i]);
                if (!c[i]) {
                        strv_free(c);
                        return NULL;
                }
        }
        return c;
}

static bool strv_equal(char *const *a, char *const *b) {
        if (!a || !b)
                return a == b;
        for (; *a && *b; a++, b++)
                if (strcmp(*a, *b) != 0)
                        return false;
        return !*a && !*b;
}

/* DIR joined with REL, or a copy of REL when it is absolute. Leading "./"
 * of REL is dropped so that messages show tidy paths. */
static char *path_join(const char *dir, const char *rel) {
        size_t ld;
        char *s;

        if (rel[0] == '/')
                return mm_strdup(rel);
        while (rel[0] == '.' && rel[1] == '/') {
                rel += 2;
                while (*rel == '/')
                        rel++;
        }
        if (rel[0] == '\0' || strcmp(rel, ".") == 0)
                return mm_strdup(dir);
        ld = strlen(dir);
        if (ld > 0 && dir[ld - 1] == '/')
                return concat(dir, rel);
        s = mm_malloc(ld + 1 + strlen(rel) + 1);
        if (!s)
                return NULL;
        memcpy(s, dir, ld);
        s[ld] = '/';
        strcpy(s + ld + 1, rel);
        return s;
}

/* PATH made absolute against the current directory, without resolving
 * symbolic links. Returns 0 or -errno. */
static int path_absolute(const char *path, char **ret) {
        char *cwd, *s;

        if (path[0] == '/') {
                s = mm_strdup(path);
        } else {
                cwd = getcwd(NULL, 0);
                if (!cwd)
                        return -errno;
                s = path_join(cwd, path);
                free(cwd);
        }
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

/* The folder of the absolute path PATH. */
static char *path_dir(const char *path) {
        const char *slash = strrchr(path, '/');
        size_t n = slash && slash != path ? (size_t)(slash - path) : 1;
        char *s = mm_malloc(n + 1);

        if (!s)
                return NULL;
        memcpy(s, slash ? path : "/", n);
        s[n] = '\0';
        return s;
}

/* The folder part of PATH as typed ("" or "dir/"), with glob(3)'s special
 * characters escaped so that only the pattern after it is a pattern. */
static char *glob_prefix(const char *path) {
        const char *slash = strrchr(path, '/');
        size_t n = slash ? (size_t)(slash - path) + 1 : 0;
        char *s = mm_malloc(2 * n + 1), *o = s;

        if (!s)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                if (strchr("*?[\\", path[i]))
                        *o++ = '\\';
                *o++ = path[i];
        }
        *o = '\0';
        return s;
}

/* Splits S into words on blanks; double quotes group words, and inside them
 * \" and \\ stand for " and \. Returns the number of words and sets *ret to
 * a NULL-terminated array, -EINVAL on an unterminated quote, or -ENOMEM. */
static int split_words(const char *s, char ***ret) {
        size_t n = 0, cap = 0;
        char **v = NULL, *word;
        int r = 0;

        word = mm_malloc(strlen(s) + 1);
        if (!word)
                return -ENOMEM;
        for (;;) {
                size_t w = 0;
                bool quoted = false;

                while (is_blank(*s))
                        s++;
                if (!*s)
                        break;
                while (*s && (quoted || !is_blank(*s))) {
                        if (*s == '"') {
                                quoted = !quoted;
                                s++;
                                continue;
                        }
                        if (quoted && *s == '\\' && (s[1] == '"' || s[1] == '\\'))
                                s++;
                        word[w++] = *s++;
                }
                if (quoted) {
                        r = -EINVAL;
                        goto finish;
                }
                word[w] = '\0';
                if (grow(&v, &cap, n + 2, sizeof(*v)) < 0) {
                        r = -ENOMEM;
                        goto finish;
                }
                v[n] = mm_strdup(word);
                if (!v[n]) {
                        r = -ENOMEM;
                        goto finish;
                }
                v[++n] = NULL;
        }
        if (!v) {
                v = mm_calloc(1, sizeof(*v));
                if (!v) {
                        r = -ENOMEM;
                        goto finish;
                }
        }
        *ret = v;
        v = NULL;
        r = (int)n;
finish:
        strv_free(v);
        mm_free(word);
        return r;
}

static void target_config_fini(struct target_config *t) {
        mm_free(t->name);
        mm_free(t->pidfile);
        mm_free(t->match);
        strv_free(t->argv);
        mm_free(t->file);
        target_policy_fini(&t->policy);
        memset(t, 0, sizeof(*t));
}

void config_errors_init(struct config_errors *errs) {
        memset(errs, 0, sizeof(*errs));
}

void config_errors_fini(struct config_errors *errs) {
        if (!errs)
                return;
        for (size_t i = 0; i < errs->n; i++) {
                mm_free(errs->v[i].file);
                mm_free(errs->v[i].text);
        }
        mm_free(errs->v);
        config_errors_init(errs);
}

static void add_error(struct parse_ctx *ctx, const char *file, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void add_error(struct parse_ctx *ctx, const char *file, unsigned line, const char *fmt, ...) {
        struct config_errors *errs = ctx->errs;
        struct config_error *e;
        struct strbuf text;
        char *file_copy = NULL;
        size_t prefix = 0;
        va_list ap;
        int r = 0;

        ctx->n_errors++;
        if (!errs)
                return;
        if (errs->n >= CONFIG_MAX_ERRORS) {
                errs->n_dropped++;
                return;
        }
        strbuf_init(&text);
        if (file && line)
                r = strbuf_printf(&text, "%s:%u: ", file, line);
        else if (file)
                r = strbuf_printf(&text, "%s: ", file);
        prefix = text.len;
        if (r == 0) {
                va_start(ap, fmt);
                r = strbuf_vprintf(&text, fmt, ap);
                va_end(ap);
        }
        if (r == 0 && !text.s)
                r = strbuf_append(&text, "", 0);
        if (r == 0 && file && !(file_copy = mm_strdup(file)))
                r = -ENOMEM;
        if (r == 0)
                r = grow(&errs->v, &errs->cap, errs->n + 1, sizeof(*errs->v));
        if (r < 0) {
                strbuf_fini(&text);
                mm_free(file_copy);
                ctx->fatal = -ENOMEM;
                return;
        }
        e = &errs->v[errs->n++];
        e->file = file_copy;
        e->line = line;
        e->text = text.s; /* taken over from the strbuf */
        e->message = text.s + prefix;
}

/* Formats a message for key_set() into BUF, marking a cut with "...".
 * Always returns -EINVAL, for key_set() to return. */
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

static const char *type_name(enum key_type t) {
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
        }
        return "?";
}

/* Writes a number of type T as it would be written in a file. */
static void format_number(enum key_type t, uint64_t v, char *buf, size_t size) {
        if (t == KT_DURATION)
                format_with_units(v, duration_units, ELEMENTSOF(duration_units), buf, size);
        else if (t == KT_SIZE)
                format_with_units(v, size_units, ELEMENTSOF(size_units), buf, size);
        else
                format_with_units(v, NULL, 0, buf, size);
}

static void *field_of(void *base, const struct key_def *k) {
        return (char *)base + k->offset;
}

/* Bytes of the field of a numeric key. */
static size_t field_size(enum key_type t) {
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
        default:
                return 0;
        }
}

static uint64_t number_of(const void *base, const struct key_def *k) {
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
        char lo[NUMBER_SIZE], hi[NUMBER_SIZE];
        void *f = field_of(base, k);
        uint64_t v = 0;
        int r;

        if (k->type == KT_DURATION)
                r = units_parse_duration_us(value, &v);
        else if (k->type == KT_SIZE)
                r = units_parse_size(value, &v);
        else
                r = parse_uint(value, &v);
        format_number(k->type, k->min, lo, sizeof(lo));
        format_number(k->type, k->max, hi, sizeof(hi));
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

/* Parses VALUE for key K into its field in BASE (struct config or struct
 * target_config). Relative paths are resolved against DIR. Returns 0,
 * -EINVAL with a message in MSG, or -ENOMEM. */
static int key_set(const struct key_def *k, void *base, const char *value, const char *dir, char *msg,
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
                r = split_words(value, &argv);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return msgf(msg, msgsz, "%s = " QFMT ": unterminated double quote", k->name,
                                    QARG(value));
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
        case KT_GLOBS:
                break;
        }
        return msgf(msg, msgsz, "%s: cannot be set here", k->name);
}

/* Sets every key of the kinds in MASK that has a built-in default. */
static int set_defaults(struct config *c, unsigned mask) {
        char msg[MSG_SIZE];
        int r;

        for (size_t i = 0; i < N_KEYS; i++) {
                const struct key_def *k = &keys[i];
                void *base = k->sections & IN(SEC_AGENT) ? (void *)c : (void *)&c->defaults;

                if (!(k->sections & mask) || !k->def)
                        continue;
                r = key_set(k, base, k->def, "/", msg, sizeof(msg));
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The [agent] key that a from_agent key defaults to. */
static const struct key_def *agent_key(const struct key_def *k) {
        for (size_t i = 0; i < N_KEYS; i++)
                if (keys[i].sections == IN(SEC_AGENT) && strcmp(keys[i].name, k->name) == 0)
                        return &keys[i];
        return NULL;
}

/* Sets the [defaults] keys that default to an [agent] key, unless SET (NULL:
 * none) marks them as set in the file. */
static void resolve_from_agent(struct config *c, const struct origin *set) {
        for (size_t i = 0; i < N_KEYS; i++) {
                const struct key_def *k = &keys[i], *a;

                if (!k->from_agent || (set && set[i].line) || !(a = agent_key(k)) ||
                    field_size(k->type) != field_size(a->type))
                        continue;
                memcpy(field_of(&c->defaults, k), field_of(c, a), field_size(k->type));
        }
}

static bool is_policy(const struct key_def *k) {
        return (k->sections & IN(SEC_TARGET)) && k->selector < 0;
}

/* Copies into T every policy field that SET (NULL: none) does not mark as
 * set in the target itself. */
static void inherit_policy(struct target_config *t, const struct origin *set, const struct config *c) {
        for (size_t i = 0; i < N_KEYS; i++) {
                const struct key_def *k = &keys[i];

                if (!is_policy(k) || (set && set[i].line))
                        continue;
                memcpy(field_of(&t->policy, k), (const char *)&c->defaults + k->offset, field_size(k->type));
        }
}

static int config_alloc(struct config **ret) {
        struct config *c;
        int r;

        c = mm_calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        r = set_defaults(c, IN(SEC_AGENT) | IN(SEC_DEFAULTS));
        if (r < 0) {
                config_free(c);
                return r;
        }
        resolve_from_agent(c, NULL);
        *ret = c;
        return 0;
}

static const struct key_def *key_find(enum section_kind sec, const char *name) {
        for (size_t i = 0; i < N_KEYS; i++)
                if ((keys[i].sections & IN(sec)) && strcmp(keys[i].name, name) == 0)
                        return &keys[i];
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

/* "; it belongs in [x] or [y]" for a key known in other sections, else "". */
static void key_hint(const char *name, char *buf, size_t size) {
        unsigned mask = 0, count = 0, seen = 0;
        size_t len = 0;

        buf[0] = '\0';
        for (size_t i = 0; i < N_KEYS; i++)
                if (strcmp(keys[i].name, name) == 0)
                        mask |= keys[i].sections;
        for (size_t s = 0; s < ELEMENTSOF(section_names); s++)
                if (mask & IN(s))
                        count++;
        if (!count)
                return;
        append(buf, size, &len, "; it belongs in ");
        for (size_t s = 0; s < ELEMENTSOF(section_names); s++) {
                if (!(mask & IN(s)))
                        continue;
                if (seen)
                        append(buf, size, &len, seen + 1 == count ? " or " : ", ");
                append(buf, size, &len, section_names[s]);
                seen++;
        }
}

/* "[agent]", "[target:web]", ... for the section being read. */
static void section_label(const struct frame *fr, char *buf, size_t size) {
        size_t len = 0;

        buf[0] = '\0';
        if (fr->sec == SEC_TARGET) {
                append(buf, size, &len, "[target:");
                append(buf, size, &len, fr->ctx->recs[fr->target].t.name);
                append(buf, size, &len, "]");
        } else if ((size_t)fr->sec < ELEMENTSOF(section_names) && section_names[fr->sec]) {
                append(buf, size, &len, section_names[fr->sec]);
        }
}

/* Reports a target of the section that ends without a selector. */
static void section_end(struct frame *fr) {
        struct target_rec *rec;

        if (fr->sec != SEC_TARGET || fr->ctx->fatal)
                return;
        rec = &fr->ctx->recs[fr->target];
        if (!rec->discard && rec->sel_key < 0)
                add_error(fr->ctx, fr->file, rec->t.line,
                          "target '%s' has no selector; set one of pid, pidfile, match, exec", rec->t.name);
}

static void target_begin(struct frame *fr, const char *name) {
        struct parse_ctx *ctx = fr->ctx;
        struct target_rec *rec;

        if (grow(&ctx->recs, &ctx->cap_recs, ctx->n_recs + 1, sizeof(*ctx->recs)) < 0)
                goto oom;
        rec = &ctx->recs[ctx->n_recs];
        memset(rec, 0, sizeof(*rec));
        rec->sel_key = -1;
        rec->t.name = mm_strdup(name);
        rec->t.file = mm_strdup(fr->file);
        ctx->n_recs++;
        if (!rec->t.name || !rec->t.file)
                goto oom;
        rec->t.line = fr->line;
        fr->sec = SEC_TARGET;
        fr->target = ctx->n_recs - 1;

        if (target_name_valid(name) < 0) {
                rec->discard = true;
                if (target_name_reserved(name))
                        add_error(ctx, fr->file, fr->line, "target name '%s' is reserved", name);
                else
                        add_error(ctx, fr->file, fr->line,
                                  "invalid target name " QFMT ": use 1 to %d of A-Z a-z 0-9 _ . -",
                                  QARG(name), TARGET_NAME_MAX);
                return;
        }
        for (size_t i = 0; i + 1 < ctx->n_recs; i++) {
                const struct target_rec *first = &ctx->recs[i];

                if (first->discard || strcmp(first->t.name, name) != 0)
                        continue;
                rec->discard = true;
                add_error(ctx, fr->file, fr->line, "duplicate target '%s'; first defined at %s:%u", name,
                          first->t.file, first->t.line);
                return;
        }
        return;
oom:
        ctx->fatal = -ENOMEM;
}

/* Starts the section of the header [NAME] on the current line. */
static void section_begin(struct frame *fr, const char *name) {
        static const char target_prefix[] = "target:";

        section_end(fr);
        fr->sec = SEC_SKIP;
        fr->include_files = (struct origin){0};
        if (strcmp(name, "agent") == 0)
                fr->sec = SEC_AGENT;
        else if (strcmp(name, "defaults") == 0)
                fr->sec = SEC_DEFAULTS;
        else if (strcmp(name, "include") == 0)
                fr->sec = SEC_INCLUDE;
        else if (strncmp(name, target_prefix, sizeof(target_prefix) - 1) == 0)
                target_begin(fr, name + sizeof(target_prefix) - 1);
        else if (strcmp(name, "target") == 0)
                add_error(fr->ctx, fr->file, fr->line, "a target section needs a name: [target:NAME]");
        else
                add_error(
                    fr->ctx, fr->file, fr->line,
                    "unknown section [%.*s%s]; expected [agent], [defaults], [target:NAME] or [include]",
                    QARG(name));
}

/* inih's rule for where a line's syntax ends: at one of CHARS (if not
 * NULL), or at an inline comment, which is a comment prefix after a blank. */
static const char *find_chars_or_comment(const char *s, const char *chars) {
        bool was_blank = false;

        for (; *s; s++) {
                if (chars && strchr(chars, *s))
                        break;
                if (ini_allow_inline_comments && was_blank && strchr(ini_inline_comment_prefixes, *s))
                        break;
                was_blank = is_blank(*s);
        }
        return s;
}

/* Looks at a line the way inih will, so that the lines inih rejects without
 * calling the handler are reported with their number, and so that section
 * names are tracked in full (inih cuts them at 50 bytes). Returns false if
 * the line must be hidden from inih. */
static bool check_line(struct frame *fr, char *line) {
        char *start = line, *end, *rest;

        if (fr->line == 1 && ini_allow_bom && (unsigned char)start[0] == 0xEF &&
            (unsigned char)start[1] == 0xBB && (unsigned char)start[2] == 0xBF)
                start += 3;
        while (is_blank(*start))
                start++;
        if (*start == '\0' || strchr(ini_start_comment_prefixes, *start))
                return true;
        if (*start == '[') {
                end = (char *)find_chars_or_comment(start + 1, "]");
                if (*end != ']') {
                        char *e = end;
                        while (e > start && is_blank(e[-1]))
                                e--;
                        *e = '\0';
                        section_end(fr);
                        fr->sec = SEC_SKIP;
                        add_error(fr->ctx, fr->file, fr->line, "unterminated section header " QFMT,
                                  QARG(start));
                        return false;
                }
                rest = end + 1;
                while (is_blank(*rest))
                        rest++;
                if (*rest && !strchr(ini_inline_comment_prefixes, *rest) &&
                    !strchr(ini_start_comment_prefixes, *rest)) {
                        *end = '\0';
                        section_end(fr);
                        fr->sec = SEC_SKIP;
                        add_error(fr->ctx, fr->file, fr->line, "unexpected text after [%.*s%s]",
                                  QARG(start + 1));
                        return false;
                }
                *end = '\0';
                section_begin(fr, start + 1);
                return false;
        }
        end = (char *)find_chars_or_comment(start, "=:");
        if (*end == '=' || *end == ':')
                return true;
        while (end > start && is_blank(end[-1]))
                end--;
        *end = '\0';
        add_error(fr->ctx, fr->file, fr->line, "expected 'key = value' or '[section]', got " QFMT,
                  QARG(start));
        return false;
}

/* Reads the next line of the file into fr->out. Returns 1, 0 at the end of
 * the file, or -errno. */
static int next_line(struct frame *fr) {
        char eb[128];
        ssize_t n;

        errno = 0;
        n = getline(&fr->buf, &fr->buf_size, fr->fp);
        if (n < 0) {
                if (errno == ENOMEM) {
                        fr->ctx->fatal = -ENOMEM;
                        return -ENOMEM;
                }
                if (ferror(fr->fp)) {
                        int e = errno ? errno : EIO;

                        add_error(fr->ctx, fr->file, 0, "read error: %s", errno_str(e, eb, sizeof(eb)));
                        fr->read_error = -e;
                        return -e;
                }
                return 0;
        }
        fr->line++;
        fr->out = "\n";
        fr->out_len = 1;
        fr->out_pos = 0;
        if (memchr(fr->buf, '\0', (size_t)n)) {
                add_error(fr->ctx, fr->file, fr->line, "line contains a NUL byte");
                return 1;
        }
        if ((size_t)n - (n > 0 && fr->buf[n - 1] == '\n') > CONFIG_MAX_LINE) {
                add_error(fr->ctx, fr->file, fr->line, "line too long (%zd bytes, at most %d)", n,
                          CONFIG_MAX_LINE);
                return 1;
        }
        /* check_line() may cut a rejected line to quote it; accepted lines
         * are left whole. */
        if (check_line(fr, fr->buf)) {
                fr->out = fr->buf;
                fr->out_len = (size_t)n;
        }
        return 1;
}

/* inih's fgets-like reader. inih asks for more of the same line when its
 * buffer was too small, so lines are counted as getline(3) returns them,
 * not per call. */
static char *reader(char *str, int num, void *stream) {
        struct frame *fr = stream;
        size_t n;

        if (fr->done || fr->ctx->fatal || num < 2)
                return NULL;
        if (fr->out_pos == fr->out_len && next_line(fr) <= 0) {
                fr->done = true;
                return NULL;
        }
        n = fr->out_len - fr->out_pos;
        if (n > (size_t)num - 1)
                n = (size_t)num - 1;
        memcpy(str, fr->out + fr->out_pos, n);
        str[n] = '\0';
        fr->out_pos += n;
        return str;
}

static int parse_file(struct parse_ctx *ctx, struct frame *parent, const char *path, char *real);

static int glob_error(const char *path, int err) {
        (void)path;
        if (err == ENOENT || err == ENOTDIR)
                return 0;
        glob_errno = err;
        return 1;
}

/* Appends "outermost -> ... -> FR's file -> " to B. */
static int cycle_chain(struct strbuf *b, const struct frame *fr) {
        if (fr->parent) {
                int r = cycle_chain(b, fr->parent);
                if (r < 0)
                        return r;
        }
        return strbuf_printf(b, "%s -> ", fr->file);
}

/* Reads one file matched by an include of the current line of FR. */
static void include_file(struct frame *fr, const char *path) {
        struct parse_ctx *ctx = fr->ctx;
        char *abs = NULL, *real = NULL, eb[128];
        int r;

        r = path_absolute(path, &abs);
        if (r == -ENOMEM)
                goto oom;
        if (r == 0)
                real = realpath(abs, NULL);
        if (!real) {
                add_error(ctx, path, 0, "cannot open: %s (included from %s:%u)",
                          errno_str(r < 0 ? -r : errno, eb, sizeof(eb)), fr->file, fr->line);
                goto finish;
        }
        for (const struct frame *f = fr; f; f = f->parent) {
                struct strbuf chain;

                if (strcmp(f->real, real) != 0)
                        continue;
                strbuf_init(&chain);
                if (cycle_chain(&chain, fr) < 0 || strbuf_printf(&chain, "%s", path) < 0) {
                        strbuf_fini(&chain);
                        goto oom;
                }
                add_error(ctx, fr->file, fr->line, "include cycle: %s", strbuf_str(&chain));
                strbuf_fini(&chain);
                goto finish;
        }
        parse_file(ctx, fr, path, real);
        real = NULL;
        goto finish;
oom:
        ctx->fatal = -ENOMEM;
finish:
        free(real);
        mm_free(abs);
}

/* The files = ... key of [include] on the current line of FR. */
static void include_globs(struct frame *fr, const char *value) {
        struct parse_ctx *ctx = fr->ctx;
        char **patterns = NULL, eb[128];
        int r, n;

        n = split_words(value, &patterns);
        if (n == -ENOMEM)
                goto oom;
        if (n < 0) {
                add_error(ctx, fr->file, fr->line, "files = " QFMT ": unterminated double quote",
                          QARG(value));
                return;
        }
        if (n == 0)
                add_error(ctx, fr->file, fr->line, "files: no pattern given");
        for (int i = 0; i < n && !ctx->fatal; i++) {
                char *pattern =
                    patterns[i][0] == '/' ? mm_strdup(patterns[i]) : concat(fr->glob_dir, patterns[i]);
                glob_t g;

                if (!pattern)
                        goto oom;
                memset(&g, 0, sizeof(g));
                glob_errno = 0;
                r = glob(pattern, 0, glob_error, &g);
                if (r == 0) {
                        for (size_t j = 0; j < g.gl_pathc && !ctx->fatal; j++)
                                include_file(fr, g.gl_pathv[j]);
                } else if (r == GLOB_NOSPACE) {
                        ctx->fatal = -ENOMEM;
                } else if (r == GLOB_ABORTED) {
                        add_error(ctx, fr->file, fr->line, "files: cannot expand " QFMT ": %s",
                                  QARG(patterns[i]),
                                  errno_str(glob_errno ? glob_errno : EIO, eb, sizeof(eb)));
                }
                globfree(&g);
                mm_free(pattern);
        }
        strv_free(patterns);
        return;
oom:
        strv_free(patterns);
        ctx->fatal = -ENOMEM;
}

static struct origin *origin_of(struct frame *fr, size_t key) {
        struct parse_ctx *ctx = fr->ctx;

        switch (fr->sec) {
        case SEC_AGENT:
                return &ctx->agent_set[key];
        case SEC_DEFAULTS:
                return &ctx->defaults_set[key];
        case SEC_TARGET:
                return &ctx->recs[fr->target].set[key];
        case SEC_INCLUDE:
                return &fr->include_files;
        default:
                return NULL;
        }
}

/* The struct that key K of the current section is a field of. */
static void *base_of(struct frame *fr, const struct key_def *k) {
        struct parse_ctx *ctx = fr->ctx;

        switch (fr->sec) {
        case SEC_AGENT:
                return ctx->cfg;
        case SEC_DEFAULTS:
                return &ctx->cfg->defaults;
        case SEC_TARGET:
                return is_policy(k) ? (void *)&ctx->recs[fr->target].t.policy : (void *)&ctx->recs[fr->target].t;
        default:
                return NULL;
        }
}

/* inih's handler, called for each "key = value" line. The section comes
 * from the reader, which knows its full name; errors are recorded rather
 * than returned, so that inih goes on and every error gets reported. */
static int on_key(void *user, const char *section, const char *name, const char *value) {
        struct parse_ctx *ctx = user;
        struct frame *fr = ctx->top;
        char label[TARGET_NAME_MAX + 16], hint[128], msg[MSG_SIZE];
        const struct key_def *k;
        struct origin *o;
        size_t idx;
        int r;

        (void)section;
        if (ctx->fatal || fr->sec == SEC_SKIP)
                return 1;
        if (fr->sec == SEC_NONE) {
                add_error(ctx, fr->file, fr->line, "key " QFMT " is outside any section", QARG(name));
                return 1;
        }
        section_label(fr, label, sizeof(label));
        if (!*name) {
                add_error(ctx, fr->file, fr->line, "missing key name before '=' in %s", label);
                return 1;
        }
        k = key_find(fr->sec, name);
        if (!k) {
                key_hint(name, hint, sizeof(hint));
                add_error(ctx, fr->file, fr->line, "unknown key " QFMT " in %s%s", QARG(name), label, hint);
                return 1;
        }
        idx = (size_t)(k - keys);
        o = origin_of(fr, idx);
        if (o->line) {
                add_error(ctx, fr->file, fr->line, "duplicate key '%s' in %s; first set at %s:%u", k->name,
                          label, o->file, o->line);
                return 1;
        }
        o->file = fr->file;
        o->line = fr->line;
        if (k->type == KT_GLOBS) {
                include_globs(fr, value);
                return 1;
        }
        if (k->selector >= 0) {
                struct target_rec *rec = &ctx->recs[fr->target];

                if (rec->sel_key >= 0) {
                        const struct origin *first = &rec->set[rec->sel_key];

                        add_error(ctx, fr->file, fr->line,
                                  "target '%s': '%s' conflicts with '%s' at %s:%u; set exactly one of pid, "
                                  "pidfile, match, exec",
                                  rec->t.name, k->name, keys[rec->sel_key].name, first->file, first->line);
                        return 1;
                }
                /* Even a bad value counts as the selector, so that it is
                 * not also reported as missing. */
                rec->sel_key = (int)idx;
                rec->t.sel = (enum target_selector)k->selector;
        }
        r = key_set(k, base_of(fr, k), value, fr->dir, msg, sizeof(msg));
        if (r == -ENOMEM)
                ctx->fatal = r;
        else if (r < 0)
                add_error(ctx, fr->file, fr->line, "%s", msg);
        return 1;
}

static int files_add(struct parse_ctx *ctx, const char *path, const char **ret) {
        char *s;

        if (grow(&ctx->files, &ctx->cap_files, ctx->n_files + 1, sizeof(*ctx->files)) < 0)
                return -ENOMEM;
        s = mm_strdup(path);
        if (!s)
                return -ENOMEM;
        ctx->files[ctx->n_files++] = s;
        *ret = s;
        return 0;
}

/* Reads the file PATH (as shown in messages) into CTX. REAL, its realpath
 * if known, is taken over. Returns 0 or the -errno of opening or reading
 * PATH, which is also recorded as an error. */
static int parse_file(struct parse_ctx *ctx, struct frame *parent, const char *path, char *real) {
        struct frame fr = {.ctx = ctx, .parent = parent, .real = real, .sec = SEC_NONE};
        char *abs = NULL, eb[128];
        int r;

        r = files_add(ctx, path, &fr.file);
        if (r < 0)
                goto oom;
        r = path_absolute(path, &abs);
        if (r == -ENOMEM)
                goto oom;
        if (r == 0)
                fr.fp = fopen(abs, "re");
        if (!fr.fp) {
                r = r < 0 ? r : -errno;
                if (parent)
                        add_error(ctx, fr.file, 0, "cannot open: %s (included from %s:%u)",
                                  errno_str(-r, eb, sizeof(eb)), parent->file, parent->line);
                else
                        add_error(ctx, fr.file, 0, "cannot open: %s", errno_str(-r, eb, sizeof(eb)));
                goto finish;
        }
        if (!fr.real) {
                fr.real = realpath(abs, NULL);
                if (!fr.real && !(fr.real = strdup(abs)))
                        goto oom;
        }
        fr.dir = path_dir(abs);
        fr.glob_dir = glob_prefix(path);
        if (!fr.dir || !fr.glob_dir)
                goto oom;

        ctx->top = &fr;
        r = ini_parse_stream(reader, &fr, on_key, ctx);
        ctx->top = parent;
        if (r == -2)
                goto oom;
        /* check_line() hides from inih every line inih would reject, so this
         * only fires if the two ever disagree; then the line is still
         * reported rather than lost. */
        if (r > 0)
                add_error(ctx, fr.file, (unsigned)r, "syntax error");
        section_end(&fr);
        r = fr.read_error;
        goto finish;
oom:
        r = -ENOMEM;
        ctx->fatal = r;
finish:
        if (fr.fp)
                fclose(fr.fp);
        free(fr.buf);
        free(fr.real);
        mm_free(fr.dir);
        mm_free(fr.glob_dir);
        mm_free(abs);
        return r;
}

/* inih is configured through globals: heap line buffer that grows, so long
 * lines are read whole; no continuation lines, so an indented line is an
 * ordinary one; keep going after errors. */
static void set_inih_options(void) {
        ini_use_stack = false;
        ini_allow_realloc = true;
        ini_initial_alloc = 200;
        ini_max_line = CONFIG_MAX_LINE + 3;
        ini_allow_multiline = false;
        ini_allow_bom = true;
        ini_allow_inline_comments = true;
        ini_stop_on_first_error = false;
        ini_allow_no_value = false;
}

/* Builds the final target list: dropped records go, unset policy keys come
 * from [defaults]. */
static int finalize(struct parse_ctx *ctx) {
        struct config *c = ctx->cfg;
        size_t n = 0;

        if (!c->base_dir) {
                c->base_dir = path_dir(c->path);
                if (!c->base_dir)
                        return -ENOMEM;
        }
        resolve_from_agent(c, ctx->defaults_set);
        c->targets = mm_calloc(ctx->n_recs ? ctx->n_recs : 1, sizeof(*c->targets));
        if (!c->targets)
                return -ENOMEM;
        for (size_t i = 0; i < ctx->n_recs; i++) {
                struct target_rec *rec = &ctx->recs[i];

                if (rec->discard)
                        continue;
                inherit_policy(&rec->t, rec->set, c);
                c->targets[n++] = rec->t;
                memset(&rec->t, 0, sizeof(rec->t));
        }
        c->n_targets = n;
        return 0;
}

static void ctx_fini(struct parse_ctx *ctx) {
        for (size_t i = 0; i < ctx->n_recs; i++)
                target_config_fini(&ctx->recs[i].t);
        mm_free(ctx->recs);
        for (size_t i = 0; i < ctx->n_files; i++)
                mm_free(ctx->files[i]);
        mm_free(ctx->files);
        config_free(ctx->cfg);
}

int config_load(const char *path, struct config **ret, struct config_errors *errs) {
        struct parse_ctx ctx = {.errs = errs};
        int r;

        if (!path || !ret)
                return -EINVAL;
        set_inih_options();
        r = config_alloc(&ctx.cfg);
        if (r < 0)
                goto finish;
        r = path_absolute(path, &ctx.cfg->path);
        if (r < 0)
                goto finish;
        r = parse_file(&ctx, NULL, path, NULL);
        if (ctx.fatal) {
                r = ctx.fatal;
                goto finish;
        }
        if (r < 0)
                goto finish;
        if (ctx.n_errors) {
                r = -EINVAL;
                goto finish;
        }
        r = finalize(&ctx);
        if (r < 0)
                goto finish;
        *ret = ctx.cfg;
        ctx.cfg = NULL;
finish:
        ctx_fini(&ctx);
        return r;
}

int config_new(const char *base_dir, struct config **ret) {
        struct config *c = NULL;
        int r;

        if (!base_dir || !ret)
                return -EINVAL;
        r = config_alloc(&c);
        if (r < 0)
                return r;
        r = path_absolute(base_dir, &c->base_dir);
        if (r < 0) {
                config_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

/* Appends T, whose selector fields are set, to C; T's strings are taken
 * over on success and freed on failure. */
static int add_target(struct config *c, struct target_config *t) {
        struct target_config *v;
        int r;

        if (target_name_valid(t->name) < 0) {
                r = -EINVAL;
                goto fail;
        }
        if (config_find_target(c, t->name)) {
                r = -EEXIST;
                goto fail;
        }
        v = mm_reallocarray(c->targets, c->n_targets + 1, sizeof(*v));
        if (!v) {
                r = -ENOMEM;
                goto fail;
        }
        c->targets = v;
        inherit_policy(t, NULL, c);
        c->targets[c->n_targets++] = *t;
        return 0;
fail:
        target_config_fini(t);
        return r;
}

int config_add_pid_target(struct config *c, const char *name, pid_t pid) {
        struct target_config t = {.sel = SELECT_PID, .pid = pid};

        if (!c || !name || pid < 1 || (uint64_t)pid > PROC_PID_MAX)
                return -EINVAL;
        t.name = mm_strdup(name);
        if (!t.name)
                return -ENOMEM;
        return add_target(c, &t);
}

int config_add_exec_target(struct config *c, const char *name, char *const argv[]) {
        struct target_config t = {.sel = SELECT_EXEC};

        if (!c || !name || !argv || !argv[0])
                return -EINVAL;
        t.name = mm_strdup(name);
        t.argv = strv_copy(argv);
        if (!t.name || !t.argv) {
                target_config_fini(&t);
                return -ENOMEM;
        }
        return add_target(c, &t);
}

void config_free(struct config *c) {
        if (!c)
                return;
        for (size_t i = 0; i < c->n_targets; i++)
                target_config_fini(&c->targets[i]);
        mm_free(c->targets);
        target_policy_fini(&c->defaults);
        mm_free(c->path);
        mm_free(c->base_dir);
        mm_free(c);
}

const struct target_config *config_find_target(const struct config *c, const char *name) {
        if (!c || !name)
                return NULL;
        for (size_t i = 0; i < c->n_targets; i++)
                if (streq(c->targets[i].name, name))
                        return &c->targets[i];
        return NULL;
}

enum config_change config_target_compare(const struct target_config *a, const struct target_config *b) {
        bool same;

        if (!streq(a->name, b->name) || a->sel != b->sel)
                return CONFIG_SELECTOR_CHANGED;
        switch (a->sel) {
        case SELECT_PID:
                same = a->pid == b->pid;
                break;
        case SELECT_PIDFILE:
                same = streq(a->pidfile, b->pidfile);
                break;
        case SELECT_MATCH:
                same = streq(a->match, b->match);
                break;
        case SELECT_EXEC:
                same = strv_equal(a->argv, b->argv);
                break;
        default:
                same = false;
                break;
        }
        if (!same)
                return CONFIG_SELECTOR_CHANGED;
        return target_policy_equal(&a->policy, &b->policy) ? CONFIG_SAME : CONFIG_POLICY_CHANGED;
}

bool config_target_equal(const struct target_config *a, const struct target_config *b) {
        return config_target_compare(a, b) == CONFIG_SAME;
}

/* Writes one exec word so that split_words() gives it back.  inih takes a
 * ';' after any blank for the start of a comment, quotes or not: a word is
 * written after a blank, so one that starts with ';' is quoted, and inside
 * quotes a ';' that follows a blank gets an empty pair of quotes ("")
 * before it, which split_words() reads as nothing. */
static void write_word(FILE *f, const char *w) {
        bool plain = *w && *w != ';';

        for (const char *p = w; plain && *p; p++)
                plain = !is_blank(*p) && *p != '"';
        if (plain) {
                fputs(w, f);
                return;
        }
        fputc('"', f);
        for (const char *p = w; *p; p++) {
                if (*p == '"' || *p == '\\')
                        fputc('\\', f);
                else if (*p == ';' && p > w && is_blank(p[-1]))
                        fputs("\"\"", f);
                fputc(*p, f);
        }
        fputc('"', f);
}

/* Writes "key = value" for key K of BASE. */
static void write_key(FILE *f, const struct key_def *k, const void *base) {
        const void *field = (const char *)base + k->offset;
        const char *level;
        char buf[NUMBER_SIZE];
        const char *s = NULL;

        /* A ';' after a blank starts a comment, so a name or path that
         * begins with one follows the '=' directly. */
        if (k->type == KT_PATH || k->type == KT_NAME)
                s = *(char *const *)field;
        fprintf(f, "%s =%s", k->name, s && s[0] == ';' ? "" : " ");
        switch (k->type) {
        case KT_UINT:
        case KT_PID:
        case KT_DURATION:
        case KT_SIZE:
                format_number(k->type, number_of(base, k), buf, sizeof(buf));
                fputs(buf, f);
                break;
        case KT_LOG_LEVEL:
                level = log_level_name(*(const enum log_level *)field);
                fputs(level ? level : "info", f);
                break;
        case KT_PATH:
        case KT_NAME:
                s = *(char *const *)field;
                fputs(s ? s : "", f);
                break;
        case KT_ARGV:
                for (char *const *w = *(char **const *)field; w && *w; w++) {
                        if (w != *(char **const *)field)
                                fputc(' ', f);
                        write_word(f, *w);
                }
                break;
        case KT_GLOBS:
                break;
        }
        fputc('\n', f);
}

int config_write(const struct config *c, FILE *f) {
        if (c->path)
                fprintf(f, "; memmon configuration, resolved from %s\n", c->path);
        fputs("[agent]\n", f);
        for (size_t i = 0; i < N_KEYS; i++)
                if (keys[i].sections & IN(SEC_AGENT))
                        write_key(f, &keys[i], c);
        fputs("\n[defaults]\n", f);
        for (size_t i = 0; i < N_KEYS; i++)
                if (keys[i].sections & IN(SEC_DEFAULTS))
                        write_key(f, &keys[i], &c->defaults);
        for (size_t t = 0; t < c->n_targets; t++) {
                const struct target_config *tc = &c->targets[t];

                fprintf(f, "\n[target:%s]", tc->name);
                if (tc->file)
                        fprintf(f, " ; %s:%u", tc->file, tc->line);
                fputc('\n', f);
                for (size_t i = 0; i < N_KEYS; i++)
                        if (keys[i].selector >= 0 && keys[i].selector == (int)tc->sel)
                                write_key(f, &keys[i], tc);
                for (size_t i = 0; i < N_KEYS; i++)
                        if (is_policy(&keys[i]))
                                write_key(f, &keys[i], &tc->policy);
        }
        return ferror(f) ? -EIO : 0;
}

int config_write_keys(FILE *f) {
        for (size_t i = 0; i < N_KEYS; i++) {
                const struct key_def *k = &keys[i];
                char lo[NUMBER_SIZE], hi[NUMBER_SIZE], range[2 * NUMBER_SIZE + 4] = "";
                char where[64] = "";
                size_t len = 0;

                for (size_t s = 0; s < ELEMENTSOF(section_names); s++) {
                        if (!(k->sections & IN(s)))
                                continue;
                        if (len)
                                append(where, sizeof(where), &len, " ");
                        append(where, sizeof(where), &len, section_names[s]);
                }
                if (field_size(k->type) && k->type != KT_LOG_LEVEL) {
                        format_number(k->type, k->min, lo, sizeof(lo));
                        format_number(k->type, k->max, hi, sizeof(hi));
                        if (snprintf(range, sizeof(range), "%s..%s", lo, hi) >= (int)sizeof(range))
                                range[0] = '\0';
                }
                fprintf(f, "%-26s %-13s %-9s %-14s %-6s %s\n", where, k->name, type_name(k->type), range,
                        k->def ? k->def : "-", k->help);
        }
        return ferror(f) ? -EIO : 0;
}
