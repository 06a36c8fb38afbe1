/*
 * maps: reading and parsing /proc/PID/maps.
 *
 * A snapshot owns one text buffer holding the maps exactly as the kernel
 * printed them, and an array of regions that refer into that text by offset
 * (so the text may be reallocated).  Buffers only grow: a snapshot reused from
 * tick to tick stops allocating once it has seen the largest maps of its
 * target.
 */
#ifndef MEMMON_CORE_MAPS_H
#define MEMMON_CORE_MAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct region {
        uint64_t start;
        uint64_t end;
        uint64_t offset;
        uint64_t inode;
        uint32_t dev_major;
        uint32_t dev_minor;
        char perms[4];     /* "r-xp": not NUL-terminated */
        uint32_t line_off; /* the raw line, without its '\n', in the text */
        uint32_t line_len;
        uint32_t path_off; /* the path (may hold spaces, " (deleted)") */
        uint32_t path_len; /* 0 when the line has no path */
};

struct maps_snapshot {
        char *text; /* owned; the maps text, lines end in '\n' */
        size_t len;
        size_t cap;
        struct region *regions; /* owned; sorted by start, non-overlapping */
        size_t n;
        size_t regions_cap;
        uint64_t checksum; /* maps_checksum(text, len), set by the caller */
};

void maps_snapshot_init(struct maps_snapshot *s);
void maps_snapshot_fini(struct maps_snapshot *s);
/* Frees s's buffers (s is then empty, as after maps_snapshot_init) when
 * they take keep bytes or less; bigger ones are kept for the next use. */
void maps_snapshot_release(struct maps_snapshot *s, size_t keep);
/* Exchanges the contents of a and b (no copy, no allocation). */
void maps_snapshot_swap(struct maps_snapshot *a, struct maps_snapshot *b);
/* Makes dst a deep copy of src.  Returns 0 or -ENOMEM (dst unchanged). */
int maps_snapshot_copy(struct maps_snapshot *dst, const struct maps_snapshot *src);
/* Replaces the text with a copy of (buf, len) and parses it.
 * Returns 0, -ENOMEM, or -EINVAL with *ret_bad_line set (1-based). */
int maps_snapshot_set_text(struct maps_snapshot *s, const char *buf, size_t len, size_t *ret_bad_line);

static inline const char *region_line(const struct maps_snapshot *s, const struct region *r) {
        return s->text + r->line_off;
}
static inline const char *region_path(const struct maps_snapshot *s, const struct region *r) {
        return s->text + r->path_off;
}

/* Opens /proc/PID/maps (O_RDONLY|O_CLOEXEC).  Returns an fd, -ESRCH when the
 * process does not exist, or another -errno (-EACCES: not allowed to read). */
int maps_open(pid_t pid);

/* Reads the whole file behind fd from offset 0 into s->text (growing it),
 * setting s->len.  The kernel hands out about a page per read(), so this
 * loops until EOF.  A length of 0 means the address space is gone (the process
 * exited or exec'd since fd was opened).  Returns 0, -ESRCH when the process is
 * gone, or another -errno.  Does not parse. */
int maps_read_fd(int fd, struct maps_snapshot *s);

/* The sizes of the address space (the first field of /proc/PID/statm, in
 * pages) seen during one read. */
#define MAPS_SIZES_MAX 8
struct maps_sizes {
        uint64_t value[MAPS_SIZES_MAX]; /* each distinct size seen */
        size_t n;
        uint32_t samples;
        bool overflow; /* more distinct sizes than fit */
        bool failed;   /* a sample could not be read */
};

/* Reads as maps_read_fd() does, and samples the size of the address space
 * from statm_fd (/proc/PID/statm of the same process) before the read,
 * every few read() calls during it, and after it.  Returns 0 with *ret
 * set, -ESRCH, or another -errno, as maps_read_fd() does. */
int maps_read_fd_sized(int fd, int statm_fd, struct maps_snapshot *s, struct maps_sizes *ret);

/* True when a text of that read whose regions add up to pages (see
 * maps_mapped_bytes) adds up to none of the sizes the process had while it
 * was read: a read that spans a change and shows a mapping twice or not at
 * all, or misses a range, mostly does.  (The kernel counts a region moved
 * by mremap at both places for an instant, under a lock no reader of the
 * maps gets past, so a size one mapping too large is seen and proves
 * nothing; one too small is never seen.)  False when nothing was sampled,
 * or a sample failed. */
bool maps_sizes_refute(const struct maps_sizes *sz, uint64_t pages);

/* The bytes the parsed regions of s cover: the process's size as statm
 * counts it (the x86-64 [vsyscall] page, printed in every process's maps
 * but no mapping of its own, left out). */
uint64_t maps_mapped_bytes(const struct maps_snapshot *s);

/* Parses one maps line (without '\n') at text + off.  Pure.  Fills *ret with
 * offsets relative to text.  Returns 0 or -EINVAL. */
int maps_parse_line(const char *text, size_t off, size_t len, struct region *ret);

/* Parses s->text[0..len) into s->regions.  Every line must end in '\n' and
 * regions must be sorted by start and not overlap.  Returns 0, -ENOMEM, or
 * -EINVAL with *ret_bad_line (1-based) naming the first bad line. */
int maps_parse(struct maps_snapshot *s, size_t *ret_bad_line);

/* Parses s->text as maps_parse does, knowing that prev (parsed) is an
 * earlier text of the same maps: the lines in the common prefix and suffix
 * of the two texts are copied from prev (offsets moved) instead of parsed,
 * so a change costs two memcmp passes, a copy of the region array and the
 * parsing of the changed lines only.  Same results and errors as
 * maps_parse(). */
int maps_parse_since(struct maps_snapshot *s, const struct maps_snapshot *prev, size_t *ret_bad_line);

/* The length of the common prefix of a and b, at most n bytes. */
size_t maps_common_prefix(const char *a, const char *b, size_t n);
/* The length of the common suffix of a (na bytes) and b (nb bytes), at most
 * n bytes. */
size_t maps_common_suffix(const char *a, size_t na, const char *b, size_t nb, size_t n);

/* XXH3 64-bit checksum of a maps text. */
uint64_t maps_checksum(const char *text, size_t len);

/* What a region is, by its path, for the bytes metrics count by kind. */
enum region_kind {
        REGION_ANON,  /* no path, or a named anonymous region ([anon:NAME]) */
        REGION_FILE,  /* a path ("/memfd:x (deleted)" included) */
        REGION_HEAP,  /* [heap] */
        REGION_STACK, /* [stack], and [stack:TID] of older kernels */
        REGION_OTHER, /* [vdso], [vvar], [vsyscall] and other [names] */
        REGION_KINDS,
};

enum region_kind region_kind(const struct maps_snapshot *s, const struct region *r);

/* Bytes mapped in s by kind, and bytes mapped executable.  Pure, no
 * allocation: a worker calls it on every tick that changed the maps. */
void maps_tally(const struct maps_snapshot *s, uint64_t ret_bytes[REGION_KINDS], uint64_t *ret_exec);

#ifdef __cplusplus
}
#endif
#endif
