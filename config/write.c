#include "config/config_write.h"

#include <errno.h>
#include <stdio.h>

#include "config/keys.h"
#include "config/strv.h"
#include "core/alerts.h"
#include "core/strbuf.h"

/* Writes one exec word so that strv_split() gives it back.  inih takes a
 * ';' after any blank for the start of a comment, quotes or not: a word is
 * written after a blank, so one that starts with ';' is quoted, and inside
 * quotes a ';' that follows a blank gets an empty pair of quotes ("")
 * before it, which strv_split() reads as nothing. */
static void write_word(FILE *f, const char *w) {
        bool plain = *w && *w != ';';

        for (const char *p = w; plain && *p; p++)
                plain = !strv_blank(*p) && *p != '"';
        if (plain) {
                fputs(w, f);
                return;
        }
        fputc('"', f);
        for (const char *p = w; *p; p++) {
                if (*p == '"' || *p == '\\')
                        fputc('\\', f);
                else if (*p == ';' && p > w && strv_blank(p[-1]))
                        fputs("\"\"", f);
                fputc(*p, f);
        }
        fputc('"', f);
}

/* Writes "key = value" for key K of BASE. */
static void write_key(FILE *f, const struct key_def *k, const void *base) {
        const void *field = (const char *)base + k->offset;
        const char *level;
        char buf[KEYS_NUMBER_SIZE];
        const char *s = NULL;

        /* A ';' after a blank starts a comment, so a name or path that
         * begins with one follows the '=' directly. */
        if (k->type == KT_PATH || k->type == KT_NAME)
                s = *(char *const *)field;
        else if (k->type == KT_EXE)
                s = ((const struct target_filter *)field)->exe;
        /* An optional path that is not set is not written: "key =" would
         * read back as an empty path, which is an error. */
        if (k->type == KT_PATH && !s)
                return;
        fprintf(f, "%s =%s", k->name, s && s[0] == ';' ? "" : " ");
        switch (k->type) {
        case KT_UINT:
        case KT_PID:
        case KT_DURATION:
        case KT_SIZE:
                keys_format_number(k->type, keys_number(base, k), buf, sizeof(buf));
                fputs(buf, f);
                break;
        case KT_LOG_LEVEL:
                level = log_level_name(*(const enum log_level *)field);
                fputs(level ? level : "info", f);
                break;
        case KT_BOOL:
                fputs(*(const bool *)field ? "on" : "off", f);
                break;
        case KT_CHOICE:
                fputs(k->choices[*(const int *)field], f);
                break;
        case KT_PATH:
        case KT_NAME:
                s = *(char *const *)field;
                fputs(s ? s : "", f);
                break;
        case KT_ARGV:
                for (char *const *w = *(char **const *)field; w && *w; w++) {
                        if (w != *(char **const *)field)
                                fputc(' ', f);
                        write_word(f, *w);
                }
                break;
        case KT_USER:
                fprintf(f, "%u", (unsigned)((const struct target_filter *)field)->uid);
                break;
        case KT_EXE:
                fputs(s ? s : "", f);
                break;
        case KT_GLOBS:
                break;
        }
        fputc('\n', f);
}

/* Writes every alert key of p, resolved. */
static void write_alert_keys(FILE *f, const struct alert_policy *p) {
        struct strbuf v;

        strbuf_init(&v);
        for (size_t i = 0; i < alert_policy_key_count(); i++) {
                const char *key = alert_policy_key_name(i);

                strbuf_reset(&v);
                if (alert_policy_format(p, key, &v) < 0)
                        continue; /* out of memory: the caller sees ferror() */
                fprintf(f, "%s = %s\n", key, strbuf_str(&v));
        }
        strbuf_fini(&v);
}

int config_write(const struct config *c, FILE *f) {
        if (c->path)
                fprintf(f, "; memmon configuration, resolved from %s\n", c->path);
        fputs("[agent]\n", f);
        for (size_t i = 0; i < KEYS_N; i++)
                if (config_keys[i].sections & IN(SEC_AGENT))
                        write_key(f, &config_keys[i], c);
        fputs("\n[defaults]\n", f);
        for (size_t i = 0; i < KEYS_N; i++)
                if (config_keys[i].sections & IN(SEC_DEFAULTS))
                        write_key(f, &config_keys[i], &c->defaults);
        fputs("\n[alerts]\n", f);
        write_alert_keys(f, &c->defaults.alerts);
        for (size_t t = 0; t < c->n_targets; t++) {
                const struct target_config *tc = &c->targets[t];

                fprintf(f, "\n[target:%s]", tc->name);
                if (tc->file)
                        fprintf(f, " ; %s:%u", tc->file, tc->line);
                fputc('\n', f);
                for (size_t i = 0; i < KEYS_N; i++)
                        if (config_keys[i].selector >= 0 && config_keys[i].selector == (int)tc->sel)
                                write_key(f, &config_keys[i], tc);
                for (size_t i = 0; i < KEYS_N; i++) {
                        const struct key_def *k = &config_keys[i];
                        if (k->filter && ((k->type == KT_USER && tc->filter.has_uid) ||
                                          (k->type == KT_EXE && tc->filter.exe)))
                                write_key(f, k, tc);
                }
                for (size_t i = 0; i < KEYS_N; i++)
                        if (keys_is_policy(&config_keys[i]))
                                write_key(f, &config_keys[i], &tc->policy);
                write_alert_keys(f, &tc->policy.alerts);
        }
        return ferror(f) ? -EIO : 0;
}

int config_write_keys(FILE *f) {
        for (size_t i = 0; i < KEYS_N; i++) {
                const struct key_def *k = &config_keys[i];
                char lo[KEYS_NUMBER_SIZE], hi[KEYS_NUMBER_SIZE], range[2 * KEYS_NUMBER_SIZE + 4] = "";
                char where[64];

                keys_sections_text(k->sections, false, where, sizeof(where));
                if (k->type == KT_CHOICE) {
                        keys_choices_text(k, "|", "|", range, sizeof(range));
                } else if (keys_field_size(k->type) && k->type != KT_LOG_LEVEL && k->type != KT_BOOL) {
                        keys_format_number(k->type, k->min, lo, sizeof(lo));
                        keys_format_number(k->type, k->max, hi, sizeof(hi));
                        if (snprintf(range, sizeof(range), "%s..%s", lo, hi) >= (int)sizeof(range))
                                range[0] = '\0';
                }
                fprintf(f, "%-26s %-13s %-9s %-14s %-6s %s\n", where, k->name, keys_type_name(k->type), range,
                        k->def ? k->def : "-", k->help);
        }
        for (size_t i = 0; i < alert_policy_key_count(); i++) {
                const char *def = alert_policy_key_default(i);

                fprintf(f, "%-26s %-13s %-9s %-14s %-6s %s\n", "[alerts] [target:NAME]",
                        alert_policy_key_name(i), "alert", "", def[0] ? def : "-", alert_policy_key_help(i));
        }
        return ferror(f) ? -EIO : 0;
}
