#include "core/procscan.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"

struct proc_scan_entry {
        pid_t pid;
        char comm[PROC_COMM_SIZE];
        char exe[PROC_NAME_SIZE]; /* "" when unreadable */
};

int proc_scan_init(struct proc_scan *s, uint64_t min_interval_us) {
        memset(s, 0, sizeof(*s));
        s->min_interval_us = min_interval_us;
        return -pthread_mutex_init(&s->lock, NULL);
}

void proc_scan_fini(struct proc_scan *s) {
        mm_free(s->v);
        pthread_mutex_destroy(&s->lock);
        s->v = NULL;
        s->n = s->cap = 0;
}

static int64_t mono_us(void) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

/* Reads every process's names into s->v (under the lock).  Returns 0 or
 * -errno (s->v is then empty). */
static int rescan(struct proc_scan *s) {
        struct dirent *de;
        pid_t self = getpid();
        int r = 0;

        s->n = 0;
        s->scans++;
        DIR *d = opendir("/proc");
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                struct proc_scan_entry *e;
                pid_t pid;

                if (proc_parse_pid(de->d_name, strlen(de->d_name), &pid) < 0 || pid == self)
                        continue;
                r = mm_grow(&s->v, &s->cap, s->n + 1, sizeof(*s->v));
                if (r < 0)
                        break;
                e = &s->v[s->n];
                e->pid = pid;
                if (proc_comm(pid, e->comm) < 0)
                        continue; /* gone already */
                if (proc_exe_name(pid, e->exe) < 0)
                        e->exe[0] = '\0';
                s->n++;
        }
        closedir(d);
        if (r < 0)
                s->n = 0;
        return r;
}

int proc_scan_find(struct proc_scan *s, const char *name, const struct target_filter *filter,
                   struct proc_id *ret) {
        struct proc_id best = {0, 0};
        int r = 0;

        pthread_mutex_lock(&s->lock);
        int64_t now = mono_us();
        int64_t last = (int64_t)s->last.tv_sec * 1000000 + s->last.tv_nsec / 1000;
        if (!s->scanned || now - last >= (int64_t)s->min_interval_us) {
                r = rescan(s);
                s->scanned = 1;
                s->last.tv_sec = now / 1000000;
                s->last.tv_nsec = (long)(now % 1000000) * 1000;
        }
        for (size_t i = 0; r == 0 && i < s->n; i++) {
                const struct proc_scan_entry *e = &s->v[i];
                struct proc_task t;

                if (strcmp(e->comm, name) != 0 && strcmp(e->exe, name) != 0)
                        continue;
                /* Seen by the scan; still that process, still so named, and
                 * of the user and executable asked for? */
                /* Its main thread may have exited while others run on. */
                if (proc_task_find(e->pid, &t) < 0 || !proc_name_matches(e->pid, name) ||
                    (filter && proc_filter_check(e->pid, filter, NULL, 0) < 0))
                        continue;
                if (best.pid == 0 || t.id.start_time < best.start_time ||
                    (t.id.start_time == best.start_time && t.id.pid < best.pid))
                        best = t.id;
        }
        pthread_mutex_unlock(&s->lock);
        if (r < 0)
                return r;
        if (best.pid == 0)
                return -ESRCH;
        *ret = best;
        return 0;
}

uint64_t proc_scan_count(struct proc_scan *s) {
        pthread_mutex_lock(&s->lock);
        uint64_t n = s->scans;
        pthread_mutex_unlock(&s->lock);
        return n;
}

int proc_find_by_name(const char *name, const struct target_filter *filter, struct proc_id *ret) {
        struct proc_scan s;
        int r = proc_scan_init(&s, 0);
        if (r < 0)
                return r;
        r = proc_scan_find(&s, name, filter, ret);
        proc_scan_fini(&s);
        return r;
}
