#include "core/policy.h"

#include <errno.h>
#include <string.h>

#include "core/alloc.h"
#include "core/strv.h"

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

int target_policy_copy(struct target_policy *dst, const struct target_policy *src) {
        struct alert_policy alerts;
        char **exec = NULL;

        alert_policy_init(&alerts);
        if (alert_policy_copy(&alerts, &src->alerts) < 0)
                return -ENOMEM;
        if (src->alert_exec && !(exec = strv_copy(src->alert_exec))) {
                alert_policy_fini(&alerts);
                return -ENOMEM;
        }
        *dst = *src;
        dst->alerts = alerts;
        dst->alert_exec = exec;
        return 0;
}

void target_policy_fini(struct target_policy *p) {
        alert_policy_fini(&p->alerts);
        strv_free(p->alert_exec);
        p->alert_exec = NULL;
}

bool target_policy_equal(const struct target_policy *a, const struct target_policy *b) {
        return a->interval_us == b->interval_us && a->full_every == b->full_every &&
               a->full_interval_us == b->full_interval_us && a->keep_full == b->keep_full &&
               a->max_bytes == b->max_bytes && alert_policy_equal(&a->alerts, &b->alerts) &&
               strv_equal(a->alert_exec, b->alert_exec) && a->alert_exec_rate == b->alert_exec_rate;
}

int target_filter_copy(struct target_filter *dst, const struct target_filter *src) {
        char *exe = NULL;

        if (src->exe && !(exe = mm_strdup(src->exe)))
                return -ENOMEM;
        dst->has_uid = src->has_uid;
        dst->uid = src->uid;
        dst->exe = exe;
        return 0;
}

void target_filter_fini(struct target_filter *f) {
        mm_free(f->exe);
        memset(f, 0, sizeof(*f));
}

bool target_filter_equal(const struct target_filter *a, const struct target_filter *b) {
        if (a->has_uid != b->has_uid || (a->has_uid && a->uid != b->uid))
                return false;
        if (!a->exe || !b->exe)
                return a->exe == b->exe;
        return strcmp(a->exe, b->exe) == 0;
}

bool target_filter_set(const struct target_filter *f) {
        return f->has_uid || f->exe;
}

static const char *const reserved_names[] = {".", "..", "full", "incremental", "monitor", "daemon_output"};

bool target_name_char_ok(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
               c == '.' || c == '-';
}

bool target_name_reserved(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(reserved_names); i++)
                if (strcmp(name, reserved_names[i]) == 0)
                        return true;
        return false;
}

int target_name_valid(const char *name) {
        size_t n;

        if (!name)
                return -EINVAL;
        n = strlen(name);
        if (n == 0 || n > TARGET_NAME_MAX)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (!target_name_char_ok(name[i]))
                        return -EINVAL;
        return target_name_reserved(name) ? -EINVAL : 0;
}

/* clang-format off */
static const struct {
        const char *name;
        const char *label;
} levels[] = {
        [LOG_ERROR] = {"error", "ERROR"},
        [LOG_WARN] = {"warn", "WARN"},
        [LOG_INFO] = {"info", "INFO"},
        [LOG_DEBUG] = {"debug", "DEBUG"},
};
/* clang-format on */

const char *log_level_name(enum log_level level) {
        return (size_t)level < ELEMENTSOF(levels) ? levels[level].name : NULL;
}

const char *log_level_label(enum log_level level) {
        return (size_t)level < ELEMENTSOF(levels) ? levels[level].label : "?";
}

int log_level_from_name(const char *s, enum log_level *ret) {
        for (size_t i = 0; i < ELEMENTSOF(levels); i++) {
                if (strcmp(s, levels[i].name) == 0) {
                        *ret = (enum log_level)i;
                        return 0;
                }
        }
        return -EINVAL;
}
