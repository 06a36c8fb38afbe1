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

/* Everything below lives in the logs folder, given as an fd (dfd) that the
 * agent opened beneath its base directory, and is opened through core/fs.h's
 * door: never through a symlink, a planted FIFO never blocks, a file that is
 * not the agent's own is refused.  shown names a file in messages. */

/* Opens and locks the pid file name and writes our pid into it.  When
 * another agent holds it, returns -EWOULDBLOCK with *ret_holder set to its
 * pid (0 if unknown).  A file left by a crashed agent is not locked and is
 * taken over.  Only the holder of the lock removes the file (on its way out,
 * still holding it); so after taking the lock this checks that the file it
 * locked is still the one at the name, and starts again if not: a file
 * opened just before its holder removed it is locked by nobody else, while
 * a later agent may have made and locked a new one.  Returns the fd (keep
 * it open while running), or -errno with why[] set (-EPERM: the file is not
 * ours). */
int pidfile_acquire(int dfd, const char *name, const char *shown, pid_t *ret_holder, char *why,
                    size_t why_size);
/* Removes the pid file, still holding the lock, unless another file is at
 * its name now, then closes fd. */
void pidfile_release(int dfd, const char *name, int fd);

/* Creates the command FIFO (0600) or reuses a FIFO we own; refuses, touching
 * nothing, when the name is anything else (a symlink, a regular file, a FIFO
 * of another user).  Opens it O_RDWR|O_NONBLOCK so writers coming and going
 * never give EOF.  Returns the fd, or -errno with why[] explaining. */
int fifo_open(int dfd, const char *name, const char *shown, char *why, size_t why_size);
/* Removes the FIFO fd was opened on (unless another file is at its name
 * now) and closes fd. */
void fifo_remove(int dfd, const char *name, int fd);

/* The name of the daemon's output file in the logs folder. */
#define DAEMON_OUTPUT_NAME "daemon_output.log"

/* Opens logs/daemon_output.log for appending, as one of the agent's own
 * files.  Returns the fd, or -errno with why[] set. */
int daemon_open_output(int logs_fd, char *why, size_t why_size);

/* Detaches (fork, setsid, fork, umask 077, chdir /, stdin from /dev/null,
 * stdout and stderr to daemon_open_output()).  In the original process this
 * does not return: it waits for the daemon to report readiness through
 * daemon_ready() or daemon_failed() and exits with its status.  Returns 0
 * in the daemon, or -errno (still in the original process). */
int daemonize(int logs_fd);
/* Tells the waiting original process that the daemon is running. */
void daemon_ready(void);
/* Tells it that start-up failed: it prints msg and exits with code. */
void daemon_failed(int code, const char *msg);

#ifdef __cplusplus
}
#endif
#endif
