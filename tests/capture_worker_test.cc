// Workers under eBPF capture (issue 12), the real agent against real
// workload processes, each point asserted on what the chain holds:
//   a. 10,000 rwx pages, each mapped and unmapped at once, at a 1 s
//      interval: every one in the chain's events, and a `wx` alert each;
//   b. a quiet target is not read (the read count stays put), where polling
//      reads it every interval;
//   c. an exit is known from the pidfd, not from the next read (60 s away);
//   d. a new process of a `match` target is attached from its exec, not
//      from a scan (60 s away);
//   e. a ring too small for a flood: lost events counted, the target polls,
//      and the chain still replays to the maps exactly;
//   f. eBPF unavailable (capabilities dropped): the agent says why, polls
//      and records; the shipped unit's capabilities are enough to load it;
//   g. a first state that raced every read is tried again soon, not an
//      interval (60 s) later;
// (the mremap phantom in eBPF mode is honest_test_ebpf's).
// no-sandbox: loading BPF needs the initial user namespace.  Where BPF
// cannot load here, the tests that need it skip and say why.
#include <ctype.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/ebpf_here.h"
#include "tests/multi_util.h"
#include "tests/testutil.h"

namespace memmon_test {
namespace {

constexpr Millis kShort(5000); // a few intervals, or something the kernel tells at once
constexpr Millis kLong(30000); // 10,000 mappings on a loaded machine
constexpr Millis kPoll(20);

// The value of the series line "NAME{target=\"T\"} V" of a metrics text, or
// -1 when there is none.
long long Metric(const std::string &metrics, const std::string &series) {
        for (const auto &l : SplitLines(metrics))
                if (l.compare(0, series.size() + 1, series + " ") == 0)
                        return strtoll(l.c_str() + series.size() + 1, nullptr, 10);
        return -1;
}

// How many times the thread of process pid named comm (a worker: "w:"
// and its target's name) went to sleep and was woken since it started
// (voluntary_ctxt_switches), or -1 when it has no such thread.
long long ThreadWakeups(pid_t pid, const std::string &comm) {
        const std::string task = "/proc/" + std::to_string(pid) + "/task";
        DIR *d = opendir(task.c_str());
        long long n = -1;
        if (!d)
                return -1;
        while (struct dirent *e = readdir(d)) {
                const std::string dir = task + "/" + e->d_name;
                if (e->d_name[0] == '.' || ReadFileOr(dir + "/comm") != comm + "\n")
                        continue;
                for (const auto &l : SplitLines(ReadFileOr(dir + "/status")))
                        if (l.compare(0, 24, "voluntary_ctxt_switches:") == 0)
                                n = strtoll(l.c_str() + 24, nullptr, 10);
        }
        closedir(d);
        return n;
}

class CaptureWorkerTest : public BaseDirTest {
      protected:
        void SetUp() override {
                BaseDirTest::SetUp();
                ebpf_ = EbpfHere(&why_);
        }
        void TearDown() override {
                for (auto &d : daemons_)
                        if (d->Alive()) {
                                d->Kill(SIGCONT);
                                d->Kill(SIGTERM);
                                int code;
                                (void)d->WaitExit(kShort, &code);
                        }
                BaseDirTest::TearDown();
        }

