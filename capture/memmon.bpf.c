// SPDX-License-Identifier: GPL-2.0
/*
 * memmon.bpf.c: counts and describes every change of the memory mappings of
 * the processes the agent watches.
 *
 * One hook does the work: the mmap_lock_acquire_returned tracepoint with
 * write = true.  Every change of a process's VMAs (what /proc/PID/maps shows)
 * happens with that process's mmap lock held for writing, whoever causes it:
 * its own syscalls, a page fault growing its stack, exec, exit, another
 * process (process_madvise, uprobes) or a kernel thread.  So counting write
 * acquisitions per watched mm counts every change, and the lock holder's
 * saved user registers say which syscall (and with which arguments) it was.
 *
 * Syscall tracepoints would give return values too, but enabling any of them
 * puts every thread on the host on the slow syscall path (measured: getppid
 * 168 -> 222 ns, +32%, in processes that are not watched), and fentry/fexit
 * and BPF LSM programs are refused on the reference kernel.  See
 * capture/DESIGN.md.
 *
 * The counter protocol the agent relies on (capture/DESIGN.md, "consistent
 * reads"; core/capture.h):
 * the slot's seq is incremented, with a fully ordered atomic, after the
 * write lock is taken and before the kernel changes anything.  A reader that
 * loads seq, then takes and drops the target's mmap lock for reading (so any
 * section already begun has finished), reads /proc/PID/maps, and loads seq
 * again, has seen one state that existed if the two loads are equal.
 */
#include "vmlinux_min.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "memmon_bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by the agent before load (skeleton rodata). */
const volatile __u32 abi_version = MEMMON_BPF_ABI;
const volatile __u64 wake_bytes = 0;   /* 0: wake the reader per record */
const volatile bool want_fork = false; /* post MEMMON_PROC_FORK records */

#define MAP_ANONYMOUS 0x20
#define PF_EXITING 0x00000004
#define MEMMON_MAX_SLOTS 4096
/* PID_MAX_LIMIT (4 Mi) bits, so that no pid_max setting can escape the filter. */
#define MEMMON_WATCH_WORDS (4194304 / 64)
#define PATH_SCRATCH 1024
#define PATH_HALF 512
#define PATH_DEPTH 24

/* Bit tgid set: the process is watched.  Read by every write acquisition on
 * the host, so it is an array (the JIT inlines the lookup); mmap-able so the
 * agent sets and clears bits with atomic ops on its own mapping. */
struct {
        __uint(type, BPF_MAP_TYPE_ARRAY);
        __uint(map_flags, BPF_F_MMAPABLE);
        __uint(max_entries, MEMMON_WATCH_WORDS);
        __type(key, __u32);
        __type(value, __u64);
} watch_bits SEC(".maps");

/* tgid -> index in slots; filled by the agent before it sets the bit. */
struct {
        __uint(type, BPF_MAP_TYPE_HASH);
        __uint(max_entries, MEMMON_MAX_SLOTS);
        __type(key, __u32);
        __type(value, __u32);
} watch_slot SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_ARRAY);
        __uint(map_flags, BPF_F_MMAPABLE);
        __uint(max_entries, MEMMON_MAX_SLOTS);
        __type(key, __u32);
        __type(value, struct memmon_slot);
} slots SEC(".maps");

/* Free slot numbers, shared by the agent (bpfcap_watch pops, unwatch
 * pushes) and the exec hook, so that both can start watching a process. */
struct {
        __uint(type, BPF_MAP_TYPE_QUEUE);
        __uint(max_entries, MEMMON_MAX_SLOTS);
        __type(value, __u32);
} free_slots SEC(".maps");

/* comm (NUL-padded to 16 bytes) of `match` targets: a process that execs
 * with one of these is watched by the exec hook itself, before it runs a
 * single instruction of its new image. */
struct {
        __uint(type, BPF_MAP_TYPE_HASH);
        __uint(max_entries, 256);
        __type(key, char[MEMMON_COMM_LEN]);
        __type(value, __u32);
} match_comm SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_RINGBUF);
        __uint(max_entries, 4 << 20);
} events SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_RINGBUF);
        __uint(max_entries, 256 << 10);
} proc_events SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
        __uint(max_entries, MEMMON_STAT_COUNT);
        __type(key, __u32);
        __type(value, __u64);
} stats SEC(".maps");

