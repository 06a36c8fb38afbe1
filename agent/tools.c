#include "agent/tools.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "core/backup_read.h"
#include "core/capture.h"
#include "core/maps.h"
#include "core/strbuf.h"

static void to_stderr(void *user, const char *line) {
        fprintf(stderr, "%s: %s\n", (const char *)user, line);
}

static void to_stdout(void *user, const char *line) {
        (void)user;
        printf("%s\n", line);
}

#define REPLAY_USAGE                                                                                         \
        "Usage: agent replay DIR [--at TIMESTAMP]\n       agent replay DIR --events [--from TIMESTAMP] "     \
        "[--to TIMESTAMP]\n"

/* Takes "--NAME VALUE" or "--NAME=VALUE" at argv[*i]; true when it was
 * that option. */
static bool take_option(int argc, char **argv, int *i, const char *name, const char **ret) {
        size_t n = strlen(name);

        if (strcmp(argv[*i], name) == 0 && *i + 1 < argc) {
                *ret = argv[++*i];
                return true;
        }
        if (strncmp(argv[*i], name, n) == 0 && argv[*i][n] == '=') {
                *ret = argv[*i] + n + 1;
                return true;
        }
        return false;
}

/* Normalises a timestamp argument into ret.  Returns 0 or EX_USAGE (said). */
static int timestamp_arg(const char *opt, const char *arg, char ret[TS_SIZE]) {
        if (ts_parse(arg, ret) == 0)
                return 0;
        fprintf(stderr,
                "agent replay: invalid %s timestamp '%s' (expected 20261125T183328.123456Z or "
                "2026-11-25T18:33:28Z)\n",
                opt, arg);
        return EX_USAGE;
}

/* ts_parse() reads a moment given to the second (or to part of a
 * microsecond's digits) as the end of that interval, which is what --at and
 * --to mean; --from means its start: the digits the user left out are
 * zeros.  ts holds ts_parse(arg)'s result. */
static void interval_start(const char *arg, char ts[TS_SIZE]) {
        const char *dot = strchr(arg, '.');
        size_t given = dot ? strspn(dot + 1, "0123456789") : 0;

        /* The fraction is the 6 digits after the '.' at index 15. */
        for (size_t i = given; i < 6; i++)
                ts[16 + i] = '0';
}

struct events_out {
        struct strbuf line;
        int failed; /* stdout could not be written */
};

static void print_event(void *user, const struct backup_event_item *item) {
        struct events_out *o = user;

        strbuf_reset(&o->line);
        if (item->ev) {
                if (capture_event_describe(item->ev, &o->line) < 0) {
                        o->failed = ENOMEM;
                        return;
                }
        } else if (strbuf_printf(&o->line, "%s: %" PRIu64 " events lost in the interval before it",
                                 item->file, item->lost) < 0) {
                o->failed = ENOMEM;
                return;
        }
        if (printf("%s\n", strbuf_str(&o->line)) < 0)
                o->failed = errno;
}

/* `agent replay DIR --events`: the event records of a time range. */
static int replay_events(const char *dir, const char *from, const char *to) {
        struct events_out o = {.failed = 0};
        int r, code = 0;

        strbuf_init(&o.line);
        r = backup_events(dir, from, to, print_event, to_stderr, &o);
        if (fflush(stdout) != 0 && !o.failed)
                o.failed = errno;
        if (r == -ENOENT) {
                fprintf(stderr, "agent replay: nothing recorded in %s\n", dir);
                code = EX_NOINPUT;
        } else if (r < 0) {
                fprintf(stderr, "agent replay: %s: %s\n", dir, strerror(-r));
                code = EX_IOERR;
        } else if (o.failed) {
                fprintf(stderr, "agent replay: cannot write the events: %s\n", strerror(o.failed));
                code = EX_IOERR;
        } else if (r == 1) {
                code = EX_DATAERR;
        }
        strbuf_fini(&o.line);
        return code;
}

static void print_target(void *user, const char *name, const struct backup_span *sp) {
        const char *dir = user;
        if (sp->chains)
                fprintf(stderr, "  agent replay %s/%s   (recorded %s to %s, %zu chain%s)\n", dir, name,
                        sp->first, sp->last, sp->chains, sp->chains == 1 ? "" : "s");
        else
                fprintf(stderr, "  agent replay %s/%s   (nothing to replay)\n", dir, name);
}

