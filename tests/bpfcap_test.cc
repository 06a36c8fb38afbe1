// bpfcap: the eBPF capture (capture/) against real processes.  Loading BPF
// needs root (or CAP_BPF and CAP_PERFMON) in the initial user namespace and
// a kernel with BTF; where that is missing each test says so and skips,
// except those that check the reason given, which make the condition
// themselves (a user namespace, dropped capabilities).
#include "capture/bpfcap.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/backup_event.h"
#include "core/capture.h"
#include "core/maps.h"

namespace {

// An event as a sink got it, with its own copy of the path.
struct Got {
        capture_event ev;
        std::string path;
};

// A sink that keeps what it gets; the consumer thread may call it.
struct Collector {
        std::mutex mu;
        std::vector<Got> got;

        static void Sink(void *ctx, const capture_event *ev) {
                auto *c = static_cast<Collector *>(ctx);
                std::lock_guard<std::mutex> l(c->mu);
                Got g{*ev, ev->path ? std::string(ev->path, ev->path_len) : std::string()};
                g.ev.path = nullptr;
                c->got.push_back(g);
        }
        bpfcap_sink AsSink() {
                return bpfcap_sink{Sink, this};
        }
        std::vector<Got> Of(pid_t pid, capture_op op) {
                std::lock_guard<std::mutex> l(mu);
                std::vector<Got> v;
                for (const auto &g : got)
                        if (g.ev.op == op && (pid == 0 || g.ev.pid == pid))
                                v.push_back(g);
                return v;
        }
        // The events of pid and op for which pred holds.
        template <typename P> std::vector<Got> Where(pid_t pid, capture_op op, P pred) {
                std::vector<Got> v;
                for (const auto &g : Of(pid, op))
                        if (pred(g))
                                v.push_back(g);
                return v;
        }
        size_t Size() {
                std::lock_guard<std::mutex> l(mu);
                return got.size();
        }
        void Clear() {
                std::lock_guard<std::mutex> l(mu);
                got.clear();
        }
};

// A child process that changes its mappings on command: one command byte
// and up to three numbers in, one number out.
class Target {
      public:
        Target() {
                int in[2], out[2];
                if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC))
                        abort();
                pid_ = fork();
                if (pid_ < 0)
                        abort();
                if (pid_ == 0) {
                        close(in[1]);
                        close(out[0]);
                        Serve(in[0], out[1]);
                }
                close(in[0]);
                close(out[1]);
                to_ = in[1];
                from_ = out[0];
        }
        ~Target() {
                close(to_);
                close(from_);
                kill(pid_, SIGKILL);
                waitpid(pid_, nullptr, 0);
        }
        pid_t pid() const {
                return pid_;
        }
        // Runs a command; returns its answer.
        uint64_t Do(char cmd, uint64_t a = 0, uint64_t b = 0, uint64_t c = 0, const std::string &s = "") {
                struct Req r = {cmd, {a, b, c}, {0}};
                snprintf(r.path, sizeof(r.path), "%s", s.c_str());
                if (write(to_, &r, sizeof(r)) != (ssize_t)sizeof(r))
                        return ~UINT64_C(0);
                uint64_t v = ~UINT64_C(0);
                if (read(from_, &v, sizeof(v)) != (ssize_t)sizeof(v))
                        return ~UINT64_C(0);
                return v;
        }

      private:
        struct Req {
                char cmd;
                uint64_t n[3];
                char path[512];
        };

        // Each frame touches 64 KiB of stack, so that the stack grows
        // past anything this process used before.
        static uint64_t Deep(int depth) {
                volatile char frame[64 * 1024];
                frame[0] = (char)depth;
                frame[sizeof(frame) - 1] = (char)depth;
                return depth > 0 ? Deep(depth - 1) + frame[0] : frame[sizeof(frame) - 1];
        }

        [[noreturn]] static void Serve(int in, int out) {
                Req r;
                while (read(in, &r, sizeof(r)) == (ssize_t)sizeof(r)) {
                        uint64_t v = 0;
                        void *p;
                        int fd, id;
                        switch (r.cmd) {
                        case 'm': // mmap anonymous: n0 bytes, prot n1
                                p = mmap(nullptr, r.n[0], (int)r.n[1], MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                                v = p == MAP_FAILED ? 0 : (uint64_t)(uintptr_t)p;
                                break;
                        case 'f': // mmap the file path, n0 bytes, read-only
                                fd = open(r.path, O_RDONLY | O_CLOEXEC);
                                p = fd < 0 ? MAP_FAILED
                                           : mmap(nullptr, r.n[0], PROT_READ, MAP_PRIVATE, fd, 0);
                                if (fd >= 0)
                                        close(fd);
                                v = p == MAP_FAILED ? 0 : (uint64_t)(uintptr_t)p;
                                break;
                        case 'p':
                                v = (uint64_t)mprotect((void *)(uintptr_t)r.n[0], r.n[1], (int)r.n[2]);
                                break;
                        case 'u':
                                v = (uint64_t)munmap((void *)(uintptr_t)r.n[0], r.n[1]);
                                break;
                        case 'r': // mremap, may move
                                p = mremap((void *)(uintptr_t)r.n[0], r.n[1], r.n[2], MREMAP_MAYMOVE);
                                v = p == MAP_FAILED ? 0 : (uint64_t)(uintptr_t)p;
                                break;
                        case 'b': // grow the heap by n0
                                p = sbrk((intptr_t)r.n[0]);
                                v = p == (void *)-1 ? 0 : (uint64_t)(uintptr_t)sbrk(0);
                                break;
                        case 'a': // advice that changes the mapping's flags
                                v = (uint64_t)madvise((void *)(uintptr_t)r.n[0], r.n[1], MADV_DONTFORK);
                                break;
                        case 's': // SysV shared memory: attach one
                                id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
                                p = id < 0 ? (void *)-1 : shmat(id, nullptr, 0);
                                if (id >= 0)
                                        shmctl(id, IPC_RMID, nullptr);
                                v = p == (void *)-1 ? 0 : (uint64_t)(uintptr_t)p;
                                break;
                        case 'd':
                                v = (uint64_t)shmdt((void *)(uintptr_t)r.n[0]);
                                break;
                        case 'g':
                                v = Deep((int)r.n[0]);
                                break;
                        case 'e': // become another program
                                if (write(out, &v, sizeof(v)) != (ssize_t)sizeof(v))
                                        _exit(3);
                                execl(r.path, r.path, "60", (char *)nullptr);
                                _exit(127);
                        }
                        if (write(out, &v, sizeof(v)) != (ssize_t)sizeof(v))
                                _exit(2);
                }
                _exit(0);
        }

        pid_t pid_;
        int to_, from_;
};