struct path_buf {
        char b[PATH_SCRATCH];
};

struct {
        __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
        __uint(max_entries, 1);
        __type(key, __u32);
        __type(value, struct path_buf);
} path_scratch SEC(".maps");

static __always_inline void stat_inc(__u32 i) {
        __u64 *v = bpf_map_lookup_elem(&stats, &i);

        if (v)
                *v += 1; /* per-CPU: no other writer */
}

static __always_inline bool tgid_watched(__u32 tgid) {
        __u32 w = tgid >> 6;
        __u64 *bits = bpf_map_lookup_elem(&watch_bits, &w);

        return bits && ((*bits >> (tgid & 63)) & 1);
}

/* The process an mm belongs to.  mm->owner (CONFIG_MEMCG) names it even when
 * the lock is taken from elsewhere, and also when a CLONE_VM child (vfork,
 * posix_spawn) changes the shared mm; without it, fall back to the caller.
 * Runs on every write acquisition on the host: with a BTF-typed mm (tp_btf)
 * these are plain loads, not bpf_probe_read_kernel calls, and the current
 * task (a helper call, not inlined by the JIT) is fetched only where there
 * is no owner to read. */
static __always_inline __u32 mm_tgid_btf(struct mm_struct *mm) {
        struct task_struct *cur;

        if (bpf_core_field_exists(mm->owner)) {
                struct task_struct *owner = mm->owner;

                return owner ? owner->tgid : 0;
        }
        cur = bpf_get_current_task_btf();
        return cur->mm == mm ? cur->tgid : 0;
}

/* The same for an untyped mm (raw_tp). */
static __always_inline __u32 mm_tgid_core(struct mm_struct *mm) {
        struct task_struct *cur;

        if (bpf_core_field_exists(mm->owner)) {
                struct task_struct *owner = BPF_CORE_READ(mm, owner);

                return owner ? BPF_CORE_READ(owner, tgid) : 0;
        }
        cur = bpf_get_current_task_btf();
        return cur->mm == mm ? cur->tgid : 0;
}

