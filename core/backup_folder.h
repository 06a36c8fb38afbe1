/*
 * backup_folder: reading one target's folder (full/ and incremental/) and
 * the target folders of a root, shared by the readers: replay, verify,
 * walk and events (backup_read.c) and retention (backup_retention.c).
 * Internal to core/: the public readers are in backup_read.h.
 */
#ifndef MEMMON_CORE_BACKUP_FOLDER_H
#define MEMMON_CORE_BACKUP_FOLDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/backup_chain.h"
#include "core/backup_read.h"
#include "core/ts.h"

/* One backup file found in full/ or incremental/. */
struct entry {
        char name[BACKUP_NAME_SIZE];
        char ts[TS_SIZE];
        pid_t pid;
        bool full;
        uint64_t size;
};

struct listing {
        struct entry *v;
        size_t n;
        size_t cap;
};

/* Reading state shared by replay and verify: the chain, and the file being
 * read, whose buffer is reused from file to file. */
struct rctx {
        char *file;
        size_t file_cap;
        struct backup_chain chain;
};

struct reporter {
        backup_report_fn fn;
        void *user;
};

/* One target's folder opened for reading: its full/ and incremental/
 * folders (-1 when missing) and their backup files in time order.  Replay
 * and verify both walk a target's folder through this. */
struct folder {
        int full_fd;
        int incr_fd;
        struct listing l;
};

void bf_reportf(const struct reporter *rp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "DIR/SUB/NAME: line N: WHY" (or without the line) and tail, to rp. */
void bf_report_fault(const struct reporter *rp, const char *dir, const char *sub, const char *name,
                     const struct backup_fault *f, const char *tail);
void bf_rctx_init(struct rctx *x);
void bf_rctx_fini(struct rctx *x);
/* Lists full/ and incremental/ in time order (up to not_after, when it is
 * not NULL; with sizes when sizes).  Returns 0 or -errno. */
int bf_list_chains(int full_fd, int incr_fd, bool sizes, const char *not_after, struct listing *l);
/* The end of the group starting at i: a full snapshot and its diffs, or the
 * diffs before the first full snapshot. */
size_t bf_group_end(const struct listing *l, size_t i);
void bf_folder_close(struct folder *fo);
/* Opens the target folder dfd refers to.  Returns 0 or -errno; on failure
 * *fo is closed. */
int bf_folder_open(int dfd, struct folder *fo);
/* Opens the target folder at path: *ret_dfd and *fo, both closed by the
 * caller whatever is returned.  Returns 0 or -errno. */
int bf_folder_open_path(const char *path, int *ret_dfd, struct folder *fo);
/* Reads the file of entry e of the folder fo: a full snapshot starts x's
 * chain, a diff is applied to it.  Returns 0, -EBADMSG with *f set, or
 * -ENOMEM. */
int bf_read_entry(struct rctx *x, const struct folder *fo, const struct entry *e, struct backup_fault *f);
/* True when dfd holds full/ or incremental/. */
bool bf_is_target_dir(int dfd);

/* Called by bf_walk_targets() for each target folder of a root: its name, its
 * path (root/name) and an fd on it (closed after the call), or -errno
 * when it could not be opened.  Returns 0 to go on, or -errno to stop. */
typedef int (*bf_target_fn)(void *user, const char *name, const char *path, int fd);

/* Walks the target folders of the root dfd (named dir): the subfolders that
 * hold full/ or incremental/, in name order.  Returns how many were
 * visited, or -errno (also what fn returned to stop). */
int bf_walk_targets(int dfd, const char *dir, bf_target_fn fn, void *user);

#endif
