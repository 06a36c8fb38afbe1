/*
 * ctlclient: the client's end of the control socket logs/control.sock
 * (framed as agent/ctlserver.h says), shared by `agent ctl` (one request,
 * blocking) and `agent top` (a request every few seconds, polled along
 * with the keyboard): which base directory, connecting with the peer
 * checked, sending a request, reading and splitting its reply.
 */
#ifndef MEMMON_AGENT_CTLCLIENT_H
#define MEMMON_AGENT_CTLCLIENT_H

#include <stddef.h>
#include <sys/types.h>

#include "core/strbuf.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where the agent's control socket lives under its base directory. */
#define CTL_SOCKET "logs/control.sock"
/* The longest reply read (the metrics of thousands of targets). */
#define CTL_REPLY_MAX (256u * 1024 * 1024)

/* The base directory into ret: base_arg when given, else the base_dir of
 * the configuration config (default_config when NULL).  Errors are printed
 * as "PROG: ...".  Returns 0 or a sysexits code. */
int ctl_client_base(const char *prog, const char *base_arg, const char *config, const char *default_config,
                    char *ret, size_t size);

/* Connects to BASE/logs/control.sock, through the logs folder's fd so that
 * a long path fits in sun_path, and checks that the listener is root, us,
 * or the folder's owner (the agent's user).  With nonblock the socket is
 * non-blocking from the start (a full backlog is then -EAGAIN, never a
 * wait).  Returns the socket (O_CLOEXEC) with *ret_pid the listener's
 * pid, or -errno with *where naming what failed: -EPERM when the listener
 * is not the agent's. */
int ctl_client_connect(const char *base, int nonblock, pid_t *ret_pid, const char **where);

/* Sends req[0..len) whole (waiting on a non-blocking socket as needed, at
 * most timeout_ms) and ends our side of the connection, so that the agent
 * sees the request is complete.  Returns 0 or -errno. */
int ctl_client_send(int fd, const char *req, size_t len, int timeout_ms);

/* Appends what the agent has sent so far to reply, without waiting when fd
 * is non-blocking.  Returns 1 when the reply is complete (the agent closed
 * the connection), 0 when more is to come, -EFBIG past CTL_REPLY_MAX, or
 * -errno. */
int ctl_client_read(int fd, struct strbuf *reply);

/* Sends req and reads the whole reply, waiting at most timeout_ms in all.
 * Returns 0 or -errno (-ETIMEDOUT: no whole reply in time). */
int ctl_client_exchange(int fd, const char *req, size_t len, struct strbuf *reply, int timeout_ms);

enum ctl_reply_status {
        CTL_REPLY_OK,
        CTL_REPLY_FAILED,  /* the command ran and failed */
        CTL_REPLY_REFUSED, /* it was not run */
        CTL_REPLY_DENIED,  /* refused: we may not control this agent (another user) */
        CTL_REPLY_NONE,    /* no status line: the agent closed before it answered */
        CTL_REPLY_GARBLED, /* not a reply */
};

/* Splits a whole reply into its status and its body (borrowed from
 * reply). */
enum ctl_reply_status ctl_client_split(const struct strbuf *reply, const char **ret_body, size_t *ret_len);

#ifdef __cplusplus
}
#endif
#endif
