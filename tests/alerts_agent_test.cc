// The alert rules inside the real agent (issue 10): workloads perform each
// technique the rules look for while the agent watches them, and each gives
// exactly one alert of the right rule in monitor.log, in logs/events.jsonl
// (checked by a strict JSON validator and by Python's json module) and in
// the `alerts` command, and alert_cleared once its region goes; ordinary
// programs give none; events.jsonl has every kind of event, follows
// SIGHUP and `events = off`; a reload applies new rules at once; alert_exec
// runs with the event on its stdin.
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/fuzz/json_check.h"
#include "tests/multi_util.h"
#include "tests/testutil.h"

namespace memmon_test {
namespace {

constexpr Millis kLong(20000);

// The value of "key" in a line of events.jsonl: a string's text (the test's
// keys and names need no unescaping), or a number's digits; "" when absent.
std::string Field(const std::string &line, const std::string &key) {
        std::string k = "\"" + key + "\":";
        size_t p = line.find(k);
        if (p == std::string::npos)
                return "";
        p += k.size();
        if (line[p] == '"') {
                size_t e = p + 1;
                while (e < line.size() && line[e] != '"')
                        e += line[e] == '\\' ? 2 : 1;
                return line.substr(p + 1, e - p - 1);
        }
        size_t e = line.find_first_of(",}", p);
        return line.substr(p, e - p);
}

class AlertsAgentTest : public BaseDirTest {
      protected:
        // Starts the agent as a daemon on config (an [agent] section with
        // base_dir and a short interval comes first).  With eBPF capture a
        // file replaced on disk takes no mmap lock: it shows in the maps at
        // the next resync, made short here.
        void StartAgent(const std::string &config) {
                ASSERT_TRUE(WriteFile(P("memmon.ini"),
                                      "[agent]\nbase_dir = .\ninterval = 100ms\nresync = 1s\n" + config));
                ASSERT_NO_FATAL_FAILURE(StartDaemon({"-c", P("memmon.ini")}));
        }
        std::string EventsText() const {
                return ReadFileOr(P("logs/events.jsonl"));
        }
        // The lines of events.jsonl, each checked as JSON.
        std::vector<std::string> Events() const {
                auto lines = SplitLines(EventsText());
                for (const auto &l : lines)
                        EXPECT_EQ(0, json_check_text(l.data(), l.size())) << l;
                return lines;
        }
        // The events of target of kind event (and rule, when given).
        std::vector<std::string> EventsOf(const std::string &target, const std::string &event,
                                          const std::string &rule = "") const {
                std::vector<std::string> v;
                for (const auto &l : SplitLines(EventsText()))
                        if (Field(l, "target") == target && Field(l, "event") == event &&
                            (rule.empty() || Field(l, "rule") == rule))
                                v.push_back(l);
                return v;
        }
        bool WaitEvent(const std::string &target, const std::string &event, const std::string &rule = "",
                       size_t n = 1) {
                return WaitFor([&] { return EventsOf(target, event, rule).size() >= n; }, kLong, Millis(20));
        }
        // The WARN lines of monitor.log that raise an alert for target.
        std::vector<std::string> AlertLines(const std::string &target) const {
                std::vector<std::string> v;
                for (const auto &l : SplitLines(Log()))
                        if (l.find(" WARN  [" + target + "] alert: ") != std::string::npos)
                                v.push_back(l);
                return v;
        }
        // Sends `reload` and waits for its event: every target has then
        // sampled once more (a fence for "nothing else came").
        void Fence() {
                size_t before = CountOccurrences(EventsText(), "\"event\":\"reload\"");
                Send("reload");
                ASSERT_TRUE(WaitFor(
                    [&] { return CountOccurrences(EventsText(), "\"event\":\"reload\"") > before; }, kLong))
                    << Log();
        }
        // The reply to the nth `alerts` sent on the FIFO.
        std::vector<std::string> AlertsReply() {
                size_t nth = CommandCount(Log(), "alerts");
                Send("alerts");
                std::vector<std::string> reply;
                EXPECT_TRUE(WaitFor(
                    [&] {
                            reply = ReplyTo(Log(), "alerts", nth);
                            return !reply.empty() && CommandCount(Log(), "alerts") > nth;
                    },
                    kLong));
                // The reply is logged line by line; wait for all of it.
                EXPECT_TRUE(WaitFor(
                    [&] {
                            reply = ReplyTo(Log(), "alerts", nth);
                            size_t want = 0;
                            for (const auto &l : reply)
                                    if (l.find("ctive alert") != std::string::npos)
                                            want += strtoul(l.c_str() + l.find(": ") + 2, nullptr, 10) + 1;
                            return want == reply.size();
                    },
                    kLong));
                return reply;
        }
        // The `alerts` lines of target: its header, then its alerts.
        static std::vector<std::string> Section(const std::vector<std::string> &reply,
                                                const std::string &target) {
                std::vector<std::string> v;
                bool in = false;
                for (const auto &l : reply) {
                        if (l.rfind("  ", 0) != 0)
                                in = l.rfind(target + ": ", 0) == 0;
                        if (in)
                                v.push_back(l);
                }
                return v;
        }
        // Python's json module reads every line; seq counts up by one.
        void PythonReadsEveryLine() {
                if (access("/usr/bin/python3", X_OK) != 0) {
                        ADD_FAILURE() << "python3 is not installed";
                        return;
                }
                SpawnOptions py;
                py.argv = {"/usr/bin/python3", "-c",
                           "import json, sys\n"
                           "seq = None\n"
                           "for line in open(sys.argv[1], encoding='utf-8'):\n"
                           "    o = json.loads(line)\n"
                           "    assert o['v'] == 1 and o['time'].endswith('Z'), line\n"
                           "    assert seq is None or o['seq'] == seq + 1, (seq, line)\n"
                           "    seq = o['seq']\n"
                           "print('ok', seq)\n",
                           P("logs/events.jsonl")};
                RunResult r = RunProcess(py, kLong);
                EXPECT_EQ(0, r.code) << r.Describe();
                EXPECT_EQ(0u, r.out.find("ok ")) << r.out;
        }
        std::string LibDir(const std::string &name, mode_t mode) {
                std::string d = P(name);
                EXPECT_EQ(0, mkdir(d.c_str(), 0700));
                EXPECT_EQ(0, chmod(d.c_str(), mode));
                return d;
        }
        std::unique_ptr<Workload> StartWorkload(const std::vector<std::string> &args = {}) {
                auto wl = std::make_unique<Workload>();
                std::string err;
                EXPECT_TRUE(wl->Start(&err, args)) << err;
                return wl;
        }
};

uintptr_t OkAddress(const std::string &reply) {
        EXPECT_EQ(0u, reply.compare(0, 5, "ok 0x")) << reply;
        return strtoull(reply.c_str() + 3, nullptr, 16);
}

// One technique per workload, each its own target.
struct Technique {
        std::string target, rule;
        std::unique_ptr<Workload> wl;
        uintptr_t addr = 0; // the region it made (0: a process rule)
        size_t pages = 0;   // for unmapping it; 0: it goes with the process
};

TEST_F(AlertsAgentTest, EachTechniqueRaisesExactlyOneAlert) {
        std::string lib_ww = LibDir("ww", 0777) + "/libprobe.so";
        std::string lib_safe = LibDir("libs", 0755) + "/libprobe.so";
        ASSERT_TRUE(CopyFile(Runfile("bench/libprobe.so"), lib_ww, 0755));
        ASSERT_TRUE(CopyFile(Runfile("bench/libprobe.so"), lib_safe, 0755));
        std::vector<Technique> t(7);
        const char *names[][2] = {{"t_wx", "wx"},
                                  {"t_jit", "anon_exec"},
                                  {"t_memfd", "memfd_exec"},
                                  {"t_dlopen", "writable_exec_file"},
                                  {"t_replace", "deleted_exec"},
                                  {"t_patch", "text_mismatch"},
                                  {"t_regions", "max_regions"}};
        std::string config;
        size_t regions = 0;
        for (size_t i = 0; i < t.size(); i++) {
                t[i].target = names[i][0];
                t[i].rule = names[i][1];
                t[i].wl =
                    StartWorkload(t[i].target == "t_regions" ? std::vector<std::string>{"--regions", "200"}
                                                             : std::vector<std::string>{});
                ASSERT_GT(t[i].wl->pid(), 0);
                config += "\n[target:" + t[i].target + "]\npid = " + std::to_string(t[i].wl->pid()) + "\n";
                if (t[i].target == "t_patch")
                        config += "text_check = 1s\n";
                if (t[i].target == "t_regions") {
                        regions = SplitLines(t[i].wl->Maps()).size();
                        config += "max_regions = " + std::to_string(regions + 20) + "\n";
                }
        }
        // Loaded before the agent looks: from a folder only root may write.
        ASSERT_EQ(0u, t[4].wl->Command("dlopen " + lib_safe).compare(0, 3, "ok "));
        ASSERT_NO_FATAL_FAILURE(StartAgent(config));
        for (const auto &x : t)
                ASSERT_TRUE(WaitEvent(x.target, "full")) << x.target << "\n" << Log();
        ASSERT_NO_FATAL_FAILURE(Fence());
        EXPECT_EQ(0u, CountOccurrences(EventsText(), "\"event\":\"alert\"")) << "alerts before any technique";

        t[0].addr = OkAddress(t[0].wl->Command("map 1 rwx"));
        t[0].pages = 1;
        t[1].addr = OkAddress(t[1].wl->Command("jit 2"));
        t[1].pages = 2;
        t[2].addr = OkAddress(t[2].wl->Command("memfd 2"));
        t[2].pages = 2;
        t[3].addr = OkAddress(t[3].wl->Command("dlopen " + lib_ww));
        t[4].addr = OkAddress(t[4].wl->Command("replace " + lib_safe));
        t[5].addr = OkAddress(t[5].wl->Command("patch"));
        std::vector<uintptr_t> grown;
        for (int i = 0; i < 40; i++)
                grown.push_back(t[6].wl->Map(1, i % 2 ? "r" : "rw"));

        for (const auto &x : t)
                ASSERT_TRUE(WaitEvent(x.target, "alert")) << x.target << "\n" << EventsText();
        ASSERT_NO_FATAL_FAILURE(Fence());
        ASSERT_NO_FATAL_FAILURE(Fence());
        auto reply = AlertsReply();
        for (const auto &x : t) {
                SCOPED_TRACE(x.target);
                auto ev = EventsOf(x.target, "alert");
                ASSERT_EQ(1u, ev.size()) << EventsText();
                EXPECT_EQ(x.rule, Field(ev[0], "rule")) << ev[0];
                EXPECT_EQ(std::to_string(x.wl->pid()), Field(ev[0], "pid"));
                if (x.rule != "max_regions") {
                        uintptr_t s = strtoull(Field(ev[0], "start").c_str(), nullptr, 16);
                        uintptr_t e = strtoull(Field(ev[0], "end").c_str(), nullptr, 16);
                        EXPECT_TRUE(s <= x.addr && x.addr < e) << std::hex << x.addr << " " << ev[0];
                        EXPECT_EQ(Field(ev[0], "start") + "-" + Field(ev[0], "end"),
                                  Field(ev[0], "region").substr(0, Field(ev[0], "region").find(' ')));
                }
                auto lines = AlertLines(x.target);
                ASSERT_EQ(1u, lines.size()) << Log();
                EXPECT_NE(std::string::npos, lines[0].find("] alert: " + x.rule + ": ")) << lines[0];
                auto section = Section(reply, x.target);
                ASSERT_EQ(2u, section.size()) << JoinLines(reply);
                EXPECT_EQ(x.target + ": 1 active alert", section[0]);
                EXPECT_EQ(0u, section[1].find("  " + x.rule + ": ")) << section[1];
        }
        EXPECT_NE(std::string::npos,
                  EventsOf("t_replace", "alert")[0].find("runs code no longer on disk: restart it"));

        // The regions go: their alerts are cleared, once.
        for (size_t i = 0; i < 3; i++)
                ASSERT_TRUE(t[i].wl->Unmap(t[i].addr, t[i].pages)) << t[i].target;
        for (uintptr_t a : grown)
                ASSERT_TRUE(t[6].wl->Unmap(a, 1));
        for (size_t i : {0, 1, 2, 6})
                ASSERT_TRUE(WaitEvent(t[i].target, "alert_cleared", t[i].rule))
                    << t[i].target << EventsText();
        EXPECT_EQ("region unmapped", Field(EventsOf("t_wx", "alert_cleared")[0], "reason"));
        EXPECT_EQ("back within the bound", Field(EventsOf("t_regions", "alert_cleared")[0], "reason"));
        // The others go with their process.
        for (size_t i = 3; i < 6; i++)
                t[i].wl->Kill();
        for (size_t i = 3; i < 6; i++)
                ASSERT_TRUE(WaitEvent(t[i].target, "alert_cleared", t[i].rule))
                    << t[i].target << EventsText();
        EXPECT_EQ("process exited", Field(EventsOf("t_patch", "alert_cleared")[0], "reason"));
        ASSERT_NO_FATAL_FAILURE(Fence());
        reply = AlertsReply();
        for (const auto &x : t) {
                EXPECT_EQ(1u, EventsOf(x.target, "alert").size()) << x.target;
                EXPECT_EQ(1u, EventsOf(x.target, "alert_cleared").size()) << x.target;
                auto section = Section(reply, x.target);
                ASSERT_EQ(1u, section.size()) << JoinLines(reply);
                EXPECT_EQ(x.target + ": 0 active alerts", section[0]);
        }
        Events();
        PythonReadsEveryLine();
}

// bash, python3, perl and sleep, and the agent itself: no alert with the
// default rules.
TEST_F(AlertsAgentTest, OrdinaryProgramsGiveNoAlert) {
        std::vector<std::vector<std::string>> progs = {
            {"/bin/bash", "-c", "read -r line; echo $line"},
            {"/usr/bin/python3", "-c", "import sys, json, re; sys.stdin.read()"},
            {"/usr/bin/perl", "-e", "my $x = <STDIN>;"},
            {"/bin/sleep", "600"},
        };
        std::vector<std::unique_ptr<Process>> running;
        std::string config = "\n[target:self]\npidfile = logs/memmon.pid\n";
        for (const auto &argv : progs) {
                ASSERT_EQ(0, access(argv[0].c_str(), X_OK)) << argv[0] << " is not installed";
                SpawnOptions o;
                o.argv = argv;
                std::string err;
                running.push_back(Process::Start(o, &err));
                ASSERT_TRUE(running.back()) << err;
                std::string name = argv[0].substr(argv[0].rfind('/') + 1);
                config += "\n[target:" + name + "]\npid = " + std::to_string(running.back()->pid()) + "\n";
        }
        ASSERT_NO_FATAL_FAILURE(StartAgent(config));
        for (const char *name : {"self", "bash", "python3", "perl", "sleep"})
                ASSERT_TRUE(WaitEvent(name, "full")) << name << "\n" << Log();
        // Each has loaded what it loads once its maps stop changing.
        for (const auto &p : running) {
                std::string last;
                int same = 0;
                ASSERT_TRUE(WaitFor(
                    [&] {
                            std::string m = ReadFileOr("/proc/" + std::to_string(p->pid()) + "/maps");
                            same = (!m.empty() && m == last) ? same + 1 : 0;
                            last = m;
                            return same >= 3;
                    },
                    kLong, Millis(50)));
        }
        ASSERT_NO_FATAL_FAILURE(Fence());
        EXPECT_EQ(0u, CountOccurrences(EventsText(), "\"event\":\"alert\"")) << EventsText();
        EXPECT_EQ(0u, CountOccurrences(Log(), "] alert: ")) << Log();
        auto reply = AlertsReply();
        ASSERT_EQ(5u, reply.size()) << JoinLines(reply);
        for (const auto &l : reply)
                EXPECT_NE(std::string::npos, l.find(": 0 active alerts")) << l;
}

// Every kind of event in one run; every line parses; SIGHUP reopens the
// file for logrotate; `events = off` (also by reload) writes nothing.
TEST_F(AlertsAgentTest, EventsFileHasEveryKindAndFollowsHupAndOff) {
        auto wl = StartWorkload();
        ASSERT_NO_FATAL_FAILURE(StartAgent("\n[target:w]\npid = " + std::to_string(wl->pid()) + "\n"));
        ASSERT_TRUE(WaitEvent("w", "full"));
        uintptr_t a = OkAddress(wl->Command("map 1 rwx"));
        ASSERT_TRUE(WaitEvent("w", "alert"));
        ASSERT_TRUE(wl->Unmap(a, 1));
        ASSERT_TRUE(WaitEvent("w", "alert_cleared"));
        ASSERT_NO_FATAL_FAILURE(Fence());
        wl->Kill();
        ASSERT_TRUE(WaitEvent("w", "exit"));
        // The exit comes first, then the final snapshot, then the state.
        ASSERT_TRUE(WaitFor([&] { return Field(EventsOf("w", "state").back(), "new") == "exited"; }, kLong))
            << EventsText();
        std::map<std::string, int> kinds;
        for (const auto &l : Events())
                kinds[Field(l, "event")]++;
        for (const char *k : {"attach", "full", "diff", "alert", "alert_cleared", "state", "exit", "reload"})
                EXPECT_GT(kinds[k], 0) << k << "\n" << EventsText();
        auto diff = EventsOf("w", "diff");
        ASSERT_FALSE(diff.empty());
        EXPECT_EQ(0u, Field(diff[0], "file").find("diff_")) << diff[0];
        // The rwx page came with that diff (a sanitized workload may map more).
        EXPECT_GE(std::stoul(Field(diff[0], "added")), 1u) << diff[0];
        EXPECT_NE("", Field(diff[0], "removed")) << diff[0];
        EXPECT_NE("", Field(diff[0], "changed")) << diff[0];
        auto state = EventsOf("w", "state");
        EXPECT_EQ("running", Field(state.front(), "new")) << state.front();
        EXPECT_EQ(0600, FileMode(P("logs/events.jsonl")));
        PythonReadsEveryLine();

        // logrotate: the file is moved, SIGHUP, a new one.
        ASSERT_EQ(0, rename(P("logs/events.jsonl").c_str(), P("logs/events.jsonl.1").c_str()));
        daemon_->Kill(SIGHUP);
        ASSERT_TRUE(
            WaitFor([&] { return EventsText().find("\"event\":\"reload\"") != std::string::npos; }, kLong))
            << Log();
        std::string last_old = SplitLines(ReadFileOr(P("logs/events.jsonl.1"))).back();
        std::string first_new = SplitLines(EventsText()).front();
        EXPECT_EQ(std::stoull(Field(last_old, "seq")) + 1, std::stoull(Field(first_new, "seq")));

        // events = off by reload: nothing more is written.
        ASSERT_TRUE(WriteFile(P("memmon.ini"), "[agent]\nbase_dir = .\ninterval = 100ms\nevents = off\n"
                                               "[target:w]\npid = " +
                                                   std::to_string(wl->pid()) + "\n"));
        std::string before = EventsText();
        size_t replies = CommandCount(Log(), "reload");
        Send("reload");
        ASSERT_TRUE(WaitFor([&] { return !ReplyTo(Log(), "reload", replies).empty(); }, kLong));
        auto w2 = StartWorkload();
        Send("@w pid " + std::to_string(w2->pid()));
        ASSERT_TRUE(
            WaitFor([&] { return HasLineWith(Log(), "[w]", "attached to pid " + std::to_string(w2->pid())); },
                    kLong));
        EXPECT_EQ(before, EventsText());
}

TEST_F(AlertsAgentTest, EventsOffFromTheStart) {
        auto wl = StartWorkload();
        ASSERT_NO_FATAL_FAILURE(
            StartAgent("events = off\n\n[target:w]\npid = " + std::to_string(wl->pid()) + "\n"));
        ASSERT_TRUE(WaitFor([&] { return HasLineWith(Log(), "[w]", "full backup"); }, kLong)) << Log();
        ASSERT_NE(0u, wl->Map(1, "rwx"));
        ASSERT_TRUE(WaitFor([&] { return !AlertLines("w").empty(); }, kLong)) << Log();
        EXPECT_FALSE(PathExists(P("logs/events.jsonl")));
}

// A reload that changes the rules applies them to what is mapped now.
TEST_F(AlertsAgentTest, ReloadAppliesNewRulesAtOnce) {
        auto wl = StartWorkload();
        std::string target = "\n[target:w]\npid = " + std::to_string(wl->pid()) + "\n";
        ASSERT_NO_FATAL_FAILURE(StartAgent(target));
        ASSERT_NE(0u, wl->Map(1, "rwx"));
        ASSERT_TRUE(WaitEvent("w", "alert", "wx"));
        ASSERT_TRUE(WriteFile(P("memmon.ini"), "[agent]\nbase_dir = .\ninterval = 100ms\n" + target +
                                                   "wx = off\nanon_exec = off\n"));
        ASSERT_NO_FATAL_FAILURE(Fence());
        auto cleared = EventsOf("w", "alert_cleared", "wx");
        ASSERT_EQ(1u, cleared.size()) << EventsText();
        EXPECT_EQ("rule turned off", Field(cleared[0], "reason"));
        EXPECT_TRUE(EventsOf("w", "alert", "anon_exec").empty());
        auto reply = AlertsReply();
        EXPECT_EQ(std::vector<std::string>{"Active alerts: 0"}, reply);
        // anon_exec back on: the region is judged again at once.
        ASSERT_TRUE(
            WriteFile(P("memmon.ini"), "[agent]\nbase_dir = .\ninterval = 100ms\n" + target + "wx = off\n"));
        ASSERT_NO_FATAL_FAILURE(Fence());
        EXPECT_EQ(1u, EventsOf("w", "alert", "anon_exec").size()) << EventsText();
}

// alert_exec runs for each alert with the alert's line on its stdin and
// the target, pid and rule in its environment; a target may turn it off,
// or have its own.  The agent's own SIGCHLD handling leaves the runner its
// programs' statuses: a failing one is logged with its real exit status.
TEST_F(AlertsAgentTest, AlertExecGetsTheEvent) {
        std::string out = P("runs");
        ASSERT_EQ(0, mkdir(out.c_str(), 0700));
        auto wl = StartWorkload();
        auto quiet = StartWorkload();
        auto failing = StartWorkload();
        std::string probe = Runfile("tests/alertexec_probe");
        ASSERT_NO_FATAL_FAILURE(
            StartAgent("alert_exec = " + probe + " record " + out + "\n\n[target:w]\npid = " +
                       std::to_string(wl->pid()) + "\n\n[target:q]\npid = " + std::to_string(quiet->pid()) +
                       "\nalert_exec =\n\n[target:f]\npid = " + std::to_string(failing->pid()) +
                       "\nalert_exec = " + probe + " exit 3\n"));
        for (const char *t : {"w", "q", "f"})
                ASSERT_TRUE(WaitEvent(t, "full")) << t;
        ASSERT_NE(0u, wl->Map(1, "rwx"));
        ASSERT_NE(0u, quiet->Map(1, "rwx"));
        ASSERT_NE(0u, failing->Map(1, "rwx"));
        ASSERT_TRUE(WaitEvent("q", "alert"));
        std::string done;
        ASSERT_TRUE(WaitFor(
            [&] {
                    for (const auto &n : ListDir(out))
                            if (n.size() > 5 && n.compare(n.size() - 5, 5, ".done") == 0)
                                    done = n.substr(0, n.size() - 5);
                    return !done.empty();
            },
            kLong))
            << Log();
        std::string json = ReadFileOr(out + "/" + done + ".json");
        EXPECT_EQ(EventsOf("w", "alert")[0] + "\n", json);
        EXPECT_EQ(0, json_check_text(json.data(), json.size() - 1)) << json;
        auto env = SplitLines(ReadFileOr(out + "/" + done + ".env"));
        EXPECT_TRUE(Contains(env, "MEMMON_TARGET=w")) << JoinLines(env);
        EXPECT_TRUE(Contains(env, "MEMMON_PID=" + std::to_string(wl->pid()))) << JoinLines(env);
        EXPECT_TRUE(Contains(env, "MEMMON_RULE=wx")) << JoinLines(env);
        ASSERT_TRUE(
            WaitFor([&] { return HasLineWith(Log(), "[w] alert_exec: ", "ran for rule wx"); }, kLong));
        ASSERT_TRUE(WaitFor(
            [&] { return HasLineWith(Log(), "ERROR [f] alert_exec: ", "exited with status 3"); }, kLong))
            << Log();
        ASSERT_TRUE(WaitFor([&] { return !EventsOf("f", "error").empty(); }, kLong)) << EventsText();
        EXPECT_NE(std::string::npos,
                  Field(EventsOf("f", "error")[0], "message").find("exited with status 3"));
        ASSERT_NO_FATAL_FAILURE(Fence());
        size_t runs = 0;
        for (const auto &n : ListDir(out))
                runs += n.size() > 5 && n.compare(n.size() - 5, 5, ".done") == 0;
        EXPECT_EQ(1u, runs) << "q has alert_exec turned off";
        EXPECT_FALSE(HasLineWith(Log(), "[q] alert_exec", ""));
}

// The shipped etc/memmon.ini: its [alerts] section is the built-in defaults
// written out, and its commented-out [target:java] checks out once
// uncommented.
TEST_F(AlertsAgentTest, ShippedAlertsSectionAndJavaExample) {
        std::string shipped = ReadFileOr(Runfile("etc/memmon.ini"));
        ASSERT_NE(std::string::npos, shipped.find("\n[alerts]\n")) << shipped;
        std::string java = "[agent]\nbase_dir = .\n";
        bool in = false;
        for (const auto &l : SplitLines(shipped)) {
                if (l == "; [target:java]")
                        in = true;
                if (in && l.rfind("; ", 0) != 0)
                        break;
                if (in)
                        java += l.substr(2) + "\n";
        }
        ASSERT_NE(std::string::npos, java.find("wx = off\nanon_exec = off\n")) << java;
        ASSERT_TRUE(WriteFile(P("java.ini"), java));
        RunResult r = RunAgent({"-t", "-c", P("java.ini")});
        EXPECT_EQ(0, r.code) << r.Describe();
        // The [alerts] of the shipped file change nothing: a scan with it
        // and one without agree.
        auto wl = StartWorkload();
        ASSERT_NE(0u, wl->Map(1, "rwx"));
        SpawnOptions o;
        o.argv = {AgentPath(), "scan", "-c", Runfile("etc/memmon.ini"), std::to_string(wl->pid())};
        RunResult with = RunProcess(o, kLong);
        o.argv = {AgentPath(), "scan", std::to_string(wl->pid())};
        RunResult without = RunProcess(o, kLong);
        EXPECT_EQ(1, with.code) << with.Describe();
        EXPECT_EQ(SplitLines(without.out)[0], SplitLines(with.out)[0]);
}

} // namespace
} // namespace memmon_test
