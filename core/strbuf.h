/*
 * strbuf: a growable, always NUL-terminated string for replies and messages.
 */
#ifndef MEMMON_CORE_STRBUF_H
#define MEMMON_CORE_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct strbuf {
        char *s; /* owned; NULL until the first append */
        size_t len;
        size_t cap;
};

void strbuf_init(struct strbuf *b);
void strbuf_fini(struct strbuf *b);
void strbuf_reset(struct strbuf *b);
/* Returns b->s, or "" when nothing was appended yet. */
const char *strbuf_str(const struct strbuf *b);
/* Appends formatted text.  Returns 0 or -ENOMEM (b keeps what it had). */
int strbuf_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int strbuf_vprintf(struct strbuf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
int strbuf_append(struct strbuf *b, const char *s, size_t len);

#ifdef __cplusplus
}
#endif
#endif
