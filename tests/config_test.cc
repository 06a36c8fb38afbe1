#include "config/config.h"
#include "config/config_write.h"
#include "core/alerts.h"
#include "core/strbuf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace {

std::string DataDir() {
        const char *srcdir = getenv("TEST_SRCDIR");
        const char *ws = getenv("TEST_WORKSPACE");
        return std::string(srcdir ? srcdir : ".") + "/" + (ws ? ws : "memmon") + "/tests/testdata/config";
}

std::string Data(const std::string &rel) {
        return DataDir() + "/" + rel;
}

std::string TmpDir() {
        const char *t = getenv("TEST_TMPDIR");
        return t ? t : "/tmp";
}

std::string WriteTmp(const std::string &name, const std::string &content) {
        std::string path = TmpDir() + "/" + name;
        std::ofstream f(path, std::ios::binary | std::ios::trunc);
        f << content;
        return path;
}

std::string AllErrors(const config_errors &e) {
        std::string s;
        for (size_t i = 0; i < e.n; i++)
                s += std::string(e.v[i].text) + "\n";
        return s;
}

// A config_load() result that frees itself.
struct Loaded {
        struct config *cfg = nullptr;
        struct config_errors errs = {};
        int r = 0;

        explicit Loaded(const std::string &path) {
                r = config_load(path.c_str(), &cfg, &errs);
        }
        ~Loaded() {
                config_free(cfg);
                config_errors_fini(&errs);
        }
        Loaded(const Loaded &) = delete;
        Loaded &operator=(const Loaded &) = delete;

        const target_config *Target(const char *name) const {
                return config_find_target(cfg, name);
        }
};

std::vector<std::string> Words(char *const *argv) {
        std::vector<std::string> v;
        for (char *const *p = argv; p && *p; p++)
                v.push_back(*p);
        return v;
}

std::vector<std::string> Argv(const target_config *t) {
        return Words(t->argv);
}

// The value of an alert key as alert_policy_format() writes it.
std::string AlertKey(const struct alert_policy &p, const char *key) {
        struct strbuf b;
        strbuf_init(&b);
        EXPECT_EQ(0, alert_policy_format(&p, key, &b)) << key;
        std::string s = strbuf_str(&b);
        strbuf_fini(&b);
        return s;
}

struct Want {
        unsigned line;
        std::string needle; // must appear in the message
};

// Checks that ERRS holds exactly WANT, in order, each as "FILE:LINE: ...".
void ExpectErrors(const config_errors &errs, const std::string &file, const std::vector<Want> &want) {
        ASSERT_EQ(errs.n, want.size()) << AllErrors(errs);
        for (size_t i = 0; i < want.size(); i++) {
                const config_error &e = errs.v[i];
                std::string prefix = file + ":" + std::to_string(want[i].line) + ": ";

                ASSERT_NE(e.file, nullptr);
                EXPECT_EQ(std::string(e.file), file);
                EXPECT_EQ(e.line, want[i].line) << e.text;
                EXPECT_EQ(std::string(e.text).rfind(prefix, 0), 0u) << e.text;
                EXPECT_EQ(std::string(e.text), prefix + e.message);
                EXPECT_NE(std::string(e.message).find(want[i].needle), std::string::npos)
                    << "wanted '" << want[i].needle << "' in: " << e.text;
        }
}

// Loads a file that sets KEY = VALUE in SECTION (plus a selector for a
// target), for the value tables below.
struct OneValue : Loaded {
        OneValue(const std::string &section, const std::string &key, const std::string &value)
            : Loaded(WriteTmp("value.ini", Content(section, key, value))) {}
        static std::string Content(const std::string &section, const std::string &key,
                                   const std::string &value) {
                std::string s = "[" + section + "]\n" + key + " = " + value + "\n";
                bool selector = key == "pid" || key == "pidfile" || key == "match" || key == "exec";
                if (section.rfind("target:", 0) == 0 && !selector)
                        s += "pid = 1\n";
                return s;
        }
        std::string Error() const {
                return errs.n == 1 ? errs.v[0].message : AllErrors(errs);
        }
};

TEST(ValueTest, Durations) {
        const struct {
                const char *s;
                uint64_t us;
        } good[] = {
            {"0", 0},
            {"2000000", 2000000},
            {"1us", 1},
            {"1500us", 1500},
            {"500ms", 500000},
            {"2s", 2000000},
            {"1m", 60000000},
            {"1h", UINT64_C(3600000000)},
            {"720h", UINT64_C(720) * 3600000000},
        };
        for (const auto &g : good) {
                OneValue v("defaults", "full_interval", g.s);
                ASSERT_EQ(v.r, 0) << g.s << ": " << v.Error();
                EXPECT_EQ(v.cfg->defaults.full_interval_us, g.us) << g.s;
        }
        const char *bad[] = {"",   "s",    "ms", "-1",   "+1",   "1 s", "1.5s",
                             "1S", "1sec", "1d", "0x10", "1ms2", "one"};
        for (const char *b : bad) {
                OneValue v("defaults", "full_interval", b);
                EXPECT_EQ(v.r, -EINVAL) << b;
                EXPECT_NE(v.Error().find("full_interval = '" + std::string(b) + "': bad duration"),
                          std::string::npos)
                    << v.Error();
        }
        for (const char *b : {"721h", "18446744073709551616", "5124095577h"}) {
                OneValue v("defaults", "full_interval", b);
                EXPECT_EQ(v.r, -EINVAL) << b;
                EXPECT_NE(v.Error().find("out of range 0..720h"), std::string::npos) << v.Error();
        }
}

