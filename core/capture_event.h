/*
 * capture_event: one change of a watched process's mappings, as the
 * kernel-driven (eBPF) capture reports it and as a backup chain keeps it
 * (an event line of format 2, core/backup_chain.h).
 *
 * An event is the request, not its outcome: it is reported when the
 * kernel takes the process's mmap lock for writing, before anything
 * changes.  The snapshot whose counter (seq) is at least the event's shows
 * the outcome.  What addr, len, arg and arg2 mean depends on op:
 *
 *   op                addr            len          arg            arg2
 *   mmap              hint            length       file offset    0
 *   addr              chosen address  length asked 0              0
 *   munmap            start           length       0              0
 *   mprotect          start           length       0              0
 *   pkey_mprotect     start           length       0              pkey
 *   mremap            old address     old length   new length     new address (MREMAP_FIXED)
 *   brk               new break       0            old break      0
 *   madvise           start           length       advice         0
 *   process_madvise   iovec (caller)  iovec count  advice         pidfd (caller)
 *   shmat             address asked   0            shmid          0
 *   shmdt             address         0            0              0
 *   mlock, munlock    start           length       0              0
 *   mseal, mbind      start           length       0              0
 *   prctl             start           length       option         sub-option
 *   fault             stack pointer   0            instruction pointer 0   (stack growth)
 *   syscall           its first four arguments; flags is its number (x86-64)
 *   execve, exit, fork, kernel, mlockall, munlockall: 0
 *
 * prot holds PROT_* bits (mmap, mprotect, pkey_mprotect); flags holds
 * MAP_* (mmap), MREMAP_* (mremap), SHM_* (shmat), MLOCK_* / MCL_* (mlock2,
 * mlockall), or the vm_unmapped_area flags (addr).  pid/tid name the thread
 * that held the lock: another process's when it changed the target from
 * outside (process_madvise, ptrace), a kernel thread's for op kernel.
 */
#ifndef MEMMON_CORE_CAPTURE_EVENT_H
#define MEMMON_CORE_CAPTURE_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/ts.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What happened.  The names (capture_op_name) are the chain's words: the
 * order here may change, the names may not. */
enum capture_op {
        CAPTURE_OP_SYSCALL, /* a syscall not listed here took the lock */
        CAPTURE_OP_MMAP,
        CAPTURE_OP_ADDR, /* the address the kernel chose inside the event before */
        CAPTURE_OP_MUNMAP,
        CAPTURE_OP_MPROTECT,
        CAPTURE_OP_PKEY_MPROTECT,
        CAPTURE_OP_MREMAP,
        CAPTURE_OP_BRK,
        CAPTURE_OP_MADVISE,
        CAPTURE_OP_PROCESS_MADVISE,
        CAPTURE_OP_SHMAT,
        CAPTURE_OP_SHMDT,
        CAPTURE_OP_MLOCK,
        CAPTURE_OP_MUNLOCK,
        CAPTURE_OP_MLOCKALL,
        CAPTURE_OP_MUNLOCKALL,
        CAPTURE_OP_MSEAL,
        CAPTURE_OP_REMAP_FILE_PAGES,
        CAPTURE_OP_MBIND,
        CAPTURE_OP_PRCTL,
        CAPTURE_OP_EXECVE, /* the new image being set up */
        CAPTURE_OP_EXIT,   /* the address space being torn down */
        CAPTURE_OP_FORK,   /* the process's mappings copied into a child */
        CAPTURE_OP_FAULT,  /* a page fault growing the stack */
        CAPTURE_OP_KERNEL, /* a kernel thread (khugepaged, ...) */
        CAPTURE_OP_COUNT,
};

/* The longest path an event carries, in bytes (raw, before escaping). */
#define CAPTURE_PATH_MAX 4096

struct capture_event {
        char time[TS_SIZE]; /* a timestamp (core/ts.h) */
        uint64_t seq;       /* the target's change counter this event set */
        enum capture_op op;
        pid_t pid; /* the lock holder's process and thread */
        pid_t tid;
        uint64_t addr;
        uint64_t len;
        uint32_t prot;
        uint32_t flags;
        uint64_t arg;
        uint64_t arg2;
        /* The mapped file (mmap of a file): device, inode and path as the
         * host's root sees it; path NULL when there is none. */
        uint32_t dev_major;
        uint32_t dev_minor;
        uint64_t ino;
        const char *path; /* raw bytes, not NUL-terminated, borrowed */
        size_t path_len;
        bool path_cut; /* path is only the tail of a longer one */
};

/* "mmap", "munmap", ...; NULL for a value that is no op. */
const char *capture_op_name(enum capture_op op);

/* Parses an op's name, s[0..len).  Returns 0 or -EINVAL. */
int capture_op_from_name(const char *s, size_t len, enum capture_op *ret);

/* Returns 0 when ev can be written as an event line: a valid op and
 * timestamp, pid and tid > 0, devices that fit a dev_t, and a path of
 * 1..CAPTURE_PATH_MAX bytes that starts with '/' unless it is cut, or none
 * (and then no path_cut).  -EINVAL otherwise. */
int capture_event_check(const struct capture_event *ev);

#ifdef __cplusplus
}
#endif
#endif
