// report_test: `agent report` end to end.  The real agent records a real
// workload that maps, unmaps and protects memory and maps files with
// hostile names; `agent report` draws the chain; the page is rendered by
// the real headless Chromium, and what it shows is held against `agent
// replay --at`: the bars alive at a moment, and the maps text byte for
// byte.  Synthetic chains (bench/report_chain, memmon's own writer) give
// the cases a workload cannot: many regions (merged bars), a broken chain,
// alerts in the events file.  The tests that need Chromium skip, saying
// so, where it is not installed (scripts/install-deps installs it).
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/utf8.h"
#include "tests/browser_util.h"
#include "tests/multi_util.h"
#include "tests/testutil.h"

namespace memmon_test {
namespace {

constexpr Millis kShort(5000);
constexpr Millis kLong(15000);
constexpr Millis kBrowser(120000);

// HTML entities as Chromium's serializer writes them, decoded.
std::string Unescape(const std::string &s) {
        static const std::vector<std::pair<std::string, std::string>> ents = {
            {"&lt;", "<"},          {"&gt;", ">"},  {"&quot;", "\""},
            {"&nbsp;", "\xc2\xa0"}, {"&#39;", "'"}, {"&amp;", "&"}};
        std::string out;
        for (size_t i = 0; i < s.size();) {
                bool done = false;
                if (s[i] == '&') {
                        for (const auto &e : ents) {
                                if (s.compare(i, e.first.size(), e.first) == 0) {
                                        out += e.second;
                                        i += e.first.size();
                                        done = true;
                                        break;
                                }
                        }
                }
                if (!done)
                        out += s[i++];
        }
        return out;
}

// The value of attribute name in the start tag tag.
bool Attr(const std::string &tag, const std::string &name, std::string *ret) {
        std::string key = " " + name + "=\"";
        size_t p = tag.find(key);
        if (p == std::string::npos)
                return false;
        size_t q = tag.find('"', p + key.size());
        if (q == std::string::npos)
                return false;
        *ret = Unescape(tag.substr(p + key.size(), q - p - key.size()));
        return true;
}

std::string AttrOr(const std::string &tag, const std::string &name, const std::string &dflt = "") {
        std::string v;
        return Attr(tag, name, &v) ? v : dflt;
}

bool HasClass(const std::string &tag, const std::string &cls) {
        std::string c = " " + AttrOr(tag, "class") + " ";
        return c.find(" " + cls + " ") != std::string::npos;
}

// The start tag of the element with id="id", or "".
std::string StartTag(const std::string &dom, const std::string &id) {
        size_t p = dom.find(" id=\"" + id + "\"");
        if (p == std::string::npos)
                return "";
        size_t a = dom.rfind('<', p), b = dom.find('>', p);
        return a == std::string::npos || b == std::string::npos ? "" : dom.substr(a, b - a + 1);
}

// The markup inside the element with id="id" whose end tag is </tag>
// (the first one after it: no element of the same name may nest in it).
std::string Inner(const std::string &dom, const std::string &id, const std::string &tag) {
        size_t p = dom.find(" id=\"" + id + "\"");
        if (p == std::string::npos)
                return "";
        size_t b = dom.find('>', p);
        size_t e = dom.find("</" + tag + ">", b);
        return b == std::string::npos || e == std::string::npos ? "" : dom.substr(b + 1, e - b - 1);
}

// Every start tag <name ...> in markup.
std::vector<std::string> Tags(const std::string &markup, const std::string &name) {
        std::vector<std::string> v;
        for (size_t p = markup.find("<" + name + " "); p != std::string::npos;
             p = markup.find("<" + name + " ", p + 1)) {
                size_t e = markup.find('>', p);
                if (e == std::string::npos)
                        break;
                v.push_back(markup.substr(p, e - p + 1));
        }
        return v;
}

// The text of markup: tags removed, entities decoded.
std::string TextOf(const std::string &markup) {
        std::string out;
        bool in_tag = false;
        for (char c : markup) {
                if (c == '<')
                        in_tag = true;
                else if (c == '>')
                        in_tag = false;
                else if (!in_tag)
                        out += c;
        }
        return Unescape(out);
}

// What the page shows for bytes: printable text as it is; control bytes,
// bytes that are not UTF-8, C1 controls, separators and bidi controls as
// \xNN, \xc2\xNN, \uXXXX (agent/report/base.js, escapeOf).
std::string Shown(const std::string &in) {
        const unsigned char *s = reinterpret_cast<const unsigned char *>(in.data());
        std::string out;
        char b[24];
        for (size_t i = 0; i < in.size();) {
                unsigned char c = s[i];
                uint32_t cp = 0;
                size_t n = utf8_decode(s + i, in.size() - i, &cp);
                if (c < 0x80 && ((c < 0x20 && c != '\n') || c == 0x7f)) {
                        snprintf(b, sizeof(b), "\\x%02x", c);
                        out += b;
                        i++;
                        continue;
                }
                if (n == 0) {
                        snprintf(b, sizeof(b), "\\x%02x", c);
                        out += b;
                        i++;
                        continue;
                }
                if (cp >= 0x80 && cp <= 0x9f) {
                        snprintf(b, sizeof(b), "\\xc2\\x%02x", cp);
                        out += b;
                } else if (cp == 0x61c || cp == 0x200e || cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) ||
                           (cp >= 0x2066 && cp <= 0x2069)) {
                        snprintf(b, sizeof(b), "\\u%04x", cp);
                        out += b;
                } else {
                        out.append(in, i, n);
                }
                i += n;
        }
        return out;
}

std::string Base64Decode(const std::string &in) {
        static const std::string abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        std::string out;
        uint32_t acc = 0;
        int bits = 0;
        for (char c : in) {
                size_t v = abc.find(c);
                if (v == std::string::npos)
                        continue;
                acc = acc << 6 | static_cast<uint32_t>(v);
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        out += static_cast<char>((acc >> bits) & 0xff);
                }
        }
        return out;
}

