#include "agent/ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sysexits.h>
#include <unistd.h>

#include "config/config.h"

static int usage(FILE *f, int code) {
        fprintf(f, "Usage: agent ctl [-b BASE | -c FILE] [--json] COMMAND [ARGS...]\n"
                   "Sends COMMAND (any FIFO command, @NAME too) to the agent running on BASE\n"
                   "(default: the base_dir of the configuration FILE) and prints its reply.\n"
                   "Exit status: 0 ok, 1 the command failed, 69 no agent running.\n");
        return code;
}

/* The base directory named by FILE's base_dir.  Returns 0 or a sysexits
 * code (the error printed). */
static int base_from_config(const char *file, char *ret, size_t size) {
        struct config *c = NULL;
        struct config_errors errs;
        config_errors_init(&errs);
        int r = config_load(file, &c, &errs);
        if (r < 0) {
                if (errs.n)
                        fprintf(stderr, "agent ctl: %s\n", errs.v[0].text);
                else
                        fprintf(stderr, "agent ctl: %s: %s\n", file, strerror(-r));
                config_errors_fini(&errs);
                return r == -ENOENT ? EX_NOINPUT : EX_CONFIG;
        }
        config_errors_fini(&errs);
        int n = snprintf(ret, size, "%s", c->base_dir);
        config_free(c);
        if (n < 0 || (size_t)n >= size) {
                fprintf(stderr, "agent ctl: base directory path too long\n");
                return EX_USAGE;
        }
        return 0;
}

int tool_ctl(int argc, char **argv, const char *default_config) {
        const char *base_arg = NULL, *config = NULL;
        int json = 0, i;
        for (i = 1; i < argc && argv[i][0] == '-'; i++) {
                if (strcmp(argv[i], "--") == 0) {
                        i++;
                        break;
                }
                if ((strcmp(argv[i], "-b") == 0 || strcmp(argv[i], "--base") == 0) && i + 1 < argc)
                        base_arg = argv[++i];
                else if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc)
                        config = argv[++i];
                else if (strcmp(argv[i], "--json") == 0)
                        json = 1;
                else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
                        return usage(stdout, 0);
                else {
                        fprintf(stderr, "agent ctl: unexpected option '%s'\n", argv[i]);
                        return usage(stderr, EX_USAGE);
                }
        }
        if (i == argc) {
                fprintf(stderr, "agent ctl: no command given\n");
                return usage(stderr, EX_USAGE);
        }
        if (base_arg && config) {
                fprintf(stderr, "agent ctl: -b and -c exclude each other\n");
                return usage(stderr, EX_USAGE);
        }
        (void)json;
        char base[PATH_MAX];
        if (base_arg) {
                if (snprintf(base, sizeof(base), "%s", base_arg) >= (int)sizeof(base)) {
                        fprintf(stderr, "agent ctl: base directory path too long\n");
                        return EX_USAGE;
                }
        } else {
                int r = base_from_config(config ? config : default_config, base, sizeof(base));
                if (r)
                        return r;
        }
        /* A base directory deeper than sun_path allows is reached through
         * an fd of its logs folder: /proc/self/fd/N/control.sock. */
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int dir_fd = -1;
        int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", base, CTL_SOCKET);
        if (n < 0 || (size_t)n >= sizeof(sa.sun_path)) {
                char logs[PATH_MAX];
                if (snprintf(logs, sizeof(logs), "%s/logs", base) >= (int)sizeof(logs) ||
                    (dir_fd = open(logs, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
                        fprintf(stderr, "agent ctl: no agent running on %s (%s/logs: %s)\n", base, base,
                                dir_fd < 0 ? strerror(errno) : "path too long");
                        return EX_UNAVAILABLE;
                }
                snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", dir_fd,
                         strrchr(CTL_SOCKET, '/') + 1);
        }
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                fprintf(stderr, "agent ctl: socket: %s\n", strerror(errno));
                return EX_OSERR;
        }
        int r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
        int e = errno;
        close(fd);
        if (dir_fd >= 0)
                close(dir_fd);
        if (r < 0) {
                fprintf(stderr, "agent ctl: no agent running on %s (%s/%s: %s)\n", base, base, CTL_SOCKET,
                        strerror(e));
                return EX_UNAVAILABLE;
        }
        fprintf(stderr, "agent ctl: this build cannot talk to the agent on %s yet\n", base);
        return EX_UNAVAILABLE;
}