static __always_inline struct file *fd_file(struct task_struct *t, int fd) {
        struct fdtable *fdt = BPF_CORE_READ(t, files, fdt);
        struct file **fds;
        struct file *f = 0;

        if (!fdt || fd < 0 || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
                return 0;
        fds = BPF_CORE_READ(fdt, fd);
        if (bpf_probe_read_kernel(&f, sizeof(f), fds + fd))
                return 0;
        return f;
}

struct path_walk {
        struct dentry *d;
        struct mount *mnt;
        __u32 pos;
        __u32 trunc;
};

/* One step of the walk from a file up to the root of the mount tree: prepend
 * one name to the per-CPU scratch buffer, or cross one mount.  Returns 1 to
 * stop (the root, or no room), 0 to go on.  Run by bpf_loop, so the verifier
 * checks it once instead of once per iteration and branch (the unrolled loop
 * went past the verifier's 1M instruction budget). */
static long path_step(__u32 i, void *arg) {
        struct path_walk *w = arg;
        __u32 zero = 0;
        struct path_buf *pb = bpf_map_lookup_elem(&path_scratch, &zero);
        struct dentry *d = w->d;
        struct mount *mnt = w->mnt; /* a local: BPF_CORE_READ(w->mnt) would relocate path_walk too */
        struct dentry *parent = BPF_CORE_READ(d, d_parent);
        struct dentry *mnt_root = BPF_CORE_READ(mnt, mnt.mnt_root);
        const unsigned char *name;
        __u32 len, pos = w->pos;

        if (!pb)
                return 1;
        if (d == mnt_root || d == parent) {
                struct mount *mp = BPF_CORE_READ(mnt, mnt_parent);

                if (d == mnt_root && mp == mnt) {
                        w->trunc = 0; /* the root of the mount tree */
                        return 1;
                }
                if (d == mnt_root) {
                        w->d = BPF_CORE_READ(mnt, mnt_mountpoint);
                        w->mnt = mp;
                        return 0;
                }
                /* A dentry of its own, on no path (a memfd, a file of an
                 * internal mount): its name is all there is, as the
                 * kernel prints it ("/memfd:NAME"). */
                parent = 0;
        }
        len = BPF_CORE_READ(d, d_name.len);
        name = BPF_CORE_READ(d, d_name.name);
        if (len > 255 || len + 1 > pos)
                return 1;
        pos -= len + 1;
        pb->b[pos & (PATH_HALF - 1)] = '/';
        bpf_probe_read_kernel(&pb->b[(pos + 1) & (PATH_HALF - 1)], len & 255, name);
        w->pos = pos;
        w->d = parent;
        if (!parent) {
                w->trunc = 0;
                return 1;
        }
        return 0;
}

/* Copies the path of f into out (MEMMON_PATH_LEN bytes, NUL-terminated), as
 * the host's root sees it: bpf_d_path is not allowed for tracepoint programs.
 * Returns MEMMON_EVF_PATH_TRUNC when the walk gave up (too deep) or the path
 * had to be cut (the tail is kept: it names the file), else 0. */
static __always_inline __u32 file_path(struct file *f, char *out) {
        __u32 zero = 0;
        struct path_buf *pb = bpf_map_lookup_elem(&path_scratch, &zero);
        struct vfsmount *vmnt = BPF_CORE_READ(f, f_path.mnt);
        struct path_walk w = {
            .d = BPF_CORE_READ(f, f_path.dentry),
            .mnt = (void *)((char *)vmnt - bpf_core_field_offset(struct mount, mnt)),
            .pos = PATH_HALF - 1,
            .trunc = MEMMON_EVF_PATH_TRUNC,
        };
        __u32 pos;

        if (!pb) {
                out[0] = 0;
                return MEMMON_EVF_PATH_TRUNC;
        }
        pb->b[PATH_HALF - 1] = 0;
        bpf_loop(PATH_DEPTH, path_step, &w, 0);
        pos = w.pos;
        if (pos >= PATH_HALF - 1) { /* the file is the root itself */
                pos = PATH_HALF - 2;
                pb->b[pos] = '/';
        }
        if (PATH_HALF - 1 - pos >= MEMMON_PATH_LEN) {
                pos = PATH_HALF - MEMMON_PATH_LEN;
                w.trunc = MEMMON_EVF_PATH_TRUNC;
        }
        bpf_probe_read_kernel(out, MEMMON_PATH_LEN, &pb->b[pos & (PATH_HALF - 1)]);
        return w.trunc;
}

/* Fills op and the decoded arguments from the lock holder's syscall
 * registers (x86-64 numbers). */
static __always_inline void decode_syscall(struct memmon_event *e, struct pt_regs *r, long nr) {
        e->nr = nr;
        e->addr = r->di;
        e->len = r->si;
        e->arg = r->dx;
        e->arg2 = r->r10;
        switch (nr) {
        case 9:
                e->op = MEMMON_OP_MMAP;
                e->prot = e->arg;
                e->mflags = e->arg2;
                e->fd = r->r8;
                e->arg = r->r9;
                e->arg2 = 0;
                break;
        case 10:
                e->op = MEMMON_OP_MPROTECT;
                e->prot = e->arg;
                e->arg = e->arg2 = 0;
                break;
        case 329:
                e->op = MEMMON_OP_PKEY_MPROTECT;
                e->prot = e->arg;
                e->arg = 0;
                break;
        case 11:
                e->op = MEMMON_OP_MUNMAP;
                e->arg = e->arg2 = 0;
                break;
        case 12:
                e->op = MEMMON_OP_BRK;
                e->len = 0;
                e->arg2 = 0;
                break;
        case 25:
                e->op = MEMMON_OP_MREMAP;
                e->mflags = e->arg2;
                e->arg2 = r->r8;
                break;
        case 28:
                e->op = MEMMON_OP_MADVISE;
                e->prot = e->arg;
                e->arg = e->arg2 = 0;
                break;
        case 440: /* process_madvise(pidfd, iovec, vlen, advice, flags) */
                e->op = MEMMON_OP_PROCESS_MADVISE;
                e->fd = e->addr;
                e->addr = e->len; /* the iovec array, in the caller's memory */
                e->len = e->arg;  /* its length */
                e->prot = e->arg2;
                e->arg = e->arg2 = 0;
                break;
        case 30:
                e->op = MEMMON_OP_SHMAT;
                e->fd = e->addr;
                e->addr = e->len;
                e->mflags = e->arg;
                e->len = e->arg = e->arg2 = 0;
                break;
        case 67:
                e->op = MEMMON_OP_SHMDT;
                e->len = e->arg = e->arg2 = 0;
                break;
        case 149:
        case 325:
                e->op = MEMMON_OP_MLOCK;
                e->mflags = nr == 325 ? e->arg : 0;
                e->arg = e->arg2 = 0;
                break;
        case 150:
                e->op = MEMMON_OP_MUNLOCK;
                e->arg = e->arg2 = 0;
                break;
        case 151:
                e->op = MEMMON_OP_MLOCKALL;
                e->mflags = e->addr;
                e->addr = e->len = e->arg = e->arg2 = 0;
                break;
        case 152:
                e->op = MEMMON_OP_MUNLOCKALL;
                e->addr = e->len = e->arg = e->arg2 = 0;
                break;
        case 462:
                e->op = MEMMON_OP_MSEAL;
                e->mflags = e->arg;
                e->arg = e->arg2 = 0;
                break;
        case 216:
                e->op = MEMMON_OP_REMAP_FILE_PAGES;
                e->prot = e->arg;
                e->arg = e->arg2;
                e->mflags = r->r8;
                e->arg2 = 0;
                break;
        case 237:
                e->op = MEMMON_OP_MBIND;
                break;
        case 157: /* prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, addr, len, name) */
                e->op = MEMMON_OP_PRCTL;
                e->addr = e->arg;
                e->len = e->arg2;
                e->arg = r->di;
                e->arg2 = r->si;
                break;
        case 59:
        case 322:
                e->op = MEMMON_OP_EXECVE;
                e->addr = e->len = e->arg = e->arg2 = 0;
                break;
        case 60:
        case 231:
                e->op = MEMMON_OP_EXIT;
                e->addr = e->len = e->arg = e->arg2 = 0;
                break;
        case 56:
        case 57:
        case 58:
        case 435:
                e->op = MEMMON_OP_FORK;
                e->addr = e->len = e->arg = e->arg2 = 0;
                break;
        default:
                e->op = MEMMON_OP_OTHER_SYSCALL;
                break;
        }
}

/* Posts a record.  With wake_bytes set, the reader is woken only when the
 * queued bytes cross wake_bytes: a wakeup is an irq_work self-IPI, which on
 * the reference VM cost about 3 us per record (watched churn 2.2x slower)
 * when the reader was woken for each one.  The reader drains on its own tick
 * as well, so records below the threshold are never stranded. */
static __always_inline void submit(void *rec, __u64 size) {
        __u64 flags = 0;

        if (wake_bytes) {
                __u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);

                /* avail counts this record and its 8-byte header. */
                flags = avail >= wake_bytes && avail < wake_bytes + size + 8 ? BPF_RB_FORCE_WAKEUP
                                                                             : BPF_RB_NO_WAKEUP;
        }
        bpf_ringbuf_submit(rec, flags);
}

