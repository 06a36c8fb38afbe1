/*
 * ctlserver: the agent's end of `agent ctl`, a Unix stream socket at
 * logs/control.sock (agent/ctl.c is the client's end).
 *
 * Framing, one request per connection:
 *   request  one line, at most CTL_REQUEST_MAX bytes with its '\n':
 *            "text COMMAND\n" or "json COMMAND\n", COMMAND being any line
 *            the FIFO takes ("@web status");
 *   reply    a status line, "ok\n", "failed\n" (the command ran and
 *            failed: a bad value, an unknown target) or "refused\n" (the
 *            request was not run: not allowed, too long, malformed), then
 *            the reply's lines (a JSON document with "json"), each ending
 *            in '\n'; then the agent closes the connection.
 *
 * The socket is 0600 and belongs to the agent's user; every peer is checked
 * with SO_PEERCRED when it connects: root and the agent's own uid only
 * (others get "refused" and one line saying why, and are logged, at most
 * CTL_REFUSED_LOG_MAX lines a minute).  Up to CTL_CLIENTS_MAX clients are
 * served at once, all non-blocking; a client that has not sent a whole
 * request CTL_IDLE_US after connecting, or does not read its reply for that
 * long, is dropped, and nobody else waits for it.
 *
 * Everything here runs on the control loop's thread.  The commands
 * themselves run on the executor: the server hands each request over
 * through ctl_server_ops.request and gets its reply back through
 * ctl_server_reply().
 */
#ifndef MEMMON_AGENT_CTLSERVER_H
#define MEMMON_AGENT_CTLSERVER_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/log.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CTL_SOCKET_NAME "control.sock"
#define CTL_REQUEST_MAX 4096
#define CTL_CLIENTS_MAX 256
#define CTL_IDLE_US (5ULL * 1000 * 1000)
#define CTL_REFUSED_LOG_MAX 10

struct ctl_server;

/* A complete request, for the loop to run. */
struct ctl_request {
        uint64_t client; /* for ctl_server_reply() */
        int json;
        const char *line; /* the command, without the format word and '\n' */
        size_t len;
        uid_t uid; /* the peer */
        pid_t pid;
};

struct ctl_server_ops {
        /* Takes a request over (the line is borrowed for the call).
         * Returns 0, or -errno when it cannot be run now (the client is
         * answered "refused" and closed). */
        int (*request)(void *user, const struct ctl_request *rq);
        void *user;
};

/* Creates logs/control.sock in the folder logs_fd refers to (taken over:
 * closed by ctl_server_close(), or at once on failure) and listens on it.  The socket
 * is bound through /proc/self/fd/N/control.sock, so no symlink on the way
 * can redirect it, with umask 0177 (call before other threads create
 * files), and checked to be a 0600 socket of ours afterwards.  A stale
 * socket left there is replaced only when it is a socket owned by the
 * agent's euid; anything else (a file, a symlink, another user's socket)
 * is left alone and refused with -EEXIST.  Returns 0 with *ret set, or
 * -errno with why[] naming the path and the problem. */
int ctl_server_open(int logs_fd, const char *logs_path, struct agent_log *log, struct ctl_server **ret,
                    char *why, size_t why_size);
/* Who takes the requests over (the control loop, once it runs; until then
 * none is read). */
void ctl_server_set_ops(struct ctl_server *s, const struct ctl_server_ops *ops);
/* Closes every connection and the socket, and removes the socket file if
 * it is still the one we bound.  s may be NULL. */
void ctl_server_close(struct ctl_server *s);

/* Fills p[0..) with what to poll (the listening socket while there is room
 * for a client, each client for reading or writing).  Returns how many,
 * at most max. */
size_t ctl_server_pollfds(struct ctl_server *s, struct pollfd *p, size_t max);
/* Handles what poll() found in p[0..n) (as ctl_server_pollfds() filled
 * them), and drops clients past their deadline. */
void ctl_server_serve(struct ctl_server *s, const struct pollfd *p, size_t n, uint64_t now_us);
/* The poll() timeout until the next client deadline (ms), or -1. */
int ctl_server_timeout_ms(const struct ctl_server *s, uint64_t now_us);
/* The reply to a request: result as command_execute() returned it (< 0:
 * "failed"), reply without a trailing newline.  A client that went away
 * meanwhile is forgotten. */
void ctl_server_reply(struct ctl_server *s, uint64_t client, int result, const char *reply, size_t len);
/* Writes pending replies for at most budget_ms (when the agent stops, so
 * that `agent ctl quit` hears "Exiting..."). */
void ctl_server_flush(struct ctl_server *s, int budget_ms);
/* Connections open now. */
size_t ctl_server_clients(const struct ctl_server *s);

#ifdef __cplusplus
}
#endif
#endif
