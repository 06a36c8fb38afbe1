// The manual pages render without a single warning (mandoc -Tlint, groff
// -man -ww -z), and they keep up with the code: every configuration key of
// config_write_keys() is in memmon.ini(5), every long option of `agent -h`
// in memmon-agent(8).
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "config/config_write.h"
#include "tests/testutil.h"

namespace memmon_test {
namespace {

const char *const kPages[] = {"man/memmon-agent.8", "man/memmon.ini.5"};

RunResult RunTool(const std::vector<std::string> &argv) {
        SpawnOptions o;
        o.argv = argv;
        return RunProcess(o, Millis(30000));
}

TEST(Man, MandocLintIsSilent) {
        if (access("/usr/bin/mandoc", X_OK) != 0)
                GTEST_SKIP() << "mandoc is not installed (Debian: mandoc); not checked";
        for (const char *page : kPages) {
                RunResult r = RunTool({"/usr/bin/mandoc", "-Tlint", "-W", "style", Runfile(page)});
                EXPECT_EQ(0, r.code) << r.Describe();
                EXPECT_EQ("", r.out + r.err) << page;
        }
}

TEST(Man, GroffWarnsOfNothing) {
        if (access("/usr/bin/groff", X_OK) != 0)
                GTEST_SKIP() << "groff is not installed (Debian: groff-base); not checked";
        for (const char *page : kPages) {
                RunResult r = RunTool({"/usr/bin/groff", "-man", "-ww", "-z", Runfile(page)});
                EXPECT_EQ(0, r.code) << r.Describe();
                EXPECT_EQ("", r.out + r.err) << page;
        }
}

// The checks above can fail: a page with a mistake is reported.
TEST(Man, CheckersSeeAMistake) {
        std::string dir = MakeTempDir("man");
        ASSERT_FALSE(dir.empty());
        std::string bad = ReadFileOr(Runfile("man/memmon.ini.5")) + ".XY unknown macro\n\\f(ZZbad font\n";
        ASSERT_TRUE(WriteFile(dir + "/bad.5", bad));
        if (access("/usr/bin/mandoc", X_OK) == 0) {
                RunResult r = RunTool({"/usr/bin/mandoc", "-Tlint", "-W", "style", dir + "/bad.5"});
                EXPECT_NE("", r.out + r.err) << r.Describe();
        }
        if (access("/usr/bin/groff", X_OK) == 0) {
                RunResult r = RunTool({"/usr/bin/groff", "-man", "-ww", "-z", dir + "/bad.5"});
                EXPECT_NE("", r.out + r.err) << r.Describe();
        }
}

TEST(Man, EveryConfigurationKeyIsDocumented) {
        char *buf = nullptr;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        ASSERT_NE(nullptr, f);
        ASSERT_EQ(0, config_write_keys(f));
        fclose(f);
        std::string keys(buf, len);
        free(buf);
        std::string page = ReadFileOr(Runfile("man/memmon.ini.5"));
        size_t n = 0;
        for (const auto &line : SplitLines(keys)) {
                std::istringstream in(line);
                std::string word;
                while (in >> word && word[0] == '[') {
                }
                if (word.empty() || word[0] == '[')
                        continue;
                n++;
                EXPECT_NE(std::string::npos, page.find("\n.BI " + word + " "))
                    << word << " is not in memmon.ini(5)";
        }
        EXPECT_GE(n, 13u) << keys;
}

TEST(Man, EveryLongOptionIsDocumented) {
        RunResult r = RunTool({AgentPath(), "-h"});
        ASSERT_EQ(0, r.code) << r.Describe();
        std::string page = ReadFileOr(Runfile("man/memmon-agent.8"));
        std::set<std::string> opts;
        for (size_t p = r.out.find("--"); p != std::string::npos; p = r.out.find("--", p + 2)) {
                size_t e = r.out.find_first_not_of("abcdefghijklmnopqrstuvwxyz-", p + 2);
                std::string o = r.out.substr(p + 2, e - p - 2);
                if (!o.empty())
                        opts.insert(o);
        }
        EXPECT_GE(opts.size(), 9u) << r.out;
        for (const auto &o : opts) {
                std::string roff = "\\-\\-";
                for (char c : o)
                        roff += c == '-' ? std::string("\\-") : std::string(1, c);
                EXPECT_NE(std::string::npos, page.find(roff)) << "--" << o << " is not in memmon-agent(8)";
        }
}

} // namespace
} // namespace memmon_test
