#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/capture.h"
#include "core/strbuf.h"

/* mmap(2), mremap(2) and mman.h flags, as the kernel's x86-64 ABI has them. */
#define X_MAP_SHARED 0x01
#define X_MAP_FIXED 0x10
#define X_MAP_FIXED_NOREPLACE 0x100000
#define X_MREMAP_FIXED 2
#define X_MREMAP_DONTUNMAP 4

static uint64_t round_up(uint64_t len, uint64_t page) {
        if (len > UINT64_MAX - (page - 1))
                return 0;
        return (len + page - 1) / page * page;
}

/* The address the kernel chose within the event at i: the `addr` record
 * that follows it with the same seq.  Returns 0 when there is none. */
static uint64_t chosen_address(const struct capture_event *events, size_t n, size_t i) {
        for (size_t k = i + 1; k < n && events[k].seq == events[i].seq; k++)
                if (events[k].op == CAPTURE_OP_ADDR)
                        return events[k].addr;
        return 0;
}

int capture_event_effect(const struct capture_event *events, size_t n, size_t i, uint64_t page,
                         struct capture_effect *ret) {
        const struct capture_event *ev = &events[i];
        struct capture_effect e;
        uint64_t len, to;

        memset(&e, 0, sizeof(e));
        switch (ev->op) {
        case CAPTURE_OP_MMAP:
                len = round_up(ev->len, page);
                to = ev->flags & (X_MAP_FIXED | X_MAP_FIXED_NOREPLACE) ? ev->addr
                                                                       : chosen_address(events, n, i);
                if (to == 0 || len == 0 || to > UINT64_MAX - len)
                        return -ENOENT;
                /* A fixed address replaces what was mapped there. */
                e.unmap = (ev->flags & X_MAP_FIXED) != 0;
                e.unmap_start = to;
                e.unmap_end = to + len;
                e.map = true;
                e.how = CAPTURE_MAPPED;
                e.start = to;
                e.end = to + len;
                e.prot = ev->prot;
                e.shared = (ev->flags & X_MAP_SHARED) != 0;
                break;
        case CAPTURE_OP_MPROTECT:
        case CAPTURE_OP_PKEY_MPROTECT:
                len = round_up(ev->len, page);
                if (len == 0 || ev->addr > UINT64_MAX - len)
                        return -ENOENT;
                e.map = true;
                e.how = CAPTURE_PROTECTED;
                e.start = ev->addr;
                e.end = ev->addr + len;
                e.prot = ev->prot;
                break;
        case CAPTURE_OP_MUNMAP:
                len = round_up(ev->len, page);
                if (len == 0 || ev->addr > UINT64_MAX - len)
                        return -ENOENT;
                e.unmap = true;
                e.unmap_start = ev->addr;
                e.unmap_end = ev->addr + len;
                break;
        case CAPTURE_OP_MREMAP:
                len = round_up(ev->arg, page);
                to = ev->flags & X_MREMAP_FIXED ? ev->arg2 : chosen_address(events, n, i);
                if (to == 0)
                        to = ev->addr; /* grown or shrunk in place */
                if (len == 0 || to > UINT64_MAX - len || ev->addr > UINT64_MAX - round_up(ev->len, page))
                        return -ENOENT;
                e.unmap = to != ev->addr && !(ev->flags & X_MREMAP_DONTUNMAP);
                e.unmap_start = ev->addr;
                e.unmap_end = ev->addr + round_up(ev->len, page);
                e.map = true;
                e.how = CAPTURE_MOVED;
                e.start = to;
                e.end = to + len;
                e.from = ev->addr;
                break;
        case CAPTURE_OP_EXECVE:
                e.everything = true;
                break;
        default:
                return -ENOENT;
        }
        *ret = e;
        return 0;
}

int capture_region_snapshot(uint64_t start, uint64_t end, const char perms[4], uint64_t offset,
                            uint32_t dev_major, uint32_t dev_minor, uint64_t ino, const char *path,
                            size_t path_len, struct maps_snapshot *ret) {
        struct strbuf b;
        size_t bad = 0;
        int r;

        strbuf_init(&b);
        r = strbuf_printf(&b, "%08" PRIx64 "-%08" PRIx64 " %.4s %08" PRIx64 " %02x:%02x %" PRIu64 " ", start,
                          end, perms, offset, dev_major, dev_minor, ino);
        if (r == 0 && path && path_len > 0) {
                /* The kernel pads the fields to column 73 before a path. */
                while (r == 0 && b.len < 72)
                        r = strbuf_append(&b, " ", 1);
                if (r == 0)
                        r = strbuf_append(&b, " ", 1);
                for (size_t k = 0; r == 0 && k < path_len; k++)
                        r = path[k] == '\n' ? strbuf_append(&b, "\\012", 4) : strbuf_append(&b, &path[k], 1);
        }
        if (r == 0)
                r = strbuf_append(&b, "\n", 1);
        if (r == 0)
                r = maps_snapshot_set_text(ret, b.s, b.len, &bad);
        strbuf_fini(&b);
        return r;
}
