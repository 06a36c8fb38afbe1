// Starting watched programs (agent/spawn.c): held at the first instruction
// until released, stdin from /dev/null, output to a 0600 file, signals
// unblocked, PATH search and scripts as execvp has them, and every way of
// failing reported to the caller.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "agent/spawn.h"
#include "tests/testutil.h"

namespace {

using namespace memmon_test;

// The value of a "Key:\tvalue" line of /proc/PID/status.
std::string StatusField(pid_t pid, const std::string &key) {
        std::istringstream in(ReadFileOr("/proc/" + std::to_string(pid) + "/status"));
        for (std::string line; std::getline(in, line);)
                if (line.compare(0, key.size() + 1, key + ":") == 0)
                        return line.substr(line.find_first_not_of(" \t", key.size() + 1));
        return "";
}

// Starts argv; returns its pid (or -errno) and whether it is held.
pid_t Start(std::vector<std::string> args, const std::string &out, int *stopped) {
        std::vector<char *> argv;
        for (auto &a : args)
                argv.push_back(&a[0]);
        argv.push_back(nullptr);
        pid_t pid = 0;
        int fd = -1;
        if (!out.empty()) {
                fd = open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
                if (fd < 0)
                        return -errno;
        }
        int r = spawn_start(argv.data(), fd, &pid, stopped);
        if (fd >= 0)
                close(fd);
        return r < 0 ? r : pid;
}

// Lets pid run and returns its $?.
int Finish(pid_t pid, int stopped) {
        if (stopped)
                spawn_release(pid);
        int status = 0;
        if (waitpid(pid, &status, 0) != pid)
                return -1;
        return spawn_exit_code(status);
}

TEST(SpawnTest, HeldAtItsFirstInstructionUntilReleased) {
        std::string d = TestTempDir(), out = d + "/prog.out";
        int stopped = 0;
        sigset_t block, old;
        sigemptyset(&block);
        sigaddset(&block, SIGTERM);
        sigaddset(&block, SIGHUP);
        ASSERT_EQ(0, pthread_sigmask(SIG_BLOCK, &block, &old));
        pid_t pid =
            Start({"/bin/sh", "-c", "echo out; echo err >&2; readlink /proc/self/fd/0"}, out, &stopped);
        pthread_sigmask(SIG_SETMASK, &old, nullptr);
        ASSERT_GT(pid, 0) << strerror(-pid);
        if (!stopped) {
                Finish(pid, stopped);
                GTEST_SKIP() << "tracing is not permitted here: the program runs at once";
        }
        EXPECT_EQ(0u, StatusField(pid, "State").find("t")) << StatusField(pid, "State");
        EXPECT_EQ("", ReadFileOr(out)) << "nothing ran yet";
        EXPECT_EQ("0000000000000000", StatusField(pid, "SigBlk"))
            << "the agent's blocked signals are not inherited";
        EXPECT_EQ(0, Finish(pid, stopped));
        EXPECT_EQ("out\nerr\n/dev/null\n", ReadFileOr(out));
        struct stat st;
        ASSERT_EQ(0, stat(out.c_str(), &st));
        EXPECT_EQ(0600u, st.st_mode & 07777);
}

TEST(SpawnTest, FindsProgramsAsExecvpDoes) {
        std::string d = TestTempDir(), out = d + "/prog.out";
        int stopped = 0;
        // A bare name is searched in PATH.
        pid_t pid = Start({"sh", "-c", "exit 3"}, out, &stopped);
        ASSERT_GT(pid, 0) << strerror(-pid);
        EXPECT_EQ(3, Finish(pid, stopped));

        // A script without #! is run by /bin/sh, with its arguments.
        std::string script = d + "/script";
        std::ofstream(script) << "echo via sh \"$1\"\n";
        ASSERT_EQ(0, chmod(script.c_str(), 0700));
        pid = Start({script, "arg"}, out, &stopped);
        ASSERT_GT(pid, 0) << strerror(-pid);
        EXPECT_EQ(0, Finish(pid, stopped));
        EXPECT_NE(std::string::npos, ReadFileOr(out).find("via sh arg\n")) << ReadFileOr(out);

        // PATH is searched in order, missing folders skipped.
        std::string bin = d + "/bin";
        mkdir(bin.c_str(), 0700);
        std::ofstream(bin + "/mmtool") << "#!/bin/sh\nexit 7\n";
        ASSERT_EQ(0, chmod((bin + "/mmtool").c_str(), 0700));
        std::string saved = getenv("PATH") ? getenv("PATH") : "";
        setenv("PATH", ("/nonexistent:" + bin + ":/bin").c_str(), 1);
        pid = Start({"mmtool"}, out, &stopped);
        setenv("PATH", saved.c_str(), 1);
        ASSERT_GT(pid, 0) << strerror(-pid);
        EXPECT_EQ(7, Finish(pid, stopped));
}

TEST(SpawnTest, FailuresAreReported) {
        std::string d = TestTempDir(), out = d + "/prog.out";
        int stopped = 0;
        EXPECT_EQ(-ENOENT, Start({"/nonexistent/prog"}, out, &stopped));
        EXPECT_EQ(-ENOENT, Start({"memmon-no-such-program"}, out, &stopped));
        std::ofstream(d + "/plain") << "data\n";
        ASSERT_EQ(0, chmod((d + "/plain").c_str(), 0600));
        EXPECT_EQ(-EACCES, Start({d + "/plain"}, out, &stopped));
        EXPECT_EQ(-EACCES, Start({d}, out, &stopped)) << "a folder";
        // An output file behind a symlink is refused, and nothing starts.
        ASSERT_EQ(0, symlink("elsewhere", (d + "/link.out").c_str()));
        EXPECT_EQ(-ELOOP, Start({"/bin/true"}, d + "/link.out", &stopped));
        EXPECT_EQ(-1, waitpid(-1, nullptr, WNOHANG)) << "no child left behind";
}

// Only fds 0, 1 and 2 reach the program, even one the agent inherited
// without close-on-exec; and none of the service manager's variables meant
// for the agent.
TEST(SpawnTest, ProgramGetsOnlyStdioAndNoServiceVariables) {
        std::string d = TestTempDir(), out = d + "/prog.out";
        int stray = open("/dev/null", O_RDONLY); // no O_CLOEXEC: as from a launching shell
        ASSERT_GE(stray, 3);
        int high = fcntl(stray, F_DUPFD, 200);
        ASSERT_GE(high, 200);
        setenv("NOTIFY_SOCKET", "/run/systemd/notify", 1);
        setenv("WATCHDOG_USEC", "30000000", 1);
        setenv("WATCHDOG_PID", "1", 1);
        setenv("MEMMON_KEPT", "yes", 1);
        int stopped = 0;
        pid_t pid = Start({"/bin/sh", "-c", "ls /proc/self/fd; env | sort"}, out, &stopped);
        unsetenv("NOTIFY_SOCKET");
        unsetenv("WATCHDOG_USEC");
        unsetenv("WATCHDOG_PID");
        unsetenv("MEMMON_KEPT");
        close(stray);
        close(high);
        ASSERT_GT(pid, 0) << strerror(-pid);
        EXPECT_EQ(0, Finish(pid, stopped));
        std::string text = ReadFileOr(out);
        std::vector<std::string> fds;
        for (const auto &l : SplitLines(text))
                if (!l.empty() && l.find_first_not_of("0123456789") == std::string::npos)
                        fds.push_back(l);
        // ls itself opens one fd to read /proc/self/fd.
        EXPECT_LE(fds.size(), 4u) << text;
        for (const auto &f : fds)
                EXPECT_LE(atoi(f.c_str()), 3) << "fd " << f << " reached the program:\n" << text;
        EXPECT_EQ(std::string::npos, text.find("NOTIFY_SOCKET")) << text;
        EXPECT_EQ(std::string::npos, text.find("WATCHDOG_")) << text;
        EXPECT_NE(std::string::npos, text.find("MEMMON_KEPT=yes")) << text;
}

// The program dies with the process that started it, SIGKILL included.
TEST(SpawnTest, ProgramDiesWithItsParent) {
        int p[2];
        ASSERT_EQ(0, pipe(p));
        pid_t mid = fork();
        ASSERT_GE(mid, 0);
        if (mid == 0) {
                char *argv[] = {const_cast<char *>("/bin/sleep"), const_cast<char *>("1000"), nullptr};
                pid_t pid = 0;
                int stopped = 0;
                if (spawn_start(argv, -1, &pid, &stopped) < 0)
                        _exit(1);
                if (stopped)
                        spawn_release(pid);
                (void)!write(p[1], &pid, sizeof(pid));
                pause();
                _exit(0);
        }
        close(p[1]);
        pid_t prog = 0;
        ASSERT_EQ((ssize_t)sizeof(prog), read(p[0], &prog, sizeof(prog)));
        close(p[0]);
        ASSERT_GT(prog, 0);
        EXPECT_TRUE(ProcessAlive(prog));
        kill(mid, SIGKILL);
        waitpid(mid, nullptr, 0);
        EXPECT_TRUE(WaitFor([&] { return !ProcessAlive(prog); }, Millis(10000)))
            << "pid " << prog << " outlived the process that started it";
        if (ProcessAlive(prog))
                kill(prog, SIGKILL);
}

TEST(SpawnTest, StopEndsAProgramAndGivesItsStatus) {
        int stopped = 0;
        pid_t pid = Start({"/bin/sleep", "1000"}, "", &stopped);
        ASSERT_GT(pid, 0) << strerror(-pid);
        if (stopped)
                spawn_release(pid);
        EXPECT_EQ(128 + SIGTERM, spawn_stop(pid, 10000));
        EXPECT_EQ(1, spawn_exit_code(0x7f)) << "neither exited nor signalled";
}

} // namespace
