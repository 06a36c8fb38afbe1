/*
 * backup: writing one target's backup chain (core/backup_chain.h says what
 * a chain and its files are).
 *
 * Layout of one target's folder (DIR is `backups` in the single-target
 * layout, `backups/<target>` otherwise):
 *   DIR/full/backup_<PID>_<TS>.maps
 *   DIR/incremental/diff_<PID>_<TS>.diff
 * Every file appears atomically (fs_write_atomic: a temp file in the same
 * folder, fsync, rename, fsync of the folder), mode 0600; folders are 0700.
 * Reading the folder back (retention, replay, verify) is core/backup_read.h.
 */
#ifndef MEMMON_CORE_BACKUP_H
#define MEMMON_CORE_BACKUP_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/backup_chain.h"
#include "core/capture_event.h"
#include "core/diff.h"
#include "core/maps.h"
#include "core/ts.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Identity of what a file records. */
struct backup_info {
        const char *target; /* borrowed */
        pid_t pid;
        uint64_t start_time;
};

/* The open folders of one target, and reusable buffers so that writing does
 * not allocate once warmed up.  The fields are the store's own: read them,
 * never set them. */
struct backup_store {
        int dir_fd;  /* DIR */
        int full_fd; /* DIR/full */
        int incr_fd; /* DIR/incremental */
        char *dir;   /* owned copy of DIR, for messages */
        char last_ts[TS_SIZE];
        /* Files found at open whose names are not backup names or whose
         * timestamps lie in the future: left alone and ignored (for naming
         * here, for retention in core/backup_read.h); the first of them,
         * as "full/NAME", for the caller to report once. */
        unsigned ignored;
        char ignored_name[NAME_MAX + 16];
        char *buf; /* owned formatting buffer */
        size_t buf_cap;
        /* Bytes of the backup files in full/ and incremental/: measured at
         * open, grown by each write, set again by backup_retention(). */
        uint64_t bytes;
};

/* Makes st a closed store, which backup_store_open() may open and
 * backup_store_close() may close. */
void backup_store_init(struct backup_store *st);

/* True when st was opened and not closed since. */
bool backup_store_is_open(const struct backup_store *st);

/* Creates DIR, DIR/full and DIR/incremental as needed (0700, parents too,
 * never following a symlink at the last component), opens them, checks that
 * each is owned by root or the effective uid and writable by nobody else
 * (-EPERM otherwise), and removes temp files a crash left behind.  last_ts
 * starts at the newest timestamp already named in the folders that is not
 * in the future, so new names sort after old ones; a future name, or one
 * that is not a backup name, is ignored and counted in `ignored`.  DIR is a
 * path the caller trusts (tests, tools).  Returns 0 or -errno; on failure
 * *st is left closed. */
int backup_store_open(struct backup_store *st, const char *dir);
/* The same for DIR, a path under root (the base directory, open as
 * root_fd), reached from root_fd through core/fs.h's door: no folder on the
 * way may be a symlink.  -EXDEV when DIR is not under root. */
int backup_store_open_at(struct backup_store *st, int root_fd, const char *root, const char *dir);
void backup_store_close(struct backup_store *st);

/* What a file of the kernel-driven capture (core/capture.h) carries
 * besides the maps, in format 2 (core/backup_chain.h): the change counter
 * the maps were read at, the events of the interval since the target's
 * previous file (in order, every seq <= seq when has_seq), and how many
 * events of that interval were lost.  Poll mode has none of it. */
struct backup_capture {
        bool has_seq;
        uint64_t seq;
        uint64_t lost;
        const struct capture_event *events; /* borrowed */
        size_t n_events;
};

/* Writes a full snapshot of s (s->checksum must be set).  On success the
 * file's name (not path) is in ret_name when it is not NULL.  The timestamp
 * is CLOCK_REALTIME, or 1 µs after last_ts when the clock did not move past
 * it, so names are unique and increasing.  Returns 0, -EINVAL (bad info, or
 * s->checksum is not the checksum of s->text), or -errno from the file system
 * (-ENOSPC...); on failure no file is left under any name. */
int backup_write_full(struct backup_store *st, const struct backup_info *info, const struct maps_snapshot *s,
                      char ret_name[BACKUP_NAME_SIZE]);

/* backup_write_full() with what the capture saw (cap may be NULL: none).
 * Events that capture_event_check() refuses, or out of order, are -EINVAL
 * and nothing is written. */
int backup_write_full_captured(struct backup_store *st, const struct backup_info *info,
                               const struct maps_snapshot *s, const struct backup_capture *cap,
                               char ret_name[BACKUP_NAME_SIZE]);

/* Writes the diff d that turns old into cur (both checksums set).  A diff
 * with no records is not written: "no change, no file", and the call returns
 * -ENODATA so that no caller can mistake it for a written file (ret_name is
 * not touched).  Returns 0, -ENODATA, -EINVAL (a checksum that does not match
 * its text, or records that do not fit old and cur), or -errno as for
 * backup_write_full. */
int backup_write_diff(struct backup_store *st, const struct backup_info *info,
                      const struct maps_snapshot *old, const struct maps_snapshot *cur, const struct diff *d,
                      char ret_name[BACKUP_NAME_SIZE]);

/* backup_write_diff() with what the capture saw (cap may be NULL: none).
 * "No change and no event, no file": a diff with no records is written
 * when cap has events (old and cur must then be the same text), and
 * -ENODATA is returned only when there is neither.  Events are checked as
 * for backup_write_full_captured(). */
int backup_write_diff_captured(struct backup_store *st, const struct backup_info *info,
                               const struct maps_snapshot *old, const struct maps_snapshot *cur,
                               const struct diff *d, const struct backup_capture *cap,
                               char ret_name[BACKUP_NAME_SIZE]);

#ifdef __cplusplus
}
#endif
#endif
