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
#include <sysexits.h>
#include <unistd.h>

#include "agent/control.h"
#include "agent/log.h"
#include "agent/tools.h"
#include "core/command.h"
#include "core/maps.h"
#include "core/proc.h"
#include "core/strbuf.h"
#include "core/supervisor.h"

#ifndef MEMMON_VERSION
#define MEMMON_VERSION "0.1.0"
#endif

#define DEFAULT_INTERVAL_US 2000000ULL
#define DEFAULT_FULL_EVERY 100
#define MAX_PIDS 256
#define REQUEST_TIMEOUT_MS 10000

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
        int check_only;
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
                        int r = command_parse_interval(optarg, &o->interval_us);
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
        if (optind < argc)
                return fail(EX_USAGE, "unexpected argument '%s' (see agent -h)", argv[optind]);
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

/* The targets of this run, as worker parameters (the caller frees them). */
static int build_targets(struct agent *a, struct worker_params **ret, size_t *ret_n) {
        size_t n = a->opt.n_pids;
        struct worker_params *v = calloc(n ? n : 1, sizeof(*v));
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                char name[32], dir[PATH_MAX];
                snprintf(name, sizeof(name), "pid%d", (int)a->opt.pids[i]);
                /* The seed's layout: one target, backups/full and
                 * backups/incremental, its events in monitor.log. */
                if (n == 1)
                        snprintf(dir, sizeof(dir), "%s", a->backups);
                else if (join_path(dir, a->backups, name) < 0)
                        return -ENAMETOOLONG;
                v[i] = (struct worker_params){
                        .name = strdup(name),
                        .selector = SELECT_PID,
                        .pid = a->opt.pids[i],
                        .backup_dir = strdup(dir),
                        .interval_us = a->opt.interval_us,
                        .full_every = DEFAULT_FULL_EVERY,
                };
                if (!v[i].name || !v[i].backup_dir)
                        return -ENOMEM;
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

static void free_targets(struct worker_params *v, size_t n) {
        for (size_t i = 0; i < n; i++)
                worker_params_fini(&v[i]);
        free(v);
}

static int reload(void *user, struct strbuf *reply) {
        struct agent *a = user;
        int late = supervisor_post_all(&a->sup, REQ_SAMPLE, REQUEST_TIMEOUT_MS);
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
                agent_log(&a->log, "control", LOG_INFO, "command: %.*s", (int)(len > 200 ? 200 : len), line);
        int r = command_execute(&host, line, len, &reply);
        if (out) {
                if (reply.len)
                        fprintf(out, "%s\n", strbuf_str(&reply));
                fflush(out);
        }
        /* The log keeps every reply, so FIFO users can read them there. */
        agent_log_lines(&a->log, "control", r < 0 ? LOG_WARN : LOG_INFO, strbuf_str(&reply));
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
                                agent_log(&a->log, "control", LOG_WARN,
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

static void handle_signals(struct agent *a) {
        struct signalfd_siginfo si[16];
        int hup = 0, usr1 = 0;
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
                        default:
                                break;
                        }
                }
        }
        /* A storm of signals collapses into one action of each kind. */
        if (hup) {
                int r = agent_log_reopen(&a->log);
                agent_log(&a->log, NULL, r < 0 ? LOG_ERROR : LOG_INFO, "SIGHUP: logs reopened%s%s, maps re-read",
                          r < 0 ? ": " : "", r < 0 ? strerror(-r) : "");
                for (size_t i = 0; i < a->sup.n; i++)
                        (void)worker_post(a->sup.workers[i], REQ_SAMPLE, 0, NULL);
        }
        if (usr1) {
                agent_log(&a->log, NULL, LOG_INFO, "SIGUSR1: full backup of every target");
                for (size_t i = 0; i < a->sup.n; i++)
                        (void)worker_post(a->sup.workers[i], REQ_BACKUP, 0, NULL);
        }
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

static int run_agent(struct agent *a) {
        int r;
        char why[512];
        if (a->opt.n_pids == 0)
                return fail(EX_USAGE, "nothing to watch: give -p PID (see agent -h)");
        r = check_targets_exist(a);
        if (r)
                return r;
        if (a->opt.check_only)
                return 0;
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
        int multi = a->opt.n_pids > 1;
        r = agent_log_open(&a->log, a->logs, multi, a->opt.mode == MODE_FOREGROUND ? STDERR_FILENO : -1,
                           LOG_INFO);
        if (r < 0)
                return startup_failed(a, EX_CANTCREAT, "cannot open %s/monitor.log: %s", a->logs, strerror(-r));
        a->log_open = 1;
        if ((r = setup_signals(a)) < 0)
                return startup_failed(a, EX_OSERR, "signals: %s", strerror(-r));

        struct worker_env env = {.event = agent_log_event, .user = &a->log};
        supervisor_init(&a->sup, &env);
        a->sup_init = 1;
        struct worker_params *targets;
        size_t n;
        if ((r = build_targets(a, &targets, &n)) < 0)
                return startup_failed(a, EX_OSERR, "targets: %s", strerror(-r));
        struct supervisor_changes ch;
        r = supervisor_apply(&a->sup, targets, n, &ch);
        free_targets(targets, n);
        if (r < 0)
                return startup_failed(a, EX_OSERR, "cannot start workers: %s", strerror(-r));
        agent_log(&a->log, NULL, LOG_INFO, "memmon %s started (pid %d, %zu targets, base %s, %s mode)",
                  MEMMON_VERSION, (int)getpid(), a->sup.n, a->base,
                  a->opt.mode == MODE_DAEMON ? "daemon" : a->opt.mode == MODE_INTERACTIVE ? "interactive"
                                                                                            : "foreground");
        if (a->opt.mode == MODE_DAEMON)
                daemon_ready();
        notify_systemd("READY=1");
        r = loop(a);
        notify_systemd("STOPPING=1");
        agent_log(&a->log, NULL, LOG_INFO, "stopping");
        return r;
}

static void cleanup(struct agent *a) {
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
        r = run_agent(&a);
        cleanup(&a);
        return r;
}
