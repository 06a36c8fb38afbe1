/* sample_write: the chain of one target: its store opened when first
 * needed, full snapshots and diffs written and logged, a lasting write
 * error logged every WRITE_ERROR_LOG_INTERVAL_S, retention applied and
 * every deletion logged. */
#include "core/sample.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/backup_read.h"
#include "core/procscan.h"
#include "core/worker_impl.h"

/* How often the same write error is logged again while it persists. */
#define WRITE_ERROR_LOG_INTERVAL_S 30

static int ensure_store(struct worker *w) {
        if (backup_store_is_open(&w->store))
                return 0;
        int r = w->env.base_fd > 0
                    ? backup_store_open_at(&w->store, w->env.base_fd, w->env.base, w->params.backup_dir)
                    : backup_store_open(&w->store, w->params.backup_dir);
        if (r == 0 && w->store.ignored)
                worker_emit(
                    w, LOG_WARN,
                    "%s: ignoring %u file%s whose name is not a backup name or whose timestamp lies in "
                    "the future (%s%s); they take no part in naming or retention",
                    w->params.backup_dir, w->store.ignored, w->store.ignored == 1 ? "" : "s",
                    w->store.ignored_name, w->store.ignored == 1 ? "" : ", ...");
        return r;
}

static void write_failed(struct worker *w, const char *what, int err) {
        char eb[ERRBUF];
        struct timespec now = mono_now();
        pthread_mutex_lock(&w->lock);
        w->st.write_errors++;
        uint64_t errors = w->st.write_errors;
        pthread_mutex_unlock(&w->lock);
        w->need_full = 1;
        if (w->last_error_log.tv_sec == 0 ||
            now.tv_sec - w->last_error_log.tv_sec >= WRITE_ERROR_LOG_INTERVAL_S) {
                w->last_error_log = now;
                worker_emit(
                    w, LOG_ERROR,
                    "cannot write %s in %s: %s (%llu failed writes so far; sampling goes on and a full "
                    "snapshot is written once writing works again)",
                    what, w->params.backup_dir, strerror_r(-err, eb, sizeof(eb)), (unsigned long long)errors);
        }
}

static void write_recovered(struct worker *w) {
        if (w->last_error_log.tv_sec != 0) {
                w->last_error_log.tv_sec = 0;
                worker_emit(w, LOG_INFO, "backups are written again in %s", w->params.backup_dir);
        }
}

/* memmon_backup_bytes: what the store counts, after each write. */
static void publish_backup_bytes(struct worker *w) {
        pthread_mutex_lock(&w->lock);
        w->st.backup_bytes = w->store.bytes;
        pthread_mutex_unlock(&w->lock);
}

/* Logs a chain retention deleted: which, how much, and which limit. */
static void retention_deleted(void *user, const struct backup_retention_note *n) {
        struct worker *w = user;
        const struct target_policy *p = &w->params.policy;
        char limit[96];

        if (n->over_keep_full && n->over_max_bytes)
                (void)snprintf(limit, sizeof(limit), "keep_full=%u and max_bytes=%llu", p->keep_full,
                               (unsigned long long)p->max_bytes);
        else if (n->over_keep_full)
                (void)snprintf(limit, sizeof(limit), "keep_full=%u", p->keep_full);
        else
                (void)snprintf(limit, sizeof(limit), "max_bytes=%llu", (unsigned long long)p->max_bytes);
        worker_emit(w, LOG_INFO, "retention (%s) %s the chain of %s in %s, %s to %s: %zu files, %llu bytes",
                    limit, n->complete ? "deleted" : "failed midway deleting", n->first, w->params.backup_dir,
                    n->from_ts, n->to_ts, n->files, (unsigned long long)n->bytes);
}

static void apply_retention(struct worker *w) {
        if (w->params.policy.keep_full == 0 && w->params.policy.max_bytes == 0)
                return;
        char eb[ERRBUF];
        int r = backup_retention(&w->store, w->params.policy.keep_full, w->params.policy.max_bytes,
                                 retention_deleted, w);
        if (r < 0)
                worker_emit(w, LOG_WARN, "retention in %s failed: %s", w->params.backup_dir,
                            strerror_r(-r, eb, sizeof(eb)));
}

