#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "capture/bpfcap_int.h"
#include "capture/memmon.skel.h"
#include "core/alloc.h"

/* The chain's name of each op of the program (enum memmon_op). */
static const enum capture_op op_of[MEMMON_OP_COUNT] = {
    [MEMMON_OP_OTHER_SYSCALL] = CAPTURE_OP_SYSCALL,
    [MEMMON_OP_MMAP] = CAPTURE_OP_MMAP,
    [MEMMON_OP_MUNMAP] = CAPTURE_OP_MUNMAP,
    [MEMMON_OP_MPROTECT] = CAPTURE_OP_MPROTECT,
    [MEMMON_OP_PKEY_MPROTECT] = CAPTURE_OP_PKEY_MPROTECT,
    [MEMMON_OP_MREMAP] = CAPTURE_OP_MREMAP,
    [MEMMON_OP_BRK] = CAPTURE_OP_BRK,
    [MEMMON_OP_MADVISE] = CAPTURE_OP_MADVISE,
    [MEMMON_OP_PROCESS_MADVISE] = CAPTURE_OP_PROCESS_MADVISE,
    [MEMMON_OP_SHMAT] = CAPTURE_OP_SHMAT,
    [MEMMON_OP_SHMDT] = CAPTURE_OP_SHMDT,
    [MEMMON_OP_MLOCK] = CAPTURE_OP_MLOCK,
    [MEMMON_OP_MUNLOCK] = CAPTURE_OP_MUNLOCK,
    [MEMMON_OP_MLOCKALL] = CAPTURE_OP_MLOCKALL,
    [MEMMON_OP_MUNLOCKALL] = CAPTURE_OP_MUNLOCKALL,
    [MEMMON_OP_MSEAL] = CAPTURE_OP_MSEAL,
    [MEMMON_OP_REMAP_FILE_PAGES] = CAPTURE_OP_REMAP_FILE_PAGES,
    [MEMMON_OP_MBIND] = CAPTURE_OP_MBIND,
    [MEMMON_OP_PRCTL] = CAPTURE_OP_PRCTL,
    [MEMMON_OP_EXECVE] = CAPTURE_OP_EXECVE,
    [MEMMON_OP_EXIT] = CAPTURE_OP_EXIT,
    [MEMMON_OP_FORK] = CAPTURE_OP_FORK,
    [MEMMON_OP_FAULT] = CAPTURE_OP_FAULT,
    [MEMMON_OP_KERNEL] = CAPTURE_OP_KERNEL,
    [MEMMON_OP_ADDR] = CAPTURE_OP_ADDR,
};

void bpfcap_time(const struct bpfcap *c, uint64_t mono_ns, char ret[TS_SIZE]) {
        int64_t ns = c->realtime_offset_ns + (int64_t)mono_ns;
        struct timespec t = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};

        /* Only a clock set before 1970 or after 9999 has no timestamp. */
        if (ns < 0 || ts_format(&t, ret) < 0)
                memcpy(ret, "19700101T000000.000000Z", TS_SIZE);
}

/* Turns a record of the program (memmon_bpf.h) into an event as the chain
 * keeps it (core/capture_event.h, which says what each field means per
 * op).  path is the record's, bounded; ret->path points into it. */