TEST(ValueTest, IntervalBounds) {
        for (const char *section : {"agent", "defaults", "target:t"}) {
                for (const char *ok : {"1ms", "1000", "1h", "3600000000"}) {
                        OneValue v(section, "interval", ok);
                        EXPECT_EQ(v.r, 0) << section << " " << ok << ": " << v.Error();
                }
                for (const char *out : {"0", "999us", "999", "3600000001", "61m", "2h"}) {
                        OneValue v(section, "interval", out);
                        EXPECT_EQ(v.r, -EINVAL) << section << " " << out;
                        EXPECT_NE(v.Error().find("out of range 1ms..1h"), std::string::npos) << v.Error();
                }
        }
}

TEST(ValueTest, Sizes) {
        const struct {
                const char *s;
                uint64_t bytes;
        } good[] = {
            {"0", 0},
            {"1000", 1000},
            {"1K", 1024},
            {"1k", 1024},
            {"256M", UINT64_C(256) << 20},
            {"2G", UINT64_C(2) << 30},
            {"1024G", UINT64_C(1) << 40},
        };
        for (const auto &g : good) {
                OneValue v("target:t", "max_bytes", g.s);
                ASSERT_EQ(v.r, 0) << g.s << ": " << v.Error();
                EXPECT_EQ(v.cfg->targets[0].policy.max_bytes, g.bytes) << g.s;
        }
        for (const char *b : {"", "K", "-1", "1 K", "1.5M", "M1", "1KK", "1X"}) {
                OneValue v("target:t", "max_bytes", b);
                EXPECT_EQ(v.r, -EINVAL) << b;
                EXPECT_NE(v.Error().find("bad size"), std::string::npos) << v.Error();
        }
        for (const char *b : {"1025G", "18446744073709551616"}) {
                OneValue v("target:t", "max_bytes", b);
                EXPECT_EQ(v.r, -EINVAL) << b;
                EXPECT_NE(v.Error().find("out of range 0..1T"), std::string::npos) << v.Error();
        }
}

TEST(ValueTest, Integers) {
        const struct {
                const char *key;
                const char *value;
                bool ok;
        } cases[] = {
            {"full_every", "1", true},
            {"full_every", "1000000", true},
            {"full_every", "0", false},
            {"full_every", "1000001", false},
            {"full_every", "-1", false},
            {"full_every", "+5", false},
            {"full_every", "5 ", true}, // inih strips the blank
            {"full_every", "0x10", false},
            {"full_every", "1e3", false},
            {"keep_full", "0", true},
            {"keep_full", "100000", true},
            {"keep_full", "100001", false},
            {"pid", "1", true},
            {"pid", "4194304", true},
            {"pid", "4194305", false},
            {"pid", "0", false},
            {"pid", "99999999999999999999", false},
        };
        for (const auto &c : cases) {
                OneValue v("target:t", c.key, c.value);
                EXPECT_EQ(v.r, c.ok ? 0 : -EINVAL) << c.key << " = " << c.value << ": " << v.Error();
        }
}

TEST(ValueTest, LogLevels) {
        const struct {
                const char *s;
                enum log_level level;
        } good[] = {{"error", LOG_ERROR}, {"warn", LOG_WARN}, {"info", LOG_INFO}, {"debug", LOG_DEBUG}};
        for (const auto &g : good) {
                OneValue v("agent", "log_level", g.s);
                ASSERT_EQ(v.r, 0) << v.Error();
                EXPECT_EQ(v.cfg->log_level, g.level);
        }
        for (const char *b : {"", "ERROR", "warning", "trace", "3"}) {
                OneValue v("agent", "log_level", b);
                EXPECT_EQ(v.r, -EINVAL) << b;
        }
}

TEST(ValueTest, CaptureAndResync) {
        {
                OneValue v("agent", "log_level", "info");
                ASSERT_EQ(v.r, 0) << v.Error();
                EXPECT_EQ(v.cfg->capture, CAPTURE_AUTO);
                EXPECT_EQ(v.cfg->resync_us, UINT64_C(60000000));
        }
        const struct {
                const char *s;
                enum capture_mode mode;
        } good[] = {{"auto", CAPTURE_AUTO}, {"poll", CAPTURE_POLL}, {"ebpf", CAPTURE_EBPF}};
        for (const auto &g : good) {
                OneValue v("agent", "capture", g.s);
                ASSERT_EQ(v.r, 0) << v.Error();
                EXPECT_EQ(v.cfg->capture, g.mode);
        }
        for (const char *b : {"", "eBPF", "bpf", "1", "auto poll"}) {
                OneValue v("agent", "capture", b);
                EXPECT_EQ(v.r, -EINVAL) << b;
                EXPECT_NE(v.Error().find(": expected auto, poll or ebpf"), std::string::npos) << v.Error();
        }
        {
                OneValue v("agent", "resync", "5m");
                ASSERT_EQ(v.r, 0) << v.Error();
                EXPECT_EQ(v.cfg->resync_us, UINT64_C(300000000));
        }
        for (const char *b : {"0", "999ms", "25h"}) {
                OneValue v("agent", "resync", b);
                EXPECT_EQ(v.r, -EINVAL) << b;
                EXPECT_NE(v.Error().find("out of range 1s..24h"), std::string::npos) << v.Error();
        }
        OneValue t("target:t", "capture", "poll");
        EXPECT_EQ(t.r, -EINVAL);
        EXPECT_NE(t.Error().find("it belongs in [agent]"), std::string::npos) << t.Error();
}

