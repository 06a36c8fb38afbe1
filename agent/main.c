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
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/alertexec.h"
#include "agent/capture.h"
#include "agent/control.h"
#include "agent/ctl.h"
#include "agent/events.h"
#include "agent/log.h"
#include "agent/report.h"
#include "agent/scan.h"
#include "agent/spawn.h"
#include "agent/tools.h"
#include "agent/top.h"
#include "config/config.h"
#include "core/command.h"
#include "core/fs.h"
#include "core/maps.h"
#include "core/policy.h"
#include "core/proc.h"
#include "core/strbuf.h"
#include "core/supervisor.h"
#include "core/textesc.h"
#include "core/units.h"

static void usage(FILE *f) {
        fprintf(
            f,
            "Usage: agent [-c FILE] [-p PID]... [-i | -d | -f] [-T US] [--capture MODE] [-t] [-h] [-V]\n"
            "             [-- PROG ARGS...]\n"
            "       agent replay DIR [--at TIMESTAMP]\n"
            "       agent replay DIR --events [--from TIMESTAMP] [--to TIMESTAMP]\n"
            "       agent verify DIR\n"
            "       agent report DIR [--from T] [--to T] [-o FILE] [--events FILE]\n"
            "       agent scan [--json] [--text] [-c FILE] [-o KEY=VALUE]... (--all | PID...)\n"
            "       agent ctl [-b BASE | -c FILE] [--json] COMMAND [ARGS...]\n"
            "       agent top [-b BASE | -c FILE] [-d SECONDS]\n"
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
            "      --capture MODE     auto, poll or ebpf: how changes are learnt of (over [agent] capture)\n"
            "  -t, --check-config     check the configuration and exit (0 good, 78 bad)\n"
            "  -h, --help             this help\n"
            "  -V, --version          the version\n"
            "\n"
            "Commands (FIFO logs/daemon_fifo, the prompt, or agent ctl): status, interval <us>,\n"
            "pid <pid>, backup, reload, targets, alerts, metrics, pause, resume, help, quit.\n"
            "Prefix @NAME for one target.\n"
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
            {"capture", required_argument, NULL, 'C'},
            {NULL, 0, NULL, 0},
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
                case 'C':
                        if (capture_mode_from_name(optarg, &o->capture) < 0)
                                return fail(EX_USAGE,
                                            "invalid capture mode for --capture: '%s' (auto, poll or ebpf)",
                                            optarg);
                        o->capture_set = 1;
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
            agent_join_path(a->fifo_path, a->logs, FIFO_NAME) < 0 ||
            agent_join_path(a->pid_path, a->logs, PIDFILE_NAME) < 0 ||
            agent_join_path(a->out_path, a->logs, DAEMON_OUTPUT_NAME) < 0)
                return -ENAMETOOLONG;
        return 0;
}

/* Opens /dev/null on each of fds 0, 1 and 2 that is closed, so that no
 * file the agent opens later lands there and gets written to as if it were
 * stdout, or handed to a child as its stdin. */
static int open_std_fds(void) {
        for (int fd = 0; fd <= 2; fd++) {
                if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
                        continue;
                int n = open("/dev/null", O_RDWR | O_NOCTTY);
                if (n < 0)
                        return -errno;
                if (n != fd) {
                        close(n);
                        return -EBADF;
                }
        }
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
                /* Paths are printed escaped: -t never sends a control byte to
                 * the terminal. */
                struct strbuf path, base;
                const char *shown = a->config_path[0] ? a->config_path : "command line";
                int code = EX_OK;
                strbuf_init(&path);
                strbuf_init(&base);
                if (textesc_append(&path, shown, strlen(shown)) < 0 ||
                    textesc_append(&base, a->config->base_dir, strlen(a->config->base_dir)) < 0)
                        code = fail(EX_OSERR, "out of memory");
                else
                        printf("%s: OK (%zu target%s, base_dir %s)\n", strbuf_str(&path),
                               a->config->n_targets, a->config->n_targets == 1 ? "" : "s", strbuf_str(&base));
                strbuf_fini(&path);
                strbuf_fini(&base);
                return code;
        }
        if (a->config->n_targets == 0)
                return fail(EX_USAGE,
                            "nothing to watch: give -p PID, -- PROG, or targets in a configuration");
        if (set_paths(a, a->config->base_dir) < 0)
                return fail(EX_USAGE, "base directory path too long: %s", a->config->base_dir);
        return 0;
}

