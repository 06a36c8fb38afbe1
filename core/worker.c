#include "core/worker.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/backup.h"
#include "core/backup_read.h"
#include "core/diff.h"
#include "core/maps.h"
#include "core/proc.h"
#include "core/procscan.h"
#include "core/str.h"

/* Enough of a file's stat to tell that it was rewritten or replaced. */
struct file_stamp {
        dev_t dev;
        ino_t ino;
        off_t size;
        struct timespec mtime;
};

struct worker {
        pthread_t thread;
        int started;
        struct worker_env env;

        pthread_mutex_t lock;
        pthread_cond_t cond;    /* CLOCK_MONOTONIC; wakes those waiting for a request to be done */
        sem_t wake;             /* posted with every request: wakes the worker */
        /* Under lock: */
        struct worker_params params;
        struct target_policy new_policy; /* with REQ_PARAMS */
        pid_t new_pid;
        unsigned requests;
        uint64_t ticket;        /* requests handed out */
        uint64_t done;          /* requests completed */
        int last_result;        /* of the last REQ_BACKUP: 0 or -errno */
        struct worker_status st;
        uint64_t first_delay_us;

        /* Thread-owned: */
        struct proc_id id;
        int maps_fd;
        struct file_stamp pidfile_seen;  /* the pidfile as last read */
        int have_prev;
        int need_full;
        unsigned diffs_since_full;
        struct timespec last_full;      /* CLOCK_MONOTONIC */
        struct maps_snapshot prev;
        struct maps_snapshot cur;
        struct diff diff;
        struct backup_store store;
        struct timespec last_error_log; /* rate limit for write errors */
};

/* Room for strerror_r's message: strerror() is not safe in worker threads. */
#define ERRBUF 128

/* How often the same write error is logged again while it persists. */
#define WRITE_ERROR_LOG_INTERVAL_S 30

const char *target_state_name(enum target_state s) {
        switch (s) {
        case TARGET_WAITING:
                return "waiting";
        case TARGET_ATTACHED:
                return "running";
        case TARGET_PAUSED:
                return "paused";
        case TARGET_EXITED:
                return "exited";
        case TARGET_DENIED:
                return "denied";
        case TARGET_STOPPED:
                return "stopped";
        }
        return "unknown";
}

static int dup_opt(char **dst, const char *src) {
        *dst = NULL;
        if (!src)
                return 0;
        *dst = mm_strdup(src);
        return *dst ? 0 : -ENOMEM;
}

int worker_params_copy(struct worker_params *dst, const struct worker_params *src) {
        struct worker_params p = {.selector = src->selector, .pid = src->pid};
        if (dup_opt(&p.name, src->name) < 0 || dup_opt(&p.pidfile, src->pidfile) < 0 ||
            dup_opt(&p.match, src->match) < 0 || dup_opt(&p.backup_dir, src->backup_dir) < 0 ||
            target_policy_copy(&p.policy, &src->policy) < 0) {
                worker_params_fini(&p);
                return -ENOMEM;
        }
        *dst = p;
        return 0;
}

void worker_params_fini(struct worker_params *p) {
        mm_free(p->name);
        mm_free(p->pidfile);
        mm_free(p->match);
        mm_free(p->backup_dir);
        target_policy_fini(&p->policy);
        p->name = p->pidfile = p->match = p->backup_dir = NULL;
}

static void emit(struct worker *w, enum log_level level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void emit(struct worker *w, enum log_level level, const char *fmt, ...) {
        char msg[2048];
        va_list ap;
        va_start(ap, fmt);
        /* A message cut short is still worth logging. */
        (void)vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (w->env.event)
                w->env.event(w->env.user, w->params.name, level, msg);
}

static struct timespec mono_now(void) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return t;
}

static int64_t ts_us(const struct timespec *t) {
        return (int64_t)t->tv_sec * 1000000 + t->tv_nsec / 1000;
}

static struct timespec us_ts(int64_t us) {
        struct timespec t = {.tv_sec = us / 1000000, .tv_nsec = (long)(us % 1000000) * 1000};
        return t;
}

/* What happens to a target.  Every state change goes through fire() and
 * the table below, so the whole life cycle is in one place. */
