#include "config/config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config/keys.h"
#include "config/paths.h"
#include "config/strv.h"
#include "core/alloc.h"
#include "core/proc.h"
#include "core/str.h"

void config_target_fini(struct target_config *t) {
        mm_free(t->name);
        mm_free(t->pidfile);
        mm_free(t->match);
        target_filter_fini(&t->filter);
        strv_free(t->argv);
        mm_free(t->file);
        target_policy_fini(&t->policy);
        memset(t, 0, sizeof(*t));
}

void config_errors_init(struct config_errors *errs) {
        memset(errs, 0, sizeof(*errs));
}

void config_errors_fini(struct config_errors *errs) {
        if (!errs)
                return;
        for (size_t i = 0; i < errs->n; i++) {
                mm_free(errs->v[i].file);
                mm_free(errs->v[i].text);
        }
        mm_free(errs->v);
        config_errors_init(errs);
}

int config_new(const char *base_dir, struct config **ret) {
        struct config *c = NULL;
        int r;

        if (!base_dir || !ret)
                return -EINVAL;
        r = keys_config_new(&c);
        if (r < 0)
                return r;
        r = path_absolute(base_dir, &c->base_dir);
        if (r < 0) {
                config_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

/* Appends T, whose selector fields are set, to C; T's strings are taken
 * over on success and freed on failure. */
static int add_target(struct config *c, struct target_config *t) {
        struct target_config *v;
        int r;

        if (target_name_valid(t->name) < 0) {
                r = -EINVAL;
                goto fail;
        }
        if (config_find_target(c, t->name)) {
                r = -EEXIST;
                goto fail;
        }
        v = mm_reallocarray(c->targets, c->n_targets + 1, sizeof(*v));
        if (!v) {
                r = -ENOMEM;
                goto fail;
        }
        c->targets = v;
        r = keys_inherit_policy(t, NULL, NULL, c);
        if (r < 0)
                goto fail;
        c->targets[c->n_targets++] = *t;
        return 0;
fail:
        config_target_fini(t);
        return r;
}

int config_add_pid_target(struct config *c, const char *name, pid_t pid) {
        struct target_config t = {.sel = SELECT_PID, .pid = pid};

        if (!c || !name || pid < 1 || (uint64_t)pid > PROC_PID_MAX)
                return -EINVAL;
        t.name = mm_strdup(name);
        if (!t.name)
                return -ENOMEM;
        return add_target(c, &t);
}

int config_add_exec_target(struct config *c, const char *name, char *const argv[]) {
        struct target_config t = {.sel = SELECT_EXEC};

        if (!c || !name || !argv || !argv[0])
                return -EINVAL;
        t.name = mm_strdup(name);
        t.argv = strv_copy(argv);
        if (!t.name || !t.argv) {
                config_target_fini(&t);
                return -ENOMEM;
        }
        return add_target(c, &t);
}

void config_free(struct config *c) {
        if (!c)
                return;
        for (size_t i = 0; i < c->n_targets; i++)
                config_target_fini(&c->targets[i]);
        mm_free(c->targets);
        target_policy_fini(&c->defaults);
        strv_free(c->alert_exec);
        mm_free(c->path);
        mm_free(c->base_dir);
        mm_free(c->metrics_file);
        mm_free(c);
}

const struct target_config *config_find_target(const struct config *c, const char *name) {
        if (!c || !name)
                return NULL;
        for (size_t i = 0; i < c->n_targets; i++)
                if (streq(c->targets[i].name, name))
                        return &c->targets[i];
        return NULL;
}

enum config_change config_target_compare(const struct target_config *a, const struct target_config *b) {
        bool same;

        if (!streq(a->name, b->name) || a->sel != b->sel)
                return CONFIG_SELECTOR_CHANGED;
        switch (a->sel) {
        case SELECT_PID:
                same = a->pid == b->pid;
                break;
        case SELECT_PIDFILE:
                same = streq(a->pidfile, b->pidfile);
                break;
        case SELECT_MATCH:
                same = streq(a->match, b->match) && target_filter_equal(&a->filter, &b->filter);
                break;
        case SELECT_EXEC:
                same = strv_equal(a->argv, b->argv);
                break;
        default:
                same = false;
                break;
        }
        if (!same)
                return CONFIG_SELECTOR_CHANGED;
        return target_policy_equal(&a->policy, &b->policy) ? CONFIG_SAME : CONFIG_POLICY_CHANGED;
}

bool config_target_equal(const struct target_config *a, const struct target_config *b) {
        return config_target_compare(a, b) == CONFIG_SAME;
}
