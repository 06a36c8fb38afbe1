#include "core/backup.h"
#include "core/backup_read.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/alloc.h"
#include "core/backup_event.h"
#include "core/diff.h"
#include "core/maps.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

namespace {

// A parsed snapshot with its checksum set, as the worker holds one.
class Snap {
      public:
        Snap() {
                maps_snapshot_init(&s);
        }
        explicit Snap(const std::string &text) : Snap() {
                Set(text);
        }
        ~Snap() {
                maps_snapshot_fini(&s);
        }
        Snap(const Snap &) = delete;
        Snap &operator=(const Snap &) = delete;

        void Set(const std::string &text) {
                size_t bad = 0;
                ASSERT_EQ(0, maps_snapshot_set_text(&s, text.data(), text.size(), &bad)) << "line " << bad;
                s.checksum = maps_checksum(text.data(), text.size());
        }
        std::string Text() const {
                return std::string(s.text ? s.text : "", s.len);
        }

        struct maps_snapshot s;
};

// One maps line as the kernel prints it: the path starts at column 73.
std::string Line(uint64_t start, uint64_t end, const char *perms, const char *path = "", uint64_t inode = 0) {
        char buf[512];
        int n = snprintf(buf, sizeof(buf), "%08" PRIx64 "-%08" PRIx64 " %s 00000000 %s %" PRIu64, start, end,
                         perms, inode ? "08:02" : "00:00", inode);
        EXPECT_GT(n, 0);
        std::string l(buf);
        if (path[0] != '\0') {
                if (l.size() < 73)
                        l.append(73 - l.size(), ' ');
                else
                        l += ' ';
                l += path;
        } else {
                l += ' ';
        }
        return l + "\n";
}

void Collect(void *user, const char *line) {
        static_cast<std::vector<std::string> *>(user)->push_back(line);
}

std::string Join(const std::vector<std::string> &v) {
        std::string s;
        for (const auto &l : v)
                s += l + "\n";
        return s;
}

bool AnyContains(const std::vector<std::string> &v, const std::string &a, const std::string &b = "") {
        for (const auto &l : v)
                if (l.find(a) != std::string::npos && l.find(b) != std::string::npos)
                        return true;
        return false;
}

int RemoveOne(const char *path, const struct stat *, int, struct FTW *) {
        return remove(path);
}

std::string ReadFile(const std::string &path) {
        std::string s;
        FILE *f = fopen(path.c_str(), "rb");
        EXPECT_NE(nullptr, f) << path;
        if (!f)
                return s;
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
                s.append(buf, n);
        fclose(f);
        return s;
}

void WriteFile(const std::string &path, const std::string &data) {
        int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ASSERT_GE(fd, 0) << path;
        ASSERT_EQ((ssize_t)data.size(), write(fd, data.data(), data.size()));
        close(fd);
}

std::vector<std::string> ListDir(const std::string &path) {
        std::vector<std::string> names;
        DIR *d = opendir(path.c_str());
        if (!d)
                return names;
        while (struct dirent *de = readdir(d)) {
                std::string n = de->d_name;
                if (n != "." && n != "..")
                        names.push_back(n);
        }
        closedir(d);
        std::sort(names.begin(), names.end());
        return names;
}

// "backup_1_20261125T183328.123456Z.maps" -> "20261125T183328.123456Z"
std::string TsOf(const std::string &name) {
        size_t us = name.rfind('_');
        return name.substr(us + 1, TS_SIZE - 1);
}

class BackupTest : public ::testing::Test {
      protected:
        void SetUp() override {
                const char *tmp = getenv("TEST_TMPDIR");
                base_ = std::string(tmp ? tmp : "/tmp") + "/" +
                        ::testing::UnitTest::GetInstance()->current_test_info()->name();
                nftw(base_.c_str(), RemoveOne, 16, FTW_DEPTH | FTW_PHYS);
                dir_ = base_ + "/t";
                target_ = "web";
                info_.target = target_.c_str();
                info_.pid = 4242;
                info_.start_time = 98765;
                ASSERT_EQ(0, backup_store_open(&st_, dir_.c_str()));
                diff_init(&d_);
        }
        void TearDown() override {
                backup_store_close(&st_);
                diff_fini(&d_);
        }

        std::string WriteFull(const Snap &s) {
                char name[BACKUP_NAME_SIZE];
                EXPECT_EQ(0, backup_write_full(&st_, &info_, &s.s, name));
                return name;
        }
        std::string WriteDiff(const Snap &old, const Snap &cur) {
                char name[BACKUP_NAME_SIZE];
                EXPECT_GT(diff_compute(&old.s, &cur.s, &d_), 0);
                EXPECT_EQ(0, backup_write_diff(&st_, &info_, &old.s, &cur.s, &d_, name));
                return name;
        }
        std::string FullPath(const std::string &name) {
                return dir_ + "/full/" + name;
        }
        std::string DiffPath(const std::string &name) {
                return dir_ + "/incremental/" + name;
        }
        int Verify(const std::string &dir) {
                reports_.clear();
                return backup_verify(dir.c_str(), Collect, &reports_);
        }
        int Replay(const char *at, std::string *text) {
                Snap out;
                reports_.clear();
                int r = backup_replay(dir_.c_str(), at, &out.s, Collect, &reports_);
                if (r >= 0)
                        *text = out.Text();
                return r;
        }

