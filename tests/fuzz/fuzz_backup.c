/*
 * fuzz_backup: the readers of replay and verify on arbitrary files.
 *
 * The input is a chain: a full snapshot, then diffs, separated by
 * FUZZ_SEP.  Each file claims the name backup_1234_<TS>.maps or
 * diff_1234_<TS>.diff (one TS for all: the readers do not order files).
 *
 * Besides not crashing, the readers promise that a file is accepted only in
 * the canonical form the writer produces: a full snapshot that loads is
 * byte for byte what backup_write_full_captured would write for its state,
 * seq, lost count and events (in the file's format version).  And a
 * second chain, fed only canonical files built from the first chain's
 * states (a full snapshot, then the diffs diff_compute finds, with each
 * file's events), must follow it exactly, so reader and writer agree on
 * the format.
 */
#include "tests/fuzz/fuzz.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "core/backup_chain.h"
#include "core/backup_event.h"
#include "core/diff.h"
#include "core/maps.h"

#define PID 1234
#define TS "20261125T183328.123456Z"
/* A chain of more diffs than this tells nothing new, only slower. */
#define MAX_FILES 33

/* What a chain's state promises. */
static void check_state(const struct backup_chain *c) {
        const struct maps_snapshot *s = &c->cur;

        FUZZ_CHECK(c->loaded);
        FUZZ_CHECK(s->checksum == maps_checksum(s->text, s->len));
        FUZZ_CHECK(s->len == 0 || s->text[s->len - 1] == '\n');
        for (size_t i = 0; i < s->n; i++) {
                FUZZ_CHECK(s->regions[i].start < s->regions[i].end);
                FUZZ_CHECK(i == 0 || s->regions[i - 1].end <= s->regions[i].start);
        }
}

static void check_fault(int r, const struct backup_fault *f, size_t len) {
        FUZZ_CHECK(r == -EBADMSG);
        FUZZ_CHECK(memchr(f->why, '\0', sizeof(f->why)) && f->why[0] != '\0');
        /* A line number names a line of the file or the one after its end. */
        FUZZ_CHECK(f->line <= len + 1);
}

static int same_text(const struct maps_snapshot *a, const struct maps_snapshot *b) {
        return a->len == b->len && (a->len == 0 || memcmp(a->text, b->text, a->len) == 0);
}

/* The header lines every file has, in the version of the last file c
 * read, with its seq. */
static size_t format_start(const struct backup_chain *c, bool full, char *buf, size_t size) {
        int n = snprintf(buf, size,
                         "# memmon %s %u\n# target %s\n# pid %d\n# start_time %" PRIu64 "\n# time %s\n",
                         full ? "full" : "diff", c->version, c->target, (int)c->pid, c->start_time, TS);
        int m = 0;

        FUZZ_CHECK(n > 0 && (size_t)n < size);
        if (c->has_seq)
                m = snprintf(buf + n, size - (size_t)n, "# seq %" PRIu64 "\n", c->seq);
        FUZZ_CHECK(m >= 0 && (size_t)(n + m) < size);
        return (size_t)(n + m);
}

/* The lost count and the event lines of the last file c read. */
static size_t format_events(const struct backup_chain *c, char *buf, size_t size) {
        size_t len = 0;
        int n;

        if (c->lost > 0) {
                n = snprintf(buf, size, "# lost %" PRIu64 "\n", c->lost);
                FUZZ_CHECK(n > 0 && (size_t)n < size);
                len += (size_t)n;
        }
        if (c->n_events > 0) {
                n = snprintf(buf + len, size - len, "# events %zu\n", c->n_events);
                FUZZ_CHECK(n > 0 && (size_t)n < size - len);
                len += (size_t)n;
        }
        for (size_t i = 0; i < c->n_events; i++) {
                FUZZ_CHECK(size - len >= backup_event_line_max(c->events[i].path_len));
                n = backup_event_format(&c->events[i], buf + len);
                FUZZ_CHECK(n > 0);
                len += (size_t)n;
        }
        return len;
}

/* The full snapshot backup_write_full_captured writes for c's state and
 * the last file's seq and events (in that file's version). */
static size_t format_full(const struct backup_chain *c, char *buf, size_t size) {
        const struct maps_snapshot *s = &c->cur;
        size_t len = format_start(c, true, buf, size);
        int n = snprintf(buf + len, size - len, "# regions %zu\n# bytes %zu\n# checksum %016" PRIx64 "\n",
                         s->n, s->len, s->checksum);

        FUZZ_CHECK(n > 0 && (size_t)n < size - len);
        len += (size_t)n;
        len += format_events(c, buf + len, size - len);
        FUZZ_CHECK(len + s->len <= size);
        if (s->len > 0)
                memcpy(buf + len, s->text, s->len);
        return len + s->len;
}

static char *put(char *p, char kind, const struct maps_snapshot *s, const struct region *r) {
        *p++ = kind;
        *p++ = ' ';
        memcpy(p, region_line(s, r), r->line_len + 1);
        return p + r->line_len + 1;
}

