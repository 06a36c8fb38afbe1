#include "core/metrics.h"

/* The worker counts bytes by region kind in this order. */
_Static_assert((int)METRICS_KINDS == (int)REGION_KINDS && (int)METRICS_ANON == (int)REGION_ANON &&
                   (int)METRICS_FILE == (int)REGION_FILE && (int)METRICS_HEAP == (int)REGION_HEAP &&
                   (int)METRICS_STACK == (int)REGION_STACK && (int)METRICS_OTHER == (int)REGION_OTHER,
               "metrics kinds follow enum region_kind");

const char *metrics_kind_name(enum metrics_kind k) {
        static const char *const names[METRICS_KINDS] = {"anon", "file", "heap", "stack", "other"};
        return (unsigned)k < METRICS_KINDS ? names[k] : "other";
}

/* One family with one sample per target, labelled target=NAME. */
static void per_target(struct prom_writer *w, const char *name, enum prom_type type, const char *help,
                       const struct metrics_target *t, size_t n, size_t field) {
        prom_family(w, name, type, help);
        for (size_t i = 0; i < n; i++) {
                struct prom_label l = {"target", t[i].name};
                prom_sample_u64(w, &l, 1, *(const uint64_t *)((const char *)&t[i] + field));
        }
}

int metrics_write(struct strbuf *out, const char *version, const struct metrics_target *t, size_t n) {
        struct prom_writer w;
        prom_writer_init(&w, out);

        prom_family(&w, "memmon_build_info", PROM_GAUGE, "memmon's version, as a label; always 1.");
        struct prom_label v = {"version", version};
        prom_sample_u64(&w, &v, 1, 1);

        prom_family(&w, "memmon_target_info", PROM_GAUGE,
                    "A watched target and how its process is found; always 1.");
        for (size_t i = 0; i < n; i++) {
                struct prom_label l[2] = {{"target", t[i].name}, {"selector", t[i].selector}};
                prom_sample_u64(&w, l, 2, 1);
        }

        prom_family(
            &w, "memmon_target_state", PROM_GAUGE,
            "1 for the state the target is in (waiting, running, paused, exited, denied, stopped), 0 for the "
            "others.");
        for (size_t i = 0; i < n; i++) {
                for (int s = TARGET_WAITING; s <= TARGET_STOPPED; s++) {
                        struct prom_label l[2] = {{"target", t[i].name},
                                                  {"state", target_state_name((enum target_state)s)}};
                        prom_sample_u64(&w, l, 2, t[i].state == (enum target_state)s);
                }
        }

        per_target(&w, "memmon_regions", PROM_GAUGE, "Regions (lines of /proc/PID/maps) at the last sample.",
                   t, n, offsetof(struct metrics_target, regions));

        prom_family(&w, "memmon_mapped_bytes", PROM_GAUGE,
                    "Bytes mapped at the last sample, by kind of region (anon, file, heap, stack, other).");
        for (size_t i = 0; i < n; i++) {
                for (int k = 0; k < METRICS_KINDS; k++) {
                        struct prom_label l[2] = {{"target", t[i].name},
                                                  {"kind", metrics_kind_name((enum metrics_kind)k)}};
                        prom_sample_u64(&w, l, 2, t[i].mapped_bytes[k]);
                }
        }

        per_target(&w, "memmon_exec_bytes", PROM_GAUGE, "Bytes mapped executable at the last sample.", t, n,
                   offsetof(struct metrics_target, exec_bytes));
        per_target(&w, "memmon_diffs_total", PROM_COUNTER, "Incremental diffs written.", t, n,
                   offsetof(struct metrics_target, diffs));
        per_target(&w, "memmon_full_backups_total", PROM_COUNTER, "Full snapshots written.", t, n,
                   offsetof(struct metrics_target, full_backups));
        per_target(&w, "memmon_unstable_samples_total", PROM_COUNTER,
                   "Change ticks whose maps never held still: no two consecutive reads agreed.", t, n,
                   offsetof(struct metrics_target, unstable));

        size_t alerts = 0;
        for (size_t i = 0; i < n; i++)
                alerts += t[i].n_alerts;
        if (alerts) {
                prom_family(&w, "memmon_alerts_total", PROM_COUNTER, "Alerts raised, by rule.");
                for (size_t i = 0; i < n; i++) {
                        for (size_t j = 0; j < t[i].n_alerts; j++) {
                                struct prom_label l[2] = {{"target", t[i].name},
                                                          {"rule", t[i].alerts[j].rule}};
                                prom_sample_u64(&w, l, 2, t[i].alerts[j].count);
                        }
                }
        }

        prom_family(&w, "memmon_sample_duration_seconds", PROM_HISTOGRAM,
                    "Time one sample took: reading the maps and, when they changed, parsing, comparing and "
                    "writing.");
        for (size_t i = 0; i < n; i++) {
                struct prom_label l = {"target", t[i].name};
                prom_histogram_write(&w, &l, 1, &t[i].sample_duration);
        }

        prom_family(&w, "memmon_last_change_timestamp_seconds", PROM_GAUGE,
                    "When the maps last changed, in seconds since the epoch.");
        for (size_t i = 0; i < n; i++) {
                struct prom_label l = {"target", t[i].name};
                if (t[i].last_change > 0)
                        prom_sample(&w, &l, 1, t[i].last_change);
        }

        per_target(&w, "memmon_backup_bytes", PROM_GAUGE, "Bytes of backups kept for the target.", t, n,
                   offsetof(struct metrics_target, backup_bytes));
        per_target(&w, "memmon_write_errors_total", PROM_COUNTER, "Backups that could not be written.", t, n,
                   offsetof(struct metrics_target, write_errors));
        per_target(&w, "memmon_capture_events_total", PROM_COUNTER,
                   "eBPF capture: mapping events kept in the target's chain.", t, n,
                   offsetof(struct metrics_target, capture_events));
        per_target(&w, "memmon_capture_lost_events_total", PROM_COUNTER,
                   "eBPF capture: mapping events lost (the kernel's ring or the target's queue was full).", t,
                   n, offsetof(struct metrics_target, capture_lost));
        per_target(&w, "memmon_capture_fallbacks_total", PROM_COUNTER,
                   "eBPF capture: times the target went back to polling because events were lost again and "
                   "again.",
                   t, n, offsetof(struct metrics_target, capture_fallbacks));
        return prom_writer_error(&w);
}

int metrics_write_capture(struct strbuf *out, const char *mode, uint64_t proc_scans) {
        struct prom_writer w;
        struct prom_label l = {"mode", mode};

        prom_writer_init(&w, out);
        prom_family(&w, "memmon_capture_info", PROM_GAUGE,
                    "How the agent learns of changes (ebpf or poll), as a label; always 1.");
        prom_sample_u64(&w, &l, 1, 1);
        prom_family(&w, "memmon_proc_scans_total", PROM_COUNTER,
                    "Scans of /proc made to find the processes of match targets.");
        prom_sample_u64(&w, NULL, 0, proc_scans);
        return prom_writer_error(&w);
}
