/*
 * agent: memmon's command line, its modes (foreground, interactive, daemon)
 * and the control loop that turns signals, FIFO lines and typed commands into
 * supervisor actions.  Only this file decides exit codes.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "agent/control.h"
#include "agent/log.h"
#include "agent/spawn.h"
#include "agent/tools.h"
#include "config/config.h"
#include "core/command.h"
#include "core/maps.h"
#include "core/proc.h"
#include "core/strbuf.h"
#include "core/supervisor.h"
#include "core/units.h"

#ifndef MEMMON_VERSION
#define MEMMON_VERSION "0.1.0"
#endif

#define DEFAULT_INTERVAL_US 2000000ULL
#define DEFAULT_FULL_EVERY 100
#define MAX_PIDS 256
#define REQUEST_TIMEOUT_MS 10000
#define DEFAULT_CONFIG "etc/memmon.ini"
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
        char **prog_argv;       /* after --: a program to start and watch */
};

/* A program the agent started for an exec target or for `-- PROG`. */
struct child {
        char *target;
        pid_t pid;
        int held;               /* stopped at exec until its first snapshot */
        int reaped;
};

/* A line assembled from a non-blocking fd. */
struct line_reader {
        char buf[COMMAND_MAX_LINE + 1];
        size_t len;
        int overlong;           /* discarding the rest of a too-long line */
        size_t dropped;
};

struct agent {
        struct options opt;
        char base[PATH_MAX];
        char logs[PATH_MAX];
        char backups[PATH_MAX];
        char fifo_path[PATH_MAX];
        char pid_path[PATH_MAX];
        char out_path[PATH_MAX];
        char config_path[PATH_MAX];     /* "" without a configuration */
        struct config *config;          /* the targets in force */
        struct child *children;
        size_t n_children;
        char *prog_target;              /* the `-- PROG` target */
        int prog_status;                /* its $?, once it ended */
        int prog_done;
        struct agent_log log;
        int log_open;
        struct supervisor sup;
        int sup_init;
        int sig_fd;
        int fifo_fd;
        int pid_fd;
        struct line_reader fifo_lines;
        struct line_reader stdin_lines;
        int stdin_open;
        int quit;
};

static void usage(FILE *f) {
        fprintf(f,
                "Usage: agent [-c FILE] [-p PID]... [-i | -d | -f] [-T US] [-t] [-h] [-V] [-- PROG ARGS...]\n"
                "       agent replay DIR [--at TIMESTAMP]\n"
                "       agent verify DIR\n"
                "\n"
                "Watches how the memory mappings of processes change and keeps every change\n"
                "as full snapshots plus incremental diffs.\n"
                "\n"
                "  -p, --pid PID          watch this process (repeatable)\n"
                "  -c, --config FILE      the INI configuration (default etc/memmon.ini without -p)\n"
                "  -i, --interactive      sample in the background, read commands at a >>> prompt\n"
                "  -d, --daemon           detach; output goes to logs/daemon_output.log\n"
                "  -f, --foreground       stay in the foreground (systemd); the default\n"
                "  -T, --interval US      sampling interval: microseconds, or 500ms, 2s (default 2000000)\n"
                "  -t, --check-config     check the configuration and exit (0 good, 78 bad)\n"
                "  -h, --help             this help\n"
                "  -V, --version          the version\n"
                "\n"
                "Commands (FIFO logs/daemon_fifo, or the prompt): status, interval <us>, pid <pid>,\n"
                "backup, reload, targets, pause, resume, help, quit. Prefix @NAME for one target.\n"
                "Signals: TERM/INT stop, HUP reloads and re-reads the maps, USR1 takes a full backup.\n");
}

static int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(int code, const char *fmt, ...) {
        va_list ap;
        fprintf(stderr, "agent: ");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        return code;
}

