#include "core/capture.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

uint64_t capture_seq(const struct capture_counter *c) {
        return __atomic_load_n(c->seq, __ATOMIC_ACQUIRE);
}

uint64_t capture_lost(const struct capture_counter *c) {
        return __atomic_load_n(c->lost, __ATOMIC_RELAXED);
}

/* The kernel's loads of the mappings (inside pread) must be done before
 * seq is loaded again.  GCC's TSan rejects fences (-Wtsan), and TSan builds
 * run on x86, where loads are not reordered with older loads anyway. */
static inline void full_fence(void) {
#ifndef __SANITIZE_THREAD__
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

int capture_barrier(pid_t pid) {
        char byte, path[64], buf[64];
        struct iovec local = {.iov_base = &byte, .iov_len = 1};
        struct iovec remote = {.iov_base = NULL, .iov_len = 1};
        ssize_t n;
        int fd;

        /* The kernel takes pid's mmap lock for reading, then fails to pin
         * page 0: EFAULT is the answer expected (success too, where page 0
         * is mapped).  Taking the lock is the point: it waits for a writer
         * that holds it. */
        if (process_vm_readv(pid, &local, 1, &remote, 1, 0) >= 0 || errno == EFAULT)
                return 0;
        if (errno == ESRCH)
                return -ESRCH;
        /* Not allowed to ptrace-read it (Yama, no CAP_SYS_PTRACE): reading
         * its command line takes the same lock (access_remote_vm). */
        n = snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
        if (n < 0 || (size_t)n >= sizeof(path))
                return -EINVAL;
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? -ESRCH : -errno;
        n = read(fd, buf, sizeof(buf));
        if (n < 0)
                n = errno == ESRCH ? -ESRCH : -errno;
        close(fd);
        return n < 0 ? (int)n : 0;
}

int capture_read_maps(const struct capture_counter *c, pid_t pid, int maps_fd, struct maps_snapshot *s,
                      unsigned max_tries, uint64_t *ret_seq, unsigned *ret_tries) {
        if (!c || !c->seq || !s || maps_fd < 0)
                return -EINVAL;
        for (unsigned t = 1; t <= max_tries; t++) {
                uint64_t s0 = capture_seq(c), s1;
                int r;

                /* A section that began before s0 is waited out here; one
                 * that begins after it moves the counter before it changes
                 * anything, so the second load sees it. */
                r = capture_barrier(pid);
                if (r < 0)
                        return r;
                r = maps_read_fd(maps_fd, s);
                if (r < 0)
                        return r;
                full_fence();
                s1 = capture_seq(c);
                if (s0 == s1) {
                        if (ret_seq)
                                *ret_seq = s0;
                        if (ret_tries)
                                *ret_tries = t;
                        return 0;
                }
        }
        return -EAGAIN;
}
