/* creds.c — stored sign-ins: <config dir>/<which>.json, mode 0600 in a
 * 0700 directory, replaced atomically (temporary file, fsync, rename). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define CREDS_MAX (64 * 1024)

int creds_dir(const struct cli *o, char *out, size_t size)
{
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    int n;
    if (o->config_dir)
        n = snprintf(out, size, "%s", o->config_dir);
    else if (xdg && xdg[0] == '/') /* the spec: a relative value is ignored */
        n = snprintf(out, size, "%s/qrlogin", xdg);
    else if (home && *home)
        n = snprintf(out, size, "%s/.config/qrlogin", home);
    else
        return -1;
    return n > 0 && (size_t)n < size ? 0 : -1;
}

static int path_of(const struct cli *o, const char *which, char *out, size_t size)
{
    char dir[768];
    if (creds_dir(o, dir, sizeof dir))
        return -1;
    int n = snprintf(out, size, "%s/%s.json", dir, which);
    return n > 0 && (size_t)n < size ? 0 : -1;
}

/* mkdir -p, the last level 0700. */
static int make_dir(const char *dir)
{
    char p[768];
    snprintf(p, sizeof p, "%s", dir);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0700) && errno != EEXIST)
            return -1;
        *s = '/';
    }
    return mkdir(p, 0700) && errno != EEXIST ? -1 : 0;
}

static void get_str(const char *js, size_t n, const char *key, char *out, size_t size)
{
    if (qrl_json_string(js, n, key, out, size) != QRL_OK)
        out[0] = '\0';
}

static long long get_int(const char *js, size_t n, const char *key)
{
    int64_t v;
    return qrl_json_int(js, n, key, &v) == QRL_OK ? (long long)v : 0;
}

int creds_load(const struct cli *o, const char *which, struct creds *c)
{
    memset(c, 0, sizeof *c);
    char path[900];
    if (path_of(o, which, path, sizeof path)) {
        err_msg(o, "no configuration directory (set HOME or XDG_CONFIG_HOME)");
        return -1;
    }
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? 1 : (err_msg(o, "%s: %s", path, strerror(errno)), -1);
    static char buf[CREDS_MAX];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    get_str(buf, n, "server", c->server, sizeof c->server);
    get_str(buf, n, "ca_file", c->ca_file, sizeof c->ca_file);
    get_str(buf, n, "access_token", c->t.access_token, sizeof c->t.access_token);
    get_str(buf, n, "refresh_token", c->t.refresh_token, sizeof c->t.refresh_token);
    get_str(buf, n, "session_id", c->t.session_id, sizeof c->t.session_id);
    get_str(buf, n, "user_id", c->t.user_id, sizeof c->t.user_id);
    get_str(buf, n, "user_name", c->t.user_name, sizeof c->t.user_name);
    c->life = get_int(buf, n, "life");
    c->expires_at = get_int(buf, n, "expires_at");
    c->refresh_expires_at = get_int(buf, n, "refresh_expires_at");
    memset(buf, 0, n);
    if (!c->server[0] || !c->t.access_token[0] || !c->t.refresh_token[0]) {
        err_msg(o, "%s is not a stored sign-in; remove it and sign in again", path);
        return -1;
    }
    long long left = c->expires_at - (long long)time(NULL);
    c->t.expires_in = left > 0 ? left : 0;
    left = c->refresh_expires_at - (long long)time(NULL);
    c->t.refresh_expires_in = c->refresh_expires_at && left > 0 ? left : 0;
    return 0;
}

static void put_str(FILE *f, const char *key, const char *val, int last)
{
    fprintf(f, "  \"%s\": \"", key);
    for (const unsigned char *p = (const unsigned char *)val; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fprintf(f, "\"%s\n", last ? "" : ",");
}

int creds_save(const struct cli *o, const char *which, const struct creds *c)
{
    char dir[768], path[900], tmp[920];
    if (creds_dir(o, dir, sizeof dir) || path_of(o, which, path, sizeof path)) {
        err_msg(o, "no configuration directory (set HOME or XDG_CONFIG_HOME)");
        return -1;
    }
    if (make_dir(dir)) {
        err_msg(o, "%s: %s", dir, strerror(errno));
        return -1;
    }
    snprintf(tmp, sizeof tmp, "%s/.%s.XXXXXX", dir, which);
    int fd = mkstemp(tmp); /* 0600 */
    if (fd < 0) {
        err_msg(o, "%s: %s", dir, strerror(errno));
        return -1;
    }
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        unlink(tmp);
        err_msg(o, "%s", strerror(errno));
        return -1;
    }
    fprintf(f, "{\n");
    put_str(f, "server", c->server, 0);
    put_str(f, "ca_file", c->ca_file, 0);
    put_str(f, "access_token", c->t.access_token, 0);
    put_str(f, "refresh_token", c->t.refresh_token, 0);
    put_str(f, "session_id", c->t.session_id, 0);
    put_str(f, "user_id", c->t.user_id, 0);
    put_str(f, "user_name", c->t.user_name, 0);
    fprintf(f, "  \"life\": %lld,\n  \"expires_at\": %lld,\n  \"refresh_expires_at\": %lld\n}\n",
            c->life, c->expires_at, c->refresh_expires_at);
    int bad = fflush(f) != 0 || fsync(fd) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path)) {
        err_msg(o, "%s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    /* The rename itself is durable once the directory is synced. */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    return 0;
}

int creds_remove(const struct cli *o, const char *which)
{
    char path[900];
    if (path_of(o, which, path, sizeof path))
        return -1;
    return unlink(path) && errno != ENOENT ? -1 : 0;
}

void creds_begin(struct creds *c, const char *server, const char *ca)
{
    memset(c, 0, sizeof *c);
    snprintf(c->server, sizeof c->server, "%s", server);
    if (ca && !realpath(ca, c->ca_file))
        snprintf(c->ca_file, sizeof c->ca_file, "%.*s", (int)sizeof c->ca_file - 1, ca);
}

void creds_from_client(struct creds *c, qrl_client *client)
{
    struct qrl_tokens t;
    if (qrl_get_tokens(client, &t) != QRL_OK)
        return;
    long long now = (long long)time(NULL);
    if (strcmp(t.access_token, c->t.access_token))
        c->life = t.expires_in; /* a new token: what is left is its whole life */
    c->t = t;
    c->expires_at = now + t.expires_in;
    if (t.refresh_expires_in > 0)
        c->refresh_expires_at = now + t.refresh_expires_in;
    memset(&t, 0, sizeof t);
}
