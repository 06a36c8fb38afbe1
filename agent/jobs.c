/*
 * jobs: what the executor thread (executor.h) does for the agent: commands
 * with their replies logged (those of the FIFO and the control socket
 * within a rate, see struct reply_limit), the actions of SIGHUP, SIGUSR1
 * and SIGCHLD, and, by the clock, the metrics file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/capture.h"
#include "agent/control.h"
#include "agent/events.h"
#include "core/fs.h"
#include "core/metrics.h"
#include "core/trusted_dir.h"

#define SECOND_US (1000ULL * 1000)

int agent_control_init(struct agent *a) {
        int r = -pthread_mutex_init(&a->notify_lock, NULL);
        if (r < 0)
                return r;
        r = -pthread_mutex_init(&a->config_lock, NULL);
        if (r < 0)
                goto fail_notify;
        r = executor_init(&a->exec, agent_run_job, agent_job_tick, a);
        if (r < 0)
                goto fail_config;
        a->exec_ready = 1;
        a->replies.tokens = REPLY_LOG_BURST;
        return 0;
fail_config:
        pthread_mutex_destroy(&a->config_lock);
fail_notify:
        pthread_mutex_destroy(&a->notify_lock);
        return r;
}

void agent_control_fini(struct agent *a) {
        if (!a->exec_ready)
                return;
        executor_fini(&a->exec);
        a->exec_ready = 0;
        pthread_mutex_destroy(&a->config_lock);
        pthread_mutex_destroy(&a->notify_lock);
}

int agent_wait_worker(void *user, struct worker *w, int64_t ticket, int timeout_ms) {
        struct agent *a = user;
        return executor_wait_worker(&a->exec, w, ticket, timeout_ms);
}

/* True when one more reply may be logged now (a token is taken). */
static int reply_allowed(struct reply_limit *rl, uint64_t now) {
        if (now > rl->refilled_us) {
                rl->tokens += (double)(now - rl->refilled_us) * REPLY_LOG_RATE / (double)SECOND_US;
                if (rl->tokens > REPLY_LOG_BURST)
                        rl->tokens = REPLY_LOG_BURST;
                rl->refilled_us = now;
        }
        if (rl->tokens >= 1) {
                rl->tokens -= 1;
                return 1;
        }
        if (rl->suppressed++ == 0)
                rl->window_us = now;
        return 0;
}

/* Logs how many replies were left out, once a second while it happens.
 * Returns when to look again (0: nothing left out). */
static uint64_t reply_summary(struct agent *a, uint64_t now) {
        struct reply_limit *rl = &a->replies;
        if (!rl->suppressed)
                return 0;
        if (now - rl->window_us < SECOND_US)
                return rl->window_us + SECOND_US;
        agent_log(
            a->log, NULL, LOG_WARN,
            "suppressed %llu replies to FIFO and control socket commands in %.1f s (at most %d a second "
            "are logged)",
            (unsigned long long)rl->suppressed, (double)(now - rl->window_us) / SECOND_US, REPLY_LOG_RATE);
        rl->suppressed = 0;
        return 0;
}

static void run_command(struct agent *a, struct job *j) {
        struct command_agent_info info = {
            .pid = getpid(),
            .version = MEMMON_VERSION,
            .started = a->started,
            .capture = a->capture ? agent_capture_describe(a->capture) : NULL,
        };
        struct command_host host = {
            .sup = &a->sup,
            .reload = agent_reload_notified,
            .user = a,
            .timeout_ms = REQUEST_TIMEOUT_MS,
            .metrics = agent_metrics_text,
            .wait = agent_wait_worker,
            .agent = &info,
        };
        int shown = (int)(j->len > 200 ? 200 : j->len);
        int logged = 1;
        if (j->origin == ORIGIN_FIFO || j->origin == ORIGIN_SOCKET)
                logged = reply_allowed(&a->replies, notify_now_us());
        if (logged && j->origin == ORIGIN_FIFO)
                agent_log(a->log, NULL, LOG_INFO, "command: %.*s", shown, j->line);
        if (logged && j->origin == ORIGIN_SOCKET)
                agent_log(a->log, NULL, command_is_query(j->line, j->len) ? LOG_DEBUG : LOG_INFO,
                          "control socket (uid %u, pid %d): %.*s", j->peer_uid, j->peer_pid, shown, j->line);
        int r = j->json ? command_execute_json(&host, j->line, j->len, &j->reply)
                        : command_execute(&host, j->line, j->len, &j->reply);
        /* The log keeps the replies, so FIFO users can read them there;
         * a control socket client gets its own. */
        if (logged && j->origin != ORIGIN_SOCKET)
                agent_log_lines(a->log, NULL, r < 0 ? LOG_WARN : LOG_INFO, strbuf_str(&j->reply));
        j->result = r;
}

