/*
 * command: the control-plane command language, shared by the FIFO, the
 * interactive prompt and the control socket (`agent ctl`).
 *
 *   [@NAME] VERB [ARG]
 *
 * With @NAME the command addresses one target; without it, every target.
 * Replies for one target use the single-target strings ("Current PID: 1234",
 * "Interval changed to: 1000000 us", "Manual backup created", "Exiting...").
 */
#ifndef MEMMON_CORE_COMMAND_H
#define MEMMON_CORE_COMMAND_H

#include <stddef.h>

#include "core/strbuf.h"
#include "core/supervisor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Lines longer than this are rejected, wherever they come from. */
#define COMMAND_MAX_LINE 4096

/* What the agent lends the interpreter. */
struct command_host {
        struct supervisor *sup;
        /* `reload`: re-reads the configuration (or, without one, the maps)
         * and appends a reply.  Returns 0 or -errno. */
        int (*reload)(void *user, struct strbuf *reply);
        void *user;
        /* How long to wait for a worker to carry out a request. */
        int timeout_ms;
        /* `metrics`: appends the Prometheus text (core/metrics.h), without
         * its last newline.  Returns 0 or -errno.  NULL: not offered. */
        int (*metrics)(void *user, struct strbuf *reply);
        /* Waits for worker w to carry out the request of that ticket, as
         * worker_wait() does; the agent's version can be abandoned when it
         * stops (-ECANCELED) and tells its watchdog that it waits.  NULL:
         * worker_wait(). */
        int (*wait)(void *user, struct worker *w, int64_t ticket, int timeout_ms);
        /* The agent's capture for `status` ("ebpf", "poll (WHY)"), shown
         * for targets that poll for no reason of their own.  NULL: not
         * shown. */
        const char *capture;
};

enum command_result {
        COMMAND_OK = 0,
        COMMAND_QUIT = 1, /* the agent should stop */
};

/* Executes one line (without its '\n').  The reply (one or more lines, no
 * trailing '\n') is appended to reply.  Returns COMMAND_OK, COMMAND_QUIT,
 * -EINVAL for a bad command (the reply says what is wrong), or another
 * -errno (the reply says what failed). An empty line does nothing. */
int command_execute(struct command_host *h, const char *line, size_t len, struct strbuf *reply);

/* The same, for a program rather than a person: the verbs with a JSON form
 * (status, targets; see command.c's table) answer one JSON document
 * (schema in README.md, "agent ctl"), and every failure, of any verb, is
 * {"v":1,"error":"the text reply"}.  A verb without a JSON form fails with
 * -EINVAL.  The document has no trailing newline.  Returns as
 * command_execute(). */
int command_execute_json(struct command_host *h, const char *line, size_t len, struct strbuf *reply);

/* True when the line is `quit` or `stop` (as command_execute() would parse
 * it): the agent acts on it without waiting for the commands before it. */
int command_is_quit(const char *line, size_t len);

/* The i-th verb of the command table, or NULL past the last: the words the
 * prompt completes. */
const char *command_verb(size_t i);

#ifdef __cplusplus
}
#endif
#endif