uint64_t NowMs() {
        timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

// One bpfcap for the tests that need no options of their own: loading the
// program costs a verifier run.
class Cap : public ::testing::Test {
      protected:
        static void SetUpTestSuite() {
                bpfcap_options o = {};
                char reason[512] = "";
                int r = bpfcap_new(&o, &shared_, reason, sizeof(reason));
                if (r < 0)
                        why_ = reason;
        }
        static void TearDownTestSuite() {
                bpfcap_free(shared_);
                shared_ = nullptr;
        }
        void SetUp() override {
                if (!shared_)
                        GTEST_SKIP() << "eBPF capture unavailable here: " << why_;
                cap_ = shared_;
        }
        // Watches t with col as its sink; its counter in *ret.
        void Watch(const Target &t, capture_counter *ret) {
                bpfcap_sink sink = col_.AsSink();
                unsigned slot;
                ASSERT_EQ(0, bpfcap_watch(cap_, t.pid(), &sink, &slot));
                ASSERT_EQ(0, bpfcap_counter(cap_, slot, ret));
                // A fresh slot counts from 0; a sanitizer's runtime in the
                // child may map a page of its own at any moment, so not
                // necessarily 0 by now.
                EXPECT_LT(capture_seq(ret), 16u);
        }

        static bpfcap *shared_;
        static std::string why_;
        bpfcap *cap_ = nullptr;
        Collector col_;
};
bpfcap *Cap::shared_ = nullptr;
std::string Cap::why_;

TEST_F(Cap, EveryKindOfChangeMovesTheCounterAndIsReported) {
        Target t;
        capture_counter cnt;
        Watch(t, &cnt);
        const uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE);
        uint64_t seq = capture_seq(&cnt);
        // Each step: a command, the event it must produce, what it must say.
        auto step = [&](const char *what, capture_op op) {
                uint64_t now = capture_seq(&cnt);
                EXPECT_GT(now, seq) << what << ": the counter did not move";
                seq = now;
                ASSERT_GE(bpfcap_consume(cap_), 0);
                EXPECT_FALSE(col_.Of(t.pid(), op).empty())
                    << what << ": no " << capture_op_name(op) << " event";
        };
        uint64_t a = t.Do('m', 4 * pg, PROT_READ | PROT_WRITE);
        ASSERT_NE(0u, a);
        step("mmap", CAPTURE_OP_MMAP);
        // (A sanitizer's runtime in the child maps memory of its own:
        // events are found by what they say, not by their number.)
        auto mms = col_.Where(t.pid(), CAPTURE_OP_MMAP, [&](const Got &g) { return g.ev.len == 4 * pg; });
        ASSERT_EQ(1u, mms.size());
        auto mm = mms[0];
        EXPECT_EQ((uint32_t)(PROT_READ | PROT_WRITE), mm.ev.prot);
        EXPECT_EQ((uint32_t)(MAP_PRIVATE | MAP_ANONYMOUS), mm.ev.flags);
        EXPECT_EQ(t.pid(), mm.ev.tid);
        // The address the kernel chose, in the same section.
        auto addr = col_.Where(t.pid(), CAPTURE_OP_ADDR, [&](const Got &g) { return g.ev.seq == mm.ev.seq; });
        ASSERT_EQ(1u, addr.size());
        EXPECT_EQ(a, addr[0].ev.addr);

        ASSERT_EQ(0u, t.Do('p', a, pg, PROT_READ));
        step("mprotect", CAPTURE_OP_MPROTECT);
        auto mp = col_.Where(t.pid(), CAPTURE_OP_MPROTECT, [&](const Got &g) { return g.ev.addr == a; });
        ASSERT_EQ(1u, mp.size());
        EXPECT_EQ(pg, mp[0].ev.len);
        EXPECT_EQ((uint32_t)PROT_READ, mp[0].ev.prot);

        ASSERT_EQ(0u, t.Do('a', a + pg, pg));
        step("madvise", CAPTURE_OP_MADVISE);
        auto ma = col_.Where(t.pid(), CAPTURE_OP_MADVISE, [&](const Got &g) { return g.ev.addr == a + pg; });
        ASSERT_EQ(1u, ma.size());
        EXPECT_EQ(pg, ma[0].ev.len);
        EXPECT_EQ((uint64_t)MADV_DONTFORK, ma[0].ev.arg);

        uint64_t moved = t.Do('r', a + 2 * pg, pg, 64 * pg);
        ASSERT_NE(0u, moved);
        step("mremap", CAPTURE_OP_MREMAP);
        auto mr =
            col_.Where(t.pid(), CAPTURE_OP_MREMAP, [&](const Got &g) { return g.ev.addr == a + 2 * pg; });
        ASSERT_EQ(1u, mr.size());
        EXPECT_EQ(pg, mr[0].ev.len);
        EXPECT_EQ(64 * pg, mr[0].ev.arg);
        EXPECT_EQ((uint32_t)MREMAP_MAYMOVE, mr[0].ev.flags);

        ASSERT_EQ(0u, t.Do('u', a, 2 * pg));
        step("munmap", CAPTURE_OP_MUNMAP);
        EXPECT_EQ(1u, col_.Where(t.pid(), CAPTURE_OP_MUNMAP,
                                 [&](const Got &g) { return g.ev.addr == a && g.ev.len == 2 * pg; })
                          .size());

        uint64_t brk = t.Do('b', 64 * 1024);
        ASSERT_NE(0u, brk);
        step("brk", CAPTURE_OP_BRK);
        EXPECT_EQ(1u,
                  col_.Where(t.pid(), CAPTURE_OP_BRK,
                             [&](const Got &g) { return g.ev.addr == brk && g.ev.arg == brk - 64 * 1024; })
                      .size());

        uint64_t shm = t.Do('s');
        ASSERT_NE(0u, shm);
        step("shmat", CAPTURE_OP_SHMAT);
        ASSERT_EQ(0u, t.Do('d', shm));
        step("shmdt", CAPTURE_OP_SHMDT);
        EXPECT_EQ(
            1u, col_.Where(t.pid(), CAPTURE_OP_SHMDT, [&](const Got &g) { return g.ev.addr == shm; }).size());

        // The stack grows by a page fault, not a system call.
        t.Do('g', 64);
        step("stack growth", CAPTURE_OP_FAULT);
        EXPECT_NE(0u, col_.Of(t.pid(), CAPTURE_OP_FAULT).back().ev.addr);

        // A new image: exec sets up the new mappings in several sections.
        t.Do('e', 0, 0, 0, "/bin/sleep");
        uint64_t deadline = NowMs() + 10000;
        while (col_.Of(t.pid(), CAPTURE_OP_EXECVE).empty() && NowMs() < deadline) {
                ASSERT_GE(bpfcap_consume(cap_), 0);
                usleep(10000);
        }
        step("execve", CAPTURE_OP_EXECVE);

        // Seqs never go back, and every event passes the chain's check.
        ASSERT_EQ(0, bpfcap_unwatch(cap_, t.pid()));
        uint64_t last = 0;
        for (const auto &g : col_.got) {
                EXPECT_GE(g.ev.seq, last);
                last = g.ev.seq;
                capture_event ev = g.ev;
                ev.path = g.path.empty() ? nullptr : g.path.data();
                ev.path_len = g.path.size();
                EXPECT_EQ(0, capture_event_check(&ev)) << capture_op_name(ev.op);
        }
        EXPECT_EQ(0u, capture_lost(&cnt));
}