enum target_event {
        EV_ATTACHED,    /* its process was found and its maps opened */
        EV_MISSING,     /* no process to watch (yet) */
        EV_REFUSED,     /* not allowed to read it, or its pidfile is untrusted */
        EV_ENDED,       /* the process exited; another may take its place */
        EV_GONE,        /* the process exited and nothing will replace it */
        EV_RETARGET,    /* told to follow another pid */
        EV_PAUSE,
        EV_RESUME,
        EV_STOP,
        EV_COUNT,
};

#define KEEP (-1)
#define W TARGET_WAITING
#define A TARGET_ATTACHED
#define P TARGET_PAUSED
#define X TARGET_EXITED
#define D TARGET_DENIED
#define S TARGET_STOPPED
static const signed char next_state[][EV_COUNT] = {
        /*              ATTACHED MISSING REFUSED ENDED GONE RETARGET PAUSE RESUME STOP */
        [TARGET_WAITING] = {A, W, D, W, X, W, P, KEEP, S},
        [TARGET_ATTACHED] = {A, W, D, W, X, W, P, KEEP, S},
        [TARGET_PAUSED] = {KEEP, KEEP, KEEP, KEEP, KEEP, KEEP, KEEP, W, S},
        /* An exited pid target stays exited (pause and resume included), so
         * it never attaches to whatever process reuses its pid; only `pid`
         * points it somewhere new. */
        [TARGET_EXITED] = {KEEP, KEEP, KEEP, KEEP, KEEP, W, KEEP, KEEP, S},
        [TARGET_DENIED] = {A, W, D, W, X, W, P, KEEP, S},
        [TARGET_STOPPED] = {KEEP, KEEP, KEEP, KEEP, KEEP, KEEP, KEEP, KEEP, KEEP},
};
#undef W
#undef A
#undef P
#undef X
#undef D
#undef S

/* Applies an event: moves to the table's next state (if any) with reason.
 * Returns 1 when the state changed or the reason did, 0 otherwise. */
static int fire(struct worker *w, enum target_event ev, const char *reason) {
        pthread_mutex_lock(&w->lock);
        int next = next_state[w->st.state][ev];
        int changed = 0;
        if (next != KEEP) {
                reason = reason ? reason : "";
                changed = w->st.state != (enum target_state)next || strcmp(w->st.reason, reason) != 0;
                w->st.state = (enum target_state)next;
                w->st.pid = w->id.pid;
                snprintf(w->st.reason, sizeof(w->st.reason), "%s", reason);
        }
        pthread_mutex_unlock(&w->lock);
        return changed;
}

static void close_maps(struct worker *w) {
        if (w->maps_fd >= 0)
                close(w->maps_fd);
        w->maps_fd = -1;
}

static int ensure_store(struct worker *w) {
        if (backup_store_is_open(&w->store))
                return 0;
        return backup_store_open(&w->store, w->params.backup_dir);
}

static void write_failed(struct worker *w, const char *what, int err) {
        char eb[ERRBUF];
        struct timespec now = mono_now();
        pthread_mutex_lock(&w->lock);
        w->st.write_errors++;
        uint64_t errors = w->st.write_errors;
        pthread_mutex_unlock(&w->lock);
        w->need_full = 1;
        if (w->last_error_log.tv_sec == 0 || now.tv_sec - w->last_error_log.tv_sec >= WRITE_ERROR_LOG_INTERVAL_S) {
                w->last_error_log = now;
                emit(w, LOG_ERROR,
                     "cannot write %s in %s: %s (%llu failed writes so far; sampling goes on and a full "
                     "snapshot is written once writing works again)",
                     what, w->params.backup_dir, strerror_r(-err, eb, sizeof(eb)), (unsigned long long)errors);
        }
}

static void write_recovered(struct worker *w) {
        if (w->last_error_log.tv_sec != 0) {
                w->last_error_log.tv_sec = 0;
                emit(w, LOG_INFO, "backups are written again in %s", w->params.backup_dir);
        }
}

