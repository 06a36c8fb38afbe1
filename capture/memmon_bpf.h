/*
 * memmon_bpf: the memory layout shared by the BPF program (memmon.bpf.c) and
 * its user-space side (bpfcap.c): the per-target slot of the mmap-able
 * counter array, the mapping records of the event ring and the process
 * records of the process ring.  capture/DESIGN.md says why it is so.
 *
 * Every struct has a fixed size and explicit padding so that the BPF object
 * (built by clang -target bpf) and the agent (gcc, C or C++) agree byte for
 * byte; the static asserts at the end hold both sides to it.  Changing a
 * layout means bumping MEMMON_BPF_ABI, which the agent checks against the
 * object's `abi_version` before it trusts anything in the maps.
 */
#ifndef MEMMON_BPF_H
#define MEMMON_BPF_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define MEMMON_BPF_ABI 1

/* One slot per watched process, in the BPF_F_MMAPABLE array "slots".  The
 * agent maps the array read-write once and then reads `seq` with a plain
 * acquire load: no system call.  64 bytes, so that two targets changing on
 * two CPUs never share a cache line. */
struct memmon_slot {
        __u64 seq;     /* +1 each time a write section on the target's mm begins; 0 at watch */
        __u64 lost;    /* records of this target that found the event ring full */
        __u64 records; /* records of this target posted to the event ring */
        __u32 tgid;    /* written by the agent (whose slot this is); BPF ignores it */
        __u32 gen;     /* written by the agent: bumped on each reuse of the slot */
        __u64 reserved[4];
};

/* What a mapping record describes.  Syscall-driven ops are decoded from the
 * lock holder's syscall number; the rest say who held the lock. */
enum memmon_op {
        MEMMON_OP_OTHER_SYSCALL = 0, /* a syscall not in this list took the write lock */
        MEMMON_OP_MMAP,
        MEMMON_OP_MUNMAP,
        MEMMON_OP_MPROTECT,
        MEMMON_OP_PKEY_MPROTECT,
        MEMMON_OP_MREMAP,
        MEMMON_OP_BRK,
        MEMMON_OP_MADVISE, /* only advice that takes the write lock (splits/flags) */
        MEMMON_OP_PROCESS_MADVISE,
        MEMMON_OP_SHMAT,
        MEMMON_OP_SHMDT,
        MEMMON_OP_MLOCK,
        MEMMON_OP_MUNLOCK,
        MEMMON_OP_MLOCKALL,
        MEMMON_OP_MUNLOCKALL,
        MEMMON_OP_MSEAL,
        MEMMON_OP_REMAP_FILE_PAGES,
        MEMMON_OP_MBIND,
        MEMMON_OP_PRCTL,
        MEMMON_OP_EXECVE, /* the new image being set up (several sections) */
        MEMMON_OP_EXIT,   /* the address space being torn down */
        MEMMON_OP_FORK,   /* the parent's mm write-locked while it is copied */
        MEMMON_OP_FAULT,  /* not in a syscall: a page fault growing the stack */
        MEMMON_OP_KERNEL, /* a kernel thread (khugepaged, ...) */
        MEMMON_OP_ADDR,   /* follow-up: the address the kernel chose (vm_unmapped_area) */
        MEMMON_OP_COUNT
};

/* memmon_event.flags */
#define MEMMON_EVF_REMOTE 0x1u     /* the lock holder is another process */
#define MEMMON_EVF_FILE 0x2u       /* dev/ino/path describe the mapped file */
#define MEMMON_EVF_PATH_TRUNC 0x4u /* the path did not fit (or the walk gave up) */
#define MEMMON_EVF_NO_FILE 0x8u    /* an fd was given but no file behind it */

#define MEMMON_COMM_LEN 16
#define MEMMON_NO_SLOT 0xffffffffu
#define MEMMON_PATH_LEN 256

/* One record per write section on a watched mm (and one MEMMON_OP_ADDR
 * follow-up per address the kernel picked inside such a section).  Posted
 * when the section begins, so it carries the request, not the outcome: the
 * snapshot whose counter is >= seq shows the outcome. */
