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

/* Closes the maps fd only: the process stays watched (an exec). */
static void close_maps(struct worker *w) {
        if (w->maps_fd >= 0)
                close(w->maps_fd);
        w->maps_fd = -1;
}

void sample_close(struct worker *w) {
        close_maps(w);
        sample_capture_detach(w);
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
        struct proc_task t;
        char why[256];
        pid_t pid;

        stamp_file(w->params.pidfile, &now);
        if (now.ino == 0 || stamp_equal(&now, &w->pidfile_seen))
                return 0;
        w->pidfile_seen = now;
        if (proc_read_pidfile_trusted(w->params.pidfile, &pid, NULL, why, sizeof(why)) < 0 ||
            pid == w->id.pid)
                return 0;
        /* Alive, its main thread or another. */
        if (proc_task_find(pid, &t) < 0)
                return 0;
        return pid;
}

/* Finds the process the target names.  Returns 0 with *ret set, or -errno
 * with a reason written. */
static int locate(struct worker *w, struct proc_task *ret, char *reason, size_t size) {
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
        case SELECT_MATCH: {
                struct proc_id id;
                /* eBPF: the capture names the processes that exec; /proc is
                 * scanned at first and every resync only. */
                if (w->env.capture)
                        r = sample_capture_find(w, &id);
                else
                        r = w->env.scan ? proc_scan_find(w->env.scan, p->match, &p->filter, &id)
                                        : proc_find_by_name(p->match, &p->filter, &id);
                if (r == 0 && (proc_task_find(id.pid, ret) < 0 || ret->id.start_time != id.start_time))
                        r = -ESRCH;
                if (r < 0)
                        snprintf(reason, size, "no process named %s%s", p->match,
                                 target_filter_set(&p->filter) ? " of the user and executable asked for"
                                                               : "");
                return r;
        }
        }
        r = proc_task_find(pid, ret);
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
        struct proc_task t;
        int r = locate(w, &t, reason, sizeof(reason));
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
                sample_capture_waiting(w, 1);
                return r;
        }
        if (t.kernel_thread) {
                /* Its maps read empty, which would pass for an exit. */
                snprintf(reason, sizeof(reason), "pid %d is a kernel thread: it has no memory mappings",
                         (int)t.id.pid);
                w->id = t.id;
                if (worker_fire(w, EV_REFUSED, reason))
                        worker_emit(w, LOG_WARN, "denied: %s", reason);
                return -EPERM;
        }
        int fd = worker_task_open(w, &t, "maps");
        if (fd == -EACCES || fd == -EPERM) {
                snprintf(reason, sizeof(reason),
                         "not allowed to read /proc/%d/maps (another user's or a non-dumpable process; "
                         "needs CAP_SYS_PTRACE)",
                         (int)t.id.pid);
                w->id = t.id;
                if (worker_fire(w, EV_REFUSED, reason))
                        worker_emit(w, LOG_WARN, "denied: %s", reason);
                return fd;
        }
        if (fd < 0)
                return fd;
        /* The pid may have been reused between reading its identity and
         * opening its maps: check that the instance is still the one. */
        struct proc_task again;
        if (proc_task_find(t.id.pid, &again) < 0 || again.id.start_time != t.id.start_time) {
                close(fd);
                return -ESRCH;
        }
        w->id = t.id;
        r = still_allowed(w, reason, sizeof(reason));
        if (r < 0) {
                close(fd);
                if (r == -EPERM && worker_fire(w, EV_REFUSED, reason))
                        worker_emit(w, LOG_WARN, "denied: %s", reason);
                return r;
        }
        w->maps_fd = fd;
        w->tid = t.tid;
        w->have_prev = 0;
        w->retry_us = 0;
        w->compare_only = 0;
        w->size_failures = 0;
        sample_capture_waiting(w, 0);
        if (t.tid != t.id.pid)
                worker_emit(w, LOG_INFO,
                            "attached to pid %d (start time %llu) through its thread %d: its main thread "
                            "has exited",
                            (int)t.id.pid, (unsigned long long)t.id.start_time, (int)t.tid);
        else
                worker_emit(w, LOG_INFO, "attached to pid %d (start time %llu)", (int)t.id.pid,
                            (unsigned long long)t.id.start_time);
        struct worker_event ev = {.kind = WORKER_EVENT_ATTACH};
        worker_report(w, &ev);
        worker_fire(w, EV_ATTACHED, "");
        /* Before the first read: a change between the read and the watch
         * would be missed. */
        sample_capture_attach(w);
        return 0;
}

