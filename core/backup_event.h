/*
 * backup_event: the event line of a backup chain (format 2), one
 * struct capture_event (core/capture_event.h) per line:
 *
 *   ! TIME SEQ OP PID/TID ADDR LEN PROT FLAGS ARG ARG2 DEV INO PATH
 *
 *   TIME   a timestamp, 20261125T183328.123456Z
 *   SEQ    decimal: the target's change counter this event set
 *   OP     mmap, munmap, mprotect, ... (capture_op_name)
 *   PID/TID decimal: the thread that held the lock
 *   ADDR, LEN, FLAGS, ARG, ARG2   lowercase hex without 0x or leading zeros
 *   PROT   "rwx" with '-' for a missing bit, then "+HEX" when bits other
 *          than read, write and exec are set ("rw-+1000000")
 *   DEV    major:minor in hex, at least two digits each, as maps prints it
 *   INO    decimal
 *   PATH   the rest of the line: "-" for none; else the path, where every
 *          byte below 0x20, 0x7f and '\' is written as '\' and three octal
 *          digits (a newline is \012), all other bytes as they are; a path
 *          cut to its tail starts with "..." (a whole path starts with '/').
 *
 * Every field has exactly one spelling, so a file is read back only in the
 * form written, and a line can be matched with plain text tools.
 */
#ifndef MEMMON_CORE_BACKUP_EVENT_H
#define MEMMON_CORE_BACKUP_EVENT_H

#include <stddef.h>

#include "core/capture_event.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bytes of the longest line (its '\n' included) of an event whose path is
 * path_len raw bytes. */
size_t backup_event_line_max(size_t path_len);

/* Writes ev's line and its '\n' at buf, which has room for
 * backup_event_line_max(ev->path_len) bytes.  Returns the line's length, or
 * -EINVAL when capture_event_check() refuses ev (nothing written). */
int backup_event_format(const struct capture_event *ev, char *buf);

/* Parses the event line l[0..n) (no '\n').  The path is unescaped into
 * path_buf, which has room for n bytes, and ret->path points there.
 * Returns 0, or -EINVAL with *ret_why saying what is wrong (a static
 * string); ret is written only on success. */
int backup_event_parse(const char *l, size_t n, struct capture_event *ret, char *path_buf,
                       const char **ret_why);

#ifdef __cplusplus
}
#endif
#endif
