/*
 * log: the agent's log files.
 *
 * logs/monitor.log gets every event, each line tagged with its target;
 * logs/<target>.log gets one target's events when per-target logs are on (not
 * in the seed's single-target layout, where monitor.log is the target's log).
 * A line is written with one write() on an O_APPEND fd, so lines from
 * different threads never interleave.  Files are reopened on SIGHUP for
 * logrotate.
 */
#ifndef MEMMON_AGENT_LOG_H
#define MEMMON_AGENT_LOG_H

#include <pthread.h>
#include <stdarg.h>

#include "core/worker.h"

struct log_target;

struct agent_log {
        pthread_mutex_t lock;
        char *dir;                      /* the logs folder */
        int dir_fd;                     /* open on it; files are opened under it */
        int main_fd;                    /* monitor.log */
        int per_target;                 /* also write logs/<target>.log */
        int mirror_fd;                  /* -1, or stderr in -f mode */
        enum log_level level;
        struct log_target *targets;     /* lazily opened per-target files */
};

/* Opens DIR/monitor.log (0600, O_APPEND|O_NOFOLLOW|O_CLOEXEC).  Returns 0 or
 * -errno. */
int agent_log_open(struct agent_log *l, const char *dir, int per_target, int mirror_fd, enum log_level level);
void agent_log_close(struct agent_log *l);
/* Reopens every file (after logrotate moved them).  Returns 0 or -errno. */
int agent_log_reopen(struct agent_log *l);

void agent_log(struct agent_log *l, const char *target, enum log_level level, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
/* Logs each line of a multi-line text. */
void agent_log_lines(struct agent_log *l, const char *target, enum log_level level, const char *text);

/* A worker_env event callback; user is the struct agent_log. */
void agent_log_event(void *user, const char *target, enum log_level level, const char *msg);

#endif
