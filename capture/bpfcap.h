/*
 * bpfcap: memmon's kernel-driven capture, the user-space side of the BPF
 * program memmon.bpf.c (built into a skeleton with bpftool).  It implements
 * core/capture.h's struct capture_source for the workers; the agent owns
 * one bpfcap and wires it.
 *
 * bpfcap_new() decides whether eBPF capture can run here (privileges, user
 * namespace, kernel BTF, the program loads, attaches and maps) and, when it
 * cannot, says why in one line, so that `capture = auto` falls back to
 * polling with that reason.  Once running:
 *   - bpfcap_watch() starts counting and reporting one process, its events
 *     handed to a sink of the caller's (a worker's capture_queue);
 *   - the change counter of a watched process is memory shared with the
 *     kernel (bpfcap_counter()), read without a system call;
 *   - bpfcap_consume() (or the thread of bpfcap_start()) drains the rings:
 *     each mapping record is decoded into a struct capture_event and handed
 *     to its process's sink; exec and fork records go to on_proc;
 *   - bpfcap_match_comm() makes the exec hook itself watch a process that
 *     starts with a given command name, from its first instruction on; its
 *     events are held until bpfcap_adopt() gives them a sink.
 * A full ring loses records, never counts: each is counted per process
 * (the slot's lost, capture_counter.lost) and in bpfcap_get_stats().
 *
 * Thread safety: every function may be called from any thread, except
 * bpfcap_free().  A sink is called with the bpfcap's lock held: it must not
 * call back into the bpfcap; once bpfcap_unwatch() returns, the process's
 * sink is never called again.
 */
#ifndef MEMMON_CAPTURE_BPFCAP_H
#define MEMMON_CAPTURE_BPFCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/capture.h"
#include "core/capture_event.h"

