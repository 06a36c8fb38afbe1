/*
 * ctl: `agent ctl` (and the installed name `memmonctl`), the request and
 * response client of a running agent's control socket logs/control.sock.
 *
 *   agent ctl [-b BASE | -c FILE] [--json] COMMAND [ARGS...]
 *
 * The request and its reply are framed as agent/ctlserver.h says.  The
 * reply's text goes to standard output (an error document too with
 * --json); why a request was refused goes to standard error.
 *
 * Exit status: 0 the command succeeded, 1 it failed (the reply says why),
 * 64 usage, 69 no agent running on that base directory (no socket, nobody
 * listening, or the agent went away before it answered), 77 the agent
 * refused us (another user) or its socket is not the agent's, 78 a
 * configuration that cannot be read.
 */
#ifndef MEMMON_AGENT_CTL_H
#define MEMMON_AGENT_CTL_H

#include "agent/ctlclient.h"

/* How long `agent ctl` waits for a reply: a command waits for each worker
 * at most REQUEST_TIMEOUT_MS, and a reload for many. */
#define CTL_REPLY_TIMEOUT_MS 120000

/* argv[0] is "ctl" (or the program name, as memmonctl); default_config is
 * used without -b and -c.  Returns a sysexits code. */
int tool_ctl(int argc, char **argv, const char *default_config);

#endif
