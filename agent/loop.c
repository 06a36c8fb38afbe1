/*
 * loop: the control loop.  It only multiplexes I/O and never waits for a
 * command: signals arrive through a signalfd (SIGTERM and SIGINT are acted
 * on here and at once), commands through the FIFO, the control socket
 * (ctlserver.c) and, in -i, standard input (on a terminal through libedit,
 * prompt.c, which runs this loop while it waits for a key).  Each command
 * becomes a job for the executor thread (executor.h, jobs.c), whose
 * finished jobs come back through an eventfd; their replies go to whoever
 * asked.  Between events the loop pings the systemd watchdog while the
 * agent is healthy and refreshes STATUS= (service.c).
 *
 * The FIFO is read in bounded batches (FIFO_BATCH_LINES lines or
 * FIFO_BATCH_BYTES bytes per wake-up, and no more while FIFO_QUEUE_MAX of
 * its commands wait for the executor), so a writer that never stops delays
 * a signal by one batch at most; a part of a line that gets no newline
 * within FIFO_FRAGMENT_US is dropped, never glued to what the next writer
 * sends.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sysexits.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/ctlserver.h"
#include "agent/events.h"
#include "agent/prompt.h"
#include "core/fs.h"

#define FIFO_BATCH_LINES 64
#define FIFO_BATCH_BYTES (64 * 1024)
#define FIFO_QUEUE_MAX 256
#define FIFO_FRAGMENT_US (200ULL * 1000)
/* Once a quit command is queued, the commands before it get this long
 * (their waits for workers abandoned) before the agent stops anyway. */
#define QUIT_GRACE_US (1000ULL * 1000)
/* -i through a pipe: no more lines are read while this much output waits. */
#define STDOUT_BACKLOG_MAX (64 * 1024)
/* What is left of the replies gets this long to go out at the end. */
#define FINAL_FLUSH_MS 1000
#define POLL_MAX (8 + CTL_CLIENTS_MAX + 1)

int line_feed(struct line_reader *lr, const char *data, size_t n, size_t *pos) {
        while (*pos < n) {
                char c = data[(*pos)++];
                if (c == '\n') {
                        if (!lr->overlong && lr->len && lr->buf[lr->len - 1] == '\r')
                                lr->len--;
                        return 1;
                }
                if (lr->overlong) {
                        lr->dropped++;
                } else if (lr->len == COMMAND_MAX_LINE) {
                        lr->overlong = 1;
                        lr->dropped = lr->len + 1;
                } else {
                        lr->buf[lr->len++] = c;
                }
        }
        return 0;
}

/* What the loop keeps between wake-ups. */
struct loop {
        struct agent *a;
        int prompt_mode; /* -i on a terminal, through libedit */
        /* The FIFO: what was read and not yet split into lines. */
        char fifo_in[FIFO_BATCH_BYTES];
        size_t fifo_len, fifo_pos;
        struct line_reader fifo_line;
        uint64_t fifo_last_byte_us;
        size_t fifo_jobs; /* FIFO commands queued or running */
        /* -i: standard input, one command at a time. */
        char stdin_in[8192];
        size_t stdin_len, stdin_pos;
        struct line_reader stdin_line;
        int stdin_open; /* read from it (piped -i) */
        int stdin_eof;
        int stdin_busy;           /* its command runs */
        struct job *prompt_reply; /* prompt mode: the reply of the line typed */
        struct strbuf out;        /* piped -i: what waits for standard output */
        size_t out_pos;
        uint64_t quit_deadline_us; /* a quit command is queued: stop by then */
};

static void output(struct loop *l, const char *s, size_t len) {
        if (len && strbuf_append(&l->out, s, len) < 0)
                agent_log(l->a->log, NULL, LOG_ERROR, "out of memory for a reply on standard output");
        if (l->out.len > l->out_pos && !l->a->output_stuck_since_us)
                l->a->output_stuck_since_us = notify_now_us();
}

static void output_str(struct loop *l, const char *s) {
        output(l, s, strlen(s));
}

/* Writes what waits for standard output, a pipe's atomic write at a time
 * and only when poll() said there is room, so that a reader who stops
 * reading never blocks the loop (the health check notices instead). */
