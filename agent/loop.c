/*
 * loop: the control loop.  Signals arrive through a signalfd, commands
 * through the FIFO and (in -i) stdin; each is turned into supervisor actions.
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
#include "core/fs.h"

/* Runs one command line; replies go to out (interactive) or the log. */
static void run_command(struct agent *a, const char *line, size_t len, FILE *out) {
        struct command_host host = {
            .sup = &a->sup,
            .reload = agent_reload,
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

/* Reads what fd has and runs each complete line.  Returns 0, or -EPIPE at
 * end of file. */
static int drain_lines(struct agent *a, int fd, struct line_reader *lr, FILE *out, const char *source) {
        char chunk[8192];
        for (;;) {
                ssize_t n = read(fd, chunk, sizeof(chunk));
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
                }
                if (n == 0)
                        return -EPIPE;
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
                        if (lr->overlong) {
                                agent_log(a->log, NULL, LOG_WARN,
                                          "%s: line of %zu bytes rejected (longer than %d)", source,
                                          lr->dropped, COMMAND_MAX_LINE);
                                if (out) {
                                        fprintf(out,
                                                "Command rejected: line of %zu bytes is longer than %d\n",
                                                lr->dropped, COMMAND_MAX_LINE);
                                }
                        } else {
                                run_command(a, lr->buf, lr->len, out);
                        }
                        lr->len = 0;
                        lr->overlong = 0;
                        lr->dropped = 0;
                        if (a->quit)
                                return 0;
                        if (out) {
                                fputs(">>> ", out);
                                fflush(out);
                        }
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
        int hup = 0, usr1 = 0, chld = 0;
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
                        default:
                                break;
                        }
                }
        }
        /* A storm of signals collapses into one action of each kind. */
        if (hup) {
                int r = agent_log_reopen(a->log);
                if (r == 0 && a->opt.mode == MODE_DAEMON)
                        r = reopen_output(a);
                agent_log(a->log, NULL, r < 0 ? LOG_ERROR : LOG_INFO, "SIGHUP: logs reopened%s%s",
                          r < 0 ? ": " : "", r < 0 ? strerror(-r) : "");
                struct strbuf reply;
                strbuf_init(&reply);
                r = agent_reload(a, &reply);
                agent_log_lines(a->log, NULL, r < 0 ? LOG_ERROR : LOG_INFO, strbuf_str(&reply));
                strbuf_fini(&reply);
        }
        if (usr1) {
                agent_log(a->log, NULL, LOG_INFO, "SIGUSR1: full backup of every target");
                for (size_t i = 0; i < a->sup.n; i++)
                        (void)worker_post(a->sup.workers[i], REQ_BACKUP, 0, NULL);
        }
        if (chld)
                agent_reap_children(a);
}

int agent_loop(struct agent *a) {
        int interactive = a->opt.mode == MODE_INTERACTIVE;
        if (interactive) {
                fputs(">>> ", stdout);
                fflush(stdout);
                a->stdin_open = 1;
        }
        while (!a->quit) {
                struct pollfd p[3] = {
                    {.fd = a->sig_fd, .events = POLLIN},
                    {.fd = a->fifo_fd, .events = POLLIN},
                    {.fd = a->stdin_open ? STDIN_FILENO : -1, .events = POLLIN},
                };
                int n = poll(p, 3, -1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        agent_log(a->log, NULL, LOG_ERROR, "poll: %s", strerror(errno));
                        return EX_OSERR;
                }
                if (p[0].revents)
                        handle_signals(a);
                if (!a->quit && (p[1].revents & POLLIN))
                        (void)drain_lines(a, a->fifo_fd, &a->fifo_lines, NULL, "FIFO");
                if (!a->quit && p[2].revents) {
                        if (drain_lines(a, STDIN_FILENO, &a->stdin_lines, stdout, "stdin") == -EPIPE) {
                                /* End of input is a quit, as at a shell. */
                                a->stdin_open = 0;
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
        /* Blocked before any worker starts, so every thread inherits it and
         * only the signalfd ever sees these signals. */
        if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
                return -errno;
        signal(SIGPIPE, SIG_IGN);
        a->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
        return a->sig_fd < 0 ? -errno : 0;
}
