#include "agent/notify.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>

uint64_t notify_now_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000;
}

int notify_watchdog_usec(uint64_t *ret_usec) {
        uint64_t usec = 0;
        /* Never unset the variables: later messages still need them. */
        int r = sd_watchdog_enabled(0, &usec);
        if (r <= 0)
                return r;
        if (usec == 0)
                return 0;
        *ret_usec = usec;
        return 1;
}

int notify_init(struct notify *n) {
        memset(n, 0, sizeof(*n));
        n->enabled = getenv("NOTIFY_SOCKET") != NULL;
        uint64_t usec;
        int r = notify_watchdog_usec(&usec);
        /* Pings would go nowhere without a socket. */
        if (r > 0 && n->enabled) {
                n->watchdog_usec = usec;
                n->next_ping_us = notify_now_us();
        }
        return r < 0 ? r : 0;
}

/* sd_notify() returns > 0 when sent, 0 without a socket. */
static int send_state(const struct notify *n, const char *state) {
        if (!n->enabled)
                return 0;
        int r = sd_notify(0, state);
        return r < 0 ? r : 0;
}

int notify_ready(struct notify *n) {
        return send_state(n, "READY=1");
}

int notify_reloading(struct notify *n) {
        char msg[64];
        int len = snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%" PRIu64, notify_now_us());
        if (len < 0 || (size_t)len >= sizeof(msg))
                return -ENOBUFS;
        return send_state(n, msg);
}

int notify_stopping(struct notify *n) {
        return send_state(n, "STOPPING=1");
}

int notify_status_due(const struct notify *n, uint64_t now_us) {
        return n->enabled && (!n->status_valid || now_us - n->status_checked_us >= NOTIFY_STATUS_INTERVAL_US);
}

int notify_status(struct notify *n, const char *text, int force) {
        if (!n->enabled)
                return 0;
        char line[NOTIFY_STATUS_MAX];
        size_t len = strcspn(text, "\n");
        if (len >= sizeof(line))
                len = sizeof(line) - 1;
        memcpy(line, text, len);
        line[len] = '\0';
        uint64_t now = notify_now_us();
        if (!force && !notify_status_due(n, now))
                return 0;
        /* An unchanged text counts as a refresh, so that the caller is not
         * asked again before the interval has passed. */
        n->status_checked_us = now;
        if (!force && n->status_valid && strcmp(line, n->status) == 0)
                return 0;
        char msg[sizeof("STATUS=") + NOTIFY_STATUS_MAX];
        int mlen = snprintf(msg, sizeof(msg), "STATUS=%s", line);
        if (mlen < 0 || (size_t)mlen >= sizeof(msg))
                return -ENOBUFS;
        int r = send_state(n, msg);
        if (r < 0)
                return r;
        memcpy(n->status, line, len + 1);
        n->status_valid = 1;
        return 1;
}

int notify_watchdog_due(const struct notify *n, uint64_t now_us) {
        return n->watchdog_usec > 0 && now_us >= n->next_ping_us;
}

int notify_watchdog_tick(struct notify *n, uint64_t now_us, int healthy) {
        if (!notify_watchdog_due(n, now_us))
                return 0;
        if (!healthy) {
                uint64_t again = n->watchdog_usec / 10;
                n->next_ping_us = now_us + (again ? again : 1);
                return 0;
        }
        n->next_ping_us = now_us + (n->watchdog_usec / 2 ? n->watchdog_usec / 2 : 1);
        int r = send_state(n, "WATCHDOG=1");
        return r < 0 ? r : 1;
}

/* Milliseconds from now to at, rounded up so that poll() never wakes a
 * little early and spins; 0 when at has passed. */
static int ms_until(uint64_t now_us, uint64_t at_us) {
        if (at_us <= now_us)
                return 0;
        uint64_t ms = (at_us - now_us + 999) / 1000;
        return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

int notify_timeout_ms(const struct notify *n, uint64_t now_us) {
        int t = -1;
        if (n->watchdog_usec > 0)
                t = ms_until(now_us, n->next_ping_us);
        if (n->enabled) {
                int s =
                    n->status_valid ? ms_until(now_us, n->status_checked_us + NOTIFY_STATUS_INTERVAL_US) : 0;
                if (t < 0 || s < t)
                        t = s;
        }
        return t;
}
