#include "tests/testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

extern char **environ;

namespace memmon_test {

namespace {

using Clock = std::chrono::steady_clock;

int RemainingMs(Clock::time_point deadline) {
        auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now()).count();
        return left > 0 ? static_cast<int>(left) : 0;
}

int DecodeStatus(int status) {
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        if (WIFSIGNALED(status))
                return 128 + WTERMSIG(status);
        return -1;
}

void CloseFd(int *fd) {
        if (*fd >= 0)
                close(*fd);
        *fd = -1;
}

// Appends what fd has to buf.  Returns false at EOF or error (fd closed).
bool Drain(int *fd, std::string *buf) {
        char chunk[65536];
        for (;;) {
                ssize_t n = read(*fd, chunk, sizeof(chunk));
                if (n > 0) {
                        buf->append(chunk, static_cast<size_t>(n));
                        continue;
                }
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        return true;
                CloseFd(fd);
                return false;
        }
}

// waitpid without blocking.  Returns 1 (reaped, *code set), 0 (running),
// -1 (not our child).
int ReapNoHang(pid_t pid, int *code) {
        int status;
        for (;;) {
                pid_t r = waitpid(pid, &status, WNOHANG);
                if (r == pid) {
                        *code = DecodeStatus(status);
                        return 1;
                }
                if (r == 0)
                        return 0;
                if (errno == EINTR)
                        continue;
                return -1;
        }
}

// State letter from /proc/PID/stat, or 0 when pid does not exist.
char ProcState(pid_t pid) {
        std::string stat;
        if (!ReadFile("/proc/" + std::to_string(pid) + "/stat", &stat))
                return 0;
        size_t p = stat.rfind(')');
        if (p == std::string::npos || p + 2 >= stat.size())
                return 0;
        return stat[p + 2];
}

} // namespace

bool WaitFor(const std::function<bool()> &pred, Millis timeout, Millis every) {
        auto deadline = Clock::now() + timeout;
        for (;;) {
                if (pred())
                        return true;
                if (Clock::now() >= deadline)
                        return pred();
                std::this_thread::sleep_for(every);
        }
}

std::string Runfile(const std::string &rel) {
        const char *srcdir = getenv("TEST_SRCDIR");
        const char *ws = getenv("TEST_WORKSPACE");
        std::string base = srcdir ? srcdir : ".";
        return base + "/" + (ws && *ws ? ws : "memmon") + "/" + rel;
}

std::string AgentPath() {
        return Runfile("agent/agent");
}

std::string WorkloadPath() {
        return Runfile("bench/workload");
}

std::string MakeTempDir(const std::string &prefix) {
        const char *tmp = getenv("TEST_TMPDIR");
        std::string clean;
        for (char c : prefix)
                clean += (isalnum(static_cast<unsigned char>(c)) || c == '_') ? c : '_';
        std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/" + clean + "_XXXXXX";
        std::vector<char> buf(templ.begin(), templ.end());
        buf.push_back('\0');
        if (!mkdtemp(buf.data()))
                return "";
        return std::string(buf.data());
}

std::string TestTempDir() {
        return MakeTempDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
}

Sleeper::Sleeper(const char *comm) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                abort();
        pid_ = fork();
        if (pid_ == 0) {
                if (comm)
                        prctl(PR_SET_NAME, comm);
                (void)!write(p[1], "x", 1);
                for (;;)
                        pause();
        }
        close(p[1]);
        char c;
        // Renamed by the time the constructor returns.
        if (pid_ > 0)
                (void)!read(p[0], &c, 1);
        close(p[0]);
}

Sleeper::~Sleeper() {
        Kill();
}

void Sleeper::Kill() {
        if (pid_ > 0) {
                kill(pid_, SIGKILL);
                waitpid(pid_, nullptr, 0);
        }
        pid_ = -1;
}

void PrepareTestProcess() {
        (void)prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        signal(SIGPIPE, SIG_IGN);
}

