#include "capture/bpfcap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "capture/bpfcap_int.h"
#include "capture/memmon.skel.h"
#include "core/alloc.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

#define WATCH_WORDS (4194304 / 64) /* MEMMON_WATCH_WORDS of memmon.bpf.c */
#define DEFAULT_SLOTS 4096
#define DEFAULT_RING (4u << 20)
#define DEFAULT_POLL_MS 100
#define DEFAULT_PENDING 4096
#define LINE 256

/* libbpf reports only through one process-wide print callback.  Its last
 * warning is kept per thread, so that a failed load can say why in its
 * reason; nothing is printed. */
static _Thread_local char libbpf_last[LINE];

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap) {
        char line[LINE];
        size_t n;

        if (level == LIBBPF_DEBUG)
                return 0;
        if (vsnprintf(line, sizeof(line), fmt, ap) < 0)
                return 0;
        n = strlen(line);
        while (n && line[n - 1] == '\n')
                line[--n] = '\0';
        /* The verifier's log ends with summary lines; the error is the
         * libbpf line that names the program. */
        if (strstr(line, "libbpf:") || strstr(line, "failed"))
                memcpy(libbpf_last, line, n + 1);
        return 0;
}

static void say(char *reason, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void say(char *reason, size_t len, const char *fmt, ...) {
        va_list ap;

        if (!reason || !len)
                return;
        va_start(ap, fmt);
        /* A reason cut short is still a reason. */
        (void)vsnprintf(reason, len, fmt, ap);
        va_end(ap);
}

/* Root has what BPF needs; so has a service given CAP_BPF and CAP_PERFMON
 * (CAP_SYS_ADMIN covers both on every kernel). */
static bool has_bpf_caps(void) {
        struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
        struct __user_cap_data_struct d[2];
        uint64_t eff;

        if (syscall(SYS_capget, &h, d))
                return false;
        eff = (uint64_t)d[1].effective << 32 | d[0].effective;
        if (eff & (UINT64_C(1) << CAP_SYS_ADMIN))
                return true;
        return (eff & (UINT64_C(1) << CAP_BPF)) && (eff & (UINT64_C(1) << CAP_PERFMON));
}

/* Capabilities count for BPF only in the initial user namespace.  Inside
 * another one (a container, Bazel's sandbox) capget still shows them and
 * the load then fails with EPERM; the initial namespace maps every uid. */
static bool in_initial_userns(void) {
        char buf[128];
        unsigned long inside, outside, count;
        int fd = open("/proc/self/uid_map", O_RDONLY | O_CLOEXEC);
        ssize_t n;

        if (fd < 0)
                return true; /* a kernel without user namespaces */
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return false;
        buf[n] = '\0';
        return sscanf(buf, "%lu %lu %lu", &inside, &outside, &count) == 3 && inside == 0 && outside == 0 &&
               count == 4294967295UL;
}

/* The BPF program names processes by their pids in the initial PID
 * namespace, the agent by its own: they are the same only there.  The
 * kernel gives the initial namespace a fixed inode (PROC_PID_INIT_INO). */
static bool in_initial_pidns(void) {
        struct stat st;

        if (stat("/proc/self/ns/pid", &st) < 0)
                return true; /* a kernel without PID namespaces */
        return st.st_ino == 0xEFFFFFFCu;
}

static void *map_array(struct bpf_map *m, size_t *ret_bytes) {
        long page = sysconf(_SC_PAGESIZE);
        size_t bytes = (size_t)bpf_map__value_size(m) * bpf_map__max_entries(m);
        void *p;

        bytes = (bytes + (size_t)page - 1) / (size_t)page * (size_t)page;
        p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(m), 0);
        if (p == MAP_FAILED)
                return NULL;
        *ret_bytes = bytes;
        return p;
}

/* Opens, sizes, loads and attaches the skeleton with one kind of lock
 * hook.  Returns 0 or -errno with the reason said. */