static void write_output(struct loop *l) {
        while (l->out_pos < l->out.len) {
                size_t n = l->out.len - l->out_pos;
                if (n > 4096)
                        n = 4096;
                ssize_t w = write(STDOUT_FILENO, l->out.s + l->out_pos, n);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0) {
                        if (w < 0 && errno != EAGAIN) {
                                /* Nobody will read it: drop it. */
                                l->out_pos = l->out.len;
                                break;
                        }
                        return;
                }
                l->out_pos += (size_t)w;
                l->a->output_stuck_since_us = notify_now_us();
                struct pollfd p = {.fd = STDOUT_FILENO, .events = POLLOUT};
                if (l->out_pos < l->out.len && poll(&p, 1, 0) <= 0)
                        return;
        }
        l->out.len = l->out_pos = 0;
        l->a->output_stuck_since_us = 0;
}

/* Queues a command; a quit also cuts short the waits of the commands
 * before it and starts the grace period. */
static void submit(struct loop *l, struct job *j) {
        if (j->kind == JOB_COMMAND && command_is_quit(j->line, j->len)) {
                executor_cancel_waits(&l->a->exec);
                if (!l->quit_deadline_us)
                        l->quit_deadline_us = notify_now_us() + QUIT_GRACE_US;
        }
        executor_submit(&l->a->exec, j);
}

static int submit_line(struct loop *l, enum job_kind kind, enum job_origin origin, const char *line,
                       size_t len) {
        struct job *j = job_new(kind, origin, line, len);
        if (!j) {
                agent_log(l->a->log, NULL, LOG_ERROR, "out of memory for a command");
                return -ENOMEM;
        }
        submit(l, j);
        return 0;
}

/* A whole FIFO line (or a too long one) becomes a job. */
static void fifo_line_done(struct loop *l) {
        struct line_reader *lr = &l->fifo_line;
        int r;
        if (lr->overlong) {
                char msg[128];
                snprintf(msg, sizeof(msg), "FIFO: line of %zu bytes rejected (longer than %d)", lr->dropped,
                         COMMAND_MAX_LINE);
                r = submit_line(l, JOB_REJECTED, ORIGIN_FIFO, msg, strlen(msg));
        } else {
                r = submit_line(l, JOB_COMMAND, ORIGIN_FIFO, lr->buf, lr->len);
        }
        if (r == 0)
                l->fifo_jobs++;
        line_reset(lr);
}

/* True when the FIFO has bytes read and not yet split, and room for their
 * commands: the loop must come back at once. */
static int fifo_ready(const struct loop *l) {
        return l->fifo_pos < l->fifo_len && l->fifo_jobs < FIFO_QUEUE_MAX;
}

/* One batch of the FIFO. */
static void fifo_serve(struct loop *l, uint64_t now) {
        size_t lines = 0, bytes = 0;
        while (lines < FIFO_BATCH_LINES && l->fifo_jobs < FIFO_QUEUE_MAX) {
                if (l->fifo_pos == l->fifo_len) {
                        if (bytes >= FIFO_BATCH_BYTES)
                                break;
                        ssize_t n = read(l->a->fifo_fd, l->fifo_in, sizeof(l->fifo_in) - bytes);
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0)
                                break; /* EAGAIN: drained (the FIFO is open for writing too: no EOF) */
                        l->fifo_pos = 0;
                        l->fifo_len = (size_t)n;
                        l->fifo_last_byte_us = now;
                        bytes += (size_t)n;
                }
                if (line_feed(&l->fifo_line, l->fifo_in, l->fifo_len, &l->fifo_pos)) {
                        fifo_line_done(l);
                        lines++;
                }
        }
}

/* A part of a line that waited FIFO_FRAGMENT_US for its newline is
 * dropped: the next writer's command must not be glued to it. */