struct memmon_event {
        __u64 ts_ns; /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
        __u64 seq;   /* the slot counter this section set (ADDR: of its section) */
        __u32 op;    /* enum memmon_op */
        __u32 flags; /* MEMMON_EVF_* */
        __u32 tgid;  /* the watched process */
        __u32 slot;
        __u32 locker_tgid; /* who took the lock (differs when MEMMON_EVF_REMOTE) */
        __u32 locker_tid;
        __s32 nr;     /* syscall number of the lock holder, -1 outside a syscall */
        __u32 pad;    /* keeps addr 8-aligned */
        __u64 addr;   /* start (mmap: hint; brk: new break; mremap: old address) */
        __u64 len;    /* length (mremap: old length; brk: 0) */
        __u64 arg;    /* mmap: file offset; mremap: new length; brk: old break */
        __u64 arg2;   /* mremap: new address (MREMAP_FIXED); pkey for pkey_mprotect */
        __u32 prot;   /* PROT_* (madvise, process_madvise: the advice) */
        __u32 mflags; /* MAP_* / MREMAP_* / SHM_* / MLOCK_* / MCL_* */
        __s32 fd;     /* mmap: fd; shmat: shmid; process_madvise: pidfd; else -1 */
        __u32 dev;    /* kernel dev_t of the file: MAJOR << 20 | MINOR */
        __u64 ino;
        __u64 ip;                   /* MEMMON_OP_FAULT: user ip; else 0 */
        __u64 sp;                   /* MEMMON_OP_FAULT: user stack pointer; else 0 */
        char comm[MEMMON_COMM_LEN]; /* of the lock holder when REMOTE or KERNEL, else "" */
};

/* The event plus the file's path, posted instead of memmon_event when
 * MEMMON_EVF_FILE is set.  The path is built by walking dentries up to the
 * root of the mount tree (bpf_d_path is not allowed for these program types);
 * it is what the host's root sees, NUL-terminated. */
struct memmon_event_file {
        struct memmon_event ev;
        char path[MEMMON_PATH_LEN];
};

enum memmon_proc_kind {
        MEMMON_PROC_EXEC = 1,
        MEMMON_PROC_FORK = 2, /* a new process (not a thread) */
};

/* The process ring: exec of any process (so that `match` targets attach when
 * they start) and, when asked for, forks.  Exits come from pidfds. */
struct memmon_proc_event {
        __u64 ts_ns;
        __u32 kind; /* enum memmon_proc_kind */
        __u32 tgid; /* exec: the process; fork: the child */
        __u32 ppid; /* the parent */
        __u32 uid;
        __u32 old_tid;                  /* exec: the thread that called execve (it becomes tgid) */
        __u32 slot;                     /* exec: the slot the program gave it (its comm is in
                                         * match_comm), counting from this exec on; else
                                         * MEMMON_NO_SLOT */
        char comm[MEMMON_COMM_LEN];     /* after exec: the new comm */
        char filename[MEMMON_PATH_LEN]; /* exec: the path given to execve */
};

/* Indexes of the per-CPU "stats" array. */
enum memmon_stat {
        MEMMON_STAT_SECTIONS = 0, /* write sections counted on watched mms */
        MEMMON_STAT_EVENTS_LOST,  /* event ring full */
        MEMMON_STAT_PROC_LOST,    /* process ring full */
        MEMMON_STAT_SLOT_MISS,    /* watched bit set but no slot: agent mid-update */
        MEMMON_STAT_NO_FREE_SLOT, /* a matching exec found no free slot */
        MEMMON_STAT_COUNT
};

#ifndef __bpf__
#ifdef __cplusplus
#define MEMMON_BPF_ASSERT static_assert
#else
#define MEMMON_BPF_ASSERT _Static_assert
#endif
MEMMON_BPF_ASSERT(sizeof(struct memmon_slot) == 64, "slot is one cache line");
MEMMON_BPF_ASSERT(sizeof(struct memmon_event) == 136, "event layout");
MEMMON_BPF_ASSERT(sizeof(struct memmon_event_file) == 136 + MEMMON_PATH_LEN, "file event layout");
MEMMON_BPF_ASSERT(sizeof(struct memmon_proc_event) == 304, "proc event layout");
#undef MEMMON_BPF_ASSERT
#endif

#ifdef __cplusplus
}
#endif

#endif