static int parse_options(int argc, char **argv, struct options *o) {
        static const struct option longopts[] = {
                {"pid", required_argument, NULL, 'p'},
                {"config", required_argument, NULL, 'c'},
                {"interactive", no_argument, NULL, 'i'},
                {"daemon", no_argument, NULL, 'd'},
                {"foreground", no_argument, NULL, 'f'},
                {"interval", required_argument, NULL, 'T'},
                {"check-config", no_argument, NULL, 't'},
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, 'V'},
                {NULL, 0, NULL, 0},
        };
        memset(o, 0, sizeof(*o));
        o->mode = MODE_FOREGROUND;
        o->interval_us = DEFAULT_INTERVAL_US;
        int c;
        while ((c = getopt_long(argc, argv, "+p:c:idfT:thV", longopts, NULL)) != -1) {
                switch (c) {
                case 'p': {
                        pid_t pid;
                        if (proc_parse_pid(optarg, strlen(optarg), &pid) < 0)
                                return fail(EX_USAGE, "invalid PID for -p: '%s'", optarg);
                        if (o->n_pids == MAX_PIDS)
                                return fail(EX_USAGE, "too many -p (at most %d)", MAX_PIDS);
                        o->pids[o->n_pids++] = pid;
                        break;
                }
                case 'c':
                        o->config = optarg;
                        break;
                case 'i':
                case 'd':
                case 'f': {
                        enum mode m = c == 'i' ? MODE_INTERACTIVE : c == 'd' ? MODE_DAEMON : MODE_FOREGROUND;
                        if (o->mode_set && o->mode != m)
                                return fail(EX_USAGE, "-i, -d and -f exclude each other");
                        o->mode = m;
                        o->mode_set = 1;
                        break;
                }
                case 'T': {
                        o->interval_set = 1;
                        int r = units_parse_interval_us(optarg, &o->interval_us);
                        if (r == -ERANGE)
                                return fail(EX_USAGE, "interval for -T out of range (1ms to 1h): '%s'", optarg);
                        if (r < 0)
                                return fail(EX_USAGE,
                                            "invalid interval for -T: '%s' (expected microseconds, or 500ms, 2s)",
                                            optarg);
                        break;
                }
                case 't':
                        o->check_only = 1;
                        break;
                case 'h':
                        usage(stdout);
                        exit(0);
                case 'V':
                        printf("agent (memmon) %s\n", MEMMON_VERSION);
                        exit(0);
                default:
                        usage(stderr);
                        return EX_USAGE;
                }
        }
        if (optind < argc && strcmp(argv[optind - 1], "--") == 0)
                o->prog_argv = argv + optind;
        else if (optind < argc)
                return fail(EX_USAGE, "unexpected argument '%s' (see agent -h; a program to watch goes after --)",
                            argv[optind]);
        return 0;
}

static int join_path(char *dst, const char *a, const char *b) {
        int n = snprintf(dst, PATH_MAX, "%s/%s", a, b);
        return (n < 0 || n >= PATH_MAX) ? -ENAMETOOLONG : 0;
}

static int set_paths(struct agent *a, const char *base) {
        if (snprintf(a->base, sizeof(a->base), "%s", base) >= (int)sizeof(a->base) ||
            join_path(a->logs, base, "logs") < 0 || join_path(a->backups, base, "backups") < 0 ||
            join_path(a->fifo_path, a->logs, "daemon_fifo") < 0 ||
            join_path(a->pid_path, a->logs, "memmon.pid") < 0 ||
            join_path(a->out_path, a->logs, "daemon_output.log") < 0)
                return -ENAMETOOLONG;
        return 0;
}

/* The seed's layout: a single -p and no configuration.  Its backups go to
 * backups/full and backups/incremental and its events to monitor.log. */
static int seed_layout(const struct agent *a) {
        return !a->config_path[0] && a->opt.n_pids == 1 && !a->opt.prog_argv;
}

static struct child *find_child(struct agent *a, const char *target) {
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
        pid_t pid;
        int held;
        int r = spawn_start(argv, &pid, &held);
        if (r < 0) {
                agent_log(&a->log, target, LOG_ERROR, "cannot start %s: %s", argv[0], strerror(-r));
                return r;
        }
        char *name = strdup(target);
        if (!name) {
                spawn_release(pid);
                (void)spawn_stop(pid, 0);
                return -ENOMEM;
        }
        a->children[a->n_children++] = (struct child){.target = name, .pid = pid, .held = held};
        agent_log(&a->log, target, LOG_INFO, "started %s as pid %d%s", argv[0], (int)pid,
                  held ? " (held at its first instruction until the first snapshot)" : "");
        return 0;
}

