#include "core/capture_event.h"

#include <errno.h>
#include <string.h>

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

/* The kernel's dev_t: 12 bits of major, 20 of minor. */
#define DEV_MAJOR_MAX 0xfffu
#define DEV_MINOR_MAX 0xfffffu

/* clang-format off */
static const char *const op_names[CAPTURE_OP_COUNT] = {
        [CAPTURE_OP_SYSCALL] = "syscall",
        [CAPTURE_OP_MMAP] = "mmap",
        [CAPTURE_OP_ADDR] = "addr",
        [CAPTURE_OP_MUNMAP] = "munmap",
        [CAPTURE_OP_MPROTECT] = "mprotect",
        [CAPTURE_OP_PKEY_MPROTECT] = "pkey_mprotect",
        [CAPTURE_OP_MREMAP] = "mremap",
        [CAPTURE_OP_BRK] = "brk",
        [CAPTURE_OP_MADVISE] = "madvise",
        [CAPTURE_OP_PROCESS_MADVISE] = "process_madvise",
        [CAPTURE_OP_SHMAT] = "shmat",
        [CAPTURE_OP_SHMDT] = "shmdt",
        [CAPTURE_OP_MLOCK] = "mlock",
        [CAPTURE_OP_MUNLOCK] = "munlock",
        [CAPTURE_OP_MLOCKALL] = "mlockall",
        [CAPTURE_OP_MUNLOCKALL] = "munlockall",
        [CAPTURE_OP_MSEAL] = "mseal",
        [CAPTURE_OP_REMAP_FILE_PAGES] = "remap_file_pages",
        [CAPTURE_OP_MBIND] = "mbind",
        [CAPTURE_OP_PRCTL] = "prctl",
        [CAPTURE_OP_EXECVE] = "execve",
        [CAPTURE_OP_EXIT] = "exit",
        [CAPTURE_OP_FORK] = "fork",
        [CAPTURE_OP_FAULT] = "fault",
        [CAPTURE_OP_KERNEL] = "kernel",
};
/* clang-format on */

const char *capture_op_name(enum capture_op op) {
        return (size_t)op < ELEMENTSOF(op_names) ? op_names[op] : NULL;
}

int capture_op_from_name(const char *s, size_t len, enum capture_op *ret) {
        for (size_t i = 0; i < ELEMENTSOF(op_names); i++) {
                if (strlen(op_names[i]) == len && memcmp(op_names[i], s, len) == 0) {
                        *ret = (enum capture_op)i;
                        return 0;
                }
        }
        return -EINVAL;
}

int capture_event_check(const struct capture_event *ev) {
        if (!ev || !capture_op_name(ev->op) || !ts_valid(ev->time, strnlen(ev->time, TS_SIZE)))
                return -EINVAL;
        if (ev->pid <= 0 || ev->tid <= 0 || ev->dev_major > DEV_MAJOR_MAX || ev->dev_minor > DEV_MINOR_MAX)
                return -EINVAL;
        if (!ev->path)
                return ev->path_len == 0 && !ev->path_cut ? 0 : -EINVAL;
        if (ev->path_len == 0 || ev->path_len > CAPTURE_PATH_MAX)
                return -EINVAL;
        /* A whole path is absolute, so that a cut one ("..." and its tail)
         * and none ("-") read differently in a chain. */
        if (!ev->path_cut && ev->path[0] != '/')
                return -EINVAL;
        return 0;
}
