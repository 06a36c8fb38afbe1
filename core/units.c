#include "core/units.h"

#include <errno.h>
#include <string.h>

/* Reads the leading decimal digits of s.  Returns the number of digits, 0
 * when there are none, or -ERANGE on overflow. */
static int parse_digits(const char *s, uint64_t *ret) {
        uint64_t v = 0;
        int n = 0;
        for (; s[n] >= '0' && s[n] <= '9'; n++) {
                unsigned d = (unsigned)(s[n] - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        *ret = v;
        return n;
}

static int scale(uint64_t v, uint64_t mult, uint64_t *ret) {
        if (mult && v > UINT64_MAX / mult)
                return -ERANGE;
        *ret = v * mult;
        return 0;
}

int units_parse_duration_us(const char *s, uint64_t *ret) {
        static const struct {
                const char *suffix;
                uint64_t us;
        } suffixes[] = {
            {"", 1}, {"us", 1}, {"ms", 1000}, {"s", 1000000}, {"m", 60000000ULL}, {"h", 3600000000ULL},
        };
        uint64_t v;
        int n = parse_digits(s, &v);
        if (n < 0)
                return n;
        if (n == 0)
                return -EINVAL;
        for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++)
                if (strcmp(s + n, suffixes[i].suffix) == 0)
                        return scale(v, suffixes[i].us, ret);
        return -EINVAL;
}

int units_parse_interval_us(const char *s, uint64_t *ret) {
        uint64_t us;
        int r = units_parse_duration_us(s, &us);
        if (r < 0)
                return r;
        if (us < INTERVAL_MIN_US || us > INTERVAL_MAX_US)
                return -ERANGE;
        *ret = us;
        return 0;
}

int units_parse_size(const char *s, uint64_t *ret) {
        uint64_t v;
        int n = parse_digits(s, &v);
        if (n < 0)
                return n;
        if (n == 0)
                return -EINVAL;
        const char *p = s + n;
        uint64_t mult = 1;
        switch (*p) {
        case 'K':
        case 'k':
                mult = 1ULL << 10;
                break;
        case 'M':
                mult = 1ULL << 20;
                break;
        case 'G':
                mult = 1ULL << 30;
                break;
        case 'T':
                mult = 1ULL << 40;
                break;
        case 'B':
        case '\0':
                break;
        default:
                return -EINVAL;
        }
        if (mult != 1)
                p++;
        if (strcmp(p, "") != 0 && strcmp(p, "B") != 0 && !(mult != 1 && strcmp(p, "iB") == 0))
                return -EINVAL;
        return scale(v, mult, ret);
}
