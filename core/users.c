#include "core/users.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"

/* getpwuid_r's buffer: names longer than a message can show are "?". */
#define NSS_BUF_SIZE 4096

static const char *copy_name(const char *name, char *buf, size_t size) {
        int n = snprintf(buf, size, "%s", name ? name : "?");
        if (n < 0 || (size_t)n >= size)
                snprintf(buf, size, "?");
        return buf;
}

const char *users_user_name(uid_t uid, char *buf, size_t size) {
        char nss[NSS_BUF_SIZE];
        struct passwd pw, *res = NULL;
        if (getpwuid_r(uid, &pw, nss, sizeof(nss), &res) != 0)
                res = NULL;
        return copy_name(res ? res->pw_name : NULL, buf, size);
}

const char *users_group_name(gid_t gid, char *buf, size_t size) {
        char nss[NSS_BUF_SIZE];
        struct group gr, *res = NULL;
        if (getgrgid_r(gid, &gr, nss, sizeof(nss), &res) != 0)
                res = NULL;
        return copy_name(res ? res->gr_name : NULL, buf, size);
}

/* The n-th ':'-separated field of line [p, e) (0-based), or NULL. */
static const char *field(const char *p, const char *e, int n, size_t *ret_len) {
        for (; n > 0; n--) {
                p = memchr(p, ':', (size_t)(e - p));
                if (!p)
                        return NULL;
                p++;
        }
        const char *end = memchr(p, ':', (size_t)(e - p));
        *ret_len = (size_t)((end ? end : e) - p);
        return p;
}

static bool field_is_num(const char *f, size_t len, uint32_t v) {
        char buf[16];
        int n = snprintf(buf, sizeof(buf), "%u", v);
        return n > 0 && (size_t)n == len && memcmp(buf, f, len) == 0;
}

bool users_group_db_has_others(const char *group_db, const char *passwd_db, gid_t gid, uid_t uid) {
        const char *self = NULL, *p;
        size_t self_len = 0;
        bool known = false;

        /* Users whose primary group it is, and the name of uid. */
        for (p = passwd_db; *p;) {
                const char *e = strchr(p, '\n'), *f;
                size_t flen, nlen;
                e = e ? e : p + strlen(p);
                const char *name = field(p, e, 0, &nlen);
                if (name && (f = field(p, e, 2, &flen)) != NULL) {
                        bool is_root = field_is_num(f, flen, 0), is_self = field_is_num(f, flen, uid);
                        if (is_self && !self) {
                                self = name;
                                self_len = nlen;
                        }
                        if ((f = field(p, e, 3, &flen)) != NULL && field_is_num(f, flen, gid)) {
                                known = true;
                                if (!is_root && !is_self)
                                        return true;
                        }
                }
                p = *e ? e + 1 : e;
        }
        /* Members listed in the group. */
        for (p = group_db; *p;) {
                const char *e = strchr(p, '\n'), *f, *m;
                size_t flen;
                e = e ? e : p + strlen(p);
                if ((f = field(p, e, 2, &flen)) != NULL && field_is_num(f, flen, gid) &&
                    (m = field(p, e, 3, &flen)) != NULL) {
                        const char *me = m + flen;
                        known = true;
                        while (m < me) {
                                const char *c = memchr(m, ',', (size_t)(me - m));
                                size_t ml = (size_t)((c ? c : me) - m);
                                if (ml > 0 && !(ml == 4 && memcmp(m, "root", 4) == 0) &&
                                    !(self && ml == self_len && memcmp(m, self, ml) == 0))
                                        return true;
                                m = c ? c + 1 : me;
                        }
                }
                p = *e ? e + 1 : e;
        }
        /* A group nobody knows of may still be held (setgroups). */
        return !known;
}

char *users_read_db(int fd) {
        struct stat st;
        char *buf = NULL;
        size_t got = 0;

        if (fd < 0)
                return NULL;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > USERS_DB_MAX)
                goto out;
        buf = mm_malloc((size_t)st.st_size + 1);
        if (!buf)
                goto out;
        while (got < (size_t)st.st_size) {
                ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                got += (size_t)n;
        }
        buf[got] = '\0';
out:
        close(fd);
        return buf;
}

static char *read_db(const char *path) {
        return users_read_db(open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
}

bool users_group_has_others(gid_t gid, uid_t uid) {
        char *group_db = read_db("/etc/group"), *passwd_db = read_db("/etc/passwd");
        bool r = !group_db || !passwd_db || users_group_db_has_others(group_db, passwd_db, gid, uid);
        mm_free(group_db);
        mm_free(passwd_db);
        return r;
}