/* The diff backup_write_diff_captured writes for d, which turns old into
 * cur, with the seq and events of the last file ev read. */
static size_t format_diff(const struct backup_chain *ev, const struct maps_snapshot *old,
                          const struct maps_snapshot *cur, const struct diff *d, char *buf, size_t size) {
        size_t len = format_start(ev, false, buf, size);
        int n =
            snprintf(buf + len, size - len, "# base %016" PRIx64 "\n# result %016" PRIx64 "\n# records %zu\n",
                     old->checksum, cur->checksum, d->n);
        char *p;

        FUZZ_CHECK(n > 0 && (size_t)n < size - len);
        len += (size_t)n;
        len += format_events(ev, buf + len, size - len);
        p = buf + len;
        for (size_t i = 0; i < d->n; i++) {
                const struct diff_rec *rec = &d->recs[i];

                if (rec->kind == DIFF_ADDED)
                        p = put(p, '+', cur, &cur->regions[rec->new_idx]);
                else if (rec->kind == DIFF_REMOVED)
                        p = put(p, '-', old, &old->regions[rec->old_idx]);
                else {
                        p = put(p, '<', old, &old->regions[rec->old_idx]);
                        p = put(p, '>', cur, &cur->regions[rec->new_idx]);
                }
        }
        memcpy(p, "# end\n", 6);
        p += 6;
        FUZZ_CHECK((size_t)(p - buf) <= size);
        return (size_t)(p - buf);
}

int fuzz_backup(const uint8_t *data, size_t size) {
        struct fuzz_part parts[MAX_FILES];
        struct backup_chain ch, twin;
        struct backup_fault f;
        struct diff d;
        char *buf = NULL;
        size_t nparts, cap, len;
        int r;

        backup_chain_init(&ch);
        backup_chain_init(&twin);
        diff_init(&d);
        nparts = fuzz_split(data, size, parts, MAX_FILES);

        memset(&f, 0, sizeof(f));
        r = backup_chain_apply_diff(&ch, parts[0].p, parts[0].n, PID, TS, &f);
        FUZZ_CHECK(r == -EINVAL);
        r = backup_chain_load_full(&ch, parts[0].p, parts[0].n, PID, TS, &f);
        if (r != 0) {
                check_fault(r, &f, parts[0].n);
                FUZZ_CHECK(!ch.loaded);
                goto out;
        }
        check_state(&ch);
        FUZZ_CHECK(ch.pid == PID);

        /* Headers, records and the state all come from the input, so its
         * size bounds every canonical file built from it. */
        cap = 1024 + 4 * size;
        buf = malloc(cap);
        FUZZ_CHECK(buf);
        len = format_full(&ch, buf, cap);
        FUZZ_CHECK(len == parts[0].n && memcmp(buf, parts[0].p, len) == 0);
        r = backup_chain_load_full(&twin, buf, len, PID, TS, &f);
        FUZZ_CHECK(r == 0);
        FUZZ_CHECK(same_text(&twin.cur, &ch.cur));

        for (size_t i = 1; i < nparts; i++) {
                r = backup_chain_apply_diff(&ch, parts[i].p, parts[i].n, PID, TS, &f);
                if (r != 0) {
                        check_fault(r, &f, parts[i].n);
                        /* A bad diff changes nothing: the next may apply. */
                        FUZZ_CHECK(same_text(&twin.cur, &ch.cur));
                        continue;
                }
                check_state(&ch);
                r = diff_compute(&twin.cur, &ch.cur, &d);
                FUZZ_CHECK(r >= 0);
                if (d.n == 0 && (ch.version < 2 || ch.n_events == 0)) {
                        /* The writer writes no diff without a change or an
                         * event. */
                        FUZZ_CHECK(same_text(&twin.cur, &ch.cur));
                        continue;
                }
                len = format_diff(&ch, &twin.cur, &ch.cur, &d, buf, cap);
                r = backup_chain_apply_diff(&twin, buf, len, PID, TS, &f);
                if (r != 0)
                        fprintf(stderr, "canonical diff refused: line %zu: %s\n", f.line, f.why);
                FUZZ_CHECK(r == 0);
                FUZZ_CHECK(same_text(&twin.cur, &ch.cur));
                FUZZ_CHECK(twin.cur.checksum == ch.cur.checksum);
        }
        /* A bad full snapshot leaves a loaded chain as it was too. */
        if (nparts > 1 && backup_chain_load_full(&ch, parts[1].p, parts[1].n, PID, TS, &f) != 0) {
                FUZZ_CHECK(ch.loaded && same_text(&twin.cur, &ch.cur));
                FUZZ_CHECK(strcmp(ch.target, twin.target) == 0 && ch.start_time == twin.start_time);
        }
out:
        free(buf);
        diff_fini(&d);
        backup_chain_fini(&twin);
        backup_chain_fini(&ch);
        return 0;
}

#ifdef MEMMON_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        return fuzz_backup(data, size);
}
#endif
