// A hostile local user against the real agent (issue 8): each test sets up
// what an unprivileged account (uid 65534 here, acting through setpriv) can
// do on a shared host, runs the real agent as root, and checks that the
// attack goes nowhere.  One test per finding of the issue:
//
//   1  -d's output file opened through a folder she swapped
//   2  a base directory she owns or may write to; FIFOs planted where the
//      agent writes
//   3  configuration files she can write, included by root's
//   4  unbounded configuration input (/dev/zero, FIFOs, deep and wide
//      includes, control characters)
//   5  `match` satisfied by her process of the same name
//   6  her pidfile target exec'ing a setuid-root program
//   7  control characters, C1 and bidi overrides in log lines
//   8  backup names from the future
//   9  programs of exec targets that outlive a SIGKILLed agent, and what
//      they inherit
//   10 two agents on one base directory through the pid file race
//
// The attacker's files live under /tmp (root's test folder is not
// reachable by uid 65534).  Tests that need root (chown, setpriv) skip and
// say why where they cannot have it; the target runs no-sandbox.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/reliability_util.h"
#include "tests/testutil.h"

namespace memmon_test {
namespace {

constexpr Millis kShort(5000);
constexpr Millis kLong(20000);
constexpr uid_t kNobody = 65534;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

const std::vector<std::string> kAsNobody = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
                                            "--clear-groups"};

void Figure(const std::string &name, long long value) {
        ::testing::Test::RecordProperty(name, std::to_string(value));
        printf("FIGURE %s = %lld\n", name.c_str(), value);
        fflush(stdout);
}

// Every process whose executable is path and that has not ended.
std::vector<pid_t> Running(const std::string &path) {
        std::vector<pid_t> v;
        DIR *d = opendir("/proc");
        if (!d)
                return v;
        while (struct dirent *e = readdir(d)) {
                char *end;
                long pid = strtol(e->d_name, &end, 10);
                if (*end || pid <= 0)
                        continue;
                if (ReadLink("/proc/" + std::to_string(pid) + "/exe") == path && ProcessAlive((pid_t)pid))
                        v.push_back((pid_t)pid);
        }
        closedir(d);
        return v;
}

// The value of a status field ("Uid", "State") of pid, or "".
std::string Status(pid_t pid, const std::string &key) {
        for (const auto &l : SplitLines(ReadFileOr("/proc/" + std::to_string(pid) + "/status")))
                if (l.compare(0, key.size() + 1, key + ":") == 0)
                        return l.substr(l.find_first_not_of(" \t", key.size() + 1));
        return "";
}

bool HasByte(const std::string &s, unsigned char c) {
        return s.find(static_cast<char>(c)) != std::string::npos;
}

class HostileTest : public BaseDirTest {
      protected:
        void TearDown() override {
                BaseDirTest::TearDown();
                for (const auto &d : shared_)
                        RemoveTree(d);
        }

        // "" when uid 65534 can be played (chown, setpriv), else why not.
        std::string NobodyWhy() {
                std::string why = CanChownTo(dir_, kNobody);
                if (why.empty())
                        why = CanRunAs(kNobody);
                if (why.empty())
                        why = HaveSetpriv();
                return why;
        }

        // A fresh folder under /tmp, root's, 0755: the attacker can reach it.
        std::string Shared(const std::string &name) {
                std::string d = MakeDirUnder("/tmp", "memmon_hostile_" + name);
                EXPECT_FALSE(d.empty());
                if (!d.empty()) {
                        EXPECT_EQ(0, chmod(d.c_str(), 0755));
                        shared_.push_back(d);
                }
                return d;
        }

        // A folder of uid 65534's own.
        std::string Hers(const std::string &path, mode_t mode = 0755) {
                EXPECT_EQ(0, mkdir(path.c_str(), mode)) << path;
                EXPECT_EQ(0, chmod(path.c_str(), mode));
                EXPECT_EQ(0, chown(path.c_str(), kNobody, kNobody)) << strerror(errno);
                return path;
        }

        // Runs a shell command as uid 65534.
        RunResult AsNobody(const std::string &cmd) {
                SpawnOptions o;
                o.argv = kAsNobody;
                o.argv.insert(o.argv.end(), {"/bin/sh", "-c", cmd});
                o.cwd = "/";
                return RunProcess(o, kLong);
        }

        // Starts argv as uid 65534 (stdin a pipe).
        std::unique_ptr<Process> StartAsNobody(const std::vector<std::string> &argv) {
                SpawnOptions o;
                o.argv = kAsNobody;
                o.argv.insert(o.argv.end(), argv.begin(), argv.end());
                o.cwd = "/";
                std::string err;
                auto p = Process::Start(o, &err);
                EXPECT_TRUE(p) << err;
                return p;
        }

        // The agent in the foreground in base, stderr appended to
        // base/agent.stderr; prefix goes before its path (env VAR=...).
        std::unique_ptr<Process> Agent(const std::vector<std::string> &args, const std::string &base,
                                       const std::vector<std::string> &prefix = {}) {
                SpawnOptions o;
                o.argv = prefix;
                o.argv.push_back(AgentPath());
                o.argv.insert(o.argv.end(), args.begin(), args.end());
                o.cwd = base;
                o.pipe_stdin = false;
                o.stderr_file = base + "/agent.stderr";
                std::string err;
                auto p = Process::Start(o, &err);
                EXPECT_TRUE(p) << err;
                return p;
        }

        // Runs the agent to its end (killed at the timeout) in cwd.
        RunResult Run(const std::vector<std::string> &args, const std::string &cwd, Millis timeout = kLong) {
                SpawnOptions o;
                o.argv = {AgentPath()};
                o.argv.insert(o.argv.end(), args.begin(), args.end());
                o.cwd = cwd;
                return RunProcess(o, timeout);
        }

        static std::string LogAt(const std::string &logs) {
                return ReadFileOr(logs + "/monitor.log");
        }

        // Waits until the agent of pid logged its start in logs.
        static bool Started(pid_t pid, const std::string &logs, Millis timeout = kLong) {
                std::string needle = " started (pid " + std::to_string(pid) + ",";
                return WaitFor([&] { return LogAt(logs).find(needle) != std::string::npos; }, timeout);
        }

        // SIGTERM, and the exit code (-1 if it did not end in time).
        static int Stop(Process *p) {
                p->Signal(SIGTERM);
                int code = -1;
                return p->Wait(kLong, &code) ? code : -1;
        }