TEST(ValueTest, ExecWords) {
        const struct {
                const char *value;
                std::vector<std::string> argv;
        } cases[] = {
            {"prog", {"prog"}},
            {"  prog   a\tb  ", {"prog", "a", "b"}},
            {"sh -c \"echo a  b\"", {"sh", "-c", "echo a  b"}},
            {"x \"\" y", {"x", "", "y"}},
            {"--opt=\"a b\"c", {"--opt=a bc"}},
            {"say \"\\\"q\\\" \\\\ \\n\"", {"say", "\"q\" \\ \\n"}},
            {"back\\slash", {"back\\slash"}},
        };
        for (const auto &c : cases) {
                OneValue v("target:t", "exec", c.value);
                ASSERT_EQ(v.r, 0) << c.value << ": " << v.Error();
                EXPECT_EQ(Argv(&v.cfg->targets[0]), c.argv) << c.value;
        }
        OneValue open("target:t", "exec", "sh -c \"oops");
        EXPECT_NE(open.Error().find("unterminated double quote"), std::string::npos) << open.Error();
        OneValue empty("target:t", "exec", "  ");
        EXPECT_NE(empty.Error().find("exec: empty command"), std::string::npos) << empty.Error();
}

TEST(ValueTest, MatchNames) {
        OneValue ok("target:t", "match", "kworker 0:1");
        ASSERT_EQ(ok.r, 0) << ok.Error();
        EXPECT_STREQ(ok.cfg->targets[0].match, "kworker 0:1");
        OneValue slash("target:t", "match", "/usr/bin/x");
        EXPECT_NE(slash.Error().find("a process name has no '/'"), std::string::npos) << slash.Error();
        OneValue empty("target:t", "match", "");
        EXPECT_NE(empty.Error().find("empty process name"), std::string::npos) << empty.Error();
}

TEST(ConfigTest, GoodFileSetsEveryKey) {
        Loaded l(Data("good.ini"));
        ASSERT_EQ(l.r, 0) << AllErrors(l.errs);
        EXPECT_EQ(l.errs.n, 0u);
        const config *c = l.cfg;

        EXPECT_EQ(std::string(c->path), Data("good.ini"));
        EXPECT_EQ(std::string(c->base_dir), DataDir() + "/state");
        EXPECT_EQ(c->interval_us, 1500000u);
        EXPECT_EQ(c->log_level, LOG_DEBUG);
        EXPECT_EQ(c->capture, CAPTURE_POLL);
        EXPECT_EQ(c->resync_us, UINT64_C(90000000));
        EXPECT_EQ(c->defaults.interval_us, 3000000u);
        EXPECT_EQ(c->defaults.full_every, 50u);
        EXPECT_EQ(c->defaults.full_interval_us, UINT64_C(1800000000));
        EXPECT_EQ(c->defaults.keep_full, 4u);
        EXPECT_EQ(c->defaults.max_bytes, UINT64_C(64) << 20);
        ASSERT_EQ(c->n_targets, 5u);

        const target_config *web = &c->targets[0];
        EXPECT_STREQ(web->name, "web");
        EXPECT_EQ(web->sel, SELECT_PIDFILE);
        EXPECT_EQ(std::string(web->pidfile), DataDir() + "/run/nginx.pid");
        EXPECT_EQ(web->policy.interval_us, 500000u);
        EXPECT_EQ(web->policy.full_every, 50u);
        EXPECT_EQ(web->policy.full_interval_us, UINT64_C(1800000000));
        EXPECT_EQ(web->policy.keep_full, 4u);
        EXPECT_EQ(web->policy.max_bytes, UINT64_C(64) << 20);
        EXPECT_EQ(std::string(web->file), Data("good.ini"));
        EXPECT_EQ(web->line, 14u);
        EXPECT_EQ(web->match, nullptr);
        EXPECT_EQ(web->argv, nullptr);

        const target_config *db = l.Target("db");
        ASSERT_NE(db, nullptr);
        EXPECT_EQ(db->sel, SELECT_MATCH);
        EXPECT_STREQ(db->match, "postgres");
        EXPECT_EQ(db->policy.interval_us, 3000000u);
        EXPECT_EQ(db->policy.full_every, 7u);
        EXPECT_EQ(db->policy.full_interval_us, 0u);
        EXPECT_EQ(db->policy.keep_full, 0u);
        EXPECT_EQ(db->policy.max_bytes, 0u);
        EXPECT_EQ(db->line, 18u);

        const target_config *one = l.Target("one");
        ASSERT_NE(one, nullptr);
        EXPECT_EQ(one->sel, SELECT_PID);
        EXPECT_EQ(one->pid, 4242);
        EXPECT_EQ(one->policy.max_bytes, UINT64_C(1) << 30);

        const target_config *job = l.Target("job.v2-x_1");
        ASSERT_NE(job, nullptr);
        EXPECT_EQ(job->sel, SELECT_EXEC);
        EXPECT_EQ(Argv(job),
                  (std::vector<std::string>{"/bin/sh", "-c", "echo \"hi\"; sleep 1", "", "plain"}));

        const target_config *abs = l.Target("abs");
        ASSERT_NE(abs, nullptr);
        EXPECT_STREQ(abs->pidfile, "/run/abs.pid");
        EXPECT_EQ(abs->policy.interval_us, 2000000u) << "a plain integer is microseconds";
}

