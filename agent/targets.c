/*
 * targets: the configuration in force and the programs the agent started
 * for exec targets and `-- PROG`.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/alertexec.h"
#include "agent/events.h"
#include "agent/spawn.h"
#include "core/fs.h"

int agent_single_target_layout(const struct agent *a) {
        return !a->config_path[0] && a->opt.n_pids == 1 && !a->opt.prog_argv;
}

struct child *agent_find_child(struct agent *a, const char *target) {
        for (size_t i = 0; i < a->n_children; i++)
                if (strcmp(a->children[i].target, target) == 0)
                        return &a->children[i];
        return NULL;
}

static void forget_child(struct agent *a, struct child *c) {
        free(c->target);
        *c = a->children[--a->n_children];
}

/* Starts the program of an exec target, held at its first instruction. */
static int start_child(struct agent *a, const char *target, char *const argv[]) {
        struct child *v = realloc(a->children, (a->n_children + 1) * sizeof(*v));
        if (!v)
                return -ENOMEM;
        a->children = v;
        /* A configured program's output goes to logs/<target>.out, one of
         * the agent's own files (core/fs.h); the `-- PROG` program keeps the
         * terminal, as a developer expects. */
        char out[TARGET_NAME_MAX + 8], shown[TARGET_NAME_MAX + 16], why[FS_WHY_SIZE];
        int is_prog = a->prog_target && strcmp(target, a->prog_target) == 0;
        int out_fd = -1;
        if (!is_prog) {
                if (snprintf(out, sizeof(out), "%s.out", target) >= (int)sizeof(out) ||
                    snprintf(shown, sizeof(shown), "logs/%s", out) >= (int)sizeof(shown))
                        return -ENAMETOOLONG;
                out_fd = fs_open_own_file_at(a->logs_fd, out, O_WRONLY | O_CREAT | O_APPEND, 0600, shown, why,
                                             sizeof(why));
                if (out_fd < 0) {
                        agent_log(a->log, target, LOG_ERROR, "cannot start %s: %s", argv[0], why);
                        return out_fd;
                }
        }
        pid_t pid;
        int held;
        int r = spawn_start(argv, out_fd, &pid, &held);
        fs_close(&out_fd);
        if (r < 0) {
                char msg[PATH_MAX + 128];
                (void)snprintf(msg, sizeof(msg), "cannot start %s: %s", argv[0], strerror(-r));
                agent_log(a->log, target, LOG_ERROR, "%s", msg);
                if (a->events)
                        (void)agent_events_error(a->events, target, msg);
                return r;
        }
        char *name = strdup(target);
        if (!name) {
                spawn_release(pid);
                (void)spawn_stop(pid, 0);
                return -ENOMEM;
        }
        a->children[a->n_children++] = (struct child){.target = name, .pid = pid, .held = held};
        agent_log(a->log, target, LOG_INFO, "started %s as pid %d%s", argv[0], (int)pid,
                  held ? " (held at its first instruction until the first snapshot)" : "");
        return 0;
}

void agent_stop_child(struct agent *a, struct child *c) {
        if (!c->reaped) {
                if (c->held)
                        spawn_release(c->pid);
                executor_waiting(&a->exec, 1);
                int status = spawn_stop(c->pid, CHILD_STOP_GRACE_MS);
                executor_waiting(&a->exec, 0);
                agent_log(a->log, c->target, LOG_INFO, "stopped pid %d (exit status %d)", (int)c->pid,
                          status);
        }
        forget_child(a, c);
}

/* Worker parameters for one configured target (an exec target's pid is
 * set once its program runs); the caller finalises them. */
