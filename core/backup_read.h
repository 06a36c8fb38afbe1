/*
 * backup_read: reading a target's backup folder (core/backup.h) back:
 * retention, replay and verify.  Every file is checked by the chain parser
 * of core/backup_chain.h; file names that are not backup names, and
 * dotfiles (temp files among them), are ignored.
 */
#ifndef MEMMON_CORE_BACKUP_READ_H
#define MEMMON_CORE_BACKUP_READ_H

#include <stdbool.h>
#include <stdint.h>

#include "core/backup.h"
#include "core/maps.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One chain that retention deleted. */
struct backup_retention_note {
        const char *first;   /* its full snapshot's file name (or its first diff's) */
        const char *from_ts; /* the moments it recorded, first and last */
        const char *to_ts;
        size_t files; /* deleted: the full snapshot and its diffs */
        uint64_t bytes;
        bool over_keep_full; /* the limit(s) that were passed */
        bool over_max_bytes;
        bool complete; /* false: deleting it failed midway (see the result) */
};

/* Called for every chain retention deletes, once it is gone (or once
 * deleting it failed). */
typedef void (*backup_retention_fn)(void *user, const struct backup_retention_note *note);

/* Retention: deletes whole chains, oldest first, while there are more than
 * keep_full full snapshots (0: no limit) or the files take more than
 * max_bytes (0: no limit).  The newest chain is never deleted; diffs from
 * before the first full snapshot (which cannot be replayed) count as the
 * oldest chain.  A chain's diffs go newest first, then the folder is synced,
 * then the full snapshot goes: a crash midway leaves a full snapshot with a
 * prefix of its diffs, a shorter chain that still verifies, never a chain
 * with a hole, nor diffs without their full snapshot.  Files whose names
 * are not backup names or whose timestamps lie in the future are left out:
 * never counted, never deleted.  note (may be NULL) hears of each chain
 * deleted.  Returns the number of files deleted or -errno. */
int backup_retention(struct backup_store *st, unsigned keep_full, uint64_t max_bytes,
                     backup_retention_fn note, void *user);

/* Sets st->bytes to the size of the backup files in its folders (temp files
 * and foreign names left out).  Leaves it as it was when a folder cannot be
 * listed. */
void backup_store_measure(struct backup_store *st);

/* Callback for messages from replay and verify: one line, no '\n'. */
typedef void (*backup_report_fn)(void *user, const char *line);

/* Rebuilds the maps at the moment `at` (a timestamp; NULL: the latest
 * recorded moment) from the newest chain that starts at or before it.  DIR is
 * a target's folder (holding full/ and incremental/).  ret must be
 * initialised; its contents are replaced only when 0 or 1 is returned.  On
 * corruption the result is the last good point and report() says which file,
 * line and why ("DIR/incremental/diff_...diff: line 12: ...; stopped at TS");
 * when the chain's full snapshot itself is bad, the last good point is the
 * end of an older chain.  report may be NULL.  Returns 0 (exact), 1 (stopped
 * early at the last good point), -ENOENT (nothing recorded at or before
 * `at`), -EINVAL (`at` is not a timestamp), -EBADMSG (no full snapshot at or
 * before `at` is readable), or another -errno. */
int backup_replay(const char *dir, const char *at, struct maps_snapshot *ret, backup_report_fn report,
                  void *user);

/* Checks every chain in DIR.  DIR is a target's folder, or a folder of target
 * folders (each subfolder with full/ or incremental/ is checked).  report()
 * gets "ok DIR/full/backup_...maps: N diffs" per good chain; for a bad chain
 * a line naming the first broken file and record ("DIR/incremental/
 * diff_...diff: line 7: result checksum mismatch ...") and then "bad
 * DIR/full/backup_...maps: K of N diffs good".  Diffs before any full
 * snapshot are a broken chain; so is a diff whose pid, start time or target
 * is not its chain's.  Returns the number of broken chains (0: all good),
 * -ENOENT when DIR holds no target folder, or another -errno. */
int backup_verify(const char *dir, backup_report_fn report, void *user);

