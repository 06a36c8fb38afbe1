#include "agent/prompt.h"

#include <errno.h>
#include <fcntl.h>
#include <histedit.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct prompt {
        struct prompt_host host;
        EditLine *el;
        History *hist;
        int dir_fd; /* the trusted $HOME, or -1: history in memory only */
        int err;    /* why reading failed, for prompt_read() */
        char *line; /* the last line returned */
        size_t line_cap;
        char note[512];
};

/* A dynamic list of completion candidates. */
struct matches {
        const char *prefix; /* what the word so far must start with */
        size_t prefix_len;
        const char *lead; /* "@" for target names, "" for words */
        char **v;
        size_t n, cap;
        int failed;
};

int prompt_is_terminal(void) {
        return isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
}

/* Lines that a history file may hold: commands are printable ASCII. */
static int printable(const char *s, size_t len) {
        for (size_t i = 0; i < len; i++)
                if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
                        return 0;
        return 1;
}

static int blank_only(const char *s, size_t len) {
        for (size_t i = 0; i < len; i++)
                if (s[i] != ' ' && s[i] != '\t')
                        return 0;
        return 1;
}

/* A folder or file the effective user may trust: owned by it and writable by
 * nobody else. */
static int owned_and_private(const struct stat *st) {
        return st->st_uid == geteuid() && (st->st_mode & 022) == 0;
}

static void set_note(struct prompt *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_note(struct prompt *p, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(p->note, sizeof(p->note), fmt, ap);
        va_end(ap);
        if (n < 0)
                snprintf(p->note, sizeof(p->note), "history kept in memory only");
}

/* Opens $HOME when history may be kept there; else leaves dir_fd at -1 and
 * says why in note. */
static void history_open_dir(struct prompt *p) {
        const char *home = getenv("HOME");
        if (!home || home[0] != '/') {
                set_note(p, "history kept in memory only: HOME is not an absolute path");
                return;
        }
        int fd = open(home, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
                set_note(p, "history kept in memory only: %s: %s", home, strerror(errno));
                return;
        }
        struct stat st;
        if (fstat(fd, &st) < 0) {
                set_note(p, "history kept in memory only: %s: %s", home, strerror(errno));
                close(fd);
                return;
        }
        if (!owned_and_private(&st)) {
                if (st.st_uid != geteuid())
                        set_note(p, "history kept in memory only: %s belongs to uid %u, not to uid %u", home,
                                 (unsigned)st.st_uid, (unsigned)geteuid());
                else
                        set_note(p, "history kept in memory only: others may write to %s", home);
                close(fd);
                return;
        }
        p->dir_fd = fd;
}

static void history_add(struct prompt *p, const char *line, size_t len) {
        HistEvent ev;
        /* Completion leaves a blank after the word. */
        while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
                len--;
        if (len == 0 || len > p->host.max_line || blank_only(line, len) || !printable(line, len))
                return;
        char *copy = strndup(line, len);
        if (!copy)
                return;
        (void)history(p->hist, &ev, H_ENTER, copy);
        free(copy);
}

static void history_load(struct prompt *p) {
        int fd =
            openat(p->dir_fd, PROMPT_HISTORY_NAME, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0) {
                if (errno != ENOENT)
                        set_note(p, "history not read: ~/%s: %s", PROMPT_HISTORY_NAME,
                                 errno == ELOOP ? "a symlink" : strerror(errno));
                return;
        }
        struct stat st;
        char *buf = NULL;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || !owned_and_private(&st) || st.st_nlink != 1 ||
            st.st_size > PROMPT_HISTORY_FILE_MAX) {
                set_note(p,
                         "history not read: ~/%s is not a private regular file of ours, without other links, "
                         "under %d bytes",
                         PROMPT_HISTORY_NAME, PROMPT_HISTORY_FILE_MAX);
                goto out;
        }
        buf = malloc((size_t)st.st_size + 1);
        if (!buf)
                goto out;
        size_t got = 0;
        while (got < (size_t)st.st_size) {
                ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                got += (size_t)n;
        }
        for (size_t i = 0; i < got;) {
                size_t end = i;
                while (end < got && buf[end] != '\n')
                        end++;
                history_add(p, buf + i, end - i);
                i = end + 1;
        }
out:
        free(buf);
        close(fd);
}

static int write_history_fd(struct prompt *p, int fd) {
        FILE *f = fdopen(fd, "w");
        if (!f) {
                int e = -errno;
                close(fd);
                return e;
        }
        HistEvent ev;
        /* H_LAST is the oldest entry; H_PREV walks towards the newest. */
        for (int r = history(p->hist, &ev, H_LAST); r != -1; r = history(p->hist, &ev, H_PREV))
                fprintf(f, "%s\n", ev.str);
        int bad = fflush(f) != 0 || ferror(f) || fsync(fileno(f)) < 0;
        int e = errno;
        if (fclose(f) != 0 && !bad) {
                bad = 1;
                e = errno;
        }
        return bad ? -(e ? e : EIO) : 0;
}

