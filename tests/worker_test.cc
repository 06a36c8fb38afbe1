// The per-target worker driven tick by tick (no thread), against a real
// child process whose mappings change on command.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <semaphore.h>

#include <atomic>
#include <cstdlib>
#include <string>
#include <vector>

#include <gtest/gtest.h>

extern "C" {
#include "core/alloc.h"
#include "core/backup_read.h"
#include "core/worker.h"
}

// worker_test is linked with -Wl,--wrap=sem_init,--wrap=pthread_mutex_init
// so that a test can make those calls fail.
static std::atomic<int> fail_sem_init{0};
static std::atomic<int> fail_mutex_init{0};

extern "C" {
int __real_sem_init(sem_t *sem, int pshared, unsigned value);
int __real_pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *a);

int __wrap_sem_init(sem_t *sem, int pshared, unsigned value) {
        if (fail_sem_init) {
                errno = ENOSPC;
                return -1;
        }
        return __real_sem_init(sem, pshared, value);
}

int __wrap_pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *a) {
        if (fail_mutex_init)
                return EAGAIN;
        return __real_pthread_mutex_init(m, a);
}
}

namespace {

// A child that maps or unmaps a page each time it reads a byte on its pipe,
// and acknowledges on another.
struct Child {
        pid_t pid = -1;
        int cmd = -1, ack = -1;

