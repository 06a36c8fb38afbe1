/*
 * report_page: the HTML file of `agent report`: the page template
 * (agent/report/, embedded at build time) around the history as JSON.
 *
 * The data is one JSON object in a <script type="application/json">
 * element.  Every string in it (maps lines, paths, the folder's name,
 * alert fields) is written by core/json.h, and then every '<', '>' and '&'
 * of the JSON text becomes \u003c, \u003e, \u0026, so that no byte of the
 * data can end the element or start markup; the page reads it with
 * JSON.parse and shows it through textContent only.  Its fields:
 *   v          1
 *   generator  "memmon 0.1.0"
 *   target     the chain's target name
 *   dir        DIR as given on the command line
 *   from, to   --from and --to as timestamps, or ""
 *   from_us, to_us   the same in microseconds since the epoch, or null
 *   kinds      [[id, legend text], ...] indexed by the kind of a region
 *   bounds     every region start and end address, sorted, unique, as hex
 *   regions    [[from, to, s, e, kind, line], ...]: moment indices (to is
 *              -1 for "still there at the end"), indices into bounds of the
 *              start and end address, the kind, and the exact maps line;
 *              sorted by start address, then time
 *   moments    [{t, us, pid, st, full, res, state, new, add, rm, chg, n,
 *              file, fault}, ...]: timestamp, microseconds, pid, start time
 *              (a string: it may not fit a double), full snapshot or diff,
 *              "good" / "bad" / "skipped", whether a state exists after it,
 *              whether it starts another process instance, records added,
 *              removed and changed, regions after it, the file's name, and
 *              why it is bad ("" otherwise)
 *   alerts     [{us, event, time, rule, region, start, end, perms, path,
 *              reason}, ...] in file order
 *   events     {path, status, lines, bad_lines, dropped}: where the alerts
 *              came from; status is "read", "absent", "unreadable: ..."
 *              or "none" (no file looked for)
 *   broken     the number of files that could not be read
 * Strings are exact bytes by the convention of core/json.h: \u0080..\u00ff
 * stand for raw bytes that are not UTF-8.
 */
#ifndef MEMMON_AGENT_REPORT_PAGE_H
#define MEMMON_AGENT_REPORT_PAGE_H

#include <stdint.h>

#include "agent/report_data.h"
#include "agent/report_events.h"
#include "core/strbuf.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What the page says about where its data came from. */
struct report_meta {
        const char *dir;         /* DIR as given */
        const char *from, *to;   /* timestamps, or NULL */
        int64_t from_us, to_us;  /* meaningful when from, to are set */
        const char *events_path; /* the events file looked at, or NULL */
        const char *events_status;
};

/* Appends the data object described above to out.  h must be finished
 * (report_history_finish).  Returns 0 or -ENOMEM. */
int report_page_json(const struct report_history *h, const struct report_alerts *a,
                     const struct report_meta *meta, struct strbuf *out);

/* Appends the whole HTML file to out: the template with the data in it.
 * Returns 0 or -ENOMEM. */
int report_page_html(const struct report_history *h, const struct report_alerts *a,
                     const struct report_meta *meta, struct strbuf *out);

#ifdef __cplusplus
}
#endif
#endif
