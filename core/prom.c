#include "core/prom.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const double prom_duration_bounds[PROM_DURATION_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

void prom_histogram_observe(struct prom_histogram *h, double seconds) {
        size_t i = 0;
        while (i < PROM_DURATION_BUCKETS && seconds > prom_duration_bounds[i])
                i++;
        h->counts[i]++;
        h->count++;
        h->sum += seconds;
}

void prom_writer_init(struct prom_writer *w, struct strbuf *out) {
        memset(w, 0, sizeof(*w));
        w->out = out;
}

int prom_writer_error(const struct prom_writer *w) {
        return w->err;
}

static int fail(struct prom_writer *w, int err) {
        if (!w->err)
                w->err = err;
        return w->err;
}

static bool name_char(char c, bool first, bool colon) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':') ||
               (!first && c >= '0' && c <= '9');
}

/* Metric names may hold ':', label names may not. */
static bool valid_name(const char *s, bool metric) {
        size_t len = strlen(s);
        if (len == 0 || len > PROM_NAME_MAX)
                return false;
        for (size_t i = 0; i < len; i++)
                if (!name_char(s[i], i == 0, metric))
                        return false;
        return metric || strncmp(s, "__", 2) != 0;
}

static bool ends_with(const char *s, const char *suffix) {
        size_t a = strlen(s), b = strlen(suffix);
        return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Appends s with \\ and \n escaped, and \" too when quote is set. */
static int put_escaped(struct strbuf *b, const char *s, bool quote) {
        const char *run = s;
        for (; *s; s++) {
                const char *esc = *s == '\\'             ? "\\\\"
                                  : *s == '\n'           ? "\\n"
                                  : (quote && *s == '"') ? "\\\""
                                                         : NULL;
                if (!esc)
                        continue;
                if (strbuf_append(b, run, (size_t)(s - run)) < 0 || strbuf_append(b, esc, 2) < 0)
                        return -ENOMEM;
                run = s + 1;
        }
        return strbuf_append(b, run, (size_t)(s - run));
}

int prom_family(struct prom_writer *w, const char *name, enum prom_type type, const char *help) {
        static const char *const type_names[] = {"counter", "gauge", "histogram"};
        if (w->err)
                return w->err;
        if (!valid_name(name, true) || (unsigned)type > PROM_HISTOGRAM ||
            (type == PROM_COUNTER) != ends_with(name, "_total"))
                return fail(w, -EINVAL);
        if (strbuf_printf(w->out, "# HELP %s ", name) < 0 || put_escaped(w->out, help, false) < 0 ||
            strbuf_printf(w->out, "\n# TYPE %s %s\n", name, type_names[type]) < 0)
                return fail(w, -ENOMEM);
        memcpy(w->family, name, strlen(name) + 1);
        w->type = type;
        return 0;
}

/* NAME{a="x",b="y" and, with le, ,le="..."} */
static int put_series(struct prom_writer *w, const char *suffix, const struct prom_label *labels, size_t n,
                      const char *le) {
        if (strbuf_printf(w->out, "%s%s", w->family, suffix) < 0)
                return -ENOMEM;
        if (n == 0 && !le)
                return 0;
        for (size_t i = 0; i < n; i++) {
                if (!valid_name(labels[i].name, false) || (le && strcmp(labels[i].name, "le") == 0) ||
                    !labels[i].value)
                        return -EINVAL;
                if (strbuf_printf(w->out, "%s%s=\"", i ? "," : "{", labels[i].name) < 0 ||
                    put_escaped(w->out, labels[i].value, true) < 0 || strbuf_append(w->out, "\"", 1) < 0)
                        return -ENOMEM;
        }
        if (le && strbuf_printf(w->out, "%sle=\"%s\"", n ? "," : "{", le) < 0)
                return -ENOMEM;
        return strbuf_append(w->out, "}", 1);
}

/* Values as Go's strconv writes them back (node_exporter re-exposes them):
 * shortest exact form, and the format's own words for the rest. */
static int put_double(struct strbuf *b, double v) {
        if (isnan(v))
                return strbuf_append(b, " NaN\n", 5);
        if (isinf(v))
                return v > 0 ? strbuf_append(b, " +Inf\n", 6) : strbuf_append(b, " -Inf\n", 6);
        char buf[64];
        for (int prec = 1; prec <= 17; prec++) {
                snprintf(buf, sizeof(buf), "%.*g", prec, v);
                if (strtod(buf, NULL) == v)
                        break;
        }
        return strbuf_printf(b, " %s\n", buf);
}

static int check_sample(struct prom_writer *w, enum prom_type want) {
        if (w->err)
                return w->err;
        if (!w->family[0] || (want == PROM_HISTOGRAM) != (w->type == PROM_HISTOGRAM))
                return fail(w, -EINVAL);
        return 0;
}

int prom_sample(struct prom_writer *w, const struct prom_label *labels, size_t n_labels, double value) {
        int r = check_sample(w, PROM_GAUGE);
        if (r < 0)
                return r;
        if ((r = put_series(w, "", labels, n_labels, NULL)) < 0 || (r = put_double(w->out, value)) < 0)
                return fail(w, r);
        return 0;
}

int prom_sample_u64(struct prom_writer *w, const struct prom_label *labels, size_t n_labels, uint64_t value) {
        int r = check_sample(w, PROM_GAUGE);
        if (r < 0)
                return r;
        if ((r = put_series(w, "", labels, n_labels, NULL)) < 0 ||
            (r = strbuf_printf(w->out, " %" PRIu64 "\n", value)) < 0)
                return fail(w, r);
        return 0;
}

int prom_histogram_write(struct prom_writer *w, const struct prom_label *labels, size_t n_labels,
                         const struct prom_histogram *h) {
        int r = check_sample(w, PROM_HISTOGRAM);
        if (r < 0)
                return r;
        uint64_t cumulative = 0;
        char le[32];
        for (size_t i = 0; i <= PROM_DURATION_BUCKETS; i++) {
                cumulative += h->counts[i];
                if (i < PROM_DURATION_BUCKETS)
                        snprintf(le, sizeof(le), "%g", prom_duration_bounds[i]);
                else
                        snprintf(le, sizeof(le), "+Inf");
                if ((r = put_series(w, "_bucket", labels, n_labels, le)) < 0 ||
                    (r = strbuf_printf(w->out, " %" PRIu64 "\n", cumulative)) < 0)
                        return fail(w, r);
        }
        if ((r = put_series(w, "_sum", labels, n_labels, NULL)) < 0 || (r = put_double(w->out, h->sum)) < 0 ||
            (r = put_series(w, "_count", labels, n_labels, NULL)) < 0 ||
            (r = strbuf_printf(w->out, " %" PRIu64 "\n", h->count)) < 0)
                return fail(w, r);
        return 0;
}