/* " (N events)" for a log line, or "" in poll mode. */
static void events_note(const struct backup_capture *cap, char *buf, size_t size) {
        buf[0] = '\0';
        if (cap && cap->n_events > 0)
                (void)snprintf(buf, size, ", %zu events", cap->n_events);
}

int sample_write_full(struct worker *w, const struct maps_snapshot *s, const char *why, int final) {
        char name[BACKUP_NAME_SIZE], note[48];
        struct backup_info info = {
            .target = w->params.name, .pid = w->id.pid, .start_time = w->id.start_time};
        struct backup_capture cap, *c = NULL;
        size_t covered = 0;
        int r = ensure_store(w);
        /* eBPF: the state in cur was read at cur_seq, the one in prev at
         * last_seq. */
        if (w->watched) {
                covered = sample_capture_prepare(w, s == &w->cur ? w->cur_seq : w->last_seq, final, &cap);
                c = &cap;
        }
        if (r == 0)
                r = backup_write_full_captured(&w->store, &info, s, c, name);
        if (c)
                sample_capture_written(w, covered, c, r == 0);
        if (r < 0) {
                write_failed(w, "a full backup", r);
                return r;
        }
        write_recovered(w);
        w->need_full = 0;
        w->diffs_since_full = 0;
        w->last_full = mono_now();
        pthread_mutex_lock(&w->lock);
        w->st.full_written++;
        pthread_mutex_unlock(&w->lock);
        events_note(c, note, sizeof(note));
        worker_emit(w, LOG_INFO, "full backup %s (%s, %zu regions%s)", name, why, s->n, note);
        struct worker_event ev = {.kind = WORKER_EVENT_FULL, .file = name, .regions = s->n, .why = why};
        worker_report(w, &ev);
        apply_retention(w);
        publish_backup_bytes(w);
        return 0;
}

int sample_write_diff(struct worker *w) {
        char name[BACKUP_NAME_SIZE], note[48];
        struct backup_info info = {
            .target = w->params.name, .pid = w->id.pid, .start_time = w->id.start_time};
        struct backup_capture cap, *c = NULL;
        size_t covered = 0;
        int r = ensure_store(w);
        if (w->watched) {
                covered = sample_capture_prepare(w, w->cur_seq, 0, &cap);
                c = &cap;
        }
        if (r == 0)
                r = backup_write_diff_captured(&w->store, &info, &w->prev, &w->cur, &w->diff, c, name);
        if (c)
                sample_capture_written(w, covered, c, r == 0);
        if (r < 0) {
                write_failed(w, "an incremental diff", r);
                return r;
        }
        write_recovered(w);
        w->diffs_since_full++;
        pthread_mutex_lock(&w->lock);
        w->st.diffs_written++;
        w->st.backup_bytes = w->store.bytes;
        pthread_mutex_unlock(&w->lock);
        events_note(c, note, sizeof(note));
        worker_emit(w, LOG_INFO, "diff %s: %zu added, %zu removed, %zu changed%s", name, w->diff.added,
                    w->diff.removed, w->diff.changed, note);
        struct worker_event ev = {.kind = WORKER_EVENT_DIFF,
                                  .file = name,
                                  .regions = w->cur.n,
                                  .added = w->diff.added,
                                  .removed = w->diff.removed,
                                  .changed = w->diff.changed};
        worker_report(w, &ev);
        return 0;
}

int sample_record_change(struct worker *w) {
        char eb[ERRBUF];
        int r = diff_compute(&w->prev, &w->cur, &w->diff);
        if (r < 0) {
                worker_emit(w, LOG_ERROR, "diff failed: %s", strerror_r(-r, eb, sizeof(eb)));
                return r;
        }
        if (sample_full_due(w))
                (void)sample_write_full(w, &w->cur, w->need_full ? "after a failed write" : "scheduled", 0);
        else
                (void)sample_write_diff(w);
        return 0;
}
