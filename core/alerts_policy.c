/*
 * The rule table, the policy and its keys: parsing, writing, comparing.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/alerts.h"
#include "core/alloc.h"
#include "core/units.h"

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

/* clang-format off */
static const struct alert_rule_info rules[ALERT_RULE_COUNT] = {
        [ALERT_WX] = {"wx", 1, 1,
                "a region is both writable and executable"},
        [ALERT_ANON_EXEC] = {"anon_exec", 1, 1,
                "an executable region has no file behind it (anonymous, [heap], [stack], any [name] but "
                "[vdso], [vsyscall], [uprobes], [vectors])"},
        [ALERT_MEMFD_EXEC] = {"memfd_exec", 1, 1,
                "an executable mapping of a memfd (/memfd:...), of /dev/shm/... or of SysV shared memory"},
        [ALERT_DELETED_EXEC] = {"deleted_exec", 1, 1,
                "an executable mapping of a file that was deleted or replaced on disk (same path, another "
                "file): the process runs code no longer on disk"},
        [ALERT_WRITABLE_EXEC_FILE] = {"writable_exec_file", 1, 1,
                "an executable mapping of a file that a user other than root and the process's own can "
                "write, or replace through a folder above it"},
        [ALERT_NEW_EXEC] = {"new_exec", 0, 1,
                "an executable file mapping appears after the first snapshot of the process, outside "
                "allow_exec"},
        [ALERT_TEXT_MISMATCH] = {"text_mismatch", 0, 1,
                "the code of an executable file mapping differs from its file (inline hooks, patched "
                "code); checked every text_check"},
        [ALERT_MAX_REGIONS] = {"max_regions", 0, 0,
                "the process has more regions than max_regions"},
        [ALERT_MAX_MAPPED] = {"max_mapped", 0, 0,
                "the process maps more bytes than max_mapped"},
        [ALERT_MAX_GROWTH] = {"max_growth", 0, 0,
                "the process's mapped bytes grew by more than max_growth within its window"},
};
/* clang-format on */

const struct alert_rule_info *alert_rule_info(enum alert_rule r) {
        if ((unsigned)r >= ALERT_RULE_COUNT)
                return NULL;
        return &rules[r];
}

int alert_rule_from_name(const char *name, enum alert_rule *ret) {
        for (size_t i = 0; i < ALERT_RULE_COUNT; i++) {
                if (strcmp(rules[i].name, name) == 0) {
                        *ret = (enum alert_rule)i;
                        return 0;
                }
        }
        return -ENOENT;
}

#define DEFAULT_TEXT_BUDGET ((uint64_t)64 << 20)
#define MAX_REGIONS_LIMIT ((uint64_t)1 << 31)
#define TEXT_BUDGET_MIN ((uint64_t)4096)
#define TEXT_BUDGET_MAX ((uint64_t)1 << 40)
#define TEXT_CHECK_MIN_US ((uint64_t)1000000)
#define TEXT_CHECK_MAX_US ((uint64_t)7 * 24 * 3600 * 1000000)
#define GROWTH_WINDOW_MIN_US ((uint64_t)1000000)
#define GROWTH_WINDOW_MAX_US ((uint64_t)30 * 24 * 3600 * 1000000)
#define GLOBS_MAX 256
#define GLOB_LEN_MAX 4096

void alert_policy_init(struct alert_policy *p) {
        memset(p, 0, sizeof(*p));
        for (size_t i = 0; i < ALERT_RULE_COUNT; i++)
                p->on[i] = (unsigned char)rules[i].default_on;
        /* On, but idle until text_check is set: a per-target
         * `text_mismatch = off` then still means something. */
        p->on[ALERT_TEXT_MISMATCH] = 1;
        p->text_check_budget = DEFAULT_TEXT_BUDGET;
}

static void free_globs(char **v, size_t n) {
        for (size_t i = 0; i < n; i++)
                mm_free(v[i]);
        mm_free(v);
}

void alert_policy_fini(struct alert_policy *p) {
        free_globs(p->allow_exec, p->n_allow_exec);
        p->allow_exec = NULL;
        p->n_allow_exec = 0;
}

static int copy_globs(char *const *src, size_t n, char ***ret) {
        char **v = NULL;

        if (n > 0) {
                v = mm_calloc(n, sizeof(*v));
                if (!v)
                        return -ENOMEM;
                for (size_t i = 0; i < n; i++) {
                        v[i] = mm_strdup(src[i]);
                        if (!v[i]) {
                                free_globs(v, i);
                                return -ENOMEM;
                        }
                }
        }
        *ret = v;
        return 0;
}

