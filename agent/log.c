#include "agent/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/fs.h"
#include "core/strbuf.h"
#include "core/textesc.h"

struct log_target {
        struct log_target *next;
        int fd;
        char name[];
};

struct agent_log {
        pthread_mutex_t lock; /* the files and fds below */
        int dir_fd;           /* the logs folder; files are opened under it */
        int main_fd;          /* monitor.log */
        int per_target;       /* also write logs/<target>.log */
        int mirror_fd;        /* -1, or stderr in -f mode */
        /* Read by every thread that logs, set by a reload: atomic, not
         * under the lock, so that a line below the level costs nothing. */
        atomic_int level;
        struct log_target *targets; /* lazily opened per-target files */
};

/* Opens a log file as one of the agent's own (core/fs.h): a regular file
 * of ours, fchmod'ed 0600 (umask cannot widen 0600, but a file left there
 * earlier could be wider: logs reveal address-space layouts too). */
static int open_log_file(int dir_fd, const char *name, char *why, size_t why_size) {
        char shown[300];
        int n = snprintf(shown, sizeof(shown), "logs/%s", name);
        if (n < 0 || (size_t)n >= sizeof(shown))
                return -ENAMETOOLONG;
        return fs_open_own_file_at(dir_fd, name, O_WRONLY | O_CREAT | O_APPEND, 0600, shown, why, why_size);
}

int agent_log_new(int dir_fd, int per_target, int mirror_fd, enum log_level level, struct agent_log **ret,
                  char *why, size_t why_size) {
        struct agent_log *l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        l->dir_fd = -1;
        l->main_fd = -1;
        int r = -pthread_mutex_init(&l->lock, NULL);
        if (r < 0) {
                free(l);
                return r;
        }
        r = l->dir_fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 3);
        if (r < 0)
                r = -errno;
        else
                r = l->main_fd = open_log_file(l->dir_fd, "monitor.log", why, why_size);
        if (r < 0) {
                if (r != -EPERM)
                        snprintf(why, why_size, "logs/monitor.log: %s", strerror(-r));
                agent_log_free(l);
                return r;
        }
        l->per_target = per_target;
        l->mirror_fd = mirror_fd;
        atomic_init(&l->level, (int)level);
        *ret = l;
        return 0;
}

void agent_log_set_level(struct agent_log *l, enum log_level level) {
        atomic_store_explicit(&l->level, (int)level, memory_order_relaxed);
}

/* True when a line of this level is written. */
static int wanted(struct agent_log *l, enum log_level level) {
        return l && (int)level <= atomic_load_explicit(&l->level, memory_order_relaxed);
}

static void close_targets(struct agent_log *l) {
        struct log_target *t = l->targets;
        while (t) {
                struct log_target *next = t->next;
                if (t->fd >= 0)
                        close(t->fd);
                free(t);
                t = next;
        }
        l->targets = NULL;
}

void agent_log_free(struct agent_log *l) {
        if (!l)
                return;
        close_targets(l);
        fs_close(&l->main_fd);
        fs_close(&l->dir_fd);
        pthread_mutex_destroy(&l->lock);
        free(l);
}

int agent_log_reopen(struct agent_log *l) {
        char why[FS_WHY_SIZE];
        pthread_mutex_lock(&l->lock);
        /* The files, not the folder: the FIFO and the pid file live there
         * too, and the folder is the one checked at start. */
        int fd = open_log_file(l->dir_fd, "monitor.log", why, sizeof(why));
        int r = fd < 0 ? fd : 0;
        if (fd >= 0) {
                close(l->main_fd);
                l->main_fd = fd;
        }
        /* Per-target files reopen lazily on their next line. */
        close_targets(l);
        pthread_mutex_unlock(&l->lock);
        return r;
}

/* Called with the lock held.  Returns the target's fd or -1; why[] says
 * why when the file was tried now and could not be opened (else ""). */
static int target_fd(struct agent_log *l, const char *target, char *why, size_t why_size) {
        for (struct log_target *t = l->targets; t; t = t->next)
                if (strcmp(t->name, target) == 0)
                        return t->fd;
        size_t len = strlen(target);
        struct log_target *t = malloc(sizeof(*t) + len + 1);
        if (!t)
                return -1;
        memcpy(t->name, target, len + 1);
        char file[300];
        int n = snprintf(file, sizeof(file), "%s.log", target);
        t->fd = (n < 0 || (size_t)n >= sizeof(file)) ? -1 : open_log_file(l->dir_fd, file, why, why_size);
        if (t->fd < 0)
                t->fd = -1;
        t->next = l->targets;
        l->targets = t;
        return t->fd;
}

static size_t format_stamp(char *buf, size_t size) {
        struct timespec now;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &now);
        gmtime_r(&now.tv_sec, &tm);
        size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
        int m = snprintf(buf + n, size - n, ".%06ldZ", now.tv_nsec / 1000);
        return (m < 0 || (size_t)m >= size - n) ? n : n + (size_t)m;
}

static void log_line(struct agent_log *l, const char *target, enum log_level level, const char *raw,
                     size_t raw_len) {
        char stamp[48];
        struct strbuf line, msg;
        size_t sl = format_stamp(stamp, sizeof(stamp));
        const char *label = log_level_label(level);

        strbuf_init(&line);
        strbuf_init(&msg);
        /* The message once escaped, then two lines around it: one for
         * monitor.log (tagged with its target), one for the target's log. */
        if (textesc_append(&msg, raw, raw_len) < 0 ||
            strbuf_printf(&line, "%.*s %-5s [%s] %s\n", (int)sl, stamp, label, target ? target : "agent",
                          strbuf_str(&msg)) < 0)
                goto out;
        pthread_mutex_lock(&l->lock);
        (void)fs_write_all(l->main_fd, line.s, line.len);
        if (l->mirror_fd >= 0)
                (void)fs_write_all(l->mirror_fd, line.s, line.len);
        char why[FS_WHY_SIZE] = "";
        if (l->per_target && target) {
                int fd = target_fd(l, target, why, sizeof(why));
                strbuf_reset(&line);
                if (fd >= 0 &&
                    strbuf_printf(&line, "%.*s %-5s %s\n", (int)sl, stamp, label, strbuf_str(&msg)) == 0)
                        (void)fs_write_all(fd, line.s, line.len);
        }
        pthread_mutex_unlock(&l->lock);
        /* Said once per file opened (at start and after each reopen): the
         * target's lines still reach monitor.log. */
        if (why[0])
                log_line(l, NULL, LOG_WARN, why, strlen(why));
out:
        strbuf_fini(&line);
        strbuf_fini(&msg);
}

void agent_log(struct agent_log *l, const char *target, enum log_level level, const char *fmt, ...) {
        if (!wanted(l, level))
                return;
        char msg[4096];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        log_line(l, target, level, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
}

void agent_log_lines(struct agent_log *l, const char *target, enum log_level level, const char *text) {
        if (!wanted(l, level))
                return;
        while (*text) {
                const char *nl = strchr(text, '\n');
                size_t len = nl ? (size_t)(nl - text) : strlen(text);
                log_line(l, target, level, text, len);
                text += len + (nl ? 1 : 0);
        }
}

void agent_log_event(void *user, const char *target, enum log_level level, const char *msg) {
        struct agent_log *l = user;
        if (!wanted(l, level))
                return;
        log_line(l, target, level, msg, strlen(msg));
}
