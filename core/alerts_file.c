/*
 * The rules about the file behind an executable mapping: deleted_exec
 * (deleted, or replaced on disk) and writable_exec_file (another user can
 * change it), and the kinds of paths that decide which rule looks at what.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alerts_int.h"
#include "core/alloc.h"

static const char deleted_suffix[] = " (deleted)";
#define DELETED_LEN (sizeof(deleted_suffix) - 1)

int alerts_path_deleted(const char *p, size_t len) {
        return len >= DELETED_LEN && memcmp(p + len - DELETED_LEN, deleted_suffix, DELETED_LEN) == 0;
}

static int has_prefix(const char *p, size_t len, const char *prefix) {
        size_t n = strlen(prefix);
        return len >= n && memcmp(p, prefix, n) == 0;
}

static int is_exactly(const char *p, size_t len, const char *s) {
        return len == strlen(s) && memcmp(p, s, len) == 0;
}

/* SysV shared memory: the kernel names its file SYSV and the key in eight
 * hex digits, on an internal mount, and always prints it as deleted. */
static int is_sysv(const char *p, size_t len) {
        if (!has_prefix(p, len, "/SYSV") || len < 13)
                return 0;
        for (size_t i = 5; i < 13; i++) {
                char c = p[i];
                if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
                        return 0;
        }
        return len == 13 || (len == 13 + DELETED_LEN && alerts_path_deleted(p, len));
}

enum alert_path_kind alerts_path_kind(const char *p, size_t len) {
        static const char *const special[] = {"[vdso]", "[vsyscall]", "[uprobes]", "[vectors]"};

        if (len == 0)
                return ALERT_PATH_ANON;
        if (p[0] == '[') {
                for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++)
                        if (is_exactly(p, len, special[i]))
                                return ALERT_PATH_SPECIAL;
                return ALERT_PATH_ANON;
        }
        /* anon_inode:... and the like: nothing on disk either. */
        if (p[0] != '/')
                return ALERT_PATH_ANON;
        if (has_prefix(p, len, "/memfd:") || has_prefix(p, len, "/dev/shm/") || is_sysv(p, len))
                return ALERT_PATH_SHM;
        /* Shared anonymous memory is printed as a deleted /dev/zero, and a
         * private mapping of /dev/zero is anonymous memory too. */
        if (is_exactly(p, len, "/dev/zero") || is_exactly(p, len, "/dev/zero (deleted)"))
                return ALERT_PATH_ANON;
        return ALERT_PATH_FILE;
}

/* The path to look up for a printed one: without " (deleted)" when strip,
 * and with the kernel's escape of '\n' ("\012") undone when unescape.
 * Returns 0 or -ENAMETOOLONG. */
static int lookup_path(const char *p, size_t len, int strip, int unescape, char *out, size_t size) {
        size_t o = 0;

        if (strip)
                len -= DELETED_LEN;
        for (size_t i = 0; i < len; i++) {
                if (o + 1 >= size)
                        return -ENAMETOOLONG;
                if (unescape && p[i] == '\\' && i + 4 <= len && memcmp(p + i, "\\012", 4) == 0) {
                        out[o++] = '\n';
                        i += 3;
                } else {
                        out[o++] = p[i];
                }
        }
        out[o] = '\0';
        return 0;
}

/* Stats the printed path p as the process sees it, the "\012" escape undone
 * first (a real name may hold those four characters too, so the literal
 * path is tried next).  used[] gets the path that was looked up. */
static int stat_printed(const struct alert_fs_ops *ops, void *ctx, const struct alert_proc *proc,
                        const char *p, size_t len, int strip, char *used, size_t used_size,
                        struct alert_stat *ret) {
        int escaped = memmem(p, len, "\\012", 4) != NULL;
        int r = lookup_path(p, len, strip, 1, used, used_size);

        if (r == 0)
                r = ops->path_stat(ctx, proc, used, ret);
        if (r < 0 && escaped && lookup_path(p, len, strip, 0, used, used_size) == 0)
                r = ops->path_stat(ctx, proc, used, ret);
        return r;
}

static int same_dev(const struct alert_stat *st, uint32_t major, uint32_t minor) {
        return st->dev_major == major && st->dev_minor == minor;
}

/* Whether st (found at the path) is the file mapped as r, whose identity by
 * map_files is ms (NULL when that could not be had). */
static int same_file(const struct alert_stat *st, const struct region *r, const struct alert_stat *ms) {
        if (ms && same_dev(st, ms->dev_major, ms->dev_minor) && st->ino == ms->ino)
                return 1;
        if (st->ino != r->inode)
                return 0;
        if (same_dev(st, r->dev_major, r->dev_minor))
                return 1;
        /* btrfs subvolumes and overlayfs give stat() another device than
         * the one maps prints; without map_files to settle it, the inode
         * number has to do. */
        return ms == NULL;
}

enum writer {
        W_NONE,
        W_OWNER,
        W_EVERYONE,
        W_GROUP,
};

/* Who besides root and uid may change what st is: its owner can always
 * chmod it; others through the write bits, except that in a sticky folder
 * they may add names but not replace one they do not own (and the owner of
 * the next name down is judged on its own). */