void sample_lost(struct worker *w) {
        worker_emit(w, LOG_INFO, "pid %d exited", (int)w->id.pid);
        struct worker_event ev = {.kind = WORKER_EVENT_EXIT, .reason = "process exited"};
        worker_report(w, &ev);
        if (w->have_prev)
                (void)sample_write_full(w, &w->prev, "final, process exited", 1);
        else
                sample_capture_exit_unread(w);
        worker_alerts_end(w, "process exited");
        sample_close(w);
        w->have_prev = 0;
        if (w->params.selector == SELECT_PID || w->params.selector == SELECT_EXEC)
                worker_fire(w, EV_GONE, "process exited");
        else
                worker_fire(w, EV_ENDED, "process exited; waiting for a new one");
        /* eBPF: a `match` target's name goes back into the exec hook's list
         * at once, not at the next wait's tick (an interval away), so that
         * a process started meanwhile is watched from its exec on. */
        sample_capture_waiting(w, 1);
}

/* The process called exec and no longer passes its target's check: its
 * chain ends with the last state recorded before the exec, and nothing of
 * the new program is read. */
static void denied_after_exec(struct worker *w, const char *reason) {
        worker_emit(w, LOG_WARN, "denied: %s (after an exec); recording stopped", reason);
        sample_capture_drop_after_exec(w);
        if (w->have_prev)
                (void)sample_write_full(w, &w->prev,
                                        "final, the process called exec and may no longer be watched", 1);
        worker_alerts_end(w, "the process may no longer be watched");
        sample_close(w);
        w->have_prev = 0;
        worker_fire(w, EV_REFUSED, reason);
}

int sample_reopen(struct worker *w) {
        close_maps(w);
        /* Through a live thread: the one read through so far may be gone
         * (an exec by another thread ends every other one). */
        struct proc_task t;
        int r = proc_task_find(w->id.pid, &t);
        if (r < 0)
                return r;
        if (t.id.start_time != w->id.start_time)
                return -ESRCH;
        int fd = worker_task_open(w, &t, "maps");
        if (fd < 0)
                return fd;
        /* Open first, then check the instance, as attach() does: checked
         * first, the pid could be reused before the open and the maps read
         * would be another process's. */
        struct proc_task now;
        if (proc_task_find(w->id.pid, &now) < 0 || now.id.start_time != w->id.start_time) {
                close(fd);
                return -ESRCH;
        }
        char reason[sizeof(w->st.reason)];
        r = still_allowed(w, reason, sizeof(reason));
        if (r < 0) {
                close(fd);
                if (r == -EPERM)
                        denied_after_exec(w, reason);
                return r;
        }
        w->maps_fd = fd;
        w->tid = t.tid;
        w->alerts_fresh = 1; /* a new address space: judged whole */
        return 0;
}

/* The address space the maps fd was opened on is gone: the process exited,
 * or it called exec and has a new one.  For an exec, reopens and re-reads,
 * after checking that the new program may still be watched.  Returns 0,
 * -ESRCH when the instance is gone, or -EPERM when it may not be watched
 * any more (already reported). */
