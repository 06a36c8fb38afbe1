// core/capture.h without BPF: the modes, the event queue between the
// capture's thread and a worker, events described for people, and the
// consistent read driven by a counter the test moves itself.
#include "core/capture.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace {

capture_event Event(uint64_t seq, capture_op op, const std::string *path = nullptr) {
        capture_event ev{};
        snprintf(ev.time, sizeof(ev.time), "20261125T183328.%06llu", (unsigned long long)(seq % 1000000));
        ev.time[22] = 'Z';
        ev.time[23] = '\0';
        ev.seq = seq;
        ev.op = op;
        ev.pid = ev.tid = 4242;
        ev.addr = 0x7f0000000000 + seq * 0x1000;
        ev.len = 0x1000;
        if (path) {
                ev.path = path->data();
                ev.path_len = path->size();
        }
        return ev;
}

TEST(CaptureMode, NamesRoundTrip) {
        for (int m = CAPTURE_AUTO; m <= CAPTURE_EBPF; m++) {
                enum capture_mode back;
                ASSERT_NE(nullptr, capture_mode_name((enum capture_mode)m));
                ASSERT_EQ(0, capture_mode_from_name(capture_mode_name((enum capture_mode)m), &back));
                EXPECT_EQ(m, back);
        }
        enum capture_mode x = CAPTURE_POLL;
        EXPECT_EQ(-EINVAL, capture_mode_from_name("bpf", &x));
        EXPECT_EQ(CAPTURE_POLL, x);
        EXPECT_EQ(nullptr, capture_mode_name((enum capture_mode)3));
        EXPECT_STREQ("auto", capture_mode_names[0]);
        EXPECT_EQ(nullptr, capture_mode_names[3]);
}

TEST(CaptureQueue, KeepsOrderAndPathsAndCountsDrops) {
        capture_queue *q = nullptr;
        ASSERT_EQ(0, capture_queue_new(1000, &q));
        capture_batch b;
        capture_batch_init(&b);
        EXPECT_EQ(0u, capture_queue_take(q, &b));
        // Enough paths to move the path buffer several times.
        std::vector<std::string> paths;
        for (int i = 0; i < 1200; i++)
                paths.push_back("/lib/" + std::string((size_t)(i % 200) + 1, (char)('a' + i % 26)) + "\n");
        for (int i = 0; i < 1200; i++) {
                capture_event ev = Event((uint64_t)i, CAPTURE_OP_MMAP, i % 3 ? &paths[(size_t)i] : nullptr);
                EXPECT_EQ(i < 1000 ? 0 : -ENOBUFS, capture_queue_push(q, &ev)) << i;
        }
        ASSERT_EQ(1000u, capture_queue_take(q, &b));
        EXPECT_EQ(200u, b.dropped);
        for (size_t i = 0; i < b.n; i++) {
                EXPECT_EQ(i, b.ev[i].seq);
                if (i % 3) {
                        EXPECT_EQ(paths[i], std::string(b.ev[i].path, b.ev[i].path_len)) << i;
                } else {
                        EXPECT_EQ(nullptr, b.ev[i].path);
                }
        }
        // The queue starts over empty; the batch's old buffers serve it.
        capture_event ev = Event(7, CAPTURE_OP_MUNMAP, &paths[1]);
        ASSERT_EQ(0, capture_queue_push(q, &ev));
        capture_batch c;
        capture_batch_init(&c);
        ASSERT_EQ(1u, capture_queue_take(q, &c));
        EXPECT_EQ(0u, c.dropped);
        EXPECT_EQ(paths[1], std::string(c.ev[0].path, c.ev[0].path_len));
        // b is untouched by the queue after it was handed out.
        EXPECT_EQ(paths[1], std::string(b.ev[1].path, b.ev[1].path_len));
        capture_batch_fini(&b);
        capture_batch_fini(&c);
        capture_queue_free(q);
        capture_queue_free(nullptr);
}