// A temporary file with a hostile name, removed at the end.
class HostileFile {
      public:
        HostileFile() {
                const char *tmp = getenv("TEST_TMPDIR");
                char dir[PATH_MAX];
                snprintf(dir, sizeof(dir), "%s/hostileXXXXXX", tmp ? tmp : "/tmp");
                if (!mkdtemp(dir))
                        abort();
                char real[PATH_MAX];
                if (!realpath(dir, real))
                        abort();
                dir_ = real;
                path_ = dir_ + "/a\nb\tc\\d\x7f e\xff\xc3\xa9 (deleted)";
                int fd = open(path_.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
                if (fd < 0 || ftruncate(fd, 8192) < 0)
                        abort();
                close(fd);
        }
        ~HostileFile() {
                unlink(path_.c_str());
                rmdir(dir_.c_str());
        }
        const std::string &path() const {
                return path_;
        }

      private:
        std::string dir_, path_;
};

TEST_F(Cap, FileMappingNamesItsFileEvenAHostileName) {
        HostileFile f;
        Target t;
        capture_counter cnt;
        Watch(t, &cnt);
        ASSERT_NE(0u, t.Do('f', 8192, 0, 0, f.path()));
        ASSERT_GE(bpfcap_consume(cap_), 0);
        auto mm =
            col_.Where(t.pid(), CAPTURE_OP_MMAP, [&](const Got &g) { return g.ev.len == 8192 && g.ev.ino; });
        ASSERT_EQ(1u, mm.size());
        EXPECT_EQ(f.path(), mm[0].path);
        EXPECT_FALSE(mm[0].ev.path_cut);
        struct stat sb;
        ASSERT_EQ(0, stat(f.path().c_str(), &sb));
        EXPECT_EQ((uint64_t)sb.st_ino, mm[0].ev.ino);
        EXPECT_EQ(major(sb.st_dev), mm[0].ev.dev_major);
        EXPECT_EQ(minor(sb.st_dev), mm[0].ev.dev_minor);
        EXPECT_EQ((uint32_t)PROT_READ, mm[0].ev.prot);
        // As a chain keeps it: one line, read back byte for byte.
        capture_event ev = mm[0].ev;
        ev.path = mm[0].path.data();
        ev.path_len = mm[0].path.size();
        std::string line(backup_event_line_max(ev.path_len), '\0');
        int n = backup_event_format(&ev, &line[0]);
        ASSERT_GT(n, 0);
        line.resize(n);
        EXPECT_EQ(1, std::count(line.begin(), line.end(), '\n'));
        EXPECT_NE(std::string::npos, line.find("/a\\012b\\011c\\134d\\177 e\xff\xc3\xa9 (deleted)\n"))
            << line;
        std::vector<char> pbuf(line.size());
        capture_event back;
        const char *why = "";
        ASSERT_EQ(0, backup_event_parse(line.data(), line.size() - 1, &back, pbuf.data(), &why)) << why;
        EXPECT_EQ(f.path(), std::string(back.path, back.path_len));
        EXPECT_EQ(0, bpfcap_unwatch(cap_, t.pid()));
}

TEST_F(Cap, ShortLivedRwxPageIsReportedWithItsAddress) {
        Target t;
        capture_counter cnt;
        Watch(t, &cnt);
        const uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE);
        uint64_t before = capture_seq(&cnt);
        uint64_t a = t.Do('m', pg, PROT_READ | PROT_WRITE | PROT_EXEC);
        ASSERT_NE(0u, a);
        ASSERT_EQ(0u, t.Do('u', a, pg));
        EXPECT_GE(capture_seq(&cnt), before + 2);
        ASSERT_GE(bpfcap_consume(cap_), 0);
        auto mm = col_.Where(t.pid(), CAPTURE_OP_MMAP,
                             [&](const Got &g) { return g.ev.prot == 7 && g.ev.len == pg; });
        ASSERT_EQ(1u, mm.size());
        auto at =
            col_.Where(t.pid(), CAPTURE_OP_ADDR, [&](const Got &g) { return g.ev.seq == mm[0].ev.seq; });
        auto un = col_.Where(t.pid(), CAPTURE_OP_MUNMAP, [&](const Got &g) { return g.ev.addr == a; });
        ASSERT_EQ(1u, at.size());
        ASSERT_EQ(1u, un.size());
        EXPECT_EQ(a, at[0].ev.addr);
        EXPECT_EQ(pg, un[0].ev.len);
        EXPECT_GT(un[0].ev.seq, mm[0].ev.seq);
        EXPECT_LE(strcmp(mm[0].ev.time, un[0].ev.time), 0);
        EXPECT_EQ(0, bpfcap_unwatch(cap_, t.pid()));
}