/* btf: mm is a BTF-typed pointer (tp_btf) rather than a number (raw_tp); a
 * constant at each call site, so the other branch is compiled out. */
static __always_inline int on_write_section(struct mm_struct *mm, struct task_struct *cur, __u32 tgid,
                                            bool btf) {
        __u32 *idxp = bpf_map_lookup_elem(&watch_slot, &tgid);
        struct memmon_slot *s;
        struct memmon_event *e;
        struct file *f = 0;
        struct pt_regs *regs = 0;
        __u32 idx, flags = 0;
        bool file_wanted = false;
        long nr = -1;
        __u64 seq;

        if (!idxp) {
                stat_inc(MEMMON_STAT_SLOT_MISS);
                return 0;
        }
        idx = *idxp;
        s = bpf_map_lookup_elem(&slots, &idx);
        if (!s)
                return 0;
        /* Fully ordered (BPF_ATOMIC_FETCH): the increment is visible before
         * any change the lock holder makes next. */
        seq = __sync_fetch_and_add(&s->seq, 1) + 1;
        stat_inc(MEMMON_STAT_SECTIONS);

        if (!(cur->flags & PF_KTHREAD)) {
                regs = (struct pt_regs *)bpf_task_pt_regs(cur);
                nr = regs->orig_ax;
                /* mmap of a file: look the fd up while it is still the caller's. */
                file_wanted = nr == 9 && !(regs->r10 & MAP_ANONYMOUS) && cur->tgid == tgid;
                if (file_wanted)
                        f = fd_file(cur, (int)regs->r8);
        }
        if (f) {
                struct memmon_event_file *ef = bpf_ringbuf_reserve(&events, sizeof(*ef), 0);

                if (!ef)
                        goto lost;
                flags |= MEMMON_EVF_FILE | file_path(f, ef->path);
                e = &ef->ev;
        } else {
                e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
                if (!e)
                        goto lost;
        }
        e->ts_ns = bpf_ktime_get_ns();
        e->seq = seq;
        e->tgid = tgid;
        e->slot = idx;
        e->locker_tgid = cur->tgid;
        e->locker_tid = cur->pid;
        e->pad = 0;
        e->prot = e->mflags = 0;
        e->fd = -1;
        e->dev = 0;
        e->ino = 0;
        e->ip = e->sp = 0;
        e->addr = e->len = e->arg = e->arg2 = 0;
        e->nr = -1;
        __builtin_memset(e->comm, 0, sizeof(e->comm)); /* ring memory is not zeroed */
        /* The agent knows its target's name; the comm is only news when
         * someone else holds the lock (bpf_get_current_comm was 1.7% of a
         * watched churn loop). */
        if (e->locker_tgid != tgid || !regs) {
                flags |= e->locker_tgid != tgid ? MEMMON_EVF_REMOTE : 0;
                bpf_get_current_comm(e->comm, sizeof(e->comm));
        }
        if (!regs) {
                e->op = MEMMON_OP_KERNEL;
        } else if (cur->flags & PF_EXITING) {
                e->op = MEMMON_OP_EXIT;
                e->nr = nr;
        } else if (nr < 0) {
                /* Not in a syscall: x86 exception entry sets orig_ax to -1. */
                e->op = MEMMON_OP_FAULT;
                e->ip = regs->ip;
                e->sp = regs->sp;
        } else {
                decode_syscall(e, regs, nr);
                if (nr == 12)
                        e->arg = btf ? mm->brk : BPF_CORE_READ(mm, brk); /* the break before this call */
        }
        if (f) {
                e->dev = BPF_CORE_READ(f, f_inode, i_sb, s_dev);
                e->ino = BPF_CORE_READ(f, f_inode, i_ino);
        } else if (file_wanted) {
                flags |= MEMMON_EVF_NO_FILE;
        }
        e->flags = flags;
        __sync_fetch_and_add(&s->records, 1);
        submit(e, f ? sizeof(struct memmon_event_file) : sizeof(*e));
        return 0;
lost:
        __sync_fetch_and_add(&s->lost, 1);
        stat_inc(MEMMON_STAT_EVENTS_LOST);
        return 0;
}