static int reopen_output(struct agent *a) {
        char why[FS_WHY_SIZE];
        int fd = daemon_open_output(a->logs_fd, why, sizeof(why));
        if (fd < 0)
                return fd;
        int r = (dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0) ? -errno : 0;
        close(fd);
        return r;
}

/* SIGHUP: logs reopened (logrotate), configuration reloaded, maps re-read. */
static void reload_signalled(struct agent *a) {
        __atomic_store_n(&a->hup_pending, 0, __ATOMIC_RELEASE);
        agent_service_reloading(a);
        int r = agent_log_reopen(a->log);
        if (r == 0 && a->events)
                r = agent_events_reopen(a->events);
        if (r == 0 && a->opt.mode == MODE_DAEMON)
                r = reopen_output(a);
        agent_log(a->log, NULL, r < 0 ? LOG_ERROR : LOG_INFO, "SIGHUP: logs reopened%s%s", r < 0 ? ": " : "",
                  r < 0 ? strerror(-r) : "");
        struct strbuf reply;
        strbuf_init(&reply);
        r = agent_reload(a, &reply);
        agent_log_lines(a->log, NULL, r < 0 ? LOG_ERROR : LOG_INFO, strbuf_str(&reply));
        strbuf_fini(&reply);
        agent_service_reloaded(a);
}

void agent_run_job(void *user, struct job *j) {
        struct agent *a = user;
        switch (j->kind) {
        case JOB_COMMAND:
                run_command(a, j);
                break;
        case JOB_REJECTED:
                if (reply_allowed(&a->replies, notify_now_us()))
                        agent_log(a->log, NULL, LOG_WARN, "%s", j->line);
                j->result = -EINVAL;
                break;
        case JOB_RELOAD:
                reload_signalled(a);
                break;
        case JOB_BACKUP:
                __atomic_store_n(&a->usr1_pending, 0, __ATOMIC_RELEASE);
                agent_log(a->log, NULL, LOG_INFO, "SIGUSR1: full backup of every target");
                for (size_t i = 0; i < a->sup.n; i++)
                        (void)worker_post(a->sup.workers[i], REQ_BACKUP, 0, NULL);
                break;
        case JOB_REAP:
                __atomic_store_n(&a->chld_pending, 0, __ATOMIC_RELEASE);
                agent_reap_children(a);
                break;
        }
}

/* How a target finds its process, for memmon_target_info{selector}. */
static void describe_selector(const struct target_config *t, char *buf, size_t size) {
        int n = -1;
        switch (t->sel) {
        case SELECT_PID:
                n = snprintf(buf, size, "pid %d", (int)t->pid);
                break;
        case SELECT_PIDFILE:
                n = snprintf(buf, size, "pidfile %s", t->pidfile);
                break;
        case SELECT_MATCH:
                n = snprintf(buf, size, "match %s", t->match);
                break;
        case SELECT_EXEC:
                n = snprintf(buf, size, "exec %s", t->argv && t->argv[0] ? t->argv[0] : "");
                break;
        }
        /* A path cut short still names the target well enough. */
        if (n < 0)
                snprintf(buf, size, "unknown");
}

#define SELECTOR_MAX 512

