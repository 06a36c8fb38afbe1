/*
 * alerts_fs: what the alert rules ask of the file system and of the target
 * process, behind a small table of functions so that tests can answer with
 * made-up facts; and the real answers, from /proc (struct alert_sysfs).
 *
 * Files are looked up as the target sees them: in its mount namespace,
 * under its root (/proc/PID/root) when that namespace is not the agent's,
 * since the kernel prints a mapping's path relative to the root of the
 * namespace that holds the mount.  The mapped file itself is reached by
 * identity through /proc/PID/map_files.  A path comes from the target and is
 * hostile: it is walked one component at a time, never through a symlink
 * (a symlink where the kernel printed a plain path means the path has
 * changed since), never through "." or "..", and whatever it names is only
 * ever stat()ed, except a regular file whose identity has been checked,
 * which text_mismatch reads.
 */
#ifndef MEMMON_CORE_ALERTS_FS_H
#define MEMMON_CORE_ALERTS_FS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/alerts.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The facts of a file the rules use. */
struct alert_stat {
        uint32_t dev_major, dev_minor;
        uint64_t ino;
        uint32_t mode; /* st_mode: type and permission bits */
        uint32_t uid, gid;
        uint64_t nlink;
        uint64_t size;
};

/* Every function returns 0 (or a count) on success and -errno on failure.
 * ctx is the pointer given to alert_state_new(). */
struct alert_fs_ops {
        /* An evaluation of proc starts / ends: the place to drop facts
         * that may have changed since the last one. */
        void (*begin)(void *ctx, const struct alert_proc *proc);
        void (*end)(void *ctx);
        /* The file mapped at [start, end) of proc, by identity
         * (/proc/PID/map_files/START-END).  -EPERM/-EACCES when that is not
         * allowed, -ENOENT when the mapping is gone. */
        int (*mapped_stat)(void *ctx, const struct alert_proc *proc, uint64_t start, uint64_t end,
                           struct alert_stat *ret);
        /* The file at the absolute path as proc sees it, without following
         * any symlink: -ELOOP when a folder on the way is a symlink (a
         * symlink at the end is returned as itself), -ENOENT, -ENOTDIR, or
         * -EINVAL for a path that is not absolute or holds "." or "..". */
        int (*path_stat)(void *ctx, const struct alert_proc *proc, const char *path, struct alert_stat *ret);
        /* 1 when some user other than root and uid may be in group gid (as
         * a member in proc's /etc/group or by primary group in its
         * /etc/passwd; 1 too when that cannot be told), else 0. */
        int (*group_has_others)(void *ctx, const struct alert_proc *proc, uint32_t gid, uint32_t uid);
        /* Opens for reading the regular file mapped at [start, end), which
         * the maps line says is dev:ino at path.  Returns a handle >= 0. */
        int (*open_mapped)(void *ctx, const struct alert_proc *proc, uint64_t start, uint64_t end,
                           const char *path, uint32_t dev_major, uint32_t dev_minor, uint64_t ino);
        /* pread() on a handle: the bytes read, 0 at the end of the file. */
        ssize_t (*read_file)(void *ctx, int handle, void *buf, size_t len, uint64_t off);
        void (*close_file)(void *ctx, int handle);
        /* Reads len bytes of proc's memory at addr (process_vm_readv).
         * Returns the bytes read (fewer when a page cannot be read). */
        ssize_t (*read_mem)(void *ctx, const struct alert_proc *proc, uint64_t addr, void *buf, size_t len);
};

/* The real file system and processes, from /proc. */
extern const struct alert_fs_ops alert_sysfs_ops;

struct alert_sysfs;

/* keep_cache 0: facts are dropped at every begin() (a worker, whose target
 * changes over time); 1: they are kept for the object's life (one `agent
 * scan`, where thousands of processes map the same libraries).  Cached
 * facts are per mount namespace and root.  Returns 0 or -errno. */
int alert_sysfs_new(int keep_cache, struct alert_sysfs **ret);
void alert_sysfs_free(struct alert_sysfs *fs);

#ifdef __cplusplus
}
#endif
#endif
