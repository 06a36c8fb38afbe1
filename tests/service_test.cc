// The agent as a systemd service, with the real binary and a fake
// NOTIFY_SOCKET (tests/notify_receiver.h) standing in for systemd: the
// sequence READY, STATUS, RELOADING/READY on SIGHUP and on `reload`,
// STOPPING on SIGTERM; watchdog pings at half of WATCHDOG_USEC; no pings
// while the control loop cannot run (the process stopped, or the loop
// blocked writing to a pipe nobody reads); and `systemd-analyze verify` of
// etc/memmon.service.
//
// Timing is never asserted exactly: ping counts are checked within wide
// bounds over a window the test measures itself, and the only fixed waits
// give pings a chance to arrive that must not.
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/notify_receiver.h"
#include "tests/testutil.h"

namespace memmon_test {
namespace {

using Clock = std::chrono::steady_clock;

constexpr Millis kShort(5000);
constexpr Millis kLong(15000);
// WATCHDOG_USEC of these tests: pings are due every 100 ms.
constexpr int kWatchdogMs = 200;
// How long "no ping" must last to count as stopped: five periods.
constexpr Millis kSilence(1000);
// The STATUS= line of one running target; the rest of it is the last
// minute's counts ("; 0 diffs in the last minute; 0 alerts").
constexpr char kStatusRunning[] = "STATUS=1 target: 1 running; ";

// The state letter of /proc/PID/stat ('T' stopped), or 0.
char ProcState(pid_t pid) {
        std::string s = ReadFileOr("/proc/" + std::to_string(pid) + "/stat");
        size_t p = s.rfind(')');
        return p != std::string::npos && p + 2 < s.size() ? s[p + 2] : 0;
}

uint64_t MonotonicUs() {
        timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return static_cast<uint64_t>(ts.tv_sec) * 1000000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
}

class ServiceTest : public BaseDirTest {
      protected:
        void SetUp() override {
                BaseDirTest::SetUp();
                if (HasFatalFailure())
                        return;
                ASSERT_TRUE(rx_.ok()) << "cannot bind " << rx_.path();
                std::string err;
                ASSERT_TRUE(wl_.Start(&err)) << err;
        }
        void TearDown() override {
                if (HasFailure())
                        fprintf(stderr, "notifications:\n%s", rx_.Describe().c_str());
                if (agent_ && !agent_->exited()) {
                        agent_->Signal(SIGCONT);
                        agent_->Signal(SIGTERM);
                        int code;
                        (void)agent_->Wait(kLong, &code);
                }
                BaseDirTest::TearDown();
        }

        // Starts the agent on the workload with NOTIFY_SOCKET (and, when
        // watchdog_ms > 0, WATCHDOG_USEC) set; waits for READY=1.  env:
        // more variables for the agent (KEY, VALUE pairs).
        void Start(const std::vector<std::string> &mode, int watchdog_ms,
                   const std::vector<std::pair<std::string, std::string>> &env = {}) {
                std::vector<std::unique_ptr<ScopedEnv>> extra;
                for (const auto &kv : env)
                        extra.push_back(std::make_unique<ScopedEnv>(kv.first, kv.second));
                ScopedEnv sock("NOTIFY_SOCKET", rx_.path());
                ScopedEnv wd("WATCHDOG_USEC", watchdog_ms > 0 ? std::to_string(watchdog_ms * 1000) : "");
                if (watchdog_ms <= 0)
                        unsetenv("WATCHDOG_USEC");
                SpawnOptions o;
                o.argv = {AgentPath(), "-p", std::to_string(wl_.pid())};
                o.argv.insert(o.argv.end(), mode.begin(), mode.end());
                o.cwd = dir_;
                // -f logs to stderr: into a file, so that nobody must read it.
                o.stderr_file = P("agent.stderr");
                std::string err;
                agent_ = Process::Start(o, &err);
                ASSERT_TRUE(agent_) << err;
                ASSERT_TRUE(rx_.WaitFor([&] { return rx_.Find("READY=1") >= 0; }, kLong))
                    << "no READY=1; stderr: " << ReadFileOr(P("agent.stderr"));
        }

        // Waits until nothing has come for kSilence (within timeout).
        bool WaitSilence(Millis timeout) {
                return rx_.WaitFor(
                    [&] {
                            return !rx_.messages().empty() &&
                                   Clock::now() - rx_.messages().back().at >= kSilence;
                    },
                    timeout);
        }

