#include "agent/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/fs.h"

extern char **environ;

/* execvp's search path when PATH is not set. */
#define DEFAULT_PATH "/bin:/usr/bin"

int spawn_exit_code(int status) {
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        if (WIFSIGNALED(status))
                return 128 + WTERMSIG(status);
        return 1;
}

/* True when path names an executable regular file. */
static bool executable(const char *path) {
        struct stat st;
        return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* Finds the program execvp would run for name: name itself when it holds a
 * '/', else the first executable file of that name in a folder of PATH (an
 * empty entry is the current folder).  Returns 0 with ret set, -ENOENT,
 * -EACCES (found, but not executable), or -ENAMETOOLONG. */
static int resolve_program(const char *name, char ret[PATH_MAX]) {
        if (!*name)
                return -ENOENT;
        if (strchr(name, '/')) {
                if (snprintf(ret, PATH_MAX, "%s", name) >= PATH_MAX)
                        return -ENAMETOOLONG;
                return 0;
        }
        const char *path = getenv("PATH");
        if (!path)
                path = DEFAULT_PATH;
        int r = -ENOENT;
        for (const char *p = path;; p++) {
                const char *end = strchrnul(p, ':');
                int len = (int)(end - p);
                char cand[PATH_MAX];
                int n = len ? snprintf(cand, sizeof(cand), "%.*s/%s", len, p, name)
                            : snprintf(cand, sizeof(cand), "%s", name);
                if (n > 0 && n < (int)sizeof(cand)) {
                        if (executable(cand)) {
                                memcpy(ret, cand, (size_t)n + 1);
                                return 0;
                        }
                        if (access(cand, F_OK) == 0)
                                r = -EACCES;
                }
                if (!*end)
                        return r;
                p = end;
        }
}

/* In the child, between fork and exec: the agent has threads, so only
 * async-signal-safe calls are made here (everything was prepared before the
 * fork).  Reports a failure through the pipe and exits 127. */
static void child(const char *path, char *const argv[], char *const sh_argv[], int null_fd, int out_fd,
                  int report_fd) {
        const struct sigaction dfl = {.sa_handler = SIG_DFL};
        sigset_t none;
        int traced, e;

        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        sigaction(SIGPIPE, &dfl, NULL);
        /* The agent's stdin may be the interactive prompt. */
        if (dup2(null_fd, STDIN_FILENO) < 0)
                goto fail;
        if (out_fd >= 0 && (dup2(out_fd, STDOUT_FILENO) < 0 || dup2(out_fd, STDERR_FILENO) < 0))
                goto fail;
        /* Stop at exec so the first snapshot precedes the program's first
         * instruction; tell the parent whether that works.  (ptrace is a
         * plain system call.) */
        traced = ptrace(PTRACE_TRACEME, 0, NULL, NULL) == 0;
        if (write(report_fd, &traced, sizeof(traced)) < 0)
                _exit(127);
        execve(path, argv, environ);
        /* What execvp does with a file that is not a binary: a script
         * without #! is run by the shell. */
        if (errno == ENOEXEC)
                execve(sh_argv[0], sh_argv, environ);
        e = errno;
        (void)!write(report_fd, &e, sizeof(e));
        _exit(127);
fail:
        e = errno;
        traced = 0;
        (void)!write(report_fd, &traced, sizeof(traced));
        (void)!write(report_fd, &e, sizeof(e));
        _exit(127);
}

int spawn_start(char *const argv[], const char *out_path, pid_t *ret_pid, int *ret_stopped) {
        char path[PATH_MAX];
        char **sh_argv = NULL;
        int null_fd = -1, out_fd = -1, p[2] = {-1, -1};
        size_t argc = 0;
        pid_t pid;
        int r;

        if (!argv || !argv[0])
                return -EINVAL;
        r = resolve_program(argv[0], path);
        if (r < 0)
                return r;
        while (argv[argc])
                argc++;
        sh_argv = calloc(argc + 2, sizeof(*sh_argv));
        if (!sh_argv)
                return -ENOMEM;
        sh_argv[0] = (char *)"/bin/sh";
        sh_argv[1] = path;
        for (size_t i = 1; i < argc; i++)
                sh_argv[i + 1] = argv[i];
        null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (null_fd < 0) {
                r = -errno;
                goto out;
        }
        if (out_path) {
                out_fd = fs_open_at(AT_FDCWD, out_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
                if (out_fd < 0) {
                        r = out_fd;
                        goto out;
                }
        }
        /* The child reports a failed exec through this close-on-exec pipe:
         * nothing arrives when exec succeeds. */
        if (pipe2(p, O_CLOEXEC) < 0) {
                r = -errno;
                goto out;
        }
        pid = fork();
        if (pid < 0) {
                r = -errno;
                goto out;
        }
        if (pid == 0)
                child(path, argv, sh_argv, null_fd, out_fd, p[1]);
        fs_close(&p[1]);
        int traced = 0, e = 0;
        ssize_t n;
        do
                n = read(p[0], &traced, sizeof(traced));
        while (n < 0 && errno == EINTR);
        do
                n = read(p[0], &e, sizeof(e));
        while (n < 0 && errno == EINTR);
        if (n == (ssize_t)sizeof(e)) {
                (void)waitpid(pid, NULL, 0);
                r = -e;
                goto out;
        }
        int status, stopped = 0;
        if (traced && waitpid(pid, &status, 0) == pid && WIFSTOPPED(status))
                stopped = 1;
        *ret_pid = pid;
        *ret_stopped = stopped;
        r = 0;
out:
        fs_close(&p[0]);
        fs_close(&p[1]);
        fs_close(&out_fd);
        fs_close(&null_fd);
        free(sh_argv);
        return r;
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

/* alert_exec (agent/alertexec.c) finds its program as exec targets do. */
int spawn_find_program(const char *name, char *ret) {
        return resolve_program(name, ret);
}