TEST(ConfigTest, MinimalFileGetsBuiltInDefaults) {
        Loaded l(Data("minimal.ini"));
        ASSERT_EQ(l.r, 0) << AllErrors(l.errs);
        EXPECT_EQ(std::string(l.cfg->base_dir), DataDir()) << "default base_dir: the file's folder";
        EXPECT_EQ(l.cfg->interval_us, 2000000u);
        EXPECT_EQ(l.cfg->log_level, LOG_INFO);
        ASSERT_EQ(l.cfg->n_targets, 1u);
        const target_config *t = &l.cfg->targets[0];
        EXPECT_STREQ(t->name, "only");
        EXPECT_EQ(t->policy.interval_us, 2000000u);
        EXPECT_EQ(t->policy.full_every, 100u);
        EXPECT_EQ(t->policy.full_interval_us, UINT64_C(3600000000));
        EXPECT_EQ(t->policy.keep_full, 10u);
        EXPECT_EQ(t->policy.max_bytes, UINT64_C(256) << 20);
}

TEST(ConfigTest, DefaultsApplyRegardlessOfSectionOrder) {
        Loaded l(Data("defaults_order.ini"));
        ASSERT_EQ(l.r, 0) << AllErrors(l.errs);
        const target_config *early = l.Target("early");
        const target_config *late = l.Target("late");
        ASSERT_NE(early, nullptr);
        ASSERT_NE(late, nullptr);
        EXPECT_EQ(early->policy.full_every, 5u) << "[defaults] comes after the target";
        EXPECT_EQ(early->policy.max_bytes, 1024u);
        EXPECT_EQ(early->policy.interval_us, 250000u)
            << "[agent] interval, set last, is the default interval";
        EXPECT_EQ(late->policy.full_every, 5u);
        EXPECT_EQ(late->policy.interval_us, 10000u) << "the target's own interval wins";
        EXPECT_EQ(l.cfg->defaults.interval_us, 250000u);
}

TEST(ConfigTest, RelativePathsResolveAgainstTheFileFolder) {
        char *cwd = getcwd(nullptr, 0);
        ASSERT_NE(cwd, nullptr);
        ASSERT_EQ(chdir(DataDir().c_str()), 0);
        char *here = getcwd(nullptr, 0);
        ASSERT_NE(here, nullptr);
        std::string dir = here;
        free(here);

        {
                Loaded l("good.ini");
                ASSERT_EQ(l.r, 0) << AllErrors(l.errs);
                EXPECT_EQ(std::string(l.cfg->path), dir + "/good.ini");
                EXPECT_EQ(std::string(l.cfg->base_dir), dir + "/state");
                EXPECT_EQ(std::string(l.Target("web")->pidfile), dir + "/run/nginx.pid");
        }
        {
                Loaded l("./minimal.ini");
                ASSERT_EQ(l.r, 0) << AllErrors(l.errs);
                EXPECT_EQ(std::string(l.cfg->base_dir), dir);
        }
        // From another folder, paths still follow the file, not the current directory.
        ASSERT_EQ(chdir(TmpDir().c_str()), 0);
        {
                Loaded l(Data("good.ini"));
                ASSERT_EQ(l.r, 0) << AllErrors(l.errs);
                EXPECT_EQ(std::string(l.cfg->base_dir), DataDir() + "/state");
        }
        ASSERT_EQ(chdir(cwd), 0);
        free(cwd);
}

TEST(ConfigTest, LongLinesAreReadWhole) {
        Loaded l(Data("long_line.ini"));
        ASSERT_EQ(l.r, 0) << AllErrors(l.errs);

        const target_config *cmd = l.Target("cmd");
        ASSERT_NE(cmd, nullptr);
        std::vector<std::string> argv = Argv(cmd);
        ASSERT_EQ(argv.size(), 201u);
        EXPECT_EQ(argv[0], "/usr/bin/env");
        EXPECT_EQ(argv[1], "ARG0000=" + std::string(20, 'v'));
        EXPECT_EQ(argv[200], "ARG0199=" + std::string(20, 'v'));

        const target_config *path = l.Target("path");
        ASSERT_NE(path, nullptr);
        std::string p = path->pidfile;
        EXPECT_GT(p.size(), 4096u);
        EXPECT_EQ(p.rfind("/run/d000/d001/", 0), 0u);
        EXPECT_EQ(p.substr(p.size() - 12), "/d1099/x.pid");
        EXPECT_EQ(path->line, 5u) << "lines after a long line are counted once";
        EXPECT_EQ(path->policy.interval_us, 100000u) << "the key after a long line is read";
}

TEST(ConfigTest, IncludesWithRelativeGlobs) {
        Loaded l(Data("include/main.ini"));
        ASSERT_EQ(l.r, 0) << AllErrors(l.errs);
        ASSERT_EQ(l.cfg->n_targets, 4u);
        EXPECT_STREQ(l.cfg->targets[0].name, "a");
        EXPECT_STREQ(l.cfg->targets[1].name, "b");
        EXPECT_STREQ(l.cfg->targets[2].name, "c");
        EXPECT_STREQ(l.cfg->targets[3].name, "main");

        const target_config *a = l.Target("a");
        EXPECT_EQ(std::string(a->file), Data("include/conf.d/a.ini"));
        EXPECT_EQ(a->line, 4u);
        const target_config *b = l.Target("b");
        EXPECT_EQ(std::string(b->pidfile), Data("include/conf.d/b.pid")) << "relative to the included file";
        const target_config *c = l.Target("c");
        EXPECT_EQ(std::string(c->file), Data("include/conf.d/../more/c.conf")) << "nested include";
        EXPECT_EQ(c->pid, 30);
        for (size_t i = 0; i < l.cfg->n_targets; i++) {
                EXPECT_EQ(l.cfg->targets[i].policy.keep_full, 2u) << "[defaults] of an included file";
                EXPECT_EQ(l.cfg->targets[i].policy.interval_us, 1000000u);
        }
        EXPECT_EQ(std::string(l.cfg->base_dir), Data("include")) << "the main file's folder";
}