        // Starts the agent as a daemon on an INI of [agent] lines agent and
        // one target, named t, of selector sel ("pid = 12", "match = x").
        void Start(const std::string &capture, const std::string &agent, const std::string &sel) {
                ASSERT_TRUE(WriteFile(P("memmon.ini"),
                                      "[agent]\nbase_dir = .\ncapture = " + capture + "\n" + agent +
                                          "[target:t]\n" + sel + "\n",
                                      0600));
                ASSERT_NO_FATAL_FAILURE(StartDaemon({"-c", "memmon.ini"}));
        }
        std::string Metrics() {
                RunResult r = RunAgent({"ctl", "-b", dir_, "metrics"});
                EXPECT_EQ(0, r.code) << r.Describe();
                return r.out;
        }
        long long TargetMetric(const std::string &name) {
                return Metric(Metrics(), name + "{target=\"t\"}");
        }
        // Reads of the target's maps: one observation per read in the
        // sample duration histogram.
        long long Reads() {
                return TargetMetric("memmon_sample_duration_seconds_count");
        }
        std::string Status() {
                RunResult r = RunAgent({"ctl", "-b", dir_, "status"});
                EXPECT_EQ(0, r.code) << r.Describe();
                return r.out;
        }
        std::string TargetLog() const {
                return ReadFileOr(P("logs/t.log"));
        }
        // `agent replay backups/t --events`: one line per event.
        std::vector<std::string> Events() {
                RunResult r = RunAgent({"replay", "backups/t", "--events"}, kLong);
                EXPECT_EQ(0, r.code) << r.Describe();
                return SplitLines(r.out);
        }
        std::string Replay() {
                RunResult r = RunAgent({"replay", "backups/t"});
                EXPECT_EQ(0, r.code) << r.Describe();
                return r.out;
        }

