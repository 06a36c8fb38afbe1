/*
 * sample_capture: a target's samples in eBPF capture (core/capture.h).
 *
 * The process is watched from attach on: the kernel counts every write
 * section on its mappings in memory the worker reads without a system call,
 * and reports each as an event into the worker's queue.  A tick reads the
 * maps only when the counter moved since the last state recorded, or a
 * resync or a request is due, and keeps a read only when no change raced it
 * (capture_read_maps), so every recorded state existed: the state after
 * every event up to the counter it was read at.  Each file of the chain
 * carries the events of the interval before it (those up to its state's
 * counter); the others wait for the next file.  A pidfd says at once when
 * the process ends; `match` targets learn of their process from the
 * capture's exec records.  Where something fails the target polls, as
 * sample.c does, and says why.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/exitwatch.h"
#include "core/procscan.h"
#include "core/sample.h"
#include "core/worker_impl.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

/* Consistent reads tried per tick before the tick gives up (-EAGAIN). */
#define CAPTURE_TRIES 4
/* Events a target's queue, and its list of events not yet written, hold
 * at most (each grows only as needed): 10,000 mappings made and unmapped
 * in one interval are 30,000 events. */
#define CAPTURE_EVENTS_MAX ((size_t)1 << 17)
/* Files in a row that lost events before the target goes back to polling;
 * also ticks in a row that raced a change while events were lost. */
#define LOSSY_FILES_MAX 3

static void set_status(struct worker *w, int ebpf, const char *why) {
        pthread_mutex_lock(&w->lock);
        w->st.capture_ebpf = ebpf;
        (void)snprintf(w->st.capture_why, sizeof(w->st.capture_why), "%s", why);
        pthread_mutex_unlock(&w->lock);
}

/* This instance of the target polls from now on. */
static void polls_because(struct worker *w, const char *why) {
        w->capture_off = 1;
        set_status(w, 0, why);
        worker_emit(w, LOG_WARN, "capture: polling pid %d: %s", (int)w->id.pid, why);
}

/* The exit watch's callback: the process ended, a read says so. */
static void process_ended(void *ctx) {
        (void)worker_post(ctx, REQ_SAMPLE, 0, NULL);
}

/* The queue's wake-up (capture_queue_set_wake): a record came for a
 * worker that sleeps until one does. */
static void record_came(void *ctx) {
        struct worker *w = ctx;

        (void)sem_post(&w->wake);
}

static int open_pidfd(pid_t pid) {
        int fd = (int)syscall(SYS_pidfd_open, pid, 0);

        return fd < 0 ? -errno : fd;
}

void sample_capture_attach(struct worker *w) {
        const struct capture_source *c = w->env.capture;
        char why[192], eb[ERRBUF];
        struct proc_task now;
        int r;

        if (!c || w->watched)
                return;
        w->capture_off = 0;
        r = w->cap_queue ? 0 : capture_queue_new(CAPTURE_EVENTS_MAX, &w->cap_queue);
        if (r == 0)
                capture_queue_set_wake(w->cap_queue, record_came, w);
        if (r == 0)
                r = c->watch(c->impl, w->id.pid, w->cap_queue, &w->counter);
        if (r < 0) {
                if (r == -ENOSPC)
                        (void)snprintf(why, sizeof(why),
                                       "the BPF program watches as many processes as it can");
                else if (r == -EEXIST)
                        (void)snprintf(why, sizeof(why), "another target watches it already");
                else
                        (void)snprintf(why, sizeof(why), "cannot watch it: %s",
                                       strerror_r(-r, eb, sizeof(eb)));
                polls_because(w, why);
                return;
        }
        /* The pidfd is of the instance whose maps are open, or of none.  A
         * process whose main thread has exited still has its pid and start
         * time, and its pidfd tells when its last thread ends. */
        w->pidfd = open_pidfd(w->id.pid);
        if (w->pidfd < 0 || proc_task_find(w->id.pid, &now) < 0 || now.id.start_time != w->id.start_time) {
                r = w->pidfd < 0 ? w->pidfd : -ESRCH;
                if (w->pidfd >= 0)
                        close(w->pidfd);
                w->pidfd = -1;
                (void)c->unwatch(c->impl, w->id.pid);
                (void)snprintf(why, sizeof(why),
                               "no pidfd for it (%s): its exit would go unseen between resyncs",
                               strerror_r(-r, eb, sizeof(eb)));
                polls_because(w, why);
                return;
        }
        if (!w->env.exits || exit_watch_add(w->env.exits, w->pidfd, process_ended, w, &w->exit_id) < 0)
                w->exit_id = 0; /* each tick looks at the pidfd instead */
        w->watched = 1;
        w->last_seq = w->cur_seq = 0;
        w->last_lost = 0;
        w->last_read_us = 0;
        w->lost_files = 0;
        w->raced_lossy = 0;
        w->raced_since_us = 0;
        capture_batch_drop_front(&w->pend, SIZE_MAX);
        w->pend.dropped = 0;
        w->judged = w->written = 0;
        set_status(w, 1, "");
}

