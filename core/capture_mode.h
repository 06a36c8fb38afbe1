/*
 * capture_mode: how the agent learns that a target's mappings changed,
 * `[agent] capture` (core/capture.h is the capture itself).
 */
#ifndef MEMMON_CORE_CAPTURE_MODE_H
#define MEMMON_CORE_CAPTURE_MODE_H

#ifdef __cplusplus
extern "C" {
#endif

enum capture_mode {
        CAPTURE_AUTO, /* eBPF where the kernel and the privileges allow, else poll */
        CAPTURE_POLL, /* read every interval */
        CAPTURE_EBPF, /* eBPF; where it cannot run: an error, then poll */
};

/* "auto", "poll", "ebpf" and a NULL, indexed by enum capture_mode. */
extern const char *const capture_mode_names[];

/* "auto", "poll" or "ebpf"; NULL for a value that is no mode. */
const char *capture_mode_name(enum capture_mode m);

/* Parses a mode's name.  Returns 0 or -EINVAL. */
int capture_mode_from_name(const char *s, enum capture_mode *ret);

#ifdef __cplusplus
}
#endif
#endif