        bool ebpf_ = false;
        std::string why_;
};

#define NEED_EBPF()                                                                                          \
        do {                                                                                                 \
                if (!ebpf_)                                                                                  \
                        GTEST_SKIP() << "eBPF capture cannot run here: " << why_;                            \
        } while (0)

// How many of lines contain every one of the needles.
size_t CountWith(const std::vector<std::string> &lines, const std::vector<std::string> &needles) {
        size_t n = 0;
        for (const auto &l : lines) {
                bool all = true;
                for (const auto &s : needles)
                        all = all && l.find(s) != std::string::npos;
                n += all;
        }
        return n;
}

// a. The shape of injected shellcode, 10,000 times between two reads a
// second apart: each mapping is in the chain (its mmap, the address the
// kernel chose, its munmap), and the wx rule raised once for each (and
// cleared it at its munmap): what alerts_event_map promises for a region
// that no snapshot ever shows.
TEST_F(CaptureWorkerTest, EveryShortLivedRwxMappingIsInTheChainAndAlerted) {
        NEED_EBPF();
        const size_t n = 10000;
        Workload wl;
        std::string err;
        ASSERT_TRUE(wl.Start(&err)) << err;
        ASSERT_NO_FATAL_FAILURE(Start("ebpf", "interval = 1s\n", "pid = " + std::to_string(wl.pid())));
        ASSERT_TRUE(
            WaitFor([&] { return TargetLog().find("full backup") != std::string::npos; }, kShort, kPoll))
            << TargetLog();
        std::string reply = wl.Command("flash " + std::to_string(n), kLong);
        ASSERT_EQ(0u, reply.find("ok " + std::to_string(n) + " ")) << reply;
        // Each lived well under the interval: no read could have seen one.
        printf("flash: the longest-lived of %zu mappings lived %s ns\n", n,
               reply.c_str() + reply.rfind(' ') + 1);

        std::vector<std::string> ev;
        ASSERT_TRUE(WaitFor(
            [&] {
                    ev = Events();
                    return CountWith(ev, {" munmap by ", " len=0x" + Hex(PageSize())}) >= n;
            },
            kLong, Millis(200)))
            << ev.size() << " events in the chain";
        const std::string by = " by " + std::to_string(wl.pid()) + "/";
        EXPECT_EQ(n,
                  CountWith(ev, {" mmap" + by, "len=0x" + Hex(PageSize()) + " ", "prot=rwx", "flags=0x22"}));
        EXPECT_EQ(n, CountWith(ev, {" addr" + by, "len=0x" + Hex(PageSize())}));
        EXPECT_EQ(n, CountWith(ev, {" munmap" + by, "len=0x" + Hex(PageSize())}));
        EXPECT_EQ(0u, CountWith(ev, {"events lost"}));
        // The chain is whole and ends at the maps as they are.
        EXPECT_EQ(wl.Maps(), Replay());
        RunResult v = RunAgent({"verify", "backups/t"});
        EXPECT_EQ(0, v.code) << v.Describe();

        // The alerts: one wx raised per mapping, each cleared by its munmap,
        // in events.jsonl and in the metrics.
        std::vector<std::string> jl;
        ASSERT_TRUE(WaitFor(
            [&] {
                    jl = SplitLines(ReadFileOr(P("logs/events.jsonl")));
                    return CountWith(jl, {"\"event\":\"alert_cleared\"", "\"rule\":\"wx\""}) >= n;
            },
            kLong, Millis(200)));
        EXPECT_EQ(n, CountWith(jl, {"\"event\":\"alert\"", "\"rule\":\"wx\"", "\"perms\":\"rwxp\""}));
        EXPECT_EQ(n, CountWith(jl, {"\"event\":\"alert_cleared\"", "\"rule\":\"wx\"",
                                    "\"reason\":\"region unmapped\""}));
        EXPECT_EQ(static_cast<long long>(n),
                  Metric(Metrics(), "memmon_alerts_total{target=\"t\",rule=\"wx\"}"));
        // Every event kept is in the chain (the target's own runtime may
        // add a few: a sanitizer's, say).
        EXPECT_EQ(static_cast<long long>(ev.size()), TargetMetric("memmon_capture_events_total"));
        EXPECT_GE(ev.size(), 3 * n) << "mmap, addr and munmap of each";
        EXPECT_EQ(0, TargetMetric("memmon_capture_lost_events_total"));
}

// b. A target that does not change is not read between resyncs; polling
// reads it every interval.
TEST_F(CaptureWorkerTest, QuietTargetIsNotRead) {
        NEED_EBPF();
        for (const std::string mode : {"ebpf", "poll"}) {
                SCOPED_TRACE(mode);
                Workload wl;
                std::string err;
                ASSERT_TRUE(wl.Start(&err)) << err;
                ASSERT_NO_FATAL_FAILURE(
                    Start(mode, "interval = 100ms\nresync = 60s\n", "pid = " + std::to_string(wl.pid())));
                ASSERT_TRUE(WaitFor([&] { return Reads() >= 1; }, kShort, kPoll));
                // Past the reads of the start (the first one, a change
                // while it attached).
                ASSERT_TRUE(WaitFor([&] { return TargetLog().find("full backup") != std::string::npos; },
                                    kShort, kPoll));
                long long before = Reads();
                long long later = before;
                if (mode == "poll") {
                        EXPECT_TRUE(WaitFor([&] { return (later = Reads()) >= before + 5; }, kShort, kPoll))
                            << "polling read it " << later - before << " times in " << kShort.count()
                            << " ms";
                } else {
                        // Ten intervals; a read would be a failure, so a
                        // fixed wait is what it takes.  Nor is the worker
                        // woken to find nothing to read: it sleeps until a
                        // record, its resync or a request (a timer tick
                        // every interval would be ten wake-ups).
                        const long long woke = ThreadWakeups(daemon_->pid(), "w:t");
                        ASSERT_GE(woke, 0) << "no worker thread named w:t";
                        usleep(1000 * 1000);
                        later = Reads();
                        EXPECT_EQ(before, later) << "read although nothing changed";
                        EXPECT_LE(ThreadWakeups(daemon_->pid(), "w:t"), woke + 1)
                            << "the worker of a quiet target was woken";
                        EXPECT_NE(std::string::npos,
                                  Status().find("Capture: ebpf: " + std::to_string(later) + " reads"))
                            << Status();
                        // A change is read at once (within an interval or
                        // a few).
                        ASSERT_NE(0u, wl.Map(1, "rw"));
                        EXPECT_TRUE(WaitFor([&] { return Reads() > later; }, kShort, kPoll));
                }
                Send("quit");
                int code = -1;
                ASSERT_TRUE(daemon_->WaitExit(kShort, &code));
                EXPECT_EQ(0, code);
        }
}

// c. An exit is known from the process's pidfd at once, although the next
// read is a minute away.
TEST_F(CaptureWorkerTest, ExitIsKnownFromThePidfd) {
        NEED_EBPF();
        Workload wl;
        std::string err;
        ASSERT_TRUE(wl.Start(&err)) << err;
        const std::string pid = std::to_string(wl.pid());
        ASSERT_NO_FATAL_FAILURE(Start("ebpf", "interval = 60s\nresync = 60s\n", "pid = " + pid));
        ASSERT_TRUE(
            WaitFor([&] { return TargetLog().find("full backup") != std::string::npos; }, kShort, kPoll))
            << TargetLog();
        wl.Kill();
        EXPECT_TRUE(WaitFor([&] { return HasLineWith(TargetLog(), "pid " + pid, "exited"); }, kShort, kPoll))
            << TargetLog();
        EXPECT_TRUE(WaitFor([&] { return TargetLog().find("(final, process exited") != std::string::npos; },
                            kShort, kPoll))
            << TargetLog();
}

// d. A new process of a `match` target is attached from its exec record,
// although the next scan of /proc is a minute away (the scans are counted:
// none while it waits), and it is watched from its exec on: the dynamic
// loader's mappings are in the chain's events.  The second round is the
// wait after an exit: the name is back in the exec hook's list at once,
// and the exec is not lost to the shared scan of /proc, which may be a
// second old.
TEST_F(CaptureWorkerTest, MatchTargetAttachesAtExec) {
        NEED_EBPF();
        const std::string name = "cwt" + std::to_string(getpid() % 100000);
        const std::string path = P(name);
        ASSERT_TRUE(CopyFile(WorkloadPath(), path, 0755));
        ASSERT_NO_FATAL_FAILURE(Start("ebpf", "interval = 60s\nresync = 60s\n", "match = " + name));
        for (int round = 0; round < 2; round++) {
                SCOPED_TRACE(round);
                // Waiting, its scan done: the next process is news.
                ASSERT_TRUE(WaitFor([&] { return Status().find("Status: waiting") != std::string::npos; },
                                    kShort, kPoll))
                    << Status();
                long long scans = Metric(Metrics(), "memmon_proc_scans_total");
                ASSERT_GE(scans, 1);
                NamedWorkload wl;
                std::string err;
                ASSERT_TRUE(wl.Start(path, &err)) << err;
                const std::string pid = std::to_string(wl.pid());
                EXPECT_TRUE(WaitFor([&] { return HasLineWith(TargetLog(), "attached to pid " + pid, ""); },
                                    kShort, kPoll))
                    << TargetLog();
                // The first wait scanned at start; the wait after an exit
                // begins with a scan as well (an older process of the name
                // may be there, of which no exec tells), made when the
                // first exec wakes it.
                if (round == 0) {
                        EXPECT_EQ(scans, Metric(Metrics(), "memmon_proc_scans_total"))
                            << "found by a scan, not by its exec";
                }
                // Its first state: read once its loader let a read fall
                // between two changes (tried again within milliseconds).  A
                // process that exits before that has no chain, only a
                // warning that counts its events lost.
                EXPECT_TRUE(WaitFor(
                    [&] { return HasLineWith(TargetLog(), "backup_" + pid + "_", "(sampling started"); },
                    kShort, kPoll))
                    << TargetLog();
                uintptr_t a = wl.Map(7, "rw");
                ASSERT_NE(0u, a);
                wl.Kill();
                EXPECT_TRUE(WaitFor(
                    [&] { return HasLineWith(TargetLog(), "backup_" + pid + "_", "(final, process exited"); },
                    kShort, kPoll))
                    << TargetLog();
                // The final snapshot carries the events: the loader's, and
                // the mapping made on command.
                std::vector<std::string> ev = Events();
                const std::string by = " by " + pid + "/";
                EXPECT_GE(CountWith(ev, {" mmap" + by, "/libc"}), 1u) << JoinLines(ev);
                EXPECT_GE(
                    CountWith(ev, {" addr" + by, "at=0x" + Hex(a) + " ", "len=0x" + Hex(7 * PageSize())}), 1u)
                    << JoinLines(ev);
        }
}

// e. A ring far too small (4 KiB, about 30 records) and the agent stopped
// while the target maps and unmaps: records are lost, counted in the chain
// (# lost) and the metrics; after lossy files in a row the target polls;
// and every state in the chain is still one that existed: the chain
// replays to the maps of the target, now quiet.
TEST_F(CaptureWorkerTest, OverflowIsCountedAndTheTargetPolls) {
        NEED_EBPF();
        Workload wl;
        std::string err;
        ASSERT_TRUE(wl.Start(&err)) << err;
        ASSERT_NO_FATAL_FAILURE(
            Start("ebpf", "interval = 100ms\ncapture_ring = 4096\n", "pid = " + std::to_string(wl.pid())));
        ASSERT_TRUE(
            WaitFor([&] { return TargetLog().find("full backup") != std::string::npos; }, kShort, kPoll))
            << TargetLog();
        // The consumer of the ring is stopped while the flood runs, so the
        // ring overflows whatever the machine's load; each round then ends
        // in a file that lost events.
        for (int round = 0; round < 6 && Status().find("Capture: poll (") == std::string::npos; round++) {
                SCOPED_TRACE(round);
                size_t diffs = ListDir(P("backups/t/incremental")).size();
                daemon_->Kill(SIGSTOP);
                std::string reply = wl.Command("flash 1000");
                uintptr_t a = wl.Map(1 + round, "rw");
                daemon_->Kill(SIGCONT);
                ASSERT_EQ(0u, reply.find("ok 1000 ")) << reply;
                ASSERT_NE(0u, a);
                ASSERT_TRUE(WaitFor([&] { return ListDir(P("backups/t/incremental")).size() > diffs; },
                                    kShort, kPoll));
        }
        std::string status = Status();
        EXPECT_NE(std::string::npos,
                  status.find("Capture: poll (events were lost in 3 files in a row: the ring cannot keep up "
                              "with it)"))
            << status;
        EXPECT_TRUE(HasLineWith(TargetLog(), "capture: polling pid " + std::to_string(wl.pid()),
                                "events were lost in 3 files in a row"))
            << TargetLog();
        EXPECT_TRUE(HasLineWith(TargetLog(), "events of pid", "were lost")) << TargetLog();
        EXPECT_EQ(1, TargetMetric("memmon_capture_fallbacks_total"));
        long long lost = TargetMetric("memmon_capture_lost_events_total");
        EXPECT_GT(lost, 0);
        std::vector<std::string> ev = Events();
        EXPECT_GE(CountWith(ev, {"events lost in the interval before it"}), 3u) << JoinLines(ev);

        // Polling from now on: a change is still recorded, and the chain
        // replays to the maps of the quiet target, byte for byte.
        uintptr_t b = wl.Map(3, "r");
        ASSERT_NE(0u, b);
        const std::string maps = wl.Maps();
        std::string replay;
        EXPECT_TRUE(WaitFor([&] { return (replay = Replay()) == maps; }, kShort, Millis(100)))
            << "--- maps ---\n"
            << maps << "--- replay ---\n"
            << replay;
        RunResult v = RunAgent({"verify", "backups/t"});
        EXPECT_EQ(0, v.code) << v.Describe();
}

// g. A process that changes during every read when it is attached (a
// program starting: its loader maps its libraries) has no state yet: the
// next try comes in milliseconds, not an interval (60 s) later, so a
// short-lived process still gets its chain.  The mremap mover on 20,000
// regions races the first read; once it stops, the first state is read
// within a few tries, far inside the interval.
TEST_F(CaptureWorkerTest, FirstStateThatRacedIsTriedAgainSoon) {
        NEED_EBPF();
        Workload wl;
        std::string err;
        ASSERT_TRUE(wl.Start(&err, {"--regions", "20000", "--mremap-phantom", P("phantom.data")})) << err;
        ASSERT_NO_FATAL_FAILURE(
            Start("ebpf", "interval = 60s\nresync = 60s\n", "pid = " + std::to_string(wl.pid())));
        ASSERT_TRUE(WaitFor(
            [&] {
                    const std::string log = TargetLog();
                    return log.find("full backup") != std::string::npos ||
                           log.find("changed its mappings during each of") != std::string::npos;
            },
            kShort, kPoll))
            << TargetLog();
        if (TargetLog().find("full backup") != std::string::npos)
                GTEST_SKIP() << "the first read fell between two moves: nothing raced";
        ASSERT_EQ("ok", wl.Command("phantom-stop"));
        EXPECT_TRUE(
            WaitFor([&] { return TargetLog().find("full backup") != std::string::npos; }, kShort, kPoll))
            << "no first state within 5 s of the last change (interval 60 s):\n"
            << TargetLog();
        // Quiet now: the chain replays to its maps.
        const std::string maps = wl.Maps();
        std::string replay;
        EXPECT_TRUE(WaitFor([&] { return (replay = Replay()) == maps; }, kShort, Millis(100)))
            << "--- maps ---\n"
            << maps.substr(0, 2000) << "--- replay ---\n"
            << replay.substr(0, 2000);
}

// f. Where BPF cannot load (the agent started without CAP_BPF,
// CAP_PERFMON and CAP_SYS_ADMIN in its bounding set, as a unit file that
// forgot them would), `capture = ebpf` says why, polls, and records every
// change.  (capture_agent_test checks the wording in a user namespace.)
TEST_F(CaptureWorkerTest, WithoutBpfTheAgentPollsAndRecords) {
        const std::string setpriv = "/usr/bin/setpriv";
        if (access(setpriv.c_str(), X_OK) != 0)
                GTEST_SKIP() << setpriv << " is not here";
        SpawnOptions po;
        po.argv = {setpriv, "--bounding-set=-bpf,-perfmon,-sys_admin", "/bin/true"};
        RunResult probe = RunProcess(po);
        if (probe.code != 0)
                GTEST_SKIP() << "cannot drop capabilities here: " << probe.Describe();
        Workload wl;
        std::string err;
        ASSERT_TRUE(wl.Start(&err)) << err;
        ASSERT_TRUE(WriteFile(P("memmon.ini"),
                              "[agent]\nbase_dir = .\ncapture = ebpf\ninterval = 100ms\n[target:t]\npid = " +
                                  std::to_string(wl.pid()) + "\n",
                              0600));
        SpawnOptions o = AgentOptions({"-d", "-c", "memmon.ini"});
        o.argv.insert(o.argv.begin(), {setpriv, "--bounding-set=-bpf,-perfmon,-sys_admin"});
        RunResult r = RunProcess(o, Millis(15000));
        ASSERT_EQ(0, r.code) << r.Describe();
        pid_t pid = 0;
        ASSERT_TRUE(WaitFor([&] { return (pid = ReadPidFile(P("logs/memmon.pid"))) > 0; }, kShort));
        daemons_.push_back(std::make_unique<Daemon>(pid));
        daemon_ = daemons_.back().get();

        EXPECT_TRUE(
            WaitFor([&] { return Log().find("polling instead") != std::string::npos; }, kShort, kPoll));
        EXPECT_NE(std::string::npos,
                  Log().find("ERROR [agent] capture = ebpf, but eBPF cannot run here: needs CAP_BPF and "
                             "CAP_PERFMON (or root); polling instead"))
            << Log();
        ASSERT_TRUE(
            WaitFor([&] { return TargetLog().find("full backup") != std::string::npos; }, kShort, kPoll))
            << Log() << TargetLog();
        for (int i = 0; i < 3; i++) {
                ASSERT_NE(0u, wl.Map(1 + i, i % 2 ? "r" : "rw"));
                const std::string maps = wl.Maps();
                EXPECT_TRUE(WaitFor([&] { return Replay() == maps; }, kShort, Millis(50))) << i;
        }
        EXPECT_NE(std::string::npos, Status().find("Capture: poll (needs CAP_BPF and CAP_PERFMON (or root))"))
            << Status();
        EXPECT_EQ(1, Metric(Metrics(), "memmon_capture_info{mode=\"poll\"}"));
        EXPECT_EQ(0u, CountWith(Events(), {" by "})) << "a polled chain has no events";
}

// The values of every "key=..." line of a unit file, split at blanks.
std::vector<std::string> UnitValues(const std::string &unit, const std::string &key) {
        std::vector<std::string> v;
        for (const auto &l : SplitLines(unit)) {
                if (l.compare(0, key.size() + 1, key + "=") != 0)
                        continue;
                std::string rest = l.substr(key.size() + 1);
                size_t at = 0;
                while (at < rest.size()) {
                        size_t end = rest.find(' ', at);
                        if (end == std::string::npos)
                                end = rest.size();
                        if (end > at)
                                v.push_back(rest.substr(at, end - at));
                        at = end + 1;
                }
        }
        return v;
}

bool Has(const std::vector<std::string> &v, const std::string &s) {
        return std::find(v.begin(), v.end(), s) != v.end();
}

// The shipped unit keeps what eBPF capture needs (CAP_BPF, CAP_PERFMON,
// bpf(2), perf_event_open(2), the initial user namespace), and an agent
// given exactly its capabilities, with no new privileges, loads the
// program.
TEST_F(CaptureWorkerTest, TheShippedUnitLetsEbpfLoad) {
        const std::string unit = ReadFileOr(Runfile("etc/memmon.service"));
        ASSERT_FALSE(unit.empty());
        std::vector<std::string> bounding = UnitValues(unit, "CapabilityBoundingSet");
        std::vector<std::string> ambient = UnitValues(unit, "AmbientCapabilities");
        std::vector<std::string> calls = UnitValues(unit, "SystemCallFilter");
        for (const char *cap : {"CAP_BPF", "CAP_PERFMON", "CAP_SYS_PTRACE"}) {
                EXPECT_TRUE(Has(bounding, cap)) << cap;
                EXPECT_TRUE(Has(ambient, cap)) << cap;
        }
        EXPECT_TRUE(Has(calls, "bpf"));
        EXPECT_TRUE(Has(calls, "perf_event_open"));
        EXPECT_TRUE(UnitValues(unit, "PrivateUsers").empty()) << "a private user namespace disables eBPF";

        NEED_EBPF();
        const std::string setpriv = "/usr/bin/setpriv";
        if (access(setpriv.c_str(), X_OK) != 0)
                GTEST_SKIP() << setpriv << " is not here";
        // setpriv spells CAP_BPF as +bpf.
        std::string caps = "--bounding-set=-all";
        for (const auto &c : bounding) {
                std::string n = c.substr(c.find('_') + 1);
                for (auto &ch : n)
                        ch = static_cast<char>(tolower(static_cast<unsigned char>(ch)));
                caps += ",+" + n;
        }
        Sleeper sleeper;
        ASSERT_TRUE(WriteFile(P("memmon.ini"),
                              "[agent]\nbase_dir = .\ncapture = ebpf\n[target:t]\npid = " +
                                  std::to_string(sleeper.pid()) + "\n",
                              0600));
        SpawnOptions o = AgentOptions({"-f", "-c", P("memmon.ini")});
        o.argv.insert(o.argv.begin(), {setpriv, caps, "--no-new-privs"});
        std::string err;
        auto p = Process::Start(o, &err);
        ASSERT_TRUE(p) << err;
        EXPECT_TRUE(
            p->ReadUntil([&] { return p->err().find(" started (pid ") != std::string::npos; }, kShort))
            << p->err();
        EXPECT_NE(std::string::npos, p->err().find("capture: ebpf (BPF program loaded")) << caps << "\n"
                                                                                         << p->err();
        p->Signal(SIGTERM);
        int code = -1;
        EXPECT_TRUE(p->Wait(kShort, &code));
        EXPECT_EQ(0, code) << p->err();
}

} // namespace
} // namespace memmon_test
