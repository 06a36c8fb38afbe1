#include "core/textesc.h"

#include <stdint.h>

#include "core/utf8.h"

static const char hex_digits[] = "0123456789abcdef";

static int append_x(struct strbuf *b, unsigned char c) {
        char e[4] = {'\\', 'x', hex_digits[c >> 4], hex_digits[c & 15]};
        return strbuf_append(b, e, sizeof(e));
}

/* Marks that change the direction of the text around them, besides those
 * utf8_is_reordering() names: harmless in JSON, but not on a terminal. */
static int invisible_mark(uint32_t cp) {
        return cp == 0x200e || cp == 0x200f || cp == 0x061c;
}

int textesc_append(struct strbuf *b, const char *str, size_t len) {
        const unsigned char *s = (const unsigned char *)str;
        size_t i = 0, run = 0;
        int r = 0;

        while (r == 0 && i < len) {
                unsigned char c = s[i];
                uint32_t cp = 0;
                size_t n = 1;

                if (c >= 0x20 && c < 0x7f && c != '\\') {
                        i++;
                        continue;
                }
                if (c >= 0x80 && (n = utf8_decode(s + i, len - i, &cp)) > 0 && cp >= 0xa0 &&
                    !utf8_is_reordering(cp) && !invisible_mark(cp)) {
                        i += n;
                        continue;
                }
                if (i > run && (r = strbuf_append(b, str + run, i - run)) < 0)
                        break;
                if (c == '\\') {
                        r = strbuf_append(b, "\\\\", 2);
                        n = 1;
                } else if (c < 0x80 || n == 0) {
                        r = append_x(b, c);
                        n = 1;
                } else if (cp < 0xa0) {
                        /* A C1 control, which some terminals obey. */
                        r = append_x(b, s[i]);
                        if (r == 0)
                                r = append_x(b, s[i + 1]);
                } else {
                        char e[6] = {'\\',
                                     'u',
                                     hex_digits[(cp >> 12) & 15],
                                     hex_digits[(cp >> 8) & 15],
                                     hex_digits[(cp >> 4) & 15],
                                     hex_digits[cp & 15]};
                        r = strbuf_append(b, e, sizeof(e));
                }
                i += n;
                run = i;
        }
        if (r == 0 && i > run)
                r = strbuf_append(b, str + run, i - run);
        return r;
}
