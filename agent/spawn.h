/*
 * spawn: programs the agent starts and watches (`agent -- PROG ARGS` and
 * `exec =` targets).
 *
 * The child stops right after execve() (it asks to be traced first), so the
 * caller can take the first snapshot before PROG runs its first instruction,
 * then lets it go with spawn_release().  Where tracing is not permitted the
 * child simply runs.
 */
#ifndef MEMMON_AGENT_SPAWN_H
#define MEMMON_AGENT_SPAWN_H

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Starts argv[0] (searched in PATH as execvp does, scripts without #! run
 * by /bin/sh) with argv, stdin from /dev/null, and stdout and stderr on
 * out_fd (the caller's, left open) or, when it is -1, the agent's own.  The
 * agent has threads: everything is prepared before the fork, and the child
 * makes only async-signal-safe calls before exec.  The program gets fds 0,
 * 1 and 2 and no other (whatever the agent inherited from whoever started
 * it), an environment without what the service manager meant for the
 * agent alone (NOTIFY_SOCKET, WATCHDOG_*, LISTEN_*), and is killed
 * (PR_SET_PDEATHSIG) when the agent dies, by SIGKILL too, so that none of
 * the agent's programs outlives it.  Returns 0 with *ret_pid set and
 * *ret_stopped telling whether it is held stopped after exec, or -errno
 * (-ENOENT, -EACCES: the program cannot be found or run; a failure of exec
 * in the child is reported too). */
int spawn_start(char *const argv[], int out_fd, pid_t *ret_pid, int *ret_stopped);
/* Lets a child held by spawn_start() run. */
void spawn_release(pid_t pid);
/* Stops a child: SIGTERM, then SIGKILL after grace_ms.  Reaps it and returns
 * its exit status as a shell would ($?). */
int spawn_stop(pid_t pid, int grace_ms);
/* The shell-style status ($?) of a waitpid() status. */
int spawn_exit_code(int status);
/* The program spawn_start() would run for name: name itself when it holds
 * a '/', else the first executable file of that name in PATH.  ret has
 * PATH_MAX bytes.  Returns 0, -ENOENT, -EACCES or -ENAMETOOLONG. */
int spawn_find_program(const char *name, char *ret);

#ifdef __cplusplus
}
#endif
#endif
