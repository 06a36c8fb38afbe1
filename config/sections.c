/*
 * sections: the [agent], [defaults], [alerts], [target:NAME] and [include]
 * sections of the INI reader, and the handler inih calls for each key.
 */
#include "config/read_int.h"

#include <errno.h>
#include <stdio.h>

#include "core/alloc.h"

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
void cfg_section_end(struct frame *fr) {
        struct target_rec *rec;

        if (fr->sec != SEC_TARGET || fr->ctx->fatal)
                return;
        rec = &fr->ctx->recs[fr->target];
        if (!rec->discard && rec->sel_key < 0)
                cfg_add_error(fr->ctx, fr->file, rec->t.line,
                              "target '%s' has no selector; set one of pid, pidfile, match, exec",
                              rec->t.name);
        int fi = keys_filter_set(rec->set);
        if (!rec->discard && rec->sel_key >= 0 && rec->t.sel != SELECT_MATCH && fi >= 0)
                cfg_add_error(
                    fr->ctx, rec->set[fi].file, rec->set[fi].line,
                    "target '%s': '%s' narrows a match target only, and this one is selected by '%s'",
                    rec->t.name, config_keys[fi].name, config_keys[rec->sel_key].name);
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
                        cfg_add_error(ctx, fr->file, fr->line, "target name '%s' is reserved", name);
                else
                        cfg_add_error(ctx, fr->file, fr->line,
                                      "invalid target name " QFMT ": use 1 to %d of A-Z a-z 0-9 _ . -",
                                      QARG(name), TARGET_NAME_MAX);
                return;
        }
        for (size_t i = 0; i + 1 < ctx->n_recs; i++) {
                const struct target_rec *first = &ctx->recs[i];

                if (first->discard || strcmp(first->t.name, name) != 0)
                        continue;
                rec->discard = true;
                cfg_add_error(ctx, fr->file, fr->line, "duplicate target '%s'; first defined at %s:%u", name,
                              first->t.file, first->t.line);
                return;
        }
        return;
oom:
        ctx->fatal = -ENOMEM;
}

/* Starts the section of the header [NAME] on the current line. */
void cfg_section_begin(struct frame *fr, const char *name) {
        static const char target_prefix[] = "target:";

        cfg_section_end(fr);
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
                cfg_add_error(fr->ctx, fr->file, fr->line, "a target section needs a name: [target:NAME]");
        else
                cfg_add_error(
                    fr->ctx, fr->file, fr->line,
                    "unknown section [%.*s%s]; expected [agent], [defaults], [alerts], [target:NAME] or "
                    "[include]",
                    QARG(name));
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
 * recorded as cfg_on_key() records them. */
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
                cfg_add_error(ctx, fr->file, fr->line, "duplicate key '%s' in %s; first set at %s:%u", name,
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
        cfg_add_error(ctx, fr->file, fr->line, "%s = " QFMT ": %s", name, QARG(value), msg);
}

/* inih's handler, called for each "key = value" line. The section comes
 * from the reader, which knows its full name; errors are recorded rather
 * than returned, so that inih goes on and every error gets reported. */
int cfg_on_key(void *user, const char *section, const char *name, const char *value) {
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
                cfg_add_error(ctx, fr->file, fr->line, "key " QFMT " is outside any section", QARG(name));
                return 1;
        }
        section_label(fr, label, sizeof(label));
        if (!*name) {
                cfg_add_error(ctx, fr->file, fr->line, "missing key name before '=' in %s", label);
                return 1;
        }
        if ((fr->sec == SEC_ALERTS || fr->sec == SEC_TARGET) && (r = alert_policy_key_index(name)) >= 0) {
                on_alert_key(fr, r, name, value, label);
                return 1;
        }
        k = keys_find(fr->sec, name);
        if (!k) {
                keys_hint(name, hint, sizeof(hint));
                cfg_add_error(ctx, fr->file, fr->line, "unknown key " QFMT " in %s%s", QARG(name), label,
                              hint);
                return 1;
        }
        idx = (size_t)(k - config_keys);
        o = origin_of(fr, idx);
        if (o->line) {
                cfg_add_error(ctx, fr->file, fr->line, "duplicate key '%s' in %s; first set at %s:%u",
                              k->name, label, o->file, o->line);
                return 1;
        }
        o->file = fr->file;
        o->line = fr->line;
        if (k->type == KT_GLOBS) {
                cfg_include_globs(fr, value);
                return 1;
        }
        if (k->selector >= 0) {
                struct target_rec *rec = &ctx->recs[fr->target];

                if (rec->sel_key >= 0) {
                        const struct key_origin *first = &rec->set[rec->sel_key];

                        cfg_add_error(
                            ctx, fr->file, fr->line,
                            "target '%s': '%s' conflicts with '%s' at %s:%u; set exactly one of pid, "
                            "pidfile, match, exec",
                            rec->t.name, k->name, config_keys[rec->sel_key].name, first->file, first->line);
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
                cfg_add_error(ctx, fr->file, fr->line, "%s", msg);
        return 1;
}
