/*
 * tools: the offline subcommands `agent replay` and `agent verify`.
 */
#ifndef MEMMON_AGENT_TOOLS_H
#define MEMMON_AGENT_TOOLS_H

#ifdef __cplusplus
extern "C" {
#endif

/* argv[0] is the subcommand.  Each returns a sysexits code. */
int tool_replay(int argc, char **argv);
int tool_verify(int argc, char **argv);

#ifdef __cplusplus
}
#endif
#endif
