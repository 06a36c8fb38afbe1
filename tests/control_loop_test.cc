// The control loop never waits for a command (issue 8, finding 7, and
// issue 11): SIGTERM is acted on at once under a FIFO writer that never
// stops, monitor.log grows at a bounded rate under that flood, a part of a
// line without its newline is dropped instead of glued to the next writer's
// command, and a command waiting on a stuck worker delays neither a signal
// nor a quit.  Each test fails on the control loop before the executor
// (commit 610413c).  The figures go to RELIABILITY.md ("FIFO flood").
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/reliability_util.h"
#include "tests/testutil.h"

namespace memmon_test {
namespace {

using Clock = std::chrono::steady_clock;

constexpr Millis kShort(5000);
constexpr Millis kLong(20000);

double SecondsSince(Clock::time_point t) {
        return std::chrono::duration<double>(Clock::now() - t).count();
}

off_t FileSize(const std::string &path) {
        struct stat st;
        return stat(path.c_str(), &st) == 0 ? st.st_size : -1;
}

// A process that writes `line` to the FIFO as fast as it can, for ever
// (blocking whenever the pipe is full), until it is killed.
class FifoFlood {
      public:
        FifoFlood(const std::string &fifo, const std::string &line) {
                std::string buf;
                while (buf.size() + line.size() <= 65536)
                        buf += line;
                pid_ = fork();
                if (pid_ == 0) {
                        int fd = open(fifo.c_str(), O_WRONLY | O_CLOEXEC);
                        if (fd < 0)
                                _exit(2);
                        for (;;)
                                if (write(fd, buf.data(), buf.size()) < 0)
                                        _exit(3);
                }
        }
        ~FifoFlood() {
                Stop();
        }
        bool ok() const {
                return pid_ > 0;
        }
        void Stop() {
                if (pid_ <= 0)
                        return;
                kill(pid_, SIGKILL);
                int status;
                while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
                }
                pid_ = -1;
        }

      private:
        pid_t pid_ = -1;
};

class ControlLoopTest : public WorkloadDirTest {
      protected:
        void TearDown() override {
                if (agent_ && !agent_->exited()) {
                        agent_->Signal(SIGKILL);
                        int code;
                        (void)agent_->Wait(kLong, &code);
                }
                BaseDirTest::TearDown();
        }
        // The agent in the foreground on the workload (stderr to a file);
        // waits until it runs.  wrapper: programs and settings before it.
        void Start(const std::vector<std::string> &wrapper = {}) {
                SpawnOptions o = AgentOptions({"-p", wpid_, "-f", "-T", "1000000"});
                o.argv.insert(o.argv.begin(), wrapper.begin(), wrapper.end());
                o.stderr_file = P("agent.stderr");
                o.pipe_stdin = false;
                std::string err;
                agent_ = Process::Start(o, &err);
                ASSERT_TRUE(agent_) << err;
                ASSERT_TRUE(WaitFor([&] { return Log().find("full backup") != std::string::npos; }, kLong))
                    << ReadFileOr(P("agent.stderr"));
        }
        // Waits for the agent to end; returns its exit code (-1: it did not).
        int WaitExit(Millis timeout) {
                int code = -1;
                return agent_->Wait(timeout, &code) ? code : -1;
        }