TEST(ConfigTest, IncludeCycleIsAnError) {
        Loaded l(Data("cycle/a.ini"));
        EXPECT_EQ(l.r, -EINVAL);
        EXPECT_EQ(l.cfg, nullptr);
        ExpectErrors(l.errs, Data("cycle/b.ini"),
                     {{4, "include cycle: " + Data("cycle/a.ini") + " -> " + Data("cycle/b.ini") + " -> " +
                              Data("cycle/a.ini")}});
}

TEST(ConfigTest, ErrorsInIncludedFilesNameBothPlaces) {
        Loaded l(Data("dup/main.ini"));
        EXPECT_EQ(l.r, -EINVAL);
        ASSERT_EQ(l.errs.n, 3u) << AllErrors(l.errs);
        std::string first = Data("dup/main.ini");

        EXPECT_EQ(std::string(l.errs.v[0].text),
                  Data("dup/other.ini") + ":2: duplicate target 'x'; first defined at " + first + ":1");
        EXPECT_EQ(std::string(l.errs.v[1].text),
                  Data("dup/other.ini") + ":5: duplicate key 'keep_full' in [defaults]; first set at " +
                      first + ":4");
        // A glob that matches a folder: only regular files are read.
        EXPECT_EQ(std::string(l.errs.v[2].file), Data("dup/notafile.ini"));
        EXPECT_EQ(l.errs.v[2].line, 0u);
        EXPECT_EQ(std::string(l.errs.v[2].text), Data("dup/notafile.ini") +
                                                     ": not a regular file (a folder) (included from " +
                                                     Data("dup/main.ini") + ":6)");
}

TEST(ConfigTest, EveryKindOfErrorWithFileAndLine) {
        std::string file = Data("errors.ini");
        struct config *cfg = reinterpret_cast<struct config *>(0x1);
        struct config_errors errs = {};

        EXPECT_EQ(config_load(file.c_str(), &cfg, &errs), -EINVAL);
        EXPECT_EQ(cfg, reinterpret_cast<struct config *>(0x1)) << "*ret is written only on success";
        ExpectErrors(errs, file,
                     {
                         {2, "key 'orphan' is outside any section"},
                         {4, "interval = '5x': bad duration"},
                         {5, "duplicate key 'interval' in [agent]; first set at " + file + ":4"},
                         {6, "log_level = 'loud': expected error, warn, info or debug"},
                         {7, "base_dir: empty path"},
                         {8, "unknown key 'bogus' in [agent]"},
                         {9, "expected 'key = value' or '[section]', got 'this line has no equals sign'"},
                         {10, "unknown section [agnt]"},
                         {13, "full_every = '0': out of range 1..1000000"},
                         {14, "keep_full = 'ten': bad number; expected an integer in 0..100000"},
                         {15, "max_bytes = '12X': bad size"},
                         {16, "full_interval = '1000h': out of range 0..720h"},
                         {18, "pid = '99999999': out of range 1..4194304"},
                         {19, "target 'web': 'match' conflicts with 'pid' at " + file + ":18"},
                         {20, "duplicate target 'web'; first defined at " + file + ":17"},
                         {22, "target name 'full' is reserved"},
                         {23, "invalid target name 'bad name'"},
                         {25, "interval = '0': out of range 1ms..1h"},
                         {24, "target 'empty' has no selector"},
                         {26, "unterminated section header '[target:unterminated'"},
                         {30, "full_every = '1000001': out of range 1..1000000"},
                         {31, "unknown key 'log_level' in [target:long]; it belongs in [agent]"},
                         {32, "a target section needs a name: [target:NAME]"},
                         {33, "unexpected text after [agent]"},
                         {35, "missing key name before '=' in [target:q]"},
                         {36, "exec = 'sh -c \"unterminated': unterminated double quote"},
                     });
        config_errors_fini(&errs);
}

TEST(ConfigTest, NulBytesAndOverlongLinesAreErrors) {
        std::string content = "[target:a]\npid = 1\n";
        content += std::string("match = a\0b\n", 12);
        content += "exec = " + std::string(CONFIG_MAX_LINE, 'x') + "\n";
        content += "nonsense\n";
        std::string file = WriteTmp("nul_and_long.ini", content);

        Loaded l(file);
        EXPECT_EQ(l.r, -EINVAL);
        ExpectErrors(l.errs, file,
                     {{3, "line contains a NUL byte"}, {4, "line too long"}, {5, "got 'nonsense'"}});
}

TEST(ConfigTest, BomCrlfBlanksAndComments) {
        std::string file = WriteTmp("bom_crlf.ini", "\xEF\xBB\xBF; comment\r\n"
                                                    "# another comment\r\n"
                                                    "\r\n"
                                                    "   [target:a]   ; trailing comment\r\n"
                                                    "\tmatch = some name ; inline comment\r\n"
                                                    "  interval : 20ms\r\n");
        Loaded l(file);
        ASSERT_EQ(l.r, 0) << AllErrors(l.errs);
        const target_config *a = l.Target("a");
        ASSERT_NE(a, nullptr);
        EXPECT_STREQ(a->match, "some name");
        EXPECT_EQ(a->policy.interval_us, 20000u);
        EXPECT_EQ(a->line, 4u);
}

