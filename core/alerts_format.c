/*
 * What the alert state says, written for people (log lines, the `alerts`
 * command) and for programs (JSON Lines).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/alerts.h"
#include "core/json.h"
#include "core/textesc.h"

const char *alerts_format_utc(const struct timespec *t, char *buf, size_t size) {
        struct tm tm;
        size_t n;
        int m;

        if (size == 0)
                return buf;
        buf[0] = '\0';
        if (!gmtime_r(&t->tv_sec, &tm) || (n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm)) == 0)
                return buf;
        m = snprintf(buf + n, size - n, ".%06ldZ", t->tv_nsec / 1000);
        if (m < 0 || (size_t)m >= size - n)
                buf[0] = '\0';
        return buf;
}

int alerts_format_text(struct strbuf *b, enum alert_rule rule, const char *line, size_t line_len,
                       const char *reason, size_t reason_len) {
        const struct alert_rule_info *info = alert_rule_info(rule);
        int r = strbuf_printf(b, "%s: ", info ? info->name : "?");

        /* The kernel ends the line of a region without a path in a blank. */
        while (line_len > 0 && line[line_len - 1] == ' ')
                line_len--;

        if (r == 0 && line_len > 0 && (r = textesc_append(b, line, line_len)) == 0)
                r = strbuf_append(b, ": ", 2);
        if (r == 0)
                r = textesc_append(b, reason, reason_len);
        return r;
}

void alerts_json_fields(struct json_obj *o, const struct alert_events *e, const struct alert_event *ev) {
        json_obj_cstr(o, "rule", alert_rule_info(ev->rule)->name);
        json_obj_str(o, "region", alert_event_line(e, ev), ev->line_len);
        json_obj_hex(o, "start", ev->start);
        json_obj_hex(o, "end", ev->end);
        json_obj_cstr(o, "perms", ev->perms);
        json_obj_str(o, "path", alert_event_path(e, ev), ev->path_len);
        json_obj_str(o, "reason", alert_event_reason(e, ev), ev->reason_len);
}

int alerts_format_active(const struct alert_state *s, struct strbuf *b) {
        int r = 0;

        size_t n = alerts_active_count(s);

        for (size_t i = 0; i < n && r == 0; i++) {
                const struct alert_active *a = alerts_active_get(s, i);
                char when[32];
                struct tm tm;

                if (!gmtime_r(&a->raised.tv_sec, &tm) ||
                    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                        when[0] = '\0';
                r = alerts_format_text(b, a->rule, a->text, a->line_len, a->text + a->reason_off,
                                       a->reason_len);
                if (r == 0)
                        r = strbuf_printf(b, " (since %s)\n", when);
        }
        return r < 0 ? r : (int)n;
}

int alerts_format_active_json(const struct alert_state *s, const char *target, struct strbuf *b) {
        const struct alert_proc *proc = alerts_process(s);
        size_t n = alerts_active_count(s);

        for (size_t i = 0; i < n; i++) {
                const struct alert_active *a = alerts_active_get(s, i);
                char when[48];
                struct json_obj o;

                json_obj_begin(&o, b);
                json_obj_int(&o, "v", 1);
                json_obj_cstr(&o, "target", target);
                json_obj_int(&o, "pid", proc ? proc->pid : 0);
                json_obj_uint(&o, "start_time", proc ? proc->start_time : 0);
                json_obj_cstr(&o, "rule", alert_rule_info(a->rule)->name);
                json_obj_str(&o, "region", a->text, a->line_len);
                json_obj_hex(&o, "start", a->start);
                json_obj_hex(&o, "end", a->end);
                json_obj_cstr(&o, "perms", a->perms);
                json_obj_str(&o, "path", a->text + a->path_off, a->path_len);
                json_obj_str(&o, "reason", a->text + a->reason_off, a->reason_len);
                json_obj_cstr(&o, "since", alerts_format_utc(&a->raised, when, sizeof(when)));
                if (json_obj_end(&o) < 0)
                        return -ENOMEM;
        }
        return (int)n;
}
