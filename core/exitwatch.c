#include "core/exitwatch.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/alloc.h"

/* An id is (generation << 32) | (index + 1): a stale id from epoll names
 * a slot that was reused with another generation, and is ignored. */
struct entry {
        int pidfd; /* -1: free */
        uint32_t gen;
        void (*fn)(void *ctx);
        void *ctx;
};

struct exit_watch {
        pthread_t thread;
        int epfd;
        int stop_fd;
        pthread_mutex_t lock;
        struct entry *v; /* under lock */
        size_t n, cap;
};

static struct entry *find(struct exit_watch *x, uint64_t id) {
        size_t i = (size_t)(id & 0xffffffffu);

        if (i == 0 || i > x->n)
                return NULL;
        if (x->v[i - 1].pidfd < 0 || x->v[i - 1].gen != (uint32_t)(id >> 32))
                return NULL;
        return &x->v[i - 1];
}

static void *run(void *arg) {
        struct exit_watch *x = arg;
        struct epoll_event ev[16];

        for (;;) {
                int n = epoll_wait(x->epfd, ev, 16, -1);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return NULL;
                pthread_mutex_lock(&x->lock);
                for (int i = 0; i < n; i++) {
                        struct entry *e;

                        if (ev[i].data.u64 == 0) {
                                pthread_mutex_unlock(&x->lock);
                                return NULL;
                        }
                        e = find(x, ev[i].data.u64);
                        if (!e || !e->fn)
                                continue;
                        /* Once: the pidfd stays readable for good. */
                        (void)epoll_ctl(x->epfd, EPOLL_CTL_DEL, e->pidfd, NULL);
                        e->fn(e->ctx);
                        e->fn = NULL;
                }
                pthread_mutex_unlock(&x->lock);
        }
}

int exit_watch_new(struct exit_watch **ret) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0};
        struct exit_watch *x = mm_calloc(1, sizeof(*x));
        int r;

        if (!x)
                return -ENOMEM;
        x->epfd = epoll_create1(EPOLL_CLOEXEC);
        x->stop_fd = eventfd(0, EFD_CLOEXEC);
        if (x->epfd < 0 || x->stop_fd < 0 || epoll_ctl(x->epfd, EPOLL_CTL_ADD, x->stop_fd, &ev) < 0) {
                r = -errno;
                goto fail;
        }
        r = -pthread_mutex_init(&x->lock, NULL);
        if (r < 0)
                goto fail;
        r = -pthread_create(&x->thread, NULL, run, x);
        if (r < 0) {
                pthread_mutex_destroy(&x->lock);
                goto fail;
        }
        *ret = x;
        return 0;
fail:
        if (x->epfd >= 0)
                close(x->epfd);
        if (x->stop_fd >= 0)
                close(x->stop_fd);
        mm_free(x);
        return r;
}

void exit_watch_free(struct exit_watch *x) {
        uint64_t one = 1;

        if (!x)
                return;
        if (write(x->stop_fd, &one, sizeof(one)) == sizeof(one))
                pthread_join(x->thread, NULL);
        close(x->stop_fd);
        close(x->epfd);
        pthread_mutex_destroy(&x->lock);
        mm_free(x->v);
        mm_free(x);
}

int exit_watch_add(struct exit_watch *x, int pidfd, void (*fn)(void *ctx), void *ctx, uint64_t *ret_id) {
        struct epoll_event ev = {.events = EPOLLIN};
        struct entry *e = NULL;
        size_t i;
        int r = 0;

        if (pidfd < 0 || !fn)
                return -EINVAL;
        pthread_mutex_lock(&x->lock);
        for (i = 0; i < x->n && !e; i++)
                if (x->v[i].pidfd < 0)
                        e = &x->v[i];
        if (!e) {
                r = mm_grow(&x->v, &x->cap, x->n + 1, sizeof(*x->v));
                if (r < 0)
                        goto out;
                e = &x->v[x->n++];
                memset(e, 0, sizeof(*e));
        }
        i = (size_t)(e - x->v);
        e->gen++;
        e->pidfd = pidfd;
        e->fn = fn;
        e->ctx = ctx;
        ev.data.u64 = (uint64_t)e->gen << 32 | (uint64_t)(i + 1);
        if (epoll_ctl(x->epfd, EPOLL_CTL_ADD, pidfd, &ev) < 0) {
                r = -errno;
                e->pidfd = -1;
                goto out;
        }
        *ret_id = ev.data.u64;
out:
        pthread_mutex_unlock(&x->lock);
        return r;
}

void exit_watch_remove(struct exit_watch *x, uint64_t id) {
        struct entry *e;

        pthread_mutex_lock(&x->lock);
        e = find(x, id);
        if (e) {
                if (e->fn)
                        (void)epoll_ctl(x->epfd, EPOLL_CTL_DEL, e->pidfd, NULL);
                e->pidfd = -1;
                e->fn = NULL;
        }
        pthread_mutex_unlock(&x->lock);
}
