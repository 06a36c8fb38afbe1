// Unit tests of the alert rules (core/alerts.h) on made-up snapshots, with
// the file system and the process's memory answered by a fake (FakeFs), and
// of the real answers (alert_sysfs) on files this test makes.
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "core/alerts.h"
#include "core/alerts_fs.h"
#include "core/alerts_int.h"
#include "core/alloc.h"
#include "core/diff.h"
#include "core/json.h"
#include "core/maps.h"
#include "tests/kernel_line.h"

namespace {

using memmon_test::KernelLine;
using memmon_test::Snap;

constexpr uint64_t kPage = 4096;
constexpr uid_t kUser = 1000; // the process's own user in most tests
constexpr uint32_t kOther = 1001;

// What the fake file system knows: files by path, mappings by address,
// groups, and the bytes of files and of the process.
struct FakeFs {
        std::map<std::string, alert_stat> files;
        std::map<uint64_t, alert_stat> mapped; // by region start
        bool map_files_allowed = true;
        std::set<uint32_t> groups_with_others;
        std::map<std::string, std::string> contents; // file bytes by path
        std::map<uint64_t, std::string> memory;      // bytes by region start
        std::map<int, std::string> open_files;       // handle -> path
        int next_handle = 3;
        // Counters, to prove what was (not) asked.
        int begins = 0, ends = 0, path_stats = 0, mapped_stats = 0, mem_reads = 0;
        std::vector<std::string> looked_up;

        static FakeFs *Of(void *ctx) {
                return static_cast<FakeFs *>(ctx);
        }
        static void Begin(void *ctx, const alert_proc *) {
                Of(ctx)->begins++;
        }
        static void End(void *ctx) {
                Of(ctx)->ends++;
        }
        static int MappedStat(void *ctx, const alert_proc *, uint64_t start, uint64_t, alert_stat *ret) {
                FakeFs *fs = Of(ctx);
                fs->mapped_stats++;
                if (!fs->map_files_allowed)
                        return -EPERM;
                auto it = fs->mapped.find(start);
                if (it == fs->mapped.end())
                        return -ENOENT;
                *ret = it->second;
                return 0;
        }
        static int PathStat(void *ctx, const alert_proc *, const char *path, alert_stat *ret) {
                FakeFs *fs = Of(ctx);
                fs->path_stats++;
                fs->looked_up.push_back(path);
                auto it = fs->files.find(path);
                if (it == fs->files.end())
                        return -ENOENT;
                *ret = it->second;
                return 0;
        }
        static int GroupHasOthers(void *ctx, const alert_proc *, uint32_t gid, uint32_t) {
                return Of(ctx)->groups_with_others.count(gid) ? 1 : 0;
        }
        static int OpenMapped(void *ctx, const alert_proc *, uint64_t, uint64_t, const char *path, uint32_t,
                              uint32_t, uint64_t) {
                FakeFs *fs = Of(ctx);
                if (!fs->contents.count(path))
                        return -ENOENT;
                fs->open_files[fs->next_handle] = path;
                return fs->next_handle++;
        }
        static ssize_t ReadFile(void *ctx, int h, void *buf, size_t len, uint64_t off) {
                const std::string &c = Of(ctx)->contents[Of(ctx)->open_files[h]];
                if (off >= c.size())
                        return 0;
                size_t n = std::min(len, c.size() - (size_t)off);
                memcpy(buf, c.data() + off, n);
                return (ssize_t)n;
        }
        static void CloseFile(void *ctx, int h) {
                Of(ctx)->open_files.erase(h);
        }
        static ssize_t ReadMem(void *ctx, const alert_proc *, uint64_t addr, void *buf, size_t len) {
                FakeFs *fs = Of(ctx);
                fs->mem_reads++;
                auto it = fs->memory.upper_bound(addr);
                if (it == fs->memory.begin())
                        return -EFAULT;
                --it;
                uint64_t off = addr - it->first;
                if (off >= it->second.size())
                        return -EFAULT;
                size_t n = std::min(len, it->second.size() - (size_t)off);
                memcpy(buf, it->second.data() + off, n);
                return (ssize_t)n;
        }
};

const alert_fs_ops kFakeOps = {
    FakeFs::Begin,      FakeFs::End,      FakeFs::MappedStat, FakeFs::PathStat, FakeFs::GroupHasOthers,
    FakeFs::OpenMapped, FakeFs::ReadFile, FakeFs::CloseFile,  FakeFs::ReadMem,
};

alert_stat File(uint64_t ino, uint32_t mode = S_IFREG | 0755, uint32_t uid = 0, uint32_t gid = 0,
                uint64_t nlink = 1, uint32_t major = 8, uint32_t minor = 1) {
        alert_stat st{};
        st.dev_major = major;
        st.dev_minor = minor;
        st.ino = ino;
        st.mode = mode;
        st.uid = uid;
        st.gid = gid;
        st.nlink = nlink;
        return st;
}

alert_stat Dir(uint32_t mode = 0755, uint32_t uid = 0, uint32_t gid = 0) {
        return File(2, S_IFDIR | mode, uid, gid);
}

struct Event {
        alert_change change;
        std::string rule;
        uint64_t start;
        std::string line, path, reason;
};

// One process followed through the rules, with the fake file system.
class AlertsTest : public ::testing::Test {
      protected:
        void SetUp() override {
                ASSERT_EQ(0, alert_state_new(&kFakeOps, &fs_, &st_));
                alert_events_init(&ev_);
                diff_init(&diff_);
                // A normal system: root-owned folders, 0755.
                for (const char *d : {"/", "/usr", "/usr/lib", "/opt", "/opt/app", "/home", "/home/u"})
                        fs_.files[d] = Dir();
                fs_.files["/home/u"] = Dir(0755, kUser, kUser);
        }
        void TearDown() override {
                alert_state_free(st_);
                alert_events_fini(&ev_);
                diff_fini(&diff_);
        }