        std::string base_, dir_, target_;
        struct backup_info info_ {};
        struct backup_store st_ {};
        struct diff d_ {};
        std::vector<std::string> reports_;
};

// The texts a process goes through: add, remove, change, split, merge, and
// lines with awkward paths.
std::vector<std::string> Timeline() {
        const std::string a = Line(0x400000, 0x452000, "r-xp", "/usr/bin/prog", 173521);
        const std::string b = Line(0x651000, 0x652000, "rw-p", "/usr/bin/prog", 173521);
        const std::string heap = Line(0x1000000, 0x1021000, "rw-p", "[heap]");
        const std::string heap2 = Line(0x1000000, 0x1042000, "rw-p", "[heap]");
        const std::string anon = Line(0x2000000, 0x2100000, "rw-p");
        const std::string lo = Line(0x2000000, 0x2080000, "rw-p");
        const std::string hi = Line(0x2080000, 0x2100000, "r--p");
        const std::string odd = Line(0x3000000, 0x3001000, "r-xp", "/tmp/my lib.so (deleted)", 99);
        const std::string stack = Line(0x7ffc0000, 0x7ffe1000, "rw-p", "[stack]");
        return {
            a + b + heap + stack,        // start
            a + b + heap + anon + stack, // add
            a + heap + anon + stack,     // remove
            a + heap2 + anon + stack,    // change
            a + heap2 + lo + hi + stack, // split
            a + heap2 + anon + stack,    // merge
            heap + anon + odd,           // many at once
        };
}

TEST(BackupTs, Format) {
        char ts[TS_SIZE];
        struct timespec t = {1795631608, 123456789};
        ASSERT_EQ(0, ts_format(&t, ts));
        EXPECT_STREQ("20261125T183328.123456Z", ts);
        t = {0, 0};
        ASSERT_EQ(0, ts_format(&t, ts));
        EXPECT_STREQ("19700101T000000.000000Z", ts);
        t = {1709251199, 999999999};
        ASSERT_EQ(0, ts_format(&t, ts));
        EXPECT_STREQ("20240229T235959.999999Z", ts);
        t = {253402300799, 0};
        ASSERT_EQ(0, ts_format(&t, ts));
        EXPECT_STREQ("99991231T235959.000000Z", ts);
        t = {253402300800, 0};
        EXPECT_EQ(-EINVAL, ts_format(&t, ts));
        t = {0, 1000000000};
        EXPECT_EQ(-EINVAL, ts_format(&t, ts));
        t = {0, -1};
        EXPECT_EQ(-EINVAL, ts_format(&t, ts));
}

TEST(BackupTs, Parse) {
        struct {
                const char *in, *out;
        } good[] = {
            {"20261125T183328.123456Z", "20261125T183328.123456Z"},
            {"20261125T183328.123456", "20261125T183328.123456Z"},
            {"2026-11-25T18:33:28.123456Z", "20261125T183328.123456Z"},
            {"2026-11-25T18:33:28Z", "20261125T183328.999999Z"},
            {"2026-11-25T18:33:28", "20261125T183328.999999Z"},
            {"20261125T183328", "20261125T183328.999999Z"},
            {"20261125T183328.5Z", "20261125T183328.599999Z"},
            {"20261125T183328.000000Z", "20261125T183328.000000Z"},
            {"20240229T000000Z", "20240229T000000.999999Z"},
        };
        for (const auto &g : good) {
                char ts[TS_SIZE];
                ASSERT_EQ(0, ts_parse(g.in, ts)) << g.in;
                EXPECT_STREQ(g.out, ts) << g.in;
        }
        const char *bad[] = {
            "",
            "2026",
            "20261125",
            "20261125T1833",
            "20261125 183328",
            "2026-11-25 18:33:28",
            "2026-11-25T183328",
            "202611-25T18:33:28",
            "20261325T183328",
            "20261100T183328",
            "20230229T000000",
            "20261125T243328",
            "20261125T186028",
            "20261125T183360",
            "20261125T183328.",
            "20261125T183328.1234567",
            "20261125T183328.12a",
            "20261125T183328ZZ",
            "20261125T183328Z ",
            "+0261125T183328",
            "2026-11-25T18:33:28.123456Zjunk",
        };
        for (const char *b : bad) {
                char ts[TS_SIZE] = "untouched";
                EXPECT_EQ(-EINVAL, ts_parse(b, ts)) << b;
                EXPECT_STREQ("untouched", ts) << b;
        }
}

TEST_F(BackupTest, FullThenReplayIsByteExact) {
        Snap s(Timeline()[6]);
        std::string name = WriteFull(s);
        EXPECT_EQ(0u, name.find("backup_4242_"));
        EXPECT_EQ(name.size() - 5, name.find(".maps"));

        std::string head = ReadFile(FullPath(name));
        EXPECT_EQ(0u, head.find("# memmon full 2\n# target web\n# pid 4242\n# start_time 98765\n# time " +
                                TsOf(name) + "\n# regions 3\n"));

        std::string text;
        ASSERT_EQ(0, Replay(nullptr, &text)) << Join(reports_);
        EXPECT_EQ(s.Text(), text);
        ASSERT_EQ(0, Replay(TsOf(name).c_str(), &text));
        EXPECT_EQ(s.Text(), text);
}

TEST_F(BackupTest, EmptySnapshotRoundTrips) {
        Snap empty(std::string(""));
        WriteFull(empty);
        std::string text = "x";
        ASSERT_EQ(0, Replay(nullptr, &text)) << Join(reports_);
        EXPECT_EQ("", text);
        EXPECT_EQ(0, Verify(dir_)) << Join(reports_);
}

TEST_F(BackupTest, DiffSequenceReplaysAtEveryMoment) {
        std::vector<std::string> texts = Timeline();
        std::vector<std::string> names;
        Snap prev(texts[0]);
        names.push_back(WriteFull(prev));
        for (size_t i = 1; i < texts.size(); i++) {
                Snap cur(texts[i]);
                names.push_back(WriteDiff(prev, cur));
                prev.Set(texts[i]);
        }

        std::string text;
        ASSERT_EQ(0, Replay(nullptr, &text)) << Join(reports_);
        EXPECT_EQ(texts.back(), text);
        for (size_t i = 0; i < names.size(); i++) {
                ASSERT_EQ(0, Replay(TsOf(names[i]).c_str(), &text)) << i << "\n" << Join(reports_);
                EXPECT_EQ(texts[i], text) << "at " << names[i];
        }
        // Before the first full snapshot nothing is recorded.
        EXPECT_EQ(-ENOENT, Replay("19700101T000000.000000Z", &text));
        EXPECT_EQ(-EINVAL, Replay("yesterday", &text));

        // The split is one change and one addition, the merge the reverse.
        std::string split = ReadFile(DiffPath(names[4]));
        EXPECT_NE(std::string::npos, split.find("# records 2\n< "));
        EXPECT_NE(std::string::npos, split.find("\n+ 02080000-02100000 r--p"));
        EXPECT_EQ(split.size() - 6, split.rfind("# end\n"));
        std::string merge = ReadFile(DiffPath(names[5]));
        EXPECT_NE(std::string::npos, merge.find("\n- 02080000-02100000 r--p"));

        EXPECT_EQ(0, Verify(dir_)) << Join(reports_);
        ASSERT_EQ(1u, reports_.size()) << Join(reports_);
        EXPECT_EQ("ok " + FullPath(names[0]) + ": 6 diffs", reports_[0]);
}

TEST_F(BackupTest, ZeroRecordDiffWritesNothing) {
        Snap a(Timeline()[0]), b(Timeline()[0]);
        WriteFull(a);
        ASSERT_EQ(0, diff_compute(&a.s, &b.s, &d_));
        char name[BACKUP_NAME_SIZE] = "untouched";
        EXPECT_EQ(-ENODATA, backup_write_diff(&st_, &info_, &a.s, &b.s, &d_, name));
        EXPECT_STREQ("untouched", name);
        EXPECT_TRUE(ListDir(dir_ + "/incremental").empty());
}

// A big process's files reuse one buffer; a small one's buffer is not kept
// between files (1,000 quiet targets would each hold one for nothing).
TEST_F(BackupTest, WritingABigOneDoesNotAllocateOnceWarm) {
        std::string big_a, big_b;
        for (uint64_t i = 0; i < 2000; i++)
                big_a += Line(0x10000000 + i * 0x2000, 0x10001000 + i * 0x2000, "rw-p");
        big_b = big_a + Line(0x7ffc0000, 0x7ffe1000, "rw-p", "[stack]");
        Snap a(big_a), b(big_b);
        ASSERT_GT(diff_compute(&a.s, &b.s, &d_), 0);
        ASSERT_EQ(0, backup_write_full(&st_, &info_, &b.s, nullptr));
        ASSERT_EQ(0, backup_write_diff(&st_, &info_, &a.s, &b.s, &d_, nullptr));
        uint64_t before = mm_alloc_count();
        for (int i = 0; i < 3; i++) {
                ASSERT_EQ(0, backup_write_full(&st_, &info_, &a.s, nullptr));
                ASSERT_EQ(0, backup_write_diff(&st_, &info_, &a.s, &b.s, &d_, nullptr));
        }
        EXPECT_EQ(before, mm_alloc_count());
        Snap small(Timeline()[0]);
        ASSERT_EQ(0, backup_write_full(&st_, &info_, &small.s, nullptr));
        EXPECT_NE(nullptr, st_.buf) << "a big buffer is kept";
        backup_store_close(&st_);
        ASSERT_EQ(0, backup_store_open(&st_, dir_.c_str()));
        ASSERT_EQ(0, backup_write_full(&st_, &info_, &small.s, nullptr));
        EXPECT_EQ(nullptr, st_.buf) << "a small one is not";
}

TEST_F(BackupTest, RefusesBadInput) {
        Snap a(Timeline()[0]), b(Timeline()[1]);
        a.s.checksum ^= 1;
        EXPECT_EQ(-EINVAL, backup_write_full(&st_, &info_, &a.s, nullptr));
        a.s.checksum ^= 1;
        struct backup_info bad = info_;
        bad.target = "two\nlines";
        EXPECT_EQ(-EINVAL, backup_write_full(&st_, &bad, &a.s, nullptr));
        bad = info_;
        bad.pid = 0;
        EXPECT_EQ(-EINVAL, backup_write_full(&st_, &bad, &a.s, nullptr));
        Snap c(Timeline()[4]);
        ASSERT_EQ(4, diff_compute(&b.s, &c.s, &d_));
        // Records that name regions the snapshots do not have...
        EXPECT_EQ(-EINVAL, backup_write_diff(&st_, &info_, &b.s, &a.s, &d_, nullptr));
        // ... or that are out of address order.
        std::swap(d_.recs[0], d_.recs[1]);
        EXPECT_EQ(-EINVAL, backup_write_diff(&st_, &info_, &b.s, &c.s, &d_, nullptr));
        std::swap(d_.recs[0], d_.recs[1]);
        // A checksum that is not its text's.
        c.s.checksum ^= 1;
        EXPECT_EQ(-EINVAL, backup_write_diff(&st_, &info_, &b.s, &c.s, &d_, nullptr));
        EXPECT_TRUE(ListDir(dir_ + "/full").empty());
        EXPECT_TRUE(ListDir(dir_ + "/incremental").empty());
}

class CorruptTest : public BackupTest {
      protected:
        void SetUp() override {
                BackupTest::SetUp();
                texts_ = Timeline();
                Snap prev(texts_[0]);
                names_.push_back(WriteFull(prev));
                for (size_t i = 1; i < 4; i++) {
                        Snap cur(texts_[i]);
                        names_.push_back(WriteDiff(prev, cur));
                        prev.Set(texts_[i]);
                }
                ASSERT_EQ(0, Verify(dir_)) << Join(reports_);
        }
        std::string PathOf(size_t i) {
                return i == 0 ? FullPath(names_[0]) : DiffPath(names_[i]);
        }