namespace {

// Our children that still run (not zombies, not already exiting).  Zombies
// are reaped on the way; with kill_them, the rest are killed and reaped.
int ScanChildren(bool kill_them) {
        int n = 0;
        pid_t self = getpid();
        for (const auto &name : ListDir("/proc")) {
                if (name.find_first_not_of("0123456789") != std::string::npos)
                        continue;
                std::string stat;
                if (!ReadFile("/proc/" + name + "/stat", &stat))
                        continue;
                size_t p = stat.rfind(')');
                if (p == std::string::npos)
                        continue;
                // After ')': state ppid pgrp session tty_nr tpgid flags ...
                char state = 0;
                int ppid = 0;
                unsigned long flags = 0;
                if (sscanf(stat.c_str() + p + 1, " %c %d %*d %*d %*d %*d %lu", &state, &ppid, &flags) != 3 ||
                    ppid != self)
                        continue;
                pid_t pid = static_cast<pid_t>(atoi(name.c_str()));
                int code;
                if (state == 'Z') {
                        (void)ReapNoHang(pid, &code);
                        continue;
                }
                // A process already exiting (PF_EXITING) is on its way out:
                // the LeakSanitizer tracer of a child that ended is
                // reparented to us for a moment.
                const unsigned long pf_exiting = 0x4;
                if (!(flags & pf_exiting))
                        n++;
                if (kill_them) {
                        kill(pid, SIGKILL);
                        int status;
                        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
                        }
                }
        }
        return n;
}

} // namespace

int KillAllChildren(Millis grace) {
        (void)WaitFor([] { return ScanChildren(false) == 0; }, grace, Millis(10));
        return ScanChildren(true);
}

bool ReadFile(const std::string &path, std::string *ret) {
        int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
                return false;
        std::string s;
        char buf[65536];
        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        close(fd);
                        return false;
                }
                if (n == 0)
                        break;
                s.append(buf, static_cast<size_t>(n));
        }
        close(fd);
        *ret = std::move(s);
        return true;
}

std::string ReadFileOr(const std::string &path, const std::string &dflt) {
        std::string s;
        return ReadFile(path, &s) ? s : dflt;
}

bool WriteFile(const std::string &path, const std::string &data, mode_t mode) {
        int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
        if (fd < 0)
                return false;
        size_t done = 0;
        while (done < data.size()) {
                ssize_t n = write(fd, data.data() + done, data.size() - done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        close(fd);
                        return false;
                }
                done += static_cast<size_t>(n);
        }
        return close(fd) == 0;
}

bool PathExists(const std::string &path) {
        struct stat st;
        return lstat(path.c_str(), &st) == 0;
}

bool IsFifo(const std::string &path) {
        struct stat st;
        return lstat(path.c_str(), &st) == 0 && S_ISFIFO(st.st_mode);
}

bool IsSymlink(const std::string &path) {
        struct stat st;
        return lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode);
}

bool IsDir(const std::string &path) {
        struct stat st;
        return lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

int FileMode(const std::string &path) {
        struct stat st;
        if (lstat(path.c_str(), &st) < 0)
                return -1;
        return static_cast<int>(st.st_mode & 07777);
}

std::string ReadLink(const std::string &path) {
        char buf[4096];
        ssize_t n = readlink(path.c_str(), buf, sizeof(buf));
        return n < 0 ? std::string() : std::string(buf, static_cast<size_t>(n));
}

std::vector<std::string> SplitLines(const std::string &text) {
        std::vector<std::string> v;
        std::istringstream in(text);
        for (std::string l; std::getline(in, l);)
                v.push_back(l);
        return v;
}

std::string JoinLines(const std::vector<std::string> &lines) {
        std::string s;
        for (const auto &l : lines)
                s += l + "\n";
        return s;
}

std::string ToLower(std::string s) {
        for (auto &c : s)
                c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
        return s;
}

bool HasLineWith(const std::string &text, const std::string &a, const std::string &b) {
        for (const auto &l : SplitLines(text))
                if (l.find(a) != std::string::npos && l.find(b) != std::string::npos)
                        return true;
        return false;
}

bool Contains(const std::vector<std::string> &lines, const std::string &line) {
        return std::find(lines.begin(), lines.end(), line) != lines.end();
}

size_t CountStartingWith(const std::vector<std::string> &names, const std::string &prefix) {
        size_t n = 0;
        for (const auto &s : names)
                n += s.compare(0, prefix.size(), prefix) == 0;
        return n;
}

std::vector<std::string> Visible(const std::vector<std::string> &names) {
        std::vector<std::string> v;
        for (const auto &n : names)
                if (!n.empty() && n[0] != '.')
                        v.push_back(n);
        return v;
}

std::vector<std::string> ListDir(const std::string &dir) {
        std::vector<std::string> v;
        DIR *d = opendir(dir.c_str());
        if (!d)
                return v;
        while (struct dirent *e = readdir(d)) {
                if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                        v.push_back(e->d_name);
        }
        closedir(d);
        std::sort(v.begin(), v.end());
        return v;
}

std::vector<std::string> ListTree(const std::string &root) {
        std::vector<std::string> v;
        for (const auto &name : ListDir(root)) {
                std::string p = root + "/" + name;
                v.push_back(p);
                if (IsDir(p)) {
                        auto sub = ListTree(p);
                        v.insert(v.end(), sub.begin(), sub.end());
                }
        }
        std::sort(v.begin(), v.end());
        return v;
}

size_t CountOccurrences(const std::string &hay, const std::string &needle) {
        if (needle.empty())
                return 0;
        size_t n = 0;
        for (size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + needle.size()))
                n++;
        return n;
}

