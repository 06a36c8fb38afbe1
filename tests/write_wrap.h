// write_wrap: a write() that, for one chosen fd, returns 0 without writing,
// as a full pipe or an odd device may.  A test using it links statically
// with -Wl,--wrap=write, so that every write() of the binary (core/ and
// agent/ included) comes here first.
#ifndef MEMMON_TESTS_WRITE_WRAP_H
#define MEMMON_TESTS_WRITE_WRAP_H

namespace memmon_test {

// From now on, write() to fd writes nothing and returns 0 (-1: no fd).
void WriteNothingTo(int fd);

} // namespace memmon_test

#endif
