#include "core/command.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/proc.h"
#include "core/units.h"

#define MAX_ARGS 4

struct parsed {
        char buf[COMMAND_MAX_LINE + 1];
        const char *target; /* NULL: every target */
        const char *argv[MAX_ARGS];
        int argc;
};

/* Whom a command addresses. */
enum scope {
        SCOPE_ONE,     /* one target: named with @NAME, or the only one */
        SCOPE_TARGETS, /* the target named with @NAME, or every target */
        SCOPE_AGENT,   /* the agent itself: @NAME is refused */
};

struct command;

/* Carries out command c parsed as p; replies and returns as
 * command_execute() does. */
typedef int (*command_fn)(struct command_host *h, const struct command *c, const struct parsed *p,
                          struct strbuf *reply);

struct command {
        const char *verb;
        /* NULL: the verb takes no argument; else it takes one, and this is
         * its usage. */
        const char *usage;
        enum scope scope;
        command_fn run;
        unsigned request;     /* the worker request, for handlers shared by verbs */
        const char *synopsis; /* for `help`; NULL: on the line of the row before */
        const char *help;
};

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

static void format_time(const struct timespec *t, char *buf, size_t size) {
        struct tm tm;
        if (t->tv_sec == 0 || !gmtime_r(&t->tv_sec, &tm) ||
            strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                snprintf(buf, size, "never");
}

static void status_one(struct worker *w, int named, struct strbuf *reply) {
        struct worker_status st;
        worker_get_status(w, &st);
        char when[64];
        format_time(&st.last_change, when, sizeof(when));
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
        strbuf_printf(reply, "Regions: %zu\nLast change: %s\nBackups: %llu full, %llu incremental",
                      st.regions, when, (unsigned long long)st.full_written,
                      (unsigned long long)st.diffs_written);
        if (st.write_errors)
                strbuf_printf(reply, "\nWrite errors: %llu", (unsigned long long)st.write_errors);
        if (st.unstable)
                strbuf_printf(reply,
                              "\nUnstable samples: %llu (the maps changed while they were read; see the log)",
                              (unsigned long long)st.unstable);
}

/* The workers a command addresses: one (by @name) or all. */
struct selection {
        struct worker **v;
        size_t n;
        struct worker *one;
};

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
static int select_scope(struct command_host *h, const struct command *c, const struct parsed *p,
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
        int r = select_scope(h, c, p, &sel, reply);
        if (r < 0)
                return r;
        for (size_t i = 0; i < sel.n; i++) {
                sep(reply);
                status_one(sel.v[i], h->sup->n > 1, reply);
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
        r = select_scope(h, c, p, &sel, reply);
        if (r < 0)
                return r;
        struct worker *w = sel.v[0];
        int64_t t = worker_set_interval(w, us);
        if (t < 0 || worker_wait(w, t, h->timeout_ms) < 0) {
                strbuf_printf(reply, "Interval change of '%s' timed out", worker_name(w));
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
        int r = select_scope(h, c, p, &sel, reply);
        if (r < 0)
                return r;
        struct worker *w = sel.v[0];
        int64_t t = worker_post(w, REQ_PID, pid, NULL);
        if (t < 0 || worker_wait(w, t, h->timeout_ms) < 0) {
                strbuf_printf(reply, "PID change of '%s' timed out", worker_name(w));
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
                if (t[i] < 0 || worker_wait(w, t[i], h->timeout_ms) < 0) {
                        sep(reply);
                        strbuf_printf(reply, "%s: timed out", name);
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
        int r = select_scope(h, c, p, &sel, reply);
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
        int r = select_scope(h, c, p, &sel, reply);
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

static int cmd_reload(struct command_host *h, const struct command *c, const struct parsed *p,
                      struct strbuf *reply) {
        (void)c;
        (void)p;
        return h->reload ? h->reload(h->user, reply) : 0;
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
         "status", "pid, interval, state, regions, last change, backups"},
        {"interval", "interval <us> (e.g. interval 1000000, interval 500ms)", SCOPE_ONE, cmd_interval, 0,
         "interval <us>", "change the sampling interval (also 500ms, 2s)"},
        {"pid", "pid <new_pid>", SCOPE_ONE, cmd_pid, 0,
         "pid <new_pid>", "watch another process (a new chain starts)"},
        {"backup", NULL, SCOPE_TARGETS, cmd_backup, 0,
         "backup", "manual full backup now"},
        {"reload", NULL, SCOPE_AGENT, cmd_reload, 0,
         "reload", "reload the configuration and re-read the maps"},
        {"targets", NULL, SCOPE_AGENT, cmd_targets, 0,
         "targets", "one line per target: name, pid, state, interval"},
        {"pause", NULL, SCOPE_TARGETS, cmd_pause, REQ_PAUSE,
         "pause | resume", "stop / restart sampling"},
        {"resume", NULL, SCOPE_TARGETS, cmd_pause, REQ_RESUME, NULL, NULL},
        {"help", NULL, SCOPE_AGENT, cmd_help, 0,
         "help", "this list"},
        {"quit", NULL, SCOPE_AGENT, cmd_quit, 0,
         "quit | stop", "stop the agent"},
        {"stop", NULL, SCOPE_AGENT, cmd_quit, 0, NULL, NULL},
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

int command_execute(struct command_host *h, const char *line, size_t len, struct strbuf *reply) {
        struct parsed p;
        int r = parse(line, len, &p, reply);
        if (r < 0)
                return r;
        if (p.argc == 0) {
                if (!p.target)
                        return COMMAND_OK;
                strbuf_printf(reply, "Command rejected: '@%s' needs a command", p.target);
                return -EINVAL;
        }
        const struct command *c = find_command(p.argv[0]);
        if (!c) {
                strbuf_printf(reply, "Unknown command: '%s' (type 'help' for the list)", p.argv[0]);
                return -EINVAL;
        }
        if (c->usage && p.argc != 2) {
                strbuf_printf(reply, "Usage: %s", c->usage);
                return -EINVAL;
        }
        if (!c->usage && p.argc != 1) {
                strbuf_printf(reply, "Command rejected: '%s' takes no argument (got '%s')", c->verb,
                              p.argv[1]);
                return -EINVAL;
        }
        if (c->scope == SCOPE_AGENT && p.target) {
                strbuf_printf(reply, "Command rejected: '%s' applies to the whole agent, not to @%s", c->verb,
                              p.target);
                return -EINVAL;
        }
        return c->run(h, c, &p, reply);
}
