/*
 * control: the agent's footprint in its base directory and in the process
 * tree: the locked pid file, the command FIFO, detaching, readiness.
 */
#ifndef MEMMON_AGENT_CONTROL_H
#define MEMMON_AGENT_CONTROL_H

#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Creates DIR (0700) unless it exists as a directory.  Returns 0 or -errno. */
int make_dir(const char *path);

/* Opens and locks the pid file and writes our pid into it.  When another
 * agent holds it, returns -EWOULDBLOCK with *ret_holder set to its pid (0 if
 * unknown).  A file left by a crashed agent is not locked and is taken over.
 * Returns the fd (keep it open while running) or -errno. */
int pidfile_acquire(const char *path, pid_t *ret_holder);
/* Removes the pid file (still holding the lock) and closes fd. */
void pidfile_release(const char *path, int fd);

/* Creates the command FIFO (0600) or reuses a FIFO we own; refuses, touching
 * nothing, when the path is anything else (a symlink, a regular file, a FIFO
 * of another user).  Opens it O_RDWR|O_NONBLOCK so writers coming and going
 * never give EOF.  Returns the fd, or -errno with why[] explaining. */
int fifo_open(const char *path, char *why, size_t why_size);

/* Detaches (fork, setsid, fork, umask 077, chdir /, stdin from /dev/null,
 * stdout and stderr to out_path).  In the original process this does not
 * return: it waits for the daemon to report readiness through
 * daemon_ready() or daemon_failed() and exits with its status.  Returns 0
 * in the daemon, or -errno (still in the original process). */
int daemonize(const char *out_path);
/* Tells the waiting original process that the daemon is running. */
void daemon_ready(void);
/* Tells it that start-up failed: it prints msg and exits with code. */
void daemon_failed(int code, const char *msg);

#ifdef __cplusplus
}
#endif
#endif
