#include "agent/ctlserver.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/notify.h"
#include "core/strbuf.h"

enum client_state {
        CLIENT_READING,  /* waiting for its request */
        CLIENT_RUNNING,  /* its command runs on the executor */
        CLIENT_WRITING,  /* its reply goes out */
        CLIENT_DRAINING, /* reply sent: what it still sends is read and dropped until it closes */
};

/* How long a client that has its reply may take to close its end: closing
 * with bytes of it unread would send a reset, which can destroy the reply
 * before the client reads it. */
#define CTL_DRAIN_US (1000ULL * 1000)

struct client {
        int fd;
        uint64_t id;
        uid_t uid;
        pid_t pid;
        enum client_state state;
        uint64_t deadline_us; /* reading: the whole request by then; writing: progress by then */
        char in[CTL_REQUEST_MAX];
        size_t in_len;
        struct strbuf out;
        size_t out_pos;
};

struct ctl_server {
        int fd;
        int logs_fd; /* borrowed */
        dev_t dev;   /* the socket file we bound */
        ino_t ino;
        uid_t owner;
        struct agent_log *log;
        struct ctl_server_ops ops;
        struct client *clients[CTL_CLIENTS_MAX];
        size_t n;
        uint64_t next_id;
        /* Refused peers, logged at most CTL_REFUSED_LOG_MAX a minute. */
        uint64_t refused_window_us;
        unsigned refused_logged;
        unsigned long refused_quiet;
};

/* why = BEFORE PATH AFTER: the error.  Returns err. */
static int fail_why(char *why, size_t size, int err, const char *before, const char *path,
                    const char *after) {
        snprintf(why, size, "%s%s%s: %s", before, path, after, strerror(-err));
        return err;
}

/* Makes room for our socket: removes a stale socket of ours, refuses
 * anything else.  Returns 0 or -errno with why[] set. */