static int target_params(struct agent *a, const struct target_config *t, struct worker_params *ret) {
        char dir[PATH_MAX];
        if (agent_single_target_layout(a)) {
                if (snprintf(dir, sizeof(dir), "%s", a->backups) >= (int)sizeof(dir))
                        return -ENAMETOOLONG;
        } else if (agent_join_path(dir, a->backups, t->name) < 0) {
                return -ENAMETOOLONG;
        }
        struct worker_params p = {
            .name = t->name,
            .selector = t->sel,
            .pid = t->pid,
            .pidfile = t->pidfile,
            .match = t->match,
            .filter = t->filter,
            .backup_dir = dir,
            .policy = t->policy,
            /* Named pid<PID> after the one -p: `pid N` renames it. */
            .name_follows_pid = agent_single_target_layout(a),
        };
        return worker_params_copy(ret, &p);
}

/* Has w take a sample now and waits until it did (the first snapshot of a
 * held program, the last one of a program that ended). */
static void sample_now(struct agent *a, struct worker *w) {
        int64_t t = worker_post(w, REQ_SAMPLE, 0, NULL);
        int r = agent_wait_worker(a, w, t, REQUEST_TIMEOUT_MS);
        if (r < 0)
                agent_log(a->log, worker_name(w), LOG_WARN, "could not sample now: %s", strerror(-r));
}

/* Makes the running targets match cfg: starts the programs of new exec
 * targets, applies the set to the supervisor, lets held programs run once
 * their first snapshot is taken, and stops programs of removed targets.
 * old is the configuration in force before (NULL at start). */
int agent_apply_config(struct agent *a, const struct config *cfg, const struct config *old,
                       struct supervisor_changes *ret) {
        struct supervisor_changes none = {0};
        int r = 0;
        if (ret)
                *ret = none;
        /* What can fail without touching the running targets is done
         * first: a failure here leaves everything as it was. */
        struct worker_params *v = calloc(cfg->n_targets ? cfg->n_targets : 1, sizeof(*v));
        if (!v)
                return -ENOMEM;
        size_t n = 0;
        for (; n < cfg->n_targets; n++)
                if ((r = target_params(a, &cfg->targets[n], &v[n])) < 0)
                        goto finish;
        for (size_t i = 0; i < cfg->n_targets; i++) {
                const struct target_config *t = &cfg->targets[i];
                if (t->sel != SELECT_EXEC)
                        continue;
                struct child *c = agent_find_child(a, t->name);
                const struct target_config *before = old ? config_find_target(old, t->name) : NULL;
                if (c && before && config_target_compare(before, t) == CONFIG_SELECTOR_CHANGED)
                        agent_stop_child(a, c), c = NULL;
                if (!c)
                        (void)start_child(a, t->name, t->argv);
                c = agent_find_child(a, t->name);
                v[i].pid = c ? c->pid : 0;
        }
        /* Stopping a removed target joins its worker: a wait on a worker,
         * whose own health the watchdog checks. */
        executor_waiting(&a->exec, 1);
        r = supervisor_apply(&a->sup, v, n, ret);
        executor_waiting(&a->exec, 0);
        for (size_t i = 0; i < a->n_children;) {
                struct child *c = &a->children[i];
                if (!config_find_target(cfg, c->target)) {
                        agent_stop_child(a, c);
                        continue;
                }
                if (c->held) {
                        struct worker *w = supervisor_find(&a->sup, c->target);
                        if (w)
                                sample_now(a, w);
                        spawn_release(c->pid);
                        c->held = 0;
                }
                i++;
        }
finish:
        for (size_t i = 0; i < n; i++)
                worker_params_fini(&v[i]);
        free(v);
        return r;
}

/* Loads the configuration of this run: the file (if any) plus -p and
 * `-- PROG` targets.  Errors go to errs.  Returns 0 or -errno. */
