/*
 * The INI reader: files read with inih, one frame per file (includes nest),
 * every error recorded as FILE:LINE, and the result resolved into a struct
 * config.  The keys themselves are config/keys.c's.
 */
#include "config/config.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/keys.h"
#include "config/paths.h"
#include "config/read_int.h"
#include "config/strv.h"
#include "core/alerts.h"
#include "core/alloc.h"
#include "core/fs.h"
#include "core/strbuf.h"
#include "core/textesc.h"
#include "core/users.h"
#include "core/utf8.h"

/* glob(3) gives its error callback no user pointer, so the errno of a failed
 * folder read comes back through this. */
static _Thread_local int glob_errno;

const char *cfg_errno_str(int e, char *buf, size_t size) {
        return strerror_r(e, buf, size);
}

void cfg_add_error(struct parse_ctx *ctx, const char *file, unsigned line, const char *fmt, ...) {
        struct config_errors *errs = ctx->errs;
        struct config_error *e;
        struct strbuf text;
        char *file_copy = NULL;
        size_t prefix = 0;
        va_list ap;
        int r = 0;

        ctx->n_errors++;
        if (!errs)
                return;
        if (errs->n >= CONFIG_MAX_ERRORS) {
                errs->n_dropped++;
                return;
        }
        /* The text is escaped as it is built (core/textesc.h): file names
         * and quoted values come from files other people may have written,
         * and `agent -t` prints the text on a terminal. */
        strbuf_init(&text);
        if (file) {
                r = textesc_append(&text, file, strlen(file));
                if (r == 0 && line)
                        r = strbuf_printf(&text, ":%u: ", line);
                else if (r == 0)
                        r = strbuf_append(&text, ": ", 2);
        }
        prefix = text.len;
        if (r == 0) {
                struct strbuf raw;
                strbuf_init(&raw);
                va_start(ap, fmt);
                r = strbuf_vprintf(&raw, fmt, ap);
                va_end(ap);
                if (r == 0)
                        r = textesc_append(&text, strbuf_str(&raw), raw.len);
                strbuf_fini(&raw);
        }
        if (r == 0 && !text.s)
                r = strbuf_append(&text, "", 0);
        if (r == 0 && file && !(file_copy = mm_strdup(file)))
                r = -ENOMEM;
        if (r == 0)
                r = mm_grow(&errs->v, &errs->cap, errs->n + 1, sizeof(*errs->v));
        if (r < 0) {
                strbuf_fini(&text);
                mm_free(file_copy);
                ctx->fatal = -ENOMEM;
                return;
        }
        e = &errs->v[errs->n++];
        e->file = file_copy;
        e->line = line;
        e->text = text.s; /* taken over from the strbuf */
        e->message = text.s + prefix;
}

/* inih's rule for where a line's syntax ends: at one of CHARS (if not
 * NULL), or at an inline comment, which is a comment prefix after a blank. */
static const char *find_chars_or_comment(const char *s, const char *chars) {
        bool was_blank = false;

        for (; *s; s++) {
                if (chars && strchr(chars, *s))
                        break;
                if (ini_allow_inline_comments && was_blank && strchr(ini_inline_comment_prefixes, *s))
                        break;
                was_blank = strv_blank(*s);
        }
        return s;
}

/* Looks at a line the way inih will, so that the lines inih rejects without
 * calling the handler are reported with their number, and so that section
 * names are tracked in full (inih cuts them at 50 bytes). Returns false if
 * the line must be hidden from inih. */
