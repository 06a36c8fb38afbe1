#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "core/json.h"

void json_read_init(struct json_reader *r, const char *s, size_t n) {
        r->s = s;
        r->n = n;
        r->i = 0;
}

static void skip_ws(struct json_reader *r) {
        while (r->i < r->n && strchr(" \t\r\n", r->s[r->i]) && r->s[r->i])
                r->i++;
}

/* The next byte that is not white space (not taken), or 0 at the end. */
static char peek(struct json_reader *r) {
        skip_ws(r);
        return r->i < r->n ? r->s[r->i] : 0;
}

int json_read_open(struct json_reader *r, char open) {
        if (peek(r) != open || (open != '{' && open != '['))
                return -EINVAL;
        r->i++;
        return 0;
}

int json_read_more(struct json_reader *r, char close, size_t *count) {
        char c = peek(r);
        if (c == close) {
                r->i++;
                return 0;
        }
        if (*count > 0) {
                if (c != ',')
                        return -EINVAL;
                r->i++;
                c = peek(r);
                if (c == close || c == 0)
                        return -EINVAL;
        } else if (c == 0) {
                return -EINVAL;
        }
        (*count)++;
        return 1;
}

int json_read_string(struct json_reader *r, struct strbuf *out) {
        size_t used;
        if (peek(r) != '"')
                return -EINVAL;
        int e = json_decode_string(r->s + r->i, r->n - r->i, out, &used);
        if (e < 0)
                return e;
        r->i += used;
        return 0;
}

int json_read_key(struct json_reader *r, struct strbuf *key) {
        strbuf_reset(key);
        int e = json_read_string(r, key);
        if (e < 0)
                return e;
        if (peek(r) != ':')
                return -EINVAL;
        r->i++;
        return 0;
}

/* The digits of an integer (after an optional '-' when neg is allowed),
 * as RFC 8259 writes them: no leading zero, no fraction, no exponent. */
static int read_magnitude(struct json_reader *r, int *neg, uint64_t *ret) {
        uint64_t v = 0;
        int overflow = 0;
        char c = peek(r);
        *neg = 0;
        if (c == '-') {
                *neg = 1;
                r->i++;
        }
        size_t start = r->i;
        while (r->i < r->n && r->s[r->i] >= '0' && r->s[r->i] <= '9') {
                unsigned d = (unsigned)(r->s[r->i] - '0');
                if (v > (UINT64_MAX - d) / 10)
                        overflow = 1;
                v = v * 10 + d;
                r->i++;
        }
        size_t digits = r->i - start;
        if (digits == 0 || (digits > 1 && r->s[start] == '0'))
                return -EINVAL;
        if (r->i < r->n && strchr(".eE", r->s[r->i]) && r->s[r->i])
                return -EINVAL;
        if (overflow)
                return -ERANGE;
        *ret = v;
        return 0;
}

int json_read_uint(struct json_reader *r, uint64_t *ret) {
        struct json_reader save = *r;
        uint64_t v;
        int neg, e = read_magnitude(r, &neg, &v);
        if (e == 0 && neg && v != 0)
                e = -ERANGE;
        if (e < 0) {
                *r = save;
                return e;
        }
        *ret = v;
        return 0;
}

int json_read_int(struct json_reader *r, int64_t *ret) {
        struct json_reader save = *r;
        uint64_t v;
        int neg, e = read_magnitude(r, &neg, &v);
        if (e == 0 && v > (neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX))
                e = -ERANGE;
        if (e < 0) {
                *r = save;
                return e;
        }
        *ret = neg ? (int64_t)(0 - v) : (int64_t)v;
        return 0;
}

/* Takes the literal word when it is here. */
static int take_word(struct json_reader *r, const char *word) {
        size_t len = strlen(word);
        if (peek(r) != word[0] || r->n - r->i < len || memcmp(r->s + r->i, word, len) != 0)
                return 0;
        r->i += len;
        return 1;
}

int json_read_null(struct json_reader *r) {
        return take_word(r, "null");
}

/* A number of any form (fraction and exponent too), RFC 8259's grammar. */
static int skip_number(struct json_reader *r) {
        const char *s = r->s;
        size_t i = r->i, n = r->n, d;
        if (i < n && s[i] == '-')
                i++;
        for (d = i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
                ;
        if (i == d || (i - d > 1 && s[d] == '0'))
                return -EINVAL;
        if (i < n && s[i] == '.') {
                for (d = ++i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
                        ;
                if (i == d)
                        return -EINVAL;
        }
        if (i < n && (s[i] == 'e' || s[i] == 'E')) {
                i++;
                if (i < n && (s[i] == '+' || s[i] == '-'))
                        i++;
                for (d = i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
                        ;
                if (i == d)
                        return -EINVAL;
        }
        r->i = i;
        return 0;
}

static int skip_value(struct json_reader *r, int depth) {
        struct strbuf scratch;
        size_t count = 0;
        int e, more;
        char c = peek(r);

        if (c == '{' || c == '[') {
                char close = c == '{' ? '}' : ']';
                if (depth >= JSON_READ_DEPTH_MAX)
                        return -EINVAL;
                r->i++;
                strbuf_init(&scratch);
                e = 0;
                while (e == 0 && (more = json_read_more(r, close, &count)) == 1) {
                        if (c == '{')
                                e = json_read_key(r, &scratch);
                        if (e == 0)
                                e = skip_value(r, depth + 1);
                }
                strbuf_fini(&scratch);
                return e < 0 ? e : more < 0 ? more : 0;
        }
        if (c == '"') {
                /* Strings are checked whole, escapes too, but not kept. */
                strbuf_init(&scratch);
                e = json_read_string(r, &scratch);
                strbuf_fini(&scratch);
                return e;
        }
        if (take_word(r, "true") || take_word(r, "false") || take_word(r, "null"))
                return 0;
        return skip_number(r);
}

int json_read_skip(struct json_reader *r) {
        return skip_value(r, 0);
}

int json_read_end(struct json_reader *r) {
        return peek(r) == 0 && r->i == r->n ? 0 : -EINVAL;
}
