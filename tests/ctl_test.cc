// `agent ctl` against the real agent over logs/control.sock: every command
// and its exit status (0 ok, 1 failed, 69 no agent, 77 refused), --json
// documents read back by a strict validator and by Python, 64 clients at
// once and a silent one that delays nobody, requests that are too long or
// malformed, quit, and the socket file's own safety (0600, a stale socket
// replaced, anything planted there refused).  CtlOtherUserTest needs uid
// 65534 (setpriv), which Bazel's sandbox does not give: it runs in
// ctl_other_user_test, tagged no-sandbox.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/fuzz/json_check.h"
#include "tests/reliability_util.h"
#include "tests/testutil.h"

namespace memmon_test {
namespace {

using Clock = std::chrono::steady_clock;

constexpr Millis kShort(5000);
constexpr Millis kLong(15000);

// A raw connection to the control socket, through the logs folder's fd so
// that a long $TEST_TMPDIR fits in sun_path.
class Conn {
      public:
        explicit Conn(const std::string &logs) {
                int dir = open(logs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
                fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                sockaddr_un sa = {};
                sa.sun_family = AF_UNIX;
                snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/control.sock", dir);
                if (dir < 0 || fd_ < 0 || connect(fd_, reinterpret_cast<sockaddr *>(&sa), sizeof(sa)) < 0) {
                        err_ = strerror(errno);
                        if (fd_ >= 0)
                                close(fd_);
                        fd_ = -1;
                }
                if (dir >= 0)
                        close(dir);
        }
        ~Conn() {
                if (fd_ >= 0)
                        close(fd_);
        }
        bool ok() const {
                return fd_ >= 0;
        }
        int fd() const {
                return fd_;
        }
        const std::string &err() const {
                return err_;
        }
        void ShutWr() {
                if (fd_ >= 0)
                        shutdown(fd_, SHUT_WR);
        }
        bool Send(const std::string &s) {
                return fd_ >= 0 &&
                       send(fd_, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size());
        }
        // Reads until the agent closes (or timeout).  Returns false on
        // timeout.
        bool ReadAll(Millis timeout, std::string *out) {
                auto end = Clock::now() + timeout;
                for (;;) {
                        auto left = std::chrono::duration_cast<Millis>(end - Clock::now()).count();
                        if (left <= 0)
                                return false;
                        pollfd p = {fd_, POLLIN, 0};
                        if (poll(&p, 1, static_cast<int>(left)) <= 0)
                                continue;
                        char buf[65536];
                        ssize_t n = read(fd_, buf, sizeof(buf));
                        if (n <= 0)
                                return true;
                        out->append(buf, static_cast<size_t>(n));
                }
        }

      private:
        int fd_ = -1;
        std::string err_;
};

class CtlTest : public WorkloadDirTest {
      protected:
        void SetUp() override {
                WorkloadDirTest::SetUp();
                target_ = "pid" + wpid_;
        }
        void StartAgent() {
                ASSERT_NO_FATAL_FAILURE(StartDaemon({"-p", wpid_, "-T", "200000"}));
                ASSERT_TRUE(WaitFor([&] { return Log().find("full backup") != std::string::npos; }, kLong));
        }
        // `agent ctl -b DIR ARGS...`.
        RunResult Ctl(const std::vector<std::string> &args, Millis timeout = kLong) {
                std::vector<std::string> a = {"ctl", "-b", dir_};
                a.insert(a.end(), args.begin(), args.end());
                return RunAgent(a, timeout);
        }
        // True when python3 reads text as one JSON document and the Python
        // expression check (over `d`) holds.
        bool PythonJson(const std::string &text, const std::string &check, std::string *why) {
                std::string file = P("doc.json");
                if (!WriteFile(file, text))
                        return false;
                SpawnOptions o;
                o.argv = {"/usr/bin/python3", "-c",
                          "import json,sys\nd=json.load(open(sys.argv[1]))\nsys.exit(0 if (" + check +
                              ") else 3)",
                          file};
                RunResult r = RunProcess(o, kLong);
                *why = r.Describe();
                return r.code == 0;
        }