static void apply_retention(struct worker *w) {
        if (w->params.policy.keep_full == 0 && w->params.policy.max_bytes == 0)
                return;
        char eb[ERRBUF];
        int r = backup_retention(&w->store, w->params.policy.keep_full, w->params.policy.max_bytes);
        if (r > 0)
                emit(w, LOG_DEBUG, "retention deleted %d old files", r);
        else if (r < 0)
                emit(w, LOG_WARN, "retention in %s failed: %s", w->params.backup_dir, strerror_r(-r, eb, sizeof(eb)));
}

/* Writes a full snapshot of s.  Returns 0 or -errno (already logged). */
static int write_full(struct worker *w, const struct maps_snapshot *s, const char *why) {
        char name[BACKUP_NAME_SIZE];
        struct backup_info info = {.target = w->params.name, .pid = w->id.pid, .start_time = w->id.start_time};
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
        emit(w, LOG_INFO, "full backup %s (%s, %zu regions)", name, why, s->n);
        apply_retention(w);
        return 0;
}

static int write_diff(struct worker *w) {
        char name[BACKUP_NAME_SIZE];
        struct backup_info info = {.target = w->params.name, .pid = w->id.pid, .start_time = w->id.start_time};
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
        pthread_mutex_unlock(&w->lock);
        emit(w, LOG_INFO, "diff %s: %zu added, %zu removed, %zu changed", name, w->diff.added, w->diff.removed,
             w->diff.changed);
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
        if (proc_read_pidfile_trusted(w->params.pidfile, &pid, why, sizeof(why)) < 0 || pid == w->id.pid)
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
                r = proc_read_pidfile_trusted(p->pidfile, &pid, reason, size);
                if (r < 0) {
                        if (r == -EPERM)
                                ; /* reason says why */
                        else if (r == -EINVAL)
                                snprintf(reason, size, "pidfile %s holds no valid pid", p->pidfile);
                        else
                                snprintf(reason, size, "pidfile %s: %s", p->pidfile, strerror_r(-r, eb, sizeof(eb)));
                        return r;
                }
                break;
        case SELECT_MATCH:
                r = w->env.scan ? proc_scan_find(w->env.scan, p->match, ret) : proc_find_by_name(p->match, ret);
                if (r < 0)
                        snprintf(reason, size, "no process named %s", p->match);
                return r;
        }
        r = proc_identity(pid, ret);
        if (r < 0)
                snprintf(reason, size, "process %d does not exist", (int)pid);
        return r;
}

