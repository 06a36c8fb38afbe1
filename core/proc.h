/*
 * proc: facts about processes read from /proc, and finding them.
 *
 * A process instance is (pid, start time): the start time (clock ticks since
 * boot, field 22 of /proc/PID/stat) tells a reused PID from the process that
 * had it before.
 */
#ifndef MEMMON_CORE_PROC_H
#define MEMMON_CORE_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The largest pid Linux hands out (PID_MAX_LIMIT on 64-bit systems). */
#define PROC_PID_MAX 4194304

struct proc_id {
        pid_t pid;
        uint64_t start_time;
};

/* Parses the text of /proc/PID/stat: the fields after the last ')' (the
 * command name may hold spaces and parentheses).  Pure.  Returns 0 or
 * -EINVAL. */
int proc_parse_stat(const char *buf, size_t len, uint64_t *ret_start_time, char *ret_state);

/* Reads the identity of a live process.  Returns 0, -ESRCH when there is no
 * such process (or it is a zombie), or another -errno. */
int proc_identity(pid_t pid, struct proc_id *ret);

/* PF_KTHREAD in the flags of /proc/PID/stat (field 9): a kernel thread,
 * which has no address space and so no memory mappings. */
#define PROC_PF_KTHREAD 0x00200000u

/* The fields of /proc/PID/stat memmon uses. */
struct proc_stat {
        char state;          /* field 3: R, S, D, Z, X, ... */
        unsigned flags;      /* field 9: PF_* */
        uint64_t start_time; /* field 22 */
};

/* Parses the text of /proc/PID/stat as proc_parse_stat() does, with the
 * flags too.  Pure.  Returns 0 or -EINVAL. */
int proc_parse_stat_fields(const char *buf, size_t len, struct proc_stat *ret);

/* A process and the thread its maps are read through. */
struct proc_task {
        struct proc_id id; /* the process: its pid and its start time */
        /* The thread to read it through: id.pid, or once the main thread
         * has exited (a zombie while other threads still run, as after
         * pthread_exit() in main) one of the threads that still run. */
        pid_t tid;
        bool kernel_thread; /* PF_KTHREAD: no memory mappings */
};

/* Finds a live process: one with at least one thread that has not exited,
 * so that a process whose main thread has exited is still found (its
 * identity stays pid and the process's start time).  Kernel threads are
 * found too, and say so.  Returns 0, -ESRCH when no thread of pid lives,
 * or another -errno. */
int proc_task_find(pid_t pid, struct proc_task *ret);

/* Opens a file of t's /proc folder (O_RDONLY | O_CLOEXEC): /proc/PID/NAME,
 * or /proc/PID/task/TID/NAME when the process is read through another
 * thread.  Returns an fd, -ESRCH when the process or thread is gone, or
 * another -errno (-EACCES: not allowed to read it). */
int proc_task_open(const struct proc_task *t, const char *name);

/* Parses a PID as written by users and pidfiles: decimal, 1..PROC_PID_MAX,
 * surrounding whitespace allowed.  Returns 0 or -EINVAL. */
int proc_parse_pid(const char *s, size_t len, pid_t *ret);

/* Reads a pidfile (at most 64 bytes are looked at).  Returns 0, -ENOENT,
 * -EINVAL when it holds no valid PID, or another -errno.  The file must not
 * be a symlink. */
int proc_read_pidfile(const char *path, pid_t *ret);

/* Reads a pidfile as proc_read_pidfile() does, and refuses what someone
 * other than the service could have planted: a pidfile in a folder anyone
 * may write to (-EPERM), or one that names a process of another user than
 * the file's owner (-EPERM; a pidfile owned by root may name any process).
 * On -EPERM why[] says which.  Returns 0 or -errno. */
int proc_read_pidfile_trusted(const char *path, pid_t *ret, char *why, size_t why_size);

/* The real uid of a live process.  Returns 0 or -errno (-ESRCH). */
int proc_uid(pid_t pid, uid_t *ret);

/* Room for a comm (15 bytes and its NUL) and for an exe basename. */
#define PROC_COMM_SIZE 16
#define PROC_NAME_SIZE 256

/* The command name of a process (/proc/PID/comm, without its newline).
 * Returns 0, -ESRCH or another -errno. */
int proc_comm(pid_t pid, char ret[PROC_COMM_SIZE]);
/* The basename of a process's executable (" (deleted)" dropped).  Returns
 * 0, -ESRCH, or another -errno (-EACCES: another user's process without
 * CAP_SYS_PTRACE). */
int proc_exe_name(pid_t pid, char ret[PROC_NAME_SIZE]);
/* True when the process's comm or exe basename is name: how a `match`
 * target names its process. */
bool proc_name_matches(pid_t pid, const char *name);

/* A growable buffer for proc_file_ranges(); zeroed to start. */
struct proc_dents {
        char *buf;
        size_t cap;
};
void proc_dents_fini(struct proc_dents *d);

/* Adds the range [start, end) to an order-dependent hash of ranges, which
 * starts at PROC_RANGES_HASH_INIT. */
#define PROC_RANGES_HASH_INIT UINT64_C(0xcbf29ce484222325)
static inline uint64_t proc_ranges_hash(uint64_t h, uint64_t start, uint64_t end) {
        h = (h ^ start) * UINT64_C(0x100000001b3);
        h = (h ^ end) * UINT64_C(0x100000001b3);
        return h ^ (h >> 29);
}

/* The address ranges of the file-backed mappings of t (those with a file:
 * the lines of its maps with an inode), all as they were at one instant:
 * the kernel gathers /proc/PID/map_files under the process's mmap lock for
 * each getdents64 call, so the buffer is grown until the whole listing
 * fits in one call.  Gives their count and the proc_ranges_hash() of them
 * in address order.  Returns 0, or -errno (-EACCES, -EPERM: not allowed;
 * -ESRCH: the process is gone; -ENOMEM). */
int proc_file_ranges(const struct proc_task *t, struct proc_dents *d, uint64_t *ret_count,
                     uint64_t *ret_hash);

#ifdef __cplusplus
}
#endif
#endif
