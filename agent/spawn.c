#include "agent/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

/* Environment variables a service manager sets for the agent alone: a
 * program that inherited NOTIFY_SOCKET could tell systemd the agent is
 * ready or stopping, or ping its watchdog. */
static bool agent_only(const char *var) {
        static const char *const names[] = {"NOTIFY_SOCKET=", "WATCHDOG_USEC=", "WATCHDOG_PID=",
                                            "LISTEN_FDS=",    "LISTEN_PID=",    "LISTEN_FDNAMES="};
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                if (strncmp(var, names[i], strlen(names[i])) == 0)
                        return true;
        return false;
}

/* A copy of environ without the agent's own variables (the strings are
 * shared, the array is the caller's to free), or NULL. */
static char **child_environ(void) {
        size_t n = 0, k = 0;
        while (environ && environ[n])
                n++;
        char **env = calloc(n + 1, sizeof(*env));
        if (!env)
                return NULL;
        for (size_t i = 0; i < n; i++)
                if (!agent_only(environ[i]))
                        env[k++] = environ[i];
        return env;
}

/* What the child needs, all prepared before the fork. */
struct child_args {
        const char *path;
        char *const *argv;
        char *const *sh_argv;
        char *const *envp;
        pid_t parent;
        int null_fd;
        int out_fd;
        int report_fd;
        int max_fd; /* for closing fds where close_range() is missing */
};

/* Closes every fd from `from` up. */
static void close_from(int from, int max_fd) {
        if (syscall(SYS_close_range, (unsigned)from, ~0U, 0) == 0)
                return;
        for (int fd = from; fd < max_fd; fd++)
                (void)close(fd);
}

/* In the child, between fork and exec: the agent has threads, so only
 * async-signal-safe calls are made here (everything was prepared before the
 * fork).  Reports a failure through the pipe and exits 127. */
static void child(const struct child_args *c) {
        const struct sigaction dfl = {.sa_handler = SIG_DFL};
        int report_fd = c->report_fd;
        sigset_t none;
        int traced, e;

        /* Dies with the agent (SIGKILL included).  The agent may have died
         * before this took effect: then our parent is another process. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                goto fail;
        if (getppid() != c->parent)
                _exit(127);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        sigaction(SIGPIPE, &dfl, NULL);
        /* The agent's stdin may be the interactive prompt. */
        if (dup2(c->null_fd, STDIN_FILENO) < 0)
                goto fail;
        if (c->out_fd >= 0 && (dup2(c->out_fd, STDOUT_FILENO) < 0 || dup2(c->out_fd, STDERR_FILENO) < 0))
                goto fail;
        /* Only 0, 1 and 2 reach the program.  The report pipe moves to fd 3,
         * close-on-exec (a successful exec closes it, which is how the
         * parent tells success), and every fd above it is closed: those of
         * the agent are close-on-exec already, but the agent may have
         * inherited others from whoever started it. */
        if (report_fd != 3) {
                if (dup3(report_fd, 3, O_CLOEXEC) < 0)
                        goto fail;
                report_fd = 3;
        } else if (fcntl(3, F_SETFD, FD_CLOEXEC) < 0) {
                goto fail;
        }
        close_from(4, c->max_fd);
        /* Stop at exec so the first snapshot precedes the program's first
         * instruction; tell the parent whether that works.  (ptrace is a
         * plain system call.) */
        traced = ptrace(PTRACE_TRACEME, 0, NULL, NULL) == 0;
        if (write(report_fd, &traced, sizeof(traced)) < 0)
                _exit(127);
        execve(c->path, c->argv, c->envp);
        /* What execvp does with a file that is not a binary: a script
         * without #! is run by the shell. */
        if (errno == ENOEXEC)
                execve(c->sh_argv[0], c->sh_argv, c->envp);
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

int spawn_start(char *const argv[], int out_fd, pid_t *ret_pid, int *ret_stopped) {
        char path[PATH_MAX];
        char **sh_argv = NULL, **envp = NULL;
        int null_fd = -1, p[2] = {-1, -1};
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
        envp = child_environ();
        if (!sh_argv || !envp) {
                r = -ENOMEM;
                goto out;
        }
        sh_argv[0] = (char *)"/bin/sh";
        sh_argv[1] = path;
        for (size_t i = 1; i < argc; i++)
                sh_argv[i + 1] = argv[i];
        null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (null_fd < 0) {
                r = -errno;
                goto out;
        }
        /* The child reports a failed exec through this close-on-exec pipe:
         * nothing arrives when exec succeeds. */
        if (pipe2(p, O_CLOEXEC) < 0) {
                r = -errno;
                goto out;
        }
        long max_fd = sysconf(_SC_OPEN_MAX);
        struct child_args c = {
            .path = path,
            .argv = argv,
            .sh_argv = sh_argv,
            .envp = envp,
            .parent = getpid(),
            .null_fd = null_fd,
            .out_fd = out_fd,
            .report_fd = p[1],
            .max_fd = max_fd > 0 && max_fd < INT_MAX ? (int)max_fd : 1024,
        };
        pid = fork();
        if (pid < 0) {
                r = -errno;
                goto out;
        }
        if (pid == 0)
                child(&c);
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
        fs_close(&null_fd);
        free(sh_argv);
        free(envp);
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
