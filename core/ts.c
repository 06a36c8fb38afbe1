#include "core/ts.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define US_PER_SEC INT64_C(1000000)
/* 9999-12-31T23:59:59Z: later years cannot be named in four digits. */
#define LAST_SECOND INT64_C(253402300799)

struct ts_fields {
        unsigned year, mon, day, hour, min, sec, usec;
};

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

static bool is_leap(unsigned y) {
        return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(unsigned y, unsigned m) {
        static const unsigned char days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        if (m == 2 && is_leap(y))
                return 29;
        return days[m - 1];
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
        y -= m <= 2;
        int64_t era = (y >= 0 ? y : y - 399) / 400;
        unsigned yoe = (unsigned)(y - era * 400);
        unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
        unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + (int64_t)doe - 719468;
}

/* Reads exactly n decimal digits. */
static bool take_digits(const char *s, size_t n, unsigned *ret) {
        unsigned v = 0;
        for (size_t i = 0; i < n; i++) {
                if (!is_digit(s[i]))
                        return false;
                v = v * 10 + (unsigned)(s[i] - '0');
        }
        *ret = v;
        return true;
}

static bool fields_valid(const struct ts_fields *f) {
        return f->year <= 9999 && f->mon >= 1 && f->mon <= 12 && f->day >= 1 &&
               f->day <= days_in_month(f->year, f->mon) && f->hour < 24 && f->min < 60 && f->sec < 60 &&
               f->usec < 1000000;
}

static int encode(const struct ts_fields *f, char ret[TS_SIZE]) {
        char buf[TS_SIZE + 16];
        int n;

        if (!fields_valid(f))
                return -EINVAL;
        n = snprintf(buf, sizeof(buf), "%04u%02u%02uT%02u%02u%02u.%06uZ", f->year, f->mon, f->day, f->hour,
                     f->min, f->sec, f->usec);
        if (n != TS_LEN)
                return -EINVAL;
        memcpy(ret, buf, TS_SIZE);
        return 0;
}

/* Decodes a timestamp in the exact form ts_format writes. */
static int decode(const char *s, size_t len, struct ts_fields *ret) {
        struct ts_fields f;

        if (len != TS_LEN || s[8] != 'T' || s[15] != '.' || s[22] != 'Z')
                return -EINVAL;
        if (!take_digits(s, 4, &f.year) || !take_digits(s + 4, 2, &f.mon) || !take_digits(s + 6, 2, &f.day) ||
            !take_digits(s + 9, 2, &f.hour) || !take_digits(s + 11, 2, &f.min) ||
            !take_digits(s + 13, 2, &f.sec) || !take_digits(s + 16, 6, &f.usec))
                return -EINVAL;
        if (!fields_valid(&f))
                return -EINVAL;
        *ret = f;
        return 0;
}

static int64_t fields_to_us(const struct ts_fields *f) {
        int64_t days = days_from_civil(f->year, f->mon, f->day);
        int64_t secs = days * 86400 + f->hour * 3600 + f->min * 60 + f->sec;
        return secs * US_PER_SEC + f->usec;
}

static int us_to_ts(int64_t us, char ret[TS_SIZE]) {
        int64_t sec = us / US_PER_SEC;
        int64_t rem = us % US_PER_SEC;
        struct timespec t;

        if (rem < 0) {
                rem += US_PER_SEC;
                sec--;
        }
        t.tv_sec = (time_t)sec;
        t.tv_nsec = (long)(rem * 1000);
        return ts_format(&t, ret);
}

int ts_format(const struct timespec *t, char ret[TS_SIZE]) {
        struct tm tm;
        struct ts_fields f;

        if (!t || !ret || t->tv_nsec < 0 || t->tv_nsec >= 1000000000L)
                return -EINVAL;
        if (!gmtime_r(&t->tv_sec, &tm))
                return -EINVAL;
        if (tm.tm_year < -1900 || tm.tm_year > 9999 - 1900)
                return -EINVAL;
        f.year = (unsigned)(tm.tm_year + 1900);
        f.mon = (unsigned)tm.tm_mon + 1;
        f.day = (unsigned)tm.tm_mday;
        f.hour = (unsigned)tm.tm_hour;
        f.min = (unsigned)tm.tm_min;
        /* gmtime_r never reports a leap second, but keep the field in range. */
        f.sec = tm.tm_sec > 59 ? 59 : (unsigned)tm.tm_sec;
        f.usec = (unsigned)(t->tv_nsec / 1000);
        return encode(&f, ret);
}

int ts_parse(const char *s, char ret[TS_SIZE]) {
        struct ts_fields f;
        size_t pos;
        bool ext;

        if (!s || !ret)
                return -EINVAL;
        ext = s[0] && s[1] && s[2] && s[3] && s[4] == '-';
        if (ext) {
                /* 2026-11-25T18:33:28 */
                if (strnlen(s, 19) < 19 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
                    s[16] != ':')
                        return -EINVAL;
                if (!take_digits(s, 4, &f.year) || !take_digits(s + 5, 2, &f.mon) ||
                    !take_digits(s + 8, 2, &f.day) || !take_digits(s + 11, 2, &f.hour) ||
                    !take_digits(s + 14, 2, &f.min) || !take_digits(s + 17, 2, &f.sec))
                        return -EINVAL;
                pos = 19;
        } else {
                /* 20261125T183328 */
                if (strnlen(s, 15) < 15 || s[8] != 'T')
                        return -EINVAL;
                if (!take_digits(s, 4, &f.year) || !take_digits(s + 4, 2, &f.mon) ||
                    !take_digits(s + 6, 2, &f.day) || !take_digits(s + 9, 2, &f.hour) ||
                    !take_digits(s + 11, 2, &f.min) || !take_digits(s + 13, 2, &f.sec))
                        return -EINVAL;
                pos = 15;
        }

        /* A fraction given to fewer than six digits means the end of that
         * interval, as a missing fraction means the end of the second. */
        f.usec = 999999;
        if (s[pos] == '.') {
                size_t nd = 0;
                unsigned v = 0;

                pos++;
                while (is_digit(s[pos + nd]) && nd < 6) {
                        v = v * 10 + (unsigned)(s[pos + nd] - '0');
                        nd++;
                }
                if (nd == 0 || is_digit(s[pos + nd]))
                        return -EINVAL;
                for (size_t i = nd; i < 6; i++)
                        v = v * 10 + 9;
                f.usec = v;
                pos += nd;
        }
        if (s[pos] == 'Z')
                pos++;
        if (s[pos] != '\0')
                return -EINVAL;
        return encode(&f, ret);
}

bool ts_valid(const char *s, size_t len) {
        struct ts_fields f;

        return s && decode(s, len, &f) == 0;
}

int ts_to_us(const char *ts, int64_t *ret_us) {
        struct ts_fields f;

        if (!ts || !ret_us || decode(ts, strnlen(ts, TS_SIZE), &f) < 0)
                return -EINVAL;
        *ret_us = fields_to_us(&f);
        return 0;
}

int ts_after(const struct timespec *now, const char *last, char ret[TS_SIZE]) {
        struct ts_fields lf;
        int64_t us;

        /* Refuse before the product overflows. */
        if (now->tv_sec < 0 || now->tv_sec > LAST_SECOND || now->tv_nsec < 0 || now->tv_nsec >= 1000000000L)
                return -EINVAL;
        us = (int64_t)now->tv_sec * US_PER_SEC + now->tv_nsec / 1000;
        if (last && last[0] != '\0' && decode(last, strnlen(last, TS_SIZE), &lf) == 0) {
                int64_t last_us = fields_to_us(&lf);
                if (us <= last_us)
                        us = last_us + 1;
        }
        return us_to_ts(us, ret);
}

int ts_next(const char *last, char ret[TS_SIZE]) {
        struct timespec now;

        if (clock_gettime(CLOCK_REALTIME, &now) < 0)
                return -errno;
        return ts_after(&now, last, ret);
}
