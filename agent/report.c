#include "agent/report.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "agent/report_data.h"
#include "agent/report_events.h"
#include "agent/report_page.h"
#include "core/fs.h"
#include "core/strbuf.h"
#include "core/ts.h"

#define USAGE "agent report DIR [--from T] [--to T] [-o FILE | -o -] [--events FILE]"

/* Alerts logged this long before the first recorded moment still belong
 * to it: the first snapshot's alerts may be logged before its file is
 * named. */
#define ALERT_SLACK_US INT64_C(10000000)

/* parse_args(): print the help and exit 0. */
#define ARGS_HELP (-1)

struct report_args {
        const char *dir;
        const char *from_arg, *to_arg;
        const char *out;    /* "-": stdout */
        const char *events; /* NULL: found next to DIR */
        char from[TS_SIZE], to[TS_SIZE];
        int64_t from_us, to_us;
};

/* Says what is wrong with the command line, in one line.  Returns
 * EX_USAGE. */
static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...) {
        va_list ap;

        fprintf(stderr, "agent report: ");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, " (usage: " USAGE ")\n");
        return EX_USAGE;
}

/* Takes the value of option name at argv[*i] ("--name V", or "--name=V"
 * for a long one).  Returns 1 when it was that option, 0 when not, -1 when
 * its value is missing. */
static int option_value(int argc, char **argv, int *i, const char *name, const char **ret) {
        size_t n = strlen(name);

        if (strcmp(argv[*i], name) == 0) {
                if (*i + 1 >= argc)
                        return -1;
                *ret = argv[++*i];
                return 1;
        }
        if (name[1] == '-' && strncmp(argv[*i], name, n) == 0 && argv[*i][n] == '=') {
                *ret = argv[*i] + n + 1;
                return 1;
        }
        return 0;
}

/* Reads the timestamp of option name.  Returns 0 or EX_USAGE (said). */
static int parse_time(const char *name, const char *arg, char ret_ts[TS_SIZE], int64_t *ret_us) {
        if (ts_parse(arg, ret_ts) < 0 || ts_to_us(ret_ts, ret_us) < 0)
                return usage_error("invalid timestamp for %s: '%s' (expected 20261125T183328.123456Z or "
                                   "2026-11-25T18:33:28Z)",
                                   name, arg);
        return 0;
}

/* Returns 0, ARGS_HELP, or EX_USAGE (said). */
static int parse_args(int argc, char **argv, struct report_args *a) {
        static const char *const names[] = {"--from", "--to", "-o", "--output", "--events"};
        int r;

        memset(a, 0, sizeof(*a));
        a->out = "report.html";
        for (int i = 1; i < argc; i++) {
                const char **dst[] = {&a->from_arg, &a->to_arg, &a->out, &a->out, &a->events};
                int matched = 0;

                if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
                        return ARGS_HELP;
                for (size_t k = 0; k < sizeof(names) / sizeof(names[0]) && !matched; k++) {
                        matched = option_value(argc, argv, &i, names[k], dst[k]);
                        if (matched < 0)
                                return usage_error("%s needs a value", names[k]);
                }
                if (matched)
                        continue;
                if (argv[i][0] == '-' && argv[i][1] != '\0')
                        return usage_error("unknown option '%s'", argv[i]);
                if (a->dir)
                        return usage_error("unexpected argument '%s' (one DIR only)", argv[i]);
                a->dir = argv[i];
        }
        if (!a->dir)
                return usage_error("no DIR given");
        if (!a->dir[0] || !a->out[0] || (a->events && !a->events[0]))
                return usage_error("an empty path");
        if (a->from_arg && (r = parse_time("--from", a->from_arg, a->from, &a->from_us)) != 0)
                return r;
        if (a->to_arg && (r = parse_time("--to", a->to_arg, a->to, &a->to_us)) != 0)
                return r;
        if (a->from_arg && a->to_arg && a->from_us > a->to_us)
                return usage_error("--from '%s' is after --to '%s'", a->from_arg, a->to_arg);
        return 0;
}

struct walk_ctx {
        struct report_history *h;
        const char *dir;
};

/* Adds the step, and says on stderr what could not be read, as replay does. */
static int on_step(void *user, const struct backup_step *st) {
        struct walk_ctx *w = user;

        if (st->result == BACKUP_STEP_BAD) {
                const char *sub = st->full ? "full" : "incremental";

                if (st->fault->line)
                        fprintf(stderr, "agent report: %s/%s/%s: line %zu: %s\n", w->dir, sub, st->name,
                                st->fault->line, st->fault->why);
                else
                        fprintf(stderr, "agent report: %s/%s/%s: %s\n", w->dir, sub, st->name,
                                st->fault->why);
        }
        return report_history_step(w->h, st);
}

/* True when dir holds a folder with full/ in it: dir is the folder of
 * every target, and the user meant one of them (the first goes to first). */
