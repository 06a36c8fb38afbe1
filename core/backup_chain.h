/*
 * backup_chain: the files of a backup chain, and reading a chain from
 * memory, with no file system.
 *
 * A chain is one full snapshot and the diffs whose timestamp follows it, up
 * to the next full snapshot.  Its files are named
 *   backup_<PID>_<TS>.maps          (full snapshot, in full/)
 *   diff_<PID>_<TS>.diff            (incremental diff, in incremental/)
 * with TS a timestamp of core/ts.h.
 *
 * Full snapshot format (version 2; version 1 is the same without the
 * optional lines, and is still read):
 *   # memmon full 2
 *   # target NAME
 *   # pid 1234
 *   # start_time 98765          (clock ticks since boot, /proc/PID/stat field 22)
 *   # time 20261125T183328.123456Z
 *   # seq 17                    (optional: the change counter the text was read at)
 *   # regions 42
 *   # bytes 3456                (length of the maps text that follows the events)
 *   # checksum 0123456789abcdef (XXH3-64 of that text, 16 lowercase hex digits)
 *   # lost 2                    (optional, > 0: events of the interval not kept)
 *   # events 2                  (optional, > 0: event lines that follow)
 *   ! <event>                   (core/backup_event.h)
 *   ! <event>
 *   <the maps text exactly as the kernel printed it>
 *
 * Incremental diff format (version 2; version 1 likewise):
 *   # memmon diff 2
 *   # target NAME
 *   # pid 1234
 *   # start_time 98765
 *   # time 20261125T183329.123456Z
 *   # seq 20                    (optional, as above)
 *   # base 0123456789abcdef     (checksum of the maps this diff applies to)
 *   # result fedcba9876543210   (checksum of the maps after applying it)
 *   # records 3
 *   # lost 2                    (optional, as above)
 *   # events 2                  (optional, as above)
 *   ! <event>
 *   ! <event>
 *   + <added line>
 *   - <removed line>
 *   < <old line>                (a changed region: old line, then new line)
 *   > <new line>
 *   # end
 * Records are in strictly increasing start-address order; `records` counts
 * records, a change ('<' and '>') being one record on two lines.  A diff
 * may have no record and only events (then base == result).
 *
 * Events (kernel-driven capture) say what happened in the interval since
 * the previous file of the target, in the order it happened; a file's
 * events precede its state, so with `# seq S` every event has seq <= S.
 * Within a chain, event times and seqs never decrease, nor do the files'
 * seqs.  A file of poll mode has no `# seq`, no `# lost` and no events.
 *
 * Readers treat every file as hostile: no count or length in its content
 * decides an allocation; the header must be exactly the lines above, in
 * that order, with canonical numbers, and its pid and time must match the
 * name.  backup_replay and backup_verify (core/backup_read.h) call the
 * functions below on every file, so this is the one code path that decides
 * whether a file is good, and a fuzzer can drive it directly.
 */
#ifndef MEMMON_CORE_BACKUP_CHAIN_H
#define MEMMON_CORE_BACKUP_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/capture_event.h"
#include "core/maps.h"
#include "core/ts.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BACKUP_NAME_SIZE 96
#define BACKUP_TARGET_MAX 255 /* bytes of a target name in a header */
#define BACKUP_FORMAT 2       /* the version the writers write; 1 is still read */

/* Parses backup_<PID>_<TS>.maps (full) or diff_<PID>_<TS>.diff exactly.
 * Returns 0 or -EINVAL (another name). */
int backup_name_parse(const char *name, bool full, pid_t *ret_pid, char ret_ts[TS_SIZE]);

/* Writes the name of a full snapshot or a diff.  Returns 0 or
 * -ENAMETOOLONG. */
int backup_name_format(bool full, pid_t pid, const char ts[TS_SIZE], char ret[BACKUP_NAME_SIZE]);

/* True when s[0..len) can be a header's target: 1..BACKUP_TARGET_MAX bytes,
 * no control bytes. */
bool backup_target_ok(const char *s, size_t len);

/* Why a file was rejected. */
struct backup_fault {
        size_t line;   /* 1-based line of the file; 0: the file as a whole */
        char why[256]; /* "bytes says 12, the file holds 11"; no location */
};

/* The state reached by reading a chain so far, and buffers reused from file
 * to file, so that a chain costs a few allocations, not a few per diff. */
struct backup_chain {
        int loaded;               /* a full snapshot has been loaded */
        struct maps_snapshot cur; /* the maps so far, checksum set */
        /* Identity from the chain's full snapshot, which its diffs must share. */
        char target[BACKUP_TARGET_MAX + 1];
        pid_t pid;
        uint64_t start_time;
        /* What the last file accepted carries besides the maps: its format
         * version, its `# seq` (has_seq), its `# lost` (0 when absent) and
         * its events, whose paths point into ev_paths.  Valid after a
         * successful load or apply, until the next call. */
        unsigned version;
        bool has_seq;
        uint64_t seq;
        uint64_t lost;
        struct capture_event *events;
        size_t n_events;
        /* Order so far in the chain, which the next file must keep. */
        bool have_event;
        uint64_t last_event_seq;
        char last_event_time[TS_SIZE];
        bool have_file_seq;
        uint64_t last_file_seq;
        /* Scratch. */
        struct maps_snapshot next;
        char *out;
        size_t out_cap;
        struct capture_event *ev_next; /* events of the file being read */
        size_t ev_cap;                 /* of events and ev_next */
        char *ev_paths;                /* their unescaped paths */
        char *ev_paths_next;
        size_t ev_paths_cap; /* of ev_paths and ev_paths_next */
};

/* Records in *f why a file is rejected (at line, 0: the file as a whole),
 * cutting the message with "..." when it does not fit.  Returns -EBADMSG,
 * for the caller to pass on. */
int backup_faultf(struct backup_fault *f, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

void backup_chain_init(struct backup_chain *c);
void backup_chain_fini(struct backup_chain *c);

/* Parses the full snapshot file held in buf[0..len) (need not be
 * NUL-terminated), which by its name records process pid at ts (a
 * timestamp), and on success makes it the start of the chain: c->cur, the
 * identity fields and loaded are set.  Everything in buf is checked (header
 * lines, name, byte count, checksum, every maps line, region count); no
 * number read from buf decides an allocation, only len does.  Returns 0,
 * -EBADMSG with *fault saying where and why, -EINVAL (bad arguments), or
 * -ENOMEM; on failure the chain's state (loaded, cur, identity, order) is
 * as it was.  Versions 1 and 2 are read; the file's events (and its seq)
 * must be in order among themselves. */
int backup_chain_load_full(struct backup_chain *c, const char *buf, size_t len, pid_t pid, const char *ts,
                           struct backup_fault *fault);

/* Parses the diff file held in buf[0..len), which by its name records
 * process pid at ts, and applies it to c->cur.  It must belong to the chain
 * (target, pid, start_time), apply to c->cur (base checksum, every removed
 * or old line present as written) and give its result checksum; as for
 * the full snapshot, only len bounds the allocations.  Its events and seq
 * must follow those of the chain so far (see above).  Returns 0, -EBADMSG
 * with *fault set, -EINVAL (bad arguments, or no full snapshot loaded), or
 * -ENOMEM; on failure the chain's state is as it was. */
int backup_chain_apply_diff(struct backup_chain *c, const char *buf, size_t len, pid_t pid, const char *ts,
                            struct backup_fault *fault);

#ifdef __cplusplus
}
#endif
#endif
