/*
 * sample: what a worker does on its own thread with its own target: find
 * the process, open and read its maps, parse and diff what changed, and
 * write full snapshots and diffs.  Private to the worker (worker.c).
 * Every function is called from the worker's thread (or, before it runs,
 * by worker_start and worker_tick) and touches the thread-owned fields.
 */
#ifndef MEMMON_CORE_SAMPLE_H
#define MEMMON_CORE_SAMPLE_H

#include <stdint.h>
#include <sys/types.h>

#include "core/backup.h"
#include "core/maps.h"

struct worker;
struct proc_id;

/* Tries to attach to the target's process.  Returns 0 when attached. */
int sample_attach(struct worker *w);

/* One sample: read, and when the text changed, read again until it holds
 * still, then parse, diff and write.  Returns 0, -EAGAIN when the maps
 * changed during every read and nothing was recorded, or another -errno
 * (already reported). */
int sample_tick(struct worker *w);

/* A manual or signalled full backup of the current maps, after a sample.
 * Returns 0, -ESRCH (nothing to back up: paused, exited, no process), or
 * -errno. */
int sample_backup(struct worker *w);

/* Leaves the current process for pid: the old chain ends with a full
 * snapshot of its last state, the figures of the old process are reset, a
 * target named after its pid is renamed, and a new chain starts. */
void sample_follow_pid(struct worker *w, pid_t pid);

/* The target stops: a final full snapshot when final, then the maps are
 * closed. */
void sample_stop(struct worker *w, int final);

/* Closes the maps fd, if open, and stops watching the process (eBPF). */
void sample_close(struct worker *w);

/* What sample.c (polling, and the chain) and sample_capture.c (the eBPF
 * capture) share. */

/* Writes a full snapshot of s (w->cur or w->prev) and logs it.  final: the
 * chain ends with it (the process exited, or is no longer followed), and
 * in eBPF capture every event not yet written goes with it.  Returns 0 or
 * -errno (already logged). */
int sample_write_full(struct worker *w, const struct maps_snapshot *s, const char *why, int final);

/* Writes w->diff (w->prev to w->cur) and logs it.  In eBPF capture a diff
 * with no record is written when events go with it.  Returns 0 or -errno
 * (already logged). */
int sample_write_diff(struct worker *w);

/* w->cur differs from w->prev: writes the diff, or a full snapshot when one
 * is due (sample_full_due()).  A failed write is logged and marks the next
 * file full; returns 0 then too.  Returns -errno (logged) only when the
 * diff cannot be computed. */
int sample_record_change(struct worker *w);

/* The process instance is gone: its last state recorded (with every event
 * not yet written), the target waits or ends. */
void sample_lost(struct worker *w);

/* The address space the maps fd was opened on went away (exec, or exit):
 * opens the maps of the live process again, after checking the instance
 * and that it may still be watched.  Returns 0, -ESRCH (gone), or -EPERM
 * (may no longer be watched: already reported and closed). */
int sample_reopen(struct worker *w);

/* True when the address space the maps fd reads is still there (a
 * one-byte read): a read that ended before a test that says so was not
 * cut short by an exit or exec. */
int sample_space_alive(struct worker *w);

/* A full snapshot is due (full_every, full_interval, a failed write). */
int sample_full_due(struct worker *w);

/* Counts a tick whose maps changed during every read.  Returns 1 when it
 * is to be logged now (at most every 10 s), with more[] saying how many
 * went unlogged since the last line ("" when none). */
int sample_count_unstable(struct worker *w, char *more, size_t size);

/* w->prev is the new state: regions, bytes, last change for status. */
void sample_note_change(struct worker *w);

/* sample_capture.c: the eBPF capture of one target. */

/* With the maps open and the instance checked, before its first read:
 * watch the process (its counter, its events, its pidfd).  Where it
 * cannot, the target polls and the log says why. */
