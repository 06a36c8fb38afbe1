/*
 * ts: backup timestamps.
 *
 * A timestamp is UTC to the microsecond, sortable as a string and unique
 * per target: 20261125T183328.123456Z (TS_SIZE bytes with its NUL).  Backup
 * file names carry one and so does each file's "# time" line.
 */
#ifndef MEMMON_CORE_TS_H
#define MEMMON_CORE_TS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TS_SIZE 24 /* "20261125T183328.123456Z" and its NUL */
#define TS_LEN (TS_SIZE - 1)

/* Formats a CLOCK_REALTIME time as a timestamp.  Returns 0 or -EINVAL. */
int ts_format(const struct timespec *t, char ret[TS_SIZE]);

/* Normalises a user's --at argument into a timestamp: accepts
 * 20261125T183328[.ffffff]Z and 2026-11-25T18:33:28[.ffffff]Z (the trailing Z
 * may be left out).  A missing fraction means the end of that second, and a
 * fraction of fewer than six digits the end of that interval (".5" is
 * .599999), so that `--at` a moment includes everything recorded in it.
 * Returns 0 or -EINVAL. */
int ts_parse(const char *s, char ret[TS_SIZE]);

/* True when s[0..len) is a timestamp exactly as ts_format() writes it: a
 * real date, canonical digits.  s need not be NUL-terminated. */
bool ts_valid(const char *s, size_t len);

/* The timestamp of a file written at `now`: now itself, or 1 µs after last
 * (a timestamp, or "" for none) when the clock did not move past it, so
 * names stay unique and increasing even when the clock goes back.  Returns
 * 0 or -EINVAL (now is not a time a timestamp can name). */
int ts_after(const struct timespec *now, const char *last, char ret[TS_SIZE]);

/* The microseconds since the epoch of a timestamp written as ts_format()
 * writes it.  Returns 0 or -EINVAL (*ret_us untouched). */
int ts_to_us(const char *ts, int64_t *ret_us);

/* ts_after() of the current CLOCK_REALTIME.  Returns 0 or -errno. */
int ts_next(const char *last, char ret[TS_SIZE]);

#ifdef __cplusplus
}
#endif
#endif
