#include "agent/events.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alerts.h"
#include "core/fs.h"
#include "core/json.h"

struct agent_events {
        pthread_mutex_t lock; /* everything below */
        int dir_fd;           /* the logs folder (a dup of the agent's) */
        bool enabled;
        int fd;             /* events.jsonl, or -1 (off, or it could not be opened) */
        uint64_t seq;       /* of the last line */
        struct strbuf line; /* the line being written, reused */
};

/* Opens dir/events.jsonl as the logs are opened (core/fs.h's door, never
 * through a symlink).  Returns the fd or -errno. */
static int open_file(int dfd) {
        int fd = fs_open_at(dfd, AGENT_EVENTS_FILE, O_WRONLY | O_CREAT | O_APPEND, 0600);
        /* A file left by someone else could be wider than 0600: events
         * name paths and address-space layouts too. */
        if (fd >= 0)
                (void)fchmod(fd, 0600);
        return fd;
}

int agent_events_new(int logs_fd, bool enabled, struct agent_events **ret) {
        struct agent_events *e = calloc(1, sizeof(*e));
        int r;

        if (!e)
                return -ENOMEM;
        e->fd = -1;
        e->dir_fd = -1;
        strbuf_init(&e->line);
        r = -pthread_mutex_init(&e->lock, NULL);
        if (r < 0) {
                free(e);
                return r;
        }
        e->dir_fd = fcntl(logs_fd, F_DUPFD_CLOEXEC, 3);
        r = e->dir_fd >= 0 ? 0 : -errno;
        if (r == 0 && enabled)
                r = agent_events_set_enabled(e, true);
        if (r < 0) {
                agent_events_free(e);
                return r;
        }
        *ret = e;
        return 0;
}

void agent_events_free(struct agent_events *e) {
        if (!e)
                return;
        fs_close(&e->fd);
        strbuf_fini(&e->line);
        fs_close(&e->dir_fd);
        pthread_mutex_destroy(&e->lock);
        free(e);
}

int agent_events_set_enabled(struct agent_events *e, bool on) {
        int r = 0;

        pthread_mutex_lock(&e->lock);
        if (on && e->fd < 0) {
                r = open_file(e->dir_fd);
                if (r >= 0)
                        e->fd = r, r = 0;
        } else if (!on) {
                fs_close(&e->fd);
        }
        e->enabled = on && r == 0;
        pthread_mutex_unlock(&e->lock);
        return r;
}

int agent_events_reopen(struct agent_events *e) {
        int r = 0;

        pthread_mutex_lock(&e->lock);
        if (e->enabled) {
                r = open_file(e->dir_fd);
                if (r >= 0) {
                        fs_close(&e->fd);
                        e->fd = r;
                        r = 0;
                }
        }
        pthread_mutex_unlock(&e->lock);
        return r;
}

/* "v", "seq" and "time": the start of every line. */
static void begin_line(struct json_obj *o, struct strbuf *b, uint64_t seq, const struct timespec *t) {
        char when[48];

        json_obj_begin(o, b);
        json_obj_int(o, "v", 1);
        json_obj_uint(o, "seq", seq);
        json_obj_cstr(o, "time", alerts_format_utc(t, when, sizeof(when)));
}

