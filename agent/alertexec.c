#include "agent/alertexec.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/spawn.h"
#include "core/fs.h"
#include "core/strv.h"
#include "core/trusted_dir.h"

#define OUT_FILE "alert_exec.out"
/* Without a pidfd (a kernel older than 5.3) ended programs are looked for
 * this often. */
#define POLL_WITHOUT_PIDFD_MS 100
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* One run to make. */
struct job {
        struct job *next;
        char *target;
        char **argv;
        char *json;
        size_t json_len;
        pid_t pid;
        uint64_t start_time;
        char rule[32];
};

/* A target's runs in the current window of alert_exec_rate. */
struct bucket {
        struct bucket *next;
        uint64_t window_start_ms; /* 0: no window open */
        unsigned runs;
        unsigned rate;
        uint64_t skipped;
        char target[];
};

/* A program running, owned by the runner thread. */
struct run {
        struct job *job;
        char path[PATH_MAX];
        pid_t pid;
        int pidfd; /* -1: looked for with waitpid(WNOHANG) */
        int in_fd; /* our end of its stdin; -1 once all is written or it closed */
        size_t in_off;
        int err_fd; /* reports a failed execve; -1 at its end */
        int exec_errno;
        uint64_t deadline_ms;
        bool killed; /* by the deadline */
};

struct alertexec {
        pthread_t thread;
        bool started;
        int logs_fd; /* the logs folder (a dup of the agent's) */
        struct agent_log *log;
        struct agent_events *events;
        int wake_fd; /* eventfd: a job came, or stop */

        pthread_mutex_t lock; /* everything below, but runs */
        bool stop;
        struct job *head, *tail;
        size_t queued;
        struct bucket *buckets;
        struct alertexec_stats stats;

        /* The runner's. */
        struct run runs[ALERTEXEC_RUNNING_MAX];
        size_t n_runs;
};

static uint64_t mono_ms(void) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static void job_free(struct job *j) {
        if (!j)
                return;
        free(j->target);
        strv_free(j->argv);
        free(j->json);
        free(j);
}

static void wake(struct alertexec *x) {
        uint64_t one = 1;
        (void)!write(x->wake_fd, &one, sizeof(one));
}