static bool holds_targets(const char *dir, char *first, size_t first_size) {
        struct dirent *de;
        bool found = false;
        DIR *d = opendir(dir);

        if (!d)
                return false;
        while (!found && (de = readdir(d))) {
                char p[PATH_MAX];
                struct stat sb;

                if (de->d_name[0] == '.')
                        continue;
                if (snprintf(p, sizeof(p), "%s/%s/full", dir, de->d_name) >= (int)sizeof(p))
                        continue;
                if (stat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) {
                        snprintf(first, first_size, "%s", de->d_name);
                        found = true;
                }
        }
        closedir(d);
        return found;
}

static bool base_is(const char *path, const char *name) {
        const char *b = strrchr(path, '/');

        return strcmp(b ? b + 1 : path, name) == 0;
}

/* Puts BASE/logs/events.jsonl for the folder base in ret.  Returns whether
 * it fits. */
static bool events_in(const char *base, char ret[PATH_MAX]) {
        int n = snprintf(ret, PATH_MAX, "%s/logs/events.jsonl", strcmp(base, "/") ? base : "");

        return n > 0 && n < PATH_MAX;
}

/* Where the events file of DIR may be: BASE/logs/events.jsonl for DIR =
 * BASE/backups/<target>, and for DIR = BASE/backups (the single-target
 * layout; a target may be named "backups", so both can apply, in this
 * order).  Returns how many paths went to ret. */
static int events_candidates(const char *dir, char ret[2][PATH_MAX]) {
        char real[PATH_MAX], parent[PATH_MAX], base[PATH_MAX];
        int n = 0;

        if (!realpath(dir, real))
                return 0;
        snprintf(parent, sizeof(parent), "%s", real);
        dirname(parent);
        snprintf(base, sizeof(base), "%s", parent);
        dirname(base);
        if (base_is(parent, "backups") && events_in(base, ret[n]))
                n++;
        if (base_is(real, "backups") && events_in(parent, ret[n]))
                n++;
        return n;
}

static const char *events_error(int r) {
        return r == -EINVAL ? "not a regular file" : strerror(-r);
}

/* Reads the alerts of h's target.  Sets *status to what the page says
 * about them (static text, or status_buf).  Returns 0, or an exit code
 * when --events names a file that cannot be read. */
static int read_alerts(const struct report_args *args, const struct report_history *h,
                       struct report_alerts *al, char path[PATH_MAX], const char **status, char *status_buf,
                       size_t status_size) {
        int64_t from = args->from_arg     ? args->from_us
                       : h->n_moments > 0 ? h->moments[0].us - ALERT_SLACK_US
                                          : INT64_MIN;
        int64_t to = args->to_arg ? args->to_us : INT64_MAX;
        char cand[2][PATH_MAX];
        int r = -ENOENT, n;

        *status = "absent";
        path[0] = '\0';
        if (args->events) {
                snprintf(path, PATH_MAX, "%s", args->events);
                r = report_alerts_read(al, path, false, h->target, from, to);
                if (r < 0) {
                        fprintf(stderr, "agent report: %s: %s\n", path, events_error(r));
                        return r == -ENOENT ? EX_NOINPUT : r == -EACCES ? EX_NOPERM : EX_IOERR;
                }
                *status = "read";
                return 0;
        }
        /* The file the agent writes is only read where it wrote it: a
         * symlink there is refused. */
        n = events_candidates(args->dir, cand);
        for (int i = 0; i < n && r == -ENOENT; i++) {
                memcpy(path, cand[i], PATH_MAX);
                r = report_alerts_read(al, path, true, h->target, from, to);
        }
        if (r == -ENOENT) {
                path[0] = '\0';
                return 0;
        }
        if (r < 0) {
                /* Alerts are extra: the report goes on without them. */
                fprintf(stderr, "agent report: %s: %s (no alerts in the report)\n", path, events_error(r));
                snprintf(status_buf, status_size, "unreadable: %s", events_error(r));
                *status = status_buf;
                return 0;
        }
        *status = "read";
        return 0;
}

/* Writes buf to path through a temp file in the same folder and a rename,
 * so that a reader never sees half a report and a symlink at path is
 * replaced, not followed.  0600: it shows address-space layouts, as the
 * backups do.  Returns 0 or -errno. */
static int write_file(const char *path, const char *buf, size_t len) {
        char dir[PATH_MAX], name[PATH_MAX], tmp[NAME_MAX + 1];
        int dfd, fd = -1, r;

        if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir) ||
            snprintf(name, sizeof(name), "%s", path) >= (int)sizeof(name))
                return -ENAMETOOLONG;
        dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        const char *base = basename(name);
        if (snprintf(tmp, sizeof(tmp), ".%s.%d.tmp", base, (int)getpid()) >= (int)sizeof(tmp)) {
                r = -ENAMETOOLONG;
                goto out;
        }
        (void)unlinkat(dfd, tmp, 0);
        fd = fs_open_at(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (fd < 0) {
                r = fd;
                goto out;
        }
        if ((r = fs_write_all(fd, buf, len)) < 0)
                goto out;
        if (fsync(fd) < 0 || close(fd) < 0) {
                r = -errno;
                fd = -1;
                goto out;
        }
        fd = -1;
        if (renameat(dfd, tmp, dfd, base) < 0) {
                r = -errno;
                goto out;
        }
        r = 0;
out:
        if (fd >= 0)
                close(fd);
        if (r < 0)
                (void)unlinkat(dfd, tmp, 0);
        close(dfd);
        return r;
}

