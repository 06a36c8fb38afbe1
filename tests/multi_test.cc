// Integration tests of the multi-target agent (issue 3): the real agent
// binary runs an INI file of its own test folder (base_dir = .) against real
// workload processes.  Targets by pid, pidfile, match and exec; a pidfile
// target whose process restarts; reload by SIGHUP and by the `reload`
// command; `-t`; `agent -- PROG`; the shipped etc/memmon.ini.
//
// Intervals are 100-300 ms.  Every wait polls with a deadline; the few fixed
// waits only give something time to happen that must not.
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/multi_util.h"
#include "tests/testutil.h"

namespace memmon_test {
namespace {

constexpr Millis kShort(5000); // a few intervals, with room for a loaded machine
constexpr Millis kLong(15000); // a process start or exit
constexpr Millis kPoll(20);
// How long nothing must happen: several intervals of the slowest target.
constexpr Millis kQuiet(700);

// The pids of the log lines "started PROG as pid N ..." of a target's log.
std::vector<pid_t> StartedPids(const std::string &log) {
        std::vector<pid_t> v;
        for (const auto &l : SplitLines(log)) {
                size_t p = l.find(" as pid ");
                if (l.find("started ") != std::string::npos && p != std::string::npos)
                        v.push_back(static_cast<pid_t>(strtol(l.c_str() + p + 8, nullptr, 10)));
        }
        return v;
}

// The first of them, or 0.
pid_t StartedPid(const std::string &log) {
        auto v = StartedPids(log);
        return v.empty() ? 0 : v[0];
}

// Maps lines whose path mentions libc (libc.so.6, libc-2.31.so).
bool MapsHaveLibc(const std::string &maps) {
        for (const auto &l : SplitLines(maps))
                if (l.find("/libc.so") != std::string::npos || l.find("/libc-") != std::string::npos)
                        return true;
        return false;
}

// The maps lines of a full snapshot (its '#' header removed).
std::vector<std::string> SnapshotRegions(const std::string &text) {
        std::vector<std::string> v;
        for (const auto &l : SplitLines(text))
                if (!l.empty() && l[0] != '#')
                        v.push_back(l);
        return v;
}

class MultiTest : public BaseDirTest {
      protected:
        void TearDown() override {
                // A daemon still running is asked to stop first, so that it
                // stops its exec programs itself.
                for (auto &d : daemons_) {
                        if (d->Alive()) {
                                d->Kill(SIGTERM);
                                int code;
                                (void)d->WaitExit(kLong, &code);
                        }
                }
                BaseDirTest::TearDown();
        }

        void WriteConfig(const std::string &text, const std::string &name = "memmon.ini") {
                ASSERT_TRUE(WriteFile(P(name), text, 0600));
        }

        // Runs `agent -d ARGS` (by default on memmon.ini) and takes charge of
        // the daemon it leaves behind.
        void StartDaemon(const std::vector<std::string> &args = {"-c", "memmon.ini"}) {
                BaseDirTest::StartDaemon(args);
        }

        // Stops the daemon with `quit` and expects exit code 0.
        void Quit() {
                Send("quit");
                int code = -1;
                ASSERT_TRUE(daemon_->WaitExit(kLong, &code)) << "the agent did not exit after quit";
                EXPECT_EQ(0, code);
        }

        std::string TargetLog(const std::string &target) const {
                return ReadFileOr(P("logs/" + target + ".log"));
        }

        bool WaitLog(const std::string &needle, size_t count = 1, Millis timeout = kShort) {
                return WaitFor([&] { return CountOccurrences(Log(), needle) >= count; }, timeout, kPoll);
        }
        bool WaitTargetLog(const std::string &target, const std::string &needle, size_t count = 1,
                           Millis timeout = kShort) {
                return WaitFor([&] { return CountOccurrences(TargetLog(target), needle) >= count; }, timeout,
                               kPoll);
        }

        // Sends cmd on the FIFO and returns its reply (the [agent] lines of
        // monitor.log after the command) once done(reply) holds, or what
        // there is at the deadline.
        std::vector<std::string> Ask(const std::string &cmd,
                                     const std::function<bool(const std::vector<std::string> &)> &done) {
                size_t n = CommandCount(Log(), cmd);
                Send(cmd);
                std::vector<std::string> reply;
                bool ok = WaitFor(
                    [&] {
                            reply = ReplyTo(Log(), cmd, n);
                            return done(reply);
                    },
                    kShort, kPoll);
                EXPECT_TRUE(ok) << "no complete reply to '" << cmd << "':\n" << JoinLines(reply);
                return reply;
        }
        // A reply of at least n lines.
        std::vector<std::string> AskLines(const std::string &cmd, size_t n = 1) {
                return Ask(cmd, [n](const std::vector<std::string> &r) { return r.size() >= n; });
        }
        // `status`: complete once every addressed target's "Backups:" line
        // is there.  The reply is read again after the next command, which
        // bounds it, so that a reply with too many blocks shows.
        std::vector<std::string> Status(const std::string &cmd, size_t targets) {
                size_t n = CommandCount(Log(), cmd);
                Ask(cmd, [targets](const std::vector<std::string> &r) {
                        return CountStartingWith(r, "Backups:") >= targets;
                });
                AskLines("help");
                return ReplyTo(Log(), cmd, n);
        }

        std::vector<std::string> Fulls(const std::string &target) const {
                return Visible(ListDir(P("backups/" + target + "/full")));
        }
        std::vector<std::string> Diffs(const std::string &target) const {
                return Visible(ListDir(P("backups/" + target + "/incremental")));
        }

        RunResult Verify(const std::string &target) {
                return RunAgent({"verify", "backups/" + target});
        }