static void fifo_expire(struct loop *l, uint64_t now) {
        struct line_reader *lr = &l->fifo_line;
        if (!line_pending(lr) || l->fifo_pos < l->fifo_len || now - l->fifo_last_byte_us < FIFO_FRAGMENT_US)
                return;
        if (lr->overlong)
                agent_log(l->a->log, NULL, LOG_WARN,
                          "FIFO: discarded %zu bytes without a newline (a command ends with a newline)",
                          lr->dropped);
        else
                agent_log(
                    l->a->log, NULL, LOG_WARN,
                    "FIFO: discarded '%.*s' (%zu bytes): no newline within %llu ms (a command ends with a "
                    "newline)",
                    (int)(lr->len > 64 ? 64 : lr->len), lr->buf, lr->len,
                    (unsigned long long)(FIFO_FRAGMENT_US / 1000));
        line_reset(lr);
}

static int fifo_timeout_ms(const struct loop *l, uint64_t now) {
        if (!line_pending(&l->fifo_line))
                return -1;
        uint64_t at = l->fifo_last_byte_us + FIFO_FRAGMENT_US;
        return at <= now ? 0 : (int)((at - now + 999) / 1000);
}

/* Piped -i: a whole line of standard input runs (or is refused). */
static void stdin_line_done(struct loop *l) {
        struct line_reader *lr = &l->stdin_line;
        if (lr->overlong) {
                agent_log(l->a->log, NULL, LOG_WARN, "stdin: line of %zu bytes rejected (longer than %d)",
                          lr->dropped, COMMAND_MAX_LINE);
                char msg[128];
                snprintf(msg, sizeof(msg),
                         "Command rejected: line of %zu bytes is longer than %d\n" PROMPT_TEXT, lr->dropped,
                         COMMAND_MAX_LINE);
                output_str(l, msg);
        } else if (submit_line(l, JOB_COMMAND, ORIGIN_STDIN, lr->buf, lr->len) == 0) {
                l->stdin_busy = 1;
        }
        line_reset(lr);
}

/* Piped -i: runs the lines standard input has, one at a time, each after
 * the reply of the one before.  readable: poll() said there is input. */
static void stdin_serve(struct loop *l, int readable) {
        while (l->stdin_open && !l->stdin_busy && !agent_quitting(l->a) &&
               l->out.len - l->out_pos < STDOUT_BACKLOG_MAX) {
                if (l->stdin_pos == l->stdin_len) {
                        if (l->stdin_eof) {
                                if (line_pending(&l->stdin_line)) {
                                        /* A last line without a newline still runs. */
                                        stdin_line_done(l);
                                        continue;
                                }
                                /* End of input is a quit, as at a shell. */
                                l->stdin_open = 0;
                                output_str(l, "\nExiting...\n");
                                agent_request_quit(l->a);
                                return;
                        }
                        if (!readable)
                                return;
                        readable = 0;
                        ssize_t n = read(STDIN_FILENO, l->stdin_in, sizeof(l->stdin_in));
                        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                                return;
                        if (n <= 0) {
                                l->stdin_eof = 1;
                                continue;
                        }
                        l->stdin_pos = 0;
                        l->stdin_len = (size_t)n;
                }
                if (line_feed(&l->stdin_line, l->stdin_in, l->stdin_len, &l->stdin_pos))
                        stdin_line_done(l);
        }
}

/* The control socket hands a request over. */
static int ctl_request(void *user, const struct ctl_request *rq) {
        struct loop *l = user;
        struct job *j = job_new(JOB_COMMAND, ORIGIN_SOCKET, rq->line, rq->len);
        if (!j)
                return -ENOMEM;
        j->client = rq->client;
        j->json = rq->json;
        j->peer_uid = rq->uid;
        j->peer_pid = rq->pid;
        submit(l, j);
        return 0;
}

/* Finished jobs: each reply goes back to whoever asked. */
static void dispatch(struct loop *l) {
        struct job *j = executor_take_done(&l->a->exec);
        while (j) {
                struct job *next = j->next;
                int quit = j->kind == JOB_COMMAND && j->result == COMMAND_QUIT;
                switch (j->origin) {
                case ORIGIN_FIFO:
                        l->fifo_jobs--;
                        break;
                case ORIGIN_STDIN:
                        l->stdin_busy = 0;
                        if (l->prompt_mode) {
                                job_free(l->prompt_reply);
                                l->prompt_reply = j;
                                j = NULL;
                                break;
                        }
                        if (j->reply.len) {
                                output(l, j->reply.s, j->reply.len);
                                output_str(l, "\n");
                        }
                        if (!quit)
                                output_str(l, PROMPT_TEXT);
                        break;
                case ORIGIN_SOCKET:
                        if (l->a->ctl)
                                ctl_server_reply(l->a->ctl, j->client, j->result,
                                                 j->reply.s ? j->reply.s : "", j->reply.len);
                        break;
                case ORIGIN_AGENT:
                        break;
                }
                if (quit)
                        agent_request_quit(l->a);
                job_free(j);
                j = next;
        }
}