/* Tries to attach to the target's process.  Returns 0 when attached. */
static int attach(struct worker *w) {
        char reason[sizeof(w->st.reason)] = "";
        struct proc_id id;
        int r = locate(w, &id, reason, sizeof(reason));
        if (r == -EPERM) {
                /* Refused, not missing: say so once, and keep checking. */
                if (fire(w, EV_REFUSED, reason))
                        emit(w, LOG_WARN, "denied: %s", reason);
                return r;
        }
        if (r == -ENOEXEC) {
                if (fire(w, EV_GONE, reason))
                        emit(w, LOG_WARN, "exited: %s", reason);
                return r;
        }
        if (r < 0) {
                if (fire(w, EV_MISSING, reason))
                        emit(w, LOG_INFO, "waiting: %s", reason);
                return r;
        }
        int fd = maps_open(id.pid);
        if (fd == -EACCES || fd == -EPERM) {
                snprintf(reason, sizeof(reason),
                         "not allowed to read /proc/%d/maps (another user's or a non-dumpable process; "
                         "needs CAP_SYS_PTRACE)",
                         (int)id.pid);
                w->id = id;
                if (fire(w, EV_REFUSED, reason))
                        emit(w, LOG_WARN, "denied: %s", reason);
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
        w->maps_fd = fd;
        w->id = id;
        w->have_prev = 0;
        emit(w, LOG_INFO, "attached to pid %d (start time %llu)", (int)id.pid, (unsigned long long)id.start_time);
        fire(w, EV_ATTACHED, "");
        return 0;
}

/* The process instance is gone: record its last state and wait or end. */
static void lost(struct worker *w) {
        emit(w, LOG_INFO, "pid %d exited", (int)w->id.pid);
        if (w->have_prev)
                (void)write_full(w, &w->prev, "final, process exited");
        close_maps(w);
        w->have_prev = 0;
        if (w->params.selector == SELECT_PID || w->params.selector == SELECT_EXEC)
                fire(w, EV_GONE, "process exited");
        else
                fire(w, EV_ENDED, "process exited; waiting for a new one");
}

/* The address space the maps fd was opened on is gone: the process exited,
 * or it called exec and has a new one.  For an exec, reopens and re-reads.
 * Returns 0, or -ESRCH when the instance is gone. */
static int reopen_after_exec(struct worker *w) {
        close_maps(w);
        int fd = maps_open(w->id.pid);
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
        w->maps_fd = fd;
        int r = maps_read_fd(w->maps_fd, &w->cur);
        if (r < 0)
                return r;
        return w->cur.len > 0 ? 0 : -ESRCH;
}

/* Reads the maps into w->cur.  Returns 0, or -ESRCH when the instance is
 * gone, or another -errno. */
static int read_maps(struct worker *w) {
        int r = maps_read_fd(w->maps_fd, &w->cur);
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
        return pread(w->maps_fd, &c, 1, 0) == 1;
}

static int full_due(struct worker *w) {
        if (w->need_full || w->diffs_since_full >= w->params.policy.full_every)
                return 1;
        if (w->params.policy.full_interval_us == 0)
                return 0;
        struct timespec now = mono_now();
        return ts_us(&now) - ts_us(&w->last_full) >= (int64_t)w->params.policy.full_interval_us;
}

static void note_change(struct worker *w) {
        pthread_mutex_lock(&w->lock);
        w->st.regions = w->prev.n;
        clock_gettime(CLOCK_REALTIME, &w->st.last_change);
        pthread_mutex_unlock(&w->lock);
}

/* One sample: read, and when the text changed, parse, diff and write. */
static int sample(struct worker *w) {
        char eb[ERRBUF];
        pid_t moved;

        if (w->maps_fd >= 0 && w->params.selector == SELECT_PIDFILE && (moved = pidfile_moved(w)) > 0) {
                emit(w, LOG_INFO, "pidfile %s now names pid %d: leaving pid %d", w->params.pidfile, (int)moved,
                     (int)w->id.pid);
                if (w->have_prev)
                        (void)write_full(w, &w->prev, "final, the pidfile names another process");
                close_maps(w);
                w->have_prev = 0;
                fire(w, EV_ENDED, "the pidfile names another process");
        }
        if (w->maps_fd < 0) {
                int r = attach(w);
                if (r < 0)
                        return r;
        }
        int r = read_maps(w);
        if (r == -ESRCH) {
                lost(w);
                return r;
        }
        if (r < 0) {
                emit(w, LOG_ERROR, "cannot read /proc/%d/maps: %s", (int)w->id.pid, strerror_r(-r, eb, sizeof(eb)));
                return r;
        }
        pthread_mutex_lock(&w->lock);
        w->st.samples++;
        pthread_mutex_unlock(&w->lock);
        /* Most ticks change nothing: identical text needs no parsing. */
        if (w->have_prev && !w->need_full && w->cur.len == w->prev.len &&
            memcmp(w->cur.text, w->prev.text, w->cur.len) == 0)
                return 0;
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
                        emit(w, LOG_ERROR, "/proc/%d/maps line %zu could not be parsed; sample skipped",
                             (int)w->id.pid, bad_line);
                else if (r == -ESRCH)
                        lost(w);
                else
                        emit(w, LOG_ERROR, "cannot parse /proc/%d/maps: %s", (int)w->id.pid,
                             strerror_r(-r, eb, sizeof(eb)));
                return r;
        }
        w->cur.checksum = maps_checksum(w->cur.text, w->cur.len);
        if (!w->have_prev) {
                if (write_full(w, &w->cur, "sampling started") < 0)
                        w->need_full = 1;
        } else if (w->cur.len == w->prev.len && memcmp(w->cur.text, w->prev.text, w->cur.len) == 0) {
                /* Unchanged, but the last write failed: record it now. */
                (void)write_full(w, &w->cur, "after a failed write");
        } else {
                r = diff_compute(&w->prev, &w->cur, &w->diff);
                if (r < 0) {
                        emit(w, LOG_ERROR, "diff failed: %s", strerror_r(-r, eb, sizeof(eb)));
                        return r;
                }
                if (full_due(w))
                        (void)write_full(w, &w->cur, w->need_full ? "after a failed write" : "scheduled");
                else
                        (void)write_diff(w);
        }
        maps_snapshot_swap(&w->prev, &w->cur);
        w->have_prev = 1;
        note_change(w);
        return 0;
}

