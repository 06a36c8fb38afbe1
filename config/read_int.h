/*
 * read_int: what the INI reader's parts share (config/read.c reads files
 * and lines and resolves the result; config/sections.c handles sections and
 * keys; config/source.c opens and reads a configuration file as hostile
 * input).  Internal to config/.
 */
#ifndef MEMMON_CONFIG_READ_INT_H
#define MEMMON_CONFIG_READ_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "config/config.h"
#include "config/keys.h"
#include "core/alerts.h"

struct target_rec {
        struct target_config t;
        struct key_origin set[KEYS_N];
        struct key_origin alert_set[ALERT_POLICY_KEYS]; /* its own alert keys */
        int sel_key;  /* index in config_keys[] of the selector set, or -1 */
        bool discard; /* bad or duplicate name: checked, then dropped */
};

struct parse_ctx;

/* One file being read. Frames of nested includes form a stack through
 * parent, which is what detects include cycles. */
struct frame {
        struct parse_ctx *ctx;
        struct frame *parent;
        unsigned depth;   /* 0 for the main file */
        const char *file; /* as shown in messages; borrowed from ctx->files */
        char *dir;        /* absolute folder, for relative values */
        char *glob_dir;   /* the folder as shown, escaped for glob(3): "" or "dir/" */
        dev_t dev;        /* the file's identity: cycles and files read twice */
        ino_t ino;
        char *text; /* the whole file */
        size_t text_len, text_pos;
        char *buf; /* the current line, NUL-terminated */
        size_t buf_size;
        /* The current line as handed to inih, in chunks if need be. */
        const char *out;
        size_t out_len, out_pos;
        unsigned line;
        bool done;
        int read_error; /* -errno of a failed read, or 0 */
        enum section_kind sec;
        size_t target; /* index in ctx->recs when sec is SEC_TARGET */
        struct key_origin include_files;
};

struct parse_ctx {
        struct config *cfg;
        struct key_origin agent_set[KEYS_N];
        struct key_origin defaults_set[KEYS_N];
        struct key_origin alerts_set[ALERT_POLICY_KEYS]; /* [alerts] */
        struct target_rec *recs;
        size_t n_recs, cap_recs;
        char **files;
        size_t n_files, cap_files;
        struct config_errors *errs;
        size_t n_errors;
        struct frame *top;
        int fatal; /* -ENOMEM: stop reading */
        /* Every file read, by identity: each is read once however often it
         * is included. */
        struct file_id {
                dev_t dev;
                ino_t ino;
        } * read;
        size_t n_read, cap_read;
        bool too_many; /* CONFIG_MAX_FILES was reached (and reported) */
};

/* strerror_r() into buf. */
const char *cfg_errno_str(int e, char *buf, size_t size);
/* Records an error "FILE:LINE: message" (FILE: or nothing when file or line
 * is absent), escaped; counts it, and sets ctx->fatal on -ENOMEM. */
void cfg_add_error(struct parse_ctx *ctx, const char *file, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The files = ... key of [include] on the current line of fr. */
void cfg_include_globs(struct frame *fr, const char *value);

/* sections.c */
/* Reports a target of the section that ends without a selector. */
void cfg_section_end(struct frame *fr);
/* Starts the section of the header [NAME] on the current line. */
void cfg_section_begin(struct frame *fr, const char *name);
/* inih's handler, called for each "key = value" line (user: the parse_ctx). */
int cfg_on_key(void *user, const char *section, const char *name, const char *value);

/* source.c */
/* Opens the file at abs as configuration (trusted, regular, bounded).
 * Returns the fd with *st set, or -errno with an error recorded. */
int cfg_open_config(struct frame *fr, const char *abs, struct stat *st);
/* Reads the whole file fd into fr->text, bounded.  Returns 0 or -errno. */
int cfg_read_config(struct frame *fr, int fd);
/* Whether (dev, ino) was read already; notes it if not.  Returns 1, 0 or
 * -ENOMEM. */
int cfg_seen_before(struct parse_ctx *ctx, dev_t dev, ino_t ino);

#endif
