#include "agent/ctl.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "agent/ctlclient.h"
#include "agent/ctlserver.h"
#include "core/strbuf.h"

static int usage(FILE *f, int code) {
        fprintf(f, "Usage: agent ctl [-b BASE | -c FILE] [--json] COMMAND [ARGS...]\n"
                   "Sends COMMAND (any FIFO command, @NAME too) to the agent running on BASE\n"
                   "(default: the base_dir of the configuration FILE) and prints its reply.\n"
                   "Exit status: 0 ok, 1 the command failed, 69 no agent running, 77 refused.\n");
        return code;
}

/* Joins the words of the command with single blanks into req, after the
 * format word.  Returns 0 or a sysexits code (the error printed). */
static int build_request(int json, char **words, int n, struct strbuf *req) {
        strbuf_printf(req, "%s ", json ? "json" : "text");
        for (int i = 0; i < n; i++) {
                if (strpbrk(words[i], "\n\r")) {
                        fprintf(stderr, "agent ctl: a command is one line: no newline in '%s'\n", words[i]);
                        return EX_USAGE;
                }
                if (i)
                        strbuf_append(req, " ", 1);
                strbuf_append(req, words[i], strlen(words[i]));
        }
        if (strbuf_append(req, "\n", 1) < 0) {
                fprintf(stderr, "agent ctl: out of memory\n");
                return EX_OSERR;
        }
        if (req->len > CTL_REQUEST_MAX) {
                fprintf(stderr, "agent ctl: the command is longer than %d bytes\n", CTL_REQUEST_MAX - 6);
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
        if (strcmp(argv[i], "top") == 0) {
                fprintf(stderr, "agent ctl: 'top' is a view of its own: agent top (memmonctl top) "
                                "[-b BASE | -c FILE] [-d SECONDS]\n");
                return EX_USAGE;
        }
        struct strbuf req, reply;
        strbuf_init(&req);
        strbuf_init(&reply);
        int code = build_request(json, argv + i, argc - i, &req);
        if (code)
                goto out;
        char base[PATH_MAX];
        if ((code = ctl_client_base("agent ctl", base_arg, config, default_config, base, sizeof(base))) != 0)
                goto out;
        const char *where = "";
        pid_t agent_pid;
        int fd = ctl_client_connect(base, 0, &agent_pid, &where);
        if (fd == -EPERM) {
                fprintf(stderr, "agent ctl: %s/%s: the %s: not talking to it\n", base, CTL_SOCKET, where);
                code = EX_NOPERM;
                goto out;
        }
        if (fd < 0) {
                fprintf(stderr, "agent ctl: no agent running on %s (%s/%s: %s)\n", base, base, CTL_SOCKET,
                        strerror(-fd));
                code = EX_UNAVAILABLE;
                goto out;
        }
        int r = ctl_client_exchange(fd, req.s, req.len, &reply, CTL_REPLY_TIMEOUT_MS);
        close(fd);
        const char *body = NULL;
        size_t body_len = 0;
        enum ctl_reply_status st = r < 0 ? CTL_REPLY_NONE : ctl_client_split(&reply, &body, &body_len);
        if (st == CTL_REPLY_NONE) {
                fprintf(stderr, "agent ctl: no reply from the agent on %s (%s)\n", base,
                        r == -ETIMEDOUT ? "timed out"
                        : r < 0         ? strerror(-r)
                                        : "it closed the connection");
                code = EX_UNAVAILABLE;
                goto out;
        }
        switch (st) {
        case CTL_REPLY_OK:
                code = 0;
                break;
        case CTL_REPLY_FAILED:
                code = 1;
                break;
        case CTL_REPLY_REFUSED:
        case CTL_REPLY_DENIED:
                fprintf(stderr, "agent ctl: %.*s", (int)body_len, body);
                code = st == CTL_REPLY_DENIED ? EX_NOPERM : 1;
                goto out;
        case CTL_REPLY_NONE:
        case CTL_REPLY_GARBLED:
                fprintf(stderr, "agent ctl: the agent on %s answered something else than a reply\n", base);
                code = EX_PROTOCOL;
                goto out;
        }
        if (body_len && fwrite(body, 1, body_len, stdout) != body_len)
                code = EX_IOERR;
        if (fflush(stdout) != 0)
                code = EX_IOERR;
out:
        strbuf_fini(&req);
        strbuf_fini(&reply);
        return code;
}