int worker_tick(struct worker *w) {
        if (w->st.state == TARGET_EXITED || w->st.state == TARGET_PAUSED)
                return 0;
        return sample(w);
}

/* A manual or signalled full backup of the current maps. */
static int manual_backup(struct worker *w) {
        if (w->st.state == TARGET_PAUSED || w->st.state == TARGET_EXITED)
                return -ESRCH;
        int r = sample(w);
        if (r < 0)
                return r;
        if (!w->have_prev)
                return -ESRCH;
        /* sample() may have just written a full snapshot of the same text:
         * a manual backup is asked for, so it still gets its own file. */
        return write_full(w, &w->prev, "manual");
}

static void follow_pid(struct worker *w, pid_t pid) {
        close_maps(w);
        w->have_prev = 0;
        pthread_mutex_lock(&w->lock);
        w->params.selector = SELECT_PID;
        w->params.pid = pid;
        pthread_mutex_unlock(&w->lock);
        w->id.pid = pid;
        w->id.start_time = 0;
        emit(w, LOG_INFO, "following pid %d (a new chain starts)", (int)pid);
        fire(w, EV_RETARGET, "");
}

/* Takes over the new policy (called under the lock). */
static void apply_policy(struct worker *w) {
        target_policy_fini(&w->params.policy);
        w->params.policy = w->new_policy;
        memset(&w->new_policy, 0, sizeof(w->new_policy));
        w->st.interval_us = w->params.policy.interval_us;
}

static int is_idle_state(enum target_state s) {
        return s == TARGET_PAUSED || s == TARGET_EXITED || s == TARGET_STOPPED;
}

static void *worker_main(void *arg) {
        struct worker *w = arg;
        struct timespec now = mono_now();
        int64_t next = ts_us(&now) + (int64_t)w->first_delay_us;

        for (;;) {
                pthread_mutex_lock(&w->lock);
                int idle = is_idle_state(w->st.state);
                now = mono_now();
                int due = !idle && ts_us(&now) >= next;
                if (!w->requests && !due) {
                        pthread_mutex_unlock(&w->lock);
                        /* Sleep on a semaphore, not a condition variable:
                         * a timed condition wait takes the mutex back marked
                         * contended, which makes the unlock of every tick a
                         * futex-wake system call (14% of the agent's CPU with
                         * 1,000 targets).  A post between the unlock and the
                         * wait is kept in the count, so none is lost. */
                        if (idle) {
                                (void)sem_wait(&w->wake);
                        } else {
                                struct timespec dl = us_ts(next);
                                (void)sem_clockwait(&w->wake, CLOCK_MONOTONIC, &dl);
                        }
                        continue;
                }
                unsigned req = w->requests;
                w->requests = 0;
                uint64_t upto = w->ticket;
                pid_t new_pid = w->new_pid;
                if (req & REQ_PARAMS) {
                        int64_t old_interval = (int64_t)w->params.policy.interval_us;
                        apply_policy(w);
                        /* Keep the phase: the next tick is one new interval
                         * after the last one. */
                        next += (int64_t)w->params.policy.interval_us - old_interval;
                }
                pthread_mutex_unlock(&w->lock);

                int backup_result = 0;
                if (req & REQ_STOP) {
                        if ((req & REQ_FINAL) && w->have_prev)
                                (void)write_full(w, &w->prev, "final, target stopped");
                        close_maps(w);
                        fire(w, EV_STOP, "");
                        pthread_mutex_lock(&w->lock);
                        w->done = upto;
                        pthread_cond_broadcast(&w->cond);
                        pthread_mutex_unlock(&w->lock);
                        return NULL;
                }
                if (req & REQ_PID)
                        follow_pid(w, new_pid);
                if ((req & REQ_PAUSE) && fire(w, EV_PAUSE, "paused by command"))
                        emit(w, LOG_INFO, "paused");
                if ((req & REQ_RESUME) && fire(w, EV_RESUME, "")) {
                        emit(w, LOG_INFO, "resumed");
                        if (w->maps_fd >= 0)
                                fire(w, EV_ATTACHED, "");
                        due = 1;
                }
                if (req & REQ_BACKUP)
                        backup_result = manual_backup(w);
                else if ((req & (REQ_SAMPLE | REQ_PID)) || due)
                        (void)worker_tick(w);
                if (due) {
                        now = mono_now();
                        int64_t iv = (int64_t)w->params.policy.interval_us;
                        next += iv;
                        /* Behind schedule (a stall, a huge write): skip the
                         * missed ticks but keep the phase. */
                        if (next <= ts_us(&now))
                                next += ((ts_us(&now) - next) / iv + 1) * iv;
                }

                pthread_mutex_lock(&w->lock);
                if (req & REQ_BACKUP)
                        w->last_result = backup_result;
                w->done = upto;
                if (req)
                        pthread_cond_broadcast(&w->cond);
                pthread_mutex_unlock(&w->lock);
        }
}