/* Queues a signal's action unless one of its kind waits to start; a storm
 * of signals collapses into one action of each kind (the flag is cleared
 * when the action starts, so a signal during an action is not lost). */
static void queue_action(struct loop *l, int *pending, enum job_kind kind) {
        if (__atomic_exchange_n(pending, 1, __ATOMIC_ACQ_REL))
                return;
        if (submit_line(l, kind, ORIGIN_AGENT, NULL, 0) < 0)
                __atomic_store_n(pending, 0, __ATOMIC_RELEASE);
}

static void handle_signals(struct loop *l) {
        struct agent *a = l->a;
        struct signalfd_siginfo si[16];
        for (;;) {
                ssize_t n = read(a->sig_fd, si, sizeof(si));
                if (n <= 0)
                        break;
                for (size_t i = 0; i < (size_t)n / sizeof(si[0]); i++) {
                        switch (si[i].ssi_signo) {
                        case SIGTERM:
                        case SIGINT:
                                agent_log(a->log, NULL, LOG_INFO, "signal %s: stopping",
                                          si[i].ssi_signo == SIGTERM ? "TERM" : "INT");
                                agent_request_quit(a);
                                break;
                        case SIGHUP:
                                queue_action(l, &a->hup_pending, JOB_RELOAD);
                                break;
                        case SIGUSR1:
                                queue_action(l, &a->usr1_pending, JOB_BACKUP);
                                break;
                        case SIGCHLD:
                                queue_action(l, &a->chld_pending, JOB_REAP);
                                break;
                        case SIGWINCH:
                                if (a->prompt)
                                        prompt_resize(a->prompt);
                                break;
                        default:
                                break;
                        }
                }
        }
}

static int min_timeout(int a, int b) {
        if (a < 0)
                return b;
        if (b < 0)
                return a;
        return a < b ? a : b;
}

/* Waits for the next events and handles them.  Returns 1 when standard
 * input is readable (watched when watch_stdin is set, for the prompt) and
 * the agent is not quitting, 0 otherwise, or -errno when poll() fails. */
static int serve_once(struct loop *l, int watch_stdin) {
        struct agent *a = l->a;
        struct pollfd p[POLL_MAX];
        enum { P_SIG, P_DONE, P_FIFO, P_STDIN, P_STDOUT, P_CTL };
        int piped_stdin = l->stdin_open && !l->stdin_busy && l->stdin_pos == l->stdin_len && !l->stdin_eof &&
                          l->out.len - l->out_pos < STDOUT_BACKLOG_MAX;
        p[P_SIG] = (struct pollfd){.fd = a->sig_fd, .events = POLLIN};
        p[P_DONE] = (struct pollfd){.fd = a->exec.efd, .events = POLLIN};
        p[P_FIFO] = (struct pollfd){
            .fd = l->fifo_jobs < FIFO_QUEUE_MAX && l->fifo_pos == l->fifo_len ? a->fifo_fd : -1,
            .events = POLLIN};
        p[P_STDIN] = (struct pollfd){.fd = watch_stdin || piped_stdin ? STDIN_FILENO : -1, .events = POLLIN};
        p[P_STDOUT] = (struct pollfd){.fd = l->out.len > l->out_pos ? STDOUT_FILENO : -1, .events = POLLOUT};
        size_t n = P_CTL;
        if (a->ctl)
                n += ctl_server_pollfds(a->ctl, p + P_CTL, POLL_MAX - P_CTL);

        uint64_t now = notify_now_us();
        int timeout = agent_service_timeout_ms(a);
        timeout = min_timeout(timeout, fifo_timeout_ms(l, now));
        if (a->ctl)
                timeout = min_timeout(timeout, ctl_server_timeout_ms(a->ctl, now));
        if (l->quit_deadline_us)
                timeout = min_timeout(timeout, l->quit_deadline_us <= now
                                                   ? 0
                                                   : (int)((l->quit_deadline_us - now + 999) / 1000));
        if (fifo_ready(l) || (l->stdin_open && l->stdin_eof && !l->stdin_busy))
                timeout = 0;
        int r = poll(p, n, timeout);
        if (r < 0) {
                if (errno == EINTR)
                        return 0;
                int e = errno;
                agent_log(a->log, NULL, LOG_ERROR, "poll: %s", strerror(e));
                return -e;
        }
        /* Signals first: SIGTERM is never behind anything. */
        if (p[P_SIG].revents)
                handle_signals(l);
        if (agent_quitting(a))
                return 0;
        now = notify_now_us();
        if (p[P_DONE].revents)
                dispatch(l);
        if ((p[P_FIFO].revents & POLLIN) || fifo_ready(l))
                fifo_serve(l, now);
        fifo_expire(l, now);
        if (a->ctl)
                ctl_server_serve(a->ctl, p + P_CTL, n - P_CTL, now);
        if (p[P_STDOUT].revents)
                write_output(l);
        stdin_serve(l, piped_stdin && p[P_STDIN].revents);
        agent_service_tick(a);
        if (l->quit_deadline_us && now >= l->quit_deadline_us && !agent_quitting(a)) {
                agent_log(a->log, NULL, LOG_WARN,
                          "quit: stopping without waiting longer for the commands before it");
                agent_request_quit(a);
        }
        return !agent_quitting(a) && watch_stdin && p[P_STDIN].revents ? 1 : 0;
}

