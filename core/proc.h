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

/* The effective uid of a live process (the "Uid:" line of
 * /proc/PID/status): whose memory it is, for the alert rules.  Returns 0,
 * -ESRCH, or another -errno. */
int proc_effective_uid(pid_t pid, uid_t *ret);

#ifdef __cplusplus
}
#endif
#endif
