/*
 * capture: what a worker needs from the kernel-driven (eBPF) capture,
 * without knowing how it is done.  The capture/ package implements it with
 * libbpf; the agent hands the implementation to the workers; core/ never
 * links libbpf.
 *
 * For each watched process the capture keeps a change counter (seq) in
 * memory it shares with the kernel: +1 each time the kernel takes the
 * process's mmap lock for writing, after the lock is taken and before
 * anything changes.  So:
 *   - a worker reads /proc/PID/maps only when the counter moved;
 *   - capture_read_maps() keeps a read only if no change raced it: it
 *     loads seq, waits out any write section already running (a read lock
 *     taken and dropped: capture_barrier), reads, and loads seq again; equal
 *     loads mean the text is one state that existed, the state after every
 *     event with seq <= that value;
 *   - each change is also reported as an event (core/capture_event.h) into
 *     the target's capture_queue, which the worker drains.
 *
 * Thread safety: a capture_source's functions may be called from any
 * thread; a capture_queue has one producer (the capture's thread) and one
 * consumer (the worker), each side under the queue's lock.
 */
#ifndef MEMMON_CORE_CAPTURE_H
#define MEMMON_CORE_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/capture_event.h"
#include "core/capture_mode.h"
#include "core/maps.h"
#include "core/strbuf.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A watched process's counters, in memory the kernel writes. */
struct capture_counter {
        const uint64_t *seq;  /* +1 per write section on its mappings */
        const uint64_t *lost; /* its events the kernel's ring had no room for */
};

/* Loads *c->seq with acquire ordering: no system call. */
uint64_t capture_seq(const struct capture_counter *c);

/* Loads *c->lost. */
uint64_t capture_lost(const struct capture_counter *c);

/* Waits until no write section that began on pid's mappings before the
 * call is still running: takes and drops its mmap lock for reading
 * (process_vm_readv of one byte at address 0, which fails with EFAULT once
 * it has the lock; /proc/PID/cmdline when ptrace access is refused).
 * Returns 0, -ESRCH (pid is gone), or another -errno. */
int capture_barrier(pid_t pid);

/* Reads maps_fd (/proc/PID/maps of pid, watched with counter c) into s
 * with maps_read_fd(), up to max_tries times, until no change raced the
 * read.  Returns 0 with the counter value the text belongs to in *ret_seq
 * and the tries taken in *ret_tries (either may be NULL); -EAGAIN when
 * every try raced a change; -ESRCH when the process is gone; another
 * -errno.  s holds the last text read in every case; it is not parsed. */
int capture_read_maps(const struct capture_counter *c, pid_t pid, int maps_fd, struct maps_snapshot *s,
                      unsigned max_tries, uint64_t *ret_seq, unsigned *ret_tries);

/* A batch of events taken from a queue: its own memory, reused from batch
 * to batch.  Event paths point into paths. */
struct capture_batch {
        struct capture_event *ev;
        size_t n;
        size_t cap;
        char *paths;
        size_t paths_len;
        size_t paths_cap;
        uint64_t dropped; /* events the queue had no room for since the last take */
};

void capture_batch_init(struct capture_batch *b);
void capture_batch_fini(struct capture_batch *b);

/* Appends a copy of ev (and its path) to b, which holds at most max
 * events.  Returns 0, or -ENOBUFS when it is full or out of memory (the
 * event is counted in b->dropped). */
int capture_batch_push(struct capture_batch *b, const struct capture_event *ev, size_t max);

/* Forgets the first n events of b (all of them when n >= b->n); the rest
 * move to the front, paths included.  b->dropped is left as it is. */
void capture_batch_drop_front(struct capture_batch *b, size_t n);

/* A target's events on their way from the capture's thread to the worker:
 * grows as needed up to max_events (allocating nothing while the target is
 * quiet); past that, events are dropped and counted. */
struct capture_queue;

/* Returns 0 and a new empty queue, or -ENOMEM. */
int capture_queue_new(size_t max_events, struct capture_queue **ret);
void capture_queue_free(struct capture_queue *q);

/* Copies ev (and its path) into the queue.  Returns 0, or -ENOBUFS when it
 * is full or out of memory (the event is counted as dropped). */
int capture_queue_push(struct capture_queue *q, const struct capture_event *ev);

/* Hands every queued event, in the order pushed, to b (whose previous
 * contents are discarded) and empties the queue, in O(1) under the lock:
 * the queue takes b's buffers for its next events.  Returns the number of
 * events taken. */
