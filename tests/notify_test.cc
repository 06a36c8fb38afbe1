// Unit tests of agent/notify.{c,h}: the sd_notify(3) messages reach a fake
// NOTIFY_SOCKET as systemd expects them, STATUS= is rate limited and kept to
// one line, and the watchdog schedule (pings at half the period, re-checks
// after a tenth when unhealthy) is computed from the times it is given.
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>

#include <gtest/gtest.h>

#include "agent/notify.h"
#include "tests/notify_receiver.h"

namespace memmon_test {
namespace {

constexpr Millis kWait(5000);

class NotifyTest : public ::testing::Test {
      protected:
        void SetUp() override {
                ASSERT_TRUE(rx_.ok()) << "cannot bind " << rx_.path();
                unsetenv("WATCHDOG_USEC");
                unsetenv("WATCHDOG_PID");
        }
        void TearDown() override {
                unsetenv("WATCHDOG_USEC");
                unsetenv("WATCHDOG_PID");
        }
        // Waits for the nth message (0-based) and returns its text.
        std::string Nth(size_t n) {
                EXPECT_TRUE(rx_.WaitFor([&] { return rx_.messages().size() > n; }, kWait)) << rx_.Describe();
                return rx_.messages().size() > n ? rx_.messages()[n].text : "";
        }

