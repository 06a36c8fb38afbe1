/*
 * source: opening and reading one configuration file as hostile input:
 * trusted (owner and mode, folders too), regular, bounded, read once.
 */
#include "config/read_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/fs.h"
#include "core/users.h"

/* Opens the file at abs (PATH as shown) as configuration: through a walk
 * that trusts each folder on the way (core/fs.h), a regular file of at most
 * CONFIG_MAX_FILE_SIZE bytes, owned by root or the agent's user and
 * writable by nobody else, as sudo asks of sudoers and sshd of its keys.
 * Returns the fd with *st set, or -errno with an error recorded: -EINVAL for
 * a file refused (untrusted, not regular, too large), else the errno of
 * opening it. */
int cfg_open_config(struct frame *fr, const char *abs, struct stat *st) {
        struct parse_ctx *ctx = fr->ctx;
        const struct frame *parent = fr->parent;
        char why[FS_WHY_SIZE], from[64 + PATH_MAX] = "", eb[128], user[USERS_NAME_SIZE];
        int fd;

        if (parent)
                snprintf(from, sizeof(from), " (included from %s:%u)", parent->file, parent->line);
        fd = fs_open_trusted_file(abs, O_RDONLY, why, sizeof(why));
        if (fd == -EPERM) {
                cfg_add_error(ctx, fr->file, 0, "not trusted: %s%s", why, from);
                return -EINVAL;
        }
        if (fd < 0) {
                cfg_add_error(ctx, fr->file, 0, "cannot open: %s%s", cfg_errno_str(-fd, eb, sizeof(eb)),
                              from);
                return fd;
        }
        if (fstat(fd, st) < 0) {
                int e = errno;
                close(fd);
                cfg_add_error(ctx, fr->file, 0, "cannot open: %s%s", cfg_errno_str(e, eb, sizeof(eb)), from);
                return -e;
        }
        if (!S_ISREG(st->st_mode)) {
                cfg_add_error(ctx, fr->file, 0, "not a regular file (%s)%s",
                              S_ISDIR(st->st_mode)    ? "a folder"
                              : S_ISCHR(st->st_mode)  ? "a character device"
                              : S_ISBLK(st->st_mode)  ? "a block device"
                              : S_ISFIFO(st->st_mode) ? "a FIFO"
                                                      : "a socket",
                              from);
        } else if (st->st_uid != 0 && st->st_uid != geteuid()) {
                cfg_add_error(ctx, fr->file, 0, "not trusted: writable by uid %u (%s)%s",
                              (unsigned)st->st_uid, users_user_name(st->st_uid, user, sizeof(user)), from);
        } else if (st->st_mode & S_IWOTH) {
                cfg_add_error(ctx, fr->file, 0, "not trusted: writable by any user (mode %04o)%s",
                              (unsigned)(st->st_mode & 07777), from);
        } else if (st->st_mode & S_IWGRP) {
                cfg_add_error(ctx, fr->file, 0, "not trusted: writable by group %u (%s) (mode %04o)%s",
                              (unsigned)st->st_gid, users_group_name(st->st_gid, user, sizeof(user)),
                              (unsigned)(st->st_mode & 07777), from);
        } else if (st->st_size > CONFIG_MAX_FILE_SIZE) {
                cfg_add_error(ctx, fr->file, 0, "larger than %d bytes (%jd); not read%s",
                              CONFIG_MAX_FILE_SIZE, (intmax_t)st->st_size, from);
        } else {
                return fd;
        }
        close(fd);
        return -EINVAL;
}

/* Reads the whole file fd into fr->text: at most CONFIG_MAX_FILE_SIZE
 * bytes, whatever it grows to meanwhile.  Returns 0 or -errno (recorded). */
int cfg_read_config(struct frame *fr, int fd) {
        char eb[128];
        size_t cap = 4096;

        fr->text = mm_malloc(cap);
        if (!fr->text)
                return -ENOMEM;
        for (;;) {
                ssize_t n;

                if (fr->text_len == cap) {
                        size_t ncap = cap * 2 > CONFIG_MAX_FILE_SIZE + 1 ? CONFIG_MAX_FILE_SIZE + 1 : cap * 2;
                        char *t;
                        if (ncap == cap)
                                break;
                        t = mm_realloc(fr->text, ncap);
                        if (!t)
                                return -ENOMEM;
                        fr->text = t;
                        cap = ncap;
                }
                n = read(fd, fr->text + fr->text_len, cap - fr->text_len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        int e = errno;
                        cfg_add_error(fr->ctx, fr->file, 0, "read error: %s",
                                      cfg_errno_str(e, eb, sizeof(eb)));
                        return -e;
                }
                if (n == 0)
                        return 0;
                fr->text_len += (size_t)n;
        }
        cfg_add_error(fr->ctx, fr->file, 0, "larger than %d bytes; not read", CONFIG_MAX_FILE_SIZE);
        return -EFBIG;
}

/* Whether the file (dev, ino) was read already; if not, notes it.  Returns
 * 1 (read), 0 (noted now) or -ENOMEM. */
int cfg_seen_before(struct parse_ctx *ctx, dev_t dev, ino_t ino) {
        for (size_t i = 0; i < ctx->n_read; i++)
                if (ctx->read[i].dev == dev && ctx->read[i].ino == ino)
                        return 1;
        if (mm_grow(&ctx->read, &ctx->cap_read, ctx->n_read + 1, sizeof(*ctx->read)) < 0)
                return -ENOMEM;
        ctx->read[ctx->n_read++] = (struct file_id){dev, ino};
        return 0;
}
