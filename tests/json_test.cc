// Unit tests of core/json (JSON Lines writer and decoder) and core/textesc
// (escaping for logs and terminals).
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/json.h"
#include "core/strbuf.h"
#include "core/textesc.h"
#include "tests/fuzz/json_check.h"

namespace {

std::string Str(const std::string &bytes) {
        struct strbuf b;
        strbuf_init(&b);
        EXPECT_EQ(0, json_append_string(&b, bytes.data(), bytes.size()));
        std::string s(strbuf_str(&b), b.len);
        strbuf_fini(&b);
        return s;
}

// Decodes a JSON string literal; "<error N>" when the decoder refuses it.
std::string Decode(const std::string &lit, size_t *used = nullptr) {
        struct strbuf b;
        size_t u = 0;
        strbuf_init(&b);
        int r = json_decode_string(lit.data(), lit.size(), &b, &u);
        std::string s = r == 0 ? std::string(strbuf_str(&b), b.len) : "<error " + std::to_string(r) + ">";
        strbuf_fini(&b);
        if (used)
                *used = u;
        return s;
}

std::string Text(const std::string &bytes) {
        struct strbuf b;
        strbuf_init(&b);
        EXPECT_EQ(0, textesc_append(&b, bytes.data(), bytes.size()));
        std::string s(strbuf_str(&b), b.len);
        strbuf_fini(&b);
        return s;
}

// Paths a hostile user can create, one per kind of trouble.
std::vector<std::string> HostilePaths() {
        return {
            "",
            "/usr/lib/x86_64-linux-gnu/libc.so.6",
            "/tmp/a\"b\\c",
            std::string("/tmp/nul\0byte", 13),
            "/tmp/line\nbreak\r\t\b\f\x01\x1f\x7f",
            "/tmp/\x1b[31mred\x1b[0m",
            "/tmp/\xff\xfe\x80\xbf",               // stray bytes
            "/tmp/\xc3\x28",                       // cut sequence
            "/tmp/\xc0\xaf",                       // overlong '/'
            "/tmp/\xe0\x80\xaf",                   // overlong 3-byte
            "/tmp/\xed\xa0\x80",                   // a surrogate in UTF-8
            "/tmp/\xf4\x90\x80\x80",               // past U+10FFFF
            "/tmp/\xe2\x82",                       // cut at the end
            "/home/\xc3\xa9t\xc3\xa9/caf\xc3\xa9", // é: raw
            "/x/\xc2\x80\xc2\x9f\xc3\xbf",         // U+0080, U+009F, U+00FF: raw
            "/x/\xe2\x80\xae"
            "exe.so\xe2\x80\xac",                                  // RLO ... PDF
            "/x/\xe2\x80\xa8\xe2\x80\xa9\xe2\x81\xa6\xe2\x81\xa9", // LS PS LRI PDI
            "/x/\xf0\x9f\x98\x80",                                 // an emoji
            "/usr/lib/libfoo.so (deleted)",
            "/tmp/\\u00ff", // looks like an escape
        };
}

TEST(Json, Escapes) {
        EXPECT_EQ("\"\"", Str(""));
        EXPECT_EQ("\"/usr/lib/libc.so.6\"", Str("/usr/lib/libc.so.6"));
        EXPECT_EQ("\"a\\\"b\\\\c\"", Str("a\"b\\c"));
        EXPECT_EQ("\"\\n\\r\\t\\b\\f\\u0001\\u001f\\u007f\"", Str("\n\r\t\b\f\x01\x1f\x7f"));
        EXPECT_EQ("\"\\u0000\"", Str(std::string("\0", 1)));
        // '/' needs no escape.
        EXPECT_EQ("\"/\"", Str("/"));
}

TEST(Json, InvalidUtf8BecomesByteEscapes) {
        EXPECT_EQ("\"\\u00ff\\u00fe\\u0080\"", Str("\xff\xfe\x80"));
        EXPECT_EQ("\"\\u00c3(\"", Str("\xc3\x28"));
        EXPECT_EQ("\"\\u00c0\\u00af\"", Str("\xc0\xaf"));
        EXPECT_EQ("\"\\u00ed\\u00a0\\u0080\"", Str("\xed\xa0\x80"));
        EXPECT_EQ("\"\\u00f4\\u0090\\u0080\\u0080\"", Str("\xf4\x90\x80\x80"));
        EXPECT_EQ("\"x\\u00e2\\u0082\"", Str("x\xe2\x82"));
}

TEST(Json, ValidUtf8IsRawEvenBelowU0100) {
        // U+00E9 and U+0080: characters, written raw; \u00XX would mean a
        // raw byte.
        EXPECT_EQ("\"\xc3\xa9\xc2\x80\xc3\xbf\"", Str("\xc3\xa9\xc2\x80\xc3\xbf"));
        EXPECT_EQ("\"\xf0\x9f\x98\x80\"", Str("\xf0\x9f\x98\x80"));
}

TEST(Json, SeparatorsAndBidiAreEscaped) {
        EXPECT_EQ("\"\\u2028\\u2029\"", Str("\xe2\x80\xa8\xe2\x80\xa9"));
        EXPECT_EQ("\"\\u202a\\u202b\\u202c\\u202d\\u202e\"",
                  Str("\xe2\x80\xaa\xe2\x80\xab\xe2\x80\xac\xe2\x80\xad\xe2\x80\xae"));
        EXPECT_EQ("\"\\u2066\\u2067\\u2068\\u2069\"",
                  Str("\xe2\x81\xa6\xe2\x81\xa7\xe2\x81\xa8\xe2\x81\xa9"));
        // Their neighbours are not.
        EXPECT_EQ("\"\xe2\x80\xa7\xe2\x80\xaf\xe2\x81\xa5\xe2\x81\xaa\"",
                  Str("\xe2\x80\xa7\xe2\x80\xaf\xe2\x81\xa5\xe2\x81\xaa"));
}

TEST(Json, RoundTripOfHostilePaths) {
        for (const auto &p : HostilePaths()) {
                std::string lit = Str(p);
                size_t used = 0;
                EXPECT_EQ(0, json_check_text(lit.data(), lit.size())) << lit;
                EXPECT_EQ(p, Decode(lit, &used)) << lit;
                EXPECT_EQ(lit.size(), used);
        }
}

TEST(Json, DecoderReadsOtherWriters) {
        EXPECT_EQ("a/b", Decode("\"a\\/b\""));
        EXPECT_EQ("\xe2\x82\xac", Decode("\"\\u20AC\""));
        EXPECT_EQ("\xf0\x9f\x98\x80", Decode("\"\\ud83d\\ude00\""));
        // \u0000..\u00ff are bytes, by the convention.
        EXPECT_EQ(std::string("\xe9\0", 2), Decode("\"\\u00e9\\u0000\""));
        size_t used = 0;
        EXPECT_EQ("x", Decode("\"x\" trailing", &used));
        EXPECT_EQ(3u, used);
}

TEST(Json, DecoderRefusesBadStrings) {
        for (const std::string &bad : std::vector<std::string>{
                 "", "x", "\"", "\"abc", "\"\\", "\"\\x\"", "\"\\u12\"", "\"\\u12g4\"", "\"\\ud800\"",
                 "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"a\nb\"", std::string("\"\0\"", 3)})
                EXPECT_EQ("<error -22>", Decode(bad)) << bad;
}

TEST(Json, ObjectLines) {
        struct strbuf b;
        struct json_obj o;
        strbuf_init(&b);
        json_obj_begin(&o, &b);
        json_obj_int(&o, "v", 1);
        json_obj_int(&o, "neg", -5);
        json_obj_uint(&o, "big", UINT64_MAX);
        json_obj_cstr(&o, "event", "alert");
        json_obj_cstr(&o, "none", nullptr);
        json_obj_str(&o, "path", "a\nb", 3);
        json_obj_hex(&o, "start", 0x7f00dead0000ULL);
        json_obj_bool(&o, "t", 1);
        json_obj_bool(&o, "f", 0);
        ASSERT_EQ(0, json_obj_end(&o));
        EXPECT_STREQ("{\"v\":1,\"neg\":-5,\"big\":18446744073709551615,\"event\":\"alert\",\"none\":\"\","
                     "\"path\":\"a\\nb\",\"start\":\"7f00dead0000\",\"t\":true,\"f\":false}\n",
                     strbuf_str(&b));
        // A second line follows the first; an empty object is "{}".
        json_obj_begin(&o, &b);
        ASSERT_EQ(0, json_obj_end(&o));
        EXPECT_EQ(std::string(strbuf_str(&b)).substr(b.len - 3), "{}\n");
        strbuf_fini(&b);
}

TEST(Json, ValidatorIsStrict) {
        // The test's own validator must refuse what a strict parser refuses,
        // or the fuzzer proves nothing.
        for (const std::string &good : std::vector<std::string>{
                 "{}", "[]", "{\"a\":[1,-2.5e3,true,false,null,\"x\"]}", " 0 ", "\"\\u00e9\""})
                EXPECT_EQ(0, json_check_text(good.data(), good.size())) << good;
        for (const std::string &bad : std::vector<std::string>{
                 "", "{", "{\"a\"}", "{\"a\":1,}", "[1,]", "01", "1.", "\"\x01\"", "\"\xff\"",
                 "\"\xed\xa0\x80\"", "\"\\ud800\"", "{} {}", "tru", "\"\\q\""})
                EXPECT_NE(0, json_check_text(bad.data(), bad.size())) << bad;
}

// Python's json module, an independent parser, reads every line, and the
// recipe documented in core/json.h gives the bytes back.
TEST(Json, PythonReadsEveryLine) {
        const char *py = "/usr/bin/python3";
        if (access(py, X_OK) != 0)
                GTEST_SKIP() << "no " << py;
        const char *tmp = getenv("TEST_TMPDIR");
        std::string in = std::string(tmp ? tmp : "/tmp") + "/json_lines.jsonl";
        std::string out = in + ".hex";
        std::string lines, want;
        for (const auto &p : HostilePaths()) {
                struct strbuf b;
                struct json_obj o;
                strbuf_init(&b);
                json_obj_begin(&o, &b);
                json_obj_str(&o, "path", p.data(), p.size());
                ASSERT_EQ(0, json_obj_end(&o));
                lines += strbuf_str(&b);
                strbuf_fini(&b);
                static const char hex[] = "0123456789abcdef";
                for (unsigned char c : p)
                        want += {hex[c >> 4], hex[c & 15]};
                want += "\n";
        }
        FILE *f = fopen(in.c_str(), "wb");
        ASSERT_NE(nullptr, f);
        ASSERT_EQ(lines.size(), fwrite(lines.data(), 1, lines.size(), f));
        fclose(f);
        // The recipe of core/json.h for a standard parser, which cannot tell
        // a raw U+00E9 from \u00e9: turn the byte escapes into Python's
        // surrogateescape range first.
        std::string cmd =
            std::string(py) +
            " -c 'import json,re,sys\n"
            "pat = re.compile(r\"(\\\\+)u00([89a-fA-F][0-9a-fA-F])\")\n"
            "fix = lambda m: m.group(1) + (\"udc\" if len(m.group(1)) % 2 else \"u00\") + m.group(2)\n"
            "for l in open(sys.argv[1], \"rb\"):\n"
            "    s = json.loads(pat.sub(fix, l.decode(\"utf-8\", \"strict\")))[\"path\"]\n"
            "    print(s.encode(\"utf-8\", \"surrogateescape\").hex())' " +
            in + " > " + out;
        ASSERT_EQ(0, system(cmd.c_str()));
        FILE *g = fopen(out.c_str(), "rb");
        ASSERT_NE(nullptr, g);
        std::string got;
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof(buf), g)) > 0)
                got.append(buf, n);
        fclose(g);
        EXPECT_EQ(want, got);
}

TEST(TextEsc, KeepsPrintableUtf8) {
        EXPECT_EQ("/usr/lib/libc.so.6", Text("/usr/lib/libc.so.6"));
        EXPECT_EQ("/home/\xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80",
                  Text("/home/\xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80"));
        EXPECT_EQ("a \"quoted\" name", Text("a \"quoted\" name"));
}

TEST(TextEsc, EscapesWhatCouldForgeOrDrive) {
        EXPECT_EQ("a\\\\b", Text("a\\b"));
        EXPECT_EQ("\\x0a\\x0d\\x1b[31m\\x7f\\x00", Text(std::string("\n\r\x1b[31m\x7f\0", 9)));
        EXPECT_EQ("\\xff\\xc3(", Text("\xff\xc3("));
        EXPECT_EQ("\\xc2\\x9b", Text("\xc2\x9b")); // C1 CSI
        EXPECT_EQ("\\u202eexe\\u2028\\u200f\\u061c", Text("\xe2\x80\xae"
                                                          "exe\xe2\x80\xa8\xe2\x80\x8f\xd8\x9c"));
        // Escaped input never reads like the escape of something else.
        EXPECT_NE(Text("\\x0a"), Text("\n"));
}

} // namespace