        // Sets a policy key, failing the test on error.
        void Set(const std::string &key, const std::string &value) {
                alert_policy p;
                alert_policy_init(&p);
                ASSERT_EQ(0, alert_policy_copy(&p, alerts_policy(st_)));
                char why[256] = "";
                ASSERT_EQ(0, alert_policy_set(&p, key.c_str(), value.c_str(), why, sizeof(why))) << why;
                last_ = alerts_set_policy(st_, &p, attached_ ? &cur_->s : nullptr, now_, &ev_);
                alert_policy_fini(&p);
        }

        std::vector<Event> Take() {
                std::vector<Event> v;
                for (size_t i = 0; i < ev_.n; i++) {
                        const alert_event &e = ev_.v[i];
                        v.push_back({e.change, alert_rule_info(e.rule)->name, e.start,
                                     std::string(alert_event_line(&ev_, &e), e.line_len),
                                     std::string(alert_event_path(&ev_, &e), e.path_len),
                                     std::string(alert_event_reason(&ev_, &e), e.reason_len)});
                }
                alert_events_reset(&ev_);
                return v;
        }

        // The first snapshot of a process; the one before, if any, is
        // forgotten without events.
        std::vector<Event> First(const std::vector<std::string> &lines, uid_t uid = kUser) {
                alerts_forget(st_);
                cur_.reset(new Snap(lines));
                alert_proc p = {4242, 777, uid};
                last_ = alerts_first(st_, &p, &cur_->s, now_, &ev_);
                EXPECT_GE(last_, 0);
                attached_ = true;
                return Take();
        }

        // The next snapshot: diffed against the current one.
        std::vector<Event> Next(const std::vector<std::string> &lines) {
                std::unique_ptr<Snap> next(new Snap(lines));
                EXPECT_GE(diff_compute(&cur_->s, &next->s, &diff_), 0);
                last_ = alerts_change(st_, &cur_->s, &next->s, &diff_, now_, &ev_);
                EXPECT_GE(last_, 0);
                cur_ = std::move(next);
                return Take();
        }

        std::vector<Event> Tick() {
                last_ = alerts_tick(st_, &cur_->s, now_, &ev_);
                EXPECT_GE(last_, 0);
                return Take();
        }

        std::vector<std::string> ActiveRules() {
                std::vector<std::string> v;
                for (size_t i = 0; i < alerts_active_count(st_); i++)
                        v.push_back(alert_rule_info(alerts_active_get(st_, i)->rule)->name);
                return v;
        }

