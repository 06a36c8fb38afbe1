#include "tests/write_wrap.h"

#include <sys/types.h>

#include <atomic>

namespace {
std::atomic<int> zero_fd{-1};
} // namespace

namespace memmon_test {

void WriteNothingTo(int fd) {
        zero_fd = fd;
}

} // namespace memmon_test

extern "C" {
ssize_t __real_write(int fd, const void *buf, size_t n);

ssize_t __wrap_write(int fd, const void *buf, size_t n) {
        if (fd >= 0 && fd == zero_fd.load())
                return 0;
        return __real_write(fd, buf, n);
}
}
