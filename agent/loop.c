/*
 * loop: the control loop.  Signals arrive through a signalfd, commands
 * through the FIFO and (in -i) stdin; each is turned into supervisor actions.
 * Between events the loop pings the systemd watchdog (service.c).  On a
 * terminal, -i reads lines through libedit (prompt.c), which runs this loop
 * while it waits for a key.
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
#include "agent/events.h"
#include "agent/prompt.h"
#include "core/fs.h"

/* The words Tab completes at the prompt.  Until core/command.h exports its
 * table of verbs, this list must follow it. */
static const char *const command_words[] = {
    "status", "interval", "pid",  "backup", "reload", "targets", "alerts",
    "pause",  "resume",   "help", "quit",   "stop",   NULL,
};

/* Runs one command line; replies go to out (interactive) or the log. */
static void run_command(struct agent *a, const char *line, size_t len, FILE *out) {
        struct command_host host = {
            .sup = &a->sup,
            .reload = agent_reload_notified,
            .user = a,
            .timeout_ms = REQUEST_TIMEOUT_MS,
        };
        struct strbuf reply;
        strbuf_init(&reply);
        if (!out)
                agent_log(a->log, NULL, LOG_INFO, "command: %.*s", (int)(len > 200 ? 200 : len), line);
        int r = command_execute(&host, line, len, &reply);
        if (out) {
                if (reply.len)
                        fprintf(out, "%s\n", strbuf_str(&reply));
                fflush(out);
        }
        /* The log keeps every reply, so FIFO users can read them there. */
        agent_log_lines(a->log, NULL, r < 0 ? LOG_WARN : LOG_INFO, strbuf_str(&reply));
        strbuf_fini(&reply);
        if (r == COMMAND_QUIT)
                a->quit = 1;
}

/* Runs the line lr has assembled (or reports it as too long) and starts the
 * next one.  At a pipe's prompt the next prompt follows. */
static void finish_line(struct agent *a, struct line_reader *lr, FILE *out, const char *source) {
        if (lr->overlong) {
                agent_log(a->log, NULL, LOG_WARN, "%s: line of %zu bytes rejected (longer than %d)", source,
                          lr->dropped, COMMAND_MAX_LINE);
                if (out)
                        fprintf(out, "Command rejected: line of %zu bytes is longer than %d\n", lr->dropped,
                                COMMAND_MAX_LINE);
        } else {
                run_command(a, lr->buf, lr->len, out);
        }
        lr->len = 0;
        lr->overlong = 0;
        lr->dropped = 0;
        if (out && !a->quit) {
                fputs(PROMPT_TEXT, out);
                fflush(out);
        }
}

/* Reads what fd has and runs each complete line.  Returns 0, or -EPIPE at
 * end of file, after running a last line that had no newline. */
static int drain_lines(struct agent *a, int fd, struct line_reader *lr, FILE *out, const char *source) {
        char chunk[8192];
        for (;;) {
                ssize_t n = read(fd, chunk, sizeof(chunk));
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
                }
                if (n == 0) {
                        if (lr->len || lr->overlong)
                                finish_line(a, lr, out, source);
                        return -EPIPE;
                }
                for (ssize_t i = 0; i < n; i++) {
                        char c = chunk[i];
                        if (c != '\n') {
                                if (lr->overlong) {
                                        lr->dropped++;
                                } else if (lr->len == COMMAND_MAX_LINE) {
                                        lr->overlong = 1;
                                        lr->dropped = lr->len + 1;
                                } else {
                                        lr->buf[lr->len++] = c;
                                }
                                continue;
                        }
                        finish_line(a, lr, out, source);
                        if (a->quit)
                                return 0;
                }
                if (out)
                        return 0; /* a terminal: one read per wake-up */
        }
}

static int reopen_output(struct agent *a) {
        int fd = fs_open_at(AT_FDCWD, a->out_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd < 0)
                return fd;
        int r = (dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0) ? -errno : 0;
        close(fd);
        return r;
}

static void handle_signals(struct agent *a) {
        struct signalfd_siginfo si[16];
        int hup = 0, usr1 = 0, chld = 0, winch = 0;
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
                                a->quit = 1;
                                break;
                        case SIGHUP:
                                hup = 1;
                                break;
                        case SIGUSR1:
                                usr1 = 1;
                                break;
                        case SIGCHLD:
                                chld = 1;
                                break;
                        case SIGWINCH:
                                winch = 1;
                                break;
                        default:
                                break;
                        }
                }
        }
        /* A storm of signals collapses into one action of each kind. */
        if (hup) {
                agent_service_reloading(a);
                int r = agent_log_reopen(a->log);
                if (r == 0)
                        r = agent_events_reopen(a->events);
                if (r == 0 && a->opt.mode == MODE_DAEMON)
                        r = reopen_output(a);
                agent_log(a->log, NULL, r < 0 ? LOG_ERROR : LOG_INFO, "SIGHUP: logs reopened%s%s",
                          r < 0 ? ": " : "", r < 0 ? strerror(-r) : "");
                struct strbuf reply;
                strbuf_init(&reply);
                r = agent_reload(a, &reply);
                agent_log_lines(a->log, NULL, r < 0 ? LOG_ERROR : LOG_INFO, strbuf_str(&reply));
                strbuf_fini(&reply);
                agent_service_reloaded(a);
        }
        if (usr1) {
                agent_log(a->log, NULL, LOG_INFO, "SIGUSR1: full backup of every target");
                for (size_t i = 0; i < a->sup.n; i++)
                        (void)worker_post(a->sup.workers[i], REQ_BACKUP, 0, NULL);
        }
        if (chld)
                agent_reap_children(a);
        if (winch && a->prompt)
                prompt_resize(a->prompt);
}