        FakeFs fs_;
        alert_state *st_ = nullptr;
        alert_events ev_;
        diff diff_;
        std::unique_ptr<Snap> cur_;
        bool attached_ = false;
        uint64_t now_ = 1000000000;
        int last_ = 0;
};

// The lines of an ordinary process: a program, libc, heap, stack, vdso.
std::vector<std::string> Ordinary() {
        return {
            KernelLine(0x400000, 0x401000, "r--p", 0, 8, 1, 100, "/usr/bin/prog"),
            KernelLine(0x401000, 0x402000, "r-xp", 0x1000, 8, 1, 100, "/usr/bin/prog"),
            KernelLine(0x402000, 0x403000, "rw-p", 0x2000, 8, 1, 100, "/usr/bin/prog"),
            KernelLine(0x1000000, 0x1021000, "rw-p", 0, 0, 0, 0, "[heap]"),
            KernelLine(0x7f0000000000, 0x7f0000001000, "r--p", 0, 8, 1, 200, "/usr/lib/libc.so.6"),
            KernelLine(0x7f0000001000, 0x7f0000010000, "r-xp", 0x1000, 8, 1, 200, "/usr/lib/libc.so.6"),
            KernelLine(0x7f0000010000, 0x7f0000011000, "rw-p", 0x10000, 8, 1, 200, "/usr/lib/libc.so.6"),
            KernelLine(0x7ffc00000000, 0x7ffc00021000, "rw-p", 0, 0, 0, 0, "[stack]"),
            KernelLine(0x7ffc00100000, 0x7ffc00102000, "r-xp", 0, 0, 0, 0, "[vdso]"),
            KernelLine(0xffffffffff600000, 0xffffffffff601000, "--xp", 0, 0, 0, 0, "[vsyscall]"),
        };
}

void AddOrdinaryFiles(FakeFs *fs) {
        fs->files["/usr/bin"] = Dir();
        fs->files["/usr/bin/prog"] = File(100);
        fs->files["/usr/lib/libc.so.6"] = File(200);
        fs->mapped[0x401000] = File(100);
        fs->mapped[0x7f0000001000] = File(200);
}

std::vector<std::string> With(std::vector<std::string> lines, const std::string &extra) {
        lines.push_back(extra);
        // Keep them in address order, as the kernel prints them.
        std::sort(lines.begin(), lines.end(), [](const std::string &a, const std::string &b) {
                return strtoull(a.c_str(), nullptr, 16) < strtoull(b.c_str(), nullptr, 16);
        });
        return lines;
}

TEST_F(AlertsTest, OrdinaryProcessRaisesNothing) {
        AddOrdinaryFiles(&fs_);
        EXPECT_TRUE(First(Ordinary()).empty());
        EXPECT_EQ(0u, alerts_active_count(st_));
        // Only the executable file mappings were looked up.
        for (const auto &p : fs_.looked_up)
                EXPECT_TRUE(p == "/usr/bin/prog" || p == "/usr/lib/libc.so.6" || p == "/usr/bin" ||
                            p == "/usr" || p == "/usr/lib" || p == "/")
                    << p;
}

TEST_F(AlertsTest, WxRaisedOnceAndClearedWhenUnmapped) {
        AddOrdinaryFiles(&fs_);
        First(Ordinary());
        std::string rwx = KernelLine(0x7f1000000000, 0x7f1000001000, "rwxp");
        auto ev = Next(With(Ordinary(), rwx));
        // One finding: wx speaks for the anonymous rwx region.
        ASSERT_EQ(1u, ev.size());
        EXPECT_EQ(ALERT_RAISED, ev[0].change);
        EXPECT_EQ("wx", ev[0].rule);
        EXPECT_EQ(rwx, ev[0].line);
        EXPECT_EQ("", ev[0].path);
        EXPECT_NE(std::string::npos, ev[0].reason.find("writable and executable"));
        // It grows, then becomes r-x: still the same region, no new alert.
        EXPECT_TRUE(Next(With(Ordinary(), KernelLine(0x7f1000000000, 0x7f1000003000, "rwxp"))).empty());
        EXPECT_TRUE(Next(With(Ordinary(), KernelLine(0x7f1000000000, 0x7f1000003000, "r-xp"))).empty());
        EXPECT_EQ(std::vector<std::string>{"wx"}, ActiveRules());
        ev = Next(Ordinary());
        ASSERT_EQ(1u, ev.size());
        EXPECT_EQ(ALERT_CLEARED, ev[0].change);
        EXPECT_EQ("wx", ev[0].rule);
        EXPECT_EQ(rwx, ev[0].line); // the line it was raised with
        EXPECT_EQ("region unmapped", ev[0].reason);
        EXPECT_EQ(0u, alerts_active_count(st_));
        // Mapped again: a new region, a new alert.
        EXPECT_EQ(1u, Next(With(Ordinary(), rwx)).size());
}

TEST_F(AlertsTest, AnonExecForRwToRxAndNamedAnonymousMemory) {
        AddOrdinaryFiles(&fs_);
        First(Ordinary());
        std::string rw = KernelLine(0x7f2000000000, 0x7f2000002000, "rw-p");
        EXPECT_TRUE(Next(With(Ordinary(), rw)).empty());
        auto ev = Next(With(Ordinary(), KernelLine(0x7f2000000000, 0x7f2000002000, "r-xp")));
        ASSERT_EQ(1u, ev.size());
        EXPECT_EQ("anon_exec", ev[0].rule);
        EXPECT_EQ(0x7f2000000000u, ev[0].start);
        for (const char *name : {"[heap]", "[stack]", "[anon:jit]", "/dev/zero (deleted)"}) {
                SCOPED_TRACE(name);
                First(Ordinary());
                ev = Next(
                    With(Ordinary(), KernelLine(0x7f3000000000, 0x7f3000001000, "r-xp", 0, 0, 0, 0, name)));
                ASSERT_EQ(1u, ev.size());
                EXPECT_EQ("anon_exec", ev[0].rule);
        }
}

TEST_F(AlertsTest, KernelRegionsNeverAlert) {
        std::vector<std::string> v = {
            KernelLine(0xffff0000, 0xffff1000, "r-xp", 0, 0, 0, 0, "[vectors]"),
            KernelLine(0x7ffc00100000, 0x7ffc00102000, "r-xp", 0, 0, 0, 0, "[vdso]"),
            KernelLine(0x7ffc00200000, 0x7ffc00201000, "r-xp", 0, 0, 0, 0, "[uprobes]"),
            KernelLine(0xffffffffff600000, 0xffffffffff601000, "--xp", 0, 0, 0, 0, "[vsyscall]"),
        };
        EXPECT_TRUE(First(v).empty());
}

TEST_F(AlertsTest, MemfdShmAndSysvAreMemfdExecOnly) {
        for (const char *path : {"/memfd:payload (deleted)", "/dev/shm/x", "/SYSV00001234 (deleted)"}) {
                SCOPED_TRACE(path);
                AddOrdinaryFiles(&fs_);
                First(Ordinary());
                auto ev = Next(
                    With(Ordinary(), KernelLine(0x7f4000000000, 0x7f4000001000, "r-xp", 0, 0, 1, 77, path)));
                ASSERT_EQ(1u, ev.size());
                EXPECT_EQ("memfd_exec", ev[0].rule);
                EXPECT_EQ(path, ev[0].path);
        }
        // Not executable: nothing.
        First(Ordinary());
        EXPECT_TRUE(Next(With(Ordinary(), KernelLine(0x7f4000000000, 0x7f4000001000, "rw-s", 0, 0, 1, 77,
                                                     "/memfd:data (deleted)")))
                        .empty());
}

TEST_F(AlertsTest, DeletedLibrary) {
        AddOrdinaryFiles(&fs_);
        First(Ordinary());
        // An upgrade renamed a new libc over the old one: the old inode has
        // no name left.
        fs_.mapped[0x7f0000001000] = File(200, S_IFREG | 0755, 0, 0, 0);
        fs_.files["/usr/lib/libc.so.6"] = File(201);
        std::vector<std::string> after = Ordinary();
        for (auto &l : after)
                if (l.find("libc.so.6") != std::string::npos)
                        l += " (deleted)";
        auto ev = Next(after);
        ASSERT_EQ(1u, ev.size()); // the executable mapping only
        EXPECT_EQ("deleted_exec", ev[0].rule);
        EXPECT_EQ(0x7f0000001000u, ev[0].start);
        EXPECT_NE(std::string::npos, ev[0].reason.find("runs code no longer on disk: restart it"));
        EXPECT_EQ("/usr/lib/libc.so.6 (deleted)", ev[0].path);
}

TEST_F(AlertsTest, DeletedWithoutMapFiles) {
        fs_.map_files_allowed = false;
        // Gone from its path, and maps says so.
        auto ev = First({KernelLine(0x10000, 0x11000, "r-xp", 0, 8, 1, 300, "/opt/app/lib.so (deleted)")});
        ASSERT_EQ(1u, ev.size());
        EXPECT_EQ("deleted_exec", ev[0].rule);
        // A file whose real name ends in " (deleted)" is not deleted.
        fs_.files["/opt/app/x (deleted)"] = File(301);
        EXPECT_TRUE(
            First({KernelLine(0x10000, 0x11000, "r-xp", 0, 8, 1, 301, "/opt/app/x (deleted)")}).empty());
}

TEST_F(AlertsTest, ReplacedOnDiskWithoutDeletedMark) {
        // Another file at the path (a hard link kept the old one alive).
        fs_.files["/opt/app/lib.so"] = File(401);
        fs_.mapped[0x10000] = File(400);
        auto ev = First({KernelLine(0x10000, 0x11000, "r-xp", 0, 8, 1, 400, "/opt/app/lib.so")});
        ASSERT_EQ(1u, ev.size());
        EXPECT_EQ("deleted_exec", ev[0].rule);
        EXPECT_NE(std::string::npos, ev[0].reason.find("another file is at that path now"));
        // A symlink put in its place counts too.
        fs_.files["/opt/app/lib.so"] = File(402, S_IFLNK | 0777);
        ev = First({KernelLine(0x10000, 0x11000, "r-xp", 0, 8, 1, 400, "/opt/app/lib.so")});
        ASSERT_EQ(1u, ev.size());
        EXPECT_NE(std::string::npos, ev[0].reason.find("symlink"));
}

TEST_F(AlertsTest, NoGuessWhenThePathCannotBeSeen) {
        // No " (deleted)" and nothing at the path: another mount namespace
        // than the one looked in, most likely.  No alert.
        fs_.mapped[0x10000] = File(500);
        EXPECT_TRUE(
            First({KernelLine(0x10000, 0x11000, "r-xp", 0, 8, 1, 500, "/srv/elsewhere/lib.so")}).empty());
}

TEST_F(AlertsTest, SameFileOnAnotherDeviceNumber) {
        // btrfs and overlayfs: stat() gives another device than maps, and
        // map_files settles that it is the same file.
        fs_.files["/opt/app/lib.so"] = File(600, S_IFREG | 0755, 0, 0, 1, 0, 45);
        fs_.mapped[0x10000] = File(600, S_IFREG | 0755, 0, 0, 1, 0, 45);
        EXPECT_TRUE(First({KernelLine(0x10000, 0x11000, "r-xp", 0, 0, 36, 600, "/opt/app/lib.so")}).empty());
}

TEST_F(AlertsTest, NewlineEscapeInPath) {
        // The kernel prints '\n' in a name as "\012".
        fs_.files["/opt/app/a\nb.so"] = File(700);
        fs_.mapped[0x10000] = File(700);
        EXPECT_TRUE(
            First({KernelLine(0x10000, 0x11000, "r-xp", 0, 8, 1, 700, "/opt/app/a\\012b.so")}).empty());
        // A literal "\012" in a name is found too.
        fs_.files["/opt/app/c\\012d.so"] = File(701);
        fs_.mapped[0x10000] = File(701);
        EXPECT_TRUE(
            First({KernelLine(0x10000, 0x11000, "r-xp", 0, 8, 1, 701, "/opt/app/c\\012d.so")}).empty());
}

TEST_F(AlertsTest, WritableExecFile) {
        std::string lib = KernelLine(0x10000, 0x11000, "r-xp", 0, 8, 1, 800, "/opt/app/lib.so");
        fs_.mapped[0x10000] = File(800);
        struct {
                const char *what;
                alert_stat file, dir;
                uid_t proc_uid;
                bool fires;
                const char *says;
        } cases[] = {
            {"root's file, root's folder", File(800), Dir(), kUser, false, ""},
            {"own file", File(800, S_IFREG | 0755, kUser), Dir(), kUser, false, ""},
            {"another user's file", File(800, S_IFREG | 0755, kOther), Dir(), kUser, true,
             "owned by uid 1001"},
            {"another user's file, root process", File(800, S_IFREG | 0755, kUser), Dir(), 0, true,
             "owned by uid 1000"},
            {"world-writable file", File(800, S_IFREG | 0757), Dir(), kUser, true, "writable by everyone"},
            {"world-writable folder", File(800), Dir(0777), kUser, true, "folder /opt/app above it"},
            {"sticky world-writable folder", File(800), Dir(01777), kUser, false, ""},
            {"sticky folder of another user", File(800), Dir(01777, kOther), kUser, true,
             "owned by uid 1001"},
            {"another user's folder", File(800), Dir(0755, kOther), kUser, true, "owned by uid 1001"},
            {"group-writable, lone group", File(800, S_IFREG | 0775, 0, 50), Dir(), kUser, false, ""},
            {"group-writable, shared group", File(800, S_IFREG | 0775, 0, 60), Dir(), kUser, true,
             "group 60"},
            {"group-writable folder", File(800), Dir(0775, 0, 60), kUser, true, "group 60"},
        };
        fs_.groups_with_others = {60};
        for (const auto &c : cases) {
                SCOPED_TRACE(c.what);
                fs_.files["/opt/app/lib.so"] = c.file;
                fs_.files["/opt/app"] = c.dir;
                auto ev = First({lib}, c.proc_uid);
                if (!c.fires) {
                        EXPECT_TRUE(ev.empty()) << ev[0].reason;
                        continue;
                }
                ASSERT_EQ(1u, ev.size());
                EXPECT_EQ("writable_exec_file", ev[0].rule);
                EXPECT_NE(std::string::npos, ev[0].reason.find(c.says)) << ev[0].reason;
        }
        // The root folder counts too.
        fs_.files["/opt/app/lib.so"] = File(800);
        fs_.files["/opt/app"] = Dir();
        fs_.files["/"] = Dir(0777);
        auto ev = First({lib});
        ASSERT_EQ(1u, ev.size());
        EXPECT_NE(std::string::npos, ev[0].reason.find("folder / above")) << ev[0].reason;
}

TEST_F(AlertsTest, NewExecOnlyAfterAttachAndOnlyWhenOn) {
        AddOrdinaryFiles(&fs_);
        std::string plugin =
            KernelLine(0x7f5000000000, 0x7f5000001000, "r-xp", 0, 8, 1, 900, "/opt/app/plugin.so");
        fs_.files["/opt/app/plugin.so"] = File(900);
        First(Ordinary());
        EXPECT_TRUE(Next(With(Ordinary(), plugin)).empty()); // off by default
        Set("new_exec", "on");
        EXPECT_TRUE(Take().empty()); // not retroactive
        Next(Ordinary());
        auto ev = Next(With(Ordinary(), plugin));
        ASSERT_EQ(1u, ev.size());
        EXPECT_EQ("new_exec", ev[0].rule);
        // Present at attach: not new.
        EXPECT_TRUE(First(With(Ordinary(), plugin)).empty());
        // A file mapping that becomes executable is new too.
        std::string ro =
            KernelLine(0x7f5000000000, 0x7f5000001000, "r--p", 0, 8, 1, 900, "/opt/app/plugin.so");
        First(With(Ordinary(), ro));
        ev = Next(With(Ordinary(), plugin));
        ASSERT_EQ(1u, ev.size());
        EXPECT_EQ("new_exec", ev[0].rule);
        // allow_exec keeps it quiet.
        Set("allow_exec", "/opt/app/*");
        First(With(Ordinary(), ro));
        EXPECT_TRUE(Next(With(Ordinary(), plugin)).empty());
}

TEST_F(AlertsTest, AllowExecSilencesEveryRegionRule) {
        Set("allow_exec", "[anon:jit*],/memfd:v8*,/opt/jit/*");
        std::vector<std::string> v = {
            KernelLine(0x10000, 0x11000, "rwxp", 0, 0, 0, 0, "[anon:jit-code]"),
            KernelLine(0x20000, 0x21000, "r-xp", 0, 0, 1, 5, "/memfd:v8-code (deleted)"),
            KernelLine(0x30000, 0x31000, "r-xp", 0, 8, 1, 6, "/opt/jit/gen.so (deleted)"),
        };
        fs_.map_files_allowed = false;
        EXPECT_TRUE(First(v).empty());
        // The brackets of a name are a glob's brackets: [heap] is not
        // matched by the pattern [anon:jit*].
        auto ev = First(With(v, KernelLine(0x40000, 0x41000, "r-xp", 0, 0, 0, 0, "[heap]")));
        ASSERT_EQ(1u, ev.size());
        EXPECT_EQ("anon_exec", ev[0].rule);
}

TEST_F(AlertsTest, RulesOff) {
        Set("wx", "off");
        Set("anon_exec", "off");
        EXPECT_TRUE(First({KernelLine(0x10000, 0x11000, "rwxp")}).empty());
        // wx off, anon_exec on: the anonymous rwx region is anon_exec.
        Set("anon_exec", "on");
        auto ev = Take();
        ASSERT_EQ(1u, ev.size());
        EXPECT_EQ("anon_exec", ev[0].rule);
}

TEST_F(AlertsTest, PolicyChangeAppliesAtOnce) {
        AddOrdinaryFiles(&fs_);
        First(With(Ordinary(), KernelLine(0x7f1000000000, 0x7f1000001000, "rwxp")));
        EXPECT_EQ(std::vector<std::string>{"wx"}, ActiveRules());
        // The same policy again: nothing at all happens.
        int stats = fs_.path_stats;
        Set("wx", "on");
        EXPECT_EQ(0, last_);
        EXPECT_EQ(stats, fs_.path_stats);
        // wx off: cleared; the region is still anonymous and executable.
        Set("wx", "off");
        auto ev = Take();
        ASSERT_EQ(2u, ev.size());
        EXPECT_EQ(ALERT_CLEARED, ev[0].change);
        EXPECT_EQ("wx", ev[0].rule);
        EXPECT_EQ("rule turned off", ev[0].reason);
        EXPECT_EQ(ALERT_RAISED, ev[1].change);
        EXPECT_EQ("anon_exec", ev[1].rule);
        // Allowed: cleared.
        Set("allow_exec", "*");
        ev = Take();
        ASSERT_EQ(1u, ev.size());
        EXPECT_EQ("path allowed by allow_exec", ev[0].reason);
        EXPECT_EQ(0u, alerts_active_count(st_));
}

TEST_F(AlertsTest, SomethingElseMappedAtTheSameAddress) {
        fs_.files["/opt/app/a.so"] = File(11);
        fs_.files["/opt/app/b.so"] = File(12, S_IFREG | 0757);
        fs_.files["/opt/app/a.so"] = File(11, S_IFREG | 0757);
        auto ev = First({KernelLine(0x10000, 0x11000, "r-xp", 0, 8, 1, 11, "/opt/app/a.so")});
        ASSERT_EQ(1u, ev.size());
        ev = Next({KernelLine(0x10000, 0x11000, "r-xp", 0, 8, 1, 12, "/opt/app/b.so")});
        ASSERT_EQ(2u, ev.size());
        EXPECT_EQ(ALERT_CLEARED, ev[0].change);
        EXPECT_EQ("something else is mapped there now", ev[0].reason);
        EXPECT_EQ(ALERT_RAISED, ev[1].change);
        EXPECT_EQ("/opt/app/b.so", ev[1].path);
}

TEST_F(AlertsTest, MaxRegionsRaisedAndReArmed) {
        Set("max_regions", "3");
        std::vector<std::string> three = {KernelLine(0x10000, 0x11000), KernelLine(0x20000, 0x21000),
                                          KernelLine(0x30000, 0x31000)};
        EXPECT_TRUE(First(three).empty());
        auto four = With(three, KernelLine(0x40000, 0x41000));
        auto ev = Next(four);
        ASSERT_EQ(1u, ev.size());
        EXPECT_EQ("max_regions", ev[0].rule);
        EXPECT_EQ(0u, ev[0].start);
        EXPECT_EQ("", ev[0].line);
        EXPECT_NE(std::string::npos, ev[0].reason.find("4 regions, more than max_regions = 3"));
        EXPECT_TRUE(Next(With(four, KernelLine(0x50000, 0x51000))).empty()); // once
        ev = Next(three);
        ASSERT_EQ(1u, ev.size());
        EXPECT_EQ(ALERT_CLEARED, ev[0].change);
        EXPECT_EQ("back within the bound", ev[0].reason);
        EXPECT_EQ(1u, Next(four).size()); // re-armed
}

TEST_F(AlertsTest, MaxMapped) {
        Set("max_mapped", "8K");
        EXPECT_TRUE(First({KernelLine(0x10000, 0x12000)}).empty());
        auto ev = Next({KernelLine(0x10000, 0x13000)}); // grew in place
        ASSERT_EQ(1u, ev.size());
        EXPECT_EQ("max_mapped", ev[0].rule);
        EXPECT_EQ(1u, Next({KernelLine(0x10000, 0x11000)}).size());
        EXPECT_EQ(0u, alerts_active_count(st_));
}

TEST_F(AlertsTest, MaxGrowthWithinItsWindow) {
        Set("max_growth", "64K/1h");
        const uint64_t hour = 3600ULL * 1000000;
        EXPECT_TRUE(First({KernelLine(0x100000, 0x110000)}).empty()); // 64K
        now_ += hour / 4;
        EXPECT_TRUE(Next({KernelLine(0x100000, 0x120000)}).empty()); // +64K: not more than
        now_ += hour / 4;
        auto ev = Next({KernelLine(0x100000, 0x121000)}); // +68K within the hour
        ASSERT_EQ(1u, ev.size());
        EXPECT_EQ("max_growth", ev[0].rule);
        // No change for a while: the window slides past the low point and
        // the rule re-arms on a tick alone.
        now_ += hour / 2;
        EXPECT_TRUE(Tick().empty());
        now_ += hour / 2;
        ev = Tick();
        ASSERT_EQ(1u, ev.size());
        EXPECT_EQ(ALERT_CLEARED, ev[0].change);
        // Slow growth never fires: 32K a half hour.
        for (int i = 0; i < 6; i++) {
                now_ += hour / 2;
                EXPECT_TRUE(Next({KernelLine(0x100000, 0x121000 + 0x8000 * (i + 1))}).empty()) << i;
        }
}

TEST_F(AlertsTest, EndClearsEverythingAndANewInstanceStartsClean) {
        First({KernelLine(0x10000, 0x11000, "rwxp"), KernelLine(0x20000, 0x21000, "r-xp")});
        EXPECT_EQ(2u, alerts_active_count(st_));
        // A new instance (a reused pid): the old alerts are cleared first.
        Snap again({KernelLine(0x10000, 0x11000, "rwxp")});
        alert_proc p = {4243, 778, kUser};
        ASSERT_EQ(3, alerts_first(st_, &p, &again.s, now_, &ev_));
        auto ev = Take();
        ASSERT_EQ(3u, ev.size());
        EXPECT_EQ(ALERT_CLEARED, ev[0].change);
        EXPECT_EQ("another process instance", ev[0].reason);
        EXPECT_EQ(ALERT_CLEARED, ev[1].change);
        EXPECT_EQ(ALERT_RAISED, ev[2].change);
        ASSERT_EQ(1, alerts_end(st_, "process exited", &ev_));
        ev = Take();
        EXPECT_EQ("process exited", ev[0].reason);
        EXPECT_EQ(0u, alerts_active_count(st_));
        // Nothing is judged for a process that is not followed.
        Snap s({KernelLine(0x10000, 0x11000, "rwxp")});
        diff_compute(&cur_->s, &s.s, &diff_);
        EXPECT_EQ(0, alerts_change(st_, &cur_->s, &s.s, &diff_, now_, &ev_));
}

TEST_F(AlertsTest, ActiveAlertsAreBounded) {
        std::vector<std::string> many;
        for (uint64_t i = 0; i < ALERTS_MAX_ACTIVE + 10; i++)
                many.push_back(KernelLine(0x10000 + i * 0x2000, 0x11000 + i * 0x2000, "rwxp"));
        cur_.reset(new Snap(many));
        alert_proc p = {4242, 777, kUser};
        EXPECT_EQ(ALERTS_MAX_ACTIVE, alerts_first(st_, &p, &cur_->s, now_, &ev_));
        EXPECT_EQ(10u, ev_.dropped);
        EXPECT_EQ((size_t)ALERTS_MAX_ACTIVE, alerts_active_count(st_));
}

TEST_F(AlertsTest, UnchangedTicksCostNothing) {
        AddOrdinaryFiles(&fs_);
        First(With(Ordinary(), KernelLine(0x7f1000000000, 0x7f1000001000, "rwxp")));
        Set("max_regions", "100");
        Set("max_growth", "1G/1h");
        Take();
        int begins = fs_.begins, stats = fs_.path_stats + fs_.mapped_stats;
        uint64_t allocs = mm_alloc_count();
        for (int i = 0; i < 1000; i++) {
                now_ += 1000000;
                ASSERT_EQ(0, alerts_tick(st_, &cur_->s, now_, &ev_));
        }
        EXPECT_EQ(allocs, mm_alloc_count());
        // A change of a region that is not executable asks nothing of the
        // file system either.
        auto v = Ordinary();
        v[3] = KernelLine(0x1000000, 0x1042000, "rw-p", 0, 0, 0, 0, "[heap]");
        Snap next(With(v, KernelLine(0x7f1000000000, 0x7f1000001000, "rwxp")));
        diff_compute(&cur_->s, &next.s, &diff_);
        uint64_t allocs_diff = mm_alloc_count();
        EXPECT_EQ(0, alerts_change(st_, &cur_->s, &next.s, &diff_, now_, &ev_));
        EXPECT_EQ(allocs_diff, mm_alloc_count());
        EXPECT_EQ(begins, fs_.begins);
        EXPECT_EQ(stats, fs_.path_stats + fs_.mapped_stats);
        EXPECT_EQ(0u, ev_.n);
}

class TextTest : public AlertsTest {
      protected:
        // A library of n pages at 0x7f6000000000, its file and its memory
        // the same bytes.
        std::string Lib(size_t pages) {
                std::string bytes;
                for (size_t i = 0; i < pages * kPage; i++)
                        bytes += static_cast<char>((i * 131 + i / 4096) & 0xff);
                fs_.contents["/opt/app/lib.so"] = bytes;
                fs_.files["/opt/app/lib.so"] = File(1000);
                fs_.mapped[kLib] = File(1000);
                fs_.memory[kLib] = bytes;
                return KernelLine(kLib, kLib + pages * kPage, "r-xp", 0, 8, 1, 1000, "/opt/app/lib.so");
        }
        static constexpr uint64_t kLib = 0x7f6000000000;
};

TEST_F(TextTest, PatchedPagesAreFoundAndNamed) {
        std::string lib = Lib(40);
        Set("text_check", "10m");
        EXPECT_TRUE(First({lib}).empty());
        EXPECT_TRUE(Tick().empty()); // not due yet
        int reads = fs_.mem_reads;
        EXPECT_EQ(reads, fs_.mem_reads);
        fs_.memory[kLib][2 * kPage + 17] ^= 0x55;
        fs_.memory[kLib][33 * kPage] ^= 0x01;
        now_ += 600ULL * 1000000;
        auto ev = Tick();
        ASSERT_EQ(1u, ev.size());
        EXPECT_EQ("text_mismatch", ev[0].rule);
        EXPECT_EQ(kLib, ev[0].start);
        EXPECT_NE(std::string::npos, ev[0].reason.find("2 pages")) << ev[0].reason;
        EXPECT_NE(std::string::npos, ev[0].reason.find("7f6000002000 (file offset 2000)")) << ev[0].reason;
        EXPECT_NE(std::string::npos, ev[0].reason.find("7f6000021000 (file offset 21000)")) << ev[0].reason;
        // Raised once.
        now_ += 600ULL * 1000000;
        EXPECT_TRUE(Tick().empty());
}

TEST_F(TextTest, BudgetGoesRoundTheRegions) {
        std::string lib = Lib(64);
        Set("text_check", "1m");
        Set("text_check_budget", "64K"); // 16 pages per check
        First({lib});
        fs_.memory[kLib][60 * kPage] ^= 0x01;
        int found_at = -1;
        for (int check = 0; check < 8 && found_at < 0; check++) {
                now_ += 60ULL * 1000000;
                if (!Tick().empty())
                        found_at = check;
        }
        // The last of four quarters, whatever the phase of the first check.
        EXPECT_GE(found_at, 3);
        EXPECT_LE(found_at, 4);
}

TEST_F(TextTest, SameCodeAndFileTailDoNotFire) {
        // The file ends mid-page: the rest of the page is zeros in memory.
        std::string lib = Lib(3);
        fs_.contents["/opt/app/lib.so"].resize(2 * kPage + 100);
        fs_.memory[kLib].replace(2 * kPage + 100, kPage - 100, std::string(kPage - 100, '\0'));
        cur_.reset(new Snap({lib}));
        alert_proc p = {4242, 777, kUser};
        ASSERT_EQ(0, alerts_first(st_, &p, &cur_->s, now_, &ev_));
        EXPECT_EQ(0, alerts_check_text(st_, &cur_->s, UINT64_MAX, &ev_));
        // Off: nothing is read.
        Set("text_mismatch", "off");
        int reads = fs_.mem_reads;
        fs_.memory[kLib][0] ^= 1;
        EXPECT_EQ(0, alerts_check_text(st_, &cur_->s, UINT64_MAX, &ev_));
        EXPECT_EQ(reads, fs_.mem_reads);
}

TEST_F(AlertsTest, ActiveListAndJsonFields) {
        First({KernelLine(0x10000, 0x11000, "rwxp"),
               KernelLine(0x20000, 0x21000, "r-xp", 0, 0, 1, 9, "/memfd:x (deleted)")});
        strbuf b;
        strbuf_init(&b);
        ASSERT_EQ(2, alerts_format_active(st_, &b));
        std::string text = strbuf_str(&b);
        EXPECT_NE(std::string::npos, text.find("wx: 00010000-00011000 rwxp 00000000 00:00 0: memory both"))
            << text;
        EXPECT_NE(std::string::npos, text.find("memfd_exec: 00020000-00021000 r-xp")) << text;
        EXPECT_NE(std::string::npos, text.find(" (since 20")) << text;
        EXPECT_EQ(2u, std::count(text.begin(), text.end(), '\n'));
        // The JSON fields of an event, in their fixed order.
        strbuf_reset(&b);
        ASSERT_EQ(2, alerts_end(st_, "process exited", &ev_));
        json_obj o;
        json_obj_begin(&o, &b);
        alerts_json_fields(&o, &ev_, &ev_.v[0]);
        ASSERT_EQ(0, json_obj_end(&o));
        EXPECT_STREQ(
            "{\"rule\":\"wx\",\"region\":\"00010000-00011000 rwxp 00000000 00:00 0 \",\"start\":\"10000\","
            "\"end\":\"11000\",\"perms\":\"rwxp\",\"path\":\"\",\"reason\":\"process exited\"}\n",
            strbuf_str(&b));
        strbuf_fini(&b);
}

TEST(AlertsFormat, TextIsEscaped) {
        strbuf b;
        strbuf_init(&b);
        std::string line = "7f00-7f01 r-xp 00000000 08:01 5 /tmp/\x1b[2Jx\xe2\x80\xae";
        std::string reason = "runs code";
        ASSERT_EQ(0, alerts_format_text(&b, ALERT_DELETED_EXEC, line.data(), line.size(), reason.data(),
                                        reason.size()));
        EXPECT_STREQ("deleted_exec: 7f00-7f01 r-xp 00000000 08:01 5 /tmp/\\x1b[2Jx\\u202e: runs code",
                     strbuf_str(&b));
        strbuf_fini(&b);
}

// The real file system, through alert_sysfs, on files this test makes.
} // namespace
