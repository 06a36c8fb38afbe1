// logs/events.jsonl (agent/events.c): the line of every kind of event, with
// hostile bytes in its strings, checked by a strict validator of the tests'
// own; seq across threads; reopening; `events = off`; the file's mode.
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "agent/events.h"
#include "core/alerts.h"
#include "core/alerts_fs.h"
#include "tests/fuzz/json_check.h"
#include "tests/testutil.h"

namespace memmon_test {
namespace {

class EventsTest : public ::testing::Test {
      protected:
        void SetUp() override {
                dir_ = TestTempDir();
                ASSERT_FALSE(dir_.empty());
        }
        void TearDown() override {
                agent_events_free(e_);
                if (dir_fd_ >= 0)
                        close(dir_fd_);
        }
        // The folder's fd, as the agent hands it over (opened once).
        int DirFd() {
                if (dir_fd_ < 0)
                        dir_fd_ = open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                return dir_fd_;
        }
        std::string File() const {
                return dir_ + "/" + AGENT_EVENTS_FILE;
        }
        std::vector<std::string> Lines() const {
                return SplitLines(ReadFileOr(File()));
        }

        std::string dir_;
        int dir_fd_ = -1;
        struct agent_events *e_ = nullptr;
};

// A worker event of kind with every field its kind has.
struct Sample {
        struct alert_events alerts;
        struct worker_event ev = {};
        struct target_policy policy = {};

