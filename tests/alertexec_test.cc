// alert_exec's runner (agent/alertexec.c) with a real program
// (tests/alertexec_probe.c) that records what it was given: its stdin, its
// environment, its fds and signals; the rate per target; a hanging program
// killed after its 10 s; failures logged; a queue that never blocks the
// caller; programs that die with the agent.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "agent/alertexec.h"
#include "agent/events.h"
#include "agent/log.h"
#include "tests/testutil.h"

namespace memmon_test {
namespace {

using Clock = std::chrono::steady_clock;

std::string Probe() {
        return Runfile("tests/alertexec_probe");
}

class AlertExecTest : public ::testing::Test {
      protected:
        void SetUp() override {
                dir_ = TestTempDir();
                ASSERT_FALSE(dir_.empty());
                out_ = dir_ + "/out";
                ASSERT_EQ(0, mkdir(out_.c_str(), 0700));
                dir_fd_ = open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                ASSERT_GE(dir_fd_, 0);
                char why[256];
                ASSERT_EQ(0, agent_log_new(dir_fd_, 1, -1, LOG_DEBUG, &log_, why, sizeof(why))) << why;
                ASSERT_EQ(0, agent_events_new(dir_fd_, true, &events_));
                ASSERT_EQ(0, alertexec_new(dir_fd_, log_, events_, &x_));
        }
        void TearDown() override {
                if (dir_fd_ >= 0)
                        close(dir_fd_);
                alertexec_free(x_);
                agent_events_free(events_);
                agent_log_free(log_);
        }

        void Submit(const std::vector<std::string> &argv, const std::string &json, unsigned rate = 10,
                    const char *target = "web", const char *rule = "wx") {
                std::vector<char *> v;
                for (const auto &a : argv)
                        v.push_back(const_cast<char *>(a.c_str()));
                v.push_back(nullptr);
                alertexec_submit(x_, target, v.data(), rate, 4242, 98765, rule, json.data(), json.size());
        }
        // The files of out_ that end in ext.
        std::vector<std::string> Files(const std::string &ext) {
                std::vector<std::string> v;
                for (const auto &n : ListDir(out_))
                        if (n.size() > ext.size() && n.compare(n.size() - ext.size(), ext.size(), ext) == 0)
                                v.push_back(n.substr(0, n.size() - ext.size()));
                return v;
        }
        std::string Log() {
                return ReadFileOr(dir_ + "/monitor.log");
        }
        struct alertexec_stats Stats() {
                struct alertexec_stats s;
                alertexec_get_stats(x_, &s);
                return s;
        }