static bool check_line(struct frame *fr, char *line) {
        char *start = line, *end, *rest;

        if (fr->line == 1 && ini_allow_bom && (unsigned char)start[0] == 0xEF &&
            (unsigned char)start[1] == 0xBB && (unsigned char)start[2] == 0xBF)
                start += 3;
        while (strv_blank(*start))
                start++;
        if (*start == '\0' || strchr(ini_start_comment_prefixes, *start))
                return true;
        if (*start == '[') {
                end = (char *)find_chars_or_comment(start + 1, "]");
                if (*end != ']') {
                        char *e = end;
                        while (e > start && strv_blank(e[-1]))
                                e--;
                        *e = '\0';
                        cfg_section_end(fr);
                        fr->sec = SEC_SKIP;
                        cfg_add_error(fr->ctx, fr->file, fr->line, "unterminated section header " QFMT,
                                      QARG(start));
                        return false;
                }
                rest = end + 1;
                while (strv_blank(*rest))
                        rest++;
                if (*rest && !strchr(ini_inline_comment_prefixes, *rest) &&
                    !strchr(ini_start_comment_prefixes, *rest)) {
                        *end = '\0';
                        cfg_section_end(fr);
                        fr->sec = SEC_SKIP;
                        cfg_add_error(fr->ctx, fr->file, fr->line, "unexpected text after [%.*s%s]",
                                      QARG(start + 1));
                        return false;
                }
                *end = '\0';
                cfg_section_begin(fr, start + 1);
                return false;
        }
        end = (char *)find_chars_or_comment(start, "=:");
        if (*end == '=' || *end == ':')
                return true;
        while (end > start && strv_blank(end[-1]))
                end--;
        *end = '\0';
        cfg_add_error(fr->ctx, fr->file, fr->line, "expected 'key = value' or '[section]', got " QFMT,
                      QARG(start));
        return false;
}

/* The first byte of line[0..n) that has no place in a configuration: a
 * C0 control but a tab (and a carriage return before the newline), DEL, a
 * C1 control, or a code point that reorders the text around it (bidi
 * overrides and isolates, line separators), which could make a value read
 * as something else than it is.  Returns its offset, or n. */