static int load(struct bpfcap *c, const struct bpfcap_options *o, bool raw_tp, char *reason, size_t rlen) {
        const char *kind = raw_tp ? "raw_tp" : "tp_btf";
        struct memmon_bpf *s;
        int r;

        s = memmon_bpf__open();
        if (!s) {
                r = -errno;
                say(reason, rlen, "cannot open the BPF program: %s", strerror(-r));
                return r;
        }
        bpf_map__set_max_entries(s->maps.slots, c->max_slots);
        bpf_map__set_max_entries(s->maps.watch_slot, c->max_slots);
        bpf_map__set_max_entries(s->maps.free_slots, c->max_slots);
        bpf_map__set_max_entries(s->maps.events, o->ring_bytes ? (uint32_t)o->ring_bytes : DEFAULT_RING);
        s->rodata->wake_bytes = o->wake_bytes;
        s->rodata->want_fork = o->want_fork;
        bpf_program__set_autoload(s->progs.memmon_lock, !raw_tp);
        bpf_program__set_autoload(s->progs.memmon_lock_raw, raw_tp);
        bpf_program__set_autoload(s->progs.memmon_unmapped_area, !o->no_addr_hook);
        libbpf_last[0] = '\0';
        r = memmon_bpf__load(s);
        if (r) {
                say(reason, rlen, "cannot load the BPF program (%s): %s%s%s", kind, strerror(-r),
                    libbpf_last[0] ? ": " : "", libbpf_last);
                goto fail;
        }
        if (s->rodata->abi_version != MEMMON_BPF_ABI) {
                say(reason, rlen, "the BPF program's layout is version %u, the agent's %u",
                    (unsigned)s->rodata->abi_version, MEMMON_BPF_ABI);
                r = -EPROTO;
                goto fail;
        }
        r = memmon_bpf__attach(s);
        if (r) {
                say(reason, rlen, "cannot attach the BPF program (%s): %s%s%s", kind, strerror(-r),
                    libbpf_last[0] ? ": " : "", libbpf_last);
                goto fail;
        }
        c->skel = s;
        c->raw_tp = raw_tp;
        return 0;
fail:
        memmon_bpf__destroy(s);
        return r;
}

/* Fills the free slot queue, maps the arrays and opens the rings. */
static int set_up(struct bpfcap *c, char *reason, size_t rlen) {
        int r;

        for (__u32 slot = 0; slot < c->max_slots; slot++) {
                if (bpf_map_update_elem(bpf_map__fd(c->skel->maps.free_slots), NULL, &slot, 0)) {
                        r = -errno;
                        say(reason, rlen, "cannot fill the BPF slot queue: %s", strerror(-r));
                        return r;
                }
        }
        c->slots = map_array(c->skel->maps.slots, &c->slots_bytes);
        if (c->slots)
                c->bits = map_array(c->skel->maps.watch_bits, &c->bits_bytes);
        if (!c->slots || !c->bits) {
                r = -errno;
                say(reason, rlen, "cannot map the BPF counter arrays: %s", strerror(-r));
                return r;
        }
        /* The process ring first: an exec's record is then handed over
         * before the records of the process it watches. */
        c->rb = ring_buffer__new(bpf_map__fd(c->skel->maps.proc_events), bpfcap_on_proc, c, NULL);
        if (!c->rb || ring_buffer__add(c->rb, bpf_map__fd(c->skel->maps.events), bpfcap_on_event, c)) {
                r = errno ? -errno : -ENOMEM;
                say(reason, rlen, "cannot open the BPF rings: %s", strerror(-r));
                return r;
        }
        return 0;
}

static int realtime_offset(int64_t *ret) {
        struct timespec rt, mono;

        if (clock_gettime(CLOCK_REALTIME, &rt) < 0 || clock_gettime(CLOCK_MONOTONIC, &mono) < 0)
                return -errno;
        *ret = ((int64_t)rt.tv_sec - mono.tv_sec) * 1000000000 + (rt.tv_nsec - mono.tv_nsec);
        return 0;
}

