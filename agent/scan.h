/*
 * scan: `agent scan`, the alert rules applied once to live processes.
 */
#ifndef MEMMON_AGENT_SCAN_H
#define MEMMON_AGENT_SCAN_H

/* argv[0] is "scan".  Returns a sysexits code: 0 nothing found, 1 found,
 * 64 usage, 66 a named process does not exist, 77 a named process cannot
 * be read. */
int tool_scan(int argc, char **argv);

#endif