/* Logs an error of a run, and writes it as an `error` event. */
static void failed(struct alertexec *x, const char *target, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void failed(struct alertexec *x, const char *target, const char *fmt, ...) {
        char msg[1024];
        va_list ap;

        va_start(ap, fmt);
        /* A message cut short still says what failed. */
        (void)vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        agent_log(x->log, target, LOG_ERROR, "%s", msg);
        if (x->events)
                (void)agent_events_error(x->events, target, msg);
        pthread_mutex_lock(&x->lock);
        x->stats.failed++;
        pthread_mutex_unlock(&x->lock);
}

/* Called with the lock held: closes b's window if it has ended, saying
 * how many runs it skipped. */
static void close_window(struct alertexec *x, struct bucket *b, uint64_t now) {
        if (b->window_start_ms == 0 || now - b->window_start_ms < ALERTEXEC_WINDOW_MS)
                return;
        if (b->skipped > 0)
                agent_log(x->log, b->target, LOG_WARN,
                          "alert_exec: %llu run%s skipped in the last minute (alert_exec_rate = %u)",
                          (unsigned long long)b->skipped, b->skipped == 1 ? "" : "s", b->rate);
        b->window_start_ms = 0;
        b->runs = 0;
        b->skipped = 0;
}

/* Called with the lock held.  The target's bucket, made when missing;
 * NULL when out of memory. */
static struct bucket *bucket_of(struct alertexec *x, const char *target) {
        size_t len = strlen(target);
        struct bucket *b;

        for (b = x->buckets; b; b = b->next)
                if (strcmp(b->target, target) == 0)
                        return b;
        b = calloc(1, sizeof(*b) + len + 1);
        if (!b)
                return NULL;
        memcpy(b->target, target, len + 1);
        b->next = x->buckets;
        x->buckets = b;
        return b;
}

static struct job *job_new(const char *target, char *const *argv, pid_t pid, uint64_t start_time,
                           const char *rule, const char *json, size_t json_len) {
        struct job *j = calloc(1, sizeof(*j));

        if (!j)
                return NULL;
        j->target = strdup(target);
        j->argv = strv_copy(argv);
        j->json = malloc(json_len ? json_len : 1);
        if (!j->target || !j->argv || !j->json) {
                job_free(j);
                return NULL;
        }
        memcpy(j->json, json, json_len);
        j->json_len = json_len;
        j->pid = pid;
        j->start_time = start_time;
        /* A rule's name is short; a cut one still names it. */
        (void)snprintf(j->rule, sizeof(j->rule), "%s", rule ? rule : "");
        return j;
}

void alertexec_submit(struct alertexec *x, const char *target, char *const *argv, unsigned rate, pid_t pid,
                      uint64_t start_time, const char *rule, const char *json, size_t json_len) {
        struct job *j;
        struct bucket *b;
        uint64_t now = mono_ms();
        int note = 0; /* 1: the rate was reached; 2: the queue is full */

        if (!x || !argv || !argv[0])
                return;
        /* Made before the lock is taken, so that workers never wait on
         * one another's allocations. */
        j = job_new(target, argv, pid, start_time, rule, json, json_len);
        pthread_mutex_lock(&x->lock);
        b = bucket_of(x, target);
        if (x->stop || !b || !j) {
                if (!x->stop)
                        x->stats.dropped++;
                pthread_mutex_unlock(&x->lock);
                job_free(j);
                return;
        }
        close_window(x, b, now);
        if (b->window_start_ms == 0) {
                b->window_start_ms = now ? now : 1;
                b->rate = rate ? rate : 1;
        }
        if (b->runs >= b->rate) {
                b->skipped++;
                x->stats.skipped++;
                note = b->skipped == 1 ? 1 : 0;
        } else if (x->queued >= ALERTEXEC_QUEUE_MAX) {
                x->stats.dropped++;
                note = x->stats.dropped == 1 ? 2 : 0;
        } else {
                b->runs++;
                if (x->tail)
                        x->tail->next = j;
                else
                        x->head = j;
                x->tail = j;
                x->queued++;
                j = NULL;
        }
        pthread_mutex_unlock(&x->lock);
        if (note == 1)
                agent_log(
                    x->log, target, LOG_WARN,
                    "alert_exec: %u runs this minute (alert_exec_rate): further alerts are counted, not "
                    "run, until the minute is over",
                    rate);
        else if (note == 2)
                agent_log(x->log, target, LOG_WARN,
                          "alert_exec: %d runs are waiting already: alert dropped (counted from now on)",
                          ALERTEXEC_QUEUE_MAX);
        if (j)
                job_free(j);
        else
                wake(x);
}

void alertexec_get_stats(struct alertexec *x, struct alertexec_stats *ret) {
        pthread_mutex_lock(&x->lock);
        *ret = x->stats;
        pthread_mutex_unlock(&x->lock);
}

/* Room for the environment of a run. */
struct run_env {
        char *vars[6];
        char *envp[6];
};

static void env_fini(struct run_env *e) {
        for (size_t i = 0; i < sizeof(e->vars) / sizeof(e->vars[0]); i++)
                free(e->vars[i]);
}

static int env_init(struct run_env *e, const struct job *j) {
        const char *path = getenv("PATH");
        int r = 0;

        memset(e, 0, sizeof(*e));
        if (asprintf(&e->vars[0], "PATH=%s", path ? path : DEFAULT_PATH) < 0)
                e->vars[0] = NULL, r = -ENOMEM;
        if (asprintf(&e->vars[1], "MEMMON_TARGET=%s", j->target) < 0)
                e->vars[1] = NULL, r = -ENOMEM;
        if (asprintf(&e->vars[2], "MEMMON_PID=%d", (int)j->pid) < 0)
                e->vars[2] = NULL, r = -ENOMEM;
        if (asprintf(&e->vars[3], "MEMMON_START_TIME=%llu", (unsigned long long)j->start_time) < 0)
                e->vars[3] = NULL, r = -ENOMEM;
        if (asprintf(&e->vars[4], "MEMMON_RULE=%s", j->rule) < 0)
                e->vars[4] = NULL, r = -ENOMEM;
        if (r < 0) {
                env_fini(e);
                return r;
        }
        memcpy(e->envp, e->vars, sizeof(e->envp));
        return 0;
}

/* Between fork and execve: the agent has threads, so only async-signal-
 * safe calls (everything was prepared before the fork).  A failure is
 * reported through err as an errno, then the child exits 127. */
static void child(const char *path, char *const argv[], char *const envp[], pid_t parent, int in, int out,
                  int err, int max_fd) {
        /* The kernel's struct sigaction: glibc's sigaction() refuses the
         * signals it keeps for itself, which may be ignored too. */
        const struct {
                void (*handler)(int);
                unsigned long flags;
                void (*restorer)(void);
                uint64_t mask;
        } dfl = {SIG_DFL, 0, NULL, 0};
        sigset_t none;
        int e;

        /* Dies with the agent: the runner thread that forked it lives as
         * long as any of its programs does. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                _exit(127);
        /* Dispositions the agent ignores (SIGPIPE) would survive execve. */
        for (int s = 1; s <= 64; s++)
                if (s != SIGKILL && s != SIGSTOP)
                        (void)syscall(SYS_rt_sigaction, s, &dfl, NULL, sizeof(dfl.mask));
        sigemptyset(&none);
        (void)sigprocmask(SIG_SETMASK, &none, NULL);
        if (dup2(in, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 || dup2(out, STDERR_FILENO) < 0 ||
            dup2(err, 3) < 0 || fcntl(3, F_SETFD, FD_CLOEXEC) < 0)
                goto fail;
        /* Only fds 0-2 reach the program (3 closes at exec). */
        if (syscall(SYS_close_range, 4U, ~0U, 0U) < 0)
                for (int fd = 4; fd < max_fd; fd++)
                        (void)close(fd);
        execve(path, argv, envp);
fail:
        e = errno;
        (void)!write(3, &e, sizeof(e));
        _exit(127);
}

/* Opens logs/alert_exec.out for a run's output, else /dev/null.  Returns
 * an fd or -errno. */
static int open_output(const struct alertexec *x) {
        int fd = fs_open_at(x->logs_fd, OUT_FILE, O_WRONLY | O_CREAT | O_APPEND, 0600);

        if (fd < 0)
                fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

static int max_fd(void) {
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 65536)
                return 65536;
        return (int)rl.rlim_cur;
}

/* The agent runs alert_exec's program as itself, often root: a program
 * that another user could change, or replace through a folder above it, is
 * refused, as OpenSSH's StrictModes refuses such a key file.  path (the
 * program found, PATH_MAX bytes) becomes its resolved path.  Returns 0, or
 * -errno with why[] saying what is wrong. */
static int check_program(char *path, char *why, size_t why_size) {
        char real[PATH_MAX], *slash;
        struct stat st;
        int dfd, r = 0;

        if (!realpath(path, real)) {
                r = -errno;
                (void)snprintf(why, why_size, "%s", strerror(errno));
                return r;
        }
        slash = strrchr(real, '/');
        *slash = '\0';
        dfd = trusted_dir_open(real[0] ? real : "/", why, why_size);
        if (dfd < 0)
                return dfd;
        if (fstatat(dfd, slash + 1, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                r = -errno;
                (void)snprintf(why, why_size, "%s", strerror(errno));
        } else if (!S_ISREG(st.st_mode)) {
                r = -EACCES;
                (void)snprintf(why, why_size, "not a regular file");
        } else if ((st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & 022)) {
                r = -EPERM;
                (void)snprintf(why, why_size, "owned by uid %u with mode %04o: another user could change it",
                               (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
        }
        close(dfd);
        *slash = '/';
        if (r == 0)
                memcpy(path, real, strlen(real) + 1);
        return r;
}

/* Starts the job in run (which takes it over).  Returns 0, or -errno
 * with the failure logged and the job freed. */
static int start(struct alertexec *x, struct run *run, struct job *j) {
        int in[2] = {-1, -1}, err[2] = {-1, -1}, out = -1, r, fds = max_fd();
        char why[PATH_MAX + 128];
        struct run_env env;
        pid_t pid, parent = getpid();

        memset(run, 0, sizeof(*run));
        run->job = j;
        run->pidfd = run->in_fd = run->err_fd = -1;
        r = spawn_find_program(j->argv[0], run->path);
        if (r < 0) {
                failed(x, j->target, "alert_exec: cannot run %s: %s", j->argv[0], strerror(-r));
                goto fail;
        }
        r = check_program(run->path, why, sizeof(why));
        if (r < 0) {
                failed(x, j->target, "alert_exec: %s %s: %s",
                       r == -EPERM || r == -ELOOP ? "refusing to run" : "cannot run", run->path, why);
                goto fail;
        }
        r = env_init(&env, j);
        if (r < 0) {
                failed(x, j->target, "alert_exec: cannot run %s: %s", run->path, strerror(-r));
                goto fail;
        }
        if (pipe2(in, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
                r = -errno;
        else if ((out = open_output(x)) < 0)
                r = out, out = -1;
        if (r < 0) {
                env_fini(&env);
                failed(x, j->target, "alert_exec: cannot run %s: %s", run->path, strerror(-r));
                goto fail;
        }
        pid = fork();
        if (pid == 0)
                child(run->path, j->argv, env.envp, parent, in[0], out, err[1], fds);
        r = pid < 0 ? -errno : 0;
        env_fini(&env);
        fs_close(&in[0]);
        fs_close(&err[1]);
        fs_close(&out);
        if (r < 0) {
                failed(x, j->target, "alert_exec: cannot start %s: %s", run->path, strerror(-r));
                goto fail;
        }
        run->pid = pid;
        run->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        run->in_fd = in[1];
        run->err_fd = err[0];
        (void)fcntl(run->in_fd, F_SETFL, O_NONBLOCK);
        run->deadline_ms = mono_ms() + ALERTEXEC_TIMEOUT_MS;
        pthread_mutex_lock(&x->lock);
        x->stats.started++;
        pthread_mutex_unlock(&x->lock);
        return 0;
fail:
        fs_close(&in[0]);
        fs_close(&in[1]);
        fs_close(&err[0]);
        fs_close(&err[1]);
        fs_close(&out);
        job_free(j);
        run->job = NULL;
        return r;
}

/* Writes what the program's stdin takes now. */
static void feed(struct run *run) {
        while (run->in_fd >= 0 && run->in_off < run->job->json_len) {
                ssize_t n = write(run->in_fd, run->job->json + run->in_off, run->job->json_len - run->in_off);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        return;
                if (n <= 0) {
                        /* It closed its stdin (EPIPE): it wants no more. */
                        fs_close(&run->in_fd);
                        return;
                }
                run->in_off += (size_t)n;
        }
        fs_close(&run->in_fd);
}

/* Reads the exec report: an errno, or its end when execve worked. */
static void read_report(struct run *run) {
        int e;
        ssize_t n;

        do
                n = read(run->err_fd, &e, sizeof(e));
        while (n < 0 && errno == EINTR);
        if (n == (ssize_t)sizeof(e))
                run->exec_errno = e;
        if (n != -1 || errno != EAGAIN)
                fs_close(&run->err_fd);
}

/* The program ended with status: says how, and forgets it. */
static void finish(struct alertexec *x, struct run *run, int status) {
        const struct job *j = run->job;

        if (run->err_fd >= 0)
                read_report(run);
        if (run->exec_errno)
                failed(x, j->target, "alert_exec: cannot run %s: %s", run->path, strerror(run->exec_errno));
        else if (run->killed)
                failed(x, j->target, "alert_exec: %s (rule %s) did not finish within %d s: killed", run->path,
                       j->rule, ALERTEXEC_TIMEOUT_MS / 1000);
        else if (WIFSIGNALED(status))
                failed(x, j->target, "alert_exec: %s (rule %s) was killed by signal %d", run->path, j->rule,
                       WTERMSIG(status));
        else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
                failed(x, j->target, "alert_exec: %s (rule %s) exited with status %d", run->path, j->rule,
                       WEXITSTATUS(status));
        else
                agent_log(x->log, j->target, LOG_INFO, "alert_exec: %s ran for rule %s (pid %d)", run->path,
                          j->rule, (int)j->pid);
        fs_close(&run->pidfd);
        fs_close(&run->in_fd);
        fs_close(&run->err_fd);
        job_free(run->job);
        run->job = NULL;
}

/* Reaps run's program if it has ended.  Returns 1 when it had. */
static int reap(struct alertexec *x, struct run *run, int block) {
        int status = 0;
        pid_t p;

        do
                p = waitpid(run->pid, &status, block ? 0 : WNOHANG);
        while (p < 0 && errno == EINTR);
        if (p == 0)
                return 0;
        finish(x, run, p == run->pid ? status : 0);
        return 1;
}

static void kill_run(struct run *run) {
        if (run->pidfd < 0 || syscall(SYS_pidfd_send_signal, run->pidfd, SIGKILL, NULL, 0) < 0)
                (void)kill(run->pid, SIGKILL);
}

/* Takes jobs from the queue while there is room to run them, and closes
 * the windows that ended.  Returns the time the next window closes (0:
 * none), and whether to stop in *stop. */
static uint64_t take_jobs(struct alertexec *x, struct job **ret, size_t room, bool *stop) {
        uint64_t now = mono_ms(), next = 0;
        struct job *taken = NULL, **tail = &taken;

        pthread_mutex_lock(&x->lock);
        *stop = x->stop;
        while (!x->stop && room > 0 && x->head) {
                struct job *j = x->head;
                x->head = j->next;
                if (!x->head)
                        x->tail = NULL;
                x->queued--;
                j->next = NULL;
                *tail = j;
                tail = &j->next;
                room--;
        }
        for (struct bucket **bp = &x->buckets; *bp;) {
                struct bucket *b = *bp;
                close_window(x, b, now);
                if (b->window_start_ms == 0) {
                        /* Nothing to remember: a removed target leaves
                         * nothing behind. */
                        *bp = b->next;
                        free(b);
                        continue;
                }
                if (b->skipped > 0 && (next == 0 || b->window_start_ms + ALERTEXEC_WINDOW_MS < next))
                        next = b->window_start_ms + ALERTEXEC_WINDOW_MS;
                bp = &b->next;
        }
        pthread_mutex_unlock(&x->lock);
        *ret = taken;
        return next;
}

static void *runner(void *arg) {
        struct alertexec *x = arg;
        struct pollfd p[1 + 3 * ALERTEXEC_RUNNING_MAX];
        sigset_t all;
        bool stop = false;

        /* The agent's signals are its loop's (a signalfd); a write to a
         * program that closed its stdin gets EPIPE, not SIGPIPE. */
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, NULL);
        while (!stop) {
                struct job *jobs;
                uint64_t window = take_jobs(x, &jobs, ALERTEXEC_RUNNING_MAX - x->n_runs, &stop), now;
                int timeout = -1, n = 0;

                while (jobs) {
                        struct job *j = jobs;
                        jobs = j->next;
                        j->next = NULL;
                        if (stop)
                                job_free(j);
                        else if (start(x, &x->runs[x->n_runs], j) == 0)
                                feed(&x->runs[x->n_runs++]);
                }
                if (stop)
                        break;
                p[n++] = (struct pollfd){.fd = x->wake_fd, .events = POLLIN};
                now = mono_ms();
                for (size_t i = 0; i < x->n_runs; i++) {
                        struct run *r = &x->runs[i];
                        uint64_t left = r->deadline_ms > now ? r->deadline_ms - now : 0;
                        p[n++] = (struct pollfd){.fd = r->pidfd, .events = POLLIN};
                        p[n++] = (struct pollfd){.fd = r->in_fd, .events = POLLOUT};
                        p[n++] = (struct pollfd){.fd = r->err_fd, .events = POLLIN};
                        if (r->killed)
                                left = POLL_WITHOUT_PIDFD_MS;
                        if (r->pidfd < 0 && left > POLL_WITHOUT_PIDFD_MS)
                                left = POLL_WITHOUT_PIDFD_MS;
                        if (timeout < 0 || left < (uint64_t)timeout)
                                timeout = (int)left;
                }
                if (window && (timeout < 0 || window - now < (uint64_t)timeout))
                        timeout = window > now ? (int)(window - now) : 0;
                if (poll(p, (nfds_t)n, timeout) < 0 && errno != EINTR)
                        continue;
                if (p[0].revents) {
                        uint64_t v;
                        (void)!read(x->wake_fd, &v, sizeof(v));
                }
                now = mono_ms();
                for (size_t i = 0; i < x->n_runs;) {
                        struct run *r = &x->runs[i];
                        struct pollfd *rp = &p[1 + 3 * i];
                        if (rp[1].revents)
                                feed(r);
                        if (rp[2].revents)
                                read_report(r);
                        if (!r->killed && now >= r->deadline_ms) {
                                r->killed = true;
                                kill_run(r);
                        }
                        if ((rp[0].revents || r->pidfd < 0 || r->killed) && reap(x, r, 0)) {
                                x->runs[i] = x->runs[--x->n_runs];
                                /* p[] is rebuilt next round; the moved run's
                                 * events wait until then. */
                                continue;
                        }
                        i++;
                }
        }
        for (size_t i = 0; i < x->n_runs; i++) {
                x->runs[i].killed = true;
                kill_run(&x->runs[i]);
                (void)reap(x, &x->runs[i], 1);
        }
        x->n_runs = 0;
        return NULL;
}

int alertexec_new(int logs_fd, struct agent_log *log, struct agent_events *events, struct alertexec **ret) {
        struct alertexec *x = calloc(1, sizeof(*x));
        int r;

        if (!x)
                return -ENOMEM;
        x->log = log;
        x->events = events;
        x->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        x->logs_fd = logs_fd >= 0 ? fcntl(logs_fd, F_DUPFD_CLOEXEC, 3) : -1;
        r = -pthread_mutex_init(&x->lock, NULL);
        if (r < 0) {
                fs_close(&x->wake_fd);
                fs_close(&x->logs_fd);
                free(x);
                return r;
        }
        if (x->wake_fd < 0)
                r = -errno;
        if (r == 0)
                r = -pthread_create(&x->thread, NULL, runner, x);
        if (r < 0) {
                alertexec_free(x);
                return r;
        }
        x->started = true;
        *ret = x;
        return 0;
}

void alertexec_free(struct alertexec *x) {
        if (!x)
                return;
        if (x->started) {
                pthread_mutex_lock(&x->lock);
                x->stop = true;
                pthread_mutex_unlock(&x->lock);
                wake(x);
                pthread_join(x->thread, NULL);
        }
        while (x->head) {
                struct job *j = x->head;
                x->head = j->next;
                job_free(j);
        }
        while (x->buckets) {
                struct bucket *b = x->buckets;
                x->buckets = b->next;
                free(b);
        }
        fs_close(&x->wake_fd);
        fs_close(&x->logs_fd);
        pthread_mutex_destroy(&x->lock);
        free(x);
}
