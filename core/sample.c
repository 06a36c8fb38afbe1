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

void sample_close(struct worker *w) {
        if (w->maps_fd >= 0)
                close(w->maps_fd);
        w->maps_fd = -1;
}

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

static void apply_retention(struct worker *w) {
        if (w->params.policy.keep_full == 0 && w->params.policy.max_bytes == 0)
                return;
        char eb[ERRBUF];
        int r = backup_retention(&w->store, w->params.policy.keep_full, w->params.policy.max_bytes);
        if (r > 0)
                worker_emit(w, LOG_DEBUG, "retention deleted %d old files", r);
        else if (r < 0)
                worker_emit(w, LOG_WARN, "retention in %s failed: %s", w->params.backup_dir,
                            strerror_r(-r, eb, sizeof(eb)));
}

/* Writes a full snapshot of s.  Returns 0 or -errno (already logged). */
static int write_full(struct worker *w, const struct maps_snapshot *s, const char *why) {
        char name[BACKUP_NAME_SIZE];
        struct backup_info info = {
            .target = w->params.name, .pid = w->id.pid, .start_time = w->id.start_time};
        int r = ensure_store(w);
        if (r == 0)
                r = backup_write_full(&w->store, &info, s, name);
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
        worker_emit(w, LOG_INFO, "full backup %s (%s, %zu regions)", name, why, s->n);
        struct worker_event ev = {.kind = WORKER_EVENT_FULL, .file = name, .regions = s->n, .why = why};
        worker_report(w, &ev);
        apply_retention(w);
        publish_backup_bytes(w);
        return 0;
}

static int write_diff(struct worker *w) {
        char name[BACKUP_NAME_SIZE];
        struct backup_info info = {
            .target = w->params.name, .pid = w->id.pid, .start_time = w->id.start_time};
        int r = ensure_store(w);
        if (r == 0)
                r = backup_write_diff(&w->store, &info, &w->prev, &w->cur, &w->diff, name);
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
        worker_emit(w, LOG_INFO, "diff %s: %zu added, %zu removed, %zu changed", name, w->diff.added,
                    w->diff.removed, w->diff.changed);
        struct worker_event ev = {.kind = WORKER_EVENT_DIFF,
                                  .file = name,
                                  .regions = w->cur.n,
                                  .added = w->diff.added,
                                  .removed = w->diff.removed,
                                  .changed = w->diff.changed};
        worker_report(w, &ev);
        return 0;
}

