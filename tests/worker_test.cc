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
#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include <gtest/gtest.h>

extern "C" {
#include "core/alerts.h"
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

// A child that maps ('m' read-only, 'x' writable and executable) or unmaps
// ('u', the last one) a page each time it reads a byte on its pipe, and
// acknowledges on another.
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
                                else if (op == 'x')
                                        maps.push_back(mmap(nullptr, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
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

// The whole file (read in pieces: /proc files have no size).
std::string ReadAll(const std::string &path) {
        std::string s;
        int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return s;
        char buf[65536];
        ssize_t n;
        while ((n = read(fd, buf, sizeof(buf))) > 0)
                s.append(buf, static_cast<size_t>(n));
        close(fd);
        return s;
}

// The message lines and the typed events a worker reports; a typed event
// is written as its name, with ":RULE" for alerts and ":STATE" (the new
// one) for state changes.
struct Events {
        std::vector<std::string> lines;
        std::vector<std::string> kinds;
        static void Cb(void *user, const char *, enum log_level, const char *msg) {
                static_cast<Events *>(user)->lines.push_back(msg);
        }
        static void OnEvent(void *user, const struct worker_event *ev) {
                std::string k = worker_event_name(ev->kind);
                if (ev->kind == WORKER_EVENT_ALERT || ev->kind == WORKER_EVENT_ALERT_CLEARED)
                        k += std::string(":") + alert_rule_info(ev->alert->rule)->name;
                if (ev->kind == WORKER_EVENT_STATE)
                        k += std::string(":") + target_state_name(ev->new_state);
                static_cast<Events *>(user)->kinds.push_back(k);
        }
        size_t Count(const std::string &kind) const {
                size_t n = 0;
                for (const auto &k : kinds)
                        n += k == kind;
                return n;
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
                // The built-in alert rules, every one of them armed: the
                // hot path is measured with all of its work.
                alert_policy_init(&p.policy.alerts);
                p.policy.alerts.text_check_us = 3600000000u;
                p.policy.alerts.max_regions = 1000000;
                p.policy.alerts.max_mapped = UINT64_C(1) << 62; // sanitizers map tens of TiB
                p.policy.alerts.max_growth = UINT64_C(1) << 40;
                p.policy.alerts.growth_window_us = 3600000000u;
                return p;
        }
        // Replaces the worker with one for p.
        void Remake(const struct worker_params &p) {
                worker_free(w, 0);
                w = nullptr;
                struct worker_env env = {};
                env.event = Events::Cb;
                env.user = &events;
                env.on_event = Events::OnEvent;
                env.on_event_user = &events;
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

// With every alert rule armed (Params()): rules cost nothing on a tick
// whose maps did not change.
TEST_F(WorkerTest, NoChangeTickAllocatesNothingAndWritesNothing) {
        ASSERT_EQ(0, worker_tick(w));
        // Warm up: a change grows the diff buffer and the backup buffer once.
        child.Do('m');
        ASSERT_EQ(0, worker_tick(w));
        ASSERT_EQ(0, worker_tick(w));
        size_t full = Files(dir + "/full").size(), incr = Files(dir + "/incremental").size();
        size_t events_before = events.lines.size(), kinds_before = events.kinds.size();
        uint64_t allocs = mm_alloc_count();
        for (int i = 0; i < 200; i++)
                ASSERT_EQ(0, worker_tick(w));
        EXPECT_EQ(allocs, mm_alloc_count()) << "a tick with no change allocated";
        EXPECT_EQ(full, Files(dir + "/full").size());
        EXPECT_EQ(incr, Files(dir + "/incremental").size());
        EXPECT_EQ(events_before, events.lines.size());
        EXPECT_EQ(kinds_before, events.kinds.size());
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
        struct worker_env env = {};
        env.event = Events::Cb;
        env.user = &events;
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
        // Its loader may still be mapping libraries: a tick whose every
        // read was torn records nothing (-EAGAIN), and the next one reads
        // again.  A few milliseconds; 5 s on the slowest sanitizer.
        int r = -EAGAIN;
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while ((r = worker_tick(w)) == -EAGAIN && std::chrono::steady_clock::now() < deadline)
                usleep(1000);
        EXPECT_EQ(0, r);
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

// The watchdog's verdict on a worker, from the stamps it publishes.
TEST(WorkerHealth, StuckOnlyWhenBusyOrLateOutsideItsTarget) {
        const uint64_t s = 1000000, now = 1000 * s;
        worker_health h = {};
        h.interval_us = 2 * s;
        h.last_done_us = now - s;
        EXPECT_FALSE(worker_health_stuck(&h, now)) << "asleep until its next tick";

        h.busy_since_us = now - WORKER_BUSY_MAX_US + 1;
        EXPECT_FALSE(worker_health_stuck(&h, now)) << "busy, within its deadline";
        h.busy_since_us = now - WORKER_BUSY_MAX_US - 1;
        EXPECT_TRUE(worker_health_stuck(&h, now)) << "busy too long (writing, locked...)";
        h.on_target_since_us = now - 600 * s;
        EXPECT_FALSE(worker_health_stuck(&h, now)) << "blocked in a call on its target: the target is stuck";

        h = {};
        h.interval_us = 2 * s;
        h.last_done_us = now - 3 * h.interval_us - WORKER_LATE_MAX_US - 1;
        EXPECT_TRUE(worker_health_stuck(&h, now)) << "a tick was due long ago and never came";
        h.idle = 1;
        EXPECT_FALSE(worker_health_stuck(&h, now)) << "paused or exited: nothing is due";
        h.idle = 0;
        h.last_done_us = now - 3 * h.interval_us;
        EXPECT_FALSE(worker_health_stuck(&h, now)) << "late, but within three intervals and the grace";
}

// The metric counters follow the maps and the folder.
TEST_F(WorkerTest, MetricCountersFollowTheMapsAndTheFolder) {
        ASSERT_EQ(0, worker_tick(w));
        child.Do('m');
        ASSERT_EQ(0, worker_tick(w));
        struct worker_status st;
        worker_get_status(w, &st);
        // What the kernel says now (the child does nothing between).
        std::string maps = ReadAll("/proc/" + std::to_string(child.pid) + "/maps");
        uint64_t total = 0, exec = 0, heap = 0;
        size_t lines = 0;
        for (size_t pos = 0; pos < maps.size();) {
                size_t nl = maps.find('\n', pos);
                std::string line = maps.substr(pos, nl - pos);
                pos = nl + 1;
                unsigned long long lo, hi;
                char perms[5];
                ASSERT_EQ(3, sscanf(line.c_str(), "%llx-%llx %4s", &lo, &hi, perms)) << line;
                total += hi - lo;
                lines++;
                if (perms[2] == 'x')
                        exec += hi - lo;
                if (line.find("[heap]") != std::string::npos)
                        heap += hi - lo;
        }
        uint64_t sum = 0;
        for (int k = 0; k < REGION_KINDS; k++)
                sum += st.mapped_bytes[k];
        EXPECT_EQ(lines, st.regions);
        EXPECT_EQ(total, sum);
        EXPECT_EQ(exec, st.exec_bytes);
        EXPECT_EQ(heap, st.mapped_bytes[REGION_HEAP]);
        EXPECT_GT(st.mapped_bytes[REGION_FILE], 0u);
        uint64_t on_disk = 0;
        for (const char *sub : {"/full", "/incremental"})
                for (const auto &f : Files(dir + sub))
                        on_disk += ReadAll(dir + sub + "/" + f).size();
        EXPECT_EQ(on_disk, st.backup_bytes);
        EXPECT_GT(st.backup_bytes, 0u);
}

// A live worker publishes its stamps: asleep between ticks, never stuck.
TEST_F(WorkerTest, PublishesHealthStamps) {
        struct worker_health h;
        worker_get_health(w, &h);
        EXPECT_GT(h.last_done_us, 0u);
        EXPECT_EQ(0u, h.on_target_since_us);
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        uint64_t now = static_cast<uint64_t>(t.tv_sec) * 1000000u + static_cast<uint64_t>(t.tv_nsec) / 1000u;
        EXPECT_FALSE(worker_health_stuck(&h, now));
}

// The typed events follow the target's life: attach, its state, the first
// full snapshot, a diff with the alert it raised, the clearing when the
// region goes, and the exit.
TEST_F(WorkerTest, TypedEventsFollowTheTarget) {
        ASSERT_EQ(0, worker_tick(w));
        EXPECT_EQ((std::vector<std::string>{"attach", "state:running", "full"}), events.kinds);
        events.kinds.clear();
        child.Do('x');
        ASSERT_EQ(0, worker_tick(w));
        // rwx anonymous memory is one finding (wx), not two.
        EXPECT_EQ((std::vector<std::string>{"diff", "alert:wx"}), events.kinds);
        struct worker_status st;
        worker_get_status(w, &st);
        EXPECT_EQ(1u, st.alerts_active);
        EXPECT_EQ(1u, st.alerts_raised[ALERT_WX]);
        bool warned = false;
        for (const auto &l : events.lines)
                warned |= l.rfind("alert: wx: ", 0) == 0 && l.find(" rwxp ") != std::string::npos;
        EXPECT_TRUE(warned) << "no WARN line naming the rule and the region";
        events.kinds.clear();
        // Unchanged: nothing again.
        ASSERT_EQ(0, worker_tick(w));
        EXPECT_TRUE(events.kinds.empty());
        child.Do('u');
        ASSERT_EQ(0, worker_tick(w));
        EXPECT_EQ((std::vector<std::string>{"diff", "alert_cleared:wx"}), events.kinds);
        worker_get_status(w, &st);
        EXPECT_EQ(0u, st.alerts_active);
        child.Do('x');
        ASSERT_EQ(0, worker_tick(w));
        events.kinds.clear();
        kill(child.pid, SIGKILL);
        waitpid(child.pid, nullptr, 0);
        child.pid = -1;
        EXPECT_EQ(-ESRCH, worker_tick(w));
        EXPECT_EQ((std::vector<std::string>{"exit", "full", "alert_cleared:wx", "state:exited"}),
                  events.kinds);
}

// The worker thread owns the alerts: `alerts` asks it, in text and JSON;
// a policy posted with REQ_PARAMS applies to what is mapped now.
TEST_F(WorkerTest, AlertsRequestAndPolicyChange) {
        child.Do('x');
        ASSERT_EQ(0, worker_start(w));
        ASSERT_EQ(0, worker_wait(w, worker_post(w, REQ_SAMPLE, 0, nullptr), 10000));
        struct strbuf b;
        strbuf_init(&b);
        ASSERT_EQ(1, worker_alerts(w, 0, &b, 10000));
        std::string text(strbuf_str(&b));
        EXPECT_EQ(0u, text.find("wx: ")) << text;
        EXPECT_NE(std::string::npos, text.find(" rwxp ")) << text;
        EXPECT_NE(std::string::npos, text.find("(since ")) << text;
        strbuf_reset(&b);
        ASSERT_EQ(1, worker_alerts(w, 1, &b, 10000));
        std::string json(strbuf_str(&b));
        EXPECT_EQ(0u, json.find("{\"v\":1,\"target\":\"t\",\"pid\":" + std::to_string(child.pid) + ","))
            << json;
        EXPECT_NE(std::string::npos, json.find("\"rule\":\"wx\"")) << json;
        EXPECT_EQ('\n', json.back());
        strbuf_fini(&b);

        // wx off: the region is still anonymous executable memory.
        struct worker_params p = Params();
        p.policy.alerts.on[ALERT_WX] = 0;
        ASSERT_EQ(0, worker_wait(w, worker_post(w, REQ_PARAMS, 0, &p), 10000));
        struct worker_status st;
        worker_get_status(w, &st);
        EXPECT_EQ(1u, st.alerts_active);
        EXPECT_EQ(1u, st.alerts_raised[ALERT_ANON_EXEC]);
        p.policy.alerts.on[ALERT_ANON_EXEC] = 0;
        ASSERT_EQ(0, worker_wait(w, worker_post(w, REQ_PARAMS, 0, &p), 10000));
        worker_get_status(w, &st);
        EXPECT_EQ(0u, st.alerts_active);
        strbuf_init(&b);
        EXPECT_EQ(0, worker_alerts(w, 0, &b, 10000));
        EXPECT_EQ(0u, b.len);
        strbuf_fini(&b);
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
        // Until it has exited it still holds a copy of this process's
        // mappings: wait for the zombie, without reaping it.
        siginfo_t si;
        ASSERT_EQ(0, waitid(P_PID, static_cast<id_t>(gone), &si, WEXITED | WNOWAIT));
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
