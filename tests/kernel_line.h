// kernel_line: maps lines formatted the way a 64-bit kernel prints them, for
// the parser and diff tests.
#ifndef MEMMON_TESTS_KERNEL_LINE_H
#define MEMMON_TESTS_KERNEL_LINE_H

#include <stdint.h>
#include <stdio.h>

#include <string>

namespace memmon_test {

// "start-end perms offset major:minor inode", then the path after padding to
// column 73 when there is one (no trailing '\n').
inline std::string KernelLine(uint64_t start, uint64_t end, const char *perms = "rw-p", uint64_t offset = 0,
                              unsigned major = 0, unsigned minor = 0, uint64_t inode = 0,
                              const std::string &path = "") {
        char buf[128];
        int k = snprintf(buf, sizeof(buf), "%08llx-%08llx %s %08llx %02x:%02x %llu ",
                         (unsigned long long)start, (unsigned long long)end, perms,
                         (unsigned long long)offset, major, minor, (unsigned long long)inode);
        std::string line(buf, k > 0 ? (size_t)k : 0);
        if (!path.empty()) {
                if (line.size() < 72)
                        line.append(72 - line.size(), ' ');
                line += " " + path;
        }
        return line;
}

} // namespace memmon_test
#endif
