/*
 * events: logs/events.jsonl, every event the agent logs as one JSON object
 * per line (JSON Lines), for programs and the log shippers of a fleet.
 *
 * Each line starts with "v" (1), "seq" (counts up by one per event,
 * across every thread, in the order of the lines in the file), "time"
 * (UTC, microseconds), then "target", "pid" and "start_time" for a
 * target's events, then "event" and the event's own fields (README.md,
 * "Events", has the schema).  Strings follow core/json.h: every line is
 * valid JSON in valid UTF-8 whatever bytes a path holds.
 *
 * A line is written with one write() on an O_APPEND fd; the file is 0600,
 * opened under the logs folder as the logs are, reopened on SIGHUP (for
 * logrotate), and not written at all with `events = off`.  Every function
 * may be called from any thread.
 */
#ifndef MEMMON_AGENT_EVENTS_H
#define MEMMON_AGENT_EVENTS_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "core/strbuf.h"
#include "core/supervisor.h"
#include "core/worker.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AGENT_EVENTS_FILE "events.jsonl"

struct agent_events;

/* Events for the logs folder open at logs_fd (duplicated: the caller keeps
 * its fd); the file is opened beneath it, through core/fs.h's door, now
 * when enabled.  Returns 0 with *ret set, or -errno. */
int agent_events_new(int logs_fd, bool enabled, struct agent_events **ret);
/* Closes the file and frees e; e may be NULL. */
void agent_events_free(struct agent_events *e);
/* Opens the file again by its name (after logrotate moved it).  Returns 0
 * (also when disabled) or -errno. */
int agent_events_reopen(struct agent_events *e);
/* Turns the file on (opening it) or off (closing it): `events = ` on
 * reload.  Returns 0 or -errno (then it stays off). */
int agent_events_set_enabled(struct agent_events *e, bool on);

/* Writes a worker's event.  line (when not NULL) gets the line as
 * written (with its '\n'), also when the file is off, for alert_exec.
 * Returns 0 or -errno. */
int agent_events_worker(struct agent_events *e, const struct worker_event *ev, struct strbuf *line);
/* A `reload`: ok, what changed (ch, NULL when nothing was applied), how
 * many errors the configuration had, and the reply's first line. */
int agent_events_reload(struct agent_events *e, bool ok, const struct supervisor_changes *ch, size_t errors,
                        const char *message);
/* An error of the agent's own (target: the target it is about, or NULL). */
int agent_events_error(struct agent_events *e, const char *target, const char *message);

/* The line of ev with seq at time t (CLOCK_REALTIME), appended to out:
 * what agent_events_worker() writes.  Returns 0 or -ENOMEM. */
int agent_events_format(const struct worker_event *ev, uint64_t seq, const struct timespec *t,
                        struct strbuf *out);

#ifdef __cplusplus
}
#endif
#endif
