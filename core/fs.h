/*
 * fs: the one door through which memmon opens anything under its base
 * directory (logs/, backups/, the FIFO, the pid file, temp files, the
 * outputs of the programs it starts), and the start-up check that the base
 * directory may be trusted at all.
 *
 * The base directory is opened once, by fs_open_base(), after every folder
 * from / down to it has been checked (as OpenSSH's StrictModes does).  From
 * then on everything is reached from that fd: a path is resolved beneath a
 * folder fd with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
 * RESOLVE_NO_MAGICLINKS), or, where the kernel has no openat2 (ENOSYS, or a
 * seccomp filter that says EPERM), by fs_walk_at(): one component at a time
 * with openat(O_NOFOLLOW).  Either way no symlink is ever followed, no ".."
 * and no absolute path is accepted (-EXDEV), and a folder swapped for a
 * symlink between two opens makes the open fail instead of redirecting it.
 *
 * A file the agent writes is opened by fs_open_own_file_at(): O_NONBLOCK (a
 * FIFO planted at its name never blocks anything) and, before anything is
 * written, checked with fstat: a regular file, owned by the effective uid,
 * with one link (not a hard link to a file elsewhere).  Folders are created
 * 0700 whatever the umask.
 *
 * Every fd returned is O_CLOEXEC.  Functions return 0 (or an fd) on success
 * and -errno on failure, and never log; where a caller needs to say why,
 * why[] gets one line.
 */
#ifndef MEMMON_CORE_FS_H
#define MEMMON_CORE_FS_H

#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Names that fs_write_atomic() writes before renaming start with this;
 * whatever a crash leaves under such a name is garbage. */
#define FS_TMP_PREFIX ".tmp."

/* Room for one why[] line of this module. */
#define FS_WHY_SIZE 512

/* Opens path beneath the folder dfd with flags (O_CLOEXEC, O_NOCTTY and
 * O_NOFOLLOW are always added) and, with O_CREAT, mode.  path is relative
 * and may have several components; none of them may be a symlink.  Returns
 * the fd or -errno: -ELOOP (a symlink on the way or at the end), -EXDEV (an
 * absolute path or a ".." component), -ENOTDIR, -ENOENT, ... */
int fs_open_at(int dfd, const char *path, int flags, mode_t mode);

/* The fallback fs_open_at() uses where openat2 is missing: the same
 * resolution, one component at a time with openat(O_NOFOLLOW), folders on
 * the way opened O_PATH.  Exported so that tests can run it on a kernel that
 * has openat2.  Returns as fs_open_at() does. */
int fs_walk_at(int dfd, const char *path, int flags, mode_t mode);

/* Opens the folder path beneath dfd.  Returns the fd or -errno (-ENOENT
 * when it is missing, -ENOTDIR when it is not a folder, -ELOOP when it or a
 * folder on the way is a symlink). */
int fs_open_dir_at(int dfd, const char *path);

/* Opens the folder path beneath dfd, creating it and every missing folder
 * on the way (0700, whatever the umask), never through a symlink.  Returns 0
 * with *ret_fd set, or -errno. */
int fs_make_dir_at(int dfd, const char *path, int *ret_fd);

/* mkdir -p of a path the caller names and trusts (a test's folder, a
 * folder given on the command line): relative to the current directory
 * unless absolute; folders on the way may be symlinks, the last component
 * may not.  Missing folders are created as fs_make_dir_at() does.  Never
 * for paths under the base directory, which go through the fds above.
 * Returns 0 with *ret_fd set, or -errno. */
int fs_make_dirs(const char *path, int *ret_fd);

/* Opens a file that the agent writes (or reads back as its own) beneath
 * dfd, as fs_open_at() does, O_NONBLOCK added, then checks the open file:
 * a regular file, owned by the effective uid, with a single link.  O_TRUNC
 * is applied only after the checks, so that a planted hard link is never
 * truncated.  With mode != 0 the file is fchmod'ed to mode, so that neither
 * the umask nor a wider file left there earlier matters.  shown names the
 * file in why[].  Returns the fd, or -errno: -EPERM when the file is not one
 * of ours (why[] says how: its type, its owner, its links; a FIFO opened for
 * writing is refused at once, read or not), and the errors of
 * fs_open_at(). */
int fs_open_own_file_at(int dfd, const char *path, int flags, mode_t mode, const char *shown, char *why,
                        size_t why_size);

/* Checks an open file as fs_open_own_file_at() does.  Returns 0, or -EPERM
 * with why[] set. */
int fs_check_own_file(int fd, const char *shown, char *why, size_t why_size);

/* Creates a FIFO (mode, whatever the umask) at path beneath dfd.  Returns 0
 * or -errno (-EEXIST when something is there already). */
int fs_make_fifo_at(int dfd, const char *path, mode_t mode);

/* lstat of path beneath dfd (a symlink at the end is described, not
 * followed).  Returns 0 or -errno. */
int fs_stat_at(int dfd, const char *path, struct stat *ret);

/* Removes path beneath dfd (flags: 0 or AT_REMOVEDIR), but only when it is
 * still the file st describes (st_dev and st_ino; st NULL: whatever is
 * there), so that a file put in its place by someone else is left alone.
 * Returns 0 or -errno (-ESTALE: another file is there now). */
int fs_unlink_at(int dfd, const char *path, int flags, const struct stat *st);

/* Checks a folder of the base directory as StrictModes does: owned by root
 * or the effective uid, and not writable by its group or by others.  shown
 * names it in why[]: "PATH: owned by uid N (NAME), mode 0777: writable by
 * others".  Returns 0, or -EPERM with why[] set. */
int fs_check_own_dir(int fd, const char *shown, char *why, size_t why_size);

/* Opens the base directory path (absolute, or relative to the current
 * directory), creating its last component (0700) when create is set and it
 * is missing, after checking every folder from / down to it, as OpenSSH's
 * StrictModes does: each folder above it must be owned by root or the
 * effective uid and not writable by others (nor by a group with other
 * members) unless it is sticky; the base directory itself as
 * fs_check_own_dir() says.  The path is walked from / one component at a
 * time, never through a symlink that another user owns or that sits in a
 * folder that failed the check (a symlink is followed, as systemd's chase()
 * does, only after the folder holding it passed); so a folder swapped for a
 * symlink afterwards fails the walk.  Returns the fd, or -errno with why[]
 * naming the folder, its owner and its mode (-EPERM: not trusted; -ELOOP,
 * -ENOENT, ...). */
int fs_open_base(const char *path, bool create, char *why, size_t why_size);

/* Opens the file at path (a configuration file, say) walked as
 * fs_open_base() walks, the folder that holds it being held to the rule of
 * fs_check_own_dir(): opened with flags, O_NOFOLLOW and O_NONBLOCK added (a
 * FIFO or device never blocks), and left for the caller to judge with
 * fstat.  Returns the fd, or -errno with why[] set. */
int fs_open_trusted_file(const char *path, int flags, char *why, size_t why_size);

/* Writes all of buf, going on after EINTR and short writes.  A write() that
 * writes nothing is an error (-EIO), not a reason to try forever.  Returns 0
 * or -errno. */
int fs_write_all(int fd, const void *buf, size_t len);

/* Writes buf as the file name (one component) in the folder dfd, mode 0600,
 * atomically: a temp file (FS_TMP_PREFIX name) is written, fsync'ed and
 * renamed to name, then the folder is fsync'ed.  An existing name is never
 * replaced (-EEXIST where the file system can tell).  On failure nothing is
 * left under either name.  Returns 0 or -errno. */
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