static void stop_child(struct agent *a, struct child *c) {
        if (!c->reaped) {
                if (c->held)
                        spawn_release(c->pid);
                int status = spawn_stop(c->pid, CHILD_STOP_GRACE_MS);
                agent_log(&a->log, c->target, LOG_INFO, "stopped pid %d (exit status %d)", (int)c->pid, status);
                if (a->prog_target && strcmp(c->target, a->prog_target) == 0 && !a->prog_done) {
                        a->prog_status = status;
                        a->prog_done = 1;
                }
        }
        forget_child(a, c);
}

/* Worker parameters for one configured target; the caller finalises them. */
static int target_params(struct agent *a, const struct target_config *t, struct worker_params *ret) {
        char dir[PATH_MAX];
        if (seed_layout(a)) {
                if (snprintf(dir, sizeof(dir), "%s", a->backups) >= (int)sizeof(dir))
                        return -ENAMETOOLONG;
        } else if (join_path(dir, a->backups, t->name) < 0) {
                return -ENAMETOOLONG;
        }
        struct worker_params p = {
                .name = t->name,
                .selector = (enum target_selector)t->sel,
                .pid = t->pid,
                .pidfile = t->pidfile,
                .match = t->match,
                .backup_dir = dir,
                .interval_us = t->interval_us,
                .full_every = t->full_every,
                .full_interval_us = t->full_interval_us,
                .keep_full = t->keep_full,
                .max_bytes = t->max_bytes,
        };
        if (t->sel == CONFIG_SEL_EXEC) {
                struct child *c = find_child(a, t->name);
                p.pid = c ? c->pid : 0;
        }
        return worker_params_copy(ret, &p);
}

/* Makes the running targets match cfg: starts the programs of new exec
 * targets, applies the set to the supervisor, lets held programs run once
 * their first snapshot is taken, and stops programs of removed targets.
 * old is the configuration in force before (NULL at start). */
static int apply_config(struct agent *a, const struct config *cfg, const struct config *old,
                        struct supervisor_changes *ret) {
        int r = 0;
        for (size_t i = 0; i < cfg->n_targets; i++) {
                const struct target_config *t = &cfg->targets[i];
                if (t->sel != CONFIG_SEL_EXEC)
                        continue;
                struct child *c = find_child(a, t->name);
                const struct target_config *before = old ? config_find_target(old, t->name) : NULL;
                if (c && before && config_target_compare(before, t) == CONFIG_SELECTOR_CHANGED)
                        stop_child(a, c), c = NULL;
                if (!c)
                        (void)start_child(a, t->name, t->argv);
        }
        struct worker_params *v = calloc(cfg->n_targets ? cfg->n_targets : 1, sizeof(*v));
        if (!v)
                return -ENOMEM;
        size_t n = 0;
        for (; n < cfg->n_targets; n++)
                if ((r = target_params(a, &cfg->targets[n], &v[n])) < 0)
                        break;
        if (r == 0)
                r = supervisor_apply(&a->sup, v, n, ret);
        for (size_t i = 0; i < n; i++)
                worker_params_fini(&v[i]);
        free(v);
        for (size_t i = 0; i < a->n_children;) {
                struct child *c = &a->children[i];
                if (!config_find_target(cfg, c->target)) {
                        stop_child(a, c);
                        continue;
                }
                if (c->held) {
                        struct worker *w = supervisor_find(&a->sup, c->target);
                        if (w)
                                (void)worker_wait(w, worker_post(w, REQ_SAMPLE, 0, NULL), REQUEST_TIMEOUT_MS);
                        spawn_release(c->pid);
                        c->held = 0;
                }
                i++;
        }
        return r;
}

