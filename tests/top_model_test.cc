// What `agent top` shows, without a terminal (agent/top_model.h), and the
// JSON reader it reads the agent's documents with (core/json.h): documents
// read and refused, diffs per minute from counters over a sliding minute,
// sorting, the columns that give way on a narrow screen, and hostile bytes
// escaped and cut to a column's width.
#include <errno.h>
#include <locale.h>
#include <string.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "agent/top_model.h"
#include "core/json.h"
#include "core/strbuf.h"

namespace {

constexpr uint64_t kSecond = 1000000;

// Skips s whole as one document: 0 or the error.
int Skip(const std::string &s) {
        struct json_reader r;
        json_read_init(&r, s.data(), s.size());
        int e = json_read_skip(&r);
        return e < 0 ? e : json_read_end(&r);
}

TEST(JsonReadTest, TakesWhatJsonIsAndNothingElse) {
        for (const char *ok : {"{}", "[]", " {\"a\" : [1, -2, 3.5e+7, true, false, null, \"x\\u00e9\"]}\n",
                               "\"\\ud83d\\ude00\"", "0", "-0", "[[[]]]", "{\"\":{}}"})
                EXPECT_EQ(0, Skip(ok)) << ok;
        for (const char *bad : {"",      "{",     "{\"a\"}", "{\"a\":}", "{\"a\":1,}",  "[1,]",
                                "[,1]",  "01",    "1.",      "1e",       "-",           "+1",
                                "nul",   "[1 2]", "{1:2}",   "\"\\x\"",  "\"\\ud800\"", "\"a\nb\"",
                                "{} {}", "[1]x",  "tru",     "\"abc"})
                EXPECT_EQ(-EINVAL, Skip(bad)) << bad;
        // Nesting is bounded.
        std::string deep(JSON_READ_DEPTH_MAX, '[');
        deep += std::string(JSON_READ_DEPTH_MAX, ']');
        EXPECT_EQ(0, Skip(deep));
        EXPECT_EQ(-EINVAL, Skip("[" + deep + "]"));
}

TEST(JsonReadTest, NumbersAreRangeChecked) {
        auto uint = [](const std::string &s, uint64_t *v) {
                struct json_reader r;
                json_read_init(&r, s.data(), s.size());
                return json_read_uint(&r, v);
        };
        auto sint = [](const std::string &s, int64_t *v) {
                struct json_reader r;
                json_read_init(&r, s.data(), s.size());
                return json_read_int(&r, v);
        };
        uint64_t u = 7;
        int64_t i = 7;
        EXPECT_EQ(0, uint("18446744073709551615", &u));
        EXPECT_EQ(UINT64_MAX, u);
        EXPECT_EQ(-ERANGE, uint("18446744073709551616", &u));
        EXPECT_EQ(-ERANGE, uint("-1", &u));
        EXPECT_EQ(-EINVAL, uint("1.5", &u));
        EXPECT_EQ(-EINVAL, uint("\"1\"", &u));
        EXPECT_EQ(0, sint("-9223372036854775808", &i));
        EXPECT_EQ(INT64_MIN, i);
        EXPECT_EQ(-ERANGE, sint("9223372036854775808", &i));
        EXPECT_EQ(0, sint(" 42", &i));
        EXPECT_EQ(42, i);
}

// A status document as the agent writes it (fields it has and top does
// not read included).
std::string Target(const std::string &name, const std::string &state, int pid, int regions, uint64_t diffs,
                   int alerts, const std::string &last = "null", const std::string &reason = "") {
        return "{\"name\":\"" + name + "\",\"pid\":" + (pid ? std::to_string(pid) : "null") +
               ",\"state\":\"" + state + "\",\"reason\":\"" + reason +
               "\",\"interval_us\":2000000,\"regions\":" + std::to_string(regions) +
               ",\"last_change\":" + last + ",\"samples\":9,\"full_backups\":1," +
               "\"diffs\":" + std::to_string(diffs) + ",\"anon_bytes\":4096,\"file_bytes\":1048576," +
               "\"heap_bytes\":8192,\"stack_bytes\":0,\"other_bytes\":0,\"exec_bytes\":65536," +
               "\"unstable\":0,\"alerts_active\":" + std::to_string(alerts) +
               ",\"alerts_raised\":{\"wx\":1,\"anon_exec\":0}}";
}

std::string Doc(const std::vector<std::string> &targets) {
        std::string d = "{\"v\":1,\"agent\":{\"pid\":4242,\"version\":\"0.1.0\",\"started\":"
                        "\"2026-11-30T10:00:00Z\",\"capture\":\"poll (capture = poll)\"},\"targets\":[";
        for (size_t i = 0; i < targets.size(); i++)
                d += (i ? "," : "") + targets[i];
        return d + "]}";
}

class TopModelTest : public ::testing::Test {
      protected:
        void SetUp() override {
                top_model_init(&m_);
        }
        void TearDown() override {
                top_model_fini(&m_);
        }
        int Update(const std::string &doc, uint64_t at_us) {
                return top_model_update(&m_, doc.data(), doc.size(), at_us);
        }
        std::vector<std::string> Names() {
                std::vector<std::string> v;
                for (size_t i = 0; i < m_.n; i++)
                        v.push_back(std::string(m_.rows[i]->name.s, m_.rows[i]->name.len));
                return v;
        }
        const top_row *Row(const std::string &name) {
                for (size_t i = 0; i < m_.n; i++)
                        if (std::string(m_.rows[i]->name.s, m_.rows[i]->name.len) == name)
                                return m_.rows[i];
                return nullptr;
        }
        std::string Line(const top_row *r, int cols, int64_t now = 0) {
                top_layout l;
                top_model_layout(&m_, cols, &l);
                strbuf b;
                strbuf_init(&b);
                EXPECT_EQ(0, top_model_line(&m_, r, &l, cols, now, &b));
                std::string s = strbuf_str(&b);
                strbuf_fini(&b);
                return s;
        }
        top_model m_;
};

TEST_F(TopModelTest, ReadsTheStatusDocument) {
        ASSERT_EQ(0, Update(Doc({Target("web", "running", 1234, 42, 17, 1, "\"2026-11-30T10:00:05Z\""),
                                 Target("db", "waiting", 0, 0, 0, 0, "null", "no process named db")}),
                            kSecond));
        ASSERT_EQ(2u, m_.n);
        EXPECT_EQ((std::vector<std::string>{"db", "web"}), Names()) << "sorted by name";
        const top_row *w = Row("web");
        EXPECT_EQ(1234, w->pid);
        EXPECT_EQ(42u, w->regions);
        EXPECT_EQ(17u, w->diffs);
        EXPECT_EQ(1u, w->alerts);
        EXPECT_EQ(4096u + 1048576 + 8192, w->mapped);
        EXPECT_EQ(65536u, w->exec);
        EXPECT_EQ(1796032805, w->last_change);
        EXPECT_EQ("running", std::string(w->state.s));
        const top_row *d = Row("db");
        EXPECT_EQ(0, d->pid);
        EXPECT_EQ(0, d->last_change);
        EXPECT_EQ("no process named db", std::string(d->reason.s));
        EXPECT_TRUE(m_.agent.known);
        EXPECT_EQ(4242, m_.agent.pid);
        EXPECT_EQ(1796032800, m_.agent.started);
        EXPECT_EQ("poll (capture = poll)", std::string(m_.agent.capture.s));

        // What is not such a document leaves the model as it was.
        for (const std::string &bad :
             {std::string("{\"v\":1,\"error\":\"No targets\"}"), std::string("{\"targets\":[{\"pid\":1}]}"),
              std::string("{\"targets\":[{\"name\":\"x\",\"regions\":-1}]}"),
              std::string("{\"targets\":[{\"name\":\"x\",\"last_change\":\"yesterday\"}]}"),
              Doc({Target("web", "running", 1, 1, 1, 0)}) + "x", std::string("[]")}) {
                EXPECT_EQ(-EINVAL, Update(bad, 2 * kSecond)) << bad;
                EXPECT_EQ(2u, m_.n);
        }
        // An agent of another version: unknown fields and no "agent".
        ASSERT_EQ(0, Update("{\"v\":2,\"targets\":[{\"name\":\"x\",\"new\":{\"a\":[1,2]},\"regions\":3}]}",
                            3 * kSecond));
        EXPECT_EQ((std::vector<std::string>{"x"}), Names());
        EXPECT_FALSE(m_.agent.known);
}

TEST_F(TopModelTest, DiffsPerMinuteOverTheLastMinute) {
        auto at = [&](uint64_t s, uint64_t diffs) {
                ASSERT_EQ(0, Update(Doc({Target("t", "running", 1, 1, diffs, 0)}), s * kSecond));
        };
        at(100, 0);
        EXPECT_FALSE(Row("t")->rate_known) << "one reading is no rate";
        at(110, 5);
        ASSERT_TRUE(Row("t")->rate_known);
        EXPECT_DOUBLE_EQ(30.0, Row("t")->rate) << "5 in 10 s: 30 a minute";
        for (uint64_t s = 112; s <= 170; s += 2)
                at(s, 5 + (s - 110)); // one a second from 110 on
        // At 170 the base is the newest reading at least 60 s old: 110.
        EXPECT_DOUBLE_EQ(60.0, Row("t")->rate);
        for (uint64_t s = 172; s <= 240; s += 2)
                at(s, 65); // quiet from 170 on
        EXPECT_DOUBLE_EQ(0.0, Row("t")->rate) << "a minute later nothing is left of the burst";
        EXPECT_LE(Row("t")->n_hist, static_cast<size_t>(TOP_HISTORY));
        // The target made anew (a reload): its counter starts at 0 again.
        at(242, 1);
        EXPECT_FALSE(Row("t")->rate_known);
        at(244, 3);
        EXPECT_DOUBLE_EQ(60.0, Row("t")->rate);
        // Readings closer than a second apart are not all kept.
        for (int k = 1; k <= 10; k++)
                ASSERT_EQ(0, Update(Doc({Target("t", "running", 1, 1, 3, 0)}), 244 * kSecond + k * 50000));
        EXPECT_LE(Row("t")->n_hist, 3u);
}

TEST_F(TopModelTest, SortKeysAndReverse) {
        ASSERT_EQ(0, Update(Doc({Target("a", "running", 1, 10, 0, 0, "\"2026-11-30T10:00:01Z\""),
                                 Target("b", "running", 2, 30, 0, 2, "\"2026-11-30T10:00:03Z\""),
                                 Target("c", "waiting", 0, 0, 0, 0), Target("d", "running", 3, 30, 0, 1)}),
                            kSecond));
        EXPECT_EQ((std::vector<std::string>{"a", "b", "c", "d"}), Names());
        m_.sort = TOP_SORT_REGIONS;
        top_model_sort(&m_);
        EXPECT_EQ((std::vector<std::string>{"b", "d", "a", "c"}), Names()) << "largest first, ties by name";
        m_.reverse = 1;
        top_model_sort(&m_);
        EXPECT_EQ((std::vector<std::string>{"c", "a", "d", "b"}), Names());
        m_.reverse = 0;
        m_.sort = TOP_SORT_ALERTS;
        top_model_sort(&m_);
        EXPECT_EQ((std::vector<std::string>{"b", "d", "a", "c"}), Names());
        m_.sort = TOP_SORT_LAST;
        top_model_sort(&m_);
        EXPECT_EQ((std::vector<std::string>{"b", "a", "c", "d"}), Names()) << "latest first, never last";
        // Rates are unknown after one reading: then by name.
        m_.sort = TOP_SORT_RATE;
        top_model_sort(&m_);
        EXPECT_EQ((std::vector<std::string>{"a", "b", "c", "d"}), Names());
        ASSERT_EQ(0, Update(Doc({Target("a", "running", 1, 10, 1, 0), Target("b", "running", 2, 30, 9, 2),
                                 Target("c", "waiting", 0, 0, 0, 0), Target("d", "running", 3, 30, 4, 1)}),
                            11 * kSecond));
        EXPECT_EQ((std::vector<std::string>{"b", "d", "a", "c"}), Names()) << "the sort stays across updates";
        EXPECT_STREQ("diffs/min", top_sort_name(TOP_SORT_RATE));
}

TEST_F(TopModelTest, ColumnsGiveWayOnANarrowScreen) {
        ASSERT_EQ(0, Update(Doc({Target("web", "running", 1234, 42, 17, 1, "\"2026-11-30T10:00:05Z\""),
                                 Target("db", "waiting", 0, 0, 0, 0, "null", "no process named db")}),
                            kSecond));
        int64_t now = 1796032805 + 125; // two minutes after web's last change
        top_layout l;
        top_model_layout(&m_, 80, &l);
        for (int c = 0; c < TOP_COLS; c++)
                EXPECT_TRUE(l.shown[c]) << "column " << c << " at 80";
        EXPECT_EQ("NAME     STATE       PID REGIONS MAPPED   EXEC DIFF/M  LAST ALERTS REASON       ",
                  Line(nullptr, 80));
        EXPECT_EQ("web      running    1234      42   1.0M    64K      -    2m      1              ",
                  Line(Row("web"), 80, now));
        EXPECT_EQ("db       waiting       -       0   1.0M    64K      -     -      0 no process n~",
                  Line(Row("db"), 80, now));
        EXPECT_EQ("db       waiting       -       0   1.0M    64K      -     -      0 no process named db",
                  Line(Row("db"), 86, now));
        // 40 columns: NAME and STATE, then what fits in the order of
        // importance (ALERTS, PID, REGIONS, ...), never a cut column.
        EXPECT_EQ("NAME     STATE       PID REGIONS ALERTS ", Line(nullptr, 40));
        top_model_layout(&m_, 40, &l);
        EXPECT_FALSE(l.shown[TOP_COL_EXEC]);
        EXPECT_FALSE(l.shown[TOP_COL_REASON]);
        for (int cols : {1, 5, 12, 24, 40, 57, 80, 81, 120, 200}) {
                EXPECT_EQ(static_cast<size_t>(cols), Line(nullptr, cols).size()) << cols;
                EXPECT_EQ(static_cast<size_t>(cols), Line(Row("db"), cols, now).size()) << cols;
        }
        // A long name widens its column up to a bound, and is cut there.
        ASSERT_EQ(0, Update(Doc({Target(std::string(64, 'n'), "running", 1, 1, 1, 0)}), 2 * kSecond));
        top_model_layout(&m_, 200, &l);
        EXPECT_EQ(40, l.width[TOP_COL_NAME]);
        EXPECT_EQ(std::string(39, 'n') + "~ running", Line(m_.rows[0], 200).substr(0, 48));
}

TEST_F(TopModelTest, HeaderTotalsAndFooterFitTheWidth) {
        ASSERT_EQ(0,
                  Update(Doc({Target("web", "running", 1234, 42, 17, 1), Target("db", "waiting", 0, 0, 0, 0),
                              Target("x", "bogus\\u001b[2J", 1, 1, 0, 2)}),
                         kSecond));
        strbuf b;
        strbuf_init(&b);
        ASSERT_EQ(0, top_model_totals_line(&m_, 200, &b));
        std::string all = "3 targets: 1 running, 1 waiting, 1 other; 43 regions; 3.0M mapped; 192K exec; - "
                          "diffs/min; 3 alerts";
        EXPECT_EQ(all + std::string(200 - all.size(), ' '), strbuf_str(&b));
        for (int cols : {20, 60, 80}) {
                strbuf_reset(&b);
                ASSERT_EQ(0, top_model_totals_line(&m_, cols, &b));
                std::string s = strbuf_str(&b);
                EXPECT_EQ(static_cast<size_t>(cols), s.size()) << s;
                EXPECT_EQ(0u, s.find("3 targets: 1 runnin")) << s;
                if (cols == 80) {
                        EXPECT_NE(std::string::npos, s.find("- diffs/min; 3 alerts")) << s;
                }
        }
        strbuf_reset(&b);
        ASSERT_EQ(0, top_model_title_line(&m_, 1796032800 + 3725, 1, 80, &b));
        std::string title = strbuf_str(&b);
        EXPECT_EQ(80u, title.size());
        EXPECT_EQ(0u, title.find("memmon top - agent 4242, up 1h, v0.1.0, capture poll (capture =~ PAUSED "))
            << title;
        EXPECT_NE(std::string::npos, title.find(" PAUSED ")) << title;
        strbuf_reset(&b);
        m_.sort = TOP_SORT_REGIONS;
        ASSERT_EQ(0, top_model_footer_line(&m_, 0, 3, 80, &b));
        std::string foot = strbuf_str(&b);
        EXPECT_EQ(80u, foot.size());
        EXPECT_EQ(0u, foot.find("q quit  p pause  s,R sort: regions desc")) << foot;
        EXPECT_EQ("1-3/3", foot.substr(75)) << foot;
        strbuf_fini(&b);
}

std::string Fit(const std::string &s, int width, int right, int utf8) {
        strbuf b;
        strbuf_init(&b);
        EXPECT_EQ(0, top_fit(s.data(), s.size(), width, right, utf8, &b));
        std::string out(strbuf_str(&b), b.len);
        strbuf_fini(&b);
        return out;
}

TEST(TopFitTest, HostileBytesAreEscapedAndCut) {
        EXPECT_EQ("ab   ", Fit("ab", 5, 0, 0));
        EXPECT_EQ("   ab", Fit("ab", 5, 1, 0));
        EXPECT_EQ("abcd~", Fit("abcdefg", 5, 0, 0));
        EXPECT_EQ("", Fit("abc", 0, 0, 0));
        // Nothing reaches the terminal that could drive it.
        EXPECT_EQ("\\x1b[2J\\x07 ", Fit("\x1b[2J\x07", 12, 0, 0));
        EXPECT_EQ("\\x1b[~", Fit("\x1b[2J", 6, 0, 0));
        EXPECT_EQ("a\\u202eb", Fit("a\xe2\x80\xae"
                                   "b",
                                   8, 0, 1));
        EXPECT_EQ("\\xff\\xfe", Fit("\xff\xfe", 8, 0, 1));
        EXPECT_EQ("\\xc2\\x9b  ", Fit("\xc2\x9b", 10, 0, 1)) << "a C1 control (CSI)";
        // UTF-8 text: as it is on a UTF-8 terminal, as bytes elsewhere.
        EXPECT_EQ("w\\xc3\\xb6rk   ", Fit("w\xc3\xb6rk", 14, 0, 0));
        if (setlocale(LC_CTYPE, "C.UTF-8")) {
                EXPECT_EQ("w\xc3\xb6rk ", Fit("w\xc3\xb6rk", 5, 0, 1));
                // Wide characters take two columns and are not cut in half.
                EXPECT_EQ("\xe6\x97\xa5\xe6\x9c\xac ", Fit("\xe6\x97\xa5\xe6\x9c\xac", 5, 0, 1));
                EXPECT_EQ("\xe6\x97\xa5~ ", Fit("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 4, 0, 1));
                setlocale(LC_CTYPE, "C");
        }
}

TEST(TopFormatTest, SizesAndAges) {
        char b[32];
        struct {
                uint64_t v;
                const char *s;
        } sizes[] = {{0, "0"},           {512, "512B"},         {1023, "1023B"},      {1024, "1.0K"},
                     {10 * 1024, "10K"}, {1023 * 1024, "1.0M"}, {999 * 1024, "999K"}, {1536ULL << 20, "1.5G"},
                     {UINT64_MAX, "16E"}};
        for (const auto &c : sizes) {
                top_format_size(c.v, b, sizeof(b));
                EXPECT_STREQ(c.s, b) << c.v;
        }
        struct {
                int64_t v;
                const char *s;
        } ages[] = {{-5, "0s"},   {59, "59s"},    {60, "1m"},       {3599, "59m"},
                    {3600, "1h"}, {86399, "23h"}, {86400 * 3, "3d"}};
        for (const auto &c : ages) {
                top_format_age(c.v, b, sizeof(b));
                EXPECT_STREQ(c.s, b) << c.v;
        }
}

} // namespace
