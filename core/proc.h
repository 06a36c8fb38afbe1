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

#include "core/policy.h"

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
 * be a symlink, and must be a regular file (-EINVAL otherwise; a FIFO never
 * blocks the read). */
int proc_read_pidfile(const char *path, pid_t *ret);

/* Reads a pidfile as proc_read_pidfile() does, and refuses what someone
 * other than the service could have planted or rewritten.  The file is
 * opened once (O_NOFOLLOW|O_NONBLOCK) and everything is judged on what was
 * opened: its type, owner and mode, and the folder it was opened in, so
 * that owner and content come from one file.  Refused (-EPERM, why[] says
 * which): not a regular file; a folder that someone else than root, the
 * agent's user and the file's owner owns; a folder others may write to, or
 * one whose group has members other than root and the file's owner, unless
 * the folder is sticky (then nobody but the owner may replace the file); a
 * file writable by others or by such a group; a file that names a process
 * proc_owner_may_name() refuses.  On success *ret is the pid and *ret_owner
 * (when not NULL) the file's owner.  Returns 0 or -errno. */
int proc_read_pidfile_trusted(const char *path, pid_t *ret, uid_t *ret_owner, char *why, size_t why_size);

/* What a pidfile owned by owner may name: root's any process, anyone
 * else's only a process whose real and effective uids are both owner (not a
 * setuid program it started).  path is for why[].  Returns 0, -EPERM with
 * why[] set, or -ESRCH. */
int proc_owner_may_name(uid_t owner, pid_t pid, const char *path, char *why, size_t why_size);

/* The real uid of a live process.  Returns 0 or -errno (-ESRCH). */
int proc_uid(pid_t pid, uid_t *ret);

/* The real and effective uids of a live process (/proc/PID/status).
 * Returns 0 or -errno (-ESRCH). */
int proc_uids(pid_t pid, uid_t *ret_ruid, uid_t *ret_euid);

/* True when the process runs the very file at path: /proc/PID/exe and
 * path are the same file (device and inode), which a process of another
 * user cannot fake for a file it cannot write (a name can be faked, in a
 * mount namespace of its own, for one).  A deleted or replaced executable
 * is not the file at path any more. */
bool proc_exe_is(pid_t pid, const char *path);

/* Checks a process against a match target's filter (core/policy.h): its
 * real and effective uids, its executable.  Returns 0, -EPERM with why[]
 * set (why may be NULL), or -ESRCH. */
int proc_filter_check(pid_t pid, const struct target_filter *f, char *why, size_t why_size);

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

/* The effective uid of a live process (the "Uid:" line of
 * /proc/PID/status): whose memory it is, for the alert rules.  Returns 0,
 * -ESRCH, or another -errno. */
int proc_effective_uid(pid_t pid, uid_t *ret);

/* A growable buffer for proc_file_ranges(); zeroed to start. */
struct proc_dents {
        char *buf;
        size_t cap;
};
void proc_dents_fini(struct proc_dents *d);
/* Frees d's buffer when it is keep bytes or smaller (d is then zeroed). */
void proc_dents_release(struct proc_dents *d, size_t keep);

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
