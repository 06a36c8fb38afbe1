/*
 * capture: which capture the agent runs, decided once at start by
 * `[agent] capture` and what the machine allows, and why (core/capture.h,
 * capture/bpfcap.h); and the capture's exec records handed to the workers
 * of `match` targets.
 */
#ifndef MEMMON_AGENT_CAPTURE_H
#define MEMMON_AGENT_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

#include "agent/log.h"
#include "core/capture.h"
#include "core/worker.h"

#ifdef __cplusplus
extern "C" {
#endif

struct agent_capture;

/* Decides the capture for mode: poll when asked; else loads the eBPF
 * capture (its mapping ring of ring_bytes, rounded down to a power of two;
 * 0: the default) and starts its thread, and where it cannot run, polls
 * with the reason.  Logs the choice and the reason once (an error when
 * `ebpf` was asked for and cannot run; the agent polls then, it does not
 * refuse to start).  Call with the agent's signals blocked.  Returns 0 and
 * *ret, or -ENOMEM. */
int agent_capture_start(enum capture_mode mode, uint64_t ring_bytes, struct agent_log *log,
                        struct agent_capture **ret);

/* Unloads and frees; accepts NULL. */
void agent_capture_free(struct agent_capture *c);

/* "ebpf", or "poll (WHY)" ("poll (capture = poll)", "poll (needs CAP_BPF
 * and CAP_PERFMON (or root))"), for `status`: borrowed from c. */
const char *agent_capture_describe(const struct agent_capture *c);

/* "ebpf" or "poll" (the metrics' mode). */
const char *agent_capture_mode(const struct agent_capture *c);

/* The capture the workers get, or NULL when they poll.  Borrowed from c. */
const struct capture_source *agent_capture_source(const struct agent_capture *c);

/* From now on the capture's exec records go to the workers of reg
 * (worker_registry_exec); NULL: to nobody (before reg goes away).  When it
 * returns, no record is being handed to the registry before. */
void agent_capture_route(struct agent_capture *c, struct worker_registry *reg);

#ifdef __cplusplus
}
#endif
#endif
