/*
 * config: memmon's INI configuration, read with inih.
 *
 *   [agent]          base_dir, interval, log_level, metrics_file,
 *                    metrics_interval, events, alert_exec, alert_exec_rate,
 *                    capture, resync, capture_ring
 *   [defaults]       interval, full_every, full_interval, keep_full, max_bytes,
 *                    alert_exec, alert_exec_rate
 *   [alerts]         the alert rules of every target: the keys of
 *                    core/alerts.h's table (wx, anon_exec, ..., allow_exec,
 *                    text_check, text_check_budget), parsed by it
 *   [target:NAME]    exactly one of pid, pidfile, match, exec; plus any key
 *                    of [defaults] and of [alerts] as a per-target override
 *                    (key by key: a target's allow_exec replaces the list of
 *                    [alerts], it does not add to it); with match, user and
 *                    exe narrow which process it may be
 *   [include]        files = GLOB... (space-separated, relative to the
 *                    including file's folder; a glob matching nothing is fine)
 *
 * A key is set at most once per section ([agent], [defaults] and [alerts]
 * each count as one section across all files; each [target:NAME] is its
 * own). Targets keep
 * the file and line of their header; [defaults] reaches every target,
 * wherever it appears.
 *
 * Every key is a row of one table in config/keys.c, from which parsing,
 * defaults, validation and config_write()/config_write_keys() all come.
 *
 * Durations and sizes have the syntax of core/units.h (2000000, 500ms, 2s;
 * 4096, 256M), so that the file, -T and the `interval` command agree.
 *
 * Values: relative paths (base_dir, pidfile, an exec program with a /) are
 * relative to the folder of
 * the file that sets them. exec is split on blanks; double quotes group words
 * and, inside them, \" and \\ stand for " and \. As everywhere in the file,
 * " ;" (a ';' after a blank) starts a comment, even inside quotes.
 * Lines may be of any length up to CONFIG_MAX_LINE bytes; control
 * characters (C0 but tab, DEL, C1, bidi overrides and isolates, line
 * separators) are errors wherever they are.
 *
 * Trust, as sudo and sshd ask of their files: the main file and every
 * included one must be a regular file owned by root or the agent's user and
 * writable by nobody else, in a folder held to the same rule, with no folder
 * above it open to others (core/fs.h, fs_open_trusted_file); anything else
 * is an error "FILE: not trusted: ...".  Each file is read once, however
 * often it is included (by device and inode).
 *
 * Ownership: a struct config and everything it points to are allocated with
 * the mm_* wrappers of core/alloc.h and freed by config_free() only.
 */
#ifndef MEMMON_CONFIG_CONFIG_H
#define MEMMON_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/capture_mode.h"
#include "core/policy.h"
#include "core/units.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The longest line accepted, newline excluded. */
#define CONFIG_MAX_LINE (64 * 1024)
/* What any configuration may cost, whatever its files hold: a file of more
 * than CONFIG_MAX_FILE_SIZE bytes is not read, nor more than
 * CONFIG_MAX_FILES files in all, nor includes nested more than
 * CONFIG_MAX_DEPTH files deep (the main file counts). */
#define CONFIG_MAX_FILE_SIZE (1024 * 1024)
#define CONFIG_MAX_FILES 256
#define CONFIG_MAX_DEPTH 16
/* Errors recorded per config_load(); the rest are only counted. */
#define CONFIG_MAX_ERRORS 1000
struct target_config {
        char *name;
        /* Selector: the one field that SEL names is set, the others are 0/NULL. */
        enum target_selector sel;
        pid_t pid;
        char *pidfile;               /* absolute */
        char *match;                 /* process name: comm or exe basename */
        struct target_filter filter; /* match only: user =, exe = (core/policy.h) */
        char **argv;                 /* NULL-terminated, for exec */
        /* Resolved: target key, else [defaults], else built-in default
         * (interval: else [agent] interval). */
        struct target_policy policy;
        /* Where the [target:NAME] header is, for messages; NULL/0 for targets
         * added by config_add_*_target(). Not compared by
         * config_target_equal(). */
        char *file;
        unsigned line;
};

