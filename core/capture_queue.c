#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "core/alloc.h"
#include "core/capture.h"

struct capture_queue {
        pthread_mutex_t lock;
        struct capture_batch b; /* under lock; paths point into b.paths */
        size_t max;
        /* The consumer sleeps until an event comes: the next push calls
         * wake(wake_ctx), once.  Under lock. */
        int armed;
        void (*wake)(void *ctx);
        void *wake_ctx;
};

void capture_batch_init(struct capture_batch *b) {
        memset(b, 0, sizeof(*b));
}

void capture_batch_fini(struct capture_batch *b) {
        if (!b)
                return;
        mm_free(b->ev);
        mm_free(b->paths);
        capture_batch_init(b);
}

int capture_queue_new(size_t max_events, struct capture_queue **ret) {
        struct capture_queue *q = mm_calloc(1, sizeof(*q));
        int r;

        if (!q)
                return -ENOMEM;
        r = -pthread_mutex_init(&q->lock, NULL);
        if (r < 0) {
                mm_free(q);
                return r;
        }
        capture_batch_init(&q->b);
        q->max = max_events;
        *ret = q;
        return 0;
}

void capture_queue_free(struct capture_queue *q) {
        if (!q)
                return;
        capture_batch_fini(&q->b);
        pthread_mutex_destroy(&q->lock);
        mm_free(q);
}

/* Makes room for one more event in b. */
static int room_for_event(struct capture_batch *b, size_t max) {
        struct capture_event *v;
        size_t cap;

        if (b->n < b->cap)
                return 0;
        if (b->cap >= max)
                return -ENOBUFS;
        cap = b->cap ? 2 * b->cap : 64;
        if (cap > max)
                cap = max;
        v = mm_reallocarray(b->ev, cap, sizeof(*v));
        if (!v)
                return -ENOBUFS;
        b->ev = v;
        b->cap = cap;
        return 0;
}

/* Makes room for len more path bytes in b.  The paths move to a new
 * buffer while the old one is still there, so that the events queued so
 * far can be pointed at their new place. */
static int room_for_path(struct capture_batch *b, size_t len) {
        size_t cap = b->paths_cap ? b->paths_cap : 4096;
        char *p;

        if (b->paths_len + len <= b->paths_cap)
                return 0;
        while (cap < b->paths_len + len)
                cap *= 2;
        p = mm_malloc(cap);
        if (!p)
                return -ENOBUFS;
        if (b->paths_len > 0)
                memcpy(p, b->paths, b->paths_len);
        for (size_t i = 0; i < b->n; i++)
                if (b->ev[i].path)
                        b->ev[i].path = p + (b->ev[i].path - b->paths);
        mm_free(b->paths);
        b->paths = p;
        b->paths_cap = cap;
        return 0;
}

int capture_batch_push(struct capture_batch *b, const struct capture_event *ev, size_t max) {
        struct capture_event *to;
        int r = room_for_event(b, max);

        if (r == 0 && ev->path)
                r = room_for_path(b, ev->path_len);
        if (r < 0) {
                b->dropped++;
                return r;
        }
        to = &b->ev[b->n++];
        *to = *ev;
        if (ev->path) {
                memcpy(b->paths + b->paths_len, ev->path, ev->path_len);
                to->path = b->paths + b->paths_len;
                b->paths_len += ev->path_len;
        }
        return 0;
}

int capture_queue_push(struct capture_queue *q, const struct capture_event *ev) {
        int r;

        pthread_mutex_lock(&q->lock);
        r = capture_batch_push(&q->b, ev, q->max);
        /* One wake-up per sleep, however many events a burst brings. */
        if (q->armed) {
                q->armed = 0;
                q->wake(q->wake_ctx);
        }
        pthread_mutex_unlock(&q->lock);
        return r;
}

void capture_queue_set_wake(struct capture_queue *q, void (*wake)(void *ctx), void *ctx) {
        pthread_mutex_lock(&q->lock);
        q->wake = wake;
        q->wake_ctx = ctx;
        q->armed = 0;
        pthread_mutex_unlock(&q->lock);
}

int capture_queue_arm(struct capture_queue *q) {
        int r = 0;

        pthread_mutex_lock(&q->lock);
        if (q->b.n > 0 || q->b.dropped > 0)
                r = -EAGAIN;
        else if (!q->wake)
                r = -EINVAL;
        else
                q->armed = 1;
        pthread_mutex_unlock(&q->lock);
        return r;
}

int capture_queue_disarm(struct capture_queue *q) {
        int waiting;

        pthread_mutex_lock(&q->lock);
        q->armed = 0;
        waiting = q->b.n > 0 || q->b.dropped > 0;
        pthread_mutex_unlock(&q->lock);
        return waiting;
}

void capture_batch_drop_front(struct capture_batch *b, size_t n) {
        size_t keep, cut = b->paths_len;

        if (n >= b->n) {
                b->n = 0;
                b->paths_len = 0;
                return;
        }
        keep = b->n - n;
        /* Paths are stored in event order: those of the events kept start
         * at the first of them that has one. */
        for (size_t i = n; i < b->n; i++) {
                if (b->ev[i].path) {
                        cut = (size_t)(b->ev[i].path - b->paths);
                        break;
                }
        }
        memmove(b->ev, b->ev + n, keep * sizeof(*b->ev));
        /* No event with a path: paths may be NULL, which memmove may not
         * be given even for 0 bytes. */
        if (cut < b->paths_len)
                memmove(b->paths, b->paths + cut, b->paths_len - cut);
        b->paths_len -= cut;
        b->n = keep;
        for (size_t i = 0; i < keep; i++)
                if (b->ev[i].path)
                        b->ev[i].path -= cut;
}

size_t capture_queue_take(struct capture_queue *q, struct capture_batch *b) {
        struct capture_batch t;

        pthread_mutex_lock(&q->lock);
        t = q->b;
        q->b = *b;
        q->b.n = 0;
        q->b.paths_len = 0;
        q->b.dropped = 0;
        pthread_mutex_unlock(&q->lock);
        *b = t;
        return b->n;
}
