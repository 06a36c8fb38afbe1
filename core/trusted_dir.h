/*
 * trusted_dir: files the agent publishes for others to read (the metrics
 * file for node_exporter), written only into folders no other user can
 * change under it.
 *
 * A folder is trusted when it and every folder above it, from /, is owned
 * by root or by the effective user and is not writable by group or others
 * (what OpenSSH's StrictModes asks of ~/.ssh): trusted_dir_open(), for a
 * program the agent runs.  The path is resolved once (realpath) and then
 * walked from / one component at a time with O_NOFOLLOW, so a symlink
 * swapped in after the resolution fails the walk instead of redirecting it.
 *
 * A file the agent publishes (trusted_dir_replace_file()) asks the same of
 * its own folder, and of the folders above it only that nobody but their
 * owner can move things in them (not writable by group or others, unless
 * sticky): whoever owns one of them (Debian's /var/lib/prometheus belongs
 * to the prometheus user) can at most put another folder in the place of
 * the one asked for, and the walk then refuses it (not root's or ours, or
 * a symlink), or it is a folder of root's that was already in that user's
 * tree: never one elsewhere.  What is written is the agent's own text.
 *
 * Replacing a file is atomic: a temp file in the same folder (mode as asked,
 * whatever the umask), fsync, rename over the name.  Readers see the old
 * file or the new one, never a part; a symlink or hard link planted at the
 * name is replaced, never written through.  On failure nothing is left
 * under the temp name and the old file is untouched.
 */
#ifndef MEMMON_CORE_TRUSTED_DIR_H
#define MEMMON_CORE_TRUSTED_DIR_H

#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Opens the folder dir (O_RDONLY|O_DIRECTORY) after checking it as above.
 * Returns the fd, or -errno with why[] saying which folder failed and how
 * (-EPERM: owned by another user or writable by others; -ELOOP: a symlink
 * appeared; -ENOTDIR, -ENOENT ...). */
int trusted_dir_open(const char *dir, char *why, size_t why_size);

/* Replaces the file at path (its folder checked as a published file's, see
 * above) with data, mode applied exactly.  Returns 0 or -errno with why[] set. */
int trusted_dir_replace_file(const char *path, const void *data, size_t len, mode_t mode, char *why,
                             size_t why_size);

#ifdef __cplusplus
}
#endif
#endif