static int reopen_after_exec(struct worker *w) {
        int r = sample_reopen(w);
        if (r < 0)
                return r;
        r = worker_maps_read(w, &w->cur);
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
int sample_space_alive(struct worker *w) {
        char c;
        return worker_maps_pread(w, &c, 1, 0) == 1;
}

int sample_full_due(struct worker *w) {
        if (w->need_full || w->diffs_since_full >= w->params.policy.full_every)
                return 1;
        if (w->params.policy.full_interval_us == 0)
                return 0;
        struct timespec now = mono_now();
        return timespec_us(&now) - timespec_us(&w->last_full) >= (int64_t)w->params.policy.full_interval_us;
}

void sample_note_change(struct worker *w) {
        uint64_t bytes[REGION_KINDS], exec;
        maps_tally(&w->prev, bytes, &exec);
        pthread_mutex_lock(&w->lock);
        memcpy(w->st.mapped_bytes, bytes, sizeof(bytes));
        w->st.exec_bytes = exec;
        w->st.regions = w->prev.n;
        clock_gettime(CLOCK_REALTIME, &w->st.last_change);
        pthread_mutex_unlock(&w->lock);
}

/* What a change tick used for its re-reads (w->alt, the listing of file
 * mappings) is freed after it when it takes this much or less: a small
 * process changes rarely, and 1,000 of them would keep it resident for
 * nothing.  A bigger buffer is kept, as a process that big pays more for
 * its page faults on every change than for the memory. */
#define SETTLE_KEEP ((size_t)64 * 1024)
/* How many times a change tick reopens the maps after an exec. */
#define SETTLE_REOPENS 3
/* Ticks whose maps never held still are logged at most this often. */
#define UNSTABLE_LOG_INTERVAL_S 10
/* After this many change ticks in a row in which every re-read agreed with
 * the read before it and the size stood still all through, yet the text
 * was refuted, its size and file listing are no longer consulted for the
 * process: a kernel whose statm or map_files counts otherwise than its maps
 * must not stop the record.  A process that changes does not keep its size
 * still through SETTLE_READS reads that agree. */
#define SIZE_DISTRUST_TICKS 3

/* The text read into w->cur differs from the last one recorded: settles
 * it (sample_settle()), reopening the maps after an exec and proving that the
 * text to record was not cut short by an exit.  Returns as sample_settle() does,
 * or -ESRCH when the process is gone (lost() has been called). */
static int settle_change(struct worker *w, struct settle_stats *st) {
        for (int attempt = 0; attempt < SETTLE_REOPENS; attempt++) {
                int r;
                /* Changes are rare: only a changed text pays for proving
                 * that the read was not cut short by the process exiting
                 * (or exec'ing). */
                if (!sample_space_alive(w)) {
                        r = reopen_after_exec(w);
                        if (r == 0 && !sample_space_alive(w))
                                r = -ESRCH;
                        if (r < 0) {
                                if (r == -ESRCH)
                                        sample_lost(w);
                                return r;
                        }
                }
                r = sample_settle(w, st);
                maps_snapshot_release(&w->alt, SETTLE_KEEP);
                proc_dents_release(&w->dents, SETTLE_KEEP);
                if (r == -ESTALE)
                        continue;
                /* The text to record may be the last read of all. */
                if (r >= 0 && !sample_space_alive(w))
                        continue;
                return r;
        }
        /* exec after exec: the next tick reads again. */
        return -EAGAIN;
}

int sample_count_unstable(struct worker *w, char *more, size_t size) {
        pthread_mutex_lock(&w->lock);
        w->st.unstable++;
        pthread_mutex_unlock(&w->lock);
        struct timespec now = mono_now();
        if (w->last_unstable_log.tv_sec != 0 &&
            now.tv_sec - w->last_unstable_log.tv_sec < UNSTABLE_LOG_INTERVAL_S) {
                w->unstable_unlogged++;
                return 0;
        }
        more[0] = '\0';
        if (w->unstable_unlogged)
                (void)snprintf(more, size, " (and %llu more such ticks since the last message)",
                               (unsigned long long)w->unstable_unlogged);
        w->last_unstable_log = now;
        w->unstable_unlogged = 0;
        return 1;
}

/* Counts a change tick whose maps did not hold still, and logs it. */
static void note_unstable(struct worker *w, int recorded, const struct settle_stats *st) {
        char more[96];
        if (!sample_count_unstable(w, more, sizeof(more)))
                return;
        if (recorded)
                worker_emit(w, LOG_INFO,
                            "pid %d changed its mappings while it was read %d times: no two reads agreed; "
                            "recorded the last sound one, unconfirmed (reads found torn: %d out of order, "
                            "%d not adding up to its size, %d with file mappings not as listed)%s",
                            (int)w->id.pid, st->reads, st->out_of_order, st->size, st->files, more);
        else
                worker_emit(w, LOG_INFO,
                            "pid %d changed its mappings while it was read %d times: no two reads agreed and "
                            "the last two were torn (reads found torn: %d out of order, %d not adding up to "
                            "its size, %d with file mappings not as listed): nothing recorded this tick%s",
                            (int)w->id.pid, st->reads, st->out_of_order, st->size, st->files, more);
}

/* The first retry of a first state that raced, in microseconds. */
#define FIRST_RETRY_US 5000

void sample_first_retry(struct worker *w) {
        uint64_t iv = w->params.policy.interval_us;

        if (w->have_prev)
                return;
        w->retry_us = w->retry_us ? 2 * w->retry_us : FIRST_RETRY_US;
        if (w->retry_us > iv)
                w->retry_us = iv;
}

uint64_t sample_retry_us(const struct worker *w) {
        return w->maps_fd >= 0 && !w->have_prev ? w->retry_us : 0;
}

int sample_tick(struct worker *w) {
        char eb[ERRBUF];
        pid_t moved;

        if (w->maps_fd >= 0 && w->params.selector == SELECT_PIDFILE && (moved = pidfile_moved(w)) > 0) {
                worker_emit(w, LOG_INFO, "pidfile %s now names pid %d: leaving pid %d", w->params.pidfile,
                            (int)moved, (int)w->id.pid);
                if (w->have_prev)
                        (void)sample_write_full(w, &w->prev, "final, the pidfile names another process", 1);
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
        if (w->watched)
                return sample_capture_tick(w);
        int r = read_maps(w);
        if (r == -ESRCH) {
                sample_lost(w);
                return r;
        }
        if (r == -EPERM)
                return r; /* denied after an exec: reported */
        if (r < 0) {
                worker_emit(w, LOG_ERROR, "cannot read /proc/%d/maps: %s", (int)w->id.pid,
                            strerror_r(-r, eb, sizeof(eb)));
                return r;
        }
        pthread_mutex_lock(&w->lock);
        w->st.samples++;
        pthread_mutex_unlock(&w->lock);
        /* Most ticks change nothing: identical text needs no parsing, and
         * is read once. */
        int same =
            w->have_prev && w->cur.len == w->prev.len && memcmp(w->cur.text, w->prev.text, w->cur.len) == 0;
        if (same && !w->need_full) {
                worker_alerts_tick(w, &w->prev);
                return 0;
        }
        struct settle_stats st = {.reads = 1};
        if (same) {
                /* Unchanged, but the last write failed: the text agrees
                 * with the one last recorded, and is recorded now. */
                size_t bad_line = 0;
                r = maps_parse_since(&w->cur, &w->prev, &bad_line);
        } else {
                r = settle_change(w, &st);
        }
        if (r == -ESRCH)
                return r;
        if (r == UNSETTLED || r == -EAGAIN)
                note_unstable(w, r == UNSETTLED, &st);
        if (r == -EAGAIN) {
                sample_first_retry(w);
                w->size_failures = st.steady == st.reads - 1 ? w->size_failures + 1 : 0;
                if (w->size_failures >= SIZE_DISTRUST_TICKS && !w->compare_only) {
                        w->compare_only = 1;
                        worker_emit(w, LOG_WARN,
                                    "the maps of pid %d, unchanging, have disagreed with its size (statm) or "
                                    "its file mappings (map_files) %u ticks in a row: its reads are only "
                                    "compared from now on",
                                    (int)w->id.pid, w->size_failures);
                }
                return r;
        }
        w->size_failures = 0;
        if (r == -EPERM)
                return r; /* denied after an exec: reported */
        if (r < 0) {
                worker_emit(w, LOG_ERROR, "cannot read /proc/%d/maps: %s", (int)w->id.pid,
                            strerror_r(-r, eb, sizeof(eb)));
                return r;
        }
        w->cur.checksum = maps_checksum(w->cur.text, w->cur.len);
        if (!w->have_prev) {
                if (sample_write_full(w, &w->cur, "sampling started", 0) < 0)
                        w->need_full = 1;
                worker_alerts_first(w, &w->cur);
        } else if (w->cur.len == w->prev.len && memcmp(w->cur.text, w->prev.text, w->cur.len) == 0) {
                /* The first read was torn and the maps had not changed. */
                if (!w->need_full)
                        return 0;
                /* Unchanged, but the last write failed: record it now. */
                (void)sample_write_full(w, &w->cur, "after a failed write", 0);
        } else {
                r = sample_record_change(w);
                if (r < 0)
                        return r;
                worker_alerts_change(w);
        }
        maps_snapshot_swap(&w->prev, &w->cur);
        w->have_prev = 1;
        sample_note_change(w);
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
        return sample_write_full(w, &w->prev, "manual", 0);
}

void sample_follow_pid(struct worker *w, pid_t pid) {
        pid_t old = w->id.pid;
        char why[64], name[TARGET_NAME_MAX + 1];

        worker_emit(w, LOG_INFO, "leaving pid %d for pid %d", (int)old, (int)pid);
        /* The old process's chain ends as when a pidfile moves on: with a
         * full snapshot of its last state. */
        if (w->have_prev &&
            snprintf(why, sizeof(why), "final, following pid %d", (int)pid) < (int)sizeof(why))
                (void)sample_write_full(w, &w->prev, why, 1);
        worker_alerts_end(w, "the target follows another process");
        sample_capture_waiting(w, 0);
        sample_close(w);
        w->have_prev = 0;
        /* A target named after its pid is named after the one it watches
         * (its backups stay where they are: backups/full and
         * backups/incremental in the single-target layout). */
        if (w->params.name_follows_pid &&
            snprintf(name, sizeof(name), "pid%d", (int)pid) < (int)sizeof(name) &&
            worker_set_name(w, name) < 0)
                worker_emit(w, LOG_WARN, "out of memory: the target keeps its name");
        pthread_mutex_lock(&w->lock);
        w->params.selector = SELECT_PID;
        w->params.pid = pid;
        /* The figures of the process left behind are no longer this
         * target's; the counters of files written are. */
        w->st.regions = 0;
        w->st.last_change = (struct timespec){0};
        pthread_mutex_unlock(&w->lock);
        w->id.pid = pid;
        w->id.start_time = 0;
        w->tid = pid;
        worker_emit(w, LOG_INFO, "following pid %d (a new chain starts)", (int)pid);
        worker_fire(w, EV_RETARGET, "");
}

void sample_stop(struct worker *w, int final) {
        /* eBPF: the agent stops without a final snapshot, but the events
         * since the last file are part of what was recorded: one last
         * consistent read writes them with the state they led to. */
        if (!final && w->watched && w->have_prev && w->st.state == TARGET_ATTACHED) {
                w->force_read = 0;
                (void)sample_capture_tick(w);
        }
        if (final && w->have_prev)
                (void)sample_write_full(w, &w->prev, "final, target stopped", 1);
        worker_alerts_end(w, "target stopped");
        sample_capture_waiting(w, 0);
        sample_close(w);
}
