// testutil: helpers for the integration tests that run the real agent binary
// against real processes: starting processes with pipes, talking to the
// workload, writing to the FIFO, waiting on conditions with a deadline, and
// reading files, folders and process state.
//
// Every process a helper starts is owned by an object whose destructor kills
// and reaps it, so a failing test leaves nothing running.
#ifndef MEMMON_TESTS_TESTUTIL_H
#define MEMMON_TESTS_TESTUTIL_H

#include <stdint.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace memmon_test {

using Millis = std::chrono::milliseconds;

// Polls pred every `every` until it returns true or timeout has passed.
// Returns the last value of pred (it is called once more at the deadline).
bool WaitFor(const std::function<bool()> &pred, Millis timeout, Millis every = Millis(5));

// The capture mode the integration tests run the agent in:
// $MEMMON_TEST_CAPTURE (poll or ebpf; the BUILD file runs each of these
// tests once in each mode), as {"--capture", MODE}; empty when unset (the
// agent's own choice, auto).
std::vector<std::string> CaptureArgs();

// True when the tests run the agent with eBPF capture (MEMMON_TEST_CAPTURE
// is ebpf).
bool CaptureIsEbpf();

// Inserts CaptureArgs() into argv at index at (just after the agent's
// path) unless argv[at] is a subcommand (replay, verify, report, scan, ctl),
// which takes no --capture.
void InsertCaptureArgs(std::vector<std::string> *argv, size_t at);

// The path of a runfile such as "agent/agent" ($TEST_SRCDIR/memmon/...).
std::string Runfile(const std::string &rel);
std::string AgentPath();
std::string WorkloadPath();

// A fresh, empty folder under $TEST_TMPDIR (or /tmp) whose name starts with
// prefix (characters other than [A-Za-z0-9_] become '_').  Returns "" on
// failure.
std::string MakeTempDir(const std::string &prefix);

// MakeTempDir() named after the running test.
std::string TestTempDir();

// Makes the calling process a child subreaper, so that a daemon that
// double-forks becomes our child and can be reaped with its exit status.
// Also ignores SIGPIPE (a pipe to a dead child must not kill the test).
void PrepareTestProcess();

// Gives the children of this process up to `grace` to end, then kills
// (SIGKILL) and reaps the rest, and returns how many were still running then
// (zombies are only reaped).  After PrepareTestProcess() the children include
// detached daemons: the safety net for a daemon no guard knew about (say, one
// that was refused and is still cleaning up).
int KillAllChildren(Millis grace = Millis(2000));

// Files and folders.
bool ReadFile(const std::string &path, std::string *ret);
std::string ReadFileOr(const std::string &path, const std::string &dflt = "");
bool WriteFile(const std::string &path, const std::string &data, mode_t mode = 0644);
bool PathExists(const std::string &path); // lstat: a dangling symlink exists
bool IsFifo(const std::string &path);
bool IsSymlink(const std::string &path);
bool IsDir(const std::string &path);
// Permission bits (st_mode & 07777, lstat) or -1 when the path is missing.
int FileMode(const std::string &path);
std::string ReadLink(const std::string &path);
// Sorted names in dir, without "." and ".."; empty when dir is missing.
std::vector<std::string> ListDir(const std::string &dir);
// Every path under root (not root itself), recursively, sorted.
std::vector<std::string> ListTree(const std::string &root);
size_t CountOccurrences(const std::string &hay, const std::string &needle);

// Text.
// The lines of text, without their '\n'.
std::vector<std::string> SplitLines(const std::string &text);
// Each of lines followed by '\n', for failure messages.
std::string JoinLines(const std::vector<std::string> &lines);
std::string ToLower(std::string s);
// True when some line of text holds both a and b.
bool HasLineWith(const std::string &text, const std::string &a, const std::string &b);
// True when one of lines is exactly line.
bool Contains(const std::vector<std::string> &lines, const std::string &line);
// How many of names start with prefix.
size_t CountStartingWith(const std::vector<std::string> &names, const std::string &prefix);
// Backup names, without temp files and other dotfiles.
std::vector<std::string> Visible(const std::vector<std::string> &names);

