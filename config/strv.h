/*
 * strv: the word syntax of the configuration that makes NULL-terminated
 * arrays of strings (an exec target's argv; core/strv.h copies and frees
 * them).  Arrays and strings are allocated with the mm_* wrappers of
 * core/alloc.h.  Internal to config/.
 */
#ifndef MEMMON_CONFIG_STRV_H
#define MEMMON_CONFIG_STRV_H

#include <ctype.h>
#include <stdbool.h>

#include "core/strv.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The blanks that separate words, as isspace(3) has them. */
static inline bool strv_blank(char c) {
        return isspace((unsigned char)c);
}

/* Splits s into words on blanks; double quotes group words, and inside them
 * \" and \\ stand for " and \.  Returns the number of words and sets *ret to
 * a NULL-terminated array, -EINVAL on an unterminated quote, or -ENOMEM. */
int strv_split(const char *s, char ***ret);

#ifdef __cplusplus
}
#endif
#endif
