/*
 * notify: the agent's messages to its service manager through sd_notify(3)
 * (libsystemd): readiness, reloading, stopping, a one-line status, and
 * watchdog pings.
 *
 * Without $NOTIFY_SOCKET every message is a no-op that returns 0, so callers
 * need not ask whether they run under systemd.  The struct belongs to the
 * control thread; nothing here is thread-safe.  The module never logs: each
 * call returns -errno and the caller reports it.
 *
 * Times are CLOCK_MONOTONIC microseconds (notify_now_us()), the clock systemd
 * expects in MONOTONIC_USEC=.
 */
#ifndef MEMMON_AGENT_NOTIFY_H
#define MEMMON_AGENT_NOTIFY_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* STATUS= is refreshed at most this often unless forced: the status line
 * is for people, and systemd keeps every message it gets in its state. */
#define NOTIFY_STATUS_INTERVAL_US (10ULL * 1000 * 1000)
/* A status line longer than this is cut (systemd shows one line anyway). */
#define NOTIFY_STATUS_MAX 256

struct notify {
        int enabled;                /* $NOTIFY_SOCKET is set */
        uint64_t watchdog_usec;     /* WatchdogSec=, 0 when off */
        uint64_t next_ping_us;      /* when the watchdog wants to hear from us */
        uint64_t status_checked_us; /* when STATUS= last went out or was found unchanged */
        int status_valid;           /* status[] holds what was last sent */
        char status[NOTIFY_STATUS_MAX];
};

/* Reads the environment: $NOTIFY_SOCKET and the watchdog (see
 * notify_watchdog_usec()).  The first ping is due at once.  Returns 0, or
 * -EINVAL when WATCHDOG_USEC is malformed (the watchdog is then off and the
 * other messages still work). */
int notify_init(struct notify *n);

/* The watchdog period systemd asked for: WATCHDOG_USEC, when WATCHDOG_PID is
 * unset or is this process (sd_watchdog_enabled(3)).  Returns 1 with
 * *ret_usec set, 0 when there is no watchdog for us, or -errno. */
int notify_watchdog_usec(uint64_t *ret_usec);

uint64_t notify_now_us(void);

/* READY=1: start-up (or a reload) is complete.  Returns 0 or -errno. */
int notify_ready(struct notify *n);
/* RELOADING=1 with MONOTONIC_USEC= (now): a reload begins; end it with
 * notify_ready().  Returns 0 or -errno. */
int notify_reloading(struct notify *n);
/* STOPPING=1: the agent is on its way out.  Returns 0 or -errno. */
int notify_stopping(struct notify *n);

/* STATUS=text (its first line, cut to NOTIFY_STATUS_MAX - 1 bytes).  Unless
 * force is set, nothing is sent when the same text went out last or when
 * the last STATUS= is younger than NOTIFY_STATUS_INTERVAL_US.  Returns 1
 * when sent, 0 when not (rate limit, unchanged, no socket), or -errno. */
int notify_status(struct notify *n, const char *text, int force);
/* True when a STATUS= refresh is due: notify_status() without force would
 * send a changed text now. */
int notify_status_due(const struct notify *n, uint64_t now_us);

/* True when the watchdog is on and its next ping is due at now_us. */
int notify_watchdog_due(const struct notify *n, uint64_t now_us);
/* Handles a due ping: sends WATCHDOG=1 when healthy and schedules the next
 * one half a period later.  When not healthy it sends nothing and looks
 * again after a tenth of the period, so that an agent that recovers pings
 * before systemd gives up on it, and one that does not is killed.  Returns
 * 1 when a ping went out, 0 when not, or -errno. */
int notify_watchdog_tick(struct notify *n, uint64_t now_us, int healthy);

/* The poll(2) timeout until the next ping or status refresh is due: 0 when
 * one is due now, -1 when nothing is scheduled (no socket). */
int notify_timeout_ms(const struct notify *n, uint64_t now_us);

#ifdef __cplusplus
}
#endif
#endif
