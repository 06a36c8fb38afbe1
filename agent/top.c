#include "agent/top.h"

#include <curses.h>
#include <errno.h>
#include <langinfo.h>
#include <limits.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "agent/ctlclient.h"
#include "agent/top_model.h"
#include "core/json.h"
#include "core/strbuf.h"
#include "core/units.h"

#define TOP_DELAY_MIN_US (100ULL * 1000)
#define TOP_DELAY_MAX_US (3600ULL * 1000 * 1000)
#define TOP_DELAY_DEFAULT_US (2ULL * 1000 * 1000)

static const char request[] = "json status\n";

/* Set by the handlers of SIGINT, SIGTERM and SIGHUP. */
static volatile sig_atomic_t quit_signal;

static void on_quit_signal(int sig) {
        quit_signal = sig;
}

enum { PAIR_GOOD = 1, PAIR_WARN, PAIR_BAD, PAIR_HEAD };

struct top {
        struct top_model model;
        char base[PATH_MAX];
        uint64_t delay_us;
        int fd; /* the request in flight, or -1 */
        struct strbuf reply;
        uint64_t asked_us; /* when it was sent */
        uint64_t next_us;  /* when the next one is due */
        int paused;
        int have_data;         /* a document was shown */
        int64_t data_time;     /* when it was taken (wall clock) */
        struct strbuf message; /* in place of the totals; "" for none */
        int message_bad;       /* the agent cannot be reached or refused */
        int exit_code;         /* -1 while running */
        size_t first;          /* the first row shown */
        int colors;
};

static uint64_t mono_us(void) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (uint64_t)t.tv_sec * 1000000 + (uint64_t)t.tv_nsec / 1000;
}

static int usage(FILE *f, int code) {
        fprintf(f, "Usage: agent top [-b BASE | -c FILE] [-d SECONDS]\n"
                   "A live view of the targets of the agent running on BASE (default: the\n"
                   "base_dir of the configuration FILE), refreshed every SECONDS (default 2;\n"
                   "0.5 or 500ms too).  Keys: q quit, p pause, s next sort key, n r m d a c sort\n"
                   "by name, regions, mapped, diffs/min, alerts, last change, R reverse,\n"
                   "arrows PgUp PgDn Home End scroll.\n"
                   "Exit status: 0 quit, 69 no agent running, 77 refused.\n");
        return code;
}

/* -d: seconds ("2", "0.5"), or a duration with its unit ("500ms", "1m"). */
static int parse_delay(const char *s, uint64_t *ret) {
        uint64_t us;
        size_t n = strlen(s);
        if (n && ((s[n - 1] >= '0' && s[n - 1] <= '9') || s[n - 1] == '.')) {
                char *end;
                errno = 0;
                if (s[0] < '0' || s[0] > '9')
                        return -EINVAL;
                unsigned long long whole = strtoull(s, &end, 10);
                if (errno || whole > TOP_DELAY_MAX_US / 1000000)
                        return -ERANGE;
                us = whole * 1000000;
                if (*end == '.') {
                        uint64_t scale = 100000;
                        for (end++; *end >= '0' && *end <= '9'; end++, scale /= 10)
                                us += scale ? (uint64_t)(*end - '0') * scale : 0;
                }
                if (*end)
                        return -EINVAL;
        } else {
                int r = units_parse_duration_us(s, &us);
                if (r < 0)
                        return r;
        }
        if (us < TOP_DELAY_MIN_US || us > TOP_DELAY_MAX_US)
                return -ERANGE;
        *ret = us;
        return 0;
}

