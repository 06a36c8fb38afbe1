// The supervisor (core/supervisor.c) with real workers watching real child
// processes: supervisor_apply adds, removes, changes in place, restarts and
// keeps targets as a reload needs.
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/supervisor.h"
#include "tests/testutil.h"

#include <sys/prctl.h>

namespace {

using memmon_test::Millis;
using memmon_test::Sleeper;

bool WaitFor(const std::function<bool()> &pred) {
        return memmon_test::WaitFor(pred, Millis(10000));
}

size_t CountFiles(const std::string &dir) {
        size_t n = 0;
        DIR *d = opendir(dir.c_str());
        if (!d)
                return 0;
        while (struct dirent *e = readdir(d))
                n += e->d_name[0] != '.';
        closedir(d);
        return n;
}

void Quiet(void *, const char *, enum log_level, const char *) {}

// Owns the strings a worker_params points to.
struct Target {
        std::string name, dir, match;
        struct worker_params p = {};
        Target(const std::string &base, const std::string &n, pid_t pid, uint64_t interval_us = 50000)
            : name(n), dir(base + "/" + n) {
                p.selector = SELECT_PID;
                p.pid = pid;
                p.policy.interval_us = interval_us;
                p.policy.full_every = 100;
        }
        // The params, pointing into this object (call after it stopped moving).
        const struct worker_params &Params() {
                p.name = const_cast<char *>(name.c_str());
                p.backup_dir = const_cast<char *>(dir.c_str());
                if (!match.empty()) {
                        p.selector = SELECT_MATCH;
                        p.pid = 0;
                        p.match = const_cast<char *>(match.c_str());
                }
                return p;
        }
};

class SupervisorTest : public ::testing::Test {
      protected:
        void SetUp() override {
                const char *tmp = getenv("TEST_TMPDIR");
                base_ = std::string(tmp ? tmp : "/tmp") + "/supervisor_" +
                        ::testing::UnitTest::GetInstance()->current_test_info()->name();
                struct worker_env env = {};
                env.event = Quiet;
                ASSERT_EQ(0, supervisor_init(&sup_, &env));
        }
        void TearDown() override {
                supervisor_fini(&sup_);
        }

        int Apply(std::vector<Target> &targets, struct supervisor_changes *ch) {
                std::vector<struct worker_params> v;
                for (auto &t : targets)
                        v.push_back(t.Params());
                return supervisor_apply(&sup_, v.data(), v.size(), ch);
        }

        struct worker_status Status(const std::string &name) {
                struct worker_status st = {};
                struct worker *w = supervisor_find(&sup_, name.c_str());
                if (w)
                        worker_get_status(w, &st);
                return st;
        }

