/*
 * json_check: a strict validator of one JSON text (RFC 8259), written for
 * the tests independently of core/json.c: the fuzzer must not judge the
 * writer with the writer's own ideas.
 *
 * Beyond the grammar it demands what a log shipper's parser demands: the
 * whole text is well-formed UTF-8 (no overlong forms, no surrogates, nothing
 * past U+10FFFF), no raw control byte inside a string, and every \u escape
 * that is a surrogate comes in a high-low pair.
 */
#ifndef MEMMON_TESTS_FUZZ_JSON_CHECK_H
#define MEMMON_TESTS_FUZZ_JSON_CHECK_H

#include <stddef.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

struct json_check {
        const unsigned char *p;
        const unsigned char *end;
        int depth;
};

static inline void json_check_ws(struct json_check *c) {
        while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
                c->p++;
}

/* One UTF-8 character, checked byte by byte against Unicode's table of
 * well-formed sequences. */
static inline int json_check_utf8(struct json_check *c) {
        const unsigned char *s = c->p;
        size_t left = (size_t)(c->end - s), n;
        unsigned char lo = 0x80, hi = 0xbf;

        if (s[0] < 0x80)
                n = 1;
        else if (s[0] >= 0xc2 && s[0] <= 0xdf)
                n = 2;
        else if (s[0] >= 0xe0 && s[0] <= 0xef)
                n = 3;
        else if (s[0] >= 0xf0 && s[0] <= 0xf4)
                n = 4;
        else
                return -1;
        if (s[0] == 0xe0)
                lo = 0xa0;
        if (s[0] == 0xed)
                hi = 0x9f;
        if (s[0] == 0xf0)
                lo = 0x90;
        if (s[0] == 0xf4)
                hi = 0x8f;
        if (left < n || (n > 1 && (s[1] < lo || s[1] > hi)))
                return -1;
        for (size_t i = 2; i < n; i++)
                if (s[i] < 0x80 || s[i] > 0xbf)
                        return -1;
        c->p += n;
        return 0;
}

static inline int json_check_hex4(const unsigned char *p, unsigned *ret) {
        unsigned v = 0;
        for (int i = 0; i < 4; i++) {
                unsigned char x = p[i];
                v <<= 4;
                if (x >= '0' && x <= '9')
                        v |= (unsigned)(x - '0');
                else if (x >= 'a' && x <= 'f')
                        v |= (unsigned)(x - 'a' + 10);
                else if (x >= 'A' && x <= 'F')
                        v |= (unsigned)(x - 'A' + 10);
                else
                        return -1;
        }
        *ret = v;
        return 0;
}

static inline int json_check_string(struct json_check *c) {
        if (c->p >= c->end || *c->p != '"')
                return -1;
        c->p++;
        while (c->p < c->end) {
                unsigned char ch = *c->p;
                unsigned u, lo;

                if (ch == '"') {
                        c->p++;
                        return 0;
                }
                if (ch < 0x20)
                        return -1;
                if (ch != '\\') {
                        if (json_check_utf8(c) < 0)
                                return -1;
                        continue;
                }
                if (c->end - c->p < 2)
                        return -1;
                ch = c->p[1];
                if (ch == 'u') {
                        if (c->end - c->p < 6 || json_check_hex4(c->p + 2, &u) < 0)
                                return -1;
                        c->p += 6;
                        if (u >= 0xdc00 && u <= 0xdfff)
                                return -1;
                        if (u >= 0xd800 && u <= 0xdbff) {
                                if (c->end - c->p < 6 || c->p[0] != '\\' || c->p[1] != 'u' ||
                                    json_check_hex4(c->p + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
                                        return -1;
                                c->p += 6;
                        }
                        continue;
                }
                if (!strchr("\"\\/bfnrt", ch) || ch == 0)
                        return -1;
                c->p += 2;
        }
        return -1;
}

static inline int json_check_digits(struct json_check *c) {
        const unsigned char *start = c->p;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
                c->p++;
        return c->p > start ? 0 : -1;
}

static inline int json_check_number(struct json_check *c) {
        if (c->p < c->end && *c->p == '-')
                c->p++;
        if (c->p < c->end && *c->p == '0')
                c->p++;
        else if (json_check_digits(c) < 0)
                return -1;
        if (c->p < c->end && *c->p == '.') {
                c->p++;
                if (json_check_digits(c) < 0)
                        return -1;
        }
        if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
                c->p++;
                if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
                        c->p++;
                if (json_check_digits(c) < 0)
                        return -1;
        }
        return 0;
}

static inline int json_check_word(struct json_check *c, const char *w) {
        size_t n = strlen(w);
        if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n) != 0)
                return -1;
        c->p += n;
        return 0;
}

static inline int json_check_value(struct json_check *c);

/* An object ('{') or an array ('['): members separated by commas. */
static inline int json_check_container(struct json_check *c, unsigned char close) {
        if (++c->depth > 64)
                return -1;
        c->p++;
        json_check_ws(c);
        if (c->p < c->end && *c->p == close) {
                c->p++;
                c->depth--;
                return 0;
        }
        for (;;) {
                json_check_ws(c);
                if (close == '}') {
                        if (json_check_string(c) < 0)
                                return -1;
                        json_check_ws(c);
                        if (c->p >= c->end || *c->p != ':')
                                return -1;
                        c->p++;
                        json_check_ws(c);
                }
                if (json_check_value(c) < 0)
                        return -1;
                json_check_ws(c);
                if (c->p < c->end && *c->p == ',') {
                        c->p++;
                        continue;
                }
                if (c->p < c->end && *c->p == close) {
                        c->p++;
                        c->depth--;
                        return 0;
                }
                return -1;
        }
}

static inline int json_check_value(struct json_check *c) {
        if (c->p >= c->end)
                return -1;
        switch (*c->p) {
        case '{':
                return json_check_container(c, '}');
        case '[':
                return json_check_container(c, ']');
        case '"':
                return json_check_string(c);
        case 't':
                return json_check_word(c, "true");
        case 'f':
                return json_check_word(c, "false");
        case 'n':
                return json_check_word(c, "null");
        default:
                return json_check_number(c);
        }
}

/* 0 when text[0..len) is exactly one JSON value (with blanks around it),
 * -1 otherwise. */
static inline int json_check_text(const char *text, size_t len) {
        struct json_check c = {(const unsigned char *)text, (const unsigned char *)text + len, 0};
        json_check_ws(&c);
        if (json_check_value(&c) < 0)
                return -1;
        json_check_ws(&c);
        return c.p == c.end ? 0 : -1;
}

#ifdef __cplusplus
}
#endif
#endif
