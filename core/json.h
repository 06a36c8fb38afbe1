/*
 * json: JSON Lines output (one object per line) into a strbuf, the
 * decoder of the strings it writes, and a reader of whole documents
 * (json_read.c).
 *
 * Any byte string can be written, and every line written is valid JSON in
 * valid UTF-8, so that log shippers (Vector, Fluent Bit, Filebeat, journald)
 * take it as it is.  Strings are written by this convention:
 *   - well-formed UTF-8 is written as it is, except:
 *     - '"' and '\' as \" and \\;
 *     - bytes below 0x20 as \b \t \n \f \r or \u00XX, and 0x7f as \u007f;
 *     - U+2028, U+2029 (line and paragraph separators) and the bidi
 *       embeddings, overrides and isolates U+202A..U+202E, U+2066..U+2069
 *       as \u20XX, so that a path can neither break a line for a careless
 *       reader nor reorder the text it is shown in;
 *   - every byte that is not part of well-formed UTF-8 (a stray 0x80..0xff)
 *     as \u0080..\u00ff, the escape of that byte's value.
 * So \u0080..\u00ff in our output always means "this raw byte", never the
 * character: the characters U+0080..U+00FF (é is C3 A9) are well-formed
 * UTF-8 and are written raw.  json_decode_string() turns a string back into
 * the exact bytes: \u0000..\u00ff become the byte of that value, any other
 * escape the UTF-8 of its code point (surrogate pairs joined).
 *
 * Every JSON parser reads the lines; most programs want text and are done.
 * A standard parser cannot tell a raw U+00E9 from \u00e9, so a program that
 * needs a path's exact bytes rewrites the byte escapes before parsing, e.g.
 * in Python: \u00XX (XX 80..ff, after an odd run of backslashes) becomes
 * \udcXX, then json.loads(), then .encode("utf-8", "surrogateescape")
 * (tests/json_test.cc runs exactly that).
 *
 * Keys are written as given; callers use fixed ASCII keys, in a fixed order
 * per kind of object, so that lines of one kind always look alike.
 */
#ifndef MEMMON_CORE_JSON_H
#define MEMMON_CORE_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "core/strbuf.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Appends s[0..len) as a JSON string, quotes included, by the convention
 * above.  Returns 0 or -ENOMEM (b may then hold part of the string). */
int json_append_string(struct strbuf *b, const char *s, size_t len);

/* Decodes the JSON string that starts at s[0] (a '"') into out (appended,
 * exact bytes).  *ret_used gets the bytes of s taken, through the closing
 * quote.  Strict: an unescaped control byte, a bad or lone-surrogate \u
 * escape, an unknown escape or a missing closing quote give -EINVAL.  Raw
 * bytes between the quotes are copied as they are (this reads our own
 * output; a validator of UTF-8 is the caller's business).  Returns 0,
 * -EINVAL or -ENOMEM; on error out may hold part of the string. */
int json_decode_string(const char *s, size_t len, struct strbuf *out, size_t *ret_used);

/* One object being written as a line: json_obj_begin(), fields, then
 * json_obj_end().  The first error sticks: the fields after it are not
 * written and json_obj_end() takes the line back out of the buffer. */
struct json_obj {
        struct strbuf *b; /* borrowed */
        size_t start;     /* b->len when the object began */
        int fields;
        int err;
};

void json_obj_begin(struct json_obj *o, struct strbuf *b);
void json_obj_str(struct json_obj *o, const char *key, const char *s, size_t len);
/* s may be NULL: the field is then written as "". */
void json_obj_cstr(struct json_obj *o, const char *key, const char *s);
void json_obj_int(struct json_obj *o, const char *key, int64_t v);
void json_obj_uint(struct json_obj *o, const char *key, uint64_t v);
void json_obj_bool(struct json_obj *o, const char *key, int v);
/* A number as lowercase hexadecimal digits in a string, as addresses are
 * written in maps ("7f3e00000000"). */
void json_obj_hex(struct json_obj *o, const char *key, uint64_t v);
/* Closes the object with "}\n".  Returns 0, or -ENOMEM with b as it was
 * before json_obj_begin(). */
int json_obj_end(struct json_obj *o);

/* For documents that are not one line of flat fields (the `--json` replies
 * of `agent ctl`): a field whose value is JSON text the caller made with
 * this writer (an array of objects closed with json_obj_close(), or
 * "null"), copied as it is. */
void json_obj_raw(struct json_obj *o, const char *key, const char *json, size_t len);
/* Closes the object with "}" alone, for an object inside another value.
 * Returns as json_obj_end(). */
int json_obj_close(struct json_obj *o);

/* A reader of JSON documents such as this writer makes (the `--json`
 * replies of `agent ctl`, events.jsonl), for programs of ours that read
 * them back: a cursor over s[0..n) that steps through values in order.
 * Strings decode as json_decode_string() says.  It is strict about
 * structure (every value well formed, commas and colons where they
 * belong) and nesting deeper than JSON_READ_DEPTH_MAX is refused.  The
 * text is borrowed; nothing is allocated but what the caller's strbufs
 * take. */
#define JSON_READ_DEPTH_MAX 64
struct json_reader {
        const char *s;
        size_t n, i;
};

void json_read_init(struct json_reader *r, const char *s, size_t n);
/* Steps into the object or array that starts here ('{' or '[', as open
 * says).  Returns 0, or -EINVAL when something else is here. */
int json_read_open(struct json_reader *r, char open);
/* Between the members of the object or array being read (close is its '}'
 * or ']'), *count being how many were read so far (0 right after
 * json_read_open()): returns 1 when another follows (its comma taken,
 * *count incremented; for an object, call json_read_key() next), 0 when
 * the closing bracket was taken, -EINVAL otherwise. */
int json_read_more(struct json_reader *r, char close, size_t *count);
/* A member's key (decoded into key, which is reset first) and its colon.
 * Returns 0, -EINVAL or -ENOMEM. */
int json_read_key(struct json_reader *r, struct strbuf *key);
/* A string value, appended to out decoded.  Returns 0, -EINVAL (not a
 * string) or -ENOMEM. */
int json_read_string(struct json_reader *r, struct strbuf *out);
/* A number without fraction or exponent.  Returns 0, -EINVAL (another
 * value, or a fraction) or -ERANGE (out of range). */
int json_read_uint(struct json_reader *r, uint64_t *ret);
int json_read_int(struct json_reader *r, int64_t *ret);
/* Takes a null when one is here.  Returns 1 (taken) or 0 (something
 * else, not taken). */
int json_read_null(struct json_reader *r);
/* Skips one value of any kind, nested ones whole (and checked as
 * strictly).  Returns 0, -EINVAL or -ENOMEM. */
int json_read_skip(struct json_reader *r);
/* 0 when nothing but white space is left, else -EINVAL. */
int json_read_end(struct json_reader *r);

#ifdef __cplusplus
}
#endif
#endif
