#include "core/diff.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/alloc.h"
#include "core/maps.h"
#include "tests/kernel_line.h"

namespace {

using memmon_test::Snap;

struct Diff {
        diff d;
        Diff() {
                diff_init(&d);
        }
        ~Diff() {
                diff_fini(&d);
        }
        Diff(const Diff &) = delete;
        Diff &operator=(const Diff &) = delete;
};

// A line as the kernel prints it (tests/kernel_line.h), short for the tables below.
std::string L(uint64_t start, uint64_t end, const char *perms = "rw-p", uint64_t offset = 0,
              unsigned major = 0, unsigned minor = 0, uint64_t inode = 0, const std::string &path = "") {
        return memmon_test::KernelLine(start, end, perms, offset, major, minor, inode, path);
}

const uint64_t A = 0x7f0000000000;
const uint64_t P = 0x1000;

// A record in a form that gtest can compare and print.
struct Rec {
        char kind;
        uint32_t old_idx, new_idx;
        bool operator==(const Rec &o) const {
                return kind == o.kind && old_idx == o.old_idx && new_idx == o.new_idx;
        }
};

std::ostream &operator<<(std::ostream &os, const Rec &r) {
        return os << r.kind << "(" << r.old_idx << "," << r.new_idx << ")";
}

const uint32_t NONE = UINT32_MAX;

std::vector<Rec> Compute(const Snap &old, const Snap &cur, Diff &d) {
        int n = diff_compute(&old.s, &cur.s, &d.d);
        EXPECT_GE(n, 0);
        EXPECT_EQ((size_t)n, d.d.n);
        std::vector<Rec> recs;
        size_t added = 0, removed = 0, changed = 0;
        for (size_t i = 0; i < d.d.n; i++) {
                const diff_rec &r = d.d.recs[i];
                recs.push_back({(char)r.kind, r.old_idx, r.new_idx});
                added += r.kind == DIFF_ADDED;
                removed += r.kind == DIFF_REMOVED;
                changed += r.kind == DIFF_CHANGED;
        }
        EXPECT_EQ(added, d.d.added);
        EXPECT_EQ(removed, d.d.removed);
        EXPECT_EQ(changed, d.d.changed);
        return recs;
}

std::vector<Rec> Compute(const Snap &old, const Snap &cur) {
        Diff d;
        return Compute(old, cur, d);
}

const std::vector<std::string> kBase = {
    L(A, A + P, "r--p", 0, 0xfe, 0, 100, "/usr/bin/prog"),
    L(A + P, A + 3 * P, "r-xp", 0x1000, 0xfe, 0, 100, "/usr/bin/prog"),
    L(A + 8 * P, A + 9 * P, "rw-p"),
    L(A + 16 * P, A + 20 * P, "r--s", 0, 0xfe, 1, 200, "/tmp/my file.bin"),
};

TEST(Diff, IdenticalHasNoRecords) {
        Snap a(kBase), b(kBase);
        Diff d;
        EXPECT_EQ(0, diff_compute(&a.s, &b.s, &d.d));
        EXPECT_EQ(0u, d.d.n);
        EXPECT_EQ(0u, d.d.added + d.d.removed + d.d.changed);
        EXPECT_EQ(0, diff_compute(&a.s, &a.s, &d.d));
}

TEST(Diff, BothEmpty) {
        Snap a, b;
        Diff d;
        EXPECT_EQ(0, diff_compute(&a.s, &b.s, &d.d));
}

TEST(Diff, EmptyOldIsAllAdded) {
        Snap a, b(kBase);
        EXPECT_EQ((std::vector<Rec>{{'+', NONE, 0}, {'+', NONE, 1}, {'+', NONE, 2}, {'+', NONE, 3}}),
                  Compute(a, b));
}

TEST(Diff, EmptyNewIsAllRemoved) {
        Snap a(kBase), b;
        EXPECT_EQ((std::vector<Rec>{{'-', 0, NONE}, {'-', 1, NONE}, {'-', 2, NONE}, {'-', 3, NONE}}),
                  Compute(a, b));
}

TEST(Diff, Added) {
        std::vector<std::string> lines = kBase;
        lines.insert(lines.begin() + 3, L(A + 10 * P, A + 11 * P, "rw-p", 0, 0, 0, 0, "[anon:new]"));
        lines.push_back(L(A + 40 * P, A + 41 * P));
        Snap a(kBase), b(lines);
        EXPECT_EQ((std::vector<Rec>{{'+', NONE, 3}, {'+', NONE, 5}}), Compute(a, b));
}

TEST(Diff, Removed) {
        std::vector<std::string> lines = kBase;
        lines.erase(lines.begin());
        lines.erase(lines.begin() + 1);
        Snap a(kBase), b(lines);
        EXPECT_EQ((std::vector<Rec>{{'-', 0, NONE}, {'-', 2, NONE}}), Compute(a, b));
}

TEST(Diff, EachFieldChanged) {
        struct Case {
                const char *what;
                std::string line;
        };
        const Case cases[] = {
            {"end", L(A + 16 * P, A + 21 * P, "r--s", 0, 0xfe, 1, 200, "/tmp/my file.bin")},
            {"perms", L(A + 16 * P, A + 20 * P, "rw-s", 0, 0xfe, 1, 200, "/tmp/my file.bin")},
            {"offset", L(A + 16 * P, A + 20 * P, "r--s", 0x2000, 0xfe, 1, 200, "/tmp/my file.bin")},
            {"major", L(A + 16 * P, A + 20 * P, "r--s", 0, 0xfd, 1, 200, "/tmp/my file.bin")},
            {"minor", L(A + 16 * P, A + 20 * P, "r--s", 0, 0xfe, 2, 200, "/tmp/my file.bin")},
            {"inode", L(A + 16 * P, A + 20 * P, "r--s", 0, 0xfe, 1, 201, "/tmp/my file.bin")},
            {"path", L(A + 16 * P, A + 20 * P, "r--s", 0, 0xfe, 1, 200, "/tmp/my file.bin (deleted)")},
            {"no path", L(A + 16 * P, A + 20 * P, "r--s", 0, 0xfe, 1, 200)},
        };
        for (const Case &c : cases) {
                SCOPED_TRACE(c.what);
                std::vector<std::string> lines = kBase;
                lines[3] = c.line;
                Snap a(kBase), b(lines);
                Diff d;
                EXPECT_EQ((std::vector<Rec>{{'~', 3, 3}}), Compute(a, b, d));
                EXPECT_EQ(1u, d.d.changed);
        }
}

// mprotect on the middle of a region splits it: the first part keeps the
// start and changes its end, the others are new.
TEST(Diff, SplitByMprotect) {
        Snap a({L(A, A + 3 * P, "rw-p"), L(A + 8 * P, A + 9 * P)});
        Snap b({L(A, A + P, "rw-p"), L(A + P, A + 2 * P, "r--p"), L(A + 2 * P, A + 3 * P, "rw-p"),
                L(A + 8 * P, A + 9 * P)});
        EXPECT_EQ((std::vector<Rec>{{'~', 0, 0}, {'+', NONE, 1}, {'+', NONE, 2}}), Compute(a, b));

        Snap c({L(A, A + 2 * P, "rw-p"), L(A + 2 * P, A + 3 * P, "r--p"), L(A + 8 * P, A + 9 * P)});
        Diff d;
        EXPECT_EQ((std::vector<Rec>{{'~', 0, 0}, {'+', NONE, 1}}), Compute(a, c, d));
        EXPECT_EQ(1u, d.d.changed);
        EXPECT_EQ(1u, d.d.added);
        EXPECT_EQ(0u, d.d.removed);
}

TEST(Diff, Merge) {
        Snap a({L(A, A + 2 * P, "rw-p"), L(A + 2 * P, A + 3 * P, "r--p"), L(A + 8 * P, A + 9 * P)});
        Snap b({L(A, A + 3 * P, "rw-p"), L(A + 8 * P, A + 9 * P)});
        Diff d;
        EXPECT_EQ((std::vector<Rec>{{'~', 0, 0}, {'-', 1, NONE}}), Compute(a, b, d));
        EXPECT_EQ(1u, d.d.changed);
        EXPECT_EQ(1u, d.d.removed);
}

// Records come in start-address order whatever their kind.
TEST(Diff, InterleavedInAddressOrder) {
        Snap a({L(A, A + P), L(A + 2 * P, A + 3 * P), L(A + 4 * P, A + 5 * P), L(A + 8 * P, A + 9 * P)});
        Snap b({L(A + P, A + 2 * P), L(A + 2 * P, A + 3 * P, "r--p"), L(A + 4 * P, A + 5 * P),
                L(A + 6 * P, A + 7 * P), L(A + 10 * P, A + 11 * P)});
        EXPECT_EQ(
            (std::vector<Rec>{
                {'-', 0, NONE}, {'+', NONE, 0}, {'~', 1, 1}, {'+', NONE, 3}, {'-', 3, NONE}, {'+', NONE, 4}}),
            Compute(a, b));
}

TEST(Diff, ReusesBuffer) {
        Snap a(kBase), b, c({L(A, A + P)});
        Diff d;
        ASSERT_EQ(4, diff_compute(&b.s, &a.s, &d.d));
        uint64_t before = mm_alloc_count();
        EXPECT_EQ(4, diff_compute(&a.s, &b.s, &d.d));
        EXPECT_EQ(4, diff_compute(&a.s, &c.s, &d.d));
        EXPECT_EQ(0, diff_compute(&a.s, &a.s, &d.d));
        EXPECT_EQ(before, mm_alloc_count());
        EXPECT_EQ(0u, d.d.added + d.d.removed + d.d.changed);
}

// A fresh diff of two identical snapshots allocates nothing at all.
TEST(Diff, NoChangeAllocatesNothing) {
        std::vector<std::string> lines;
        for (uint64_t i = 0; i < 1000; i++)
                lines.push_back(L(A + 2 * i * P, A + (2 * i + 1) * P, "r--p", i, 0xfe, 0, i,
                                  "/lib " + std::to_string(i)));
        Snap a(lines), b(lines);
        Diff d;
        uint64_t before = mm_alloc_count();
        EXPECT_EQ(0, diff_compute(&a.s, &b.s, &d.d));
        EXPECT_EQ(before, mm_alloc_count());
        EXPECT_EQ(nullptr, d.d.recs);
}

// A child that maps, protects and unmaps a file when told to over a pipe, so
// that the test can diff its real maps around each step.
class Child {
      public:
        explicit Child(const std::string &file) {
                int cmd[2], reply[2];
                if (pipe2(cmd, O_CLOEXEC) < 0 || pipe2(reply, O_CLOEXEC) < 0)
                        abort();
                pid_ = fork();
                if (pid_ < 0)
                        abort();
                if (pid_ == 0) {
                        close(cmd[1]);
                        close(reply[0]);
                        Serve(cmd[0], reply[1], file);
                }
                close(cmd[0]);
                close(reply[1]);
                cmd_ = cmd[1];
                reply_ = reply[0];
        }
        ~Child() {
                close(cmd_);
                close(reply_);
                int status;
                waitpid(pid_, &status, 0);
        }
        pid_t pid() const {
                return pid_;
        }
        // Sends a command and returns the address the child answers.
        uint64_t Do(char c) {
                uint64_t addr = 0;
                EXPECT_EQ(1, write(cmd_, &c, 1));
                EXPECT_EQ((ssize_t)sizeof(addr), read(reply_, &addr, sizeof(addr)));
                return addr;
        }