// A consumer asleep until an event comes is woken once per sleep, however
// many events a burst brings; an armed queue with events waiting refuses.
TEST(CaptureQueue, WakesAnArmedConsumerOncePerSleep) {
        capture_queue *q = nullptr;
        ASSERT_EQ(0, capture_queue_new(1000, &q));
        EXPECT_EQ(-EINVAL, capture_queue_arm(q)) << "no wake-up set";
        int wakes = 0;
        capture_queue_set_wake(
            q, [](void *ctx) { ++*static_cast<int *>(ctx); }, &wakes);
        capture_event ev = Event(1, CAPTURE_OP_MMAP, nullptr);
        ASSERT_EQ(0, capture_queue_push(q, &ev));
        EXPECT_EQ(0, wakes) << "not armed: nobody sleeps";
        EXPECT_EQ(-EAGAIN, capture_queue_arm(q)) << "an event waits already";
        capture_batch b;
        capture_batch_init(&b);
        ASSERT_EQ(1u, capture_queue_take(q, &b));
        ASSERT_EQ(0, capture_queue_arm(q));
        for (uint64_t i = 2; i < 102; i++) {
                ev = Event(i, CAPTURE_OP_MUNMAP, nullptr);
                ASSERT_EQ(0, capture_queue_push(q, &ev));
        }
        EXPECT_EQ(1, wakes);
        EXPECT_EQ(1, capture_queue_disarm(q)) << "events came";
        ASSERT_EQ(100u, capture_queue_take(q, &b));
        ASSERT_EQ(0, capture_queue_arm(q));
        EXPECT_EQ(0, capture_queue_disarm(q)) << "woken by something else";
        ASSERT_EQ(0, capture_queue_push(q, &ev));
        EXPECT_EQ(1, wakes) << "disarmed";
        capture_batch_fini(&b);
        capture_queue_free(q);
}

// One producer (the capture's thread) and one consumer (the worker).
TEST(CaptureQueue, ProducerAndConsumerThreads) {
        capture_queue *q = nullptr;
        ASSERT_EQ(0, capture_queue_new(1u << 20, &q));
        const uint64_t n = 50000;
        std::string path = "/usr/lib/x86_64-linux-gnu/libc.so.6";
        std::thread producer([&] {
                for (uint64_t i = 0; i < n; i++) {
                        capture_event ev = Event(i, CAPTURE_OP_MMAP, i % 2 ? &path : nullptr);
                        ASSERT_EQ(0, capture_queue_push(q, &ev));
                }
        });
        capture_batch b;
        capture_batch_init(&b);
        uint64_t next = 0;
        while (next < n) {
                capture_queue_take(q, &b);
                for (size_t i = 0; i < b.n; i++, next++) {
                        ASSERT_EQ(next, b.ev[i].seq);
                        ASSERT_EQ(next % 2 ? path.size() : 0u, b.ev[i].path_len);
                        if (next % 2) {
                                ASSERT_EQ(0, memcmp(path.data(), b.ev[i].path, path.size()));
                        }
                }
                if (b.n == 0)
                        std::this_thread::yield();
        }
        producer.join();
        EXPECT_EQ(0u, capture_queue_take(q, &b));
        capture_batch_fini(&b);
        capture_queue_free(q);
}

TEST(CaptureDescribe, NamesTheArgumentsAndEscapesThePath) {
        std::string path = "/tmp/x\n\x1b[31mred";
        capture_event ev = Event(17, CAPTURE_OP_MMAP, &path);
        ev.addr = 0;
        ev.prot = 7;
        ev.flags = 0x2;
        ev.arg = 0x3000;
        ev.dev_major = 8;
        ev.dev_minor = 2;
        ev.ino = 99;
        strbuf out;
        strbuf_init(&out);
        ASSERT_EQ(0, capture_event_describe(&ev, &out));
        EXPECT_STREQ(
            "20261125T183328.000017Z seq 17 mmap by 4242/4242 hint=0 len=0x1000 offset=0x3000 prot=rwx "
            "flags=0x2 file=08:02 99 /tmp/x\\x0a\\x1b[31mred",
            strbuf_str(&out));
        strbuf_reset(&out);
        capture_event m = Event(18, CAPTURE_OP_MREMAP);
        m.arg = 0x2000;
        m.arg2 = 0x7f0000100000;
        m.flags = 3;
        ASSERT_EQ(0, capture_event_describe(&m, &out));
        EXPECT_STREQ("20261125T183328.000018Z seq 18 mremap by 4242/4242 old=0x7f0000012000 old_len=0x1000 "
                     "new_len=0x2000 new=0x7f0000100000 flags=0x3",
                     strbuf_str(&out));
        strbuf_reset(&out);
        capture_event a = Event(19, CAPTURE_OP_MADVISE);
        a.arg = 10;
        ASSERT_EQ(0, capture_event_describe(&a, &out));
        EXPECT_NE(nullptr,
                  strstr(strbuf_str(&out), " madvise by 4242/4242 addr=0x7f0000013000 len=0x1000 advice=10"));
        strbuf_fini(&out);
}

