/*
 * units: durations and sizes as users write them.
 */
#ifndef MEMMON_CORE_UNITS_H
#define MEMMON_CORE_UNITS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bounds of every sampling interval (config files, -T, `interval`). */
#define INTERVAL_MIN_US UINT64_C(1000)
#define INTERVAL_MAX_US UINT64_C(3600000000)

/* Parses a duration: a plain integer is microseconds (2000000), or a number
 * with one of the suffixes us, ms, s, m, h (500ms, 2s, 1m).  Returns 0 or
 * -EINVAL (not a duration) or -ERANGE (overflows). */
int units_parse_duration_us(const char *s, uint64_t *ret);

/* Parses a sampling interval: a duration within INTERVAL_MIN_US and
 * INTERVAL_MAX_US.  Returns 0, -EINVAL or -ERANGE (also when out of bounds). */
int units_parse_interval_us(const char *s, uint64_t *ret);

/* Parses a size: bytes, or a number with K, M, G or T (powers of 1024, an
 * optional trailing B or iB).  Returns 0, -EINVAL or -ERANGE. */
int units_parse_size(const char *s, uint64_t *ret);

#ifdef __cplusplus
}
#endif
#endif
