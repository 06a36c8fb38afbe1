/*
 * alertexec: `alert_exec = PROG ARGS`, run for each alert raised.
 *
 * Workers hand runs over with alertexec_submit(), which never blocks on a
 * program: it counts the run against the target's rate (alert_exec_rate
 * runs per minute; the rest are counted and logged once a minute), and
 * queues it.  One runner thread starts the programs (fork with only
 * async-signal-safe calls before execve; no shell), writes the event's
 * JSON line to their stdin without blocking, and waits for them through
 * pidfds with a deadline: a program still running after
 * ALERTEXEC_TIMEOUT_MS is killed.  Failures (cannot start, non-zero exit,
 * killed, timed out) are logged as errors and written as `error` events.
 *
 * The program must be a regular file owned by root or the agent's user,
 * writable by no one else, in folders that only they can change (from /
 * down; core/trusted_dir.h): the agent runs it as itself.  Otherwise the
 * run is refused and logged.
 *
 * A program gets: stdin the JSON line, stdout and stderr appended to
 * logs/alert_exec.out, only fds 0-2, default signal dispositions and an
 * empty signal mask, and an environment of PATH (the agent's),
 * MEMMON_TARGET, MEMMON_PID, MEMMON_START_TIME and MEMMON_RULE.  It dies
 * with the agent (PR_SET_PDEATHSIG), and the runner reaps only its own
 * children, by pid.
 */
#ifndef MEMMON_AGENT_ALERTEXEC_H
#define MEMMON_AGENT_ALERTEXEC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/events.h"
#include "agent/log.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A run is killed after this long. */
#define ALERTEXEC_TIMEOUT_MS 10000
/* Runs at once at most; more wait in the queue. */
#define ALERTEXEC_RUNNING_MAX 4
/* Runs waiting at most; more are dropped (and counted, and logged). */
#define ALERTEXEC_QUEUE_MAX 256
/* The window of alert_exec_rate. */
#define ALERTEXEC_WINDOW_MS 60000

struct alertexec;

/* A runner for the logs folder open at logs_fd (duplicated; alert_exec.out
 * is opened beneath it; -1: output goes to /dev/null),
 * logging to log and writing error events to events (both borrowed, and
 * either may be NULL).  Starts its thread.  Returns 0 or -errno. */
int alertexec_new(int logs_fd, struct agent_log *log, struct agent_events *events, struct alertexec **ret);
/* Kills the programs still running, reaps them, stops the thread and
 * frees x; x may be NULL. */
void alertexec_free(struct alertexec *x);

/* One alert of target (the process pid, start_time; rule its name): runs
 * argv (copied) with json (json_len bytes, its line) on stdin, unless the
 * target has had rate runs within the last window already.  Callable from
 * any thread; never waits for a program. */
void alertexec_submit(struct alertexec *x, const char *target, char *const *argv, unsigned rate, pid_t pid,
                      uint64_t start_time, const char *rule, const char *json, size_t json_len);

/* Counters, for tests and status: runs started, skipped by the rate, and
 * dropped because the queue was full; runs that failed. */
struct alertexec_stats {
        uint64_t started, skipped, dropped, failed;
};
void alertexec_get_stats(struct alertexec *x, struct alertexec_stats *ret);

#ifdef __cplusplus
}
#endif
#endif