static size_t find_control(const char *line, size_t n) {
        const unsigned char *s = (const unsigned char *)line;
        size_t end = n;

        if (end > 0 && s[end - 1] == '\n')
                end--;
        if (end > 0 && s[end - 1] == '\r')
                end--;
        for (size_t i = 0; i < end;) {
                uint32_t cp;
                size_t len;

                if (s[i] < 0x80) {
                        if ((s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)
                                return i;
                        i++;
                        continue;
                }
                len = utf8_decode(s + i, end - i, &cp);
                if (len == 0) {
                        /* Not UTF-8 (a Latin-1 file name, say): a byte, no
                         * control; messages escape it. */
                        i++;
                        continue;
                }
                if ((cp >= 0x80 && cp < 0xa0) || utf8_is_reordering(cp))
                        return i;
                i += len;
        }
        return n;
}

/* Reads the next line of the file into fr->out. Returns 1, or 0 at the end
 * of the file. */
static int next_line(struct frame *fr) {
        const char *start, *nl;
        size_t n, bad;

        if (fr->text_pos >= fr->text_len)
                return 0;
        start = fr->text + fr->text_pos;
        nl = memchr(start, '\n', fr->text_len - fr->text_pos);
        n = nl ? (size_t)(nl - start) + 1 : fr->text_len - fr->text_pos;
        fr->text_pos += n;
        if (n + 1 > fr->buf_size) {
                char *b = mm_realloc(fr->buf, n + 1);
                if (!b) {
                        fr->ctx->fatal = -ENOMEM;
                        return 0;
                }
                fr->buf = b;
                fr->buf_size = n + 1;
        }
        memcpy(fr->buf, start, n);
        fr->buf[n] = '\0';
        fr->line++;
        fr->out = "\n";
        fr->out_len = 1;
        fr->out_pos = 0;
        if (memchr(fr->buf, '\0', n)) {
                cfg_add_error(fr->ctx, fr->file, fr->line, "line contains a NUL byte");
                return 1;
        }
        if (n - (n > 0 && fr->buf[n - 1] == '\n') > CONFIG_MAX_LINE) {
                cfg_add_error(fr->ctx, fr->file, fr->line, "line too long (%zu bytes, at most %d)", n,
                              CONFIG_MAX_LINE);
                return 1;
        }
        if ((bad = find_control(fr->buf, n)) < n) {
                uint32_t cp = 0;
                size_t len = utf8_decode((const unsigned char *)fr->buf + bad, n - bad, &cp);
                if (len > 1)
                        cfg_add_error(fr->ctx, fr->file, fr->line,
                                      "control character U+%04X at byte %zu: not allowed in a configuration",
                                      (unsigned)cp, bad + 1);
                else
                        cfg_add_error(fr->ctx, fr->file, fr->line,
                                      "control character 0x%02x at byte %zu: not allowed in a configuration",
                                      (unsigned char)fr->buf[bad], bad + 1);
                return 1;
        }
        /* check_line() may cut a rejected line to quote it; accepted lines
         * are left whole. */
        if (check_line(fr, fr->buf)) {
                fr->out = fr->buf;
                fr->out_len = n;
        }
        return 1;
}

/* inih's fgets-like reader. inih asks for more of the same line when its
 * buffer was too small, so lines are counted as getline(3) returns them,
 * not per call. */
static char *reader(char *str, int num, void *stream) {
        struct frame *fr = stream;
        size_t n;

        if (fr->done || fr->ctx->fatal || num < 2)
                return NULL;
        if (fr->out_pos == fr->out_len && next_line(fr) <= 0) {
                fr->done = true;
                return NULL;
        }
        n = fr->out_len - fr->out_pos;
        if (n > (size_t)num - 1)
                n = (size_t)num - 1;
        memcpy(str, fr->out + fr->out_pos, n);
        str[n] = '\0';
        fr->out_pos += n;
        return str;
}

static int parse_file(struct parse_ctx *ctx, struct frame *parent, const char *path);

static int glob_error(const char *path, int err) {
        (void)path;
        if (err == ENOENT || err == ENOTDIR)
                return 0;
        glob_errno = err;
        return 1;
}

/* Appends "outermost -> ... -> FR's file -> " to B. */
static int cycle_chain(struct strbuf *b, const struct frame *fr) {
        if (fr->parent) {
                int r = cycle_chain(b, fr->parent);
                if (r < 0)
                        return r;
        }
        return strbuf_printf(b, "%s -> ", fr->file);
}

/* Reads one file matched by an include of the current line of FR. */
static void include_file(struct frame *fr, const char *path) {
        struct parse_ctx *ctx = fr->ctx;

        if (fr->depth + 1 >= CONFIG_MAX_DEPTH) {
                struct strbuf chain;

                strbuf_init(&chain);
                if (cycle_chain(&chain, fr) < 0 || strbuf_printf(&chain, "%s", path) < 0) {
                        strbuf_fini(&chain);
                        ctx->fatal = -ENOMEM;
                        return;
                }
                cfg_add_error(ctx, fr->file, fr->line, "includes nested deeper than %d files: %s",
                              CONFIG_MAX_DEPTH, strbuf_str(&chain));
                strbuf_fini(&chain);
                return;
        }
        parse_file(ctx, fr, path);
}

/* The files = ... key of [include] on the current line of FR. */
void cfg_include_globs(struct frame *fr, const char *value) {
        struct parse_ctx *ctx = fr->ctx;
        char **patterns = NULL, eb[128];
        int r, n;

        n = strv_split(value, &patterns);
        if (n == -ENOMEM)
                goto oom;
        if (n < 0) {
                cfg_add_error(ctx, fr->file, fr->line, "files = " QFMT ": unterminated double quote",
                              QARG(value));
                return;
        }
        if (n == 0)
                cfg_add_error(ctx, fr->file, fr->line, "files: no pattern given");
        for (int i = 0; i < n && !ctx->fatal; i++) {
                char *pattern =
                    patterns[i][0] == '/' ? mm_strdup(patterns[i]) : path_concat(fr->glob_dir, patterns[i]);
                glob_t g;

                if (!pattern)
                        goto oom;
                memset(&g, 0, sizeof(g));
                glob_errno = 0;
                r = glob(pattern, 0, glob_error, &g);
                if (r == 0) {
                        for (size_t j = 0; j < g.gl_pathc && !ctx->fatal; j++)
                                include_file(fr, g.gl_pathv[j]);
                } else if (r == GLOB_NOSPACE) {
                        ctx->fatal = -ENOMEM;
                } else if (r == GLOB_ABORTED) {
                        cfg_add_error(ctx, fr->file, fr->line, "files: cannot expand " QFMT ": %s",
                                      QARG(patterns[i]),
                                      cfg_errno_str(glob_errno ? glob_errno : EIO, eb, sizeof(eb)));
                }
                globfree(&g);
                mm_free(pattern);
        }
        strv_free(patterns);
        return;
oom:
        strv_free(patterns);
        ctx->fatal = -ENOMEM;
}

static int files_add(struct parse_ctx *ctx, const char *path, const char **ret) {
        char *s;

        if (mm_grow(&ctx->files, &ctx->cap_files, ctx->n_files + 1, sizeof(*ctx->files)) < 0)
                return -ENOMEM;
        s = mm_strdup(path);
        if (!s)
                return -ENOMEM;
        ctx->files[ctx->n_files++] = s;
        *ret = s;
        return 0;
}

/* Reads the file PATH (as shown in messages) into CTX.  Returns 0 or the
 * -errno of opening or reading PATH (-EINVAL when it was refused), which is
 * also recorded as an error. */
static int parse_file(struct parse_ctx *ctx, struct frame *parent, const char *path) {
        struct frame fr = {.ctx = ctx, .parent = parent, .sec = SEC_NONE};
        char *abs = NULL;
        struct stat st;
        int fd = -1, r;

        fr.depth = parent ? parent->depth + 1 : 0;
        r = files_add(ctx, path, &fr.file);
        if (r < 0)
                goto oom;
        if (ctx->n_read >= CONFIG_MAX_FILES) {
                if (!ctx->too_many)
                        cfg_add_error(ctx, parent ? parent->file : fr.file, parent ? parent->line : 0,
                                      "more than %d configuration files: %s and the rest are not read",
                                      CONFIG_MAX_FILES, path);
                ctx->too_many = true;
                r = -EINVAL;
                goto finish;
        }
        r = path_absolute(path, &abs);
        if (r == -ENOMEM)
                goto oom;
        if (r < 0) {
                char eb[128];
                cfg_add_error(ctx, fr.file, 0, "cannot open: %s", cfg_errno_str(-r, eb, sizeof(eb)));
                goto finish;
        }
        fd = cfg_open_config(&fr, abs, &st);
        if (fd < 0) {
                r = fd;
                goto finish;
        }
        fr.dev = st.st_dev;
        fr.ino = st.st_ino;
        for (const struct frame *f = parent; f; f = f->parent) {
                struct strbuf chain;

                if (f->dev != fr.dev || f->ino != fr.ino)
                        continue;
                strbuf_init(&chain);
                if (cycle_chain(&chain, parent) < 0 || strbuf_printf(&chain, "%s", path) < 0) {
                        strbuf_fini(&chain);
                        goto oom;
                }
                cfg_add_error(ctx, parent->file, parent->line, "include cycle: %s", strbuf_str(&chain));
                strbuf_fini(&chain);
                r = 0;
                goto finish;
        }
        /* Included twice (a diamond, or a fan-out of globs): once is
         * enough, and keeps what many includes can cost linear. */
        r = cfg_seen_before(ctx, fr.dev, fr.ino);
        if (r < 0)
                goto oom;
        if (r > 0) {
                r = 0;
                goto finish;
        }
        r = cfg_read_config(&fr, fd);
        if (r == -ENOMEM)
                goto oom;
        if (r < 0)
                goto finish;
        fr.dir = path_dir(abs);
        fr.glob_dir = path_glob_prefix(path);
        if (!fr.dir || !fr.glob_dir)
                goto oom;

        ctx->top = &fr;
        r = ini_parse_stream(reader, &fr, cfg_on_key, ctx);
        ctx->top = parent;
        if (r == -2)
                goto oom;
        /* check_line() hides from inih every line inih would reject, so this
         * only fires if the two ever disagree; then the line is still
         * reported rather than lost. */
        if (r > 0)
                cfg_add_error(ctx, fr.file, (unsigned)r, "syntax error");
        cfg_section_end(&fr);
        r = 0;
        goto finish;
oom:
        r = -ENOMEM;
        ctx->fatal = r;
finish:
        if (fd >= 0)
                close(fd);
        mm_free(fr.text);
        mm_free(fr.buf);
        mm_free(fr.dir);
        mm_free(fr.glob_dir);
        mm_free(abs);
        return r;
}

/* inih is configured through globals: heap line buffer that grows, so long
 * lines are read whole; no continuation lines, so an indented line is an
 * ordinary one; keep going after errors. */
static void set_inih_options(void) {
        ini_use_stack = false;
        ini_allow_realloc = true;
        ini_initial_alloc = 200;
        ini_max_line = CONFIG_MAX_LINE + 3;
        ini_allow_multiline = false;
        ini_allow_bom = true;
        ini_allow_inline_comments = true;
        ini_stop_on_first_error = false;
        ini_allow_no_value = false;
}

/* Builds the final target list: dropped records go, unset policy keys come
 * from [defaults]. */
static int finalize(struct parse_ctx *ctx) {
        struct config *c = ctx->cfg;
        size_t n = 0;

        if (!c->base_dir) {
                c->base_dir = path_dir(c->path);
                if (!c->base_dir)
                        return -ENOMEM;
        }
        if (keys_resolve_from_agent(c, ctx->defaults_set) < 0)
                return -ENOMEM;
        c->targets = mm_calloc(ctx->n_recs ? ctx->n_recs : 1, sizeof(*c->targets));
        if (!c->targets)
                return -ENOMEM;
        for (size_t i = 0; i < ctx->n_recs; i++) {
                struct target_rec *rec = &ctx->recs[i];

                if (rec->discard)
                        continue;
                if (keys_inherit_policy(&rec->t, rec->set, rec->alert_set, c) < 0)
                        return -ENOMEM;
                c->targets[n++] = rec->t;
                c->n_targets = n;
                memset(&rec->t, 0, sizeof(rec->t));
        }
        return 0;
}

static void ctx_fini(struct parse_ctx *ctx) {
        for (size_t i = 0; i < ctx->n_recs; i++)
                config_target_fini(&ctx->recs[i].t);
        mm_free(ctx->recs);
        for (size_t i = 0; i < ctx->n_files; i++)
                mm_free(ctx->files[i]);
        mm_free(ctx->files);
        mm_free(ctx->read);
        config_free(ctx->cfg);
}

int config_load(const char *path, struct config **ret, struct config_errors *errs) {
        struct parse_ctx ctx = {.errs = errs};
        int r;

        if (!path || !ret)
                return -EINVAL;
        set_inih_options();
        r = keys_config_new(&ctx.cfg);
        if (r < 0)
                goto finish;
        r = path_absolute(path, &ctx.cfg->path);
        if (r < 0)
                goto finish;
        r = parse_file(&ctx, NULL, path);
        if (ctx.fatal) {
                r = ctx.fatal;
                goto finish;
        }
        if (r < 0)
                goto finish;
        if (ctx.n_errors) {
                r = -EINVAL;
                goto finish;
        }
        r = finalize(&ctx);
        if (r < 0)
                goto finish;
        *ret = ctx.cfg;
        ctx.cfg = NULL;
finish:
        ctx_fini(&ctx);
        return r;
}