/* Initialises the lock, the condition (on CLOCK_MONOTONIC) and the
 * semaphore.  Returns 0 or -errno, with none of them left initialised. */
static int sync_init(struct worker *w) {
        pthread_condattr_t ca;
        int cond = 0, mutex = 0;
        int r = -pthread_condattr_init(&ca);
        if (r < 0)
                return r;
        r = -pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        if (r == 0)
                cond = (r = -pthread_cond_init(&w->cond, &ca)) == 0;
        pthread_condattr_destroy(&ca);
        if (r == 0)
                mutex = (r = -pthread_mutex_init(&w->lock, NULL)) == 0;
        if (r == 0 && sem_init(&w->wake, 0, 0) < 0)
                r = -errno;
        if (r < 0) {
                if (mutex)
                        pthread_mutex_destroy(&w->lock);
                if (cond)
                        pthread_cond_destroy(&w->cond);
        }
        return r;
}

int worker_new(const struct worker_params *params, const struct worker_env *env, uint64_t first_delay_us,
               struct worker **ret) {
        struct worker *w = mm_calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        int r = worker_params_copy(&w->params, params);
        if (r < 0) {
                mm_free(w);
                return r;
        }
        r = sync_init(w);
        if (r < 0) {
                worker_params_fini(&w->params);
                mm_free(w);
                return r;
        }
        w->env = *env;
        w->maps_fd = -1;
        w->first_delay_us = first_delay_us;
        w->id.pid = params->pid;
        w->st.state = TARGET_WAITING;
        w->st.pid = params->pid;
        w->st.interval_us = params->policy.interval_us;
        maps_snapshot_init(&w->prev);
        maps_snapshot_init(&w->cur);
        diff_init(&w->diff);
        backup_store_init(&w->store);
        *ret = w;
        return 0;
}

int worker_start(struct worker *w) {
        /* Attach before the thread runs, so that a `status` right after
         * start-up already names the process; the first snapshot still
         * waits for the first tick. */
        (void)attach(w);
        pthread_attr_t a;
        pthread_attr_init(&a);
        /* Thousands of workers: keep their stacks small. */
        pthread_attr_setstacksize(&a, 256 * 1024);
        int r = pthread_create(&w->thread, &a, worker_main, w);
        pthread_attr_destroy(&a);
        if (r != 0)
                return -r;
        w->started = 1;
        return 0;
}

int64_t worker_post(struct worker *w, unsigned requests, pid_t new_pid, const struct worker_params *params) {
        pthread_mutex_lock(&w->lock);
        if (requests & REQ_PARAMS) {
                struct target_policy p;
                int r = target_policy_copy(&p, &params->policy);
                if (r < 0) {
                        pthread_mutex_unlock(&w->lock);
                        return r;
                }
                target_policy_fini(&w->new_policy);
                w->new_policy = p;
        }
        if (requests & REQ_PID)
                w->new_pid = new_pid;
        w->requests |= requests;
        int64_t t = (int64_t)++w->ticket;
        pthread_mutex_unlock(&w->lock);
        (void)sem_post(&w->wake);
        return t;
}

