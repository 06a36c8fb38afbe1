/*
 * report_data: the history that `agent report` draws, built from a walk
 * over a target's backup folder (backup_walk, core/backup_read.h), and
 * written as the JSON the page reads.
 *
 * A history is a list of moments (one per backup file, in time order) and
 * a list of intervals: one per region instance, from the moment its exact
 * maps line appeared to the moment it went (or the end).  A region whose
 * line changes (same start, anything else different, as core/diff.h
 * compares) ends one interval and starts another, so the regions alive at
 * moment m, in address order, joined with '\n', are byte for byte the maps
 * text backup_replay() rebuilds for m's timestamp.  The lines live in one
 * arena, each stored once per interval.
 */
#ifndef MEMMON_AGENT_REPORT_DATA_H
#define MEMMON_AGENT_REPORT_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/backup_read.h"
#include "core/maps.h"
#include "core/strbuf.h"
#include "core/ts.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a region is, for its colour on the page; the first that fits, in
 * this order. */
enum report_kind {
        REPORT_KIND_RWX,     /* writable and executable: the alarm colour */
        REPORT_KIND_GUARD,   /* no permission at all (---p): guard pages, reservations */
        REPORT_KIND_HEAP,    /* [heap] */
        REPORT_KIND_STACK,   /* [stack], [stack:TID] */
        REPORT_KIND_SPECIAL, /* [vdso], [vvar], [vsyscall] and other [names] */
        REPORT_KIND_FILE_RX, /* a file's code */
        REPORT_KIND_FILE_R,  /* a file, read-only */
        REPORT_KIND_FILE_RW, /* a file, writable */
        REPORT_KIND_ANON_X,  /* anonymous and executable (JIT code, injected code) */
        REPORT_KIND_ANON_RW, /* anonymous, writable ([anon:NAME] too) */
        REPORT_KIND_ANON_R,  /* anonymous, read-only */
        REPORT_KIND_COUNT,
};

/* The kind's id (a CSS class suffix: "file_rx") and its legend text. */
const char *report_kind_id(enum report_kind k);
const char *report_kind_name(enum report_kind k);
/* The kind of region r of s. */
enum report_kind report_kind_of(const struct maps_snapshot *s, const struct region *r);

#define REPORT_OPEN UINT32_MAX /* an interval still there at the end */

struct report_moment {
        char ts[TS_SIZE];
        char file[BACKUP_NAME_SIZE];
        int64_t us; /* ts in microseconds since the epoch */
        pid_t pid;  /* from the file's name */
        bool full;
        enum backup_step_result result;
        bool has_state;      /* a state exists after it (replay succeeds) */
        bool new_process;    /* the first state of another process instance */
        uint64_t start_time; /* of the state's process */
        uint32_t added, removed, changed;
        uint32_t regions; /* in the state after it */
        char *fault;      /* owned: "line 12: why" (BAD), or NULL */
};

struct report_interval {
        uint64_t start, end;
        uint32_t from, to; /* moment indices; to is REPORT_OPEN or > from */
        uint32_t line_off; /* the maps line, without '\n', in the arena */
        uint32_t line_len;
        uint8_t kind; /* enum report_kind */
};

struct report_history {
        struct report_moment *moments;
        size_t n_moments, moments_cap;
        struct report_interval *iv; /* in order of appearance; see report_history_finish */
        size_t n_iv, iv_cap;
        char *arena;
        size_t arena_len, arena_cap;
        /* The intervals of the current state, in address order. */
        uint32_t *open, *open_next;
        size_t n_open, open_cap;
        char target[BACKUP_TARGET_MAX + 1]; /* of the first state; "" when none */
        bool have_state;
        pid_t pid;
        uint64_t start_time;
        size_t bad; /* BAD steps */
};

void report_history_init(struct report_history *h);
void report_history_fini(struct report_history *h);

/* A backup_walk_fn (user: the history): adds the step as a moment and
 * updates the intervals.  Returns 0, -ENOMEM, or -EFBIG (more than 4 GiB of
 * lines or 4 billion moments). */
int report_history_step(void *user, const struct backup_step *step);

/* Ends the walk: drops the moments before the last one at or before
 * from_us (which is then the state at from_us; INT64_MIN: keep all) and the
 * intervals that ended before it, and sorts the intervals by start address
 * (then by time). */
void report_history_finish(struct report_history *h, int64_t from_us);

/* The maps text of moment m, as backup_replay() rebuilds it (empty when the
 * moment has no state), appended to out.  After report_history_finish.
 * Returns 0 or -ENOMEM. */
int report_history_text_at(const struct report_history *h, size_t m, struct strbuf *out);

#ifdef __cplusplus
}
#endif
#endif
