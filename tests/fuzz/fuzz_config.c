/*
 * fuzz_config: config_load on arbitrary file content.
 *
 * The input is main.ini, optionally followed by FUZZ_SEP and inc.ini; both
 * are written to a private folder (under $TEST_TMPDIR, /dev/shm or /tmp),
 * and main.ini is loaded.  An [include] reaches only files of that folder:
 * config.c's glob() calls land in __wrap_glob below (link with
 * -Wl,--wrap=glob), which lets through only a pattern naming files directly
 * in the folder, so that no input makes the loader read /dev/zero, a FIFO
 * or anything else of the machine.  The folder is removed at exit, but not
 * after a crash: run.sh points TEST_TMPDIR at a folder it removes itself.
 *
 * Promises checked: a failure comes with its errors, a success with none;
 * and a loaded config written by config_write() loads back equal, as
 * config.h says, except for the exec words it says cannot be written back.
 */
#include "tests/fuzz/fuzz.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "config/config_write.h"
#include "core/strv.h"

int __real_glob(const char *pattern, int flags, int (*errfunc)(const char *, int), glob_t *pglob);
int __wrap_glob(const char *pattern, int flags, int (*errfunc)(const char *, int), glob_t *pglob);

/* The private folder and the files in it; set once per process. */
static char dir[256];
static char main_path[300], inc_path[300], rt_path[300];

static void remove_dir(void) {
        unlink(main_path);
        unlink(inc_path);
        unlink(rt_path);
        rmdir(dir);
}

static void make_dir(void) {
        const char *bases[] = {getenv("TEST_TMPDIR"), "/dev/shm", "/tmp"};

        if (dir[0])
                return;
        for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
                int n;

                if (!bases[i] || !bases[i][0])
                        continue;
                n = snprintf(dir, sizeof(dir), "%s/memmon-fuzz-config.XXXXXX", bases[i]);
                if (n > 0 && (size_t)n < sizeof(dir) && mkdtemp(dir))
                        break;
                dir[0] = '\0';
        }
        FUZZ_CHECK(dir[0] != '\0');
        /* The folder's name must need no escaping in a glob pattern. */
        FUZZ_CHECK(!strpbrk(dir, "*?[\\"));
        snprintf(main_path, sizeof(main_path), "%s/main.ini", dir);
        snprintf(inc_path, sizeof(inc_path), "%s/inc.ini", dir);
        snprintf(rt_path, sizeof(rt_path), "%s/rt.ini", dir);
        atexit(remove_dir);
}

int __wrap_glob(const char *pattern, int flags, int (*errfunc)(const char *, int), glob_t *pglob) {
        size_t n = strlen(dir);
        const char *rest = pattern + n + 1;

        /* DIR/NAME-PATTERN only: no '/' (no other folder), no '\' (which
         * could spell "\.\."), no leading '.' (".*" matches ".."). */
        if (n > 0 && strncmp(pattern, dir, n) == 0 && pattern[n] == '/' && rest[0] != '\0' &&
            rest[0] != '.' && !strpbrk(rest, "/\\"))
                return __real_glob(pattern, flags, errfunc, pglob);
        return GLOB_NOMATCH;
}

static void write_file(const char *path, const char *p, size_t n) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        FUZZ_CHECK(fd >= 0);
        while (n > 0) {
                ssize_t k = write(fd, p, n);
                FUZZ_CHECK(k > 0);
                p += k;
                n -= (size_t)k;
        }
        FUZZ_CHECK(close(fd) == 0);
}

static void check_errors(int r, const struct config_errors *errs) {
        if (r == 0) {
                FUZZ_CHECK(errs->n == 0 && errs->n_dropped == 0);
                return;
        }
        FUZZ_CHECK(r == -EINVAL);
        FUZZ_CHECK(errs->n > 0 && errs->n <= CONFIG_MAX_ERRORS);
        for (size_t i = 0; i < errs->n; i++) {
                const struct config_error *e = &errs->v[i];

                FUZZ_CHECK(e->text && e->message);
                FUZZ_CHECK(e->message >= e->text && e->message <= e->text + strlen(e->text));
                FUZZ_CHECK(e->message[0] != '\0');
        }
}

static void check_round_trip(const struct config *c) {
        struct config_errors errs;
        struct config *back = NULL;
        FILE *f;
        int r;

        f = fopen(rt_path, "we");
        FUZZ_CHECK(f);
        FUZZ_CHECK(config_write(c, f) == 0);
        FUZZ_CHECK(fclose(f) == 0);
        config_errors_init(&errs);
        r = config_load(rt_path, &back, &errs);
        for (size_t i = 0; r < 0 && i < errs.n; i++)
                fprintf(stderr, "round trip: %s\n", errs.v[i].text);
        FUZZ_CHECK(r == 0);
        FUZZ_CHECK(strcmp(c->base_dir, back->base_dir) == 0);
        FUZZ_CHECK(c->interval_us == back->interval_us && c->log_level == back->log_level);
        FUZZ_CHECK(c->metrics_interval_us == back->metrics_interval_us);
        FUZZ_CHECK(!c->metrics_file == !back->metrics_file &&
                   (!c->metrics_file || strcmp(c->metrics_file, back->metrics_file) == 0));
        FUZZ_CHECK(c->events == back->events && c->alert_exec_rate == back->alert_exec_rate);
        FUZZ_CHECK(strv_equal(c->alert_exec, back->alert_exec));
        FUZZ_CHECK(target_policy_equal(&c->defaults, &back->defaults));
        FUZZ_CHECK(c->n_targets == back->n_targets);
        for (size_t t = 0; t < c->n_targets; t++)
                FUZZ_CHECK(config_target_equal(&c->targets[t], &back->targets[t]));
        config_free(back);
        config_errors_fini(&errs);
        unlink(rt_path);
}

int fuzz_config(const uint8_t *data, size_t size) {
        struct fuzz_part parts[2];
        struct config_errors errs;
        struct config *c = NULL;
        size_t n;
        int r;

        make_dir();
        n = fuzz_split(data, size, parts, 2);
        write_file(main_path, parts[0].p, parts[0].n);
        if (n > 1)
                write_file(inc_path, parts[1].p, parts[1].n);
        else
                unlink(inc_path);

        config_errors_init(&errs);
        r = config_load(main_path, &c, &errs);
        check_errors(r, &errs);
        if (r == 0) {
                FUZZ_CHECK(c && c->path && c->base_dir && c->base_dir[0] == '/');
                check_round_trip(c);
        }
        config_free(c);
        config_errors_fini(&errs);
        return 0;
}

#ifdef MEMMON_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        return fuzz_config(data, size);
}
#endif
