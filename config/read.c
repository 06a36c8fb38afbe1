/*
 * The INI reader: files read with inih, one frame per file (includes nest),
 * every error recorded as FILE:LINE, and the result resolved into a struct
 * config.  The keys themselves are config/keys.c's.
 */
#include "config/config.h"

#include <errno.h>
#include <glob.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/keys.h"
#include "config/paths.h"
#include "config/strv.h"
#include "core/alerts.h"
#include "core/alloc.h"
#include "core/strbuf.h"

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
        const char *file; /* as shown in messages; borrowed from ctx->files */
        char *dir;        /* absolute folder, for relative values */
        char *glob_dir;   /* the folder as shown, escaped for glob(3): "" or "dir/" */
        char *real;       /* realpath(3) of the file */
        FILE *fp;
        char *buf; /* getline(3) buffer */
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
};

/* glob(3) gives its error callback no user pointer, so the errno of a failed
 * folder read comes back through this. */
static _Thread_local int glob_errno;

static const char *errno_str(int e, char *buf, size_t size) {
        return strerror_r(e, buf, size);
}

static void add_error(struct parse_ctx *ctx, const char *file, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void add_error(struct parse_ctx *ctx, const char *file, unsigned line, const char *fmt, ...) {
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
        strbuf_init(&text);
        if (file && line)
                r = strbuf_printf(&text, "%s:%u: ", file, line);
        else if (file)
                r = strbuf_printf(&text, "%s: ", file);
        prefix = text.len;
        if (r == 0) {
                va_start(ap, fmt);
                r = strbuf_vprintf(&text, fmt, ap);
                va_end(ap);
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

/* "[agent]", "[target:web]", ... for the section being read. */
static void section_label(const struct frame *fr, char *buf, size_t size) {
        const char *name = keys_section_name(fr->sec);
        int n;

        if (fr->sec == SEC_TARGET)
                n = snprintf(buf, size, "[target:%s]", fr->ctx->recs[fr->target].t.name);
        else
                n = snprintf(buf, size, "%s", name ? name : "");
        /* A cut is harmless: the label only decorates a message. */
        (void)n;
}

/* Reports a target of the section that ends without a selector. */
static void section_end(struct frame *fr) {
        struct target_rec *rec;

        if (fr->sec != SEC_TARGET || fr->ctx->fatal)
                return;
        rec = &fr->ctx->recs[fr->target];
        if (!rec->discard && rec->sel_key < 0)
                add_error(fr->ctx, fr->file, rec->t.line,
                          "target '%s' has no selector; set one of pid, pidfile, match, exec", rec->t.name);
}

static void target_begin(struct frame *fr, const char *name) {
        struct parse_ctx *ctx = fr->ctx;
        struct target_rec *rec;

        if (mm_grow(&ctx->recs, &ctx->cap_recs, ctx->n_recs + 1, sizeof(*ctx->recs)) < 0)
                goto oom;
        rec = &ctx->recs[ctx->n_recs];
        memset(rec, 0, sizeof(*rec));
        rec->sel_key = -1;
        alert_policy_init(&rec->t.policy.alerts);
        rec->t.name = mm_strdup(name);
        rec->t.file = mm_strdup(fr->file);
        ctx->n_recs++;
        if (!rec->t.name || !rec->t.file)
                goto oom;
        rec->t.line = fr->line;
        fr->sec = SEC_TARGET;
        fr->target = ctx->n_recs - 1;

        if (target_name_valid(name) < 0) {
                rec->discard = true;
                if (target_name_reserved(name))
                        add_error(ctx, fr->file, fr->line, "target name '%s' is reserved", name);
                else
                        add_error(ctx, fr->file, fr->line,
                                  "invalid target name " QFMT ": use 1 to %d of A-Z a-z 0-9 _ . -",
                                  QARG(name), TARGET_NAME_MAX);
                return;
        }
        for (size_t i = 0; i + 1 < ctx->n_recs; i++) {
                const struct target_rec *first = &ctx->recs[i];

                if (first->discard || strcmp(first->t.name, name) != 0)
                        continue;
                rec->discard = true;
                add_error(ctx, fr->file, fr->line, "duplicate target '%s'; first defined at %s:%u", name,
                          first->t.file, first->t.line);
                return;
        }
        return;
oom:
        ctx->fatal = -ENOMEM;
}

/* Starts the section of the header [NAME] on the current line. */
static void section_begin(struct frame *fr, const char *name) {
        static const char target_prefix[] = "target:";

        section_end(fr);
        fr->sec = SEC_SKIP;
        fr->include_files = (struct key_origin){0};
        if (strcmp(name, "agent") == 0)
                fr->sec = SEC_AGENT;
        else if (strcmp(name, "defaults") == 0)
                fr->sec = SEC_DEFAULTS;
        else if (strcmp(name, "include") == 0)
                fr->sec = SEC_INCLUDE;
        else if (strcmp(name, "alerts") == 0)
                fr->sec = SEC_ALERTS;
        else if (strncmp(name, target_prefix, sizeof(target_prefix) - 1) == 0)
                target_begin(fr, name + sizeof(target_prefix) - 1);
        else if (strcmp(name, "target") == 0)
                add_error(fr->ctx, fr->file, fr->line, "a target section needs a name: [target:NAME]");
        else
                add_error(
                    fr->ctx, fr->file, fr->line,
                    "unknown section [%.*s%s]; expected [agent], [defaults], [alerts], [target:NAME] or "
                    "[include]",
                    QARG(name));
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
                        section_end(fr);
                        fr->sec = SEC_SKIP;
                        add_error(fr->ctx, fr->file, fr->line, "unterminated section header " QFMT,
                                  QARG(start));
                        return false;
                }
                rest = end + 1;
                while (strv_blank(*rest))
                        rest++;
                if (*rest && !strchr(ini_inline_comment_prefixes, *rest) &&
                    !strchr(ini_start_comment_prefixes, *rest)) {
                        *end = '\0';
                        section_end(fr);
                        fr->sec = SEC_SKIP;
                        add_error(fr->ctx, fr->file, fr->line, "unexpected text after [%.*s%s]",
                                  QARG(start + 1));
                        return false;
                }
                *end = '\0';
                section_begin(fr, start + 1);
                return false;
        }
        end = (char *)find_chars_or_comment(start, "=:");
        if (*end == '=' || *end == ':')
                return true;
        while (end > start && strv_blank(end[-1]))
                end--;
        *end = '\0';
        add_error(fr->ctx, fr->file, fr->line, "expected 'key = value' or '[section]', got " QFMT,
                  QARG(start));
        return false;
}

/* Reads the next line of the file into fr->out. Returns 1, 0 at the end of
 * the file, or -errno. */
static int next_line(struct frame *fr) {
        char eb[128];
        ssize_t n;

        errno = 0;
        n = getline(&fr->buf, &fr->buf_size, fr->fp);
        if (n < 0) {
                if (errno == ENOMEM) {
                        fr->ctx->fatal = -ENOMEM;
                        return -ENOMEM;
                }
                if (ferror(fr->fp)) {
                        int e = errno ? errno : EIO;

                        add_error(fr->ctx, fr->file, 0, "read error: %s", errno_str(e, eb, sizeof(eb)));
                        fr->read_error = -e;
                        return -e;
                }
                return 0;
        }
        fr->line++;
        fr->out = "\n";
        fr->out_len = 1;
        fr->out_pos = 0;
        if (memchr(fr->buf, '\0', (size_t)n)) {
                add_error(fr->ctx, fr->file, fr->line, "line contains a NUL byte");
                return 1;
        }
        if ((size_t)n - (n > 0 && fr->buf[n - 1] == '\n') > CONFIG_MAX_LINE) {
                add_error(fr->ctx, fr->file, fr->line, "line too long (%zd bytes, at most %d)", n,
                          CONFIG_MAX_LINE);
                return 1;
        }
        /* check_line() may cut a rejected line to quote it; accepted lines
         * are left whole. */
        if (check_line(fr, fr->buf)) {
                fr->out = fr->buf;
                fr->out_len = (size_t)n;
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

static int parse_file(struct parse_ctx *ctx, struct frame *parent, const char *path, char *real);

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
        char *abs = NULL, *real = NULL, eb[128];
        int r;

        r = path_absolute(path, &abs);
        if (r == -ENOMEM)
                goto oom;
        if (r == 0)
                real = realpath(abs, NULL);
        if (!real) {
                add_error(ctx, path, 0, "cannot open: %s (included from %s:%u)",
                          errno_str(r < 0 ? -r : errno, eb, sizeof(eb)), fr->file, fr->line);
                goto finish;
        }
        for (const struct frame *f = fr; f; f = f->parent) {
                struct strbuf chain;

                if (strcmp(f->real, real) != 0)
                        continue;
                strbuf_init(&chain);
                if (cycle_chain(&chain, fr) < 0 || strbuf_printf(&chain, "%s", path) < 0) {
                        strbuf_fini(&chain);
                        goto oom;
                }
                add_error(ctx, fr->file, fr->line, "include cycle: %s", strbuf_str(&chain));
                strbuf_fini(&chain);
                goto finish;
        }
        parse_file(ctx, fr, path, real);
        real = NULL;
        goto finish;
oom:
        ctx->fatal = -ENOMEM;
finish:
        free(real);
        mm_free(abs);
}

/* The files = ... key of [include] on the current line of FR. */
static void include_globs(struct frame *fr, const char *value) {
        struct parse_ctx *ctx = fr->ctx;
        char **patterns = NULL, eb[128];
        int r, n;

        n = strv_split(value, &patterns);
        if (n == -ENOMEM)
                goto oom;
        if (n < 0) {
                add_error(ctx, fr->file, fr->line, "files = " QFMT ": unterminated double quote",
                          QARG(value));
                return;
        }
        if (n == 0)
                add_error(ctx, fr->file, fr->line, "files: no pattern given");
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
                        add_error(ctx, fr->file, fr->line, "files: cannot expand " QFMT ": %s",
                                  QARG(patterns[i]),
                                  errno_str(glob_errno ? glob_errno : EIO, eb, sizeof(eb)));
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

static struct key_origin *origin_of(struct frame *fr, size_t key) {
        struct parse_ctx *ctx = fr->ctx;

        switch (fr->sec) {
        case SEC_AGENT:
                return &ctx->agent_set[key];
        case SEC_DEFAULTS:
                return &ctx->defaults_set[key];
        case SEC_TARGET:
                return &ctx->recs[fr->target].set[key];
        case SEC_INCLUDE:
                return &fr->include_files;
        default:
                return NULL;
        }
}

/* The struct that key K of the current section is a field of. */
static void *base_of(struct frame *fr, const struct key_def *k) {
        struct parse_ctx *ctx = fr->ctx;

        switch (fr->sec) {
        case SEC_AGENT:
                return ctx->cfg;
        case SEC_DEFAULTS:
                return &ctx->cfg->defaults;
        case SEC_TARGET:
                return keys_is_policy(k) ? (void *)&ctx->recs[fr->target].t.policy
                                         : (void *)&ctx->recs[fr->target].t;
        default:
                return NULL;
        }
}

/* The alert keys (issue 10): [alerts] and the same keys in a target, parsed
 * by core/alerts.h's key table; index is the key's row there.  Errors are
 * recorded as on_key() records them. */
static void on_alert_key(struct frame *fr, int index, const char *name, const char *value,
                         const char *label) {
        struct parse_ctx *ctx = fr->ctx;
        struct alert_policy *p =
            fr->sec == SEC_ALERTS ? &ctx->cfg->defaults.alerts : &ctx->recs[fr->target].t.policy.alerts;
        struct key_origin *o =
            fr->sec == SEC_ALERTS ? &ctx->alerts_set[index] : &ctx->recs[fr->target].alert_set[index];
        size_t n = strlen(name);
        char why[KEYS_MSG_SIZE];
        const char *msg = why;
        int r;

        if (o->line) {
                add_error(ctx, fr->file, fr->line, "duplicate key '%s' in %s; first set at %s:%u", name,
                          label, o->file, o->line);
                return;
        }
        o->file = fr->file;
        o->line = fr->line;
        r = alert_policy_set(p, name, value, why, sizeof(why));
        if (r == -ENOMEM)
                ctx->fatal = r;
        if (r == -ENOMEM || r == 0)
                return;
        /* why[] starts with the key's name, which the message puts first. */
        if (strncmp(why, name, n) == 0 && why[n] == ':' && why[n + 1] == ' ')
                msg = why + n + 2;
        add_error(ctx, fr->file, fr->line, "%s = " QFMT ": %s", name, QARG(value), msg);
}

/* inih's handler, called for each "key = value" line. The section comes
 * from the reader, which knows its full name; errors are recorded rather
 * than returned, so that inih goes on and every error gets reported. */
static int on_key(void *user, const char *section, const char *name, const char *value) {
        struct parse_ctx *ctx = user;
        struct frame *fr = ctx->top;
        char label[TARGET_NAME_MAX + 16], hint[128], msg[KEYS_MSG_SIZE];
        const struct key_def *k;
        struct key_origin *o;
        size_t idx;
        int r;

        (void)section;
        if (ctx->fatal || fr->sec == SEC_SKIP)
                return 1;
        if (fr->sec == SEC_NONE) {
                add_error(ctx, fr->file, fr->line, "key " QFMT " is outside any section", QARG(name));
                return 1;
        }
        section_label(fr, label, sizeof(label));
        if (!*name) {
                add_error(ctx, fr->file, fr->line, "missing key name before '=' in %s", label);
                return 1;
        }
        if ((fr->sec == SEC_ALERTS || fr->sec == SEC_TARGET) && (r = alert_policy_key_index(name)) >= 0) {
                on_alert_key(fr, r, name, value, label);
                return 1;
        }
        k = keys_find(fr->sec, name);
        if (!k) {
                keys_hint(name, hint, sizeof(hint));
                add_error(ctx, fr->file, fr->line, "unknown key " QFMT " in %s%s", QARG(name), label, hint);
                return 1;
        }
        idx = (size_t)(k - config_keys);
        o = origin_of(fr, idx);
        if (o->line) {
                add_error(ctx, fr->file, fr->line, "duplicate key '%s' in %s; first set at %s:%u", k->name,
                          label, o->file, o->line);
                return 1;
        }
        o->file = fr->file;
        o->line = fr->line;
        if (k->type == KT_GLOBS) {
                include_globs(fr, value);
                return 1;
        }
        if (k->selector >= 0) {
                struct target_rec *rec = &ctx->recs[fr->target];

                if (rec->sel_key >= 0) {
                        const struct key_origin *first = &rec->set[rec->sel_key];

                        add_error(ctx, fr->file, fr->line,
                                  "target '%s': '%s' conflicts with '%s' at %s:%u; set exactly one of pid, "
                                  "pidfile, match, exec",
                                  rec->t.name, k->name, config_keys[rec->sel_key].name, first->file,
                                  first->line);
                        return 1;
                }
                /* Even a bad value counts as the selector, so that it is
                 * not also reported as missing. */
                rec->sel_key = (int)idx;
                rec->t.sel = (enum target_selector)k->selector;
        }
        r = keys_set(k, base_of(fr, k), value, fr->dir, msg, sizeof(msg));
        if (r == -ENOMEM)
                ctx->fatal = r;
        else if (r < 0)
                add_error(ctx, fr->file, fr->line, "%s", msg);
        return 1;
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

/* Reads the file PATH (as shown in messages) into CTX. REAL, its realpath
 * if known, is taken over. Returns 0 or the -errno of opening or reading
 * PATH, which is also recorded as an error. */
static int parse_file(struct parse_ctx *ctx, struct frame *parent, const char *path, char *real) {
        struct frame fr = {.ctx = ctx, .parent = parent, .real = real, .sec = SEC_NONE};
        char *abs = NULL, eb[128];
        int r;

        r = files_add(ctx, path, &fr.file);
        if (r < 0)
                goto oom;
        r = path_absolute(path, &abs);
        if (r == -ENOMEM)
                goto oom;
        if (r == 0)
                fr.fp = fopen(abs, "re");
        if (!fr.fp) {
                r = r < 0 ? r : -errno;
                if (parent)
                        add_error(ctx, fr.file, 0, "cannot open: %s (included from %s:%u)",
                                  errno_str(-r, eb, sizeof(eb)), parent->file, parent->line);
                else
                        add_error(ctx, fr.file, 0, "cannot open: %s", errno_str(-r, eb, sizeof(eb)));
                goto finish;
        }
        if (!fr.real) {
                fr.real = realpath(abs, NULL);
                if (!fr.real && !(fr.real = strdup(abs)))
                        goto oom;
        }
        fr.dir = path_dir(abs);
        fr.glob_dir = path_glob_prefix(path);
        if (!fr.dir || !fr.glob_dir)
                goto oom;

        ctx->top = &fr;
        r = ini_parse_stream(reader, &fr, on_key, ctx);
        ctx->top = parent;
        if (r == -2)
                goto oom;
        /* check_line() hides from inih every line inih would reject, so this
         * only fires if the two ever disagree; then the line is still
         * reported rather than lost. */
        if (r > 0)
                add_error(ctx, fr.file, (unsigned)r, "syntax error");
        section_end(&fr);
        r = fr.read_error;
        goto finish;
oom:
        r = -ENOMEM;
        ctx->fatal = r;
finish:
        if (fr.fp)
                fclose(fr.fp);
        free(fr.buf);
        free(fr.real);
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
        r = parse_file(&ctx, NULL, path, NULL);
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
