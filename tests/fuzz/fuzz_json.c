/*
 * fuzz_json: the JSON Lines writer and the escaper for logs, fed arbitrary
 * bytes as a path.
 *
 * The line written must be one JSON object that a strict parser accepts
 * (tests/fuzz/json_check.h, which shares no code with core/json.c), with
 * no raw newline, separator or bidi control in it, and its string must
 * decode back to exactly the input.  When the input is well-formed UTF-8,
 * no \u0080..\u00ff escape may appear: those mean raw bytes.  The decoder
 * also gets the input as it is, and text escaped for logs must be
 * well-formed UTF-8 without control bytes.  The reader of documents takes
 * what the validator takes.
 */
#include "tests/fuzz/fuzz.h"

#include "core/json.h"
#include "core/strbuf.h"
#include "core/textesc.h"
#include "tests/fuzz/json_check.h"

/* Whether s[0..len) is all well-formed UTF-8, by the checker's rules. */
static int well_formed(const char *s, size_t len) {
        struct json_check c = {(const unsigned char *)s, (const unsigned char *)s + len, 0};

        while (c.p < c.end)
                if (json_check_utf8(&c) < 0)
                        return 0;
        return 1;
}

/* No byte sequence that reorders or breaks lines on display: U+2028..U+202E
 * (E2 80 A8..AE) and U+2066..U+2069 (E2 81 A6..A9). */
static int has_reordering(const char *s, size_t len) {
        const unsigned char *u = (const unsigned char *)s;

        for (size_t i = 0; i + 2 < len; i++) {
                if (u[i] != 0xe2)
                        continue;
                if (u[i + 1] == 0x80 && u[i + 2] >= 0xa8 && u[i + 2] <= 0xae)
                        return 1;
                if (u[i + 1] == 0x81 && u[i + 2] >= 0xa6 && u[i + 2] <= 0xa9)
                        return 1;
        }
        return 0;
}

static void check_line(const char *path, size_t len) {
        static const char prefix[] = "{\"v\":1,\"path\":";
        struct strbuf b, out;
        struct json_obj o;
        size_t used = 0;

        strbuf_init(&b);
        strbuf_init(&out);
        json_obj_begin(&o, &b);
        json_obj_int(&o, "v", 1);
        json_obj_str(&o, "path", path, len);
        json_obj_hex(&o, "start", (uint64_t)len * 4096);
        json_obj_bool(&o, "deleted", len & 1);
        json_obj_uint(&o, "len", len);
        FUZZ_CHECK(json_obj_end(&o) == 0);

        FUZZ_CHECK(b.len > sizeof(prefix) && b.s[b.len - 1] == '\n');
        FUZZ_CHECK(memchr(b.s, '\n', b.len - 1) == NULL);
        FUZZ_CHECK(memchr(b.s, '\r', b.len) == NULL);
        FUZZ_CHECK(json_check_text(b.s, b.len - 1) == 0);
        FUZZ_CHECK(!has_reordering(b.s, b.len));
        FUZZ_CHECK(memcmp(b.s, prefix, sizeof(prefix) - 1) == 0);
        FUZZ_CHECK(json_decode_string(b.s + sizeof(prefix) - 1, b.len - sizeof(prefix) + 1, &out, &used) ==
                   0);
        FUZZ_CHECK(out.len == len && (len == 0 || memcmp(out.s, path, len) == 0));
        FUZZ_CHECK(b.s[sizeof(prefix) - 1 + used] == ',');
        if (well_formed(path, len)) {
                /* Raw-byte escapes are for bytes that are not UTF-8 only. */
                for (size_t i = 0; i < b.len; i++) {
                        if (b.s[i] != '\\')
                                continue;
                        if (b.s[i + 1] == 'u')
                                FUZZ_CHECK(!(b.s[i + 2] == '0' && b.s[i + 3] == '0' &&
                                             strchr("89abcdef", b.s[i + 4])));
                        i++;
                }
        }
        strbuf_fini(&out);
        strbuf_fini(&b);
}

static void check_decoder(const char *s, size_t len) {
        struct strbuf out, again;
        size_t used = 0;

        strbuf_init(&out);
        strbuf_init(&again);
        if (json_decode_string(s, len, &out, &used) == 0) {
                FUZZ_CHECK(used >= 2 && used <= len && s[used - 1] == '"');
                /* Whatever it decoded to is written and read back the same. */
                FUZZ_CHECK(json_append_string(&again, out.s ? out.s : "", out.len) == 0);
                strbuf_reset(&out);
                FUZZ_CHECK(json_decode_string(again.s, again.len, &out, &used) == 0 && used == again.len);
        }
        strbuf_fini(&again);
        strbuf_fini(&out);
}

static void check_text(const char *s, size_t len) {
        struct strbuf b;

        strbuf_init(&b);
        FUZZ_CHECK(textesc_append(&b, s, len) == 0);
        FUZZ_CHECK(well_formed(b.s ? b.s : "", b.len));
        FUZZ_CHECK(!has_reordering(b.s ? b.s : "", b.len));
        for (size_t i = 0; i < b.len; i++) {
                unsigned char c = (unsigned char)b.s[i];
                FUZZ_CHECK(c >= 0x20 && c != 0x7f);
                /* No C1 control (C2 80..C2 9F) either. */
                FUZZ_CHECK(!(c == 0xc2 && i + 1 < b.len && (unsigned char)b.s[i + 1] < 0xa0));
        }
        strbuf_fini(&b);
}

/* The reader (core/json.h's json_read_*) takes exactly the documents the
 * strict validator takes, where the bytes are UTF-8 (it leaves raw bytes
 * in strings to its caller), and walking a document value by value agrees
 * with skipping it whole. */
static void check_reader(const char *s, size_t len) {
        struct json_reader r;
        json_read_init(&r, s, len);
        int ok = json_read_skip(&r) == 0 && json_read_end(&r) == 0;
        if (well_formed(s, len))
                FUZZ_CHECK(ok == (json_check_text(s, len) == 0));
        else
                FUZZ_CHECK(json_check_text(s, len) < 0);
        if (!ok)
                return;
        /* An object's members one by one, as a program reads them. */
        struct strbuf key;
        size_t count = 0;
        int more;
        strbuf_init(&key);
        json_read_init(&r, s, len);
        if (json_read_open(&r, '{') == 0) {
                while ((more = json_read_more(&r, '}', &count)) == 1) {
                        FUZZ_CHECK(json_read_key(&r, &key) == 0);
                        uint64_t u;
                        if (json_read_uint(&r, &u) < 0)
                                FUZZ_CHECK(json_read_skip(&r) == 0);
                }
                FUZZ_CHECK(more == 0 && json_read_end(&r) == 0);
        }
        strbuf_fini(&key);
}

int fuzz_json(const uint8_t *data, size_t size) {
        const char *s = data ? (const char *)data : "";

        check_line(s, data ? size : 0);
        check_decoder(s, data ? size : 0);
        check_text(s, data ? size : 0);
        check_reader(s, data ? size : 0);
        return 0;
}

#ifdef MEMMON_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        return fuzz_json(data, size);
}
#endif