int64_t worker_set_interval(struct worker *w, uint64_t interval_us) {
        pthread_mutex_lock(&w->lock);
        if (!(w->requests & REQ_PARAMS)) {
                struct target_policy p;
                int r = target_policy_copy(&p, &w->params.policy);
                if (r < 0) {
                        pthread_mutex_unlock(&w->lock);
                        return r;
                }
                target_policy_fini(&w->new_policy);
                w->new_policy = p;
        }
        w->new_policy.interval_us = interval_us;
        w->requests |= REQ_PARAMS;
        int64_t t = (int64_t)++w->ticket;
        pthread_mutex_unlock(&w->lock);
        (void)sem_post(&w->wake);
        return t;
}

int worker_wait(struct worker *w, int64_t ticket, int timeout_ms) {
        if (ticket < 0)
                return (int)ticket;
        struct timespec dl = mono_now();
        int64_t end = ts_us(&dl) + (int64_t)timeout_ms * 1000;
        dl = us_ts(end);
        int r = 0;
        pthread_mutex_lock(&w->lock);
        while (w->done < (uint64_t)ticket && w->st.state != TARGET_STOPPED) {
                if (pthread_cond_timedwait(&w->cond, &w->lock, &dl) == ETIMEDOUT) {
                        r = w->done < (uint64_t)ticket ? -ETIMEDOUT : 0;
                        break;
                }
        }
        pthread_mutex_unlock(&w->lock);
        return r;
}

int worker_last_result(struct worker *w) {
        pthread_mutex_lock(&w->lock);
        int r = w->last_result;
        pthread_mutex_unlock(&w->lock);
        return r;
}

void worker_get_status(struct worker *w, struct worker_status *ret) {
        pthread_mutex_lock(&w->lock);
        *ret = w->st;
        ret->interval_us = w->params.policy.interval_us;
        pthread_mutex_unlock(&w->lock);
}

static int same_selector(const struct worker_params *a, const struct worker_params *b) {
        if (a->selector != b->selector || !streq(a->backup_dir, b->backup_dir))
                return 0;
        switch (a->selector) {
        case SELECT_PID:
        case SELECT_EXEC:
                return a->pid == b->pid;
        case SELECT_PIDFILE:
                return streq(a->pidfile, b->pidfile);
        case SELECT_MATCH:
                return streq(a->match, b->match);
        }
        return 0;
}

enum worker_change worker_compare(struct worker *w, const struct worker_params *p) {
        enum worker_change c = WORKER_SAME;
        pthread_mutex_lock(&w->lock);
        /* A policy change already posted but not yet applied counts. */
        const struct target_policy *cur = (w->requests & REQ_PARAMS) ? &w->new_policy : &w->params.policy;
        if (!same_selector(&w->params, p))
                c = WORKER_SELECTOR_CHANGED;
        else if (!target_policy_equal(cur, &p->policy))
                c = WORKER_POLICY_CHANGED;
        pthread_mutex_unlock(&w->lock);
        return c;
}

const char *worker_name(const struct worker *w) {
        /* The name never changes, so it needs no lock. */
        return w->params.name;
}

void worker_free(struct worker *w, int final) {
        if (!w)
                return;
        if (w->started) {
                (void)worker_post(w, REQ_STOP | (final ? REQ_FINAL : 0), 0, NULL);
                pthread_join(w->thread, NULL);
        }
        close_maps(w);
        backup_store_close(&w->store);
        maps_snapshot_fini(&w->prev);
        maps_snapshot_fini(&w->cur);
        diff_fini(&w->diff);
        worker_params_fini(&w->params);
        target_policy_fini(&w->new_policy);
        pthread_cond_destroy(&w->cond);
        sem_destroy(&w->wake);
        pthread_mutex_destroy(&w->lock);
        mm_free(w);
}
