/*
 * alerts_int: what core/alerts*.c share and nobody else needs (the unit
 * tests aside): the kinds of mapping paths, the file checks and the code
 * comparison.
 */
#ifndef MEMMON_CORE_ALERTS_INT_H
#define MEMMON_CORE_ALERTS_INT_H

#include <stddef.h>
#include <stdint.h>

#include "core/alerts.h"
#include "core/alerts_fs.h"
#include "core/maps.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Room for a maps path: the kernel prints at most a page of it. */
#define ALERTS_PATH_MAX 4352
#define ALERTS_REASON_MAX 640

enum alert_path_kind {
        ALERT_PATH_ANON,    /* no file: "", [heap], [stack], [anon:...], /dev/zero, anon_inode:... */
        ALERT_PATH_SPECIAL, /* [vdso], [vsyscall], [uprobes], [vectors]: the kernel's own */
        ALERT_PATH_SHM,     /* /memfd:..., /dev/shm/..., /SYSV%08x (deleted) */
        ALERT_PATH_FILE,    /* any other absolute path */
};

/* What kind of thing a maps path (as printed, without '\n') names. */
enum alert_path_kind alerts_path_kind(const char *path, size_t len);

/* 1 when the printed path ends in " (deleted)". */
int alerts_path_deleted(const char *path, size_t len);

/* Judges the file behind the executable file mapping r of snap: deleted or
 * replaced on disk (when want_deleted), else writable by another user (when
 * want_writable).  Returns ALERT_DELETED_EXEC or ALERT_WRITABLE_EXEC_FILE
 * with reason[] filled, or ALERT_RULE_COUNT when neither fires (or the facts
 * could not be had: no alert on a guess). */
enum alert_rule alerts_file_check(const struct alert_fs_ops *ops, void *ctx, const struct alert_proc *proc,
                                  const struct maps_snapshot *snap, const struct region *r, int want_deleted,
                                  int want_writable, char *reason, size_t reason_size);

/* Buffers of one code comparison, allocated per check. */
struct alerts_text_bufs {
        unsigned char *mem;
        unsigned char *file;
        size_t size; /* of each, a multiple of the page size */
};

/* Compares the code of r (an executable file mapping of snap) from address
 * `from` on with its file, at most budget bytes.  *ret_used gets the bytes
 * compared (or skipped as unreadable) and *ret_next the address to go on
 * from (r->end when the region is done).  Returns 1 when code differs
 * (reason[] names the pages), 0 when it does not or cannot be compared. */
int alerts_text_compare(const struct alert_fs_ops *ops, void *ctx, const struct alert_proc *proc,
                        const struct maps_snapshot *snap, const struct region *r, uint64_t from,
                        uint64_t budget, struct alerts_text_bufs *bufs, uint64_t *ret_used,
                        uint64_t *ret_next, char *reason, size_t reason_size);

#ifdef __cplusplus
}
#endif
#endif
