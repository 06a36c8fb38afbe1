/*
 * log: the agent's log files.
 *
 * logs/monitor.log gets every event, each line tagged with its target;
 * logs/<target>.log gets one target's events when per-target logs are on (not
 * in the single-target layout, where monitor.log is the target's log).
 * A line is written with one write() on an O_APPEND fd, so lines from
 * different threads never interleave.  Files are reopened on SIGHUP for
 * logrotate.  Every function may be called from any thread.
 */
#ifndef MEMMON_AGENT_LOG_H
#define MEMMON_AGENT_LOG_H

#include <stddef.h>

#include "core/policy.h"

#ifdef __cplusplus
extern "C" {
#endif

struct agent_log;

/* Opens monitor.log in the logs folder dir_fd (which it duplicates), as
 * one of the agent's own files (core/fs.h: 0600, O_APPEND, a regular file
 * of ours, never through a symlink, never blocking on a FIFO), logging lines
 * up to level, and with mirror_fd >= 0 copying every line there too.
 * Returns 0 with *ret set, or -errno with why[] set (-EPERM: the file there
 * is not ours). */
int agent_log_new(int dir_fd, int per_target, int mirror_fd, enum log_level level, struct agent_log **ret,
                  char *why, size_t why_size);
/* Closes every file and frees l; l may be NULL. */
void agent_log_free(struct agent_log *l);
/* Reopens every file (after logrotate moved them) in the same folder.
 * Returns 0 or -errno. */
int agent_log_reopen(struct agent_log *l);
/* Changes the level, while other threads log. */
void agent_log_set_level(struct agent_log *l, enum log_level level);

/* Logs one line.  Every line is escaped as core/textesc.h says (C0 and C1
 * controls, bytes that are not UTF-8, bidi overrides and isolates, line
 * separators, backslashes), so that nothing a process name, a path or a
 * FIFO writer holds can forge a line, drive a terminal or reorder what is
 * read.  l may be NULL: nothing is logged. */
void agent_log(struct agent_log *l, const char *target, enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Logs each line of a multi-line text. */
void agent_log_lines(struct agent_log *l, const char *target, enum log_level level, const char *text);

/* A worker_env event callback; user is the struct agent_log. */
void agent_log_event(void *user, const char *target, enum log_level level, const char *msg);

#ifdef __cplusplus
}
#endif
#endif