int agent_load_config(struct agent *a, struct config **ret, struct config_errors *errs) {
        struct config *c = NULL;
        int r;
        if (a->config_path[0])
                r = config_load(a->config_path, &c, errs);
        else
                r = config_new(a->base, &c);
        if (r < 0)
                return r;
        char base[PATH_MAX];
        if (realpath(c->base_dir, base)) {
                char *copy = strdup(base);
                if (!copy) {
                        r = -ENOMEM;
                        goto fail;
                }
                free(c->base_dir);
                c->base_dir = copy;
        }
        for (size_t i = 0; i < a->opt.n_pids; i++) {
                char name[32];
                snprintf(name, sizeof(name), "pid%d", (int)a->opt.pids[i]);
                r = config_add_pid_target(c, name, a->opt.pids[i]);
                if (r == -EEXIST)
                        continue; /* -p 5 -p 5 */
                if (r < 0)
                        goto fail;
        }
        if (a->opt.prog_argv) {
                r = config_add_exec_target(c, a->prog_target, a->opt.prog_argv);
                if (r == -EEXIST) {
                        fprintf(stderr, "agent: the configuration already has a target named %s\n",
                                a->prog_target);
                        r = -EINVAL;
                }
                if (r < 0)
                        goto fail;
        }
        if (a->opt.capture_set)
                c->capture = a->opt.capture;
        /* -T is the interval of the targets named on the command line (all
         * of them without a configuration file). */
        for (size_t i = 0; i < c->n_targets; i++) {
                struct target_config *t = &c->targets[i];
                if (a->opt.interval_set && !t->file)
                        t->policy.interval_us = a->opt.interval_us;
        }
        *ret = c;
        return 0;
fail:
        config_free(c);
        return r;
}

/* The `reload` event: the reply's first line is its message. */
static void reload_event(struct agent *a, bool ok, const struct supervisor_changes *ch, size_t errors,
                         const struct strbuf *reply) {
        const char *text = strbuf_str(reply), *nl = strchr(text, '\n');
        char first[512];

        if (!a->events)
                return;
        (void)snprintf(first, sizeof(first), "%.*s", nl ? (int)(nl - text) : (int)strlen(text), text);
        (void)agent_events_reload(a->events, ok, ch, errors, first[0] ? first : "Maps re-read");
}

