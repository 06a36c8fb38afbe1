/*
 * config_write: writing a configuration back as INI text, and the key table
 * as documentation.  Used by tests and fuzzers (a testonly library): the
 * agent never writes its configuration.
 */
#ifndef MEMMON_CONFIG_CONFIG_WRITE_H
#define MEMMON_CONFIG_CONFIG_WRITE_H

#include <stdio.h>

#include "config/config.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes C as a complete INI file that config_load() reads back to an equal
 * config (targets after [defaults], every policy key resolved), with each
 * target's origin as a comment. Returns 0, or -EIO if writing to F failed. */
int config_write(const struct config *c, FILE *f);

/* Writes the key table (section, key, type, bounds, default, help), one key
 * per line, for documentation. Returns 0, or -EIO. */
int config_write_keys(FILE *f);

#ifdef __cplusplus
}
#endif
#endif