/* Loads the configuration of this run: the file (if any) plus -p and
 * `-- PROG` targets.  Errors go to errs.  Returns 0 or -errno. */
static int load_config(struct agent *a, struct config **ret, struct config_errors *errs) {
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
        /* -T is the interval of the targets named on the command line. */
        for (size_t i = 0; i < c->n_targets; i++) {
                struct target_config *t = &c->targets[i];
                if (a->opt.interval_set && !t->file)
                        t->interval_us = a->opt.interval_us;
                else if (!a->config_path[0])
                        t->interval_us = a->opt.interval_us;
        }
        *ret = c;
        return 0;
fail:
        config_free(c);
        return r;
}

static int reload(void *user, struct strbuf *reply) {
        struct agent *a = user;
        if (a->config_path[0]) {
                struct config *c = NULL;
                struct config_errors errs;
                config_errors_init(&errs);
                int r = load_config(a, &c, &errs);
                if (r < 0) {
                        strbuf_printf(reply, "Reload failed: %zu error%s in %s; still running the previous "
                                             "configuration",
                                      errs.n + errs.n_dropped, errs.n + errs.n_dropped == 1 ? "" : "s",
                                      a->config_path);
                        if (errs.n == 0)
                                strbuf_printf(reply, "\n%s: %s", a->config_path, strerror(-r));
                        for (size_t i = 0; i < errs.n; i++)
                                strbuf_printf(reply, "\n%s", errs.v[i].text);
                        if (errs.n_dropped)
                                strbuf_printf(reply, "\n... and %zu more errors", errs.n_dropped);
                        config_errors_fini(&errs);
                        return -EINVAL;
                }
                config_errors_fini(&errs);
                if (strcmp(c->base_dir, a->config->base_dir) != 0)
                        agent_log(&a->log, NULL, LOG_WARN, "base_dir changed to %s: it takes effect on restart",
                                  c->base_dir);
                a->log.level = (enum log_level)c->log_level;
                struct supervisor_changes ch = {0};
                r = apply_config(a, c, a->config, &ch);
                config_free(a->config);
                a->config = c;
                strbuf_printf(reply, "Configuration reloaded: %u added, %u removed, %u changed, %u restarted, "
                                     "%u unchanged",
                              ch.added, ch.removed, ch.changed, ch.restarted, ch.kept);
                if (r < 0) {
                        strbuf_printf(reply, " (failed: %s)", strerror(-r));
                        return r;
                }
        }
        int late = supervisor_post_all(&a->sup, REQ_SAMPLE, REQUEST_TIMEOUT_MS);
        if (reply->len)
                strbuf_printf(reply, "\n");
        if (late)
                strbuf_printf(reply, "Maps re-read (%d targets did not answer in time)", late);
        else
                strbuf_printf(reply, "Maps re-read");
        return 0;
}

/* Runs one command line; replies go to out (interactive) or the log. */
static void run_command(struct agent *a, const char *line, size_t len, FILE *out) {
        struct command_host host = {
                .sup = &a->sup,
                .reload = reload,
                .user = a,
                .timeout_ms = REQUEST_TIMEOUT_MS,
        };
        struct strbuf reply;
        strbuf_init(&reply);
        if (!out)
                agent_log(&a->log, NULL, LOG_INFO, "command: %.*s", (int)(len > 200 ? 200 : len), line);
        int r = command_execute(&host, line, len, &reply);
        if (out) {
                if (reply.len)
                        fprintf(out, "%s\n", strbuf_str(&reply));
                fflush(out);
        }
        /* The log keeps every reply, so FIFO users can read them there. */
        agent_log_lines(&a->log, NULL, r < 0 ? LOG_WARN : LOG_INFO, strbuf_str(&reply));
        strbuf_fini(&reply);
        if (r == COMMAND_QUIT)
                a->quit = 1;
}

/* Reads what fd has and runs each complete line.  Returns 0, or -EPIPE at
 * end of file. */