        NotifyReceiver rx_;
        Workload wl_;
        std::unique_ptr<Process> agent_;
};

// READY, STATUS; RELOADING (with the time) then READY around SIGHUP and
// around `reload`; STOPPING on SIGTERM.
TEST_F(ServiceTest, SequenceReadyStatusReloadStopping) {
        ASSERT_NO_FATAL_FAILURE(Start({"-f"}, 0));
        int ready = rx_.Find("READY=1");
        ASSERT_TRUE(rx_.WaitFor([&] { return rx_.FindPrefix(kStatusRunning) >= 0; }, kShort))
            << rx_.Describe();
        EXPECT_LT(ready, rx_.FindPrefix(kStatusRunning)) << rx_.Describe();
        EXPECT_EQ(-1, rx_.Find("RELOADING=1"));

        for (const std::string how : {"SIGHUP", "reload"}) {
                size_t from = rx_.messages().size();
                uint64_t before = MonotonicUs();
                if (how == "SIGHUP")
                        agent_->Signal(SIGHUP);
                else
                        ASSERT_TRUE(WriteFifo(P("logs/daemon_fifo"), "reload\n"));
                ASSERT_TRUE(rx_.WaitFor([&] { return rx_.Find("READY=1", from) >= 0; }, kShort))
                    << how << ": no READY=1 after the reload\n"
                    << rx_.Describe();
                uint64_t after = MonotonicUs();
                int reloading = rx_.Find("RELOADING=1", from);
                ASSERT_GE(reloading, 0) << how << "\n" << rx_.Describe();
                EXPECT_LT(reloading, rx_.Find("READY=1", from)) << how << "\n" << rx_.Describe();
                bool found = false;
                uint64_t usec =
                    strtoull(rx_.messages()[reloading].Value("MONOTONIC_USEC", &found).c_str(), nullptr, 10);
                EXPECT_TRUE(found) << rx_.messages()[reloading].text;
                EXPECT_LE(before, usec) << how;
                EXPECT_GE(after, usec) << how;
                EXPECT_TRUE(rx_.WaitFor([&] { return rx_.FindPrefix(kStatusRunning, from) >= 0; }, kShort))
                    << how << ": no STATUS after the reload\n"
                    << rx_.Describe();
        }

        size_t from = rx_.messages().size();
        agent_->Signal(SIGTERM);
        int code = -1;
        ASSERT_TRUE(agent_->Wait(kLong, &code));
        EXPECT_EQ(0, code);
        rx_.Pump(Millis(100));
        EXPECT_GE(rx_.Find("STOPPING=1", from), 0) << rx_.Describe();
        EXPECT_EQ(-1, rx_.Find("READY=1", from)) << rx_.Describe();
}

// With WATCHDOG_USEC=200000 the loop pings about every 100 ms, and only
// after READY=1.
TEST_F(ServiceTest, WatchdogPingsAtHalfThePeriod) {
        ASSERT_NO_FATAL_FAILURE(Start({"-f"}, kWatchdogMs));
        ASSERT_TRUE(rx_.WaitFor([&] { return rx_.Count("WATCHDOG=1") > 0; }, kShort)) << rx_.Describe();
        EXPECT_LT(rx_.Find("READY=1"), rx_.Find("WATCHDOG=1"));

        size_t from = rx_.messages().size();
        auto t0 = Clock::now();
        rx_.WaitFor([&] { return Clock::now() - t0 >= Millis(2000); }, Millis(3000));
        double elapsed_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        size_t pings = rx_.Count("WATCHDOG=1", from);
        double expected = elapsed_ms / (kWatchdogMs / 2.0);
        // A loaded machine may wake the loop late (fewer pings); more than
        // one per half period would be a bug.
        EXPECT_GE(pings, static_cast<size_t>(expected / 4)) << elapsed_ms << " ms\n" << rx_.Describe();
        EXPECT_LE(pings, static_cast<size_t>(expected * 1.5 + 2)) << elapsed_ms << " ms\n" << rx_.Describe();
        // Nothing else is sent that often: STATUS= at most every 10 s.
        EXPECT_EQ(0u, rx_.Count("READY=1", from));
}

// A stopped agent (SIGSTOP) sends nothing; continued, it pings again.
TEST_F(ServiceTest, StoppedAgentStopsPinging) {
        ASSERT_NO_FATAL_FAILURE(Start({"-f"}, kWatchdogMs));
        ASSERT_TRUE(rx_.WaitFor([&] { return rx_.Count("WATCHDOG=1") >= 3; }, kShort)) << rx_.Describe();
        agent_->Signal(SIGSTOP);
        ASSERT_TRUE(WaitFor([&] { return ProcState(agent_->pid()) == 'T'; }, kShort));
        rx_.Pump(Millis(50));
        size_t from = rx_.messages().size();
        std::this_thread::sleep_for(kSilence);
        rx_.Pump(Millis(50));
        EXPECT_EQ(0u, rx_.Count("WATCHDOG=1", from)) << rx_.Describe();

        agent_->Signal(SIGCONT);
        EXPECT_TRUE(rx_.WaitFor([&] { return rx_.Count("WATCHDOG=1", from) >= 2; }, kShort))
            << rx_.Describe();
}

// The loop blocks for real: in -i with its stdout a pipe nobody reads,
// replies fill the pipe and the write blocks.  The pings stop; once the pipe
// is read again they resume.  This is what WatchdogSec= is for.
TEST_F(ServiceTest, BlockedControlLoopStopsPinging) {
        ASSERT_NO_FATAL_FAILURE(Start({"-i"}, kWatchdogMs));
        ASSERT_TRUE(rx_.WaitFor([&] { return rx_.Count("WATCHDOG=1") >= 3; }, kShort)) << rx_.Describe();
        // Each reply is some 600 bytes: 400 of them are several pipes full.
        std::string cmds;
        for (int i = 0; i < 400; i++)
                cmds += "help\n";
        ASSERT_TRUE(agent_->WriteStdin(cmds));
        ASSERT_TRUE(WaitSilence(kLong)) << "the pings never stopped\n" << rx_.Describe();
        size_t from = rx_.messages().size();
        std::this_thread::sleep_for(kSilence);
        rx_.Pump(Millis(50));
        EXPECT_EQ(0u, rx_.Count("WATCHDOG=1", from)) << rx_.Describe();

        // Reading the pipe unblocks the loop.
        EXPECT_TRUE(agent_->ReadUntil(
            [&] {
                    rx_.Pump();
                    return rx_.Count("WATCHDOG=1", from) >= 2;
            },
            kLong))
            << rx_.Describe();
        EXPECT_TRUE(
            agent_->ReadUntil([&] { return CountOccurrences(agent_->out(), "quit | stop") == 400; }, kLong))
            << "not every help was answered: " << CountOccurrences(agent_->out(), "quit | stop");
}

// The watchdog's health condition, with a worker made to block by
// tests/stallshim.so (LD_PRELOAD): a worker stuck outside its target (in
// the fsync of a backup) stops the pings; a worker blocked in a read of its
// target's /proc/PID/maps does not.  A real process cannot be made to hold
// its mmap lock for seconds on demand, so the maps read is made to block by
// the shim, in the same pread() the kernel would block in.
class HealthTest : public ServiceTest {
      protected:
        // The agent with the shim blocking op (on files under dir, for
        // fsync) while the flag file exists.
        void StartStalling(const std::string &op,
                           const std::vector<std::string> &args = {"-f", "-T", "100000"},
                           const std::string &dir = "backups") {
                flag_ = P("stall.flag");
                mark_ = P("stall.mark");
                const char *asan = getenv("ASAN_OPTIONS");
                ASSERT_NO_FATAL_FAILURE(
                    Start(args, kWatchdogMs,
                          {{"LD_PRELOAD", Runfile("tests/stallshim.so")},
                           {"MEMMON_STALL_OP", op},
                           {"MEMMON_STALL_DIR", P(dir)},
                           {"MEMMON_STALL_FLAG", flag_},
                           {"MEMMON_STALL_MARK", mark_},
                           // ASan wants its runtime first; the shim comes first.
                           {"ASAN_OPTIONS", std::string(asan ? asan : "") + (asan && *asan ? ":" : "") +
                                                "verify_asan_link_order=0"}}));
                ASSERT_TRUE(rx_.WaitFor([&] { return rx_.Count("WATCHDOG=1") >= 3; }, kShort))
                    << rx_.Describe();
        }
        // Makes the stall begin and waits until a call is blocked in it.
        void Stall(const std::function<void()> &provoke) {
                ASSERT_TRUE(WriteFile(flag_, ""));
                provoke();
                ASSERT_TRUE(WaitFor([&] { return PathExists(mark_); }, kLong)) << "nothing blocked";
        }
        std::string flag_, mark_;
};

TEST_F(HealthTest, WorkerStuckOutsideItsTargetStopsThePings) {
        ASSERT_NO_FATAL_FAILURE(StartStalling("fsync"));
        auto t0 = Clock::now();
        // SIGUSR1: a full backup, whose fsync blocks.
        ASSERT_NO_FATAL_FAILURE(Stall([&] { agent_->Signal(SIGUSR1); }));
        ASSERT_TRUE(WaitSilence(Millis(30000))) << "the pings never stopped\n" << rx_.Describe();
        double stopped_after = std::chrono::duration<double>(rx_.messages().back().at - t0).count();
        // Not before the worker has been busy for WORKER_BUSY_MAX_US (5 s).
        EXPECT_GE(stopped_after, 4.5) << rx_.Describe();
        EXPECT_TRUE(WaitFor(
            [&] {
                    return HasLineWith(ReadFileOr(P("logs/monitor.log")), "not pinging the systemd watchdog",
                                       "has made no progress");
            },
            kShort))
            << ReadFileOr(P("logs/monitor.log"));
        size_t from = rx_.messages().size();
        ASSERT_EQ(0, unlink(flag_.c_str()));
        EXPECT_TRUE(rx_.WaitFor([&] { return rx_.Count("WATCHDOG=1", from) >= 2; }, kShort))
            << "the pings did not come back\n"
            << rx_.Describe();
        printf("FIGURE watchdog_stopped_after_stall_s = %.1f\n", stopped_after);
}

TEST_F(HealthTest, WorkerBlockedOnItsTargetKeepsPinging) {
        ASSERT_NO_FATAL_FAILURE(StartStalling("maps"));
        // The next tick (every 100 ms) reads the maps, and blocks there.
        ASSERT_NO_FATAL_FAILURE(Stall([] {}));
        size_t from = rx_.messages().size();
        auto t0 = Clock::now();
        // Longer than a worker may be busy outside its target (5 s).
        rx_.WaitFor([&] { return Clock::now() - t0 >= Millis(7000); }, Millis(8000));
        double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        size_t pings = rx_.Count("WATCHDOG=1", from);
        EXPECT_GE(pings, static_cast<size_t>(ms / (kWatchdogMs / 2.0) / 4)) << rx_.Describe();
        EXPECT_FALSE(HasLineWith(ReadFileOr(P("logs/monitor.log")), "not pinging", ""))
            << ReadFileOr(P("logs/monitor.log"));
        // The agent still answers while its worker is blocked.
        ASSERT_TRUE(WriteFifo(P("logs/daemon_fifo"), "targets\n"));
        EXPECT_TRUE(
            WaitFor([&] { return HasLineWith(ReadFileOr(P("logs/monitor.log")), "NAME", "STATE"); }, kShort));
        ASSERT_EQ(0, unlink(flag_.c_str()));
}

// The command thread stuck outside a wait for a worker (here in the fsync
// of the metrics file, which it writes) is a stuck agent too.
TEST_F(HealthTest, CommandThreadStuckStopsThePings) {
        ASSERT_EQ(0, mkdir(P("textfile").c_str(), 0755));
        ASSERT_TRUE(WriteFile(P("memmon.ini"), "[agent]\nbase_dir = " + dir_ + "\nmetrics_file = " +
                                                   P("textfile/memmon.prom") + "\nmetrics_interval = 1s\n"));
        ASSERT_NO_FATAL_FAILURE(StartStalling("fsync", {"-f", "-c", "memmon.ini"}, "textfile"));
        auto t0 = Clock::now();
        // The next metrics file blocks in its fsync.
        ASSERT_NO_FATAL_FAILURE(Stall([] {}));
        ASSERT_TRUE(WaitSilence(Millis(30000))) << "the pings never stopped\n" << rx_.Describe();
        EXPECT_GE(std::chrono::duration<double>(rx_.messages().back().at - t0).count(), 4.0)
            << rx_.Describe();
        EXPECT_TRUE(WaitFor(
            [&] {
                    return HasLineWith(ReadFileOr(P("logs/monitor.log")), "not pinging the systemd watchdog",
                                       "without waiting for a worker");
            },
            kShort))
            << ReadFileOr(P("logs/monitor.log"));
        size_t from = rx_.messages().size();
        ASSERT_EQ(0, unlink(flag_.c_str()));
        EXPECT_TRUE(rx_.WaitFor([&] { return rx_.Count("WATCHDOG=1", from) >= 2; }, kShort))
            << rx_.Describe();
}

constexpr char kUnitExec[] = "ExecStart=/usr/local/bin/memmon-agent ";

// Runs `systemd-analyze verify UNIT`.  It insists that ExecStart's program
// exists, and /usr/local/bin/memmon-agent does not here: in a private mount
// namespace a tmpfs on /usr/local/bin holds the built agent under that name,
// so the file is verified unchanged.  Where that is not allowed, a copy
// whose ExecStart names the built agent is verified instead.  It also runs
// man(1) for each Documentation= page: MANPATH adds a folder with ours.
// systemd-analyze exits 0 even when it ignores a bad line, so what it
// prints is returned too.
RunResult VerifyUnit(const std::string &unit) {
        RunResult none;
        std::string man = MakeTempDir("manpath");
        if (man.empty() || mkdir((man + "/man8").c_str(), 0755) < 0 ||
            mkdir((man + "/man5").c_str(), 0755) < 0 ||
            !WriteFile(man + "/man8/memmon-agent.8", ReadFileOr(Runfile("man/memmon-agent.8"))) ||
            !WriteFile(man + "/man5/memmon.ini.5", ReadFileOr(Runfile("man/memmon.ini.5")))) {
                none.err = "cannot make a MANPATH folder";
                return none;
        }
        std::string manpath = "MANPATH=" + man + ":/usr/share/man";
        SpawnOptions o;
        o.argv = {
            "/usr/bin/env",
            manpath,
            "/usr/bin/unshare",
            "--mount",
            "/bin/sh",
            "-c",
            "mount -t tmpfs -o mode=0755 memmon /usr/local/bin && cp \"$1\" /usr/local/bin/memmon-agent && "
            "exec /usr/bin/systemd-analyze verify \"$2\"",
            "sh",
            AgentPath(),
            unit};
        RunResult r = RunProcess(o, Millis(60000));
        if (r.code == 0 || r.err.find("systemd-analyze") != std::string::npos ||
            r.err.find(".service") != std::string::npos)
                return r;
        fprintf(stderr, "no private mount namespace here (%s); verifying a copy with ExecStart=%s\n",
                r.err.c_str(), AgentPath().c_str());
        std::string text = ReadFileOr(unit);
        size_t p = text.find(kUnitExec);
        std::string dir = MakeTempDir("unit");
        if (p == std::string::npos || dir.empty())
                return r;
        text.replace(p, strlen(kUnitExec), "ExecStart=" + AgentPath() + " ");
        std::string copy = dir + "/" + unit.substr(unit.rfind('/') + 1);
        if (!WriteFile(copy, text))
                return r;
        o.argv = {"/usr/bin/env", manpath, "/usr/bin/systemd-analyze", "verify", copy};
        return RunProcess(o, Millis(60000));
}

// `systemd-analyze verify` accepts the shipped unit without a word.
TEST(ServiceUnit, SystemdAnalyzeVerifyPasses) {
        PrepareTestProcess();
        if (access("/usr/bin/systemd-analyze", X_OK) != 0)
                GTEST_SKIP() << "systemd-analyze is not installed (Debian: systemd); not verified";
        std::string unit = Runfile("etc/memmon.service");
        std::string text = ReadFileOr(unit);
        ASSERT_NE(std::string::npos, text.find("\nType=notify\n")) << text;
        ASSERT_NE(std::string::npos, text.find("\nWatchdogSec=30s\n")) << text;
        ASSERT_NE(std::string::npos, text.find(std::string("\n") + kUnitExec)) << text;
        RunResult r = VerifyUnit(unit);
        EXPECT_EQ(0, r.code) << r.Describe();
        EXPECT_EQ("", r.out + r.err) << "warnings: " << r.Describe();
}

// A unit with a mistake does not pass the same check, so the test above can
// fail.
TEST(ServiceUnit, SystemdAnalyzeVerifyCatchesAMistake) {
        PrepareTestProcess();
        if (access("/usr/bin/systemd-analyze", X_OK) != 0)
                GTEST_SKIP() << "systemd-analyze is not installed (Debian: systemd); not verified";
        std::string text = ReadFileOr(Runfile("etc/memmon.service"));
        size_t p = text.find("WatchdogSec=30s");
        ASSERT_NE(std::string::npos, p);
        text.replace(p, strlen("WatchdogSec=30s"), "WatchdogSec=thirty");
        std::string dir = MakeTempDir("badunit");
        ASSERT_TRUE(WriteFile(dir + "/memmon.service", text));
        RunResult r = VerifyUnit(dir + "/memmon.service");
        EXPECT_NE(std::string::npos, (r.out + r.err).find("thirty")) << r.Describe();
}

} // namespace
} // namespace memmon_test