static void worker_fields(struct json_obj *o, const struct worker_event *ev) {
        json_obj_cstr(o, "target", ev->target);
        json_obj_int(o, "pid", ev->pid);
        json_obj_uint(o, "start_time", ev->start_time);
        json_obj_cstr(o, "event", worker_event_name(ev->kind));
        switch (ev->kind) {
        case WORKER_EVENT_ATTACH:
        case WORKER_EVENT_KIND_COUNT:
                break;
        case WORKER_EVENT_EXIT:
                json_obj_cstr(o, "reason", ev->reason);
                break;
        case WORKER_EVENT_FULL:
                json_obj_cstr(o, "file", ev->file);
                json_obj_uint(o, "regions", ev->regions);
                json_obj_cstr(o, "why", ev->why);
                break;
        case WORKER_EVENT_DIFF:
                json_obj_cstr(o, "file", ev->file);
                json_obj_uint(o, "regions", ev->regions);
                json_obj_uint(o, "added", ev->added);
                json_obj_uint(o, "removed", ev->removed);
                json_obj_uint(o, "changed", ev->changed);
                break;
        case WORKER_EVENT_ALERT:
        case WORKER_EVENT_ALERT_CLEARED:
                alerts_json_fields(o, ev->alerts, ev->alert);
                break;
        case WORKER_EVENT_STATE:
                json_obj_cstr(o, "old", target_state_name(ev->old_state));
                json_obj_cstr(o, "new", target_state_name(ev->new_state));
                json_obj_cstr(o, "reason", ev->reason);
                break;
        case WORKER_EVENT_ERROR:
                json_obj_cstr(o, "message", ev->reason);
                break;
        }
}

int agent_events_format(const struct worker_event *ev, uint64_t seq, const struct timespec *t,
                        struct strbuf *out) {
        struct json_obj o;

        begin_line(&o, out, seq, t);
        worker_fields(&o, ev);
        return json_obj_end(&o);
}

/* What an agent-level event writes after "event". */
struct agent_fields {
        const char *event;
        const char *target; /* NULL: the event is not about a target */
        bool ok;
        const struct supervisor_changes *ch;
        size_t errors;
        const char *message;
};

static void agent_fields(struct json_obj *o, const struct agent_fields *f) {
        if (f->target)
                json_obj_cstr(o, "target", f->target);
        json_obj_cstr(o, "event", f->event);
        if (strcmp(f->event, "reload") == 0) {
                const struct supervisor_changes none = {0}, *ch = f->ch ? f->ch : &none;

                json_obj_bool(o, "ok", f->ok);
                json_obj_uint(o, "added", ch->added);
                json_obj_uint(o, "removed", ch->removed);
                json_obj_uint(o, "changed", ch->changed);
                json_obj_uint(o, "restarted", ch->restarted);
                json_obj_uint(o, "unchanged", ch->kept);
                json_obj_uint(o, "errors", f->errors);
        }
        json_obj_cstr(o, "message", f->message);
}

/* Numbers, formats and writes one line: either a worker's event (ev) or
 * an agent's (af). */
static int emit(struct agent_events *e, const struct worker_event *ev, const struct agent_fields *af,
                struct strbuf *copy) {
        struct timespec now;
        struct json_obj o;
        int r;

        pthread_mutex_lock(&e->lock);
        clock_gettime(CLOCK_REALTIME, &now);
        strbuf_reset(&e->line);
        begin_line(&o, &e->line, e->seq + 1, &now);
        if (ev)
                worker_fields(&o, ev);
        else
                agent_fields(&o, af);
        r = json_obj_end(&o);
        if (r == 0) {
                /* Numbered only once formatted, so that seq has no holes. */
                e->seq++;
                if (e->fd >= 0)
                        r = fs_write_all(e->fd, e->line.s, e->line.len);
                if (copy && strbuf_append(copy, e->line.s, e->line.len) < 0 && r == 0)
                        r = -ENOMEM;
        }
        pthread_mutex_unlock(&e->lock);
        return r;
}

int agent_events_worker(struct agent_events *e, const struct worker_event *ev, struct strbuf *line) {
        return emit(e, ev, NULL, line);
}

int agent_events_reload(struct agent_events *e, bool ok, const struct supervisor_changes *ch, size_t errors,
                        const char *message) {
        struct agent_fields f = {.event = "reload", .ok = ok, .ch = ch, .errors = errors, .message = message};
        return emit(e, NULL, &f, NULL);
}

int agent_events_error(struct agent_events *e, const char *target, const char *message) {
        struct agent_fields f = {.event = "error", .target = target, .message = message};
        return emit(e, NULL, &f, NULL);
}
