/*
 * command: the control-plane command language, shared by the FIFO and the
 * interactive prompt.
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

#ifdef __cplusplus
}
#endif
#endif
