/* client_cli.c — see client_cli.h. The command's own options (--redirect-uri,
 * --public, --secret-from-stdin, --grant) are taken out of argv first; the
 * rest are the broker's options (--store, --data-dir…), so a client lands in
 * the same store the daemon reads. */
#include "client_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/platform_util.h>

#include "broker.h"
#include "clock.h"
#include "log.h"
#include "oidc_clients.h"
#include "rng.h"
#include "store_wait.h"

#define CLI_ARGS_MAX 64
#define SECRET_BYTES 32

struct cli_opts {
    struct oidc_client c;
    bool public_client, secret_from_stdin, grants_given;
};

static int usage_error(const char *cmd, const char *what)
{
    fprintf(stderr, "qrlogin-broker %s: %s\n", cmd, what);
    return 2;
}

/* Takes our options out of argv (into o), leaving the broker's in rest. */
static int take_options(const char *cmd, int argc, char **argv, struct cli_opts *o, char **rest,
                        int *nrest)
{
    *nrest = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        bool redirect = !strncmp(a, "--redirect-uri", 14) && (a[14] == '\0' || a[14] == '=');
        bool grant = !strncmp(a, "--grant", 7) && (a[7] == '\0' || a[7] == '=');
        if (redirect || grant) {
            const char *eq = strchr(a, '=');
            if (eq)
                val = eq + 1;
            else if (i + 1 < argc)
                val = argv[++i];
            else
                return usage_error(cmd, redirect ? "--redirect-uri needs a URI"
                                                 : "--grant needs a list of grant types");
        }
        if (redirect) {
            if (!oidc_redirect_uri_ok(val))
                return usage_error(cmd, "--redirect-uri accepts an absolute https:// URI, or "
                                        "http:// on 127.0.0.1 or [::1], without a fragment, "
                                        "under 400 bytes");
            if (o->c.n_redirects == OIDC_REDIRECTS_MAX)
                return usage_error(cmd, "--redirect-uri: at most 8 per client");
            snprintf(o->c.redirects[o->c.n_redirects++], OIDC_REDIRECT_URI_MAX, "%s", val);
        } else if (grant) {
            if (oidc_grants_parse(val, &o->c.grants))
                return usage_error(cmd, "--grant accepts authorization_code, refresh_token and "
                                        OIDC_GRANT_DEVICE_NAME ", comma-separated");
            o->grants_given = true;
        } else if (!strcmp(a, "--public")) {
            o->public_client = true;
        } else if (!strcmp(a, "--secret-from-stdin")) {
            o->secret_from_stdin = true;
        } else if (*nrest < CLI_ARGS_MAX) {
            rest[(*nrest)++] = argv[i];
        } else {
            return usage_error(cmd, "too many arguments");
        }
    }
    return 0;
}

static int load(const char *cmd, int argc, char **argv, const char **pos, int *npos)
{
    char err[512];
    enum config_rc rc = config_load(&broker.cfg, argc, argv, pos, npos, err, sizeof err);
    if (rc == CONFIG_HELP) {
        config_print_help(stdout);
        exit(0);
    }
    if (rc != CONFIG_OK) {
        fprintf(stderr, "qrlogin-broker %s: %s\n", cmd, err);
        return 2;
    }
    log_set_level((enum log_level)broker.cfg.log_level);
    return 0;
}

/* ---- running one store call to completion ---- */

struct waited {
    bool done;
    enum store_rc rc;
    struct oauth_rec *rows;
    int n;
};

static void on_done(void *arg, enum store_rc rc)
{
    struct waited *w = arg;
    w->rc = rc;
    w->done = true;
}

static void on_list(void *arg, enum store_rc rc, const struct oauth_rec *r, int n)
{
    struct waited *w = arg;
    w->rc = rc;
    w->done = true;
    if (!rc && n > 0 && (w->rows = malloc((size_t)n * sizeof *r))) {
        memcpy(w->rows, r, (size_t)n * sizeof *r);
        w->n = n;
    }
}

struct store_session {
    struct store *st;
    struct store_wait *w;
};

static int open_store(const char *cmd, struct store_session *s)
{
    char err[512];
    s->st = store_open(broker.cfg.store_url, err, sizeof err);
    if (!s->st) {
        fprintf(stderr, "qrlogin-broker %s: store: %s\n", cmd, err);
        return -1;
    }
    s->w = store_wait_open(s->st, 10000); /* closes st if it fails */
    if (!s->w) {
        fprintf(stderr, "qrlogin-broker %s: the store did not answer within 10 s\n", cmd);
        return -1;
    }
    return 0;
}

/* ---- the commands ---- */

/* One line from stdin, without its newline; at least 16 bytes. */
static int read_secret(char *out, size_t outsz)
{
    if (!fgets(out, (int)outsz, stdin))
        return -1;
    size_t n = strcspn(out, "\r\n");
    if (out[n] == '\0' && n == outsz - 1)
        return -1;
    out[n] = '\0';
    return n >= 16 ? 0 : -1;
}