      private:
        // Runs in the child: only system calls, then _exit.
        [[noreturn]] static void Serve(int in, int out, const std::string &file) {
                long page = sysconf(_SC_PAGESIZE);
                int fd = open(file.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                char *p = nullptr;
                char c;
                if (fd < 0 || ftruncate(fd, 3 * page) < 0)
                        _exit(1);
                while (read(in, &c, 1) == 1) {
                        if (c == 'm')
                                p = (char *)mmap(nullptr, 3 * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
                                                 0);
                        else if (c == 'p' && mprotect(p + page, page, PROT_READ) < 0)
                                _exit(1);
                        else if (c == 'u' && munmap(p, 3 * page) < 0)
                                _exit(1);
                        if (p == MAP_FAILED)
                                _exit(1);
                        uint64_t addr = (uint64_t)(uintptr_t)p;
                        if (write(out, &addr, sizeof(addr)) != (ssize_t)sizeof(addr))
                                _exit(1);
                }
                _exit(0);
        }

        pid_t pid_;
        int cmd_, reply_;
};

const diff_rec *FindRec(const diff &d, const maps_snapshot &old, const maps_snapshot &cur, char kind,
                        uint64_t start) {
        for (size_t i = 0; i < d.n; i++) {
                const diff_rec &r = d.recs[i];
                if ((char)r.kind != kind)
                        continue;
                const region &reg = kind == DIFF_REMOVED ? old.regions[r.old_idx] : cur.regions[r.new_idx];
                if (reg.start == start)
                        return &r;
        }
        return nullptr;
}

std::string PathOf(const maps_snapshot &s, uint32_t idx) {
        const region &r = s.regions[idx];
        return std::string(region_path(&s, &r), r.path_len);
}

TEST(DiffReal, ChildMapsProtectsUnmaps) {
        const char *tmp = getenv("TEST_TMPDIR");
        std::string file = std::string(tmp ? tmp : "/tmp") + "/diff marker.bin";
        const uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
        Child child(file);
        int fd = maps_open(child.pid());
        ASSERT_GE(fd, 0);
        Snap prev, cur;
        Diff d;
        size_t bad = 0;
        auto sample = [&]() {
                maps_snapshot_swap(&prev.s, &cur.s);
                ASSERT_EQ(0, maps_read_fd(fd, &cur.s));
                ASSERT_EQ(0, maps_parse(&cur.s, &bad)) << "bad line " << bad;
                ASSERT_GE(diff_compute(&prev.s, &cur.s, &d.d), 0);
        };

        ASSERT_NO_FATAL_FAILURE(sample());
        ASSERT_NO_FATAL_FAILURE(sample());
#if !defined(__SANITIZE_THREAD__)
        // ThreadSanitizer's runtime keeps mapping shadow memory in the
        // forked child on its own, so "nothing changed" only holds without it.
        EXPECT_EQ(0u, d.d.n);
#endif

        uint64_t addr = child.Do('m');
        ASSERT_NE(0u, addr);
        ASSERT_NO_FATAL_FAILURE(sample());
        const diff_rec *r = FindRec(d.d, prev.s, cur.s, DIFF_ADDED, addr);
        ASSERT_NE(nullptr, r);
        EXPECT_EQ(file, PathOf(cur.s, r->new_idx));
        EXPECT_EQ(addr + 3 * page, cur.s.regions[r->new_idx].end);
        EXPECT_EQ("rw-s", std::string(cur.s.regions[r->new_idx].perms, 4));

        child.Do('p');
        ASSERT_NO_FATAL_FAILURE(sample());
        r = FindRec(d.d, prev.s, cur.s, DIFF_CHANGED, addr);
        ASSERT_NE(nullptr, r);
        EXPECT_EQ(addr + page, cur.s.regions[r->new_idx].end);
        r = FindRec(d.d, prev.s, cur.s, DIFF_ADDED, addr + page);
        ASSERT_NE(nullptr, r);
        EXPECT_EQ("r--s", std::string(cur.s.regions[r->new_idx].perms, 4));
        EXPECT_EQ(page, cur.s.regions[r->new_idx].offset);
        EXPECT_EQ(file, PathOf(cur.s, r->new_idx));
        EXPECT_NE(nullptr, FindRec(d.d, prev.s, cur.s, DIFF_ADDED, addr + 2 * page));
        EXPECT_EQ(1u, d.d.changed);
        EXPECT_EQ(2u, d.d.added);

        child.Do('u');
        ASSERT_NO_FATAL_FAILURE(sample());
        EXPECT_NE(nullptr, FindRec(d.d, prev.s, cur.s, DIFF_REMOVED, addr));
        EXPECT_NE(nullptr, FindRec(d.d, prev.s, cur.s, DIFF_REMOVED, addr + page));
        EXPECT_NE(nullptr, FindRec(d.d, prev.s, cur.s, DIFF_REMOVED, addr + 2 * page));
        EXPECT_EQ(3u, d.d.removed);
        close(fd);
        unlink(file.c_str());
}

} // namespace