TEST(ConfigTest, LongSectionNamesAreKeptWhole) {
        // inih cuts section names at 50 bytes; a 64-byte target name must survive.
        std::string name(64, 'n');
        std::string file =
            WriteTmp("long_name.ini", "[target:" + name + "]\npid = 7\n[target:" + name + "x]\npid = 8\n");
        Loaded l(file);
        EXPECT_EQ(l.r, -EINVAL);
        ExpectErrors(l.errs, file, {{3, "invalid target name"}});

        std::string ok = WriteTmp("long_name_ok.ini", "[target:" + name + "]\npid = 7\n");
        Loaded l2(ok);
        ASSERT_EQ(l2.r, 0) << AllErrors(l2.errs);
        EXPECT_NE(l2.Target(name.c_str()), nullptr);
}

TEST(ConfigTest, MissingFileReturnsErrnoAndNamesIt) {
        std::string file = Data("no_such_file.ini");
        Loaded l(file);
        EXPECT_EQ(l.r, -ENOENT);
        EXPECT_EQ(l.cfg, nullptr);
        ASSERT_EQ(l.errs.n, 1u);
        EXPECT_EQ(std::string(l.errs.v[0].text), file + ": cannot open: No such file or directory");
        EXPECT_EQ(l.errs.v[0].line, 0u);

        struct config *cfg = nullptr;
        EXPECT_EQ(config_load(file.c_str(), &cfg, nullptr), -ENOENT) << "errs may be NULL";
        EXPECT_EQ(config_load(Data("errors.ini").c_str(), &cfg, nullptr), -EINVAL);
        EXPECT_EQ(cfg, nullptr);
}

TEST(ConfigTest, UnreadableIncludeFolderIsAnError) {
        if (geteuid() == 0)
                GTEST_SKIP() << "root reads folders whatever their mode";
        std::string dir = TmpDir() + "/locked";
        mkdir(dir.c_str(), 0700);
        ASSERT_EQ(chmod(dir.c_str(), 0), 0);
        std::string file = WriteTmp("include_locked.ini", "[include]\nfiles = locked/*.ini\n");
        Loaded l(file);
        chmod(dir.c_str(), 0700);
        EXPECT_EQ(l.r, -EINVAL);
        ExpectErrors(l.errs, file, {{2, "files: cannot expand 'locked/*.ini': Permission denied"}});
}

TEST(ConfigTest, ErrorsBeyondTheCapAreCounted) {
        std::string content = "[agent]\n";
        for (int i = 0; i < CONFIG_MAX_ERRORS + 500; i++)
                content += "nonsense\n";
        std::string file = WriteTmp("many.ini", content);
        Loaded l(file);
        EXPECT_EQ(l.r, -EINVAL);
        EXPECT_EQ(l.errs.n, static_cast<size_t>(CONFIG_MAX_ERRORS));
        EXPECT_EQ(l.errs.n_dropped, 500u);
        EXPECT_EQ(l.errs.v[CONFIG_MAX_ERRORS - 1].line, static_cast<unsigned>(CONFIG_MAX_ERRORS + 1));
}

TEST(ConfigTest, CompareForReload) {
        Loaded before(Data("reload_old.ini"));
        Loaded after(Data("reload_new.ini"));
        ASSERT_EQ(before.r, 0) << AllErrors(before.errs);
        ASSERT_EQ(after.r, 0) << AllErrors(after.errs);

        EXPECT_EQ(config_target_compare(before.Target("same"), after.Target("same")), CONFIG_SAME)
            << "file and line differ, which does not count";
        EXPECT_TRUE(config_target_equal(before.Target("same"), after.Target("same")));
        EXPECT_EQ(config_target_compare(before.Target("policy"), after.Target("policy")),
                  CONFIG_POLICY_CHANGED);
        EXPECT_FALSE(config_target_equal(before.Target("policy"), after.Target("policy")));
        EXPECT_EQ(config_target_compare(before.Target("selector"), after.Target("selector")),
                  CONFIG_SELECTOR_CHANGED);
        EXPECT_EQ(config_target_compare(before.Target("inherit"), after.Target("inherit")),
                  CONFIG_POLICY_CHANGED)
            << "a change of [defaults] reaches the targets that inherit it";
        EXPECT_EQ(after.Target("gone"), nullptr);
        EXPECT_EQ(before.Target("added"), nullptr);
        EXPECT_EQ(config_target_compare(before.Target("same"), before.Target("policy")),
                  CONFIG_SELECTOR_CHANGED)
            << "another name";
}

TEST(ConfigTest, CompareEachSelectorKind) {
        Loaded a(Data("good.ini"));
        Loaded b(Data("good.ini"));
        ASSERT_EQ(a.r, 0);
        ASSERT_EQ(b.r, 0);
        for (size_t i = 0; i < a.cfg->n_targets; i++)
                EXPECT_EQ(config_target_compare(&a.cfg->targets[i], &b.cfg->targets[i]), CONFIG_SAME);

        target_config *one = &b.cfg->targets[2];
        ASSERT_STREQ(one->name, "one");
        one->pid++;
        EXPECT_EQ(config_target_compare(&a.cfg->targets[2], one), CONFIG_SELECTOR_CHANGED);
        one->pid--;
        one->policy.full_every++;
        EXPECT_EQ(config_target_compare(&a.cfg->targets[2], one), CONFIG_POLICY_CHANGED);

        target_config *job = &b.cfg->targets[3];
        ASSERT_EQ(job->sel, SELECT_EXEC);
        job->argv[4][0] = 'P';
        EXPECT_EQ(config_target_compare(&a.cfg->targets[3], job), CONFIG_SELECTOR_CHANGED);
        job->argv[4][0] = 'p';
        job->policy.max_bytes = 0;
        EXPECT_EQ(config_target_compare(&a.cfg->targets[3], job), CONFIG_POLICY_CHANGED);

        target_config *db = &b.cfg->targets[1];
        db->match[0] = 'P';
        EXPECT_EQ(config_target_compare(&a.cfg->targets[1], db), CONFIG_SELECTOR_CHANGED);
}