TEST_F(Cap, AfterUnwatchNothingIsReported) {
        Target t;
        capture_counter cnt;
        Watch(t, &cnt);
        for (int i = 0; i < 64; i++)
                ASSERT_NE(0u, t.Do('m', 4096, PROT_READ));
        const uint64_t first = capture_seq(&cnt);
        ASSERT_GE(first, 64u);
        ASSERT_EQ(0, bpfcap_unwatch(cap_, t.pid()));
        EXPECT_EQ(-ENOENT, bpfcap_unwatch(cap_, t.pid()));
        ASSERT_GE(bpfcap_consume(cap_), 0);
        col_.Clear();
        ASSERT_NE(0u, t.Do('m', 4096, PROT_READ));
        ASSERT_GE(bpfcap_consume(cap_), 0);
        EXPECT_EQ(0u, col_.Size());
        // Watched again: a new slot, a counter from 0, not from the old
        // one's 64 or more.
        Watch(t, &cnt);
        ASSERT_NE(0u, t.Do('m', 4096, PROT_READ));
        EXPECT_GE(capture_seq(&cnt), 1u);
        EXPECT_EQ(-EEXIST, bpfcap_watch(cap_, t.pid(), nullptr, nullptr));
        EXPECT_EQ(0, bpfcap_unwatch(cap_, t.pid()));
}

