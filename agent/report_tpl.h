/*
 * report_tpl: the page of `agent report` (agent/report/report.html with
 * report.css and the script of agent/report/ *.js inlined), cut where the
 * data goes.  The definitions are generated at build time by
 * agent/report/embed.c.
 */
#ifndef MEMMON_AGENT_REPORT_TPL_H
#define MEMMON_AGENT_REPORT_TPL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Everything before the data's JSON, and everything after it. */
extern const char report_page_head[];
extern const size_t report_page_head_len;
extern const char report_page_tail[];
extern const size_t report_page_tail_len;

#ifdef __cplusplus
}
#endif
#endif
