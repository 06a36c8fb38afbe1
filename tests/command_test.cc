// The command interpreter (core/command.c) against a supervisor of real
// workers watching real child processes: every verb, its replies and its
// errors, addressed to one target, to all and to the agent.
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/alerts.h"
#include "core/command.h"
#include "core/proc.h"
#include "core/strbuf.h"
#include "core/supervisor.h"
#include "tests/testutil.h"

namespace {

using memmon_test::Sleeper;

void Quiet(void *, const char *, enum log_level, const char *) {}

int CountingReload(void *user, struct strbuf *reply) {
        ++*static_cast<int *>(user);
        return strbuf_printf(reply, "Configuration reloaded") < 0 ? -ENOMEM : 0;
}

class CommandTest : public ::testing::Test {
      protected:
        void SetUp() override {
                const char *tmp = getenv("TEST_TMPDIR");
                dir_ = std::string(tmp ? tmp : "/tmp") + "/command_" +
                       ::testing::UnitTest::GetInstance()->current_test_info()->name();
                struct worker_env env = {};
                env.event = Quiet;
                ASSERT_EQ(0, supervisor_init(&sup_, &env));
                host_.sup = &sup_;
                host_.reload = CountingReload;
                host_.user = &reloads_;
                host_.timeout_ms = 10000;
        }
        void TearDown() override {
                supervisor_fini(&sup_);
        }

        // Adds a target watching pid, sampling once an hour (the first
        // sample is taken at once).
        void Add(const std::string &name, pid_t pid) {
                std::string backups = dir_ + "/" + name;
                struct worker_params p = {};
                p.name = const_cast<char *>(name.c_str());
                p.selector = SELECT_PID;
                p.pid = pid;
                p.backup_dir = const_cast<char *>(backups.c_str());
                p.policy.interval_us = 3600000000u;
                p.policy.full_every = 100;
                alert_policy_init(&p.policy.alerts);
                ASSERT_EQ(0, supervisor_add(&sup_, &p, 0));
        }

        // Runs line; returns the reply and sets *r to the result.
        std::string Run(const std::string &line, int *r = nullptr) {
                struct strbuf reply;
                strbuf_init(&reply);
                int res = command_execute(&host_, line.data(), line.size(), &reply);
                std::string s = strbuf_str(&reply);
                strbuf_fini(&reply);
                if (r)
                        *r = res;
                EXPECT_TRUE(s.empty() || s.back() != '\n') << "a reply ends without a newline: " << s;
                return s;
        }

        // Runs line, expects -EINVAL, returns the reply.
        std::string Reject(const std::string &line) {
                int r = 0;
                std::string s = Run(line, &r);
                EXPECT_EQ(-EINVAL, r) << line << " -> " << s;
                return s;
        }

        struct worker_status Status(const char *name) {
                struct worker_status st;
                struct worker *w = supervisor_find(&sup_, name);
                EXPECT_NE(nullptr, w);
                worker_get_status(w, &st);
                return st;
        }