struct config {
        char *path;     /* absolute path of the main file; NULL from config_new() */
        char *base_dir; /* absolute; default: the main file's folder */
        uint64_t interval_us;
        enum log_level log_level;
        /* Kernel-driven capture (core/capture.h): the mode asked for, and
         * how often a target whose counter did not move is read anyway. */
        enum capture_mode capture;
        uint64_t resync_us;
        uint64_t capture_ring;    /* bytes of the eBPF mapping-event ring */
        bool events;              /* write logs/events.jsonl */
        char **alert_exec;        /* [agent] alert_exec, or NULL */
        unsigned alert_exec_rate; /* [agent] alert_exec_rate */
        /* The resolved [defaults], and [alerts] in defaults.alerts. Targets
         * added later with config_add_*_target() take their policy from
         * here. */
        struct target_policy defaults;
        struct target_config *targets;
        size_t n_targets;
        /* Metrics (issue 11): the textfile for node_exporter (absolute;
         * NULL: none) and how often it is written. */
        char *metrics_file;
        uint64_t metrics_interval_us;
};

struct config_error {
        char *file;          /* NULL when the error is not about a file */
        unsigned line;       /* 0 when the error is about a whole file */
        char *text;          /* "FILE:LINE: message", "FILE: message" or "message" */
        const char *message; /* borrowed: points into text, after the location */
};

/* Zero-initialize (or use config_errors_init()) before the first use. */
struct config_errors {
        struct config_error *v;
        size_t n;
        size_t cap;
        size_t n_dropped; /* errors beyond CONFIG_MAX_ERRORS, not recorded */
};

void config_errors_init(struct config_errors *errs);
/* Frees every recorded error and re-initializes ERRS. */
void config_errors_fini(struct config_errors *errs);

/* Reads the configuration file PATH (relative to the current directory if
 * not absolute) and every file it includes, and validates all of it.
 *
 * Returns 0 and sets *ret to a new config that the caller frees with
 * config_free(). On failure *ret is untouched and returns:
 *   -EINVAL  the configuration has errors; every one of them is appended to
 *            ERRS as "FILE:LINE: message", in the order found;
 *   -errno   PATH itself cannot be opened or read (an error naming it is
 *            appended to ERRS as well), or -ENOMEM.
 * ERRS may be NULL when the caller does not want the messages.
 *
 * inih is configured through process-wide globals (ini_use_stack,
 * ini_max_line, ...), which this sets on every call: do not call it while
 * another thread uses inih. */
int config_load(const char *path, struct config **ret, struct config_errors *errs);

/* Makes a config with no file and no targets: every key at its built-in
 * default and base_dir set to BASE_DIR (made absolute against the current
 * directory). For the agent's -p without -c. Returns 0 or -ENOMEM. */
int config_new(const char *base_dir, struct config **ret);

/* Appends a target with the policy of c->defaults. Returns 0, -EINVAL for an
 * invalid name (see target_name_valid() in core/policy.h) or an empty argv or
 * a pid out of 1..PROC_PID_MAX, -EEXIST if C already has a target of that name, or
 * -ENOMEM. ARGV is copied. */
int config_add_pid_target(struct config *c, const char *name, pid_t pid);
int config_add_exec_target(struct config *c, const char *name, char *const argv[]);

/* Frees C and everything it owns; C may be NULL. */
void config_free(struct config *c);

/* Frees what T owns and zeroes it. */
void config_target_fini(struct target_config *t);

/* The target named NAME, or NULL. Borrowed from C. */
const struct target_config *config_find_target(const struct config *c, const char *name);

enum config_change {
        CONFIG_SAME,             /* nothing to do on reload */
        CONFIG_POLICY_CHANGED,   /* apply interval/full_every/... in place */
        CONFIG_SELECTOR_CHANGED, /* other process: re-attach, new chain */
};

/* Compares the old and new versions of a target (normally of the same name)
 * for reload. A different name counts as CONFIG_SELECTOR_CHANGED. file and
 * line are ignored. */
enum config_change config_target_compare(const struct target_config *a, const struct target_config *b);

/* True when config_target_compare() returns CONFIG_SAME. */
bool config_target_equal(const struct target_config *a, const struct target_config *b);

#ifdef __cplusplus
}
#endif
#endif
