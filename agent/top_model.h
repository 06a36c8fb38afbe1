/*
 * top_model: what `agent top` shows, without a terminal.  The agent's
 * `status --json` documents are read into one row per target; diffs per
 * minute come from the `diffs` counters seen over the last minute; rows
 * are sorted by a key; and every line of the screen is laid out for a
 * width, with every string that came from the agent escaped (core/textesc.h)
 * and cut to its column.  agent/top.c draws these lines with ncurses.
 *
 * Widths are terminal columns: ASCII and, with utf8 set (a UTF-8 locale),
 * printable UTF-8 as wcwidth(3) measures it; without utf8 every byte
 * outside ASCII is shown as \xNN.
 */
#ifndef MEMMON_AGENT_TOP_MODEL_H
#define MEMMON_AGENT_TOP_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "core/strbuf.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The columns, in screen order. */
enum top_col {
        TOP_COL_NAME,
        TOP_COL_STATE,
        TOP_COL_PID,
        TOP_COL_REGIONS,
        TOP_COL_MAPPED,
        TOP_COL_EXEC,
        TOP_COL_RATE, /* diffs per minute */
        TOP_COL_LAST, /* age of the last change */
        TOP_COL_ALERTS,
        TOP_COL_REASON,
        TOP_COLS,
};

/* The sort keys, in the order `s` cycles through them. */
enum top_sort {
        TOP_SORT_NAME,
        TOP_SORT_REGIONS,
        TOP_SORT_MAPPED,
        TOP_SORT_RATE,
        TOP_SORT_ALERTS,
        TOP_SORT_LAST,
        TOP_SORTS,
};

/* Diffs per minute are counted over this window.  The counters are kept at
 * most one a TOP_HISTORY_STEP_US, so TOP_HISTORY of them span it. */
#define TOP_RATE_WINDOW_US (60ULL * 1000 * 1000)
#define TOP_HISTORY_STEP_US (1000ULL * 1000)
#define TOP_HISTORY 64

struct top_sample {
        uint64_t at_us; /* the caller's clock (CLOCK_MONOTONIC) */
        uint64_t diffs;
};

struct top_row {
        /* As the agent sent them, decoded: any bytes. */
        struct strbuf name, state, reason;
        int64_t pid; /* 0: none */
        uint64_t regions, mapped, exec, diffs, alerts;
        int64_t last_change; /* seconds since the epoch; 0: never */
        double rate;         /* diffs per minute, when rate_known */
        int rate_known;
        struct top_sample hist[TOP_HISTORY]; /* oldest first */
        size_t n_hist;
};

struct top_agent {
        int known; /* the document had an "agent" object */
        int64_t pid;
        struct strbuf version, capture;
        int64_t started; /* seconds since the epoch; 0: unknown */
};

struct top_model {
        struct top_row **rows; /* owned, sorted as sort and reverse say */
        size_t n, cap;
        struct top_agent agent;
        enum top_sort sort;
        int reverse;
        int utf8; /* the terminal takes UTF-8 */
};

void top_model_init(struct top_model *m);
void top_model_fini(struct top_model *m);

/* Reads a `status --json` document (the body of an "ok" reply) taken at
 * now_us: rows of targets that are gone are dropped, new ones added, and
 * the diffs per minute of each updated (a counter that went back, as after
 * a reload that made the target anew, starts its history again).  The
 * rows are sorted afterwards.  Returns 0, -EINVAL when doc is not such a
 * document (the model unchanged), or -ENOMEM. */
int top_model_update(struct top_model *m, const char *doc, size_t len, uint64_t now_us);
/* Sorts the rows by m->sort (names ascending, numbers largest first, the
 * latest change first; ties by name), reversed with m->reverse. */
void top_model_sort(struct top_model *m);
/* The key's name for the footer ("name", "regions", ...). */
const char *top_sort_name(enum top_sort s);

/* Which columns are shown, where and how wide, for a screen cols wide:
 * NAME and STATE always; then ALERTS, PID, REGIONS, MAPPED, DIFF/M, LAST
 * and EXEC as long as they fit next to a NAME column of 8; NAME grows to
 * its longest name; REASON takes what is left, when that is 8 or more and
 * some target has a reason. */
struct top_layout {
        int shown[TOP_COLS];
        int x[TOP_COLS];
        int width[TOP_COLS];
};
void top_model_layout(const struct top_model *m, int cols, struct top_layout *ret);

/* Appends a column's title, or a row's cell, padded or cut to its width
 * (a string cut short ends in '~').  now is the wall clock (seconds since
 * the epoch), for ages.  Returns 0 or -ENOMEM. */
int top_model_title(const struct top_layout *l, enum top_col c, struct strbuf *out);
int top_model_cell(const struct top_model *m, const struct top_row *r, const struct top_layout *l,
                   enum top_col c, int64_t now, struct strbuf *out);
/* A whole row (or, with r NULL, the titles) of the layout: cells in screen
 * order, one blank apart, padded to cols. */
int top_model_line(const struct top_model *m, const struct top_row *r, const struct top_layout *l, int cols,
                   int64_t now, struct strbuf *out);

/* The first line: the agent (pid, uptime, version, capture) and, at the
 * right, the time of day now (local time) and "paused" when paused. */
int top_model_title_line(const struct top_model *m, int64_t now, int paused, int cols, struct strbuf *out);
/* The second line: how many targets in which state, regions, mapped and
 * executable bytes, diffs per minute and active alerts of them all. */
int top_model_totals_line(const struct top_model *m, int cols, struct strbuf *out);
/* The last line: the keys, the sort, and which rows are shown (first is
 * the index of the first, shown how many). */
int top_model_footer_line(const struct top_model *m, size_t first, size_t shown, int cols,
                          struct strbuf *out);

/* Appends s[0..len) escaped and fitted to width columns (cut short with
 * '~', padded with blanks; right-aligned with right).  width 0 appends
 * nothing.  Returns 0 or -ENOMEM. */
int top_fit(const char *s, size_t len, int width, int right, int utf8, struct strbuf *out);

/* Sizes and ages as the columns show them: "0", "512B", "4.0K", "12M",
 * "1.2G"; "42s", "5m", "3h", "12d". */
void top_format_size(uint64_t bytes, char *buf, size_t size);
void top_format_age(int64_t seconds, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