/* What reading one backup file gave, in a walk over a folder. */
enum backup_step_result {
        BACKUP_STEP_GOOD,    /* read and applied */
        BACKUP_STEP_BAD,     /* rejected: fault says where and why */
        BACKUP_STEP_SKIPPED, /* a diff not read: its chain broke before it */
};

/* One backup file of a walk.  Everything is borrowed for the callback's
 * duration only. */
struct backup_step {
        const char *name; /* the file's name, in full/ (full) or incremental/ */
        const char *ts;   /* the timestamp in its name */
        pid_t pid;        /* the pid in its name */
        bool full;
        enum backup_step_result result;
        const struct backup_fault *fault; /* BAD only */
        /* The state after this file: the chain as read so far (loaded,
         * cur, target, pid, start_time).  A bad or skipped file leaves it
         * as it was, which is what backup_replay() rebuilds for a moment
         * after it. */
        const struct backup_chain *chain;
};

/* Return 0 to go on; a negative value stops the walk and is returned. */
typedef int (*backup_walk_fn)(void *user, const struct backup_step *step);

/* Reads the backup files of a target's folder DIR in time order and calls
 * fn for each, so that the state after every step is what backup_replay()
 * rebuilds for that step's timestamp.  The walk starts at the chain that
 * holds `from` (the newest full snapshot at or before it that reads well,
 * as replay picks it; NULL or no such chain: the first file) and ends with
 * the last file at or before `to` (NULL: the last file).  A diff with no
 * full snapshot before it is BAD; after a bad file the rest of its chain is
 * SKIPPED.  Returns the number of BAD files (0: all good), -ENOENT (no file
 * at or before `to`), -EINVAL (from or to is not a timestamp), what fn
 * returned to stop, or another -errno. */
int backup_walk(const char *dir, const char *from, const char *to, backup_walk_fn fn, void *user);

/* One item of backup_events(): an event, or (ev NULL) the number of events
 * a file says the capture lost in the interval it covers.  Borrowed for
 * the duration of the call. */
struct backup_event_item {
        const struct capture_event *ev;
        uint64_t lost;
        const char *file; /* "full/backup_...maps" or "incremental/diff_...diff" */
};
typedef void (*backup_event_fn)(void *user, const struct backup_event_item *item);

/* Hands every event recorded in DIR (a target's folder) whose time is in
 * [from, to] (timestamps; NULL: unbounded) to fn, in the order the chains
 * hold them, and each file's lost count (when it has one and the interval
 * since the file before it meets the range).  Every file is checked as replay checks it, chain by chain: a
 * chain that ends before `from` is skipped, and at a bad file report()
 * says which and why and that chain's later files are skipped.  Returns 0
 * (all good), 1 (some files were bad), -ENOENT (nothing recorded), -EINVAL
 * (from or to is not a timestamp), or another -errno. */
int backup_events(const char *dir, const char *from, const char *to, backup_event_fn fn,
                  backup_report_fn report, void *user);

/* What a target's folder holds, for messages. */
struct backup_span {
        /* The oldest moment replay can rebuild (the oldest full
         * snapshot's), "" when there is none; the newest recorded moment. */
        char first[TS_SIZE];
        char last[TS_SIZE];
        size_t chains; /* full snapshots */
        size_t files;
};

/* The span of the target folder DIR.  Returns 0, -ENOENT when it holds no
 * backup file, or another -errno. */
int backup_span(const char *dir, struct backup_span *ret);

/* Called for each target folder of a root: its name and span (zeroed when
 * it holds nothing readable). */
typedef void (*backup_target_fn)(void *user, const char *name, const struct backup_span *span);

/* Lists the target folders of DIR (the backups folder of the multi-target
 * layout) to fn (NULL: only counts them): its subfolders that hold full/ or
 * incremental/, in name order.
 * Returns how many there are (0 also when DIR is itself a target's folder),
 * or -errno. */
int backup_list_targets(const char *dir, backup_target_fn fn, void *user);

#ifdef __cplusplus
}
#endif
#endif
