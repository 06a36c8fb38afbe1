/*
 * proc: facts about processes read from /proc, and finding them.
 *
 * A process instance is (pid, start time): the start time (clock ticks since
 * boot, field 22 of /proc/PID/stat) tells a reused PID from the process that
 * had it before.
 */
#ifndef MEMMON_CORE_PROC_H
#define MEMMON_CORE_PROC_H

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

/* Finds the oldest live process whose comm or exe basename equals name,
 * skipping the caller's own process.  Returns 0, -ESRCH when none matches,
 * or another -errno. */
int proc_find_by_name(const char *name, struct proc_id *ret);

#ifdef __cplusplus
}
#endif
#endif