TEST(ConfigTest, WrittenConfigLoadsBackEqual) {
        for (const char *name :
             {"good.ini", "include/main.ini", "long_line.ini", "minimal.ini", "alerts.ini"}) {
                Loaded l(Data(name));
                ASSERT_EQ(l.r, 0) << AllErrors(l.errs);
                std::string out = TmpDir() + "/written.ini";
                FILE *f = fopen(out.c_str(), "w");
                ASSERT_NE(f, nullptr);
                EXPECT_EQ(config_write(l.cfg, f), 0);
                ASSERT_EQ(fclose(f), 0);

                Loaded back(out);
                ASSERT_EQ(back.r, 0) << name << ":\n" << AllErrors(back.errs);
                EXPECT_STREQ(back.cfg->base_dir, l.cfg->base_dir);
                EXPECT_EQ(back.cfg->interval_us, l.cfg->interval_us);
                EXPECT_EQ(back.cfg->log_level, l.cfg->log_level);
                EXPECT_EQ(back.cfg->events, l.cfg->events);
                EXPECT_EQ(Words(back.cfg->alert_exec), Words(l.cfg->alert_exec));
                EXPECT_EQ(back.cfg->alert_exec_rate, l.cfg->alert_exec_rate);
                EXPECT_EQ(back.cfg->capture, l.cfg->capture);
                EXPECT_EQ(back.cfg->resync_us, l.cfg->resync_us);
                EXPECT_TRUE(target_policy_equal(&back.cfg->defaults, &l.cfg->defaults));
                ASSERT_EQ(back.cfg->n_targets, l.cfg->n_targets);
                for (size_t i = 0; i < l.cfg->n_targets; i++)
                        EXPECT_TRUE(config_target_equal(&back.cfg->targets[i], &l.cfg->targets[i]))
                            << name << ": " << l.cfg->targets[i].name;
        }
}

TEST(ConfigTest, KeyTableIsWritten) {
        char *buf = nullptr;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        ASSERT_NE(f, nullptr);
        EXPECT_EQ(config_write_keys(f), 0);
        fclose(f);
        std::string s(buf, len);
        free(buf);
        for (const char *key : {"base_dir", "log_level", "interval", "full_every", "full_interval",
                                "keep_full", "max_bytes", "pidfile", "match", "exec", "files", "events",
                                "alert_exec", "alert_exec_rate", "wx", "allow_exec", "text_check_budget"})
                EXPECT_NE(s.find(key), std::string::npos) << key;
        EXPECT_NE(s.find("1ms..1h"), std::string::npos);
        EXPECT_NE(s.find("256M"), std::string::npos);
        EXPECT_NE(s.find("capture       choice    auto|poll|ebpf auto"), std::string::npos) << s;
}

// [alerts] reaches every target, key by key; a target's own alert keys win
// (its allow_exec replaces the list); events and alert_exec.
TEST(ConfigTest, AlertsSectionAndTargetAlertKeys) {
        Loaded l(Data("alerts.ini"));
        ASSERT_EQ(l.r, 0) << AllErrors(l.errs);
        EXPECT_FALSE(l.cfg->events);
        EXPECT_EQ(Words(l.cfg->alert_exec),
                  (std::vector<std::string>{DataDir() + "/hooks/page", "--team", "sre on call"}));
        EXPECT_EQ(l.cfg->alert_exec_rate, 3u);
        const struct alert_policy &all = l.cfg->defaults.alerts;
        EXPECT_EQ("on", AlertKey(all, "wx"));
        EXPECT_EQ("on", AlertKey(all, "new_exec"));
        EXPECT_EQ("50000", AlertKey(all, "max_regions"));
        EXPECT_EQ("512M/1h", AlertKey(all, "max_growth"));
        EXPECT_EQ("/opt/jit/*,[anon:jit*]", AlertKey(all, "allow_exec"));
        EXPECT_EQ("10m", AlertKey(all, "text_check"));

        const target_config *java = l.Target("java");
        ASSERT_NE(java, nullptr);
        EXPECT_EQ("off", AlertKey(java->policy.alerts, "wx"));
        EXPECT_EQ("off", AlertKey(java->policy.alerts, "anon_exec"));
        EXPECT_EQ("on", AlertKey(java->policy.alerts, "memfd_exec"));
        EXPECT_EQ("on", AlertKey(java->policy.alerts, "new_exec")) << "from [alerts]";
        EXPECT_EQ("50000", AlertKey(java->policy.alerts, "max_regions")) << "from [alerts]";
        EXPECT_EQ("/usr/lib/jvm/*", AlertKey(java->policy.alerts, "allow_exec")) << "replaced, not added to";
        EXPECT_EQ(java->policy.alert_exec, nullptr) << "an empty alert_exec turns [agent]'s off";
        EXPECT_EQ(java->policy.alert_exec_rate, 3u);

        const target_config *web = l.Target("web");
        ASSERT_NE(web, nullptr);
        EXPECT_EQ("16M", AlertKey(web->policy.alerts, "text_check_budget"));
        EXPECT_EQ("off", AlertKey(web->policy.alerts, "max_regions"));
        EXPECT_EQ("/opt/jit/*,[anon:jit*]", AlertKey(web->policy.alerts, "allow_exec"));
        EXPECT_EQ(Words(web->policy.alert_exec), Words(l.cfg->alert_exec));
        EXPECT_EQ(web->policy.alert_exec_rate, 1u);

        const target_config *plain = l.Target("plain");
        ASSERT_NE(plain, nullptr);
        EXPECT_TRUE(alert_policy_equal(&plain->policy.alerts, &all));
        EXPECT_EQ(Words(plain->policy.alert_exec), Words(l.cfg->alert_exec));

        // A change of alert rules is a policy change (applied in place).
        struct target_config other = {};
        other.name = plain->name;
        other.sel = plain->sel;
        other.pid = plain->pid;
        ASSERT_EQ(0, target_policy_copy(&other.policy, &plain->policy));
        EXPECT_EQ(config_target_compare(plain, &other), CONFIG_SAME);
        other.policy.alerts.on[ALERT_MEMFD_EXEC] = 0;
        EXPECT_EQ(config_target_compare(plain, &other), CONFIG_POLICY_CHANGED);
        target_policy_fini(&other.policy);

        // Without [alerts], the built-in rules, and events on.
        Loaded m(Data("minimal.ini"));
        ASSERT_EQ(m.r, 0) << AllErrors(m.errs);
        EXPECT_TRUE(m.cfg->events);
        EXPECT_EQ(m.cfg->alert_exec, nullptr);
        EXPECT_EQ(m.cfg->alert_exec_rate, 10u);
        struct alert_policy builtin;
        alert_policy_init(&builtin);
        for (size_t i = 0; i < m.cfg->n_targets; i++)
                EXPECT_TRUE(alert_policy_equal(&m.cfg->targets[i].policy.alerts, &builtin));
}

