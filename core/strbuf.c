#include "core/strbuf.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"

void strbuf_init(struct strbuf *b) {
        b->s = NULL;
        b->len = 0;
        b->cap = 0;
}

void strbuf_fini(struct strbuf *b) {
        mm_free(b->s);
        strbuf_init(b);
}

void strbuf_reset(struct strbuf *b) {
        b->len = 0;
        if (b->s)
                b->s[0] = '\0';
}

const char *strbuf_str(const struct strbuf *b) {
        return b->s ? b->s : "";
}

static int strbuf_reserve(struct strbuf *b, size_t extra) {
        size_t need = b->len + extra + 1;
        if (need <= b->cap)
                return 0;
        size_t cap = b->cap ? b->cap : 128;
        while (cap < need)
                cap *= 2;
        char *s = mm_realloc(b->s, cap);
        if (!s)
                return -ENOMEM;
        b->s = s;
        b->cap = cap;
        return 0;
}

int strbuf_append(struct strbuf *b, const char *s, size_t len) {
        int r = strbuf_reserve(b, len);
        if (r < 0)
                return r;
        memcpy(b->s + b->len, s, len);
        b->len += len;
        b->s[b->len] = '\0';
        return 0;
}

int strbuf_vprintf(struct strbuf *b, const char *fmt, va_list ap) {
        va_list copy;
        va_copy(copy, ap);
        int n = vsnprintf(NULL, 0, fmt, copy);
        va_end(copy);
        if (n < 0)
                return -EINVAL;
        int r = strbuf_reserve(b, (size_t)n);
        if (r < 0)
                return r;
        vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
        b->len += (size_t)n;
        return 0;
}

int strbuf_printf(struct strbuf *b, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int r = strbuf_vprintf(b, fmt, ap);
        va_end(ap);
        return r;
}
