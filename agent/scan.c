/*
 * scan: `agent scan [--json] [--text] [-c FILE] [-o KEY=VALUE]... (--all | PID...)`.
 *
 * Every process is judged as a worker judges the first snapshot of its
 * target ("present at attach"), with one alert state and one cache of
 * file facts shared by all, so that a thousand processes that map the same
 * libraries cost one look at each library.  Output is one line per alert
 * (escaped: process names and paths are another user's bytes), or one JSON
 * object per line, then a summary.
 */
#include "agent/scan.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "core/alerts.h"
#include "core/alerts_fs.h"
#include "core/json.h"
#include "core/maps.h"
#include "core/proc.h"
#include "core/strbuf.h"
#include "core/textesc.h"

#define SCAN_USAGE "Usage: agent scan [--json] [--text] [-c FILE] [-o KEY=VALUE]... (--all | PID...)\n"

struct scan {
        int json;
        int text;
        pid_t self;
        struct alert_sysfs *fs;
        struct alert_state *st;
        struct alert_events ev;
        struct maps_snapshot snap;
        struct strbuf out;
        /* The summary. */
        unsigned long long processes, kernel_threads, unreadable, exited, alerts, with_alerts, dropped;
};

enum outcome {
        SCANNED,
        GONE,
        DENIED,
        KERNEL_THREAD,
        FAILED,
};

static uint64_t mono_us(void) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (uint64_t)t.tv_sec * 1000000 + (uint64_t)t.tv_nsec / 1000;
}

/* Reads and parses the maps behind fd.  A torn read (the kernel drops its
 * lock between pages) is read once more. */
static int read_maps(int fd, struct maps_snapshot *s) {
        size_t bad;
        int r = 0;

        for (int attempt = 0; attempt < 2; attempt++) {
                r = maps_read_fd(fd, s);
                if (r < 0 || s->len == 0)
                        return r;
                r = maps_parse(s, &bad);
                if (r != -EINVAL)
                        return r;
        }
        return r;
}

static int print_alert(struct scan *sc, const struct alert_proc *proc, const char *comm,
                       const struct alert_event *e) {
        const char *line = alert_event_line(&sc->ev, e);
        const char *reason = alert_event_reason(&sc->ev, e);
        int r;

        strbuf_reset(&sc->out);
        if (sc->json) {
                struct json_obj o;

                json_obj_begin(&o, &sc->out);
                json_obj_int(&o, "v", 1);
                json_obj_cstr(&o, "event", "alert");
                json_obj_int(&o, "pid", proc->pid);
                json_obj_uint(&o, "start_time", proc->start_time);
                json_obj_cstr(&o, "comm", comm);
                json_obj_uint(&o, "uid", proc->uid);
                alerts_json_fields(&o, &sc->ev, e);
                r = json_obj_end(&o);
        } else {
                r = strbuf_printf(&sc->out, "%d ", (int)proc->pid);
                if (r == 0)
                        r = textesc_append(&sc->out, comm, strlen(comm));
                if (r == 0)
                        r = strbuf_append(&sc->out, ": ", 2);
                if (r == 0)
                        r = alerts_format_text(&sc->out, e->rule, line, e->line_len, reason, e->reason_len);
                if (r == 0)
                        r = strbuf_append(&sc->out, "\n", 1);
        }
        if (r < 0)
                return r;
        return fwrite(sc->out.s, 1, sc->out.len, stdout) == sc->out.len ? 0 : -EIO;
}

static enum outcome scan_pid(struct scan *sc, pid_t pid) {
        struct proc_task t;
        struct alert_proc proc;
        char comm[PROC_COMM_SIZE];
        int fd, r, found = 0;

        /* Through a live thread when its main thread has exited (the main
         * thread's maps read empty then). */
        r = proc_task_find(pid, &t);
        if (r == -ESRCH || r == -ENOENT)
                return GONE;
        if (r < 0)
                return FAILED;
        if (t.kernel_thread)
                return KERNEL_THREAD;
        fd = proc_task_open(&t, "maps");
        if (fd == -ESRCH)
                return GONE;
        if (fd < 0)
                return DENIED;
        r = read_maps(fd, &sc->snap);
        close(fd);
        if (r == -ESRCH)
                return GONE;
        if (r == -EACCES || r == -EPERM)
                return DENIED;
        if (r < 0)
                return FAILED;
        /* No address space (kernel threads were told apart above): it has
         * just exited. */
        if (sc->snap.len == 0)
                return GONE;
        proc.pid = pid;
        proc.start_time = t.id.start_time;
        if (proc_effective_uid(pid, &proc.uid) < 0)
                return GONE;
        if (proc_comm(pid, comm) < 0)
                comm[0] = '\0';