static int clientadd(const char *cmd, struct cli_opts *o, const char *name)
{
    char secret[PASSWORD_MAX_LEN + 2] = "";
    bool generated = false;
    if (o->public_client && o->secret_from_stdin)
        return usage_error(cmd, "--public and --secret-from-stdin exclude each other");
    if (!o->grants_given)
        o->c.grants = OIDC_GRANT_CODE | OIDC_GRANT_REFRESH;
    if ((o->c.grants & OIDC_GRANT_CODE) && !o->c.n_redirects)
        return usage_error(cmd, "the authorization_code grant needs at least one --redirect-uri");
    if (!strcmp(name, broker.cfg.client_id))
        return usage_error(cmd, "that name is the broker's own --client-id");
    if (o->secret_from_stdin && read_secret(secret, sizeof secret))
        return usage_error(cmd, "expected a secret of 16-1024 bytes on stdin");
    if (rng_init()) {
        fprintf(stderr, "qrlogin-broker %s: no entropy source\n", cmd);
        return 1;
    }
    if (!o->public_client && !o->secret_from_stdin) {
        /* Neither given: a strong secret, shown once. */
        if (rng_token(SECRET_BYTES, secret, sizeof secret) < 0) {
            rng_free();
            return 1;
        }
        generated = true;
    }
    snprintf(o->c.id, sizeof o->c.id, "%s", name);
    o->c.created_at = clock_now_ms();
    if (!o->public_client &&
        password_hash(secret, strlen(secret), broker.cfg.pbkdf2_iterations, o->c.secret_hash,
                      sizeof o->c.secret_hash)) {
        rng_free();
        return 1;
    }
    struct oauth_rec *r = calloc(1, sizeof *r);
    struct store_session s = {0};
    int status = 1;
    if (r && !open_store(cmd, &s)) {
        snprintf(r->kind, sizeof r->kind, "client");
        snprintf(r->key, sizeof r->key, "%s", name);
        if (!oidc_client_encode(&o->c, r->value, sizeof r->value)) {
            struct waited w = {0};
            s.st->ops->oauth_put(s.st, r, on_done, &w);
            store_wait_until(s.w, &w.done, 10000);
            if (w.done && w.rc == STORE_CONFLICT)
                fprintf(stderr, "qrlogin-broker %s: client '%s' already exists\n", cmd, name);
            else if (!w.done || w.rc)
                fprintf(stderr, "qrlogin-broker %s: could not store client '%s'\n", cmd, name);
            else
                status = 0;
        }
    }
    store_wait_close(s.w);
    free(r);
    if (!status) {
        char grants[160];
        oidc_grants_format(o->c.grants, grants, sizeof grants);
        printf("client '%s' created (%s; %s)\n", name,
               o->public_client ? "public" : "confidential", grants);
        if (generated)
            printf("client_secret: %s\n", secret);
    }
    mbedtls_platform_zeroize(secret, sizeof secret);
    rng_free();
    return status;
}

static int clientdel(const char *cmd, const char *name)
{
    struct store_session s = {0};
    int status = 1;
    if (!open_store(cmd, &s)) {
        struct waited w = {0};
        s.st->ops->oauth_del(s.st, "client", name, on_done, &w);
        store_wait_until(s.w, &w.done, 10000);
        if (w.done && w.rc == STORE_NOT_FOUND)
            fprintf(stderr, "qrlogin-broker %s: no client '%s'\n", cmd, name);
        else if (!w.done || w.rc)
            fprintf(stderr, "qrlogin-broker %s: could not delete client '%s'\n", cmd, name);
        else
            status = 0;
    }
    store_wait_close(s.w);
    if (!status)
        printf("client '%s' deleted (its sessions end at their next refresh)\n", name);
    return status;
}

/* One line per client: name, public|confidential, grants, redirect URIs. */
static int clientlist(const char *cmd)
{
    struct store_session s = {0};
    int status = 1;
    struct waited w = {0};
    if (!open_store(cmd, &s)) {
        s.st->ops->oauth_list(s.st, "client", on_list, &w);
        store_wait_until(s.w, &w.done, 10000);
        if (!w.done || w.rc)
            fprintf(stderr, "qrlogin-broker %s: could not list the clients\n", cmd);
        else
            status = 0;
    }
    store_wait_close(s.w);
    for (int i = 0; !status && i < w.n; i++) {
        struct oidc_client c;
        char grants[160];
        if (oidc_client_decode(w.rows[i].key, w.rows[i].value, strlen(w.rows[i].value), &c))
            continue;
        oidc_grants_format(c.grants, grants, sizeof grants);
        printf("%s\t%s\t%s\t", c.id, c.secret_hash[0] ? "confidential" : "public", grants);
        for (int k = 0; k < c.n_redirects; k++)
            printf("%s%s", k ? " " : "", c.redirects[k]);
        printf("\n");
    }
    free(w.rows);
    return status;
}

int client_cli_main(const char *cmd, int argc, char **argv)
{
    struct cli_opts *o = calloc(1, sizeof *o);
    char *rest[CLI_ARGS_MAX];
    const char *pos[4];
    int nrest, npos = 0, rc;
    if (!o)
        return 1;
    rc = take_options(cmd, argc, argv, o, rest, &nrest);
    if (!rc)
        rc = load(cmd, nrest, rest, pos, &npos);
    bool list = !strcmp(cmd, "clientlist");
    if (!rc && (list ? npos != 0 : npos != 1 || !oidc_client_id_ok(pos[0])))
        rc = usage_error(cmd, list ? "takes no NAME"
                                   : "expected one client NAME of 1-64 characters of "
                                     "[A-Za-z0-9._-]");
    if (!rc && !strcmp(cmd, "clientadd"))
        rc = clientadd(cmd, o, pos[0]);
    else if (!rc && !strcmp(cmd, "clientdel"))
        rc = clientdel(cmd, pos[0]);
    else if (!rc)
        rc = clientlist(cmd);
    free(o);
    return rc;
}
