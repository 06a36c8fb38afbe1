#include <errno.h>
#include <inttypes.h>

#include "core/capture.h"
#include "core/textesc.h"

/* How an op's addr, len, arg and arg2 read (core/capture_event.h): a name,
 * decimal or hex; no name: not shown. */
struct field_text {
        const char *name;
        bool dec;
};

struct op_text {
        struct field_text f[4];
        bool prot;
        bool flags;
};

#define HEX(n)                                                                                               \
        { n, false }
#define DEC(n)                                                                                               \
        { n, true }

/* clang-format off */
static const struct op_text op_texts[CAPTURE_OP_COUNT] = {
        [CAPTURE_OP_SYSCALL] = {{HEX("arg0"), HEX("arg1"), HEX("arg2"), HEX("arg3")}, false, false},
        [CAPTURE_OP_MMAP] = {{HEX("hint"), HEX("len"), HEX("offset")}, true, true},
        [CAPTURE_OP_ADDR] = {{HEX("at"), HEX("len")}, false, true},
        [CAPTURE_OP_MUNMAP] = {{HEX("addr"), HEX("len")}, false, false},
        [CAPTURE_OP_MPROTECT] = {{HEX("addr"), HEX("len")}, true, false},
        [CAPTURE_OP_PKEY_MPROTECT] = {{HEX("addr"), HEX("len"), {0}, DEC("pkey")}, true, false},
        [CAPTURE_OP_MREMAP] = {{HEX("old"), HEX("old_len"), HEX("new_len"), HEX("new")}, false, true},
        [CAPTURE_OP_BRK] = {{HEX("brk"), {0}, HEX("old_brk")}, false, false},
        [CAPTURE_OP_MADVISE] = {{HEX("addr"), HEX("len"), DEC("advice")}, false, false},
        [CAPTURE_OP_PROCESS_MADVISE] = {{HEX("iovec"), DEC("vlen"), DEC("advice"), DEC("pidfd")}, false, false},
        [CAPTURE_OP_SHMAT] = {{HEX("addr"), {0}, DEC("shmid")}, false, true},
        [CAPTURE_OP_SHMDT] = {{HEX("addr")}, false, false},
        [CAPTURE_OP_MLOCK] = {{HEX("addr"), HEX("len")}, false, true},
        [CAPTURE_OP_MUNLOCK] = {{HEX("addr"), HEX("len")}, false, false},
        [CAPTURE_OP_MLOCKALL] = {{{0}}, false, true},
        [CAPTURE_OP_MUNLOCKALL] = {{{0}}, false, false},
        [CAPTURE_OP_MSEAL] = {{HEX("addr"), HEX("len")}, false, true},
        [CAPTURE_OP_REMAP_FILE_PAGES] = {{HEX("addr"), HEX("len"), HEX("pgoff")}, true, true},
        [CAPTURE_OP_MBIND] = {{HEX("addr"), HEX("len"), DEC("mode"), HEX("nodemask")}, false, false},
        [CAPTURE_OP_PRCTL] = {{HEX("addr"), HEX("len"), DEC("option"), DEC("sub")}, false, false},
        [CAPTURE_OP_EXECVE] = {{{0}}, false, false},
        [CAPTURE_OP_EXIT] = {{{0}}, false, false},
        [CAPTURE_OP_FORK] = {{{0}}, false, false},
        [CAPTURE_OP_FAULT] = {{HEX("sp"), {0}, HEX("ip")}, false, false},
        [CAPTURE_OP_KERNEL] = {{{0}}, false, false},
};
/* clang-format on */

int capture_event_describe(const struct capture_event *ev, struct strbuf *out) {
        const char *name = capture_op_name(ev->op);
        const uint64_t v[4] = {ev->addr, ev->len, ev->arg, ev->arg2};
        const struct op_text *t;
        int r;

        if (!name)
                return strbuf_printf(out, "%s seq %" PRIu64 " unknown operation %d", ev->time, ev->seq,
                                     (int)ev->op);
        t = &op_texts[ev->op];
        r = strbuf_printf(out, "%s seq %" PRIu64 " %s by %d/%d", ev->time, ev->seq, name, (int)ev->pid,
                          (int)ev->tid);
        for (size_t i = 0; r == 0 && i < 4; i++) {
                if (!t->f[i].name)
                        continue;
                if (t->f[i].dec)
                        r = strbuf_printf(out, " %s=%" PRIu64, t->f[i].name, v[i]);
                else
                        r = strbuf_printf(out, " %s=%#" PRIx64, t->f[i].name, v[i]);
        }
        if (r == 0 && t->prot)
                r = strbuf_printf(out, " prot=%c%c%c", ev->prot & 1 ? 'r' : '-', ev->prot & 2 ? 'w' : '-',
                                  ev->prot & 4 ? 'x' : '-');
        if (r == 0 && t->prot && (ev->prot & ~7u))
                r = strbuf_printf(out, "+%#" PRIx32, ev->prot & ~7u);
        if (r == 0 && t->flags)
                r = strbuf_printf(out, " flags=%#" PRIx32, ev->flags);
        if (r == 0 && (ev->path || ev->ino))
                r = strbuf_printf(out, " file=%02" PRIx32 ":%02" PRIx32 " %" PRIu64 " %s", ev->dev_major,
                                  ev->dev_minor, ev->ino, ev->path_cut ? "..." : "");
        if (r == 0 && ev->path)
                r = textesc_append(out, ev->path, ev->path_len);
        return r;
}
