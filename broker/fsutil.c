/* fsutil.c — see fsutil.h. */
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "strutil.h"

static int mkdir_one(const char *path, char *err, size_t errsz)
{
    struct stat st;
    if (mkdir(path, 0700) == 0) {
        if (chmod(path, 0700) == 0)
            return 0;
        str_format(err, errsz, "cannot make %s private: %s", path, strerror(errno));
        return -1;
    }
    if (errno != EEXIST) {
        str_format(err, errsz, "cannot create directory %s: %s", path, strerror(errno));
        return -1;
    }
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        str_format(err, errsz, "%s exists and is not a directory", path);
        return -1;
    }
    return 0;
}

int fs_mkdir_p(const char *dir, char *err, size_t errsz)
{
    char buf[PATH_MAX];
    size_t n = dir ? strnlen(dir, sizeof buf) : 0;
    if (n == 0 || n >= sizeof buf) {
        str_format(err, errsz, "bad directory name");
        return -1;
    }
    memcpy(buf, dir, n + 1);
    while (n > 1 && buf[n - 1] == '/')
        buf[--n] = '\0';
    for (size_t i = 1; i < n; i++) {
        if (buf[i] != '/' || buf[i - 1] == '/')
            continue;
        buf[i] = '\0';
        if (mkdir_one(buf, err, errsz))
            return -1;
        buf[i] = '/';
    }
    return mkdir_one(buf, err, errsz);
}

static int write_all(int fd, const void *data, size_t len)
{
    const unsigned char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Best effort: makes the rename itself durable. */
static void fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

int fs_write_atomic(const char *dir, const char *name, const void *data, size_t len,
                    bool keep_existing, char *err, size_t errsz)
{
    char tmp[PATH_MAX], final[PATH_MAX];
    int a = snprintf(tmp, sizeof tmp, "%s/.%s.XXXXXX", dir, name);
    int b = snprintf(final, sizeof final, "%s/%s", dir, name);
    if (a < 0 || (size_t)a >= sizeof tmp || b < 0 || (size_t)b >= sizeof final) {
        str_format(err, errsz, "path too long: %s/%s", dir, name);
        return -1;
    }
    int fd = mkstemp(tmp);
    if (fd < 0) {
        str_format(err, errsz, "cannot create a file in %s: %s", dir, strerror(errno));
        return -1;
    }
    int rc = fchmod(fd, 0600);
    if (!rc)
        rc = write_all(fd, data, len);
    if (!rc)
        rc = fsync(fd);
    if (close(fd) != 0)
        rc = -1;
    if (!rc && keep_existing) {
        rc = link(tmp, final);
        if (rc && errno == EEXIST)
            rc = 0; /* someone else's file won: it is the one to read */
        unlink(tmp);
    } else if (!rc) {
        rc = rename(tmp, final);
    }
    if (rc) {
        str_format(err, errsz, "cannot write %s: %s", final, strerror(errno));
        unlink(tmp);
        return -1;
    }
    fsync_dir(dir);
    return 0;
}