        Child() {
                int c[2], a[2];
                if (pipe(c) < 0 || pipe(a) < 0)
                        abort();
                pid = fork();
                if (pid == 0) {
                        close(c[1]);
                        close(a[0]);
                        std::vector<void *> maps;
                        char op;
                        while (read(c[0], &op, 1) == 1) {
                                if (op == 'm')
                                        maps.push_back(mmap(nullptr, 4096, PROT_READ,
                                                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
                                else if (op == 'u' && !maps.empty()) {
                                        munmap(maps.back(), 4096);
                                        maps.pop_back();
                                }
                                if (write(a[1], &op, 1) != 1)
                                        _exit(1);
                        }
                        _exit(0);
                }
                close(c[0]);
                close(a[1]);
                cmd = c[1];
                ack = a[0];
        }
        void Do(char op) {
                ASSERT_EQ(1, write(cmd, &op, 1));
                char got;
                ASSERT_EQ(1, read(ack, &got, 1));
        }
        ~Child() {
                if (pid > 0) {
                        kill(pid, SIGKILL);
                        waitpid(pid, nullptr, 0);
                }
                close(cmd);
                close(ack);
        }
};

std::vector<std::string> Files(const std::string &dir) {
        std::vector<std::string> v;
        DIR *d = opendir(dir.c_str());
        if (!d)
                return v;
        while (struct dirent *e = readdir(d))
                if (e->d_name[0] != '.')
                        v.push_back(e->d_name);
        closedir(d);
        return v;
}

struct Events {
        std::vector<std::string> lines;
        static void Cb(void *user, const char *, enum log_level, const char *msg) {
                static_cast<Events *>(user)->lines.push_back(msg);
        }
};

class WorkerTest : public ::testing::Test {
      protected:
        void SetUp() override {
                const char *tmp = getenv("TEST_TMPDIR");
                dir = std::string(tmp ? tmp : "/tmp") + "/worker_" +
                      ::testing::UnitTest::GetInstance()->current_test_info()->name();
                ASSERT_NO_FATAL_FAILURE(Remake(Params()));
        }
        void TearDown() override {
                worker_free(w, 0);
        }

        // The fixture's target: the child by pid, backups in dir.
        struct worker_params Params() {
                struct worker_params p = {};
                p.name = const_cast<char *>("t");
                p.selector = SELECT_PID;
                p.pid = child.pid;
                p.backup_dir = const_cast<char *>(dir.c_str());
                p.policy.interval_us = 1000000;
                p.policy.full_every = 100;
                return p;
        }
        // Replaces the worker with one for p.
        void Remake(const struct worker_params &p) {
                worker_free(w, 0);
                w = nullptr;
                struct worker_env env = {Events::Cb, &events, nullptr};
                ASSERT_EQ(0, worker_new(&p, &env, 0, &w));
        }

        Child child;
        Events events;
        std::string dir;
        struct worker *w = nullptr;
};

TEST_F(WorkerTest, FirstTickWritesOneFullSnapshot) {
        ASSERT_EQ(0, worker_tick(w));
        EXPECT_EQ(1u, Files(dir + "/full").size());
        EXPECT_TRUE(Files(dir + "/incremental").empty());
        struct worker_status st;
        worker_get_status(w, &st);
        EXPECT_EQ(TARGET_ATTACHED, st.state);
        EXPECT_EQ(child.pid, st.pid);
        EXPECT_GT(st.regions, 0u);
}

TEST_F(WorkerTest, NoChangeTickAllocatesNothingAndWritesNothing) {
        ASSERT_EQ(0, worker_tick(w));
        // Warm up: a change grows the diff buffer and the backup buffer once.
        child.Do('m');
        ASSERT_EQ(0, worker_tick(w));
        ASSERT_EQ(0, worker_tick(w));
        size_t full = Files(dir + "/full").size(), incr = Files(dir + "/incremental").size();
        size_t events_before = events.lines.size();
        uint64_t allocs = mm_alloc_count();
        for (int i = 0; i < 200; i++)
                ASSERT_EQ(0, worker_tick(w));
        EXPECT_EQ(allocs, mm_alloc_count()) << "a tick with no change allocated";
        EXPECT_EQ(full, Files(dir + "/full").size());
        EXPECT_EQ(incr, Files(dir + "/incremental").size());
        EXPECT_EQ(events_before, events.lines.size());
        struct worker_status st;
        worker_get_status(w, &st);
        EXPECT_EQ(1u, st.diffs_written);
}

TEST_F(WorkerTest, EachChangeWritesOneDiffThatReplays) {
        ASSERT_EQ(0, worker_tick(w));
        for (int i = 0; i < 5; i++) {
                child.Do(i % 2 ? 'u' : 'm');
                ASSERT_EQ(0, worker_tick(w));
        }
        EXPECT_EQ(5u, Files(dir + "/incremental").size());
        struct maps_snapshot s;
        maps_snapshot_init(&s);
        ASSERT_EQ(0, backup_replay(dir.c_str(), nullptr, &s, nullptr, nullptr));
        std::string now;
        char buf[65536];
        int fd = open(("/proc/" + std::to_string(child.pid) + "/maps").c_str(), O_RDONLY);
        ssize_t n;
        while ((n = read(fd, buf, sizeof buf)) > 0)
                now.append(buf, n);
        close(fd);
        EXPECT_EQ(now, std::string(s.text, s.len));
        maps_snapshot_fini(&s);
}

TEST_F(WorkerTest, FullEveryStartsANewChain) {
        struct worker_params p = Params();
        p.policy.full_every = 2;
        ASSERT_NO_FATAL_FAILURE(Remake(p));
        ASSERT_EQ(0, worker_tick(w));
        for (int i = 0; i < 3; i++) {
                child.Do('m');
                ASSERT_EQ(0, worker_tick(w));
        }
        // full, diff, diff, then the third change is a full snapshot.
        EXPECT_EQ(2u, Files(dir + "/full").size());
        EXPECT_EQ(2u, Files(dir + "/incremental").size());
}

TEST_F(WorkerTest, ExitedProcessGetsAFinalSnapshot) {
        ASSERT_EQ(0, worker_tick(w));
        kill(child.pid, SIGKILL);
        waitpid(child.pid, nullptr, 0);
        child.pid = -1;
        EXPECT_EQ(-ESRCH, worker_tick(w));
        EXPECT_EQ(2u, Files(dir + "/full").size());
        struct worker_status st;
        worker_get_status(w, &st);
        EXPECT_EQ(TARGET_EXITED, st.state);
        // An exited pid target stays quiet.
        EXPECT_EQ(0, worker_tick(w));
        EXPECT_EQ(2u, Files(dir + "/full").size());
}

TEST_F(WorkerTest, MissingProcessWaits) {
        struct worker_params p = Params();
        std::string pidfile = dir + ".pid";
        p.selector = SELECT_PIDFILE;
        p.pid = 0;
        p.pidfile = const_cast<char *>(pidfile.c_str());
        ASSERT_NO_FATAL_FAILURE(Remake(p));
        EXPECT_LT(worker_tick(w), 0);
        struct worker_status st;
        worker_get_status(w, &st);
        EXPECT_EQ(TARGET_WAITING, st.state);
        EXPECT_NE(std::string(st.reason).find("pidfile"), std::string::npos) << st.reason;
        // The pidfile appears: the target attaches on the next tick.
        FILE *f = fopen(pidfile.c_str(), "w");
        fprintf(f, "%d\n", child.pid);
        fclose(f);
        EXPECT_EQ(0, worker_tick(w));
        worker_get_status(w, &st);
        EXPECT_EQ(TARGET_ATTACHED, st.state);
        EXPECT_EQ(child.pid, st.pid);
}

// A failed worker_post's error passed on to worker_wait comes back at once,
// not after the timeout.
TEST_F(WorkerTest, WaitOnAFailedPostReturnsItsError) {
        EXPECT_EQ(-ENOMEM, worker_wait(w, -ENOMEM, 500));
        EXPECT_EQ(-EINVAL, worker_wait(w, -EINVAL, 500));
}

// Every initialisation is checked: a worker whose semaphore or lock cannot
// be made is not made (and nothing leaks, which ASan checks).
TEST_F(WorkerTest, FailedSyncInitFailsCleanly) {
        struct worker *other = reinterpret_cast<struct worker *>(0x1);
        struct worker_env env = {Events::Cb, &events, nullptr};
        struct worker_params p = Params();
        fail_sem_init = 1;
        EXPECT_EQ(-ENOSPC, worker_new(&p, &env, 0, &other));
        fail_sem_init = 0;
        fail_mutex_init = 1;
        EXPECT_EQ(-EAGAIN, worker_new(&p, &env, 0, &other));
        fail_mutex_init = 0;
        EXPECT_EQ(reinterpret_cast<struct worker *>(0x1), other) << "*ret untouched on failure";
        ASSERT_EQ(0, worker_new(&p, &env, 0, &other));
        worker_free(other, 0);
}

// A process that calls exec keeps its pid and start time: the target reopens
// its maps and the chain goes on with a diff, no new chain.
TEST_F(WorkerTest, ExecContinuesTheChain) {
        int go[2], done[2];
        ASSERT_EQ(0, pipe(go));
        ASSERT_EQ(0, pipe2(done, O_CLOEXEC));
        pid_t pid = fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
                char c;
                close(go[1]);
                close(done[0]);
                if (read(go[0], &c, 1) == 1)
                        execl("/bin/sleep", "sleep", "1000", (char *)nullptr);
                _exit(127);
        }
        close(go[0]);
        close(done[1]);
        struct worker_params p = Params();
        p.pid = pid;
        ASSERT_NO_FATAL_FAILURE(Remake(p));
        ASSERT_EQ(0, worker_tick(w));
        ASSERT_EQ(1, write(go[1], "x", 1));
        char c;
        // The close-on-exec pipe ends when the new image is in place.
        EXPECT_EQ(0, read(done[0], &c, 1));
        EXPECT_EQ(0, worker_tick(w));
        struct worker_status st;
        worker_get_status(w, &st);
        EXPECT_EQ(TARGET_ATTACHED, st.state);
        EXPECT_EQ(pid, st.pid);
        EXPECT_EQ(1u, st.full_written) << "no new chain";
        EXPECT_GE(st.diffs_written, 1u);
        kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
        close(go[1]);
        close(done[0]);
}

// `pid N` ends the old chain as a pidfile move does, with a full snapshot of
// its last state; the figures of the process left behind go; a target named
// after its pid is named after the new one.
TEST_F(WorkerTest, FollowPidEndsTheChainResetsTheFiguresAndRenames) {
        std::string name = "pid" + std::to_string(child.pid);
        struct worker_params p = Params();
        p.name = const_cast<char *>(name.c_str());
        p.name_follows_pid = true;
        ASSERT_NO_FATAL_FAILURE(Remake(p));
        ASSERT_EQ(0, worker_start(w));
        struct worker_status st;
        for (int i = 0; i < 1000; i++) {
                worker_get_status(w, &st);
                if (st.full_written == 1)
                        break;
                usleep(10000);
        }
        ASSERT_EQ(1u, st.full_written);
        ASSERT_GT(st.regions, 0u);
        ASSERT_NE(0, st.last_change.tv_sec);
        // A process that has exited: nothing replaces the old figures.
        pid_t gone = fork();
        if (gone == 0)
                _exit(0);
        ASSERT_GT(gone, 0);
        int64_t t = worker_post(w, REQ_PID, gone, nullptr);
        ASSERT_EQ(0, worker_wait(w, t, 10000));
        worker_get_status(w, &st);
        EXPECT_EQ(gone, st.pid);
        EXPECT_EQ(2u, st.full_written) << "no final snapshot of the old chain";
        EXPECT_EQ(0u, st.regions);
        EXPECT_EQ(0, st.last_change.tv_sec);
        EXPECT_EQ("pid" + std::to_string(gone), std::string(worker_name(w)));
        worker_free(w, 0);
        w = nullptr;
        waitpid(gone, nullptr, 0);
        EXPECT_EQ(2u, Files(dir + "/full").size());
        bool final_seen = false;
        for (const auto &l : events.lines)
                final_seen |= l.find("final, following pid " + std::to_string(gone)) != std::string::npos;
        EXPECT_TRUE(final_seen);
}

} // namespace
