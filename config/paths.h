/*
 * paths: file names as the configuration writes them, relative to the file
 * that names them.  Results are allocated with mm_malloc() (core/alloc.h).
 * Internal to config/.
 */
#ifndef MEMMON_CONFIG_PATHS_H
#define MEMMON_CONFIG_PATHS_H

#ifdef __cplusplus
extern "C" {
#endif

/* a followed by b, or NULL when out of memory. */
char *path_concat(const char *a, const char *b);

/* dir joined with rel, or a copy of rel when it is absolute.  A leading "./"
 * of rel is dropped so that messages show tidy paths.  NULL when out of
 * memory. */
char *path_join(const char *dir, const char *rel);

/* path made absolute against the current directory, without resolving
 * symbolic links.  Returns 0 or -errno. */
int path_absolute(const char *path, char **ret);

/* The folder of the absolute path path, or NULL when out of memory. */
char *path_dir(const char *path);

/* The folder part of path as typed ("" or "dir/"), with glob(3)'s special
 * characters escaped so that only the pattern after it is a pattern; NULL
 * when out of memory. */
char *path_glob_prefix(const char *path);

#ifdef __cplusplus
}
#endif
#endif
