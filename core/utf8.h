/*
 * utf8: the strict UTF-8 decoder that the escapers of hostile bytes share
 * (core/json.h for JSON strings, core/textesc.h for logs and terminals).
 */
#ifndef MEMMON_CORE_UTF8_H
#define MEMMON_CORE_UTF8_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The length (1 to 4) of the well-formed UTF-8 sequence at s[0..len), with
 * its code point in *ret_cp; 0 when s[0] does not begin one: a stray
 * continuation byte, an overlong form, a surrogate (U+D800..U+DFFF), a code
 * point past U+10FFFF, or a sequence cut short.  len must be at least 1.
 * The table is Unicode's "well-formed byte sequences" (Table 3-7). */
static inline size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *ret_cp) {
        unsigned char c = s[0];
        size_t n;
        uint32_t cp;
        unsigned char lo = 0x80, hi = 0xbf;

        if (c < 0x80) {
                *ret_cp = c;
                return 1;
        }
        if (c >= 0xc2 && c <= 0xdf) {
                n = 2;
                cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
                n = 3;
                cp = c & 0x0f;
                if (c == 0xe0)
                        lo = 0xa0;
                else if (c == 0xed)
                        hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
                n = 4;
                cp = c & 0x07;
                if (c == 0xf0)
                        lo = 0x90;
                else if (c == 0xf4)
                        hi = 0x8f;
        } else {
                return 0;
        }
        if (len < n)
                return 0;
        /* Only the second byte has a narrower range. */
        if (s[1] < lo || s[1] > hi)
                return 0;
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = cp << 6 | (uint32_t)(s[i] & 0x3f);
        }
        *ret_cp = cp;
        return n;
}

/* Code points that reorder or break the text around them when displayed:
 * the line and paragraph separators (U+2028, U+2029), the bidirectional
 * embeddings and overrides (U+202A..U+202E) and isolates (U+2066..U+2069).
 * A path holding them could make a log line or a report read as something
 * else, so every escaper writes them as \u escapes. */
static inline int utf8_is_reordering(uint32_t cp) {
        return (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

#ifdef __cplusplus
}
#endif
#endif