        // A config file (root's, 0600) in folder with base_dir base.
        static std::string Config(const std::string &folder, const std::string &base,
                                  const std::string &body) {
                std::string path = folder + "/memmon.ini";
                EXPECT_TRUE(WriteFile(path, "[agent]\nbase_dir = " + base + "\n" + body, 0600));
                return path;
        }

        // A copy of the workload at dir/name, root's, mode.
        static std::string WorkloadCopy(const std::string &dir, const std::string &name, mode_t mode = 0755) {
                std::string path = dir + "/" + name;
                EXPECT_EQ("", CopyFile(WorkloadPath(), path, mode));
                EXPECT_EQ(0, chmod(path.c_str(), mode));
                return path;
        }

        std::vector<std::string> shared_;
};

// ---------------------------------------------------------------------------
// Finding 1: `-d` opened logs/daemon_output.log by its path, so a user who
// could swap logs/ for a symlink between two opens (at start, or before the
// SIGHUP of a log rotation) had root create and append to a file in a folder
// of her choosing.  Now a base directory she owns is refused at start, and
// in a trusted one the output file is reached from the logs folder's fd: a
// folder swapped under a running agent changes nothing.
// ---------------------------------------------------------------------------
TEST_F(HostileTest, DaemonOutputIsNeverOpenedThroughASwappedFolder) {
        std::string why = NobodyWhy();
        if (!why.empty())
                GTEST_SKIP() << "needs uid 65534 (chown, setpriv): " << why;
        const std::string top = Shared("f1");
        const std::string victim = top + "/victim"; // root's: she cannot write there herself
        ASSERT_EQ(0, mkdir(victim.c_str(), 0755));
        ASSERT_TRUE(WriteFile(victim + "/memmon.pid", "4242\n", 0644)); // another service's
        auto victim_before = Facts(victim + "/memmon.pid");
        Sleeper target;

        // Her base directory (say, a project folder root runs the agent in).
        const std::string base = Hers(top + "/base");
        RunResult r = Run({"-d", "-p", std::to_string(target.pid()), "-T", "100000"}, base);
        if (r.code == 0) {
                // Started: she swaps logs/ for a symlink, the rotation's
                // SIGHUP reopens the logs, and the agent is stopped.
                pid_t daemon = ReadPidFile(base + "/logs/memmon.pid");
                Daemon guard(daemon);
                ASSERT_EQ(0,
                          AsNobody("cd " + base + " && mv logs logs.real && ln -s " + victim + " logs").code);
                kill(daemon, SIGHUP);
                WaitFor([&] { return LogAt(victim).find("SIGHUP") != std::string::npos; }, kShort);
                kill(daemon, SIGTERM);
                int code;
                guard.WaitExit(kLong, &code);
        }
        EXPECT_EQ(77, r.code) << "a base directory of another user was used\n" << r.Describe();
        EXPECT_NE(std::string::npos, r.err.find(base + ": owned by uid 65534 (nobody), mode 0755")) << r.err;
        EXPECT_EQ(1u, SplitLines(r.err).size()) << "one line: " << r.err;
        EXPECT_EQ(std::vector<std::string>{"memmon.pid"}, ListDir(victim))
            << "root wrote in her chosen folder";
        EXPECT_TRUE(SameFacts(victim_before, Facts(victim + "/memmon.pid")));

        // A trusted base directory: the logs folder swapped under the
        // running daemon (only root could now) is not followed either.
        const std::string base2 = top + "/base2";
        ASSERT_EQ(0, mkdir(base2.c_str(), 0700));
        r = Run({"-d", "-p", std::to_string(target.pid()), "-T", "100000"}, base2);
        ASSERT_EQ(0, r.code) << r.Describe();
        pid_t daemon = ReadPidFile(base2 + "/logs/memmon.pid");
        ASSERT_GT(daemon, 0);
        Daemon guard(daemon);
        ASSERT_EQ(0, rename((base2 + "/logs").c_str(), (base2 + "/logs.moved").c_str()));
        ASSERT_EQ(0, symlink(victim.c_str(), (base2 + "/logs").c_str()));
        kill(daemon, SIGHUP);
        EXPECT_TRUE(WaitFor(
            [&] { return LogAt(base2 + "/logs.moved").find("SIGHUP: logs reopened") != std::string::npos; },
            kLong))
            << "the reopened log is not the one the agent opened at start";
        kill(daemon, SIGTERM);
        int code = -1;
        EXPECT_TRUE(guard.WaitExit(kLong, &code));
        EXPECT_EQ(std::vector<std::string>{"memmon.pid"}, ListDir(victim))
            << "the agent followed the symlink";
        EXPECT_TRUE(SameFacts(victim_before, Facts(victim + "/memmon.pid")))
            << "another service's pid file changed";
        EXPECT_TRUE(PathExists(base2 + "/logs.moved/daemon_output.log"));
        EXPECT_FALSE(PathExists(base2 + "/logs.moved/memmon.pid"))
            << "its own pid file is removed from its folder";
}

// ---------------------------------------------------------------------------
// Finding 2: a base directory (or logs/, backups/) that another user owns or
// may write to.  She could pre-create monitor.log and read every line, swap
// folders for symlinks, or plant FIFOs that hang the agent.  The start-up
// trust check (as OpenSSH's StrictModes) refuses every such tree with exit
// 77 and one line naming the path, its owner and its mode; FIFOs planted in
// a trusted tree are refused without blocking anything.
// ---------------------------------------------------------------------------
TEST_F(HostileTest, BaseDirectoryOtherUsersCanChangeIsRefused) {
        std::string why = NobodyWhy();
        if (!why.empty())
                GTEST_SKIP() << "needs uid 65534 (chown, setpriv): " << why;
        const std::string top = Shared("f2");
        Sleeper target;
        const std::string pid = std::to_string(target.pid());

        // Hers, with a monitor.log of her own she reads.
        const std::string base = Hers(top + "/hers");
        ASSERT_EQ(0, AsNobody("mkdir " + base + "/logs && touch " + base + "/logs/monitor.log && chmod 644 " +
                              base + "/logs/monitor.log")
                         .code);
        RunResult r = Run({"-f", "-p", pid, "-T", "100000"}, base, kShort);
        EXPECT_FALSE(r.timed_out) << "the agent ran in her folder";
        EXPECT_EQ(77, r.code) << r.Describe();
        EXPECT_EQ("", ReadFileOr(base + "/logs/monitor.log")) << "she reads the agent's log";

        struct Case {
                std::string name;
                std::function<void(const std::string &)> plant; // gets the base
                std::string path;                               // relative to top, "" for the base
                std::string says;
        };
        std::vector<Case> cases = {
            {"base writable by its group", [](const std::string &b) { chmod(b.c_str(), 0770); }, "",
             "mode 0770: writable by group"},
            {"logs writable by others",
             [](const std::string &b) {
                     mkdir((b + "/logs").c_str(), 0777);
                     chmod((b + "/logs").c_str(), 0777);
             },
             "/logs", "mode 0777: writable by others"},
            {"backups of another user",
             [](const std::string &b) {
                     mkdir((b + "/backups").c_str(), 0700);
                     chown((b + "/backups").c_str(), kNobody, kNobody);
             },
             "/backups", "owned by uid 65534 (nobody), mode 0700: neither root nor"},
            {"logs a symlink", [](const std::string &b) { symlink("/tmp", (b + "/logs").c_str()); }, "/logs",
             "a symlink"},
        };
        for (size_t i = 0; i < cases.size(); i++) {
                const Case &c = cases[i];
                SCOPED_TRACE(c.name);
                std::string b = top + "/case" + std::to_string(i);
                ASSERT_EQ(0, mkdir(b.c_str(), 0700));
                c.plant(b);
                r = Run({"-f", "-p", pid, "-T", "100000"}, b, kShort);
                EXPECT_FALSE(r.timed_out) << "the agent ran";
                EXPECT_EQ(77, r.code) << r.Describe();
                EXPECT_NE(std::string::npos, r.err.find(b + c.path + ": ")) << r.err;
                EXPECT_NE(std::string::npos, r.err.find(c.says)) << r.err;
                EXPECT_FALSE(PathExists(b + "/logs/memmon.pid")) << "nothing is written";
        }

        // A folder above the base directory that others may write to: they
        // could rename the base away and put their own in its place...
        const std::string open = top + "/open";
        ASSERT_EQ(0, mkdir(open.c_str(), 0777));
        ASSERT_EQ(0, chmod(open.c_str(), 0777));
        ASSERT_EQ(0, mkdir((open + "/base").c_str(), 0700));
        r = Run({"-f", "-p", pid, "-T", "100000"}, open + "/base", kShort);
        EXPECT_EQ(77, r.code) << r.Describe();
        EXPECT_NE(std::string::npos,
                  r.err.find(open + ": owned by uid 0 (root), mode 0777: writable by others"))
            << r.err;
        // ... unless it is sticky, as /tmp is: then nobody but its owner may.
        ASSERT_EQ(0, chmod(open.c_str(), 01777));
        auto agent = Agent({"-f", "-p", pid, "-T", "100000"}, open + "/base");
        ASSERT_TRUE(agent);
        EXPECT_TRUE(Started(agent->pid(), open + "/base/logs")) << ReadFileOr(open + "/base/agent.stderr");
        EXPECT_EQ(0, Stop(agent.get()));
}

TEST_F(HostileTest, PlantedFifosNeverHangTheAgent) {
        Sleeper target;
        const std::string pid = std::to_string(target.pid());
        // At monitor.log: start-up used to block in open() forever.
        std::string b = P("at_monitor");
        ASSERT_EQ(0, mkdir(b.c_str(), 0700));
        ASSERT_EQ(0, mkdir((b + "/logs").c_str(), 0700));
        ASSERT_EQ(0, mkfifo((b + "/logs/monitor.log").c_str(), 0600));
        RunResult r = Run({"-f", "-p", pid, "-T", "100000"}, b, kLong);
        EXPECT_FALSE(r.timed_out) << "start-up hangs on a FIFO at logs/monitor.log";
        EXPECT_EQ(77, r.code) << r.Describe();
        EXPECT_NE(std::string::npos, r.err.find("logs/monitor.log is a FIFO, not a regular file")) << r.err;

        // At daemon_output.log, with -d.
        b = P("at_output");
        ASSERT_EQ(0, mkdir(b.c_str(), 0700));
        ASSERT_EQ(0, mkdir((b + "/logs").c_str(), 0700));
        ASSERT_EQ(0, mkfifo((b + "/logs/daemon_output.log").c_str(), 0600));
        r = Run({"-d", "-p", pid, "-T", "100000"}, b, kLong);
        EXPECT_FALSE(r.timed_out) << "-d hangs on a FIFO at logs/daemon_output.log";
        EXPECT_EQ(77, r.code) << r.Describe();

        // At a target's log: the worker used to block in open() holding the
        // log's lock, and with it every thread that logs, SIGTERM's too.
        b = P("at_target");
        ASSERT_EQ(0, mkdir(b.c_str(), 0700));
        ASSERT_EQ(0, mkdir((b + "/logs").c_str(), 0700));
        ASSERT_EQ(0, mkfifo((b + "/logs/web.log").c_str(), 0600));
        std::string cfg = Config(b, b, "interval = 50ms\n[target:web]\npid = " + pid + "\n");
        auto agent = Agent({"-f", "-c", cfg}, b);
        ASSERT_TRUE(agent);
        EXPECT_TRUE(
            WaitFor([&] { return LogAt(b + "/logs").find("] full backup ") != std::string::npos; }, kLong))
            << "the target is not recorded";
        EXPECT_TRUE(WaitFor(
            [&] {
                    return LogAt(b + "/logs").find("logs/web.log is a FIFO, not a regular file") !=
                           std::string::npos;
            },
            kShort))
            << "the refused file is not reported";
        EXPECT_EQ(0, Stop(agent.get())) << "SIGTERM is not acted on";
        EXPECT_TRUE(IsFifo(b + "/logs/web.log")) << "left as it was";
}

// ---------------------------------------------------------------------------
// Finding 3: files included from a folder another user can write were read
// as root's configuration: `exec = ...` ran her command as root, and
// `agent -t` said OK.  Now every file and the folders they live in must be
// root's (or the agent's user's) and writable by nobody else.
// ---------------------------------------------------------------------------
TEST_F(HostileTest, UntrustedIncludedFilesAreRefused) {
        std::string why = NobodyWhy();
        if (!why.empty())
                GTEST_SKIP() << "needs uid 65534 (chown, setpriv): " << why;
        const std::string top = Shared("f3");
        const std::string etc = top + "/etc", base = top + "/base", proof = top + "/proof";
        ASSERT_EQ(0, mkdir(etc.c_str(), 0755));
        ASSERT_EQ(0, mkdir(base.c_str(), 0700));
        Sleeper target;
        const std::string evil =
            "[target:evil]\nexec = /bin/sh -c \"id -u > " + proof + "; exec sleep 600\"\ninterval = 1s\n";

        struct Case {
                std::string name;
                std::function<std::string()> plant; // returns the path of the untrusted file
                std::string says;
        };
        std::vector<Case> cases = {
            {"a drop-in folder she owns",
             [&] {
                     std::string d = Hers(etc + "/d1");
                     EXPECT_EQ(0, AsNobody("printf '%s' '" + evil + "' > " + d + "/evil.ini").code);
                     return d + "/evil.ini";
             },
             "not trusted: " + etc + "/d1: owned by uid 65534 (nobody)"},
            {"a file she owns in root's folder",
             [&] {
                     std::string d = etc + "/d2";
                     mkdir(d.c_str(), 0755);
                     EXPECT_TRUE(WriteFile(d + "/evil.ini", evil, 0644));
                     EXPECT_EQ(0, chown((d + "/evil.ini").c_str(), kNobody, kNobody));
                     return d + "/evil.ini";
             },
             "not trusted: writable by uid 65534 (nobody)"},
            {"a file anyone may write",
             [&] {
                     std::string d = etc + "/d3";
                     mkdir(d.c_str(), 0755);
                     EXPECT_TRUE(WriteFile(d + "/evil.ini", evil, 0666));
                     chmod((d + "/evil.ini").c_str(), 0666);
                     return d + "/evil.ini";
             },
             "not trusted: writable by any user (mode 0666)"},
        };
        for (size_t i = 0; i < cases.size(); i++) {
                const Case &c = cases[i];
                SCOPED_TRACE(c.name);
                std::string file = c.plant();
                std::string dir = file.substr(0, file.rfind('/'));
                std::string cfg =
                    Config(etc, base,
                           "[target:mine]\npid = " + std::to_string(target.pid()) +
                               "\n[include]\nfiles = " + dir.substr(etc.size() + 1) + "/*.ini\n");
                RunResult t = Run({"-t", "-c", cfg}, base);
                EXPECT_EQ(78, t.code) << "agent -t trusts it\n" << t.Describe();
                EXPECT_NE(std::string::npos, (t.out + t.err).find(file + ": " + c.says)) << t.Describe();
                RunResult run = Run({"-f", "-c", cfg}, base, kShort);
                EXPECT_FALSE(run.timed_out) << "the agent ran it";
                EXPECT_EQ(78, run.code) << run.Describe();
                EXPECT_FALSE(PathExists(proof)) << "her command ran as root: uid " << ReadFileOr(proof);
                RemoveTree(dir);
        }

        // A reload keeps the configuration in force when a file turns
        // untrusted.
        const std::string d = etc + "/d4";
        ASSERT_EQ(0, mkdir(d.c_str(), 0755));
        ASSERT_TRUE(WriteFile(d + "/ok.ini", "[defaults]\nkeep_full = 5\n", 0644));
        std::string cfg = Config(etc, base,
                                 "[target:mine]\npid = " + std::to_string(target.pid()) +
                                     "\n[include]\nfiles = d4/*.ini\n");
        auto agent = Agent({"-f", "-c", cfg}, base);
        ASSERT_TRUE(agent);
        ASSERT_TRUE(Started(agent->pid(), base + "/logs")) << ReadFileOr(base + "/agent.stderr");
        ASSERT_TRUE(WriteFile(d + "/ok.ini", "[defaults]\nkeep_full = 5\n" + evil, 0644));
        ASSERT_EQ(0, chown((d + "/ok.ini").c_str(), kNobody, kNobody));
        agent->Signal(SIGHUP);
        EXPECT_TRUE(
            WaitFor([&] { return LogAt(base + "/logs").find("Reload failed") != std::string::npos; }, kLong));
        EXPECT_TRUE(HasLineWith(LogAt(base + "/logs"), d + "/ok.ini", "not trusted: writable by uid 65534"))
            << LogAt(base + "/logs");
        EXPECT_EQ(0, Stop(agent.get()));
        EXPECT_FALSE(PathExists(proof)) << "her command ran as root";
}

// ---------------------------------------------------------------------------
// Finding 4: configuration input had no bounds: /dev/zero read until memory
// ran out, a FIFO blocked, thousands of chained includes overflowed the
// stack, fan-out includes grew exponentially, and control bytes were
// accepted and printed raw by -t.
// ---------------------------------------------------------------------------
TEST_F(HostileTest, ConfigurationInputIsBounded) {
        // Under a 1 GiB address-space limit, so that an unbounded read fails
        // here rather than on the machine (not under a sanitizer, whose
        // shadow memory alone is larger: there the deadline is the bound).
        auto limited = [&](const std::vector<std::string> &args) {
                SpawnOptions o;
                o.argv = {AgentPath()};
                if (!kSanitized)
                        o.argv = {"/usr/bin/prlimit", "--as=1073741824", AgentPath()};
                o.argv.insert(o.argv.end(), args.begin(), args.end());
                o.cwd = dir_;
                return RunProcess(o, kLong);
        };
        RunResult r = limited({"-t", "-c", "/dev/zero"});
        EXPECT_FALSE(r.timed_out);
        EXPECT_EQ(78, r.code) << r.Describe();
        EXPECT_NE(std::string::npos, r.err.find("/dev/zero: not a regular file (a character device)"))
            << r.err;
        EXPECT_EQ(1u, SplitLines(r.err).size()) << r.err;
        r = limited({"-f", "-c", "/dev/zero"});
        EXPECT_EQ(78, r.code) << r.Describe();

        std::string cfg = Config(dir_, dir_, "[include]\nfiles = /dev/zero\n");
        r = limited({"-t", "-c", cfg});
        EXPECT_FALSE(r.timed_out);
        EXPECT_EQ(78, r.code) << r.Describe();
        EXPECT_NE(std::string::npos, r.err.find("/dev/zero: not a regular file")) << r.err;

        ASSERT_EQ(0, mkfifo(P("fifo.ini").c_str(), 0600));
        r = limited({"-t", "-c", P("fifo.ini")});
        EXPECT_FALSE(r.timed_out) << "a FIFO as configuration blocks";
        EXPECT_EQ(78, r.code) << r.Describe();

        // 6,000 files, each including the next.
        ASSERT_EQ(0, mkdir(P("chain").c_str(), 0700));
        for (int i = 0; i < 6000; i++)
                ASSERT_TRUE(WriteFile(P("chain/" + std::to_string(i) + ".ini"),
                                      "[include]\nfiles = " + std::to_string(i + 1) + ".ini\n", 0600));
        r = limited({"-t", "-c", P("chain/0.ini")});
        EXPECT_FALSE(r.timed_out);
        EXPECT_EQ(78, r.code) << "a crash, or no error: " << r.Describe();
        EXPECT_NE(std::string::npos, r.err.find("includes nested deeper than 16 files")) << r.err;

        // Fan-out: 8 levels of 8 files, each including every file of the
        // next level (8^8 reads if each inclusion reads the file again).
        for (int lv = 1; lv <= 8; lv++) {
                ASSERT_EQ(0, mkdir(P("fan" + std::to_string(lv)).c_str(), 0700));
                for (int j = 0; j < 8; j++)
                        ASSERT_TRUE(WriteFile(
                            P("fan" + std::to_string(lv) + "/" + std::to_string(j) + ".ini"),
                            lv < 8 ? "[include]\nfiles = ../fan" + std::to_string(lv + 1) + "/*.ini\n"
                                   : "[defaults]\n",
                            0600));
        }
        cfg = Config(dir_, dir_, "[include]\nfiles = fan1/*.ini\n");
        r = limited({"-t", "-c", cfg});
        EXPECT_FALSE(r.timed_out) << "fan-out includes are read again and again";
        EXPECT_EQ(0, r.code) << r.Describe();

        // More than 256 files in all.
        ASSERT_EQ(0, mkdir(P("many").c_str(), 0700));
        for (int i = 0; i < 300; i++)
                ASSERT_TRUE(WriteFile(P("many/" + std::to_string(1000 + i) + ".ini"), "[defaults]\n", 0600));
        cfg = Config(dir_, dir_, "[include]\nfiles = many/*.ini\n");
        r = limited({"-t", "-c", cfg});
        EXPECT_EQ(78, r.code) << r.Describe();
        EXPECT_NE(std::string::npos, r.err.find("more than 256 configuration files")) << r.err;

        // Control bytes in values (ESC, BEL, a C1 CSI, a bidi override),
        // and in the name of an included file: errors with FILE:LINE, and
        // -t never prints one raw.
        ASSERT_EQ(0, mkdir(P("ctl").c_str(), 0700));
        ASSERT_TRUE(WriteFile(P("ctl/x\x1b[2J.ini"), "[target:a]\nmatch = a\x1b]0;owned\x07\n", 0600));
        cfg = Config(dir_, dir_,
                     "[target:b]\nmatch = b\xc2\x9b"
                     "31m\n[target:c]\nmatch = c\xe2\x80\xae"
                     "exe\n[include]\nfiles = ctl/*.ini\n");
        r = limited({"-t", "-c", cfg});
        EXPECT_EQ(78, r.code) << r.Describe();
        std::string all = r.out + r.err;
        EXPECT_NE(std::string::npos, all.find(cfg + ":4: control character U+009B")) << all;
        EXPECT_NE(std::string::npos, all.find(cfg + ":6: control character U+202E")) << all;
        EXPECT_NE(std::string::npos, all.find("ctl/x\\x1b[2J.ini:2: control character 0x1b")) << all;
        for (unsigned char c : {0x1b, 0x07})
                EXPECT_FALSE(HasByte(all, c)) << "a raw control byte " << (int)c << " reached the terminal";
        EXPECT_EQ(std::string::npos, all.find("\xc2\x9b")) << "a raw C1 control";
        EXPECT_EQ(std::string::npos, all.find("\xe2\x80\xae")) << "a raw bidi override";
}

// ---------------------------------------------------------------------------
// Finding 5: `match = sshd` is satisfied by any user's process named sshd
// (the oldest wins, and hers can be the oldest).  The shipped
// etc/memmon.d/sshd.ini now asks for the very file /usr/sbin/sshd and uid
// root; user = and exe = narrow any match target.
// ---------------------------------------------------------------------------
TEST_F(HostileTest, MatchAloneTrustsANameUserAndExeNarrowIt) {
        std::string why = NobodyWhy();
        if (!why.empty())
                GTEST_SKIP() << "needs uid 65534 (chown, setpriv): " << why;
        const std::string top = Shared("f5");
        const std::string bin = top + "/bin", base = top + "/base";
        ASSERT_EQ(0, mkdir(bin.c_str(), 0755));
        ASSERT_EQ(0, mkdir(base.c_str(), 0700));
        const std::string sshd = WorkloadCopy(bin, "sshd");
        const std::string other = WorkloadCopy(bin, "sshd2"); // the same bytes, another file

        // Hers first, so that she has the oldest process named sshd.
        auto hers = StartAsNobody({sshd});
        ASSERT_TRUE(hers && hers->WaitForStdout("ready ", kLong)) << (hers ? hers->err() : "");
        Workload root_wl;
        std::string err;
        ASSERT_TRUE(root_wl.StartAt(sshd, &err)) << err;

        std::string cfg = Config(top, base,
                                 "interval = 50ms\n"
                                 "[target:any]\nmatch = sshd\n"
                                 "[target:root_sshd]\nmatch = sshd\nuser = root\nexe = " +
                                     sshd +
                                     "\n[target:by_uid]\nmatch = sshd\nuser = 0\n"
                                     "[target:copy]\nmatch = sshd\nexe = " +
                                     other +
                                     "\n[target:shipped]\nmatch = sshd\ninterval = 50ms\n"
                                     "[include]\nfiles = " +
                                     Runfile("etc/memmon.d/sshd.ini") + "\n");
        RunResult t = Run({"-t", "-c", cfg}, base);
        EXPECT_EQ(0, t.code) << t.Describe();
        auto agent = Agent({"-f", "-c", cfg}, base);
        ASSERT_TRUE(agent);
        ASSERT_TRUE(Started(agent->pid(), base + "/logs")) << ReadFileOr(base + "/agent.stderr");
        auto attached = [&](const std::string &target, pid_t pid) {
                return WaitFor(
                    [&] {
                            return HasLineWith(ReadFileOr(base + "/logs/" + target + ".log"),
                                               "attached to pid " + std::to_string(pid) + " ", "");
                    },
                    kLong);
        };
        // A name alone: her process.
        EXPECT_TRUE(attached("any", hers->pid())) << "match alone takes the oldest process of that name";
        EXPECT_TRUE(attached("shipped", hers->pid()));
        // user = root (by name or uid) and exe = that file: root's.
        EXPECT_TRUE(attached("root_sshd", root_wl.pid())) << ReadFileOr(base + "/logs/root_sshd.log");
        EXPECT_TRUE(attached("by_uid", root_wl.pid())) << ReadFileOr(base + "/logs/by_uid.log");
        // exe = a copy: neither (the name and the bytes are the same).
        EXPECT_NE(std::string::npos,
                  ReadFileOr(base + "/logs/copy.log").find("waiting: no process named sshd"))
            << ReadFileOr(base + "/logs/copy.log");
        EXPECT_EQ(std::string::npos, ReadFileOr(base + "/logs/copy.log").find("attached"));
        // The shipped sshd.ini: /usr/sbin/sshd as root, never hers.
        EXPECT_EQ(std::string::npos, ReadFileOr(base + "/logs/sshd.log").find(std::to_string(hers->pid())))
            << ReadFileOr(base + "/logs/sshd.log");
        EXPECT_EQ(0, Stop(agent.get()));
}

// Every configuration file shipped in etc/ passes `agent -t`.
TEST_F(HostileTest, ShippedConfigurationsPass) {
        for (const std::string rel : {"etc/memmon.ini", "etc/memmon.d/sshd.ini"}) {
                RunResult r = Run({"-t", "-c", Runfile(rel)}, dir_);
                EXPECT_EQ(0, r.code) << rel << "\n" << r.Describe();
        }
}

// ---------------------------------------------------------------------------
// Finding 6: a pidfile target was checked only when attaching: her shell,
// watched through her own pidfile, could exec a setuid-root program and
// keep being recorded.  Now the check is made again at every exec, with the
// new maps open and before anything is read: the target is denied, its
// chain closed, and nothing of the setuid image is written.
// ---------------------------------------------------------------------------
TEST_F(HostileTest, SetuidExecOfAWatchedProcessStopsRecording) {
        std::string why = NobodyWhy();
        if (!why.empty())
                GTEST_SKIP() << "needs uid 65534 (chown, setpriv): " << why;
        const std::string top = Shared("f6");
        const std::string bin = top + "/bin", run = Hers(top + "/run"), base = top + "/base";
        ASSERT_EQ(0, mkdir(bin.c_str(), 0755));
        ASSERT_EQ(0, mkdir(base.c_str(), 0700));
        // A setuid-root program (as passwd is), kept in a folder she can
        // read but not write.
        const std::string suid = WorkloadCopy(bin, "suid_workload", 04755);
        ASSERT_EQ(04755, FileMode(suid));
        const std::string pidfile = run + "/hers.pid";

        // Her shell writes its pid to her pidfile, then waits for a line
        // and execs the setuid program (its own process: the same pid).
        auto hers = StartAsNobody({"/bin/sh", "-c", "echo $$ > " + pidfile + "; read go; exec " + suid});
        ASSERT_TRUE(hers);
        ASSERT_TRUE(WaitFor([&] { return ReadPidFile(pidfile) == hers->pid(); }, kLong));
        std::string cfg = Config(top, base, "interval = 20ms\n[target:hers]\npidfile = " + pidfile + "\n");
        auto agent = Agent({"-f", "-c", cfg}, base);
        ASSERT_TRUE(agent);
        ASSERT_TRUE(Started(agent->pid(), base + "/logs")) << ReadFileOr(base + "/agent.stderr");
        const std::string backups = base + "/backups/hers";
        ASSERT_TRUE(WaitFor([&] { return !FinalBackups(backups).empty(); }, kLong))
            << "her shell is not recorded";

        ASSERT_TRUE(hers->WriteStdin("go\n"));
        ASSERT_TRUE(hers->WaitForStdout("ready ", kLong)) << hers->err();
        EXPECT_EQ("65534\t0\t0\t0", Status(hers->pid(), "Uid")) << "the program is not setuid root here";
        const std::string log = base + "/logs/hers.log";
        EXPECT_TRUE(WaitFor([&] { return HasLineWith(ReadFileOr(log), "denied:", "after an exec"); }, kLong))
            << ReadFileOr(log);
        EXPECT_TRUE(HasLineWith(ReadFileOr(log), "denied:", "another user (uid 0")) << ReadFileOr(log);
        // The setuid program changes its maps; then a backup asked of the
        // target (which samples first) proves a sample came after it.
        size_t mark = hers->out().size();
        ASSERT_TRUE(hers->WriteStdin("map 4 rw\n"));
        ASSERT_TRUE(hers->WaitForStdout("ok ", kLong, mark));
        ASSERT_TRUE(WriteFifo(base + "/logs/daemon_fifo", "@hers backup\n"));
        EXPECT_TRUE(WaitFor([&] { return HasLineWith(LogAt(base + "/logs"), "] hers: ", "backup"); }, kLong))
            << LogAt(base + "/logs");
        size_t suid_files = 0;
        for (const auto &f : FinalBackups(backups))
                suid_files += ReadFileOr(f).find(suid) != std::string::npos;
        EXPECT_EQ(0u, suid_files) << "the setuid program's maps were recorded";
        EXPECT_NE(std::string::npos, ReadFileOr(log).find("final, the process called exec"))
            << ReadFileOr(log);
        EXPECT_EQ(0, Stop(agent.get()));
        Figure("setuid_files_recorded", static_cast<long long>(suid_files));
}

// Reading pidfiles: judged on the file opened.  In a sticky folder (as
// /tmp) only the file's owner may replace it, so her pidfile there names
// her own processes and no one else's.
TEST_F(HostileTest, PidfilesInStickyFoldersAreTrustedAsFarAsTheirOwner) {
        std::string why = NobodyWhy();
        if (!why.empty())
                GTEST_SKIP() << "needs uid 65534 (chown, setpriv): " << why;
        const std::string top = Shared("pidf");
        const std::string pub = top + "/pub", base = top + "/base";
        ASSERT_EQ(0, mkdir(pub.c_str(), 0777));
        ASSERT_EQ(0, chmod(pub.c_str(), 01777));
        ASSERT_EQ(0, mkdir(base.c_str(), 0700));
        Workload root_wl;
        std::string err;
        ASSERT_TRUE(root_wl.Start(&err)) << err;
        auto hers = StartAsNobody({"/bin/sh", "-c",
                                   "echo $$ > " + pub + "/mine.pid; echo " + std::to_string(root_wl.pid()) +
                                       " > " + pub + "/roots.pid; exec sleep 600"});
        ASSERT_TRUE(hers);
        ASSERT_TRUE(WaitFor([&] { return ReadPidFile(pub + "/roots.pid") > 0; }, kLong));
        ASSERT_EQ(0, mkfifo((pub + "/fifo.pid").c_str(), 0600));
        std::string cfg = Config(top, base,
                                 "interval = 50ms\n[target:mine]\npidfile = " + pub +
                                     "/mine.pid\n[target:roots]\npidfile = " + pub +
                                     "/roots.pid\n[target:fifo]\npidfile = " + pub + "/fifo.pid\n");
        auto agent = Agent({"-f", "-c", cfg}, base);
        ASSERT_TRUE(agent);
        ASSERT_TRUE(Started(agent->pid(), base + "/logs")) << ReadFileOr(base + "/agent.stderr");
        EXPECT_TRUE(WaitFor([&] { return !FinalBackups(base + "/backups/mine").empty(); }, kLong))
            << ReadFileOr(base + "/logs/mine.log");
        EXPECT_TRUE(WaitFor(
            [&] { return HasLineWith(ReadFileOr(base + "/logs/roots.log"), "denied:", "another user"); },
            kLong))
            << ReadFileOr(base + "/logs/roots.log");
        EXPECT_TRUE(WaitFor(
            [&] { return HasLineWith(ReadFileOr(base + "/logs/fifo.log"), "denied:", "not a regular file"); },
            kLong))
            << ReadFileOr(base + "/logs/fifo.log");
        EXPECT_TRUE(FinalBackups(base + "/backups/roots").empty());
        EXPECT_EQ(0, Stop(agent.get())) << "a FIFO pidfile blocks the agent";
}

// ---------------------------------------------------------------------------
// Finding 7 (its logging part): C1 controls and bidi overrides reached the
// logs unescaped.  Every log line is escaped now (core/textesc.h).
// ---------------------------------------------------------------------------
TEST_F(HostileTest, LogLinesEscapeC1ControlsAndBidiOverrides) {
        Sleeper target;
        auto agent = Agent({"-f", "-p", std::to_string(target.pid()), "-T", "100000"}, dir_);
        ASSERT_TRUE(agent);
        ASSERT_TRUE(Started(agent->pid(), P("logs")));
        const std::string evil = "status \xc2\x9b"
                                 "2J \xe2\x80\xae"
                                 "gnp.exe \xe2\x81\xa6 \xe2\x80\xa8 \x1b[31m \xff";
        ASSERT_TRUE(WriteFifo(P("logs/daemon_fifo"), evil + "\n"));
        EXPECT_TRUE(
            WaitFor([&] { return Log().find("command: status \\xc2\\x9b2J") != std::string::npos; }, kLong))
            << Log();
        EXPECT_EQ(0, Stop(agent.get()));
        std::string log = Log();
        for (const char *raw : {"\xc2\x9b", "\xe2\x80\xae", "\xe2\x81\xa6", "\xe2\x80\xa8", "\x1b", "\xff"})
                EXPECT_EQ(std::string::npos, log.find(raw)) << "raw bytes in the log";
        EXPECT_NE(std::string::npos, log.find("\\u202egnp.exe \\u2066 \\u2028 \\x1b[31m \\xff")) << log;
}

// ---------------------------------------------------------------------------
// Finding 8: one file named backup_1_99991231T235959.999999Z.maps in a
// target's full/ made every later write fail ("Invalid argument"), across
// restarts, and a year-3000 name dragged every new name to year 3000.
// Names from the future, and names that are not backup names, are now
// ignored for naming and retention, and reported once.  (Under the trust
// check only root or the agent can put files there; a clock once set
// wrong can too.)
// ---------------------------------------------------------------------------
TEST_F(HostileTest, BackupNamesComeFromTheClock) {
        Workload wl;
        std::string err;
        ASSERT_TRUE(wl.Start(&err)) << err;
        const std::string t = P("backups/t");
        ASSERT_EQ(0, mkdir(P("backups").c_str(), 0700));
        ASSERT_EQ(0, mkdir(t.c_str(), 0700));
        ASSERT_EQ(0, mkdir((t + "/full").c_str(), 0700));
        ASSERT_EQ(0, mkdir((t + "/incremental").c_str(), 0700));
        const std::vector<std::string> planted = {
            t + "/full/backup_1_99991231T235959.999999Z.maps",
            t + "/full/backup_1_30000101T000000.000000Z.maps",
            t + "/incremental/diff_1_30000101T000000.000001Z.diff",
            t + "/full/notes.txt",
        };
        for (const auto &p : planted)
                ASSERT_TRUE(WriteFile(p, "planted\n", 0600));
        std::string cfg = Config(dir_, dir_,
                                 "interval = 20ms\n[target:t]\npid = " + std::to_string(wl.pid()) +
                                     "\nfull_every = 1\nkeep_full = 2\n");
        auto agent = Agent({"-f", "-c", cfg}, dir_);
        ASSERT_TRUE(agent);
        ASSERT_TRUE(Started(agent->pid(), P("logs")));
        // Five chains (full_every = 1: a diff, then a full snapshot).
        for (int i = 0; i < 20 && CountLinesWith(Log(), "] full backup ") < 5; i++) {
                auto written = [&] {
                        return CountLinesWith(Log(), "] full backup ") + CountLinesWith(Log(), "] diff ");
                };
                size_t before = written();
                ASSERT_NE(0u, wl.Map(1, "rw"));
                ASSERT_TRUE(WaitFor([&] { return written() > before; }, kLong))
                    << "nothing written after a change";
        }
        ASSERT_GE(CountLinesWith(Log(), "] full backup "), 5u);
        EXPECT_EQ(0, Stop(agent.get()));
        std::string log = Log();
        EXPECT_EQ(0u, CountLinesWith(log, "cannot write")) << log;
        EXPECT_EQ(1u, CountLinesWith(log, "ignoring 4 files")) << log;
        size_t ours = 0;
        for (const auto &n : ListDir(t + "/full")) {
                if (n.compare(0, 7, "backup_") != 0 || n.find("_1_") != std::string::npos)
                        continue;
                ours++;
                EXPECT_LT(n.substr(n.rfind('_') + 1), "2100") << n << ": not from the clock";
        }
        EXPECT_EQ(2u, ours) << "retention kept the wrong chains";
        for (const auto &p : planted)
                EXPECT_EQ("planted\n", ReadFileOr(p)) << p << " was touched";
        Figure("future_names_ignored", static_cast<long long>(planted.size()));
}

// ---------------------------------------------------------------------------
// Finding 9: programs started by exec targets survived a SIGKILL of the
// agent (3 kill/restart cycles left 3 copies) and inherited stray fds and
// NOTIFY_SOCKET from whoever started the agent.
// ---------------------------------------------------------------------------
TEST_F(HostileTest, ExecProgramsDieWithTheAgentAndInheritNothing) {
        const std::string prog = WorkloadCopy(dir_, "prog_of_exec");
        std::string cfg =
            Config(dir_, dir_, "interval = 100ms\n[target:prog]\nexec = " + prog + " --seconds 600\n");
        int left = -1;
        for (int cycle = 0; cycle < 3; cycle++) {
                SCOPED_TRACE("cycle " + std::to_string(cycle));
                // Started by a shell that leaves fd 7 open (not
                // close-on-exec) and a service manager's variables set.
                auto agent =
                    Agent({"-f", "-c", cfg}, dir_,
                          {"/usr/bin/env", "NOTIFY_SOCKET=" + P("no_such_socket"), "WATCHDOG_USEC=30000000",
                           "/bin/sh", "-c", "exec 7</dev/null; exec \"$@\"", "sh"});
                ASSERT_TRUE(agent);
                std::vector<pid_t> run;
                ASSERT_TRUE(WaitFor([&] { return (run = Running(prog)).size() == 1; }, kLong))
                    << run.size() << " copies of the program run";
                pid_t p = run[0];
                // /proc/PID/exe names the program from exec_mmap on, a
                // moment before exec closes the close-on-exec fds (the
                // spawn's report pipe is fd 3): a leak stays, that does not.
                std::vector<int> fds;
                EXPECT_TRUE(WaitFor(
                    [&] {
                            return (fds = OpenFds(p)) == std::vector<int>{0, 1, 2};
                    },
                    kShort))
                    << "fd 3 and up reached the program: " << fds.size() << " fds";
                std::string env = ReadFileOr("/proc/" + std::to_string(p) + "/environ");
                EXPECT_EQ(std::string::npos, env.find("NOTIFY_SOCKET="))
                    << "NOTIFY_SOCKET reached the program";
                EXPECT_EQ(std::string::npos, env.find("WATCHDOG_USEC="))
                    << "WATCHDOG_USEC reached the program";
                agent->Signal(SIGKILL);
                int code;
                ASSERT_TRUE(agent->Wait(kLong, &code));
                EXPECT_TRUE(WaitFor([&] { return Running(prog).empty(); }, kLong))
                    << "the program outlived the agent's SIGKILL";
                left = static_cast<int>(Running(prog).size());
                for (pid_t q : Running(prog))
                        kill(q, SIGKILL);
        }
        Figure("exec_programs_left_after_3_kills", left);
}

// ---------------------------------------------------------------------------
// Finding 10: the pid file race.  An agent that opened the pid file just
// before its holder removed it got the lock on the removed file, while a
// later agent made a new file and locked that one: two agents on one base
// directory.  A shim holds the second agent between its open and its lock
// while the first one stops and a third one starts.
// ---------------------------------------------------------------------------
TEST_F(HostileTest, PidFileRaceNeverRunsTwoAgents) {
        Sleeper target;
        const std::vector<std::string> args = {"-f", "-p", std::to_string(target.pid()), "-T", "100000"};
        auto first = Agent(args, dir_);
        ASSERT_TRUE(first && Started(first->pid(), P("logs")));
        const std::string mark = P("paused");
        // Under ASan the runtime must come first, and the shim comes
        // before it: the check that says so is turned off.
        const char *asan = getenv("ASAN_OPTIONS");
        auto second =
            Agent(args, dir_,
                  {"/usr/bin/env", "LD_PRELOAD=" + Runfile("tests/pauseshim.so"), "MEMMON_PAUSE_MARK=" + mark,
                   std::string("ASAN_OPTIONS=") + (asan ? asan : "") + (asan && *asan ? ":" : "") +
                       "verify_asan_link_order=0"});
        ASSERT_TRUE(second);
        ASSERT_TRUE(WaitFor([&] { return PathExists(mark); }, kLong))
            << "the second agent never reached flock()";
        EXPECT_EQ(0, Stop(first.get()));
        auto third = Agent(args, dir_);
        ASSERT_TRUE(third && Started(third->pid(), P("logs")));
        ASSERT_EQ(0, unlink(mark.c_str()));
        int code = -1;
        bool ended = second->Wait(kLong, &code);
        EXPECT_TRUE(ended) << "the second agent runs alongside the third";
        EXPECT_EQ(75, code);
        EXPECT_NE(
            std::string::npos,
            ReadFileOr(P("agent.stderr")).find("another agent (pid " + std::to_string(third->pid()) + ")"))
            << ReadFileOr(P("agent.stderr"));
        EXPECT_EQ(0u, CountLinesWith(Log(), " started (pid " + std::to_string(second->pid()) + ","));
        EXPECT_EQ(third->pid(), ReadPidFile(P("logs/memmon.pid")));
        EXPECT_EQ(0, Stop(third.get()));
        if (!ended)
                Stop(second.get());
}

// Many agents started and stopped at once on one base directory: each
// exits 0 (it ran) or 75 (another one did) or was stopped while starting,
// and monitor.log, which each
// writes "started" to after taking the lock and "stopped" to before
// giving it back, never shows two at once.
TEST_F(HostileTest, StartStopStormNeverRunsTwoAgents) {
        Sleeper target;
        const std::vector<std::string> args = {"-f", "-p", std::to_string(target.pid()), "-T", "100000"};
        const int kRounds = static_cast<int>(EnvNumber("MEMMON_LOCK_ROUNDS", 25));
        std::vector<std::unique_ptr<Process>> live;
        int ran = 0, refused = 0;
        auto reap = [&](bool all) {
                for (size_t i = 0; i < live.size();) {
                        int code;
                        if (live[i]->Wait(all ? kLong : Millis(0), &code)) {
                                // 128 + SIGTERM: stopped while starting, before
                                // its signals were blocked (and before it logged
                                // "started").
                                EXPECT_TRUE(code == 0 || code == 75 || code == 128 + SIGTERM)
                                    << "exit " << code;
                                code == 0 ? ran++ : refused++;
                                live.erase(live.begin() + static_cast<long>(i));
                        } else {
                                i++;
                        }
                }
        };
        for (int round = 0; round < kRounds; round++) {
                // Stop whichever runs, and at once start three more.
                for (auto &p : live)
                        p->Signal(SIGTERM);
                for (int k = 0; k < 3; k++)
                        live.push_back(Agent(args, dir_));
                WaitFor(
                    [&] {
                            reap(false);
                            return live.size() <= 1;
                    },
                    kLong);
                ASSERT_LE(live.size(), 1u)
                    << "round " << round << ": " << live.size() << " agents run at once";
        }
        for (auto &p : live)
                p->Signal(SIGTERM);
        reap(true);
        int depth = 0, worst = 0;
        for (const auto &l : SplitLines(Log())) {
                if (l.find("] memmon ") != std::string::npos && l.find(" started (pid ") != std::string::npos)
                        worst = std::max(worst, ++depth);
                else if (l.find("[agent] stopped") != std::string::npos)
                        depth--;
        }
        EXPECT_EQ(1, worst) << "two agents ran at once:\n" << Log();
        EXPECT_EQ(0, depth);
        Figure("lock_storm_agents_ran", ran);
        Figure("lock_storm_agents_refused", refused);
}

} // namespace
} // namespace memmon_test