/* Replaces ~/.memmon_history atomically; leaves it alone when what is there
 * is not a regular file of ours.  Returns 0 or -errno. */
static int history_save(struct prompt *p) {
        struct stat st;
        if (fstat(p->dir_fd, &st) < 0 || !owned_and_private(&st))
                return -EPERM;
        if (fstatat(p->dir_fd, PROMPT_HISTORY_NAME, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || st.st_nlink != 1))
                return -EEXIST;
        char tmp[64];
        int n = snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", PROMPT_HISTORY_NAME, (long)getpid());
        if (n < 0 || (size_t)n >= sizeof(tmp))
                return -ENAMETOOLONG;
        int fd =
            openat(p->dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
        if (fd < 0 && errno == EEXIST) {
                /* Left by a crashed agent that had our pid. */
                (void)unlinkat(p->dir_fd, tmp, 0);
                fd = openat(p->dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
                            0600);
        }
        if (fd < 0)
                return -errno;
        int r = fchmod(fd, 0600) < 0 ? -errno : 0;
        if (r < 0)
                close(fd);
        else
                r = write_history_fd(p, fd);
        if (r == 0 && renameat(p->dir_fd, tmp, p->dir_fd, PROMPT_HISTORY_NAME) < 0)
                r = -errno;
        if (r < 0)
                (void)unlinkat(p->dir_fd, tmp, 0);
        return r;
}

/* libedit's character source (EL_GETCFN): the agent is served until the
 * terminal has a byte.  Commands are ASCII; any other byte becomes '?', so
 * that the command interpreter names it instead of libedit dropping it
 * (the agent runs in the C locale, where it is not a character). */
static int read_char(EditLine *el, wchar_t *ret) {
        struct prompt *p = NULL;
        el_get(el, EL_CLIENTDATA, &p);
        *ret = L'\0';
        for (;;) {
                int r = p->host.wait(p->host.user);
                if (r < 0)
                        p->err = r;
                if (r <= 0)
                        return r < 0 ? -1 : 0;
                unsigned char c;
                ssize_t n = read(STDIN_FILENO, &c, 1);
                if (n < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (n < 0) {
                        /* EIO: the terminal went away, as at its end. */
                        if (errno != EIO)
                                p->err = -errno;
                        return errno == EIO ? 0 : -1;
                }
                if (n == 0)
                        return 0;
                *ret = c < 0x80 ? (wchar_t)c : L'?';
                return 1;
        }
}

static void add_match(void *ctx, const char *word) {
        struct matches *m = ctx;
        size_t lead = strlen(m->lead);
        /* The prefix includes the lead ("@we"), the word does not ("web"). */
        if (m->failed || m->prefix_len < lead || strncmp(m->prefix + lead, word, m->prefix_len - lead) != 0)
                return;
        for (size_t i = 0; i < m->n; i++)
                if (strcmp(m->v[i] + lead, word) == 0)
                        return;
        if (m->n == m->cap) {
                size_t cap = m->cap ? m->cap * 2 : 16;
                char **v = realloc(m->v, cap * sizeof(*v));
                if (!v) {
                        m->failed = 1;
                        return;
                }
                m->v = v;
                m->cap = cap;
        }
        size_t wlen = strlen(word);
        char *s = malloc(lead + wlen + 1);
        if (!s) {
                m->failed = 1;
                return;
        }
        memcpy(s, m->lead, lead);
        memcpy(s + lead, word, wlen + 1);
        m->v[m->n++] = s;
}

static void matches_fini(struct matches *m) {
        for (size_t i = 0; i < m->n; i++)
                free(m->v[i]);
        free(m->v);
}

/* What the word under the cursor may become: the first word is a command
 * word or @target; after @target, a command word; nothing after that. */
static void collect(struct prompt *p, const char *buf, size_t word_start, struct matches *m) {
        size_t words_before = 0, i = 0;
        int first_is_target = 0;
        while (i < word_start) {
                while (i < word_start && (buf[i] == ' ' || buf[i] == '\t'))
                        i++;
                if (i >= word_start)
                        break;
                if (words_before == 0 && buf[i] == '@')
                        first_is_target = 1;
                while (i < word_start && buf[i] != ' ' && buf[i] != '\t')
                        i++;
                words_before++;
        }
        int want_words = words_before == 0 || (words_before == 1 && first_is_target);
        int want_targets = words_before == 0 && (m->prefix_len == 0 || m->prefix[0] == '@');
        if (want_words && (m->prefix_len == 0 || m->prefix[0] != '@')) {
                m->lead = "";
                for (const char *const *w = p->host.words; w && *w; w++)
                        add_match(m, *w);
        }
        if (want_targets && p->host.targets) {
                m->lead = "@";
                p->host.targets(p->host.user, add_match, m);
        }
}

/* Tab: completes the word under the cursor as far as the candidates agree;
 * a single candidate gets a blank after it; several are listed when nothing
 * could be added. */
static unsigned char complete(EditLine *el, int ch) {
        (void)ch;
        struct prompt *p = NULL;
        el_get(el, EL_CLIENTDATA, &p);
        const LineInfo *li = el_line(el);
        size_t cursor = (size_t)(li->cursor - li->buffer);
        size_t start = cursor;
        while (start > 0 && li->buffer[start - 1] != ' ' && li->buffer[start - 1] != '\t')
                start--;
        struct matches m = {.prefix = li->buffer + start, .prefix_len = cursor - start};
        collect(p, li->buffer, start, &m);
        unsigned char ret = CC_REFRESH_BEEP;
        if (m.failed || m.n == 0)
                goto out;
        size_t common = strlen(m.v[0]);
        for (size_t i = 1; i < m.n; i++) {
                size_t j = 0;
                while (j < common && m.v[i][j] == m.v[0][j])
                        j++;
                common = j;
        }
        if (common > m.prefix_len || m.n == 1) {
                char add[256];
                size_t len = common - m.prefix_len;
                if (len + 2 > sizeof(add))
                        goto out;
                memcpy(add, m.v[0] + m.prefix_len, len);
                if (m.n == 1)
                        add[len++] = ' ';
                add[len] = '\0';
                ret = el_insertstr(el, add) == 0 ? CC_REFRESH : CC_REFRESH_BEEP;
                goto out;
        }
        /* The terminal is in libedit's raw mode: end lines with \r\n. */
        fputs("\r\n", stdout);
        for (size_t i = 0; i < m.n; i++)
                fprintf(stdout, "%s%s", m.v[i], i + 1 < m.n ? "  " : "\r\n");
        fflush(stdout);
        ret = CC_REDISPLAY;
out:
        matches_fini(&m);
        return ret;
}

static char *prompt_text(EditLine *el) {
        (void)el;
        static char text[] = PROMPT_TEXT;
        return text;
}

int prompt_new(const struct prompt_host *host, struct prompt **ret) {
        struct prompt *p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->host = *host;
        p->dir_fd = -1;
        HistEvent ev;
        p->hist = history_init();
        p->el = el_init("memmon", stdin, stdout, stderr);
        if (!p->hist || !p->el) {
                prompt_free(p);
                return -ENOMEM;
        }
        (void)history(p->hist, &ev, H_SETSIZE, PROMPT_HISTORY_MAX);
        (void)history(p->hist, &ev, H_SETUNIQUE, 1);
        /* ~/.editrc is not read (el_source): under sudo -E it would be
         * another user's file steering root's prompt. */
        el_set(p->el, EL_CLIENTDATA, p);
        el_set(p->el, EL_EDITOR, "emacs");
        el_set(p->el, EL_SIGNAL, 0);
        el_set(p->el, EL_PROMPT, prompt_text);
        el_set(p->el, EL_HIST, history, p->hist);
        el_set(p->el, EL_GETCFN, read_char);
        /* The wide call: el_set() copies the name and help of EL_ADDFN and
         * never frees the copies; el_wset() keeps these static strings. */
        el_wset(p->el, EL_ADDFN, L"memmon-complete", L"Complete a command word or @target", complete);
        el_wset(p->el, EL_BIND, L"^I", L"memmon-complete", NULL);
        history_open_dir(p);
        if (p->dir_fd >= 0)
                history_load(p);
        *ret = p;
        return 0;
}

void prompt_free(struct prompt *p) {
        if (!p)
                return;
        if (p->dir_fd >= 0) {
                int r = history_save(p);
                if (r < 0)
                        fprintf(stderr, "agent: history not saved in ~/%s: %s\n", PROMPT_HISTORY_NAME,
                                r == -EEXIST ? "something else than our own file is there" : strerror(-r));
                close(p->dir_fd);
        }
        if (p->el)
                el_end(p->el);
        if (p->hist)
                history_end(p->hist);
        free(p->line);
        free(p);
}

int prompt_read(struct prompt *p, const char **ret_line, size_t *ret_len) {
        int count = 0;
        p->err = 0;
        const char *s = el_gets(p->el, &count);
        if (!s || count <= 0) {
                int e = p->err;
                p->err = 0;
                return e < 0 ? e : 0;
        }
        size_t len = (size_t)count;
        while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r'))
                len--;
        if (len > p->host.max_line) {
                *ret_len = len;
                return 2;
        }
        if (len + 1 > p->line_cap) {
                char *n = realloc(p->line, len + 1);
                if (!n)
                        return -ENOMEM;
                p->line = n;
                p->line_cap = len + 1;
        }
        memcpy(p->line, s, len);
        p->line[len] = '\0';
        history_add(p, p->line, len);
        *ret_line = p->line;
        *ret_len = len;
        return 1;
}

void prompt_resize(struct prompt *p) {
        if (p && p->el)
                el_resize(p->el);
}

const char *prompt_history_note(const struct prompt *p) {
        return p->note;
}
