/*
 * fs: the file-system calls memmon makes on its own folders (the base
 * directory, logs/, backups/): opening and creating files and folders under
 * a folder fd, writing whole buffers, atomic replacement, directory streams.
 *
 * Every function takes a folder fd and a name under it, openat(2)-style
 * (AT_FDCWD names the current directory), so that a caller holds the folder
 * it trusts and everything it opens is named relative to it.
 *
 * One door: every file or folder memmon opens under its base directory is
 * opened by fs_open_at(), fs_open_dir_at() or fs_make_dir_at().  Today they
 * refuse a symlink at the last component (O_NOFOLLOW).  This is where
 * resolving a whole path beneath the base directory belongs (openat2 with
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS, and an
 * O_NOFOLLOW walk where openat2 is missing), so that no caller has to change
 * when it comes.
 *
 * Every fd returned is O_CLOEXEC.  Functions return 0 (or an fd) on success
 * and -errno on failure, and never log.
 */
#ifndef MEMMON_CORE_FS_H
#define MEMMON_CORE_FS_H

#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Names that fs_write_atomic() writes before renaming start with this;
 * whatever a crash leaves under such a name is garbage. */
#define FS_TMP_PREFIX ".tmp."

/* Opens the file name under dfd with flags (O_CLOEXEC, O_NOCTTY and
 * O_NOFOLLOW are always added) and, with O_CREAT, mode.  Returns the fd or
 * -errno (-ELOOP: name is a symlink). */
int fs_open_at(int dfd, const char *name, int flags, mode_t mode);

/* Opens the folder name under dfd, not following a symlink at name.
 * Returns the fd or -errno (-ENOENT when it is missing, -ENOTDIR when it is
 * not a folder or is a symlink). */
int fs_open_dir_at(int dfd, const char *name);

/* Opens the folder name under dfd, creating it (0700, whatever the umask)
 * when it is missing.  With nofollow a symlink at name is refused with
 * -ELOOP.  Returns 0 with *ret_fd set, or -errno. */
int fs_make_dir_at(int dfd, const char *name, bool nofollow, int *ret_fd);

/* mkdir -p: opens path (relative to the current directory unless
 * absolute), creating every missing folder on the way as fs_make_dir_at()
 * does; the last component must not be a symlink.  Returns 0 with *ret_fd
 * set, or -errno. */
int fs_make_dirs(const char *path, int *ret_fd);

/* Writes all of buf, going on after EINTR and short writes.  A write() that
 * writes nothing is an error (-EIO), not a reason to try forever.  Returns 0
 * or -errno. */
int fs_write_all(int fd, const void *buf, size_t len);

/* Writes buf as the file name under dfd, mode 0600, atomically: a temp file
 * (FS_TMP_PREFIX name) is written, fsync'ed and renamed to name, then the
 * folder is fsync'ed.  An existing name is never replaced (-EEXIST where the
 * file system can tell).  On failure nothing is left under either name.
 * Returns 0 or -errno. */
int fs_write_atomic(int dfd, const char *name, const void *buf, size_t len);

/* A directory stream over the folder fd refers to; fd stays the caller's
 * (closedir() closes only the stream's own fd).  Returns 0 or -errno. */
int fs_dir_stream(int fd, DIR **ret);

/* The next entry of d ("." and ".." included): returns 1 with *ret set, 0
 * at the end, or -errno. */
int fs_dir_next(DIR *d, struct dirent **ret);

/* Closes *fd when it is open and sets it to -1. */
void fs_close(int *fd);

#ifdef __cplusplus
}
#endif
#endif
