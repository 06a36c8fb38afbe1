#include "config/keys.h"

#include <errno.h>
#include <stdio.h>

#include "config/strv.h"
#include "core/alloc.h"
#include "core/proc.h"

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

#define FULL_INTERVAL_MAX_US (UINT64_C(720) * 3600 * 1000000)
#define MAX_BYTES_MAX (UINT64_C(1) << 40)
#define RESYNC_MIN_US UINT64_C(1000000)
#define RESYNC_MAX_US (UINT64_C(24) * 3600 * 1000000)
/* A ring is whole pages, a power of two of them. */
#define CAPTURE_RING_MIN UINT64_C(4096)
#define CAPTURE_RING_MAX (UINT64_C(1) << 30)
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
                memcpy(keys_field_of(dst, k), from, keys_field_size(k->type));
                return 0;
        }
        if (*(char **const *)from && !(copy = strv_copy(*(char **const *)from)))
                return -ENOMEM;
        strv_free(*(char ***)keys_field_of(dst, k));
        *(char ***)keys_field_of(dst, k) = copy;
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

void keys_append(char *buf, size_t size, size_t *len, const char *s) {
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
                        keys_append(buf, size, &len, !prose ? " " : seen + 1 == count ? " or " : ", ");
                keys_append(buf, size, &len, section_names[s]);
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