SEC("tp_btf/mmap_lock_acquire_returned")
int BPF_PROG(memmon_lock, struct mm_struct *mm, bool write, bool success) {
        struct task_struct *cur;
        __u32 tgid;

        if (!write || !success)
                return 0;
        tgid = mm_tgid_btf(mm);
        if (!tgid || !tgid_watched(tgid))
                return 0;
        cur = bpf_get_current_task_btf();
        return on_write_section(mm, cur, tgid, true);
}

/* The same for kernels where tp_btf cannot load (no BTF-typed tracepoints):
 * the loader enables one of the two. */
SEC("raw_tp/mmap_lock_acquire_returned")
int memmon_lock_raw(struct bpf_raw_tracepoint_args *ctx) {
        struct mm_struct *mm = (struct mm_struct *)ctx->args[0];
        struct task_struct *cur;
        __u32 tgid;

        if (!ctx->args[1] || !ctx->args[2])
                return 0;
        tgid = mm_tgid_core(mm);
        if (!tgid || !tgid_watched(tgid))
                return 0;
        cur = bpf_get_current_task_btf();
        return on_write_section(mm, cur, tgid, false);
}

/* The address the kernel picked for a non-fixed mmap, mremap move or shmat,
 * inside the write section the lock hook has just posted. */
SEC("tp_btf/vm_unmapped_area")
int BPF_PROG(memmon_unmapped_area, unsigned long addr, struct vm_unmapped_area_info *info) {
        struct task_struct *cur = bpf_get_current_task_btf();
        struct mm_struct *mm = cur->mm;
        struct memmon_slot *s;
        struct memmon_event *e;
        __u32 tgid, *idxp;

        if (!mm)
                return 0;
        tgid = mm_tgid_btf(mm);
        if (!tgid || !tgid_watched(tgid))
                return 0;
        idxp = bpf_map_lookup_elem(&watch_slot, &tgid);
        if (!idxp)
                return 0;
        s = bpf_map_lookup_elem(&slots, idxp);
        if (!s)
                return 0;
        e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
        if (!e) {
                __sync_fetch_and_add(&s->lost, 1);
                stat_inc(MEMMON_STAT_EVENTS_LOST);
                return 0;
        }
        __builtin_memset(e, 0, sizeof(*e));
        e->ts_ns = bpf_ktime_get_ns();
        e->seq = *(volatile __u64 *)&s->seq; /* clang 14 (BPF) has no __atomic_load_n */
        e->op = MEMMON_OP_ADDR;
        e->tgid = tgid;
        e->slot = *idxp;
        e->locker_tgid = cur->tgid;
        e->locker_tid = cur->pid;
        e->nr = -1;
        e->fd = -1;
        e->addr = addr;
        e->len = info->length;
        e->mflags = info->flags;
        __sync_fetch_and_add(&s->records, 1);
        submit(e, sizeof(*e));
        return 0;
}