TEST_F(Cap, QuietTargetReadsConsistentlyAtOnce) {
        // sleep(1): once started, it changes nothing (unlike a forked test
        // binary, whose sanitizer runtime may map memory at any time).  It
        // execs only once watched, so that its exec's sections are counted
        // (a slow parent, under a sanitizer, once watched it too late).
        int go[2];
        ASSERT_EQ(0, pipe2(go, O_CLOEXEC));
        pid_t child = fork();
        ASSERT_GE(child, 0);
        if (child == 0) {
                char c;
                close(go[1]);
                if (read(go[0], &c, 1) == 1)
                        execl("/bin/sleep", "sleep", "60", (char *)nullptr);
                _exit(127);
        }
        close(go[0]);
        bpfcap_sink none = {nullptr, nullptr};
        unsigned slot;
        capture_counter cnt;
        ASSERT_EQ(0, bpfcap_watch(cap_, child, &none, &slot));
        ASSERT_EQ(0, bpfcap_counter(cap_, slot, &cnt));
        ASSERT_EQ(1, write(go[1], "x", 1));
        close(go[1]);
        // Started: its maps name sleep and the counter stays put for a while.
        uint64_t seen = ~UINT64_C(0), since = NowMs();
        for (uint64_t end = NowMs() + 10000; NowMs() < end; usleep(2000)) {
                char exe[PATH_MAX] = "";
                ssize_t n =
                    readlink(("/proc/" + std::to_string(child) + "/exe").c_str(), exe, sizeof(exe) - 1);
                uint64_t now = capture_seq(&cnt);
                if (now != seen || n <= 0 || !strstr(exe, "sleep")) {
                        seen = now;
                        since = NowMs();
                } else if (NowMs() - since >= 100) {
                        break;
                }
        }
        int fd = maps_open(child);
        ASSERT_GE(fd, 0);
        maps_snapshot s;
        maps_snapshot_init(&s);
        uint64_t seq = 99;
        unsigned tries = 0;
        EXPECT_EQ(0, capture_read_maps(&cnt, child, fd, &s, 4, &seq, &tries));
        EXPECT_EQ(1u, tries);
        EXPECT_EQ(capture_seq(&cnt), seq);
        EXPECT_GT(seq, 0u) << "the exec's own sections were counted";
        EXPECT_NE(nullptr, memmem(s.text, s.len, "[stack]", 7));
        maps_snapshot_fini(&s);
        close(fd);
        EXPECT_EQ(0, bpfcap_unwatch(cap_, child));
        kill(child, SIGKILL);
        waitpid(child, nullptr, 0);
        // Gone: the barrier says so.
        EXPECT_EQ(-ESRCH, capture_barrier(child));
}

