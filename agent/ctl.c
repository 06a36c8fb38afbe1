#include "agent/ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "agent/ctlserver.h"
#include "config/config.h"
#include "core/fs.h"
#include "core/strbuf.h"

static int usage(FILE *f, int code) {
        fprintf(f, "Usage: agent ctl [-b BASE | -c FILE] [--json] COMMAND [ARGS...]\n"
                   "Sends COMMAND (any FIFO command, @NAME too) to the agent running on BASE\n"
                   "(default: the base_dir of the configuration FILE) and prints its reply.\n"
                   "Exit status: 0 ok, 1 the command failed, 69 no agent running, 77 refused.\n");
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

/* Connects to BASE/logs/control.sock, through the logs folder's fd when
 * the path is too long for sun_path.  Returns the socket, or -errno with
 * *where naming what failed. */
static int connect_agent(const char *base, const char **where) {
        char logs[PATH_MAX];
        if (snprintf(logs, sizeof(logs), "%s/logs", base) >= (int)sizeof(logs)) {
                *where = "path too long";
                return -ENAMETOOLONG;
        }
        /* The client runs as its user, on a path that user chose: a plain
         * open is right here; the peer check below decides whom to trust. */
        int dir_fd = open(logs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0) {
                *where = "logs folder";
                return -errno;
        }
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", dir_fd, CTL_SOCKET_NAME);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int r = fd < 0 ? -errno : 0;
        if (r == 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                r = -errno;
        *where = "connect";
        if (r == 0) {
                /* Only a socket of root, of ours or of the folder's owner
                 * (the agent's user) is the agent's. */
                struct ucred cred;
                socklen_t len = sizeof(cred);
                struct stat st;
                if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || fstat(dir_fd, &st) < 0) {
                        r = -errno;
                } else if (cred.uid != 0 && cred.uid != geteuid() && cred.uid != st.st_uid) {
                        *where = "listener belongs to another user";
                        r = -EPERM;
                }
        }
        close(dir_fd);
        if (r < 0) {
                if (fd >= 0)
                        close(fd);
                return r;
        }
        return fd;
}

/* Sends the request and reads the whole reply (until the agent closes).
 * Returns 0 or -errno (-ETIMEDOUT: no reply in time). */
static int exchange(int fd, const struct strbuf *req, struct strbuf *reply) {
        size_t off = 0;
        while (off < req->len) {
                ssize_t n = send(fd, req->s + off, req->len - off, MSG_NOSIGNAL);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                off += (size_t)n;
        }
        (void)shutdown(fd, SHUT_WR);
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (;;) {
                struct timespec now;
                clock_gettime(CLOCK_MONOTONIC, &now);
                long long waited = (now.tv_sec - t0.tv_sec) * 1000LL + (now.tv_nsec - t0.tv_nsec) / 1000000;
                if (waited >= CTL_REPLY_TIMEOUT_MS)
                        return -ETIMEDOUT;
                struct pollfd p = {.fd = fd, .events = POLLIN};
                int r = poll(&p, 1, (int)(CTL_REPLY_TIMEOUT_MS - waited));
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                if (r == 0)
                        return -ETIMEDOUT;
                char buf[65536];
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return 0;
                if (reply->len + (size_t)n > CTL_REPLY_MAX)
                        return -EFBIG;
                if (strbuf_append(reply, buf, (size_t)n) < 0)
                        return -ENOMEM;
        }
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
        struct strbuf req, reply;
        strbuf_init(&req);
        strbuf_init(&reply);
        int code = build_request(json, argv + i, argc - i, &req);
        if (code)
                goto out;
        char base[PATH_MAX];
        if (base_arg) {
                if (snprintf(base, sizeof(base), "%s", base_arg) >= (int)sizeof(base)) {
                        fprintf(stderr, "agent ctl: base directory path too long\n");
                        code = EX_USAGE;
                        goto out;
                }
        } else if ((code = base_from_config(config ? config : default_config, base, sizeof(base))) != 0) {
                goto out;
        }
        const char *where = "";
        int fd = connect_agent(base, &where);
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
        int r = exchange(fd, &req, &reply);
        close(fd);
        const char *text = reply.s ? reply.s : "";
        const char *nl = memchr(text, '\n', reply.len);
        if (r < 0 || !nl) {
                fprintf(stderr, "agent ctl: no reply from the agent on %s (%s)\n", base,
                        r == -ETIMEDOUT ? "timed out"
                        : r < 0         ? strerror(-r)
                                        : "it closed the connection");
                code = EX_UNAVAILABLE;
                goto out;
        }
        size_t status_len = (size_t)(nl - text);
        const char *body = nl + 1;
        size_t body_len = reply.len - status_len - 1;
        if (status_len == 2 && memcmp(text, "ok", 2) == 0) {
                code = 0;
        } else if (status_len == 6 && memcmp(text, "failed", 6) == 0) {
                code = 1;
        } else if (status_len == 7 && memcmp(text, "refused", 7) == 0) {
                fprintf(stderr, "agent ctl: %.*s", (int)body_len, body);
                code = strstr(body, "Permission denied") == body ? EX_NOPERM : 1;
                goto out;
        } else {
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
