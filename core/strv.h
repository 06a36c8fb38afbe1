/*
 * strv: NULL-terminated arrays of strings (a program and its arguments),
 * allocated with the mm_* wrappers of core/alloc.h.
 */
#ifndef MEMMON_CORE_STRV_H
#define MEMMON_CORE_STRV_H

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A deep copy of v (not NULL), or NULL when out of memory. */
char **strv_copy(char *const *v);
/* Frees v and its strings; v may be NULL. */
void strv_free(char **v);
/* True when a and b hold the same strings, or are both NULL. */
bool strv_equal(char *const *a, char *const *b);

#ifdef __cplusplus
}
#endif
#endif
