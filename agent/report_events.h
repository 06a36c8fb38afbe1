/*
 * report_events: the alerts of one target read back from the agent's
 * events file (logs/events.jsonl: one JSON object per line), for `agent
 * report`.
 *
 * The file is treated as hostile: a line is at most REPORT_EVENT_LINE_MAX
 * bytes and must be one flat JSON object (nested values are skipped); a
 * line that is not, or lacks a field, is counted and left out, never an
 * error.  Strings are decoded to their exact bytes (core/json.h).
 */
#ifndef MEMMON_AGENT_REPORT_EVENTS_H
#define MEMMON_AGENT_REPORT_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/strbuf.h"

#ifdef __cplusplus
extern "C" {
#endif

#define REPORT_EVENT_LINE_MAX 65536
#define REPORT_ALERTS_MAX 100000 /* kept per report; the rest are counted */

/* The string fields of an alert event, in the order the page shows them. */
enum report_alert_field {
        RA_EVENT, /* "alert" or "alert_cleared" */
        RA_TIME,  /* ISO-8601 UTC, as written */
        RA_RULE,
        RA_REGION, /* the maps line */
        RA_START,
        RA_END,
        RA_PERMS,
        RA_PATH,
        RA_REASON,
        RA_COUNT,
};

/* The JSON key of a field ("reason"). */
const char *report_alert_key(enum report_alert_field f);

struct report_alert {
        int64_t us;        /* RA_TIME in microseconds since the epoch */
        char *f[RA_COUNT]; /* owned, exact bytes */
        size_t len[RA_COUNT];
};

struct report_alerts {
        struct report_alert *v;
        size_t n, cap;
        size_t lines;     /* lines read */
        size_t bad_lines; /* not a flat JSON object, or an alert without its fields */
        size_t dropped;   /* alerts of the target past REPORT_ALERTS_MAX */
};

void report_alerts_init(struct report_alerts *a);
void report_alerts_fini(struct report_alerts *a);

/* Takes one line (without its '\n') of an events file: when it is an
 * "alert" or "alert_cleared" event of target whose time is within [from_us,
 * to_us], it is added.  Returns 0 or -ENOMEM. */
int report_alerts_add_line(struct report_alerts *a, const char *line, size_t len, const char *target,
                           int64_t from_us, int64_t to_us);

/* Reads the events file at path line by line through
 * report_alerts_add_line; a line longer than REPORT_EVENT_LINE_MAX is a bad
 * line.  With nofollow a symlink at path is refused (-ELOOP): the file found
 * next to a backup folder is only read where the agent wrote it, a file the
 * user names is read wherever it is.  Returns 0, -ENOENT (no such file),
 * -EINVAL (not a regular file), or another -errno. */
int report_alerts_read(struct report_alerts *a, const char *path, bool nofollow, const char *target,
                       int64_t from_us, int64_t to_us);

#ifdef __cplusplus
}
#endif
#endif
