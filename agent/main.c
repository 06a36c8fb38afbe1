/*
 * main: memmon's command line, its modes (foreground, interactive, daemon),
 * start-up and shutdown.  Only this file decides exit codes.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/control.h"
#include "agent/ctl.h"
#include "agent/log.h"
#include "agent/scan.h"
#include "agent/spawn.h"
#include "agent/tools.h"
#include "config/config.h"
#include "core/command.h"
#include "core/maps.h"
#include "core/policy.h"
#include "core/proc.h"
#include "core/strbuf.h"
#include "core/supervisor.h"
#include "core/units.h"

static void usage(FILE *f) {
        fprintf(f,
                "Usage: agent [-c FILE] [-p PID]... [-i | -d | -f] [-T US] [-t] [-h] [-V] [-- PROG ARGS...]\n"
                "       agent replay DIR [--at TIMESTAMP]\n"
                "       agent verify DIR\n"
                "       agent scan [--json] [--text] [-o KEY=VALUE]... (--all | PID...)\n"
                "       agent ctl [-b BASE | -c FILE] [--json] COMMAND [ARGS...]\n"
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
            {"pid", required_argument, NULL, 'p'},    {"config", required_argument, NULL, 'c'},
            {"interactive", no_argument, NULL, 'i'},  {"daemon", no_argument, NULL, 'd'},
            {"foreground", no_argument, NULL, 'f'},   {"interval", required_argument, NULL, 'T'},
            {"check-config", no_argument, NULL, 't'}, {"help", no_argument, NULL, 'h'},
            {"version", no_argument, NULL, 'V'},      {NULL, 0, NULL, 0},
        };
        memset(o, 0, sizeof(*o));
        o->mode = MODE_FOREGROUND;
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
                                return fail(EX_USAGE, "interval for -T out of range (1ms to 1h): '%s'",
                                            optarg);
                        if (r < 0)
                                return fail(
                                    EX_USAGE,
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
                return fail(EX_USAGE,
                            "unexpected argument '%s' (see agent -h; a program to watch goes after --)",
                            argv[optind]);
        return 0;
}

static int set_paths(struct agent *a, const char *base) {
        if (snprintf(a->base, sizeof(a->base), "%s", base) >= (int)sizeof(a->base) ||
            agent_join_path(a->logs, base, "logs") < 0 || agent_join_path(a->backups, base, "backups") < 0 ||
            agent_join_path(a->fifo_path, a->logs, "daemon_fifo") < 0 ||
            agent_join_path(a->pid_path, a->logs, "memmon.pid") < 0 ||
            agent_join_path(a->out_path, a->logs, "daemon_output.log") < 0)
                return -ENAMETOOLONG;
        return 0;
}

/* Reports a start-up failure to wherever the user is looking. */
static int startup_failed(struct agent *a, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int startup_failed(struct agent *a, int code, const char *fmt, ...) {
        char msg[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        agent_log(a->log, NULL, LOG_ERROR, "%s", msg);
        fprintf(stderr, "agent: %s\n", msg);
        /* The launcher of a daemon hears of it after cleanup(), so that it
         * never sees the pid file or FIFO of a daemon that has failed. */
        snprintf(a->startup_error, sizeof(a->startup_error), "%s", msg);
        return code;
}

static int check_targets_exist(struct agent *a) {
        for (size_t i = 0; i < a->opt.n_pids; i++) {
                pid_t pid = a->opt.pids[i];
                /* Alive while any of its threads is: its main thread may
                 * have exited (then its maps are read through another). */
                struct proc_task t;
                if (proc_task_find(pid, &t) < 0)
                        return fail(EX_NOINPUT, "no such process: %d", (int)pid);
                if (t.kernel_thread)
                        return fail(EX_NOINPUT, "pid %d is a kernel thread: it has no memory mappings",
                                    (int)pid);
                int fd = proc_task_open(&t, "maps");
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
        int r = agent_load_config(a, &a->config, &errs);
        /* Other failures (an unreadable file) are reported once below. */
        for (size_t i = 0; r == -EINVAL && i < errs.n; i++)
                fprintf(stderr, "%s\n", errs.v[i].text);
        if (r == -EINVAL && errs.n_dropped)
                fprintf(stderr, "... and %zu more errors\n", errs.n_dropped);
        config_errors_fini(&errs);
        if (r == -EINVAL)
                return a->opt.check_only ? EX_CONFIG
                                         : fail(EX_CONFIG, "%s: invalid configuration, not started",
                                                a->config_path[0] ? a->config_path : "command line");
        if (r < 0) {
                if (a->opt.check_only)
                        return fail(EX_CONFIG, "%s: %s", a->config_path, strerror(-r));
                return fail(r == -ENOENT   ? EX_NOINPUT
                            : r == -EACCES ? EX_NOPERM
                                           : EX_OSERR,
                            "%s: %s", a->config_path, strerror(-r));
        }
        if (a->opt.check_only) {
                printf("%s: OK (%zu target%s, base_dir %s)\n",
                       a->config_path[0] ? a->config_path : "command line", a->config->n_targets,
                       a->config->n_targets == 1 ? "" : "s", a->config->base_dir);
                return EX_OK;
        }
        if (a->config->n_targets == 0)
                return fail(EX_USAGE,
                            "nothing to watch: give -p PID, -- PROG, or targets in a configuration");
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
                        return startup_failed(a, EX_TEMPFAIL,
                                              "another agent (pid %d) is running on %s (%s is locked)",
                                              (int)holder, a->base, a->pid_path);
                return startup_failed(a, EX_TEMPFAIL, "another agent is running on %s (%s is locked)",
                                      a->base, a->pid_path);
        }
        if (a->pid_fd < 0)
                return startup_failed(a, EX_CANTCREAT, "cannot create pid file %s: %s", a->pid_path,
                                      strerror(-a->pid_fd));
        a->fifo_fd = fifo_open(a->fifo_path, why, sizeof(why));
        if (a->fifo_fd < 0)
                return startup_failed(a, a->fifo_fd == -EPERM ? EX_NOPERM : EX_CANTCREAT, "%s", why);
        r = agent_log_new(a->logs, !agent_single_target_layout(a),
                          a->opt.mode == MODE_FOREGROUND ? STDERR_FILENO : -1, a->config->log_level, &a->log);
        if (r < 0)
                return startup_failed(a, EX_CANTCREAT, "cannot open %s/monitor.log: %s", a->logs,
                                      strerror(-r));
        if ((r = agent_setup_signals(a)) < 0)
                return startup_failed(a, EX_OSERR, "signals: %s", strerror(-r));

        struct worker_env env = {.event = agent_log_event, .user = a->log};
        if ((r = supervisor_init(&a->sup, &env)) < 0)
                return startup_failed(a, EX_OSERR, "cannot start the supervisor: %s", strerror(-r));
        a->sup_init = 1;
        struct supervisor_changes ch;
        r = agent_apply_config(a, a->config, NULL, &ch);
        if (r < 0)
                return startup_failed(a, EX_OSERR, "cannot start workers: %s", strerror(-r));
        if (a->opt.prog_argv && !agent_find_child(a, a->prog_target))
                return startup_failed(a, EX_NOINPUT, "cannot start %s", a->opt.prog_argv[0]);
        agent_log(a->log, NULL, LOG_INFO, "memmon %s started (pid %d, %zu targets, base %s, %s mode%s%s)",
                  MEMMON_VERSION, (int)getpid(), a->sup.n, a->base,
                  a->opt.mode == MODE_DAEMON        ? "daemon"
                  : a->opt.mode == MODE_INTERACTIVE ? "interactive"
                                                    : "foreground",
                  a->config_path[0] ? ", config " : "", a->config_path);
        if (a->opt.mode == MODE_DAEMON)
                daemon_ready();
        agent_service_ready(a);
        r = agent_loop(a);
        agent_service_stopping(a);
        agent_log(a->log, NULL, LOG_INFO, "stopping");
        if (r == 0 && a->opt.prog_argv && a->prog_done) {
                /* PROG ended by itself: `agent -- PROG` ends as PROG did.
                 * Told to stop, the agent stops PROG and exits 0. */
                r = a->prog_status;
        }
        return r;
}

static void cleanup(struct agent *a) {
        while (a->n_children)
                agent_stop_child(a, &a->children[0]);
        free(a->children);
        if (a->sup_init)
                supervisor_fini(&a->sup);
        if (a->fifo_fd >= 0) {
                close(a->fifo_fd);
                unlink(a->fifo_path);
        }
        agent_log(a->log, NULL, LOG_INFO, "stopped");
        agent_log_free(a->log);
        a->log = NULL;
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
        char name[TARGET_NAME_MAX + 1];
        size_t n = 0;
        for (; base[n] && n < TARGET_NAME_MAX; n++)
                name[n] = target_name_char_ok(base[n]) ? base[n] : '_';
        name[n] = '\0';
        if (target_name_valid(name) < 0)
                snprintf(name, sizeof(name), "prog");
        return strdup(name);
}

int main(int argc, char **argv) {
        /* Workers allocate only when something changes, so they gain
         * nothing from arenas of their own, and each arena keeps freed
         * memory resident: with 1,000 targets that was most of the RSS. */
        mallopt(M_ARENA_MAX, 1);
        /* Under `bazel run` relative paths mean the user's directory. */
        const char *wd = getenv("BUILD_WORKING_DIRECTORY");
        if (wd && chdir(wd) < 0)
                return fail(EX_OSERR, "cannot enter %s: %s", wd, strerror(errno));
        /* Installed as memmon-agent and memmonctl (scripts/install), the
         * configuration is the system's; memmonctl is `agent ctl`. */
        const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
        int installed = strcmp(name, INSTALLED_NAME) == 0 || strcmp(name, INSTALLED_CTL_NAME) == 0;
        const char *default_config = installed ? INSTALLED_CONFIG : DEFAULT_CONFIG;
        if (strcmp(name, INSTALLED_CTL_NAME) == 0)
                return tool_ctl(argc, argv, default_config);
        if (argc > 1 && strcmp(argv[1], "ctl") == 0)
                return tool_ctl(argc - 1, argv + 1, default_config);
        if (argc > 1 && strcmp(argv[1], "replay") == 0)
                return tool_replay(argc - 1, argv + 1);
        if (argc > 1 && strcmp(argv[1], "verify") == 0)
                return tool_verify(argc - 1, argv + 1);
        if (argc > 1 && strcmp(argv[1], "scan") == 0)
                return tool_scan(argc - 1, argv + 1);

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
                config = default_config;
        if (config && !realpath(config, a.config_path)) {
                if (errno != ENOENT || strlen(config) >= sizeof(a.config_path))
                        return fail(EX_NOINPUT, "%s: %s", config, strerror(errno));
                /* Let the loader name the missing file. */
                snprintf(a.config_path, sizeof(a.config_path), "%s", config);
        }
        if (a.opt.prog_argv && !(a.prog_target = prog_target_name(a.opt.prog_argv[0])))
                return fail(EX_OSERR, "out of memory");
        /* A daemon runs from /: a program named by a relative path is found
         * from here, as the user meant. */
        static char prog_path[PATH_MAX];
        if (a.opt.prog_argv && a.opt.prog_argv[0][0] != '/' && strchr(a.opt.prog_argv[0], '/')) {
                if (agent_join_path(prog_path, cwd, a.opt.prog_argv[0]) < 0)
                        return fail(EX_USAGE, "program path too long: %s", a.opt.prog_argv[0]);
                a.opt.prog_argv[0] = prog_path;
        }
        r = run_agent(&a);
        cleanup(&a);
        if (a.startup_error[0] && a.opt.mode == MODE_DAEMON)
                daemon_failed(r, a.startup_error);
        return r;
}
