/*
 * ctl: `agent ctl` (and the installed name `memmonctl`), the request and
 * response client of a running agent's control socket logs/control.sock.
 *
 *   agent ctl [-b BASE | -c FILE] [--json] COMMAND [ARGS...]
 *
 * Exit status: 0 the command succeeded, 1 it failed (the reply says why),
 * 64 usage, 69 no agent running on that base directory, 78 a configuration
 * that cannot be read.
 *
 * STUB for the lead (issue 11): the command line and the "is an agent
 * there" check are real; the request/response exchange arrives with the
 * control socket's server side.  Until then every command ends with 69.
 */
#ifndef MEMMON_AGENT_CTL_H
#define MEMMON_AGENT_CTL_H

/* Where the agent's control socket lives under its base directory. */
#define CTL_SOCKET "logs/control.sock"

/* argv[0] is "ctl" (or the program name, as memmonctl); default_config is
 * used without -b and -c.  Returns a sysexits code. */
int tool_ctl(int argc, char **argv, const char *default_config);

#endif