void sample_capture_detach(struct worker *w) {
        const struct capture_source *c = w->env.capture;

        /* The process is gone or no longer followed: the next wait for one
         * begins with a scan of /proc (an older process of the name may be
         * there already, and no exec will tell of it). */
        w->last_scan_us = 0;
        if (!w->watched)
                return;
        (void)c->unwatch(c->impl, w->id.pid);
        if (w->exit_id)
                exit_watch_remove(w->env.exits, w->exit_id);
        w->exit_id = 0;
        close(w->pidfd);
        w->pidfd = -1;
        /* Whatever the capture pushed before the unwatch is not this
         * chain's any more. */
        capture_queue_take(w->cap_queue, &w->taken);
        capture_batch_drop_front(&w->pend, SIZE_MAX);
        w->pend.dropped = 0;
        w->judged = w->written = 0;
        w->watched = 0;
}

void sample_capture_fini(struct worker *w) {
        capture_queue_free(w->cap_queue);
        w->cap_queue = NULL;
        capture_batch_fini(&w->taken);
        capture_batch_fini(&w->pend);
}

/* Hands the capture's events so far to w->pend.  The kernel posts an
 * event before its write section ends: after a read accepted at seq S,
 * every event up to S is delivered.  Events whose section may still run
 * are after w->flushed_upto. */
static void take_events(struct worker *w) {
        const struct capture_source *c = w->env.capture;
        uint64_t seq = capture_seq(&w->counter);
        const struct capture_event *last;

        w->flushed_upto = seq ? seq - 1 : 0;
        (void)c->flush(c->impl);
        capture_queue_take(w->cap_queue, &w->taken);
        w->pend.dropped += w->taken.dropped;
        for (size_t i = 0; i < w->taken.n; i++) {
                struct capture_event *ev = &w->taken.ev[i];

                last = w->pend.n ? &w->pend.ev[w->pend.n - 1] : NULL;
                /* A chain's events never go back; the kernel orders them
                 * (one write section at a time), and a clock set back is
                 * not allowed to break the chain. */
                if (last && ev->seq < last->seq) {
                        w->pend.dropped++;
                        continue;
                }
                if (last && strcmp(ev->time, last->time) < 0)
                        memcpy(ev->time, last->time, sizeof(ev->time));
                (void)capture_batch_push(&w->pend, ev, CAPTURE_EVENTS_MAX);
        }
}

/* How many events of b come first with a seq up to seq. */
static size_t count_upto(const struct capture_batch *b, uint64_t seq) {
        size_t k = 0;

        while (k < b->n && b->ev[k].seq <= seq)
                k++;
        return k;
}

void sample_capture_judge(struct worker *w, uint64_t seq) {
        size_t k = seq == UINT64_MAX ? w->pend.n : count_upto(&w->pend, seq);

        if (k <= w->judged)
                return;
        worker_alerts_events(w, w->pend.ev, w->pend.n, w->judged, k);
        w->judged = k;
}

/* Forgets the events that are in a file and judged. */
static void forget_written(struct worker *w) {
        size_t n = w->written < w->judged ? w->written : w->judged;

        if (n == 0)
                return;
        capture_batch_drop_front(&w->pend, n);
        w->judged -= n;
        w->written -= n;
}

size_t sample_capture_prepare(struct worker *w, uint64_t seq, int final, struct backup_capture *cap) {
        size_t n;

        take_events(w);
        n = final ? w->pend.n : count_upto(&w->pend, seq);
        if (n < w->written)
                n = w->written;
        /* A chain's last file: its events are judged before its alerts end. */
        if (final)
                sample_capture_judge(w, UINT64_MAX);
        w->prepared_lost = capture_lost(&w->counter);
        /* Events after the state the file records can only be in a final
         * one, and then it claims no seq. */
        cap->has_seq = n == 0 || w->pend.ev[n - 1].seq <= seq;
        cap->seq = seq;
        cap->lost = w->prepared_lost - w->last_lost + w->pend.dropped;
        cap->events = w->pend.ev + w->written;
        cap->n_events = n - w->written;
        return n;
}

