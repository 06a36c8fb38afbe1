/*
 * agent: the state of one running agent, shared by its roles:
 * main.c (command line, start-up, exit codes), targets.c (the configuration
 * in force, exec children, reload), loop.c (the control loop: signals,
 * FIFO, prompt, control socket), jobs.c (what the executor thread does),
 * ctlserver.c (the control socket) and service.c (systemd).
 *
 * Two threads share it besides the workers: the control loop, which only
 * multiplexes I/O, and the executor (executor.h), which runs every command
 * and is the only thread that drives the supervisor, the children and the
 * configuration.  What both touch says so below.
 */
#ifndef MEMMON_AGENT_AGENT_H
#define MEMMON_AGENT_AGENT_H

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "agent/executor.h"
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
/* Names in logs/. */
#define PIDFILE_NAME "memmon.pid"
#define FIFO_NAME "daemon_fifo"

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
        char **prog_argv;          /* after --: a program to start and watch */
        enum capture_mode capture; /* --capture, over [agent] capture */
        int capture_set;
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

/* Feeds data[*pos..n) into lr up to the end of a line.  Returns 1 when a
 * line is complete (its text in lr->buf[0..lr->len), one '\r' before the
 * '\n' taken off; or lr->overlong with lr->dropped its length) with *pos
 * past its '\n', or 0 when the data ran out first (the part stays in lr). */
int line_feed(struct line_reader *lr, const char *data, size_t n, size_t *pos);
/* True when lr holds part of a line. */
static inline int line_pending(const struct line_reader *lr) {
        return lr->len > 0 || lr->overlong;
}
static inline void line_reset(struct line_reader *lr) {
        lr->len = 0;
        lr->overlong = 0;
        lr->dropped = 0;
}

/* Replies logged for FIFO commands and control socket requests: a token
 * bucket of REPLY_LOG_BURST replies refilled at REPLY_LOG_RATE a second,
 * so that a script's batch is logged whole and a flood costs the log a
 * bounded rate; what is left out is counted in one line a second. */
#define REPLY_LOG_RATE 200
#define REPLY_LOG_BURST 2000
struct reply_limit {
        double tokens;
        uint64_t refilled_us;
        uint64_t suppressed; /* since the last summary line */
        uint64_t window_us;  /* when the first of them was left out */
};

/* The STATUS= line's "N diffs in the last minute": totals seen over the
 * last minute, one every STATUS_HISTORY_STEP_US. */
#define STATUS_HISTORY 8
struct status_history {
        uint64_t at_us[STATUS_HISTORY];
        uint64_t diffs[STATUS_HISTORY];
        uint64_t alerts[STATUS_HISTORY];
        size_t n, next;
};

struct prompt;
struct ctl_server;
struct agent_events;
struct alertexec;
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
        struct agent_log *log;       /* NULL until open */
        struct agent_events *events; /* logs/events.jsonl; NULL until open */
        struct alertexec *alertexec; /* runs alert_exec; NULL until started */
        /* eBPF or poll, decided once at start (agent/capture.h). */
        struct agent_capture *capture;
        struct supervisor sup;
        int sup_init;
        int sig_fd;
        int fifo_fd;
        int pid_fd;
        /* The base directory and its logs/ folder, opened once at start
         * after the trust check (core/fs.h): everything under them is
         * opened from these fds, never by path.  A control socket can be
         * bound at /proc/self/fd/<logs_fd>/NAME. */
        int base_fd;
        int logs_fd;
        struct prompt *prompt; /* the -i line editor on a terminal, or NULL */
        int quit;              /* any thread: agent_request_quit(), agent_quitting() */
        /* systemd: ready, reloading, status, watchdog.  Under notify_lock:
         * the loop pings, the executor reloads. */
        pthread_mutex_t notify_lock;
        struct notify notify;
        int notify_warned;        /* a failed notification was logged as a warning */
        char startup_error[1024]; /* why start-up failed, for a daemon's launcher */
        struct timespec started;  /* CLOCK_REALTIME, for `status --json` */

        /* The executor (executor.h) and the control socket (ctlserver.c). */
        struct executor exec;
        int exec_ready;         /* exec initialised */
        struct ctl_server *ctl; /* NULL when not listening */
        /* The config pointer is swapped by a reload (executor) and read by
         * Tab completion (loop) under this lock. */
        pthread_mutex_t config_lock;
        /* A signal's action is queued and has not started (atomic: set by
         * the loop, cleared by the executor when the action starts). */
        int hup_pending, usr1_pending, chld_pending;
        /* Executor-owned: */
        struct reply_limit replies;
        uint64_t metrics_next_us; /* when the metrics file is due; 0: off */
        int metrics_failing;      /* the last write failed (logged once) */
        /* Loop-owned: */
        uint64_t output_stuck_since_us; /* -i replies waiting for stdout since; 0: none */
        /* Under notify_lock: */
        int unhealthy; /* the last health check failed (logged once) */
        struct status_history history;
};

