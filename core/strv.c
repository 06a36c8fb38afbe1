#include "core/strv.h"

#include <string.h>

#include "core/alloc.h"

void strv_free(char **v) {
        if (!v)
                return;
        for (char **p = v; *p; p++)
                mm_free(*p);
        mm_free(v);
}

char **strv_copy(char *const *v) {
        size_t n = 0;
        char **c;

        while (v[n])
                n++;
        c = mm_calloc(n + 1, sizeof(*c));
        if (!c)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                c[i] = mm_strdup(v[i]);
                if (!c[i]) {
                        strv_free(c);
                        return NULL;
                }
        }
        return c;
}

bool strv_equal(char *const *a, char *const *b) {
        if (!a || !b)
                return a == b;
        for (; *a && *b; a++, b++)
                if (strcmp(*a, *b) != 0)
                        return false;
        return !*a && !*b;
}
