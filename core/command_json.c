/* command_json: the JSON forms of status, targets and alerts
 * (`agent ctl --json`), one document each: {"v":1,"targets":[...]} as
 * README.md's schema says. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/command.h"
#include "core/command_int.h"
#include "core/json.h"
#include "core/proc.h"

/* The JSON documents: {"v":1,"targets":[{...},...]}, one object per
 * target, as README.md's schema says.  fill writes one target's fields. */
typedef void (*target_fields_fn)(struct json_obj *o, struct worker *w, const struct worker_status *st);

/* {"v":1,["agent":HEAD,]"targets":ARR} into reply, without its newline. */
static int targets_document(const struct strbuf *head, const struct strbuf *arr, struct strbuf *reply) {
        struct json_obj doc;
        json_obj_begin(&doc, reply);
        json_obj_int(&doc, "v", 1);
        if (head)
                json_obj_raw(&doc, "agent", head->s, head->len);
        json_obj_raw(&doc, "targets", arr->s, arr->len);
        int r = json_obj_end(&doc);
        if (r == 0)
                command_drop_newline(reply);
        return r;
}

/* The "agent" object of `status --json`, into out. */
static int json_agent(const struct command_agent_info *a, struct strbuf *out) {
        struct json_obj o;
        char when[64];
        json_obj_begin(&o, out);
        json_obj_int(&o, "pid", a->pid);
        json_obj_cstr(&o, "version", a->version);
        command_format_time(&a->started, when, sizeof(when));
        json_obj_cstr(&o, "started", when);
        if (a->capture)
                json_obj_cstr(&o, "capture", a->capture);
        else
                json_obj_raw(&o, "capture", "null", 4);
        return json_obj_close(&o);
}

/* agent: written as the document's "agent" object when not NULL. */
static int json_targets(struct worker *const *v, size_t n, target_fields_fn fill,
                        const struct command_agent_info *agent, struct strbuf *reply) {
        struct strbuf arr, head;
        int r = 0;

        strbuf_init(&head);
        if (agent)
                r = json_agent(agent, &head);
        strbuf_init(&arr);
        if (strbuf_append(&arr, "[", 1) < 0)
                r = -ENOMEM;
        for (size_t i = 0; r == 0 && i < n; i++) {
                struct worker_status st;
                struct json_obj o;
                worker_get_status(v[i], &st);
                if (i > 0 && strbuf_append(&arr, ",", 1) < 0) {
                        r = -ENOMEM;
                        break;
                }
                json_obj_begin(&o, &arr);
                json_obj_cstr(&o, "name", worker_name(v[i]));
                fill(&o, v[i], &st);
                r = json_obj_close(&o);
        }
        if (r == 0 && strbuf_append(&arr, "]", 1) < 0)
                r = -ENOMEM;
        if (r == 0)
                r = targets_document(agent ? &head : NULL, &arr, reply);
        strbuf_fini(&arr);
        strbuf_fini(&head);
        return r;
}

static void json_pid(struct json_obj *o, const struct worker_status *st) {
        if (st->pid > 0)
                json_obj_int(o, "pid", st->pid);
        else
                json_obj_raw(o, "pid", "null", 4);
}

static void status_fields(struct json_obj *o, struct worker *w, const struct worker_status *st) {
        static const char *const kinds[REGION_KINDS] = {"anon_bytes", "file_bytes", "heap_bytes",
                                                        "stack_bytes", "other_bytes"};
        char when[64];
        (void)w;
        json_pid(o, st);
        json_obj_cstr(o, "state", target_state_name(st->state));
        json_obj_cstr(o, "reason", st->reason);
        json_obj_uint(o, "interval_us", st->interval_us);
        json_obj_uint(o, "regions", st->regions);
        command_format_time(&st->last_change, when, sizeof(when));
        if (st->last_change.tv_sec)
                json_obj_cstr(o, "last_change", when);
        else
                json_obj_raw(o, "last_change", "null", 4);
        json_obj_uint(o, "samples", st->samples);
        json_obj_uint(o, "full_backups", st->full_written);
        json_obj_uint(o, "diffs", st->diffs_written);
        json_obj_uint(o, "write_errors", st->write_errors);
        json_obj_uint(o, "backup_bytes", st->backup_bytes);
        for (int k = 0; k < REGION_KINDS; k++)
                json_obj_uint(o, kinds[k], st->mapped_bytes[k]);
        json_obj_uint(o, "exec_bytes", st->exec_bytes);
        json_obj_cstr(o, "capture", st->capture_ebpf ? "ebpf" : "poll");
        json_obj_cstr(o, "capture_reason", st->capture_why);
        json_obj_uint(o, "capture_events", st->capture_events);
        json_obj_uint(o, "capture_lost", st->capture_lost);
        json_obj_uint(o, "capture_fallbacks", st->capture_fallbacks);
        json_obj_uint(o, "unstable", st->unstable);
        json_obj_uint(o, "alerts_active", st->alerts_active);
        struct strbuf raised;
        struct json_obj ro;
        strbuf_init(&raised);
        json_obj_begin(&ro, &raised);
        for (int k = 0; k < ALERT_RULE_COUNT; k++)
                json_obj_uint(&ro, alert_rule_info((enum alert_rule)k)->name, st->alerts_raised[k]);
        if (json_obj_close(&ro) == 0)
                json_obj_raw(o, "alerts_raised", raised.s, raised.len);
        else
                o->err = -ENOMEM;
        strbuf_fini(&raised);
}