/* prompt_host.wait: the agent is served while a person types. */
static int prompt_wait(void *user) {
        struct loop *l = user;
        while (!agent_quitting(l->a)) {
                int r = serve_once(l, 1);
                if (r != 0)
                        return r;
        }
        return 0;
}

/* prompt_host.targets: the names Tab completes after '@'. */
static void prompt_targets(void *user, prompt_add_fn add, void *ctx) {
        struct loop *l = user;
        struct agent *a = l->a;
        pthread_mutex_lock(&a->config_lock);
        for (size_t i = 0; a->config && i < a->config->n_targets; i++)
                add(ctx, a->config->targets[i].name);
        pthread_mutex_unlock(&a->config_lock);
}

/* Runs one typed line on the executor and prints its reply; the agent is
 * served meanwhile. */
static void prompt_run(struct loop *l, const char *line, size_t len) {
        if (submit_line(l, JOB_COMMAND, ORIGIN_STDIN, line, len) < 0)
                return;
        l->stdin_busy = 1;
        while (!l->prompt_reply && !agent_quitting(l->a))
                if (serve_once(l, 0) < 0)
                        break;
        struct job *j = l->prompt_reply;
        l->prompt_reply = NULL;
        if (j && j->reply.len)
                printf("%s\n", j->reply.s);
        fflush(stdout);
        job_free(j);
}

/* -i on a terminal: lines come from libedit, which serves the agent while
 * it waits for keys.  Returns 0 or a sysexits code. */
static int prompt_loop(struct loop *l) {
        struct agent *a = l->a;
        const char *words[64];
        size_t nw = 0;
        for (const char *w; nw + 1 < sizeof(words) / sizeof(words[0]) && (w = command_verb(nw));)
                words[nw++] = w;
        words[nw] = NULL;
        struct prompt_host host = {
            .wait = prompt_wait,
            .targets = prompt_targets,
            .user = l,
            .words = words,
            .max_line = COMMAND_MAX_LINE,
        };
        int r = prompt_new(&host, &a->prompt);
        if (r < 0)
                return r;
        l->prompt_mode = 1;
        if (prompt_history_note(a->prompt)[0])
                printf("(%s)\n", prompt_history_note(a->prompt));
        while (!agent_quitting(a)) {
                const char *line;
                size_t len;
                r = prompt_read(a->prompt, &line, &len);
                if (r == 2) {
                        printf("Command rejected: line of %zu bytes is longer than %d\n", len,
                               COMMAND_MAX_LINE);
                        agent_log(a->log, NULL, LOG_WARN,
                                  "stdin: line of %zu bytes rejected (longer than %d)", len,
                                  COMMAND_MAX_LINE);
                } else if (r == 1) {
                        prompt_run(l, line, len);
                } else {
                        if (r < 0)
                                agent_log(a->log, NULL, LOG_ERROR, "reading the terminal: %s", strerror(-r));
                        /* Ctrl-D is a quit, as at a shell; a signal leaves
                         * the cursor after the prompt. */
                        fputs(agent_quitting(a) ? "\n" : "\nExiting...\n", stdout);
                        fflush(stdout);
                        agent_request_quit(a);
                }
        }
        prompt_free(a->prompt);
        a->prompt = NULL;
        return r < 0 ? EX_OSERR : 0;
}

