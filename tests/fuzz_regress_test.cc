// Replays, through the fuzz targets' own entry functions, every input that
// once broke one (tests/fuzz/regress/TARGET/) and every seed
// (tests/fuzz/corpus/TARGET/ and the files tests/fuzz/seeds names), so that
// a fixed bug stays fixed without libFuzzer or clang.  A broken promise aborts the test; the input being run
// is printed first, so the log names it.
#include <dirent.h>
#include <fnmatch.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/fuzz/fuzz.h"

namespace {

// The root of the runfiles tree: the repository as the test sees it.
std::string Root() {
        const char *srcdir = getenv("TEST_SRCDIR");
        const char *ws = getenv("TEST_WORKSPACE");
        return std::string(srcdir ? srcdir : ".") + "/" + (ws ? ws : "memmon");
}

std::string FuzzDir(const std::string &sub) {
        return Root() + "/tests/fuzz/" + sub;
}

// The files of a folder, sorted; none when it does not exist (git keeps no
// empty folder, so a target without regressions has none).
std::vector<std::string> Files(const std::string &dir) {
        std::vector<std::string> v;
        DIR *d = opendir(dir.c_str());
        if (!d)
                return v;
        while (struct dirent *de = readdir(d)) {
                if (de->d_name[0] != '.')
                        v.push_back(dir + "/" + de->d_name);
        }
        closedir(d);
        std::sort(v.begin(), v.end());
        return v;
}

std::string ReadFile(const std::string &path) {
        std::ifstream in(path, std::ios::binary);
        std::ostringstream out;
        out << in.rdbuf();
        return out.str();
}

// The seeds tests/fuzz/seeds names for target, sorted.
std::vector<std::string> NamedSeeds(const std::string &target) {
        std::vector<std::string> v;
        std::istringstream in(ReadFile(FuzzDir("seeds")));
        for (std::string line; std::getline(in, line);) {
                std::istringstream words(line);
                std::string t, pattern;
                if (line.empty() || line[0] == '#' || !(words >> t >> pattern) || t != target)
                        continue;
                // Only the last component holds wildcards.  (glob(3) itself is
                // wrapped in this binary for fuzz_config.)
                size_t slash = pattern.rfind('/');
                std::string dir = Root() + "/" + pattern.substr(0, slash);
                for (const std::string &path : Files(dir))
                        if (fnmatch(pattern.substr(slash + 1).c_str(), path.substr(dir.size() + 1).c_str(),
                                    0) == 0)
                                v.push_back(path);
        }
        std::sort(v.begin(), v.end());
        return v;
}

// Runs fn on every regression input and seed of target; returns how many.
size_t Replay(const std::string &target, int (*fn)(const uint8_t *, size_t)) {
        std::vector<std::string> paths = Files(FuzzDir("regress/" + target));
        for (const auto &p : {Files(FuzzDir("corpus/" + target)), NamedSeeds(target)})
                paths.insert(paths.end(), p.begin(), p.end());
        for (const std::string &path : paths) {
                std::string data = ReadFile(path);
                fprintf(stderr, "fuzz_%s %s (%zu bytes)\n", target.c_str(),
                        path.substr(Root().size() + 1).c_str(), data.size());
                EXPECT_EQ(0, fn(reinterpret_cast<const uint8_t *>(data.data()), data.size()));
        }
        return paths.size();
}

// The seeds that tests/fuzz/seeds names exist.
TEST(FuzzRegress, NamedSeedsExist) {
        EXPECT_GE(NamedSeeds("maps").size(), 4u);
        EXPECT_GE(NamedSeeds("config").size(), 8u);
}

TEST(FuzzRegress, Maps) {
        EXPECT_GT(Replay("maps", fuzz_maps), 0u);
}

TEST(FuzzRegress, Backup) {
        EXPECT_GT(Replay("backup", fuzz_backup), 0u);
}

TEST(FuzzRegress, Config) {
        EXPECT_GT(Replay("config", fuzz_config), 0u);
}

TEST(FuzzRegress, Command) {
        EXPECT_GT(Replay("command", fuzz_command), 0u);
}

TEST(FuzzRegress, Json) {
        EXPECT_GT(Replay("json", fuzz_json), 0u);
}

// The empty input is every target's first case.
TEST(FuzzRegress, Empty) {
        EXPECT_EQ(0, fuzz_maps(nullptr, 0));
        EXPECT_EQ(0, fuzz_backup(nullptr, 0));
        EXPECT_EQ(0, fuzz_config(nullptr, 0));
        EXPECT_EQ(0, fuzz_command(nullptr, 0));
        EXPECT_EQ(0, fuzz_json(nullptr, 0));
}

} // namespace