        alert_events_reset(&sc->ev);
        alerts_forget(sc->st);
        r = alerts_first(sc->st, &proc, &sc->snap, mono_us(), &sc->ev);
        if (r >= 0 && sc->text)
                r = alerts_check_text(sc->st, &sc->snap, UINT64_MAX, &sc->ev);
        if (r < 0)
                return FAILED;
        for (size_t i = 0; i < sc->ev.n; i++) {
                if (sc->ev.v[i].change != ALERT_RAISED)
                        continue;
                if (print_alert(sc, &proc, comm, &sc->ev.v[i]) < 0)
                        return FAILED;
                sc->alerts++;
                found = 1;
        }
        sc->dropped += sc->ev.dropped;
        sc->with_alerts += (unsigned long long)found;
        sc->processes++;
        return SCANNED;
}

static void count(struct scan *sc, enum outcome o) {
        if (o == GONE)
                sc->exited++;
        else if (o == DENIED || o == FAILED)
                sc->unreadable++;
        else if (o == KERNEL_THREAD)
                sc->kernel_threads++;
}

static int scan_all(struct scan *sc) {
        DIR *d = opendir("/proc");
        struct dirent *de;

        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                pid_t pid;

                if (proc_parse_pid(de->d_name, strlen(de->d_name), &pid) < 0 || pid == sc->self)
                        continue;
                count(sc, scan_pid(sc, pid));
        }
        closedir(d);
        return 0;
}

static int print_summary(struct scan *sc, uint64_t us) {
        strbuf_reset(&sc->out);
        if (sc->json) {
                struct json_obj o;

                json_obj_begin(&o, &sc->out);
                json_obj_int(&o, "v", 1);
                json_obj_cstr(&o, "event", "summary");
                json_obj_uint(&o, "processes", sc->processes);
                json_obj_uint(&o, "alerts", sc->alerts);
                json_obj_uint(&o, "processes_with_alerts", sc->with_alerts);
                json_obj_uint(&o, "kernel_threads", sc->kernel_threads);
                json_obj_uint(&o, "unreadable", sc->unreadable);
                json_obj_uint(&o, "exited", sc->exited);
                json_obj_uint(&o, "dropped", sc->dropped);
                json_obj_uint(&o, "ms", us / 1000);
                if (json_obj_end(&o) < 0)
                        return -ENOMEM;
        } else if (strbuf_printf(
                       &sc->out,
                       "agent scan: %llu processes, %llu alert%s in %llu of them; skipped %llu kernel "
                       "threads, %llu unreadable, %llu exited meanwhile (%.2f s)\n",
                       sc->processes, sc->alerts, sc->alerts == 1 ? "" : "s", sc->with_alerts,
                       sc->kernel_threads, sc->unreadable, sc->exited, (double)us / 1e6) < 0) {
                return -ENOMEM;
        }
        if (fwrite(sc->out.s, 1, sc->out.len, stdout) != sc->out.len || fflush(stdout) != 0)
                return -EIO;
        return 0;
}

/* Takes the [alerts] section of the configuration file (its includes
 * too) into p, as the agent would give it to every target.  Returns 0, or
 * a sysexits code with the errors printed. */
static int load_alerts_section(const char *file, struct alert_policy *p) {
        struct config_errors errs;
        struct config *c = NULL;
        int r;

        config_errors_init(&errs);
        r = config_load(file, &c, &errs);
        if (r == -EINVAL) {
                for (size_t i = 0; i < errs.n; i++)
                        fprintf(stderr, "%s\n", errs.v[i].text);
                if (errs.n_dropped)
                        fprintf(stderr, "... and %zu more errors\n", errs.n_dropped);
                fprintf(stderr, "agent scan: %s: invalid configuration\n", file);
                r = EX_CONFIG;
        } else if (r < 0) {
                fprintf(stderr, "agent scan: %s: %s\n", file, strerror(-r));
                r = r == -ENOENT ? EX_NOINPUT : r == -EACCES ? EX_NOPERM : EX_CONFIG;
        } else if (alert_policy_copy(p, &c->defaults.alerts) < 0) {
                fprintf(stderr, "agent scan: out of memory\n");
                r = EX_OSERR;
        }
        config_free(c);
        config_errors_fini(&errs);
        return r;
}

static int set_option(struct alert_policy *p, const char *kv) {
        char key[64], why[256];
        const char *eq = strchr(kv, '=');
        int r;

        if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof(key)) {
                fprintf(stderr, "agent scan: -o expects KEY=VALUE, got '%s'\n", kv);
                return -EINVAL;
        }
        memcpy(key, kv, (size_t)(eq - kv));
        key[eq - kv] = '\0';
        r = alert_policy_set(p, key, eq + 1, why, sizeof(why));
        if (r == -ENOENT)
                fprintf(stderr, "agent scan: -o %s: unknown key '%s' (see the [alerts] keys in README.md)\n",
                        kv, key);
        else if (r < 0)
                fprintf(stderr, "agent scan: -o %s: %s\n", kv, r == -ENOMEM ? "out of memory" : why);
        return r;
}

