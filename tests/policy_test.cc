// What a target is (core/policy.c): its name rules, its policy's copy and
// comparison, and the one table of log levels.
#include <errno.h>

#include <string>

#include <gtest/gtest.h>

#include "core/policy.h"

namespace {

TEST(PolicyTest, TargetNames) {
        for (const char *ok : {"web", "a", "A-Z_a.z-0.9", "pid1234", "x.y", "...", "fulls",
                               "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"})
                EXPECT_EQ(target_name_valid(ok), 0) << ok;
        for (const char *bad : {"", "a b", "a/b", "a:b", "é", "tab\t",
                                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"})
                EXPECT_EQ(target_name_valid(bad), -EINVAL) << bad;
        EXPECT_EQ(target_name_valid(nullptr), -EINVAL);
        // Folders and logs of the agent's own: reserved.
        for (const char *r : {".", "..", "full", "incremental", "monitor", "daemon_output"}) {
                EXPECT_TRUE(target_name_reserved(r)) << r;
                EXPECT_EQ(target_name_valid(r), -EINVAL) << r;
        }
        EXPECT_FALSE(target_name_reserved("web"));
        std::string all;
        for (int c = 1; c < 256; c++)
                if (target_name_char_ok((char)c))
                        all += (char)c;
        EXPECT_EQ("-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz", all);
}

TEST(PolicyTest, CopyAndEquality) {
        struct target_policy a = {}, b = {};
        a.interval_us = 2000000;
        a.full_every = 100;
        a.full_interval_us = 3600000000u;
        a.keep_full = 10;
        a.max_bytes = 256u << 20;
        alert_policy_init(&a.alerts);
        char why[128];
        ASSERT_EQ(0, alert_policy_set(&a.alerts, "allow_exec", "/opt/jit/*, [anon:jit*]", why, sizeof(why)));
        const char *exec[] = {"/usr/local/bin/page", "--team", "sre", nullptr};
        a.alert_exec = const_cast<char **>(exec);
        a.alert_exec_rate = 10;
        ASSERT_EQ(0, target_policy_copy(&b, &a));
        EXPECT_TRUE(target_policy_equal(&a, &b));
        // A deep copy: the strings are the copy's own.
        EXPECT_NE(a.alert_exec, b.alert_exec);
        EXPECT_NE(a.alerts.allow_exec, b.alerts.allow_exec);
        for (int field = 0; field < 9; field++) {
                struct target_policy c = {};
                ASSERT_EQ(0, target_policy_copy(&c, &a));
                switch (field) {
                case 0:
                        c.interval_us++;
                        break;
                case 1:
                        c.full_every++;
                        break;
                case 2:
                        c.full_interval_us++;
                        break;
                case 3:
                        c.keep_full++;
                        break;
                case 4:
                        c.max_bytes++;
                        break;
                case 5:
                        c.alerts.on[ALERT_WX] = 0;
                        break;
                case 6:
                        ASSERT_EQ(0,
                                  alert_policy_set(&c.alerts, "allow_exec", "/opt/jit/*", why, sizeof(why)));
                        break;
                case 7:
                        c.alert_exec_rate++;
                        break;
                case 8:
                        c.alert_exec[2][0] = 'S';
                        break;
                }
                EXPECT_FALSE(target_policy_equal(&a, &c)) << "field " << field;
                target_policy_fini(&c);
        }
        struct target_policy none = b;
        none.alert_exec = nullptr;
        EXPECT_FALSE(target_policy_equal(&b, &none)) << "alert_exec set or not";
        target_policy_fini(&b);
        alert_policy_fini(&a.alerts);
}

TEST(PolicyTest, LogLevels) {
        struct {
                enum log_level level;
                const char *name, *label;
        } rows[] = {{LOG_ERROR, "error", "ERROR"},
                    {LOG_WARN, "warn", "WARN"},
                    {LOG_INFO, "info", "INFO"},
                    {LOG_DEBUG, "debug", "DEBUG"}};
        for (const auto &r : rows) {
                EXPECT_STREQ(r.name, log_level_name(r.level));
                EXPECT_STREQ(r.label, log_level_label(r.level));
                enum log_level got = LOG_ERROR;
                EXPECT_EQ(0, log_level_from_name(r.name, &got)) << r.name;
                EXPECT_EQ(r.level, got);
        }
        EXPECT_LT(LOG_ERROR, LOG_DEBUG) << "most severe first";
        enum log_level got = LOG_INFO;
        for (const char *bad : {"", "ERROR", "warning", "info ", "trace"})
                EXPECT_EQ(-EINVAL, log_level_from_name(bad, &got)) << bad;
        EXPECT_EQ(LOG_INFO, got);
        EXPECT_EQ(nullptr, log_level_name((enum log_level)7));
        EXPECT_STREQ("?", log_level_label((enum log_level)7));
}

} // namespace
