/*
 * sample: what a worker does on its own thread with its own target: find
 * the process, open and read its maps, parse and diff what changed, and
 * write full snapshots and diffs.  Private to the worker (worker.c).
 * Every function is called from the worker's thread (or, before it runs,
 * by worker_start and worker_tick) and touches the thread-owned fields.
 */
#ifndef MEMMON_CORE_SAMPLE_H
#define MEMMON_CORE_SAMPLE_H

#include <sys/types.h>

struct worker;

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

/* Closes the maps fd, if open. */
void sample_close(struct worker *w);

#endif