int command_json_status(struct command_host *h, const struct command *c, const struct parsed *p,
                        struct strbuf *reply) {
        struct selection sel;
        int r = command_select_scope(h, c, p, &sel, reply);
        if (r < 0)
                return r;
        return json_targets(sel.v, sel.n, status_fields, h->agent, reply);
}

static void targets_fields(struct json_obj *o, struct worker *w, const struct worker_status *st) {
        (void)w;
        json_pid(o, st);
        json_obj_cstr(o, "state", target_state_name(st->state));
        json_obj_uint(o, "interval_us", st->interval_us);
}

int command_json_targets(struct command_host *h, const struct command *c, const struct parsed *p,
                         struct strbuf *reply) {
        (void)c;
        (void)p;
        return json_targets(h->sup->workers, h->sup->n, targets_fields, NULL, reply);
}

/* `alerts --json`: {"v":1,"targets":[{"name":...,"pid":...,"alerts":[{...}]}]},
 * each alert the object alerts_format_active_json() writes; a target that
 * did not answer in time has "error":"timed out" instead of "alerts". */
int command_json_alerts(struct command_host *h, const struct command *c, const struct parsed *p,
                        struct strbuf *reply) {
        struct selection sel;
        struct strbuf arr, lines;
        int r = command_select_scope(h, c, p, &sel, reply);
        if (r < 0)
                return r;
        strbuf_init(&arr);
        strbuf_init(&lines);
        if (strbuf_append(&arr, "[", 1) < 0)
                r = -ENOMEM;
        for (size_t i = 0; r == 0 && i < sel.n; i++) {
                struct worker_status st;
                struct json_obj o;
                worker_get_status(sel.v[i], &st);
                strbuf_reset(&lines);
                int n = worker_alerts(sel.v[i], 1, &lines, h->timeout_ms);
                if (i > 0 && strbuf_append(&arr, ",", 1) < 0) {
                        r = -ENOMEM;
                        break;
                }
                json_obj_begin(&o, &arr);
                json_obj_cstr(&o, "name", worker_name(sel.v[i]));
                json_pid(&o, &st);
                if (n < 0) {
                        json_obj_cstr(&o, "error", n == -ETIMEDOUT ? "timed out" : "out of memory");
                } else {
                        /* JSON Lines to an array: the newlines between
                         * objects become commas. */
                        struct strbuf list;
                        strbuf_init(&list);
                        int e = strbuf_append(&list, "[", 1);
                        for (size_t k = 0; e == 0 && k < lines.len; k++) {
                                char ch = lines.s[k];
                                if (ch == '\n')
                                        ch = k + 1 < lines.len ? ',' : 0;
                                if (ch)
                                        e = strbuf_append(&list, &ch, 1);
                        }
                        if (e == 0)
                                e = strbuf_append(&list, "]", 1);
                        if (e == 0)
                                json_obj_raw(&o, "alerts", list.s, list.len);
                        strbuf_fini(&list);
                        if (e < 0)
                                r = -ENOMEM;
                }
                if (r == 0)
                        r = json_obj_close(&o);
        }
        if (r == 0 && strbuf_append(&arr, "]", 1) < 0)
                r = -ENOMEM;
        if (r == 0)
                r = targets_document(NULL, &arr, reply);
        strbuf_fini(&lines);
        strbuf_fini(&arr);
        return r;
}