static enum writer who_writes(const struct alert_fs_ops *ops, void *ctx, const struct alert_proc *proc,
                              const struct alert_stat *st, int is_dir) {
        if (st->uid != 0 && st->uid != (uint32_t)proc->uid)
                return W_OWNER;
        if (is_dir && (st->mode & S_ISVTX))
                return W_NONE;
        if (st->mode & S_IWOTH)
                return W_EVERYONE;
        if ((st->mode & S_IWGRP) && ops->group_has_others(ctx, proc, st->gid, (uint32_t)proc->uid) != 0)
                return W_GROUP;
        return W_NONE;
}

static void describe_writer(enum writer w, const struct alert_stat *st, const struct alert_proc *proc,
                            char *out, size_t size) {
        /* A reason cut short still says what matters first. */
        switch (w) {
        case W_OWNER:
                (void)snprintf(out, size, "owned by uid %u", st->uid);
                break;
        case W_EVERYONE:
                (void)snprintf(out, size, "writable by everyone");
                break;
        case W_GROUP:
                (void)snprintf(out, size, "writable by group %u, which has members besides root and uid %u",
                               st->gid, (unsigned)proc->uid);
                break;
        case W_NONE:
                out[0] = '\0';
                break;
        }
}

/* writable_exec_file for the file found at path (st): the file itself,
 * then every folder above it.  path is cut in place as the walk goes up
 * (no second copy of a path on a worker's small stack).  Returns 1 with
 * reason[] filled, or 0. */
static int check_writable(const struct alert_fs_ops *ops, void *ctx, const struct alert_proc *proc,
                          char *path, const struct alert_stat *st, char *reason, size_t size) {
        char who[160];
        size_t len = strlen(path);
        enum writer w = who_writes(ops, ctx, proc, st, 0);

        if (w != W_NONE) {
                describe_writer(w, st, proc, who, sizeof(who));
                (void)snprintf(reason, size, "runs code from a file another user can change: the file is %s",
                               who);
                return 1;
        }
        /* From the nearest folder up to the root. */
        while (len > 0) {
                struct alert_stat ds;

                while (len > 0 && path[len - 1] != '/')
                        len--;
                if (len == 0)
                        break;
                /* path[0..len) ends in '/': the folder is that without it,
                 * or "/" itself. */
                path[len > 1 ? len - 1 : 1] = '\0';
                len = len > 1 ? len - 1 : 0;
                if (ops->path_stat(ctx, proc, path, &ds) < 0)
                        return 0;
                w = who_writes(ops, ctx, proc, &ds, 1);
                if (w != W_NONE) {
                        describe_writer(w, &ds, proc, who, sizeof(who));
                        (void)snprintf(
                            reason, size,
                            "runs code from a file another user can replace: the folder %s above it is "
                            "%s",
                            path, who);
                        return 1;
                }
        }
        return 0;
}

#define RESTART "runs code no longer on disk: restart it"

enum alert_rule alerts_file_check(const struct alert_fs_ops *ops, void *ctx, const struct alert_proc *proc,
                                  const struct maps_snapshot *snap, const struct region *r, int want_deleted,
                                  int want_writable, char *reason, size_t size) {
        const char *p = region_path(snap, r);
        size_t len = r->path_len;
        int suffix = alerts_path_deleted(p, len);
        /* On the heap: a worker's stack is small, and every page it ever
         * touches stays resident for the life of its thread. */
        char *used = mm_malloc(ALERTS_PATH_MAX);
        struct alert_stat ms, st;
        int have_ms;
        const char *gone = NULL;
        enum alert_rule verdict = ALERT_RULE_COUNT;
        int found = 0;

        if (!used)
                return ALERT_RULE_COUNT;
        have_ms = ops->mapped_stat(ctx, proc, r->start, r->end, &ms) == 0;
        /* A device or another special file mapped executable: none of these
         * rules is about that. */
        if (have_ms && !S_ISREG(ms.mode))
                goto finish;
        if (have_ms && ms.nlink == 0) {
                gone = "its file was deleted, or replaced by another";
        } else if (suffix) {
                /* The name itself may end in " (deleted)": then it is found
                 * whole and is the mapped file. */
                found = stat_printed(ops, ctx, proc, p, len, 0, used, ALERTS_PATH_MAX, &st) == 0 &&
                        same_file(&st, r, have_ms ? &ms : NULL);
                if (!found)
                        gone = "its file was removed from that path";
        } else {
                int e = stat_printed(ops, ctx, proc, p, len, 0, used, ALERTS_PATH_MAX, &st);

                /* A path that is not there at all, with no " (deleted)",
                 * means the process sees another file-system tree than the
                 * one looked in: no alert on a guess. */
                if (e < 0)
                        goto finish;
                found = same_file(&st, r, have_ms ? &ms : NULL);
                if (!found)
                        gone = S_ISLNK(st.mode) ? "a symlink is at that path now"
                                                : "another file is at that path now";
        }
        if (gone) {
                if (want_deleted) {
                        (void)snprintf(reason, size, "%s (%s)", RESTART, gone);
                        verdict = ALERT_DELETED_EXEC;
                }
                goto finish;
        }
        if (found && want_writable && check_writable(ops, ctx, proc, used, &st, reason, size))
                verdict = ALERT_WRITABLE_EXEC_FILE;
finish:
        mm_free(used);
        return verdict;
}