static int drain_lines(struct agent *a, int fd, struct line_reader *lr, FILE *out, const char *source) {
        char chunk[8192];
        for (;;) {
                ssize_t n = read(fd, chunk, sizeof(chunk));
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
                }
                if (n == 0)
                        return -EPIPE;
                for (ssize_t i = 0; i < n; i++) {
                        char c = chunk[i];
                        if (c != '\n') {
                                if (lr->overlong) {
                                        lr->dropped++;
                                } else if (lr->len == COMMAND_MAX_LINE) {
                                        lr->overlong = 1;
                                        lr->dropped = lr->len + 1;
                                } else {
                                        lr->buf[lr->len++] = c;
                                }
                                continue;
                        }
                        if (lr->overlong) {
                                agent_log(&a->log, NULL, LOG_WARN,
                                          "%s: line of %zu bytes rejected (longer than %d)", source,
                                          lr->dropped, COMMAND_MAX_LINE);
                                if (out) {
                                        fprintf(out, "Command rejected: line of %zu bytes is longer than %d\n",
                                                lr->dropped, COMMAND_MAX_LINE);
                                }
                        } else {
                                run_command(a, lr->buf, lr->len, out);
                        }
                        lr->len = 0;
                        lr->overlong = 0;
                        lr->dropped = 0;
                        if (a->quit)
                                return 0;
                        if (out) {
                                fputs(">>> ", out);
                                fflush(out);
                        }
                }
                if (out)
                        return 0; /* a terminal: one read per wake-up */
        }
}

static int reopen_output(struct agent *a) {
        int fd = open(a->out_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
        if (fd < 0)
                return -errno;
        int r = (dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0) ? -errno : 0;
        close(fd);
        return r;
}

/* Collects ended programs.  When the `-- PROG` program ends, so does the
 * agent, with its exit status, once its final snapshot is written. */
static void reap_children(struct agent *a) {
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
                for (size_t i = 0; i < a->n_children; i++) {
                        struct child *c = &a->children[i];
                        if (c->pid != pid || (!WIFEXITED(status) && !WIFSIGNALED(status)))
                                continue;
                        c->reaped = 1;
                        int code = spawn_exit_code(status);
                        agent_log(&a->log, c->target, LOG_INFO, "pid %d ended with exit status %d", (int)pid, code);
                        struct worker *w = supervisor_find(&a->sup, c->target);
                        if (w)
                                (void)worker_wait(w, worker_post(w, REQ_SAMPLE, 0, NULL), REQUEST_TIMEOUT_MS);
                        if (a->prog_target && strcmp(c->target, a->prog_target) == 0) {
                                a->prog_status = code;
                                a->prog_done = 1;
                                a->quit = 1;
                        }
                }
        }
}

static void handle_signals(struct agent *a) {
        struct signalfd_siginfo si[16];
        int hup = 0, usr1 = 0, chld = 0;
        for (;;) {
                ssize_t n = read(a->sig_fd, si, sizeof(si));
                if (n <= 0)
                        break;
                for (size_t i = 0; i < (size_t)n / sizeof(si[0]); i++) {
                        switch (si[i].ssi_signo) {
                        case SIGTERM:
                        case SIGINT:
                                agent_log(&a->log, NULL, LOG_INFO, "signal %s: stopping",
                                          si[i].ssi_signo == SIGTERM ? "TERM" : "INT");
                                a->quit = 1;
                                break;
                        case SIGHUP:
                                hup = 1;
                                break;
                        case SIGUSR1:
                                usr1 = 1;
                                break;
                        case SIGCHLD:
                                chld = 1;
                                break;
                        default:
                                break;
                        }
                }
        }
        /* A storm of signals collapses into one action of each kind. */
        if (hup) {
                int r = agent_log_reopen(&a->log);
                if (r == 0 && a->opt.mode == MODE_DAEMON)
                        r = reopen_output(a);
                agent_log(&a->log, NULL, r < 0 ? LOG_ERROR : LOG_INFO, "SIGHUP: logs reopened%s%s",
                          r < 0 ? ": " : "", r < 0 ? strerror(-r) : "");
                struct strbuf reply;
                strbuf_init(&reply);
                r = reload(a, &reply);
                agent_log_lines(&a->log, NULL, r < 0 ? LOG_ERROR : LOG_INFO, strbuf_str(&reply));
                strbuf_fini(&reply);
        }
        if (usr1) {
                agent_log(&a->log, NULL, LOG_INFO, "SIGUSR1: full backup of every target");
                for (size_t i = 0; i < a->sup.n; i++)
                        (void)worker_post(a->sup.workers[i], REQ_BACKUP, 0, NULL);
        }
        if (chld)
                reap_children(a);
}

