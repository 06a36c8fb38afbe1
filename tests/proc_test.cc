// Facts about processes (core/proc.c): the stat parser, pids as users and
// pidfiles write them, identities of live processes and zombies, pidfiles
// and the checks that refuse planted ones, and finding a process by name.
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "core/proc.h"
#include "core/procscan.h"
#include "tests/testutil.h"

namespace {

using memmon_test::Sleeper;
using memmon_test::TestTempDir;

bool Write(const std::string &path, const std::string &data) {
        return memmon_test::WriteFile(path, data, 0644);
}

// A child that exits at once and stays a zombie until reaped.
pid_t Zombie() {
        pid_t pid = fork();
        if (pid == 0)
                _exit(0);
        return pid;
}

TEST(ProcTest, ParseStat) {
        uint64_t start = 0;
        char state = 0;
        std::string fields = " S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 98765 20 21\n";
        std::string line = "1234 (bash)" + fields;
        ASSERT_EQ(0, proc_parse_stat(line.data(), line.size(), &start, &state));
        EXPECT_EQ(98765u, start);
        EXPECT_EQ('S', state);
        // The command name may hold spaces and parentheses: the last ')' ends it.
        std::string odd = "1234 (a) b (c) ) )" + fields;
        ASSERT_EQ(0, proc_parse_stat(odd.data(), odd.size(), &start, nullptr));
        EXPECT_EQ(98765u, start);

        for (const std::string &bad :
             {std::string("1234 bash S 1 2"), std::string("1234 (x) S 1 2 3"),
              std::string("1234 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 9x8"),
              std::string("1234 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 "
                          "99999999999999999999999"),
              std::string("")}) {
                start = 7;
                EXPECT_EQ(-EINVAL, proc_parse_stat(bad.data(), bad.size(), &start, nullptr)) << bad;
                EXPECT_EQ(7u, start) << bad;
        }
}

TEST(ProcTest, ParsePid) {
        struct {
                const char *s;
                pid_t pid;
        } good[] = {{"1", 1}, {"1234", 1234}, {" 42\n", 42}, {"\t7\r\n", 7}, {"4194304", PROC_PID_MAX}};
        for (const auto &g : good) {
                pid_t pid = 0;
                EXPECT_EQ(0, proc_parse_pid(g.s, strlen(g.s), &pid)) << g.s;
                EXPECT_EQ(g.pid, pid) << g.s;
        }
        for (const char *bad :
             {"", " ", "0", "-1", "+1", "4194305", "99999999999999999999", "12a", "1 2", "0x10", "1.0"}) {
                pid_t pid = 99;
                EXPECT_EQ(-EINVAL, proc_parse_pid(bad, strlen(bad), &pid)) << "'" << bad << "'";
                EXPECT_EQ(99, pid) << bad;
        }
        // Only len bytes are read: the rest of the buffer does not count.
        pid_t pid = 0;
        EXPECT_EQ(0, proc_parse_pid("12junk", 2, &pid));
        EXPECT_EQ(12, pid);
}

TEST(ProcTest, IdentityOfLiveDeadAndZombieProcesses) {
        struct proc_id self, again;
        ASSERT_EQ(0, proc_identity(getpid(), &self));
        EXPECT_EQ(getpid(), self.pid);
        EXPECT_GT(self.start_time, 0u);
        ASSERT_EQ(0, proc_identity(getpid(), &again));
        EXPECT_EQ(self.start_time, again.start_time) << "an instance keeps its start time";

        Sleeper c;
        struct proc_id cid;
        ASSERT_EQ(0, proc_identity(c.pid(), &cid));
        EXPECT_GE(cid.start_time, self.start_time) << "a child starts after its parent";

        pid_t z = Zombie();
        // A zombie is no process to watch.
        int r = 0;
        EXPECT_TRUE(memmon_test::WaitFor([&] { return (r = proc_identity(z, &cid)) == -ESRCH; },
                                         memmon_test::Millis(10000)));
        EXPECT_EQ(-ESRCH, r);
        waitpid(z, nullptr, 0);

        EXPECT_EQ(-ESRCH, proc_identity(0, &cid));
        EXPECT_EQ(-ESRCH, proc_identity(-5, &cid));
}

TEST(ProcTest, Uid) {
        uid_t uid = 12345;
        ASSERT_EQ(0, proc_uid(getpid(), &uid));
        EXPECT_EQ(getuid(), uid);
        pid_t gone = Zombie();
        waitpid(gone, nullptr, 0);
        EXPECT_EQ(-ESRCH, proc_uid(gone, &uid));
}

TEST(ProcTest, ReadPidfile) {
        std::string d = TestTempDir();
        pid_t pid = 0;
        ASSERT_TRUE(Write(d + "/ok.pid", "1234\n"));
        EXPECT_EQ(0, proc_read_pidfile((d + "/ok.pid").c_str(), &pid));
        EXPECT_EQ(1234, pid);
        EXPECT_EQ(-ENOENT, proc_read_pidfile((d + "/missing.pid").c_str(), &pid));
        ASSERT_TRUE(Write(d + "/junk.pid", "12 34\n"));
        EXPECT_EQ(-EINVAL, proc_read_pidfile((d + "/junk.pid").c_str(), &pid));
        ASSERT_TRUE(Write(d + "/empty.pid", ""));
        EXPECT_EQ(-EINVAL, proc_read_pidfile((d + "/empty.pid").c_str(), &pid));
        // Only 64 bytes are looked at: a file that fills them is not a pidfile.
        ASSERT_TRUE(Write(d + "/long.pid", "1234" + std::string(60, ' ') + "\n"));
        EXPECT_EQ(-EINVAL, proc_read_pidfile((d + "/long.pid").c_str(), &pid));
        ASSERT_EQ(0, symlink("ok.pid", (d + "/link.pid").c_str()));
        EXPECT_EQ(-ELOOP, proc_read_pidfile((d + "/link.pid").c_str(), &pid));
        EXPECT_EQ(1234, pid) << "untouched on failure";
}

TEST(ProcTest, TrustedPidfileRefusesWhatOthersCouldPlant) {
        std::string d = TestTempDir();
        char why[256] = "";
        pid_t pid = 0;
        uid_t owner = 12345;
        std::string own = d + "/own.pid";
        ASSERT_TRUE(Write(own, std::to_string(getpid()) + "\n"));
        ASSERT_EQ(0, chmod(d.c_str(), 0755));
        EXPECT_EQ(0, proc_read_pidfile_trusted(own.c_str(), &pid, &owner, why, sizeof(why)));
        EXPECT_EQ(getpid(), pid);
        EXPECT_EQ(geteuid(), owner);

        // Anyone may replace a file in a world-writable folder.
        std::string open_dir = d + "/open";
        ASSERT_EQ(0, mkdir(open_dir.c_str(), 0777));
        ASSERT_EQ(0, chmod(open_dir.c_str(), 0777));
        ASSERT_TRUE(Write(open_dir + "/x.pid", std::to_string(getpid()) + "\n"));
        EXPECT_EQ(-EPERM,
                  proc_read_pidfile_trusted((open_dir + "/x.pid").c_str(), &pid, nullptr, why, sizeof(why)));
        EXPECT_NE(nullptr, strstr(why, "world-writable")) << why;

        // In a sticky one (/tmp, /run/lock) nobody but its owner may replace
        // a file: it is trusted as far as its owner is.
        std::string sticky = d + "/sticky";
        ASSERT_EQ(0, mkdir(sticky.c_str(), 0777));
        ASSERT_EQ(0, chmod(sticky.c_str(), 01777));
        ASSERT_TRUE(Write(sticky + "/x.pid", std::to_string(getpid()) + "\n"));
        EXPECT_EQ(0, proc_read_pidfile_trusted((sticky + "/x.pid").c_str(), &pid, nullptr, why, sizeof(why)))
            << why;

        // A file anyone may write names whatever they like.
        ASSERT_TRUE(Write(d + "/open.pid", std::to_string(getpid()) + "\n"));
        ASSERT_EQ(0, chmod((d + "/open.pid").c_str(), 0666));
        EXPECT_EQ(-EPERM,
                  proc_read_pidfile_trusted((d + "/open.pid").c_str(), &pid, nullptr, why, sizeof(why)));
        EXPECT_NE(nullptr, strstr(why, "writable by anyone")) << why;

        // A FIFO is refused without blocking.
        ASSERT_EQ(0, mkfifo((d + "/fifo.pid").c_str(), 0600));
        EXPECT_EQ(-EPERM,
                  proc_read_pidfile_trusted((d + "/fifo.pid").c_str(), &pid, nullptr, why, sizeof(why)));
        EXPECT_NE(nullptr, strstr(why, "not a regular file")) << why;
        EXPECT_EQ(-EINVAL, proc_read_pidfile((d + "/fifo.pid").c_str(), &pid));

        // A file owned by another user (65534) naming our process.
        std::string other = d + "/other.pid";
        ASSERT_TRUE(Write(other, std::to_string(getpid()) + "\n"));
        if (getuid() == 65534 || chown(other.c_str(), 65534, 65534) < 0) {
                GTEST_SKIP()
                    << "cannot give a pidfile to uid 65534 here (not root, or a sandbox that maps only "
                       "uid 0): "
                    << strerror(errno);
        }
        EXPECT_EQ(-EPERM, proc_read_pidfile_trusted(other.c_str(), &pid, nullptr, why, sizeof(why)));
        EXPECT_NE(nullptr, strstr(why, "of another user")) << why;
        // In a folder another user owns, she may swap the file for another.
        std::string hers = d + "/hers";
        ASSERT_EQ(0, mkdir(hers.c_str(), 0755));
        ASSERT_EQ(0, chown(hers.c_str(), 65534, 65534));
        ASSERT_TRUE(Write(hers + "/x.pid", std::to_string(getpid()) + "\n"));
        EXPECT_EQ(-EPERM,
                  proc_read_pidfile_trusted((hers + "/x.pid").c_str(), &pid, nullptr, why, sizeof(why)));
        EXPECT_NE(nullptr, strstr(why, "owned by another user")) << why;
}

// user = and exe = of a match target: the real and effective uids, and the
// very file the process runs.
TEST(ProcTest, FilterChecksUidsAndTheExecutable) {
        Sleeper s("mmfilter");
        struct target_filter f = {};
        char why[256] = "";
        EXPECT_EQ(0, proc_filter_check(s.pid(), &f, why, sizeof(why))) << "an empty filter takes any";
        f.has_uid = true;
        f.uid = geteuid();
        EXPECT_EQ(0, proc_filter_check(s.pid(), &f, why, sizeof(why))) << why;
        f.uid = geteuid() + 1;
        EXPECT_EQ(-EPERM, proc_filter_check(s.pid(), &f, why, sizeof(why)));
        EXPECT_NE(nullptr, strstr(why, "not as uid")) << why;
        f.has_uid = false;
        char exe[4096];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        ASSERT_GT(n, 0);
        exe[n] = '\0';
        f.exe = exe; // a Sleeper is a fork of this test
        EXPECT_EQ(0, proc_filter_check(s.pid(), &f, why, sizeof(why))) << why;
        EXPECT_TRUE(proc_exe_is(s.pid(), exe));
        f.exe = const_cast<char *>("/bin/sh");
        EXPECT_EQ(-EPERM, proc_filter_check(s.pid(), &f, why, sizeof(why)));
        EXPECT_NE(nullptr, strstr(why, "does not run /bin/sh")) << why;
        EXPECT_FALSE(proc_exe_is(s.pid(), "/nonexistent/x"));
        uid_t r = 1, e = 1;
        ASSERT_EQ(0, proc_uids(s.pid(), &r, &e));
        EXPECT_EQ(getuid(), r);
        EXPECT_EQ(geteuid(), e);
}

TEST(ProcTest, FindByNameFindsTheOldest) {
        // A name no other process has.
        std::string name = "mmpt" + std::to_string(getpid() % 100000);
        struct proc_id id;
        EXPECT_EQ(-ESRCH, proc_find_by_name(name.c_str(), nullptr, &id));
        Sleeper first(name.c_str());
        ASSERT_EQ(0, proc_find_by_name(name.c_str(), nullptr, &id));
        EXPECT_EQ(first.pid(), id.pid);
        Sleeper second(name.c_str());
        ASSERT_EQ(0, proc_find_by_name(name.c_str(), nullptr, &id));
        EXPECT_EQ(first.pid(), id.pid) << "the oldest of two wins";
        first.Kill();
        ASSERT_EQ(0, proc_find_by_name(name.c_str(), nullptr, &id));
        EXPECT_EQ(second.pid(), id.pid);
}

TEST(ProcTest, FindByNameSkipsTheCaller) {
        char comm[32] = "";
        ASSERT_EQ(0, prctl(PR_GET_NAME, comm));
        std::string name = "mmself" + std::to_string(getpid() % 100000);
        ASSERT_EQ(0, prctl(PR_SET_NAME, name.c_str()));
        struct proc_id id;
        EXPECT_EQ(-ESRCH, proc_find_by_name(name.c_str(), nullptr, &id));
        prctl(PR_SET_NAME, comm);
}

// A scan is reused until it is min_interval old: a process that appears in
// between is not seen, one that exited in between is never given.
TEST(ProcTest, ScanIsSharedUntilItIsOld) {
        std::string name = "mmsc" + std::to_string(getpid() % 100000);
        struct proc_scan s;
        ASSERT_EQ(0, proc_scan_init(&s, UINT64_C(3600000000)));
        struct proc_id id;
        Sleeper first(name.c_str());
        ASSERT_EQ(0, proc_scan_find(&s, name.c_str(), nullptr, &id));
        EXPECT_EQ(first.pid(), id.pid);
        EXPECT_EQ(1u, proc_scan_count(&s));
        Sleeper later(name.c_str());
        first.Kill();
        EXPECT_EQ(-ESRCH, proc_scan_find(&s, name.c_str(), nullptr, &id))
            << "the exited one is not given, the new one not yet seen";
        EXPECT_EQ(1u, proc_scan_count(&s)) << "no new scan within the interval";
        proc_scan_fini(&s);

        ASSERT_EQ(0, proc_scan_init(&s, 0));
        ASSERT_EQ(0, proc_scan_find(&s, name.c_str(), nullptr, &id));
        EXPECT_EQ(later.pid(), id.pid);
        ASSERT_EQ(0, proc_scan_find(&s, name.c_str(), nullptr, &id));
        EXPECT_EQ(2u, proc_scan_count(&s)) << "interval 0: a scan per lookup";
        proc_scan_fini(&s);
}

// Filtered lookups share the scan too: the filter is checked only on the
// processes of that name.
TEST(ProcTest, FilteredLookupsShareTheScan) {
        std::string name = "mmfs" + std::to_string(getpid() % 100000);
        struct proc_scan s;
        ASSERT_EQ(0, proc_scan_init(&s, UINT64_C(3600000000)));
        Sleeper sl(name.c_str());
        struct target_filter mine = {}, nobody = {};
        mine.has_uid = true;
        mine.uid = geteuid();
        nobody.has_uid = true;
        nobody.uid = geteuid() + 1;
        struct proc_id id;
        ASSERT_EQ(0, proc_scan_find(&s, name.c_str(), &mine, &id));
        EXPECT_EQ(sl.pid(), id.pid);
        EXPECT_EQ(-ESRCH, proc_scan_find(&s, name.c_str(), &nobody, &id)) << "the uid does not match";
        ASSERT_EQ(0, proc_scan_find(&s, name.c_str(), nullptr, &id));
        EXPECT_EQ(1u, proc_scan_count(&s)) << "three lookups, one scan";
        proc_scan_fini(&s);
}

TEST(ProcTest, ParseStatFieldsReadsStateFlagsAndStartTime) {
        // kthreadd's flags: PF_KTHREAD (0x00200000) among others.
        std::string line = "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 15\n";
        struct proc_stat st;
        ASSERT_EQ(0, proc_parse_stat_fields(line.data(), line.size(), &st));
        EXPECT_EQ('S', st.state);
        EXPECT_EQ(2129984u, st.flags);
        EXPECT_TRUE(st.flags & PROC_PF_KTHREAD);
        EXPECT_EQ(15u, st.start_time);
        for (const std::string &bad :
             {std::string("2 (k) S 0 0 0 0 -1 99999999999 0 0 0 0 0 0 0 0 20 0 1 0 15"),
              std::string("2 (k) S 0 0 0 0 -1 x 0 0 0 0 0 0 0 0 20 0 1 0 15"),
              std::string("2 (k) S 0 0 0 0 -1 4194560 0 0")}) {
                st.start_time = 7;
                EXPECT_EQ(-EINVAL, proc_parse_stat_fields(bad.data(), bad.size(), &st)) << bad;
                EXPECT_EQ(7u, st.start_time) << "untouched on failure: " << bad;
        }
}

TEST(ProcTest, TaskFindOfALiveProcessIsItself) {
        struct proc_task t;
        struct proc_id id;
        ASSERT_EQ(0, proc_task_find(getpid(), &t));
        ASSERT_EQ(0, proc_identity(getpid(), &id));
        EXPECT_EQ(getpid(), t.id.pid);
        EXPECT_EQ(getpid(), t.tid);
        EXPECT_EQ(id.start_time, t.id.start_time);
        EXPECT_FALSE(t.kernel_thread);
        pid_t z = Zombie();
        int r = 0;
        EXPECT_TRUE(memmon_test::WaitFor([&] { return (r = proc_task_find(z, &t)) == -ESRCH; },
                                         memmon_test::Millis(10000)))
            << "a process that has wholly exited is gone";
        waitpid(z, nullptr, 0);
        EXPECT_EQ(-ESRCH, proc_task_find(z, &t));
}

// A kernel thread is found, and says so (when one is visible: not in a pid
// namespace of its own, as Bazel's sandbox is).
TEST(ProcTest, TaskFindTellsKernelThreads) {
        for (const auto &name : memmon_test::ListDir("/proc")) {
                pid_t pid;
                struct proc_task t;
                if (proc_parse_pid(name.c_str(), name.size(), &pid) < 0 || proc_task_find(pid, &t) < 0 ||
                    !t.kernel_thread)
                        continue;
                EXPECT_EQ(pid, t.tid);
                int fd = proc_task_open(&t, "maps");
                ASSERT_GE(fd, 0);
                char c;
                EXPECT_EQ(0, read(fd, &c, 1)) << "a kernel thread has no mappings";
                close(fd);
                return;
        }
        GTEST_SKIP() << "no kernel thread is visible here";
}

// A child whose main thread exits while another thread waits on a pipe:
// a zombie main thread in a live process.
struct LeaderGone {
        pid_t pid = -1;
        int hold = -1;
        LeaderGone() {
                int p[2];
                if (pipe(p) < 0)
                        abort();
                pid = fork();
                if (pid == 0) {
                        close(p[1]);
                        static int fd;
                        fd = p[0];
                        pthread_t t;
                        if (pthread_create(
                                &t, nullptr,
                                [](void *) -> void * {
                                        char c;
                                        (void)!read(fd, &c, 1);
                                        _exit(0);
                                },
                                nullptr) != 0)
                                _exit(1);
                        // Only this thread ends (pthread_exit would unwind
                        // through gtest, which stops it).
                        syscall(SYS_exit, 0);
                }
                close(p[0]);
                hold = p[1];
        }
        ~LeaderGone() {
                close(hold);
                kill(pid, SIGKILL);
                waitpid(pid, nullptr, 0);
        }
};

char StateOf(pid_t pid) {
        std::string stat;
        memmon_test::ReadFile("/proc/" + std::to_string(pid) + "/stat", &stat);
        size_t p = stat.rfind(')');
        return p == std::string::npos || p + 2 >= stat.size() ? 0 : stat[p + 2];
}

TEST(ProcTest, TaskFindReadsAProcessWhoseMainThreadExitedThroughALiveThread) {
        LeaderGone c;
        ASSERT_TRUE(memmon_test::WaitFor([&] { return StateOf(c.pid) == 'Z'; }, memmon_test::Millis(10000)));
        struct proc_id id;
        EXPECT_EQ(-ESRCH, proc_identity(c.pid, &id)) << "its main thread is a zombie";
        struct proc_task t;
        ASSERT_EQ(0, proc_task_find(c.pid, &t));
        EXPECT_EQ(c.pid, t.id.pid);
        EXPECT_NE(c.pid, t.tid);
        EXPECT_FALSE(t.kernel_thread);
        std::string stat;
        ASSERT_TRUE(memmon_test::ReadFile("/proc/" + std::to_string(c.pid) + "/stat", &stat));
        uint64_t start;
        ASSERT_EQ(0, proc_parse_stat(stat.data(), stat.size(), &start, nullptr));
        EXPECT_EQ(start, t.id.start_time) << "the identity is the process's";
        std::string own = memmon_test::ReadFileOr("/proc/" + std::to_string(c.pid) + "/maps");
        EXPECT_EQ("", own) << "the main thread has no address space any more";
        int fd = proc_task_open(&t, "maps");
        ASSERT_GE(fd, 0);
        char buf[256];
        EXPECT_GT(read(fd, buf, sizeof(buf)), 0) << "its live thread shows the process's maps";
        close(fd);
}

// The file-backed regions of /proc/self/maps, as proc_file_ranges() counts
// and hashes them.
void FileRangesOfMaps(const std::string &maps, uint64_t *count, uint64_t *hash) {
        *count = 0;
        *hash = PROC_RANGES_HASH_INIT;
        std::istringstream in(maps);
        std::string line;
        while (std::getline(in, line)) {
                unsigned long long a, b, inode;
                char perms[8], dev[16];
                unsigned long long off;
                if (sscanf(line.c_str(), "%llx-%llx %7s %llx %15s %llu", &a, &b, perms, &off, dev, &inode) !=
                        6 ||
                    inode == 0)
                        continue;
                *hash = proc_ranges_hash(*hash, a, b);
                (*count)++;
        }
}

TEST(ProcTest, FileRangesAreTheFileBackedLinesOfTheMaps) {
        struct proc_task t;
        ASSERT_EQ(0, proc_task_find(getpid(), &t));
        struct proc_dents d = {nullptr, 0};
        uint64_t n = 0, hash = 0, want_n = 0, want_hash = 1;
        // This process maps nothing in between, but libraries could.
        for (int i = 0; i < 5 && !(n == want_n && hash == want_hash); i++) {
                FileRangesOfMaps(memmon_test::ReadFileOr("/proc/self/maps"), &want_n, &want_hash);
                ASSERT_EQ(0, proc_file_ranges(&t, &d, &n, &hash));
        }
        EXPECT_GT(n, 0u);
        EXPECT_EQ(want_n, n);
        EXPECT_EQ(want_hash, hash);
        proc_dents_fini(&d);
}

} // namespace
