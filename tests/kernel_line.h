// kernel_line: maps lines formatted the way a 64-bit kernel prints them, and
// a snapshot parsed from such lines, for the parser, diff and alert tests.
#ifndef MEMMON_TESTS_KERNEL_LINE_H
#define MEMMON_TESTS_KERNEL_LINE_H

#include <stdint.h>
#include <stdio.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/maps.h"

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

// Owns a snapshot for the length of a test.
struct Snap {
        maps_snapshot s;
        Snap() {
                maps_snapshot_init(&s);
        }
        explicit Snap(const std::vector<std::string> &lines) : Snap() {
                Set(lines);
        }
        ~Snap() {
                maps_snapshot_fini(&s);
        }
        Snap(const Snap &) = delete;
        Snap &operator=(const Snap &) = delete;

        // Parses the lines (each without its '\n'); fails the test when they
        // are not a valid maps text.
        void Set(const std::vector<std::string> &lines) {
                std::string text;
                for (const std::string &line : lines)
                        text += line + "\n";
                size_t bad = 0;
                ASSERT_EQ(0, maps_snapshot_set_text(&s, text.data(), text.size(), &bad))
                    << "bad line " << bad;
        }
};

} // namespace memmon_test
#endif
