// Unit tests of the alert rules' table, their policy keys (parsing, writing
// back, errors) and the kinds of mapping paths (core/alerts_policy.c,
// core/alerts_file.c).
#include <errno.h>
#include <string.h>

#include <set>
#include <string>

#include <gtest/gtest.h>

#include "core/alerts.h"
#include "core/alerts_int.h"
#include "core/strbuf.h"

namespace {

TEST(AlertRules, Table) {
        const char *names[] = {
            "wx",       "anon_exec",     "memfd_exec",  "deleted_exec", "writable_exec_file",
            "new_exec", "text_mismatch", "max_regions", "max_mapped",   "max_growth"};
        for (int i = 0; i < ALERT_RULE_COUNT; i++) {
                const struct alert_rule_info *info = alert_rule_info(static_cast<alert_rule>(i));
                ASSERT_NE(nullptr, info);
                EXPECT_STREQ(names[i], info->name);
                EXPECT_GT(strlen(info->description), 20u);
                alert_rule r;
                ASSERT_EQ(0, alert_rule_from_name(names[i], &r));
                EXPECT_EQ(i, r);
        }
        EXPECT_EQ(nullptr, alert_rule_info(ALERT_RULE_COUNT));
        alert_rule r;
        EXPECT_EQ(-ENOENT, alert_rule_from_name("nope", &r));
        alert_policy p;
        alert_policy_init(&p);
        for (int i = 0; i < ALERT_RULE_COUNT; i++)
                EXPECT_EQ(alert_rule_info(static_cast<alert_rule>(i))->default_on,
                          alert_policy_rule_active(&p, static_cast<alert_rule>(i)))
                    << names[i];
        alert_policy_fini(&p);
}

TEST(AlertPolicy, KeysParseAndWriteBack) {
        alert_policy p, q;
        alert_policy_init(&p);
        alert_policy_init(&q);
        char why[256];
        struct {
                const char *key, *value, *written;
        } cases[] = {
            {"wx", "off", "off"},
            {"new_exec", "yes", "on"},
            {"max_regions", "50000", "50000"},
            {"max_mapped", "4G", "4G"},
            {"max_mapped", "1536M", "1536M"},
            {"max_growth", "512M/1h", "512M/1h"},
            {"max_growth", "1024K/90s", "1M/90s"},
            {"allow_exec", " /opt/jit/*, [anon:jit*] ,/memfd:v8*", "/opt/jit/*,[anon:jit*],/memfd:v8*"},
            {"text_check", "10m", "10m"},
            {"text_check_budget", "128M", "128M"},
            {"text_check", "off", "off"},
            {"max_regions", "off", "off"},
        };
        for (const auto &c : cases) {
                ASSERT_EQ(0, alert_policy_set(&p, c.key, c.value, why, sizeof(why))) << c.key << " " << why;
                strbuf b;
                strbuf_init(&b);
                ASSERT_EQ(0, alert_policy_format(&p, c.key, &b));
                EXPECT_STREQ(c.written, strbuf_str(&b)) << c.key;
                // What is written reads back the same.
                ASSERT_EQ(0, alert_policy_copy(&q, &p));
                ASSERT_EQ(0, alert_policy_set(&q, c.key, strbuf_str(&b), why, sizeof(why)));
                EXPECT_TRUE(alert_policy_equal(&p, &q)) << c.key;
                strbuf_fini(&b);
        }
        alert_policy_fini(&p);
        alert_policy_fini(&q);
}

TEST(AlertPolicy, BadValuesNameTheKeyAndChangeNothing) {
        alert_policy p, before;
        alert_policy_init(&p);
        alert_policy_init(&before);
        char why[256];
        struct {
                const char *key, *value;
                int err;
        } cases[] = {
            {"wx", "maybe", -EINVAL},
            {"max_regions", "-1", -EINVAL},
            {"max_regions", "99999999999", -ERANGE},
            {"max_mapped", "lots", -EINVAL},
            {"max_growth", "512M", -EINVAL},
            {"max_growth", "512M/0s", -ERANGE},
            {"max_growth", "0/1h", -ERANGE},
            {"max_growth", "512X/1h", -EINVAL},
            {"allow_exec", "relative/*", -EINVAL},
            {"allow_exec", "/a,,/b", -EINVAL},
            {"text_check", "100ms", -ERANGE},
            {"text_check", "soon", -EINVAL},
            {"text_check_budget", "1", -ERANGE},
            {"text_check_budget", "0", -ERANGE},
        };
        for (const auto &c : cases) {
                why[0] = '\0';
                EXPECT_EQ(c.err, alert_policy_set(&p, c.key, c.value, why, sizeof(why)))
                    << c.key << "=" << c.value;
                EXPECT_EQ(0, strncmp(why, c.key, strlen(c.key))) << why;
                EXPECT_TRUE(alert_policy_equal(&p, &before)) << c.key << "=" << c.value;
        }
        EXPECT_EQ(-ENOENT, alert_policy_set(&p, "interval", "2s", why, sizeof(why)));
        alert_policy_fini(&p);
        alert_policy_fini(&before);
}

TEST(AlertPolicy, KeyTableHasEveryRuleAndDefaultsReadBack) {
        alert_policy p, d;
        alert_policy_init(&p);
        alert_policy_init(&d);
        char why[256];
        std::set<std::string> names;
        for (size_t i = 0; i < alert_policy_key_count(); i++) {
                names.insert(alert_policy_key_name(i));
                EXPECT_NE(nullptr, alert_policy_key_help(i));
                // Every default, set explicitly, is the default.
                ASSERT_EQ(0, alert_policy_set(&p, alert_policy_key_name(i), alert_policy_key_default(i), why,
                                              sizeof(why)))
                    << alert_policy_key_name(i) << ": " << why;
        }
        EXPECT_TRUE(alert_policy_equal(&p, &d));
        for (int i = 0; i < ALERT_RULE_COUNT; i++)
                EXPECT_TRUE(names.count(alert_rule_info(static_cast<alert_rule>(i))->name));
        EXPECT_TRUE(names.count("allow_exec") && names.count("text_check") &&
                    names.count("text_check_budget"));
        alert_policy_fini(&p);
        alert_policy_fini(&d);
}

TEST(AlertPaths, Kinds) {
        struct {
                const char *path;
                alert_path_kind kind;
        } cases[] = {
            {"", ALERT_PATH_ANON},
            {"[heap]", ALERT_PATH_ANON},
            {"[stack]", ALERT_PATH_ANON},
            {"[anon:jit]", ALERT_PATH_ANON},
            {"[vdso]", ALERT_PATH_SPECIAL},
            {"[vsyscall]", ALERT_PATH_SPECIAL},
            {"[uprobes]", ALERT_PATH_SPECIAL},
            {"[vectors]", ALERT_PATH_SPECIAL},
            {"[vdso] ", ALERT_PATH_ANON},
            {"/dev/zero (deleted)", ALERT_PATH_ANON},
            {"anon_inode:[perf_event]", ALERT_PATH_ANON},
            {"/memfd:x (deleted)", ALERT_PATH_SHM},
            {"/dev/shm/payload", ALERT_PATH_SHM},
            {"/SYSV0000abcd (deleted)", ALERT_PATH_SHM},
            {"/SYSV0000abcd", ALERT_PATH_SHM},
            {"/SYSVnothex (deleted)", ALERT_PATH_FILE},
            {"/usr/lib/libc.so.6", ALERT_PATH_FILE},
            {"/usr/lib/libc.so.6 (deleted)", ALERT_PATH_FILE},
        };
        for (const auto &c : cases)
                EXPECT_EQ(c.kind, alerts_path_kind(c.path, strlen(c.path))) << c.path;
}

} // namespace