void sample_capture_written(struct worker *w, size_t n, const struct backup_capture *cap, int ok) {
        /* Not written: the events and the count of those lost wait for the
         * next file (a full snapshot "after a failed write").  Written:
         * they are forgotten once judged. */
        if (!ok)
                return;
        w->written = n;
        w->pend.dropped = 0;
        w->last_lost = w->prepared_lost;
        pthread_mutex_lock(&w->lock);
        w->st.capture_events += cap->n_events;
        w->st.capture_lost += cap->lost;
        pthread_mutex_unlock(&w->lock);
        if (cap->lost == 0) {
                w->lost_files = 0;
                return;
        }
        w->lost_files++;
        if (!w->lost_logged) {
                w->lost_logged = 1;
                worker_emit(
                    w, LOG_WARN,
                    "capture: %llu events of pid %d were lost (the kernel's ring or the target's queue "
                    "had no room); each file says how many (# lost), status counts them; the states "
                    "recorded are still exact",
                    (unsigned long long)cap->lost, (int)w->id.pid);
        }
}

void sample_capture_drop_after_exec(struct worker *w) {
        if (!w->watched)
                return;
        take_events(w);
        for (size_t i = 0; i < w->pend.n; i++) {
                if (w->pend.ev[i].op == CAPTURE_OP_EXECVE && i >= w->written) {
                        /* The execve itself is the old program's last act. */
                        w->pend.n = i + 1;
                        if (w->judged > w->pend.n)
                                w->judged = w->pend.n;
                        return;
                }
        }
}

/* The target polls from now on: its events not in a file are counted as
 * lost. */
static void back_to_polling(struct worker *w, const char *why) {
        pthread_mutex_lock(&w->lock);
        w->st.capture_fallbacks++;
        w->st.capture_lost += w->pend.n + w->pend.dropped;
        pthread_mutex_unlock(&w->lock);
        sample_capture_detach(w);
        polls_because(w, why);
}

/* A target that keeps losing events goes back to polling: its events
 * flood the ring that every target shares. */
static void check_lossy(struct worker *w) {
        char why[128];

        if (w->lost_files < LOSSY_FILES_MAX || !w->watched)
                return;
        (void)snprintf(why, sizeof(why),
                       "events were lost in %u files in a row: the ring cannot keep up with it",
                       w->lost_files);
        back_to_polling(w, why);
}

/* A tick whose every read raced a change.  The target's events wait for
 * the next state read, but one that changes during every read may never
 * give one: once its events are being lost (its queue is full, or the
 * ring had no room) for LOSSY_FILES_MAX ticks in a row, or no state could
 * be read for a resync period, it polls, and polling records the newest
 * read that is not torn (sample.c). */
static void check_raced(struct worker *w, uint64_t now) {
        char why[160];

        if (w->raced_since_us == 0)
                w->raced_since_us = now;
        if (w->pend.dropped > 0 || capture_lost(&w->counter) != w->last_lost)
                w->raced_lossy++;
        else
                w->raced_lossy = 0;
        if (w->raced_lossy >= LOSSY_FILES_MAX)
                (void)snprintf(why, sizeof(why),
                               "it changed its mappings during every read for %u ticks in a row while its "
                               "events were lost: no state could be read between its changes",
                               w->raced_lossy);
        else if (now - w->raced_since_us >= w->env.resync_us)
                (void)snprintf(why, sizeof(why),
                               "it changed its mappings during every read for %.1f s: no state could be "
                               "read between its changes",
                               (double)(now - w->raced_since_us) / 1e6);
        else
                return;
        back_to_polling(w, why);
}

/* Whether the process ended, when no exit watch says so. */
static int pidfd_ended(struct worker *w) {
        struct pollfd p = {.fd = w->pidfd, .events = POLLIN};

        return !w->exit_id && poll(&p, 1, 0) == 1;
}

/* Reads the maps into w->cur at a counter no change raced, reopening them
 * after an exec (or through a live thread when the one read through
 * ended).  Returns 0 with *ret_seq, -EAGAIN (every try raced a change),
 * -ESRCH (the instance is gone), -EPERM (denied after an exec: reported),
 * or another -errno. */
static int consistent_read(struct worker *w, uint64_t *ret_seq) {
        for (int attempt = 0; attempt < 3; attempt++) {
                int r;

                worker_on_target(w);
                /* Through a live thread: the barrier takes the lock of its
                 * address space, which a dead main thread no longer has. */
                r = capture_read_maps(&w->counter, w->tid, w->maps_fd, &w->cur, CAPTURE_TRIES, ret_seq, NULL);
                worker_off_target(w);
                if (r == 0 && w->cur.len > 0 && sample_space_alive(w))
                        return 0;
                if (r < 0 && r != -ESRCH)
                        return r;
                /* Empty, cut short, or the thread is gone: an exec or an
                 * exit. */
                r = sample_reopen(w);
                if (r < 0)
                        return r;
        }
        return -EAGAIN;
}