/* The exit code for a folder or file under the base directory that could
 * not be used: refused as untrusted (or not a plain folder or file of
 * ours), or not creatable. */
static int refusal_code(int r) {
        return r == -EPERM || r == -EACCES || r == -ELOOP || r == -EXDEV ? EX_NOPERM : EX_CANTCREAT;
}

/* Opens (creating it, 0700, when missing) the folder name of the base
 * directory and checks it as StrictModes would.  Returns 0 with *ret_fd set,
 * or an exit code (the error is printed). */
static int open_base_folder(struct agent *a, const char *name, const char *shown, int *ret_fd) {
        char why[FS_WHY_SIZE];
        int fd, r = fs_make_dir_at(a->base_fd, name, &fd);
        if (r < 0)
                return fail(refusal_code(r), "%s: %s; not starting", shown,
                            r == -ELOOP ? "a symlink, not a folder" : strerror(-r));
        r = fs_check_own_dir(fd, shown, why, sizeof(why));
        if (r < 0) {
                close(fd);
                return fail(refusal_code(r), "%s; not starting", why);
        }
        *ret_fd = fd;
        return 0;
}

/* The base directory and its logs/ and backups/ folders, checked from /
 * down before anything is written (OpenSSH's StrictModes): the base
 * directory is opened once, and everything under it is reached from its fd
 * (core/fs.h).  Returns 0 or an exit code (the error is printed). */
static int open_base(struct agent *a) {
        char why[FS_WHY_SIZE];
        int backups_fd = -1, r;

        a->base_fd = fs_open_base(a->base, true, why, sizeof(why));
        if (a->base_fd < 0)
                return fail(refusal_code(a->base_fd),
                            "%s; not starting (see \"Security model\" in the README)", why);
        if ((r = open_base_folder(a, "logs", a->logs, &a->logs_fd)) != 0)
                return r;
        if ((r = open_base_folder(a, "backups", a->backups, &backups_fd)) != 0)
                return r;
        close(backups_fd);
        return 0;
}

