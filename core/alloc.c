#include "core/alloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Per-thread, so that counting needs no lock and a test sees only its own
 * thread's allocations. */
static _Thread_local uint64_t alloc_count;

static void *counted(void *p) {
        if (p)
                alloc_count++;
        return p;
}

void *mm_malloc(size_t size) {
        return counted(malloc(size));
}

void *mm_calloc(size_t n, size_t size) {
        return counted(calloc(n, size));
}

void *mm_realloc(void *p, size_t size) {
        return counted(realloc(p, size));
}

void *mm_reallocarray(void *p, size_t n, size_t size) {
        if (size != 0 && n > SIZE_MAX / size) {
                errno = ENOMEM;
                return NULL;
        }
        return counted(realloc(p, n * size));
}

char *mm_strdup(const char *s) {
        return counted(strdup(s));
}

void mm_free(void *p) {
        free(p);
}

uint64_t mm_alloc_count(void) {
        return alloc_count;
}

int mm_grow(void *pp, size_t *cap, size_t need, size_t size) {
        size_t n;
        void *p, *q;

        if (need <= *cap)
                return 0;
        n = *cap ? *cap : 8;
        while (n < need) {
                if (n > SIZE_MAX / 2)
                        return -ENOMEM;
                n *= 2;
        }
        memcpy(&p, pp, sizeof(p));
        q = mm_reallocarray(p, n, size);
        if (!q)
                return -ENOMEM;
        memcpy(pp, &q, sizeof(q));
        *cap = n;
        return 0;
}
