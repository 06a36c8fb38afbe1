/*
 * fuzz_maps: the maps parser on arbitrary bytes.
 *
 * maps_parse is fast (eight hex digits per word, padding skipped a word at
 * a time), so it is checked against a reference parser written as plainly
 * as the format allows: both must accept the same texts, name the same bad
 * line and find the same fields.  maps_parse_since, which reuses the
 * regions of the unchanged head and tail of an earlier text, must give what
 * maps_parse gives.  Parsed texts are diffed against each other, both ways,
 * and the records applied by hand must rebuild the other text byte for
 * byte.
 *
 * The input is a maps text A, optionally followed by FUZZ_SEP and a second
 * text.  Besides that one, A is compared with a copy with lines dropped and
 * permissions flipped (always valid) and a copy with one byte changed.
 */
#include "tests/fuzz/fuzz.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "core/diff.h"
#include "core/maps.h"

/* Inputs past this many lines only slow the reference down. */
#define MAX_LINES 4096

static int hex_digit(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* At least one hex digit; any number of them as long as the value fits. */
static bool ref_hex(const char **pp, const char *e, uint64_t *ret) {
        const char *p = *pp;
        uint64_t v = 0;
        int d;

        if (p == e || hex_digit(*p) < 0)
                return false;
        for (; p < e && (d = hex_digit(*p)) >= 0; p++) {
                if (v >> 60)
                        return false;
                v = v << 4 | (uint64_t)d;
        }
        *pp = p;
        *ret = v;
        return true;
}

static bool ref_dec(const char **pp, const char *e, uint64_t *ret) {
        const char *p = *pp;
        uint64_t v = 0;

        if (p == e || *p < '0' || *p > '9')
                return false;
        for (; p < e && *p >= '0' && *p <= '9'; p++) {
                uint64_t d = (uint64_t)(*p - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return false;
                v = v * 10 + d;
        }
        *pp = p;
        *ret = v;
        return true;
}

static bool ref_char(const char **pp, const char *e, char c) {
        if (*pp == e || **pp != c)
                return false;
        (*pp)++;
        return true;
}

/* One line of text[off, off + len), without its '\n':
 * START-END PERMS OFFSET MAJOR:MINOR INODE [spaces PATH]. */
static bool ref_line(const char *text, size_t off, size_t len, struct region *r) {
        const char *p = text + off, *e = p + len;
        uint64_t major, minor;

        memset(r, 0, sizeof(*r));
        if (!ref_hex(&p, e, &r->start) || !ref_char(&p, e, '-') || !ref_hex(&p, e, &r->end) ||
            !ref_char(&p, e, ' ') || r->start >= r->end)
                return false;
        if (e - p < 5 || (p[0] != 'r' && p[0] != '-') || (p[1] != 'w' && p[1] != '-') ||
            (p[2] != 'x' && p[2] != '-') || (p[3] != 'p' && p[3] != 's') || p[4] != ' ')
                return false;
        memcpy(r->perms, p, 4);
        p += 5;
        if (!ref_hex(&p, e, &r->offset) || !ref_char(&p, e, ' ') || !ref_hex(&p, e, &major) ||
            !ref_char(&p, e, ':') || !ref_hex(&p, e, &minor) || !ref_char(&p, e, ' ') || major > UINT32_MAX ||
            minor > UINT32_MAX || !ref_dec(&p, e, &r->inode))
                return false;
        r->dev_major = (uint32_t)major;
        r->dev_minor = (uint32_t)minor;
        if (p < e && *p != ' ')
                return false;
        while (p < e && *p == ' ')
                p++;
        r->line_off = (uint32_t)off;
        r->line_len = (uint32_t)len;
        r->path_off = (uint32_t)(p - text);
        r->path_len = (uint32_t)(e - p);
        return true;
}

/* The whole text: every line ends in '\n', starts ascend without overlap.
 * Returns the number of regions, or -1 with *bad set to the bad line. */
static long ref_parse(const char *text, size_t len, struct region *v, size_t *bad) {
        size_t pos = 0, n = 0;
        uint64_t prev_end = 0;

        while (pos < len) {
                const char *nl = memchr(text + pos, '\n', len - pos);
                struct region r;

                if (!nl || !ref_line(text, pos, (size_t)(nl - text) - pos, &r) || r.start < prev_end) {
                        *bad = n + 1;
                        return -1;
                }
                v[n++] = r;
                prev_end = r.end;
                pos = (size_t)(nl - text) + 1;
        }
        return (long)n;
}

static bool same_region(const struct region *a, const struct region *b) {
        return a->start == b->start && a->end == b->end && a->offset == b->offset && a->inode == b->inode &&
               a->dev_major == b->dev_major && a->dev_minor == b->dev_minor &&
               memcmp(a->perms, b->perms, 4) == 0 && a->line_off == b->line_off &&
               a->line_len == b->line_len && a->path_off == b->path_off && a->path_len == b->path_len;
}

/* What a parsed snapshot promises about itself. */
static void check_snapshot(const struct maps_snapshot *s) {
        size_t pos = 0;

        for (size_t i = 0; i < s->n; i++) {
                const struct region *r = &s->regions[i];
                struct region again;

                FUZZ_CHECK(r->line_off == pos);
                FUZZ_CHECK((size_t)r->line_off + r->line_len < s->len);
                FUZZ_CHECK(s->text[r->line_off + r->line_len] == '\n');
                FUZZ_CHECK(!memchr(region_line(s, r), '\n', r->line_len));
                FUZZ_CHECK(r->path_off >= r->line_off &&
                           r->path_off + r->path_len == r->line_off + r->line_len);
                FUZZ_CHECK(r->start < r->end);
                FUZZ_CHECK(i == 0 || s->regions[i - 1].end <= r->start);
                /* A line parses alone to the same region, and not with its
                 * '\n'. */
                FUZZ_CHECK(maps_parse_line(s->text, r->line_off, r->line_len, &again) == 0);
                FUZZ_CHECK(same_region(r, &again));
                FUZZ_CHECK(maps_parse_line(s->text, r->line_off, r->line_len + 1, &again) == -EINVAL);
                pos = (size_t)r->line_off + r->line_len + 1;
        }
        FUZZ_CHECK(pos == s->len);
}

/* Rebuilds cur's text from old and the records, as a reader of a diff file
 * would, and compares. */
static void check_diff(const struct maps_snapshot *old, const struct maps_snapshot *cur, const struct diff *d,
                       char *buf) {
        size_t i = 0, len = 0, added = 0, removed = 0, changed = 0;
        uint64_t prev_start = 0;

        for (size_t k = 0; k < d->n; k++) {
                const struct diff_rec *rec = &d->recs[k];
                const struct region *ro = NULL, *rn = NULL;
                uint64_t start;

                switch (rec->kind) {
                case DIFF_ADDED:
                        FUZZ_CHECK(rec->new_idx < cur->n);
                        rn = &cur->regions[rec->new_idx];
                        added++;
                        break;
                case DIFF_REMOVED:
                        FUZZ_CHECK(rec->old_idx < old->n);
                        ro = &old->regions[rec->old_idx];
                        removed++;
                        break;
                case DIFF_CHANGED:
                        FUZZ_CHECK(rec->old_idx < old->n && rec->new_idx < cur->n);
                        ro = &old->regions[rec->old_idx];
                        rn = &cur->regions[rec->new_idx];
                        FUZZ_CHECK(ro->start == rn->start);
                        FUZZ_CHECK(ro->line_len != rn->line_len ||
                                   memcmp(region_line(old, ro), region_line(cur, rn), ro->line_len) != 0);
                        changed++;
                        break;
                default:
                        FUZZ_CHECK(!"unknown record kind");
                }
                start = ro ? ro->start : rn->start;
                FUZZ_CHECK(k == 0 || start > prev_start);
                prev_start = start;
                /* Unchanged regions before this record stay. */
                while (i < old->n && old->regions[i].start < start) {
                        const struct region *r = &old->regions[i++];
                        memcpy(buf + len, region_line(old, r), r->line_len + 1);
                        len += r->line_len + 1;
                }
                if (ro) {
                        FUZZ_CHECK(i == rec->old_idx);
                        i++;
                }
                if (rn) {
                        memcpy(buf + len, region_line(cur, rn), rn->line_len + 1);
                        len += rn->line_len + 1;
                }
        }
        for (; i < old->n; i++) {
                const struct region *r = &old->regions[i];
                memcpy(buf + len, region_line(old, r), r->line_len + 1);
                len += r->line_len + 1;
        }
        FUZZ_CHECK(added == d->added && removed == d->removed && changed == d->changed);
        FUZZ_CHECK(len == cur->len && (len == 0 || memcmp(buf, cur->text, len) == 0));
}

/* Parses text with maps_parse and the reference; both must agree.  Leaves
 * the parse in *s and returns its result. */
static int check_full(struct maps_snapshot *s, const char *text, size_t len) {
        struct region *ref;
        size_t bad = 0, ref_bad = 0, lines = 0;
        long n;
        int r;

        for (size_t i = 0; i < len; i++)
                lines += text[i] == '\n';
        ref = calloc(lines + 1, sizeof(*ref));
        FUZZ_CHECK(ref);
        r = maps_snapshot_set_text(s, text, len, &bad);
        n = ref_parse(text, len, ref, &ref_bad);
        FUZZ_CHECK(r == 0 || r == -EINVAL);
        FUZZ_CHECK((r == 0) == (n >= 0));
        if (r < 0) {
                FUZZ_CHECK(bad == ref_bad);
                FUZZ_CHECK(s->n == 0);
        } else {
                FUZZ_CHECK(s->len == len && (len == 0 || memcmp(s->text, text, len) == 0));
                FUZZ_CHECK(s->n == (size_t)n);
                for (size_t i = 0; i < s->n; i++)
                        FUZZ_CHECK(same_region(&s->regions[i], &ref[i]));
                check_snapshot(s);
        }
        free(ref);
        return r;
}

/* maps_parse_since(text, prev) must give what maps_parse gives: full. */
static void check_since(const struct maps_snapshot *prev, const struct maps_snapshot *full, int full_r,
                        size_t full_bad, const char *text, size_t len) {
        struct maps_snapshot s;
        size_t bad = 0, pre, suf, min;
        int r;

        min = prev->len < len ? prev->len : len;
        pre = maps_common_prefix(prev->text, text, min);
        FUZZ_CHECK(pre <= min && (pre == min || prev->text[pre] != text[pre]));
        FUZZ_CHECK(pre == 0 || memcmp(prev->text, text, pre) == 0);
        suf = maps_common_suffix(prev->text, prev->len, text, len, min);
        FUZZ_CHECK(suf <= min && (suf == min || prev->text[prev->len - 1 - suf] != text[len - 1 - suf]));
        FUZZ_CHECK(suf == 0 || memcmp(prev->text + prev->len - suf, text + len - suf, suf) == 0);

        maps_snapshot_init(&s);
        /* The text goes in through a full parse; the regions it leaves are
         * then spoilt so that none can pass for the incremental parse's. */
        (void)maps_snapshot_set_text(&s, text, len, &bad);
        if (s.regions_cap > 0)
                memset(s.regions, 0xa5, s.regions_cap * sizeof(*s.regions));
        s.n = 0;
        bad = 0;
        r = maps_parse_since(&s, prev, &bad);
        FUZZ_CHECK(r == full_r);
        if (r < 0) {
                FUZZ_CHECK(bad == full_bad);
                FUZZ_CHECK(s.n == 0);
        } else {
                FUZZ_CHECK(s.n == full->n);
                for (size_t i = 0; i < s.n; i++)
                        FUZZ_CHECK(same_region(&s.regions[i], &full->regions[i]));
        }
        maps_snapshot_fini(&s);
}

/* Checks text against prev (a valid parse): the incremental parse, and the
 * diffs both ways when the text is valid too. */
static void check_pair(const struct maps_snapshot *prev, const char *text, size_t len, struct diff *d) {
        struct maps_snapshot cur;
        size_t bad = 0;
        char *buf;
        int r;

        maps_snapshot_init(&cur);
        r = check_full(&cur, text, len);
        if (r < 0)
                (void)maps_snapshot_set_text(&cur, text, len, &bad);
        check_since(prev, &cur, r, bad, text, len);
        if (r == 0) {
                buf = malloc(prev->len + cur.len + 1);
                FUZZ_CHECK(buf);
                r = diff_compute(prev, &cur, d);
                FUZZ_CHECK(r >= 0 && (size_t)r == d->n);
                check_diff(prev, &cur, d, buf);
                r = diff_compute(&cur, prev, d);
                FUZZ_CHECK(r >= 0 && (size_t)r == d->n);
                check_diff(&cur, prev, d, buf);
                free(buf);
        }
        maps_snapshot_fini(&cur);
}

int fuzz_maps(const uint8_t *data, size_t size) {
        struct fuzz_part parts[2];
        struct maps_snapshot a;
        struct diff d;
        char *text = NULL;
        size_t blen = 0, lines = 0, nparts;
        uint64_t mask;
        int r;

        maps_snapshot_init(&a);
        diff_init(&d);
        nparts = fuzz_split(data, size, parts, 2);
        for (size_t i = 0; i < size; i++)
                lines += data[i] == '\n';
        if (lines > MAX_LINES)
                goto out;

        r = check_full(&a, parts[0].p, parts[0].n);
        if (r < 0)
                goto out;
        r = diff_compute(&a, &a, &d);
        FUZZ_CHECK(r == 0 && d.n == 0);
        if (nparts > 1)
                check_pair(&a, parts[1].p, parts[1].n, &d);

        /* The copy: some lines dropped, some with 'r' and '-' swapped, which
         * keeps it valid; which ones follows from the input. */
        mask = maps_checksum(parts[0].p, parts[0].n);
        text = malloc(a.len + 1);
        FUZZ_CHECK(text);
        for (size_t i = 0; i < a.n; i++) {
                const struct region *reg = &a.regions[i];
                unsigned bit = (unsigned)(2 * i % 64);
                char *perms;

                if (mask >> bit & 1)
                        continue;
                memcpy(text + blen, region_line(&a, reg), reg->line_len + 1);
                if (mask >> (bit + 1) & 1) {
                        perms = (char *)memchr(text + blen, ' ', reg->line_len) + 1;
                        *perms = *perms == 'r' ? '-' : 'r';
                }
                blen += reg->line_len + 1;
        }
        check_pair(&a, text, blen, &d);

        /* And one byte changed, which may well break its line. */
        if (a.len > 0) {
                memcpy(text, a.text, a.len);
                text[mask % a.len] = (char)(mask >> 56);
                check_pair(&a, text, a.len, &d);
        }
out:
        free(text);
        diff_fini(&d);
        maps_snapshot_fini(&a);
        return 0;
}

#ifdef MEMMON_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        return fuzz_maps(data, size);
}
#endif
