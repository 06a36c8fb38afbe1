/*
 * report: `agent report DIR [--from T] [--to T] [-o FILE] [--events FILE]`,
 * one self-contained HTML file that draws a target's recorded history
 * (agent/report_data.h builds it, agent/report_page.h writes it, the page
 * itself is agent/report/).
 */
#ifndef MEMMON_AGENT_REPORT_H
#define MEMMON_AGENT_REPORT_H

#ifdef __cplusplus
extern "C" {
#endif

/* argv[0] is "report".  Returns a sysexits code: 0, 64 (usage), 65 (some
 * files could not be read: the report is written and says which), 66
 * (nothing recorded, no such folder), 73 (cannot create the output), 74
 * (an I/O error), 77 (permission denied). */
int tool_report(int argc, char **argv);

#ifdef __cplusplus
}
#endif
#endif