#ifdef __cplusplus
extern "C" {
#endif

struct bpfcap;

/* Where a watched process's events go.  ev (and its path) is borrowed for
 * the duration of the call. */
struct bpfcap_sink {
        void (*fn)(void *ctx, const struct capture_event *ev);
        void *ctx;
};

enum bpfcap_proc_kind {
        BPFCAP_EXEC = 1,
        BPFCAP_FORK = 2, /* a new process (not a thread) */
};

/* An exec or a fork, decoded.  Strings are NUL-terminated and raw (the
 * kernel's bytes: escape them before printing). */
struct bpfcap_proc {
        enum bpfcap_proc_kind kind;
        char time[TS_SIZE];
        pid_t pid;  /* exec: the process; fork: the child */
        pid_t ppid; /* the parent */
        uid_t uid;
        pid_t old_tid;  /* exec: the thread that called execve */
        bool watched;   /* exec: the exec hook watches it (bpfcap_match_comm) */
        char comm[16];  /* after exec: the new command name */
        char file[256]; /* exec: the path given to execve */
};

struct bpfcap_options {
        unsigned max_slots; /* processes watched at most; 0: 4096 */
        size_t ring_bytes;  /* mapping ring: a power of two, at least a page; 0: 4 MiB */
        size_t wake_bytes;  /* wake the consumer only once this much is queued; 0: per record */
        unsigned poll_ms;   /* bpfcap_start()'s thread drains at least this often; 0: 100 */
        size_t pending_max; /* events held for a process the exec hook watched; 0: 4096 */
        bool want_fork;     /* report forks too */
        bool force_raw_tp;  /* use the raw tracepoint even where tp_btf works (tests) */
        /* Leave out the vm_unmapped_area hook: no `addr` records (the
         * address the kernel chose for a mapping without a fixed one), and
         * one tracepoint less on every such mapping on the host. */
        bool no_addr_hook;
        /* A process the exec hook watched (bpfcap_match_comm) that nobody
         * adopts within this long is let go (unwatched, its held events
         * dropped) by bpfcap_consume(); 0: held until bpfcap_unwatch(). */
        unsigned adopt_ms;
        void (*on_proc)(void *ctx, const struct bpfcap_proc *p); /* may be NULL */
        void *ctx;
};

/* Loads and attaches the program.  Returns 0 and *ret, or -errno with one
 * line in reason (cut to reason_len) saying why eBPF cannot run here:
 * "needs CAP_BPF and CAP_PERFMON (or root)", "runs in a user namespace ...",
 * "the kernel has no BTF ...", "cannot load the BPF program: ...", ...
 * Nothing is left loaded on failure.  libbpf's messages go to a print
 * callback this sets (libbpf has one per process): they feed the reason,
 * and nothing is printed. */
int bpfcap_new(const struct bpfcap_options *opt, struct bpfcap **ret, char *reason, size_t reason_len);

/* Stops the thread (if started), detaches and frees; accepts NULL. */
void bpfcap_free(struct bpfcap *c);

/* Which lock hook runs: "tp_btf" or "raw_tp". */
const char *bpfcap_hook_kind(const struct bpfcap *c);

/* Starts counting and reporting process tgid; its events go to sink (may
 * be NULL: counted only).  Its counter starts at 0.  Returns 0 and its slot
 * in *ret_slot (may be NULL), -EEXIST when it is watched already (by the
 * exec hook too: see bpfcap_adopt), -ENOSPC with no free slot, -EINVAL, or
 * another -errno. */
int bpfcap_watch(struct bpfcap *c, pid_t tgid, const struct bpfcap_sink *sink, unsigned *ret_slot);

/* Takes over a process the exec hook started watching: its events so far
 * (held since its exec, bounded by pending_max, the rest counted as
 * dropped) go to sink now, and the next ones as they come.  Returns 0 and
 * its slot, -ENOENT when the exec hook is not watching it, or -EEXIST when
 * it has a sink already. */
int bpfcap_adopt(struct bpfcap *c, pid_t tgid, const struct bpfcap_sink *sink, unsigned *ret_slot);

/* Stops watching tgid and frees its slot.  Returns 0 or -ENOENT. */
int bpfcap_unwatch(struct bpfcap *c, pid_t tgid);

/* The counters of a slot bpfcap_watch() or bpfcap_adopt() gave.  Returns
 * 0 or -EINVAL. */
int bpfcap_counter(const struct bpfcap *c, unsigned slot, struct capture_counter *ret);

/* Adds (add) or removes a command name for the exec hook: a process that
 * execs with that comm (the kernel keeps the first 15 bytes of its file
 * name) is watched from that exec on, and its exec record says so; the
 * caller then adopts or unwatches it.  Returns 0 or -errno (-E2BIG: 256
 * names already). */
int bpfcap_match_comm(struct bpfcap *c, const char *comm, bool add);

/* Hands every queued record to its sink (or on_proc).  Returns the number
 * of records or -errno. */
int bpfcap_consume(struct bpfcap *c);

/* An fd that is readable when a ring has records to consume. */
int bpfcap_epoll_fd(const struct bpfcap *c);

/* Runs bpfcap_consume() on a thread of its own, woken by the rings and at
 * least every poll_ms (records below wake_bytes do not wake it).  Its
 * signals must be blocked by the caller before.  Returns 0 or -errno (what
 * was opened is closed by bpfcap_free()). */
int bpfcap_start(struct bpfcap *c);

struct bpfcap_stats {
        uint64_t sections;     /* write sections counted on watched processes */
        uint64_t lost;         /* mapping records the ring had no room for */
        uint64_t proc_lost;    /* exec and fork records the ring had no room for */
        uint64_t slot_miss;    /* a watched process without a slot (a watch in progress) */
        uint64_t no_free_slot; /* the exec hook found no slot for a match */
        uint64_t stale;        /* records of a process no longer watched */
        uint64_t dropped;      /* records held for adoption beyond pending_max */
        uint64_t released;     /* processes the exec hook watched that nobody adopted (adopt_ms) */
};

/* Sums the counters.  Returns 0 or -errno. */
int bpfcap_get_stats(struct bpfcap *c, struct bpfcap_stats *ret);

/* The struct capture_source of core/capture.h that the workers get: watch
 * (or adopt, for a process the exec hook watches) with the events pushed
 * to the worker's capture_queue, unwatch, flush (bpfcap_consume), and
 * match (bpfcap_match_comm, counted per name: a name stays in the exec
 * hook's list while one target asks for it).  Valid as long as c. */
struct capture_source bpfcap_source(struct bpfcap *c);

#ifdef __cplusplus
}
#endif
#endif