int alert_policy_copy(struct alert_policy *dst, const struct alert_policy *src) {
        char **globs;
        int r = copy_globs(src->allow_exec, src->n_allow_exec, &globs);

        if (r < 0)
                return r;
        alert_policy_fini(dst);
        *dst = *src;
        dst->allow_exec = globs;
        return 0;
}

int alert_policy_equal(const struct alert_policy *a, const struct alert_policy *b) {
        if (memcmp(a->on, b->on, sizeof(a->on)) != 0 || a->max_regions != b->max_regions ||
            a->max_mapped != b->max_mapped || a->max_growth != b->max_growth ||
            a->growth_window_us != b->growth_window_us || a->text_check_us != b->text_check_us ||
            a->text_check_budget != b->text_check_budget || a->n_allow_exec != b->n_allow_exec)
                return 0;
        for (size_t i = 0; i < a->n_allow_exec; i++)
                if (strcmp(a->allow_exec[i], b->allow_exec[i]) != 0)
                        return 0;
        return 1;
}

int alert_policy_rule_active(const struct alert_policy *p, enum alert_rule r) {
        switch (r) {
        case ALERT_TEXT_MISMATCH:
                return p->on[r] && p->text_check_us > 0;
        case ALERT_MAX_REGIONS:
                return p->max_regions > 0;
        case ALERT_MAX_MAPPED:
                return p->max_mapped > 0;
        case ALERT_MAX_GROWTH:
                return p->max_growth > 0 && p->growth_window_us > 0;
        case ALERT_RULE_COUNT:
                return 0;
        default:
                return p->on[r] != 0;
        }
}

int alert_parse_switch(const char *s, int *ret) {
        static const char *const yes[] = {"on", "yes", "true", "1"};
        static const char *const no[] = {"off", "no", "false", "0"};

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcmp(s, yes[i]) == 0) {
                        *ret = 1;
                        return 0;
                }
                if (strcmp(s, no[i]) == 0) {
                        *ret = 0;
                        return 0;
                }
        }
        return -EINVAL;
}

static int is_off(const char *s) {
        return strcmp(s, "off") == 0 || strcmp(s, "0") == 0;
}

