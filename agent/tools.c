#include "agent/tools.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "core/backup_read.h"
#include "core/maps.h"

static void to_stderr(void *user, const char *line) {
        fprintf(stderr, "%s: %s\n", (const char *)user, line);
}

static void to_stdout(void *user, const char *line) {
        (void)user;
        printf("%s\n", line);
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
        const char *dir = NULL, *at_arg = NULL;
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--at") == 0 && i + 1 < argc)
                        at_arg = argv[++i];
                else if (strncmp(argv[i], "--at=", 5) == 0)
                        at_arg = argv[i] + 5;
                else if (argv[i][0] != '-' && !dir)
                        dir = argv[i];
                else {
                        fprintf(stderr,
                                "agent replay: unexpected argument '%s'\n"
                                "Usage: agent replay DIR [--at TIMESTAMP]\n",
                                argv[i]);
                        return EX_USAGE;
                }
        }
        if (!dir) {
                fprintf(stderr, "Usage: agent replay DIR [--at TIMESTAMP]\n");
                return EX_USAGE;
        }
        char at[TS_SIZE];
        if (at_arg && ts_parse(at_arg, at) < 0) {
                fprintf(stderr,
                        "agent replay: invalid timestamp '%s' (expected 20261125T183328.123456Z or "
                        "2026-11-25T18:33:28Z)\n",
                        at_arg);
                return EX_USAGE;
        }
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
