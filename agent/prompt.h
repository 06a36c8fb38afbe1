/*
 * prompt: the `>>> ` prompt of `agent -i` on a terminal, with libedit
 * (editline(3)): line editing (emacs keys), history (recalled with the
 * arrows, kept in ~/.memmon_history when that is safe, see below), and Tab
 * completion of command words and @target names.
 *
 * The prompt never blocks the agent.  libedit reads characters through a
 * function of ours (EL_GETCFN); whenever it needs one, that function calls
 * host->wait(), which serves signals, the FIFO and the watchdog until the
 * terminal has input.  So the control loop runs *inside* the line editor
 * while a person types, on the one control thread, and the completion
 * callback may read the agent's state without locks.
 *
 * History file: $HOME/.memmon_history, 0600, one command per line.  It is
 * read and written only when $HOME is a folder owned by the effective user
 * that nobody else can write to (checked once, on the open folder, which is
 * then used by fd, never by path again), and only when the file itself is
 * a regular file owned by the effective user: under `sudo -E` HOME is the
 * invoking user's, and root must not read or write files there that user
 * controls.  The file is replaced atomically (a temp file, then rename in
 * the same folder), so a symlink or hard link planted at that name is never
 * written through.  Otherwise history lives in memory only, and the prompt
 * says why once.
 */
#ifndef MEMMON_AGENT_PROMPT_H
#define MEMMON_AGENT_PROMPT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PROMPT_TEXT ">>> "
#define PROMPT_HISTORY_NAME ".memmon_history"
/* Entries kept in memory and in the file. */
#define PROMPT_HISTORY_MAX 1000
/* A history file larger than this is ignored (it is not ours). */
#define PROMPT_HISTORY_FILE_MAX (1024 * 1024)

struct prompt;

typedef void (*prompt_add_fn)(void *ctx, const char *word);

/* What the agent lends the prompt.  Every callback runs on the thread that
 * calls prompt_read(). */
struct prompt_host {
        /* Serves the agent until standard input is readable (returns 1),
         * until the prompt must end because the agent is quitting (0), or
         * fails (-errno). */
        int (*wait)(void *user);
        /* Calls add(ctx, name) with each target name (borrowed for the
         * call); may be NULL. */
        void (*targets)(void *user, prompt_add_fn add, void *ctx);
        void *user;
        /* The command words, NULL-terminated; borrowed for the prompt's
         * life. */
        const char *const *words;
        /* The longest line accepted; a longer one is returned cut and
         * flagged (see prompt_read()). */
        size_t max_line;
};

/* True when standard input and output are both terminals: only then is
 * there a person to edit lines for. */
int prompt_is_terminal(void);

/* Sets up libedit on standard input and output and loads the history.
 * host is copied.  Returns 0 or -errno. */
int prompt_new(const struct prompt_host *host, struct prompt **ret);
/* Saves the history (when allowed), restores the terminal, frees. */
void prompt_free(struct prompt *p);

/* Shows the prompt and reads one line.  Returns 1 with *ret_line (without
 * its newline, valid until the next call) and *ret_len; 2 when the line was
 * longer than host->max_line (*ret_len is its full length; its text is not
 * returned); 0 at the end: Ctrl-D on an empty line, the terminal closed, or
 * host->wait() said the agent is quitting; or -errno. */
int prompt_read(struct prompt *p, const char **ret_line, size_t *ret_len);

/* The terminal was resized (SIGWINCH). */
void prompt_resize(struct prompt *p);

/* Why the history is not kept in a file ("" when it is). */
const char *prompt_history_note(const struct prompt *p);

#ifdef __cplusplus
}
#endif
#endif
