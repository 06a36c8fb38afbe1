/*
 * fuzz_command: the command interpreter on arbitrary lines.
 *
 * The first byte of the input chooses the targets (none, "web", or "web"
 * and "db"); the rest is split at '\n' into lines, each executed in turn,
 * as the FIFO reader does.  The workers are made but never started: no
 * thread, no process, no backup folder.  A request to one is never carried
 * out, and with timeout_ms 0 the interpreter gives up at once and says so,
 * so no input makes it wait.  `pid N` reads /proc/N/stat, nothing more.
 *
 * Promises checked (core/command.h): the result is one of the documented
 * ones, the reply has no trailing '\n' and no NUL, and a rejected command
 * says what is wrong.
 */
#include "tests/fuzz/fuzz.h"

#include <errno.h>
#include <string.h>

#include "core/alloc.h"
#include "core/command.h"
#include "core/proc.h"
#include "core/strbuf.h"
#include "core/supervisor.h"
#include "core/worker.h"

/* More lines than this add nothing but time. */
#define MAX_LINES 64

static void on_event(void *user, const char *target, enum log_level level, const char *msg) {
        (void)user;
        (void)target;
        (void)level;
        (void)msg;
}

static int on_reload(void *user, struct strbuf *reply) {
        (*(unsigned *)user)++;
        return strbuf_printf(reply, "Configuration reloaded") < 0 ? -ENOMEM : 0;
}

/* Adds a worker that is never started, as supervisor_add would add a
 * started one. */
static void add_idle(struct supervisor *s, const char *name) {
        struct worker_params p = {
            .name = (char *)name,
            .selector = SELECT_PID,
            /* No process ever has the largest pid. */
            .pid = PROC_PID_MAX,
            .backup_dir = (char *)"/nonexistent/memmon-fuzz",
            .policy = {.interval_us = 1000000, .full_every = 100},
        };
        struct worker *w;
        struct worker **v;

        FUZZ_CHECK(worker_new(&p, &s->env, 0, &w) == 0);
        v = mm_reallocarray(s->workers, s->n + 1, sizeof(*v));
        FUZZ_CHECK(v);
        s->workers = v;
        s->workers[s->n++] = w;
        s->cap = s->n;
}

static void check_reply(int r, const struct strbuf *reply) {
        const char *s = strbuf_str(reply);

        /* command_execute()'s contract: OK, QUIT, or a -errno whose reply
         * says what is wrong (-ENOTSUP: `metrics` with no metrics here). */
        FUZZ_CHECK(r == COMMAND_OK || r == COMMAND_QUIT || (r < 0 && r > -4096));
        FUZZ_CHECK(strlen(s) == reply->len);
        FUZZ_CHECK(reply->len == 0 || s[reply->len - 1] != '\n');
        if (r < 0)
                FUZZ_CHECK(reply->len > 0);
}

int fuzz_command(const uint8_t *data, size_t size) {
        const struct worker_env env = {.event = on_event, .user = NULL};
        const char *p, *end;
        struct command_host h;
        struct supervisor sup;
        struct strbuf reply;
        unsigned reloads = 0, ntargets, lines = 0;

        if (size == 0)
                return 0;
        FUZZ_CHECK(supervisor_init(&sup, &env) == 0);
        ntargets = data[0] % 3;
        if (ntargets >= 1)
                add_idle(&sup, "web");
        if (ntargets >= 2)
                add_idle(&sup, "db");
        h = (struct command_host){.sup = &sup, .reload = on_reload, .user = &reloads, .timeout_ms = 0};
        strbuf_init(&reply);

        p = (const char *)data + 1;
        end = (const char *)data + size;
        while (p <= end && lines++ < MAX_LINES) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
                int r;

                strbuf_reset(&reply);
                r = command_execute(&h, p, len, &reply);
                check_reply(r, &reply);
                if (!nl)
                        break;
                p = nl + 1;
        }
        strbuf_fini(&reply);
        supervisor_fini(&sup);
        return 0;
}

#ifdef MEMMON_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        return fuzz_command(data, size);
}
#endif