/* Why backup_replay() found nothing, said as well as DIR allows.  Returns
 * the exit code. */
static int nothing_recorded(const char *dir, const char *at_arg) {
        /* The root of the multi-target layout: name its targets. */
        int n = backup_list_targets(dir, NULL, NULL);
        if (n > 0) {
                fprintf(stderr, "agent replay: %s holds the backups of %d target%s; replay one of them:\n",
                        dir, n, n == 1 ? "" : "s");
                (void)backup_list_targets(dir, print_target, (void *)dir);
                return EX_USAGE;
        }
        struct backup_span sp;
        if (at_arg && backup_span(dir, &sp) == 0 && sp.chains)
                fprintf(stderr,
                        "agent replay: nothing recorded in %s at or before %s: the oldest recorded moment is "
                        "%s (older history was never recorded, or was deleted by retention)\n",
                        dir, at_arg, sp.first);
        else
                fprintf(stderr, "agent replay: nothing recorded in %s%s%s\n", dir,
                        at_arg ? " at or before " : "", at_arg ? at_arg : "");
        return EX_NOINPUT;
}

int tool_replay(int argc, char **argv) {
        const char *dir = NULL, *at_arg = NULL, *from_arg = NULL, *to_arg = NULL;
        bool events = false;
        for (int i = 1; i < argc; i++) {
                if (take_option(argc, argv, &i, "--at", &at_arg) ||
                    take_option(argc, argv, &i, "--from", &from_arg) ||
                    take_option(argc, argv, &i, "--to", &to_arg))
                        continue;
                if (strcmp(argv[i], "--events") == 0)
                        events = true;
                else if (argv[i][0] != '-' && !dir)
                        dir = argv[i];
                else {
                        fprintf(stderr, "agent replay: unexpected argument '%s'\n" REPLAY_USAGE, argv[i]);
                        return EX_USAGE;
                }
        }
        if (!dir || (events && at_arg) || (!events && (from_arg || to_arg))) {
                fprintf(stderr, REPLAY_USAGE);
                return EX_USAGE;
        }
        char at[TS_SIZE], from[TS_SIZE], to[TS_SIZE];
        if ((at_arg && timestamp_arg("--at", at_arg, at)) ||
            (from_arg && timestamp_arg("--from", from_arg, from)) ||
            (to_arg && timestamp_arg("--to", to_arg, to)))
                return EX_USAGE;
        if (from_arg)
                interval_start(from_arg, from);
        if (events)
                return replay_events(dir, from_arg ? from : NULL, to_arg ? to : NULL);
        struct maps_snapshot s;
        maps_snapshot_init(&s);
        int r = backup_replay(dir, at_arg ? at : NULL, &s, to_stderr, "agent replay");
        int code = 0;
        if (r == -ENOENT) {
                code = nothing_recorded(dir, at_arg);
        } else if (r < 0) {
                fprintf(stderr, "agent replay: %s: %s\n", dir, strerror(-r));
                code = EX_IOERR;
        } else {
                if (fwrite(s.text, 1, s.len, stdout) != s.len || fflush(stdout) != 0) {
                        fprintf(stderr, "agent replay: cannot write the result: %s\n", strerror(errno));
                        code = EX_IOERR;
                } else if (r == 1) {
                        code = EX_DATAERR;
                }
        }
        maps_snapshot_fini(&s);
        return code;
}

int tool_verify(int argc, char **argv) {
        if (argc != 2 || argv[1][0] == '-') {
                fprintf(stderr, "Usage: agent verify DIR\n");
                return EX_USAGE;
        }
        int r = backup_verify(argv[1], to_stdout, NULL);
        fflush(stdout);
        if (r < 0) {
                fprintf(stderr, "agent verify: %s: %s\n", argv[1], strerror(-r));
                return r == -ENOENT ? EX_NOINPUT : EX_IOERR;
        }
        if (r > 0) {
                fprintf(stderr, "agent verify: %d broken chain%s in %s\n", r, r == 1 ? "" : "s", argv[1]);
                return EX_DATAERR;
        }
        return 0;
}