static void decode(const struct bpfcap *c, const struct memmon_event *e, const char *path, size_t path_size,
                   struct capture_event *ret) {
        struct capture_event ev;

        memset(&ev, 0, sizeof(ev));
        bpfcap_time(c, e->ts_ns, ev.time);
        ev.seq = e->seq;
        ev.op = e->op < MEMMON_OP_COUNT ? op_of[e->op] : CAPTURE_OP_SYSCALL;
        ev.pid = (pid_t)e->locker_tgid;
        ev.tid = (pid_t)e->locker_tid;
        /* Only the idle task has pid 0, and it takes no mmap lock; should a
         * record say so anyway, it is the target's own doing. */
        if (ev.pid <= 0 || ev.tid <= 0)
                ev.pid = ev.tid = (pid_t)e->tgid;
        ev.addr = e->addr;
        ev.len = e->len;
        ev.arg = e->arg;
        ev.arg2 = e->arg2;
        ev.prot = e->prot;
        ev.flags = e->mflags;
        switch (e->op) {
        case MEMMON_OP_MADVISE:
                /* The program keeps the advice in prot. */
                ev.arg = e->prot;
                ev.prot = 0;
                break;
        case MEMMON_OP_PROCESS_MADVISE:
                ev.arg = e->prot;
                ev.arg2 = (uint64_t)(int64_t)e->fd;
                ev.prot = 0;
                break;
        case MEMMON_OP_SHMAT:
                ev.arg = (uint64_t)(int64_t)e->fd;
                break;
        case MEMMON_OP_FAULT:
                ev.addr = e->sp;
                ev.arg = e->ip;
                break;
        case MEMMON_OP_OTHER_SYSCALL:
                ev.flags = (uint32_t)e->nr;
                break;
        default:
                break;
        }
        if (e->flags & MEMMON_EVF_FILE) {
                size_t n = strnlen(path, path_size);

                ev.dev_major = e->dev >> 20;
                ev.dev_minor = e->dev & 0xfffff;
                ev.ino = e->ino;
                ev.path_cut = (e->flags & MEMMON_EVF_PATH_TRUNC) != 0;
                /* A whole path from the dentry walk starts with '/'; one
                 * that does not cannot be told from a cut one, and is left
                 * to dev and ino. */
                if (n > 0 && (ev.path_cut || path[0] == '/')) {
                        ev.path = path;
                        ev.path_len = n;
                } else {
                        ev.path_cut = false;
                }
        }
        *ret = ev;
}

/* Called under c->lock: the slot state of a record's process, or NULL
 * when the record is stale (its slot is free, or someone else's now). */
static struct slot_state *owner(struct bpfcap *c, const struct memmon_event *e) {
        struct slot_state *st;

        if (e->slot >= c->max_slots || e->tgid == 0)
                return NULL;
        st = &c->slot[e->slot];
        if (st->tgid == (pid_t)e->tgid)
                return st;
        /* The exec hook watched it and its exec record is still on its
         * way: hold its events from now on. */
        if (st->tgid == 0 && !st->has_sink &&
            __atomic_load_n(&c->slots[e->slot].tgid, __ATOMIC_RELAXED) == e->tgid &&
            bpfcap_bit(c, (pid_t)e->tgid)) {
                st->tgid = (pid_t)e->tgid;
                st->seen_ms = bpfcap_now_ms();
                c->unadopted++;
                return st;
        }
        return NULL;
}

int bpfcap_on_event(void *ctx, void *data, size_t size) {
        struct bpfcap *c = ctx;
        const struct memmon_event *e = data;
        const char *path = "";
        size_t path_size = 1;
        struct capture_event ev;
        struct slot_state *st;

        if (size < sizeof(*e))
                return 0;
        if ((e->flags & MEMMON_EVF_FILE) && size >= sizeof(struct memmon_event_file)) {
                path = ((const struct memmon_event_file *)data)->path;
                path_size = MEMMON_PATH_LEN;
        }
        pthread_mutex_lock(&c->lock);
        st = owner(c, e);
        if (!st) {
                c->stale++;
        } else if (st->has_sink) {
                if (st->sink.fn) {
                        decode(c, e, path, path_size, &ev);
                        st->sink.fn(st->sink.ctx, &ev);
                }
        } else {
                if (!st->pending && capture_queue_new(c->pending_max, &st->pending) < 0)
                        st->pending = NULL;
                decode(c, e, path, path_size, &ev);
                if (!st->pending || capture_queue_push(st->pending, &ev) < 0)
                        c->dropped++;
        }
        pthread_mutex_unlock(&c->lock);
        return 0;
}

