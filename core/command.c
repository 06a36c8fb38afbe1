#include "core/command.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/command_int.h"
#include "core/json.h"
#include "core/proc.h"
#include "core/units.h"

/* Splits the line into an optional @target and words.  Returns 0, or
 * -EINVAL with the reply written. */
static int parse(const char *line, size_t len, struct parsed *p, struct strbuf *reply) {
        if (len > COMMAND_MAX_LINE) {
                strbuf_printf(reply, "Command rejected: line of %zu bytes is longer than %d", len,
                              COMMAND_MAX_LINE);
                return -EINVAL;
        }
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)line[i];
                if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f) {
                        strbuf_printf(reply, "Command rejected: control or NUL byte 0x%02x at column %zu", c,
                                      i + 1);
                        return -EINVAL;
                }
        }
        memcpy(p->buf, line, len);
        p->buf[len] = '\0';
        p->target = NULL;
        p->argc = 0;
        char *save = NULL;
        for (char *tok = strtok_r(p->buf, " \t\r", &save); tok; tok = strtok_r(NULL, " \t\r", &save)) {
                if (p->argc == 0 && !p->target && tok[0] == '@') {
                        if (tok[1] == '\0') {
                                strbuf_printf(reply, "Command rejected: '@' needs a target name");
                                return -EINVAL;
                        }
                        p->target = tok + 1;
                        continue;
                }
                if (p->argc == MAX_ARGS) {
                        strbuf_printf(reply, "Command rejected: too many arguments to '%s'", p->argv[0]);
                        return -EINVAL;
                }
                p->argv[p->argc++] = tok;
        }
        return 0;
}

/* Waits for w to carry out the request of ticket t, through the host. */
static int host_wait(struct command_host *h, struct worker *w, int64_t t) {
        if (t < 0)
                return (int)t;
        return h->wait ? h->wait(h->user, w, t, h->timeout_ms) : worker_wait(w, t, h->timeout_ms);
}

/* Why a wait for a worker failed, after what (a "timed out" when it did). */
static const char *wait_failure(int r) {
        return r == -ECANCELED ? "abandoned: the agent is stopping" : "timed out";
}

