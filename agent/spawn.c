#include "agent/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int spawn_exit_code(int status) {
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        if (WIFSIGNALED(status))
                return 128 + WTERMSIG(status);
        return 1;
}

int spawn_start(char *const argv[], const char *out_path, pid_t *ret_pid, int *ret_stopped) {
        /* The child reports a failed exec through this close-on-exec pipe:
         * nothing arrives when exec succeeds. */
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        pid_t pid = fork();
        if (pid < 0) {
                int e = -errno;
                close(p[0]);
                close(p[1]);
                return e;
        }
        if (pid == 0) {
                close(p[0]);
                sigset_t none;
                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL);
                signal(SIGPIPE, SIG_DFL);
                /* The agent's stdin may be the interactive prompt. */
                int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (null >= 0) {
                        dup2(null, STDIN_FILENO);
                        close(null);
                }
                if (out_path) {
                        int out = open(out_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY,
                                       0600);
                        if (out < 0) {
                                int e = errno;
                                int traced = 0;
                                (void)!write(p[1], &traced, sizeof(traced));
                                (void)!write(p[1], &e, sizeof(e));
                                _exit(127);
                        }
                        dup2(out, STDOUT_FILENO);
                        dup2(out, STDERR_FILENO);
                        close(out);
                }
                /* Stop at exec so the first snapshot precedes PROG's
                 * first instruction; tell the parent whether that works. */
                int traced = ptrace(PTRACE_TRACEME, 0, NULL, NULL) == 0;
                (void)!write(p[1], &traced, sizeof(traced));
                execvp(argv[0], argv);
                int e = errno;
                (void)!write(p[1], &e, sizeof(e));
                _exit(127);
        }
        close(p[1]);
        int traced = 0, e = 0;
        ssize_t n;
        do
                n = read(p[0], &traced, sizeof(traced));
        while (n < 0 && errno == EINTR);
        do
                n = read(p[0], &e, sizeof(e));
        while (n < 0 && errno == EINTR);
        close(p[0]);
        if (n == (ssize_t)sizeof(e)) {
                (void)waitpid(pid, NULL, 0);
                return -e;
        }
        int status;
        int stopped = 0;
        if (traced && waitpid(pid, &status, 0) == pid && WIFSTOPPED(status))
                stopped = 1;
        *ret_pid = pid;
        *ret_stopped = stopped;
        return 0;
}

void spawn_release(pid_t pid) {
        (void)ptrace(PTRACE_DETACH, pid, NULL, NULL);
}

int spawn_stop(pid_t pid, int grace_ms) {
        int status;
        (void)kill(pid, SIGTERM);
        for (int waited = 0; waited < grace_ms; waited += 10) {
                pid_t r = waitpid(pid, &status, WNOHANG);
                if (r == pid)
                        return spawn_exit_code(status);
                if (r < 0)
                        return -1;
                struct timespec ts = {0, 10 * 1000 * 1000};
                nanosleep(&ts, NULL);
        }
        (void)kill(pid, SIGKILL);
        if (waitpid(pid, &status, 0) == pid)
                return spawn_exit_code(status);
        return -1;
}
