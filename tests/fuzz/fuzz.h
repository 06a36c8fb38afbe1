/*
 * The fuzz targets' entry functions, one per reader of hostile input.
 *
 * Each takes arbitrary bytes, drives the real code with them and checks what
 * the code promises; a broken promise aborts with a message on stderr.  They
 * are called by libFuzzer (tests/fuzz/run.sh builds each file with
 * -DMEMMON_LIBFUZZER, which adds LLVMFuzzerTestOneInput) and by
 * tests/fuzz_regress_test.cc, which replays the inputs of tests/fuzz/regress/.
 * Each returns 0.
 */
#ifndef MEMMON_TESTS_FUZZ_FUZZ_H
#define MEMMON_TESTS_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* maps_parse (through maps_snapshot_set_text) against a plain reference
 * parser, maps_parse_since against maps_parse, and diff_compute, on a maps
 * text, optionally followed by FUZZ_SEP and a second text. */
int fuzz_maps(const uint8_t *data, size_t size);

/* backup_chain_load_full and backup_chain_apply_diff, the readers of replay
 * and verify, on a full snapshot and diffs separated by "\n#---\n". */
int fuzz_backup(const uint8_t *data, size_t size);

/* config_load on a main file and an optional included file separated by
 * "\n#---\n", written to a private folder under /dev/shm.  Needs the link
 * option -Wl,--wrap=glob, which keeps includes inside that folder. */
int fuzz_config(const uint8_t *data, size_t size);

/* command_execute on each line of the input with a supervisor of zero, one
 * or two workers that have no thread and no process. */
int fuzz_command(const uint8_t *data, size_t size);

/* json_append_string, json_obj_* and json_decode_string on arbitrary bytes
 * as a path: the line parses as strict JSON (json_check.h) and decodes back
 * to the same bytes; textesc_append leaves no control byte. */
int fuzz_json(const uint8_t *data, size_t size);

/* The separator of the files of one input, for the targets that read
 * several: a line no valid file holds. */
#define FUZZ_SEP "\n#---\n"

struct fuzz_part {
        const char *p;
        size_t n;
};

/* Splits data at each FUZZ_SEP into at most max parts (the last takes the
 * rest).  A part keeps the '\n' that begins the separator after it, so that
 * its last line is whole.  Returns the number of parts, at least 1. */
static inline size_t fuzz_split(const uint8_t *data, size_t size, struct fuzz_part *parts, size_t max) {
        const char *p = data ? (const char *)data : "", *end = p + (data ? size : 0);
        size_t n = 0;

        while (n + 1 < max) {
                const char *sep = (const char *)memmem(p, (size_t)(end - p), FUZZ_SEP, 6);

                if (!sep)
                        break;
                parts[n].p = p;
                parts[n].n = (size_t)(sep + 1 - p);
                n++;
                p = sep + 6;
        }
        parts[n].p = p;
        parts[n].n = (size_t)(end - p);
        return n + 1;
}

/* Aborts when a promise is broken; a crash is what libFuzzer reports. */
#define FUZZ_CHECK(cond)                                                                                     \
        do {                                                                                                 \
                if (!(cond)) {                                                                               \
                        fprintf(stderr, "%s:%d: broken promise: %s\n", __FILE__, __LINE__, #cond);           \
                        abort();                                                                             \
                }                                                                                            \
        } while (0)

#ifdef __cplusplus
}
#endif
#endif
