#include "core/json.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/utf8.h"

static const char hex_digits[] = "0123456789abcdef";

/* Bytes that are written as they are when they stand alone: printable
 * ASCII other than '"' and '\'.  Bytes from 0x80 need the UTF-8 check. */
static inline int plain_ascii(unsigned char c) {
        return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

static int append_u_escape(struct strbuf *b, uint32_t v) {
        char e[6] = {'\\',
                     'u',
                     hex_digits[(v >> 12) & 15],
                     hex_digits[(v >> 8) & 15],
                     hex_digits[(v >> 4) & 15],
                     hex_digits[v & 15]};
        return strbuf_append(b, e, sizeof(e));
}

int json_append_string(struct strbuf *b, const char *str, size_t len) {
        const unsigned char *s = (const unsigned char *)str;
        size_t i = 0, run = 0;
        int r = strbuf_append(b, "\"", 1);

        /* Runs of bytes that need no escape are appended in one go. */
        while (r == 0 && i < len) {
                unsigned char c = s[i];
                uint32_t cp;
                size_t n;

                if (plain_ascii(c)) {
                        i++;
                        continue;
                }
                if (c >= 0x80 && (n = utf8_decode(s + i, len - i, &cp)) > 0 && !utf8_is_reordering(cp)) {
                        i += n;
                        continue;
                }
                if (i > run)
                        r = strbuf_append(b, str + run, i - run);
                if (r < 0)
                        break;
                if (c == '"' || c == '\\') {
                        char e[2] = {'\\', (char)c};
                        r = strbuf_append(b, e, 2);
                        n = 1;
                } else if (c == '\n' || c == '\t' || c == '\r' || c == '\b' || c == '\f') {
                        char e[2] = {'\\', c == '\n'   ? 'n'
                                           : c == '\t' ? 't'
                                           : c == '\r' ? 'r'
                                           : c == '\b' ? 'b'
                                                       : 'f'};
                        r = strbuf_append(b, e, 2);
                        n = 1;
                } else if (c < 0x80) {
                        r = append_u_escape(b, c);
                        n = 1;
                } else if ((n = utf8_decode(s + i, len - i, &cp)) > 0) {
                        /* Well-formed, but a separator or bidi control. */
                        r = append_u_escape(b, cp);
                } else {
                        /* Not UTF-8: the byte's own value, 0x80..0xff. */
                        r = append_u_escape(b, c);
                        n = 1;
                }
                i += n;
                run = i;
        }
        if (r == 0 && i > run)
                r = strbuf_append(b, str + run, i - run);
        if (r == 0)
                r = strbuf_append(b, "\"", 1);
        return r;
}

static int hex4(const char *s, uint32_t *ret) {
        uint32_t v = 0;

        for (int k = 0; k < 4; k++) {
                char c = s[k];
                unsigned d;

                if (c >= '0' && c <= '9')
                        d = (unsigned)(c - '0');
                else if (c >= 'a' && c <= 'f')
                        d = (unsigned)(c - 'a' + 10);
                else if (c >= 'A' && c <= 'F')
                        d = (unsigned)(c - 'A' + 10);
                else
                        return -EINVAL;
                v = v << 4 | d;
        }
        *ret = v;
        return 0;
}

static int append_utf8(struct strbuf *out, uint32_t cp) {
        char u[4];
        size_t n;

        if (cp < 0x800) {
                u[0] = (char)(0xc0 | cp >> 6);
                u[1] = (char)(0x80 | (cp & 0x3f));
                n = 2;
        } else if (cp < 0x10000) {
                u[0] = (char)(0xe0 | cp >> 12);
                u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
                u[2] = (char)(0x80 | (cp & 0x3f));
                n = 3;
        } else {
                u[0] = (char)(0xf0 | cp >> 18);
                u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
                u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
                u[3] = (char)(0x80 | (cp & 0x3f));
                n = 4;
        }
        return strbuf_append(out, u, n);
}

/* Decodes the \u escape at s (6 bytes, or 12 for a surrogate pair) into
 * out.  Returns the bytes of s taken, or -errno. */
static int decode_u(const char *s, size_t len, struct strbuf *out) {
        uint32_t cp, lo;
        char byte;

        if (len < 6 || hex4(s + 2, &cp) < 0)
                return -EINVAL;
        if (cp <= 0xff) {
                byte = (char)cp;
                return strbuf_append(out, &byte, 1) < 0 ? -ENOMEM : 6;
        }
        if (cp >= 0xdc00 && cp <= 0xdfff)
                return -EINVAL;
        if (cp < 0xd800 || cp > 0xdbff)
                return append_utf8(out, cp) < 0 ? -ENOMEM : 6;
        if (len < 12 || s[6] != '\\' || s[7] != 'u' || hex4(s + 8, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
                return -EINVAL;
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        return append_utf8(out, cp) < 0 ? -ENOMEM : 12;
}

int json_decode_string(const char *s, size_t len, struct strbuf *out, size_t *ret_used) {
        size_t i = 1, run;
        int r;

        if (len == 0 || s[0] != '"')
                return -EINVAL;
        run = i;
        while (i < len) {
                unsigned char c = (unsigned char)s[i];
                char plain;

                if (c != '"' && c != '\\') {
                        if (c < 0x20)
                                return -EINVAL;
                        i++;
                        continue;
                }
                if (i > run && strbuf_append(out, s + run, i - run) < 0)
                        return -ENOMEM;
                if (c == '"') {
                        *ret_used = i + 1;
                        return 0;
                }
                if (i + 1 >= len)
                        return -EINVAL;
                switch (s[i + 1]) {
                case '"':
                case '\\':
                case '/':
                        plain = s[i + 1];
                        break;
                case 'b':
                        plain = '\b';
                        break;
                case 'f':
                        plain = '\f';
                        break;
                case 'n':
                        plain = '\n';
                        break;
                case 'r':
                        plain = '\r';
                        break;
                case 't':
                        plain = '\t';
                        break;
                case 'u':
                        r = decode_u(s + i, len - i, out);
                        if (r < 0)
                                return r;
                        i += (size_t)r;
                        run = i;
                        continue;
                default:
                        return -EINVAL;
                }
                if (strbuf_append(out, &plain, 1) < 0)
                        return -ENOMEM;
                i += 2;
                run = i;
        }
        return -EINVAL;
}

void json_obj_begin(struct json_obj *o, struct strbuf *b) {
        o->b = b;
        o->start = b->len;
        o->fields = 0;
        o->err = strbuf_append(b, "{", 1);
}

/* Writes the separator and the key of the next field; 0 or -errno. */
static int key(struct json_obj *o, const char *k) {
        if (o->err)
                return o->err;
        if (o->fields++ > 0 && (o->err = strbuf_append(o->b, ",", 1)) < 0)
                return o->err;
        if ((o->err = json_append_string(o->b, k, strlen(k))) < 0)
                return o->err;
        return o->err = strbuf_append(o->b, ":", 1);
}

void json_obj_str(struct json_obj *o, const char *k, const char *s, size_t len) {
        if (key(o, k) == 0)
                o->err = json_append_string(o->b, s ? s : "", s ? len : 0);
}

void json_obj_cstr(struct json_obj *o, const char *k, const char *s) {
        json_obj_str(o, k, s, s ? strlen(s) : 0);
}

void json_obj_int(struct json_obj *o, const char *k, int64_t v) {
        if (key(o, k) == 0)
                o->err = strbuf_printf(o->b, "%" PRId64, v);
}

void json_obj_uint(struct json_obj *o, const char *k, uint64_t v) {
        if (key(o, k) == 0)
                o->err = strbuf_printf(o->b, "%" PRIu64, v);
}

void json_obj_bool(struct json_obj *o, const char *k, int v) {
        if (key(o, k) == 0)
                o->err = v ? strbuf_append(o->b, "true", 4) : strbuf_append(o->b, "false", 5);
}

void json_obj_hex(struct json_obj *o, const char *k, uint64_t v) {
        if (key(o, k) == 0)
                o->err = strbuf_printf(o->b, "\"%" PRIx64 "\"", v);
}

void json_obj_raw(struct json_obj *o, const char *k, const char *json, size_t len) {
        if (key(o, k) == 0)
                o->err = strbuf_append(o->b, json, len);
}

/* Closes the object with "}" and, with newline, a '\n'. */
static int obj_finish(struct json_obj *o, int newline) {
        if (o->err == 0)
                o->err = strbuf_append(o->b, "}\n", newline ? 2 : 1);
        if (o->err < 0) {
                /* Half an object is worse than none: take it back out. */
                o->b->len = o->start;
                if (o->b->s)
                        o->b->s[o->start] = '\0';
                return o->err;
        }
        return 0;
}

int json_obj_end(struct json_obj *o) {
        return obj_finish(o, 1);
}

int json_obj_close(struct json_obj *o) {
        return obj_finish(o, 0);
}