int bpfcap_new(const struct bpfcap_options *o, struct bpfcap **ret, char *reason, size_t rlen) {
        char why_btf[LINE] = "";
        struct bpfcap *c;
        int r;

        if (!o || !ret)
                return -EINVAL;
        libbpf_set_print(libbpf_print);
        if (!has_bpf_caps()) {
                say(reason, rlen, "needs CAP_BPF and CAP_PERFMON (or root)");
                return -EPERM;
        }
        if (!in_initial_userns()) {
                say(reason, rlen,
                    "runs in a user namespace (a container or a sandbox): BPF needs CAP_BPF and CAP_PERFMON "
                    "in the initial one");
                return -EPERM;
        }
        if (!in_initial_pidns()) {
                say(reason, rlen,
                    "runs in a PID namespace of its own: the BPF program sees the host's pids, not the "
                    "agent's");
                return -EPERM;
        }
        if (access("/sys/kernel/btf/vmlinux", R_OK) < 0) {
                r = -errno;
                say(reason, rlen, "the kernel has no BTF (/sys/kernel/btf/vmlinux: %s)", strerror(-r));
                return r == -ENOENT ? -EOPNOTSUPP : r;
        }
        c = mm_calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->stop_fd = c->poll_fd = -1;
        c->max_slots = o->max_slots ? o->max_slots : DEFAULT_SLOTS;
        c->pending_max = o->pending_max ? o->pending_max : DEFAULT_PENDING;
        c->poll_ms = o->poll_ms ? o->poll_ms : DEFAULT_POLL_MS;
        c->adopt_ms = o->adopt_ms;
        c->on_proc = o->on_proc;
        c->ctx = o->ctx;
        r = -pthread_mutex_init(&c->lock, NULL);
        if (r < 0) {
                mm_free(c);
                return r;
        }
        r = -pthread_mutex_init(&c->consume_lock, NULL);
        if (r < 0) {
                pthread_mutex_destroy(&c->lock);
                mm_free(c);
                return r;
        }
        c->slot = mm_calloc(c->max_slots, sizeof(*c->slot));
        r = c->slot ? realtime_offset(&c->realtime_offset_ns) : -ENOMEM;
        if (r < 0)
                goto fail;
        r = o->force_raw_tp ? -EOPNOTSUPP : load(c, o, false, why_btf, sizeof(why_btf));
        if (r < 0) {
                /* Kernels without BTF-typed tracepoints still have raw ones;
                 * when both fail, the first failure is the telling one. */
                r = load(c, o, true, reason, rlen);
                if (r < 0) {
                        if (why_btf[0])
                                say(reason, rlen, "%s", why_btf);
                        goto fail;
                }
        }
        r = set_up(c, reason, rlen);
        if (r < 0)
                goto fail;
        *ret = c;
        return 0;
fail:
        bpfcap_free(c);
        return r;
}

void bpfcap_free(struct bpfcap *c) {
        if (!c)
                return;
        if (c->started) {
                uint64_t one = 1;

                if (write(c->stop_fd, &one, sizeof(one)) == sizeof(one))
                        pthread_join(c->thread, NULL);
        }
        if (c->stop_fd >= 0)
                close(c->stop_fd);
        if (c->poll_fd >= 0)
                close(c->poll_fd);
        ring_buffer__free(c->rb);
        if (c->slots)
                munmap(c->slots, c->slots_bytes);
        if (c->bits)
                munmap(c->bits, c->bits_bytes);
        memmon_bpf__destroy(c->skel);
        for (unsigned i = 0; c->slot && i < c->max_slots; i++)
                bpfcap_slot_clear(c, i);
        mm_free(c->slot);
        mm_free(c->matches);
        pthread_mutex_destroy(&c->consume_lock);
        pthread_mutex_destroy(&c->lock);
        mm_free(c);
}

const char *bpfcap_hook_kind(const struct bpfcap *c) {
        return c->raw_tp ? "raw_tp" : "tp_btf";
}

void bpfcap_slot_clear(struct bpfcap *c, unsigned i) {
        if (c->slot[i].tgid && !c->slot[i].has_sink && c->unadopted > 0)
                c->unadopted--;
        capture_queue_free(c->slot[i].pending);
        memset(&c->slot[i], 0, sizeof(c->slot[i]));
}