        // A copy of the workload named name (a comm of its own, for match
        // targets) in bin/.
        std::string NamedCopy(const std::string &name) {
                (void)mkdir(P("bin").c_str(), 0700);
                std::string path = P("bin/" + name);
                EXPECT_TRUE(CopyFile(WorkloadPath(), path, 0755)) << path;
                return path;
        }
};

// 1. Targets by pid, pidfile and match: each gets its own log, backup folders
// and interval; a change shows only in its target's backups; `@NAME status`
// answers for that target alone, `status` for all; `interval` needs a name.
TEST_F(MultiTest, TargetsByPidPidfileAndMatch) {
        std::string err;
        Workload wp, wf;
        ASSERT_TRUE(wp.Start(&err)) << err;
        ASSERT_TRUE(wf.Start(&err)) << err;
        // A name no other process has, not even another run of this test,
        // and longer than the 15 bytes of a comm: matched on the exe.
        std::string mname = "longer_than_comm_" + std::to_string(getpid());
        ASSERT_GT(mname.size(), 15u);
        NamedWorkload wm;
        ASSERT_TRUE(wm.Start(NamedCopy(mname), &err)) << err;
        ASSERT_EQ(0, mkdir(P("run").c_str(), 0700));
        ASSERT_TRUE(WriteFile(P("run/f.pid"), std::to_string(wf.pid()) + "\n"));

        WriteConfig("[agent]\n"
                    "base_dir = .\n"
                    "interval = 1s\n"
                    "\n"
                    "[target:bypid]\n"
                    "pid = " +
                    std::to_string(wp.pid()) +
                    "\n"
                    "interval = 100ms\n"
                    "\n"
                    "[target:byfile]\n"
                    "pidfile = run/f.pid\n"
                    "interval = 200ms\n"
                    "\n"
                    "[target:byname]\n"
                    "match = " +
                    mname +
                    "\n"
                    "interval = 300ms\n");
        ASSERT_NO_FATAL_FAILURE(StartDaemon());

        struct Target {
                std::string name;
                pid_t pid;
                std::string interval;
        };
        const std::vector<Target> targets = {
            {"bypid", wp.pid(), "100000"}, {"byfile", wf.pid(), "200000"}, {"byname", wm.pid(), "300000"}};
        for (const auto &t : targets) {
                SCOPED_TRACE(t.name);
                const std::string pid = std::to_string(t.pid);
                ASSERT_TRUE(WaitFor([&] { return Fulls(t.name).size() == 1; }, kShort, kPoll))
                    << Fulls(t.name).size() << " full snapshots";
                EXPECT_EQ(0u, Fulls(t.name)[0].find("backup_" + pid + "_")) << Fulls(t.name)[0];
                EXPECT_TRUE(IsDir(P("backups/" + t.name + "/incremental")));
                EXPECT_TRUE(Diffs(t.name).empty());
                std::string log = TargetLog(t.name);
                EXPECT_NE(std::string::npos, log.find("attached to pid " + pid + " ")) << log;
                // Its log is its own: no other target's process in it.
                for (const auto &o : targets) {
                        if (o.pid != t.pid) {
                                EXPECT_EQ(std::string::npos, log.find("pid " + std::to_string(o.pid) + " "))
                                    << o.name << "'s pid in " << t.name << ".log:\n"
                                    << log;
                        }
                }
        }

        // Per-target folders and logs are private.
        for (const auto &p : ListTree(P("backups")))
                EXPECT_EQ(IsDir(p) ? 0700 : 0600, FileMode(p)) << p;
        for (const auto &t : targets)
                EXPECT_EQ(0600, FileMode(P("logs/" + t.name + ".log"))) << t.name;

        // A change in one process shows in its target's backups only.
        ASSERT_NE(0u, wp.Map(2, "rw"));
        ASSERT_TRUE(WaitFor([&] { return Diffs("bypid").size() == 1; }, kShort, kPoll));
        std::this_thread::sleep_for(kQuiet);
        EXPECT_TRUE(Diffs("byfile").empty());
        EXPECT_TRUE(Diffs("byname").empty());
        ASSERT_NE(0u, wm.Map(2, "rw"));
        ASSERT_TRUE(WaitFor([&] { return Diffs("byname").size() == 1; }, kShort, kPoll));
        EXPECT_EQ(std::to_string(wm.pid()),
                  HeaderField(ReadFileOr(P("backups/byname/incremental/" + Diffs("byname")[0])), "pid"));
        std::this_thread::sleep_for(kQuiet);
        EXPECT_EQ(1u, Diffs("bypid").size());
        EXPECT_TRUE(Diffs("byfile").empty());

        // @NAME status: one block, that target's.
        for (const auto &t : targets) {
                SCOPED_TRACE(t.name);
                auto r = Status("@" + t.name + " status", 1);
                EXPECT_EQ(1u, CountStartingWith(r, "Current PID:")) << JoinLines(r);
                EXPECT_TRUE(Contains(r, "Current PID: " + std::to_string(t.pid))) << JoinLines(r);
                EXPECT_TRUE(Contains(r, "Sample interval: " + t.interval + " us")) << JoinLines(r);
                EXPECT_TRUE(Contains(r, "Status: running")) << JoinLines(r);
        }

        // interval and pid without a name, with three targets: an error
        // naming them.
        auto r = AskLines("interval 1s");
        ASSERT_EQ(1u, r.size()) << JoinLines(r);
        for (const auto &t : targets)
                EXPECT_NE(std::string::npos, r[0].find(t.name)) << r[0];
        EXPECT_EQ(std::string::npos, r[0].find("Interval changed")) << r[0];
        r = AskLines("pid " + std::to_string(wp.pid()));
        ASSERT_EQ(1u, r.size()) << JoinLines(r);
        for (const auto &t : targets)
                EXPECT_NE(std::string::npos, r[0].find(t.name)) << r[0];
        EXPECT_EQ(std::string::npos, r[0].find("PID changed")) << r[0];

        // status without a name: every target, intervals untouched.
        r = Status("status", 3);
        EXPECT_EQ(3u, CountStartingWith(r, "Current PID:")) << JoinLines(r);
        for (const auto &t : targets) {
                EXPECT_TRUE(Contains(r, "Target: " + t.name)) << JoinLines(r);
                EXPECT_TRUE(Contains(r, "Current PID: " + std::to_string(t.pid))) << JoinLines(r);
                EXPECT_TRUE(Contains(r, "Sample interval: " + t.interval + " us")) << JoinLines(r);
        }

        r = AskLines("@bypid interval 300ms");
        EXPECT_EQ(std::vector<std::string>{"Interval changed to: 300000 us"}, r);
        r = Status("@bypid status", 1);
        EXPECT_TRUE(Contains(r, "Sample interval: 300000 us")) << JoinLines(r);
        r = Status("@byfile status", 1);
        EXPECT_TRUE(Contains(r, "Sample interval: 200000 us")) << JoinLines(r);

        // backup: every target, or the one named.
        r = AskLines("backup", 3);
        for (const auto &t : targets)
                EXPECT_TRUE(Contains(r, t.name + ": Manual backup created")) << JoinLines(r);
        for (const auto &t : targets)
                EXPECT_EQ(2u, Fulls(t.name).size()) << t.name;
        r = AskLines("@byname backup");
        EXPECT_EQ(std::vector<std::string>{"Manual backup created"}, r);
        EXPECT_EQ(3u, Fulls("byname").size());
        EXPECT_EQ(2u, Fulls("bypid").size());
        EXPECT_EQ(2u, Fulls("byfile").size());

        // pause and resume one target: a paused one records nothing.
        r = AskLines("@byfile pause");
        EXPECT_EQ(std::vector<std::string>{"byfile: paused"}, r);
        ASSERT_NE(0u, wf.Map(1, "r"));
        std::this_thread::sleep_for(kQuiet);
        EXPECT_TRUE(Diffs("byfile").empty()) << "a paused target wrote a diff";
        r = AskLines("targets", 4);
        EXPECT_TRUE(HasLineWith(JoinLines(r), "byfile ", "paused")) << JoinLines(r);
        EXPECT_TRUE(HasLineWith(JoinLines(r), "bypid ", "running")) << JoinLines(r);
        r = AskLines("@byfile resume");
        EXPECT_EQ(std::vector<std::string>{"byfile: running"}, r);
        EXPECT_TRUE(WaitFor([&] { return Diffs("byfile").size() == 1; }, kShort, kPoll));

        // pid, named: that target follows another process in a new chain.
        const std::string mpid = std::to_string(wm.pid());
        r = AskLines("@bypid pid " + mpid);
        EXPECT_EQ(std::vector<std::string>{"PID changed to: " + mpid}, r);
        EXPECT_TRUE(WaitFor([&] { return CountStartingWith(Fulls("bypid"), "backup_" + mpid + "_") == 1; },
                            kShort, kPoll));
        r = Status("@bypid status", 1);
        EXPECT_TRUE(Contains(r, "Current PID: " + mpid)) << JoinLines(r);
        EXPECT_EQ("", ChainMixesInstances(ReadChain(P("backups/bypid"))));
        for (const auto &t : targets) {
                RunResult v = Verify(t.name);
                EXPECT_EQ(0, v.code) << t.name << ": " << v.Describe();
        }

        ASSERT_NO_FATAL_FAILURE(Quit());
}

// 2. A pidfile target whose process is killed and replaced: it re-attaches,
// logs the new pid, starts a new chain; the old chain ends with a final full
// snapshot and no diff mixes the two processes.
TEST_F(MultiTest, PidfileTargetFollowsRestartedProcess) {
        std::string err;
        auto w1 = std::make_unique<Workload>();
        ASSERT_TRUE(w1->Start(&err)) << err;
        const std::string pid1 = std::to_string(w1->pid());
        ASSERT_EQ(0, mkdir(P("run").c_str(), 0700));
        WriteConfig("[agent]\nbase_dir = .\n\n[target:app]\npidfile = run/app.pid\ninterval = 100ms\n");
        // No pid file yet: not an error, the target waits.
        ASSERT_NO_FATAL_FAILURE(StartDaemon());
        auto r = Status("status", 1);
        EXPECT_TRUE(Contains(r, "Status: waiting")) << JoinLines(r);
        EXPECT_TRUE(Fulls("app").empty());

        ASSERT_TRUE(ReplaceFile(P("run/app.pid"), pid1 + "\n"));
        ASSERT_TRUE(WaitFor([&] { return Fulls("app").size() == 1; }, kShort, kPoll));
        EXPECT_TRUE(WaitTargetLog("app", "attached to pid " + pid1 + " "));
        ASSERT_NE(0u, w1->Map(2, "rw"));
        ASSERT_TRUE(WaitFor([&] { return Diffs("app").size() == 1; }, kShort, kPoll));

        w1->Kill();
        EXPECT_TRUE(WaitTargetLog("app", "pid " + pid1 + " exited"));
        ASSERT_TRUE(WaitFor([&] { return CountStartingWith(Fulls("app"), "backup_" + pid1 + "_") == 2; },
                            kShort, kPoll))
            << "no final full snapshot of pid " << pid1;

        Workload w2;
        ASSERT_TRUE(w2.Start(&err)) << err;
        const std::string pid2 = std::to_string(w2.pid());
        ASSERT_NE(pid1, pid2);
        ASSERT_TRUE(ReplaceFile(P("run/app.pid"), pid2 + "\n"));
        // A few intervals.
        EXPECT_TRUE(WaitTargetLog("app", "attached to pid " + pid2 + " ", 1, Millis(2000)))
            << TargetLog("app");
        ASSERT_TRUE(WaitFor([&] { return CountStartingWith(Fulls("app"), "backup_" + pid2 + "_") == 1; },
                            Millis(2000), kPoll))
            << "no full snapshot of the new pid " << pid2;
        ASSERT_NE(0u, w2.Map(3, "r"));
        ASSERT_TRUE(WaitFor([&] { return CountStartingWith(Diffs("app"), "diff_" + pid2 + "_") == 1; },
                            kShort, kPoll));

        auto chain = ReadChain(P("backups/app"));
        EXPECT_EQ("", ChainMixesInstances(chain));
        // The old process's files: full, diff, final full; then the new one's.
        std::vector<std::string> shape;
        for (const auto &f : chain)
                shape.push_back(std::to_string(f.name_pid) + (f.full ? " full" : " diff"));
        EXPECT_EQ((std::vector<std::string>{pid1 + " full", pid1 + " diff", pid1 + " full", pid2 + " full",
                                            pid2 + " diff"}),
                  shape);
        if (chain.size() == 5) {
                // The final snapshot holds the old process's last maps.
                EXPECT_EQ(HeaderField(chain[1].text, "result"), HeaderField(chain[2].text, "checksum"));
                EXPECT_TRUE(HasLineWith(TargetLog("app"), chain[2].name, "final")) << TargetLog("app");
        }
        RunResult v = Verify("app");
        EXPECT_EQ(0, v.code) << v.Describe();

        // One target: commands need no name and replies are the single-target ones.
        r = AskLines("interval 200ms");
        EXPECT_EQ(std::vector<std::string>{"Interval changed to: 200000 us"}, r);
        r = Status("status", 1);
        ASSERT_FALSE(r.empty());
        EXPECT_EQ("Current PID: " + pid2, r[0]) << JoinLines(r);
        EXPECT_TRUE(Contains(r, "Sample interval: 200000 us")) << JoinLines(r);
        EXPECT_TRUE(Contains(r, "Status: running")) << JoinLines(r);
        ASSERT_NO_FATAL_FAILURE(Quit());
}

// A service restarted with an overlap: the new process rewrites the pidfile
// while the old one still runs.  The target follows the file: the old chain
// ends with a final full snapshot, the new process gets its own chain, and
// changes in the old process no longer show.
TEST_F(MultiTest, PidfileTargetFollowsRewrittenPidfileWhileOldProcessLives) {
        std::string err;
        Workload w1, w2;
        ASSERT_TRUE(w1.Start(&err)) << err;
        ASSERT_TRUE(w2.Start(&err)) << err;
        const std::string pid1 = std::to_string(w1.pid()), pid2 = std::to_string(w2.pid());
        ASSERT_EQ(0, mkdir(P("run").c_str(), 0700));
        ASSERT_TRUE(ReplaceFile(P("run/app.pid"), pid1 + "\n"));
        WriteConfig("[agent]\nbase_dir = .\n\n[target:app]\npidfile = run/app.pid\ninterval = 100ms\n");
        ASSERT_NO_FATAL_FAILURE(StartDaemon());
        ASSERT_TRUE(WaitFor([&] { return CountStartingWith(Fulls("app"), "backup_" + pid1 + "_") == 1; },
                            kShort, kPoll));

        ASSERT_TRUE(ReplaceFile(P("run/app.pid"), pid2 + "\n"));
        EXPECT_TRUE(WaitTargetLog("app", "pidfile " + P("run/app.pid") + " now names pid " + pid2 +
                                             ": leaving pid " + pid1))
            << TargetLog("app");
        EXPECT_TRUE(WaitTargetLog("app", "attached to pid " + pid2 + " ")) << TargetLog("app");
        ASSERT_TRUE(WaitFor([&] { return CountStartingWith(Fulls("app"), "backup_" + pid2 + "_") == 1; },
                            kShort, kPoll))
            << "no full snapshot of the new pid " << pid2;
        EXPECT_EQ(2u, CountStartingWith(Fulls("app"), "backup_" + pid1 + "_"))
            << "no final full snapshot of pid " << pid1;

        // The old process still runs; its changes are not the target's now.
        ASSERT_NE(0u, w1.Map(2, "rw"));
        ASSERT_NE(0u, w2.Map(3, "r"));
        ASSERT_TRUE(WaitFor([&] { return CountStartingWith(Diffs("app"), "diff_" + pid2 + "_") == 1; },
                            kShort, kPoll));
        EXPECT_EQ(0u, CountStartingWith(Diffs("app"), "diff_" + pid1 + "_"));
        auto r = Status("status", 1);
        ASSERT_FALSE(r.empty());
        EXPECT_EQ("Current PID: " + pid2, r[0]) << JoinLines(r);

        // Rewritten with the same pid (a touch): nothing happens.
        ASSERT_TRUE(ReplaceFile(P("run/app.pid"), pid2 + "\n"));
        ASSERT_TRUE(ReplaceFile(P("run/app.pid"), "not a pid\n"));
        ASSERT_NE(0u, w2.Map(1, "rw"));
        ASSERT_TRUE(WaitFor([&] { return CountStartingWith(Diffs("app"), "diff_" + pid2 + "_") == 2; },
                            kShort, kPoll))
            << "a pidfile holding junk stopped the sampling of pid " << pid2;
        EXPECT_EQ(1u, CountStartingWith(Fulls("app"), "backup_" + pid2 + "_"));
        EXPECT_EQ("", ChainMixesInstances(ReadChain(P("backups/app"))));
        RunResult v = Verify("app");
        EXPECT_EQ(0, v.code) << v.Describe();
        ASSERT_NO_FATAL_FAILURE(Quit());
}

// A waiting target says why, in its log and in `status`, whatever the length
// of its pidfile's path (here over 200 bytes; paths go up to PATH_MAX).
TEST_F(MultiTest, WaitingTargetSaysWhy) {
        const std::string folder = "run/" + std::string(200, 'p');
        ASSERT_EQ(0, mkdir(P("run").c_str(), 0700));
        ASSERT_EQ(0, mkdir(P(folder).c_str(), 0700));
        const std::string name = "absent_" + std::to_string(getpid());
        WriteConfig("[agent]\nbase_dir = .\n\n[target:app]\npidfile = " + folder +
                    "/app.pid\ninterval = 100ms\n\n[target:named]\nmatch = " + name + "\ninterval = 100ms\n");
        ASSERT_NO_FATAL_FAILURE(StartDaemon());
        EXPECT_TRUE(WaitTargetLog("named", "waiting: ")) << Log();
        EXPECT_TRUE(HasLineWith(TargetLog("named"), "waiting: ", name)) << TargetLog("named");
        EXPECT_TRUE(WaitTargetLog("app", "waiting: ")) << Log();
        EXPECT_TRUE(HasLineWith(TargetLog("app"), "/app.pid", "No such file or directory"))
            << "the log does not say which pidfile is missing:\n"
            << TargetLog("app");
        auto r = Status("@app status", 1);
        EXPECT_TRUE(Contains(r, "Status: waiting")) << JoinLines(r);
        EXPECT_TRUE(HasLineWith(JoinLines(r), "Reason: ", "/app.pid: No such file or directory"))
            << JoinLines(r);
        r = Status("@named status", 1);
        EXPECT_TRUE(HasLineWith(JoinLines(r), "Reason: ", name)) << JoinLines(r);
        ASSERT_NO_FATAL_FAILURE(Quit());
}

// logs/monitor.log has every event once, tagged with its target (SPEC 7),
// whatever the targets are called: a target named "monitor" must not turn
// its own log, logs/<name>.log, into a second, untagged copy of its events
// in monitor.log.  Refusing the name in the configuration is fine too.
TEST_F(MultiTest, TargetNamedMonitorKeepsMonitorLogTagged) {
        std::string err;
        Workload w;
        ASSERT_TRUE(w.Start(&err)) << err;
        WriteConfig("[agent]\nbase_dir = .\n\n[target:monitor]\npid = " + std::to_string(w.pid()) +
                    "\ninterval = 100ms\n");
        RunResult r = RunAgent({"-t", "-c", "memmon.ini"});
        if (r.code == 78) {
                EXPECT_TRUE(HasLineWith(r.err, "memmon.ini:4: ", "monitor")) << r.Describe();
                return;
        }
        ASSERT_EQ(0, r.code) << r.Describe();
        ASSERT_NO_FATAL_FAILURE(StartDaemon());
        ASSERT_TRUE(WaitFor([&] { return Fulls("monitor").size() == 1; }, kShort, kPoll));
        ASSERT_NE(0u, w.Map(1, "r"));
        ASSERT_TRUE(WaitFor([&] { return Diffs("monitor").size() == 1; }, kShort, kPoll));
        ASSERT_NO_FATAL_FAILURE(Quit());
        std::string untagged;
        for (const auto &l : SplitLines(Log())) {
                if (l.find(" [") == std::string::npos)
                        untagged += l + "\n";
        }
        EXPECT_EQ("", untagged) << "untagged lines in monitor.log";
        EXPECT_EQ(1u, CountOccurrences(Log(), "full backup " + Fulls("monitor")[0])) << Log();
}

// 3. Reload: added targets start, removed ones stop with a final snapshot,
// a changed one applies its new interval in place, an untouched one is not
// disturbed, a -p target given on the command line stays.  A broken file
// changes nothing and its errors (in the main file and in an included one)
// are logged as FILE:LINE.  The `reload` command does the same as SIGHUP, and
// a target pointed at another process restarts with a new chain.
TEST_F(MultiTest, ReloadAddsRemovesChangesAndKeepsTargets) {
        std::string err;
        Workload wa, wb, wc, wd, we;
        for (Workload *w : {&wa, &wb, &wc, &wd, &we})
                ASSERT_TRUE(w->Start(&err)) << err;
        auto target = [](const std::string &name, const Workload &w, const std::string &interval) {
                return "[target:" + name + "]\npid = " + std::to_string(w.pid()) +
                       "\ninterval = " + interval + "\n\n";
        };
        const std::string head = "[agent]\nbase_dir = .\ninterval = 1s\n\n";
        const std::string adhoc = "pid" + std::to_string(we.pid());
        WriteConfig(head + target("alpha", wa, "100ms") + target("beta", wb, "200ms") +
                    target("gamma", wc, "100ms"));
        ASSERT_NO_FATAL_FAILURE(
            StartDaemon({"-c", "memmon.ini", "-p", std::to_string(we.pid()), "-T", "250ms"}));
        for (const std::string &t : {std::string("alpha"), std::string("beta"), std::string("gamma"), adhoc})
                ASSERT_TRUE(WaitFor([&] { return Fulls(t).size() == 1; }, kShort, kPoll)) << t;
        auto r = Status("@" + adhoc + " status", 1);
        EXPECT_TRUE(Contains(r, "Sample interval: 250000 us")) << JoinLines(r);
        ASSERT_NE(0u, wa.Map(2, "rw"));
        ASSERT_TRUE(WaitFor([&] { return Diffs("alpha").size() == 1; }, kShort, kPoll));

        // alpha kept, beta changed, gamma removed, delta added (through an
        // include), the -p target kept.
        ASSERT_EQ(0, mkdir(P("conf.d").c_str(), 0700));
        WriteConfig(target("delta", wd, "100ms"), "conf.d/delta.ini");
        const std::string second = head + target("alpha", wa, "100ms") + target("beta", wb, "150ms") +
                                   "[include]\nfiles = conf.d/*.ini\n";
        WriteConfig(second);
        daemon_->Kill(SIGHUP);
        ASSERT_TRUE(
            WaitLog("Configuration reloaded: 1 added, 1 removed, 1 changed, 0 restarted, 2 unchanged"))
            << Log();
        EXPECT_TRUE(WaitFor([&] { return Fulls("delta").size() == 1; }, kShort, kPoll))
            << "delta did not start";
        EXPECT_TRUE(WaitFor([&] { return Fulls("gamma").size() == 2; }, kShort, kPoll))
            << "gamma stopped without a final snapshot";
        EXPECT_TRUE(HasLineWith(TargetLog("gamma"), "final", "target stopped")) << TargetLog("gamma");
        r = AskLines("targets", 5);
        EXPECT_EQ(5u, r.size()) << JoinLines(r);
        EXPECT_EQ(0u, CountStartingWith(r, "gamma ")) << JoinLines(r);
        EXPECT_EQ(1u, CountStartingWith(r, "delta ")) << JoinLines(r);
        EXPECT_EQ(1u, CountStartingWith(r, adhoc + " ")) << JoinLines(r);
        r = Status("@beta status", 1);
        EXPECT_TRUE(Contains(r, "Sample interval: 150000 us")) << JoinLines(r);
        r = Status("@" + adhoc + " status", 1);
        EXPECT_TRUE(Contains(r, "Sample interval: 250000 us")) << JoinLines(r);
        // Untouched and changed targets keep their worker and chain.
        std::this_thread::sleep_for(Millis(300));
        for (const std::string &t : {std::string("alpha"), std::string("beta"), adhoc}) {
                EXPECT_EQ(1u, Fulls(t).size()) << t;
                EXPECT_EQ(1u, CountOccurrences(TargetLog(t), "attached to pid")) << TargetLog(t);
        }

        // A broken file: an unknown key in memmon.ini, a bad duration in the
        // included file.
        std::string broken = second;
        broken.replace(broken.find("interval = 100ms\n"), 0, "colour = blue\n");
        const auto lines = SplitLines(broken);
        const std::string at_colour =
            "/memmon.ini:" +
            std::to_string(std::find(lines.begin(), lines.end(), "colour = blue") - lines.begin() + 1) + ": ";
        const std::string at_soon = "/conf.d/delta.ini:3: ";
        WriteConfig(broken);
        WriteConfig("[target:delta]\npid = " + std::to_string(wd.pid()) + "\ninterval = soon\n",
                    "conf.d/delta.ini");
        // This SIGHUP also reopens the per-target logs, as after logrotate.
        ASSERT_EQ(0, rename(P("logs/alpha.log").c_str(), P("logs/alpha.log.1").c_str()));
        const std::string rotated = ReadFileOr(P("logs/alpha.log.1"));
        daemon_->Kill(SIGHUP);
        EXPECT_TRUE(WaitLog("Reload failed: 2 errors")) << Log();
        EXPECT_TRUE(HasLineWith(Log(), at_colour, "colour")) << Log();
        EXPECT_TRUE(HasLineWith(Log(), at_soon, "soon")) << Log();
        // The old targets go on sampling.
        ASSERT_NE(0u, wa.Map(1, "r"));
        EXPECT_TRUE(WaitFor([&] { return Diffs("alpha").size() == 2; }, kShort, kPoll))
            << "alpha stopped sampling after a failed reload";
        EXPECT_TRUE(WaitFor(
            [&] {
                    auto d = Diffs("alpha");
                    return d.size() == 2 && HasLineWith(TargetLog("alpha"), "diff ", d[1]);
            },
            kShort, kPoll))
            << "no new logs/alpha.log after SIGHUP";
        EXPECT_EQ(rotated, ReadFileOr(P("logs/alpha.log.1"))) << "the rotated log was written after SIGHUP";
        EXPECT_EQ(0600, FileMode(P("logs/alpha.log")));
        ASSERT_NE(0u, wd.Map(1, "r"));
        EXPECT_TRUE(WaitFor([&] { return Diffs("delta").size() == 1; }, kShort, kPoll))
            << "delta stopped sampling after a failed reload";
        r = Status("@beta status", 1);
        EXPECT_TRUE(Contains(r, "Sample interval: 150000 us")) << JoinLines(r);

        // The reload command: the same failure, in its reply ...
        r = Ask("reload", [](const std::vector<std::string> &v) { return v.size() >= 3; });
        EXPECT_EQ(1u, CountStartingWith(r, "Reload failed: 2 errors")) << JoinLines(r);
        EXPECT_TRUE(HasLineWith(JoinLines(r), at_colour, "colour")) << JoinLines(r);
        EXPECT_TRUE(HasLineWith(JoinLines(r), at_soon, "soon")) << JoinLines(r);
        // ... and, on a good file, the same changes: delta (and the include)
        // removed, gamma back, beta pointed at another process.
        WriteConfig(head + target("alpha", wa, "100ms") + target("beta", wd, "150ms") +
                    target("gamma", wc, "100ms"));
        r = Ask("reload",
                [](const std::vector<std::string> &v) { return CountStartingWith(v, "Maps re-read") > 0; });
        EXPECT_TRUE(
            Contains(r, "Configuration reloaded: 1 added, 1 removed, 0 changed, 1 restarted, 2 unchanged"))
            << JoinLines(r);
        EXPECT_TRUE(WaitFor([&] { return Fulls("gamma").size() == 3; }, kShort, kPoll))
            << "gamma did not restart";
        EXPECT_TRUE(WaitFor([&] { return Fulls("delta").size() == 2; }, kShort, kPoll))
            << "delta stopped without a final snapshot";
        EXPECT_TRUE(HasLineWith(TargetLog("delta"), "final", "target stopped")) << TargetLog("delta");
        // beta: the old process's chain ends with a final snapshot, a new
        // chain starts on the new one.
        const std::string bpid = std::to_string(wb.pid()), dpid = std::to_string(wd.pid());
        EXPECT_TRUE(WaitFor([&] { return CountStartingWith(Fulls("beta"), "backup_" + dpid + "_") == 1; },
                            kShort, kPoll))
            << "beta did not start a chain on its new process";
        EXPECT_EQ(2u, CountStartingWith(Fulls("beta"), "backup_" + bpid + "_"));
        EXPECT_EQ("", ChainMixesInstances(ReadChain(P("backups/beta"))));
        std::this_thread::sleep_for(Millis(300));
        EXPECT_EQ(1u, Fulls("alpha").size());
        const std::string alpha_log = ReadFileOr(P("logs/alpha.log.1")) + TargetLog("alpha");
        EXPECT_EQ(1u, CountOccurrences(alpha_log, "attached to pid")) << alpha_log;
        EXPECT_EQ(1u, Fulls(adhoc).size());
        for (const std::string &t :
             {std::string("alpha"), std::string("beta"), std::string("gamma"), std::string("delta"), adhoc}) {
                RunResult v = Verify(t);
                EXPECT_EQ(0, v.code) << t << ": " << v.Describe();
        }
        ASSERT_NO_FATAL_FAILURE(Quit());
}

// 4. `agent -t -c FILE`: every error as FILE:LINE and 78; a good file 0; a
// missing file 78 naming it.  A bad file does not start an agent either.
TEST_F(MultiTest, CheckConfigReportsEveryErrorWithFileAndLine) {
        WriteConfig("[agent]\n"            // 1
                    "base_dir = .\n"       // 2
                    "interval = fast\n"    // 3: bad duration
                    "colour = blue\n"      // 4: unknown key
                    "[defaults]\n"         // 5
                    "max_bytes = 12Q\n"    // 6: bad size
                    "[target:x]\n"         // 7
                    "pid = 1\n"            // 8
                    "match = foo\n"        // 9: a second selector
                    "[target:y]\n"         // 10: no selector
                    "keep_full = 3\n"      // 11
                    "[target:x]\n"         // 12: duplicate target
                    "pid = 2\n"            // 13
                    "[bogus]\n"            // 14: unknown section
                    "[include]\n"          // 15
                    "files = inc/*.ini\n", // 16
                    "bad.ini");
        ASSERT_EQ(0, mkdir(P("inc").c_str(), 0700));
        WriteConfig("[target:z]\n"
                    "pid = abc\n", // 2: not a pid
                    "inc/more.ini");
        RunResult r = RunAgent({"-t", "-c", "bad.ini"});
        EXPECT_EQ(78, r.code) << r.Describe();
        struct Expect {
                unsigned line;
                std::string word;
        };
        for (const Expect &e : std::vector<Expect>{
                 {3, "fast"}, {4, "colour"}, {6, "12Q"}, {9, "match"}, {10, "y"}, {12, "x"}, {14, "bogus"}}) {
                EXPECT_TRUE(HasLineWith(r.err + r.out, "/bad.ini:" + std::to_string(e.line) + ": ", e.word))
                    << "no error for line " << e.line << "\n"
                    << r.Describe();
        }
        EXPECT_TRUE(HasLineWith(r.err, "inc/more.ini:2: ", "abc")) << r.Describe();
        // One line per error, and nothing else.
        size_t error_lines = 0;
        for (const auto &l : SplitLines(r.err))
                error_lines += l.find(".ini:") != std::string::npos;
        EXPECT_EQ(8u, error_lines) << r.Describe();

        // Not started on it either.
        r = RunAgent({"-d", "-c", "bad.ini"});
        EXPECT_EQ(78, r.code) << r.Describe();
        EXPECT_FALSE(PathExists(P("logs/memmon.pid")));

        WriteConfig("[agent]\nbase_dir = .\ninterval = 500ms\n\n[defaults]\nmax_bytes = 64M\n\n"
                    "[target:web]\npidfile = run/web.pid\n\n[target:db]\nmatch = postgres\nkeep_full = 3\n",
                    "good.ini");
        r = RunAgent({"-t", "-c", "good.ini"});
        EXPECT_EQ(0, r.code) << r.Describe();
        EXPECT_NE(std::string::npos, r.out.find("good.ini: OK")) << r.Describe();
        EXPECT_EQ("", r.err) << r.Describe();

        r = RunAgent({"-t", "-c", "missing.ini"});
        EXPECT_EQ(78, r.code) << r.Describe();
        EXPECT_NE(std::string::npos, r.err.find("missing.ini")) << r.Describe();
}

// 5. `agent -d -- PROG ARGS` watches PROG from its first instruction and
// stops it on quit; `agent -f -- PROG` ends when PROG ends, with its status.
TEST_F(MultiTest, ProgramAfterDoubleDash) {
        ASSERT_NO_FATAL_FAILURE(StartDaemon({"-T", "100ms", "--", WorkloadPath(), "--churn", "5"}));
        ASSERT_TRUE(WaitTargetLog("workload", "started ")) << Log();
        pid_t prog = StartedPid(TargetLog("workload"));
        ASSERT_GT(prog, 0) << TargetLog("workload");
        EXPECT_TRUE(ProcessAlive(prog));
        ASSERT_TRUE(WaitFor([&] { return Fulls("workload").size() == 1; }, kShort, kPoll));
        EXPECT_EQ(0u, Fulls("workload")[0].find("backup_" + std::to_string(prog) + "_"))
            << Fulls("workload")[0];
        // The churn changes the maps a few times a second.
        ASSERT_TRUE(WaitFor([&] { return Diffs("workload").size() >= 2; }, kShort, kPoll));

        // The first snapshot was taken at exec: the loader had not mapped
        // libc yet, and the program has more regions since.
        std::string first = ReadFileOr(P("backups/workload/full/" + Fulls("workload")[0]));
        std::string now = ReadFileOr("/proc/" + std::to_string(prog) + "/maps");
        ASSERT_TRUE(MapsHaveLibc(now)) << now;
        EXPECT_FALSE(MapsHaveLibc(first)) << "the first snapshot was taken after the program started:\n"
                                          << first;
        EXPECT_LT(SnapshotRegions(first).size() + 3, SplitLines(now).size()) << first << "--- now ---\n"
                                                                             << now;

        // The program inherits none of the agent's files: no log, FIFO, pid
        // file lock or backup (stdout and stderr are the daemon's output).
        const std::string fds = "/proc/" + std::to_string(prog) + "/fd";
        for (const auto &fd : ListDir(fds)) {
                std::string target = ReadLink(fds + "/" + fd);
                if (target.compare(0, dir_.size(), dir_) == 0) {
                        EXPECT_EQ(P("logs/daemon_output.log"), target) << "fd " << fd << " of the program";
                }
        }

        ASSERT_NO_FATAL_FAILURE(Quit());
        EXPECT_TRUE(WaitFor([&] { return !ProcessAlive(prog); }, kShort)) << "quit left the program running";
        EXPECT_TRUE(HasLineWith(TargetLog("workload"), "stopped pid " + std::to_string(prog), ""))
            << TargetLog("workload");

        // In the foreground the agent ends with the program, as it ended.
        // Another base directory: the quit above may or may not have let
        // the worker write a final snapshot.
        ASSERT_EQ(0, mkdir(P("fg").c_str(), 0700));
        SpawnOptions o =
            AgentOptions({"-f", "-T", "100ms", "--", WorkloadPath(), "--seconds", "1", "--exit-code", "3"});
        o.cwd = P("fg");
        o.stderr_file = P("agent.stderr");
        o.pipe_stdin = false;
        std::string err;
        auto agent = Process::Start(o, &err);
        ASSERT_TRUE(agent) << err;
        int code = -1;
        ASSERT_TRUE(agent->Wait(kLong, &code)) << "the agent did not end with its program";
        EXPECT_EQ(3, code) << ReadFileOr(P("agent.stderr"));
        // The program's last maps: a final snapshot after the first.
        EXPECT_EQ(2u, Visible(ListDir(P("fg/backups/workload/full"))).size())
            << ReadFileOr(P("agent.stderr"));
}

// `agent -d -- ./prog` (the README's example): a relative program is found
// from the directory the agent was started in, as in the foreground.
TEST_F(MultiTest, ProgramWithRelativePathAsDaemon) {
        NamedCopy("wl");
        ASSERT_NO_FATAL_FAILURE(StartDaemon({"-T", "100ms", "--", "./bin/wl", "--churn", "5"}));
        EXPECT_TRUE(WaitFor([&] { return Fulls("wl").size() == 1; }, kShort, kPoll));
        ASSERT_NO_FATAL_FAILURE(Quit());
}

// 6. The shipped etc/memmon.ini: it checks out, and it runs as shipped from a
// copy of etc/ whose ../bazel-bin/bench/workload is the built workload.
TEST_F(MultiTest, ShippedConfiguration) {
        RunResult r = RunAgent({"-t", "-c", Runfile("etc/memmon.ini")});
        EXPECT_EQ(0, r.code) << r.Describe();

        // Under runfiles the file resolves to the source tree, so it is run
        // from a copy: etc/ as shipped, and the demo program where its exec
        // line expects it.
        ASSERT_TRUE(CopyTree(Runfile("etc"), P("etc")));
        ASSERT_EQ(0, mkdir(P("bazel-bin").c_str(), 0700));
        ASSERT_EQ(0, mkdir(P("bazel-bin/bench").c_str(), 0700));
        ASSERT_EQ(0, symlink(WorkloadPath().c_str(), P("bazel-bin/bench/workload").c_str()));
        r = RunAgent({"-t", "-c", "etc/memmon.ini"});
        EXPECT_EQ(0, r.code) << r.Describe();

        ASSERT_NO_FATAL_FAILURE(StartDaemon({"-c", "etc/memmon.ini"}));
        EXPECT_TRUE(WaitFor([&] { return !Diffs("demo").empty(); }, Millis(8000), kPoll))
            << "no diff of the demo target";
        EXPECT_FALSE(Fulls("demo").empty());
        auto t = AskLines("targets", 5);
        std::string table = JoinLines(t);
        EXPECT_TRUE(HasLineWith(table, "demo ", "running")) << table;
        EXPECT_TRUE(HasLineWith(table, "self ", std::to_string(daemon_->pid()))) << table;
        EXPECT_EQ(1u, CountStartingWith(t, "workloads ")) << table;
        if (!ProcessNamedExists("sshd")) {
                EXPECT_TRUE(HasLineWith(table, "sshd ", "waiting")) << table;
        } else {
                EXPECT_EQ(1u, CountStartingWith(t, "sshd ")) << table;
        }
        pid_t demo = StartedPid(TargetLog("demo"));
        ASSERT_GT(demo, 0) << TargetLog("demo");
        ASSERT_NO_FATAL_FAILURE(Quit());
        EXPECT_TRUE(WaitFor([&] { return !ProcessAlive(demo); }, kShort))
            << "the demo program outlived the agent";

        // The same file at the prompt, with the same grammar.
        std::string err;
        auto agent = Process::Start(AgentOptions({"-i", "-c", "etc/memmon.ini"}), &err);
        ASSERT_TRUE(agent) << err;
        ASSERT_TRUE(agent->WriteStdin("@demo status\ntargets\nquit\n"));
        int code = -1;
        ASSERT_TRUE(agent->Wait(kLong, &code)) << "the interactive agent did not quit";
        EXPECT_EQ(0, code) << agent->err();
        const std::string &out = agent->out();
        EXPECT_EQ(1u, CountOccurrences(out, "Current PID: ")) << out;
        EXPECT_NE(std::string::npos, out.find("Status: running\n")) << out;
        EXPECT_TRUE(HasLineWith(out, "sshd ", "")) << out;
        EXPECT_NE(std::string::npos, out.find("Exiting...")) << out;
        auto pids = StartedPids(TargetLog("demo"));
        ASSERT_EQ(2u, pids.size()) << TargetLog("demo");
        EXPECT_TRUE(WaitFor([&] { return !ProcessAlive(pids[1]); }, kShort))
            << "the demo program outlived the interactive agent";
}

// 7. Exec targets in a configuration: a removed one's program is stopped on
// reload; a program that does not exist is a clear error and the other
// targets go on.
TEST_F(MultiTest, ExecTargetsInConfiguration) {
        std::string err;
        Workload wk;
        ASSERT_TRUE(wk.Start(&err)) << err;
        const std::string keep = "[agent]\nbase_dir = .\n\n[target:keep]\npid = " + std::to_string(wk.pid()) +
                                 "\ninterval = 100ms\n\n";
        const std::string ghost = "[target:ghost]\nexec = ./no-such-program --flag\ninterval = 100ms\n\n";
        auto prog = [](const std::string &seconds) {
                return "[target:prog]\nexec = " + WorkloadPath() + " --seconds " + seconds +
                       "\ninterval = 100ms\n\n";
        };
        WriteConfig(keep + ghost + prog("60"));
        ASSERT_NO_FATAL_FAILURE(StartDaemon());

        EXPECT_TRUE(WaitFor([&] { return HasLineWith(Log(), "[ghost]", "no-such-program"); }, kShort, kPoll))
            << "no error names the missing program";
        EXPECT_TRUE(HasLineWith(Log(), "no-such-program", "No such file")) << Log();
        ASSERT_TRUE(
            WaitFor([&] { return Fulls("prog").size() == 1 && Fulls("keep").size() == 1; }, kShort, kPoll));
        pid_t child = StartedPid(TargetLog("prog"));
        ASSERT_GT(child, 0) << TargetLog("prog");
        EXPECT_TRUE(ProcessAlive(child));
        ASSERT_NE(0u, wk.Map(2, "rw"));
        EXPECT_TRUE(WaitFor([&] { return Diffs("keep").size() == 1; }, kShort, kPoll));
        EXPECT_TRUE(daemon_->Alive());
        auto t = AskLines("targets", 4);
        EXPECT_TRUE(HasLineWith(JoinLines(t), "prog ", "running")) << JoinLines(t);
        EXPECT_FALSE(HasLineWith(JoinLines(t), "ghost ", "running")) << JoinLines(t);
        // A configured program's output goes to logs/<target>.out.
        EXPECT_TRUE(
            WaitFor([&] { return ReadFileOr(P("logs/prog.out")) == "ready " + std::to_string(child) + "\n"; },
                    kShort, kPoll))
            << "'" << ReadFileOr(P("logs/prog.out")) << "'";
        EXPECT_EQ(0600, FileMode(P("logs/prog.out")));

        // Only prog's interval changed: applied in place, same program.
        WriteConfig(keep + ghost + prog("60").replace(prog("60").find("100ms"), 5, "200ms"));
        daemon_->Kill(SIGHUP);
        ASSERT_TRUE(
            WaitLog("Configuration reloaded: 0 added, 0 removed, 1 changed, 0 restarted, 2 unchanged"))
            << Log();
        auto r = Status("@prog status", 1);
        EXPECT_TRUE(Contains(r, "Sample interval: 200000 us")) << JoinLines(r);
        EXPECT_TRUE(Contains(r, "Current PID: " + std::to_string(child))) << JoinLines(r);
        EXPECT_EQ(1u, StartedPids(TargetLog("prog")).size()) << TargetLog("prog");
        EXPECT_EQ(1u, Fulls("prog").size());
        EXPECT_TRUE(ProcessAlive(child));

        // prog's command changed: the old program stops (its chain ends with
        // a final snapshot), the new one starts in a new chain.
        WriteConfig(keep + ghost + prog("61"));
        daemon_->Kill(SIGHUP);
        ASSERT_TRUE(
            WaitLog("Configuration reloaded: 0 added, 0 removed, 0 changed, 1 restarted, 2 unchanged"))
            << Log();
        EXPECT_TRUE(WaitFor([&] { return !ProcessAlive(child); }, kShort)) << "the old program runs on";
        ASSERT_TRUE(WaitFor([&] { return StartedPids(TargetLog("prog")).size() == 2; }, kShort, kPoll))
            << TargetLog("prog");
        pid_t child2 = StartedPids(TargetLog("prog"))[1];
        EXPECT_TRUE(ProcessAlive(child2));
        const std::string c1 = std::to_string(child), c2 = std::to_string(child2);
        EXPECT_TRUE(WaitFor([&] { return CountStartingWith(Fulls("prog"), "backup_" + c2 + "_") == 1; },
                            kShort, kPoll));
        EXPECT_EQ(2u, CountStartingWith(Fulls("prog"), "backup_" + c1 + "_"))
            << "no final snapshot of the old one";
        EXPECT_EQ("", ChainMixesInstances(ReadChain(P("backups/prog"))));

        // prog removed: its program stops.
        WriteConfig(keep + ghost);
        daemon_->Kill(SIGHUP);
        ASSERT_TRUE(WaitLog("Configuration reloaded: 0 added, 1 removed")) << Log();
        EXPECT_TRUE(WaitFor([&] { return !ProcessAlive(child2); }, kShort))
            << "the removed target's program runs on";
        EXPECT_TRUE(WaitFor([&] { return CountStartingWith(Fulls("prog"), "backup_" + c2 + "_") == 2; },
                            kShort, kPoll))
            << "no final snapshot of the removed exec target";
        EXPECT_TRUE(HasLineWith(TargetLog("prog"), "stopped pid " + c2, "")) << TargetLog("prog");
        ASSERT_NE(0u, wk.Map(2, "rw"));
        EXPECT_TRUE(WaitFor([&] { return Diffs("keep").size() == 2; }, kShort, kPoll));
        RunResult v = Verify("prog");
        EXPECT_EQ(0, v.code) << v.Describe();
        ASSERT_NO_FATAL_FAILURE(Quit());
}

// 8. Identity: a match target with two matching processes follows the
// oldest; when it exits, the other one with a new chain.
TEST_F(MultiTest, MatchFollowsOldestThenTheOther) {
        std::string name = "m8_" + std::to_string(getpid());
        std::string path = NamedCopy(name);
        std::string err;
        NamedWorkload older;
        ASSERT_TRUE(older.Start(path, &err)) << err;
        // The younger one must be younger by the clock (start times count in
        // ticks of 10 ms), not just by pid.
        auto younger = std::make_unique<NamedWorkload>();
        ASSERT_TRUE(WaitFor(
            [&] {
                    younger = std::make_unique<NamedWorkload>();
                    return younger->Start(path, &err) &&
                           ProcStartTime(younger->pid()) > ProcStartTime(older.pid());
            },
            kShort, Millis(10)))
            << err;
        const std::string old_pid = std::to_string(older.pid()), new_pid = std::to_string(younger->pid());

        WriteConfig("[agent]\nbase_dir = .\n\n[target:named]\nmatch = " + name + "\ninterval = 100ms\n");
        ASSERT_NO_FATAL_FAILURE(StartDaemon());
        ASSERT_TRUE(WaitFor([&] { return Fulls("named").size() == 1; }, kShort, kPoll));
        EXPECT_EQ(0u, Fulls("named")[0].find("backup_" + old_pid + "_")) << Fulls("named")[0];
        EXPECT_NE(std::string::npos, TargetLog("named").find("attached to pid " + old_pid + " "));
        ASSERT_NE(0u, older.Map(2, "rw"));
        ASSERT_TRUE(WaitFor([&] { return Diffs("named").size() == 1; }, kShort, kPoll));

        // Killed and not reaped: a zombie still has the name, but it is not
        // a process to watch.
        older.Signal(SIGKILL);
        ASSERT_TRUE(WaitFor([&] { return ProcessIsZombie(older.pid()); }, kShort));
        EXPECT_TRUE(WaitTargetLog("named", "attached to pid " + new_pid + " ")) << TargetLog("named");
        ASSERT_TRUE(WaitFor([&] { return CountStartingWith(Fulls("named"), "backup_" + new_pid + "_") == 1; },
                            kShort, kPoll));
        EXPECT_EQ(2u, CountStartingWith(Fulls("named"), "backup_" + old_pid + "_"))
            << "the old chain does not end with a final snapshot";
        ASSERT_NE(0u, younger->Map(2, "rw"));
        ASSERT_TRUE(WaitFor([&] { return CountStartingWith(Diffs("named"), "diff_" + new_pid + "_") == 1; },
                            kShort, kPoll));
        EXPECT_EQ("", ChainMixesInstances(ReadChain(P("backups/named"))));
        EXPECT_EQ(1u, CountOccurrences(TargetLog("named"), "attached to pid " + old_pid + " "))
            << TargetLog("named");
        RunResult v = Verify("named");
        EXPECT_EQ(0, v.code) << v.Describe();
        ASSERT_NO_FATAL_FAILURE(Quit());
}

// Identity is (pid, start time): a process that gets the pid of one that
// exited is a new instance.  A pidfile target starts a new chain on it and
// never diffs it against the old one; a pid target stays exited.  The pid is
// reused on purpose through /proc/sys/kernel/ns_last_pid (writable by root,
// also in the pid namespace of Bazel's sandbox); where that is not allowed,
// or another process takes the pid first, the test is skipped.
TEST_F(MultiTest, ReusedPidIsANewInstance) {
        std::string err;
        auto w1 = std::make_unique<Workload>();
        ASSERT_TRUE(w1->Start(&err)) << err;
        const pid_t pid = w1->pid();
        const std::string spid = std::to_string(pid);
        const unsigned long long start1 = ProcStartTime(pid);
        // Writing ns_last_pid only moves where the kernel looks for the next
        // free pid: the one reused is the pid this test has just freed.
        if (!WriteFile("/proc/sys/kernel/ns_last_pid", std::to_string(pid + 1)))
                GTEST_SKIP() << "cannot write /proc/sys/kernel/ns_last_pid here";
        ASSERT_EQ(0, mkdir(P("run").c_str(), 0700));
        ASSERT_TRUE(ReplaceFile(P("run/app.pid"), spid + "\n"));
        WriteConfig("[agent]\nbase_dir = .\n\n[target:app]\npidfile = run/app.pid\ninterval = 100ms\n\n"
                    "[target:fixed]\npid = " +
                    spid + "\ninterval = 100ms\n");
        ASSERT_NO_FATAL_FAILURE(StartDaemon());
        ASSERT_TRUE(
            WaitFor([&] { return Fulls("app").size() == 1 && Fulls("fixed").size() == 1; }, kShort, kPoll));
        ASSERT_NE(0u, w1->Map(2, "rw"));
        ASSERT_TRUE(
            WaitFor([&] { return Diffs("app").size() == 1 && Diffs("fixed").size() == 1; }, kShort, kPoll));

        // The next process started gets the same pid, at once: before or
        // after the workers notice that the first one is gone.
        w1->Kill();
        Workload w2;
        ASSERT_TRUE(WriteFile("/proc/sys/kernel/ns_last_pid", std::to_string(pid - 1)));
        ASSERT_TRUE(w2.Start(&err)) << err;
        if (w2.pid() != pid)
                GTEST_SKIP() << "pid " << pid << " was not reused (got " << w2.pid() << ")";
        const unsigned long long start2 = ProcStartTime(pid);
        ASSERT_NE(start1, start2);

        auto starts = [&](const std::string &target) {
                std::vector<std::string> v;
                for (const auto &f : ReadChain(P("backups/" + target))) {
                        if (f.full)
                                v.push_back(f.start);
                }
                return v;
        };
        const std::string s1 = std::to_string(start1), s2 = std::to_string(start2);
        // app: the old chain ends with a final snapshot, a new chain starts
        // on the new instance and records its change.
        EXPECT_TRUE(WaitFor(
            [&] {
                    return starts("app") == std::vector<std::string>{s1, s1, s2};
            },
            kShort, kPoll))
            << JoinLines(starts("app"));
        ASSERT_NE(0u, w2.Map(3, "r"));
        EXPECT_TRUE(WaitFor([&] { return Diffs("app").size() == 2; }, kShort, kPoll));
        auto chain = ReadChain(P("backups/app"));
        EXPECT_EQ("", ChainMixesInstances(chain));
        ASSERT_FALSE(chain.empty());
        EXPECT_EQ(s2, chain.back().start) << chain.back().name;
        // fixed: exited, and it stays so.
        EXPECT_TRUE(WaitFor(
            [&] {
                    return starts("fixed") == std::vector<std::string>{s1, s1};
            },
            kShort, kPoll))
            << JoinLines(starts("fixed"));
        std::this_thread::sleep_for(Millis(300));
        EXPECT_EQ((std::vector<std::string>{s1, s1}), starts("fixed"));
        EXPECT_EQ(1u, Diffs("fixed").size());
        auto r = Status("@fixed status", 1);
        EXPECT_TRUE(Contains(r, "Status: exited")) << JoinLines(r);
        EXPECT_EQ(1u, CountOccurrences(TargetLog("fixed"), "attached to pid")) << TargetLog("fixed");
        for (const char *t : {"app", "fixed"}) {
                RunResult v = Verify(t);
                EXPECT_EQ(0, v.code) << t << ": " << v.Describe();
        }
        ASSERT_NO_FATAL_FAILURE(Quit());
}

} // namespace
} // namespace memmon_test