/* Waits for the next events and handles them: signals, FIFO lines, the
 * watchdog and the status line.  Returns 1 when stdin (watched when
 * watch_stdin is set) is readable and the agent is not quitting, 0
 * otherwise, or -errno when poll() fails. */
static int serve_once(struct agent *a, int watch_stdin) {
        struct pollfd p[3] = {
            {.fd = a->sig_fd, .events = POLLIN},
            {.fd = a->fifo_fd, .events = POLLIN},
            {.fd = watch_stdin ? STDIN_FILENO : -1, .events = POLLIN},
        };
        /* The timeout is the next watchdog ping or status refresh (-1,
         * forever, outside systemd). */
        int n = poll(p, 3, agent_service_timeout_ms(a));
        if (n < 0) {
                if (errno == EINTR)
                        return 0;
                int e = errno;
                agent_log(a->log, NULL, LOG_ERROR, "poll: %s", strerror(e));
                return -e;
        }
        if (p[0].revents)
                handle_signals(a);
        if (!a->quit && (p[1].revents & POLLIN))
                (void)drain_lines(a, a->fifo_fd, &a->fifo_lines, NULL, "FIFO");
        agent_service_tick(a);
        return !a->quit && p[2].revents ? 1 : 0;
}

/* prompt_host.wait: the agent is served while a person types. */
static int prompt_wait(void *user) {
        struct agent *a = user;
        while (!a->quit) {
                int r = serve_once(a, 1);
                if (r != 0)
                        return r;
        }
        return 0;
}

/* prompt_host.targets: the names Tab completes after '@'. */
static void prompt_targets(void *user, prompt_add_fn add, void *ctx) {
        struct agent *a = user;
        for (size_t i = 0; a->config && i < a->config->n_targets; i++)
                add(ctx, a->config->targets[i].name);
}

/* -i on a terminal: lines come from libedit, which serves the agent while
 * it waits for keys.  Returns 0 or a sysexits code. */
static int prompt_loop(struct agent *a) {
        struct prompt_host host = {
            .wait = prompt_wait,
            .targets = prompt_targets,
            .user = a,
            .words = command_words,
            .max_line = COMMAND_MAX_LINE,
        };
        int r = prompt_new(&host, &a->prompt);
        if (r < 0)
                return r;
        if (prompt_history_note(a->prompt)[0])
                printf("(%s)\n", prompt_history_note(a->prompt));
        while (!a->quit) {
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
                        run_command(a, line, len, stdout);
                } else {
                        if (r < 0)
                                agent_log(a->log, NULL, LOG_ERROR, "reading the terminal: %s", strerror(-r));
                        /* Ctrl-D is a quit, as at a shell; a signal leaves
                         * the cursor after the prompt. */
                        fputs(a->quit ? "\n" : "\nExiting...\n", stdout);
                        fflush(stdout);
                        a->quit = 1;
                }
        }
        prompt_free(a->prompt);
        a->prompt = NULL;
        return r < 0 ? EX_OSERR : 0;
}

int agent_loop(struct agent *a) {
        if (a->opt.mode == MODE_INTERACTIVE && prompt_is_terminal()) {
                int r = prompt_loop(a);
                if (r >= 0)
                        return r;
                agent_log(a->log, NULL, LOG_WARN, "no line editing: %s", strerror(-r));
        }
        /* Piped input (or no libedit): the prompt is printed after each
         * reply, and lines are read as they come. */
        if (a->opt.mode == MODE_INTERACTIVE) {
                fputs(PROMPT_TEXT, stdout);
                fflush(stdout);
                a->stdin_open = 1;
        }
        while (!a->quit) {
                int r = serve_once(a, a->stdin_open);
                if (r < 0)
                        return EX_OSERR;
                if (r > 0 && drain_lines(a, STDIN_FILENO, &a->stdin_lines, stdout, "stdin") == -EPIPE) {
                        /* End of input is a quit, as at a shell. */
                        a->stdin_open = 0;
                        if (!a->quit) {
                                printf("\nExiting...\n");
                                fflush(stdout);
                                a->quit = 1;
                        }
                }
        }
        return 0;
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