        NotifyReceiver rx_;
        ScopedEnv socket_env_{"NOTIFY_SOCKET", rx_.path()};
};

TEST_F(NotifyTest, ReadyReloadingStoppingReachTheSocket) {
        struct notify n;
        ASSERT_EQ(0, notify_init(&n));
        EXPECT_TRUE(n.enabled);
        EXPECT_EQ(0u, n.watchdog_usec);

        ASSERT_EQ(0, notify_ready(&n));
        EXPECT_EQ("READY=1", Nth(0));

        uint64_t before = notify_now_us();
        ASSERT_EQ(0, notify_reloading(&n));
        uint64_t after = notify_now_us();
        Nth(1);
        const NotifyMessage &m = rx_.messages()[1];
        EXPECT_TRUE(m.Has("RELOADING=1")) << m.text;
        bool found = false;
        std::string v = m.Value("MONOTONIC_USEC", &found);
        ASSERT_TRUE(found) << m.text;
        // systemd compares it with its own CLOCK_MONOTONIC.
        uint64_t usec = strtoull(v.c_str(), nullptr, 10);
        EXPECT_LE(before, usec);
        EXPECT_GE(after, usec);

        ASSERT_EQ(0, notify_stopping(&n));
        EXPECT_EQ("STOPPING=1", Nth(2));
}

TEST_F(NotifyTest, StatusIsOneLineAndRateLimited) {
        struct notify n;
        ASSERT_EQ(0, notify_init(&n));
        EXPECT_TRUE(notify_status_due(&n, notify_now_us())) << "nothing sent yet";
        EXPECT_EQ(1, notify_status(&n, "3 targets: 3 running", 0));
        EXPECT_EQ("STATUS=3 targets: 3 running", Nth(0));
        EXPECT_FALSE(notify_status_due(&n, notify_now_us()));

        // Within NOTIFY_STATUS_INTERVAL_US a changed text waits...
        EXPECT_EQ(0, notify_status(&n, "3 targets: 2 running, 1 waiting", 0));
        // ... unless forced (after a reload, say).
        EXPECT_EQ(1, notify_status(&n, "3 targets: 2 running, 1 waiting", 1));
        EXPECT_EQ("STATUS=3 targets: 2 running, 1 waiting", Nth(1));

        // A newline would start another assignment ("READY=1") in the
        // datagram: only the first line is sent.
        EXPECT_EQ(1, notify_status(&n, "first line\nREADY=1", 1));
        EXPECT_EQ("STATUS=first line", Nth(2));

        // A long text is cut, never sent as a truncated second message.
        std::string big(3 * NOTIFY_STATUS_MAX, 'x');
        EXPECT_EQ(1, notify_status(&n, big.c_str(), 1));
        EXPECT_EQ("STATUS=" + big.substr(0, NOTIFY_STATUS_MAX - 1), Nth(3));

        // Once the interval has passed a refresh is due again; the same
        // text is then not sent, and that counts as a refresh.
        n.status_checked_us -= NOTIFY_STATUS_INTERVAL_US;
        EXPECT_TRUE(notify_status_due(&n, notify_now_us()));
        EXPECT_EQ(0, notify_status(&n, big.c_str(), 0));
        EXPECT_FALSE(notify_status_due(&n, notify_now_us()));
        rx_.Pump(Millis(100));
        EXPECT_EQ(4u, rx_.messages().size()) << rx_.Describe();
}

TEST_F(NotifyTest, WatchdogScheduleFollowsThePeriod) {
        ScopedEnv usec("WATCHDOG_USEC", "2000000");
        ScopedEnv pid("WATCHDOG_PID", std::to_string(getpid()));
        uint64_t got = 0;
        ASSERT_EQ(1, notify_watchdog_usec(&got));
        EXPECT_EQ(2000000u, got);

        struct notify n;
        ASSERT_EQ(0, notify_init(&n));
        ASSERT_EQ(2000000u, n.watchdog_usec);
        // A status line never sent is due at once too: send it first, so
        // that only the watchdog sets the timeouts below.
        ASSERT_EQ(1, notify_status(&n, "1 target", 1));
        EXPECT_EQ("STATUS=1 target", Nth(0));
        uint64_t t = notify_now_us();
        // The first ping is due at once.
        EXPECT_TRUE(notify_watchdog_due(&n, t));
        EXPECT_EQ(0, notify_timeout_ms(&n, n.next_ping_us));

        EXPECT_EQ(1, notify_watchdog_tick(&n, t, 1));
        EXPECT_EQ("WATCHDOG=1", Nth(1));
        EXPECT_EQ(t + 1000000, n.next_ping_us) << "half the period";
        EXPECT_FALSE(notify_watchdog_due(&n, t + 999999));
        EXPECT_EQ(0, notify_watchdog_tick(&n, t + 999999, 1)) << "not due yet";
        // poll() must not wake before the deadline (rounded up).
        EXPECT_EQ(1, notify_timeout_ms(&n, t + 999001));
        EXPECT_EQ(1000, notify_timeout_ms(&n, t));

        // Unhealthy: no ping, another look after a tenth of the period.
        EXPECT_EQ(0, notify_watchdog_tick(&n, t + 1000000, 0));
        EXPECT_EQ(t + 1000000 + 200000, n.next_ping_us);
        EXPECT_EQ(1, notify_watchdog_tick(&n, t + 1200000, 1));
        EXPECT_EQ(t + 2200000, n.next_ping_us);
        rx_.Pump(Millis(100));
        EXPECT_EQ(2u, rx_.Count("WATCHDOG=1")) << rx_.Describe();
}

TEST_F(NotifyTest, WatchdogOfAnotherProcessOrMalformedIsOff) {
        {
                // systemd names the main pid; a child that inherited the
                // variables must not ping for it.
                ScopedEnv usec("WATCHDOG_USEC", "2000000");
                ScopedEnv pid("WATCHDOG_PID", std::to_string(getpid() + 1));
                uint64_t got = 7;
                EXPECT_EQ(0, notify_watchdog_usec(&got));
                EXPECT_EQ(7u, got) << "written only on success";
                struct notify n;
                ASSERT_EQ(0, notify_init(&n));
                EXPECT_EQ(0u, n.watchdog_usec);
        }
        {
                ScopedEnv usec("WATCHDOG_USEC", "soon");
                uint64_t got = 7;
                EXPECT_GT(0, notify_watchdog_usec(&got));
                struct notify n;
                EXPECT_EQ(-EINVAL, notify_init(&n));
                EXPECT_EQ(0u, n.watchdog_usec);
                EXPECT_EQ(0, notify_ready(&n)) << "the other messages still work";
                EXPECT_EQ("READY=1", Nth(0));
        }
}

TEST(NotifyWithoutSocket, EverythingIsANoOp) {
        unsetenv("NOTIFY_SOCKET");
        ScopedEnv usec("WATCHDOG_USEC", "100000");
        struct notify n;
        ASSERT_EQ(0, notify_init(&n));
        EXPECT_FALSE(n.enabled);
        EXPECT_EQ(0u, n.watchdog_usec) << "pings would go nowhere";
        EXPECT_EQ(0, notify_ready(&n));
        EXPECT_EQ(0, notify_reloading(&n));
        EXPECT_EQ(0, notify_status(&n, "x", 1));
        EXPECT_EQ(0, notify_stopping(&n));
        EXPECT_FALSE(notify_status_due(&n, notify_now_us()));
        EXPECT_EQ(-1, notify_timeout_ms(&n, notify_now_us())) << "the loop sleeps until an event";
}

TEST(NotifyBrokenSocket, SendFailureIsReported) {
        ScopedEnv env("NOTIFY_SOCKET", "/nonexistent/memmon/notify.sock");
        struct notify n;
        ASSERT_EQ(0, notify_init(&n));
        EXPECT_GT(0, notify_ready(&n));
        EXPECT_GT(0, notify_status(&n, "x", 1));
}

} // namespace
} // namespace memmon_test
