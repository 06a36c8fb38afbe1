// `agent top` on a real terminal (a tmux pane, driven with send-keys and
// read with capture-pane) against the real agent watching real workloads:
// the rows hold what `agent ctl --json status` says, the sort keys reorder
// them, the screen redraws whole at 80x24, 120x40 and smaller, scrolling,
// pausing, an agent that goes away and comes back, hostile text, exit
// codes.  A picture of the screen (ANSI to HTML, headless Chromium) is kept
// as a test output: scripts/top-screenshot makes docs/top.png of it.
// TopOtherUserTest needs uid 65534 (setpriv), which Bazel's sandbox does
// not give: it runs in top_other_user_test, tagged no-sandbox.
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/browser_util.h"
#include "tests/reliability_util.h"
#include "tests/testutil.h"
#include "tests/tmux_util.h"

namespace memmon_test {
namespace {

constexpr Millis kShort(5000);
constexpr Millis kLong(15000);

// One row of the table as the screen shows it, by column title.
struct ScreenRow {
        std::map<std::string, std::string> col;
        std::string Get(const std::string &title) const {
                auto it = col.find(title);
                return it == col.end() ? "" : it->second;
        }
};

// The table on the screen: the row of titles (NAME ...) and the rows under
// it up to the first empty one (or the footer).  REASON, the last column,
// may hold blanks.
std::vector<ScreenRow> TableOf(const std::string &screen, std::vector<std::string> *titles = nullptr) {
        std::vector<std::string> lines = SplitLines(screen);
        std::vector<ScreenRow> rows;
        size_t i = 0;
        while (i < lines.size() && lines[i].compare(0, 5, "NAME ") != 0)
                i++;
        if (i == lines.size())
                return rows;
        std::vector<std::string> t;
        std::istringstream hs(lines[i]);
        for (std::string w; hs >> w;)
                t.push_back(w);
        if (titles)
                *titles = t;
        for (i++; i < lines.size() && !lines[i].empty() && lines[i].compare(0, 7, "q quit ") != 0; i++) {
                std::istringstream rs(lines[i]);
                ScreenRow r;
                for (size_t k = 0; k < t.size(); k++) {
                        std::string w;
                        if (t[k] == "REASON") {
                                std::getline(rs >> std::ws, w);
                        } else if (!(rs >> w)) {
                                break;
                        }
                        r.col[t[k]] = w;
                }
                rows.push_back(r);
        }
        return rows;
}

std::vector<std::string> NamesOf(const std::vector<ScreenRow> &rows) {
        std::vector<std::string> v;
        for (const auto &r : rows)
                v.push_back(r.Get("NAME"));
        return v;
}

// A screen drawn whole: the title, the totals (or a message), the titles
// of the columns, one row per target, blank rows, the footer; nothing else
// (a row left over from a wider or longer screen would show here), and no
// line wider than the screen.
::testing::AssertionResult DrawnWhole(const std::string &screen, int width, size_t targets) {
        std::vector<std::string> l = SplitLines(screen);
        if (l.size() < 4)
                return ::testing::AssertionFailure() << "too few lines:\n" << screen;
        for (const auto &s : l)
                if (s.size() > static_cast<size_t>(width))
                        return ::testing::AssertionFailure() << "wider than " << width << ": " << s;
        if (l[0].compare(0, 10, "memmon top") != 0 || l[2].compare(0, 5, "NAME ") != 0 ||
            l.back().compare(0, 7, "q quit ") != 0)
                return ::testing::AssertionFailure() << "not the layout:\n" << screen;
        size_t rows = TableOf(screen).size();
        if (rows != targets)
                return ::testing::AssertionFailure() << rows << " rows, not " << targets << ":\n" << screen;
        for (size_t i = 3 + rows; i + 1 < l.size(); i++)
                if (!l[i].empty())
                        return ::testing::AssertionFailure() << "left over: '" << l[i] << "'\n" << screen;
        return ::testing::AssertionSuccess();
}

class TopTest : public BaseDirTest {
      protected:
        void SetUp() override {
                BaseDirTest::SetUp();
                if (HasFatalFailure())
                        return;
                if (access(kTmux, X_OK) != 0)
                        GTEST_SKIP() << "tmux is not installed (Debian: tmux); agent top is not tested";
        }
        void TearDown() override {
                if (HasFailure() && tmux_)
                        fprintf(stderr, "screen:\n%s\ntop's stderr:\n%s\n", tmux_->Screen().c_str(),
                                ReadFileOr(P("top.stderr")).c_str());
                tmux_.reset();
                BaseDirTest::TearDown();
        }

