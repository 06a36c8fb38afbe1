/*
 * pauseshim: an LD_PRELOAD library that holds a process just before its
 * first flock(), so that a test can make the world change between the
 * process's open of a lock file and its lock (hostile_test's pid file race).
 *
 *   MEMMON_PAUSE_MARK   a path: before the first flock() the library creates
 *                       it and waits (at most 60 s) until the test removes
 *                       it, then goes on.  Unset: nothing happens.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

static atomic_int paused;

int flock(int fd, int op) {
        static int (*real_flock)(int, int);
        const char *mark = getenv("MEMMON_PAUSE_MARK");

        if (!real_flock)
                real_flock = (int (*)(int, int))dlsym(RTLD_NEXT, "flock");
        if (mark && atomic_exchange(&paused, 1) == 0) {
                int m = open(mark, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
                if (m >= 0)
                        close(m);
                for (int i = 0; i < 60000 && access(mark, F_OK) == 0; i++) {
                        struct timespec ms = {0, 1000 * 1000};
                        nanosleep(&ms, NULL);
                }
        }
        return real_flock(fd, op);
}