static void set_message(struct top *t, int bad, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void set_message(struct top *t, int bad, const char *fmt, ...) {
        va_list ap;
        strbuf_reset(&t->message);
        va_start(ap, fmt);
        strbuf_vprintf(&t->message, fmt, ap);
        va_end(ap);
        t->message_bad = bad;
}

/* The "error" of a failure document, or the body as it is. */
static void failure_text(const char *body, size_t len, struct strbuf *out) {
        struct json_reader jr;
        struct strbuf key;
        size_t count = 0;
        int e, more = 0;
        size_t start = out->len;
        strbuf_init(&key);
        json_read_init(&jr, body, len);
        e = json_read_open(&jr, '{');
        while (e == 0 && (more = json_read_more(&jr, '}', &count)) == 1) {
                if ((e = json_read_key(&jr, &key)) < 0)
                        break;
                if (key.len == 5 && memcmp(key.s, "error", 5) == 0 && out->len == start)
                        e = json_read_string(&jr, out);
                else
                        e = json_read_skip(&jr);
        }
        strbuf_fini(&key);
        if (e < 0 || more < 0 || out->len == start) {
                out->len = start;
                strbuf_append(out, body, len);
        }
}

static void close_request(struct top *t) {
        if (t->fd >= 0)
                close(t->fd);
        t->fd = -1;
        strbuf_reset(&t->reply);
}

/* Says why the agent cannot be asked, keeping the last rows (dimmed) but
 * not the agent's line: that agent may be gone for good. */
static void unreachable(struct top *t, const char *what, int err) {
        char when[32] = "";
        struct tm tm;
        time_t d = (time_t)t->data_time;
        if (t->have_data && localtime_r(&d, &tm))
                strftime(when, sizeof(when), "; rows as of %H:%M:%S", &tm);
        t->model.agent.known = 0;
        set_message(t, 1, "no agent: %s: %s%s; asking every %gs on %s", what, strerror(err), when,
                    (double)t->delay_us / 1e6, t->base);
}

/* Acts on a whole reply.  Returns 0, or a sysexits code to end with. */
static int take_reply(struct top *t) {
        const char *body = NULL;
        size_t len = 0;
        enum ctl_reply_status st = ctl_client_split(&t->reply, &body, &len);
        struct strbuf text;
        int code = 0, r;
        strbuf_init(&text);
        switch (st) {
        case CTL_REPLY_OK:
                r = top_model_update(&t->model, body, len, mono_us());
                if (r < 0) {
                        set_message(t, 1, "agent on %s: its status could not be read (%s)", t->base,
                                    r == -ENOMEM ? "out of memory" : "not the document expected");
                        break;
                }
                t->have_data = 1;
                t->data_time = time(NULL);
                strbuf_reset(&t->message);
                t->message_bad = 0;
                break;
        case CTL_REPLY_FAILED:
        case CTL_REPLY_REFUSED:
                failure_text(body, len, &text);
                /* "No targets" and the like: the agent runs, nothing to show. */
                if (st == CTL_REPLY_FAILED &&
                    top_model_update(&t->model, "{\"targets\":[]}", 14, mono_us()) == 0)
                        t->have_data = 1, t->data_time = time(NULL);
                set_message(t, st == CTL_REPLY_REFUSED, "agent: %s", strbuf_str(&text));
                break;
        case CTL_REPLY_DENIED:
                failure_text(body, len, &text);
                set_message(t, 1, "%s", strbuf_str(&text));
                code = EX_NOPERM;
                break;
        case CTL_REPLY_NONE:
                unreachable(t, "no reply", ECONNRESET);
                break;
        case CTL_REPLY_GARBLED:
                set_message(t, 1, "agent on %s: answered something else than a reply", t->base);
                break;
        }
        strbuf_fini(&text);
        return code;
}

/* Sends the next request.  Returns 0, or a sysexits code to end with. */
static int ask(struct top *t, uint64_t now) {
        const char *where = "";
        pid_t pid;
        t->next_us = now + t->delay_us;
        int fd = ctl_client_connect(t->base, 1, &pid, &where);
        if (fd == -EPERM) {
                set_message(t, 1, "%s/%s: the %s: not talking to it", t->base, CTL_SOCKET, where);
                return EX_NOPERM;
        }
        if (fd < 0) {
                unreachable(t, fd == -EAGAIN ? "busy" : "connect", -fd);
                return 0;
        }
        int r = ctl_client_send(fd, request, sizeof(request) - 1, TOP_REPLY_TIMEOUT_MS);
        if (r < 0) {
                close(fd);
                unreachable(t, "request not sent", -r);
                return 0;
        }
        t->fd = fd;
        t->asked_us = now;
        return 0;
}

/* Reads what came.  Returns 0, or a sysexits code to end with. */
static int receive(struct top *t) {
        int r = ctl_client_read(t->fd, &t->reply), code = 0;
        if (r == 0)
                return 0;
        if (r < 0)
                unreachable(t, "reply", -r);
        else
                code = take_reply(t);
        close_request(t);
        return code;
}

static int sort_column(enum top_sort s) {
        static const enum top_col map[TOP_SORTS] = {
            [TOP_SORT_NAME] = TOP_COL_NAME,     [TOP_SORT_REGIONS] = TOP_COL_REGIONS,
            [TOP_SORT_MAPPED] = TOP_COL_MAPPED, [TOP_SORT_RATE] = TOP_COL_RATE,
            [TOP_SORT_ALERTS] = TOP_COL_ALERTS, [TOP_SORT_LAST] = TOP_COL_LAST,
        };
        return s < TOP_SORTS ? (int)map[s] : -1;
}

/* The rows the screen has for targets. */
static size_t body_rows(void) {
        return LINES > 4 ? (size_t)(LINES - 4) : 0;
}

static void clamp_scroll(struct top *t) {
        size_t rows = body_rows();
        size_t max = t->model.n > rows ? t->model.n - rows : 0;
        if (t->first > max)
                t->first = max;
}

static attr_t pair(const struct top *t, int p) {
        return t->colors ? COLOR_PAIR(p) : 0;
}

static attr_t state_attr(const struct top *t, const struct strbuf *state) {
        const char *s = strbuf_str(state);
        if (strcmp(s, "running") == 0)
                return pair(t, PAIR_GOOD);
        if (strcmp(s, "waiting") == 0 || strcmp(s, "paused") == 0)
                return pair(t, PAIR_WARN);
        if (strcmp(s, "denied") == 0)
                return pair(t, PAIR_BAD) | A_BOLD;
        return A_DIM;
}

static void put(int y, int x, attr_t a, const struct strbuf *s) {
        attrset(a);
        mvaddstr(y, x, strbuf_str(s));
        attrset(A_NORMAL);
}

static void draw(struct top *t) {
        struct top_layout l;
        struct strbuf s;
        int cols = COLS, y = 0;
        int64_t now = time(NULL);
        size_t rows = body_rows();
        strbuf_init(&s);
        clamp_scroll(t);
        top_model_layout(&t->model, cols, &l);
        erase();
        if (top_model_title_line(&t->model, now, t->paused, cols, &s) == 0)
                put(y, 0, A_BOLD, &s);
        y++;
        strbuf_reset(&s);
        if (LINES > 2) {
                if (t->message.len) {
                        if (top_fit(t->message.s, t->message.len, cols, 0, t->model.utf8, &s) == 0)
                                put(y, 0, t->message_bad ? pair(t, PAIR_BAD) | A_BOLD : A_NORMAL, &s);
                } else if (top_model_totals_line(&t->model, cols, &s) == 0) {
                        put(y, 0, A_NORMAL, &s);
                }
                y++;
        }
        strbuf_reset(&s);
        if (LINES > 3) {
                if (top_model_line(&t->model, NULL, &l, cols, now, &s) == 0)
                        put(y, 0, A_REVERSE | pair(t, PAIR_HEAD), &s);
                int sc = sort_column(t->model.sort);
                strbuf_reset(&s);
                if (sc >= 0 && l.shown[sc] && top_model_title(&l, (enum top_col)sc, &s) == 0)
                        put(y, l.x[sc], A_REVERSE | A_BOLD | A_UNDERLINE | pair(t, PAIR_HEAD), &s);
                y++;
        }
        /* Rows of an agent that cannot be reached are dimmed: they are old. */
        attr_t stale = t->message_bad ? A_DIM : 0;
        for (size_t i = t->first; i < t->model.n && i < t->first + rows; i++, y++) {
                const struct top_row *r = t->model.rows[i];
                for (int c = 0; c < TOP_COLS; c++) {
                        if (!l.shown[c])
                                continue;
                        attr_t a = stale;
                        if (c == TOP_COL_STATE)
                                a |= state_attr(t, &r->state);
                        else if (c == TOP_COL_ALERTS && r->alerts)
                                a |= pair(t, PAIR_BAD) | A_BOLD;
                        else if (c == TOP_COL_NAME)
                                a |= A_BOLD;
                        strbuf_reset(&s);
                        if (top_model_cell(&t->model, r, &l, (enum top_col)c, now, &s) == 0)
                                put(y, l.x[c], a, &s);
                }
        }
        strbuf_reset(&s);
        size_t shown = t->model.n - t->first < rows ? t->model.n - t->first : rows;
        if (LINES > 1 && top_model_footer_line(&t->model, t->first, shown, cols, &s) == 0)
                put(LINES - 1, 0, A_REVERSE, &s);
        refresh();
        strbuf_fini(&s);
}

/* Acts on one key.  Returns 1 when it changed what is shown. */
static int key(struct top *t, int ch) {
        static const char sort_keys[] = "nrmdac"; /* in enum top_sort order */
        size_t rows = body_rows();
        const char *k = ch > 0 && ch < 128 ? strchr(sort_keys, ch) : NULL;
        if (k) {
                t->model.sort = (enum top_sort)(k - sort_keys);
                top_model_sort(&t->model);
                return 1;
        }
        switch (ch) {
        case 'q':
        case 'Q':
        case 3: /* Ctrl-C, should the terminal not make it a signal */
                t->exit_code = 0;
                return 0;
        case 'p':
        case ' ':
                t->paused = !t->paused;
                if (!t->paused)
                        t->next_us = 0;
                return 1;
        case 's':
                t->model.sort = (enum top_sort)((t->model.sort + 1) % TOP_SORTS);
                top_model_sort(&t->model);
                return 1;
        case 'R':
                t->model.reverse = !t->model.reverse;
                top_model_sort(&t->model);
                return 1;
        case KEY_UP:
        case 'k':
                t->first -= t->first > 0;
                return 1;
        case KEY_DOWN:
        case 'j':
                t->first++;
                return 1;
        case KEY_PPAGE:
                t->first = t->first > rows ? t->first - rows : 0;
                return 1;
        case KEY_NPAGE:
                t->first += rows;
                return 1;
        case KEY_HOME:
        case 'g':
                t->first = 0;
                return 1;
        case KEY_END:
        case 'G':
                t->first = t->model.n;
                return 1;
        case KEY_RESIZE:
        case 12: /* Ctrl-L */
                clearok(curscr, TRUE);
                return 1;
        default:
                return 0;
        }
}

/* The first request, before the screen is taken: an agent that is not
 * there is an error of the command, as for `agent ctl`.  Returns 0 or a
 * sysexits code (the error printed). */
static int first_contact(struct top *t) {
        const char *where = "";
        pid_t pid;
        int fd = ctl_client_connect(t->base, 0, &pid, &where);
        if (fd == -EPERM) {
                fprintf(stderr, "agent top: %s/%s: the %s: not talking to it\n", t->base, CTL_SOCKET, where);
                return EX_NOPERM;
        }
        if (fd < 0) {
                fprintf(stderr, "agent top: no agent running on %s (%s/%s: %s)\n", t->base, t->base,
                        CTL_SOCKET, strerror(-fd));
                return EX_UNAVAILABLE;
        }
        int r = ctl_client_exchange(fd, request, sizeof(request) - 1, &t->reply, TOP_REPLY_TIMEOUT_MS);
        close(fd);
        if (r < 0) {
                fprintf(stderr, "agent top: no reply from the agent on %s (%s)\n", t->base,
                        r == -ETIMEDOUT ? "timed out" : strerror(-r));
                return EX_UNAVAILABLE;
        }
        const char *body;
        size_t len;
        enum ctl_reply_status st = ctl_client_split(&t->reply, &body, &len);
        int code = take_reply(t);
        if (st == CTL_REPLY_NONE || st == CTL_REPLY_REFUSED || st == CTL_REPLY_GARBLED || code) {
                fprintf(stderr, "agent top: %s\n", strbuf_str(&t->message));
                if (!code)
                        code = st == CTL_REPLY_GARBLED ? EX_PROTOCOL : EX_UNAVAILABLE;
        }
        strbuf_reset(&t->reply);
        t->next_us = mono_us() + t->delay_us;
        return code;
}

static void setup_colors(struct top *t) {
        if (!has_colors() || start_color() == ERR)
                return;
        short bg = COLOR_BLACK;
        if (use_default_colors() == OK)
                bg = -1;
        init_pair(PAIR_GOOD, COLOR_GREEN, bg);
        init_pair(PAIR_WARN, COLOR_YELLOW, bg);
        init_pair(PAIR_BAD, COLOR_RED, bg);
        init_pair(PAIR_HEAD, COLOR_CYAN, bg);
        t->colors = 1;
}

/* The screen's loop: refreshes, keys, resizes, until quit.  Returns the
 * exit code. */
static int run(struct top *t, sigset_t *wait_mask) {
        int dirty = 1;
        t->exit_code = -1;
        while (t->exit_code < 0) {
                if (quit_signal) {
                        t->exit_code = 0;
                        break;
                }
                uint64_t now = mono_us();
                if (t->fd >= 0 && now - t->asked_us >= TOP_REPLY_TIMEOUT_MS * 1000ULL) {
                        close_request(t);
                        unreachable(t, "no reply", ETIMEDOUT);
                        dirty = 1;
                }
                if (t->fd < 0 && !t->paused && now >= t->next_us) {
                        int code = ask(t, now);
                        if (code)
                                return code;
                        dirty = 1;
                }
                if (dirty)
                        draw(t);
                dirty = 0;
                /* Wake for the next refresh, the reply's deadline, or, at
                 * the latest, the clock's next second. */
                uint64_t wake = now + 1000000 - now % 1000000;
                if (t->fd >= 0 && t->asked_us + TOP_REPLY_TIMEOUT_MS * 1000ULL < wake)
                        wake = t->asked_us + TOP_REPLY_TIMEOUT_MS * 1000ULL;
                if (t->fd < 0 && !t->paused && t->next_us < wake)
                        wake = t->next_us;
                struct timespec ts = {0, 0};
                if (wake > now) {
                        ts.tv_sec = (time_t)((wake - now) / 1000000);
                        ts.tv_nsec = (long)((wake - now) % 1000000 * 1000);
                }
                struct pollfd p[2] = {{.fd = STDIN_FILENO, .events = POLLIN},
                                      {.fd = t->fd, .events = POLLIN}};
                int n = ppoll(p, t->fd >= 0 ? 2 : 1, &ts, wait_mask);
                if (n < 0 && errno != EINTR)
                        return EX_OSERR;
                if (n == 0 || mono_us() / 1000000 != now / 1000000)
                        dirty = 1; /* the clock and the ages move on */
                if (n > 0 && (p[0].revents & (POLLHUP | POLLERR | POLLNVAL)))
                        return 0; /* the terminal is gone */
                if (n > 0 && t->fd >= 0 && p[1].revents) {
                        int code = receive(t);
                        if (code)
                                return code;
                        dirty = 1;
                }
                /* Keys, and the KEY_RESIZE ncurses makes of a SIGWINCH. */
                for (int ch; (ch = getch()) != ERR && t->exit_code < 0;)
                        dirty |= key(t, ch);
        }
        return t->exit_code;
}

int tool_top(int argc, char **argv, const char *default_config) {
        const char *base_arg = NULL, *config = NULL;
        struct top t;
        int i;
        memset(&t, 0, sizeof(t));
        t.delay_us = TOP_DELAY_DEFAULT_US;
        t.fd = -1;
        for (i = 1; i < argc; i++) {
                const char *a = argv[i];
                if ((strcmp(a, "-b") == 0 || strcmp(a, "--base") == 0) && i + 1 < argc) {
                        base_arg = argv[++i];
                } else if ((strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) && i + 1 < argc) {
                        config = argv[++i];
                } else if ((strcmp(a, "-d") == 0 || strcmp(a, "--delay") == 0) && i + 1 < argc) {
                        int r = parse_delay(argv[++i], &t.delay_us);
                        if (r < 0) {
                                fprintf(stderr,
                                        "agent top: invalid delay for -d: '%s' (seconds from 0.1 to 3600, "
                                        "or 500ms, 1m)\n",
                                        argv[i]);
                                return usage(stderr, EX_USAGE);
                        }
                } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
                        return usage(stdout, 0);
                } else {
                        fprintf(stderr, "agent top: unexpected argument '%s'\n", a);
                        return usage(stderr, EX_USAGE);
                }
        }
        if (base_arg && config) {
                fprintf(stderr, "agent top: -b and -c exclude each other\n");
                return usage(stderr, EX_USAGE);
        }
        int code = ctl_client_base("agent top", base_arg, config, default_config, t.base, sizeof(t.base));
        if (code)
                return code;

        setlocale(LC_ALL, "");
        top_model_init(&t.model);
        t.model.utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
        strbuf_init(&t.reply);
        strbuf_init(&t.message);
        SCREEN *screen = NULL;
        if ((code = first_contact(&t)) != 0)
                goto out;
        if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
                fprintf(stderr, "agent top: needs a terminal (for scripts: agent ctl --json status)\n");
                code = EX_USAGE;
                goto out;
        }

        /* Quit signals only set a flag; they and SIGWINCH are let through
         * only while the loop waits, so that none is missed between a check
         * and the wait.  ncurses installs its own SIGWINCH (resize: getch
         * then returns KEY_RESIZE) and SIGTSTP (Ctrl-Z) handlers. */
        struct sigaction sa = {.sa_handler = on_quit_signal};
        sigemptyset(&sa.sa_mask);
        sigset_t quit_set, wait_mask;
        sigemptyset(&quit_set);
        for (const int *s = (const int[]){SIGINT, SIGTERM, SIGHUP, 0}; *s; s++) {
                sigaction(*s, &sa, NULL);
                sigaddset(&quit_set, *s);
        }
        sigaddset(&quit_set, SIGWINCH);
        sigprocmask(SIG_BLOCK, &quit_set, &wait_mask);
        sigdelset(&wait_mask, SIGWINCH);
        for (const int *s = (const int[]){SIGINT, SIGTERM, SIGHUP, 0}; *s; s++)
                sigdelset(&wait_mask, *s);

        screen = newterm(NULL, stdout, stdin);
        if (!screen) {
                fprintf(stderr, "agent top: cannot drive this terminal (TERM=%s)\n",
                        getenv("TERM") ? getenv("TERM") : "");
                code = EX_UNAVAILABLE;
                goto out;
        }
        set_term(screen);
        set_escdelay(25);
        cbreak();
        noecho();
        nonl();
        keypad(stdscr, TRUE);
        nodelay(stdscr, TRUE);
        curs_set(0);
        setup_colors(&t);
        code = run(&t, &wait_mask);
        endwin();
        if (code && t.message.len)
                fprintf(stderr, "agent top: %s\n", strbuf_str(&t.message));
out:
        if (screen)
                delscreen(screen);
        close_request(&t);
        top_model_fini(&t.model);
        strbuf_fini(&t.reply);
        strbuf_fini(&t.message);
        return code;
}