        std::vector<std::string> texts_, names_;
};

TEST_F(CorruptTest, VerifyCatchesFlippedByteInFull) {
        std::string path = PathOf(0), data = ReadFile(path);
        data[data.size() - 10] ^= 1;
        WriteFile(path, data);
        EXPECT_EQ(1, Verify(dir_));
        EXPECT_TRUE(AnyContains(reports_, path + ": line 8: checksum mismatch")) << Join(reports_);
}

TEST_F(CorruptTest, VerifyCatchesFlippedByteInDiff) {
        std::string path = PathOf(2), data = ReadFile(path);
        size_t rec = data.find("\n- ");
        ASSERT_NE(std::string::npos, rec);
        data[rec + 12] ^= 1;
        WriteFile(path, data);
        EXPECT_EQ(1, Verify(dir_));
        EXPECT_TRUE(AnyContains(reports_, path + ": line 9: ")) << Join(reports_);
        EXPECT_TRUE(AnyContains(reports_, "bad " + PathOf(0) + ": 1 of 3 diffs good")) << Join(reports_);
}

TEST_F(CorruptTest, VerifyCatchesTruncatedFull) {
        std::string path = PathOf(0);
        ASSERT_EQ(0, truncate(path.c_str(), (off_t)ReadFile(path).size() - 1));
        EXPECT_EQ(1, Verify(dir_));
        EXPECT_TRUE(AnyContains(reports_, path + ": line 7: bytes says")) << Join(reports_);
}

TEST_F(CorruptTest, VerifyCatchesTruncatedDiff) {
        std::string path = PathOf(3);
        ASSERT_EQ(0, truncate(path.c_str(), (off_t)ReadFile(path).size() - 3));
        EXPECT_EQ(1, Verify(dir_));
        EXPECT_TRUE(AnyContains(reports_, path + ": line ", "'# end'")) << Join(reports_);
}

TEST_F(CorruptTest, VerifyCatchesResultChecksum) {
        std::string path = PathOf(1), data = ReadFile(path);
        size_t at = data.find("# result ");
        ASSERT_NE(std::string::npos, at);
        data[at + 9] = data[at + 9] == '0' ? '1' : '0';
        WriteFile(path, data);
        EXPECT_EQ(1, Verify(dir_));
        EXPECT_TRUE(AnyContains(reports_, path + ": line 7: result checksum mismatch")) << Join(reports_);
}

// Every single flipped byte and every truncation of every file is caught.
TEST_F(CorruptTest, EveryFlipAndCutIsCaught) {
        for (size_t f = 0; f < names_.size(); f++) {
                std::string path = PathOf(f), good = ReadFile(path);
                for (size_t i = 0; i < good.size(); i++) {
                        std::string bad = good;
                        bad[i] ^= 0x01;
                        WriteFile(path, bad);
                        ASSERT_EQ(1, Verify(dir_)) << path << " byte " << i;
                        bad = good;
                        bad[i] ^= 0x40;
                        WriteFile(path, bad);
                        ASSERT_EQ(1, Verify(dir_)) << path << " byte " << i;
                        WriteFile(path, good.substr(0, i));
                        ASSERT_EQ(1, Verify(dir_)) << path << " cut at " << i;
                }
                WriteFile(path, good);
                ASSERT_EQ(0, Verify(dir_)) << Join(reports_);
        }
}

TEST_F(CorruptTest, ReplayStopsBeforeCorruptDiff) {
        std::string path = PathOf(2), data = ReadFile(path);
        data[data.find("\n- ") + 5] ^= 1;
        WriteFile(path, data);

        std::string text;
        EXPECT_EQ(1, Replay(nullptr, &text));
        EXPECT_EQ(texts_[1], text);
        ASSERT_EQ(1u, reports_.size()) << Join(reports_);
        EXPECT_EQ(0u, reports_[0].find(path + ": line 9: ")) << reports_[0];
        EXPECT_NE(std::string::npos, reports_[0].find("; stopped at " + TsOf(names_[1]))) << reports_[0];

        // Up to the diff before it, replay is exact.
        EXPECT_EQ(0, Replay(TsOf(names_[1]).c_str(), &text)) << Join(reports_);
        EXPECT_EQ(texts_[1], text);
}

TEST_F(CorruptTest, ReplayFallsBackToOlderChainWhenFullIsBad) {
        Snap last(texts_[3]), next(texts_[4]);
        std::string full2 = WriteFull(last);
        std::string diff2 = WriteDiff(last, next);
        std::string data = ReadFile(FullPath(full2));
        data[data.size() - 3] ^= 1;
        WriteFile(FullPath(full2), data);

        std::string text;
        EXPECT_EQ(1, Replay(nullptr, &text)) << Join(reports_);
        EXPECT_EQ(texts_[3], text);
        EXPECT_TRUE(AnyContains(reports_, FullPath(full2) + ": line 8: checksum mismatch")) << Join(reports_);
        EXPECT_TRUE(AnyContains(reports_, "stopped at " + TsOf(names_[3]))) << Join(reports_);
}

TEST_F(BackupTest, ReplayWithNothingRecorded) {
        std::string text;
        EXPECT_EQ(-ENOENT, Replay(nullptr, &text));
        EXPECT_EQ(-ENOENT, Verify(base_ + "/nonexistent"));
}

TEST_F(BackupTest, ModesIgnoreUmask) {
        mode_t old = umask(0);
        struct backup_store st;
        std::string dir = base_ + "/a/b/c";
        ASSERT_EQ(0, backup_store_open(&st, dir.c_str()));
        Snap a(Timeline()[0]), b(Timeline()[1]);
        char full[BACKUP_NAME_SIZE], diff[BACKUP_NAME_SIZE];
        ASSERT_EQ(0, backup_write_full(&st, &info_, &a.s, full));
        ASSERT_GT(diff_compute(&a.s, &b.s, &d_), 0);
        ASSERT_EQ(0, backup_write_diff(&st, &info_, &a.s, &b.s, &d_, diff));
        backup_store_close(&st);
        umask(old);

        for (const std::string &p :
             {base_ + "/a", base_ + "/a/b", dir, dir + "/full", dir + "/incremental"}) {
                struct stat sb;
                ASSERT_EQ(0, stat(p.c_str(), &sb)) << p;
                EXPECT_EQ(0700u, sb.st_mode & 07777) << p;
        }
        for (const std::string &p : {dir + "/full/" + full, dir + "/incremental/" + diff}) {
                struct stat sb;
                ASSERT_EQ(0, stat(p.c_str(), &sb)) << p;
                EXPECT_EQ(0600u, sb.st_mode & 07777) << p;
        }
}

TEST_F(BackupTest, NoTempFileLeft) {
        std::vector<std::string> texts = Timeline();
        Snap prev(texts[0]);
        WriteFull(prev);
        for (size_t i = 1; i < texts.size(); i++) {
                Snap cur(texts[i]);
                WriteDiff(prev, cur);
                prev.Set(texts[i]);
        }
        for (const char *sub : {"/full", "/incremental"})
                for (const std::string &n : ListDir(dir_ + sub))
                        EXPECT_NE(0u, n.find(".tmp.")) << n;
        EXPECT_EQ(1u, ListDir(dir_ + "/full").size());
        EXPECT_EQ(texts.size() - 1, ListDir(dir_ + "/incremental").size());
}

TEST_F(BackupTest, FailedWriteLeavesNothing) {
        // A file size limit makes write() fail midway, as a full disk would.
        std::string big;
        for (uint64_t i = 0; i < 64; i++)
                big +=
                    Line(0x10000000 + i * 0x2000, 0x10001000 + i * 0x2000, "r--p", "/usr/lib/libbig.so", 7);
        Snap s(big);
        struct rlimit old;
        ASSERT_EQ(0, getrlimit(RLIMIT_FSIZE, &old));
        struct rlimit small = old;
        small.rlim_cur = 1000;
        void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
        ASSERT_EQ(0, setrlimit(RLIMIT_FSIZE, &small));
        int r = backup_write_full(&st_, &info_, &s.s, nullptr);
        ASSERT_EQ(0, setrlimit(RLIMIT_FSIZE, &old));
        signal(SIGXFSZ, prev);
        EXPECT_EQ(-EFBIG, r);
        EXPECT_TRUE(ListDir(dir_ + "/full").empty()) << Join(ListDir(dir_ + "/full"));
        // The store still works afterwards.
        WriteFull(s);
        EXPECT_EQ(1u, ListDir(dir_ + "/full").size());
}

TEST_F(BackupTest, OpenRemovesLeftoverTempFiles) {
        backup_store_close(&st_);
        WriteFile(dir_ + "/full/.tmp.backup_1_20260101T000000.000000Z.maps", "half a fil");
        WriteFile(dir_ + "/incremental/.tmp.diff_1_20260101T000000.000000Z.diff", "half");
        WriteFile(dir_ + "/full/.keep", "not ours");
        ASSERT_EQ(0, backup_store_open(&st_, dir_.c_str()));
        EXPECT_EQ(std::vector<std::string>{".keep"}, ListDir(dir_ + "/full"));
        EXPECT_TRUE(ListDir(dir_ + "/incremental").empty());
}

TEST_F(BackupTest, OpenRefusesSymlinkedFolders) {
        std::string real = base_ + "/real", link = base_ + "/link";
        ASSERT_EQ(0, mkdir(real.c_str(), 0700));
        ASSERT_EQ(0, symlink(real.c_str(), link.c_str()));
        struct backup_store st;
        EXPECT_EQ(-ELOOP, backup_store_open(&st, link.c_str()));
        backup_store_close(&st);
        // Nor a symlinked full/.
        std::string d2 = base_ + "/t2";
        ASSERT_EQ(0, mkdir(d2.c_str(), 0700));
        ASSERT_EQ(0, symlink(real.c_str(), (d2 + "/full").c_str()));
        EXPECT_EQ(-ELOOP, backup_store_open(&st, d2.c_str()));
        backup_store_close(&st);
}

TEST_F(BackupTest, VerifyIgnoresTempAndDotFiles) {
        Snap a(Timeline()[0]);
        WriteFull(a);
        WriteFile(dir_ + "/full/.tmp.backup_4242_20990101T000000.000000Z.maps", "garbage");
        WriteFile(dir_ + "/incremental/.tmp.diff_4242_20990101T000000.000000Z.diff", "garbage");
        WriteFile(dir_ + "/incremental/.hidden", "garbage");
        EXPECT_EQ(0, Verify(dir_)) << Join(reports_);
        std::string text;
        EXPECT_EQ(0, Replay(nullptr, &text)) << Join(reports_);
        EXPECT_EQ(a.Text(), text);
}

TEST_F(BackupTest, VerifyFlagsWrongPidAndOrphanDiffs) {
        Snap a(Timeline()[0]), b(Timeline()[1]), c(Timeline()[2]);
        // A diff before any full snapshot.
        std::string orphan = WriteDiff(a, b);
        WriteFull(b);
        info_.pid = 777;
        std::string wrong = WriteDiff(b, c);
        EXPECT_EQ(2, Verify(dir_));
        EXPECT_TRUE(AnyContains(reports_, DiffPath(orphan) + ": no full snapshot before it"))
            << Join(reports_);
        EXPECT_TRUE(AnyContains(reports_, DiffPath(wrong) + ": line 3: pid 777 differs")) << Join(reports_);
}

TEST_F(BackupTest, VerifyFolderOfTargets) {
        Snap a(Timeline()[0]), b(Timeline()[1]);
        std::string web = WriteFull(a);
        WriteDiff(a, b);
        struct backup_store db;
        ASSERT_EQ(0, backup_store_open(&db, (base_ + "/db").c_str()));
        char name[BACKUP_NAME_SIZE];
        ASSERT_EQ(0, backup_write_full(&db, &info_, &b.s, name));
        backup_store_close(&db);
        ASSERT_EQ(0, mkdir((base_ + "/not-a-target").c_str(), 0700));

        EXPECT_EQ(0, Verify(base_)) << Join(reports_);
        ASSERT_EQ(2u, reports_.size()) << Join(reports_);
        EXPECT_EQ("ok " + base_ + "/db/full/" + name + ": 0 diffs", reports_[0]);
        EXPECT_EQ("ok " + FullPath(web) + ": 1 diffs", reports_[1]);

        std::string data = ReadFile(base_ + "/db/full/" + name);
        data[data.size() - 2] ^= 1;
        WriteFile(base_ + "/db/full/" + name, data);
        EXPECT_EQ(1, Verify(base_));
        EXPECT_TRUE(AnyContains(reports_, base_ + "/db/full/" + name + ": line 8")) << Join(reports_);
}

TEST_F(BackupTest, RetentionDeletesWholeOldestChains) {
        std::vector<std::string> texts = Timeline();
        std::vector<std::string> fulls;
        Snap prev(texts[0]);
        for (size_t chain = 0; chain < 4; chain++) {
                fulls.push_back(WriteFull(prev));
                for (size_t k = 0; k < 2; k++) {
                        size_t i = chain * 2 + k + 1;
                        Snap cur(texts[i % texts.size()]);
                        WriteDiff(prev, cur);
                        prev.Set(cur.Text());
                }
        }
        ASSERT_EQ(4u, ListDir(dir_ + "/full").size());
        ASSERT_EQ(8u, ListDir(dir_ + "/incremental").size());
        std::string before;
        ASSERT_EQ(0, Replay(nullptr, &before));

        EXPECT_EQ(0, backup_retention(&st_, 4, 0, nullptr, nullptr));
        EXPECT_EQ(0, backup_retention(&st_, 0, 0, nullptr, nullptr));
        EXPECT_EQ(6, backup_retention(&st_, 2, 0, nullptr, nullptr));
        EXPECT_EQ((std::vector<std::string>{fulls[2], fulls[3]}), ListDir(dir_ + "/full"));
        EXPECT_EQ(4u, ListDir(dir_ + "/incremental").size());
        EXPECT_EQ(0, Verify(dir_)) << Join(reports_);
        EXPECT_EQ(2u, reports_.size());

        // A byte limit deletes down to the newest chain, never that one.
        EXPECT_EQ(3, backup_retention(&st_, 0, 1, nullptr, nullptr));
        EXPECT_EQ(std::vector<std::string>{fulls[3]}, ListDir(dir_ + "/full"));
        EXPECT_EQ(2u, ListDir(dir_ + "/incremental").size());
        EXPECT_EQ(0, backup_retention(&st_, 1, 1, nullptr, nullptr));
        std::string after;
        ASSERT_EQ(0, Replay(nullptr, &after));
        EXPECT_EQ(before, after);
}

// Retention tells of every chain it deletes: which, what it covered, how
// many files and bytes, and which limit made it go.
TEST_F(BackupTest, RetentionTellsEveryChainItDeletes) {
        std::vector<std::string> texts = Timeline();
        std::vector<std::string> fulls, diffs;
        Snap prev(texts[0]);
        for (size_t chain = 0; chain < 3; chain++) {
                fulls.push_back(WriteFull(prev));
                Snap cur(texts[(chain + 1) % texts.size()]);
                diffs.push_back(WriteDiff(prev, cur));
                prev.Set(cur.Text());
        }
        struct Note {
                std::string first, from, to;
                size_t files;
                uint64_t bytes;
                bool keep, bytes_limit, complete;
        };
        std::vector<Note> notes;
        auto cb = [](void *user, const struct backup_retention_note *n) {
                static_cast<std::vector<Note> *>(user)->push_back({n->first, n->from_ts, n->to_ts, n->files,
                                                                   n->bytes, n->over_keep_full,
                                                                   n->over_max_bytes, n->complete});
        };
        uint64_t size0 = ReadFile(FullPath(fulls[0])).size() + ReadFile(DiffPath(diffs[0])).size();
        EXPECT_EQ(2, backup_retention(&st_, 2, 0, cb, &notes));
        ASSERT_EQ(1u, notes.size());
        EXPECT_EQ(fulls[0], notes[0].first);
        EXPECT_EQ(fulls[0].substr(fulls[0].rfind('_') + 1, 23), notes[0].from);
        EXPECT_EQ(diffs[0].substr(diffs[0].rfind('_') + 1, 23), notes[0].to);
        EXPECT_EQ(2u, notes[0].files);
        EXPECT_EQ(size0, notes[0].bytes);
        EXPECT_TRUE(notes[0].keep);
        EXPECT_FALSE(notes[0].bytes_limit);
        EXPECT_TRUE(notes[0].complete);

        notes.clear();
        EXPECT_EQ(2, backup_retention(&st_, 0, 1, cb, &notes));
        ASSERT_EQ(1u, notes.size());
        EXPECT_EQ(fulls[1], notes[0].first);
        EXPECT_FALSE(notes[0].keep);
        EXPECT_TRUE(notes[0].bytes_limit);
        notes.clear();
        EXPECT_EQ(0, backup_retention(&st_, 0, 1, cb, &notes)) << "the newest chain stays";
        EXPECT_TRUE(notes.empty());
}

// Retention deletes a chain's diffs newest first, so what a crash leaves is a
// full snapshot with a prefix of its diffs, which verifies.
TEST_F(BackupTest, ChainPrefixStillVerifies) {
        std::vector<std::string> texts = Timeline();
        std::vector<std::string> diffs;
        Snap prev(texts[0]);
        WriteFull(prev);
        for (size_t i = 1; i < texts.size(); i++) {
                Snap cur(texts[i]);
                diffs.push_back(WriteDiff(prev, cur));
                prev.Set(texts[i]);
        }
        while (!diffs.empty()) {
                ASSERT_EQ(0, unlink(DiffPath(diffs.back()).c_str()));
                diffs.pop_back();
                EXPECT_EQ(0, Verify(dir_)) << Join(reports_);
        }
}

TEST_F(BackupTest, TimestampsAreUniqueAndIncreasing) {
        Snap a(Timeline()[0]);
        std::vector<std::string> names;
        for (int i = 0; i < 30; i++)
                names.push_back(WriteFull(a));
        for (size_t i = 1; i < names.size(); i++)
                EXPECT_LT(TsOf(names[i - 1]), TsOf(names[i]));

        // A clock behind the last name: each new name is 1 µs later.
        memcpy(st_.last_ts, "20991231T235959.999990Z", TS_SIZE);
        EXPECT_EQ("20991231T235959.999991Z", TsOf(WriteFull(a)));
        Snap b(Timeline()[1]);
        EXPECT_EQ("20991231T235959.999992Z", TsOf(WriteDiff(a, b)));
        EXPECT_EQ("20991231T235959.999993Z", TsOf(WriteFull(b)));

        // A reopened store carries on after the newest name on disk that is
        // not in the future.  Names from the future (planted, or written
        // under a wrong clock) are ignored: counted, never followed, so that
        // one name cannot drag every later one along, nor up to year 9999
        // where no name is left and every write would fail.
        backup_store_close(&st_);
        WriteFile(dir_ + "/full/backup_1_99991231T235959.999999Z.maps", "planted");
        WriteFile(dir_ + "/full/README", "not ours");
        ASSERT_EQ(0, backup_store_open(&st_, dir_.c_str()));
        EXPECT_STREQ(TsOf(names.back()).c_str(), st_.last_ts);
        EXPECT_EQ(5u, st_.ignored) << "4 from 2099 and 9999, and README";
        EXPECT_NE(std::string::npos, std::string(st_.ignored_name).find("full/")) << st_.ignored_name;
        std::string next = TsOf(WriteFull(b));
        EXPECT_LT(TsOf(names.back()), next);
        EXPECT_LT(next, "2099") << "from the clock";
        EXPECT_EQ("planted", ReadFile(dir_ + "/full/backup_1_99991231T235959.999999Z.maps")) << "left alone";
}

// Hostile headers must fail on their numbers, never by allocating what they
// claim.  Outside ASan the checks run under an address-space limit that any
// allocation of the claimed size would break.
void LimitAddressSpace() {
        if (UNDER_ASAN)
                return;
        std::string statm = ReadFile("/proc/self/statm");
        char *end = nullptr;
        unsigned long long pages = strtoull(statm.c_str(), &end, 10);
        if (end == statm.c_str() || pages == 0)
                return;
        rlim_t lim = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + (rlim_t)256 * 1024 * 1024;
        struct rlimit rl = {lim, lim};
        setrlimit(RLIMIT_AS, &rl);
}

TEST_F(BackupTest, HostileHugeBytes) {
        const std::string ts = "20260101T000000.000000Z";
        WriteFile(dir_ + "/full/backup_42_" + ts + ".maps",
                  "# memmon full 1\n# target t\n# pid 42\n# start_time 1\n# time " + ts +
                      "\n# regions 1\n# bytes 99999999999\n# checksum 0000000000000000\nx\n");
        std::string dir = dir_;
        EXPECT_EXIT(
            {
                    LimitAddressSpace();
                    std::vector<std::string> rep;
                    int v = backup_verify(dir.c_str(), Collect, &rep);
                    bool ok = v == 1 && AnyContains(rep, "line 7: bytes says 99999999999");
                    Snap out;
                    ok = ok && backup_replay(dir.c_str(), nullptr, &out.s, Collect, &rep) == -EBADMSG;
                    _exit(ok ? 0 : 1);
            },
            ::testing::ExitedWithCode(0), "");
}

TEST_F(BackupTest, HostileHugeRecordsAndRegions) {
        Snap a(Timeline()[0]);
        std::string full = WriteFull(a);
        char base[17];
        snprintf(base, sizeof(base), "%016" PRIx64, a.s.checksum);
        const std::string ts = "20990101T000000.000000Z";
        WriteFile(dir_ + "/incremental/diff_4242_" + ts + ".diff",
                  "# memmon diff 1\n# target web\n# pid 4242\n# start_time 98765\n# time " + ts +
                      "\n# base " + base + "\n# result 0000000000000000\n# records 4000000000\n+ " +
                      Line(0x90000000, 0x90001000, "rw-p") + "# end\n");
        std::string data = ReadFile(FullPath(full));
        size_t at = data.find("# regions 4\n");
        ASSERT_NE(std::string::npos, at);
        std::string dir = dir_;
        std::string fullpath = FullPath(full);
        std::string want = a.Text();
        EXPECT_EXIT(
            {
                    LimitAddressSpace();
                    std::vector<std::string> rep;
                    bool ok = backup_verify(dir.c_str(), Collect, &rep) == 1 &&
                              AnyContains(rep, "line 8: records says 4000000000, the file has 1");
                    Snap out;
                    ok = ok && backup_replay(dir.c_str(), nullptr, &out.s, Collect, &rep) == 1 &&
                         out.Text() == want;
                    // A full snapshot claiming four billion regions, or more
                    // than a maps text can hold.
                    std::string huge = data;
                    huge.replace(at, 12, "# regions 4000000000\n");
                    WriteFile(fullpath, huge);
                    rep.clear();
                    ok = ok && backup_verify(dir.c_str(), Collect, &rep) == 1 &&
                         AnyContains(rep, "line 6: regions says 4000000000, the text has 4");
                    huge = data;
                    huge.replace(at, 12, "# regions 99999999999\n");
                    WriteFile(fullpath, huge);
                    rep.clear();
                    ok = ok && backup_verify(dir.c_str(), Collect, &rep) == 1 &&
                         AnyContains(rep, "line 6: bad number");
                    _exit(ok ? 0 : 1);
            },
            ::testing::ExitedWithCode(0), "");
}

TEST_F(BackupTest, HostileNonRegularFile) {
        const std::string path = dir_ + "/full/backup_42_20260101T000000.000000Z.maps";
        ASSERT_EQ(0, mkfifo(path.c_str(), 0600));
        EXPECT_EQ(1, Verify(dir_));
        EXPECT_TRUE(AnyContains(reports_, path + ": not a regular file")) << Join(reports_);
}

TEST_F(BackupTest, HostileHeaders) {
        Snap a(Timeline()[0]);
        std::string full = WriteFull(a);
        std::string good = ReadFile(FullPath(full));
        struct {
                const char *from, *to, *why;
        } cases[] = {
            {"# memmon full 2", "# memmon full 3", "line 1: unsupported format version"},
            {"# memmon full 2", "# memmon full 0", "line 1: unsupported format version"},
            {"# memmon full 2", "# memmon full 22", "line 1: unsupported format version"},
            {"# memmon full 2", "# memmon diff 2", "line 1: not a memmon full snapshot"},
            {"# pid 4242", "# pid 04242", "line 3: bad number"},
            {"# pid 4242", "# pid 4243", "line 3: pid 4243 differs"},
            {"# pid 4242", "# pid  4242", "line 3: bad number"},
            {"# pid 4242", "# pid -4242", "line 3: bad number"},
            {"# start_time 98765", "# start_time 99999999999999999999999", "line 4: bad number"},
            {"# target web\n", "# target \n", "line 2: expected"},
            {"# target web\n", "# target w\teb\n", "line 2: bad target"},
            {"# time ", "# tim ", "line 5: expected '# time"},
            {"# regions", "# Regions", "line 6: expected '# regions"},
            {"# checksum ", "# checksum ABC", "line 8: '# checksum' is not 16"},
        };
        for (const auto &c : cases) {
                std::string bad = good;
                size_t at = bad.find(c.from);
                ASSERT_NE(std::string::npos, at) << c.from;
                bad.replace(at, strlen(c.from), c.to);
                WriteFile(FullPath(full), bad);
                EXPECT_EQ(1, Verify(dir_)) << c.to;
                EXPECT_TRUE(AnyContains(reports_, FullPath(full) + ": " + c.why)) << c.to << "\n"
                                                                                  << Join(reports_);
        }
}

// Format 2: what the kernel-driven capture adds to a chain.

// An event as the capture reports one; path given raw.
struct Ev {
        capture_event ev{};
        std::string path;

