/*
 * agent: the state of one running agent, shared by its roles:
 * main.c (command line, start-up, exit codes), targets.c (the configuration
 * in force, exec children, reload) and loop.c (signals, FIFO, prompt).
 */
#ifndef MEMMON_AGENT_AGENT_H
#define MEMMON_AGENT_AGENT_H

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "agent/log.h"
#include "agent/notify.h"
#include "config/config.h"
#include "core/command.h"
#include "core/strbuf.h"
#include "core/supervisor.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef MEMMON_VERSION
#define MEMMON_VERSION "0.1.0"
#endif

#define MAX_PIDS 256
#define REQUEST_TIMEOUT_MS 10000
#define DEFAULT_CONFIG "etc/memmon.ini"
/* scripts/install installs the binary under these names; under them the
 * default configuration is the system's. */
#define INSTALLED_NAME "memmon-agent"
#define INSTALLED_CTL_NAME "memmonctl"
#define INSTALLED_CONFIG "/etc/memmon/memmon.ini"
#define CHILD_STOP_GRACE_MS 5000

enum mode {
        MODE_FOREGROUND,
        MODE_INTERACTIVE,
        MODE_DAEMON,
};

struct options {
        const char *config;
        pid_t pids[MAX_PIDS];
        size_t n_pids;
        enum mode mode;
        int mode_set;
        uint64_t interval_us;
        int interval_set;
        int check_only;
        char **prog_argv; /* after --: a program to start and watch */
};

/* A program the agent started for an exec target or for `-- PROG`. */
struct child {
        char *target;
        pid_t pid;
        int held; /* stopped at exec until its first snapshot */
        int reaped;
};

/* A line assembled from a non-blocking fd. */
struct line_reader {
        char buf[COMMAND_MAX_LINE + 1];
        size_t len;
        int overlong; /* discarding the rest of a too-long line */
        size_t dropped;
};

struct prompt;
struct agent_capture;

struct agent {
        struct options opt;
        char base[PATH_MAX];
        char logs[PATH_MAX];
        char backups[PATH_MAX];
        char fifo_path[PATH_MAX];
        char pid_path[PATH_MAX];
        char out_path[PATH_MAX];
        char config_path[PATH_MAX]; /* "" without a configuration */
        struct config *config;      /* the targets in force */
        struct child *children;
        size_t n_children;
        char *prog_target; /* the `-- PROG` target */
        int prog_status;   /* its $? when it ended by itself */
        int prog_done;
        struct agent_log *log; /* NULL until open */
        /* eBPF or poll, decided once at start (agent/capture.h). */
        struct agent_capture *capture;
        struct supervisor sup;
        int sup_init;
        int sig_fd;
        int fifo_fd;
        int pid_fd;
        struct line_reader fifo_lines;
        struct line_reader stdin_lines;
        int stdin_open;
        struct prompt *prompt; /* the -i line editor on a terminal, or NULL */
        int quit;
        struct notify notify;     /* systemd: ready, reloading, status, watchdog */
        int notify_warned;        /* a failed notification was logged as a warning */
        char startup_error[1024]; /* why start-up failed, for a daemon's launcher */
};

/* Writes A/B into dst (PATH_MAX bytes).  Returns 0 or -ENAMETOOLONG. */
static inline int agent_join_path(char *dst, const char *a, const char *b) {
        int n = snprintf(dst, PATH_MAX, "%s/%s", a, b);
        return (n < 0 || n >= PATH_MAX) ? -ENAMETOOLONG : 0;
}

/* targets.c */

/* True in the single-target layout: a single -p and no configuration; its
 * backups go to backups/full and backups/incremental and its events to
 * monitor.log. */
int agent_single_target_layout(const struct agent *a);
struct child *agent_find_child(struct agent *a, const char *target);
/* Stops the child (SIGTERM, then SIGKILL) unless it already ended, and
 * forgets it. */
void agent_stop_child(struct agent *a, struct child *c);
/* Loads the configuration of this run: the file (if any) plus the -p and
 * `-- PROG` targets.  Errors go to errs.  Returns 0 or -errno. */
int agent_load_config(struct agent *a, struct config **ret, struct config_errors *errs);
/* Makes the running targets match cfg (old: the configuration in force
 * before, NULL at start).  Returns 0 or -errno. */
int agent_apply_config(struct agent *a, const struct config *cfg, const struct config *old,
                       struct supervisor_changes *ret);
/* `reload` and SIGHUP: re-reads the configuration and the maps; appends a
 * reply.  user is the struct agent.  Returns 0 or -errno. */
int agent_reload(void *user, struct strbuf *reply);
/* Collects ended children (SIGCHLD). */
void agent_reap_children(struct agent *a);

/* service.c: the agent as a systemd service (see notify.h). */

/* 1 while the agent may ping the watchdog.  A hook with a documented
 * contract in service.c: today it returns 1. */
int agent_healthy(struct agent *a);
/* The STATUS= line: "3 targets: 2 running, 1 waiting".  Returns 0 or
 * -ENOBUFS. */
int agent_status_line(struct agent *a, char *buf, size_t size);
/* Reads the service manager's environment, then READY=1 and STATUS=. */
void agent_service_ready(struct agent *a);
/* STOPPING=1. */
void agent_service_stopping(struct agent *a);
/* RELOADING=1 before a reload, READY=1 and STATUS= after it. */
void agent_service_reloading(struct agent *a);
void agent_service_reloaded(struct agent *a);
/* agent_reload() between RELOADING=1 and READY=1: the `reload` command. */
int agent_reload_notified(void *user, struct strbuf *reply);
/* The poll() timeout until the next watchdog ping or status refresh, or -1. */
int agent_service_timeout_ms(struct agent *a);
/* Pings the watchdog (when healthy) and refreshes STATUS= when due. */
void agent_service_tick(struct agent *a);

/* loop.c */

/* Blocks the agent's signals in every thread and opens a signalfd for
 * them.  Call before any worker starts.  Returns 0 or -errno. */
int agent_setup_signals(struct agent *a);
/* Runs until quit: signals, FIFO lines and (in -i) typed commands.
 * Returns 0 or a sysexits code. */
int agent_loop(struct agent *a);

#ifdef __cplusplus
}
#endif
#endif