static int loop(struct agent *a) {
        int interactive = a->opt.mode == MODE_INTERACTIVE;
        if (interactive) {
                fputs(">>> ", stdout);
                fflush(stdout);
                a->stdin_open = 1;
        }
        while (!a->quit) {
                struct pollfd p[3] = {
                        {.fd = a->sig_fd, .events = POLLIN},
                        {.fd = a->fifo_fd, .events = POLLIN},
                        {.fd = a->stdin_open ? STDIN_FILENO : -1, .events = POLLIN},
                };
                int n = poll(p, 3, -1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        agent_log(&a->log, NULL, LOG_ERROR, "poll: %s", strerror(errno));
                        return EX_OSERR;
                }
                if (p[0].revents)
                        handle_signals(a);
                if (!a->quit && (p[1].revents & POLLIN))
                        (void)drain_lines(a, a->fifo_fd, &a->fifo_lines, NULL, "FIFO");
                if (!a->quit && p[2].revents) {
                        if (drain_lines(a, STDIN_FILENO, &a->stdin_lines, stdout, "stdin") == -EPIPE) {
                                /* End of input is a quit, as at a shell. */
                                a->stdin_open = 0;
                                printf("\nExiting...\n");
                                fflush(stdout);
                                a->quit = 1;
                        }
                }
        }
        return 0;
}

static int setup_signals(struct agent *a) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGHUP);
        sigaddset(&set, SIGUSR1);
        sigaddset(&set, SIGCHLD);
        /* Blocked before any worker starts, so every thread inherits it and
         * only the signalfd ever sees these signals. */
        if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
                return -errno;
        signal(SIGPIPE, SIG_IGN);
        a->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
        return a->sig_fd < 0 ? -errno : 0;
}

