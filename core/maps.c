#include "core/maps.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"

/* Header-only, so that the checksum needs no link flag and can be inlined. */
#define XXH_INLINE_ALL
#include <xxhash.h>

/* A small process's maps (a few dozen lines) fit in a buffer of this size;
 * bigger ones grow it by doubling, on their first read.  Small, because an
 * agent holds two per target and may hold thousands of targets. */
#define MAPS_TEXT_MIN_CAP ((size_t)4 * 1024)
#define MAPS_REGIONS_MIN_CAP ((size_t)64)

/* The parser runs once per line of every sample, and at -O0 (Bazel's
 * fastbuild) a plain static inline is still a call; forcing the inlining keeps
 * the per-line cost down to the work itself. */
#define MAPS_INLINE static inline __attribute__((always_inline))

/* Value + 1 of each hex digit, 0 for anything else, so one table load both
 * tests and converts a character. */
static const unsigned char hex_value[256] = {
    ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,  ['6'] = 7,  ['7'] = 8,
    ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
    ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

void maps_snapshot_init(struct maps_snapshot *s) {
        memset(s, 0, sizeof(*s));
}

void maps_snapshot_fini(struct maps_snapshot *s) {
        mm_free(s->text);
        mm_free(s->regions);
        maps_snapshot_init(s);
}

void maps_snapshot_release(struct maps_snapshot *s, size_t keep) {
        if (s->cap + s->regions_cap * sizeof(*s->regions) <= keep)
                maps_snapshot_fini(s);
}

void maps_snapshot_swap(struct maps_snapshot *a, struct maps_snapshot *b) {
        struct maps_snapshot t = *a;

        *a = *b;
        *b = t;
}

/* Makes room for at least need bytes of text, keeping the current contents.
 * The capacity doubles so that a target whose maps keep growing costs a
 * logarithmic number of reallocations. */
static int text_reserve(struct maps_snapshot *s, size_t need) {
        size_t cap = s->cap ? s->cap : MAPS_TEXT_MIN_CAP;
        char *text;

        if (need <= s->cap)
                return 0;
        while (cap < need) {
                if (cap > SIZE_MAX / 2)
                        return -ENOMEM;
                cap *= 2;
        }
        text = mm_realloc(s->text, cap);
        if (!text)
                return -ENOMEM;
        s->text = text;
        s->cap = cap;
        return 0;
}

static int regions_reserve(struct maps_snapshot *s, size_t need) {
        size_t cap = s->regions_cap ? s->regions_cap : MAPS_REGIONS_MIN_CAP;
        struct region *regions;

        if (need <= s->regions_cap)
                return 0;
        while (cap < need) {
                if (cap > SIZE_MAX / 2)
                        return -ENOMEM;
                cap *= 2;
        }
        regions = mm_reallocarray(s->regions, cap, sizeof(*regions));
        if (!regions)
                return -ENOMEM;
        s->regions = regions;
        s->regions_cap = cap;
        return 0;
}

int maps_snapshot_copy(struct maps_snapshot *dst, const struct maps_snapshot *src) {
        int r;

        /* realloc keeps the old contents, so if the second reservation fails
         * dst still holds what it held, only in a larger buffer. */
        r = text_reserve(dst, src->len);
        if (r < 0)
                return r;
        r = regions_reserve(dst, src->n);
        if (r < 0)
                return r;
        if (src->len > 0)
                memcpy(dst->text, src->text, src->len);
        if (src->n > 0)
                memcpy(dst->regions, src->regions, src->n * sizeof(*src->regions));
        dst->len = src->len;
        dst->n = src->n;
        dst->checksum = src->checksum;
        return 0;
}

int maps_snapshot_set_text(struct maps_snapshot *s, const char *buf, size_t len, size_t *ret_bad_line) {
        if (len > s->cap) {
                /* A fresh buffer rather than realloc, because buf may point
                 * into the old text. */
                size_t cap = s->cap ? s->cap : MAPS_TEXT_MIN_CAP;
                char *text;

                while (cap < len) {
                        if (cap > SIZE_MAX / 2)
                                return -ENOMEM;
                        cap *= 2;
                }
                text = mm_malloc(cap);
                if (!text)
                        return -ENOMEM;
                memcpy(text, buf, len);
                mm_free(s->text);
                s->text = text;
                s->cap = cap;
        } else if (len > 0) {
                memmove(s->text, buf, len);
        }
        s->len = len;
        s->n = 0;
        return maps_parse(s, ret_bad_line);
}

int maps_open(pid_t pid) {
        char path[sizeof("/proc//maps") + 3 * sizeof(int)];
        int k, fd;

        if (pid <= 0)
                return -EINVAL;
        k = snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
        if (k < 0 || (size_t)k >= sizeof(path))
                return -EINVAL;
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT || errno == ESRCH ? -ESRCH : -errno;
        return fd;
}

/* pread that retries EINTR.  Returns the byte count or -errno. */
static ssize_t pread_retry(int fd, void *buf, size_t count, size_t off) {
        ssize_t k;

        do
                k = pread(fd, buf, count, (off_t)off);
        while (k < 0 && errno == EINTR);
        return k < 0 ? -errno : k;
}

/* Reads the first field of /proc/PID/statm (the size of the address space
 * in pages) from fd.  Returns 0 or -errno. */
static int statm_pages(int fd, uint64_t *ret) {
        char buf[128];
        ssize_t k = pread_retry(fd, buf, sizeof(buf) - 1, 0);
        uint64_t v = 0;
        size_t i = 0;

        if (k < 0)
                return (int)k;
        while (i < (size_t)k && buf[i] >= '0' && buf[i] <= '9' && v <= (UINT64_MAX - 9) / 10)
                v = v * 10 + (uint64_t)(buf[i++] - '0');
        if (i == 0 || i == (size_t)k || buf[i] != ' ')
                return -EINVAL;
        *ret = v;
        return 0;
}

static void size_sample(int fd, struct maps_sizes *sz) {
        uint64_t pages = 0;

        if (fd < 0)
                return;
        /* A size of 0 is a thread that has no address space any more. */
        if (statm_pages(fd, &pages) < 0 || pages == 0) {
                sz->failed = true;
                return;
        }
        sz->samples++;
        for (size_t i = 0; i < sz->n; i++)
                if (sz->value[i] == pages)
                        return;
        if (sz->n == MAPS_SIZES_MAX) {
                sz->overflow = true;
                return;
        }
        sz->value[sz->n++] = pages;
}

/* A sized read samples the size after every this many read() calls (a call
 * returns about a page of text, so every 32 KiB or so). */
#define SIZE_SAMPLE_EVERY 8

/* Reads the text as maps_read_fd() documents; with statm_fd >= 0 the size
 * of the address space is sampled before the read, during it and at its
 * end. */
static int read_text(int fd, struct maps_snapshot *s, int statm_fd, struct maps_sizes *sz) {
        size_t len = 0, calls = 0;
        ssize_t k;
        int r;

        /* The regions describe the text about to be overwritten. */
        s->n = 0;
        r = text_reserve(s, MAPS_TEXT_MIN_CAP);
        if (r < 0)
                goto fail;
        size_sample(statm_fd, sz);
        for (;;) {
                if (len == s->cap) {
                        /* The buffer is full, which may mean the file fits
                         * exactly: one byte tells EOF apart from more data, so
                         * a maps that fits costs no allocation. */
                        char c;

                        k = pread_retry(fd, &c, 1, len);
                        if (k < 0) {
                                r = (int)k;
                                goto fail;
                        }
                        if (k == 0)
                                break;
                        r = text_reserve(s, len + 1);
                        if (r < 0)
                                goto fail;
                        s->text[len++] = c;
                        continue;
                }
                k = pread_retry(fd, s->text + len, s->cap - len, len);
                if (k < 0) {
                        r = (int)k;
                        goto fail;
                }
                if (k == 0)
                        break;
                len += (size_t)k;
                if (statm_fd >= 0 && ++calls % SIZE_SAMPLE_EVERY == 0)
                        size_sample(statm_fd, sz);
        }
        size_sample(statm_fd, sz);
        s->len = len;
        return 0;

fail:
        /* Part of the text may have been overwritten: leave no stale half. */
        s->len = 0;
        return r;
}

int maps_read_fd(int fd, struct maps_snapshot *s) {
        return read_text(fd, s, -1, NULL);
}

int maps_read_fd_sized(int fd, int statm_fd, struct maps_snapshot *s, struct maps_sizes *ret) {
        struct maps_sizes sz = {0};
        int r = read_text(fd, s, statm_fd, &sz);

        if (r < 0)
                return r;
        *ret = sz;
        return 0;
}

bool maps_sizes_refute(const struct maps_sizes *sz, uint64_t pages) {
        if (sz->samples == 0 || sz->failed || sz->overflow)
                return false;
        for (size_t i = 0; i < sz->n; i++)
                if (sz->value[i] == pages)
                        return false;
        return true;
}

uint64_t maps_mapped_bytes(const struct maps_snapshot *s) {
        uint64_t sum = 0;

        for (size_t i = 0; i < s->n; i++) {
                const struct region *r = &s->regions[i];

                /* The kernel prints the vsyscall page in every x86-64
                 * process's maps, but it is no mapping of the process's own
                 * and is not in its size. */
                if (r->path_len == 10 && memcmp(s->text + r->path_off, "[vsyscall]", 10) == 0)
                        continue;
                sum += r->end - r->start;
        }
        return sum;
}

#define BYTES_ONES UINT64_C(0x0101010101010101)
#define BYTES_HIGH UINT64_C(0x8080808080808080)

/* parse_hex takes eight characters at once, which needs the first character
 * in the lowest byte of the loaded word. */
#define MAPS_SWAR (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)

/* Whether all eight bytes of w are hex digits.  Each byte is range-checked in
 * its low seven bits, so that no sum carries into the next byte, and bytes
 * with the high bit set are not ASCII at all. */
MAPS_INLINE int hex_all8(uint64_t w) {
        uint64_t b = w & ~BYTES_HIGH, lower = b | BYTES_ONES * 0x20;
        uint64_t digit = (b + BYTES_ONES * (0x80 - '0')) & ~(b + BYTES_ONES * (0x80 - '9' - 1));
        uint64_t letter = (lower + BYTES_ONES * (0x80 - 'a')) & ~(lower + BYTES_ONES * (0x80 - 'f' - 1));

        return ((digit | letter) & ~w & BYTES_HIGH) == BYTES_HIGH;
}

/* The value of the eight hex digits in w. */
MAPS_INLINE uint64_t hex_pack8(uint64_t w) {
        /* Digits have bit 6 clear and letters set: a letter's value is its
         * low nibble plus 9. */
        uint64_t x = (w & BYTES_ONES * 0x0f) + (w >> 6 & BYTES_ONES) * 9;

        x = (x << 4 | x >> 8) & UINT64_C(0x00ff00ff00ff00ff);
        x = (x << 8 | x >> 16) & UINT64_C(0x0000ffff0000ffff);
        return (x << 16 | x >> 32) & UINT64_C(0xffffffff);
}

/* Parses hex digits at *pp, at least one, into a 64-bit value.  Leading zeros
 * are allowed; a value that needs more than 64 bits is rejected. */
MAPS_INLINE int parse_hex(const char **pp, const char *e, uint64_t *ret) {
        const char *p = *pp, *first = p;
        uint64_t v = 0;
        unsigned d;

        /* The kernel prints addresses and offsets with at least eight digits.
         * Taking those in one word does in a few operations what costs the
         * byte loop a load, a test and a shift per digit. */
        if (MAPS_SWAR && e - p >= 8) {
                uint64_t w;

                memcpy(&w, p, sizeof(w));
                if (hex_all8(w)) {
                        v = hex_pack8(w);
                        p += 8;
                }
        }
        while (p < e && (d = hex_value[(unsigned char)*p]) != 0) {
                v = v << 4 | (d - 1);
                p++;
        }
        if (p == first)
                return -EINVAL;
        /* v holds the last 16 digits only, which is the value as long as the
         * digits before them are zeros. */
        if (p - first > 16)
                for (; first < p - 16; first++)
                        if (*first != '0')
                                return -EINVAL;
        *pp = p;
        *ret = v;
        return 0;
}

MAPS_INLINE int parse_dec(const char **pp, const char *e, uint64_t *ret) {
        const char *p = *pp, *first = p;
        uint64_t v = 0;

        while (p < e && (unsigned char)(*p - '0') < 10) {
                v = v * 10 + (uint64_t)(*p - '0');
                p++;
        }
        if (p == first)
                return -EINVAL;
        /* Up to 19 digits always fit in 64 bits, so only longer numbers need
         * the slow, checked conversion. */
        if (p - first > 19) {
                v = 0;
                for (; first < p; first++)
                        if (__builtin_mul_overflow(v, 10, &v) ||
                            __builtin_add_overflow(v, (uint64_t)(*first - '0'), &v))
                                return -EINVAL;
        }
        *pp = p;
        *ret = v;
        return 0;
}

/* Parses a hex field followed by the separator sep. */
MAPS_INLINE int parse_hex_sep(const char **pp, const char *e, char sep, uint64_t *ret) {
        if (parse_hex(pp, e, ret) < 0 || *pp == e || **pp != sep)
                return -EINVAL;
        (*pp)++;
        return 0;
}

/* Parses the fields of the line starting at p, up to and including the
 * padding after the inode, reading nothing at or past e.  Sets *ret_rest to
 * what follows the padding: the path, the '\n' that ends a line without one,
 * or e.  Leaves the line and path fields of *r to the caller, and may write
 * the others on failure. */
MAPS_INLINE int parse_fields(const char *p, const char *e, struct region *r, const char **ret_rest) {
        uint64_t major, minor;

        if (parse_hex_sep(&p, e, '-', &r->start) < 0 || parse_hex_sep(&p, e, ' ', &r->end) < 0)
                return -EINVAL;
        /* An empty region never comes from the kernel, and allowing one would
         * let two regions share a start, which diff matches on. */
        if (r->start >= r->end)
                return -EINVAL;

        if (e - p < 5 || (p[0] != 'r' && p[0] != '-') || (p[1] != 'w' && p[1] != '-') ||
            (p[2] != 'x' && p[2] != '-') || (p[3] != 'p' && p[3] != 's') || p[4] != ' ')
                return -EINVAL;
        memcpy(r->perms, p, 4);
        p += 5;

        if (parse_hex_sep(&p, e, ' ', &r->offset) < 0 || parse_hex_sep(&p, e, ':', &major) < 0 ||
            parse_hex_sep(&p, e, ' ', &minor) < 0 || major > UINT32_MAX || minor > UINT32_MAX)
                return -EINVAL;
        r->dev_major = (uint32_t)major;
        r->dev_minor = (uint32_t)minor;

        if (parse_dec(&p, e, &r->inode) < 0)
                return -EINVAL;
        if (p < e && *p != ' ' && *p != '\n')
                return -EINVAL;
        /* The kernel pads after the inode to a fixed column (73 on 64-bit)
         * before a path, and leaves one trailing space on lines without one.
         * A path never starts with a space (it is absolute or a [name]), so
         * all the spaces are padding.  The padding is long enough to be worth
         * skipping eight bytes at a time. */
        while (e - p >= 8) {
                uint64_t w;

                memcpy(&w, p, sizeof(w));
                if (w != UINT64_C(0x2020202020202020))
                        break;
                p += 8;
        }
        while (p < e && *p == ' ')
                p++;
        *ret_rest = p;
        return 0;
}

int maps_parse_line(const char *text, size_t off, size_t len, struct region *ret) {
        const char *p, *e, *rest;
        struct region r;

        if (off > UINT32_MAX || len > UINT32_MAX - off)
                return -EINVAL;
        p = text + off;
        e = p + len;
        /* A '\n' may end the inode in maps_parse, but has no place inside
         * a single line. */
        if (parse_fields(p, e, &r, &rest) < 0 || memchr(rest, '\n', (size_t)(e - rest)))
                return -EINVAL;
        r.line_off = (uint32_t)off;
        r.line_len = (uint32_t)len;
        r.path_off = (uint32_t)(rest - text);
        r.path_len = (uint32_t)(e - rest);
        *ret = r;
        return 0;
}

/* Parses the lines of s->text[from..to) (to just after a '\n'), appending
 * to s->regions at *n.  Returns 0 or -errno with *line the failing line. */
static int parse_span(struct maps_snapshot *s, size_t from, size_t to, size_t *n_io, uint64_t *prev_end_io,
                      size_t *line_io) {
        const char *text = s->text, *p = text + from, *end = text + to;
        uint64_t prev_end = *prev_end_io;
        size_t n = *n_io, line = *line_io;
        int r = 0;

        while (p < end) {
                const char *rest, *nl;
                struct region *reg;

                line++;
                if (n == s->regions_cap) {
                        r = regions_reserve(s, n + 1);
                        if (r < 0)
                                break;
                }
                reg = &s->regions[n];
                r = parse_fields(p, end, reg, &rest);
                if (r < 0)
                        break;
                if (rest < end && *rest == '\n')
                        nl = rest;
                else
                        nl = memchr(rest, '\n', (size_t)(end - rest));
                if (!nl || (size_t)(nl - text) > UINT32_MAX || reg->start < prev_end) {
                        r = -EINVAL;
                        break;
                }
                reg->line_off = (uint32_t)(p - text);
                reg->line_len = (uint32_t)(nl - p);
                reg->path_off = (uint32_t)(rest - text);
                reg->path_len = (uint32_t)(nl - rest);
                prev_end = reg->end;
                n++;
                p = nl + 1;
        }
        *n_io = n;
        *prev_end_io = prev_end;
        *line_io = line;
        return r;
}

int maps_parse(struct maps_snapshot *s, size_t *ret_bad_line) {
        uint64_t prev_end = 0;
        size_t n = 0, line = 0;
        int r;

        if (s->len == 0) {
                s->n = 0;
                return 0;
        }
        r = parse_span(s, 0, s->len, &n, &prev_end, &line);
        if (r < 0) {
                s->n = 0;
                if (r == -EINVAL)
                        *ret_bad_line = line;
                return r;
        }
        s->n = n;
        return 0;
}

size_t maps_common_prefix(const char *a, const char *b, size_t n) {
        size_t i = 0;

        /* Whole blocks first: memcmp is far faster than a byte loop. */
        while (n - i >= 4096 && memcmp(a + i, b + i, 4096) == 0)
                i += 4096;
        while (n - i >= 64 && memcmp(a + i, b + i, 64) == 0)
                i += 64;
        while (i < n && a[i] == b[i])
                i++;
        return i;
}

size_t maps_common_suffix(const char *a, size_t na, const char *b, size_t nb, size_t n) {
        size_t i = 0;

        while (n - i >= 4096 && memcmp(a + na - i - 4096, b + nb - i - 4096, 4096) == 0)
                i += 4096;
        while (n - i >= 64 && memcmp(a + na - i - 64, b + nb - i - 64, 64) == 0)
                i += 64;
        while (i < n && a[na - 1 - i] == b[nb - 1 - i])
                i++;
        return i;
}

int maps_parse_since(struct maps_snapshot *s, const struct maps_snapshot *prev, size_t *ret_bad_line) {
        size_t min, pre, k, lo, hi, pos, suf, first_suf, ks, mid_end, n, line;
        uint64_t prev_end;
        int r;

        if (prev->n == 0 || prev->len == 0 || s->len == 0)
                return maps_parse(s, ret_bad_line);
        min = prev->len < s->len ? prev->len : s->len;
        pre = maps_common_prefix(prev->text, s->text, min);
        /* k: prev's lines that lie wholly in the common prefix. */
        lo = 0;
        hi = prev->n;
        while (lo < hi) {
                size_t m = lo + (hi - lo) / 2;
                const struct region *rg = &prev->regions[m];

                if ((size_t)rg->line_off + rg->line_len + 1 <= pre)
                        lo = m + 1;
                else
                        hi = m;
        }
        k = lo;
        pos = k ? (size_t)prev->regions[k - 1].line_off + prev->regions[k - 1].line_len + 1 : 0;
        suf = maps_common_suffix(prev->text, prev->len, s->text, s->len, min - pos);
        /* first_suf: prev's first line that starts inside the common suffix
         * at a line start of the new text too. */
        lo = k;
        hi = prev->n;
        while (lo < hi) {
                size_t m = lo + (hi - lo) / 2;

                if (prev->regions[m].line_off >= prev->len - suf)
                        hi = m;
                else
                        lo = m + 1;
        }
        first_suf = lo;
        if (first_suf < prev->n && prev->regions[first_suf].line_off == prev->len - suf) {
                size_t at = s->len - suf;

                if (at != 0 && s->text[at - 1] != '\n')
                        first_suf++;
        }
        ks = prev->n - first_suf;
        mid_end = ks ? s->len - (prev->len - prev->regions[first_suf].line_off) : s->len;

        r = regions_reserve(s, k + ks + 64);
        if (r < 0)
                goto fail;
        if (k)
                memcpy(s->regions, prev->regions, k * sizeof(*s->regions));
        n = k;
        line = k;
        prev_end = k ? prev->regions[k - 1].end : 0;
        r = parse_span(s, pos, mid_end, &n, &prev_end, &line);
        if (r < 0)
                goto fail;
        if (ks) {
                int64_t delta = (int64_t)s->len - (int64_t)prev->len;

                if (prev->regions[first_suf].start < prev_end) {
                        /* The first reused line is the bad one. */
                        line++;
                        r = -EINVAL;
                        goto fail;
                }
                r = regions_reserve(s, n + ks);
                if (r < 0)
                        goto fail;
                for (size_t i = 0; i < ks; i++) {
                        struct region rg = prev->regions[first_suf + i];

                        rg.line_off = (uint32_t)((int64_t)rg.line_off + delta);
                        rg.path_off = (uint32_t)((int64_t)rg.path_off + delta);
                        s->regions[n + i] = rg;
                }
                n += ks;
        }
        s->n = n;
        return 0;

fail:
        s->n = 0;
        if (r == -EINVAL)
                *ret_bad_line = line;
        return r;
}

uint64_t maps_checksum(const char *text, size_t len) {
        return XXH3_64bits(text, len);
}

static int path_is(const char *p, size_t len, const char *word) {
        size_t n = strlen(word);
        return len == n && memcmp(p, word, n) == 0;
}

static int path_starts(const char *p, size_t len, const char *prefix) {
        size_t n = strlen(prefix);
        return len >= n && memcmp(p, prefix, n) == 0;
}

enum region_kind region_kind(const struct maps_snapshot *s, const struct region *r) {
        const char *p = region_path(s, r);
        size_t len = r->path_len;

        if (len == 0 || path_starts(p, len, "[anon:") || path_starts(p, len, "[anon_shmem:"))
                return REGION_ANON;
        if (p[0] != '[')
                return REGION_FILE;
        if (path_is(p, len, "[heap]"))
                return REGION_HEAP;
        if (path_is(p, len, "[stack]") || path_starts(p, len, "[stack:"))
                return REGION_STACK;
        return REGION_OTHER;
}

void maps_tally(const struct maps_snapshot *s, uint64_t ret_bytes[REGION_KINDS], uint64_t *ret_exec) {
        uint64_t exec = 0;

        for (int k = 0; k < REGION_KINDS; k++)
                ret_bytes[k] = 0;
        for (size_t i = 0; i < s->n; i++) {
                const struct region *r = &s->regions[i];
                uint64_t size = r->end - r->start;

                ret_bytes[region_kind(s, r)] += size;
                if (r->perms[2] == 'x')
                        exec += size;
        }
        *ret_exec = exec;
}