uint64_t bpfcap_now_ms(void) {
        struct timespec t;

        clock_gettime(CLOCK_MONOTONIC, &t);
        return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static bool tgid_ok(pid_t tgid) {
        return tgid > 0 && tgid < WATCH_WORDS * 64;
}

int bpfcap_watch(struct bpfcap *c, pid_t tgid, const struct bpfcap_sink *sink, unsigned *ret_slot) {
        int queue = bpf_map__fd(c->skel->maps.free_slots);
        int table = bpf_map__fd(c->skel->maps.watch_slot);
        __u32 key = (__u32)tgid, slot;
        struct memmon_slot *s;
        int r = 0;

        if (!tgid_ok(tgid))
                return -EINVAL;
        pthread_mutex_lock(&c->lock);
        if (bpf_map_lookup_elem(table, &key, &slot) == 0) {
                r = -EEXIST;
                goto out;
        }
        /* The queue the exec hook takes its slots from too. */
        if (bpf_map_lookup_and_delete_elem(queue, NULL, &slot)) {
                r = errno == ENOENT ? -ENOSPC : -errno;
                goto out;
        }
        if (slot >= c->max_slots) {
                r = -EIO;
                goto out;
        }
        s = &c->slots[slot];
        s->tgid = (__u32)tgid;
        s->gen++;
        __atomic_store_n(&s->seq, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&s->lost, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&s->records, 0, __ATOMIC_RELAXED);
        bpfcap_slot_clear(c, slot);
        c->slot[slot].tgid = tgid;
        c->slot[slot].has_sink = true;
        if (sink)
                c->slot[slot].sink = *sink;
        /* The slot first, then the bit: the program looks the slot up only
         * for tgids whose bit is set.  The exec hook may have won the race
         * for this process: then it is its. */
        if (bpf_map_update_elem(table, &key, &slot, BPF_NOEXIST)) {
                r = errno == EEXIST ? -EEXIST : -errno;
                bpfcap_slot_clear(c, slot);
                bpf_map_update_elem(queue, NULL, &slot, 0);
                goto out;
        }
        __atomic_fetch_or(&c->bits[tgid >> 6], UINT64_C(1) << (tgid & 63), __ATOMIC_SEQ_CST);
        if (ret_slot)
                *ret_slot = slot;
out:
        pthread_mutex_unlock(&c->lock);
        return r;
}

int bpfcap_adopt(struct bpfcap *c, pid_t tgid, const struct bpfcap_sink *sink, unsigned *ret_slot) {
        __u32 key = (__u32)tgid, slot;
        struct capture_batch held;
        struct slot_state *st;
        int r = 0;

        if (!tgid_ok(tgid))
                return -EINVAL;
        capture_batch_init(&held);
        pthread_mutex_lock(&c->lock);
        if (bpf_map_lookup_elem(bpf_map__fd(c->skel->maps.watch_slot), &key, &slot) || slot >= c->max_slots ||
            c->slots[slot].tgid != (__u32)tgid) {
                r = -ENOENT;
                goto out;
        }
        st = &c->slot[slot];
        if (st->has_sink) {
                r = -EEXIST;
                goto out;
        }
        /* The events held since the exec come first, under the lock, so
         * that none of the next ones can pass them. */
        if (st->pending) {
                capture_queue_take(st->pending, &held);
                c->dropped += held.dropped;
                for (size_t i = 0; sink && sink->fn && i < held.n; i++)
                        sink->fn(sink->ctx, &held.ev[i]);
        }
        bpfcap_slot_clear(c, slot);
        st->tgid = tgid;
        st->has_sink = true;
        if (sink)
                st->sink = *sink;
        if (ret_slot)
                *ret_slot = slot;
out:
        pthread_mutex_unlock(&c->lock);
        capture_batch_fini(&held);
        return r;
}

int bpfcap_unwatch_locked(struct bpfcap *c, pid_t tgid) {
        int table = bpf_map__fd(c->skel->maps.watch_slot);
        __u32 key = (__u32)tgid, slot;

        if (!tgid_ok(tgid) || bpf_map_lookup_elem(table, &key, &slot))
                return -ENOENT;
        __atomic_fetch_and(&c->bits[tgid >> 6], ~(UINT64_C(1) << (tgid & 63)), __ATOMIC_SEQ_CST);
        bpf_map_delete_elem(table, &key);
        if (slot < c->max_slots) {
                bpfcap_slot_clear(c, slot);
                bpf_map_update_elem(bpf_map__fd(c->skel->maps.free_slots), NULL, &slot, 0);
        }
        return 0;
}

int bpfcap_unwatch(struct bpfcap *c, pid_t tgid) {
        int r;

        pthread_mutex_lock(&c->lock);
        r = bpfcap_unwatch_locked(c, tgid);
        pthread_mutex_unlock(&c->lock);
        return r;
}

int bpfcap_counter(const struct bpfcap *c, unsigned slot, struct capture_counter *ret) {
        if (!c || slot >= c->max_slots || !ret)
                return -EINVAL;
        /* __u64 and uint64_t are the same 64 bits, not the same C type. */
        ret->seq = (const uint64_t *)&c->slots[slot].seq;
        ret->lost = (const uint64_t *)&c->slots[slot].lost;
        return 0;
}

int bpfcap_match_comm(struct bpfcap *c, const char *comm, bool add) {
        char key[MEMMON_COMM_LEN] = {0};
        __u32 one = 1;
        int fd = bpf_map__fd(c->skel->maps.match_comm);

        if (!comm || !comm[0])
                return -EINVAL;
        /* The kernel keeps the first 15 bytes of a command name. */
        memcpy(key, comm, strnlen(comm, sizeof(key) - 1));
        if (add)
                return bpf_map_update_elem(fd, key, &one, BPF_ANY) ? (errno == E2BIG ? -E2BIG : -errno) : 0;
        return bpf_map_delete_elem(fd, key) ? -errno : 0;
}

int bpfcap_epoll_fd(const struct bpfcap *c) {
        return ring_buffer__epoll_fd(c->rb);
}