/* Watches tgid from now on, as bpfcap_watch() would.  Returns its slot, or
 * MEMMON_NO_SLOT when none is free or the agent got there first. */
static __always_inline __u32 auto_watch(__u32 tgid) {
        __u32 slot, w = tgid >> 6;
        struct memmon_slot *s;
        __u64 *bits;

        if (bpf_map_pop_elem(&free_slots, &slot)) {
                stat_inc(MEMMON_STAT_NO_FREE_SLOT);
                return MEMMON_NO_SLOT;
        }
        s = bpf_map_lookup_elem(&slots, &slot);
        bits = bpf_map_lookup_elem(&watch_bits, &w);
        if (!s || !bits || bpf_map_update_elem(&watch_slot, &tgid, &slot, BPF_NOEXIST)) {
                bpf_map_push_elem(&free_slots, &slot, 0);
                return MEMMON_NO_SLOT;
        }
        s->tgid = tgid;
        s->gen++;
        s->seq = 0;
        s->lost = 0;
        s->records = 0;
        /* The slot first, then the bit, as in bpfcap_watch(); the agent may
         * flip other bits of the same word at the same time. */
        __sync_fetch_and_or(bits, 1ULL << (tgid & 63));
        return slot;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(memmon_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm) {
        struct memmon_proc_event *e = bpf_ringbuf_reserve(&proc_events, sizeof(*e), 0);

        if (!e) {
                stat_inc(MEMMON_STAT_PROC_LOST);
                return 0;
        }
        e->ts_ns = bpf_ktime_get_ns();
        e->kind = MEMMON_PROC_EXEC;
        e->tgid = p->tgid;
        e->ppid = p->real_parent->tgid;
        e->uid = (__u32)bpf_get_current_uid_gid();
        e->old_tid = old_pid;
        e->slot = MEMMON_NO_SLOT;
        __builtin_memset(e->comm, 0, sizeof(e->comm)); /* the match_comm key is all 16 bytes */
        BPF_CORE_READ_STR_INTO(&e->comm, p, comm);
        if (bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), bprm->filename) < 0)
                e->filename[0] = 0;
        if (bpf_map_lookup_elem(&match_comm, e->comm) && !tgid_watched(e->tgid))
                e->slot = auto_watch(e->tgid);
        bpf_ringbuf_submit(e, 0);
        return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(memmon_fork, struct task_struct *parent, struct task_struct *child) {
        struct memmon_proc_event *e;

        if (!want_fork || child->pid != child->tgid)
                return 0; /* a thread, not a process */
        e = bpf_ringbuf_reserve(&proc_events, sizeof(*e), 0);
        if (!e) {
                stat_inc(MEMMON_STAT_PROC_LOST);
                return 0;
        }
        e->ts_ns = bpf_ktime_get_ns();
        e->kind = MEMMON_PROC_FORK;
        e->tgid = child->tgid;
        e->ppid = parent->tgid;
        e->uid = (__u32)bpf_get_current_uid_gid();
        e->old_tid = 0;
        e->slot = MEMMON_NO_SLOT;
        BPF_CORE_READ_STR_INTO(&e->comm, child, comm);
        e->filename[0] = 0;
        bpf_ringbuf_submit(e, 0);
        return 0;
}