// Processes.
// True while pid exists and is not a zombie.  When pid is our child and has
// exited it is reaped here (its status is lost: use Daemon::WaitExit).
bool ProcessAlive(pid_t pid);
// True when pid is a zombie (it has ended and nobody reaped it yet).  Never
// reaps.
bool ProcessIsZombie(pid_t pid);
// utime + stime of pid (every thread) in clock ticks, or -1.
long long ProcessCpuTicks(pid_t pid);
// A pid for which no process exists (checked in /proc), at or above from.
pid_t UnusedPid(pid_t from);
// The pid written in a pid file, or 0.
pid_t ReadPidFile(const std::string &path);

// Writes data to a FIFO (non-blocking open: fails rather than hangs when
// nobody reads it).  Returns true when everything was written in time.
bool WriteFifo(const std::string &path, const std::string &data, Millis timeout = Millis(5000));

struct SpawnOptions {
        std::vector<std::string> argv; // argv[0] is the program's path
        std::string cwd;               // empty: the test's own
        int umask = -1;                // -1: inherit
        bool pipe_stdin = true;        // false: /dev/null
        // When set, stderr goes to this file (appended) instead of a pipe:
        // for a chatty process that nobody reads while the test waits.
        std::string stderr_file;
        // Removed from the child's environment.  BUILD_WORKING_DIRECTORY
        // would make the agent chdir away from cwd under `bazel run`.
        std::vector<std::string> unset_env = {"BUILD_WORKING_DIRECTORY"};
};

// A child process with pipes to its stdin, stdout and stderr.  The
// destructor kills (SIGKILL) and reaps it if it is still running.
class Process {
      public:
        // Returns nullptr and sets *err when the program cannot be started.
        static std::unique_ptr<Process> Start(const SpawnOptions &opt, std::string *err);
        ~Process();
        Process(const Process &) = delete;
        Process &operator=(const Process &) = delete;

        pid_t pid() const {
                return pid_;
        }
        bool WriteStdin(const std::string &data, Millis timeout = Millis(5000));
        void CloseStdin();
        // Reads what stdout and stderr have (waiting up to timeout for the
        // first byte).  Returns false at EOF on both.
        bool Pump(Millis timeout);
        // Pumps until pred() is true or the deadline passes.
        bool ReadUntil(const std::function<bool()> &pred, Millis timeout);
        // Pumps until stdout, from offset `from` on, contains needle.
        bool WaitForStdout(const std::string &needle, Millis timeout, size_t from = 0);
        const std::string &out() const {
                return out_;
        }
        const std::string &err() const {
                return err_;
        }
        // Waits for the process to end, pumping its output.  Returns true
        // when it ended; *code is the exit code, or 128 + signal.
        bool Wait(Millis timeout, int *code);
        bool exited() const {
                return reaped_;
        }
        void Signal(int sig);

      private:
        Process() = default;
        bool TryReap();

        pid_t pid_ = -1;
        int in_ = -1, out_fd_ = -1, err_fd_ = -1;
        std::string out_, err_;
        bool reaped_ = false;
        int code_ = -1;
};

struct RunResult {
        bool started = false;
        bool timed_out = false;
        int code = -1; // exit code, or 128 + signal
        std::string out, err;
        std::string Describe() const; // for failure messages
};

// Runs a program to completion with stdin from /dev/null; kills it at the
// timeout.
RunResult RunProcess(const SpawnOptions &opt, Millis timeout = Millis(10000));

// A child that only waits to be killed, named comm (as /proc/PID/comm and a
// `match` target see it) when comm is given.  The destructor, or Kill(),
// kills and reaps it.
class Sleeper {
      public:
        explicit Sleeper(const char *comm = nullptr);
        ~Sleeper();
        Sleeper(const Sleeper &) = delete;
        Sleeper &operator=(const Sleeper &) = delete;
        pid_t pid() const {
                return pid_;
        }
        void Kill();

      private:
        pid_t pid_ = -1;
};

// A detached agent daemon (found through its pid file).  With
// PrepareTestProcess() it is our child.  The destructor SIGKILLs it if it
// still runs.
class Daemon {
      public:
        explicit Daemon(pid_t pid) : pid_(pid) {}
        ~Daemon();
        Daemon(const Daemon &) = delete;
        Daemon &operator=(const Daemon &) = delete;

