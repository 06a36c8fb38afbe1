// maps_parse_since() and diff_compute() skip the unchanged head and tail of
// a text.  These tests hold them to the plain full parse and to a naive
// reference diff over many random edits of random maps texts.
#include <cinttypes>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

extern "C" {
#include "core/diff.h"
#include "core/maps.h"
}

namespace {

struct Line {
        uint64_t start, end;
        std::string perms, path;
        uint64_t inode;
};

std::string Format(const std::vector<Line> &v) {
        std::string out;
        char buf[512];
        for (const Line &l : v) {
                int n = snprintf(buf, sizeof buf, "%012" PRIx64 "-%012" PRIx64 " %s 00000000 00:00 %" PRIu64,
                                 l.start, l.end, l.perms.c_str(), l.inode);
                out.append(buf, n);
                if (!l.path.empty()) {
                        out.append(std::string(n < 73 ? 73 - n : 1, ' '));
                        out += l.path;
                } else {
                        out += ' ';
                }
                out += '\n';
        }
        return out;
}

// Random, sorted, non-overlapping regions with gaps between them.
std::vector<Line> RandomMaps(std::mt19937_64 &rng, size_t n) {
        static const char *const perms[] = {"r--p", "rw-p", "r-xp", "---p", "rw-s"};
        static const char *const paths[] = {"", "[heap]", "/usr/lib/libc.so.6", "/tmp/a file", "[stack]"};
        std::vector<Line> v;
        uint64_t at = 0x10000;
        for (size_t i = 0; i < n; i++) {
                uint64_t len = (1 + rng() % 4) * 4096;
                v.push_back({at, at + len, perms[rng() % 5], paths[rng() % 5], rng() % 3});
                at += len + (1 + rng() % 3) * 4096;
        }
        return v;
}

// One random edit that keeps the regions sorted and disjoint.
void Edit(std::mt19937_64 &rng, std::vector<Line> &v) {
        if (v.empty()) {
                v.push_back({0x1000, 0x2000, "rw-p", "", 0});
                return;
        }
        size_t i = rng() % v.size();
        switch (rng() % 5) {
        case 0: // change a field
                v[i].perms = v[i].perms == "rw-p" ? "r--p" : "rw-p";
                break;
        case 1: // remove
                v.erase(v.begin() + i);
                break;
        case 2: // insert in the gap after i
                if (i + 1 == v.size() || v[i + 1].start - v[i].end >= 2 * 4096)
                        v.insert(v.begin() + i + 1,
                                 {v[i].end + 4096, v[i].end + 2 * 4096, "r-xp", "[new]", 7});
                break;
        case 3: // split (mprotect of the second half)
                if (v[i].end - v[i].start >= 2 * 4096) {
                        Line second = v[i];
                        second.start = v[i].start + 4096;
                        second.perms = "---p";
                        v[i].end = second.start;
                        v.insert(v.begin() + i + 1, second);
                }
                break;
        case 4: // change the path: the line's length changes
                v[i].path = v[i].path.empty() ? "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" : "";
                break;
        }
}

struct Snap {
        maps_snapshot s;
        Snap() {
                maps_snapshot_init(&s);
        }
        ~Snap() {
                maps_snapshot_fini(&s);
        }
};

void ExpectSameRegions(const maps_snapshot &a, const maps_snapshot &b) {
        ASSERT_EQ(a.n, b.n);
        for (size_t i = 0; i < a.n; i++) {
                const region &x = a.regions[i], &y = b.regions[i];
                ASSERT_EQ(x.start, y.start) << i;
                ASSERT_EQ(x.end, y.end) << i;
                ASSERT_EQ(std::string(x.perms, 4), std::string(y.perms, 4)) << i;
                ASSERT_EQ(x.inode, y.inode) << i;
                ASSERT_EQ(x.line_off, y.line_off) << i;
                ASSERT_EQ(x.line_len, y.line_len) << i;
                ASSERT_EQ(x.path_off, y.path_off) << i;
                ASSERT_EQ(x.path_len, y.path_len) << i;
        }
}

// The reference: a plain merge by start over every line.
std::vector<std::string> NaiveDiff(const maps_snapshot &o, const maps_snapshot &c) {
        std::vector<std::string> out;
        size_t i = 0, j = 0;
        auto line = [](const maps_snapshot &s, size_t k) {
                return std::string(region_line(&s, &s.regions[k]), s.regions[k].line_len);
        };
        while (i < o.n || j < c.n) {
                if (j == c.n || (i < o.n && o.regions[i].start < c.regions[j].start)) {
                        out.push_back("- " + line(o, i++));
                } else if (i == o.n || c.regions[j].start < o.regions[i].start) {
                        out.push_back("+ " + line(c, j++));
                } else {
                        if (line(o, i) != line(c, j))
                                out.push_back("~ " + line(o, i) + " > " + line(c, j));
                        i++;
                        j++;
                }
        }
        return out;
}

std::vector<std::string> Records(const diff &d, const maps_snapshot &o, const maps_snapshot &c) {
        std::vector<std::string> out;
        for (size_t k = 0; k < d.n; k++) {
                const diff_rec &r = d.recs[k];
                auto oline = [&] {
                        return std::string(region_line(&o, &o.regions[r.old_idx]),
                                           o.regions[r.old_idx].line_len);
                };
                auto cline = [&] {
                        return std::string(region_line(&c, &c.regions[r.new_idx]),
                                           c.regions[r.new_idx].line_len);
                };
                if (r.kind == DIFF_REMOVED)
                        out.push_back("- " + oline());
                else if (r.kind == DIFF_ADDED)
                        out.push_back("+ " + cline());
                else
                        out.push_back("~ " + oline() + " > " + cline());
        }
        return out;
}

TEST(Incremental, ParseSinceAndDiffMatchTheFullWork) {
        std::mt19937_64 rng(20261125);
        size_t checked = 0;
        for (int round = 0; round < 300; round++) {
                std::vector<Line> lines = RandomMaps(rng, rng() % 40);
                Snap prev;
                std::string text = Format(lines);
                size_t bad = 0;
                ASSERT_EQ(0, maps_snapshot_set_text(&prev.s, text.data(), text.size(), &bad));
                for (int step = 0; step < 20; step++) {
                        int edits = 1 + (int)(rng() % 3);
                        for (int e = 0; e < edits; e++)
                                Edit(rng, lines);
                        std::string next = Format(lines);
                        Snap full, since;
                        ASSERT_EQ(0, maps_snapshot_set_text(&full.s, next.data(), next.size(), &bad));
                        // set_text parses in full; re-parse the same text incrementally.
                        ASSERT_EQ(0, maps_snapshot_set_text(&since.s, next.data(), next.size(), &bad));
                        ASSERT_EQ(0, maps_parse_since(&since.s, &prev.s, &bad)) << "round " << round;
                        ASSERT_NO_FATAL_FAILURE(ExpectSameRegions(full.s, since.s));
                        diff d;
                        diff_init(&d);
                        ASSERT_GE(diff_compute(&prev.s, &since.s, &d), 0);
                        EXPECT_EQ(NaiveDiff(prev.s, full.s), Records(d, prev.s, since.s))
                            << "round " << round << " step " << step;
                        diff_fini(&d);
                        maps_snapshot_swap(&prev.s, &since.s);
                        checked++;
                }
        }
        RecordProperty("edits_checked", std::to_string(checked));
}

TEST(Incremental, BadLineInTheChangedPartIsStillCaught) {
        std::mt19937_64 rng(7);
        std::vector<Line> lines = RandomMaps(rng, 20);
        std::string text = Format(lines);
        Snap prev, raw;
        size_t bad = 0;
        ASSERT_EQ(0, maps_snapshot_set_text(&prev.s, text.data(), text.size(), &bad));
        std::string broken = text;
        size_t at = 0;
        for (int k = 0; k < 10; k++)
                at = broken.find('\n', at) + 1;
        broken.insert(at, "zzzz-not-a-line\n");
        // set_text keeps the text when its full parse fails: parse it again,
        // incrementally this time.
        ASSERT_EQ(-EINVAL, maps_snapshot_set_text(&raw.s, broken.data(), broken.size(), &bad));
        ASSERT_EQ(broken.size(), raw.s.len);
        bad = 0;
        EXPECT_EQ(-EINVAL, maps_parse_since(&raw.s, &prev.s, &bad));
        EXPECT_EQ(11u, bad);
}

} // namespace