/* Reports a start-up failure to wherever the user is looking. */
static int startup_failed(struct agent *a, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int startup_failed(struct agent *a, int code, const char *fmt, ...) {
        char msg[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (a->log_open)
                agent_log(&a->log, NULL, LOG_ERROR, "%s", msg);
        if (a->opt.mode == MODE_DAEMON)
                daemon_failed(code, msg);
        fprintf(stderr, "agent: %s\n", msg);
        return code;
}

static int check_targets_exist(struct agent *a) {
        for (size_t i = 0; i < a->opt.n_pids; i++) {
                pid_t pid = a->opt.pids[i];
                struct proc_id id;
                if (proc_identity(pid, &id) < 0)
                        return fail(EX_NOINPUT, "no such process: %d", (int)pid);
                int fd = maps_open(pid);
                if (fd == -EACCES || fd == -EPERM)
                        return fail(EX_NOPERM,
                                    "not allowed to read /proc/%d/maps (another user's process, or not "
                                    "dumpable; needs CAP_SYS_PTRACE)",
                                    (int)pid);
                if (fd < 0)
                        return fail(EX_NOINPUT, "cannot open /proc/%d/maps: %s", (int)pid, strerror(-fd));
                close(fd);
        }
        return 0;
}

/* Reads the configuration before anything is started.  Returns 0 or an
 * exit code (the errors are printed). */
static int initial_config(struct agent *a) {
        struct config_errors errs;
        config_errors_init(&errs);
        int r = load_config(a, &a->config, &errs);
        /* Other failures (an unreadable file) are reported once below. */
        for (size_t i = 0; r == -EINVAL && i < errs.n; i++)
                fprintf(stderr, "%s\n", errs.v[i].text);
        if (r == -EINVAL && errs.n_dropped)
                fprintf(stderr, "... and %zu more errors\n", errs.n_dropped);
        config_errors_fini(&errs);
        if (r == -EINVAL)
                return a->opt.check_only ? EX_CONFIG : fail(EX_CONFIG, "%s: invalid configuration, not started",
                                                           a->config_path[0] ? a->config_path : "command line");
        if (r < 0) {
                if (a->opt.check_only)
                        return fail(EX_CONFIG, "%s: %s", a->config_path, strerror(-r));
                return fail(r == -ENOENT ? EX_NOINPUT : r == -EACCES ? EX_NOPERM : EX_OSERR, "%s: %s",
                            a->config_path, strerror(-r));
        }
        if (a->opt.check_only) {
                printf("%s: OK (%zu target%s, base_dir %s)\n", a->config_path[0] ? a->config_path : "command line",
                       a->config->n_targets, a->config->n_targets == 1 ? "" : "s", a->config->base_dir);
                return EX_OK;
        }
        if (a->config->n_targets == 0)
                return fail(EX_USAGE, "nothing to watch: give -p PID, -- PROG, or targets in a configuration");
        if (set_paths(a, a->config->base_dir) < 0)
                return fail(EX_USAGE, "base directory path too long: %s", a->config->base_dir);
        return 0;
}

static int run_agent(struct agent *a) {
        int r;
        char why[512];
        if ((r = initial_config(a)) != 0 || a->opt.check_only)
                return r;
        if ((r = check_targets_exist(a)) != 0)
                return r;
        if ((r = make_dir(a->base)) < 0 && r != -EEXIST)
                return fail(EX_CANTCREAT, "cannot create %s: %s", a->base, strerror(-r));
        if ((r = make_dir(a->logs)) < 0)
                return fail(EX_CANTCREAT, "cannot create %s: %s", a->logs, strerror(-r));
        if ((r = make_dir(a->backups)) < 0)
                return fail(EX_CANTCREAT, "cannot create %s: %s", a->backups, strerror(-r));
        if (a->opt.mode == MODE_DAEMON && (r = daemonize(a->out_path)) < 0)
                return fail(EX_OSERR, "cannot detach: %s", strerror(-r));

        pid_t holder = 0;
        a->pid_fd = pidfile_acquire(a->pid_path, &holder);
        if (a->pid_fd == -EWOULDBLOCK) {
                if (holder)
                        return startup_failed(a, EX_TEMPFAIL, "another agent (pid %d) is running on %s (%s is locked)",
                                              (int)holder, a->base, a->pid_path);
                return startup_failed(a, EX_TEMPFAIL, "another agent is running on %s (%s is locked)", a->base,
                                      a->pid_path);
        }
        if (a->pid_fd < 0)
                return startup_failed(a, EX_CANTCREAT, "cannot create pid file %s: %s", a->pid_path,
                                      strerror(-a->pid_fd));
        a->fifo_fd = fifo_open(a->fifo_path, why, sizeof(why));
        if (a->fifo_fd < 0)
                return startup_failed(a, a->fifo_fd == -EPERM ? EX_NOPERM : EX_CANTCREAT, "%s", why);
        r = agent_log_open(&a->log, a->logs, !seed_layout(a),
                           a->opt.mode == MODE_FOREGROUND ? STDERR_FILENO : -1, (enum log_level)a->config->log_level);
        if (r < 0)
                return startup_failed(a, EX_CANTCREAT, "cannot open %s/monitor.log: %s", a->logs, strerror(-r));
        a->log_open = 1;
        if ((r = setup_signals(a)) < 0)
                return startup_failed(a, EX_OSERR, "signals: %s", strerror(-r));

        struct worker_env env = {.event = agent_log_event, .user = &a->log};
        supervisor_init(&a->sup, &env);
        a->sup_init = 1;
        struct supervisor_changes ch;
        r = apply_config(a, a->config, NULL, &ch);
        if (r < 0)
                return startup_failed(a, EX_OSERR, "cannot start workers: %s", strerror(-r));
        if (a->opt.prog_argv && !find_child(a, a->prog_target))
                return startup_failed(a, EX_NOINPUT, "cannot start %s", a->opt.prog_argv[0]);
        agent_log(&a->log, NULL, LOG_INFO, "memmon %s started (pid %d, %zu targets, base %s, %s mode%s%s)",
                  MEMMON_VERSION, (int)getpid(), a->sup.n, a->base,
                  a->opt.mode == MODE_DAEMON ? "daemon" : a->opt.mode == MODE_INTERACTIVE ? "interactive"
                                                                                            : "foreground",
                  a->config_path[0] ? ", config " : "", a->config_path);
        if (a->opt.mode == MODE_DAEMON)
                daemon_ready();
        notify_systemd("READY=1");
        r = loop(a);
        notify_systemd("STOPPING=1");
        agent_log(&a->log, NULL, LOG_INFO, "stopping");
        if (r == 0 && a->opt.prog_argv) {
                /* `agent -- PROG` ends as PROG did; a quit stops PROG. */
                struct child *c = find_child(a, a->prog_target);
                if (c)
                        stop_child(a, c);
                r = a->prog_status;
        }
        return r;
}

static void cleanup(struct agent *a) {
        while (a->n_children)
                stop_child(a, &a->children[0]);
        free(a->children);
        if (a->sup_init)
                supervisor_fini(&a->sup);
        if (a->fifo_fd >= 0) {
                close(a->fifo_fd);
                unlink(a->fifo_path);
        }
        if (a->log_open) {
                agent_log(&a->log, NULL, LOG_INFO, "stopped");
                agent_log_close(&a->log);
        }
        pidfile_release(a->pid_path, a->pid_fd);
        if (a->sig_fd >= 0)
                close(a->sig_fd);
        config_free(a->config);
        free(a->prog_target);
}

/* The name of the `-- PROG` target: PROG's basename, made a valid name. */
static char *prog_target_name(const char *prog) {
        const char *base = strrchr(prog, '/');
        base = base ? base + 1 : prog;
        char name[CONFIG_TARGET_NAME_MAX + 1];
        size_t n = 0;
        for (; base[n] && n < CONFIG_TARGET_NAME_MAX; n++) {
                char c = base[n];
                int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                         c == '-' || c == '.';
                name[n] = ok ? c : '_';
        }
        name[n] = '\0';
        if (config_target_name_valid(name) < 0)
                snprintf(name, sizeof(name), "prog");
        return strdup(name);
}

int main(int argc, char **argv) {
        /* Under `bazel run` relative paths mean the user's directory. */
        const char *wd = getenv("BUILD_WORKING_DIRECTORY");
        if (wd && chdir(wd) < 0)
                return fail(EX_OSERR, "cannot enter %s: %s", wd, strerror(errno));
        if (argc > 1 && strcmp(argv[1], "replay") == 0)
                return tool_replay(argc - 1, argv + 1);
        if (argc > 1 && strcmp(argv[1], "verify") == 0)
                return tool_verify(argc - 1, argv + 1);

        static struct agent a;
        a.sig_fd = a.fifo_fd = a.pid_fd = -1;
        int r = parse_options(argc, argv, &a.opt);
        if (r)
                return r;
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof(cwd)))
                return fail(EX_OSERR, "cannot get the current directory: %s", strerror(errno));
        if (set_paths(&a, cwd) < 0)
                return fail(EX_USAGE, "base directory path too long");
        const char *config = a.opt.config;
        if (!config && a.opt.n_pids == 0 && !a.opt.prog_argv)
                config = DEFAULT_CONFIG;
        if (config && !realpath(config, a.config_path)) {
                if (errno != ENOENT || strlen(config) >= sizeof(a.config_path))
                        return fail(EX_NOINPUT, "%s: %s", config, strerror(errno));
                /* Let the loader name the missing file. */
                snprintf(a.config_path, sizeof(a.config_path), "%s", config);
        }
        if (a.opt.prog_argv && !(a.prog_target = prog_target_name(a.opt.prog_argv[0])))
                return fail(EX_OSERR, "out of memory");
        r = run_agent(&a);
        cleanup(&a);
        return r;
}
