// The agent's log files (agent/log.c): levels changed while worker threads
// log, a write() that writes nothing, per-target files, escaping.
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "agent/log.h"
#include "tests/testutil.h"
#include "tests/write_wrap.h"

namespace {

using namespace memmon_test;

// agent_log_new() on the folder d.
int NewLog(const std::string &d, int per_target, int mirror, enum log_level level, struct agent_log **l) {
        int dfd = open(d.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        char why[512];
        int r = agent_log_new(dfd, per_target, mirror, level, l, why, sizeof(why));
        close(dfd);
        return r;
}

TEST(LogTest, WritesLinesWithLevelAndTarget) {
        std::string d = TestTempDir();
        struct agent_log *l = nullptr;
        ASSERT_EQ(0, NewLog(d, 1, -1, LOG_INFO, &l));
        agent_log(l, "web", LOG_INFO, "attached to pid %d", 42);
        agent_log(l, nullptr, LOG_WARN, "line\nforged\x1b[31m");
        // C1 controls (U+009B is CSI to some terminals), bidi overrides and
        // isolates, bytes that are not UTF-8: escaped too; other UTF-8 kept.
        agent_log(l, nullptr, LOG_WARN,
                  "c1 \xc2\x9b"
                  "2J rlo \xe2\x80\xae lri \xe2\x81\xa6 bad \xff ok \xc3\xa9");
        agent_log(l, "web", LOG_DEBUG, "not written at info");
        agent_log_free(l);
        std::string main = ReadFileOr(d + "/monitor.log");
        EXPECT_NE(std::string::npos, main.find(" INFO  [web] attached to pid 42\n")) << main;
        EXPECT_NE(std::string::npos, main.find(" WARN  [agent] line\\x0aforged\\x1b[31m\n")) << main;
        EXPECT_NE(std::string::npos,
                  main.find(" WARN  [agent] c1 \\xc2\\x9b2J rlo \\u202e lri \\u2066 bad \\xff ok \xc3\xa9\n"))
            << main;
        EXPECT_EQ(std::string::npos, main.find("not written")) << main;
        std::string web = ReadFileOr(d + "/web.log");
        EXPECT_NE(std::string::npos, web.find(" INFO  attached to pid 42\n")) << web;
        struct stat st;
        ASSERT_EQ(0, stat((d + "/monitor.log").c_str(), &st));
        EXPECT_EQ(0600u, st.st_mode & 07777);
        agent_log(nullptr, "web", LOG_ERROR, "a NULL log logs nothing");
}

// A reload sets the level while worker threads log: the level is atomic
// (ThreadSanitizer reports the race otherwise), and every line is written
// or not according to the level in force when it is logged.
TEST(LogTest, LevelChangesWhileThreadsLog) {
        std::string d = TestTempDir();
        struct agent_log *l = nullptr;
        ASSERT_EQ(0, NewLog(d, 0, -1, LOG_DEBUG, &l));
        std::atomic<bool> stop{false};
        std::vector<std::thread> threads;
        for (int i = 0; i < 4; i++) {
                threads.emplace_back([&, i] {
                        while (!stop)
                                agent_log_event(l, "t", LOG_DEBUG, i % 2 ? "odd" : "even");
                });
        }
        for (int i = 0; i < 2000; i++)
                agent_log_set_level(l, i % 2 ? LOG_DEBUG : LOG_ERROR);
        agent_log_set_level(l, LOG_ERROR);
        stop = true;
        for (auto &t : threads)
                t.join();
        size_t before = CountOccurrences(ReadFileOr(d + "/monitor.log"), "\n");
        agent_log_event(l, "t", LOG_DEBUG, "below the level");
        agent_log_event(l, "t", LOG_ERROR, "at the level");
        agent_log_free(l);
        std::string text = ReadFileOr(d + "/monitor.log");
        EXPECT_EQ(before + 1, CountOccurrences(text, "\n"));
        EXPECT_EQ(std::string::npos, text.find("below the level"));
        EXPECT_NE(std::string::npos, text.find("at the level"));
}

// A write() that returns 0 must not make the logger try forever.
TEST(LogTest, WriteOfNothingEndsTheLine) {
        std::string d = TestTempDir();
        int p[2];
        ASSERT_EQ(0, pipe(p));
        struct agent_log *l = nullptr;
        ASSERT_EQ(0, NewLog(d, 0, p[1], LOG_INFO, &l));
        WriteNothingTo(p[1]);
        std::atomic<bool> done{false};
        std::thread t([&] {
                agent_log(l, nullptr, LOG_INFO, "mirrored to a stuck fd");
                done = true;
        });
        auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (!done && std::chrono::steady_clock::now() < end)
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
        if (!done) {
                fprintf(stderr, "agent_log did not return: it retries a write() of 0 bytes forever\n");
                std::_Exit(1);
        }
        t.join();
        WriteNothingTo(-1);
        agent_log_free(l);
        EXPECT_NE(std::string::npos, ReadFileOr(d + "/monitor.log").find("mirrored to a stuck fd"))
            << "the other files still get the line";
        close(p[0]);
        close(p[1]);
}

} // namespace
