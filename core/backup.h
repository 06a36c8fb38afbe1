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
 * Records are in strictly increasing start-address order; `records` counts
 * records, a change ('<' and '>') being one record on two lines.
 *
 * File names are backup_<PID>_<TS>.maps and diff_<PID>_<TS>.diff exactly;
 * dotfiles (temp files among them) and other names are ignored by replay,
 * verify and retention.  Readers treat every file as hostile: a file is read
 * whole, bounded by its size on disk, and no count or length in its content
 * decides an allocation; the header must be exactly the lines above, in that
 * order, with canonical numbers, and its pid and time must match the name.
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
 * may be left out).  A missing fraction means the end of that second, and a
 * fraction of fewer than six digits the end of that interval (".5" is
 * .599999), so that `--at` a moment includes everything recorded in it.
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
 * temp files a crash left behind.  last_ts starts at the newest timestamp
 * already named in the folders, so new names sort after old ones even if the
 * clock went back across a restart.  Returns 0 or -errno; on failure *st is
 * left closed (backup_store_close on it is harmless). */
int backup_store_open(struct backup_store *st, const char *dir);
void backup_store_close(struct backup_store *st);

/* Writes a full snapshot of s (s->checksum must be set).  On success the
 * file's name (not path) is in ret_name when it is not NULL.  The timestamp
 * is CLOCK_REALTIME, or 1 µs after last_ts when the clock did not move past
 * it, so names are unique and increasing.  Returns 0, -EINVAL (bad info, or
 * s->checksum is not the checksum of s->text), or -errno from the file system
 * (-ENOSPC...); on failure no file is left under any name. */
int backup_write_full(struct backup_store *st, const struct backup_info *info,
                      const struct maps_snapshot *s, char ret_name[BACKUP_NAME_SIZE]);

/* Writes the diff d that turns old into cur (both checksums set).  A diff
 * with no records is not written: "no change, no file", and the call returns
 * -ENODATA so that no caller can mistake it for a written file (ret_name is
 * not touched).  Returns 0, -ENODATA, -EINVAL (a checksum that does not match
 * its text, or records that do not fit old and cur), or -errno as for
 * backup_write_full. */
int backup_write_diff(struct backup_store *st, const struct backup_info *info,
                      const struct maps_snapshot *old, const struct maps_snapshot *cur,
                      const struct diff *d, char ret_name[BACKUP_NAME_SIZE]);

/* Retention: deletes whole chains, oldest first, while there are more than
 * keep_full full snapshots (0: no limit) or the files take more than
 * max_bytes (0: no limit).  The newest chain is never deleted; diffs from
 * before the first full snapshot (which cannot be replayed) count as the
 * oldest chain.  A chain's diffs go newest first, then the folder is synced,
 * then the full snapshot goes: a crash midway leaves a full snapshot with a
 * prefix of its diffs, a shorter chain that still verifies, never a chain
 * with a hole, nor diffs without their full snapshot.  Returns the number of
 * files deleted or -errno. */
int backup_retention(struct backup_store *st, unsigned keep_full, uint64_t max_bytes);

/* Callback for messages from replay and verify: one line, no '\n'. */
typedef void (*backup_report_fn)(void *user, const char *line);

/* Rebuilds the maps at the moment `at` (a backup timestamp; NULL: the latest
 * recorded moment) from the newest chain that starts at or before it.  DIR is
 * a target's folder (holding full/ and incremental/).  ret must be
 * initialised; its contents are replaced only when 0 or 1 is returned.  On
 * corruption the result is the last good point and report() says which file,
 * line and why ("DIR/incremental/diff_...diff: line 12: ...; stopped at TS");
 * when the chain's full snapshot itself is bad, the last good point is the
 * end of an older chain.  report may be NULL.  Returns 0 (exact), 1 (stopped
 * early at the last good point), -ENOENT (nothing recorded at or before
 * `at`), -EINVAL (`at` is not a backup timestamp), -EBADMSG (no full snapshot
 * at or before `at` is readable), or another -errno. */
int backup_replay(const char *dir, const char *at, struct maps_snapshot *ret,
                  backup_report_fn report, void *user);

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

/*
 * Reading a chain from memory: the parsing that backup_replay and
 * backup_verify do on each file once it is read, with no file system.  They
 * call these functions on every file, so this is the one code path that
 * decides whether a file is good, and a fuzzer can drive it directly.
 */

#define BACKUP_TARGET_MAX 255 /* bytes of a target name in a header */

/* Why a file was rejected. */
struct backup_fault {
        size_t line;    /* 1-based line of the file; 0: the file as a whole */
        char why[256];  /* "bytes says 12, the file holds 11"; no location */
};

/* The state reached by reading a chain so far, and buffers reused from file
 * to file, so that a chain costs a few allocations, not a few per diff. */
struct backup_chain {
        int loaded;                     /* a full snapshot has been loaded */
        struct maps_snapshot cur;       /* the maps so far, checksum set */
        /* Identity from the chain's full snapshot, which its diffs must share. */
        char target[BACKUP_TARGET_MAX + 1];
        pid_t pid;
        uint64_t start_time;
        /* Scratch. */
        struct maps_snapshot next;
        char *out;
        size_t out_cap;
};

void backup_chain_init(struct backup_chain *c);
void backup_chain_fini(struct backup_chain *c);

/* Parses the full snapshot file held in buf[0..len) (need not be
 * NUL-terminated), which by its name records process pid at ts (a backup
 * timestamp), and on success makes it the start of the chain: c->cur, the
 * identity fields and loaded are set.  Everything in buf is checked (header
 * lines, name, byte count, checksum, every maps line, region count); no
 * number read from buf decides an allocation, only len does.  Returns 0,
 * -EBADMSG with *fault saying where and why, -EINVAL (bad arguments), or
 * -ENOMEM; on failure the chain's state (loaded, cur, identity) is as it
 * was. */
int backup_chain_load_full(struct backup_chain *c, const char *buf, size_t len, pid_t pid, const char *ts,
                           struct backup_fault *fault);

/* Parses the diff file held in buf[0..len), which by its name records
 * process pid at ts, and applies it to c->cur.  It must belong to the chain
 * (target, pid, start_time), apply to c->cur (base checksum, every removed
 * or old line present as written) and give its result checksum; as for
 * the full snapshot, only len bounds the allocations.  Returns 0, -EBADMSG
 * with *fault set, -EINVAL (bad arguments, or no full snapshot loaded), or
 * -ENOMEM; on failure the chain's state is as it was. */
int backup_chain_apply_diff(struct backup_chain *c, const char *buf, size_t len, pid_t pid, const char *ts,
                            struct backup_fault *fault);

#ifdef __cplusplus
}
#endif
#endif