// "20261125T183328.123456Z" as "2026-11-25T18:33:28Z" (the end of that
// second, as --at reads it).
std::string IsoSecond(const std::string &ts) {
        return ts.substr(0, 4) + "-" + ts.substr(4, 2) + "-" + ts.substr(6, 2) + "T" + ts.substr(9, 2) + ":" +
               ts.substr(11, 2) + ":" + ts.substr(13, 2) + "Z";
}

// "20261125T183328.123456Z" + us microseconds, as ISO-8601 with
// microseconds (the time field of events.jsonl).
std::string IsoPlus(const std::string &ts, long us) {
        struct tm tm = {};
        tm.tm_year = atoi(ts.substr(0, 4).c_str()) - 1900;
        tm.tm_mon = atoi(ts.substr(4, 2).c_str()) - 1;
        tm.tm_mday = atoi(ts.substr(6, 2).c_str());
        tm.tm_hour = atoi(ts.substr(9, 2).c_str());
        tm.tm_min = atoi(ts.substr(11, 2).c_str());
        tm.tm_sec = atoi(ts.substr(13, 2).c_str());
        long long t = static_cast<long long>(timegm(&tm)) * 1000000 + atol(ts.substr(16, 6).c_str()) + us;
        time_t sec = static_cast<time_t>(t / 1000000);
        gmtime_r(&sec, &tm);
        char b[64];
        snprintf(b, sizeof(b), "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, t % 1000000);
        return b;
}

// A region bar of the map, as the page drew it.
struct Bar {
        bool merged = false;
        bool at = false;
        int at_n = 0; // regions of a merged bar alive at the moment
        std::string s, e;
};

// What the page showed for one moment.
struct Shot {
        RunResult run;
        std::string dom;
        std::vector<Bar> bars;
        std::string body, errors, svg, pre, summary;

        std::string Describe() const {
                return run.Describe() + "\n<body>: " + body + "\n#errors: " + errors + "\n" +
                       TextOf(Inner(dom, "errors", "div"));
        }
        // Regions drawn alive at the moment: single bars marked "at", and
        // the data-at-n of merged ones.
        int AliveDrawn() const {
                int n = 0;
                for (const auto &b : bars)
                        n += b.merged ? b.at_n : b.at;
                return n;
        }
        size_t Merged() const {
                size_t n = 0;
                for (const auto &b : bars)
                        n += b.merged;
                return n;
        }
        // The console messages Chromium logged (none is expected: the
        // page logs nothing, and an error or a refused script would show
        // here).
        std::vector<std::string> Console() const {
                std::vector<std::string> v;
                for (const auto &l : SplitLines(run.err))
                        if (l.find(":CONSOLE") != std::string::npos ||
                            l.find("Refused to") != std::string::npos)
                                v.push_back(l);
                return v;
        }
};

class ReportTest : public BaseDirTest {
      protected:
        void SetUp() override {
                BaseDirTest::SetUp();
                if (HasFatalFailure())
                        return;
                ChromiumHome(dir_);
        }

        // Skips the test when Chromium is missing.
        bool NeedChromium() {
                chromium_ = ChromiumPath();
                return !chromium_.empty();
        }

        RunResult Chromium(const std::vector<std::string> &what, const std::string &url) {
                return RunChromium(chromium_, what, url, dir_, kBrowser);
        }

        // The page rendered at `#FRAGMENT`, its DOM dumped after its
        // script ran.
        Shot Render(const std::string &html, const std::string &fragment) {
                Shot s;
                s.run = Chromium({"--window-size=1280,800", "--dump-dom"}, FileUrl(html) + "#" + fragment);
                s.dom = s.run.out;
                s.body = Tags(s.dom, "body").empty() ? "" : Tags(s.dom, "body")[0];
                s.errors = StartTag(s.dom, "errors");
                s.svg = StartTag(s.dom, "map");
                s.summary = StartTag(s.dom, "at-summary");
                s.pre = StartTag(s.dom, "maps-text");
                for (const auto &t : Tags(Inner(s.dom, "bars", "g"), "rect")) {
                        Bar b;
                        b.merged = !AttrOr(t, "data-agg").empty();
                        b.at = HasClass(t, "at");
                        b.at_n = atoi(AttrOr(t, "data-at-n", "0").c_str());
                        b.s = AttrOr(t, "data-s");
                        b.e = AttrOr(t, "data-e");
                        s.bars.push_back(b);
                }
                return s;
        }

        RunResult Replay(const std::string &dir, const std::string &at) {
                return RunAgent({"replay", dir, "--at", at});
        }

        // Holds the page at `at` against `agent replay DIR --at AT`: the
        // regions drawn alive, the maps text shown, and its exact bytes.
        void ExpectMomentMatchesReplay(const std::string &html, const std::string &dir, const std::string &at,
                                       int replay_code = 0) {
                SCOPED_TRACE("moment " + at);
                RunResult rep = Replay(dir, at);
                ASSERT_EQ(replay_code, rep.code) << rep.Describe();
                ASSERT_FALSE(rep.out.empty());
                std::vector<std::string> lines = SplitLines(rep.out);
                Shot s = Render(html, "at=" + at + "&bytes");
                ASSERT_EQ(0, s.run.code) << s.Describe();
                ASSERT_EQ("ready", AttrOr(s.body, "data-state")) << s.Describe();
                EXPECT_EQ("0", AttrOr(s.errors, "data-count")) << s.Describe();
                EXPECT_TRUE(s.Console().empty()) << JoinLines(s.Console());

                EXPECT_EQ(static_cast<int>(lines.size()), s.AliveDrawn())
                    << "bars alive at " << at << " (" << s.bars.size() << " bars, " << s.Merged()
                    << " merged)";
                EXPECT_EQ(std::to_string(lines.size()), AttrOr(s.summary, "data-regions"));
                if (s.Merged() == 0) {
                        // Every region alone: the very same address ranges.
                        std::multiset<std::string> drawn, want;
                        for (const auto &b : s.bars)
                                if (b.at)
                                        drawn.insert(b.s + "-" + b.e);
                        for (const auto &l : lines) {
                                std::string range = l.substr(0, l.find(' '));
                                size_t dash = range.find('-');
                                auto strip = [](std::string h) {
                                        size_t nz = h.find_first_not_of('0');
                                        return nz == std::string::npos ? std::string("0") : h.substr(nz);
                                };
                                want.insert(strip(range.substr(0, dash)) + "-" +
                                            strip(range.substr(dash + 1)));
                        }
                        EXPECT_EQ(want, drawn);
                }
                // The text shown, and its exact bytes.
                EXPECT_EQ(Shown(rep.out), TextOf(Inner(s.dom, "maps-text", "pre")));
                EXPECT_EQ(rep.out, Base64Decode(AttrOr(s.pre, "data-b64")))
                    << "the bytes the page rebuilds differ from replay's";
        }

        // Writes a synthetic chain (bench/report_chain ARGS) into
        // backups/synth and reads its files back, in time order.
        void Synth(const std::vector<std::string> &args, std::vector<BackupFile> *ret) {
                SpawnOptions o;
                o.argv = {Runfile("bench/report_chain"), P("backups/synth")};
                o.argv.insert(o.argv.end(), args.begin(), args.end());
                RunResult r = RunProcess(o, Millis(60000));
                ASSERT_EQ(0, r.code) << r.Describe();
                *ret = ReadChain(P("backups/synth"));
        }

        std::string chromium_;
};

#define NEED_CHROMIUM()                                                                                      \
        do {                                                                                                 \
                if (!NeedChromium())                                                                         \
                        GTEST_SKIP() << "chromium is not installed (scripts/install-deps installs it): the " \
                                        "page is not rendered";                                              \
        } while (0)

// File names the kernel prints as they are (only '\n' becomes \012), as a
// user who can name files might choose them.
const std::vector<std::string> kHostile = {
    "x</script><script>alert(1)</script><!--/after",
    "q\"uote's & <b>amp<b>",
    "bad\xff\xfeutf8",
    "esc\x1b[31mred",
    "rlo\xe2\x80\xaetxt.exe",
    "tab\there",
    "new\nline",
    "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac",
    "c1\xc2\x85x",
    "sep\xe2\x80\xa8x",
    "back\\u00e9slash",
};

// 1. The agent records a workload; the report of that chain, rendered,
// shows at each checked moment what `agent replay --at` prints: the bars
// alive, the text, the bytes.  Hostile file names stay data.
TEST_F(ReportTest, DrawsWhatTheAgentRecorded) {
        NEED_CHROMIUM();
        const size_t pg = PageSize();
        Workload wl;
        std::string err;
        ASSERT_TRUE(wl.Start(&err)) << err;
        // The workload splits commands at spaces: files are mapped through
        // symlinks, and the kernel names the files themselves.
        ASSERT_EQ(0, mkdir(P("f").c_str(), 0700));
        for (const char *d :
             {"f/x<", "f/x</script><script>alert(1)<", "f/x</script><script>alert(1)</script><!--"})
                ASSERT_EQ(0, mkdir(P(d).c_str(), 0700)) << d;
        for (size_t i = 0; i < kHostile.size(); i++) {
                std::string file = P("f/" + kHostile[i]);
                ASSERT_TRUE(WriteFile(file, std::string(pg, 'm'))) << file;
                ASSERT_EQ(0, symlink(file.c_str(), P("l" + std::to_string(i)).c_str()));
        }
        ASSERT_TRUE(WriteFile(P("memmon.ini"), "[agent]\nbase_dir = .\n\n[target:web]\npid = " +
                                                   std::to_string(wl.pid()) + "\ninterval = 100ms\n"));
        ASSERT_NO_FATAL_FAILURE(StartDaemon({"-c", "memmon.ini"}));
        auto files = [&](const std::string &sub) { return Visible(ListDir(P("backups/web/" + sub))); };
        ASSERT_TRUE(WaitFor([&] { return files("full").size() == 1; }, kShort));

        struct Step {
                std::string what, ts;
        };
        std::vector<Step> steps = {{"start", files("full")[0].substr(files("full")[0].size() - 28, 23)}};
        std::string newest;
        // Waits until a new diff replays to the maps as they are now.
        auto settle = [&](const std::string &what) {
                std::string maps = wl.Maps();
                bool ok = WaitFor(
                    [&] {
                            auto d = files("incremental");
                            if (d.empty() || d.back() == newest)
                                    return false;
                            return RunAgent({"replay", "backups/web"}).out == maps;
                    },
                    kShort, Millis(20));
                ASSERT_TRUE(ok) << what << ": the replay never matched /proc/PID/maps";
                newest = files("incremental").back();
                steps.push_back({what, newest.substr(newest.size() - 28, 23)});
        };
        uintptr_t a = wl.Map(8, "rw");
        ASSERT_NE(0u, a);
        ASSERT_NO_FATAL_FAILURE(settle("map 8 rw"));
        ASSERT_NE(0u, wl.Map(3, "rwx"));
        ASSERT_NO_FATAL_FAILURE(settle("map 3 rwx"));
        ASSERT_TRUE(wl.Unmap(a + 2 * pg, 2));
        ASSERT_NO_FATAL_FAILURE(settle("unmap the middle"));
        ASSERT_TRUE(wl.Protect(a + 5 * pg, 1, "r"));
        ASSERT_NO_FATAL_FAILURE(settle("protect r"));
        // A few more moments, for a picture with some history in it.
        std::vector<uintptr_t> more;
        for (size_t i = 0; i < 6; i++) {
                more.push_back(wl.Map(2 + i, i % 3 ? "rw" : "r"));
                ASSERT_NE(0u, more.back());
                if (i % 2) {
                        ASSERT_TRUE(wl.Unmap(more[i - 1], 1 + (i - 1)));
                }
                ASSERT_NO_FATAL_FAILURE(settle("churn " + std::to_string(i)));
        }
        for (size_t i = 0; i < kHostile.size(); i++)
                ASSERT_NE(0u, wl.MapFile(P("l" + std::to_string(i)))) << kHostile[i];
        ASSERT_NE(std::string::npos, wl.Maps().find("/new\\012line\n"));
        ASSERT_NO_FATAL_FAILURE(settle("hostile names"));
        Send("quit");
        int code = -1;
        ASSERT_TRUE(daemon_->WaitExit(kLong, &code));

        RunResult r = RunAgent({"report", "backups/web", "-o", "report.html"});
        ASSERT_EQ(0, r.code) << r.Describe();
        EXPECT_NE(std::string::npos, r.err.find("wrote report.html")) << r.err;
        EXPECT_EQ(0600, FileMode(P("report.html")));
        std::string html = ReadFileOr(P("report.html"));
        ASSERT_EQ(0u, html.find("<!DOCTYPE html>"));
        // Self-contained: the only URL is the SVG namespace; nothing to
        // fetch, no font; and the hostile bytes stayed inside the data.
        for (size_t p = html.find("://"); p != std::string::npos; p = html.find("://", p + 1))
                EXPECT_EQ(0, html.compare(p - 4, 26, "http://www.w3.org/2000/svg")) << html.substr(p - 8, 60);
        for (const char *no : {"<link", " src=", "@import", "@font-face", "url(http"})
                EXPECT_EQ(std::string::npos, html.find(no)) << no;
        EXPECT_EQ(2u, CountOccurrences(html, "<script"));
        EXPECT_EQ(2u, CountOccurrences(html, "</script"));
        EXPECT_EQ(std::string::npos, html.find("alert(1)</script>"));

        // The first moment, the one with rwx memory, and the last; and a
        // time between moments in the other --at form.
        ASSERT_NO_FATAL_FAILURE(ExpectMomentMatchesReplay(P("report.html"), "backups/web", steps[0].ts));
        ASSERT_NO_FATAL_FAILURE(ExpectMomentMatchesReplay(P("report.html"), "backups/web", steps[2].ts));
        ASSERT_NO_FATAL_FAILURE(ExpectMomentMatchesReplay(P("report.html"), "backups/web", steps.back().ts));
        ASSERT_NO_FATAL_FAILURE(
            ExpectMomentMatchesReplay(P("report.html"), "backups/web", IsoSecond(steps[3].ts)));

        // The mouse and the keys do what they say (the page drives itself
        // with synthetic events and reports).
        Shot st = Render(P("report.html"), "selftest");
        EXPECT_EQ("ok", AttrOr(st.body, "data-selftest")) << st.Describe();
        EXPECT_EQ("0", AttrOr(st.errors, "data-count")) << st.Describe();

        // Nothing of the data ran: two scripts, no element from a path.
        Shot s = Render(P("report.html"), "");
        EXPECT_EQ(2u, CountOccurrences(s.dom, "<script"));
        EXPECT_EQ(0u, CountOccurrences(s.dom, "<b>"));
        EXPECT_NE(std::string::npos, s.dom.find("q\"uote's &amp; &lt;b&gt;amp&lt;b&gt;"));
        // The title names the target; the list has every recorded moment.
        EXPECT_NE(std::string::npos, TextOf(Inner(s.dom, "title", "h1")).find("web"));
        size_t rows = 0;
        for (const auto &tr : Tags(s.dom, "tr"))
                rows += !AttrOr(tr, "data-m").empty();
        EXPECT_EQ(files("full").size() + files("incremental").size(), rows);

        // A screenshot at 1280x800, kept as a test output (docs/report.png
        // is made from it: scripts/report-screenshot).
        const char *outs = getenv("TEST_UNDECLARED_OUTPUTS_DIR");
        std::string png = std::string(outs && *outs ? outs : dir_.c_str()) + "/report.png";
        RunResult shot = Chromium({"--window-size=1280,800", "--hide-scrollbars", "--screenshot=" + png},
                                  FileUrl(P("report.html")));
        ASSERT_EQ(0, shot.code) << shot.Describe();
        std::string img = ReadFileOr(png);
        ASSERT_GT(img.size(), 10000u) << png;
        EXPECT_EQ(0, img.compare(0, 8, "\x89PNG\r\n\x1a\n")) << png;
}

// 2. Thousands of regions: most are narrower than a pixel, and the page
// merges them, still accounting for every region alive at the moment.
TEST_F(ReportTest, MergedBarsStillCountEveryRegion) {
        NEED_CHROMIUM();
        std::vector<BackupFile> chain;
        ASSERT_NO_FATAL_FAILURE(Synth({"--regions", "4000", "--states", "30", "--full-every", "10"}, &chain));
        RunResult r = RunAgent({"report", "backups/synth", "-o", "many.html"});
        ASSERT_EQ(0, r.code) << r.Describe();
        ASSERT_GE(chain.size(), 20u);
        Shot s = Render(P("many.html"), "at=" + chain[15].ts);
        ASSERT_EQ("ready", AttrOr(s.body, "data-state")) << s.Describe();
        EXPECT_GT(s.Merged(), 0u) << "4,000 regions in 800 pixels: some bars must be merged";
        EXPECT_FALSE(Inner(s.dom, "agg-note", "p").empty()) << "the page says that it merged bars";
        ASSERT_NO_FATAL_FAILURE(ExpectMomentMatchesReplay(P("many.html"), "backups/synth", chain[15].ts));
        // Thousands of lines of maps text are filled in as they are scrolled.
        Shot st = Render(P("many.html"), "selftest");
        EXPECT_EQ("ok", AttrOr(st.body, "data-selftest")) << st.Describe();
        ASSERT_NO_FATAL_FAILURE(ExpectMomentMatchesReplay(P("many.html"), "backups/synth", chain.back().ts));
}

// 3. A diff whose bytes changed breaks its chain: the report is written,
// exit 65, the file is named on stderr and on the page, and every moment
// shows what `agent replay --at` prints there (the last good state).
TEST_F(ReportTest, BrokenChainShowsTheLastGoodState) {
        NEED_CHROMIUM();
        std::vector<BackupFile> chain;
        ASSERT_NO_FATAL_FAILURE(Synth({"--regions", "300", "--states", "16", "--full-every", "8"}, &chain));
        ASSERT_GE(chain.size(), 12u);
        size_t bad = 3;
        ASSERT_FALSE(chain[bad].full);
        std::string text = chain[bad].text;
        size_t rec = text.find("\n+ ");
        if (rec == std::string::npos)
                rec = text.find("\n< ");
        ASSERT_NE(std::string::npos, rec) << text;
        text[rec + 4] = text[rec + 4] == '7' ? '6' : '7';
        ASSERT_TRUE(WriteFile(chain[bad].path, text, 0600));

        RunResult r = RunAgent({"report", "backups/synth", "-o", "broken.html"});
        EXPECT_EQ(65, r.code) << r.Describe();
        EXPECT_NE(std::string::npos, r.err.find(chain[bad].name)) << r.err;
        EXPECT_NE(std::string::npos, r.err.find("could not be read")) << r.err;
        // After the broken diff, in its chain: replay stops too (65).
        ASSERT_NO_FATAL_FAILURE(
            ExpectMomentMatchesReplay(P("broken.html"), "backups/synth", chain[bad + 1].ts, 65));
        // Past the next full snapshot all is well again.
        ASSERT_NO_FATAL_FAILURE(
            ExpectMomentMatchesReplay(P("broken.html"), "backups/synth", chain.back().ts));
        Shot s = Render(P("broken.html"), "");
        std::string notes = TextOf(Inner(s.dom, "notes", "ul"));
        EXPECT_NE(std::string::npos, notes.find("could not be read")) << notes;
        EXPECT_NE(std::string::npos, notes.find(chain[bad].name)) << notes;
        size_t bad_rows = 0;
        for (const auto &tr : Tags(s.dom, "tr"))
                bad_rows += HasClass(tr, "bad");
        EXPECT_EQ(1u, bad_rows);
}

// The events file of the alerts, with lines of every sort.
std::string EventsFile(const std::string &target, const std::string &raised, const std::string &cleared) {
        const std::string region = "7e8000005000-7e8000006000 rwxp 00000000 00:00 0 ";
        auto line = [&](const std::string &ev, const std::string &tgt, const std::string &time,
                        const std::string &extra) {
                return "{\"v\":1,\"event\":\"" + ev + "\",\"target\":\"" + tgt + "\",\"time\":\"" + time +
                       "\",\"pid\":4242" + extra + ",\"rule\":\"wx\",\"region\":\"" + region +
                       "\",\"start\":\"7e8000005000\",\"end\":\"7e8000006000\",\"perms\":\"rwxp\",\"path\":"
                       "\"\","
                       "\"reason\":\"memory both writable and executable \\u003c/script\\u003e<img src=x "
                       "onerror=alert(1)>\"}\n";
        };
        return line("alert", target, raised, "") + line("alert", "other", raised, "") + "not json at all\n" +
               "{\"event\":\"target_started\",\"target\":\"" + target + "\"}\n" +
               line("alert_cleared", target, cleared, ",\"nested\":{\"a\":[1,\"}\",{\"b\":null}]}") +
               "{\"event\":\"alert\",\"target\":\"" + target + "\",\"time\":\"yesterday\"}\n";
}

// 4. Alerts come from logs/events.jsonl next to the backups (or
// --events): only the target's, each linked to the moment its region
// appeared (raised) or went (cleared); bad lines are counted, not fatal.
TEST_F(ReportTest, AlertsFromTheEventsFile) {
        NEED_CHROMIUM();
        std::vector<BackupFile> chain;
        ASSERT_NO_FATAL_FAILURE(Synth({"--regions", "300", "--states", "20", "--full-every", "100"}, &chain));
        // The moments where the chain's rwx page (7e8000005000, at state 5)
        // appeared and went.
        size_t up = 0, down = 0;
        for (size_t i = 0; i < chain.size(); i++) {
                if (chain[i].text.find("\n+ 7e8000005000-") != std::string::npos)
                        up = i;
                if (chain[i].text.find("\n- 7e8000005000-") != std::string::npos)
                        down = i;
        }
        ASSERT_GT(up, 0u);
        ASSERT_GT(down, up);
        ASSERT_EQ(0, mkdir(P("logs").c_str(), 0700));
        ASSERT_TRUE(WriteFile(P("logs/events.jsonl"), EventsFile("synth", IsoPlus(chain[up].ts, 1500),
                                                                 IsoPlus(chain[down].ts, -800))));

        RunResult r = RunAgent({"report", "backups/synth", "-o", "alerts.html"});
        ASSERT_EQ(0, r.code) << r.Describe();
        EXPECT_NE(std::string::npos, r.err.find("2 alerts")) << r.err;
        Shot s = Render(P("alerts.html"), "");
        ASSERT_EQ("ready", AttrOr(s.body, "data-state")) << s.Describe();
        EXPECT_EQ("0", AttrOr(s.errors, "data-count")) << s.Describe();
        std::vector<std::string> rows;
        for (const auto &tr : Tags(s.dom, "tr"))
                if (!AttrOr(tr, "data-a").empty())
                        rows.push_back(tr);
        ASSERT_EQ(2u, rows.size());
        EXPECT_EQ(std::to_string(up), AttrOr(rows[0], "data-moment"));
        EXPECT_EQ(std::to_string(down), AttrOr(rows[1], "data-moment"));
        EXPECT_EQ(0u, CountOccurrences(s.dom, "<img"));
        EXPECT_NE(std::string::npos, s.dom.find("&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"));
        std::string source = TextOf(Inner(s.dom, "alerts-source", "p"));
        EXPECT_NE(std::string::npos, source.find("2 of them unreadable")) << source;
        size_t marks = 0;
        for (const auto &p : Tags(Inner(s.dom, "map", "svg"), "path"))
                marks += HasClass(p, "alert-mark");
        EXPECT_EQ(2u, marks) << "a marker per alert on the map";

        // --events names the file; a missing one is an error.
        ASSERT_EQ(0, rename(P("logs/events.jsonl").c_str(), P("ev.jsonl").c_str()));
        r = RunAgent({"report", "backups/synth", "-o", "none.html"});
        ASSERT_EQ(0, r.code) << r.Describe();
        EXPECT_NE(std::string::npos, r.err.find("0 alerts")) << r.err;
        r = RunAgent({"report", "backups/synth", "--events", "ev.jsonl", "-o", "named.html"});
        ASSERT_EQ(0, r.code) << r.Describe();
        EXPECT_NE(std::string::npos, r.err.find("2 alerts")) << r.err;
        r = RunAgent({"report", "backups/synth", "--events", "missing.jsonl"});
        EXPECT_EQ(66, r.code) << r.Describe();
}

// 5. The command line: usage errors exit 64 with one line, nothing to read
// 66, a folder of targets names one; --from and --to narrow the report;
// -o - writes to stdout; the single-target layout finds its events file.
TEST_F(ReportTest, CommandLine) {
        std::vector<BackupFile> chain;
        ASSERT_NO_FATAL_FAILURE(Synth({"--regions", "100", "--states", "12", "--full-every", "5"}, &chain));
        ASSERT_GE(chain.size(), 10u);

        struct Case {
                std::vector<std::string> args;
                int code;
                std::string says;
        };
        const std::vector<Case> cases = {
            {{"report"}, 64, "no DIR"},
            {{"report", "backups/synth", "--from"}, 64, "--from needs a value"},
            {{"report", "backups/synth", "--from", "yesterday"},
             64,
             "invalid timestamp for --from: 'yesterday'"},
            {{"report", "backups/synth", "--to=2026-13-01T00:00:00Z"}, 64, "invalid timestamp for --to"},
            {{"report", "backups/synth", "--from", chain[5].ts, "--to", chain[2].ts}, 64, "is after --to"},
            {{"report", "backups/synth", "--bogus"}, 64, "unknown option '--bogus'"},
            {{"report", "backups/synth", "other"}, 64, "unexpected argument 'other'"},
            {{"report", "nowhere"}, 66, "nowhere: No such file or directory"},
            {{"report", "backups"}, 66, "name one, e.g. agent report backups/synth"},
            {{"report", "backups/synth", "--to", "2000-01-01T00:00:00Z"},
             66,
             "nothing recorded in backups/synth"},
            {{"report", "backups/synth", "-o", "no/such/dir/r.html"}, 73, "cannot write no/such/dir/r.html"},
        };
        for (const auto &k : cases) {
                RunResult r = RunAgent(k.args);
                EXPECT_EQ(k.code, r.code) << JoinLines(k.args) << r.Describe();
                EXPECT_NE(std::string::npos, r.err.find(k.says)) << JoinLines(k.args) << r.Describe();
                EXPECT_EQ(1u, SplitLines(r.err).size()) << "one line: " << r.err;
        }
        ASSERT_EQ(0, mkdir(P("empty").c_str(), 0700));
        RunResult r = RunAgent({"report", "empty"});
        EXPECT_EQ(66, r.code) << r.Describe();

        // --from and --to: the first moment is the state at --from.
        r = RunAgent({"report", "backups/synth", "--from", chain[3].ts, "--to", chain[8].ts, "-o", "-"});
        ASSERT_EQ(0, r.code) << r.Describe();
        ASSERT_EQ(0u, r.out.find("<!DOCTYPE html>"));
        EXPECT_EQ(6u, CountOccurrences(r.out, "{\"t\":\"")) << "moments 3 to 8";
        EXPECT_NE(std::string::npos, r.out.find("{\"t\":\"" + chain[3].ts + "\""));
        EXPECT_EQ(std::string::npos, r.out.find("{\"t\":\"" + chain[9].ts + "\""));
        EXPECT_FALSE(PathExists(P("report.html")));

        // The single-target layout: DIR is backups, the events file is
        // ../logs/events.jsonl; the default output is report.html.
        ASSERT_EQ(0, mkdir(P("single").c_str(), 0700));
        ASSERT_EQ(0, rename(P("backups/synth").c_str(), P("single/backups").c_str()));
        ASSERT_EQ(0, mkdir(P("single/logs").c_str(), 0700));
        ASSERT_TRUE(WriteFile(P("single/logs/events.jsonl"),
                              EventsFile("synth", IsoPlus(chain[1].ts, 0), IsoPlus(chain[2].ts, 0))));
        r = RunAgent({"report", "single/backups"});
        ASSERT_EQ(0, r.code) << r.Describe();
        EXPECT_NE(std::string::npos, r.err.find("2 alerts")) << r.err;
        EXPECT_TRUE(PathExists(P("report.html")));
        // A symlink at the events file's place is not followed.
        ASSERT_EQ(0, rename(P("single/logs/events.jsonl").c_str(), P("ev.jsonl").c_str()));
        ASSERT_EQ(0, symlink(P("ev.jsonl").c_str(), P("single/logs/events.jsonl").c_str()));
        r = RunAgent({"report", "single/backups", "-o", "r2.html"});
        ASSERT_EQ(0, r.code) << r.Describe();
        EXPECT_NE(std::string::npos, r.err.find("0 alerts")) << r.err;
}

} // namespace
} // namespace memmon_test
