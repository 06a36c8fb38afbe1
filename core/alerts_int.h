/*
 * alerts_int: what core/alerts*.c share and nobody else needs (the unit
 * tests aside): the kinds of mapping paths, the file checks and the code
 * comparison.
 */
#ifndef MEMMON_CORE_ALERTS_INT_H
#define MEMMON_CORE_ALERTS_INT_H

#include <stddef.h>
#include <stdint.h>

#include "core/alerts.h"
#include "core/alerts_fs.h"
#include "core/maps.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Room for a maps path: the kernel prints at most a page of it. */
#define ALERTS_PATH_MAX 4352
#define ALERTS_REASON_MAX 640

enum alert_path_kind {
        ALERT_PATH_ANON,    /* no file: "", [heap], [stack], [anon:...], /dev/zero, anon_inode:... */
        ALERT_PATH_SPECIAL, /* [vdso], [vsyscall], [uprobes], [vectors]: the kernel's own */
        ALERT_PATH_SHM,     /* /memfd:..., /dev/shm/..., /SYSV%08x (deleted) */
        ALERT_PATH_FILE,    /* any other absolute path */
};

#define ALERTS_RULE_BIT(r) (1u << (r))

/* max_growth keeps the minimum of the mapped bytes over its window in this
 * many slices of it: fixed memory, and a window that slides by 1/32. */
#define GROWTH_SLICES 32

struct growth_slice {
        uint64_t epoch; /* time / slice length; 0: unused */
        uint64_t min;
};

/* The alert state of one process instance (alerts.c; alerts_event.c judges
 * capture events against it). */
struct alert_state {
        const struct alert_fs_ops *ops;
        void *ctx;
        struct alert_policy policy;

        int attached;
        struct alert_proc proc;
        struct alert_active *active; /* sorted by (start, rule) */
        size_t n_active;
        size_t cap_active;
        size_t n_from_event; /* active alerts raised from capture events */

        uint64_t regions; /* of the latest snapshot */
        uint64_t mapped;  /* bytes, of the latest snapshot */
        struct growth_slice growth[GROWTH_SLICES];
        uint64_t growth_now;        /* mapped bytes at the latest sample */
        uint64_t growth_recheck_us; /* when a raised max_growth may re-arm */
        uint64_t next_text_us;      /* when text_mismatch is due; 0: never */
        uint64_t text_cursor;       /* the address the next check goes on from */
};

/* Which region rules hold for a region (alerts_judge_region). */
struct alerts_verdict {
        unsigned holds;                      /* ALERTS_RULE_BIT()s */
        char file_reason[ALERTS_REASON_MAX]; /* of deleted_exec or writable_exec_file */
};

/* The index of the first active alert at or after (start, rule). */
size_t alerts_lower_bound(const struct alert_state *s, uint64_t start, enum alert_rule rule);

/* Removes the active alert at index i, with an event in out when out is
 * given.  Returns 0 or -ENOMEM (nothing removed). */
int alerts_clear_at(struct alert_state *s, size_t i, const char *why, struct alert_events *out);

/* Which region rules hold for reg of snap now (v->holds).  is_new: the
 * region became an executable mapping (new_exec).  again: judge the file
 * even when one of its alerts is up already (a policy change). */
void alerts_judge_region(struct alert_state *s, const struct maps_snapshot *snap, const struct region *reg,
                         int is_new, int again, struct alerts_verdict *v);

/* Raises what v holds on reg and is not up yet (an rwx region without a
 * file is one wx alert, not wx and anon_exec).  Returns 0 or -ENOMEM. */
int alerts_raise_held(struct alert_state *s, const struct maps_snapshot *snap, const struct region *reg,
                      const struct alerts_verdict *v, struct alert_events *out);

/* What kind of thing a maps path (as printed, without '\n') names. */
enum alert_path_kind alerts_path_kind(const char *path, size_t len);

/* 1 when the printed path ends in " (deleted)". */
int alerts_path_deleted(const char *path, size_t len);

/* Judges the file behind the executable file mapping r of snap: deleted or
 * replaced on disk (when want_deleted), else writable by another user (when
 * want_writable).  Returns ALERT_DELETED_EXEC or ALERT_WRITABLE_EXEC_FILE
 * with reason[] filled, or ALERT_RULE_COUNT when neither fires (or the facts
 * could not be had: no alert on a guess). */
enum alert_rule alerts_file_check(const struct alert_fs_ops *ops, void *ctx, const struct alert_proc *proc,
                                  const struct maps_snapshot *snap, const struct region *r, int want_deleted,
                                  int want_writable, char *reason, size_t reason_size);

/* Buffers of one code comparison, allocated per check. */
struct alerts_text_bufs {
        unsigned char *mem;
        unsigned char *file;
        size_t size; /* of each, a multiple of the page size */
};

/* Compares the code of r (an executable file mapping of snap) from address
 * `from` on with its file, at most budget bytes.  *ret_used gets the bytes
 * compared (or skipped as unreadable) and *ret_next the address to go on
 * from (r->end when the region is done).  Returns 1 when code differs
 * (reason[] names the pages), 0 when it does not or cannot be compared. */
int alerts_text_compare(const struct alert_fs_ops *ops, void *ctx, const struct alert_proc *proc,
                        const struct maps_snapshot *snap, const struct region *r, uint64_t from,
                        uint64_t budget, struct alerts_text_bufs *bufs, uint64_t *ret_used,
                        uint64_t *ret_next, char *reason, size_t reason_size);

#ifdef __cplusplus
}
#endif
#endif
