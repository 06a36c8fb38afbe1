// Integration tests of `agent scan`: the real binary against real processes
// that perform, on command, each technique the alert rules look for
// (bench/workload, bench/techniques.c), and against ordinary programs
// (bash, python3, perl, sleep) that must give no alert at all.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/fuzz/json_check.h"
#include "tests/reliability_util.h"
#include "tests/testutil.h"

namespace memmon_test {
namespace {

constexpr Millis kLong(20000);

std::string ProbeLib() {
        return Runfile("bench/libprobe.so");
}

// One alert line of the text output: "PID COMM: RULE: LINE: REASON".
struct Finding {
        std::string pid, rule, line;
};

class ScanTest : public BaseDirTest {
      protected:
        RunResult Scan(const std::vector<std::string> &args) {
                SpawnOptions o;
                o.argv = {AgentPath(), "scan"};
                o.argv.insert(o.argv.end(), args.begin(), args.end());
                o.cwd = dir_;
                return RunProcess(o, kLong);
        }

        // The alert lines of a text output (all but the summary).
        static std::vector<Finding> Findings(const RunResult &r) {
                std::vector<Finding> v;
                for (const auto &l : SplitLines(r.out)) {
                        if (l.compare(0, 11, "agent scan:") == 0)
                                continue;
                        Finding f;
                        size_t sp = l.find(' ');
                        size_t c1 = l.find(": ");
                        size_t c2 = c1 == std::string::npos ? c1 : l.find(": ", c1 + 2);
                        EXPECT_NE(std::string::npos, c2) << l;
                        if (c2 == std::string::npos)
                                continue;
                        f.pid = l.substr(0, sp);
                        f.rule = l.substr(c1 + 2, c2 - c1 - 2);
                        f.line = l.substr(c2 + 2);
                        v.push_back(f);
                }
                return v;
        }

        // Starts a workload and checks that a scan finds nothing in it yet.
        std::unique_ptr<Workload> CleanWorkload(const std::vector<std::string> &args = {}) {
                auto wl = std::make_unique<Workload>();
                std::string err;
                EXPECT_TRUE(wl->Start(&err, args)) << err;
                RunResult r = Scan({std::to_string(wl->pid())});
                EXPECT_EQ(0, r.code) << r.Describe();
                return wl;
        }

        // Runs cmd in a fresh workload and expects `agent scan PID` (with
        // extra args) to find exactly one alert, of rule, covering the
        // address the command names.  Returns that address.
        uintptr_t ExpectTechnique(const std::string &cmd, const std::string &rule,
                                  const std::vector<std::string> &extra = {}) {
                SCOPED_TRACE(cmd);
                auto wl = CleanWorkload();
                std::string reply = wl->Command(cmd);
                EXPECT_EQ(0u, reply.compare(0, 3, "ok ")) << reply;
                uintptr_t addr = strtoull(reply.c_str() + 3, nullptr, 16);
                std::vector<std::string> args = extra;
                args.push_back(std::to_string(wl->pid()));
                RunResult r = Scan(args);
                EXPECT_EQ(1, r.code) << r.Describe();
                auto f = Findings(r);
                EXPECT_EQ(1u, f.size()) << r.out;
                if (f.size() == 1) {
                        EXPECT_EQ(std::to_string(wl->pid()), f[0].pid);
                        EXPECT_EQ(rule, f[0].rule) << r.out;
                        unsigned long long s = strtoull(f[0].line.c_str(), nullptr, 16);
                        unsigned long long e =
                            strtoull(f[0].line.c_str() + f[0].line.find('-') + 1, nullptr, 16);
                        EXPECT_TRUE(s <= addr && addr < e) << std::hex << addr << " not in " << f[0].line;
                }
                EXPECT_NE(std::string::npos, r.out.find("1 alert in 1 of them")) << r.out;
                // The same in JSON.
                args.insert(args.begin(), "--json");
                r = Scan(args);
                EXPECT_EQ(1, r.code) << r.Describe();
                auto lines = SplitLines(r.out);
                EXPECT_EQ(2u, lines.size()) << r.out;
                for (const auto &l : lines)
                        EXPECT_EQ(0, json_check_text(l.data(), l.size())) << l;
                if (!lines.empty()) {
                        EXPECT_NE(std::string::npos, lines[0].find("\"rule\":\"" + rule + "\"")) << lines[0];
                        EXPECT_NE(std::string::npos, lines[0].find("\"pid\":" + std::to_string(wl->pid())));
                        EXPECT_NE(std::string::npos, lines.back().find("\"event\":\"summary\""));
                }
                return addr;
        }

