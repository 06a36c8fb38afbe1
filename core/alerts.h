/*
 * alerts: the rules that say what a change of a process's mappings means.
 *
 * A rule fires on a region (wx, anon_exec, memfd_exec, deleted_exec,
 * writable_exec_file, new_exec, text_mismatch) or on the whole process
 * (max_regions, max_mapped, max_growth).  Region rules are evaluated on the
 * regions a sample adds or changes, and on every region of the first
 * snapshot of a process ("present at attach"); an alert is raised once per
 * (rule, region, process instance) and cleared when its region goes (it is
 * unmapped, or something else is mapped at its address).  Process rules are
 * raised when the bound is passed and cleared (re-armed) when the process is
 * back within it.  A policy change applies to the current state at once.
 *
 * One struct alert_state follows one process at a time, in one thread (the
 * target's worker, or `agent scan`).  Its owner calls, in order:
 *   alerts_set_policy()   at start and on every reload (cheap when equal)
 *   alerts_first()        with the first snapshot of each process instance
 *   alerts_change()       on each tick whose maps changed, with the diff
 *   alerts_tick()         on every tick (O(1) unless a timed check is due)
 *   alerts_end()          when the process exits or the target stops
 * Each appends what was raised and cleared to a struct alert_events that
 * the caller logs and then resets.  A tick whose maps did not change calls
 * none but alerts_tick(), which then allocates nothing and reads nothing.
 *
 * File-system facts (is the mapped file deleted, replaced, writable by
 * others) and the bytes compared by text_mismatch come through a struct
 * alert_fs_ops (core/alerts_fs.h), so that tests can give made-up ones.
 */
#ifndef MEMMON_CORE_ALERTS_H
#define MEMMON_CORE_ALERTS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "core/diff.h"
#include "core/maps.h"
#include "core/strbuf.h"