// The mremap phantom: a page moved back and forth across thousands of
// regions while the maps are read.  A plain read sees it twice or not at
// all; the consistent read must never accept such a text.
TEST_F(Cap, ConsistentReadNeverAcceptsATornPhantom) {
        const int regions = 8000;
        const long pg = sysconf(_SC_PAGESIZE);
        int ready[2];
        ASSERT_EQ(0, pipe2(ready, O_CLOEXEC));
        pid_t child = fork();
        ASSERT_GE(child, 0);
        if (child == 0) {
                // [low slot][gap][regions][gap][high slot]
                size_t span = (size_t)(regions + 4) * pg;
                char *area =
                    (char *)mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (area == MAP_FAILED)
                        _exit(2);
                char *low = area, *high = area + span - pg;
                // Alternate protections, so that neighbours never merge.
                for (int i = 0; i < regions; i += 2)
                        mprotect(area + (size_t)(2 + i) * pg, pg, PROT_READ);
                munmap(low, 2 * pg);
                munmap(high - pg, 2 * pg);
                int fd = memfd_create("phantom", 0);
                if (fd < 0 || ftruncate(fd, pg) < 0)
                        _exit(2);
                char *cur = (char *)mmap(low, pg, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0);
                if (cur == MAP_FAILED || write(ready[1], "r", 1) != 1)
                        _exit(2);
                for (unsigned i = 0;; i++) {
                        char *to = cur == low ? high : low;
                        if (mremap(cur, pg, pg, MREMAP_MAYMOVE | MREMAP_FIXED, to) == MAP_FAILED)
                                _exit(3);
                        cur = to;
                        usleep((i * 2654435761u) % 8000);
                }
        }
        close(ready[1]);
        char c;
        ASSERT_EQ(1, read(ready[0], &c, 1));
        close(ready[0]);
        bpfcap_sink none = {nullptr, nullptr};
        unsigned slot;
        capture_counter cnt;
        ASSERT_EQ(0, bpfcap_watch(cap_, child, &none, &slot));
        ASSERT_EQ(0, bpfcap_counter(cap_, slot, &cnt));
        int fd = maps_open(child);
        ASSERT_GE(fd, 0);
        maps_snapshot s;
        maps_snapshot_init(&s);
        auto phantoms = [&]() {
                size_t n = 0;
                for (const char *p = s.text, *end = s.text + s.len;
                     (p = (const char *)memmem(p, (size_t)(end - p), "/memfd:phantom", 14)); p += 14)
                        n++;
                return n;
        };
        unsigned reads = 0, accepted = 0, torn_accepted = 0, raw = 0, torn_raw = 0;
        uint64_t end = NowMs() + 3000;
        while (NowMs() < end) {
                int r = capture_read_maps(&cnt, child, fd, &s, 1, nullptr, nullptr);
                ASSERT_TRUE(r == 0 || r == -EAGAIN) << strerror(-r);
                reads++;
                if (r == 0) {
                        accepted++;
                        torn_accepted += phantoms() != 1;
                }
                // A plain read beside it, to show the phantom is real.
                ASSERT_EQ(0, maps_read_fd(fd, &s));
                raw++;
                torn_raw += phantoms() != 1;
        }
        uint64_t moves = capture_seq(&cnt);
        maps_snapshot_fini(&s);
        close(fd);
        EXPECT_EQ(0, bpfcap_unwatch(cap_, child));
        kill(child, SIGKILL);
        waitpid(child, nullptr, 0);
        printf(
            "phantom: %u consistent reads tried, %u accepted, %u torn among them; %u plain reads, %u torn; "
            "%llu moves\n",
            reads, accepted, torn_accepted, raw, torn_raw, (unsigned long long)moves);
        EXPECT_GT(moves, 10u);
        EXPECT_GT(accepted, 0u);
        EXPECT_EQ(0u, torn_accepted);
}

