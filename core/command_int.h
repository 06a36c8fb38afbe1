/* command_int: what command.c (the text commands and the table) and
 * command_json.c (their JSON forms) share.  Not for other modules. */
#ifndef MEMMON_CORE_COMMAND_INT_H
#define MEMMON_CORE_COMMAND_INT_H

#include <stddef.h>
#include <time.h>

#include "core/command.h"
#include "core/strbuf.h"
#include "core/worker.h"

#define MAX_ARGS 4

struct parsed {
        char buf[COMMAND_MAX_LINE + 1];
        const char *target; /* NULL: every target */
        const char *argv[MAX_ARGS];
        int argc;
};

/* Whom a command addresses. */
enum scope {
        SCOPE_ONE,     /* one target: named with @NAME, or the only one */
        SCOPE_TARGETS, /* the target named with @NAME, or every target */
        SCOPE_AGENT,   /* the agent itself: @NAME is refused */
};

struct command;

/* Carries out command c parsed as p; replies and returns as
 * command_execute() does. */
typedef int (*command_fn)(struct command_host *h, const struct command *c, const struct parsed *p,
                          struct strbuf *reply);

struct command {
        const char *verb;
        /* NULL: the verb takes no argument; else it takes one, and this is
         * its usage. */
        const char *usage;
        enum scope scope;
        command_fn run;
        unsigned request;     /* the worker request, for handlers shared by verbs */
        const char *synopsis; /* for `help`; NULL: on the line of the row before */
        const char *help;
        /* The verb's answer as one JSON document (command_execute_json());
         * NULL: the verb has no JSON form. */
        command_fn json;
};

/* The workers a command addresses: one (by @name) or all. */
struct selection {
        struct worker **v;
        size_t n;
        struct worker *one;
};

/* The workers command c addresses, as its scope says.  Returns 0, or
 * -errno with the reply written. */
int command_select_scope(struct command_host *h, const struct command *c, const struct parsed *p,
                         struct selection *sel, struct strbuf *reply);

/* t as 2026-11-30T18:57:34Z, or "never" for a zero time. */
void command_format_time(const struct timespec *t, char *buf, size_t size);

/* The reply convention: no trailing newline (the JSON writer ends its
 * lines with one). */
void command_drop_newline(struct strbuf *reply);

/* The JSON forms of status, targets and alerts (command_json.c). */
int command_json_status(struct command_host *h, const struct command *c, const struct parsed *p,
                        struct strbuf *reply);
int command_json_targets(struct command_host *h, const struct command *c, const struct parsed *p,
                         struct strbuf *reply);
int command_json_alerts(struct command_host *h, const struct command *c, const struct parsed *p,
                        struct strbuf *reply);

#endif
