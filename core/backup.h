/*
 * backup: the on-disk chain of full snapshots and incremental diffs of one
 * target, and reading it back (replay, verify).
 *
 * Layout of one target's folder (DIR is `backups` in the seed's single-target
 * layout, `backups/<target>` otherwise):
 *   DIR/full/backup_<PID>_<TS>.maps
 *   DIR/incremental/diff_<PID>_<TS>.diff
 * TS is UTC, sortable and unique per target: 20261125T183328.123456Z.
 *
 * A chain is one full snapshot and the diffs whose TS follows it, up to the
 * next full snapshot.  Every file appears atomically (a temp file named
 * .tmp.* in the same folder, fsync, rename, fsync of the folder), mode 0600;
 * folders are 0700.
 *
 * Full snapshot format:
 *   # memmon full 1
 *   # target NAME
 *   # pid 1234
 *   # start_time 98765          (clock ticks since boot, /proc/PID/stat field 22)
 *   # time 20261125T183328.123456Z
 *   # regions 42
 *   # bytes 3456                (length of the maps text that follows)
 *   # checksum 0123456789abcdef (XXH3-64 of that text, 16 lowercase hex digits)
 *   <the maps text exactly as the kernel printed it>
 *
 * Incremental diff format:
 *   # memmon diff 1
 *   # target NAME
 *   # pid 1234
 *   # start_time 98765
 *   # time 20261125T183329.123456Z
 *   # base 0123456789abcdef     (checksum of the maps this diff applies to)
 *   # result fedcba9876543210   (checksum of the maps after applying it)
 *   # records 3
 *   + <added line>
 *   - <removed line>
 *   < <old line>                (a changed region: old line, then new line)
 *   > <new line>
 *   # end
 * Records are in start-address order.
 */
#ifndef MEMMON_CORE_BACKUP_H
#define MEMMON_CORE_BACKUP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "core/diff.h"
#include "core/maps.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BACKUP_TS_SIZE 24 /* "20261125T183328.123456Z" and its NUL */
#define BACKUP_NAME_SIZE 96

/* Formats a CLOCK_REALTIME time as a backup timestamp.  Returns 0 or -EINVAL. */
int backup_format_ts(const struct timespec *t, char ret[BACKUP_TS_SIZE]);

/* Normalises a user's --at argument into a backup timestamp: accepts
 * 20261125T183328[.ffffff]Z and 2026-11-25T18:33:28[.ffffff]Z (the trailing Z
 * may be left out).  A missing fraction means the end of that second.
 * Returns 0 or -EINVAL. */
int backup_parse_ts(const char *s, char ret[BACKUP_TS_SIZE]);

/* Identity of what a file records. */
struct backup_info {
        const char *target;     /* borrowed */
        pid_t pid;
        uint64_t start_time;
};

/* The open folders of one target, and reusable buffers so that writing does
 * not allocate once warmed up. */
struct backup_store {
        int dir_fd;             /* DIR */
        int full_fd;            /* DIR/full */
        int incr_fd;            /* DIR/incremental */
        char *dir;              /* owned copy of DIR, for messages */
        char last_ts[BACKUP_TS_SIZE];
        char *buf;              /* owned formatting buffer */
        size_t buf_cap;
};

/* Creates DIR, DIR/full and DIR/incremental as needed (0700, parents too,
 * never following a symlink at the last component), opens them, and removes
 * temp files a crash left behind.  Returns 0 or -errno. */
int backup_store_open(struct backup_store *st, const char *dir);
void backup_store_close(struct backup_store *st);

/* Writes a full snapshot of s (s->checksum must be set).  On success the
 * file's name (not path) is in ret_name when it is not NULL. */
int backup_write_full(struct backup_store *st, const struct backup_info *info,
                      const struct maps_snapshot *s, char ret_name[BACKUP_NAME_SIZE]);

/* Writes the diff d that turns old into cur (both checksums set). */
int backup_write_diff(struct backup_store *st, const struct backup_info *info,
                      const struct maps_snapshot *old, const struct maps_snapshot *cur,
                      const struct diff *d, char ret_name[BACKUP_NAME_SIZE]);

/* Retention: deletes whole chains, oldest first, while there are more than
 * keep_full full snapshots (0: no limit) or the files take more than
 * max_bytes (0: no limit).  The newest chain is never deleted.  Returns the
 * number of files deleted or -errno. */
int backup_retention(struct backup_store *st, unsigned keep_full, uint64_t max_bytes);

/* Callback for messages from replay and verify: one line, no '\n'. */
typedef void (*backup_report_fn)(void *user, const char *line);

/* Rebuilds the maps at the moment `at` (a backup timestamp; NULL: the latest
 * recorded moment) from the newest chain that starts at or before it.  DIR is
 * a target's folder (holding full/ and incremental/).  On corruption the
 * result is the last good point and report() says which file and why.
 * Returns 0 (exact), 1 (stopped early at the last good point), -ENOENT
 * (nothing recorded at or before `at`), or another -errno. */
int backup_replay(const char *dir, const char *at, struct maps_snapshot *ret,
                  backup_report_fn report, void *user);

/* Checks every chain in DIR.  DIR is a target's folder, or a folder of target
 * folders (each checked).  report() gets one line per chain checked and one
 * naming the first broken file and record of each bad chain.  Returns the
 * number of broken chains (0: all good) or -errno. */
int backup_verify(const char *dir, backup_report_fn report, void *user);

#ifdef __cplusplus
}
#endif
#endif