/* Asks the agent to stop (any thread); the control loop acts on it. */
static inline void agent_request_quit(struct agent *a) {
        __atomic_store_n(&a->quit, 1, __ATOMIC_RELEASE);
}
static inline int agent_quitting(const struct agent *a) {
        return __atomic_load_n(&a->quit, __ATOMIC_ACQUIRE);
}

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
/* Collects ended children (SIGCHLD): only the agent's own exec children,
 * by pid (alert_exec's runner reaps its own). */
void agent_reap_children(struct agent *a);
/* The workers' typed events (worker_env.on_event; user is the struct
 * agent): each is written to logs/events.jsonl, and an alert of a target
 * with alert_exec is handed to the runner. */
void agent_worker_event(void *user, const struct worker_event *ev);

/* service.c: the agent as a systemd service (see notify.h). */

/* 1 while the agent may ping the watchdog: every worker made progress
 * within its deadline or is blocked on its target, the executor is not
 * stuck outside a wait for a worker, and -i replies are not stuck on
 * standard output.  0 otherwise, with why[] saying what (loop thread). */
int agent_healthy(struct agent *a, char *why, size_t why_size);
/* The STATUS= line: "4 targets: 3 running, 1 waiting; 12 diffs in the
 * last minute; 0 alerts" (loop thread).  Returns 0 or -ENOBUFS. */
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
/* Runs until quit: signals, FIFO lines, the control socket and (in -i)
 * typed commands, with the executor thread running the commands; the
 * executor is stopped when it returns.  Returns 0 or a sysexits code. */
int agent_loop(struct agent *a);

/* jobs.c: the executor's side. */

/* Initialises the locks and the executor (its thread starts in
 * agent_loop()).  Call once, before anything else.  Returns 0 or -errno. */
int agent_control_init(struct agent *a);
/* Stops the executor (if running) and frees what agent_control_init()
 * made.  Call before the supervisor is finalised. */
void agent_control_fini(struct agent *a);
/* The executor's job function (executor_run_fn); user is the agent. */
void agent_run_job(void *user, struct job *j);
/* The executor's clock (executor_tick_fn): the metrics file, and the
 * summary line of replies left out of the log. */
uint64_t agent_job_tick(void *user, uint64_t now_us);
/* Waits for a worker from the executor thread (command_host.wait). */
int agent_wait_worker(void *user, struct worker *w, int64_t ticket, int timeout_ms);
/* `agent ctl metrics` and the metrics file: the Prometheus text of every
 * target, without its last newline (command_host.metrics).  Executor
 * thread.  Returns 0 or -errno. */
int agent_metrics_text(void *user, struct strbuf *out);

/* The control socket logs/control.sock (ctlserver.h): created before the
 * workers start (it sets the umask for a moment), removed at the end.
 * Returns 0 or -errno with why[] set. */
int agent_ctl_open(struct agent *a, char *why, size_t why_size);
void agent_ctl_close(struct agent *a);

#ifdef __cplusplus
}
#endif
#endif