int bpfcap_on_proc(void *ctx, void *data, size_t size) {
        struct bpfcap *c = ctx;
        struct memmon_proc_event e;
        struct bpfcap_proc p;

        if (size < sizeof(e))
                return 0;
        memcpy(&e, data, sizeof(e));
        memset(&p, 0, sizeof(p));
        p.kind = e.kind == MEMMON_PROC_FORK ? BPFCAP_FORK : BPFCAP_EXEC;
        bpfcap_time(c, e.ts_ns, p.time);
        p.pid = (pid_t)e.tgid;
        p.ppid = (pid_t)e.ppid;
        p.uid = (uid_t)e.uid;
        p.old_tid = (pid_t)e.old_tid;
        memcpy(p.comm, e.comm, sizeof(p.comm) - 1);
        memcpy(p.file, e.filename, sizeof(p.file) - 1);
        if (e.slot != MEMMON_NO_SLOT && e.slot < c->max_slots) {
                pthread_mutex_lock(&c->lock);
                /* Unless the process went (and its slot with it) already. */
                if (__atomic_load_n(&c->slots[e.slot].tgid, __ATOMIC_RELAXED) == e.tgid &&
                    bpfcap_bit(c, p.pid) && (c->slot[e.slot].tgid == 0 || c->slot[e.slot].tgid == p.pid)) {
                        if (c->slot[e.slot].tgid == 0) {
                                c->slot[e.slot].seen_ms = bpfcap_now_ms();
                                c->unadopted++;
                        }
                        c->slot[e.slot].tgid = p.pid;
                        p.watched = true;
                }
                pthread_mutex_unlock(&c->lock);
        }
        if (c->on_proc)
                c->on_proc(c->ctx, &p);
        return 0;
}

/* Lets go of the processes the exec hook watched that nobody adopted
 * within adopt_ms: a process named like a waiting `match` target that the
 * target did not take (another user's, another program of that name). */
static void release_unadopted(struct bpfcap *c) {
        uint64_t now;

        pthread_mutex_lock(&c->lock);
        if (c->adopt_ms == 0 || c->unadopted == 0) {
                pthread_mutex_unlock(&c->lock);
                return;
        }
        now = bpfcap_now_ms();
        for (unsigned i = 0; i < c->max_slots && c->unadopted > 0; i++) {
                struct slot_state *st = &c->slot[i];

                if (st->tgid == 0 || st->has_sink || now - st->seen_ms < c->adopt_ms)
                        continue;
                if (bpfcap_unwatch_locked(c, st->tgid) < 0)
                        bpfcap_slot_clear(c, i); /* its table entry went already */
                c->released++;
        }
        pthread_mutex_unlock(&c->lock);
}

int bpfcap_consume(struct bpfcap *c) {
        int r;

        pthread_mutex_lock(&c->consume_lock);
        r = ring_buffer__consume(c->rb);
        pthread_mutex_unlock(&c->consume_lock);
        release_unadopted(c);
        return r;
}

static void *consumer(void *arg) {
        struct bpfcap *c = arg;
        struct epoll_event ev[2];

        for (;;) {
                int n = epoll_wait(c->poll_fd, ev, 2, (int)c->poll_ms);

                for (int i = 0; i < n; i++)
                        if (ev[i].data.fd == c->stop_fd)
                                return NULL;
                /* Also on a timeout: records below wake_bytes wake no one. */
                (void)bpfcap_consume(c);
        }
}

int bpfcap_start(struct bpfcap *c) {
        struct epoll_event ev = {.events = EPOLLIN};
        int r;

        if (c->started)
                return -EALREADY;
        c->stop_fd = eventfd(0, EFD_CLOEXEC);
        c->poll_fd = epoll_create1(EPOLL_CLOEXEC);
        if (c->stop_fd < 0 || c->poll_fd < 0)
                return -errno;
        ev.data.fd = c->stop_fd;
        if (epoll_ctl(c->poll_fd, EPOLL_CTL_ADD, c->stop_fd, &ev) < 0)
                return -errno;
        ev.data.fd = bpfcap_epoll_fd(c);
        if (epoll_ctl(c->poll_fd, EPOLL_CTL_ADD, ev.data.fd, &ev) < 0)
                return -errno;
        r = -pthread_create(&c->thread, NULL, consumer, c);
        if (r < 0)
                return r;
        c->started = true;
        return 0;
}