bool ProcessAlive(pid_t pid) {
        if (pid <= 0)
                return false;
        int code;
        if (ReapNoHang(pid, &code) == 1)
                return false;
        char s = ProcState(pid);
        return s != 0 && s != 'Z' && s != 'X';
}

bool ProcessIsZombie(pid_t pid) {
        return ProcState(pid) == 'Z';
}

long long ProcessCpuTicks(pid_t pid) {
        std::string stat;
        if (!ReadFile("/proc/" + std::to_string(pid) + "/stat", &stat))
                return -1;
        size_t p = stat.rfind(')');
        if (p == std::string::npos)
                return -1;
        // Fields after ')' start at field 3 (state); utime and stime are 14
        // and 15.
        std::vector<std::string> f;
        size_t i = p + 1;
        while (i < stat.size() && f.size() < 13) {
                while (i < stat.size() && stat[i] == ' ')
                        i++;
                size_t j = i;
                while (j < stat.size() && stat[j] != ' ')
                        j++;
                f.push_back(stat.substr(i, j - i));
                i = j;
        }
        if (f.size() < 13)
                return -1;
        return std::stoll(f[11]) + std::stoll(f[12]);
}

pid_t UnusedPid(pid_t from) {
        for (pid_t p = from;; p++) {
                if (!PathExists("/proc/" + std::to_string(p)))
                        return p;
        }
}

pid_t ReadPidFile(const std::string &path) {
        std::string s;
        if (!ReadFile(path, &s))
                return 0;
        char *end;
        long v = strtol(s.c_str(), &end, 10);
        if (end == s.c_str() || v <= 0 || (*end != '\n' && *end != '\0'))
                return 0;
        return static_cast<pid_t>(v);
}

// Writes all of data to a non-blocking fd, waiting for room until the
// deadline.  Returns true when everything was written.
static bool WriteAllBy(int fd, const std::string &data, Clock::time_point deadline) {
        size_t done = 0;
        while (done < data.size()) {
                ssize_t n = write(fd, data.data() + done, data.size() - done);
                if (n > 0) {
                        done += static_cast<size_t>(n);
                        continue;
                }
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN && Clock::now() < deadline) {
                        struct pollfd p = {fd, POLLOUT, 0};
                        (void)poll(&p, 1, std::min(RemainingMs(deadline), 50));
                        continue;
                }
                return false;
        }
        return true;
}

bool WriteFifo(const std::string &path, const std::string &data, Millis timeout) {
        int fd = open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return false;
        bool ok = WriteAllBy(fd, data, Clock::now() + timeout);
        close(fd);
        return ok;
}

// The last max bytes of the file at path, or "(missing)".
static std::string Tail(const std::string &path, size_t max) {
        std::string s = ReadFileOr(path, "(missing)\n");
        return s.size() > max ? "...\n" + s.substr(s.size() - max) : s;
}

