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

struct log_target {
        struct log_target *next;
        int fd;
        char name[];
};

struct agent_log {
        pthread_mutex_t lock; /* the files and fds below */
        char *dir;            /* the logs folder */
        int dir_fd;           /* open on it; files are opened under it */
        int main_fd;          /* monitor.log */
        int per_target;       /* also write logs/<target>.log */
        int mirror_fd;        /* -1, or stderr in -f mode */
        /* Read by every thread that logs, set by a reload: atomic, not
         * under the lock, so that a line below the level costs nothing. */
        atomic_int level;
        struct log_target *targets; /* lazily opened per-target files */
};

static int open_log_file(int dir_fd, const char *name) {
        int fd = fs_open_at(dir_fd, name, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd < 0)
                return fd;
        /* umask cannot widen 0600, but a file left by someone else could
         * be wider: logs reveal address-space layouts too. */
        (void)fchmod(fd, 0600);
        return fd;
}

int agent_log_new(const char *dir, int per_target, int mirror_fd, enum log_level level,
                  struct agent_log **ret) {
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
        l->dir = strdup(dir);
        r = l->dir ? fs_open_dir_at(AT_FDCWD, dir) : -ENOMEM;
        if (r >= 0) {
                l->dir_fd = r;
                r = l->main_fd = open_log_file(l->dir_fd, "monitor.log");
        }
        if (r < 0) {
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
        free(l->dir);
        pthread_mutex_destroy(&l->lock);
        free(l);
}

int agent_log_reopen(struct agent_log *l) {
        pthread_mutex_lock(&l->lock);
        /* The folder is opened again by its path too, as it may have been
         * replaced along with the files. */
        int dir_fd = fs_open_dir_at(AT_FDCWD, l->dir);
        int fd = dir_fd < 0 ? dir_fd : open_log_file(dir_fd, "monitor.log");
        int r = fd < 0 ? fd : 0;
        if (fd >= 0) {
                close(l->main_fd);
                l->main_fd = fd;
                close(l->dir_fd);
                l->dir_fd = dir_fd;
        } else if (dir_fd >= 0) {
                close(dir_fd);
        }
        /* Per-target files reopen lazily on their next line. */
        close_targets(l);
        pthread_mutex_unlock(&l->lock);
        return r;
}

/* Called with the lock held.  Returns the target's fd or -1. */
static int target_fd(struct agent_log *l, const char *target) {
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
        t->fd = (n < 0 || (size_t)n >= sizeof(file)) ? -1 : open_log_file(l->dir_fd, file);
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

/* Copies msg into out with control bytes written as \xNN, so that what a
 * FIFO writer sends can neither forge log lines nor drive a terminal.
 * Returns the length written (out is not NUL-terminated). */
static size_t escape(const char *msg, size_t len, char *out, size_t size) {
        static const char hex[] = "0123456789abcdef";
        size_t o = 0;
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)msg[i];
                if (c >= 0x20 && c != 0x7f) {
                        if (o + 1 > size)
                                break;
                        out[o++] = (char)c;
                } else {
                        if (o + 4 > size)
                                break;
                        out[o++] = '\\';
                        out[o++] = 'x';
                        out[o++] = hex[c >> 4];
                        out[o++] = hex[c & 15];
                }
        }
        return o;
}

static void log_line(struct agent_log *l, const char *target, enum log_level level, const char *raw,
                     size_t raw_len) {
        char stamp[48];
        char line[4608];
        char msg[4096];
        size_t sl = format_stamp(stamp, sizeof(stamp));
        size_t msg_len = escape(raw, raw_len, msg, sizeof(msg));
        int n = snprintf(line, sizeof(line), "%.*s %-5s [%s] %.*s\n", (int)sl, stamp, log_level_label(level),
                         target ? target : "agent", (int)msg_len, msg);
        if (n < 0)
                return;
        size_t len = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
        pthread_mutex_lock(&l->lock);
        (void)fs_write_all(l->main_fd, line, len);
        if (l->mirror_fd >= 0)
                (void)fs_write_all(l->mirror_fd, line, len);
        if (l->per_target && target) {
                int fd = target_fd(l, target);
                if (fd >= 0) {
                        n = snprintf(line, sizeof(line), "%.*s %-5s %.*s\n", (int)sl, stamp,
                                     log_level_label(level), (int)msg_len, msg);
                        if (n > 0)
                                (void)fs_write_all(fd, line,
                                                   (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
                }
        }
        pthread_mutex_unlock(&l->lock);
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
