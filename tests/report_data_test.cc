// The model behind `agent report`, without a browser: the history built
// from a chain written by memmon's own writer (every moment's text is what
// backup_replay rebuilds, through broken files and a change of process),
// the kinds of regions, the alerts read from an events file, and the JSON
// the page gets (hostile bytes can neither end its element nor get lost).
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "agent/report_data.h"
#include "agent/report_events.h"
#include "agent/report_page.h"
#include "core/backup.h"
#include "core/backup_read.h"
#include "core/diff.h"
#include "core/json.h"
#include "tests/kernel_line.h"
#include "tests/testutil.h"

namespace memmon_test {
namespace {

const std::string kLib = "/usr/lib/x86_64-linux-gnu/libc.so.6";

// A history walked and finished, freed with the test.
struct History {
        report_history h;
        int walked = 0;
        History() {
                report_history_init(&h);
        }
        ~History() {
                report_history_fini(&h);
        }
        std::string TextAt(size_t m) const {
                strbuf b;
                strbuf_init(&b);
                EXPECT_EQ(0, report_history_text_at(&h, m, &b));
                std::string s(strbuf_str(&b), b.len);
                strbuf_fini(&b);
                return s;
        }
};

class ReportDataTest : public ::testing::Test {
      protected:
        void SetUp() override {
                dir_ = MakeTempDir(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "/t";
                backup_store_init(&st_);
                ASSERT_EQ(0, backup_store_open(&st_, dir_.c_str()));
                diff_init(&d_);
        }
        void TearDown() override {
                backup_store_close(&st_);
                diff_fini(&d_);
        }

        // Writes lines as a full snapshot of process pid; returns its name.
        std::string Full(const std::vector<std::string> &lines, pid_t pid = 100, uint64_t start = 5) {
                Snap s(lines);
                s.s.checksum = maps_checksum(s.s.text, s.s.len);
                backup_info info = {"web", pid, start};
                char name[BACKUP_NAME_SIZE] = "";
                EXPECT_EQ(0, backup_write_full(&st_, &info, &s.s, name));
                prev_ = lines;
                return name;
        }
        // Writes the diff from the last state written to lines.
        std::string Diff(const std::vector<std::string> &lines, pid_t pid = 100, uint64_t start = 5) {
                Snap a(prev_), b(lines);
                a.s.checksum = maps_checksum(a.s.text, a.s.len);
                b.s.checksum = maps_checksum(b.s.text, b.s.len);
                backup_info info = {"web", pid, start};
                char name[BACKUP_NAME_SIZE] = "";
                EXPECT_GT(diff_compute(&a.s, &b.s, &d_), 0);
                EXPECT_EQ(0, backup_write_diff(&st_, &info, &a.s, &b.s, &d_, name));
                prev_ = lines;
                return name;
        }

        void Walk(History *hist, const char *from = nullptr, const char *to = nullptr) {
                hist->walked = backup_walk(dir_.c_str(), from, to, report_history_step, &hist->h);
                int64_t from_us = INT64_MIN;
                if (from) {
                        ASSERT_EQ(0, ts_to_us(from, &from_us));
                }
                report_history_finish(&hist->h, from_us);
        }

        // What `agent replay --at ts` prints, or "" when it fails.
        std::string Replay(const std::string &ts, int *ret = nullptr) {
                maps_snapshot s;
                maps_snapshot_init(&s);
                int r = backup_replay(dir_.c_str(), ts.c_str(), &s, nullptr, nullptr);
                std::string text = r >= 0 ? std::string(s.text ? s.text : "", s.len) : "";
                maps_snapshot_fini(&s);
                if (ret)
                        *ret = r;
                return text;
        }

        // Every moment's text is replay's.
        void ExpectEveryMomentIsReplay(const History &hist) {
                for (size_t m = 0; m < hist.h.n_moments; m++) {
                        SCOPED_TRACE("moment " + std::to_string(m) + " " + hist.h.moments[m].ts);
                        int r = 0;
                        std::string want = Replay(hist.h.moments[m].ts, &r);
                        EXPECT_EQ(want, hist.TextAt(m));
                        EXPECT_EQ(r >= 0, hist.h.moments[m].has_state) << r;
                }
        }

        std::string dir_;
        backup_store st_;
        diff d_;
        std::vector<std::string> prev_;
};

TEST_F(ReportDataTest, IntervalsFollowTheChainAcrossFullSnapshotsAndProcesses) {
        const std::string a = KernelLine(0x1000, 0x3000, "r-xp", 0, 8, 2, 77, kLib);
        const std::string b = KernelLine(0x5000, 0x6000, "rw-p");
        const std::string b2 = KernelLine(0x5000, 0x7000, "rw-p");
        const std::string c = KernelLine(0x9000, 0xa000, "rwxp");
        Full({a, b});
        Diff({a, b, c});       // added
        Diff({a, b2, c});      // changed
        Full({a, b2, c});      // the same process: nothing ends
        Diff({a, b2});         // removed
        Full({a, b2}, 200, 9); // another process: everything ends
        History hist;
        ASSERT_NO_FATAL_FAILURE(Walk(&hist));
        ASSERT_EQ(0, hist.walked);
        const report_history &h = hist.h;
        ASSERT_EQ(6u, h.n_moments);
        EXPECT_STREQ("web", h.target);
        struct Want {
                uint32_t add, rm, chg, n;
                bool full, fresh;
        };
        const Want want[] = {{2, 0, 0, 2, true, true},   {1, 0, 0, 3, false, false},
                             {0, 0, 1, 3, false, false}, {0, 0, 0, 3, true, false},
                             {0, 1, 0, 2, false, false}, {2, 2, 0, 2, true, true}};
        for (size_t m = 0; m < 6; m++) {
                SCOPED_TRACE(m);
                EXPECT_EQ(want[m].add, h.moments[m].added);
                EXPECT_EQ(want[m].rm, h.moments[m].removed);
                EXPECT_EQ(want[m].chg, h.moments[m].changed);
                EXPECT_EQ(want[m].n, h.moments[m].regions);
                EXPECT_EQ(want[m].full, h.moments[m].full);
                EXPECT_EQ(want[m].fresh, h.moments[m].new_process);
                EXPECT_EQ(BACKUP_STEP_GOOD, h.moments[m].result);
        }
        EXPECT_EQ(200, h.moments[5].pid);
        // a: one interval for the first process, one for the second; b and
        // b2, c: one each.  Sorted by start, then time.
        ASSERT_EQ(6u, h.n_iv);
        EXPECT_EQ(0x1000u, h.iv[0].start);
        EXPECT_EQ(0u, h.iv[0].from);
        EXPECT_EQ(5u, h.iv[0].to);
        EXPECT_EQ(5u, h.iv[1].from);
        EXPECT_EQ(REPORT_OPEN, h.iv[1].to);
        EXPECT_EQ(REPORT_KIND_FILE_RX, h.iv[0].kind);
        EXPECT_EQ(0x5000u, h.iv[2].start);
        EXPECT_EQ(2u, h.iv[2].to);
        EXPECT_EQ(0x7000u, h.iv[3].end);
        EXPECT_EQ(2u, h.iv[3].from);
        EXPECT_EQ(5u, h.iv[3].to);
        EXPECT_EQ(REPORT_KIND_RWX, h.iv[5].kind);
        EXPECT_EQ(1u, h.iv[5].from);
        EXPECT_EQ(4u, h.iv[5].to);
        ExpectEveryMomentIsReplay(hist);
}

TEST_F(ReportDataTest, BrokenFilesKeepTheLastGoodState) {
        const std::string a = KernelLine(0x1000, 0x2000, "r--p");
        const std::string b = KernelLine(0x4000, 0x5000, "rw-p");
        Full({a});
        Diff({a, b});
        std::string broken = Diff({b});
        Diff({a, b});
        Full({a});
        std::string bad_full = Full({b});
        Diff({a, b});
        // A record changed in one diff, the checksum of a full snapshot in
        // the other: both unreadable.
        std::string p = dir_ + "/incremental/" + broken;
        std::string text = ReadFileOr(p);
        size_t rec = text.find("\n- ");
        ASSERT_NE(std::string::npos, rec);
        text[rec + 1] = '+';
        ASSERT_TRUE(WriteFile(p, text, 0600));
        p = dir_ + "/full/" + bad_full;
        text = ReadFileOr(p);
        text[text.size() - 2] = 'X';
        ASSERT_TRUE(WriteFile(p, text, 0600));

        History hist;
        ASSERT_NO_FATAL_FAILURE(Walk(&hist));
        EXPECT_EQ(2, hist.walked) << "two bad files";
        const report_history &h = hist.h;
        ASSERT_EQ(7u, h.n_moments);
        const backup_step_result want[] = {BACKUP_STEP_GOOD,    BACKUP_STEP_GOOD, BACKUP_STEP_BAD,
                                           BACKUP_STEP_SKIPPED, BACKUP_STEP_GOOD, BACKUP_STEP_BAD,
                                           BACKUP_STEP_SKIPPED};
        for (size_t m = 0; m < 7; m++)
                EXPECT_EQ(want[m], h.moments[m].result) << m;
        ASSERT_NE(nullptr, h.moments[2].fault);
        EXPECT_NE(nullptr, strstr(h.moments[2].fault, "line"));
        EXPECT_EQ(nullptr, h.moments[3].fault);
        ExpectEveryMomentIsReplay(hist);
}

TEST_F(ReportDataTest, DiffsBeforeAnyFullSnapshotHaveNoState) {
        const std::string a = KernelLine(0x1000, 0x2000, "r--p");
        const std::string b = KernelLine(0x4000, 0x5000, "rw-p");
        std::string first = Full({a});
        Diff({a, b});
        Full({b});
        ASSERT_EQ(0, unlink((dir_ + "/full/" + first).c_str()));
        History hist;
        ASSERT_NO_FATAL_FAILURE(Walk(&hist));
        EXPECT_EQ(1, hist.walked);
        ASSERT_EQ(2u, hist.h.n_moments);
        EXPECT_EQ(BACKUP_STEP_BAD, hist.h.moments[0].result);
        EXPECT_STREQ("no full snapshot before it", hist.h.moments[0].fault);
        EXPECT_FALSE(hist.h.moments[0].has_state);
        EXPECT_TRUE(hist.h.moments[1].has_state);
        ExpectEveryMomentIsReplay(hist);
}

TEST_F(ReportDataTest, FromAndToNarrowTheHistory) {
        std::vector<std::string> lines;
        std::vector<std::string> names;
        for (int i = 0; i < 8; i++) {
                lines.push_back(KernelLine(0x10000 * (i + 1), 0x10000 * (i + 1) + 0x1000, "rw-p"));
                names.push_back(i % 3 == 0 ? Full(lines) : Diff(lines));
        }
        auto ts = [&](size_t i) { return names[i].substr(names[i].size() - 28, TS_LEN); };
        History all;
        ASSERT_NO_FATAL_FAILURE(Walk(&all));
        ASSERT_EQ(8u, all.h.n_moments);

        // From moment 4 (a diff of the chain that starts at 3) to 6.
        std::string from = ts(4), to = ts(6);
        History part;
        ASSERT_NO_FATAL_FAILURE(Walk(&part, from.c_str(), to.c_str()));
        ASSERT_EQ(3u, part.h.n_moments);
        EXPECT_EQ(from, part.h.moments[0].ts);
        EXPECT_EQ(to, part.h.moments[2].ts);
        EXPECT_EQ(Replay(from), part.TextAt(0));
        EXPECT_EQ(Replay(to), part.TextAt(2));
        // Regions from before --from start at moment 0.
        for (size_t i = 0; i < part.h.n_iv; i++)
                EXPECT_LT(part.h.iv[i].from, 3u);
        EXPECT_EQ(5u, part.h.moments[0].regions);

        // A time between moments: the state is the moment before it.
        char between[TS_SIZE];
        int64_t us = 0;
        ASSERT_EQ(0, ts_to_us(ts(5).c_str(), &us));
        timespec t = {static_cast<time_t>(us / 1000000), static_cast<long>(us % 1000000) * 1000 + 1000};
        ASSERT_EQ(0, ts_format(&t, between));
        if (strcmp(between, ts(6).c_str()) < 0) {
                History mid;
                ASSERT_NO_FATAL_FAILURE(Walk(&mid, between, nullptr));
                ASSERT_GE(mid.h.n_moments, 1u);
                EXPECT_EQ(ts(5), mid.h.moments[0].ts);
                EXPECT_EQ(Replay(between), mid.TextAt(0));
        }

        // Before the first moment there is nothing.
        History none;
        EXPECT_EQ(-ENOENT, backup_walk(dir_.c_str(), nullptr, "20000101T000000.000000Z", report_history_step,
                                       &none.h));
        EXPECT_EQ(-EINVAL, backup_walk(dir_.c_str(), "yesterday", nullptr, report_history_step, &none.h));
}

TEST(ReportKind, EachRegionGetsItsColour) {
        struct Case {
                const char *perms;
                std::string path;
                report_kind kind;
        };
        const std::vector<Case> cases = {
            {"rwxp", "", REPORT_KIND_RWX},
            {"rwxp", kLib, REPORT_KIND_RWX},
            {"---p", "", REPORT_KIND_GUARD},
            {"---p", kLib, REPORT_KIND_GUARD},
            {"rw-p", "[heap]", REPORT_KIND_HEAP},
            {"rw-p", "[stack]", REPORT_KIND_STACK},
            {"rw-p", "[stack:123]", REPORT_KIND_STACK},
            {"r-xp", "[vdso]", REPORT_KIND_SPECIAL},
            {"r--p", "[vvar]", REPORT_KIND_SPECIAL},
            {"--xp", "[vsyscall]", REPORT_KIND_SPECIAL},
            {"r-xp", kLib, REPORT_KIND_FILE_RX},
            {"r--p", kLib, REPORT_KIND_FILE_R},
            {"rw-p", kLib, REPORT_KIND_FILE_RW},
            {"rw-s", "/dev/zero (deleted)", REPORT_KIND_FILE_RW},
            {"r-xp", "", REPORT_KIND_ANON_X},
            {"r-xp", "[anon:jit]", REPORT_KIND_ANON_X},
            {"rw-p", "", REPORT_KIND_ANON_RW},
            {"rw-p", "[anon:libc_malloc]", REPORT_KIND_ANON_RW},
            {"r--p", "", REPORT_KIND_ANON_R},
        };
        for (const auto &c : cases) {
                Snap s({KernelLine(0x1000, 0x2000, c.perms, 0, 0, 0, 0, c.path)});
                ASSERT_EQ(1u, s.s.n);
                EXPECT_EQ(c.kind, report_kind_of(&s.s, &s.s.regions[0])) << c.perms << " " << c.path;
        }
        for (int k = 0; k < REPORT_KIND_COUNT; k++) {
                EXPECT_STRNE("?", report_kind_id(static_cast<report_kind>(k)));
                EXPECT_STRNE("?", report_kind_name(static_cast<report_kind>(k)));
        }
}

// Alerts with its own parser, struct and cleanup.
struct Alerts {
        report_alerts a;
        Alerts() {
                report_alerts_init(&a);
        }
        ~Alerts() {
                report_alerts_fini(&a);
        }
        void Add(const std::string &line, int64_t from = INT64_MIN, int64_t to = INT64_MAX) {
                EXPECT_EQ(0, report_alerts_add_line(&a, line.data(), line.size(), "web", from, to));
        }
        std::string Field(size_t i, report_alert_field f) const {
                return std::string(a.v[i].f[f], a.v[i].len[f]);
        }
};

TEST(ReportEvents, OnlyTheTargetsAlertsAreKept) {
        Alerts al;
        const std::string t = "\"time\":\"2026-11-25T18:33:28.123456Z\"";
        al.Add("{\"event\":\"alert\",\"target\":\"web\"," + t + ",\"rule\":\"wx\",\"start\":\"7f00\"}");
        al.Add("{\"event\":\"alert_cleared\",\"target\":\"web\"," + t + ",\"rule\":\"wx\"}");
        al.Add("{\"event\":\"alert\",\"target\":\"db\"," + t + "}");
        al.Add("{\"event\":\"alert\",\"target\":\"webby\"," + t + "}");
        al.Add("{\"event\":\"target_started\",\"target\":\"web\"," + t + "}");
        ASSERT_EQ(2u, al.a.n);
        EXPECT_EQ("alert", al.Field(0, RA_EVENT));
        EXPECT_EQ("7f00", al.Field(0, RA_START));
        EXPECT_EQ("", al.Field(0, RA_REASON)) << "a missing field is empty";
        EXPECT_EQ("alert_cleared", al.Field(1, RA_EVENT));
        EXPECT_EQ(INT64_C(1795631608123456), al.a.v[0].us);
        EXPECT_EQ(0u, al.a.bad_lines);
        EXPECT_EQ(5u, al.a.lines);
}

TEST(ReportEvents, HostileLinesAreCountedNotFatal) {
        Alerts al;
        const std::string head =
            "{\"event\":\"alert\",\"target\":\"web\",\"time\":\"2026-11-25T18:33:28.000001Z\"";
        const std::vector<std::string> bad = {
            "",
            "not json",
            "[1,2]",
            "{\"event\":\"alert\"",
            head + ",}",
            head + ",\"rule\":\"wx\"} trailing",
            head + ",\"rule\":\"unterminated}",
            head + ",\"rule\":\"bad escape \\q\"}",
            head + ",\"nested\":{\"a\":[1,2}",
            "{\"event\":\"alert\",\"target\":\"web\",\"time\":\"soon\"}",
            "{\"event\":\"alert\",\"target\":\"web\",\"time\":\"2026-11-25T18:33:28.123456Z\\u0000\"}",
            "{\"event\":\"alert\",\"target\":\"web\"}",
            "{\"target\":\"web\"}",
        };
        for (const auto &l : bad)
                al.Add(l);
        EXPECT_EQ(0u, al.a.n);
        EXPECT_EQ(bad.size(), al.a.bad_lines);

        // Nested values are skipped whole, braces in strings too; exact bytes
        // come back, not-UTF-8 ones included; the last of a repeated key wins.
        al.Add(head + ",\"x\":{\"a\":[1,\"}]\",{\"b\":null}],\"c\":true},\"n\":-1.5e3,\"rule\":\"first\","
                      "\"rule\":\"wx\",\"path\":\"/tmp/\\u00ff\\u00e9\xc3\xa9</script>\\n\",\"ok\":false}");
        ASSERT_EQ(1u, al.a.n) << al.a.bad_lines;
        EXPECT_EQ("wx", al.Field(0, RA_RULE));
        EXPECT_EQ("/tmp/\xff\xe9\xc3\xa9</script>\n", al.Field(0, RA_PATH));

        // The time window.
        Alerts win;
        win.Add(head + "}", INT64_C(1795631608000002), INT64_MAX);
        win.Add(head + "}", INT64_MIN, INT64_C(1795631608000000));
        win.Add(head + "}", INT64_C(1795631608000001), INT64_C(1795631608000001));
        EXPECT_EQ(1u, win.a.n);
}

// Lines mutated at random (a fixed seed), as a fuzzer would, under the
// sanitizers of the test run: no crash, no read past the line, and what is
// kept is always an alert of the target.
TEST(ReportEvents, MutatedLinesNeverBreakTheParser) {
        const std::vector<std::string> seeds = {
            "{\"v\":1,\"event\":\"alert\",\"target\":\"web\",\"time\":\"2026-11-25T18:33:28.123456Z\","
            "\"rule\":"
            "\"wx\",\"region\":\"7f00-7f01 rwxp 00000000 00:00 0 "
            "\",\"start\":\"7f00\",\"path\":\"\\u00ff\\\\\"}",
            "{\"event\":\"alert_cleared\",\"target\":\"web\",\"time\":\"20261125T183328Z\",\"x\":[{\"a\":\"]"
            "\"},-1e9,"
            "true,null]}",
        };
        uint64_t seed = 0x2545f4914f6cdd1dULL;
        auto rnd = [&seed](size_t n) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                return static_cast<size_t>(seed % n);
        };
        const char alphabet[] = "{}[]\":,\\u0123456789abcdefxtnl \t\xff\xc3\xa9";
        Alerts al;
        for (int i = 0; i < 20000; i++) {
                std::string l = seeds[rnd(seeds.size())];
                for (size_t k = 1 + rnd(4); k > 0 && !l.empty(); k--) {
                        size_t at = rnd(l.size());
                        switch (rnd(3)) {
                        case 0:
                                l[at] = alphabet[rnd(sizeof(alphabet) - 1)];
                                break;
                        case 1:
                                l.erase(at, 1 + rnd(3));
                                break;
                        default:
                                l.insert(at, 1, alphabet[rnd(sizeof(alphabet) - 1)]);
                        }
                }
                // Exactly the line's bytes: a copy the sanitizers fence.
                std::vector<char> exact(l.begin(), l.end());
                ASSERT_EQ(0, report_alerts_add_line(&al.a, exact.data(), exact.size(), "web", INT64_MIN,
                                                    INT64_MAX));
        }
        EXPECT_EQ(20000u, al.a.lines);
        EXPECT_GT(al.a.n, 100u) << "some mutations keep a valid alert";
        EXPECT_GT(al.a.bad_lines, 1000u);
        for (size_t i = 0; i < al.a.n; i++) {
                std::string ev = al.Field(i, RA_EVENT);
                EXPECT_TRUE(ev == "alert" || ev == "alert_cleared") << ev;
        }
}

TEST(ReportEvents, FileIsReadLineByLine) {
        std::string dir = MakeTempDir("events");
        std::string good = "{\"event\":\"alert\",\"target\":\"web\",\"time\":\"2026-11-25T18:33:28.123456Z\","
                           "\"rule\":\"wx\"}\n";
        std::string text = good + std::string(REPORT_EVENT_LINE_MAX + 10, 'x') + "\n" + good + good +
                           "{\"event\":\"alert\",\"target\":\"web\",\"ti";
        ASSERT_TRUE(WriteFile(dir + "/e.jsonl", text));
        report_alerts a;
        report_alerts_init(&a);
        EXPECT_EQ(0, report_alerts_read(&a, (dir + "/e.jsonl").c_str(), true, "web", INT64_MIN, INT64_MAX));
        EXPECT_EQ(3u, a.n) << "the long line is skipped, the last (unfinished) one left";
        EXPECT_EQ(1u, a.bad_lines);
        report_alerts_fini(&a);

        report_alerts_init(&a);
        ASSERT_EQ(0, symlink((dir + "/e.jsonl").c_str(), (dir + "/link").c_str()));
        EXPECT_EQ(-ELOOP, report_alerts_read(&a, (dir + "/link").c_str(), true, "web", INT64_MIN, INT64_MAX));
        EXPECT_EQ(0, report_alerts_read(&a, (dir + "/link").c_str(), false, "web", INT64_MIN, INT64_MAX));
        EXPECT_EQ(-ENOENT,
                  report_alerts_read(&a, (dir + "/none").c_str(), true, "web", INT64_MIN, INT64_MAX));
        EXPECT_EQ(-EINVAL, report_alerts_read(&a, dir.c_str(), true, "web", INT64_MIN, INT64_MAX));
        ASSERT_EQ(0, mkfifo((dir + "/fifo").c_str(), 0600));
        EXPECT_EQ(-EINVAL, report_alerts_read(&a, (dir + "/fifo").c_str(), true, "web", INT64_MIN, INT64_MAX))
            << "a FIFO is refused, without blocking";
        report_alerts_fini(&a);
}

TEST_F(ReportDataTest, PageDataCannotEndItsElement) {
        const std::string hostile = "/tmp/x</script><script>alert(1)</script><!--&amp;\xff\"'\xe2\x80\xae";
        Full({KernelLine(0x1000, 0x2000, "r--p", 0, 8, 1, 9, hostile), KernelLine(0x7000, 0x8000, "rw-p")});
        History hist;
        ASSERT_NO_FATAL_FAILURE(Walk(&hist));
        report_meta meta = {};
        meta.dir = "dir</script>";
        strbuf json, html;
        strbuf_init(&json);
        strbuf_init(&html);
        ASSERT_EQ(0, report_page_json(&hist.h, nullptr, &meta, &json));
        ASSERT_EQ(0, report_page_html(&hist.h, nullptr, &meta, &html));
        std::string j(strbuf_str(&json), json.len), page(strbuf_str(&html), html.len);
        strbuf_fini(&json);
        strbuf_fini(&html);
        // The JSON holds the line; the page holds it with no '<' or '&'.
        std::string line = KernelLine(0x1000, 0x2000, "r--p", 0, 8, 1, 9, hostile);
        size_t at = j.find("\"00001000-");
        ASSERT_NE(std::string::npos, at) << j;
        strbuf back;
        strbuf_init(&back);
        size_t used = 0;
        ASSERT_EQ(0, json_decode_string(j.data() + at, j.size() - at, &back, &used));
        EXPECT_EQ(line, std::string(strbuf_str(&back), back.len));
        strbuf_fini(&back);
        size_t d0 = page.find("<script type=\"application/json\" id=\"data\">");
        ASSERT_NE(std::string::npos, d0);
        d0 = page.find('>', d0) + 1;
        size_t d1 = page.find("</script>", d0);
        ASSERT_NE(std::string::npos, d1);
        std::string data = page.substr(d0, d1 - d0);
        EXPECT_EQ(std::string::npos, data.find_first_of("<>&")) << data;
        EXPECT_NE(std::string::npos, data.find("\\u003c/script\\u003e"));
        EXPECT_EQ(j.size() +
                      5 * (CountOccurrences(j, "<") + CountOccurrences(j, ">") + CountOccurrences(j, "&")),
                  data.size());
        // Bounds: every start and end, sorted, unique, hex.
        EXPECT_NE(std::string::npos, j.find("\"bounds\":[\"1000\",\"2000\",\"7000\",\"8000\"]")) << j;
        EXPECT_NE(std::string::npos, j.find("\"regions\":[\n[0,-1,0,1,6,")) << j;
}

} // namespace
} // namespace memmon_test