int bpfcap_get_stats(struct bpfcap *c, struct bpfcap_stats *ret) {
        int ncpu = libbpf_num_possible_cpus();
        uint64_t sum[MEMMON_STAT_COUNT] = {0};
        uint64_t *v;

        if (ncpu <= 0)
                return ncpu ? ncpu : -EINVAL;
        v = mm_calloc((size_t)ncpu, sizeof(*v));
        if (!v)
                return -ENOMEM;
        for (__u32 i = 0; i < MEMMON_STAT_COUNT; i++) {
                if (bpf_map_lookup_elem(bpf_map__fd(c->skel->maps.stats), &i, v) < 0) {
                        int r = -errno;

                        mm_free(v);
                        return r;
                }
                for (int k = 0; k < ncpu; k++)
                        sum[i] += v[k];
        }
        mm_free(v);
        ret->sections = sum[MEMMON_STAT_SECTIONS];
        ret->lost = sum[MEMMON_STAT_EVENTS_LOST];
        ret->proc_lost = sum[MEMMON_STAT_PROC_LOST];
        ret->slot_miss = sum[MEMMON_STAT_SLOT_MISS];
        ret->no_free_slot = sum[MEMMON_STAT_NO_FREE_SLOT];
        pthread_mutex_lock(&c->lock);
        ret->stale = c->stale;
        ret->dropped = c->dropped;
        ret->released = c->released;
        pthread_mutex_unlock(&c->lock);
        return 0;
}

/* The capture_source the workers get: a worker's events go to its queue. */
static void push_to_queue(void *ctx, const struct capture_event *ev) {
        (void)capture_queue_push(ctx, ev); /* a full queue counts its own drops */
}

static int source_watch(void *impl, pid_t pid, struct capture_queue *q, struct capture_counter *ret) {
        struct bpfcap_sink sink = {push_to_queue, q};
        unsigned slot;
        int r = bpfcap_watch(impl, pid, q ? &sink : NULL, &slot);

        /* A `match` process the exec hook watched from its first
         * instruction: take it over with what it did since. */
        if (r == -EEXIST)
                r = bpfcap_adopt(impl, pid, q ? &sink : NULL, &slot);
        if (r == 0)
                r = bpfcap_counter(impl, slot, ret);
        return r;
}

static int source_unwatch(void *impl, pid_t pid) {
        return bpfcap_unwatch(impl, pid);
}

static int source_flush(void *impl) {
        int r = bpfcap_consume(impl);

        return r < 0 ? r : 0;
}

/* The exec hook's list holds a name while one target asks for it: several
 * waiting targets may share a name (or its first 15 bytes). */
static int source_match(void *impl, const char *name, bool add) {
        struct bpfcap *c = impl;
        char key[MEMMON_COMM_LEN] = {0};
        struct match_ref *m = NULL;
        int r = 0;

        if (!name || !name[0])
                return -EINVAL;
        memcpy(key, name, strnlen(name, sizeof(key) - 1));
        pthread_mutex_lock(&c->lock);
        for (size_t i = 0; i < c->n_matches && !m; i++)
                if (memcmp(c->matches[i].comm, key, sizeof(key)) == 0)
                        m = &c->matches[i];
        if (add && m) {
                m->refs++;
        } else if (add) {
                struct match_ref *v = mm_reallocarray(c->matches, c->n_matches + 1, sizeof(*v));

                r = v ? bpfcap_match_comm(c, key, true) : -ENOMEM;
                if (v)
                        c->matches = v;
                if (r == 0) {
                        m = &c->matches[c->n_matches++];
                        memcpy(m->comm, key, sizeof(key));
                        m->refs = 1;
                }
        } else if (m && --m->refs == 0) {
                r = bpfcap_match_comm(c, key, false);
                *m = c->matches[--c->n_matches];
        } else if (!m) {
                r = -ENOENT;
        }
        pthread_mutex_unlock(&c->lock);
        return r;
}

struct capture_source bpfcap_source(struct bpfcap *c) {
        struct capture_source s = {source_watch, source_unwatch, source_flush, source_match, c};

        return s;
}
