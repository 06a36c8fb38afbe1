/*
 * prom: a writer of the Prometheus text exposition format (version 0.0.4),
 * the format of node_exporter's textfile collector and of a /metrics page.
 *
 *   # HELP memmon_diffs_total Incremental diffs written.
 *   # TYPE memmon_diffs_total counter
 *   memmon_diffs_total{target="web"} 12
 *
 * A family (HELP and TYPE lines) is started with prom_family(), then its
 * samples follow; every sample of a family must come before the next family
 * starts (Prometheus rejects a family split in two).  Names are checked
 * (metric names [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]*
 * not starting with "__"), a counter's name must end in _total (Prometheus
 * naming), and label values and HELP texts are escaped as the format says:
 * \\ and \n in both, \" in label values.
 *
 * Errors are sticky, like a stdio stream: after the first one every call
 * does nothing and returns it, and prom_writer_error() tells it at the end;
 * the text is then incomplete and must not be published.  Nothing here
 * allocates but the strbuf.
 */
#ifndef MEMMON_CORE_PROM_H
#define MEMMON_CORE_PROM_H

#include <stddef.h>
#include <stdint.h>

#include "core/strbuf.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PROM_NAME_MAX 128

enum prom_type {
        PROM_COUNTER,
        PROM_GAUGE,
        PROM_HISTOGRAM,
};

struct prom_label {
        const char *name;
        const char *value; /* any bytes but NUL; escaped on output */
};

struct prom_writer {
        struct strbuf *out; /* borrowed */
        char family[PROM_NAME_MAX + 1];
        enum prom_type type;
        int err; /* the first error, sticky */
};

/* Histogram buckets for durations in seconds, from 100 us to 10 s: a sample
 * of a small process takes tens of microseconds, one of 60,000 regions tens
 * of milliseconds. */
#define PROM_DURATION_BUCKETS 16
extern const double prom_duration_bounds[PROM_DURATION_BUCKETS];

/* Observations of a duration, to be written as a histogram.  Zero it to
 * start. */
struct prom_histogram {
        uint64_t counts[PROM_DURATION_BUCKETS + 1]; /* per bucket; the last is above every bound */
        uint64_t count;
        double sum;
};

void prom_histogram_observe(struct prom_histogram *h, double seconds);

void prom_writer_init(struct prom_writer *w, struct strbuf *out);
/* The first error (0 or -errno): -EINVAL for a bad name, a counter without
 * _total, a sample outside a family or of the wrong kind; -ENOMEM. */
int prom_writer_error(const struct prom_writer *w);

/* Starts a family: writes its HELP and TYPE lines.  Returns 0 or -errno. */
int prom_family(struct prom_writer *w, const char *name, enum prom_type type, const char *help);
/* A sample of the current counter or gauge family: NAME{labels} value.
 * Returns 0 or -errno. */
int prom_sample(struct prom_writer *w, const struct prom_label *labels, size_t n_labels, double value);
/* The same with an exact integer value (counters past 2^53 stay exact). */
int prom_sample_u64(struct prom_writer *w, const struct prom_label *labels, size_t n_labels, uint64_t value);
/* The samples of the current histogram family for one label set:
 * NAME_bucket{labels,le="..."} (cumulative, up to le="+Inf"), NAME_sum and
 * NAME_count.  labels must not hold "le".  Returns 0 or -errno. */
int prom_histogram_write(struct prom_writer *w, const struct prom_label *labels, size_t n_labels,
                         const struct prom_histogram *h);

#ifdef __cplusplus
}
#endif
#endif