static int run_agent(struct agent *a) {
        int r;
        char why[FS_WHY_SIZE];
        clock_gettime(CLOCK_REALTIME, &a->started);
        if ((r = initial_config(a)) != 0 || a->opt.check_only)
                return r;
        if ((r = check_targets_exist(a)) != 0)
                return r;
        if ((r = open_base(a)) != 0)
                return r;
        if (a->opt.mode == MODE_DAEMON && (r = daemonize(a->logs_fd)) < 0)
                return fail(EX_OSERR, "cannot detach: %s", strerror(-r));

        pid_t holder = 0;
        a->pid_fd = pidfile_acquire(a->logs_fd, PIDFILE_NAME, a->pid_path, &holder, why, sizeof(why));
        if (a->pid_fd == -EWOULDBLOCK) {
                if (holder)
                        return startup_failed(a, EX_TEMPFAIL,
                                              "another agent (pid %d) is running on %s (%s is locked)",
                                              (int)holder, a->base, a->pid_path);
                return startup_failed(a, EX_TEMPFAIL, "another agent is running on %s (%s is locked)",
                                      a->base, a->pid_path);
        }
        if (a->pid_fd < 0)
                return startup_failed(a, refusal_code(a->pid_fd), "cannot use pid file %s: %s", a->pid_path,
                                      why);
        a->fifo_fd = fifo_open(a->logs_fd, FIFO_NAME, a->fifo_path, why, sizeof(why));
        if (a->fifo_fd < 0)
                return startup_failed(a, a->fifo_fd == -EPERM ? EX_NOPERM : EX_CANTCREAT, "%s", why);
        r = agent_log_new(a->logs_fd, !agent_single_target_layout(a),
                          a->opt.mode == MODE_FOREGROUND ? STDERR_FILENO : -1, a->config->log_level, &a->log,
                          why, sizeof(why));
        if (r < 0)
                return startup_failed(a, refusal_code(r), "cannot open the log: %s", why);
        if ((r = agent_setup_signals(a)) < 0)
                return startup_failed(a, EX_OSERR, "signals: %s", strerror(-r));
        if ((r = agent_ctl_open(a, why, sizeof(why))) < 0)
                return startup_failed(a, r == -EPERM || r == -EACCES ? EX_NOPERM : EX_CANTCREAT, "%s", why);
        if ((r = agent_events_new(a->logs_fd, a->config->events, &a->events)) < 0)
                return startup_failed(a, EX_CANTCREAT, "cannot open %s/%s: %s", a->logs, AGENT_EVENTS_FILE,
                                      strerror(-r));
        /* After the signals are blocked: its thread must not take them. */
        if ((r = alertexec_new(a->logs_fd, a->log, a->events, &a->alertexec)) < 0)
                return startup_failed(a, EX_OSERR, "cannot start the alert_exec runner: %s", strerror(-r));
        /* After the signals are blocked: a capture thread inherits that. */
        if ((r = agent_capture_start(a->config->capture, a->config->capture_ring, a->log, &a->capture)) < 0)
                return startup_failed(a, EX_OSERR, "capture: %s", strerror(-r));

        struct worker_env env = {.event = agent_log_event,
                                 .user = a->log,
                                 .base_fd = a->base_fd,
                                 .base = a->base,
                                 .on_event = agent_worker_event,
                                 .on_event_user = a,
                                 .capture = agent_capture_source(a->capture),
                                 .resync_us = a->config->resync_us};
        if ((r = supervisor_init(&a->sup, &env)) < 0)
                return startup_failed(a, EX_OSERR, "cannot start the supervisor: %s", strerror(-r));
        a->sup_init = 1;
        /* Execs go to the workers of `match` targets from now on. */
        agent_capture_route(a->capture, &a->sup.registry);
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
        /* The executor goes first: it is the supervisor's driver. */
        agent_control_fini(a);
        agent_ctl_close(a);
        while (a->n_children)
                agent_stop_child(a, &a->children[0]);
        free(a->children);
        /* No exec record may reach the registry once it is gone. */
        agent_capture_route(a->capture, NULL);
        if (a->sup_init)
                supervisor_fini(&a->sup);
        /* The workers are gone: nothing submits runs or events any more. */
        alertexec_free(a->alertexec);
        agent_events_free(a->events);
        agent_capture_free(a->capture);
        a->capture = NULL;
        fifo_remove(a->logs_fd, FIFO_NAME, a->fifo_fd);
        a->fifo_fd = -1;
        agent_log(a->log, NULL, LOG_INFO, "stopped");
        agent_log_free(a->log);
        a->log = NULL;
        /* Last: while the lock is held no other agent starts here. */
        pidfile_release(a->logs_fd, PIDFILE_NAME, a->pid_fd);
        a->pid_fd = -1;
        fs_close(&a->logs_fd);
        fs_close(&a->base_fd);
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
        if (open_std_fds() < 0)
                return EX_OSERR;
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
        if (strcmp(name, INSTALLED_CTL_NAME) == 0 && argc > 1 && strcmp(argv[1], "top") == 0)
                return tool_top(argc - 1, argv + 1, default_config);
        if (strcmp(name, INSTALLED_CTL_NAME) == 0)
                return tool_ctl(argc, argv, default_config);
        if (argc > 1 && strcmp(argv[1], "ctl") == 0)
                return tool_ctl(argc - 1, argv + 1, default_config);
        if (argc > 1 && strcmp(argv[1], "top") == 0)
                return tool_top(argc - 1, argv + 1, default_config);
        if (argc > 1 && strcmp(argv[1], "replay") == 0)
                return tool_replay(argc - 1, argv + 1);
        if (argc > 1 && strcmp(argv[1], "verify") == 0)
                return tool_verify(argc - 1, argv + 1);
        if (argc > 1 && strcmp(argv[1], "report") == 0)
                return tool_report(argc - 1, argv + 1);
        if (argc > 1 && strcmp(argv[1], "scan") == 0)
                return tool_scan(argc - 1, argv + 1);

        static struct agent a;
        a.sig_fd = a.fifo_fd = a.pid_fd = a.base_fd = a.logs_fd = -1;
        int r = parse_options(argc, argv, &a.opt);
        if (r)
                return r;
        if ((r = agent_control_init(&a)) < 0)
                return fail(EX_OSERR, "cannot set up the command thread: %s", strerror(-r));
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