        explicit Sample(enum worker_event_kind kind) {
                alert_events_init(&alerts);
                ev.kind = kind;
                ev.target = "web";
                ev.pid = 1234;
                ev.start_time = 98765;
                ev.policy = &policy;
                switch (kind) {
                case WORKER_EVENT_EXIT:
                        ev.reason = "process exited";
                        break;
                case WORKER_EVENT_FULL:
                        ev.file = "backup_1234_20261125T183328.123456Z.maps";
                        ev.regions = 42;
                        ev.why = "sampling started";
                        break;
                case WORKER_EVENT_DIFF:
                        ev.file = "diff_1234_20261125T183329.123456Z.diff";
                        ev.regions = 43;
                        ev.added = 2;
                        ev.removed = 1;
                        ev.changed = 3;
                        break;
                case WORKER_EVENT_STATE:
                        ev.old_state = TARGET_WAITING;
                        ev.new_state = TARGET_ATTACHED;
                        ev.reason = "";
                        break;
                case WORKER_EVENT_ERROR:
                        ev.reason = "cannot read /proc/1234/maps: \x1b[31mno\xff";
                        break;
                default:
                        break;
                }
        }
        ~Sample() {
                alert_events_fini(&alerts);
        }
};

std::string Format(const struct worker_event &ev) {
        struct strbuf b;
        strbuf_init(&b);
        struct timespec t = {1795631608, 123456000}; // 2026-11-25T18:33:28.123456Z
        EXPECT_EQ(0, agent_events_format(&ev, 7, &t, &b));
        std::string s(b.s, b.len);
        strbuf_fini(&b);
        return s;
}

TEST_F(EventsTest, EveryKindOfWorkerEvent) {
        const char *head = "{\"v\":1,\"seq\":7,\"time\":\"2026-11-25T18:33:28.123456Z\",\"target\":\"web\","
                           "\"pid\":1234,\"start_time\":98765,";
        const struct {
                enum worker_event_kind kind;
                const char *rest;
        } want[] = {
            {WORKER_EVENT_ATTACH, "\"event\":\"attach\"}\n"},
            {WORKER_EVENT_EXIT, "\"event\":\"exit\",\"reason\":\"process exited\"}\n"},
            {WORKER_EVENT_FULL, "\"event\":\"full\",\"file\":\"backup_1234_20261125T183328.123456Z.maps\","
                                "\"regions\":42,\"why\":\"sampling started\"}\n"},
            {WORKER_EVENT_DIFF, "\"event\":\"diff\",\"file\":\"diff_1234_20261125T183329.123456Z.diff\","
                                "\"regions\":43,\"added\":2,\"removed\":1,\"changed\":3}\n"},
            {WORKER_EVENT_STATE,
             "\"event\":\"state\",\"old\":\"waiting\",\"new\":\"running\",\"reason\":\"\"}\n"},
            {WORKER_EVENT_ERROR, "\"event\":\"error\",\"message\":\"cannot read /proc/1234/maps: "
                                 "\\u001b[31mno\\u00ff\"}\n"},
        };
        for (const auto &w : want) {
                Sample s(w.kind);
                std::string line = Format(s.ev);
                EXPECT_EQ(std::string(head) + w.rest, line);
                EXPECT_EQ(0, json_check_text(line.data(), line.size() - 1)) << line;
        }
}

// An alert's line carries the rule engine's fields; a path with any bytes
// still makes a valid line.
// A file system that knows no file: enough for wx.
void NoBegin(void *, const struct alert_proc *) {}
void NoEnd(void *) {}
int NoStat(void *, const struct alert_proc *, uint64_t, uint64_t, struct alert_stat *) {
        return -ENOENT;
}
int NoPath(void *, const struct alert_proc *, const char *, struct alert_stat *) {
        return -ENOENT;
}
int NoGroup(void *, const struct alert_proc *, uint32_t, uint32_t) {
        return 1;
}
int NoOpen(void *, const struct alert_proc *, uint64_t, uint64_t, const char *, uint32_t, uint32_t,
           uint64_t) {
        return -ENOENT;
}
ssize_t NoRead(void *, int, void *, size_t, uint64_t) {
        return -EIO;
}
void NoClose(void *, int) {}
ssize_t NoMem(void *, const struct alert_proc *, uint64_t, void *, size_t) {
        return -EIO;
}
const struct alert_fs_ops kNoFiles = {NoBegin, NoEnd,  NoStat,  NoPath, NoGroup,
                                      NoOpen,  NoRead, NoClose, NoMem};

TEST_F(EventsTest, AlertWithAHostilePath) {
        struct maps_snapshot snap;
        maps_snapshot_init(&snap);
        std::string path = "/tmp/\x1b]0;x\x07\xff\xe2\x80\xae.so (deleted)";
        std::string text = "7f0000001000-7f0000002000 rwxp 00001000 fe:01 77 " + path + "\n";
        size_t bad = 0;
        ASSERT_EQ(0, maps_snapshot_set_text(&snap, text.data(), text.size(), &bad));
        struct alert_events ev;
        alert_events_init(&ev);
        struct alert_state *st = nullptr;
        // No file system is asked: wx alone is judged (the rest off).
        struct alert_policy p;
        alert_policy_init(&p);
        for (int r = 0; r < ALERT_RULE_COUNT; r++)
                p.on[r] = r == ALERT_WX;
        ASSERT_EQ(0, alert_state_new(&kNoFiles, nullptr, &st));
        ASSERT_GE(alerts_set_policy(st, &p, nullptr, 0, &ev), 0);
        struct alert_proc proc = {1234, 98765, 0};
        ASSERT_EQ(1, alerts_first(st, &proc, &snap, 1, &ev));
        Sample s(WORKER_EVENT_ALERT);
        s.ev.alerts = &ev;
        s.ev.alert = &ev.v[0];
        std::string line = Format(s.ev);
        EXPECT_EQ(0, json_check_text(line.data(), line.size() - 1)) << line;
        EXPECT_NE(std::string::npos,
                  line.find("\"event\":\"alert\",\"rule\":\"wx\",\"region\":\"7f0000001000-7f0000002000 rwxp "
                            "00001000 fe:01 77 /tmp/\\u001b]0;x\\u0007\\u00ff\\u202e.so (deleted)\","
                            "\"start\":\"7f0000001000\",\"end\":\"7f0000002000\",\"perms\":\"rwxp\","
                            "\"path\":\"/tmp/\\u001b]0;x\\u0007\\u00ff\\u202e.so (deleted)\",\"reason\":\""))
            << line;
        alert_state_free(st);
        alert_events_fini(&ev);
        alert_policy_fini(&p);
        maps_snapshot_fini(&snap);
}

TEST_F(EventsTest, AgentEvents) {
        ASSERT_EQ(0, agent_events_new(DirFd(), true, &e_));
        struct supervisor_changes ch = {1, 2, 3, 4, 5};
        ASSERT_EQ(0, agent_events_reload(e_, true, &ch, 0, "Configuration reloaded: ..."));
        ASSERT_EQ(0, agent_events_reload(e_, false, nullptr, 3, "Reload failed: 3 errors"));
        ASSERT_EQ(0, agent_events_error(e_, "web", "cannot start ./x: No such file"));
        ASSERT_EQ(0, agent_events_error(e_, nullptr, "poll: bad"));
        auto lines = Lines();
        ASSERT_EQ(4u, lines.size());
        for (const auto &l : lines)
                EXPECT_EQ(0, json_check_text(l.data(), l.size())) << l;
        EXPECT_NE(std::string::npos, lines[0].find("\"seq\":1,"));
        EXPECT_NE(std::string::npos,
                  lines[0].find("\"event\":\"reload\",\"ok\":true,\"added\":1,\"removed\":2,\"changed\":3,"
                                "\"restarted\":4,\"unchanged\":5,\"errors\":0,\"message\":\"Configuration "
                                "reloaded: ...\"}"))
            << lines[0];
        EXPECT_NE(std::string::npos, lines[1].find("\"ok\":false,\"added\":0,")) << lines[1];
        EXPECT_NE(std::string::npos, lines[1].find("\"errors\":3,")) << lines[1];
        EXPECT_NE(std::string::npos, lines[2].find("\"target\":\"web\",\"event\":\"error\",\"message\":"))
            << lines[2];
        EXPECT_EQ(std::string::npos, lines[3].find("\"target\"")) << lines[3];
        EXPECT_NE(std::string::npos, lines[3].find("\"seq\":4,"));
}

// Lines from many threads never interleave, and seq counts up by one in
// the order of the file.
TEST_F(EventsTest, SeqIncreasesAcrossThreads) {
        ASSERT_EQ(0, agent_events_new(DirFd(), true, &e_));
        const int kThreads = 8, kEach = 500;
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; t++)
                threads.emplace_back([this, t] {
                        Sample s(t % 2 ? WORKER_EVENT_DIFF : WORKER_EVENT_ERROR);
                        for (int i = 0; i < kEach; i++)
                                ASSERT_EQ(0, agent_events_worker(e_, &s.ev, nullptr));
                });
        for (auto &t : threads)
                t.join();
        auto lines = Lines();
        ASSERT_EQ((size_t)kThreads * kEach, lines.size());
        for (size_t i = 0; i < lines.size(); i++) {
                ASSERT_EQ(0, json_check_text(lines[i].data(), lines[i].size())) << lines[i];
                ASSERT_EQ(0u, lines[i].find("{\"v\":1,\"seq\":" + std::to_string(i + 1) + ",")) << lines[i];
        }
}

// logrotate moves the file away; a reopen starts a new one, and seq goes on.
TEST_F(EventsTest, ReopenStartsANewFile) {
        ASSERT_EQ(0, agent_events_new(DirFd(), true, &e_));
        Sample s(WORKER_EVENT_ATTACH);
        ASSERT_EQ(0, agent_events_worker(e_, &s.ev, nullptr));
        ASSERT_EQ(0, rename(File().c_str(), (File() + ".1").c_str()));
        ASSERT_EQ(0, agent_events_worker(e_, &s.ev, nullptr));
        EXPECT_FALSE(PathExists(File())) << "written to the moved file until reopened";
        ASSERT_EQ(0, agent_events_reopen(e_));
        ASSERT_EQ(0, agent_events_worker(e_, &s.ev, nullptr));
        EXPECT_EQ(2u, SplitLines(ReadFileOr(File() + ".1")).size());
        auto lines = Lines();
        ASSERT_EQ(1u, lines.size());
        EXPECT_EQ(0u, lines[0].find("{\"v\":1,\"seq\":3,")) << lines[0];
}

// events = off: no file, and nothing written; on again: written again.  An
// alert_exec still gets its line.
TEST_F(EventsTest, OffWritesNothing) {
        ASSERT_EQ(0, agent_events_new(DirFd(), false, &e_));
        Sample s(WORKER_EVENT_ATTACH);
        struct strbuf line;
        strbuf_init(&line);
        ASSERT_EQ(0, agent_events_worker(e_, &s.ev, &line));
        EXPECT_EQ(0u, std::string(strbuf_str(&line)).find("{\"v\":1,\"seq\":1,")) << strbuf_str(&line);
        strbuf_fini(&line);
        ASSERT_EQ(0, agent_events_reload(e_, true, nullptr, 0, "x"));
        ASSERT_EQ(0, agent_events_reopen(e_));
        EXPECT_FALSE(PathExists(File()));
        ASSERT_EQ(0, agent_events_set_enabled(e_, true));
        ASSERT_EQ(0, agent_events_worker(e_, &s.ev, nullptr));
        EXPECT_EQ(1u, Lines().size());
        ASSERT_EQ(0, agent_events_set_enabled(e_, false));
        ASSERT_EQ(0, agent_events_worker(e_, &s.ev, nullptr));
        EXPECT_EQ(1u, Lines().size());
}

// 0600 whatever the umask or a wider file left there; never through a
// symlink.
TEST_F(EventsTest, PrivateFileNeverThroughASymlink) {
        ASSERT_TRUE(WriteFile(File(), "", 0644));
        ASSERT_EQ(0, chmod(File().c_str(), 0644));
        mode_t old = umask(0);
        ASSERT_EQ(0, agent_events_new(DirFd(), true, &e_));
        umask(old);
        EXPECT_EQ(0600, FileMode(File()));
        agent_events_free(e_);
        e_ = nullptr;
        ASSERT_EQ(0, unlink(File().c_str()));
        std::string target = dir_ + "/elsewhere";
        ASSERT_TRUE(WriteFile(target, "keep\n"));
        ASSERT_EQ(0, symlink(target.c_str(), File().c_str()));
        EXPECT_EQ(-ELOOP, agent_events_new(DirFd(), true, &e_));
        EXPECT_EQ(nullptr, e_);
        EXPECT_EQ("keep\n", ReadFileOr(target));
}

} // namespace
} // namespace memmon_test
