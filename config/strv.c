#include "config/strv.h"

#include <errno.h>
#include <string.h>

#include "core/alloc.h"

int strv_split(const char *s, char ***ret) {
        size_t n = 0, cap = 0;
        char **v = NULL, *word;
        int r = 0;

        word = mm_malloc(strlen(s) + 1);
        if (!word)
                return -ENOMEM;
        for (;;) {
                size_t w = 0;
                bool quoted = false;

                while (strv_blank(*s))
                        s++;
                if (!*s)
                        break;
                while (*s && (quoted || !strv_blank(*s))) {
                        if (*s == '"') {
                                quoted = !quoted;
                                s++;
                                continue;
                        }
                        if (quoted && *s == '\\' && (s[1] == '"' || s[1] == '\\'))
                                s++;
                        word[w++] = *s++;
                }
                if (quoted) {
                        r = -EINVAL;
                        goto finish;
                }
                word[w] = '\0';
                if (mm_grow(&v, &cap, n + 2, sizeof(*v)) < 0) {
                        r = -ENOMEM;
                        goto finish;
                }
                v[n] = mm_strdup(word);
                if (!v[n]) {
                        r = -ENOMEM;
                        goto finish;
                }
                v[++n] = NULL;
        }
        if (!v) {
                v = mm_calloc(1, sizeof(*v));
                if (!v) {
                        r = -ENOMEM;
                        goto finish;
                }
        }
        *ret = v;
        v = NULL;
        r = (int)n;
finish:
        strv_free(v);
        mm_free(word);
        return r;
}
