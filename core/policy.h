/*
 * policy: what a target is, as config/ reads it and core/ carries it out:
 * how its process is selected, its sampling and backup policy, and the rules
 * of its name; and the levels of the messages core/ reports.  Defined here
 * once, so that config/, core/ and agent/ share one model of a target.
 */
#ifndef MEMMON_CORE_POLICY_H
#define MEMMON_CORE_POLICY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/alerts.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How a target names its process. */
enum target_selector {
        SELECT_PID,
        SELECT_PIDFILE,
        SELECT_MATCH,
        SELECT_EXEC, /* the agent started it; pid is given */
};

/* What a `match` target asks of a process besides its name (issue 8):
 * `user =` and `exe =`.  Part of how the process is selected: a change
 * starts a new chain. */
struct target_filter {
        bool has_uid; /* user = NAME|UID given */
        uid_t uid;    /* the real and the effective uid must both be this */
        char *exe;    /* exe = /abs/path: /proc/PID/exe must be this very file; NULL: any */
};

/* Makes dst a copy of src (dst is overwritten, not released).  Returns 0 or
 * -ENOMEM (dst unchanged). */
int target_filter_copy(struct target_filter *dst, const struct target_filter *src);
/* Releases what f owns and clears it. */
void target_filter_fini(struct target_filter *f);
bool target_filter_equal(const struct target_filter *a, const struct target_filter *b);
/* True when f asks for something (user or exe). */
bool target_filter_set(const struct target_filter *f);

/* What a target does with its process once found: how often it samples,
 * what it keeps and what it raises.  A change of policy is applied in place
 * (same chain).  More policy goes here, with its copy, release and
 * comparison below, and config/ and core/ both get it. */
struct target_policy {
        uint64_t interval_us;
        unsigned full_every;
        uint64_t full_interval_us; /* 0: off */
        unsigned keep_full;        /* 0: keep all */
        uint64_t max_bytes;        /* 0: no limit */
        /* The alert rules ([alerts] and the target's own alert keys).  A
         * zeroed struct has every rule off. */
        struct alert_policy alerts;
        /* alert_exec: the program (and its arguments, NULL-terminated) run
         * for each alert raised, or NULL; owned.  The agent runs it, at most
         * alert_exec_rate times a minute for this target. */
        char **alert_exec;
        unsigned alert_exec_rate;
};

/* Makes dst a deep copy of src (dst is overwritten, not released).  Returns
 * 0 or -ENOMEM (dst unchanged). */
int target_policy_copy(struct target_policy *dst, const struct target_policy *src);
/* Releases what p owns; p may then be copied into again. */
void target_policy_fini(struct target_policy *p);
bool target_policy_equal(const struct target_policy *a, const struct target_policy *b);

/* A target name is 1 to TARGET_NAME_MAX of A-Z a-z 0-9 _ . - and not
 * reserved: it becomes a folder next to the single-target layout's full/
 * and incremental/, and a logs/NAME.log next to the agent's own logs. */
#define TARGET_NAME_MAX 64

/* True when c may appear in a target name. */
bool target_name_char_ok(char c);
/* True when name is one of the reserved names (".", "..", "full",
 * "incremental", "monitor", "daemon_output"). */
bool target_name_reserved(const char *name);
/* Returns 0 when name is a valid target name, -EINVAL when not (NULL
 * included). */
int target_name_valid(const char *name);

/* The levels of the messages core/ reports, most severe first. */
enum log_level {
        LOG_ERROR,
        LOG_WARN,
        LOG_INFO,
        LOG_DEBUG,
};

/* "error", "warn", "info" or "debug" (as in a configuration), or NULL for
 * a value that is no level. */
const char *log_level_name(enum log_level level);
/* "ERROR", "WARN", "INFO" or "DEBUG" (as in a log line), or "?". */
const char *log_level_label(enum log_level level);
/* Parses a level's name.  Returns 0 or -EINVAL. */
int log_level_from_name(const char *s, enum log_level *ret);

#ifdef __cplusplus
}
#endif
#endif