void DumpBaseOnFailure(const std::string &dir) {
        const size_t kMaxPaths = 60;
        auto tree = ListTree(dir);

        fprintf(stderr, "=== base directory %s\n", dir.c_str());
        for (size_t i = 0; i < tree.size() && i < kMaxPaths; i++)
                fprintf(stderr, "  %04o %s\n", FileMode(tree[i]), tree[i].c_str());
        if (tree.size() > kMaxPaths)
                fprintf(stderr, "  ... and %zu more\n", tree.size() - kMaxPaths);
        fprintf(stderr, "=== logs/monitor.log\n%s=== logs/daemon_output.log\n%s",
                Tail(dir + "/logs/monitor.log", 20000).c_str(),
                Tail(dir + "/logs/daemon_output.log", 4000).c_str());
        if (PathExists(dir + "/agent.stderr"))
                fprintf(stderr, "=== agent stderr\n%s", Tail(dir + "/agent.stderr", 4000).c_str());
        fprintf(stderr, "===\n");
}

void BaseDirTest::SetUp() {
        char real[PATH_MAX];

        PrepareTestProcess();
        dir_ = MakeTempDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
        ASSERT_FALSE(dir_.empty());
        ASSERT_NE(nullptr, realpath(dir_.c_str(), real)) << dir_;
        dir_ = real;
}

void WorkloadDirTest::SetUp() {
        BaseDirTest::SetUp();
        if (HasFatalFailure())
                return;
        std::string err;
        ASSERT_TRUE(wl_.Start(&err)) << err;
        wpid_ = std::to_string(wl_.pid());
}

void BaseDirTest::TearDown() {
        if (HasFailure())
                DumpBaseOnFailure(dir_);
        // An eBPF run whose agent could not load BPF ran the poll test
        // again: say so, so that a green _ebpf twin never hides it.
        if (CaptureIsEbpf()) {
                std::string log = Log();
                size_t at = log.find("capture: poll (");
                if (at != std::string::npos) {
                        std::string line = log.substr(at, log.find('\n', at) - at);
                        fprintf(stderr, "NOTE: MEMMON_TEST_CAPTURE=ebpf, but the agent polled: %s\n",
                                line.c_str());
                        RecordProperty("capture_fallback", line);
                }
        }
}

std::vector<std::string> CaptureArgs() {
        const char *mode = getenv("MEMMON_TEST_CAPTURE");
        if (!mode || !*mode)
                return {};
        return {"--capture", mode};
}

bool CaptureIsEbpf() {
        const char *mode = getenv("MEMMON_TEST_CAPTURE");
        return mode && strcmp(mode, "ebpf") == 0;
}

void InsertCaptureArgs(std::vector<std::string> *argv, size_t at) {
        static const char *const subcommands[] = {"replay", "verify", "report", "scan", "ctl"};
        if (at < argv->size())
                for (const char *s : subcommands)
                        if ((*argv)[at] == s)
                                return;
        std::vector<std::string> c = CaptureArgs();
        argv->insert(argv->begin() + static_cast<std::ptrdiff_t>(std::min(at, argv->size())), c.begin(),
                     c.end());
}

SpawnOptions BaseDirTest::AgentOptions(const std::vector<std::string> &args, int mask) const {
        SpawnOptions o;
        o.argv = {AgentPath()};
        o.argv.insert(o.argv.end(), args.begin(), args.end());
        InsertCaptureArgs(&o.argv, 1);
        o.cwd = dir_;
        o.umask = mask;
        return o;
}

RunResult BaseDirTest::RunAgent(const std::vector<std::string> &args, Millis timeout, int mask) {
        return RunProcess(AgentOptions(args, mask), timeout);
}

void BaseDirTest::StartDaemon(const std::vector<std::string> &args, int mask) {
        std::vector<std::string> a = {"-d"};
        a.insert(a.end(), args.begin(), args.end());
        RunResult r = RunAgent(a, Millis(15000), mask);
        ASSERT_FALSE(r.timed_out) << r.Describe();
        ASSERT_EQ(0, r.code) << r.Describe();
        pid_t pid = 0;
        ASSERT_TRUE(WaitFor([&] { return (pid = ReadPidFile(P("logs/memmon.pid"))) > 0; }, Millis(5000)))
            << "no pid in logs/memmon.pid: '" << ReadFileOr(P("logs/memmon.pid")) << "'";
        daemons_.push_back(std::make_unique<Daemon>(pid));
        daemon_ = daemons_.back().get();
}