#ifdef __cplusplus
extern "C" {
#endif

enum alert_rule {
        ALERT_WX,
        ALERT_ANON_EXEC,
        ALERT_MEMFD_EXEC,
        ALERT_DELETED_EXEC,
        ALERT_WRITABLE_EXEC_FILE,
        ALERT_NEW_EXEC,
        ALERT_TEXT_MISMATCH,
        ALERT_MAX_REGIONS,
        ALERT_MAX_MAPPED,
        ALERT_MAX_GROWTH,
        ALERT_RULE_COUNT,
};

struct alert_rule_info {
        const char *name;        /* the configuration key and the events' "rule" */
        int default_on;          /* fires with the built-in defaults */
        int per_region;          /* 1: per region; 0: per process */
        const char *description; /* when it fires, for documentation and help */
};

/* The row of the rule table for r, or NULL when r is out of range. */
const struct alert_rule_info *alert_rule_info(enum alert_rule r);
/* The rule called name.  Returns 0 or -ENOENT. */
int alert_rule_from_name(const char *name, enum alert_rule *ret);

/* What to look for.  Everything is owned by the struct. */
struct alert_policy {
        /* Switches of the region rules (wx .. text_mismatch); the process
         * rules are on when their bound is set. */
        unsigned char on[ALERT_RULE_COUNT];
        uint64_t max_regions; /* 0: unset */
        uint64_t max_mapped;  /* bytes; 0: unset */
        uint64_t max_growth;  /* bytes per growth_window_us; 0: unset */
        uint64_t growth_window_us;
        uint64_t text_check_us;     /* 0: text_mismatch is never checked */
        uint64_t text_check_budget; /* bytes compared per check at most */
        /* fnmatch(3) globs (no flags: '*' crosses '/') of the paths no
         * region rule fires on, matched as printed and without
         * " (deleted)"; a glob written as a [name] has literal outer
         * brackets ("[anon:jit*]"). */
        char **allow_exec;
        size_t n_allow_exec;
};

/* The built-in defaults: wx, anon_exec, memfd_exec, deleted_exec and
 * writable_exec_file on; new_exec off; text_mismatch on but unchecked
 * (text_check 0); no bounds; text_check_budget 64M; no allow_exec. */
void alert_policy_init(struct alert_policy *p);
void alert_policy_fini(struct alert_policy *p);
/* Makes dst (initialised) a deep copy of src.  Returns 0 or -ENOMEM (dst
 * unchanged). */
int alert_policy_copy(struct alert_policy *dst, const struct alert_policy *src);
/* 1 when a and b would raise the same alerts, 0 otherwise. */
int alert_policy_equal(const struct alert_policy *a, const struct alert_policy *b);
/* 1 when rule r can fire under p: its switch is on and, for text_mismatch,
 * text_check is set; for a process rule, its bound is set. */
int alert_policy_rule_active(const struct alert_policy *p, enum alert_rule r);

/* The keys of [alerts] and of [target:NAME] that alert_policy_set() takes,
 * in documentation order: one table drives parsing, writing and help.
 * There are ALERT_POLICY_KEYS of them (for arrays indexed by key). */
#define ALERT_POLICY_KEYS 13
size_t alert_policy_key_count(void);
/* The index of key name, or -ENOENT. */
int alert_policy_key_index(const char *name);
const char *alert_policy_key_name(size_t i);
/* The default as it would be written in a file ("on", "off", "64M", ""). */
const char *alert_policy_key_default(size_t i);
const char *alert_policy_key_help(size_t i);
/* Sets key to value as written in a configuration.  Returns 0; -ENOENT
 * when key is not an alerts key (why[] untouched); -EINVAL or -ERANGE with
 * why[] saying what is wrong ("max_growth: expected SIZE/DURATION such as
 * 512M/1h") and p unchanged; or -ENOMEM. */
int alert_policy_set(struct alert_policy *p, const char *key, const char *value, char *why, size_t why_size);
/* Appends key's value in p as alert_policy_set() reads it back.  Returns 0,
 * -ENOENT or -ENOMEM. */
int alert_policy_format(const struct alert_policy *p, const char *key, struct strbuf *out);

/* The value parsers behind alert_policy_set(), for callers with their own
 * tables.  Each returns 0, -EINVAL or -ERANGE, and writes only on success. */
/* on | off (also yes/no, true/false, 1/0). */
int alert_parse_switch(const char *s, int *ret);
/* SIZE/DURATION, as 512M/1h (core/units.h syntax; the duration at least 1s),
 * or off (0, 0). */
int alert_parse_growth(const char *s, uint64_t *ret_bytes, uint64_t *ret_window_us);
/* GLOB,GLOB,... (blanks around commas ignored; empty: none).  Each glob
 * must start with '/', '[' or '*'.  *ret_v is owned by the caller (free
 * each string and the array with mm_free). */
int alert_parse_globs(const char *s, char ***ret_v, size_t *ret_n);

/* The process being judged. */
struct alert_proc {
        pid_t pid;
        uint64_t start_time; /* field 22 of /proc/PID/stat */
        uid_t uid;           /* effective uid: "its own user" */
};

enum alert_change {
        ALERT_RAISED,
        ALERT_CLEARED,
};

/* One raised or cleared alert.  Strings live in the alert_events' text. */
struct alert_event {
        enum alert_change change;
        enum alert_rule rule;
        uint64_t start, end;         /* the region; 0, 0 for a process rule */
        char perms[5];               /* "rwxp"; "" for a process rule */
        uint32_t line_off, line_len; /* the region's maps line when raised */
        uint32_t path_off, path_len; /* its path; empty when it has none */
        uint32_t reason_off, reason_len;
};

/* A reusable list of events: reset by the caller after each use, so that it
 * stops allocating once it has held its largest batch. */
struct alert_events {
        struct alert_event *v;
        size_t n;
        size_t cap;
        struct strbuf text; /* the events' strings, NUL-separated */
        uint64_t dropped;   /* alerts not raised: ALERTS_MAX_ACTIVE reached */
};

void alert_events_init(struct alert_events *e);
void alert_events_fini(struct alert_events *e);
void alert_events_reset(struct alert_events *e);

static inline const char *alert_event_line(const struct alert_events *e, const struct alert_event *ev) {
        return strbuf_str(&e->text) + ev->line_off;
}
static inline const char *alert_event_path(const struct alert_events *e, const struct alert_event *ev) {
        return strbuf_str(&e->text) + ev->path_off;
}
static inline const char *alert_event_reason(const struct alert_events *e, const struct alert_event *ev) {
        return strbuf_str(&e->text) + ev->reason_off;
}

/* An alert that is up (for the `alerts` command). */
struct alert_active {
        enum alert_rule rule;
        uint64_t start, end;
        char perms[5];
        uint32_t dev_major, dev_minor; /* the region's identity: what was */
        uint64_t inode;                /* mapped at start when raised */
        struct timespec raised;        /* CLOCK_REALTIME */
        char *text;                    /* owned: line '\0' reason '\0' */
        uint32_t line_len, path_off, path_len, reason_off, reason_len;
        /* Raised from a capture event, and no snapshot has shown its
         * region yet (alerts_event_settle). */
        int from_event;
};

/* The most alerts one process instance holds; more are counted in
 * alert_events.dropped and not raised, so that a process with 60,000 rwx
 * regions costs a bounded amount of memory and log. */
#define ALERTS_MAX_ACTIVE 1024

struct alert_fs_ops;
struct alert_state;

/* A state with the default policy, reading the file system through ops
 * (borrowed, with ctx).  Returns 0 or -ENOMEM. */
int alert_state_new(const struct alert_fs_ops *ops, void *ctx, struct alert_state **ret);
void alert_state_free(struct alert_state *s);

/* Takes a copy of p.  When it differs from the current one and a process is
 * followed (cur, its latest snapshot, not NULL), every region of cur is
 * judged again at once: alerts of rules now off, or of paths now allowed,
 * or whose condition no longer holds are cleared, and alerts the new rules
 * find are raised (new_exec only looks at mappings that appear from now
 * on).  Returns the number of events appended to out, or -ENOMEM (the old
 * policy stays). */
int alerts_set_policy(struct alert_state *s, const struct alert_policy *p, const struct maps_snapshot *cur,
                      uint64_t now_us, struct alert_events *out);
const struct alert_policy *alerts_policy(const struct alert_state *s);

/* A new process instance, with its first snapshot (parsed): every region is
 * judged ("present at attach").  Alerts of the instance before are cleared
 * first.  now_us is CLOCK_MONOTONIC, for growth windows and text checks.
 * Returns the number of events appended, or -errno. */
int alerts_first(struct alert_state *s, const struct alert_proc *proc, const struct maps_snapshot *cur,
                 uint64_t now_us, struct alert_events *out);

/* A change: d turns prev into cur (both parsed, as diff_compute left them).
 * Only the regions d adds or changes are judged; alerts of regions it
 * removes, or whose address now maps something else, are cleared.  Returns
 * the number of events appended, or -errno. */
int alerts_change(struct alert_state *s, const struct maps_snapshot *prev, const struct maps_snapshot *cur,
                  const struct diff *d, uint64_t now_us, struct alert_events *out);

/* The timed checks: text_mismatch every text_check (within its budget,
 * going round the executable file mappings of cur across checks), and the
 * re-arming of max_growth as its window slides.  Returns at once with 0
 * when none is due, without allocating.  Returns the number of events
 * appended, or -errno. */
int alerts_tick(struct alert_state *s, const struct maps_snapshot *cur, uint64_t now_us,
                struct alert_events *out);

/* When alerts_tick() has a check due next (CLOCK_MONOTONIC, as now_us),
 * or 0 when none is scheduled: a worker with nothing else to do sleeps
 * until then. */
uint64_t alerts_next_due(const struct alert_state *s);

/* Compares the code of cur's executable file mappings with their files now,
 * at most budget bytes from where the last check stopped, whatever the
 * schedule (`agent scan`).  Raises text_mismatch when its switch is on.
 * Returns the number of events appended, or -errno. */
int alerts_check_text(struct alert_state *s, const struct maps_snapshot *cur, uint64_t budget,
                      struct alert_events *out);

/* Capture events (eBPF mode, core/capture_event.h) are judged too, so that
 * a mapping that lives a millisecond between two snapshots still raises its
 * alert.  The caller turns each event into the region it made or changed
 * (address, length, protection, and the file or anonymous memory behind
 * it) and calls, in the order the events happened:
 *   alerts_event_map()     for a mapping made, moved, or given a new protection
 *   alerts_event_unmap()   for a range unmapped (or moved away)
 * then, with each snapshot that follows events, alerts_event_settle().
 * An alert raised from an event is raised once per (rule, region start,
 * instance) like any region alert; it is cleared by an unmap event over its
 * start, or by the next snapshot if its region is not there. */

/* Judges reg (a region of snap, which may hold that region alone) as a
 * region a sample adds: is_new says it became an executable mapping
 * (new_exec).  identity_known 0: what is behind the region (a file or
 * anonymous memory) is not known, and only wx, which needs no more than
 * the protection, is judged.  Returns the number of events appended, or
 * -errno. */
int alerts_event_map(struct alert_state *s, const struct maps_snapshot *snap, const struct region *reg,
                     int is_new, int identity_known, struct alert_events *out);

/* Clears the region alerts of regions that start in [start, end), with why
 * as the reason ("region unmapped").  Returns the number of events
 * appended, or -ENOMEM. */
int alerts_event_unmap(struct alert_state *s, uint64_t start, uint64_t end, const char *why,
                       struct alert_events *out);

/* cur (parsed) is the first snapshot after events: an alert raised from an
 * event whose region cur has (the same start and mapping) is kept, as if
 * that snapshot had raised it; one whose region is gone is cleared.
 * Returns the number of events appended, or -ENOMEM. */
int alerts_event_settle(struct alert_state *s, const struct maps_snapshot *cur, struct alert_events *out);

/* Clears every alert (the process exited, the target stops), with why as
 * the reason.  Returns the number of events appended, or -ENOMEM. */
int alerts_end(struct alert_state *s, const char *why, struct alert_events *out);

/* Forgets the process and its alerts without events (`agent scan` between
 * processes). */
void alerts_forget(struct alert_state *s);

/* The process followed, or NULL when none is. */
const struct alert_proc *alerts_process(const struct alert_state *s);

size_t alerts_active_count(const struct alert_state *s);
/* The i-th alert that is up, in address order; NULL past the end. */
const struct alert_active *alerts_active_get(const struct alert_state *s, size_t i);

/* Writes t (CLOCK_REALTIME) as "2026-11-25T18:33:28.123456Z" into buf and
 * returns buf ("" when it does not fit). */
const char *alerts_format_utc(const struct timespec *t, char *buf, size_t size);

/* Appends one line for people: "RULE: LINE: REASON" with the line and the
 * reason escaped by core/textesc.h.  Returns 0 or -ENOMEM. */
int alerts_format_text(struct strbuf *b, enum alert_rule rule, const char *line, size_t line_len,
                       const char *reason, size_t reason_len);

struct json_obj;

/* Writes the fields of an alert event into a JSON object being written
 * (core/json.h), in this order: "rule", "region" (the maps line), "start"
 * and "end" (hex, "0" for a process rule), "perms", "path", "reason".
 * The caller writes the rest ("v", "event", "pid", ...) around them. */
void alerts_json_fields(struct json_obj *o, const struct alert_events *e, const struct alert_event *ev);

/* Appends one line per alert that is up, for the `alerts` command:
 * "RULE: LINE: REASON (since 2026-11-25T18:33:28Z)", escaped as
 * alerts_format_text() does.  Returns the number of lines, or -ENOMEM. */
int alerts_format_active(const struct alert_state *s, struct strbuf *b);

/* The same as JSON Lines, one object per alert that is up:
 * {"v":1,"target":...,"pid":...,"start_time":...,"rule":...,"region":...,
 * "start":...,"end":...,"perms":...,"path":...,"reason":...,
 * "since":"2026-11-25T18:33:28.123456Z"} (pid and start_time of the
 * process followed; target as given).  Returns the number of lines, or
 * -ENOMEM (b then holds the lines before). */
int alerts_format_active_json(const struct alert_state *s, const char *target, struct strbuf *b);

#ifdef __cplusplus
}
#endif
#endif