        // Three workloads: api churns (diffs every tick), batch has many
        // regions, web has memory both writable and executable (an
        // alert); and cache, a target whose process never comes.
        void StartTargets() {
                std::string err;
                ASSERT_TRUE(api_.Start(&err, {"--churn", "5"})) << err;
                ASSERT_TRUE(batch_.Start(&err, {"--regions", "300"})) << err;
                ASSERT_TRUE(web_.Start(&err)) << err;
                ASSERT_NE(0u, web_.Map(1, "rwx"));
                ASSERT_TRUE(WriteFile(P("memmon.ini"),
                                      "[agent]\nbase_dir = .\ninterval = 200ms\ncapture = poll\n"
                                      "[target:api]\npid = " +
                                          std::to_string(api_.pid()) +
                                          "\n[target:batch]\npid = " + std::to_string(batch_.pid()) +
                                          "\n[target:web]\npid = " + std::to_string(web_.pid()) +
                                          "\n[target:cache]\nmatch = no-such-cache\n",
                                      0600));
                ASSERT_NO_FATAL_FAILURE(StartDaemon({"-c", "memmon.ini"}));
                // Every process attached, web's alert raised, api's diffs
                // counted.
                ASSERT_TRUE(WaitFor(
                    [&] {
                            std::string s = Status();
                            return s.find("web running " + std::to_string(web_.pid()) + " ") !=
                                       std::string::npos &&
                                   s.find("batch running") != std::string::npos &&
                                   HasLineWith(s, "web running", " 1 ") && ApiDiffs(s) >= 3;
                    },
                    kLong))
                    << Status() << Log();
        }

        // `agent ctl --json status` read by Python: one line per target,
        // "NAME STATE PID REGIONS ALERTS DIFFS" (PID "-" for none).
        std::string Status() {
                RunResult r = RunAgent({"ctl", "-b", dir_, "--json", "status"});
                if (r.code != 0)
                        return "";
                std::string file = P("status.json");
                if (!WriteFile(file, r.out))
                        return "";
                SpawnOptions o;
                o.argv = {"/usr/bin/python3", "-c",
                          "import json,sys\n"
                          "for t in json.load(open(sys.argv[1]))['targets']:\n"
                          "  print(t['name'], t['state'], t['pid'] if t['pid'] else '-', t['regions'],"
                          " t['alerts_active'], t['diffs'])",
                          file};
                return RunProcess(o, kLong).out;
        }
        static long ApiDiffs(const std::string &status) {
                for (const auto &l : SplitLines(status))
                        if (l.compare(0, 4, "api ") == 0)
                                return strtol(l.substr(l.rfind(' ') + 1).c_str(), nullptr, 10);
                return -1;
        }

        // `agent top ARGS` in a tmux pane width x height, with env (NAME=VALUE
        // words) and a shell behind it that keeps its exit status.
        void StartTop(const std::vector<std::string> &args, int width = 120, int height = 40,
                      const std::string &env = "LANG=C LC_ALL=C") {
                std::string run = "cd " + ShellQuote(dir_) + "; env -u BUILD_WORKING_DIRECTORY " + env + " " +
                                  ShellQuote(AgentPath()) + " top -b " + ShellQuote(dir_);
                for (const auto &a : args)
                        run += " " + ShellQuote(a);
                // The shell outlives a Ctrl-C (a trap of its own) to write down
                // top's exit status; on the screen the line would scroll away.
                run = "trap : INT; " + run + " 2>" + ShellQuote(P("top.stderr")) + "; echo $? >" +
                      ShellQuote(P("top.exit"));
                unlink(P("top.exit").c_str());
                tmux_ = std::make_unique<Tmux>();
                std::string err;
                ASSERT_TRUE(tmux_->Start("sh -c " + ShellQuote(run), &err, width, height)) << err;
                ASSERT_TRUE(tmux_->WaitText("q quit", kLong)) << tmux_->Screen();
        }