        std::string dir_, out_;
        int dir_fd_ = -1;
        struct agent_log *log_ = nullptr;
        struct agent_events *events_ = nullptr;
        struct alertexec *x_ = nullptr;
};

TEST_F(AlertExecTest, GetsTheJsonTheEnvironmentAndOnlyThreeFds) {
        std::string json = "{\"v\":1,\"seq\":9,\"event\":\"alert\",\"rule\":\"wx\"}\n";
        Submit({Probe(), "record", out_}, json);
        ASSERT_TRUE(WaitFor([&] { return Files(".done").size() == 1; }, Millis(10000))) << Log();
        std::string pid = Files(".done")[0];
        EXPECT_EQ(json, ReadFileOr(out_ + "/" + pid + ".json"));
        auto env = SplitLines(ReadFileOr(out_ + "/" + pid + ".env"));
        std::vector<std::string> vars;
        for (const auto &l : env)
                if (l.find('=') != std::string::npos)
                        vars.push_back(l.substr(0, l.find('=') + 1));
        EXPECT_EQ((std::vector<std::string>{
                      "PATH=", "MEMMON_TARGET=", "MEMMON_PID=", "MEMMON_START_TIME=", "MEMMON_RULE="}),
                  vars);
        EXPECT_TRUE(Contains(env, "MEMMON_TARGET=web"));
        EXPECT_TRUE(Contains(env, "MEMMON_PID=4242"));
        EXPECT_TRUE(Contains(env, "MEMMON_START_TIME=98765"));
        EXPECT_TRUE(Contains(env, "MEMMON_RULE=wx"));
        EXPECT_TRUE(Contains(env, "SigBlk:\t0000000000000000")) << JoinLines(env);
        EXPECT_TRUE(Contains(env, "SigIgn:\t0000000000000000")) << JoinLines(env);
        EXPECT_TRUE(Contains(env, "PDEATHSIG: 9")) << JoinLines(env);
        EXPECT_EQ((std::vector<std::string>{"0", "1", "2"}),
                  SplitLines(ReadFileOr(out_ + "/" + pid + ".fds")));
        ASSERT_TRUE(
            WaitFor([&] { return Log().find("ran for rule wx") != std::string::npos; }, Millis(10000)))
            << Log();
        EXPECT_EQ(1u, Stats().started);
        EXPECT_EQ(0u, Stats().failed);
        EXPECT_EQ(0600, FileMode(dir_ + "/alert_exec.out"));
}

// At most `rate` runs a minute per target; the rest are counted and logged:
// at once when the rate is reached, and their number when the minute ends.
TEST_F(AlertExecTest, RatePerTargetPerMinute) {
        for (int i = 0; i < 5; i++)
                Submit({Probe(), "record", out_}, "{}\n", 2);
        Submit({Probe(), "record", out_}, "{}\n", 2, "db");
        ASSERT_TRUE(WaitFor([&] { return Files(".done").size() == 3; }, Millis(10000))) << Log();
        EXPECT_EQ(3u, Stats().started);
        EXPECT_EQ(3u, Stats().skipped);
        EXPECT_TRUE(HasLineWith(Log(), "WARN  [web] alert_exec: 2 runs this minute", "counted, not run"))
            << Log();
        // Once the minute is over, the count.
        ASSERT_TRUE(WaitFor(
            [&] { return HasLineWith(Log(), "[web] alert_exec: 3 runs skipped in the last minute", "= 2)"); },
            Millis(ALERTEXEC_WINDOW_MS + 15000), Millis(200)))
            << Log();
        EXPECT_EQ(3u, Files(".done").size());
        // A new minute: runs again.
        Submit({Probe(), "record", out_}, "{}\n", 2);
        ASSERT_TRUE(WaitFor([&] { return Files(".done").size() == 4; }, Millis(10000))) << Log();
}

// The agent runs the program as itself (root): one that another user could
// change, or replace through its folder, is refused.
TEST_F(AlertExecTest, RefusesAProgramOthersCouldChange) {
        std::string ww = dir_ + "/ww";
        ASSERT_EQ(0, mkdir(ww.c_str(), 0700));
        ASSERT_EQ(0, chmod(ww.c_str(), 0777));
        ASSERT_TRUE(WriteFile(ww + "/hook", ReadFileOr(Probe()), 0755));
        ASSERT_EQ(0, chmod((ww + "/hook").c_str(), 0755));
        std::string safe = dir_ + "/bin";
        ASSERT_EQ(0, mkdir(safe.c_str(), 0755));
        ASSERT_TRUE(WriteFile(safe + "/hook", ReadFileOr(Probe()), 0755));
        ASSERT_EQ(0, chmod((safe + "/hook").c_str(), 0775));
        Submit({ww + "/hook", "record", out_}, "{}\n");
        Submit({safe + "/hook", "record", out_}, "{}\n");
        ASSERT_TRUE(WaitFor([&] { return Stats().failed == 2; }, Millis(10000))) << Log();
        EXPECT_TRUE(HasLineWith(Log(), "refusing to run " + ww + "/hook", "writable")) << Log();
        EXPECT_TRUE(HasLineWith(Log(), "refusing to run " + safe + "/hook", "mode 0775")) << Log();
        EXPECT_TRUE(Files(".done").empty());
        // Made safe, it runs.
        ASSERT_EQ(0, chmod((safe + "/hook").c_str(), 0755));
        Submit({safe + "/hook", "record", out_}, "{}\n");
        ASSERT_TRUE(WaitFor([&] { return Files(".done").size() == 1; }, Millis(10000))) << Log();
}

// A program that does not end is killed after 10 s, and that is logged.
TEST_F(AlertExecTest, HangingProgramIsKilledAfterTenSeconds) {
        auto t0 = Clock::now();
        Submit({Probe(), "hang", out_}, "{}\n");
        ASSERT_TRUE(WaitFor([&] { return Files(".hang").size() == 1; }, Millis(10000))) << Log();
        pid_t pid = atoi(Files(".hang")[0].c_str());
        ASSERT_TRUE(
            WaitFor([&] { return Log().find("did not finish within 10 s: killed") != std::string::npos; },
                    Millis(30000), Millis(50)))
            << Log();
        auto took = std::chrono::duration_cast<Millis>(Clock::now() - t0).count();
        EXPECT_GE(took, ALERTEXEC_TIMEOUT_MS);
        EXPECT_FALSE(ProcessAlive(pid));
        EXPECT_EQ(1u, Stats().failed);
        std::string events = ReadFileOr(dir_ + "/" + AGENT_EVENTS_FILE);
        EXPECT_TRUE(HasLineWith(events, "\"event\":\"error\"", "did not finish within 10 s")) << events;
}

TEST_F(AlertExecTest, FailuresAreLogged) {
        Submit({Probe(), "exit", "3"}, "{}\n");
        Submit({dir_ + "/no-such-program"}, "{}\n");
        Submit({"no-such-program-in-path"}, "{}\n");
        ASSERT_TRUE(WaitFor([&] { return Stats().failed == 3; }, Millis(10000))) << Log();
        std::string log = Log();
        // The program as it was run: its resolved path.
        EXPECT_TRUE(
            HasLineWith(log, "ERROR [web] alert_exec: /", "alertexec_probe (rule wx) exited with status 3"))
            << log;
        EXPECT_TRUE(HasLineWith(log, "cannot run " + dir_ + "/no-such-program", "No such file")) << log;
        EXPECT_TRUE(HasLineWith(log, "cannot run no-such-program-in-path", "No such file")) << log;
        std::string events = ReadFileOr(dir_ + "/" + AGENT_EVENTS_FILE);
        EXPECT_EQ(3u, CountOccurrences(events, "\"event\":\"error\"")) << events;
}

// Submitting never waits for a program: with every runner busy on a hanging
// program and the queue full, more alerts are dropped and counted at once;
// stopping kills what runs without waiting for its deadline.
TEST_F(AlertExecTest, NeverBlocksTheCaller) {
        for (int i = 0; i < ALERTEXEC_RUNNING_MAX; i++)
                Submit({Probe(), "hang", out_}, "{}\n", 10000);
        ASSERT_TRUE(WaitFor([&] { return Files(".hang").size() == ALERTEXEC_RUNNING_MAX; }, Millis(10000)));
        auto t0 = Clock::now();
        for (int i = 0; i < ALERTEXEC_QUEUE_MAX + 50; i++)
                Submit({Probe(), "hang", out_}, "{}\n", 10000);
        EXPECT_LT(std::chrono::duration_cast<Millis>(Clock::now() - t0).count(), 2000);
        EXPECT_EQ(50u, Stats().dropped);
        EXPECT_TRUE(HasLineWith(Log(), "alert_exec:", "alert dropped")) << Log();
        std::vector<pid_t> pids;
        for (const auto &n : Files(".hang"))
                pids.push_back(atoi(n.c_str()));
        t0 = Clock::now();
        alertexec_free(x_);
        x_ = nullptr;
        EXPECT_LT(std::chrono::duration_cast<Millis>(Clock::now() - t0).count(), ALERTEXEC_TIMEOUT_MS / 2);
        for (pid_t p : pids)
                EXPECT_FALSE(ProcessAlive(p)) << p;
}

// The programs die with the agent, however it ends (PR_SET_PDEATHSIG).
TEST_F(AlertExecTest, ProgramsDieWithTheAgent) {
        // Forked from a process with no thread running (the fixture's
        // runner stopped): the child starts its own.
        alertexec_free(x_);
        x_ = nullptr;
        pid_t agent = fork();
        ASSERT_GE(agent, 0);
        if (agent == 0) {
                struct alertexec *x = nullptr;
                if (alertexec_new(dir_fd_, nullptr, nullptr, &x) < 0)
                        _exit(1);
                std::string probe = Probe();
                char *argv[] = {const_cast<char *>(probe.c_str()), const_cast<char *>("hang"),
                                const_cast<char *>(out_.c_str()), nullptr};
                alertexec_submit(x, "web", argv, 10, 1, 1, "wx", "{}\n", 3);
                for (;;)
                        pause();
        }
        ASSERT_TRUE(WaitFor([&] { return Files(".hang").size() == 1; }, Millis(10000)));
        pid_t pid = atoi(Files(".hang")[0].c_str());
        EXPECT_TRUE(ProcessAlive(pid));
        kill(agent, SIGKILL);
        waitpid(agent, nullptr, 0);
        EXPECT_TRUE(WaitFor([&] { return !ProcessAlive(pid); }, Millis(10000)));
}

} // namespace
} // namespace memmon_test