        std::string base_;
        struct supervisor sup_;
};

TEST_F(SupervisorTest, ApplyStartsEveryNewTarget) {
        Sleeper a, b;
        std::vector<Target> t = {{base_, "a", a.pid()}, {base_, "b", b.pid()}};
        struct supervisor_changes ch = {};
        ASSERT_EQ(0, Apply(t, &ch));
        EXPECT_EQ(2u, ch.added);
        EXPECT_EQ(0u, ch.removed + ch.changed + ch.restarted + ch.kept);
        ASSERT_EQ(2u, sup_.n);
        EXPECT_STREQ("a", worker_name(sup_.workers[0])) << "targets keep their order";
        EXPECT_STREQ("b", worker_name(sup_.workers[1]));
        EXPECT_TRUE(WaitFor([&] { return CountFiles(base_ + "/b/full") == 1; })) << "b samples too";
        EXPECT_EQ(a.pid(), Status("a").pid);
}

TEST_F(SupervisorTest, ApplyChangesPolicyInPlaceAndKeepsTheRest) {
        Sleeper a, b;
        std::vector<Target> t = {{base_, "a", a.pid()}, {base_, "b", b.pid()}};
        ASSERT_EQ(0, Apply(t, nullptr));
        struct worker *wa = supervisor_find(&sup_, "a"), *wb = supervisor_find(&sup_, "b");
        ASSERT_TRUE(WaitFor([&] { return CountFiles(base_ + "/a/full") == 1; }));

        t[0].p.policy.interval_us = 70000;
        t[0].p.policy.keep_full = 3;
        struct supervisor_changes ch = {};
        ASSERT_EQ(0, Apply(t, &ch));
        EXPECT_EQ(1u, ch.changed);
        EXPECT_EQ(1u, ch.kept);
        EXPECT_EQ(0u, ch.added + ch.removed + ch.restarted);
        EXPECT_EQ(wa, supervisor_find(&sup_, "a")) << "a policy change keeps the worker (and its chain)";
        EXPECT_EQ(wb, supervisor_find(&sup_, "b"));
        EXPECT_TRUE(WaitFor([&] { return Status("a").interval_us == 70000; }));
        EXPECT_EQ(1u, CountFiles(base_ + "/a/full")) << "no new chain";

        // The same again: nothing to do.
        ASSERT_EQ(0, Apply(t, &ch));
        EXPECT_EQ(2u, ch.kept);
        EXPECT_EQ(0u, ch.added + ch.removed + ch.changed + ch.restarted);
}

TEST_F(SupervisorTest, ApplyRestartsATargetWhoseSelectorChanged) {
        Sleeper a, other;
        std::vector<Target> t = {{base_, "a", a.pid()}};
        ASSERT_EQ(0, Apply(t, nullptr));
        ASSERT_TRUE(WaitFor([&] { return Status("a").full_written == 1; }));

        t[0].p.pid = other.pid();
        struct supervisor_changes ch = {};
        ASSERT_EQ(0, Apply(t, &ch));
        EXPECT_EQ(1u, ch.restarted);
        EXPECT_EQ(0u, ch.added + ch.removed + ch.changed + ch.kept);
        // A new worker (its counters start again) and a new chain.
        EXPECT_TRUE(WaitFor([&] { return Status("a").pid == other.pid() && Status("a").full_written == 1; }));
        // The old chain got its final snapshot, the new one its first.
        EXPECT_TRUE(WaitFor([&] { return CountFiles(base_ + "/a/full") == 3; }));

        // Where backups go is part of the selector too.
        t[0].dir = base_ + "/elsewhere";
        ASSERT_EQ(0, Apply(t, &ch));
        EXPECT_EQ(1u, ch.restarted);
}

TEST_F(SupervisorTest, ApplyRemovesWithAFinalSnapshot) {
        Sleeper a, b;
        std::vector<Target> t = {{base_, "a", a.pid()}, {base_, "b", b.pid()}};
        ASSERT_EQ(0, Apply(t, nullptr));
        ASSERT_TRUE(WaitFor([&] { return CountFiles(base_ + "/b/full") == 1; }));
        t.pop_back();
        struct supervisor_changes ch = {};
        ASSERT_EQ(0, Apply(t, &ch));
        EXPECT_EQ(1u, ch.removed);
        EXPECT_EQ(1u, ch.kept);
        EXPECT_EQ(nullptr, supervisor_find(&sup_, "b"));
        EXPECT_EQ(2u, CountFiles(base_ + "/b/full")) << "removed: its chain ends with a final snapshot";

        std::vector<Target> none;
        ASSERT_EQ(0, Apply(none, &ch));
        EXPECT_EQ(1u, ch.removed);
        EXPECT_EQ(0u, sup_.n);
}

TEST_F(SupervisorTest, AddRemoveAndPostAll) {
        Sleeper a;
        Target t(base_, "a", a.pid());
        ASSERT_EQ(0, supervisor_add(&sup_, &t.Params(), 0));
        EXPECT_EQ(-EEXIST, supervisor_add(&sup_, &t.Params(), 0));
        EXPECT_EQ(0, supervisor_post_all(&sup_, REQ_SAMPLE, 10000)) << "every worker answered";
        EXPECT_EQ(-ENOENT, supervisor_remove(&sup_, "nosuch", 0));
        EXPECT_EQ(0, supervisor_remove(&sup_, "a", 0));
        EXPECT_EQ(0u, sup_.n);
        EXPECT_EQ(nullptr, supervisor_find(&sup_, "a"));
}

// Waiting `match` targets share one scan of /proc, at most one a second
// however many they are and however fast they tick, and a process that
// appears is still found.
TEST_F(SupervisorTest, WaitingMatchTargetsShareOneScanASecond) {
        std::string name = "mmscan" + std::to_string(getpid() % 100000);
        std::vector<Target> t;
        for (int i = 0; i < 8; i++) {
                t.emplace_back(base_, "m" + std::to_string(i), 0, 10000);
                t.back().match = name;
        }
        ASSERT_EQ(0, Apply(t, nullptr));
        auto start = std::chrono::steady_clock::now();
        uint64_t before = proc_scan_count(&sup_.scan);
        EXPECT_GE(before, 1u) << "attaching at start looked";
        // A window of time in which 8 targets tick 10 times a second each:
        // 150 scans of /proc if each scanned alone.
        std::this_thread::sleep_for(std::chrono::milliseconds(1500));
        uint64_t scans = proc_scan_count(&sup_.scan) - before;
        double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        EXPECT_LE(scans, (uint64_t)secs + 1) << scans << " scans in " << secs << " s";
        for (auto &x : t)
                EXPECT_EQ(TARGET_WAITING, Status(x.name).state) << x.name;

        auto appear = std::chrono::steady_clock::now();
        pid_t pid = fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
                prctl(PR_SET_NAME, name.c_str());
                for (;;)
                        pause();
        }
        bool all = WaitFor([&] {
                for (auto &x : t)
                        if (Status(x.name).state != TARGET_ATTACHED || Status(x.name).pid != pid)
                                return false;
                return true;
        });
        double found = std::chrono::duration<double>(std::chrono::steady_clock::now() - appear).count();
        kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
        EXPECT_TRUE(all) << "every match target attaches to the new process";
        RecordProperty("found_after_ms", (int)(found * 1000));
        fprintf(stderr, "found by all 8 targets %.0f ms after it appeared\n", found * 1000);
}

} // namespace
