#include "config/paths.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"

char *path_concat(const char *a, const char *b) {
        size_t la = strlen(a), lb = strlen(b);
        char *s = mm_malloc(la + lb + 1);

        if (!s)
                return NULL;
        memcpy(s, a, la);
        memcpy(s + la, b, lb + 1);
        return s;
}

char *path_join(const char *dir, const char *rel) {
        size_t ld;
        char *s;

        if (rel[0] == '/')
                return mm_strdup(rel);
        while (rel[0] == '.' && rel[1] == '/') {
                rel += 2;
                while (*rel == '/')
                        rel++;
        }
        if (rel[0] == '\0' || strcmp(rel, ".") == 0)
                return mm_strdup(dir);
        ld = strlen(dir);
        if (ld > 0 && dir[ld - 1] == '/')
                return path_concat(dir, rel);
        s = mm_malloc(ld + 1 + strlen(rel) + 1);
        if (!s)
                return NULL;
        memcpy(s, dir, ld);
        s[ld] = '/';
        strcpy(s + ld + 1, rel);
        return s;
}

int path_absolute(const char *path, char **ret) {
        char *cwd, *s;

        if (path[0] == '/') {
                s = mm_strdup(path);
        } else {
                cwd = getcwd(NULL, 0);
                if (!cwd)
                        return -errno;
                s = path_join(cwd, path);
                free(cwd);
        }
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

char *path_dir(const char *path) {
        const char *slash = strrchr(path, '/');
        size_t n = slash && slash != path ? (size_t)(slash - path) : 1;
        char *s = mm_malloc(n + 1);

        if (!s)
                return NULL;
        memcpy(s, slash ? path : "/", n);
        s[n] = '\0';
        return s;
}

char *path_glob_prefix(const char *path) {
        const char *slash = strrchr(path, '/');
        size_t n = slash ? (size_t)(slash - path) + 1 : 0;
        char *s = mm_malloc(2 * n + 1), *o = s;

        if (!s)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                if (strchr("*?[\\", path[i]))
                        *o++ = '\\';
                *o++ = path[i];
        }
        *o = '\0';
        return s;
}