        Ev(const char *time, uint64_t seq, capture_op op, uint64_t addr = 0, uint64_t len = 0,
           uint32_t prot = 0, const std::string &p = "") {
                snprintf(ev.time, sizeof(ev.time), "%s", time);
                ev.seq = seq;
                ev.op = op;
                ev.pid = 4242;
                ev.tid = 4242;
                ev.addr = addr;
                ev.len = len;
                ev.prot = prot;
                path = p;
        }
        const capture_event &Get() {
                ev.path = path.empty() ? nullptr : path.data();
                ev.path_len = path.size();
                return ev;
        }
};

std::vector<capture_event> Events(std::vector<Ev> &v) {
        std::vector<capture_event> out;
        for (auto &e : v)
                out.push_back(e.Get());
        return out;
}

std::string Format(const capture_event &ev) {
        std::string buf(backup_event_line_max(ev.path_len), '\0');
        int n = backup_event_format(&ev, &buf[0]);
        EXPECT_GT(n, 0);
        buf.resize(n > 0 ? n : 0);
        return buf;
}

void CollectEvent(void *user, const backup_event_item *item) {
        auto *v = static_cast<std::vector<std::string> *>(user);
        if (!item->ev) {
                v->push_back("lost " + std::to_string(item->lost) + " " + item->file);
                return;
        }
        std::string line = Format(*item->ev);
        v->push_back(line.substr(0, line.size() - 1));
}

TEST(BackupEvent, LineIsExactAndRoundTrips) {
        Ev mm("20261125T183328.123456Z", 17, CAPTURE_OP_MMAP, 0, 0x1000, 7);
        mm.ev.flags = 0x22;
        EXPECT_EQ("! 20261125T183328.123456Z 17 mmap 4242/4242 0 1000 rwx 22 0 0 00:00 0 -\n",
                  Format(mm.Get()));

        // Every control byte, DEL and '\\' escaped; other bytes (UTF-8, 0xff,
        // spaces) as they are.
        std::string hostile = "/tmp/a\nb\tc\\d\x7f e\xff\xc3\xa9 (deleted)";
        Ev f("20261125T183328.123457Z", 18, CAPTURE_OP_MMAP, 0x7f0000000000, 0x2000, 5, hostile);
        f.ev.pid = 1;
        f.ev.tid = 99;
        f.ev.flags = 0x2;
        f.ev.arg = 0x3000;
        f.ev.dev_major = 8;
        f.ev.dev_minor = 0x12345;
        f.ev.ino = 173521;
        f.ev.prot = 5 | 0x1000000;
        std::string line = Format(f.Get());
        EXPECT_EQ(
            "! 20261125T183328.123457Z 18 mmap 1/99 7f0000000000 2000 r-x+1000000 2 3000 0 08:12345 173521 "
            "/tmp/a\\012b\\011c\\134d\\177 e\xff\xc3\xa9 (deleted)\n",
            line);
        std::vector<char> pbuf(line.size());
        capture_event back;
        const char *why = "";
        ASSERT_EQ(0, backup_event_parse(line.data(), line.size() - 1, &back, pbuf.data(), &why)) << why;
        EXPECT_EQ(hostile, std::string(back.path, back.path_len));
        EXPECT_EQ(Format(back), line);

        // A cut path keeps its tail behind "...".
        Ev cut("20261125T183328.123457Z", 18, CAPTURE_OP_MMAP, 0, 1, 0, "ong/tail");
        cut.ev.path_cut = true;
        line = Format(cut.Get());
        EXPECT_NE(std::string::npos, line.find(" ...ong/tail\n"));
        pbuf.resize(line.size());
        ASSERT_EQ(0, backup_event_parse(line.data(), line.size() - 1, &back, pbuf.data(), &why)) << why;
        EXPECT_TRUE(back.path_cut);
        EXPECT_EQ("ong/tail", std::string(back.path, back.path_len));

        // What cannot be written unambiguously is refused.
        Ev rel("20261125T183328.123457Z", 18, CAPTURE_OP_MMAP, 0, 1, 0, "relative");
        char out[1024];
        EXPECT_EQ(-EINVAL, backup_event_format(&rel.Get(), out));
        Ev bad_op("20261125T183328.123457Z", 1, (capture_op)CAPTURE_OP_COUNT);
        EXPECT_EQ(-EINVAL, backup_event_format(&bad_op.Get(), out));
        Ev bad_time("2026", 1, CAPTURE_OP_BRK);
        EXPECT_EQ(-EINVAL, backup_event_format(&bad_time.Get(), out));
}

TEST(BackupEvent, OnlyTheCanonicalSpellingIsRead) {
        const std::string good =
            "! 20261125T183328.123456Z 17 mmap 4242/4243 7f00 1000 rw- 22 0 0 08:02 99 /x";
        std::vector<char> pbuf(good.size() + 64);
        capture_event ev;
        const char *why = "";
        ASSERT_EQ(0, backup_event_parse(good.data(), good.size(), &ev, pbuf.data(), &why)) << why;
        struct {
                const char *from, *to;
        } bad[] = {
            {" 17 ", " 017 "},
            {" 17 ", " +17 "},
            {" 17 ", "  17 "},
            {"mmap", "MMAP"},
            {"mmap", "mapp"},
            {"4242/4243", "4242"},
            {"4242/4243", "0/4243"},
            {"4242/4243", "4242/-1"},
            {"7f00", "7F00"},
            {"7f00", "0x7f00"},
            {" 1000 ", " 01000 "},
            {"rw-", "rw"},
            {"rw-", "rwz"},
            {"rw-", "rw-+0"},
            {"rw-", "rw-+4"},
            {"rw-", "rw-+010"},
            {" 22 ", " 022 "},
            {"08:02", "8:02"},
            {"08:02", "08:2"},
            {"08:02", "1000:02"},
            {" 99 ", " 099 "},
            {"/x", "x"},
            {"/x", ""},
            {"/x", "/a\\101"},
            {"/x", "/a\\01"},
            {"/x", "/a\tb"},
            {"/x", "/a\\400"},
            {"20261125T183328.123456Z", "2026-11-25T18:33:28Z"},
            {"! ", "!"},
        };
        for (const auto &b : bad) {
                std::string l = good;
                size_t at = l.find(b.from);
                ASSERT_NE(std::string::npos, at) << b.from;
                l.replace(at, strlen(b.from), b.to);
                pbuf.assign(l.size() + 64, 0);
                EXPECT_EQ(-EINVAL, backup_event_parse(l.data(), l.size(), &ev, pbuf.data(), &why)) << l;
        }
}

// The chain of a process watched by the eBPF capture: seq, events, lost.
class CapturedTest : public BackupTest {
      protected:
        std::string WriteFullCap(const Snap &s, const backup_capture &cap) {
                char name[BACKUP_NAME_SIZE];
                EXPECT_EQ(0, backup_write_full_captured(&st_, &info_, &s.s, &cap, name));
                return name;
        }
        std::string WriteDiffCap(const Snap &old, const Snap &cur, const backup_capture &cap) {
                char name[BACKUP_NAME_SIZE];
                EXPECT_GE(diff_compute(&old.s, &cur.s, &d_), 0);
                EXPECT_EQ(0, backup_write_diff_captured(&st_, &info_, &old.s, &cur.s, &d_, &cap, name));
                return name;
        }
        int Events(const char *from, const char *to, std::vector<std::string> *out) {
                reports_.clear();
                return backup_events(dir_.c_str(), from, to, CollectEvent, Collect, out);
        }
};

TEST_F(CapturedTest, EventsSeqAndLostGoInTheChain) {
        std::vector<std::string> texts = Timeline();
        Snap a(texts[0]), b(texts[1]);
        std::vector<Ev> e0 = {
            {"20261125T183328.000001Z", 1, CAPTURE_OP_EXECVE},
            {"20261125T183328.000002Z", 2, CAPTURE_OP_MMAP, 0, 0x52000, 5, "/usr/bin/prog"}};
        std::vector<capture_event> v0 = ::Events(e0);
        backup_capture c0 = {true, 2, 0, v0.data(), v0.size()};
        std::string full = WriteFullCap(a, c0);
        std::string ftext = ReadFile(FullPath(full));
        EXPECT_NE(std::string::npos, ftext.find("# time " + TsOf(full) + "\n# seq 2\n# regions 4\n"))
            << ftext;
        EXPECT_NE(
            std::string::npos,
            ftext.find("# events 2\n! 20261125T183328.000001Z 1 execve 4242/4242 0 0 --- 0 0 0 00:00 0 -\n"));

        // A short-lived rwx page: mapped and unmapped between two reads.
        std::vector<Ev> e1 = {{"20261125T183329.000001Z", 3, CAPTURE_OP_MMAP, 0, 0x1000, 7},
                              {"20261125T183329.000002Z", 3, CAPTURE_OP_ADDR, 0x7f0000001000, 0x1000},
                              {"20261125T183329.000003Z", 4, CAPTURE_OP_MUNMAP, 0x7f0000001000, 0x1000}};
        std::vector<capture_event> v1 = ::Events(e1);
        backup_capture c1 = {true, 4, 2, v1.data(), v1.size()};
        ASSERT_EQ(0, diff_compute(&a.s, &a.s, &d_));
        char name[BACKUP_NAME_SIZE];
        // No change and no event, no file; events alone make one.
        backup_capture none = {true, 4, 0, nullptr, 0};
        EXPECT_EQ(-ENODATA, backup_write_diff_captured(&st_, &info_, &a.s, &a.s, &d_, &none, name));
        ASSERT_EQ(0, backup_write_diff_captured(&st_, &info_, &a.s, &a.s, &d_, &c1, name));
        std::string only = ReadFile(DiffPath(name));
        EXPECT_NE(std::string::npos, only.find("# seq 4\n"));
        EXPECT_NE(std::string::npos, only.find("# records 0\n# lost 2\n# events 3\n! "));
        EXPECT_EQ(only.size() - 6, only.rfind("# end\n"));

        std::vector<Ev> e2 = {{"20261125T183330.000001Z", 5, CAPTURE_OP_MMAP, 0, 0x100000, 3}};
        std::vector<capture_event> v2 = ::Events(e2);
        backup_capture c2 = {true, 5, 0, v2.data(), v2.size()};
        std::string last = WriteDiffCap(a, b, c2);

        std::string text;
        ASSERT_EQ(0, Replay(nullptr, &text)) << Join(reports_);
        EXPECT_EQ(texts[1], text);
        ASSERT_EQ(0, Replay(TsOf(name).c_str(), &text)) << Join(reports_);
        EXPECT_EQ(texts[0], text);
        EXPECT_EQ(0, Verify(dir_)) << Join(reports_);
        EXPECT_EQ("ok " + FullPath(full) + ": 2 diffs", reports_.at(0));

        std::vector<std::string> got;
        ASSERT_EQ(0, Events(nullptr, nullptr, &got)) << Join(reports_);
        ASSERT_EQ(7u, got.size()) << Join(got);
        EXPECT_EQ(Format(v0[1]), got[1] + "\n");
        EXPECT_EQ("lost 2 incremental/" + std::string(name), got[2]);
        EXPECT_EQ(Format(v1[2]), got[5] + "\n");
        // A range keeps the events in it; the lost count of a file goes
        // with the interval since the file before it (written now, after
        // the range).
        got.clear();
        ASSERT_EQ(0, Events("20261125T183329.000002Z", "20261125T183329.000003Z", &got));
        ASSERT_EQ(2u, got.size()) << Join(got);
        EXPECT_EQ(Format(v1[1]), got[0] + "\n");
        EXPECT_EQ(Format(v1[2]), got[1] + "\n");
}

TEST_F(CapturedTest, RefusesWhatCannotBeReadBack) {
        Snap a(Timeline()[0]), b(Timeline()[1]);
        char name[BACKUP_NAME_SIZE];
        ASSERT_EQ(0, diff_compute(&a.s, &a.s, &d_));
        std::vector<Ev> rwx = {{"20261125T183329.000001Z", 3, CAPTURE_OP_MMAP, 0, 0x1000, 7}};
        std::vector<capture_event> v = ::Events(rwx);
        backup_capture cap = {true, 3, 0, v.data(), v.size()};
        // Events alone say the state did not change.
        ASSERT_GT(diff_compute(&a.s, &b.s, &d_), 0);
        d_.n = 0;
        EXPECT_EQ(-EINVAL, backup_write_diff_captured(&st_, &info_, &a.s, &b.s, &d_, &cap, name));
        // An event after the file's seq, events out of order, a bad event.
        cap.seq = 2;
        EXPECT_EQ(-EINVAL, backup_write_full_captured(&st_, &info_, &a.s, &cap, name));
        std::vector<Ev> back = {{"20261125T183329.000002Z", 3, CAPTURE_OP_MMAP},
                                {"20261125T183329.000001Z", 3, CAPTURE_OP_MUNMAP}};
        v = ::Events(back);
        cap = {false, 0, 0, v.data(), v.size()};
        EXPECT_EQ(-EINVAL, backup_write_full_captured(&st_, &info_, &a.s, &cap, name));
        back[1].ev.seq = 2;
        snprintf(back[1].ev.time, TS_SIZE, "20261125T183329.000003Z");
        v = ::Events(back);
        cap = {false, 0, 0, v.data(), v.size()};
        EXPECT_EQ(-EINVAL, backup_write_full_captured(&st_, &info_, &a.s, &cap, name));
        v[0].pid = 0;
        v[1].seq = 3;
        EXPECT_EQ(-EINVAL, backup_write_full_captured(&st_, &info_, &a.s, &cap, name));
        EXPECT_TRUE(ListDir(dir_ + "/full").empty());
        EXPECT_TRUE(ListDir(dir_ + "/incremental").empty());
}

// A copy of a chain folder of tests/testdata (its runfiles are symlinks,
// which the readers refuse to follow).
std::string CopyFixture(const std::string &name, const std::string &to) {
        const char *srcdir = getenv("TEST_SRCDIR");
        const char *ws = getenv("TEST_WORKSPACE");
        std::string from =
            std::string(srcdir ? srcdir : ".") + "/" + (ws ? ws : "memmon") + "/tests/testdata/" + name;
        for (const char *sub : {"full", "incremental"}) {
                mkdir(to.c_str(), 0700);
                mkdir((to + "/" + sub).c_str(), 0700);
                for (const auto &n : ListDir(from + "/" + sub))
                        WriteFile(to + "/" + sub + "/" + n, ReadFile(from + "/" + sub + "/" + n));
        }
        return to;
}

TEST_F(CapturedTest, Version1ChainsAreStillRead) {
        std::string v1 = CopyFixture("chain_v1", base_ + "/v1");
        std::string v2 = CopyFixture("chain_v2", base_ + "/v2");
        EXPECT_EQ(0, Verify(v1)) << Join(reports_);
        EXPECT_TRUE(
            AnyContains(reports_, "ok " + v1 + "/full/backup_1234_20261125T183328.123456Z.maps: 3 diffs"))
            << Join(reports_);
        EXPECT_EQ(0, Verify(v2)) << Join(reports_);
        EXPECT_TRUE(AnyContains(reports_, ": 4 diffs")) << Join(reports_);
        // The same process, recorded in both formats: the same maps at every
        // moment the first one names.
        for (const char *at : {"20261125T183328.123456Z", "20261125T183329.000001Z",
                               "20261125T183330.000002Z", "20261125T183331.000003Z"}) {
                Snap o1, o2;
                ASSERT_EQ(0, backup_replay(v1.c_str(), at, &o1.s, nullptr, nullptr)) << at;
                ASSERT_EQ(0, backup_replay(v2.c_str(), at, &o2.s, nullptr, nullptr)) << at;
                EXPECT_EQ(o1.Text(), o2.Text()) << at;
        }
        std::vector<std::string> got;
        ASSERT_EQ(0, backup_events(v1.c_str(), nullptr, nullptr, CollectEvent, Collect, &got));
        EXPECT_TRUE(got.empty());
        ASSERT_EQ(0, backup_events(v2.c_str(), nullptr, nullptr, CollectEvent, Collect, &got));
        ASSERT_EQ(13u, got.size()) << Join(got);
        EXPECT_TRUE(AnyContains(got, "lost 1 incremental/diff_1234_20261125T183330.500000Z.diff"));
        EXPECT_TRUE(
            AnyContains(got, " 14 mmap 1234/1240 0 1000 r-x 2 0 0 08:02 99 /tmp/evil\\012name \\134 \\177x"));
}

TEST_F(CapturedTest, HostileEventLinesAreNamed) {
        std::string v2 = CopyFixture("chain_v2", base_ + "/v2");
        const std::string file = v2 + "/incremental/diff_1234_20261125T183330.500000Z.diff";
        const std::string good = ReadFile(file);
        struct {
                const char *from, *to, *why;
        } cases[] = {
            {"# events 3", "# events 4", "line 11: events says 4, the file has 3"},
            {"# events 3", "# events 2", "line 11: more event lines than the 2 the header says"},
            {"# events 3", "# events 0", "line 11: '# events 0' is written as no line at all"},
            {"# lost 1", "# lost 0", "line 10: '# lost 0' is written as no line at all"},
            {"# seq 12", "# seq 11", "line 14: event seq 12 is after the file's seq 11"},
            {"# seq 12", "# seq 8", "line 6: seq 8 is before the chain's 9"},
            {" 11 addr", " 10 addr", "line 13: event out of order"},
            {"T183330.100100Z 11 addr", "T183330.000100Z 11 addr", "line 13: event out of order"},
            {"T183330.100000Z 11 mmap", "T183329.000000Z 11 mmap", "line 12: event out of order"},
            {"rwx 22", "rwX 22", "line 12: bad protections in an event"},
            {"1234/1234 7f0000001000 1000 --- 0 0 0 00:00 0 -\n# end",
             "1234/1234 7f0000001000 1000 --- 0 0 0 00:00 0 x\n# end", "line 14: bad path in an event"},
            {"# records 0\n", "# records 1\n", "line 9: records says 1, the file has 0"},
        };
        for (const auto &c : cases) {
                std::string bad = good;
                size_t at = bad.find(c.from);
                ASSERT_NE(std::string::npos, at) << c.from;
                bad.replace(at, strlen(c.from), c.to);
                WriteFile(file, bad);
                EXPECT_EQ(1, Verify(v2)) << c.to;
                EXPECT_TRUE(AnyContains(reports_, file + ": " + c.why)) << c.to << "\n" << Join(reports_);
        }
        // A diff of format 2 with neither record nor event is not one the
        // writer makes.
        std::string empty = good.substr(0, good.find("# lost")) + "# end\n";
        WriteFile(file, empty);
        EXPECT_EQ(1, Verify(v2));
        EXPECT_TRUE(AnyContains(reports_, file + ": line 9: a diff with no record and no event"))
            << Join(reports_);
}

} // namespace
