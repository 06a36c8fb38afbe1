// Integration tests: the real agent binary against real workload processes.
// Each test gets a fresh folder under $TEST_TMPDIR as the agent's base
// directory (logs/ and backups/ are created there) and its own workload.
#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/testutil.h"

namespace memmon_test {
namespace {

constexpr Millis kShort(3000); // something that should happen within a few intervals
constexpr Millis kLong(10000); // a process start or exit

// True when name is exactly prefix, a timestamp 20261125T183328.123456Z and
// suffix (^prefix\d{8}T\d{6}\.\d{6}Z suffix$; std::regex trips a GCC 12
// false -Wmaybe-uninitialized under ASan).
bool IsBackupName(const std::string &name, const std::string &prefix, const std::string &suffix) {
        const std::string shape = "ddddddddTdddddd.ddddddZ";
        if (name.size() != prefix.size() + shape.size() + suffix.size() ||
            name.compare(0, prefix.size(), prefix) != 0 ||
            name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
                return false;
        for (size_t i = 0; i < shape.size(); i++) {
                char c = name[prefix.size() + i];
                if (shape[i] == 'd' ? !isdigit(static_cast<unsigned char>(c)) : c != shape[i])
                        return false;
        }
        return true;
}

// The timestamp in backup_<PID>_<TS>.maps or diff_<PID>_<TS>.diff.
std::string TimestampOf(const std::string &name) {
        size_t a = name.find('_');
        size_t b = name.find('_', a + 1);
        size_t dot = name.rfind('.');
        if (a == std::string::npos || b == std::string::npos || dot == std::string::npos || dot < b)
                return "";
        return name.substr(b + 1, dot - b - 1);
}

// True when a '+' (added) or '>' (changed, new) record of the diff covers
// [start, end).  A new anonymous mapping can merge with a neighbour, so its
// record may be wider than what was mapped.
bool DiffCovers(const std::string &diff, uintptr_t start, uintptr_t end) {
        for (const auto &l : SplitLines(diff)) {
                if (l.size() < 3 || (l[0] != '+' && l[0] != '>') || l[1] != ' ')
                        continue;
                char *dash;
                unsigned long long s = strtoull(l.c_str() + 2, &dash, 16);
                if (*dash != '-')
                        continue;
                unsigned long long e = strtoull(dash + 1, nullptr, 16);
                if (s <= start && end <= e)
                        return true;
        }
        return false;
}

// Every file under root is 0600 (FIFOs too), every folder 0700.
void ExpectPrivate(const std::string &root) {
        SCOPED_TRACE(root);
        ASSERT_TRUE(IsDir(root));
        EXPECT_EQ(0700, FileMode(root)) << root;
        for (const auto &p : ListTree(root)) {
                if (IsDir(p))
                        EXPECT_EQ(0700, FileMode(p)) << std::oct << FileMode(p) << " " << p;
                else
                        EXPECT_EQ(0600, FileMode(p)) << std::oct << FileMode(p) << " " << p;
        }
}

class AgentTest : public BaseDirTest {
      protected:
        void SetUp() override {
                BaseDirTest::SetUp();
                if (HasFatalFailure())
                        return;
                std::string err;
                ASSERT_TRUE(wl_.Start(&err)) << err;
                wpid_ = std::to_string(wl_.pid());
        }

        // Runs `agent -d -p WORKLOAD -T interval` and takes charge of the
        // daemon it leaves behind.
        void StartDaemon(unsigned long long interval_us, int mask = -1) {
                BaseDirTest::StartDaemon({"-p", wpid_, "-T", std::to_string(interval_us)}, mask);
        }

        // Waits until monitor.log holds needle at least `count` times.
        bool WaitLog(const std::string &needle, size_t count = 1, Millis timeout = kShort) {
                return WaitFor([&] { return CountOccurrences(Log(), needle) >= count; }, timeout);
        }

        std::vector<std::string> Fulls() const {
                return Visible(ListDir(P("backups/full")));
        }
        std::vector<std::string> Diffs() const {
                return Visible(ListDir(P("backups/incremental")));
        }

        RunResult Replay(const std::string &at = "") {
                std::vector<std::string> args = {"replay", "backups"};
                if (!at.empty()) {
                        args.push_back("--at");
                        args.push_back(at);
                }
                return RunAgent(args);
        }

        Workload wl_;
        std::string wpid_;
};

// 1. The single-target daemon: detach, pid file, FIFO, first full backup, a
// diff per change, the single-target replies, and a clean quit.
TEST_F(AgentTest, DaemonLifecycleAndSingleTargetReplies) {
        ASSERT_NO_FATAL_FAILURE(StartDaemon(200000));
        EXPECT_TRUE(daemon_->Alive());
        EXPECT_TRUE(IsFifo(P("logs/daemon_fifo")));
        EXPECT_EQ(0600, FileMode(P("logs/daemon_fifo")));

        ASSERT_TRUE(WaitFor([&] { return Fulls().size() == 1; }, kShort))
            << Fulls().size() << " full backups";
        EXPECT_TRUE(IsBackupName(Fulls()[0], "backup_" + wpid_ + "_", ".maps")) << Fulls()[0];
        std::string full = ReadFileOr(P("backups/full/" + Fulls()[0]));
        EXPECT_EQ(0u, full.find("# memmon full 2\n")) << full;
        EXPECT_TRUE(Diffs().empty());

        uintptr_t a = wl_.Map(3, "rw");
        ASSERT_NE(0u, a);
        uintptr_t end = a + 3 * PageSize();
        std::string diff_name;
        EXPECT_TRUE(WaitFor(
            [&] {
                    for (const auto &d : Diffs()) {
                            if (DiffCovers(ReadFileOr(P("backups/incremental/" + d)), a, end)) {
                                    diff_name = d;
                                    return true;
                            }
                    }
                    return false;
            },
            kShort))
            << "no diff names " << Hex(a) << "-" << Hex(end);
        EXPECT_TRUE(IsBackupName(diff_name, "diff_" + wpid_ + "_", ".diff")) << diff_name;

        Send("status");
        EXPECT_TRUE(WaitLog("Status: running"));
        EXPECT_EQ(1u, CountOccurrences(Log(), "Current PID: " + wpid_ + "\n"));
        EXPECT_EQ(1u, CountOccurrences(Log(), "Sample interval: 200000 us\n"));

        Send("interval 100000");
        EXPECT_TRUE(WaitLog("Interval changed to: 100000 us\n"));
        Send("status");
        EXPECT_TRUE(WaitLog("Sample interval: 100000 us\n"));

        size_t fulls = Fulls().size();
        Send("backup");
        EXPECT_TRUE(WaitLog("Manual backup created\n"));
        EXPECT_EQ(fulls + 1, Fulls().size());

        Send("quit");
        EXPECT_TRUE(WaitLog("Exiting...\n"));
        int code = -1;
        ASSERT_TRUE(daemon_->WaitExit(kLong, &code)) << "the daemon did not exit after quit";
        EXPECT_EQ(0, code);
        EXPECT_FALSE(PathExists(P("logs/daemon_fifo")));
        EXPECT_FALSE(PathExists(P("logs/memmon.pid")));
}

// 2. SIGUSR1 takes a full backup.
TEST_F(AgentTest, Sigusr1WritesFullBackup) {
        ASSERT_NO_FATAL_FAILURE(StartDaemon(200000));
        ASSERT_TRUE(WaitFor([&] { return Fulls().size() == 1; }, kShort));
        daemon_->Kill(SIGUSR1);
        EXPECT_TRUE(WaitFor([&] { return Fulls().size() == 2; }, kShort))
            << Fulls().size() << " full backups";
        EXPECT_TRUE(daemon_->Alive());
}

// 3. An unknown command is reported by name and changes nothing.
TEST_F(AgentTest, UnknownCommandIsLoggedAndAgentGoesOn) {
        ASSERT_NO_FATAL_FAILURE(StartDaemon(200000));
        Send("frobnicate");
        EXPECT_TRUE(WaitFor([&] { return HasLineWith(Log(), "nknown", "frobnicate"); }, kShort))
            << "no error line names frobnicate";
        Send("status");
        EXPECT_TRUE(WaitLog("Status: running"));
        EXPECT_TRUE(daemon_->Alive());
}

// 4. Replaying the chain gives /proc/PID/maps byte for byte, now and at every
// recorded moment.
TEST_F(AgentTest, ReplayEqualsProcMaps) {
        const size_t pg = PageSize();
        ASSERT_NO_FATAL_FAILURE(StartDaemon(50000));
        ASSERT_TRUE(WaitFor([&] { return Fulls().size() == 1; }, kShort));

        // A file with a space in its name.  The workload splits its commands
        // at spaces, so it maps the file through a symlink; the kernel names
        // the file itself in the maps.
        std::string spaced_dir = P("data dir");
        ASSERT_EQ(0, mkdir(spaced_dir.c_str(), 0700));
        std::string spaced = spaced_dir + "/my file.bin";
        ASSERT_TRUE(WriteFile(spaced, std::string(3 * pg, 'm')));
        ASSERT_EQ(0, symlink(spaced.c_str(), P("link.bin").c_str()));

        struct Step {
                std::string what, maps, ts;
        };
        std::vector<Step> steps;
        std::string newest;
        // The first full snapshot holds the maps as they were at the start.
        steps.push_back({"start", wl_.Maps(), TimestampOf(Fulls()[0])});
        // After a change: waits until the newest diff is new and replays to
        // the maps as they are now, and remembers both.
        auto settle = [&](const std::string &what) {
                std::string maps = wl_.Maps();
                ASSERT_FALSE(maps.empty());
                std::string last_replay;
                bool ok = WaitFor(
                    [&] {
                            auto d = Diffs();
                            if (d.empty() || d.back() == newest)
                                    return false;
                            last_replay = Replay().out;
                            return last_replay == maps;
                    },
                    kShort, Millis(20));
                ASSERT_TRUE(ok) << what << ": the replay never matched /proc/PID/maps\n--- maps ---\n"
                                << maps << "--- replay ---\n"
                                << last_replay;
                newest = Diffs().back();
                steps.push_back({what, maps, TimestampOf(newest)});
        };

        uintptr_t a = wl_.Map(8, "rw");
        ASSERT_NE(0u, a);
        ASSERT_NO_FATAL_FAILURE(settle("map 8 rw"));
        ASSERT_TRUE(wl_.Unmap(a + 2 * pg, 2));
        ASSERT_NO_FATAL_FAILURE(settle("unmap the middle (split)"));
        ASSERT_TRUE(wl_.Protect(a + 5 * pg, 1, "r"));
        ASSERT_NO_FATAL_FAILURE(settle("protect r (split in three)"));
        ASSERT_TRUE(wl_.Protect(a + 5 * pg, 1, "rw"));
        ASSERT_NO_FATAL_FAILURE(settle("protect rw (merge back)"));
        ASSERT_NE(0u, wl_.MapFile(P("link.bin")));
        ASSERT_NE(std::string::npos, wl_.Maps().find("/data dir/my file.bin\n")) << wl_.Maps();
        ASSERT_NO_FATAL_FAILURE(settle("mapfile with spaces"));
        ASSERT_EQ(0, unlink(spaced.c_str()));
        ASSERT_NE(std::string::npos, wl_.Maps().find("/data dir/my file.bin (deleted)\n")) << wl_.Maps();
        // An unlink takes no mmap lock: eBPF capture sees the new text at its
        // next resync, or when told to read.
        if (CaptureIsEbpf())
                Send("reload");
        ASSERT_NO_FATAL_FAILURE(settle("file deleted"));
        // Names the kernel prints oddly: trailing blanks, a newline (as \012),
        // a backslash, a name that itself ends in " (deleted)".
        const std::vector<std::string> odd = {"  lead and trail  ", "new\nline", "back\\slash (deleted)"};
        for (size_t i = 0; i < odd.size(); i++) {
                std::string link = P("odd" + std::to_string(i));
                ASSERT_TRUE(WriteFile(spaced_dir + "/" + odd[i], std::string(pg, 'o')));
                ASSERT_EQ(0, symlink((spaced_dir + "/" + odd[i]).c_str(), link.c_str()));
                ASSERT_NE(0u, wl_.MapFile(link));
        }
        ASSERT_NE(std::string::npos, wl_.Maps().find("/new\\012line\n")) << wl_.Maps();
        ASSERT_NO_FATAL_FAILURE(settle("odd names"));

        RunResult now = Replay();
        EXPECT_EQ(0, now.code) << now.Describe();
        EXPECT_EQ(wl_.Maps(), now.out);
        RunResult v = RunAgent({"verify", "backups"});
        EXPECT_EQ(0, v.code) << v.Describe();

        RunResult before = Replay("20000101T000000.000000Z");
        EXPECT_EQ(66, before.code) << "nothing was recorded in 2000\n" << before.Describe();
        EXPECT_EQ("", before.out);

        for (const auto &s : steps) {
                SCOPED_TRACE(s.what + " at " + s.ts);
                RunResult r = Replay(s.ts);
                EXPECT_EQ(0, r.code) << r.Describe();
                EXPECT_EQ(s.maps, r.out);
        }
}

// 5. Files 0600, folders 0700, whatever the umask; in the foreground (which
// keeps the umask) and as a daemon.
TEST_F(AgentTest, FilesArePrivateUnderUmask000Foreground) {
        std::string err;
        // In the foreground the log is mirrored to stderr: to a file, so
        // that a full pipe cannot stall the agent while the test waits.
        SpawnOptions o = AgentOptions({"-p", wpid_, "-T", "50000"}, 0);
        o.stderr_file = P("agent.stderr");
        auto agent = Process::Start(o, &err);
        ASSERT_TRUE(agent) << err;
        ASSERT_TRUE(WaitFor([&] { return Fulls().size() == 1 && IsFifo(P("logs/daemon_fifo")); }, kLong))
            << ReadFileOr(P("agent.stderr"));
        // The premise: the agent really runs with umask 000.
        EXPECT_NE(std::string::npos,
                  ReadFileOr("/proc/" + std::to_string(agent->pid()) + "/status").find("Umask:\t0000\n"));
        ASSERT_NE(0u, wl_.Map(2, "r"));
        EXPECT_TRUE(WaitFor([&] { return !Diffs().empty(); }, kShort));
        Send("backup");
        EXPECT_TRUE(WaitLog("Manual backup created"));
        ExpectPrivate(P("logs"));
        ExpectPrivate(P("backups"));
        EXPECT_EQ(0600, FileMode(P("logs/daemon_fifo")));
        EXPECT_EQ(0600, FileMode(P("logs/memmon.pid")));
        agent->Signal(SIGTERM);
        int code = -1;
        ASSERT_TRUE(agent->Wait(kLong, &code));
        EXPECT_EQ(0, code) << ReadFileOr(P("agent.stderr"));
        ExpectPrivate(P("logs"));
        ExpectPrivate(P("backups"));
}

TEST_F(AgentTest, FilesArePrivateUnderUmask000Daemon) {
        ASSERT_NO_FATAL_FAILURE(StartDaemon(50000, 0));
        ASSERT_TRUE(WaitFor([&] { return Fulls().size() == 1; }, kShort));
        ASSERT_NE(0u, wl_.Map(2, "r"));
        EXPECT_TRUE(WaitFor([&] { return !Diffs().empty(); }, kShort));
        Send("backup");
        EXPECT_TRUE(WaitLog("Manual backup created"));
        ExpectPrivate(P("logs"));
        ExpectPrivate(P("backups"));
        EXPECT_TRUE(PathExists(P("logs/daemon_output.log")));
        EXPECT_EQ(0600, FileMode(P("logs/daemon_fifo")));
        EXPECT_EQ(0600, FileMode(P("logs/memmon.pid")));
}

// 6. A tick with no change writes nothing.  Waiting a fixed time is the point
// here: the test asserts that nothing happens in 20 intervals.
TEST_F(AgentTest, NoChangeNoFile) {
        ASSERT_NO_FATAL_FAILURE(StartDaemon(50000));
        ASSERT_TRUE(WaitFor([&] { return Fulls().size() == 1; }, kShort));
        std::this_thread::sleep_for(Millis(1000));
        EXPECT_TRUE(Diffs().empty()) << Diffs().size() << " diffs, first " << Diffs()[0];
        EXPECT_EQ(1u, Fulls().size());
        EXPECT_TRUE(Visible(ListDir(P("backups"))) == std::vector<std::string>({"full", "incremental"}));
}

// 7. The interactive prompt.
TEST_F(AgentTest, InteractivePrompt) {
        std::string err;
        auto agent = Process::Start(AgentOptions({"-p", wpid_, "-i"}), &err);
        ASSERT_TRUE(agent) << err;
        ASSERT_TRUE(agent->WaitForStdout(">>> ", kLong)) << agent->out() << agent->err();
        EXPECT_EQ(0u, agent->out().find(">>> ")) << agent->out();

        // Sends a command and returns what came back up to the next prompt.
        auto ask = [&](const std::string &cmd) {
                size_t from = agent->out().size();
                EXPECT_TRUE(agent->WriteStdin(cmd + "\n"));
                const std::string &o = agent->out();
                bool prompt = agent->ReadUntil(
                    [&] { return o.size() >= from + 4 && o.compare(o.size() - 4, 4, ">>> ") == 0; }, kShort);
                EXPECT_TRUE(prompt) << "no prompt after " << cmd << ": " << o.substr(from);
                std::string reply = o.substr(from);
                return prompt ? reply.substr(0, reply.size() - 4) : reply;
        };

        // Right after start the target can still be "waiting" (see
        // StatusRightAfterStartInteractive): a person looks at the prompt first.
        ASSERT_TRUE(WaitFor([&] { return Fulls().size() == 1; }, kShort));
        std::string r = ask("status");
        EXPECT_NE(std::string::npos, r.find("Current PID: " + wpid_ + "\n")) << r;
        EXPECT_NE(std::string::npos, r.find("Sample interval: 2000000 us\n")) << r;
        EXPECT_NE(std::string::npos, r.find("Status: running\n")) << r;

        r = ask("interval banana");
        EXPECT_NE(std::string::npos, r.find("banana")) << r;
        EXPECT_EQ(1u, SplitLines(r).size()) << r;

        r = ask("interval 1000000");
        EXPECT_EQ("Interval changed to: 1000000 us\n", r);
        r = ask("backup");
        EXPECT_EQ("Manual backup created\n", r);

        size_t from = agent->out().size();
        ASSERT_TRUE(agent->WriteStdin("quit\n"));
        EXPECT_TRUE(agent->WaitForStdout("Exiting...\n", kShort, from)) << agent->out().substr(from);
        int code = -1;
        ASSERT_TRUE(agent->Wait(kLong, &code)) << "the agent did not exit after quit";
        EXPECT_EQ(0, code) << agent->err();
        EXPECT_FALSE(PathExists(P("logs/daemon_fifo")));
        EXPECT_FALSE(PathExists(P("logs/memmon.pid")));
}

TEST_F(AgentTest, InteractiveEofExits) {
        std::string err;
        auto agent = Process::Start(AgentOptions({"-p", wpid_, "-i"}), &err);
        ASSERT_TRUE(agent) << err;
        ASSERT_TRUE(agent->WaitForStdout(">>> ", kLong)) << agent->out() << agent->err();
        agent->CloseStdin();
        int code = -1;
        ASSERT_TRUE(agent->Wait(kLong, &code)) << "the agent did not exit at end of input";
        EXPECT_EQ(0, code) << agent->err();
        EXPECT_NE(std::string::npos, agent->out().find("Exiting...")) << agent->out();
}

// The agent attaches to its targets before it shows its prompt (or a
// daemon reports success), so a `status` sent at once says "Status: running"
// for a process that exists ("waiting" means it does not). Before that was
// so, `printf 'status\n' | agent -p PID -i` said "waiting" most of the time;
// fifty tries make a regression near certain to show.
TEST_F(AgentTest, StatusRightAfterStartInteractive) {
        int waiting = 0;
        const int tries = 50;
        for (int i = 0; i < tries; i++) {
                std::string err;
                auto agent = Process::Start(AgentOptions({"-p", wpid_, "-i"}), &err);
                ASSERT_TRUE(agent) << err;
                ASSERT_TRUE(agent->WriteStdin("status\nquit\n"));
                int code = -1;
                ASSERT_TRUE(agent->Wait(kLong, &code));
                EXPECT_EQ(0, code) << agent->err();
                ASSERT_NE(std::string::npos, agent->out().find("Status: ")) << agent->out();
                if (agent->out().find("Status: running\n") == std::string::npos)
                        waiting++;
        }
        EXPECT_EQ(0, waiting) << "of " << tries << " agents, " << waiting
                              << " said the target was not running";
}

// 8. Exit codes follow sysexits and messages name the bad value.
TEST_F(AgentTest, ExitCodes) {
        RunResult r = RunAgent({"-p", wpid_, "-T", "abc"});
        EXPECT_EQ(64, r.code) << r.Describe();
        EXPECT_NE(std::string::npos, r.err.find("abc")) << r.Describe();

        std::string missing = std::to_string(UnusedPid(999999));
        r = RunAgent({"-p", missing});
        EXPECT_EQ(66, r.code) << r.Describe();
        EXPECT_NE(std::string::npos, r.err.find(missing)) << r.Describe();

        r = RunAgent({"-x"});
        EXPECT_EQ(64, r.code) << r.Describe();

        r = RunAgent({"-h"});
        EXPECT_EQ(0, r.code) << r.Describe();
        EXPECT_NE(std::string::npos, r.out.find("Usage")) << r.Describe();
}

// 9. One agent per base directory; a stale lock left by a killed agent does
// not block the next one.
TEST_F(AgentTest, SecondAgentRefusedUntilFirstDies) {
        ASSERT_NO_FATAL_FAILURE(StartDaemon(200000));
        Daemon *first = daemon_;
        std::string first_pid = std::to_string(first->pid());

        RunResult r = RunAgent({"-p", wpid_, "-d", "-T", "200000"});
        EXPECT_FALSE(r.timed_out);
        EXPECT_NE(0, r.code) << r.Describe();
        EXPECT_NE(std::string::npos, r.err.find(first_pid)) << r.Describe();

        r = RunAgent({"-p", wpid_, "-T", "200000"}, Millis(5000));
        EXPECT_FALSE(r.timed_out) << "a second foreground agent ran on the same folder";
        EXPECT_NE(0, r.code) << r.Describe();
        EXPECT_NE(std::string::npos, r.err.find(first_pid)) << r.Describe();

        EXPECT_TRUE(first->Alive());
        EXPECT_EQ(first->pid(), ReadPidFile(P("logs/memmon.pid")));
        EXPECT_TRUE(IsFifo(P("logs/daemon_fifo")));

        first->Kill(SIGKILL);
        int code;
        ASSERT_TRUE(first->WaitExit(kLong, &code));
        ASSERT_TRUE(PathExists(P("logs/memmon.pid"))) << "SIGKILL cannot remove the pid file";
        ASSERT_TRUE(IsFifo(P("logs/daemon_fifo")));

        size_t answered = CountOccurrences(Log(), "Status: running");
        ASSERT_NO_FATAL_FAILURE(StartDaemon(200000));
        EXPECT_NE(first->pid(), daemon_->pid());
        EXPECT_TRUE(daemon_->Alive());
        Send("status");
        EXPECT_TRUE(WaitLog("Status: running", answered + 1));
}

// 10. The agent never follows or replaces something else at the FIFO's path.
TEST_F(AgentTest, FifoPathThatIsNotAFifoIsRefused) {
        ASSERT_EQ(0, mkdir(P("logs").c_str(), 0700));
        const std::string fifo = P("logs/daemon_fifo");
        const std::string target = P("target.txt");
        const std::string missing = P("nowhere");
        ASSERT_TRUE(WriteFile(target, "keep me\n", 0644));

        struct Case {
                std::string name;
                std::function<bool()> make;
                std::function<void()> check;
        };
        std::vector<Case> cases = {
            {"regular file", [&] { return WriteFile(fifo, "precious\n", 0644); },
             [&] {
                     EXPECT_FALSE(IsSymlink(fifo));
                     EXPECT_FALSE(IsFifo(fifo));
                     EXPECT_EQ("precious\n", ReadFileOr(fifo));
                     EXPECT_EQ(0644, FileMode(fifo));
             }},
            {"symlink to a file", [&] { return symlink(target.c_str(), fifo.c_str()) == 0; },
             [&] {
                     EXPECT_TRUE(IsSymlink(fifo));
                     EXPECT_EQ(target, ReadLink(fifo));
                     EXPECT_EQ("keep me\n", ReadFileOr(target));
                     EXPECT_EQ(0644, FileMode(target));
             }},
            {"dangling symlink", [&] { return symlink(missing.c_str(), fifo.c_str()) == 0; },
             [&] {
                     EXPECT_TRUE(IsSymlink(fifo));
                     EXPECT_EQ(missing, ReadLink(fifo));
                     EXPECT_FALSE(PathExists(missing));
             }},
        };
        for (const auto &c : cases) {
                SCOPED_TRACE(c.name);
                ASSERT_TRUE(c.make());
                RunResult r = RunAgent({"-p", wpid_, "-d", "-T", "200000"});
                if (r.code == 0) {
                        pid_t pid = ReadPidFile(P("logs/memmon.pid"));
                        if (pid > 0)
                                daemons_.push_back(std::make_unique<Daemon>(pid));
                }
                EXPECT_NE(0, r.code) << r.Describe();
                EXPECT_NE(std::string::npos, r.err.find("daemon_fifo")) << r.Describe();
                c.check();
                EXPECT_FALSE(PathExists(P("logs/memmon.pid")));
                ASSERT_EQ(0, unlink(fifo.c_str()));
        }
}

// 11. Over-long FIFO lines are rejected; many short-lived writers are fine
// and leave no busy loop behind.
TEST_F(AgentTest, FifoLongLinesAndManyWriters) {
        ASSERT_NO_FATAL_FAILURE(StartDaemon(200000));
        Send(std::string(5000, 'x'));
        EXPECT_TRUE(WaitFor([&] { return HasLineWith(Log(), "rejected", "5000"); }, kShort))
            << "the 5000-byte line was not reported";
        Send("status");
        EXPECT_TRUE(WaitLog("Status: running"));
        EXPECT_FALSE(HasLineWith(Log(), "nknown", "xxx")) << "the tail of the long line ran as a command";

        // Junk: NUL and control bytes, invalid UTF-8, then a valid command.
        size_t answered = CountOccurrences(Log(), "Status: running");
        static const char junk[] = "st\0atus\x01\x1b[2J\xff\xfe";
        Send(std::string(junk, sizeof(junk) - 1));
        Send("status");
        EXPECT_TRUE(WaitLog("Status: running", answered + 1));
        EXPECT_TRUE(daemon_->Alive());

        const size_t writers = 100;
        size_t before = CountOccurrences(Log(), "Status: running");
        for (size_t i = 0; i < writers; i++)
                ASSERT_TRUE(WriteFifo(P("logs/daemon_fifo"), "status\n")) << "writer " << i;
        EXPECT_TRUE(WaitLog("Status: running", before + writers, kLong))
            << CountOccurrences(Log(), "Status: running") - before << " of " << writers << " answered";

        // Every writer has closed: the agent must be idle, not spinning on
        // the FIFO.  Measuring over a fixed second is the point here.
        long long t0 = ProcessCpuTicks(daemon_->pid());
        ASSERT_GE(t0, 0);
        std::this_thread::sleep_for(Millis(1000));
        long long t1 = ProcessCpuTicks(daemon_->pid());
        EXPECT_LT(t1 - t0, 20) << "CPU ticks in 1 s with no writer";
        EXPECT_TRUE(daemon_->Alive());
}

// 12. SIGTERM stops cleanly; SIGHUP reopens the logs and re-reads the maps.
TEST_F(AgentTest, SigtermStopsAndCleansUp) {
        ASSERT_NO_FATAL_FAILURE(StartDaemon(200000));
        ASSERT_TRUE(WaitFor([&] { return Fulls().size() == 1; }, kShort));
        daemon_->Kill(SIGTERM);
        int code = -1;
        ASSERT_TRUE(daemon_->WaitExit(kLong, &code)) << "the daemon did not exit on SIGTERM";
        EXPECT_EQ(0, code);
        EXPECT_FALSE(PathExists(P("logs/daemon_fifo")));
        EXPECT_FALSE(PathExists(P("logs/memmon.pid")));
}

TEST_F(AgentTest, SighupReopensLogsAndRereadsMaps) {
        // A 30 s interval: the change below is seen only because of SIGHUP.
        ASSERT_NO_FATAL_FAILURE(StartDaemon(30000000));
        ASSERT_TRUE(WaitFor([&] { return Fulls().size() == 1; }, kShort));
        ASSERT_NE(0u, wl_.Map(1, "r"));
        ASSERT_EQ(0, rename(P("logs/monitor.log").c_str(), P("logs/monitor.log.1").c_str()));
        daemon_->Kill(SIGHUP);
        // The new monitor.log says so (in one line or two).
        EXPECT_TRUE(WaitFor(
            [&] {
                    std::string l = ToLower(Log());
                    return l.find("sighup") != std::string::npos && l.find("reopen") != std::string::npos &&
                           l.find("re-read") != std::string::npos;
            },
            kShort))
            << "no new monitor.log saying SIGHUP: logs reopened, maps re-read";
        EXPECT_EQ(0600, FileMode(P("logs/monitor.log")));
        EXPECT_TRUE(WaitFor([&] { return Diffs().size() == 1; }, kShort))
            << "SIGHUP did not re-read the maps";

        std::string old_log = ReadFileOr(P("logs/monitor.log.1"));
        Send("status");
        EXPECT_TRUE(WaitLog("Status: running"));
        EXPECT_EQ(old_log, ReadFileOr(P("logs/monitor.log.1"))) << "the old log was written after SIGHUP";
        EXPECT_TRUE(daemon_->Alive());

        // A storm of SIGHUPs: the agent stays up and answers.
        for (int i = 0; i < 50; i++)
                daemon_->Kill(SIGHUP);
        size_t answered = CountOccurrences(Log(), "Status: running");
        Send("status");
        EXPECT_TRUE(WaitLog("Status: running", answered + 1));
        EXPECT_TRUE(daemon_->Alive());
}

// 13. The target exits: logged, a final full snapshot, and the agent goes on.
TEST_F(AgentTest, TargetExitIsRecorded) {
        ASSERT_NO_FATAL_FAILURE(StartDaemon(100000));
        ASSERT_TRUE(WaitFor([&] { return Fulls().size() == 1; }, kShort));
        wl_.Kill();
        EXPECT_TRUE(WaitFor([&] { return HasLineWith(Log(), "pid " + wpid_, "exited"); }, kShort));
        EXPECT_TRUE(WaitFor([&] { return Fulls().size() == 2; }, kShort))
            << Fulls().size() << " full backups";
        // The state flips once the final snapshot is written: ask until it
        // says so.
        EXPECT_TRUE(WaitFor(
            [&] {
                    if (CountOccurrences(Log(), "Status: exited") > 0)
                            return true;
                    Send("status");
                    return false;
            },
            kShort, Millis(100)));
        EXPECT_TRUE(daemon_->Alive());
        RunResult v = RunAgent({"verify", "backups"});
        EXPECT_EQ(0, v.code) << v.Describe();
}

// A target that exits but is not reaped (a zombie: its maps read empty) has
// exited too.
TEST_F(AgentTest, TargetExitAsZombie) {
        ASSERT_NO_FATAL_FAILURE(StartDaemon(100000));
        ASSERT_TRUE(WaitFor([&] { return Fulls().size() == 1; }, kShort));
        wl_.process()->Signal(SIGKILL); // not reaped: a zombie until the test ends
        ASSERT_TRUE(WaitFor([&] { return ProcessIsZombie(wl_.pid()); }, kShort))
            << "the workload did not become a zombie";
        EXPECT_TRUE(WaitFor([&] { return HasLineWith(Log(), "pid " + wpid_, "exited"); }, kShort));
        EXPECT_TRUE(WaitFor([&] { return Fulls().size() == 2; }, kShort))
            << Fulls().size() << " full backups";
        EXPECT_TRUE(daemon_->Alive());
}

// A -p target whose process exited is "exited" for good (SPEC 4: the worker
// stops): pause then resume must not bring it back to "waiting", where it
// would attach to whatever process reuses the pid.
TEST_F(AgentTest, ExitedPidTargetStaysExitedAfterPauseResume) {
        ASSERT_NO_FATAL_FAILURE(StartDaemon(100000));
        ASSERT_TRUE(WaitFor([&] { return Fulls().size() == 1; }, kShort));
        wl_.Kill();
        ASSERT_TRUE(WaitFor(
            [&] {
                    if (CountOccurrences(Log(), "Status: exited") > 0)
                            return true;
                    Send("status");
                    return false;
            },
            kShort, Millis(100)));
        // pause and resume answer with the state the target is left in.
        Send("pause");
        EXPECT_TRUE(WaitLog("pid" + wpid_ + ": exited"));
        Send("resume");
        EXPECT_TRUE(WaitLog("pid" + wpid_ + ": exited", 2));
        size_t exited = CountOccurrences(Log(), "Status: exited");
        size_t answers = CountOccurrences(Log(), "Status: ");
        Send("status");
        ASSERT_TRUE(WaitLog("Status: ", answers + 1));
        EXPECT_EQ(exited + 1, CountOccurrences(Log(), "Status: exited"))
            << "status after resume is not exited";
        EXPECT_FALSE(HasLineWith(Log(), "waiting", "does not exist"))
            << "the exited pid target went back to waiting";
}

} // namespace
} // namespace memmon_test