TEST_F(Cap, MatchingExecIsWatchedFromItsFirstInstruction) {
        const char *tmp = getenv("TEST_TMPDIR");
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%s/matchXXXXXX", tmp ? tmp : "/tmp");
        ASSERT_NE(nullptr, mkdtemp(dir));
        std::string prog = std::string(dir) + "/mmbt_true";
        ASSERT_EQ(0, symlink("/bin/true", prog.c_str()));
        ASSERT_EQ(0, bpfcap_match_comm(cap_, "mmbt_true", true));
        pid_t child = fork();
        ASSERT_GE(child, 0);
        if (child == 0) {
                execl(prog.c_str(), "mmbt_true", (char *)nullptr);
                _exit(127);
        }
        ASSERT_EQ(child, waitpid(child, nullptr, 0));
        EXPECT_EQ(0, bpfcap_match_comm(cap_, "mmbt_true", false));
        unlink(prog.c_str());
        rmdir(dir);
        ASSERT_GE(bpfcap_consume(cap_), 0);
        // The exec hook watched it; its events wait for a sink.
        bpfcap_sink sink = col_.AsSink();
        unsigned slot;
        ASSERT_EQ(0, bpfcap_adopt(cap_, child, &sink, &slot));
        EXPECT_EQ(-EEXIST, bpfcap_adopt(cap_, child, &sink, &slot));
        bool libc = false;
        for (const auto &g : col_.Of(child, CAPTURE_OP_MMAP))
                libc = libc || g.path.find("libc") != std::string::npos;
        EXPECT_TRUE(libc) << "the dynamic loader's mappings, before main(), are not there";
        EXPECT_EQ(0, bpfcap_unwatch(cap_, child));
        EXPECT_EQ(-ENOENT, bpfcap_adopt(cap_, child, &sink, &slot));
}

// The source the workers get: a worker's queue, drained by the thread.
TEST(CapThread, SourceDeliversToTheWorkersQueue) {
        bpfcap_options o = {};
        o.poll_ms = 20;
        o.wake_bytes = 1 << 20; // no wakeups: the thread's own tick drains
        bpfcap *cap = nullptr;
        char reason[512] = "";
        if (bpfcap_new(&o, &cap, reason, sizeof(reason)) < 0)
                GTEST_SKIP() << "eBPF capture unavailable here: " << reason;
        ASSERT_EQ(0, bpfcap_start(cap));
        capture_source src = bpfcap_source(cap);
        capture_queue *q = nullptr;
        ASSERT_EQ(0, capture_queue_new(1024, &q));
        Target t;
        capture_counter cnt;
        ASSERT_EQ(0, src.watch(src.impl, t.pid(), q, &cnt));
        EXPECT_EQ(-EEXIST, src.watch(src.impl, t.pid(), q, &cnt));
        const uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE);
        uint64_t a = t.Do('m', pg, PROT_READ);
        ASSERT_NE(0u, a);
        capture_batch b;
        capture_batch_init(&b);
        auto has = [&](capture_op op, uint64_t addr) {
                for (size_t i = 0; i < b.n; i++)
                        if (b.ev[i].op == op && b.ev[i].addr == addr)
                                return true;
                return false;
        };
        bool got = false;
        for (uint64_t end = NowMs() + 10000; !got && NowMs() < end; usleep(5000)) {
                capture_queue_take(q, &b);
                got = has(CAPTURE_OP_ADDR, a);
        }
        EXPECT_TRUE(got) << "the thread did not deliver the mmap's address";
        // flush() delivers at once what the kernel posted.
        ASSERT_EQ(0u, t.Do('u', a, pg));
        ASSERT_EQ(0, src.flush(src.impl));
        capture_queue_take(q, &b);
        EXPECT_TRUE(has(CAPTURE_OP_MUNMAP, a));
        ASSERT_EQ(0, src.unwatch(src.impl, t.pid()));
        capture_batch_fini(&b);
        bpfcap_free(cap);
        capture_queue_free(q);
}

