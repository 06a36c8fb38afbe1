/*
 * exitwatch: one thread that waits on the pidfds of watched processes and
 * says at once when one ends.
 *
 * In eBPF capture a quiet target is not read between resyncs, and the BPF
 * program does not see an exit (the address space loses its owner before it
 * is torn down), so a worker would learn of an exit only at its next
 * resync.  Each worker hands its process's pidfd (pidfd_open(2)) to the
 * supervisor's exit_watch, whose thread calls the worker back (a REQ_SAMPLE)
 * when the pidfd becomes readable: every thread of the process has ended.
 *
 * Thread safety: every function but exit_watch_free may be called from any
 * thread.  A callback runs on the watch's thread under its lock: it must not
 * call exit_watch_add or exit_watch_remove, and must not block.
 */
#ifndef MEMMON_CORE_EXITWATCH_H
#define MEMMON_CORE_EXITWATCH_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct exit_watch;

/* Starts the thread (its signals are blocked by the caller before).
 * Returns 0 and *ret, or -errno. */
int exit_watch_new(struct exit_watch **ret);

/* Stops the thread and frees; accepts NULL.  The pidfds are the callers'. */
void exit_watch_free(struct exit_watch *x);

/* Calls fn(ctx) once, on the watch's thread, when pidfd becomes readable.
 * pidfd stays the caller's, open until exit_watch_remove() returned.
 * Returns 0 and an id for exit_watch_remove() in *ret_id, or -errno. */
int exit_watch_add(struct exit_watch *x, int pidfd, void (*fn)(void *ctx), void *ctx, uint64_t *ret_id);

/* Forgets id: when it returns, its fn is not running and is never called
 * again.  An id already forgotten (or 0) is ignored. */
void exit_watch_remove(struct exit_watch *x, uint64_t id);

#ifdef __cplusplus
}
#endif
#endif