static int parse_args(int argc, char **argv, struct scan *sc, struct alert_policy *p, int *all,
                      int *first_pid) {
        static const struct option longopts[] = {
            {"json", no_argument, NULL, 'j'},
            {"text", no_argument, NULL, 'x'},
            {"all", no_argument, NULL, 'a'},
            {"config", required_argument, NULL, 'c'},
            {"set", required_argument, NULL, 'o'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        const char *config = NULL;
        int c, r;

        /* -c first, whatever the order: -o changes what the file says. */
        optind = 1;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "+c:o:h", longopts, NULL)) != -1)
                if (c == 'c')
                        config = optarg;
        if (config && (r = load_alerts_section(config, p)) != 0)
                return r;
        optind = 1;
        opterr = 1;
        while ((c = getopt_long(argc, argv, "+c:o:h", longopts, NULL)) != -1) {
                switch (c) {
                case 'j':
                        sc->json = 1;
                        break;
                case 'x':
                        sc->text = 1;
                        break;
                case 'a':
                        *all = 1;
                        break;
                case 'c':
                        break;
                case 'o':
                        if (set_option(p, optarg) < 0)
                                return EX_USAGE;
                        break;
                case 'h':
                        printf(SCAN_USAGE
                               "\n"
                               "Applies memmon's alert rules once to live processes: one line per alert,\n"
                               "then a summary.  Exit 0: nothing found; 1: found; 66: no such process;\n"
                               "77: not allowed to read a named process.\n"
                               "  --all           every process (kernel threads and this one skipped)\n"
                               "  --json          one JSON object per line\n"
                               "  --text          also compare code with its files (text_mismatch)\n"
                               "  -o KEY=VALUE    an [alerts] key: wx=off, max_regions=50000, ...\n"
                               "  -c FILE         the [alerts] section of a configuration (-o changes it)\n");
                        exit(0);
                default:
                        fputs(SCAN_USAGE, stderr);
                        return EX_USAGE;
                }
        }
        if (*all == (optind < argc)) {
                fprintf(stderr, "agent scan: give either --all or PIDs\n" SCAN_USAGE);
                return EX_USAGE;
        }
        for (int i = optind; i < argc; i++) {
                pid_t pid;
                if (proc_parse_pid(argv[i], strlen(argv[i]), &pid) < 0) {
                        fprintf(stderr, "agent scan: invalid PID '%s'\n", argv[i]);
                        return EX_USAGE;
                }
        }
        /* A text check was asked for by -o text_check=... too. */
        if (p->text_check_us > 0)
                sc->text = 1;
        *first_pid = optind;
        return 0;
}

static int scan_named(struct scan *sc, char **pids, int n, int *code) {
        for (int i = 0; i < n; i++) {
                pid_t pid;
                enum outcome o;

                (void)proc_parse_pid(pids[i], strlen(pids[i]), &pid);
                if (pid == sc->self)
                        continue;
                o = scan_pid(sc, pid);
                count(sc, o);
                if (o == GONE) {
                        fprintf(stderr, "agent scan: no such process: %d\n", (int)pid);
                        *code = EX_NOINPUT;
                } else if (o == DENIED || o == FAILED) {
                        fprintf(
                            stderr,
                            "agent scan: cannot read process %d (another user's process, or not dumpable; "
                            "needs CAP_SYS_PTRACE)\n",
                            (int)pid);
                        if (*code != EX_NOINPUT)
                                *code = EX_NOPERM;
                }
        }
        return 0;
}

int tool_scan(int argc, char **argv) {
        struct scan sc;
        struct alert_policy policy;
        int all = 0, first_pid = 0, code = 0, r;
        uint64_t t0 = mono_us();

        memset(&sc, 0, sizeof(sc));
        sc.self = getpid();
        alert_policy_init(&policy);
        alert_events_init(&sc.ev);
        maps_snapshot_init(&sc.snap);
        strbuf_init(&sc.out);
        r = parse_args(argc, argv, &sc, &policy, &all, &first_pid);
        if (r != 0) {
                code = r;
                goto out;
        }
        if (alert_sysfs_new(1, &sc.fs) < 0 || alert_state_new(&alert_sysfs_ops, sc.fs, &sc.st) < 0 ||
            alerts_set_policy(sc.st, &policy, NULL, 0, &sc.ev) < 0) {
                fprintf(stderr, "agent scan: out of memory\n");
                code = EX_OSERR;
                goto out;
        }
        if (all)
                r = scan_all(&sc);
        else
                r = scan_named(&sc, argv + first_pid, argc - first_pid, &code);
        if (r < 0) {
                fprintf(stderr, "agent scan: cannot list /proc: %s\n", strerror(-r));
                code = EX_OSERR;
                goto out;
        }
        if (print_summary(&sc, mono_us() - t0) < 0) {
                fprintf(stderr, "agent scan: cannot write the result: %s\n", strerror(errno));
                code = EX_IOERR;
                goto out;
        }
        if (code == 0 && sc.alerts > 0)
                code = 1;
out:
        alert_state_free(sc.st);
        alert_sysfs_free(sc.fs);
        alert_policy_fini(&policy);
        alert_events_fini(&sc.ev);
        maps_snapshot_fini(&sc.snap);
        strbuf_fini(&sc.out);
        return code;
}