int agent_reload(void *user, struct strbuf *reply) {
        struct agent *a = user;
        struct supervisor_changes ch = {0};
        if (a->config_path[0]) {
                struct config *c = NULL;
                struct config_errors errs;
                config_errors_init(&errs);
                int r = agent_load_config(a, &c, &errs);
                if (r < 0) {
                        strbuf_printf(reply,
                                      "Reload failed: %zu error%s in %s; still running the previous "
                                      "configuration",
                                      errs.n + errs.n_dropped, errs.n + errs.n_dropped == 1 ? "" : "s",
                                      a->config_path);
                        if (errs.n == 0)
                                strbuf_printf(reply, "\n%s: %s", a->config_path, strerror(-r));
                        for (size_t i = 0; i < errs.n; i++)
                                strbuf_printf(reply, "\n%s", errs.v[i].text);
                        if (errs.n_dropped)
                                strbuf_printf(reply, "\n... and %zu more errors", errs.n_dropped);
                        reload_event(a, false, NULL, errs.n + errs.n_dropped, reply);
                        config_errors_fini(&errs);
                        return -EINVAL;
                }
                config_errors_fini(&errs);
                if (strcmp(c->base_dir, a->config->base_dir) != 0)
                        agent_log(a->log, NULL, LOG_WARN,
                                  "base_dir changed to %s: it takes effect on restart", c->base_dir);
                r = agent_apply_config(a, c, a->config, &ch);
                if (r < 0) {
                        /* The old configuration stays the one in force, and
                         * the reply says what, if anything, changed. */
                        config_free(c);
                        if (ch.added + ch.removed + ch.changed + ch.restarted == 0)
                                strbuf_printf(reply,
                                              "Reload failed: %s; still running the previous configuration",
                                              strerror(-r));
                        else
                                strbuf_printf(reply,
                                              "Reload failed after %u added, %u removed, %u changed, %u "
                                              "restarted: %s; the previous configuration stays in force",
                                              ch.added, ch.removed, ch.changed, ch.restarted, strerror(-r));
                        reload_event(a, false, &ch, 0, reply);
                        return r;
                }
                pthread_mutex_lock(&a->config_lock);
                struct config *old = a->config;
                a->config = c;
                pthread_mutex_unlock(&a->config_lock);
                config_free(old);
                agent_log_set_level(a->log, c->log_level);
                if (a->events && (r = agent_events_set_enabled(a->events, c->events)) < 0)
                        agent_log(a->log, NULL, LOG_ERROR, "cannot open %s/%s: %s", a->logs,
                                  AGENT_EVENTS_FILE, strerror(-r));
                strbuf_printf(reply,
                              "Configuration reloaded: %u added, %u removed, %u changed, %u restarted, "
                              "%u unchanged",
                              ch.added, ch.removed, ch.changed, ch.restarted, ch.kept);
        }
        int late = 0;
        {
                /* As supervisor_post_all(), with waits a stop can cut short. */
                int64_t *t = calloc(a->sup.n ? a->sup.n : 1, sizeof(*t));
                for (size_t i = 0; t && i < a->sup.n; i++)
                        t[i] = worker_post(a->sup.workers[i], REQ_SAMPLE, 0, NULL);
                for (size_t i = 0; t && i < a->sup.n; i++)
                        late += agent_wait_worker(a, a->sup.workers[i], t[i], REQUEST_TIMEOUT_MS) < 0;
                if (!t)
                        late = (int)a->sup.n;
                free(t);
        }
        if (reply->len)
                strbuf_printf(reply, "\n");
        if (late)
                strbuf_printf(reply, "Maps re-read (%d targets did not answer in time)", late);
        else
                strbuf_printf(reply, "Maps re-read");
        /* Last: once it is written, every target has sampled under the
         * configuration now in force. */
        reload_event(a, true, a->config_path[0] ? &ch : NULL, 0, reply);
        return 0;
}

/* Collects ended programs.  When the `-- PROG` program ends, so does the
 * agent, with its exit status, once its final snapshot is written. */
void agent_reap_children(struct agent *a) {
        /* By pid: waitpid(-1) would also take the statuses of alert_exec's
         * programs, which its runner waits for. */
        for (size_t i = 0; i < a->n_children; i++) {
                struct child *c = &a->children[i];
                int status;
                pid_t pid;
                if (c->reaped || (pid = waitpid(c->pid, &status, WNOHANG)) <= 0 ||
                    (!WIFEXITED(status) && !WIFSIGNALED(status)))
                        continue;
                c->reaped = 1;
                int code = spawn_exit_code(status);
                agent_log(a->log, c->target, LOG_INFO, "pid %d ended with exit status %d", (int)pid, code);
                struct worker *w = supervisor_find(&a->sup, c->target);
                if (w)
                        sample_now(a, w);
                if (a->prog_target && strcmp(c->target, a->prog_target) == 0) {
                        a->prog_status = code;
                        a->prog_done = 1;
                        agent_request_quit(a);
                }
        }
}

void agent_worker_event(void *user, const struct worker_event *ev) {
        struct agent *a = user;
        const struct target_policy *p = ev->policy;
        int run = ev->kind == WORKER_EVENT_ALERT && p && p->alert_exec && a->alertexec;
        struct strbuf line;

        if (!a->events)
                return;
        strbuf_init(&line);
        /* An alert_exec program gets the line events.jsonl has, also when
         * writing it there failed (a full disk). */
        (void)agent_events_worker(a->events, ev, run ? &line : NULL);
        if (run && line.len > 0)
                alertexec_submit(a->alertexec, ev->target, p->alert_exec, p->alert_exec_rate, ev->pid,
                                 ev->start_time, alert_rule_info(ev->alert->rule)->name, line.s, line.len);
        strbuf_fini(&line);
}
