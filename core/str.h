/*
 * str: small string helpers every module may use.
 */
#ifndef MEMMON_CORE_STR_H
#define MEMMON_CORE_STR_H

#include <stdbool.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* True when a and b are equal strings, or both NULL. */
static inline bool streq(const char *a, const char *b) {
        if (!a || !b)
                return a == b;
        return strcmp(a, b) == 0;
}

#ifdef __cplusplus
}
#endif
#endif
