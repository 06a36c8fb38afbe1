#include "agent/ctlclient.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "agent/ctlserver.h"
#include "config/config.h"

int ctl_client_base(const char *prog, const char *base_arg, const char *config, const char *default_config,
                    char *ret, size_t size) {
        if (base_arg) {
                int n = snprintf(ret, size, "%s", base_arg);
                if (n < 0 || (size_t)n >= size) {
                        fprintf(stderr, "%s: base directory path too long\n", prog);
                        return EX_USAGE;
                }
                return 0;
        }
        const char *file = config ? config : default_config;
        struct config *c = NULL;
        struct config_errors errs;
        config_errors_init(&errs);
        int r = config_load(file, &c, &errs);
        if (r < 0) {
                if (errs.n)
                        fprintf(stderr, "%s: %s\n", prog, errs.v[0].text);
                else
                        fprintf(stderr, "%s: %s: %s\n", prog, file, strerror(-r));
                config_errors_fini(&errs);
                return r == -ENOENT ? EX_NOINPUT : EX_CONFIG;
        }
        config_errors_fini(&errs);
        int n = snprintf(ret, size, "%s", c->base_dir);
        config_free(c);
        if (n < 0 || (size_t)n >= size) {
                fprintf(stderr, "%s: base directory path too long\n", prog);
                return EX_USAGE;
        }
        return 0;
}

int ctl_client_connect(const char *base, int nonblock, pid_t *ret_pid, const char **where) {
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
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
        int r = fd < 0 ? -errno : 0;
        if (r == 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                r = -errno;
        *where = "connect";
        struct ucred cred = {0};
        if (r == 0) {
                /* Only a socket of root, of ours or of the folder's owner
                 * (the agent's user) is the agent's. */
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
        *ret_pid = cred.pid;
        return fd;
}

static long long now_ms(void) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

/* Waits until fd is ready for events or the deadline (ms, CLOCK_MONOTONIC)
 * passes.  Returns 0 or -errno (-ETIMEDOUT). */
static int wait_fd(int fd, short events, long long deadline) {
        for (;;) {
                long long left = deadline - now_ms();
                if (left <= 0)
                        return -ETIMEDOUT;
                struct pollfd p = {.fd = fd, .events = events};
                int r = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                if (r > 0)
                        return 0;
        }
}

int ctl_client_send(int fd, const char *req, size_t len, int timeout_ms) {
        long long deadline = now_ms() + timeout_ms;
        size_t off = 0;
        while (off < len) {
                ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN) {
                        int r = wait_fd(fd, POLLOUT, deadline);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (n < 0)
                        return -errno;
                off += (size_t)n;
        }
        (void)shutdown(fd, SHUT_WR);
        return 0;
}

int ctl_client_read(int fd, struct strbuf *reply) {
        for (;;) {
                char buf[65536];
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        return 0;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return 1;
                if (reply->len + (size_t)n > CTL_REPLY_MAX)
                        return -EFBIG;
                if (strbuf_append(reply, buf, (size_t)n) < 0)
                        return -ENOMEM;
                /* A blocking socket: one read per call, the caller polls. */
                if (!(fcntl(fd, F_GETFL) & O_NONBLOCK))
                        return 0;
        }
}

int ctl_client_exchange(int fd, const char *req, size_t len, struct strbuf *reply, int timeout_ms) {
        long long deadline = now_ms() + timeout_ms;
        int r = ctl_client_send(fd, req, len, timeout_ms);
        while (r == 0) {
                if ((r = wait_fd(fd, POLLIN, deadline)) < 0)
                        break;
                r = ctl_client_read(fd, reply);
        }
        return r < 0 ? r : 0;
}

enum ctl_reply_status ctl_client_split(const struct strbuf *reply, const char **ret_body, size_t *ret_len) {
        const char *text = reply->s ? reply->s : "";
        const char *nl = memchr(text, '\n', reply->len);
        if (!nl)
                return CTL_REPLY_NONE;
        size_t status_len = (size_t)(nl - text);
        const char *body = nl + 1;
        size_t body_len = reply->len - status_len - 1;
        enum ctl_reply_status st;
        static const char denied[] = "Permission denied";
        if (status_len == 2 && memcmp(text, "ok", 2) == 0)
                st = CTL_REPLY_OK;
        else if (status_len == 6 && memcmp(text, "failed", 6) == 0)
                st = CTL_REPLY_FAILED;
        else if (status_len == 7 && memcmp(text, "refused", 7) == 0)
                st = body_len >= sizeof(denied) - 1 && memcmp(body, denied, sizeof(denied) - 1) == 0
                         ? CTL_REPLY_DENIED
                         : CTL_REPLY_REFUSED;
        else
                return CTL_REPLY_GARBLED;
        *ret_body = body;
        *ret_len = body_len;
        return st;
}