int agent_metrics_text(void *user, struct strbuf *out) {
        struct agent *a = user;
        size_t n = a->sup.n;
        struct metrics_target *t = calloc(n ? n : 1, sizeof(*t));
        char(*sel)[SELECTOR_MAX] = calloc(n ? n : 1, sizeof(*sel));
        struct metrics_rule_count(*rules)[ALERT_RULE_COUNT] = calloc(n ? n : 1, sizeof(*rules));
        int r = -ENOMEM;
        if (!t || !sel || !rules)
                goto out;
        for (size_t i = 0; i < n; i++) {
                struct worker *w = a->sup.workers[i];
                struct worker_status st;
                worker_get_status(w, &st);
                const struct target_config *tc = config_find_target(a->config, worker_name(w));
                if (tc)
                        describe_selector(tc, sel[i], SELECTOR_MAX);
                else
                        snprintf(sel[i], SELECTOR_MAX, "unknown");
                t[i].name = worker_name(w);
                t[i].selector = sel[i];
                t[i].state = st.state;
                t[i].regions = st.regions;
                for (int k = 0; k < METRICS_KINDS; k++)
                        t[i].mapped_bytes[k] = st.mapped_bytes[k];
                t[i].exec_bytes = st.exec_bytes;
                t[i].diffs = st.diffs_written;
                t[i].full_backups = st.full_written;
                t[i].unstable = st.unstable;
                /* Every rule that fired, by its name. */
                for (int k = 0; k < ALERT_RULE_COUNT; k++) {
                        if (!st.alerts_raised[k])
                                continue;
                        rules[i][t[i].n_alerts].rule = alert_rule_info((enum alert_rule)k)->name;
                        rules[i][t[i].n_alerts++].count = st.alerts_raised[k];
                }
                t[i].alerts = rules[i];
                t[i].sample_duration = st.sample_duration;
                t[i].last_change = st.last_change.tv_sec
                                       ? (double)st.last_change.tv_sec + (double)st.last_change.tv_nsec / 1e9
                                       : 0;
                t[i].backup_bytes = st.backup_bytes;
                t[i].write_errors = st.write_errors;
                t[i].capture_events = st.capture_events;
                t[i].capture_lost = st.capture_lost;
                t[i].capture_fallbacks = st.capture_fallbacks;
        }
        size_t start = out->len;
        r = metrics_write(out, MEMMON_VERSION, t, n);
        if (r == 0 && a->capture)
                r = metrics_write_capture(out, agent_capture_mode(a->capture), proc_scan_count(&a->sup.scan));
        if (r < 0) {
                out->len = start;
                if (out->s)
                        out->s[start] = '\0';
        } else if (out->len > start && out->s[out->len - 1] == '\n') {
                out->s[--out->len] = '\0';
        }
out:
        free(t);
        free(sel);
        free(rules);
        return r;
}

/* Writes the metrics file (0644, atomically, into a trusted folder);
 * a failure is logged when it starts and when it ends. */
static void write_metrics_file(struct agent *a, const char *path) {
        struct strbuf text;
        char why[512] = "";
        strbuf_init(&text);
        int r = agent_metrics_text(a, &text);
        if (r == 0 && strbuf_append(&text, "\n", 1) < 0)
                r = -ENOMEM;
        if (r == 0) {
                r = trusted_dir_replace_file(path, text.s, text.len, 0644, why, sizeof(why));
        } else {
                snprintf(why, sizeof(why), "%s: %s", path, strerror(-r));
        }
        strbuf_fini(&text);
        if (r < 0 && !a->metrics_failing)
                agent_log(a->log, NULL, LOG_WARN, "metrics file not written: %s", why);
        else if (r == 0 && a->metrics_failing)
                agent_log(a->log, NULL, LOG_INFO, "metrics file %s written again", path);
        a->metrics_failing = r < 0;
}

uint64_t agent_job_tick(void *user, uint64_t now) {
        struct agent *a = user;
        uint64_t next = reply_summary(a, now);
        const struct config *c = a->config;
        if (c && c->metrics_file) {
                if (!a->metrics_next_us || now >= a->metrics_next_us) {
                        write_metrics_file(a, c->metrics_file);
                        uint64_t iv = c->metrics_interval_us ? c->metrics_interval_us : 15 * SECOND_US;
                        a->metrics_next_us = (a->metrics_next_us ? a->metrics_next_us : now) + iv;
                        /* Behind (a long command): the next one is an interval from now. */
                        if (a->metrics_next_us <= now)
                                a->metrics_next_us = now + iv;
                }
                if (!next || a->metrics_next_us < next)
                        next = a->metrics_next_us;
        } else {
                a->metrics_next_us = 0;
        }
        return next;
}