void BaseDirTest::Send(const std::string &cmd) {
        ASSERT_TRUE(WriteFifo(P("logs/daemon_fifo"), cmd + "\n")) << "cannot write to the FIFO";
}

std::string BaseDirTest::Log() const {
        return ReadFileOr(P("logs/monitor.log"));
}

std::unique_ptr<Process> Process::Start(const SpawnOptions &opt, std::string *err) {
        if (opt.argv.empty()) {
                *err = "no argv";
                return nullptr;
        }
        // Everything the child needs is built before fork: after it only
        // async-signal-safe calls are made.
        std::vector<char *> argv;
        for (const auto &a : opt.argv)
                argv.push_back(const_cast<char *>(a.c_str()));
        argv.push_back(nullptr);
        std::vector<std::string> env_store;
        for (char **e = environ; *e; e++) {
                std::string kv(*e);
                bool drop = false;
                for (const auto &u : opt.unset_env)
                        drop = drop || kv.compare(0, u.size() + 1, u + "=") == 0;
                if (!drop)
                        env_store.push_back(kv);
        }
        std::vector<char *> envp;
        for (auto &kv : env_store)
                envp.push_back(const_cast<char *>(kv.c_str()));
        envp.push_back(nullptr);

        int in[2] = {-1, -1}, out[2] = {-1, -1}, er[2] = {-1, -1}, ex[2] = {-1, -1};
        if ((opt.pipe_stdin && pipe2(in, O_CLOEXEC) < 0) || pipe2(out, O_CLOEXEC) < 0 ||
            pipe2(er, O_CLOEXEC) < 0 || pipe2(ex, O_CLOEXEC) < 0) {
                *err = std::string("pipe: ") + strerror(errno);
                for (int fd : {in[0], in[1], out[0], out[1], er[0], er[1], ex[0], ex[1]})
                        if (fd >= 0)
                                close(fd);
                return nullptr;
        }
        const char *cwd = opt.cwd.empty() ? nullptr : opt.cwd.c_str();
        const char *errfile = opt.stderr_file.empty() ? nullptr : opt.stderr_file.c_str();
        pid_t pid = fork();
        if (pid == 0) {
                int e = 0;
                int null_fd = opt.pipe_stdin ? -1 : open("/dev/null", O_RDONLY | O_CLOEXEC);
                int err_fd = errfile ? open(errfile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600) : er[1];
                if ((opt.pipe_stdin ? dup2(in[0], 0) : dup2(null_fd, 0)) < 0 || dup2(out[1], 1) < 0 ||
                    dup2(err_fd, 2) < 0)
                        e = errno;
                if (!e && cwd && chdir(cwd) < 0)
                        e = errno;
                if (!e) {
                        if (opt.umask >= 0)
                                umask(static_cast<mode_t>(opt.umask));
                        signal(SIGPIPE, SIG_DFL);
                        sigset_t none;
                        sigemptyset(&none);
                        sigprocmask(SIG_SETMASK, &none, nullptr);
                        execve(argv[0], argv.data(), envp.data());
                        e = errno;
                }
                ssize_t w = write(ex[1], &e, sizeof(e));
                (void)w;
                _exit(127);
        }
        int fork_errno = errno;
        for (int fd : {in[0], out[1], er[1], ex[1]})
                if (fd >= 0)
                        close(fd);
        if (pid < 0) {
                *err = std::string("fork: ") + strerror(fork_errno);
                for (int fd : {in[1], out[0], er[0], ex[0]})
                        if (fd >= 0)
                                close(fd);
                return nullptr;
        }
        int child_errno = 0;
        ssize_t n;
        do {
                n = read(ex[0], &child_errno, sizeof(child_errno));
        } while (n < 0 && errno == EINTR);
        close(ex[0]);
        std::unique_ptr<Process> p(new Process());
        p->pid_ = pid;
        p->in_ = in[1];
        p->out_fd_ = out[0];
        p->err_fd_ = er[0];
        if (p->in_ >= 0)
                fcntl(p->in_, F_SETFL, O_NONBLOCK);
        fcntl(p->out_fd_, F_SETFL, O_NONBLOCK);
        fcntl(p->err_fd_, F_SETFL, O_NONBLOCK);
        if (n == static_cast<ssize_t>(sizeof(child_errno))) {
                *err = "cannot start " + opt.argv[0] + ": " + strerror(child_errno);
                return nullptr; // the destructor reaps the child
        }
        return p;
}