void command_format_time(const struct timespec *t, char *buf, size_t size) {
        struct tm tm;
        if (t->tv_sec == 0 || !gmtime_r(&t->tv_sec, &tm) ||
            strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                snprintf(buf, size, "never");
}

/* "Capture: ..." of one target: how its changes are learnt of. */
static void status_capture(const struct command_host *h, const struct worker_status *st,
                           struct strbuf *reply) {
        if (st->capture_ebpf)
                strbuf_printf(reply, "Capture: ebpf: %llu reads, %llu events recorded, %llu lost\n",
                              (unsigned long long)st->samples, (unsigned long long)st->capture_events,
                              (unsigned long long)st->capture_lost);
        else if (st->capture_why[0])
                strbuf_printf(reply, "Capture: poll (%s); %llu events recorded, %llu lost before\n",
                              st->capture_why, (unsigned long long)st->capture_events,
                              (unsigned long long)st->capture_lost);
        else if (h->agent && h->agent->capture)
                strbuf_printf(reply, "Capture: %s\n", h->agent->capture);
}

static void status_one(const struct command_host *h, struct worker *w, int named, struct strbuf *reply) {
        struct worker_status st;
        worker_get_status(w, &st);
        char when[64];
        command_format_time(&st.last_change, when, sizeof(when));
        if (named)
                strbuf_printf(reply, "Target: %s\n", worker_name(w));
        if (st.pid > 0)
                strbuf_printf(reply, "Current PID: %d\n", (int)st.pid);
        else
                strbuf_printf(reply, "Current PID: none\n");
        strbuf_printf(reply, "Sample interval: %llu us\nStatus: %s\n", (unsigned long long)st.interval_us,
                      target_state_name(st.state));
        if (st.reason[0])
                strbuf_printf(reply, "Reason: %s\n", st.reason);
        strbuf_printf(reply, "Regions: %zu\nLast change: %s\n", st.regions, when);
        status_capture(h, &st, reply);
        strbuf_printf(reply, "Backups: %llu full, %llu incremental", (unsigned long long)st.full_written,
                      (unsigned long long)st.diffs_written);
        if (st.write_errors)
                strbuf_printf(reply, "\nWrite errors: %llu", (unsigned long long)st.write_errors);
        if (st.unstable)
                strbuf_printf(reply,
                              "\nUnstable samples: %llu (the maps changed while they were read; see the log)",
                              (unsigned long long)st.unstable);
}

static int select_targets(struct command_host *h, const struct parsed *p, struct selection *sel,
                          struct strbuf *reply) {
        if (p->target) {
                sel->one = supervisor_find(h->sup, p->target);
                if (!sel->one) {
                        strbuf_printf(reply, "No such target: '%s' (see 'targets')", p->target);
                        return -EINVAL;
                }
                sel->v = &sel->one;
                sel->n = 1;
                return 0;
        }
        sel->v = h->sup->workers;
        sel->n = h->sup->n;
        if (sel->n == 0) {
                strbuf_printf(reply, "No targets");
                return -EINVAL;
        }
        return 0;
}

/* Commands that change one target's settings need it named when there are
 * several. */
static int need_one(struct command_host *h, const struct parsed *p, struct selection *sel,
                    struct strbuf *reply) {
        int r = select_targets(h, p, sel, reply);
        if (r < 0)
                return r;
        if (sel->n > 1) {
                strbuf_printf(reply,
                              "'%s' needs one target when there are %zu: use @NAME %s (targets:", p->argv[0],
                              sel->n, p->argv[0]);
                for (size_t i = 0; i < sel->n; i++)
                        strbuf_printf(reply, " %s", worker_name(sel->v[i]));
                strbuf_printf(reply, ")");
                return -EINVAL;
        }
        return 0;
}

/* The workers command c addresses, as its scope says. */
int command_select_scope(struct command_host *h, const struct command *c, const struct parsed *p,
                         struct selection *sel, struct strbuf *reply) {
        return c->scope == SCOPE_ONE ? need_one(h, p, sel, reply) : select_targets(h, p, sel, reply);
}

static void sep(struct strbuf *reply) {
        if (reply->len && reply->s[reply->len - 1] != '\n')
                strbuf_printf(reply, "\n");
}

static int cmd_status(struct command_host *h, const struct command *c, const struct parsed *p,
                      struct strbuf *reply) {
        struct selection sel;
        int r = command_select_scope(h, c, p, &sel, reply);
        if (r < 0)
                return r;
        for (size_t i = 0; i < sel.n; i++) {
                sep(reply);
                status_one(h, sel.v[i], h->sup->n > 1, reply);
        }
        return 0;
}

static int cmd_interval(struct command_host *h, const struct command *c, const struct parsed *p,
                        struct strbuf *reply) {
        uint64_t us;
        int r = units_parse_interval_us(p->argv[1], &us);
        if (r == -ERANGE) {
                strbuf_printf(reply, "Invalid interval: '%s' is out of range (1ms to 1h)", p->argv[1]);
                return -EINVAL;
        }
        if (r < 0) {
                strbuf_printf(reply, "Invalid interval: '%s' (expected microseconds, or 500ms, 2s, 1m)",
                              p->argv[1]);
                return -EINVAL;
        }
        struct selection sel;
        r = command_select_scope(h, c, p, &sel, reply);
        if (r < 0)
                return r;
        struct worker *w = sel.v[0];
        r = host_wait(h, w, worker_set_interval(w, us));
        if (r < 0) {
                strbuf_printf(reply, "Interval change of '%s' %s", worker_name(w), wait_failure(r));
                return -ETIMEDOUT;
        }
        strbuf_printf(reply, "Interval changed to: %llu us", (unsigned long long)us);
        return 0;
}

static int cmd_pid(struct command_host *h, const struct command *c, const struct parsed *p,
                   struct strbuf *reply) {
        pid_t pid;
        if (proc_parse_pid(p->argv[1], strlen(p->argv[1]), &pid) < 0) {
                strbuf_printf(reply, "Invalid PID: '%s'", p->argv[1]);
                return -EINVAL;
        }
        /* Alive while any of its threads is (its main thread may have
         * exited); a kernel thread has nothing to watch. */
        struct proc_task task;
        if (proc_task_find(pid, &task) < 0) {
                strbuf_printf(reply, "No such process: %d", (int)pid);
                return -EINVAL;
        }
        if (task.kernel_thread) {
                strbuf_printf(reply, "pid %d is a kernel thread: it has no memory mappings", (int)pid);
                return -EINVAL;
        }
        struct selection sel;
        int r = command_select_scope(h, c, p, &sel, reply);
        if (r < 0)
                return r;
        struct worker *w = sel.v[0];
        r = host_wait(h, w, worker_post(w, REQ_PID, pid, NULL));
        if (r < 0) {
                strbuf_printf(reply, "PID change of '%s' %s", worker_name(w), wait_failure(r));
                return -ETIMEDOUT;
        }
        strbuf_printf(reply, "PID changed to: %d", (int)pid);
        return 0;
}

/* Posts req to the selected workers, waits, and replies per target. */
static int post_and_wait(struct command_host *h, const struct selection *sel, unsigned req, int *ret_failed,
                         struct strbuf *reply) {
        int64_t stack[64];
        int64_t *t = stack;
        int failed = 0;
        if (sel->n > 64) {
                t = mm_calloc(sel->n, sizeof(*t));
                if (!t)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < sel->n; i++)
                t[i] = worker_post(sel->v[i], req, 0, NULL);
        for (size_t i = 0; i < sel->n; i++) {
                struct worker *w = sel->v[i];
                const char *name = worker_name(w);
                int wr = host_wait(h, w, t[i]);
                if (wr < 0) {
                        sep(reply);
                        strbuf_printf(reply, "%s: %s", name, wait_failure(wr));
                        failed++;
                        continue;
                }
                if (!(req & REQ_BACKUP))
                        continue;
                char eb[128];
                int r = worker_last_result(w);
                sep(reply);
                if (r == 0) {
                        if (sel->n > 1)
                                strbuf_printf(reply, "%s: ", name);
                        strbuf_printf(reply, "Manual backup created");
                } else {
                        struct worker_status st;
                        worker_get_status(w, &st);
                        failed++;
                        if (r == -ESRCH)
                                strbuf_printf(reply, "%s: no backup: target is %s%s%s", name,
                                              target_state_name(st.state), st.reason[0] ? ": " : "",
                                              st.reason);
                        else if (r == -EAGAIN)
                                strbuf_printf(reply,
                                              "%s: no backup: the maps changed during every read (a state "
                                              "that never existed is not recorded); try again",
                                              name);
                        else
                                strbuf_printf(reply, "%s: backup failed: %s", name,
                                              strerror_r(-r, eb, sizeof(eb)));
                }
        }
        if (t != stack)
                mm_free(t);
        *ret_failed = failed;
        return 0;
}

static int cmd_backup(struct command_host *h, const struct command *c, const struct parsed *p,
                      struct strbuf *reply) {
        struct selection sel;
        int r = command_select_scope(h, c, p, &sel, reply);
        if (r < 0)
                return r;
        int failed;
        r = post_and_wait(h, &sel, REQ_BACKUP, &failed, reply);
        if (r < 0)
                return r;
        return failed ? -EIO : 0;
}

/* pause and resume. */
static int cmd_pause(struct command_host *h, const struct command *c, const struct parsed *p,
                     struct strbuf *reply) {
        struct selection sel;
        int r = command_select_scope(h, c, p, &sel, reply);
        if (r < 0)
                return r;
        int failed;
        r = post_and_wait(h, &sel, c->request, &failed, reply);
        if (r < 0)
                return r;
        for (size_t i = 0; i < sel.n; i++) {
                struct worker_status st;
                worker_get_status(sel.v[i], &st);
                sep(reply);
                strbuf_printf(reply, "%s: %s", worker_name(sel.v[i]), target_state_name(st.state));
        }
        return failed ? -ETIMEDOUT : 0;
}

static int cmd_targets(struct command_host *h, const struct command *c, const struct parsed *p,
                       struct strbuf *reply) {
        (void)c;
        (void)p;
        strbuf_printf(reply, "%-20s %8s %-8s %s", "NAME", "PID", "STATE", "INTERVAL");
        for (size_t i = 0; i < h->sup->n; i++) {
                struct worker *w = h->sup->workers[i];
                struct worker_status st;
                worker_get_status(w, &st);
                strbuf_printf(reply, "\n%-20s %8d %-8s %llu us", worker_name(w), (int)st.pid,
                              target_state_name(st.state), (unsigned long long)st.interval_us);
        }
        return 0;
}

static int cmd_help(struct command_host *h, const struct command *c, const struct parsed *p,
                    struct strbuf *reply);

/* The active alerts of each target (issue 10): "Active alerts: N" and a
 * line per alert for one target; with several, a "NAME: N active alerts"
 * header per target and its lines indented. */
static int cmd_alerts(struct command_host *h, const struct command *c, const struct parsed *p,
                      struct strbuf *reply) {
        struct selection sel;
        struct strbuf lines;
        int r = command_select_scope(h, c, p, &sel, reply), failed = 0;
        if (r < 0)
                return r;
        strbuf_init(&lines);
        for (size_t i = 0; i < sel.n; i++) {
                const char *name = worker_name(sel.v[i]);
                strbuf_reset(&lines);
                int n = worker_alerts(sel.v[i], 0, &lines, h->timeout_ms);
                sep(reply);
                if (n < 0) {
                        strbuf_printf(reply, "%s: %s", name, n == -ETIMEDOUT ? "timed out" : "out of memory");
                        failed++;
                        continue;
                }
                if (h->sup->n == 1)
                        strbuf_printf(reply, "Active alerts: %d", n);
                else
                        strbuf_printf(reply, "%s: %d active alert%s", name, n, n == 1 ? "" : "s");
                for (const char *l = strbuf_str(&lines); *l;) {
                        const char *nl = strchr(l, '\n');
                        size_t len = nl ? (size_t)(nl - l) : strlen(l);
                        strbuf_printf(reply, "\n%s%.*s", h->sup->n == 1 ? "" : "  ", (int)len, l);
                        l += len + (nl ? 1 : 0);
                }
        }
        strbuf_fini(&lines);
        return failed ? -ETIMEDOUT : 0;
}

static int cmd_reload(struct command_host *h, const struct command *c, const struct parsed *p,
                      struct strbuf *reply) {
        (void)c;
        (void)p;
        return h->reload ? h->reload(h->user, reply) : 0;
}

static int cmd_metrics(struct command_host *h, const struct command *c, const struct parsed *p,
                       struct strbuf *reply) {
        (void)c;
        (void)p;
        if (!h->metrics) {
                strbuf_printf(reply, "Metrics are not available here");
                return -ENOTSUP;
        }
        return h->metrics(h->user, reply);
}

/* The reply convention: no trailing newline (the JSON writer ends its
 * lines with one). */
void command_drop_newline(struct strbuf *reply) {
        if (reply->len && reply->s[reply->len - 1] == '\n')
                reply->s[--reply->len] = '\0';
}

/* quit and stop. */
static int cmd_quit(struct command_host *h, const struct command *c, const struct parsed *p,
                    struct strbuf *reply) {
        (void)h;
        (void)c;
        (void)p;
        strbuf_printf(reply, "Exiting...");
        return COMMAND_QUIT;
}

/* Every command, in the order `help` lists them.  A row without a synopsis
 * shares the help line of the row before it. */
/* clang-format off */
static const struct command commands[] = {
        {"status", NULL, SCOPE_TARGETS, cmd_status, 0,
         "status", "pid, interval, state, regions, last change, backups", command_json_status},
        {"interval", "interval <us> (e.g. interval 1000000, interval 500ms)", SCOPE_ONE, cmd_interval, 0,
         "interval <us>", "change the sampling interval (also 500ms, 2s)", NULL},
        {"pid", "pid <new_pid>", SCOPE_ONE, cmd_pid, 0,
         "pid <new_pid>", "watch another process (a new chain starts)", NULL},
        {"backup", NULL, SCOPE_TARGETS, cmd_backup, 0,
         "backup", "manual full backup now", NULL},
        {"reload", NULL, SCOPE_AGENT, cmd_reload, 0,
         "reload", "reload the configuration and re-read the maps", NULL},
        {"targets", NULL, SCOPE_AGENT, cmd_targets, 0,
         "targets", "one line per target: name, pid, state, interval", command_json_targets},
        {"metrics", NULL, SCOPE_AGENT, cmd_metrics, 0,
         "metrics", "the Prometheus metrics (as in metrics_file)", NULL},
        {"alerts", NULL, SCOPE_TARGETS, cmd_alerts, 0,
         "alerts", "the active alerts of each target", command_json_alerts},
        {"pause", NULL, SCOPE_TARGETS, cmd_pause, REQ_PAUSE,
         "pause | resume", "stop / restart sampling", NULL},
        {"resume", NULL, SCOPE_TARGETS, cmd_pause, REQ_RESUME, NULL, NULL, NULL},
        {"help", NULL, SCOPE_AGENT, cmd_help, 0,
         "help", "this list", NULL},
        {"quit", NULL, SCOPE_AGENT, cmd_quit, 0,
         "quit | stop", "stop the agent", NULL},
        {"stop", NULL, SCOPE_AGENT, cmd_quit, 0, NULL, NULL, NULL},
};
/* clang-format on */

static int cmd_help(struct command_host *h, const struct command *c, const struct parsed *p,
                    struct strbuf *reply) {
        (void)h;
        (void)c;
        (void)p;
        strbuf_printf(reply, "Commands (prefix @NAME to address one target):");
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                if (commands[i].synopsis)
                        strbuf_printf(reply, "\n  %-20s%s", commands[i].synopsis, commands[i].help);
        return COMMAND_OK;
}

static const struct command *find_command(const char *verb) {
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                if (strcmp(commands[i].verb, verb) == 0)
                        return &commands[i];
        return NULL;
}

const char *command_verb(size_t i) {
        return i < sizeof(commands) / sizeof(commands[0]) ? commands[i].verb : NULL;
}

/* Parses the line and finds its command, checking its arguments and scope.
 * Returns 1 with *ret set, 0 for an empty line, or -EINVAL with the reply
 * written. */
static int resolve(const char *line, size_t len, struct parsed *p, const struct command **ret,
                   struct strbuf *reply) {
        int r = parse(line, len, p, reply);
        if (r < 0)
                return r;
        if (p->argc == 0) {
                if (!p->target)
                        return 0;
                strbuf_printf(reply, "Command rejected: '@%s' needs a command", p->target);
                return -EINVAL;
        }
        const struct command *c = find_command(p->argv[0]);
        if (!c) {
                strbuf_printf(reply, "Unknown command: '%s' (type 'help' for the list)", p->argv[0]);
                return -EINVAL;
        }
        if (c->usage && p->argc != 2) {
                strbuf_printf(reply, "Usage: %s", c->usage);
                return -EINVAL;
        }
        if (!c->usage && p->argc != 1) {
                strbuf_printf(reply, "Command rejected: '%s' takes no argument (got '%s')", c->verb,
                              p->argv[1]);
                return -EINVAL;
        }
        if (c->scope == SCOPE_AGENT && p->target) {
                strbuf_printf(reply, "Command rejected: '%s' applies to the whole agent, not to @%s", c->verb,
                              p->target);
                return -EINVAL;
        }
        *ret = c;
        return 1;
}

int command_execute(struct command_host *h, const char *line, size_t len, struct strbuf *reply) {
        struct parsed p;
        const struct command *c;
        int r = resolve(line, len, &p, &c, reply);
        if (r <= 0)
                return r;
        return c->run(h, c, &p, reply);
}

int command_execute_json(struct command_host *h, const char *line, size_t len, struct strbuf *reply) {
        struct parsed p;
        const struct command *c = NULL;
        struct strbuf text;
        strbuf_init(&text);
        int r = resolve(line, len, &p, &c, &text);
        if (r == 0) {
                strbuf_printf(&text, "Command rejected: an empty line has no JSON form");
                r = -EINVAL;
        } else if (r > 0 && !c->json) {
                strbuf_printf(&text, "Command rejected: '%s' has no JSON form (JSON:", c->verb);
                for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                        if (commands[i].json)
                                strbuf_printf(&text, " %s", commands[i].verb);
                strbuf_printf(&text, ")");
                r = -EINVAL;
        } else if (r > 0) {
                size_t start = reply->len;
                r = c->json(h, c, &p, reply);
                if (r < 0) {
                        /* The handler's text goes into the error document. */
                        strbuf_append(&text, reply->s + start, reply->len - start);
                        reply->len = start;
                        if (reply->s)
                                reply->s[start] = '\0';
                }
        }
        if (r < 0) {
                struct json_obj o;
                json_obj_begin(&o, reply);
                json_obj_int(&o, "v", 1);
                json_obj_str(&o, "error", text.s ? text.s : "", text.len);
                if (json_obj_end(&o) == 0)
                        command_drop_newline(reply);
        }
        strbuf_fini(&text);
        return r;
}

/* What the line would run, without running it; NULL for a line that
 * would be rejected (or an empty one). */
static command_fn resolved_run(const char *line, size_t len) {
        struct parsed p;
        const struct command *c = NULL;
        struct strbuf scratch;
        strbuf_init(&scratch);
        int r = resolve(line, len, &p, &c, &scratch);
        strbuf_fini(&scratch);
        return r > 0 ? c->run : NULL;
}

int command_is_quit(const char *line, size_t len) {
        return resolved_run(line, len) == cmd_quit;
}

int command_is_query(const char *line, size_t len) {
        command_fn run = resolved_run(line, len);
        return run && (run == cmd_status || run == cmd_targets || run == cmd_metrics || run == cmd_alerts ||
                       run == cmd_help);
}