TEST(CapRing, AFullRingLosesRecordsNotCounts) {
        bpfcap_options o = {};
        o.ring_bytes = (size_t)sysconf(_SC_PAGESIZE); // room for about 30 records
        o.wake_bytes = 1 << 20;
        bpfcap *cap = nullptr;
        char reason[512] = "";
        if (bpfcap_new(&o, &cap, reason, sizeof(reason)) < 0)
                GTEST_SKIP() << "eBPF capture unavailable here: " << reason;
        Collector col;
        bpfcap_sink sink = col.AsSink();
        Target t;
        unsigned slot;
        capture_counter cnt;
        ASSERT_EQ(0, bpfcap_watch(cap, t.pid(), &sink, &slot));
        ASSERT_EQ(0, bpfcap_counter(cap, slot, &cnt));
        const uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE);
        uint64_t a = t.Do('m', pg, PROT_READ);
        ASSERT_NE(0u, a);
        for (int i = 0; i < 200; i++)
                ASSERT_EQ(0u, t.Do('p', a, pg, i % 2 ? PROT_READ : PROT_READ | PROT_WRITE));
        ASSERT_GE(bpfcap_consume(cap), 0);
        uint64_t sections = capture_seq(&cnt), lost = capture_lost(&cnt);
        EXPECT_GE(sections, 201u) << "the counter counts every change, ring or not";
        EXPECT_GT(lost, 0u);
        EXPECT_LT(col.Size(), (size_t)sections);
        // Every section is at least one record (a non-fixed mmap's address
        // is one more), either received or counted as lost.
        EXPECT_GE(col.Size() + lost, sections + 1);
        bpfcap_stats st;
        ASSERT_EQ(0, bpfcap_get_stats(cap, &st));
        EXPECT_GE(st.lost, lost);
        EXPECT_GE(st.sections, sections);
        EXPECT_EQ(0, bpfcap_unwatch(cap, t.pid()));
        bpfcap_free(cap);
}

TEST(CapRawTp, TheRawTracepointHookWorksToo) {
        bpfcap_options o = {};
        o.force_raw_tp = true;
        bpfcap *cap = nullptr;
        char reason[512] = "";
        if (bpfcap_new(&o, &cap, reason, sizeof(reason)) < 0)
                GTEST_SKIP() << "eBPF capture unavailable here: " << reason;
        EXPECT_STREQ("raw_tp", bpfcap_hook_kind(cap));
        Collector col;
        bpfcap_sink sink = col.AsSink();
        Target t;
        ASSERT_EQ(0, bpfcap_watch(cap, t.pid(), &sink, nullptr));
        uint64_t a = t.Do('m', 4096, PROT_READ | PROT_EXEC);
        ASSERT_NE(0u, a);
        ASSERT_GE(bpfcap_consume(cap), 0);
        auto mm = col.Where(t.pid(), CAPTURE_OP_MMAP, [](const Got &g) { return g.ev.len == 4096; });
        ASSERT_EQ(1u, mm.size());
        EXPECT_EQ(5u, mm[0].ev.prot);
        EXPECT_EQ(0, bpfcap_unwatch(cap, t.pid()));
        bpfcap_free(cap);
}

// Runs fn in a child and returns the reason bpfcap_new() gave there, or
// "loaded" when it loaded.
template <typename F> std::string ReasonInChild(F prepare) {
        int p[2];
        if (pipe(p))
                return "pipe failed";
        pid_t c = fork();
        if (c == 0) {
                close(p[0]);
                std::string why = prepare();
                if (why.empty()) {
                        bpfcap_options o = {};
                        bpfcap *cap = nullptr;
                        char reason[512] = "";
                        int r = bpfcap_new(&o, &cap, reason, sizeof(reason));
                        why = r == 0 ? "loaded" : reason;
                        bpfcap_free(cap);
                }
                if (write(p[1], why.data(), why.size()) < 0)
                        _exit(1);
                _exit(0);
        }
        close(p[1]);
        std::string out;
        char buf[512];
        ssize_t n;
        while ((n = read(p[0], buf, sizeof(buf))) > 0)
                out.append(buf, (size_t)n);
        close(p[0]);
        waitpid(c, nullptr, 0);
        return out;
}

TEST(CapFallback, InAUserNamespaceItSaysWhy) {
        std::string why = ReasonInChild([] {
                return unshare(CLONE_NEWUSER) == 0 ? std::string() : std::string("SKIP ") + strerror(errno);
        });
        if (why.compare(0, 5, "SKIP ") == 0)
                GTEST_SKIP() << "no user namespace here: " << why;
        EXPECT_NE(std::string::npos, why.find("runs in a user namespace")) << why;
}

TEST(CapFallback, WithoutCapabilitiesItSaysWhy) {
        std::string why = ReasonInChild([] {
                // Keep everything but CAP_SYS_ADMIN, CAP_BPF and CAP_PERFMON.
                __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
                __user_cap_data_struct d[2];
                if (syscall(SYS_capget, &h, d))
                        return std::string("SKIP capget");
                d[0].effective &= ~(1u << CAP_SYS_ADMIN);
                d[1].effective &= ~((1u << (38 - 32)) | (1u << (39 - 32)));
                if (syscall(SYS_capset, &h, d))
                        return std::string("SKIP capset");
                return std::string();
        });
        EXPECT_EQ("needs CAP_BPF and CAP_PERFMON (or root)", why);
}

} // namespace