static int clear_stale(int logs_fd, const char *path, uid_t owner, char *why, size_t size) {
        struct stat st;
        if (fstatat(logs_fd, CTL_SOCKET_NAME, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : fail_why(why, size, -errno, "", path, "");
        if (!S_ISSOCK(st.st_mode) || st.st_uid != owner) {
                snprintf(why, size,
                         "%s exists and is not a socket of ours (%s owned by uid %u): not touched; remove it "
                         "if it is garbage",
                         path,
                         S_ISLNK(st.st_mode)    ? "a symlink"
                         : S_ISREG(st.st_mode)  ? "a file"
                         : S_ISSOCK(st.st_mode) ? "a socket"
                         : S_ISDIR(st.st_mode)  ? "a folder"
                                                : "something",
                         (unsigned)st.st_uid);
                return -EEXIST;
        }
        /* We hold the pid file's lock: no other agent listens there, so a
         * socket of ours is what a crashed agent left. */
        if (unlinkat(logs_fd, CTL_SOCKET_NAME, 0) < 0 && errno != ENOENT)
                return fail_why(why, size, -errno, "cannot remove the stale ", path, "");
        return 0;
}

int ctl_server_open(int logs_fd, const char *logs_path, struct agent_log *log, struct ctl_server **ret,
                    char *why, size_t why_size) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", logs_path, CTL_SOCKET_NAME);
        uid_t owner = geteuid();
        int r = clear_stale(logs_fd, path, owner, why, why_size);
        if (r < 0) {
                close(logs_fd);
                return r;
        }
        struct ctl_server *s = calloc(1, sizeof(*s));
        if (!s) {
                close(logs_fd);
                return fail_why(why, why_size, -ENOMEM, "", path, "");
        }
        s->logs_fd = logs_fd;
        s->owner = owner;
        s->log = log;
        s->fd = -1;
        s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (s->fd < 0) {
                r = fail_why(why, why_size, -errno, "", path, ": socket");
                goto fail;
        }
        /* Through the folder we hold, whatever its path has become. */
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", logs_fd, CTL_SOCKET_NAME);
        mode_t old = umask(0177);
        r = bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
        umask(old);
        if (r < 0) {
                fail_why(why, why_size, r, "cannot create ", path, "");
                goto fail;
        }
        struct stat st;
        if (fstatat(logs_fd, CTL_SOCKET_NAME, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                r = fail_why(why, why_size, -errno, "", path, "");
                goto fail;
        }
        s->dev = st.st_dev;
        s->ino = st.st_ino;
        if (!S_ISSOCK(st.st_mode) || st.st_uid != owner || (st.st_mode & 07777) != 0600) {
                snprintf(why, why_size, "%s: not the 0600 socket just made (mode %04o, uid %u)", path,
                         (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid);
                r = -EPERM;
                goto fail;
        }
        if (listen(s->fd, 128) < 0) {
                r = fail_why(why, why_size, -errno, "", path, ": listen");
                goto fail;
        }
        *ret = s;
        return 0;
fail:
        ctl_server_close(s);
        return r;
}

static void client_free(struct client *c) {
        if (c->fd >= 0)
                close(c->fd);
        strbuf_fini(&c->out);
        free(c);
}

/* Forgets client i (the last one takes its place). */
static void drop(struct ctl_server *s, size_t i) {
        client_free(s->clients[i]);
        s->clients[i] = s->clients[--s->n];
}

void ctl_server_set_ops(struct ctl_server *s, const struct ctl_server_ops *ops) {
        s->ops = *ops;
}

void ctl_server_close(struct ctl_server *s) {
        if (!s)
                return;
        while (s->n)
                drop(s, s->n - 1);
        if (s->fd >= 0) {
                close(s->fd);
                struct stat st;
                /* Only the socket we made: another one may have replaced
                 * it since (an agent started after we lost the lock). */
                if (s->ino && fstatat(s->logs_fd, CTL_SOCKET_NAME, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                    st.st_dev == s->dev && st.st_ino == s->ino)
                        (void)unlinkat(s->logs_fd, CTL_SOCKET_NAME, 0);
        }
        close(s->logs_fd);
        free(s);
}

size_t ctl_server_clients(const struct ctl_server *s) {
        return s ? s->n : 0;
}

/* Starts the reply: status line, body, newline; the client is then
 * written to until done. */
static void start_reply(struct client *c, const char *status, const char *body, size_t len, uint64_t now_us) {
        c->out.len = 0;
        strbuf_printf(&c->out, "%s\n", status);
        if (len) {
                strbuf_append(&c->out, body, len);
                strbuf_append(&c->out, "\n", 1);
        }
        c->out_pos = 0;
        c->state = CLIENT_WRITING;
        c->deadline_us = now_us + CTL_IDLE_US;
}

/* Logs a refused peer, at most CTL_REFUSED_LOG_MAX lines a minute, and
 * how many were not logged. */
static void log_refused(struct ctl_server *s, uid_t uid, pid_t pid, uint64_t now_us) {
        if (now_us - s->refused_window_us >= 60ULL * 1000 * 1000) {
                if (s->refused_quiet)
                        agent_log(s->log, NULL, LOG_WARN,
                                  "control socket: %lu more connections of other users refused",
                                  s->refused_quiet);
                s->refused_window_us = now_us;
                s->refused_logged = 0;
                s->refused_quiet = 0;
        }
        if (s->refused_logged >= CTL_REFUSED_LOG_MAX) {
                s->refused_quiet++;
                return;
        }
        s->refused_logged++;
        agent_log(s->log, NULL, LOG_WARN,
                  "control socket: refused a connection of uid %u (pid %d): only root and uid %u may control "
                  "this agent",
                  (unsigned)uid, (int)pid, (unsigned)s->owner);
}

static void accept_clients(struct ctl_server *s, uint64_t now_us) {
        while (s->n < CTL_CLIENTS_MAX) {
                int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0)
                        return; /* EAGAIN, or a connection that went away */
                struct ucred cred;
                socklen_t len = sizeof(cred);
                if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
                        close(fd);
                        continue;
                }
                int allowed = cred.uid == 0 || cred.uid == s->owner;
                if (!allowed)
                        log_refused(s, cred.uid, cred.pid, now_us);
                struct client *c = calloc(1, sizeof(*c));
                if (!c) {
                        close(fd);
                        return;
                }
                c->fd = fd;
                c->id = ++s->next_id;
                c->uid = cred.uid;
                c->pid = cred.pid;
                c->state = CLIENT_READING;
                c->deadline_us = now_us + CTL_IDLE_US;
                strbuf_init(&c->out);
                s->clients[s->n++] = c;
                if (!allowed) {
                        char msg[128];
                        int n = snprintf(
                            msg, sizeof(msg),
                            "Permission denied: uid %u may not control this agent (only root and uid "
                            "%u)",
                            (unsigned)cred.uid, (unsigned)s->owner);
                        start_reply(c, "refused", msg, n > 0 ? (size_t)n : 0, now_us);
                }
        }
}

/* Splits "FORMAT COMMAND" and hands the command over.  Returns 0, or -1
 * when the client got a "refused" reply. */
static int take_request(struct ctl_server *s, struct client *c, size_t line_len, uint64_t now_us) {
        const char *line = c->in;
        size_t len = line_len;
        if (len && line[len - 1] == '\r')
                len--;
        int json = -1;
        if (len >= 5 && memcmp(line, "json ", 5) == 0)
                json = 1;
        else if (len >= 5 && memcmp(line, "text ", 5) == 0)
                json = 0;
        if (json < 0) {
                static const char msg[] = "Request rejected: a request is 'text COMMAND' or 'json COMMAND'";
                start_reply(c, "refused", msg, sizeof(msg) - 1, now_us);
                return -1;
        }
        struct ctl_request rq = {
            .client = c->id, .json = json, .line = line + 5, .len = len - 5, .uid = c->uid, .pid = c->pid};
        int r = s->ops.request ? s->ops.request(s->ops.user, &rq) : -EAGAIN;
        if (r < 0) {
                char msg[128];
                int n = snprintf(msg, sizeof(msg), "Request rejected: %s", strerror(-r));
                start_reply(c, "refused", msg, n > 0 ? (size_t)n : 0, now_us);
                return -1;
        }
        c->state = CLIENT_RUNNING;
        return 0;
}

/* Reads what the client sent.  Returns 0 to keep it, -1 to drop it. */
static int read_request(struct ctl_server *s, struct client *c, uint64_t now_us) {
        for (;;) {
                ssize_t n = read(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len);
                if (n < 0)
                        return errno == EAGAIN || errno == EINTR ? 0 : -1;
                if (n == 0) {
                        if (c->in_len == 0)
                                return -1; /* connected and left */
                        static const char msg[] = "Request rejected: a request ends with a newline";
                        start_reply(c, "refused", msg, sizeof(msg) - 1, now_us);
                        return 0;
                }
                char *nl = memchr(c->in + c->in_len, '\n', (size_t)n);
                c->in_len += (size_t)n;
                if (nl) {
                        (void)take_request(s, c, (size_t)(nl - c->in), now_us);
                        return 0;
                }
                if (c->in_len == sizeof(c->in)) {
                        char msg[96];
                        int m = snprintf(msg, sizeof(msg), "Request rejected: longer than %d bytes",
                                         CTL_REQUEST_MAX);
                        start_reply(c, "refused", msg, m > 0 ? (size_t)m : 0, now_us);
                        return 0;
                }
        }
}

/* Writes what the reply has left; once all of it is out, our end is shut
 * and the client drains.  Returns 0 to keep the client, -1 when it is gone. */
static int write_reply(struct client *c, uint64_t now_us) {
        while (c->out_pos < c->out.len) {
                ssize_t n =
                    send(c->fd, c->out.s + c->out_pos, c->out.len - c->out_pos, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (n < 0)
                        return errno == EAGAIN || errno == EINTR ? 0 : -1;
                c->out_pos += (size_t)n;
                c->deadline_us = now_us + CTL_IDLE_US;
        }
        (void)shutdown(c->fd, SHUT_WR);
        c->state = CLIENT_DRAINING;
        c->deadline_us = now_us + CTL_DRAIN_US;
        return 0;
}

/* Reads and drops what a client still sends.  Returns -1 once it has
 * closed its end (or failed), 0 to wait for more. */
static int drain(struct client *c) {
        char buf[4096];
        for (;;) {
                ssize_t n = read(c->fd, buf, sizeof(buf));
                if (n > 0)
                        continue;
                return n < 0 && (errno == EAGAIN || errno == EINTR) ? 0 : -1;
        }
}

size_t ctl_server_pollfds(struct ctl_server *s, struct pollfd *p, size_t max) {
        size_t k = 0;
        if (k < max)
                p[k++] = (struct pollfd){.fd = s->n < CTL_CLIENTS_MAX ? s->fd : -1, .events = POLLIN};
        for (size_t i = 0; i < s->n && k < max; i++) {
                struct client *c = s->clients[i];
                short ev = c->state == CLIENT_WRITING                                  ? POLLOUT
                           : c->state == CLIENT_READING || c->state == CLIENT_DRAINING ? POLLIN
                                                                                       : 0;
                p[k++] = (struct pollfd){.fd = ev ? c->fd : -1, .events = ev};
        }
        return k;
}

void ctl_server_serve(struct ctl_server *s, const struct pollfd *p, size_t n, uint64_t now_us) {
        /* Clients first, as the poll set has them (accepting moves none
         * of them): p[1 + i] is clients[i]. */
        size_t known = s->n;
        int keep[CTL_CLIENTS_MAX];
        for (size_t i = 0; i < known; i++) {
                struct client *c = s->clients[i];
                keep[i] = 1;
                short rev = 1 + i < n ? p[1 + i].revents : 0;
                if (c->state == CLIENT_READING && rev)
                        keep[i] = read_request(s, c, now_us) == 0;
                if (keep[i] && c->state == CLIENT_WRITING && (rev || c->out_pos == 0))
                        keep[i] = write_reply(c, now_us) == 0;
                if (keep[i] && c->state == CLIENT_DRAINING && rev)
                        keep[i] = drain(c) == 0;
                if (keep[i] && c->state != CLIENT_RUNNING && now_us >= c->deadline_us)
                        keep[i] = 0;
        }
        for (size_t i = known; i-- > 0;)
                if (!keep[i])
                        drop(s, i);
        if (n > 0 && p[0].fd >= 0 && p[0].revents)
                accept_clients(s, now_us);
}

int ctl_server_timeout_ms(const struct ctl_server *s, uint64_t now_us) {
        uint64_t next = 0;
        for (size_t i = 0; i < s->n; i++) {
                const struct client *c = s->clients[i];
                if (c->state != CLIENT_RUNNING && (!next || c->deadline_us < next))
                        next = c->deadline_us;
        }
        if (!next)
                return -1;
        if (next <= now_us)
                return 0;
        uint64_t ms = (next - now_us + 999) / 1000;
        return ms > 60000 ? 60000 : (int)ms;
}

void ctl_server_reply(struct ctl_server *s, uint64_t client, int result, const char *reply, size_t len) {
        uint64_t now = notify_now_us();
        for (size_t i = 0; i < s->n; i++) {
                struct client *c = s->clients[i];
                if (c->id != client || c->state != CLIENT_RUNNING)
                        continue;
                start_reply(c, result < 0 ? "failed" : "ok", reply, len, now);
                if (write_reply(c, now) < 0 || (c->state == CLIENT_DRAINING && drain(c) < 0))
                        drop(s, i);
                return;
        }
}

void ctl_server_flush(struct ctl_server *s, int budget_ms) {
        if (!s)
                return;
        uint64_t end = notify_now_us() + (uint64_t)budget_ms * 1000;
        for (;;) {
                struct pollfd p[CTL_CLIENTS_MAX];
                size_t k = 0, idx[CTL_CLIENTS_MAX];
                for (size_t i = 0; i < s->n; i++) {
                        if (s->clients[i]->state != CLIENT_WRITING)
                                continue;
                        idx[k] = i;
                        p[k++] = (struct pollfd){.fd = s->clients[i]->fd, .events = POLLOUT};
                }
                uint64_t now = notify_now_us();
                if (k == 0 || now >= end)
                        return;
                if (poll(p, k, (int)((end - now + 999) / 1000)) <= 0)
                        return;
                for (size_t j = k; j-- > 0;)
                        if (p[j].revents && write_reply(s->clients[idx[j]], now) < 0)
                                drop(s, idx[j]);
        }
}