static int parse_count(const char *s, uint64_t max, uint64_t *ret) {
        uint64_t v = 0;

        if (is_off(s)) {
                *ret = 0;
                return 0;
        }
        if (*s < '0' || *s > '9')
                return -EINVAL;
        for (; *s; s++) {
                if (*s < '0' || *s > '9')
                        return -EINVAL;
                if (v > (UINT64_MAX - 9) / 10)
                        return -ERANGE;
                v = v * 10 + (uint64_t)(*s - '0');
        }
        if (v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

int alert_parse_growth(const char *s, uint64_t *ret_bytes, uint64_t *ret_window_us) {
        char size[64];
        const char *slash = strchr(s, '/');
        uint64_t bytes, window;
        int r;

        if (is_off(s)) {
                *ret_bytes = 0;
                *ret_window_us = 0;
                return 0;
        }
        if (!slash || (size_t)(slash - s) >= sizeof(size))
                return -EINVAL;
        memcpy(size, s, (size_t)(slash - s));
        size[slash - s] = '\0';
        if ((r = units_parse_size(size, &bytes)) < 0 || (r = units_parse_duration_us(slash + 1, &window)) < 0)
                return r;
        if (bytes == 0 || window < GROWTH_WINDOW_MIN_US || window > GROWTH_WINDOW_MAX_US)
                return -ERANGE;
        *ret_bytes = bytes;
        *ret_window_us = window;
        return 0;
}

static int glob_ok(const char *g, size_t len) {
        if (len == 0 || len > GLOB_LEN_MAX || (g[0] != '/' && g[0] != '[' && g[0] != '*'))
                return 0;
        for (size_t i = 0; i < len; i++)
                if ((unsigned char)g[i] < 0x20 || g[i] == 0x7f)
                        return 0;
        return 1;
}

static int is_blank(char c) {
        return c == ' ' || c == '\t';
}

int alert_parse_globs(const char *s, char ***ret_v, size_t *ret_n) {
        char **v = NULL;
        size_t n = 0;
        const char *p = s;
        int r = 0;

        while (is_blank(*p))
                p++;
        if (*p == '\0') {
                *ret_v = NULL;
                *ret_n = 0;
                return 0;
        }
        v = mm_calloc(GLOBS_MAX, sizeof(*v));
        if (!v)
                return -ENOMEM;
        for (;;) {
                const char *end = strchr(p, ',');
                const char *e = end ? end : p + strlen(p);
                const char *b = p;

                while (b < e && is_blank(*b))
                        b++;
                while (e > b && is_blank(e[-1]))
                        e--;
                if (n == GLOBS_MAX) {
                        r = -ERANGE;
                        goto fail;
                }
                if (!glob_ok(b, (size_t)(e - b))) {
                        r = -EINVAL;
                        goto fail;
                }
                v[n] = mm_malloc((size_t)(e - b) + 1);
                if (!v[n]) {
                        r = -ENOMEM;
                        goto fail;
                }
                memcpy(v[n], b, (size_t)(e - b));
                v[n++][e - b] = '\0';
                if (!end)
                        break;
                p = end + 1;
        }
        *ret_v = v;
        *ret_n = n;
        return 0;
fail:
        free_globs(v, n);
        return r;
}

enum key_kind {
        K_SWITCH,
        K_COUNT,
        K_SIZE,
        K_GROWTH,
        K_GLOBS,
        K_DURATION,
};

struct key_row {
        const char *name;
        enum key_kind kind;
        enum alert_rule rule; /* K_SWITCH */
        const char *def;
        const char *help;
};

/* clang-format off */
static const struct key_row keys[] = {
        {"wx", K_SWITCH, ALERT_WX, "on", "alert on writable and executable memory"},
        {"anon_exec", K_SWITCH, ALERT_ANON_EXEC, "on", "alert on executable memory with no file behind it"},
        {"memfd_exec", K_SWITCH, ALERT_MEMFD_EXEC, "on", "alert on code run from a memfd, /dev/shm or SysV shm"},
        {"deleted_exec", K_SWITCH, ALERT_DELETED_EXEC, "on",
         "alert on code whose file was deleted or replaced on disk (restart needed)"},
        {"writable_exec_file", K_SWITCH, ALERT_WRITABLE_EXEC_FILE, "on",
         "alert on code from a file another user can write or replace"},
        {"new_exec", K_SWITCH, ALERT_NEW_EXEC, "off", "alert on every executable file mapped after attach"},
        {"text_mismatch", K_SWITCH, ALERT_TEXT_MISMATCH, "on",
         "alert on code that differs from its file; checked only when text_check is set"},
        {"max_regions", K_COUNT, ALERT_MAX_REGIONS, "off", "alert above this many regions; off: no bound"},
        {"max_mapped", K_SIZE, ALERT_MAX_MAPPED, "off", "alert above this many mapped bytes (512M, 4G); off: no bound"},
        {"max_growth", K_GROWTH, ALERT_MAX_GROWTH, "off",
         "alert when mapped bytes grow by more than SIZE within DURATION (512M/1h); off: no bound"},
        {"allow_exec", K_GLOBS, ALERT_RULE_COUNT, "",
         "GLOB,... of paths whose executable mappings never alert (fnmatch, * crosses /; the outer "
         "brackets of [name] are literal)"},
        {"text_check", K_DURATION, ALERT_TEXT_MISMATCH, "off",
         "how often code is compared with its files (10m); off: never"},
        {"text_check_budget", K_SIZE, ALERT_RULE_COUNT, "64M", "bytes of code compared per check at most"},
};
/* clang-format on */

_Static_assert(ELEMENTSOF(keys) == ALERT_POLICY_KEYS, "ALERT_POLICY_KEYS counts the alert keys");

size_t alert_policy_key_count(void) {
        return ELEMENTSOF(keys);
}

int alert_policy_key_index(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (strcmp(keys[i].name, name) == 0)
                        return (int)i;
        return -ENOENT;
}

const char *alert_policy_key_name(size_t i) {
        return i < ELEMENTSOF(keys) ? keys[i].name : NULL;
}

const char *alert_policy_key_default(size_t i) {
        return i < ELEMENTSOF(keys) ? keys[i].def : NULL;
}

const char *alert_policy_key_help(size_t i) {
        return i < ELEMENTSOF(keys) ? keys[i].help : NULL;
}

static const struct key_row *find_key(const char *name) {
        int i = alert_policy_key_index(name);

        return i < 0 ? NULL : &keys[i];
}

static int set_failed(int r, char *why, size_t why_size, const struct key_row *k, const char *expected) {
        /* A message cut short still names the key. */
        (void)snprintf(why, why_size, "%s: %s; expected %s", k->name,
                       r == -ERANGE ? "out of range" : "invalid value", expected);
        return r;
}

int alert_policy_set(struct alert_policy *p, const char *key, const char *value, char *why, size_t why_size) {
        const struct key_row *k = find_key(key);
        uint64_t a, b;
        char **globs;
        size_t n;
        int on, r;

        if (!k)
                return -ENOENT;
        switch (k->kind) {
        case K_SWITCH:
                if ((r = alert_parse_switch(value, &on)) < 0)
                        return set_failed(r, why, why_size, k, "on or off");
                p->on[k->rule] = (unsigned char)on;
                return 0;
        case K_COUNT:
                if ((r = parse_count(value, MAX_REGIONS_LIMIT, &a)) < 0)
                        return set_failed(r, why, why_size, k,
                                          "a number of regions (up to 2147483648) or off");
                p->max_regions = a;
                return 0;
        case K_SIZE:
                if (is_off(value) && k->rule == ALERT_MAX_MAPPED) {
                        p->max_mapped = 0;
                        return 0;
                }
                r = units_parse_size(value, &a);
                if (r == 0 && k->rule != ALERT_MAX_MAPPED && (a < TEXT_BUDGET_MIN || a > TEXT_BUDGET_MAX))
                        r = -ERANGE;
                if (r == 0 && a == 0)
                        r = -ERANGE;
                if (r < 0)
                        return set_failed(r, why, why_size, k,
                                          k->rule == ALERT_MAX_MAPPED ? "a size such as 512M or 4G, or off"
                                                                      : "a size from 4K to 1T, such as 64M");
                if (k->rule == ALERT_MAX_MAPPED)
                        p->max_mapped = a;
                else
                        p->text_check_budget = a;
                return 0;
        case K_GROWTH:
                if ((r = alert_parse_growth(value, &a, &b)) < 0)
                        return set_failed(
                            r, why, why_size, k,
                            "SIZE/DURATION such as 512M/1h (a window from 1s to 30 days), or off");
                p->max_growth = a;
                p->growth_window_us = b;
                return 0;
        case K_GLOBS:
                if ((r = alert_parse_globs(value, &globs, &n)) < 0) {
                        if (r == -ENOMEM)
                                return r;
                        return set_failed(r, why, why_size, k,
                                          "GLOB,... of at most 256 paths, each starting with /, [ or *");
                }
                free_globs(p->allow_exec, p->n_allow_exec);
                p->allow_exec = globs;
                p->n_allow_exec = n;
                return 0;
        case K_DURATION:
                if (is_off(value)) {
                        p->text_check_us = 0;
                        return 0;
                }
                r = units_parse_duration_us(value, &a);
                if (r == 0 && (a < TEXT_CHECK_MIN_US || a > TEXT_CHECK_MAX_US))
                        r = -ERANGE;
                if (r < 0)
                        return set_failed(r, why, why_size, k,
                                          "a duration from 1s to 7 days (10m, 1h), or off");
                p->text_check_us = a;
                return 0;
        }
        return -ENOENT;
}

/* Writes a size with the largest unit that divides it. */
static int format_size(struct strbuf *out, uint64_t v) {
        static const char units[] = "KMGT";
        int u = -1;

        while (u < 3 && v >= 1024 && v % 1024 == 0) {
                v /= 1024;
                u++;
        }
        if (u < 0)
                return strbuf_printf(out, "%" PRIu64, v);
        return strbuf_printf(out, "%" PRIu64 "%c", v, units[u]);
}

static int format_duration(struct strbuf *out, uint64_t us) {
        static const struct {
                const char *suffix;
                uint64_t us;
        } units[] = {{"h", 3600000000ULL}, {"m", 60000000ULL}, {"s", 1000000}, {"ms", 1000}};

        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (us % units[i].us == 0)
                        return strbuf_printf(out, "%" PRIu64 "%s", us / units[i].us, units[i].suffix);
        return strbuf_printf(out, "%" PRIu64 "us", us);
}

int alert_policy_format(const struct alert_policy *p, const char *key, struct strbuf *out) {
        const struct key_row *k = find_key(key);
        int r = 0;

        if (!k)
                return -ENOENT;
        switch (k->kind) {
        case K_SWITCH:
                return strbuf_printf(out, "%s", p->on[k->rule] ? "on" : "off");
        case K_COUNT:
                if (p->max_regions == 0)
                        return strbuf_printf(out, "off");
                return strbuf_printf(out, "%" PRIu64, p->max_regions);
        case K_SIZE:
                if (k->rule == ALERT_MAX_MAPPED)
                        return p->max_mapped ? format_size(out, p->max_mapped) : strbuf_printf(out, "off");
                return format_size(out, p->text_check_budget);
        case K_GROWTH:
                if (p->max_growth == 0)
                        return strbuf_printf(out, "off");
                if ((r = format_size(out, p->max_growth)) == 0 && (r = strbuf_printf(out, "/")) == 0)
                        r = format_duration(out, p->growth_window_us);
                return r;
        case K_GLOBS:
                for (size_t i = 0; i < p->n_allow_exec && r == 0; i++)
                        r = strbuf_printf(out, "%s%s", i ? "," : "", p->allow_exec[i]);
                return r;
        case K_DURATION:
                return p->text_check_us ? format_duration(out, p->text_check_us) : strbuf_printf(out, "off");
        }
        return -ENOENT;
}