/* The maps did not change, but events came: a diff of events alone. */
static void write_events(struct worker *w) {
        size_t bad = 0;

        if (maps_parse_since(&w->cur, &w->prev, &bad) < 0)
                return; /* out of memory: the events wait */
        w->cur.checksum = w->prev.checksum;
        w->diff.n = w->diff.added = w->diff.removed = w->diff.changed = 0;
        (void)sample_write_diff(w);
}

int sample_capture_tick(struct worker *w) {
        uint64_t now = mono_now_us(), seq = 0;
        char eb[ERRBUF], more[96];
        size_t bad = 0;
        int force = w->force_read, r;

        w->force_read = 0;
        forget_written(w);
        /* Nothing moved: no read, no system call (but the timed alert
         * checks). */
        if (!force && w->have_prev && !w->need_full && w->pend.n == w->judged && w->judged == w->written &&
            capture_seq(&w->counter) == w->last_seq && now - w->last_read_us < w->env.resync_us &&
            !pidfd_ended(w)) {
                worker_alerts_tick(w, &w->prev);
                return 0;
        }
        r = consistent_read(w, &seq);
        pthread_mutex_lock(&w->lock);
        w->st.samples++;
        pthread_mutex_unlock(&w->lock);
        if (r == -ESRCH) {
                sample_lost(w);
                return r;
        }
        if (r == -EPERM)
                return r; /* denied after an exec: reported */
        if (r == -EAGAIN) {
                /* No state this tick; the events are judged now and wait
                 * for the next file. */
                take_events(w);
                sample_capture_judge(w, w->flushed_upto);
                if (sample_count_unstable(w, more, sizeof(more)))
                        worker_emit(
                            w, LOG_INFO,
                            "pid %d changed its mappings during each of %d reads: nothing recorded this "
                            "tick; its %zu events wait for the next state read%s",
                            (int)w->id.pid, CAPTURE_TRIES, w->pend.n, more);
                sample_first_retry(w);
                check_raced(w, now);
                return r;
        }
        if (r < 0) {
                worker_emit(w, LOG_ERROR, "cannot read /proc/%d/maps: %s", (int)w->id.pid,
                            strerror_r(-r, eb, sizeof(eb)));
                return r;
        }
        w->last_read_us = now;
        w->raced_since_us = 0;
        w->raced_lossy = 0;
        w->cur_seq = seq;
        take_events(w);
        int same =
            w->have_prev && w->cur.len == w->prev.len && memcmp(w->cur.text, w->prev.text, w->cur.len) == 0;
        if (same && !w->need_full) {
                if (count_upto(&w->pend, seq) > w->written)
                        write_events(w);
                sample_capture_judge(w, seq);
                worker_alerts_settle(w, &w->prev);
                w->last_seq = seq;
                sample_capture_judge(w, w->flushed_upto);
                forget_written(w);
                check_lossy(w);
                worker_alerts_tick(w, &w->prev);
                return 0;
        }
        r = w->have_prev ? maps_parse_since(&w->cur, &w->prev, &bad) : maps_parse(&w->cur, &bad);
        if (r < 0) {
                worker_emit(w, LOG_ERROR,
                            "the maps of pid %d could not be parsed (line %zu): %s; nothing recorded",
                            (int)w->id.pid, bad, strerror_r(-r, eb, sizeof(eb)));
                return r;
        }
        w->cur.checksum = maps_checksum(w->cur.text, w->cur.len);
        if (!w->have_prev) {
                if (sample_write_full(w, &w->cur, "sampling started", 0) < 0)
                        w->need_full = 1;
                worker_alerts_first(w, &w->cur);
                sample_capture_judge(w, seq);
        } else if (same) {
                /* Unchanged, but the last write failed: recorded now. */
                (void)sample_write_full(w, &w->cur, "after a failed write", 0);
                sample_capture_judge(w, seq);
        } else {
                r = sample_record_change(w);
                if (r < 0)
                        return r;
                /* The events happened before this state: judged first, so
                 * that a mapping made, unmapped and made again is raised,
                 * cleared and raised as it happened.  After an exec the new
                 * address space is judged whole first. */
                if (w->alerts_fresh) {
                        worker_alerts_change(w);
                        sample_capture_judge(w, seq);
                } else {
                        sample_capture_judge(w, seq);
                        worker_alerts_change(w);
                }
        }
        worker_alerts_settle(w, &w->cur);
        maps_snapshot_swap(&w->prev, &w->cur);
        w->have_prev = 1;
        w->last_seq = seq;
        sample_note_change(w);
        /* Events after this state: judged now, written with the next. */
        sample_capture_judge(w, w->flushed_upto);
        forget_written(w);
        check_lossy(w);
        worker_alerts_tick(w, &w->prev);
        return 0;
}