        std::unique_ptr<Process> agent_;
};

TEST_F(ControlLoopTest, SigtermIsActedOnUnderAFifoFlood) {
        ASSERT_NO_FATAL_FAILURE(Start());
        FifoFlood flood(P("logs/daemon_fifo"), "status\n");
        ASSERT_TRUE(flood.ok());
        // The flood is on once its commands reach the log.
        off_t size0 = FileSize(P("logs/monitor.log"));
        ASSERT_TRUE(WaitFor([&] { return FileSize(P("logs/monitor.log")) > size0 + 100000; }, kLong));
        std::this_thread::sleep_for(Millis(500));
        auto t0 = Clock::now();
        agent_->Signal(SIGTERM);
        // Generous: the point is "acted on", not a benchmark.  The old loop
        // never got to the signalfd while the writer wrote.
        int code = WaitExit(Millis(10000));
        double latency_ms = SecondsSince(t0) * 1000;
        flood.Stop();
        if (code == -1)
                code = WaitExit(kLong);
        EXPECT_EQ(0, code);
        EXPECT_LT(latency_ms, 1000) << "SIGTERM waited for the flood";
        EXPECT_TRUE(HasLineWith(Log(), "signal TERM: stopping", "")) << "the stop was not the signal's";
        printf("FIGURE fifo_flood_sigterm_to_exit_ms = %.0f\n", latency_ms);
}

TEST_F(ControlLoopTest, LogGrowthIsBoundedUnderAFifoFlood) {
        ASSERT_NO_FATAL_FAILURE(Start());
        FifoFlood flood(P("logs/daemon_fifo"), "status\n");
        ASSERT_TRUE(flood.ok());
        // The burst a script may send is logged whole (2000 replies); what
        // follows is the sustained rate.
        off_t size0 = FileSize(P("logs/monitor.log"));
        ASSERT_TRUE(WaitFor([&] { return FileSize(P("logs/monitor.log")) > size0 + 100000; }, kLong));
        EXPECT_TRUE(WaitFor([&] { return HasLineWith(Log(), "suppressed", "replies"); }, Millis(3000)))
            << "nothing was left out of the log";
        off_t a = FileSize(P("logs/monitor.log"));
        auto t0 = Clock::now();
        // Meanwhile the control socket is served.
        RunResult r = RunAgent({"ctl", "-b", dir_, "status"});
        double ctl_ms = SecondsSince(t0) * 1000;
        EXPECT_EQ(0, r.code) << r.Describe();
        std::this_thread::sleep_for(Millis(3000));
        off_t b = FileSize(P("logs/monitor.log"));
        double secs = SecondsSince(t0);
        double per_s = static_cast<double>(b - a) / secs;
        flood.Stop();
        std::string log = Log();
        size_t commands = CountLinesWith(log, "] command: status");
        size_t summaries = CountLinesWith(log, "suppressed", "replies");
        // 200 replies a second of ~450 bytes, and the summaries.
        EXPECT_LT(per_s, 256 * 1024) << "bytes a second";
        EXPECT_GE(summaries, 2u);
        agent_->Signal(SIGTERM);
        EXPECT_EQ(0, WaitExit(kLong));
        printf("FIGURE fifo_flood_log_bytes_per_second = %.0f\nFIGURE fifo_flood_commands_logged = %zu\n"
               "FIGURE fifo_flood_summary_lines = %zu\nFIGURE fifo_flood_ctl_status_ms = %.0f\n",
               per_s, commands, summaries, ctl_ms);
}

TEST_F(ControlLoopTest, AFragmentIsNeverGluedToTheNextWritersCommand) {
        ASSERT_NO_FATAL_FAILURE(Start());
        // A trailing CR is no part of the command.
        ASSERT_TRUE(WriteFifo(P("logs/daemon_fifo"), "status\r\n"));
        ASSERT_TRUE(WaitFor([&] { return HasLineWith(Log(), "Status: running", ""); }, kShort)) << Log();
        // One writer leaves "status" without its newline ...
        auto t0 = Clock::now();
        ASSERT_TRUE(WriteFifo(P("logs/daemon_fifo"), "status"));
        EXPECT_TRUE(
            WaitFor([&] { return HasLineWith(Log(), "FIFO: discarded 'status'", "no newline"); }, kShort))
            << Log();
        double dropped_ms = SecondsSince(t0) * 1000;
        // ... and a later one sends quit, which must not become
        // "statusquit".
        ASSERT_TRUE(WriteFifo(P("logs/daemon_fifo"), "quit\n"));
        EXPECT_EQ(0, WaitExit(kShort)) << Log();
        EXPECT_EQ(std::string::npos, Log().find("statusquit")) << Log();
        EXPECT_GE(dropped_ms, 150);
        printf("FIGURE fifo_fragment_dropped_after_ms = %.0f\n", dropped_ms);
}

// A command that waits on a worker stuck in a write (tests/stallshim.so
// blocks the fsync of a backup) holds up neither SIGTERM nor a quit.
class StuckCommandTest : public ControlLoopTest {
      protected:
        void StartStalling() {
                flag_ = P("stall.flag");
                mark_ = P("stall.mark");
                const char *asan = getenv("ASAN_OPTIONS");
                ASSERT_NO_FATAL_FAILURE(Start({"/usr/bin/env", "LD_PRELOAD=" + Runfile("tests/stallshim.so"),
                                               "MEMMON_STALL_OP=fsync", "MEMMON_STALL_DIR=" + P("backups"),
                                               "MEMMON_STALL_FLAG=" + flag_, "MEMMON_STALL_MARK=" + mark_,
                                               std::string("ASAN_OPTIONS=") + (asan ? asan : "") +
                                                   (asan && *asan ? ":" : "") + "verify_asan_link_order=0"}));
                // The worker blocks in the fsync of a manual backup, and
                // the command waits for it (up to 10 s).
                ASSERT_TRUE(WriteFile(flag_, ""));
                ASSERT_TRUE(WriteFifo(P("logs/daemon_fifo"), "backup\n"));
                ASSERT_TRUE(WaitFor([&] { return PathExists(mark_); }, kLong)) << "nothing blocked";
        }
        // The agent said it stops; then the stall ends and it exits.
        void ExpectPromptStop(Clock::time_point t0, const char *figure) {
                ASSERT_TRUE(
                    WaitFor([&] { return HasLineWith(Log(), "[agent] stopping", ""); }, Millis(10000)))
                    << Log();
                double ms = SecondsSince(t0) * 1000;
                EXPECT_LT(ms, 1000) << "the stop waited for the command";
                // The stuck worker is joined once its write ends.
                ASSERT_EQ(0, unlink(flag_.c_str()));
                EXPECT_EQ(0, WaitExit(kLong)) << Log();
                printf("FIGURE %s = %.0f\n", figure, ms);
        }
        std::string flag_, mark_;
};

TEST_F(StuckCommandTest, SigtermWhileACommandWaitsOnAStuckWorker) {
        ASSERT_NO_FATAL_FAILURE(StartStalling());
        auto t0 = Clock::now();
        agent_->Signal(SIGTERM);
        ExpectPromptStop(t0, "stuck_command_sigterm_to_stopping_ms");
}

TEST_F(StuckCommandTest, QuitWhileACommandWaitsOnAStuckWorker) {
        ASSERT_NO_FATAL_FAILURE(StartStalling());
        auto t0 = Clock::now();
        ASSERT_TRUE(WriteFifo(P("logs/daemon_fifo"), "quit\n"));
        ExpectPromptStop(t0, "stuck_command_quit_to_stopping_ms");
        // The command that waited says why it gave up.
        EXPECT_TRUE(HasLineWith(Log(), "abandoned: the agent is stopping", "")) << Log();
}

} // namespace
} // namespace memmon_test