Process::~Process() {
        // Killed before its stdin closes: end of input would start a normal
        // exit (and a sanitizer's exit-time work) that SIGKILL then cuts.
        if (pid_ > 0 && !reaped_) {
                kill(pid_, SIGKILL);
                int status;
                while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
                }
        }
        CloseStdin();
        CloseFd(&out_fd_);
        CloseFd(&err_fd_);
}

bool Process::WriteStdin(const std::string &data, Millis timeout) {
        return in_ >= 0 && WriteAllBy(in_, data, Clock::now() + timeout);
}

void Process::CloseStdin() {
        CloseFd(&in_);
}

bool Process::Pump(Millis timeout) {
        struct pollfd p[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
        if (out_fd_ < 0 && err_fd_ < 0)
                return false;
        int n = poll(p, 2, static_cast<int>(timeout.count()));
        if (n <= 0)
                return true;
        if (out_fd_ >= 0 && p[0].revents)
                Drain(&out_fd_, &out_);
        if (err_fd_ >= 0 && p[1].revents)
                Drain(&err_fd_, &err_);
        return out_fd_ >= 0 || err_fd_ >= 0;
}

bool Process::ReadUntil(const std::function<bool()> &pred, Millis timeout) {
        auto deadline = Clock::now() + timeout;
        for (;;) {
                if (pred())
                        return true;
                int left = RemainingMs(deadline);
                if (left == 0)
                        return pred();
                if (!Pump(Millis(std::min(left, 20)))) {
                        // Both pipes at EOF: nothing more will come.
                        return pred();
                }
        }
}

bool Process::WaitForStdout(const std::string &needle, Millis timeout, size_t from) {
        return ReadUntil([&] { return out_.size() >= from && out_.find(needle, from) != std::string::npos; },
                         timeout);
}

bool Process::TryReap() {
        if (reaped_)
                return true;
        int code;
        if (ReapNoHang(pid_, &code) == 1) {
                reaped_ = true;
                code_ = code;
        }
        return reaped_;
}

bool Process::Wait(Millis timeout, int *code) {
        auto deadline = Clock::now() + timeout;
        while (!TryReap()) {
                int left = RemainingMs(deadline);
                if (left == 0)
                        break;
                if (!Pump(Millis(std::min(left, 5))))
                        std::this_thread::sleep_for(Millis(std::min(left, 5)));
        }
        if (!reaped_)
                return false;
        // What it wrote before it ended is in the pipes; a descendant that
        // kept them open must not hold us up.
        while (out_fd_ >= 0 && Drain(&out_fd_, &out_)) {
                struct pollfd p = {out_fd_, POLLIN, 0};
                if (poll(&p, 1, 0) <= 0)
                        break;
        }
        while (err_fd_ >= 0 && Drain(&err_fd_, &err_)) {
                struct pollfd p = {err_fd_, POLLIN, 0};
                if (poll(&p, 1, 0) <= 0)
                        break;
        }
        *code = code_;
        return true;
}

void Process::Signal(int sig) {
        if (pid_ > 0 && !reaped_)
                kill(pid_, sig);
}

std::string RunResult::Describe() const {
        std::string s = "exit code " + std::to_string(code);
        if (!started)
                s = "not started";
        if (timed_out)
                s += " (timed out and killed)";
        s += "\n--- stdout ---\n" + out + "\n--- stderr ---\n" + err;
        return s;
}

RunResult RunProcess(const SpawnOptions &opt, Millis timeout) {
        RunResult r;
        SpawnOptions o = opt;
        o.pipe_stdin = false;
        std::string err;
        auto p = Process::Start(o, &err);
        if (!p) {
                r.err = err;
                return r;
        }
        r.started = true;
        if (!p->Wait(timeout, &r.code)) {
                r.timed_out = true;
                p->Signal(SIGKILL);
                (void)p->Wait(Millis(5000), &r.code);
        }
        r.out = p->out();
        r.err = p->err();
        return r;
}

Daemon::~Daemon() {
        if (pid_ <= 0 || gone_)
                return;
        if (Alive())
                kill(pid_, SIGKILL);
        int code;
        (void)WaitExit(Millis(5000), &code);
}

bool Daemon::Alive() {
        if (gone_)
                return false;
        int code;
        int r = ReapNoHang(pid_, &code);
        if (r == 1) {
                gone_ = true;
                code_ = code;
                return false;
        }
        if (r == 0)
                return true;
        char s = ProcState(pid_);
        return s != 0 && s != 'Z' && s != 'X';
}

bool Daemon::WaitExit(Millis timeout, int *code) {
        bool ok = WaitFor([&] { return !Alive(); }, timeout);
        *code = code_;
        return ok;
}

void Daemon::Kill(int sig) {
        if (!gone_)
                kill(pid_, sig);
}

bool Workload::Start(std::string *err, const std::vector<std::string> &args) {
        return StartAt(WorkloadPath(), err, args);
}

bool Workload::StartAt(const std::string &path, std::string *err, const std::vector<std::string> &args) {
        SpawnOptions o;
        o.argv = {path};
        o.argv.insert(o.argv.end(), args.begin(), args.end());
        proc_ = Process::Start(o, err);
        if (!proc_)
                return false;
        if (!proc_->WaitForStdout("\n", Millis(10000))) {
                *err = "workload did not print its ready line: " + proc_->out() + proc_->err();
                return false;
        }
        size_t nl = proc_->out().find('\n');
        std::string line = proc_->out().substr(0, nl);
        read_pos_ = nl + 1;
        if (line.compare(0, 6, "ready ") != 0) {
                *err = "unexpected ready line: " + line;
                return false;
        }
        pid_ = static_cast<pid_t>(std::stol(line.substr(6)));
        if (pid_ != proc_->pid()) {
                *err = "ready line names pid " + line.substr(6) + ", started " + std::to_string(proc_->pid());
                return false;
        }
        return true;
}

std::string Workload::Command(const std::string &cmd, Millis timeout) {
        if (!proc_ || !proc_->WriteStdin(cmd + "\n", timeout))
                return "";
        if (!proc_->WaitForStdout("\n", timeout, read_pos_))
                return "";
        size_t nl = proc_->out().find('\n', read_pos_);
        std::string line = proc_->out().substr(read_pos_, nl - read_pos_);
        read_pos_ = nl + 1;
        return line;
}

namespace {

uintptr_t ParseOkAddress(const std::string &reply) {
        if (reply.compare(0, 5, "ok 0x") != 0)
                return 0;
        return static_cast<uintptr_t>(strtoull(reply.c_str() + 5, nullptr, 16));
}

} // namespace

uintptr_t Workload::Map(size_t pages, const std::string &prot) {
        return ParseOkAddress(Command("map " + std::to_string(pages) + " " + prot));
}

uintptr_t Workload::MapFile(const std::string &path, size_t pages) {
        std::string cmd = "mapfile " + path;
        if (pages)
                cmd += " " + std::to_string(pages);
        return ParseOkAddress(Command(cmd));
}

bool Workload::Unmap(uintptr_t addr, size_t pages) {
        return Command("unmap " + Hex(addr) + " " + std::to_string(pages)) == "ok";
}

bool Workload::Protect(uintptr_t addr, size_t pages, const std::string &prot) {
        return Command("protect " + Hex(addr) + " " + std::to_string(pages) + " " + prot) == "ok";
}

std::string Workload::Maps() const {
        return ReadFileOr("/proc/" + std::to_string(pid_) + "/maps");
}

LeftoverKiller::~LeftoverKiller() {
        int n = KillAllChildren();
        EXPECT_EQ(0, n) << n << " processes outlived their guards";
}

void Workload::Signal(int sig) {
        if (proc_)
                proc_->Signal(sig);
}

void Workload::Kill() {
        if (!proc_)
                return;
        proc_->Signal(SIGKILL);
        int code;
        (void)proc_->Wait(Millis(5000), &code);
}

size_t PageSize() {
        return static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

std::string Hex(uintptr_t v) {
        char buf[32];
        snprintf(buf, sizeof(buf), "%llx", static_cast<unsigned long long>(v));
        return buf;
}

} // namespace memmon_test