void sample_capture_exit_unread(struct worker *w) {
        size_t n;

        if (!w->watched || w->have_prev)
                return;
        take_events(w);
        n = w->pend.n + w->pend.dropped;
        if (n == 0)
                return;
        pthread_mutex_lock(&w->lock);
        w->st.capture_lost += n;
        pthread_mutex_unlock(&w->lock);
        worker_emit(w, LOG_WARN,
                    "pid %d exited before a state of its maps could be read: its %zu events are not in the "
                    "chain (counted as lost)",
                    (int)w->id.pid, n);
}

int sample_capture_quiet(struct worker *w, uint64_t *ret_until_us) {
        uint64_t until, due;

        /* Only what a record, the exit watch or a request would tell: a
         * pidfile is looked at every tick, a pidfd without an exit watch
         * is polled, and events or a counter not yet recorded want the
         * next tick. */
        if (!w->watched || w->maps_fd < 0 || !w->have_prev || w->need_full || !w->exit_id ||
            w->params.selector == SELECT_PIDFILE || w->pend.n != w->judged || w->judged != w->written ||
            capture_seq(&w->counter) != w->last_seq)
                return 0;
        until = w->last_read_us + w->env.resync_us;
        due = alerts_next_due(w->alerts);
        if (due != 0 && due < until)
                until = due;
        *ret_until_us = until;
        return 1;
}

int sample_capture_arm(struct worker *w) {
        /* Armed after the counter was looked at: a change since has its
         * record in the queue already (not armed), or wakes the worker. */
        return capture_queue_arm(w->cap_queue);
}

int sample_capture_woken(struct worker *w) {
        return capture_queue_disarm(w->cap_queue);
}

int sample_capture_find(struct worker *w, struct proc_id *ret) {
        const struct worker_params *p = &w->params;
        struct proc_id best = {0, 0}, id;
        pid_t hints[sizeof(w->exec_hints) / sizeof(w->exec_hints[0])];
        uint64_t now = mono_now_us();
        size_t n;
        int overflow;

        /* The name goes into the exec hook's list before /proc is looked
         * at, so that no exec falls between the two. */
        sample_capture_waiting(w, 1);
        pthread_mutex_lock(&w->lock);
        n = w->n_exec_hints;
        memcpy(hints, w->exec_hints, n * sizeof(hints[0]));
        overflow = w->exec_hints_lost;
        w->n_exec_hints = 0;
        w->exec_hints_lost = 0;
        pthread_mutex_unlock(&w->lock);
        if (overflow || w->last_scan_us == 0 || now - w->last_scan_us >= w->env.resync_us) {
                int r;

                w->last_scan_us = now;
                r = w->env.scan ? proc_scan_find(w->env.scan, p->match, &p->filter, &best)
                                : proc_find_by_name(p->match, &p->filter, &best);
                /* The shared scan may be up to a second old: the processes
                 * the exec hook named since are not in it, and their hints
                 * were taken above, so they are looked at too. */
                if (r == -ESRCH)
                        best.pid = 0;
                else if (r < 0)
                        return r;
        }
        /* As the scan would judge them: alive, so named, of the user and
         * executable asked for; the oldest. */
        for (size_t i = 0; i < n; i++) {
                if (proc_identity(hints[i], &id) < 0 || !proc_name_matches(hints[i], p->match) ||
                    proc_filter_check(hints[i], &p->filter, NULL, 0) < 0)
                        continue;
                if (best.pid == 0 || id.start_time < best.start_time)
                        best = id;
        }
        if (best.pid == 0)
                return -ESRCH;
        *ret = best;
        return 0;
}

void sample_capture_waiting(struct worker *w, int waiting) {
        const struct capture_source *c = w->env.capture;

        if (!c || !c->match || !w->params.match || waiting == w->match_held)
                return;
        if (waiting && w->params.selector != SELECT_MATCH)
                return;
        if (c->match(c->impl, w->params.match, waiting != 0) == 0 || !waiting)
                w->match_held = waiting;
}
