/*
 * users: users and groups as the trust checks see them: a name to print
 * next to a uid, and whether a group may hold someone who is neither root
 * nor a given user (a group-writable file or folder is then as open as a
 * world-writable one).
 */
#ifndef MEMMON_CORE_USERS_H
#define MEMMON_CORE_USERS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Room for a user or group name in a message. */
#define USERS_NAME_SIZE 64

/* Writes the name of uid (or gid) into buf, or "?" when it has none or is
 * too long, and returns buf. */
const char *users_user_name(uid_t uid, char *buf, size_t size);
const char *users_group_name(gid_t gid, char *buf, size_t size);

/* True when group gid may have a member other than root and uid, going by
 * the texts of an /etc/group and an /etc/passwd (NUL-terminated): a user
 * whose primary group it is, or a member listed in it.  A group neither
 * file knows is taken to have others (it may still be held through
 * setgroups).  Pure. */
bool users_group_db_has_others(const char *group_db, const char *passwd_db, gid_t gid, uid_t uid);

/* users_group_db_has_others() on this host's /etc/group and /etc/passwd
 * (read each time, at most USERS_DB_MAX bytes each; a file that cannot be
 * read means "others may be in it"). */
bool users_group_has_others(gid_t gid, uid_t uid);

/* /etc/group and /etc/passwd larger than this are not read. */
#define USERS_DB_MAX ((size_t)4 << 20)

/* Reads the regular file fd is open on whole, at most USERS_DB_MAX bytes,
 * into a NUL-terminated buffer to be freed with mm_free() (core/alloc.h),
 * and closes fd.
 * Returns the buffer, or NULL (not a regular file, too large, no memory). */
char *users_read_db(int fd);

#ifdef __cplusplus
}
#endif
#endif
