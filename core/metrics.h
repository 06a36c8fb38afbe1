/*
 * metrics: memmon's series in the Prometheus text format, for the file that
 * node_exporter's textfile collector reads (`[agent] metrics_file`) and for
 * `agent ctl metrics`.  A pure function of the values it is given; the agent
 * gathers them from its workers.  The text holds counts and names, never an
 * address.
 *
 * Series (every one labelled with target= but build_info):
 *   memmon_build_info{version}                 gauge, 1
 *   memmon_target_info{target,selector}        gauge, 1
 *   memmon_target_state{target,state}          gauge, 1 for the current state, 0 for the others
 *   memmon_regions{target}                     gauge
 *   memmon_mapped_bytes{target,kind}           gauge; kind: anon, file, heap, stack, other
 *   memmon_exec_bytes{target}                  gauge
 *   memmon_diffs_total{target}                 counter
 *   memmon_full_backups_total{target}          counter
 *   memmon_unstable_samples_total{target}      counter
 *   memmon_alerts_total{target,rule}           counter (only the rules that fired)
 *   memmon_sample_duration_seconds{target}     histogram
 *   memmon_last_change_timestamp_seconds{target} gauge, Unix time (absent before the first change)
 *   memmon_backup_bytes{target}                gauge
 *   memmon_write_errors_total{target}          counter
 *   memmon_capture_events_total{target}        counter (eBPF capture: events kept in the chain)
 *   memmon_capture_lost_events_total{target}   counter (eBPF capture: events lost)
 *   memmon_capture_fallbacks_total{target}     counter (eBPF capture: back to polling after losses)
 * and, from metrics_write_capture():
 *   memmon_capture_info{mode}                  gauge, 1; mode: ebpf or poll
 *   memmon_proc_scans_total                    counter (scans of /proc for `match` targets)
 */
#ifndef MEMMON_CORE_METRICS_H
#define MEMMON_CORE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "core/prom.h"
#include "core/strbuf.h"
#include "core/worker.h"

#ifdef __cplusplus
extern "C" {
#endif

enum metrics_kind {
        METRICS_ANON,
        METRICS_FILE,
        METRICS_HEAP,
        METRICS_STACK,
        METRICS_OTHER,
        METRICS_KINDS,
};

const char *metrics_kind_name(enum metrics_kind k);

struct metrics_rule_count {
        const char *rule;
        uint64_t count;
};

/* One target's values.  Strings are borrowed. */
struct metrics_target {
        const char *name;
        const char *selector; /* how it is found: "pid 1234", "pidfile /run/x.pid", ... */
        enum target_state state;
        uint64_t regions;
        uint64_t mapped_bytes[METRICS_KINDS];
        uint64_t exec_bytes;
        uint64_t diffs;
        uint64_t full_backups;
        uint64_t unstable; /* change ticks whose reads never agreed */
        const struct metrics_rule_count *alerts;
        size_t n_alerts;
        struct prom_histogram sample_duration;
        double last_change; /* Unix time in seconds; 0: no change yet */
        uint64_t backup_bytes;
        uint64_t write_errors;
        uint64_t capture_events;
        uint64_t capture_lost;
        uint64_t capture_fallbacks;
};

/* Appends every family for targets[0..n) to out.  Returns 0, or -EINVAL
 * (a bad label value cannot happen: values are escaped) or -ENOMEM; out
 * then holds an incomplete text that must not be published. */
int metrics_write(struct strbuf *out, const char *version, const struct metrics_target *targets, size_t n);

/* Appends the agent's capture: its mode ("ebpf" or "poll") and the scans
 * of /proc made for `match` targets.  Returns as metrics_write(). */
int metrics_write_capture(struct strbuf *out, const char *mode, uint64_t proc_scans);

#ifdef __cplusplus
}
#endif
#endif
