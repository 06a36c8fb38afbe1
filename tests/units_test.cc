// Durations and sizes as users write them (core/units.c): the syntax shared
// by configuration files, -T and the `interval` command.
#include <errno.h>
#include <stdint.h>

#include <gtest/gtest.h>

#include "core/units.h"

namespace {

TEST(UnitsTest, Durations) {
        struct {
                const char *s;
                uint64_t us;
        } good[] = {
            {"0", 0},
            {"2000000", 2000000},
            {"10us", 10},
            {"500ms", 500000},
            {"2s", 2000000},
            {"1m", 60000000},
            {"1h", UINT64_C(3600000000)},
            {"007s", 7000000},
            {"18446744073709551615", UINT64_MAX},
        };
        for (const auto &g : good) {
                uint64_t v = 1;
                EXPECT_EQ(0, units_parse_duration_us(g.s, &v)) << g.s;
                EXPECT_EQ(g.us, v) << g.s;
        }
        for (const char *bad : {"", "s", "ms", "-1", "+1", " 1", "1 ", "1.5s", "1S", "1sec", "1d", "0x10",
                                "1e3", "2s2", "1ms ", "1hh"}) {
                uint64_t v = 42;
                EXPECT_EQ(-EINVAL, units_parse_duration_us(bad, &v)) << "'" << bad << "'";
                EXPECT_EQ(42u, v) << "untouched on failure: " << bad;
        }
        for (const char *big :
             {"18446744073709551616", "99999999999999999999999", "18446744073709552s", "5124095576031h"}) {
                uint64_t v = 42;
                EXPECT_EQ(-ERANGE, units_parse_duration_us(big, &v)) << big;
                EXPECT_EQ(42u, v) << big;
        }
}

TEST(UnitsTest, IntervalsAreBounded) {
        uint64_t v = 0;
        EXPECT_EQ(0, units_parse_interval_us("1ms", &v));
        EXPECT_EQ(INTERVAL_MIN_US, v);
        EXPECT_EQ(0, units_parse_interval_us("1000", &v));
        EXPECT_EQ(1000u, v);
        EXPECT_EQ(0, units_parse_interval_us("1h", &v));
        EXPECT_EQ(INTERVAL_MAX_US, v);
        v = 42;
        EXPECT_EQ(-ERANGE, units_parse_interval_us("999us", &v));
        EXPECT_EQ(-ERANGE, units_parse_interval_us("0", &v));
        EXPECT_EQ(-ERANGE, units_parse_interval_us("61m", &v));
        EXPECT_EQ(-ERANGE, units_parse_interval_us("3600000001", &v));
        EXPECT_EQ(-ERANGE, units_parse_interval_us("99999999999999999999", &v));
        EXPECT_EQ(-EINVAL, units_parse_interval_us("banana", &v));
        EXPECT_EQ(-EINVAL, units_parse_interval_us("", &v));
        EXPECT_EQ(42u, v);
}

TEST(UnitsTest, Sizes) {
        struct {
                const char *s;
                uint64_t bytes;
        } good[] = {
            {"0", 0},
            {"4096", 4096},
            {"4096B", 4096},
            {"1K", 1024},
            {"1k", 1024},
            {"1KB", 1024},
            {"1KiB", 1024},
            {"256M", UINT64_C(256) << 20},
            {"256MiB", UINT64_C(256) << 20},
            {"2G", UINT64_C(2) << 30},
            {"1T", UINT64_C(1) << 40},
            {"16777215T", UINT64_C(16777215) << 40},
        };
        for (const auto &g : good) {
                uint64_t v = 1;
                EXPECT_EQ(0, units_parse_size(g.s, &v)) << g.s;
                EXPECT_EQ(g.bytes, v) << g.s;
        }
        for (const char *bad :
             {"", "M", "-1", "1iB", "1Q", "1m", "1 M", "1M ", "1.5M", "1MBB", "1Mi", "1b", "1P"}) {
                uint64_t v = 42;
                EXPECT_EQ(-EINVAL, units_parse_size(bad, &v)) << "'" << bad << "'";
                EXPECT_EQ(42u, v) << bad;
        }
        for (const char *big : {"16777216T", "18446744073709551616", "17179869184G"}) {
                uint64_t v = 42;
                EXPECT_EQ(-ERANGE, units_parse_size(big, &v)) << big;
                EXPECT_EQ(42u, v) << big;
        }
}

} // namespace
