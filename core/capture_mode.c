#include "core/capture_mode.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

const char *const capture_mode_names[] = {
    [CAPTURE_AUTO] = "auto",
    [CAPTURE_POLL] = "poll",
    [CAPTURE_EBPF] = "ebpf",
    NULL,
};

const char *capture_mode_name(enum capture_mode m) {
        return (size_t)m < ELEMENTSOF(capture_mode_names) - 1 ? capture_mode_names[m] : NULL;
}

int capture_mode_from_name(const char *s, enum capture_mode *ret) {
        for (size_t i = 0; capture_mode_names[i]; i++) {
                if (strcmp(s, capture_mode_names[i]) == 0) {
                        *ret = (enum capture_mode)i;
                        return 0;
                }
        }
        return -EINVAL;
}