        std::string target_;
};

bool ValidJson(const std::string &s) {
        return json_check_text(s.data(), s.size()) == 0;
}

TEST_F(CtlTest, NoAgentIs69) {
        RunResult r = Ctl({"status"});
        EXPECT_EQ(69, r.code) << r.Describe();
        EXPECT_NE(std::string::npos, r.err.find("no agent running on " + dir_)) << r.Describe();

        // A socket file nobody listens on: what a crashed agent leaves.
        ASSERT_EQ(0, mkdir(P("logs").c_str(), 0700));
        {
                int dir = open(P("logs").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
                int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                sockaddr_un sa = {};
                sa.sun_family = AF_UNIX;
                snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/control.sock", dir);
                ASSERT_EQ(0, bind(fd, reinterpret_cast<sockaddr *>(&sa), sizeof(sa))) << strerror(errno);
                close(fd);
                close(dir);
        }
        r = Ctl({"status"});
        EXPECT_EQ(69, r.code) << r.Describe();
        EXPECT_NE(std::string::npos, r.err.find("Connection refused")) << r.Describe();

        // Then an agent starts there: the stale socket of ours is replaced.
        ASSERT_NO_FATAL_FAILURE(StartAgent());
        r = Ctl({"status"});
        EXPECT_EQ(0, r.code) << r.Describe();
        EXPECT_EQ(0600, FileMode(P("logs/control.sock")));
}

TEST_F(CtlTest, EveryCommandWithItsExitStatus) {
        ASSERT_NO_FATAL_FAILURE(StartAgent());
        struct Case {
                std::vector<std::string> args;
                int code;
                std::string out;
        } cases[] = {
            {{"status"}, 0, "Current PID: " + wpid_ + "\nSample interval: 200000 us\nStatus: running\n"},
            {{"@" + target_, "status"}, 0, "Status: running\n"},
            {{"targets"}, 0, target_},
            {{"interval", "500ms"}, 0, "Interval changed to: 500000 us\n"},
            {{"@" + target_, "interval", "250000"}, 0, "Interval changed to: 250000 us\n"},
            {{"backup"}, 0, "Manual backup created\n"},
            {{"pause"}, 0, target_ + ": paused\n"},
            {{"resume"}, 0, target_ + ": running\n"},
            {{"help"}, 0, "quit | stop"},
            {{"metrics"}, 0, "memmon_regions{target=\"" + target_ + "\"} "},
            {{"reload"}, 0, "Maps re-read\n"},
            {{"@nosuch", "status"}, 1, "No such target: 'nosuch' (see 'targets')\n"},
            {{"interval", "banana"}, 1, "Invalid interval: 'banana'"},
            {{"bogus"}, 1, "Unknown command: 'bogus'"},
            {{"pid", "abc"}, 1, "Invalid PID: 'abc'\n"},
        };
        for (const auto &c : cases) {
                RunResult r = Ctl(c.args);
                std::string what = c.args[0] + (c.args.size() > 1 ? " " + c.args[1] : "");
                EXPECT_EQ(c.code, r.code) << what << "\n" << r.Describe();
                EXPECT_NE(std::string::npos, r.out.find(c.out)) << what << "\n" << r.Describe();
        }
        // The socket's commands are in the log, with who sent them; queries
        // (what `agent top` polls every second) only at debug.
        EXPECT_TRUE(HasLineWith(Log(), "control socket (uid 0, pid ", "): pid abc")) << Log();
        EXPECT_TRUE(HasLineWith(Log(), "control socket (uid 0, pid ", "): reload")) << Log();
        EXPECT_FALSE(HasLineWith(Log(), "control socket (uid 0, pid ", "): @nosuch status")) << Log();

        // Installed as memmonctl, the binary is `agent ctl`.
        std::string link = P("memmonctl");
        ASSERT_EQ(0, symlink(AgentPath().c_str(), link.c_str()));
        SpawnOptions o;
        o.argv = {link, "-b", dir_, "status"};
        RunResult r = RunProcess(o, kLong);
        EXPECT_EQ(0, r.code) << r.Describe();
        EXPECT_NE(std::string::npos, r.out.find("Status: running")) << r.Describe();

        // A command too long for one request is refused before it is sent.
        r = Ctl({"status", std::string(5000, 'x')});
        EXPECT_EQ(64, r.code) << r.Describe();
}

TEST_F(CtlTest, JsonDocumentsParse) {
        ASSERT_NO_FATAL_FAILURE(StartAgent());
        RunResult r = Ctl({"--json", "status"});
        ASSERT_EQ(0, r.code) << r.Describe();
        EXPECT_TRUE(ValidJson(r.out)) << r.out;
        size_t lines = SplitLines(wl_.Maps()).size();
        std::string why;
        EXPECT_TRUE(
            PythonJson(r.out,
                       "d['v'] == 1 and len(d['targets']) == 1 and d['targets'][0]['name'] == '" + target_ +
                           "' and d['targets'][0]['pid'] == " + wpid_ +
                           " and d['targets'][0]['state'] == 'running' and d['targets'][0]['regions'] == " +
                           std::to_string(lines) +
                           " and d['targets'][0]['interval_us'] == 200000 and "
                           "d['targets'][0]['full_backups'] >= 1 and d['targets'][0]['exec_bytes'] > 0 "
                           "and isinstance(d['targets'][0]['last_change'], str)",
                       &why))
            << r.out << "\n"
            << why;

        r = Ctl({"--json", "targets"});
        ASSERT_EQ(0, r.code) << r.Describe();
        EXPECT_TRUE(ValidJson(r.out)) << r.out;
        EXPECT_TRUE(PythonJson(r.out,
                               "d == {'v': 1, 'targets': [{'name': '" + target_ + "', 'pid': " + wpid_ +
                                   ", 'state': 'running', 'interval_us': 200000}]}",
                               &why))
            << r.out << "\n"
            << why;

        // Failures are documents too, and exit 1.
        for (const std::vector<std::string> &args : std::vector<std::vector<std::string>>{
                 {"--json", "@nosuch", "status"}, {"--json", "help"}, {"--json", "interval", "x"}}) {
                r = Ctl(args);
                EXPECT_EQ(1, r.code) << r.Describe();
                EXPECT_TRUE(ValidJson(r.out)) << r.out;
                EXPECT_TRUE(PythonJson(
                    r.out, "d['v'] == 1 and len(d['error']) > 0 and list(d) == ['v', 'error']", &why))
                    << r.out << "\n"
                    << why;
        }
}

TEST_F(CtlTest, SixtyFourClientsAtOnceAndASilentOneDelaysNobody) {
        ASSERT_NO_FATAL_FAILURE(StartAgent());
        auto t0 = Clock::now();
        Conn silent(P("logs"));
        ASSERT_TRUE(silent.ok()) << silent.err();

        // 64 connections open at the same time, each sending its request
        // once all are connected.
        const int kClients = 64;
        std::vector<std::unique_ptr<Conn>> conns;
        for (int i = 0; i < kClients; i++) {
                conns.push_back(std::make_unique<Conn>(P("logs")));
                ASSERT_TRUE(conns.back()->ok()) << i << ": " << conns.back()->err();
        }
        for (auto &c : conns)
                ASSERT_TRUE(c->Send("text @" + target_ + " status\n"));
        auto t1 = Clock::now();
        for (int i = 0; i < kClients; i++) {
                std::string reply;
                ASSERT_TRUE(conns[i]->ReadAll(kShort, &reply)) << i;
                EXPECT_EQ(0u, reply.find("ok\nCurrent PID: " + wpid_ + "\n")) << i << ": " << reply;
        }
        double raw_ms = std::chrono::duration<double, std::milli>(Clock::now() - t1).count();
        // All of them answered while the silent client was still connected
        // (had it held the agent up, they would have waited its 5 s out).
        pollfd sp = {silent.fd(), POLLIN, 0};
        EXPECT_EQ(0, poll(&sp, 1, 0)) << "the silent client was dropped before the others were answered";
        EXPECT_LT(Clock::now() - t0, Millis(4500));

        // And 64 `agent ctl` processes at once.
        std::vector<std::unique_ptr<Process>> procs;
        auto t2 = Clock::now();
        for (int i = 0; i < kClients; i++) {
                SpawnOptions o = AgentOptions({"ctl", "-b", dir_, "--json", "status"});
                o.pipe_stdin = false;
                std::string err;
                procs.push_back(Process::Start(o, &err));
                ASSERT_TRUE(procs.back()) << err;
        }
        for (auto &p : procs) {
                int code = -1;
                ASSERT_TRUE(p->Wait(kLong, &code));
                EXPECT_EQ(0, code) << p->err();
                EXPECT_TRUE(ValidJson(p->out())) << p->out();
        }
        double procs_ms = std::chrono::duration<double, std::milli>(Clock::now() - t2).count();

        // The silent client is dropped after 5 s.
        std::string got;
        ASSERT_TRUE(silent.ReadAll(Millis(15000), &got)) << "the silent client was never dropped";
        double dropped_s = std::chrono::duration<double>(Clock::now() - t0).count();
        EXPECT_EQ("", got);
        EXPECT_GE(dropped_s, 4.5);
        EXPECT_LE(dropped_s, 10.0);
        printf("FIGURE ctl_64_raw_clients_ms = %.0f\nFIGURE ctl_64_ctl_processes_ms = %.0f\n"
               "FIGURE ctl_silent_client_dropped_after_s = %.1f\n",
               raw_ms, procs_ms, dropped_s);
}

TEST_F(CtlTest, TooLongAndMalformedRequestsAreRefused) {
        ASSERT_NO_FATAL_FAILURE(StartAgent());
        {
                Conn c(P("logs"));
                ASSERT_TRUE(c.ok()) << c.err();
                ASSERT_TRUE(c.Send(std::string(5000, 'a')));
                std::string reply;
                ASSERT_TRUE(c.ReadAll(kShort, &reply));
                EXPECT_EQ("refused\nRequest rejected: longer than 4096 bytes\n", reply);
        }
        {
                Conn c(P("logs"));
                ASSERT_TRUE(c.Send("status\n"));
                std::string reply;
                ASSERT_TRUE(c.ReadAll(kShort, &reply));
                EXPECT_EQ("refused\nRequest rejected: a request is 'text COMMAND' or 'json COMMAND'\n",
                          reply);
        }
        {
                // A request cut short by the end of the connection.
                Conn c(P("logs"));
                ASSERT_TRUE(c.Send("text status"));
                c.ShutWr();
                std::string reply;
                ASSERT_TRUE(c.ReadAll(kShort, &reply));
                EXPECT_EQ("refused\nRequest rejected: a request ends with a newline\n", reply);
        }
        // Control bytes are the command interpreter's to refuse.
        {
                Conn c(P("logs"));
                ASSERT_TRUE(c.Send("text sta\x1btus\n"));
                std::string reply;
                ASSERT_TRUE(c.ReadAll(kShort, &reply));
                EXPECT_EQ(0u, reply.find("failed\nCommand rejected: control or NUL byte 0x1b")) << reply;
        }
        RunResult r = Ctl({"status"});
        EXPECT_EQ(0, r.code) << "the agent goes on: " << r.Describe();
}

TEST_F(CtlTest, QuitStopsTheAgentAndRemovesTheSocket) {
        ASSERT_NO_FATAL_FAILURE(StartAgent());
        RunResult r = Ctl({"quit"});
        EXPECT_EQ(0, r.code) << r.Describe();
        EXPECT_EQ("Exiting...\n", r.out);
        int code = -1;
        ASSERT_TRUE(daemon_->WaitExit(kLong, &code));
        EXPECT_EQ(0, code);
        EXPECT_FALSE(PathExists(P("logs/control.sock")));
        r = Ctl({"status"});
        EXPECT_EQ(69, r.code) << r.Describe();
}

TEST_F(CtlTest, AnythingPlantedAtTheSocketPathIsRefused) {
        ASSERT_EQ(0, mkdir(P("logs").c_str(), 0700));
        ASSERT_TRUE(WriteFile(P("victim"), "precious\n", 0600));
        struct Plant {
                std::string what;
                std::function<bool()> make;
        } plants[] = {
            {"a regular file", [&] { return WriteFile(P("logs/control.sock"), "mine\n", 0600); }},
            {"a symlink", [&] { return symlink(P("victim").c_str(), P("logs/control.sock").c_str()) == 0; }},
        };
        for (const auto &p : plants) {
                SCOPED_TRACE(p.what);
                ASSERT_TRUE(p.make());
                FileFacts before = Facts(P("logs/control.sock"));
                RunResult r = RunAgent({"-p", wpid_, "-f"});
                EXPECT_EQ(73, r.code) << r.Describe();
                EXPECT_NE(std::string::npos,
                          r.err.find(P("logs/control.sock") + " exists and is not a socket of ours"))
                    << r.Describe();
                EXPECT_TRUE(SameFacts(before, Facts(P("logs/control.sock"))))
                    << DescribeFacts(before) << " became " << DescribeFacts(Facts(P("logs/control.sock")));
                EXPECT_EQ("precious\n", ReadFileOr(P("victim")));
                ASSERT_EQ(0, unlink(P("logs/control.sock").c_str()));
        }
}

// A peer of another uid is refused and logged.  A process of uid 65534
// cannot even reach the 0600 socket in a 0700 folder; with
// CAP_DAC_OVERRIDE (as a compromised service with that capability would
// have) it can, and SO_PEERCRED is what stops it.
class CtlOtherUserTest : public CtlTest {};

TEST_F(CtlOtherUserTest, OtherUidIsRefusedAndLogged) {
        std::string why = HaveSetpriv();
        if (!why.empty())
                GTEST_SKIP() << why;
        ASSERT_NO_FATAL_FAILURE(StartAgent());
        SpawnOptions o = AgentOptions({"ctl", "-b", dir_, "status"});
        o.argv.insert(o.argv.begin(),
                      {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"});
        RunResult r = RunProcess(o, kLong);
        EXPECT_EQ(69, r.code) << "without DAC override the folder keeps it out: " << r.Describe();
        EXPECT_NE(std::string::npos, r.err.find("Permission denied")) << r.Describe();

        o = AgentOptions({"ctl", "-b", dir_, "status"});
        o.argv.insert(o.argv.begin(), {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                       "--inh-caps=+dac_override", "--ambient-caps=+dac_override"});
        r = RunProcess(o, kLong);
        if (r.err.find("setpriv") != std::string::npos)
                GTEST_SKIP() << "setpriv cannot keep CAP_DAC_OVERRIDE here: " << r.Describe();
        EXPECT_EQ(77, r.code) << r.Describe();
        EXPECT_NE(std::string::npos,
                  r.err.find("Permission denied: uid 65534 may not control this agent (only root and uid 0)"))
            << r.Describe();
        EXPECT_EQ("", r.out);
        EXPECT_TRUE(WaitFor(
            [&] {
                    return HasLineWith(Log(), "control socket: refused a connection of uid 65534",
                                       "only root");
            },
            kShort))
            << Log();
        // Many more are logged at most CTL_REFUSED_LOG_MAX (10) times a minute.
        for (int i = 0; i < 20; i++)
                (void)RunProcess(o, kLong);
        EXPECT_EQ(10u, CountLinesWith(Log(), "refused a connection of uid 65534")) << Log();
        r = Ctl({"status"});
        EXPECT_EQ(0, r.code) << "root still gets in: " << r.Describe();
}

} // namespace
} // namespace memmon_test
