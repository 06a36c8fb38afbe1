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
 * by /bin/sh) with argv, stdin from /dev/null, and stdout and stderr
 * appended to out_path (0600, not through a symlink) or, when it is NULL,
 * the agent's own.  The agent has threads: everything is prepared before the
 * fork, and the child makes only async-signal-safe calls before exec.
 * Returns 0 with *ret_pid set and *ret_stopped telling whether it is held
 * stopped after exec, or -errno (-ENOENT, -EACCES: the program cannot be
 * found or run; a failure of exec in the child is reported too). */
int spawn_start(char *const argv[], const char *out_path, pid_t *ret_pid, int *ret_stopped);
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