size_t capture_queue_take(struct capture_queue *q, struct capture_batch *b);
/* The consumer's wake-up: while the queue is armed, the next push calls
 * wake(ctx) (on the producer's thread, under the queue's lock: it must not
 * block nor push) and disarms it, so a burst of events wakes it once. */
void capture_queue_set_wake(struct capture_queue *q, void (*wake)(void *ctx), void *ctx);
/* Arms the queue before the consumer sleeps.  Returns 0, -EAGAIN when
 * events (or drops) wait already (not armed: no need to sleep), or -EINVAL
 * when no wake-up is set. */
int capture_queue_arm(struct capture_queue *q);
/* Disarms the queue after a sleep.  Returns 1 when events (or drops) wait
 * in it, 0 otherwise. */
int capture_queue_disarm(struct capture_queue *q);

/* The implementation a worker is given (NULL: poll mode).  watch() starts
 * capturing pid: its counters in *ret, its events pushed to q (which must
 * outlive the watch; NULL: counted only).  unwatch() stops it: when it
 * returns, q is never touched again.  flush() hands every event already
 * reported for pid to its queue (the kernel posts them before the write
 * section ends, so after capture_read_maps() accepted a read at seq S, a
 * flush delivers every event with seq <= S).  Each returns 0 or -errno;
 * watch() returns -EEXIST when pid is already watched, -ENOSPC when no slot
 * is free. */
struct capture_source {
        int (*watch)(void *impl, pid_t pid, struct capture_queue *q, struct capture_counter *ret);
        int (*unwatch)(void *impl, pid_t pid);
        int (*flush)(void *impl);
        /* Adds (add) or drops one reference to a command name: while a
         * name has one, a process that execs under it (its first 15 bytes)
         * is watched by the kernel from its first instruction, its events
         * held for the watch() that takes it over; one that no watch()
         * takes is let go again.  Returns 0 or -errno.  May be NULL. */
        int (*match)(void *impl, const char *name, bool add);
        void *impl;
};

/* What one event did to a process's mappings, as far as the events say
 * (for the alert rules, which judge events as well as snapshots). */
enum capture_how {
        CAPTURE_MAPPED,    /* [start, end) is a new mapping with prot (mmap, shmat) */
        CAPTURE_PROTECTED, /* [start, end) now has prot (mprotect) */
        CAPTURE_MOVED,     /* the mapping at from is now at [start, end) (mremap) */
};

struct capture_effect {
        /* [unmap_start, unmap_end) is unmapped first (munmap; an mmap with a
         * fixed address over what was there; a mapping moved away). */
        bool unmap;
        uint64_t unmap_start, unmap_end;
        /* Then [start, end) is mapped, protected or moved. */
        bool map;
        enum capture_how how;
        uint64_t start, end;
        uint32_t prot; /* PROT_* (MAPPED, PROTECTED) */
        bool shared;   /* MAP_SHARED (MAPPED) */
        uint64_t from; /* MOVED: the old address */
        /* execve: the whole address space is replaced. */
        bool everything;
};

/* The effect of events[i], with the events after it that share its seq
 * (the `addr` record that says where a mapping without a fixed address
 * went).  Lengths are rounded up to whole pages (page bytes).  Returns 0,
 * or -ENOENT when the event changes nothing the rules judge, or when where
 * it mapped is not known (its `addr` record was lost). */
int capture_event_effect(const struct capture_event *events, size_t n, size_t i, uint64_t page,
                         struct capture_effect *ret);

/* Makes ret (initialised) a snapshot of one region, the line the kernel
 * would print for it: [start, end), perms ("rwxp"), offset, device, inode
 * and path (raw bytes, NULL or empty for none; a newline in it is written
 * as \012, as the kernel writes it).  Returns 0, -ENOMEM, or -EINVAL. */
int capture_region_snapshot(uint64_t start, uint64_t end, const char perms[4], uint64_t offset,
                            uint32_t dev_major, uint32_t dev_minor, uint64_t ino, const char *path,
                            size_t path_len, struct maps_snapshot *ret);

/* Appends a one-line description of ev for people (`agent replay
 * --events`): time, seq, operation, its arguments by name, protections,
 * the file; the path escaped as core/textesc.h does.  Returns 0 or
 * -ENOMEM. */
int capture_event_describe(const struct capture_event *ev, struct strbuf *out);

#ifdef __cplusplus
}
#endif
#endif