        // Waits until the footer says the sort is what, and returns the rows.
        std::vector<ScreenRow> SortedBy(const std::string &key, const std::string &what) {
                tmux_->Keys({key});
                EXPECT_TRUE(tmux_->WaitText("sort: " + what)) << key << "\n" << tmux_->Screen();
                return TableOf(tmux_->Screen());
        }

        // Waits for top to end; true when it ended with code.
        bool Exited(int code) {
                std::string want = std::to_string(code) + "\n";
                return WaitFor([&] { return ReadFileOr(P("top.exit")) == want; }, kShort);
        }

        Workload api_, batch_, web_;
        std::unique_ptr<Tmux> tmux_;
};

long Num(const std::string &s) {
        return strtol(s.c_str(), nullptr, 10);
}

TEST_F(TopTest, RowsSortsResizesAndQuit) {
        ASSERT_NO_FATAL_FAILURE(StartTargets());
        ASSERT_NO_FATAL_FAILURE(StartTop({"-d", "0.3"}));
        // api's diffs per minute show once top has seen its counter twice.
        ASSERT_TRUE(tmux_->WaitScreen([](const std::string &s) {
                for (const auto &r : TableOf(s))
                        if (r.Get("NAME") == "api")
                                return Num(r.Get("DIFF/M")) > 0;
                return false;
        })) << tmux_->Screen();

        // Paused, the screen holds still while it is compared with the
        // agent's own account.
        tmux_->Keys({"p"});
        ASSERT_TRUE(tmux_->WaitText("PAUSED")) << tmux_->Screen();
        std::string screen = tmux_->Screen();
        std::vector<ScreenRow> rows = TableOf(screen);
        std::string status = Status();
        ASSERT_EQ(4u, rows.size()) << screen;
        EXPECT_EQ((std::vector<std::string>{"api", "batch", "cache", "web"}), NamesOf(rows)) << screen;
        EXPECT_NE(std::string::npos, screen.find("4 targets: 3 running, 1 waiting")) << screen;
        EXPECT_NE(std::string::npos, screen.find(" 1 alert")) << screen;
        EXPECT_NE(std::string::npos, SplitLines(screen)[0].find("agent " + std::to_string(daemon_->pid())))
            << screen;
        for (const auto &r : rows) {
                std::string line;
                for (const auto &l : SplitLines(status))
                        if (l.compare(0, r.Get("NAME").size() + 1, r.Get("NAME") + " ") == 0)
                                line = l;
                std::istringstream ls(line);
                std::string name, state, pid, regions, alerts;
                ls >> name >> state >> pid >> regions >> alerts;
                EXPECT_EQ(state, r.Get("STATE")) << name;
                EXPECT_EQ(pid, r.Get("PID")) << name;
                EXPECT_EQ(alerts, r.Get("ALERTS")) << name;
                // api's mappings flip while we look; the others hold still.
                if (name != "api")
                        EXPECT_EQ(regions, r.Get("REGIONS")) << name;
                else
                        EXPECT_GT(Num(r.Get("REGIONS")), 10) << name;
        }
        EXPECT_GT(Num(TableOf(screen)[1].Get("REGIONS")), 300) << "batch: " << screen;
        EXPECT_EQ("no process named no-such-cache", rows[2].Get("REASON")) << screen;
        EXPECT_EQ("-", rows[2].Get("PID"));
        EXPECT_EQ("-", rows[2].Get("LAST"));

        // Sorted by regions, largest first, ties by name; R reverses it.
        rows = SortedBy("r", "regions desc");
        std::vector<ScreenRow> want = rows;
        std::stable_sort(want.begin(), want.end(), [](const ScreenRow &a, const ScreenRow &b) {
                long x = Num(a.Get("REGIONS")), y = Num(b.Get("REGIONS"));
                return x != y ? x > y : a.Get("NAME") < b.Get("NAME");
        });
        EXPECT_EQ(NamesOf(want), NamesOf(rows));
        EXPECT_EQ("batch", rows.front().Get("NAME"));
        EXPECT_EQ("cache", rows.back().Get("NAME"));
        std::vector<std::string> reversed = NamesOf(rows);
        std::reverse(reversed.begin(), reversed.end());
        EXPECT_EQ(reversed, NamesOf(SortedBy("R", "regions asc")));
        rows = SortedBy("a", "alerts asc");
        EXPECT_EQ("web", rows.back().Get("NAME")) << "reversed still: the one alert last";
        rows = SortedBy("R", "alerts desc");
        EXPECT_EQ("web", rows.front().Get("NAME"));
        rows = SortedBy("d", "diffs/min desc");
        EXPECT_EQ("api", rows.front().Get("NAME"));
        rows = SortedBy("s", "alerts desc");
        EXPECT_EQ("web", rows.front().Get("NAME")) << "s: the next key";
        rows = SortedBy("c", "last change desc");
        EXPECT_EQ("cache", rows.back().Get("NAME")) << "never changed: last";
        EXPECT_EQ((std::vector<std::string>{"api", "batch", "cache", "web"}),
                  NamesOf(SortedBy("n", "name asc")));

        // Resized, the screen is drawn whole again: 80x24, then 120x40; on a
        // narrow one the least needed columns give way.
        ASSERT_TRUE(tmux_->Resize(80, 24));
        EXPECT_EQ("80x24", tmux_->Size());
        EXPECT_TRUE(tmux_->WaitScreen([](const std::string &s) { return DrawnWhole(s, 80, 4); }))
            << DrawnWhole(tmux_->Screen(), 80, 4);
        std::vector<std::string> titles;
        TableOf(tmux_->Screen(), &titles);
        EXPECT_EQ((std::vector<std::string>{"NAME", "STATE", "PID", "REGIONS", "MAPPED", "EXEC", "DIFF/M",
                                            "LAST", "ALERTS", "REASON"}),
                  titles);
        ASSERT_TRUE(tmux_->Resize(40, 12));
        EXPECT_TRUE(tmux_->WaitScreen([](const std::string &s) { return DrawnWhole(s, 40, 4); }))
            << DrawnWhole(tmux_->Screen(), 40, 4);
        TableOf(tmux_->Screen(), &titles);
        EXPECT_EQ((std::vector<std::string>{"NAME", "STATE", "PID", "REGIONS", "ALERTS"}), titles);
        ASSERT_TRUE(tmux_->Resize(120, 40));
        EXPECT_TRUE(tmux_->WaitScreen([](const std::string &s) {
                return DrawnWhole(s, 120, 4) && s.find("no process named no-such-cache") != std::string::npos;
        })) << DrawnWhole(tmux_->Screen(), 120, 4);

        // More targets than rows: the footer says which are shown, and the
        // arrows and pages move through them.
        ASSERT_TRUE(tmux_->Resize(80, 6));
        EXPECT_TRUE(tmux_->WaitText("1-2/4")) << tmux_->Screen();
        EXPECT_EQ((std::vector<std::string>{"api", "batch"}), NamesOf(TableOf(tmux_->Screen())));
        tmux_->Keys({"Down"});
        EXPECT_TRUE(tmux_->WaitText("2-3/4")) << tmux_->Screen();
        EXPECT_EQ((std::vector<std::string>{"batch", "cache"}), NamesOf(TableOf(tmux_->Screen())));
        tmux_->Keys({"NPage"});
        EXPECT_TRUE(tmux_->WaitText("3-4/4")) << tmux_->Screen();
        EXPECT_EQ((std::vector<std::string>{"cache", "web"}), NamesOf(TableOf(tmux_->Screen())));
        tmux_->Keys({"Home"});
        EXPECT_TRUE(tmux_->WaitText("1-2/4")) << tmux_->Screen();

        // Unpaused, it refreshes again: the clock and api's counters move.
        ASSERT_TRUE(tmux_->Resize(100, 10));
        tmux_->Keys({"p"});
        EXPECT_TRUE(tmux_->WaitScreen([](const std::string &s) {
                return s.find("PAUSED") == std::string::npos && DrawnWhole(s, 100, 4);
        })) << tmux_->Screen();

        // The picture for the README: this screen, coloured as the terminal
        // shows it, through headless Chromium (where it is installed).
        const char *outs = getenv("TEST_UNDECLARED_OUTPUTS_DIR");
        std::string out = outs && *outs ? outs : dir_;
        std::string ansi = tmux_->ScreenAnsi();
        ASSERT_TRUE(WriteFile(out + "/top.ansi", ansi));
        ASSERT_TRUE(WriteFile(out + "/top.html", AnsiScreenToHtml(ansi, "agent top")));
        EXPECT_NE(std::string::npos, ansi.find("\x1b[")) << "colours and attributes: " << ansi;
        std::string chromium = ChromiumPath();
        if (chromium.empty()) {
                fprintf(stderr, "chromium is not installed: no top.png taken\n");
        } else {
                ChromiumHome(dir_);
                RunResult shot = RunChromium(
                    chromium,
                    {"--window-size=870,204", "--hide-scrollbars", "--screenshot=" + out + "/top.png"},
                    FileUrl(out + "/top.html"), dir_, Millis(120000));
                EXPECT_EQ(0, shot.code) << shot.Describe();
                std::string img = ReadFileOr(out + "/top.png");
                EXPECT_EQ(0, img.compare(0, 8, "\x89PNG\r\n\x1a\n")) << out << "/top.png";
        }

        tmux_->Keys({"q"});
        EXPECT_TRUE(Exited(0)) << ReadFileOr(P("top.exit")) << tmux_->Screen();
        EXPECT_EQ("", ReadFileOr(P("top.stderr")));
}

TEST_F(TopTest, AnAgentThatGoesAwayIsWaitedFor) {
        ASSERT_NO_FATAL_FAILURE(StartTargets());
        ASSERT_NO_FATAL_FAILURE(StartTop({"-d", "200ms"}, 80, 24));
        ASSERT_TRUE(tmux_->WaitScreen([](const std::string &s) { return DrawnWhole(s, 80, 4); }))
            << tmux_->Screen();
        RunResult r = RunAgent({"ctl", "-b", dir_, "quit"});
        ASSERT_EQ(0, r.code) << r.Describe();
        int code = -1;
        ASSERT_TRUE(daemon_->WaitExit(kLong, &code));
        // Said on the screen; the last rows stay, the agent's line goes.
        EXPECT_TRUE(tmux_->WaitText("no agent: connect: ")) << tmux_->Screen();
        std::string screen = tmux_->Screen();
        EXPECT_EQ(4u, TableOf(screen).size()) << screen;
        EXPECT_EQ(std::string::npos, SplitLines(screen)[0].find("agent ")) << screen;

        // A new agent on the same base directory is found by itself.
        ASSERT_NO_FATAL_FAILURE(StartDaemon({"-c", "memmon.ini"}));
        std::string again = "agent " + std::to_string(daemon_->pid());
        EXPECT_TRUE(tmux_->WaitScreen(
            [&](const std::string &s) {
                    return SplitLines(s)[0].find(again) != std::string::npos &&
                           s.find("no agent") == std::string::npos;
            },
            kLong))
            << tmux_->Screen();
        // Ctrl-C quits as q does.
        tmux_->Keys({"C-c"});
        EXPECT_TRUE(Exited(0)) << ReadFileOr(P("top.exit")) << tmux_->Screen();
}

TEST_F(TopTest, TextFromTheAgentIsEscaped) {
        // A reason holding UTF-8 (a process name to match): bytes on a
        // terminal that is not UTF-8, the characters on one that is.
        ASSERT_TRUE(WriteFile(P("memmon.ini"),
                              "[agent]\nbase_dir = .\ninterval = 200ms\ncapture = poll\n"
                              "[target:odd]\nmatch = w\xc3\xb6rk\n",
                              0600));
        ASSERT_NO_FATAL_FAILURE(StartDaemon({"-c", "memmon.ini"}));
        ASSERT_NO_FATAL_FAILURE(StartTop({}));
        EXPECT_TRUE(tmux_->WaitText("no process named w\\xc3\\xb6rk")) << tmux_->Screen();
        tmux_->Keys({"q"});
        EXPECT_TRUE(Exited(0)) << ReadFileOr(P("top.exit")) << tmux_->Screen();

        ASSERT_NO_FATAL_FAILURE(StartTop({}, 120, 40, "LANG=C.UTF-8 LC_ALL=C.UTF-8"));
        EXPECT_TRUE(tmux_->WaitText("no process named w\xc3\xb6rk")) << tmux_->Screen();
        tmux_->Keys({"q"});
        EXPECT_TRUE(Exited(0)) << ReadFileOr(P("top.exit")) << tmux_->Screen();
}

TEST_F(TopTest, ExitStatusWithoutAScreen) {
        // Nobody there: 69 at once, as agent ctl.
        RunResult r = RunAgent({"top", "-b", dir_});
        EXPECT_EQ(69, r.code) << r.Describe();
        EXPECT_NE(std::string::npos, r.err.find("agent top: no agent running on " + dir_)) << r.Describe();
        EXPECT_EQ(64, RunAgent({"top", "-d", "0"}).code);
        EXPECT_EQ(64, RunAgent({"top", "-d", "2x"}).code);
        EXPECT_EQ(64, RunAgent({"top", "-b", dir_, "-c", "x.ini"}).code);
        EXPECT_EQ(64, RunAgent({"ctl", "-b", dir_, "top"}).code) << "top is not a command of the agent";
        EXPECT_EQ(0, RunAgent({"top", "-h"}).code);

        // An agent, but no terminal: it says what to use instead.
        std::string err;
        ASSERT_TRUE(web_.Start(&err)) << err;
        ASSERT_NO_FATAL_FAILURE(StartDaemon({"-p", std::to_string(web_.pid()), "-T", "200ms"}));
        ASSERT_TRUE(WaitFor([&] { return RunAgent({"ctl", "-b", dir_, "status"}).code == 0; }, kLong));
        r = RunAgent({"top", "-b", dir_});
        EXPECT_EQ(64, r.code) << r.Describe();
        EXPECT_NE(std::string::npos, r.err.find("needs a terminal (for scripts: agent ctl --json status)"))
            << r.Describe();
}

class TopOtherUserTest : public TopTest {};

TEST_F(TopOtherUserTest, RefusedIs77) {
        std::string why = HaveSetpriv();
        if (!why.empty())
                GTEST_SKIP() << why;
        std::string err;
        ASSERT_TRUE(web_.Start(&err)) << err;
        ASSERT_NO_FATAL_FAILURE(StartDaemon({"-p", std::to_string(web_.pid()), "-T", "200ms"}));
        ASSERT_TRUE(WaitFor([&] { return RunAgent({"ctl", "-b", dir_, "status"}).code == 0; }, kLong));
        SpawnOptions o = AgentOptions({"top", "-b", dir_});
        o.argv.insert(o.argv.begin(), {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                       "--inh-caps=+dac_override", "--ambient-caps=+dac_override"});
        RunResult r = RunProcess(o, kLong);
        if (r.err.find("setpriv") != std::string::npos)
                GTEST_SKIP() << "setpriv cannot keep CAP_DAC_OVERRIDE here: " << r.Describe();
        EXPECT_EQ(77, r.code) << r.Describe();
        EXPECT_NE(std::string::npos,
                  r.err.find("agent top: Permission denied: uid 65534 may not control this agent"))
            << r.Describe();
}

} // namespace
} // namespace memmon_test