TEST(ConfigTest, AlertKeyErrorsWithFileAndLine) {
        std::string path = WriteTmp("alert_errors.ini", "[alerts]\n"                    // 1
                                                        "wx = maybe\n"                  // 2
                                                        "max_growth = 5M\n"             // 3
                                                        "allow_exec = relative/*\n"     // 4
                                                        "wx = off\n"                    // 5
                                                        "interval = 1s\n"               // 6
                                                        "[defaults]\n"                  // 7
                                                        "anon_exec = off\n"             // 8
                                                        "[agent]\n"                     // 9
                                                        "events = sometimes\n"          // 10
                                                        "alert_exec_rate = 0\n"         // 11
                                                        "alert_exec = \"unterminated\n" // 12
                                                        "[target:t]\n"                  // 13
                                                        "pid = 1\n"                     // 14
                                                        "text_check = 1ms\n"            // 15
                                                        "text_check = 1h\n");           // 16
        Loaded l(path);
        EXPECT_EQ(l.r, -EINVAL);
        ExpectErrors(
            l.errs, path,
            {{2, "wx = 'maybe': invalid value; expected on or off"},
             {3, "max_growth = '5M': invalid value; expected SIZE/DURATION"},
             {4, "allow_exec = 'relative/*': invalid value"},
             {5, "duplicate key 'wx' in [alerts]; first set at"},
             {6, "unknown key 'interval' in [alerts]; it belongs in [agent], [defaults] or [target:NAME]"},
             {8, "unknown key 'anon_exec' in [defaults]; it belongs in [target:NAME] or [alerts]"},
             {10, "events = 'sometimes': expected on or off"},
             {11, "alert_exec_rate = '0': out of range 1..10000"},
             {12, "unterminated double quote"},
             {15, "text_check = '1ms': out of range"},
             {16, "duplicate key 'text_check' in [target:t]"}});
}

TEST(ConfigTest, NewConfigAndAddedTargets) {
        struct config *c = nullptr;
        ASSERT_EQ(config_new("/var/lib/memmon", &c), 0);
        EXPECT_STREQ(c->base_dir, "/var/lib/memmon");
        EXPECT_EQ(c->path, nullptr);
        EXPECT_EQ(c->n_targets, 0u);

        c->defaults.keep_full = 7;
        EXPECT_EQ(config_add_pid_target(c, "pid1234", 1234), 0);
        EXPECT_EQ(config_add_pid_target(c, "pid1234", 99), -EEXIST);
        EXPECT_EQ(config_add_pid_target(c, "full", 99), -EINVAL);
        EXPECT_EQ(config_add_pid_target(c, "zero", 0), -EINVAL);
        char *argv[] = {const_cast<char *>("sleep"), const_cast<char *>("100"), nullptr};
        EXPECT_EQ(config_add_exec_target(c, "sleep", argv), 0);
        char *empty[] = {nullptr};
        EXPECT_EQ(config_add_exec_target(c, "empty", empty), -EINVAL);

        ASSERT_EQ(c->n_targets, 2u);
        const target_config *p = config_find_target(c, "pid1234");
        ASSERT_NE(p, nullptr);
        EXPECT_EQ(p->sel, SELECT_PID);
        EXPECT_EQ(p->pid, 1234);
        EXPECT_EQ(p->policy.interval_us, 2000000u);
        EXPECT_EQ(p->policy.keep_full, 7u) << "policy comes from c->defaults";
        EXPECT_EQ(p->file, nullptr);
        const target_config *s = config_find_target(c, "sleep");
        ASSERT_NE(s, nullptr);
        EXPECT_EQ(Argv(s), (std::vector<std::string>{"sleep", "100"}));
        EXPECT_NE(s->argv[0], argv[0]) << "argv is copied";
        config_free(c);
        config_free(nullptr);
}

} // namespace
