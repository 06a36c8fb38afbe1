/*
 * alloc: the allocation calls core/ makes, counted per thread so that a test
 * can prove the sampling hot path allocates nothing once warmed up.
 */
#ifndef MEMMON_CORE_ALLOC_H
#define MEMMON_CORE_ALLOC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

void *mm_malloc(size_t size);
void *mm_calloc(size_t n, size_t size);
void *mm_realloc(void *p, size_t size);
/* realloc of an array of n elements of size bytes; NULL on overflow. */
void *mm_reallocarray(void *p, size_t n, size_t size);
char *mm_strdup(const char *s);
/* Grows the array that pp points to (any T **, *cap elements of size bytes)
 * to hold at least need elements, doubling from 8.  The pointer is copied in
 * and out with memcpy, so callers need no aliasing-breaking cast to void **.
 * Returns 0 or -ENOMEM (the array unchanged). */
int mm_grow(void *pp, size_t *cap, size_t need, size_t size);
void mm_free(void *p);

/* Number of successful allocations (malloc, calloc, realloc, strdup) made by
 * the calling thread through these functions. */
uint64_t mm_alloc_count(void);

#ifdef __cplusplus
}
#endif
#endif