        // A folder for libraries, with the given mode (umask aside).
        std::string LibDir(const std::string &name, mode_t mode) {
                std::string d = P(name);
                EXPECT_EQ(0, mkdir(d.c_str(), 0700));
                EXPECT_EQ(0, chmod(d.c_str(), mode));
                return d;
        }
};

TEST_F(ScanTest, WritableAndExecutableMemory) {
        ExpectTechnique("map 1 rwx", "wx");
}

TEST_F(ScanTest, AnonymousMemoryMadeExecutable) {
        ExpectTechnique("jit 2", "anon_exec");
}

TEST_F(ScanTest, MemfdMappedExecutable) {
        ExpectTechnique("memfd 2", "memfd_exec");
}

TEST_F(ScanTest, LibraryFromAWorldWritableFolder) {
        std::string lib = LibDir("ww", 0777) + "/libprobe.so";
        ASSERT_EQ("", CopyFile(ProbeLib(), lib, 0755));
        ExpectTechnique("dlopen " + lib, "writable_exec_file");
        // The same library from a folder only root can write: nothing.
        std::string safe = LibDir("libs", 0755) + "/libprobe.so";
        ASSERT_EQ("", CopyFile(ProbeLib(), safe, 0755));
        auto wl = CleanWorkload();
        ASSERT_EQ(0u, wl->Command("dlopen " + safe).compare(0, 3, "ok "));
        RunResult r = Scan({std::to_string(wl->pid())});
        EXPECT_EQ(0, r.code) << r.Describe();
}

TEST_F(ScanTest, LibraryReplacedOnDisk) {
        std::string lib = LibDir("libs", 0755) + "/libprobe.so";
        ASSERT_EQ("", CopyFile(ProbeLib(), lib, 0755));
        auto wl = CleanWorkload();
        std::string reply = wl->Command("dlopen " + lib);
        ASSERT_EQ(0u, reply.compare(0, 3, "ok ")) << reply;
        RunResult r = Scan({std::to_string(wl->pid())});
        EXPECT_EQ(0, r.code) << r.Describe();
        reply = wl->Command("replace " + lib);
        ASSERT_EQ(0u, reply.compare(0, 3, "ok ")) << reply;
        r = Scan({std::to_string(wl->pid())});
        EXPECT_EQ(1, r.code) << r.Describe();
        auto f = Findings(r);
        ASSERT_EQ(1u, f.size()) << r.out;
        EXPECT_EQ("deleted_exec", f[0].rule);
        EXPECT_NE(std::string::npos, f[0].line.find("runs code no longer on disk: restart it")) << f[0].line;
        // The region is the one replaced ("ok 0x7f..." names its start).
        EXPECT_EQ(0u, f[0].line.find(reply.substr(5) + "-")) << f[0].line;
}

TEST_F(ScanTest, CodePatchedThroughProcMem) {
        ExpectTechnique("patch", "text_mismatch", {"--text"});
        // Without --text the code is not compared.
        auto wl = CleanWorkload();
        ASSERT_EQ(0u, wl->Command("patch").compare(0, 3, "ok "));
        RunResult r = Scan({std::to_string(wl->pid())});
        EXPECT_EQ(0, r.code) << r.Describe();
}

TEST_F(ScanTest, TooManyRegions) {
        auto wl = CleanWorkload({"--regions", "300"});
        RunResult r = Scan({"-o", "max_regions=200", std::to_string(wl->pid())});
        EXPECT_EQ(1, r.code) << r.Describe();
        auto f = Findings(r);
        ASSERT_EQ(1u, f.size()) << r.out;
        EXPECT_EQ("max_regions", f[0].rule);
        EXPECT_NE(std::string::npos, f[0].line.find("more than max_regions = 200")) << f[0].line;
        r = Scan({"-o", "max_regions=100000", std::to_string(wl->pid())});
        EXPECT_EQ(0, r.code) << r.Describe();
}

TEST_F(ScanTest, RulesTurnedOffWithO) {
        auto wl = CleanWorkload();
        ASSERT_EQ(0u, wl->Command("map 1 rwx").compare(0, 3, "ok "));
        RunResult r = Scan({"-o", "wx=off", "-o", "anon_exec=off", std::to_string(wl->pid())});
        EXPECT_EQ(0, r.code) << r.Describe();
        // wx off alone: the region is still anonymous executable memory.
        r = Scan({"-o", "wx=off", std::to_string(wl->pid())});
        EXPECT_EQ(1, r.code) << r.Describe();
        auto f = Findings(r);
        ASSERT_EQ(1u, f.size());
        EXPECT_EQ("anon_exec", f[0].rule);
        r = Scan({"-o", "allow_exec=relative/*", std::to_string(wl->pid())});
        EXPECT_EQ(64, r.code) << r.Describe();
        EXPECT_NE(std::string::npos, r.err.find("allow_exec")) << r.err;
}

// -c FILE: the [alerts] section of a configuration, as the agent gives it
// to every target; -o changes it, whatever the order.
TEST_F(ScanTest, AlertsSectionOfAConfiguration) {
        auto wl = CleanWorkload();
        ASSERT_EQ(0u, wl->Command("map 1 rwx").compare(0, 3, "ok "));
        ASSERT_TRUE(WriteFile(P("memmon.ini"),
                              "[agent]\nbase_dir = .\n\n[alerts]\nwx = off\nanon_exec = off\n\n"
                              "[target:java]\nmatch = java\nwx = on\n"));
        std::string pid = std::to_string(wl->pid());
        RunResult r = Scan({"-c", P("memmon.ini"), pid});
        EXPECT_EQ(0, r.code) << r.Describe();
        EXPECT_TRUE(Findings(r).empty()) << r.out;
        r = Scan({"-o", "wx=on", "-c", P("memmon.ini"), pid});
        EXPECT_EQ(1, r.code) << r.Describe();
        auto f = Findings(r);
        ASSERT_EQ(1u, f.size()) << r.out;
        EXPECT_EQ("wx", f[0].rule);
}

// Programs that people run everywhere: no alert with the default rules,
// and none when their code is compared with their files either.
TEST_F(ScanTest, OrdinaryProgramsGiveNothing) {
        struct Prog {
                std::vector<std::string> argv;
        };
        std::vector<Prog> progs = {
            {{"/bin/bash", "-c", "read -r line; echo $line"}},
            {{"/usr/bin/python3", "-c", "import sys, json, re; sys.stdin.read()"}},
            {{"/usr/bin/perl", "-e", "my $x = <STDIN>;"}},
            {{"/bin/sleep", "600"}},
        };
        std::vector<std::unique_ptr<Process>> running;
        std::vector<std::string> pids;
        for (const auto &p : progs) {
                if (access(p.argv[0].c_str(), X_OK) != 0) {
                        ADD_FAILURE() << p.argv[0] << " is not installed";
                        continue;
                }
                SpawnOptions o;
                o.argv = p.argv;
                std::string err;
                running.push_back(Process::Start(o, &err));
                ASSERT_TRUE(running.back()) << err;
                pids.push_back(std::to_string(running.back()->pid()));
        }
        // Each has loaded what it loads once its maps stop changing.
        for (const auto &pid : pids) {
                std::string last;
                int same = 0;
                ASSERT_TRUE(WaitFor(
                    [&] {
                            std::string m = ReadFileOr("/proc/" + pid + "/maps");
                            same = (!m.empty() && m == last) ? same + 1 : 0;
                            last = m;
                            return same >= 3;
                    },
                    kLong, Millis(50)))
                    << pid;
        }
        for (const std::vector<std::string> &extra : {std::vector<std::string>{}, {"--text"}}) {
                std::vector<std::string> args = extra;
                args.insert(args.end(), pids.begin(), pids.end());
                RunResult r = Scan(args);
                EXPECT_EQ(0, r.code) << r.Describe();
                EXPECT_TRUE(Findings(r).empty()) << r.out;
                EXPECT_NE(std::string::npos, r.out.find(std::to_string(pids.size()) + " processes, 0 alerts"))
                    << r.out;
        }
}

TEST_F(ScanTest, AllProcessesJsonParses) {
        auto wl = CleanWorkload();
        ASSERT_EQ(0u, wl->Command("memfd 1").compare(0, 3, "ok "));
        // sh prints the pid the agent will have, then becomes it.
        SpawnOptions o;
        o.argv = {"/bin/sh", "-c", "echo $$; exec \"$0\" scan --all --json", AgentPath()};
        RunResult r = RunProcess(o, kLong);
        ASSERT_EQ(1, r.code) << r.Describe();
        auto lines = SplitLines(r.out);
        ASSERT_GE(lines.size(), 3u);
        std::string self = "\"pid\":" + lines[0] + ",";
        std::string mine = "\"pid\":" + std::to_string(wl->pid()) + ",";
        bool found_mine = false;
        for (size_t i = 1; i < lines.size(); i++) {
                const std::string &l = lines[i];
                EXPECT_EQ(0, json_check_text(l.data(), l.size())) << l;
                EXPECT_EQ(std::string::npos, l.find(self)) << "the scanner reported itself: " << l;
                if (l.find(mine) != std::string::npos) {
                        found_mine = true;
                        EXPECT_NE(std::string::npos, l.find("\"rule\":\"memfd_exec\"")) << l;
                }
        }
        EXPECT_TRUE(found_mine) << r.out;
        EXPECT_NE(std::string::npos, lines.back().find("\"event\":\"summary\"")) << lines.back();
        // Python's json module reads every line too.
        if (access("/usr/bin/python3", X_OK) == 0) {
                std::string path = P("scan.jsonl");
                std::string body;
                for (size_t i = 1; i < lines.size(); i++)
                        body += lines[i] + "\n";
                ASSERT_TRUE(WriteFile(path, body));
                SpawnOptions py;
                py.argv = {
                    "/usr/bin/python3", "-c",
                    "import json,sys\nn = sum(1 for l in open(sys.argv[1]) if json.loads(l))\nprint(n)",
                    path};
                RunResult pr = RunProcess(py, kLong);
                EXPECT_EQ(0, pr.code) << pr.Describe();
                EXPECT_EQ(std::to_string(lines.size() - 1) + "\n", pr.out);
        }
}

// Names and paths are another user's bytes: they must not forge lines or
// drive a terminal, and the JSON gives them back exactly.
TEST_F(ScanTest, HostileNamesAndPathsAreEscaped) {
        std::string evil_name = "ev\x1b[2J\n\xe2\x80\xaeil";
        std::string bin = P(evil_name);
        ASSERT_EQ("", CopyFile(WorkloadPath(), bin, 0755));
        Workload wl;
        std::string err;
        ASSERT_TRUE(wl.StartAt(bin, &err)) << err;
        std::string dir = LibDir("ww", 0777);
        std::string lib = dir + "/lib\x1b]0;pwned\x07\xff"
                                "x\xe2\x81\xa6.so";
        ASSERT_EQ("", CopyFile(ProbeLib(), lib, 0755));
        std::string reply = wl.Command("dlopen " + lib);
        ASSERT_EQ(0u, reply.compare(0, 3, "ok ")) << reply;
        RunResult r = Scan({std::to_string(wl.pid())});
        ASSERT_EQ(1, r.code) << r.Describe();
        auto lines = SplitLines(r.out);
        ASSERT_EQ(2u, lines.size()) << r.out;
        for (unsigned char c : r.out)
                EXPECT_TRUE(c == '\n' || (c >= 0x20 && c != 0x7f)) << "raw control byte " << (int)c;
        EXPECT_EQ(std::string::npos, r.out.find("\xe2\x80\xae"));
        EXPECT_EQ(std::string::npos, r.out.find("\xe2\x81\xa6"));
        EXPECT_NE(std::string::npos, lines[0].find("ev\\x1b[2J\\x0a\\u202eil: writable_exec_file: "))
            << lines[0];
        EXPECT_NE(std::string::npos, lines[0].find("lib\\x1b]0;pwned\\x07\\xffx\\u2066.so")) << lines[0];
        r = Scan({"--json", std::to_string(wl.pid())});
        lines = SplitLines(r.out);
        ASSERT_EQ(2u, lines.size()) << r.out;
        EXPECT_EQ(0, json_check_text(lines[0].data(), lines[0].size())) << lines[0];
        // comm is the first 15 bytes of the name.
        EXPECT_NE(std::string::npos, lines[0].find("\"comm\":\"ev\\u001b[2J\\n\\u202eil\"")) << lines[0];
        EXPECT_NE(std::string::npos, lines[0].find("lib\\u001b]0;pwned\\u0007\\u00ffx\\u2066.so"))
            << lines[0];
}

// A process in a mount namespace of its own sees other files at the same
// paths: the scan looks through its /proc/PID/root.  Here its library sits
// in a world-writable folder of its own tmpfs, while at the same path in the
// scanner's namespace lies a harmless decoy; judged from the wrong
// namespace the library would look replaced, not writable.
TEST_F(ScanTest, LooksThroughTheProcesssOwnMountNamespace) {
        if (access("/usr/bin/unshare", X_OK) != 0)
                GTEST_SKIP() << "no /usr/bin/unshare";
        std::string mnt = LibDir("ns", 0755);
        ASSERT_EQ("", CopyFile(ProbeLib(), mnt + "/libprobe.so", 0644));
        SpawnOptions o;
        o.argv = {"/usr/bin/unshare",
                  "--mount",
                  "--propagation",
                  "private",
                  "/bin/sh",
                  "-c",
                  "mount -t tmpfs -o mode=0777 none \"$1\" && cp \"$2\" \"$1/libprobe.so\" && exec \"$3\"",
                  "sh",
                  mnt,
                  ProbeLib(),
                  WorkloadPath()};
        std::string err;
        auto p = Process::Start(o, &err);
        ASSERT_TRUE(p) << err;
        if (!p->WaitForStdout("ready ", kLong)) {
                GTEST_SKIP() << "cannot make a mount namespace here: " << p->err();
        }
        ASSERT_TRUE(p->WriteStdin("dlopen " + mnt + "/libprobe.so\n"));
        ASSERT_TRUE(p->WaitForStdout("ok 0x", kLong)) << p->out() << p->err();
        std::string pid = std::to_string(p->pid());
        RunResult r = Scan({pid});
        EXPECT_EQ(1, r.code) << r.Describe();
        auto f = Findings(r);
        ASSERT_EQ(1u, f.size()) << r.out;
        EXPECT_EQ("writable_exec_file", f[0].rule) << r.out;
        EXPECT_NE(std::string::npos,
                  f[0].line.find("the folder " + mnt + " above it is writable by everyone"))
            << f[0].line;
}

TEST_F(ScanTest, ExitCodes) {
        RunResult r = Scan({});
        EXPECT_EQ(64, r.code) << r.Describe();
        r = Scan({"--all", "1"});
        EXPECT_EQ(64, r.code) << r.Describe();
        r = Scan({"12ab"});
        EXPECT_EQ(64, r.code) << r.Describe();
        EXPECT_NE(std::string::npos, r.err.find("invalid PID '12ab'")) << r.err;
        r = Scan({"-o", "nokey=1", "--all"});
        EXPECT_EQ(64, r.code) << r.Describe();
        EXPECT_NE(std::string::npos, r.err.find("unknown key 'nokey'")) << r.err;
        r = Scan({"-c", P("missing.ini"), "--all"});
        EXPECT_EQ(66, r.code) << r.Describe();
        EXPECT_NE(std::string::npos, r.err.find("missing.ini")) << r.err;
        ASSERT_TRUE(WriteFile(P("bad.ini"), "[alerts]\nwx = maybe\n"));
        r = Scan({"-c", P("bad.ini"), "--all"});
        EXPECT_EQ(78, r.code) << r.Describe();
        EXPECT_NE(std::string::npos, r.err.find("bad.ini:2: wx = 'maybe'")) << r.err;
        pid_t gone = UnusedPid(300000);
        r = Scan({std::to_string(gone)});
        EXPECT_EQ(66, r.code) << r.Describe();
        EXPECT_NE(std::string::npos, r.err.find("no such process: " + std::to_string(gone))) << r.err;
        // A kernel thread named on its own: skipped, not an error.
        r = Scan({"2"});
        EXPECT_EQ(0, r.code) << r.Describe();
        EXPECT_NE(std::string::npos, r.out.find("skipped 1 kernel threads")) << r.out;
}

// A process the scanner may not read: 77 when named, counted with --all.
TEST_F(ScanTest, UnreadableProcess) {
        std::string why = CanRunAs(65534);
        if (why.empty())
                why = HaveSetpriv();
        if (!why.empty())
                GTEST_SKIP() << "needs to run the agent as uid 65534 (root, setpriv): " << why;
        // The runfiles may sit under a folder only root can enter.
        std::string bin = MakeDirUnder("/tmp", "memmon_scan_bin");
        ASSERT_FALSE(bin.empty());
        struct Cleanup {
                std::string dir;
                ~Cleanup() {
                        RemoveTree(dir);
                }
        } cleanup{bin};
        ASSERT_EQ(0, chmod(bin.c_str(), 0755));
        ASSERT_EQ("", CopyFile(AgentPath(), bin + "/agent", 0755));
        Workload wl; // root's
        std::string err;
        ASSERT_TRUE(wl.Start(&err)) << err;
        SpawnOptions o;
        o.argv = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534",         "--clear-groups",
                  bin + "/agent",     "scan",          std::to_string(wl.pid())};
        o.cwd = "/";
        RunResult r = RunProcess(o, kLong);
        EXPECT_EQ(77, r.code) << r.Describe();
        EXPECT_NE(std::string::npos, r.err.find("cannot read process " + std::to_string(wl.pid()))) << r.err;
        o.argv.back() = "--all";
        r = RunProcess(o, kLong);
        EXPECT_TRUE(r.code == 0 || r.code == 1) << r.Describe();
        EXPECT_EQ(std::string::npos, r.out.find(" 0 unreadable")) << r.out;
}

} // namespace
} // namespace memmon_test
