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
        struct target_policy a = {2000000, 100, 3600000000u, 10, 256u << 20}, b = {};
        ASSERT_EQ(0, target_policy_copy(&b, &a));
        EXPECT_TRUE(target_policy_equal(&a, &b));
        for (int field = 0; field < 5; field++) {
                struct target_policy c = a;
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
                }
                EXPECT_FALSE(target_policy_equal(&a, &c)) << "field " << field;
        }
        target_policy_fini(&b);
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