static int write_output(const char *out, const struct strbuf *html) {
        int r;

        if (strcmp(out, "-") == 0) {
                if (fwrite(strbuf_str(html), 1, html->len, stdout) != html->len || fflush(stdout) != 0) {
                        fprintf(stderr, "agent report: cannot write to stdout: %s\n", strerror(errno));
                        return EX_IOERR;
                }
                return 0;
        }
        r = write_file(out, strbuf_str(html), html->len);
        if (r < 0) {
                fprintf(stderr, "agent report: cannot write %s: %s\n", out, strerror(-r));
                return r == -EACCES || r == -EPERM ? EX_NOPERM : EX_CANTCREAT;
        }
        return 0;
}

/* Returns 0 when path is a folder, or -errno (-ENOTDIR: something else). */
static int check_dir(const char *path) {
        struct stat sb;

        if (stat(path, &sb) < 0)
                return -errno;
        return S_ISDIR(sb.st_mode) ? 0 : -ENOTDIR;
}

/* The exit code and message for a walk that found nothing to draw. */
static int nothing_found(const struct report_args *a, int r) {
        char first[NAME_MAX + 1];

        if (r == -ENOENT && holds_targets(a->dir, first, sizeof(first))) {
                fprintf(stderr,
                        "agent report: %s holds the folders of several targets; name one, e.g. agent report "
                        "%s/%s\n",
                        a->dir, a->dir, first);
                return EX_NOINPUT;
        }
        if (r == -ENOENT) {
                fprintf(stderr, "agent report: nothing recorded in %s%s%s\n", a->dir,
                        a->to_arg ? " at or before " : "", a->to_arg ? a->to_arg : "");
                return EX_NOINPUT;
        }
        fprintf(stderr, "agent report: %s: %s\n", a->dir, strerror(-r));
        return r == -ENOTDIR ? EX_NOINPUT : r == -EACCES ? EX_NOPERM : r == -ENOMEM ? EX_OSERR : EX_IOERR;
}

int tool_report(int argc, char **argv) {
        struct report_args a;
        struct report_history h;
        struct report_alerts al;
        struct strbuf html;
        struct walk_ctx w;
        char events_path[PATH_MAX], status_buf[128];
        const char *status = "none";
        int r, code;

        r = parse_args(argc, argv, &a);
        if (r == ARGS_HELP) {
                printf("Usage: " USAGE "\n\n"
                       "Writes one self-contained HTML file (default report.html; -o - for stdout) that\n"
                       "draws DIR's recorded history: the address-space map over time, regions and bytes\n"
                       "by kind, every recorded moment and alert, and the maps text of any moment.  DIR\n"
                       "is as for `agent replay`; T as its --at takes it.  Alerts come from\n"
                       "logs/events.jsonl next to the backups, or --events FILE.\n");
                return EX_OK;
        }
        if (r != 0)
                return r;
        report_history_init(&h);
        report_alerts_init(&al);
        strbuf_init(&html);
        w = (struct walk_ctx){&h, a.dir};
        if ((r = check_dir(a.dir)) < 0) {
                fprintf(stderr, "agent report: %s: %s\n", a.dir, strerror(-r));
                code = r == -EACCES ? EX_NOPERM : EX_NOINPUT;
                goto out;
        }
        r = backup_walk(a.dir, a.from_arg ? a.from : NULL, a.to_arg ? a.to : NULL, on_step, &w);
        if (r < 0) {
                code = nothing_found(&a, r);
                goto out;
        }
        report_history_finish(&h, a.from_arg ? a.from_us : INT64_MIN);
        code = read_alerts(&a, &h, &al, events_path, &status, status_buf, sizeof(status_buf));
        if (code != 0)
                goto out;
        struct report_meta meta = {
            .dir = a.dir,
            .from = a.from_arg ? a.from : NULL,
            .to = a.to_arg ? a.to : NULL,
            .from_us = a.from_us,
            .to_us = a.to_us,
            .events_path = events_path[0] ? events_path : NULL,
            .events_status = status,
        };
        if ((r = report_page_html(&h, &al, &meta, &html)) < 0) {
                fprintf(stderr, "agent report: %s\n", strerror(-r));
                code = EX_OSERR;
                goto out;
        }
        if ((code = write_output(a.out, &html)) != 0)
                goto out;
        fprintf(stderr, "agent report: wrote %s: %zu moments, %zu regions, %zu alerts, %zu bytes\n",
                strcmp(a.out, "-") ? a.out : "the report to stdout", h.n_moments, h.n_iv, al.n, html.len);
        if (h.bad > 0) {
                fprintf(stderr,
                        "agent report: %zu file%s of %s could not be read; the report shows the last good "
                        "state at their moments and names them\n",
                        h.bad, h.bad == 1 ? "" : "s", a.dir);
                code = EX_DATAERR;
        }
out:
        strbuf_fini(&html);
        report_alerts_fini(&al);
        report_history_fini(&h);
        return code;
}