void sample_capture_attach(struct worker *w);
/* A tick read no state of a process that has none recorded yet (every
 * read raced a change: a program starting, its loader mapping libraries):
 * the next try comes sooner than the interval, 5 ms, then twice as late
 * each time. */
void sample_first_retry(struct worker *w);
/* After a tick: how soon (microseconds) the next one should be when sooner
 * than the interval (sample_first_retry()); 0: on the interval. */
uint64_t sample_retry_us(const struct worker *w);
/* Stops watching: unwatch (the queue is then no longer touched), the
 * pidfd forgotten.  The events not yet written are dropped. */
void sample_capture_detach(struct worker *w);
/* One tick of a watched target: a consistent read when the counter moved
 * (or a resync or a request is due), the file with its events, alerts.
 * Returns as sample_tick(). */
int sample_capture_tick(struct worker *w);
/* The next file of the chain records the state read at seq: takes the
 * capture's events, and fills cap with those that go into it (final: every
 * event not yet written, and no seq when one came after it).  Returns how
 * many events of w->pend it covers. */
size_t sample_capture_prepare(struct worker *w, uint64_t seq, int final, struct backup_capture *cap);
/* The file prepared with cap (n events) was written (ok) or not: the
 * events it holds are forgotten, lost events counted and logged. */
void sample_capture_written(struct worker *w, size_t n, const struct backup_capture *cap, int ok);
/* Judges the events not judged yet, up to seq (UINT64_MAX: all), with the
 * alert rules. */
void sample_capture_judge(struct worker *w, uint64_t seq);
/* Forgets events that belong to a program the target may not watch: every
 * one after the first execve not yet written. */
void sample_capture_drop_after_exec(struct worker *w);
/* A waiting `match` target: the process a capture exec named, or, when a
 * scan of /proc is due (at first, then every resync), the scan's.  Returns
 * 0 with *ret, -ESRCH, or another -errno. */
int sample_capture_find(struct worker *w, struct proc_id *ret);
/* After a tick: whether the target needs no tick until its capture reports
 * a record, its exit watch or a request wakes the worker, or *ret_until_us
 * (CLOCK_MONOTONIC: its resync or its next timed alert check) comes. */
int sample_capture_quiet(struct worker *w, uint64_t *ret_until_us);
/* The process ended: when no state of it was ever read, its events have
 * nothing to follow in the chain; says so and counts them lost. */
void sample_capture_exit_unread(struct worker *w);
/* Before each sleep of a quiet target: the next record posts w->wake.
 * Returns 0, or -EAGAIN when records came already (a tick is wanted). */
int sample_capture_arm(struct worker *w);
/* After it: disarms.  Returns 1 when records came (a tick is wanted), 0
 * otherwise. */
int sample_capture_woken(struct worker *w);
/* The target waits (1) or no longer does (0): its match name goes into or
 * out of the exec hook's list. */
void sample_capture_waiting(struct worker *w, int waiting);
/* settle.c: the re-reads of a change tick. */

/* What the reads of one change tick were, for the log. */
struct settle_stats {
        int reads;
        int out_of_order; /* torn: lines overlap or go backwards */
        int size;         /* torn: regions do not add up to the size */
        int files;        /* torn: file-backed regions not as listed */
        /* Two reads agreed, the size stood still all through both, and
         * their text was still refuted. */
        int steady;
};

/* Results of settle(), besides -errno. */
#define SETTLED 0   /* two consecutive reads agreed: w->cur */
#define UNSETTLED 1 /* none did: w->cur is the last read that was sound */

/* w->cur holds a read whose text differs from the last one recorded: reads
 * again at once until two consecutive reads agree and are not torn, at
 * most SETTLE_READS reads.  Returns SETTLED or UNSETTLED with the text to
 * record parsed in w->cur, -EAGAIN when every read was torn, -ESTALE when
 * the address space went away during a read, or another -errno. */
int sample_settle(struct worker *w, struct settle_stats *st);

/* Frees what the capture holds (worker_free). */
void sample_capture_fini(struct worker *w);

#endif