TEST(CaptureRead, AQuietCounterAcceptsTheFirstRead) {
        uint64_t seq = 5, lost = 0;
        capture_counter c = {&seq, &lost};
        int fd = maps_open(getpid());
        ASSERT_GE(fd, 0);
        maps_snapshot s;
        maps_snapshot_init(&s);
        uint64_t at = 0;
        unsigned tries = 0;
        ASSERT_EQ(0, capture_read_maps(&c, getpid(), fd, &s, 3, &at, &tries));
        EXPECT_EQ(5u, at);
        EXPECT_EQ(1u, tries);
        EXPECT_NE(nullptr, memmem(s.text, s.len, "[stack]", 7));
        maps_snapshot_fini(&s);
        close(fd);
}

// A counter that moves while the text is read: it lives in the very buffer
// the read writes into, so the read itself moves it (from what the test
// put there to what the file holds), deterministically, on the first try
// only.
TEST(CaptureRead, ARaceIsRetriedAndNeverAccepted) {
        const char *tmp = getenv("TEST_TMPDIR");
        std::string file = std::string(tmp ? tmp : "/tmp") + "/maps_fixture";
        const std::string text = "00400000-00452000 r-xp 00000000 08:02 173521 /usr/bin/prog\n"
                                 "7ffc0000-7ffe1000 rw-p 00000000 00:00 0 [stack]\n";
        int fd = open(file.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ASSERT_GE(fd, 0);
        ASSERT_EQ((ssize_t)text.size(), write(fd, text.data(), text.size()));
        maps_snapshot s;
        maps_snapshot_init(&s);
        ASSERT_EQ(0, maps_read_fd(fd, &s)); // sizes the buffer once: it never moves after
        ASSERT_GE(s.cap, text.size());
        uint64_t *counter = reinterpret_cast<uint64_t *>(s.text + 8);
        uint64_t lost = 0;
        capture_counter c = {counter, &lost};
        uint64_t from_file;
        memcpy(&from_file, text.data() + 8, sizeof(from_file));

        *counter = 0x5a5a5a5a5a5a5a5a;
        uint64_t at = 77;
        unsigned tries = 99;
        EXPECT_EQ(-EAGAIN, capture_read_maps(&c, getpid(), fd, &s, 1, &at, &tries));
        EXPECT_EQ(77u, at);
        EXPECT_EQ(99u, tries);
        EXPECT_EQ(text, std::string(s.text, s.len)) << "the last text read stays";

        *counter = 0x5a5a5a5a5a5a5a5a;
        ASSERT_EQ(0, capture_read_maps(&c, getpid(), fd, &s, 2, &at, &tries));
        EXPECT_EQ(2u, tries);
        EXPECT_EQ(from_file, at);
        maps_snapshot_fini(&s);
        close(fd);
        unlink(file.c_str());
}

TEST(CaptureBarrier, LiveAndGoneProcesses) {
        EXPECT_EQ(0, capture_barrier(getpid()));
        pid_t child = fork();
        ASSERT_GE(child, 0);
        if (child == 0)
                _exit(0);
        ASSERT_EQ(child, waitpid(child, nullptr, 0));
        EXPECT_EQ(-ESRCH, capture_barrier(child));
        uint64_t seq = 0;
        capture_counter c = {&seq, &seq};
        maps_snapshot s;
        maps_snapshot_init(&s);
        EXPECT_EQ(-EINVAL, capture_read_maps(nullptr, getpid(), 0, &s, 1, nullptr, nullptr));
        EXPECT_EQ(-EINVAL, capture_read_maps(&c, getpid(), -1, &s, 1, nullptr, nullptr));
        maps_snapshot_fini(&s);
}

} // namespace