static void stamp_file(const char *path, struct file_stamp *ret) {
        struct stat st;

        memset(ret, 0, sizeof(*ret));
        if (fstatat(AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return;
        ret->dev = st.st_dev;
        ret->ino = st.st_ino;
        ret->size = st.st_size;
        ret->mtime = st.st_mtim;
}

static int stamp_equal(const struct file_stamp *a, const struct file_stamp *b) {
        return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
               a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* A pidfile target follows its pidfile, also while its process lives: a
 * service restarted with an overlap (the new process writes the file before
 * the old one has exited) is the new process from then on.  One stat per
 * tick; the file is read again only when it was rewritten or replaced.
 * Returns the live process the file now names when it is another one than
 * the one watched, 0 otherwise (unchanged, unreadable, untrusted, or naming
 * a process that does not exist: the watched one is kept). */
static pid_t pidfile_moved(struct worker *w) {
        struct file_stamp now;
        struct proc_id id;
        char why[256];
        pid_t pid;

        stamp_file(w->params.pidfile, &now);
        if (now.ino == 0 || stamp_equal(&now, &w->pidfile_seen))
                return 0;
        w->pidfile_seen = now;
        if (proc_read_pidfile_trusted(w->params.pidfile, &pid, NULL, why, sizeof(why)) < 0 ||
            pid == w->id.pid)
                return 0;
        if (proc_identity(pid, &id) < 0)
                return 0;
        return pid;
}

/* Finds the process the target names.  Returns 0 with *ret set, or -errno
 * with a reason written. */
static int locate(struct worker *w, struct proc_id *ret, char *reason, size_t size) {
        const struct worker_params *p = &w->params;
        char eb[ERRBUF];
        pid_t pid = 0;
        int r;
        switch (p->selector) {
        case SELECT_EXEC:
                if (p->pid <= 0) {
                        snprintf(reason, size, "its program could not be started (see the log)");
                        return -ENOEXEC;
                }
                pid = p->pid;
                break;
        case SELECT_PID:
                pid = p->pid;
                break;
        case SELECT_PIDFILE:
                /* Stamp first, read second: a rewrite in between leaves an
                 * older stamp, which only costs one more read. */
                stamp_file(p->pidfile, &w->pidfile_seen);
                r = proc_read_pidfile_trusted(p->pidfile, &pid, &w->pidfile_owner, reason, size);
                if (r < 0) {
                        if (r == -EPERM)
                                ; /* reason says why */
                        else if (r == -EINVAL)
                                snprintf(reason, size, "pidfile %s holds no valid pid", p->pidfile);
                        else
                                snprintf(reason, size, "pidfile %s: %s", p->pidfile,
                                         strerror_r(-r, eb, sizeof(eb)));
                        return r;
                }
                break;
        case SELECT_MATCH:
                r = w->env.scan ? proc_scan_find(w->env.scan, p->match, &p->filter, ret)
                                : proc_find_by_name(p->match, &p->filter, ret);
                if (r < 0)
                        snprintf(reason, size, "no process named %s%s", p->match,
                                 target_filter_set(&p->filter) ? " of the user and executable asked for"
                                                               : "");
                return r;
        }
        r = proc_identity(pid, ret);
        if (r < 0)
                snprintf(reason, size, "process %d does not exist", (int)pid);
        return r;
}

/* Whether the watched process still passes the check its target was
 * attached under, asked again with its maps open (so that what is read
 * next is no newer than what was checked: opening the maps and exec take
 * the same lock).  A pidfile's owner may name only its own processes, a
 * match target names a process by name, user and executable; an exec may
 * have changed any of them (a user's shell running a setuid program).
 * Returns 0, -EPERM with reason set, or -ESRCH. */
static int still_allowed(struct worker *w, char *reason, size_t size) {
        const struct worker_params *p = &w->params;

        switch (p->selector) {
        case SELECT_PIDFILE:
                return proc_owner_may_name(w->pidfile_owner, w->id.pid, p->pidfile, reason, size);
        case SELECT_MATCH:
                if (!proc_name_matches(w->id.pid, p->match)) {
                        snprintf(reason, size, "pid %d is no longer named %s", (int)w->id.pid, p->match);
                        return -EPERM;
                }
                return proc_filter_check(w->id.pid, &p->filter, reason, size);
        default:
                return 0;
        }
}

/* Tries to attach to the target's process.  Returns 0 when attached. */
int sample_attach(struct worker *w) {
        char reason[sizeof(w->st.reason)] = "";
        struct proc_id id;
        int r = locate(w, &id, reason, sizeof(reason));
        if (r == -EPERM) {
                /* Refused, not missing: say so once, and keep checking. */
                if (worker_fire(w, EV_REFUSED, reason))
                        worker_emit(w, LOG_WARN, "denied: %s", reason);
                return r;
        }
        if (r == -ENOEXEC) {
                if (worker_fire(w, EV_GONE, reason))
                        worker_emit(w, LOG_WARN, "exited: %s", reason);
                return r;
        }
        if (r < 0) {
                if (worker_fire(w, EV_MISSING, reason))
                        worker_emit(w, LOG_INFO, "waiting: %s", reason);
                return r;
        }
        int fd = worker_maps_open(w, id.pid);
        if (fd == -EACCES || fd == -EPERM) {
                snprintf(reason, sizeof(reason),
                         "not allowed to read /proc/%d/maps (another user's or a non-dumpable process; "
                         "needs CAP_SYS_PTRACE)",
                         (int)id.pid);
                w->id = id;
                if (worker_fire(w, EV_REFUSED, reason))
                        worker_emit(w, LOG_WARN, "denied: %s", reason);
                return fd;
        }
        if (fd < 0)
                return fd;
        /* The pid may have been reused between reading its identity and
         * opening its maps: check that the instance is still the one. */
        struct proc_id again;
        if (proc_identity(id.pid, &again) < 0 || again.start_time != id.start_time) {
                close(fd);
                return -ESRCH;
        }
        w->id = id;
        r = still_allowed(w, reason, sizeof(reason));
        if (r < 0) {
                close(fd);
                if (r == -EPERM && worker_fire(w, EV_REFUSED, reason))
                        worker_emit(w, LOG_WARN, "denied: %s", reason);
                return r;
        }
        w->maps_fd = fd;
        w->have_prev = 0;
        worker_emit(w, LOG_INFO, "attached to pid %d (start time %llu)", (int)id.pid,
                    (unsigned long long)id.start_time);
        struct worker_event ev = {.kind = WORKER_EVENT_ATTACH};
        worker_report(w, &ev);
        worker_fire(w, EV_ATTACHED, "");
        return 0;
}

/* The process instance is gone: record its last state and wait or end. */
static void lost(struct worker *w) {
        worker_emit(w, LOG_INFO, "pid %d exited", (int)w->id.pid);
        struct worker_event ev = {.kind = WORKER_EVENT_EXIT, .reason = "process exited"};
        worker_report(w, &ev);
        if (w->have_prev)
                (void)write_full(w, &w->prev, "final, process exited");
        worker_alerts_end(w, "process exited");
        sample_close(w);
        w->have_prev = 0;
        if (w->params.selector == SELECT_PID || w->params.selector == SELECT_EXEC)
                worker_fire(w, EV_GONE, "process exited");
        else
                worker_fire(w, EV_ENDED, "process exited; waiting for a new one");
}

/* The process called exec and no longer passes its target's check: its
 * chain ends with the last state recorded before the exec, and nothing of
 * the new program is read. */
static void denied_after_exec(struct worker *w, const char *reason) {
        worker_emit(w, LOG_WARN, "denied: %s (after an exec); recording stopped", reason);
        if (w->have_prev)
                (void)write_full(w, &w->prev, "final, the process called exec and may no longer be watched");
        sample_close(w);
        w->have_prev = 0;
        worker_fire(w, EV_REFUSED, reason);
}

/* The address space the maps fd was opened on is gone: the process exited,
 * or it called exec and has a new one.  For an exec, reopens and re-reads,
 * after checking that the new program may still be watched.  Returns 0,
 * -ESRCH when the instance is gone, or -EPERM when it may not be watched
 * any more (already reported). */
static int reopen_after_exec(struct worker *w) {
        sample_close(w);
        int fd = worker_maps_open(w, w->id.pid);
        if (fd < 0)
                return fd;
        /* Open first, then check the instance, as attach() does: checked
         * first, the pid could be reused before the open and the maps read
         * would be another process's. */
        struct proc_id now;
        if (proc_identity(w->id.pid, &now) < 0 || now.start_time != w->id.start_time) {
                close(fd);
                return -ESRCH;
        }
        char reason[sizeof(w->st.reason)];
        int allowed = still_allowed(w, reason, sizeof(reason));
        if (allowed < 0) {
                close(fd);
                if (allowed == -EPERM)
                        denied_after_exec(w, reason);
                return allowed;
        }
        w->maps_fd = fd;
        w->alerts_fresh = 1; /* a new address space: judged whole */
        int r = worker_maps_read(w, &w->cur);
        if (r < 0)
                return r;
        return w->cur.len > 0 ? 0 : -ESRCH;
}

/* Reads the maps into w->cur.  Returns 0, or -ESRCH when the instance is
 * gone, or another -errno. */
static int read_maps(struct worker *w) {
        int r = worker_maps_read(w, &w->cur);
        if (r == 0 && w->cur.len > 0)
                return 0;
        if (r < 0 && r != -ESRCH)
                return r;
        /* An empty read: the address space is gone. */
        return reopen_after_exec(w);
}

/* True when the address space the maps fd reads is still there.  Once a
 * process's memory is being torn down (exit, exec), the kernel stops
 * handing out its maps, and a read that spanned that moment simply stops
 * early, still well-formed.  The address space never comes back, so if a
 * one-byte read succeeds after the whole read, the whole read saw it
 * alive. */
static int address_space_alive(struct worker *w) {
        char c;
        return worker_maps_pread(w, &c, 1, 0) == 1;
}

static int full_due(struct worker *w) {
        if (w->need_full || w->diffs_since_full >= w->params.policy.full_every)
                return 1;
        if (w->params.policy.full_interval_us == 0)
                return 0;
        struct timespec now = mono_now();
        return timespec_us(&now) - timespec_us(&w->last_full) >= (int64_t)w->params.policy.full_interval_us;
}

static void note_change(struct worker *w) {
        uint64_t bytes[REGION_KINDS], exec;
        maps_tally(&w->prev, bytes, &exec);
        pthread_mutex_lock(&w->lock);
        memcpy(w->st.mapped_bytes, bytes, sizeof(bytes));
        w->st.exec_bytes = exec;
        w->st.regions = w->prev.n;
        clock_gettime(CLOCK_REALTIME, &w->st.last_change);
        pthread_mutex_unlock(&w->lock);
}

int sample_tick(struct worker *w) {
        char eb[ERRBUF];
        pid_t moved;

        if (w->maps_fd >= 0 && w->params.selector == SELECT_PIDFILE && (moved = pidfile_moved(w)) > 0) {
                worker_emit(w, LOG_INFO, "pidfile %s now names pid %d: leaving pid %d", w->params.pidfile,
                            (int)moved, (int)w->id.pid);
                if (w->have_prev)
                        (void)write_full(w, &w->prev, "final, the pidfile names another process");
                worker_alerts_end(w, "the pidfile names another process");
                sample_close(w);
                w->have_prev = 0;
                worker_fire(w, EV_ENDED, "the pidfile names another process");
        }
        if (w->maps_fd < 0) {
                int r = sample_attach(w);
                if (r < 0)
                        return r;
        }
        int r = read_maps(w);
        if (r == -ESRCH) {
                lost(w);
                return r;
        }
        if (r == -EPERM)
                return r;
        if (r < 0) {
                worker_emit(w, LOG_ERROR, "cannot read /proc/%d/maps: %s", (int)w->id.pid,
                            strerror_r(-r, eb, sizeof(eb)));
                return r;
        }
        pthread_mutex_lock(&w->lock);
        w->st.samples++;
        pthread_mutex_unlock(&w->lock);
        /* Most ticks change nothing: identical text needs no parsing. */
        if (w->have_prev && !w->need_full && w->cur.len == w->prev.len &&
            memcmp(w->cur.text, w->prev.text, w->cur.len) == 0) {
                worker_alerts_tick(w, &w->prev);
                return 0;
        }
        /* Changes are rare: only a changed text pays for proving that the
         * read was not cut short by the process exiting (or exec'ing). */
        if (!address_space_alive(w)) {
                r = reopen_after_exec(w);
                if (r == 0 && !address_space_alive(w))
                        r = -ESRCH;
                if (r < 0) {
                        if (r == -ESRCH)
                                lost(w);
                        return r;
                }
        }
        size_t bad_line = 0;
        /* Only the lines between the unchanged head and tail are parsed. */
        r = w->have_prev ? maps_parse_since(&w->cur, &w->prev, &bad_line) : maps_parse(&w->cur, &bad_line);
        if (r == -EINVAL) {
                /* The kernel builds the text a page at a time and the
                 * mappings may move in between: one re-read settles it. */
                r = read_maps(w);
                if (r == 0)
                        r = maps_parse(&w->cur, &bad_line);
        }
        if (r < 0) {
                if (r == -EINVAL)
                        worker_emit(w, LOG_ERROR,
                                    "/proc/%d/maps line %zu could not be parsed; sample skipped",
                                    (int)w->id.pid, bad_line);
                else if (r == -ESRCH)
                        lost(w);
                else if (r != -EPERM)
                        worker_emit(w, LOG_ERROR, "cannot parse /proc/%d/maps: %s", (int)w->id.pid,
                                    strerror_r(-r, eb, sizeof(eb)));
                return r;
        }
        w->cur.checksum = maps_checksum(w->cur.text, w->cur.len);
        if (!w->have_prev) {
                if (write_full(w, &w->cur, "sampling started") < 0)
                        w->need_full = 1;
                worker_alerts_first(w, &w->cur);
        } else if (w->cur.len == w->prev.len && memcmp(w->cur.text, w->prev.text, w->cur.len) == 0) {
                /* Unchanged, but the last write failed: record it now. */
                (void)write_full(w, &w->cur, "after a failed write");
        } else {
                r = diff_compute(&w->prev, &w->cur, &w->diff);
                if (r < 0) {
                        worker_emit(w, LOG_ERROR, "diff failed: %s", strerror_r(-r, eb, sizeof(eb)));
                        return r;
                }
                if (full_due(w))
                        (void)write_full(w, &w->cur, w->need_full ? "after a failed write" : "scheduled");
                else
                        (void)write_diff(w);
                worker_alerts_change(w);
        }
        maps_snapshot_swap(&w->prev, &w->cur);
        w->have_prev = 1;
        note_change(w);
        worker_alerts_tick(w, &w->prev);
        return 0;
}

int sample_backup(struct worker *w) {
        if (w->st.state == TARGET_PAUSED || w->st.state == TARGET_EXITED)
                return -ESRCH;
        int r = sample_tick(w);
        if (r < 0)
                return r;
        if (!w->have_prev)
                return -ESRCH;
        /* sample_tick() may have just written a full snapshot of the same text:
         * a manual backup is asked for, so it still gets its own file. */
        return write_full(w, &w->prev, "manual");
}

void sample_follow_pid(struct worker *w, pid_t pid) {
        worker_alerts_end(w, "the target follows another process");
        sample_close(w);
        w->have_prev = 0;
        pthread_mutex_lock(&w->lock);
        w->params.selector = SELECT_PID;
        w->params.pid = pid;
        pthread_mutex_unlock(&w->lock);
        w->id.pid = pid;
        w->id.start_time = 0;
        worker_emit(w, LOG_INFO, "following pid %d (a new chain starts)", (int)pid);
        worker_fire(w, EV_RETARGET, "");
}

void sample_stop(struct worker *w, int final) {
        if (final && w->have_prev)
                (void)write_full(w, &w->prev, "final, target stopped");
        worker_alerts_end(w, "target stopped");
        sample_close(w);
}
