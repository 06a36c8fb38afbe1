/*
 * keys: the one table of configuration keys, from which parsing, defaults,
 * validation, inheritance and writing all come, and the units values are
 * written in.  Internal to config/.
 */
#ifndef MEMMON_CONFIG_KEYS_H
#define MEMMON_CONFIG_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "config/config.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Values quoted in messages are cut to this many bytes. */
#define QUOTE_MAX 64
#define QFMT "'%.*s%s'"
#define QARG(s) (int)QUOTE_MAX, (s), (strlen(s) > QUOTE_MAX ? "..." : "")
/* Room for one message of keys_set(). */
#define KEYS_MSG_SIZE 512
/* Large enough for any number written by keys_format_number(). */
#define KEYS_NUMBER_SIZE 32

enum section_kind {
        SEC_NONE, /* before the first header of a file */
        SEC_SKIP, /* after a bad header, which was reported: its keys are ignored */
        SEC_AGENT,
        SEC_DEFAULTS,
        SEC_TARGET,
        SEC_INCLUDE,
        SEC_ALERTS, /* the keys of core/alerts.h's table, not rows of config_keys */
};

#define IN(kind) (1u << (kind))
#define POLICY (IN(SEC_DEFAULTS) | IN(SEC_TARGET))

enum key_type {
        KT_UINT,
        KT_PID,
        KT_DURATION,
        KT_SIZE,
        KT_LOG_LEVEL,
        KT_PATH,
        KT_NAME,
        KT_ARGV,
        KT_GLOBS,
        KT_USER,   /* a user name or uid: struct target_filter's uid */
        KT_EXE,    /* an absolute path: struct target_filter's exe */
        KT_BOOL,   /* on | off (also yes/no, true/false, 1/0) */
        KT_CHOICE, /* one word of key_def.choices; the field is an enum */
};

struct key_def {
        const char *name;
        unsigned sections; /* IN(SEC_...) */
        enum key_type type;
        uint64_t min, max; /* numeric types only */
        /* Built-in default as it would be written in a file; NULL when there
         * is none or when from_agent says where it comes from. */
        const char *def;
        /* The default is the [agent] key of the same name. */
        bool from_agent;
        /* Where the value lives: in struct config for [agent] keys, in struct
         * target_policy for policy keys ([defaults] and [target:NAME]), in
         * struct target_config for selectors. */
        size_t offset;
        int selector; /* enum target_selector, or -1 for other keys */
        /* Narrows a `match` target: a field of struct target_filter in
         * struct target_config (not policy, not a selector). */
        bool filter;
        const char *help;
        /* KT_ARGV: an empty value is allowed and means none (NULL). */
        bool empty_ok;
        /* KT_CHOICE: the words, NULL-terminated; word i sets the field
         * (an enum, int-sized) to i. */
        const char *const *choices;
};

/* The number of rows of config_keys[]. */
#define KEYS_N 25

/* Every configuration key: KEYS_N rows. */
extern const struct key_def *const config_keys;

/* Where a key was set; line 0 means not set.  file is borrowed. */
struct key_origin {
        const char *file;
        unsigned line;
};

/* "[agent]", "[defaults]", "[target:NAME]", "[include]" or "[alerts]";
 * NULL for the other kinds. */
const char *keys_section_name(enum section_kind s);

/* The sections of mask as a list: "[x], [y] or [z]" with prose, else
 * "[x] [y] [z]".  Cut to fit buf. */
void keys_sections_text(unsigned mask, bool prose, char *buf, size_t size);

/* The key name of the sections of kind sec, or NULL. */
const struct key_def *keys_find(enum section_kind sec, const char *name);

/* "; it belongs in [x] or [y]" for a key known in other sections, else "". */
void keys_hint(const char *name, char *buf, size_t size);

/* True for the keys of struct target_policy ([defaults] and targets). */
bool keys_is_policy(const struct key_def *k);

/* The index in config_keys[] of the first filter key (user =, exe =) set
 * in set (indexed like config_keys), or -1. */
int keys_filter_set(const struct key_origin *set);
/* The words of a KT_CHOICE key joined: "auto, poll or ebpf" with sep ", "
 * and last " or ".  Cut to fit buf. */
void keys_choices_text(const struct key_def *k, const char *sep, const char *last, char *buf, size_t size);

/* "integer", "duration", ... */
const char *keys_type_name(enum key_type t);

/* The size of the field of a number-like key (log level included), 0 for
 * other keys. */
size_t keys_field_size(enum key_type t);

/* The field of key k in base (struct config, target_config or policy). */
void *keys_field_of(void *base, const struct key_def *k);

/* Appends s to buf (of size bytes, *len used); a cut is harmless where this
 * is used: the result only decorates a message. */
void keys_append(char *buf, size_t size, size_t *len, const char *s);

/* A process name for match is at most this long (an exe basename is at
 * most NAME_MAX). */
#define KEYS_MATCH_MAX 255

/* The numeric field of key k in base, as a number. */
uint64_t keys_number(const void *base, const struct key_def *k);

/* Writes a number of type t as it would be written in a file: with the
 * largest unit that divides it exactly, so that it reads back the same
 * (2000000 us is "2s", 1500 us is "1500us"). */
void keys_format_number(enum key_type t, uint64_t v, char *buf, size_t size);

/* Parses value for key k into its field in base (struct config, struct
 * target_policy or struct target_config: see key_def.offset).  Relative
 * paths are resolved against dir.  Returns 0, -EINVAL with a message in msg,
 * or -ENOMEM. */
int keys_set(const struct key_def *k, void *base, const char *value, const char *dir, char *msg,
             size_t msgsz);

/* A new config with every [agent] and [defaults] key at its built-in
 * default.  Returns 0 or -ENOMEM. */
int keys_config_new(struct config **ret);

/* Sets the [defaults] keys that default to an [agent] key, unless set
 * (indexed like config_keys; NULL: none) marks them as set in the file.
 * Returns 0 or -ENOMEM. */
int keys_resolve_from_agent(struct config *c, const struct key_origin *set);

/* Copies into t every policy field of c->defaults that set (NULL: none)
 * does not mark as set in the target itself, and every alert key of
 * c->defaults.alerts ([alerts]) that alert_set (indexed like core/alerts.h's
 * key table, ALERT_POLICY_KEYS entries; NULL: none) does not mark as set.
 * Returns 0 or -ENOMEM. */
int keys_inherit_policy(struct target_config *t, const struct key_origin *set,
                        const struct key_origin *alert_set, const struct config *c);

#ifdef __cplusplus
}
#endif
#endif
