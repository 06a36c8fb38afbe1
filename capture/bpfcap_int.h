/*
 * bpfcap_int: what bpfcap.c (loading, watching) and bpfcap_ring.c (the
 * rings, the thread, the capture_source) share.  Private to capture/.
 */
#ifndef MEMMON_CAPTURE_BPFCAP_INT_H
#define MEMMON_CAPTURE_BPFCAP_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "capture/bpfcap.h"
#include "capture/memmon_bpf.h"

/* What user space knows of one slot of the "slots" array. */
struct slot_state {
        pid_t tgid;              /* 0: free, or not seen yet */
        bool has_sink;           /* watched or adopted (sink.fn may be NULL) */
        struct bpfcap_sink sink; /* where its events go */
        /* A process the exec hook watched: its events until adopted. */
        struct capture_queue *pending;
        uint64_t seen_ms; /* when user space first heard of it (not adopted yet) */
};

/* A command name of the exec hook's list, and how many asked for it
 * (capture_source.match). */
struct match_ref {
        char comm[MEMMON_COMM_LEN];
        unsigned refs;
};

struct memmon_bpf;
struct ring_buffer;

struct bpfcap {
        struct memmon_bpf *skel;
        struct ring_buffer *rb;
        struct memmon_slot *slots; /* mmap of the "slots" array */
        size_t slots_bytes;
        uint64_t *bits; /* mmap of the "watch_bits" array */
        size_t bits_bytes;
        unsigned max_slots;
        bool raw_tp;
        int64_t realtime_offset_ns; /* CLOCK_REALTIME - CLOCK_MONOTONIC at start */
        size_t pending_max;
        unsigned poll_ms;
        unsigned adopt_ms;
        void (*on_proc)(void *ctx, const struct bpfcap_proc *p);
        void *ctx;

        /* The slot table; taken for each record handed to a sink. */
        pthread_mutex_t lock;
        struct slot_state *slot; /* max_slots of them */
        uint64_t stale;
        uint64_t dropped;
        unsigned unadopted; /* slots the exec hook watched that nobody adopted yet */
        uint64_t released;  /* of those, let go after adopt_ms */
        struct match_ref *matches;
        size_t n_matches;
        /* One consumer of the rings at a time. */
        pthread_mutex_t consume_lock;

        pthread_t thread;
        bool started;
        int stop_fd; /* eventfd that ends the thread; -1 until started */
        int poll_fd; /* the thread's epoll: the rings and stop_fd */
};

/* The watched bit of tgid in the shared bitmap. */
static inline bool bpfcap_bit(const struct bpfcap *c, pid_t tgid) {
        return (__atomic_load_n(&c->bits[tgid >> 6], __ATOMIC_ACQUIRE) >> (tgid & 63)) & 1;
}

/* Ring callbacks (bpfcap_ring.c), registered by bpfcap_new(). */
int bpfcap_on_event(void *ctx, void *data, size_t size);
int bpfcap_on_proc(void *ctx, void *data, size_t size);

/* Formats CLOCK_MONOTONIC ns from the kernel as a timestamp. */
void bpfcap_time(const struct bpfcap *c, uint64_t mono_ns, char ret[TS_SIZE]);

/* Frees what the slot table holds for slot i (called under lock). */
void bpfcap_slot_clear(struct bpfcap *c, unsigned i);

/* bpfcap_unwatch() with c->lock held.  Returns 0 or -ENOENT. */
int bpfcap_unwatch_locked(struct bpfcap *c, pid_t tgid);

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t bpfcap_now_ms(void);

#endif
