/*
 * embed: turns the page of `agent report` (report.html, report.css,
 * report.js in this folder) into agent/report_tpl.c at build time; a Bazel
 * genrule runs it, so the page stays real files in the repository and
 * needs no xxd or python to get into the binary.
 *
 *   embed OUT.c report.html report.css A.js [B.js...]
 *
 * The script is the JS files in the order given, inside one function
 * ('use strict'), so that they share one scope and leave nothing global.
 * The style sheet and the script go into the HTML where it says @@CSS@@
 * and @@JS@@, their SHA-256 (base64) where it says @@CSS_SHA256@@ and
 * @@JS_SHA256@@ (the page's Content-Security-Policy lets exactly these
 * two run and nothing else), and the result is cut at @@DATA@@ into
 * report_page_head and report_page_tail (agent/report_tpl.h).  Each marker
 * must be there exactly once.  The build fails when the CSS holds "</style"
 * or a JS file holds "</script" or "<!--": either would end or confuse the
 * element it is inlined in.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct buf {
        char *s;
        size_t len;
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...) {
        va_list ap;

        fprintf(stderr, "embed: ");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        exit(1);
}

static void put(struct buf *b, const char *s, size_t n) {
        char *p = realloc(b->s, b->len + n + 1);

        if (!p)
                die("%s", "out of memory");
        b->s = p;
        memcpy(b->s + b->len, s, n);
        b->len += n;
        b->s[b->len] = '\0';
}

static struct buf slurp(const char *path) {
        struct buf b = {NULL, 0};
        char chunk[65536];
        size_t n;
        FILE *f = fopen(path, "rb");

        if (!f)
                die("cannot open %s", path);
        put(&b, "", 0);
        while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
                put(&b, chunk, n);
        if (ferror(f))
                die("cannot read %s", path);
        if (memchr(b.s, '\0', b.len))
                die("%s holds a NUL byte", path);
        fclose(f);
        return b;
}

/* Finds needle in b, ignoring case; NULL when absent. */
static const char *find_ci(const struct buf *b, const char *needle) {
        size_t n = strlen(needle);

        for (size_t i = 0; i + n <= b->len; i++)
                if (strncasecmp(b->s + i, needle, n) == 0)
                        return b->s + i;
        return NULL;
}

/* SHA-256 (FIPS 180-4). */
static const uint32_t sha_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t ror(uint32_t x, int n) {
        return x >> n | x << (32 - n);
}

static void sha_block(uint32_t h[8], const unsigned char *p) {
        uint32_t w[64], a, b, c, d, e, f, g, hh;

        for (int i = 0; i < 16; i++)
                w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 |
                       p[4 * i + 3];
        for (int i = 16; i < 64; i++) {
                uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ w[i - 15] >> 3;
                uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ w[i - 2] >> 10;
                w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
        for (int i = 0; i < 64; i++) {
                uint32_t t1 =
                    hh + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + sha_k[i] + w[i];
                uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
                hh = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
        }
        h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
}

/* The base64 of the SHA-256 of s[0..n), as a CSP hash source wants it. */
static void sha256_b64(const char *s, size_t n, char out[45]) {
        static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                         0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
        unsigned char block[64], dig[33];
        size_t i = 0, rest;
        uint64_t bits = (uint64_t)n * 8;

        for (; i + 64 <= n; i += 64)
                sha_block(h, (const unsigned char *)s + i);
        rest = n - i;
        memset(block, 0, sizeof(block));
        memcpy(block, s + i, rest);
        block[rest] = 0x80;
        if (rest >= 56) {
                sha_block(h, block);
                memset(block, 0, sizeof(block));
        }
        for (int k = 0; k < 8; k++)
                block[63 - k] = (unsigned char)(bits >> (8 * k));
        sha_block(h, block);
        for (int k = 0; k < 32; k++)
                dig[k] = (unsigned char)(h[k / 4] >> (24 - 8 * (k % 4)));
        dig[32] = 0;
        for (int k = 0, o = 0; k < 33; k += 3) {
                uint32_t v = (uint32_t)dig[k] << 16 | (uint32_t)(k + 1 < 32 ? dig[k + 1] : 0) << 8 |
                             (k + 2 < 32 ? dig[k + 2] : 0);
                out[o++] = b64[v >> 18 & 63];
                out[o++] = b64[v >> 12 & 63];
                out[o++] = k + 1 < 32 ? b64[v >> 6 & 63] : '=';
                out[o++] = k + 2 < 32 ? b64[v & 63] : '=';
                out[o] = '\0';
        }
}

/* Replaces the one occurrence of marker in *b by with. */
static void substitute(struct buf *b, const char *marker, const char *with, size_t with_len) {
        const char *at = strstr(b->s, marker);
        struct buf out = {NULL, 0};

        if (!at || strstr(at + 1, marker))
                die("the template must hold %s exactly once", marker);
        put(&out, b->s, (size_t)(at - b->s));
        put(&out, with, with_len);
        put(&out, at + strlen(marker), b->len - (size_t)(at - b->s) - strlen(marker));
        free(b->s);
        *b = out;
}

static void emit(FILE *f, const char *name, const char *s, size_t n) {
        fprintf(f, "const char %s[] = {", name);
        for (size_t i = 0; i < n; i++)
                fprintf(f, "%s%d,", i % 24 == 0 ? "\n" : "", (int)(signed char)s[i]);
        fprintf(f, "\n0};\nconst size_t %s_len = %zu;\n", name, n);
}

int main(int argc, char **argv) {
        static const char head[] = "'use strict';\n(function () {\n", tail[] = "})();\n";
        struct buf html, css, js = {NULL, 0};
        char css_sha[45], js_sha[45];
        const char *data;
        FILE *f;

        if (argc < 5)
                die("%s", "usage: embed OUT.c report.html report.css A.js [B.js...]");
        html = slurp(argv[2]);
        css = slurp(argv[3]);
        if (find_ci(&css, "</style"))
                die("%s holds </style", argv[3]);
        put(&js, head, strlen(head));
        for (int i = 4; i < argc; i++) {
                struct buf part = slurp(argv[i]);

                if (find_ci(&part, "</script") || find_ci(&part, "<!--"))
                        die("%s holds </script or <!--", argv[i]);
                put(&js, part.s, part.len);
                free(part.s);
        }
        put(&js, tail, strlen(tail));
        sha256_b64(css.s, css.len, css_sha);
        sha256_b64(js.s, js.len, js_sha);
        substitute(&html, "@@CSS_SHA256@@", css_sha, strlen(css_sha));
        substitute(&html, "@@JS_SHA256@@", js_sha, strlen(js_sha));
        substitute(&html, "@@CSS@@", css.s, css.len);
        substitute(&html, "@@JS@@", js.s, js.len);
        data = strstr(html.s, "@@DATA@@");
        if (!data || strstr(data + 1, "@@DATA@@"))
                die("%s must hold @@DATA@@ exactly once", argv[2]);

        f = fopen(argv[1], "w");
        if (!f)
                die("cannot create %s", argv[1]);
        fprintf(f, "/* Generated from agent/report/ by agent/report/embed.c: do not edit. */\n"
                   "#include \"agent/report_tpl.h\"\n\n");
        emit(f, "report_page_head", html.s, (size_t)(data - html.s));
        emit(f, "report_page_tail", data + 8, html.len - (size_t)(data - html.s) - 8);
        if (fclose(f) != 0)
                die("cannot write %s", argv[1]);
        free(html.s);
        free(css.s);
        free(js.s);
        return 0;
}