        std::string dir_;
        struct supervisor sup_;
        struct command_host host_ = {};
        int reloads_ = 0;
};

TEST_F(CommandTest, HelpListsEveryCommand) {
        int r = -1;
        EXPECT_EQ("Commands (prefix @NAME to address one target):\n"
                  "  status              pid, interval, state, regions, last change, backups\n"
                  "  interval <us>       change the sampling interval (also 500ms, 2s)\n"
                  "  pid <new_pid>       watch another process (a new chain starts)\n"
                  "  backup              manual full backup now\n"
                  "  reload              reload the configuration and re-read the maps\n"
                  "  targets             one line per target: name, pid, state, interval\n"
                  "  metrics             the Prometheus metrics (as in metrics_file)\n"
                  "  alerts              the active alerts of each target\n"
                  "  pause | resume      stop / restart sampling\n"
                  "  help                this list\n"
                  "  quit | stop         stop the agent",
                  Run("help", &r));
        EXPECT_EQ(COMMAND_OK, r);
}

TEST_F(CommandTest, EmptyLineDoesNothing) {
        int r = -1;
        EXPECT_EQ("", Run("", &r));
        EXPECT_EQ(COMMAND_OK, r);
        EXPECT_EQ("", Run("  \t ", &r));
        EXPECT_EQ(COMMAND_OK, r);
}

TEST_F(CommandTest, MalformedLinesAreRejectedWithAReason) {
        EXPECT_EQ("Unknown command: 'frobnicate' (type 'help' for the list)", Reject("frobnicate"));
        EXPECT_EQ("Command rejected: '@web' needs a command", Reject("@web"));
        EXPECT_EQ("Command rejected: '@' needs a target name", Reject("@ status"));
        EXPECT_EQ("Command rejected: 'status' takes no argument (got 'now')", Reject("status now"));
        EXPECT_EQ("Command rejected: 'quit' takes no argument (got 'now')", Reject("quit now"));
        EXPECT_EQ("Command rejected: too many arguments to 'status'", Reject("status a b c d"));
        EXPECT_EQ("Command rejected: control or NUL byte 0x01 at column 7", Reject("status\x01"));
        EXPECT_EQ("Command rejected: control or NUL byte 0x00 at column 3", Reject(std::string("st\0x", 4)));
        std::string longline(COMMAND_MAX_LINE + 1, 'a');
        EXPECT_EQ("Command rejected: line of 4097 bytes is longer than 4096", Reject(longline));
        EXPECT_EQ("Usage: interval <us> (e.g. interval 1000000, interval 500ms)", Reject("interval"));
        EXPECT_EQ("Usage: interval <us> (e.g. interval 1000000, interval 500ms)", Reject("interval 1 2"));
        EXPECT_EQ("Usage: pid <new_pid>", Reject("pid"));
}

TEST_F(CommandTest, NoTargets) {
        EXPECT_EQ("No targets", Reject("status"));
        EXPECT_EQ("No targets", Reject("backup"));
        int r = -1;
        EXPECT_EQ("NAME                      PID STATE    INTERVAL", Run("targets", &r));
        EXPECT_EQ(COMMAND_OK, r);
}

TEST_F(CommandTest, StatusOfOneTarget) {
        Sleeper s;
        ASSERT_NO_FATAL_FAILURE(Add("web", s.pid()));
        int r = -1;
        std::string reply = Run("status", &r);
        EXPECT_EQ(COMMAND_OK, r);
        EXPECT_EQ(0u, reply.find("Current PID: " + std::to_string(s.pid()) +
                                 "\nSample interval: 3600000000 us\nStatus: running\nRegions: "))
            << reply;
        EXPECT_NE(std::string::npos, reply.find("\nLast change: ")) << reply;
        EXPECT_NE(std::string::npos, reply.find("\nBackups: ")) << reply;
        EXPECT_EQ(std::string::npos, reply.find("Target:")) << "one target is not named: " << reply;
        EXPECT_EQ("No such target: 'db' (see 'targets')", Reject("@db status"));
}

TEST_F(CommandTest, StatusOfSeveralNamesEach) {
        Sleeper a, b;
        ASSERT_NO_FATAL_FAILURE(Add("a", a.pid()));
        ASSERT_NO_FATAL_FAILURE(Add("b", b.pid()));
        std::string all = Run("status");
        EXPECT_EQ(0u, all.find("Target: a\nCurrent PID: " + std::to_string(a.pid()))) << all;
        EXPECT_NE(std::string::npos, all.find("\nTarget: b\nCurrent PID: " + std::to_string(b.pid()))) << all;
        std::string one = Run("@b status");
        EXPECT_EQ(0u, one.find("Target: b\n")) << one;
        EXPECT_EQ(std::string::npos, one.find("Target: a")) << one;
}

TEST_F(CommandTest, IntervalChangesOneTarget) {
        Sleeper a, b;
        ASSERT_NO_FATAL_FAILURE(Add("a", a.pid()));
        int r = -1;
        EXPECT_EQ("Interval changed to: 500000 us", Run("interval 500ms", &r));
        EXPECT_EQ(COMMAND_OK, r);
        EXPECT_EQ(500000u, Status("a").interval_us);
        EXPECT_EQ("Invalid interval: 'banana' (expected microseconds, or 500ms, 2s, 1m)",
                  Reject("interval banana"));
        EXPECT_EQ("Invalid interval: '999' is out of range (1ms to 1h)", Reject("interval 999"));
        EXPECT_EQ("Invalid interval: '2h' is out of range (1ms to 1h)", Reject("interval 2h"));
        EXPECT_EQ(500000u, Status("a").interval_us) << "a rejected value changes nothing";

        ASSERT_NO_FATAL_FAILURE(Add("b", b.pid()));
        EXPECT_EQ("'interval' needs one target when there are 2: use @NAME interval (targets: a b)",
                  Reject("interval 2s"));
        EXPECT_EQ("Interval changed to: 2000000 us", Run("@b interval 2s", &r));
        EXPECT_EQ(COMMAND_OK, r);
        EXPECT_EQ(500000u, Status("a").interval_us);
        EXPECT_EQ(2000000u, Status("b").interval_us);
}

TEST_F(CommandTest, PidFollowsAnotherProcess) {
        Sleeper a, other;
        ASSERT_NO_FATAL_FAILURE(Add("a", a.pid()));
        EXPECT_EQ("Invalid PID: 'abc'", Reject("pid abc"));
        EXPECT_EQ("Invalid PID: '0'", Reject("pid 0"));
        // A pid no process has (PROC_PID_MAX is never handed out in the
        // test's pid namespace in practice; skip if it is).
        struct proc_id id;
        if (proc_identity(PROC_PID_MAX, &id) == -ESRCH) {
                EXPECT_EQ("No such process: " + std::to_string(PROC_PID_MAX),
                          Reject("pid " + std::to_string(PROC_PID_MAX)));
        }
        int r = -1;
        EXPECT_EQ("PID changed to: " + std::to_string(other.pid()),
                  Run("pid " + std::to_string(other.pid()), &r));
        EXPECT_EQ(COMMAND_OK, r);
        EXPECT_EQ(other.pid(), Status("a").pid);
}

TEST_F(CommandTest, BackupRepliesPerTarget) {
        Sleeper a, b;
        ASSERT_NO_FATAL_FAILURE(Add("a", a.pid()));
        int r = -1;
        EXPECT_EQ("Manual backup created", Run("backup", &r));
        EXPECT_EQ(COMMAND_OK, r);
        ASSERT_NO_FATAL_FAILURE(Add("b", b.pid()));
        EXPECT_EQ("a: Manual backup created\nb: Manual backup created", Run("backup", &r));
        EXPECT_EQ(COMMAND_OK, r);
        EXPECT_EQ("Manual backup created", Run("@b backup", &r));
        EXPECT_GE(Status("b").full_written, 2u);
}

TEST_F(CommandTest, BackupOfAnExitedTargetSaysWhy) {
        Sleeper a;
        ASSERT_NO_FATAL_FAILURE(Add("a", a.pid()));
        a.Kill();
        int r = 0;
        std::string reply = Run("backup", &r);
        EXPECT_EQ(-EIO, r);
        EXPECT_EQ(0u, reply.find("a: no backup: target is exited")) << reply;
}

TEST_F(CommandTest, PauseAndResumeSayTheStateLeft) {
        Sleeper a, b;
        ASSERT_NO_FATAL_FAILURE(Add("a", a.pid()));
        ASSERT_NO_FATAL_FAILURE(Add("b", b.pid()));
        int r = -1;
        EXPECT_EQ("a: paused", Run("@a pause", &r));
        EXPECT_EQ(COMMAND_OK, r);
        EXPECT_EQ(TARGET_PAUSED, Status("a").state);
        EXPECT_EQ(TARGET_ATTACHED, Status("b").state);
        EXPECT_EQ("a: paused\nb: paused", Run("pause", &r));
        EXPECT_EQ("a: running\nb: running", Run("resume", &r));
        EXPECT_EQ(COMMAND_OK, r);
}

TEST_F(CommandTest, TargetsListsEveryTarget) {
        Sleeper a, b;
        ASSERT_NO_FATAL_FAILURE(Add("a", a.pid()));
        ASSERT_NO_FATAL_FAILURE(Add("web", b.pid()));
        char want[256];
        snprintf(want, sizeof(want),
                 "NAME                      PID STATE    INTERVAL\n"
                 "a                    %8d running  3600000000 us\n"
                 "web                  %8d running  3600000000 us",
                 (int)a.pid(), (int)b.pid());
        EXPECT_EQ(want, Run("targets"));
}

TEST_F(CommandTest, AgentWideCommandsRefuseATarget) {
        Sleeper a;
        ASSERT_NO_FATAL_FAILURE(Add("a", a.pid()));
        for (const char *verb : {"targets", "help", "reload", "quit", "stop"})
                EXPECT_EQ(std::string("Command rejected: '") + verb +
                              "' applies to the whole agent, not to @a",
                          Reject(std::string("@a ") + verb));
        EXPECT_EQ(0, reloads_) << "a refused reload did not run";
}

TEST_F(CommandTest, ReloadCallsTheHost) {
        int r = -1;
        EXPECT_EQ("Configuration reloaded", Run("reload", &r));
        EXPECT_EQ(COMMAND_OK, r);
        EXPECT_EQ(1, reloads_);
        host_.reload = nullptr;
        EXPECT_EQ("", Run("reload", &r));
        EXPECT_EQ(COMMAND_OK, r);
}

// A child with writable and executable memory: one wx alert.
struct RwxChild {
        pid_t pid = -1;
        RwxChild() {
                pid = fork();
                if (pid == 0) {
                        if (mmap(nullptr, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED)
                                _exit(1);
                        for (;;)
                                pause();
                }
        }
        ~RwxChild() {
                kill(pid, SIGKILL);
                waitpid(pid, nullptr, 0);
        }
};

TEST_F(CommandTest, AlertsListsTheActiveAlertsOfEachTarget) {
        RwxChild rwx;
        ASSERT_GT(rwx.pid, 0);
        ASSERT_TRUE(memmon_test::WaitFor(
            [&] {
                    std::string m = memmon_test::ReadFileOr("/proc/" + std::to_string(rwx.pid) + "/maps");
                    return m.find(" rwxp ") != std::string::npos;
            },
            memmon_test::Millis(10000)));
        Sleeper quiet;
        Add("quiet", quiet.pid());
        int r = -1;
        EXPECT_EQ("Active alerts: 0", Run("alerts", &r));
        EXPECT_EQ(COMMAND_OK, r);
        Add("jit", rwx.pid);
        std::string all = Run("alerts", &r);
        EXPECT_EQ(COMMAND_OK, r);
        auto lines = memmon_test::SplitLines(all);
        ASSERT_EQ(3u, lines.size()) << all;
        EXPECT_EQ("quiet: 0 active alerts", lines[0]);
        EXPECT_EQ("jit: 1 active alert", lines[1]);
        EXPECT_EQ(0u, lines[2].find("  wx: ")) << lines[2];
        EXPECT_NE(std::string::npos,
                  lines[2].find(" rwxp 00000000 00:00 0: memory both writable and executable"))
            << lines[2];
        EXPECT_NE(std::string::npos, lines[2].find(" (since ")) << lines[2];
        std::string one = Run("@jit alerts", &r);
        EXPECT_EQ(0u, one.find("jit: 1 active alert\n  wx: ")) << one;
        EXPECT_EQ("Command rejected: 'alerts' takes no argument (got 'now')", Reject("alerts now"));
}

TEST_F(CommandTest, QuitAndStop) {
        int r = -1;
        EXPECT_EQ("Exiting...", Run("quit", &r));
        EXPECT_EQ(COMMAND_QUIT, r);
        EXPECT_EQ("Exiting...", Run("stop", &r));
        EXPECT_EQ(COMMAND_QUIT, r);
}

// Runs line in JSON mode; returns the document and sets *r.
std::string RunJson(struct command_host *h, const std::string &line, int *r) {
        struct strbuf reply;
        strbuf_init(&reply);
        *r = command_execute_json(h, line.data(), line.size(), &reply);
        std::string s = strbuf_str(&reply);
        strbuf_fini(&reply);
        return s;
}

TEST_F(CommandTest, JsonFormsAndJsonErrors) {
        Sleeper a;
        ASSERT_NO_FATAL_FAILURE(Add("a", a.pid()));
        int r = -1;
        std::string doc = RunJson(&host_, "targets", &r);
        EXPECT_EQ(COMMAND_OK, r);
        EXPECT_EQ("{\"v\":1,\"targets\":[{\"name\":\"a\",\"pid\":" + std::to_string(a.pid()) +
                      ",\"state\":\"running\",\"interval_us\":3600000000}]}",
                  doc);
        doc = RunJson(&host_, "@a status", &r);
        EXPECT_EQ(COMMAND_OK, r);
        EXPECT_EQ(0u,
                  doc.find("{\"v\":1,\"targets\":[{\"name\":\"a\",\"pid\":" + std::to_string(a.pid()) +
                           ",\"state\":\"running\",\"reason\":\"\",\"interval_us\":3600000000,\"regions\":"))
            << doc;
        EXPECT_NE(std::string::npos, doc.find(",\"exec_bytes\":")) << doc;
        EXPECT_EQ('}', doc.back());
        EXPECT_EQ("{\"v\":1,\"error\":\"No such target: 'b' (see 'targets')\"}",
                  RunJson(&host_, "@b status", &r));
        EXPECT_EQ(-EINVAL, r);
        EXPECT_EQ(
            "{\"v\":1,\"error\":\"Command rejected: 'help' has no JSON form (JSON: status targets alerts)\"}",
            RunJson(&host_, "help", &r));
        EXPECT_EQ(-EINVAL, r);
        EXPECT_EQ("{\"v\":1,\"error\":\"Command rejected: control or NUL byte 0x1b at column 2\"}",
                  RunJson(&host_, "x\x1b", &r));
        EXPECT_EQ(-EINVAL, r);
        EXPECT_EQ("{\"v\":1,\"error\":\"Command rejected: an empty line has no JSON form\"}",
                  RunJson(&host_, "", &r));
}

// `status --json` says what top shows: active alerts, alerts raised by
// rule, unstable samples; and, when the host tells, the agent itself.
TEST_F(CommandTest, JsonStatusCarriesAlertsAndTheAgent) {
        Sleeper a;
        ASSERT_NO_FATAL_FAILURE(Add("a", a.pid()));
        int r = -1;
        std::string doc = RunJson(&host_, "status", &r);
        EXPECT_EQ(COMMAND_OK, r);
        EXPECT_EQ(0u, doc.find("{\"v\":1,\"targets\":[")) << "no agent object without the host's: " << doc;
        EXPECT_NE(std::string::npos,
                  doc.find(",\"unstable\":0,\"alerts_active\":0,\"alerts_raised\":{\"wx\":0,"))
            << doc;
        EXPECT_NE(std::string::npos, doc.find(",\"max_growth\":0}}]}")) << doc;
        struct command_agent_info info = {};
        info.pid = 4242;
        info.version = "9.9";
        info.started.tv_sec = 1796032800;
        info.capture = "poll (\"why\")";
        host_.agent = &info;
        doc = RunJson(&host_, "status", &r);
        EXPECT_EQ(
            0u,
            doc.find(
                "{\"v\":1,\"agent\":{\"pid\":4242,\"version\":\"9.9\",\"started\":"
                "\"2026-11-30T10:00:00Z\",\"capture\":\"poll (\\\"why\\\")\"},\"targets\":[{\"name\":\"a\""))
            << doc;
        info.capture = nullptr;
        doc = RunJson(&host_, "@a status", &r);
        EXPECT_NE(std::string::npos, doc.find("\"capture\":null},\"targets\":[{\"name\":\"a\"")) << doc;
        doc = RunJson(&host_, "targets", &r);
        EXPECT_EQ(std::string::npos, doc.find("agent")) << "targets stays as it was: " << doc;
        host_.agent = nullptr;
}

int FakeMetrics(void *, struct strbuf *out) {
        return strbuf_printf(out, "m 1") < 0 ? -ENOMEM : 0;
}

TEST_F(CommandTest, MetricsComeFromTheHost) {
        int r = -1;
        EXPECT_EQ("Metrics are not available here", Run("metrics", &r));
        EXPECT_EQ(-ENOTSUP, r);
        host_.metrics = FakeMetrics;
        EXPECT_EQ("m 1", Run("metrics", &r));
        EXPECT_EQ(COMMAND_OK, r);
        EXPECT_EQ("Command rejected: 'metrics' applies to the whole agent, not to @a", Reject("@a metrics"));
}

TEST_F(CommandTest, QuitIsRecognisedAsTheInterpreterParsesIt) {
        for (const char *q : {"quit", "stop", "  quit  ", "quit\r"})
                EXPECT_TRUE(command_is_quit(q, strlen(q))) << q;
        for (const char *q : {"", "quit now", "@a quit", "quite", "status", "qu\x1bit"})
                EXPECT_FALSE(command_is_quit(q, strlen(q))) << q;
        std::vector<std::string> verbs;
        for (size_t i = 0; command_verb(i); i++)
                verbs.push_back(command_verb(i));
        EXPECT_EQ((std::vector<std::string>{"status", "interval", "pid", "backup", "reload", "targets",
                                            "metrics", "alerts", "pause", "resume", "help", "quit", "stop"}),
                  verbs);
}

// The host's wait is what the interpreter waits with, and a cancelled
// wait says so.
int CancelledWait(void *, struct worker *, int64_t, int) {
        return -ECANCELED;
}

TEST_F(CommandTest, WaitsGoThroughTheHost) {
        Sleeper a;
        ASSERT_NO_FATAL_FAILURE(Add("a", a.pid()));
        host_.wait = CancelledWait;
        int r = 0;
        EXPECT_EQ("a: abandoned: the agent is stopping", Run("backup", &r));
        EXPECT_EQ(-EIO, r);
        EXPECT_EQ("Interval change of 'a' abandoned: the agent is stopping", Run("interval 2s", &r));
        EXPECT_EQ(-ETIMEDOUT, r);
}

} // namespace