/* The agent stops: what replies are left get a last chance to go out. */
static void final_flush(struct loop *l) {
        struct agent *a = l->a;
        /* Replies finished just before the quit. */
        dispatch(l);
        ctl_server_flush(a->ctl, FINAL_FLUSH_MS);
        uint64_t end = notify_now_us() + FINAL_FLUSH_MS * 1000ULL;
        while (l->out.len > l->out_pos) {
                uint64_t now = notify_now_us();
                struct pollfd p = {.fd = STDOUT_FILENO, .events = POLLOUT};
                if (now >= end || poll(&p, 1, (int)((end - now + 999) / 1000)) <= 0)
                        break;
                write_output(l);
        }
}

int agent_loop(struct agent *a) {
        struct loop *l = calloc(1, sizeof(*l));
        if (!l)
                return EX_OSERR;
        l->a = a;
        strbuf_init(&l->out);
        if (a->ctl) {
                struct ctl_server_ops ops = {.request = ctl_request, .user = l};
                ctl_server_set_ops(a->ctl, &ops);
        }
        int code = 0, r = executor_start(&a->exec);
        if (r < 0) {
                agent_log(a->log, NULL, LOG_ERROR, "cannot start the command thread: %s", strerror(-r));
                code = EX_OSERR;
                goto out;
        }
        if (a->opt.mode == MODE_INTERACTIVE && prompt_is_terminal()) {
                r = prompt_loop(l);
                if (r >= 0) {
                        code = r;
                        goto out;
                }
                agent_log(a->log, NULL, LOG_WARN, "no line editing: %s", strerror(-r));
        }
        /* Piped input (or no libedit): the prompt is printed after each
         * reply, and lines are read as they come. */
        if (a->opt.mode == MODE_INTERACTIVE) {
                output_str(l, PROMPT_TEXT);
                l->stdin_open = 1;
        }
        while (!agent_quitting(a)) {
                if (serve_once(l, 0) < 0) {
                        code = EX_OSERR;
                        break;
                }
        }
out:
        final_flush(l);
        /* A command still running is cut short at its next wait. */
        executor_stop(&a->exec);
        if (a->ctl) {
                struct ctl_server_ops none = {0};
                ctl_server_set_ops(a->ctl, &none);
        }
        job_free(l->prompt_reply);
        strbuf_fini(&l->out);
        free(l);
        return code;
}

int agent_ctl_open(struct agent *a, char *why, size_t why_size) {
        /* The server keeps a folder fd of its own: the socket is bound
         * and unlinked beneath it, never by path. */
        int fd = fcntl(a->logs_fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0) {
                fd = -errno;
                snprintf(why, why_size, "%s: %s", a->logs, strerror(-fd));
                return fd;
        }
        return ctl_server_open(fd, a->logs, a->log, &a->ctl, why, why_size);
}

void agent_ctl_close(struct agent *a) {
        ctl_server_close(a->ctl);
        a->ctl = NULL;
}

int agent_setup_signals(struct agent *a) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGHUP);
        sigaddset(&set, SIGUSR1);
        sigaddset(&set, SIGCHLD);
        /* A resized terminal, for the -i prompt; ignored by default anyway. */
        sigaddset(&set, SIGWINCH);
        /* Blocked before any worker starts, so every thread inherits it and
         * only the signalfd ever sees these signals. */
        if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
                return -errno;
        signal(SIGPIPE, SIG_IGN);
        a->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
        return a->sig_fd < 0 ? -errno : 0;
}