        pid_t pid() const {
                return pid_;
        }
        bool Alive();
        // Waits until it is gone.  *code gets the exit code (or 128 +
        // signal) when it was our child, else -1.
        bool WaitExit(Millis timeout, int *code);
        void Kill(int sig);

      private:
        pid_t pid_;
        bool gone_ = false;
        int code_ = -1;
};

// Prints the base folder's tree and the tails of its logs (and of the
// agent's stderr, when a test kept it in base/agent.stderr), so that a
// failed integration test shows what the agent did.
void DumpBaseOnFailure(const std::string &dir);

// Destroyed after every guard of a fixture, it kills whatever they missed (a
// second agent that should have refused and did not, the programs of a
// killed daemon's exec targets) and fails the test if there was any.
struct LeftoverKiller {
        ~LeftoverKiller();
};

// The fixture of the integration tests: the test process prepared, a fresh
// base folder per test (dir_, and P() for a path in it), the agent run in it
// (as a command or as a daemon the fixture takes charge of), leftovers
// killed after the derived fixture's own members are gone, and the folder's
// tree and logs printed when the test failed.
class BaseDirTest : public ::testing::Test {
      protected:
        void SetUp() override;
        void TearDown() override;
        std::string P(const std::string &rel) const {
                return dir_ + "/" + rel;
        }

        // The agent binary with args (and CaptureArgs()), run in dir_ with
        // umask mask (-1: the test's own).
        SpawnOptions AgentOptions(const std::vector<std::string> &args, int mask = -1) const;
        // Runs the agent to completion.
        RunResult RunAgent(const std::vector<std::string> &args, Millis timeout = Millis(15000),
                           int mask = -1);
        // Runs `agent -d ARGS`, expects exit 0, and takes charge of the daemon
        // it leaves behind (daemon_, found through logs/memmon.pid).
        void StartDaemon(const std::vector<std::string> &args, int mask = -1);
        // Writes cmd and a newline to the daemon's FIFO.
        void Send(const std::string &cmd);
        // logs/monitor.log, or "".
        std::string Log() const;

        LeftoverKiller leftovers_;
        std::string dir_; // its real path
        // Daemons started by StartDaemon (killed, if still running, before
        // leftovers_ looks for more); daemon_ is the last one.
        std::vector<std::unique_ptr<Daemon>> daemons_;
        Daemon *daemon_ = nullptr;
};

// The workload (bench/workload): a process whose mappings change on command.
class Workload {
      public:
        // Starts it and waits for "ready PID".  Returns false with *err set.
        bool Start(std::string *err, const std::vector<std::string> &args = {});
        // The same for the workload binary at path (a copy under another
        // name, say).
        bool StartAt(const std::string &path, std::string *err, const std::vector<std::string> &args = {});
        pid_t pid() const {
                return pid_;
        }
        // Sends one command and returns its reply line (no '\n'), or "" when
        // none came in time.
        std::string Command(const std::string &cmd, Millis timeout = Millis(5000));
        // "map PAGES PROT": the new mapping's address, or 0 on failure.
        uintptr_t Map(size_t pages, const std::string &prot);
        uintptr_t MapFile(const std::string &path, size_t pages = 0);
        bool Unmap(uintptr_t addr, size_t pages);
        bool Protect(uintptr_t addr, size_t pages, const std::string &prot);
        // The current /proc/PID/maps text.
        std::string Maps() const;
        // Kills it (SIGKILL) and reaps it.
        void Kill();
        // Sends sig and does not reap: after SIGKILL it is a zombie until
        // Kill() or the destructor.
        void Signal(int sig);
        Process *process() {
                return proc_.get();
        }

      private:
        std::unique_ptr<Process> proc_;
        size_t read_pos_ = 0;
        pid_t pid_ = -1;
};

// BaseDirTest with a workload started for the test (wl_, its pid as text
// in wpid_).
class WorkloadDirTest : public BaseDirTest {
      protected:
        void SetUp() override;
        Workload wl_;
        std::string wpid_;
};

size_t PageSize();
std::string Hex(uintptr_t v); // "7f3e..." without 0x

} // namespace memmon_test

#endif
