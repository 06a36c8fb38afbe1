/*
 * top: `agent top` (and `memmonctl top`), a live terminal view of a running
 * agent's targets, drawn with ncurses from the `status --json` document
 * it asks the control socket for every few seconds (agent/ctlclient.h,
 * agent/top_model.h).
 *
 *   agent top [-b BASE | -c FILE] [-d SECONDS]
 *
 * Keys: q (or Ctrl-C) quits; p or space pauses the refresh; s cycles the
 * sort key, n r m d a c pick one (name, regions, mapped, diffs/min,
 * alerts, last change), R reverses; arrows, PgUp, PgDn, Home and End
 * scroll; Ctrl-L redraws.
 *
 * Exit status: 0 quit, 64 usage (or not a terminal), 69 no agent running
 * on that base directory when it starts (once it has shown data, an agent
 * that goes away is said on the screen and asked again every refresh), 77
 * the agent refused us or its socket is not the agent's, 78 a
 * configuration that cannot be read.
 */
#ifndef MEMMON_AGENT_TOP_H
#define MEMMON_AGENT_TOP_H

#ifdef __cplusplus
extern "C" {
#endif

/* How long a refresh waits for its reply before the screen says the agent
 * does not answer (a status reply needs no worker to act). */
#define TOP_REPLY_TIMEOUT_MS 10000

/* argv[0] is "top"; default_config is used without -b and -c.  Returns a
 * sysexits code. */
int tool_top(int argc, char **argv, const char *default_config);

#ifdef __cplusplus
}
#endif
#endif
