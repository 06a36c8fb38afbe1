/*
 * textesc: hostile bytes (paths, process names) made safe for a log line or
 * a terminal, and still telling.
 *
 * Well-formed, printable UTF-8 is kept as it is, so that a path in any
 * language reads as it should.  Everything that could forge a line, drive a
 * terminal or reorder what is shown is escaped: '\' as \\, bytes below 0x20
 * and 0x7f as \xNN, the C1 controls U+0080..U+009F as \xc2\xNN, bytes that
 * are not UTF-8 as \xNN, and the separators and bidi controls (U+2028,
 * U+2029, U+202A..U+202E, U+2066..U+2069, U+200E, U+200F, U+061C) as \uXXXX.
 * The result is unambiguous: different inputs never read the same.
 */
#ifndef MEMMON_CORE_TEXTESC_H
#define MEMMON_CORE_TEXTESC_H

#include <stddef.h>

#include "core/strbuf.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Appends s[0..len) to b, escaped as above.  Returns 0 or -ENOMEM (b may
 * then hold part of it). */
int textesc_append(struct strbuf *b, const char *s, size_t len);

#ifdef __cplusplus
}
#endif
#endif
