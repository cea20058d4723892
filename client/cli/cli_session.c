/* cli_session.c — `qrlogin token`, `sessions` and `logout`, on the sign-in
 * `qrlogin login` stored; and the connection helpers every command uses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define CONNECT_TIMEOUT_MS 15000

qrl_client *cli_connect(const struct cli *o, const char *server, const char *ca,
                        qrl_event_cb cb, void *user, int *exit_code)
{
    char name[128], host[64];
    if (gethostname(host, sizeof host))
        snprintf(host, sizeof host, "this computer");
    host[sizeof host - 1] = '\0';
    snprintf(name, sizeof name, "%s", o->name ? o->name : host);
    struct qrl_config cfg = {
        .url = server,
        .ca_file = ca && *ca ? ca : NULL,
        .client_name = name,
        .user_agent = "qrlogin-cli/1 (Linux; terminal)",
        .on_event = cb,
        .user = user,
    };
    struct qrl_error err;
    qrl_client *c = qrl_client_new(&cfg, &err);
    if (!c) {
        *exit_code = err.status == QRL_ERR_INVALID ? EXIT_USAGE : fail(o, server, err.status, &err);
        if (err.status == QRL_ERR_INVALID)
            err_msg(o, "%s: %s", server, err.message);
        return NULL;
    }
    int st = qrl_client_wait_connected(c, CONNECT_TIMEOUT_MS, &err);
    if (st != QRL_OK) {
        *exit_code = fail(o, server, st, &err);
        qrl_client_free(c);
        return NULL;
    }
    return c;
}

void cli_use_creds(qrl_client *c, const struct creds *cr)
{
    (void)qrl_set_tokens(c, &cr->t);
}

int cli_save_if_changed(const struct cli *o, const char *which, struct creds *cr, qrl_client *c)
{
    struct qrl_tokens now;
    if (qrl_get_tokens(c, &now) != QRL_OK)
        return 0;
    int changed = strcmp(now.refresh_token, cr->t.refresh_token) != 0;
    memset(&now, 0, sizeof now);
    if (!changed)
        return 0;
    creds_from_client(cr, c);
    return creds_save(o, which, cr);
}

/* Loads the "login" sign-in, or says there is none (exit 3). */
static int load_login(const struct cli *o, struct creds *cr)
{
    int rc = creds_load(o, "login", cr);
    if (rc == 1) {
        err_msg(o, "not signed in; run `qrlogin login URL` first");
        if (o->json)
            printf("{\"error\":\"not_signed_in\",\"exit\":%d}\n", EXIT_SIGNED_OUT);
        return EXIT_SIGNED_OUT;
    }
    return rc ? EXIT_LOCAL : EXIT_OK;
}

/* A failure that means the stored pair is dead: forget it. */
static int failed(const struct cli *o, const char *what, int st, const struct qrl_error *e)
{
    int rc = fail(o, what, st, e);
    if (rc == EXIT_SIGNED_OUT)
        creds_remove(o, "login");
    return rc;
}

int cmd_token(const struct cli *o, int argc, char **argv)
{
    if (argc != 0) {
        err_msg(o, "usage: qrlogin token");
        return EXIT_USAGE;
    }
    struct creds cr;
    int rc = load_login(o, &cr);
    if (rc)
        return rc;
    /* Still more than a fifth of its life left: no need to ask anyone. */
    if (!(cr.life > 0 && cr.t.expires_in > cr.life / 5)) {
        qrl_client *c = cli_connect(o, cr.server, cr.ca_file, NULL, NULL, &rc);
        if (!c)
            return rc;
        cli_use_creds(c, &cr);
        char fresh[QRL_TOKEN_MAX];
        struct qrl_error err;
        int st = qrl_refresh(c, cr.t.access_token, fresh, sizeof fresh, &err);
        memset(fresh, 0, sizeof fresh);
        if (st != QRL_OK) {
            qrl_client_free(c);
            return failed(o, "token", st, &err);
        }
        if (cli_save_if_changed(o, "login", &cr, c)) {
            qrl_client_free(c);
            return EXIT_LOCAL;
        }
        qrl_client_free(c);
    }
    if (o->json) {
        printf("{\"access_token\":");
        out_json_str(cr.t.access_token);
        printf(",\"token_type\":\"Bearer\",\"expires_in\":%lld}\n",
               (long long)(cr.expires_at - (long long)time(NULL)));
    } else {
        printf("%s\n", cr.t.access_token);
    }
    memset(&cr, 0, sizeof cr);
    return EXIT_OK;
}

static void print_time(long long ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char buf[32];
    if (ms > 0 && localtime_r(&t, &tm) && strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm))
        printf("  %-16s", buf);
    else
        printf("  %-16s", "-");
}

static void print_sessions(const char *js)
{
    size_t n = strlen(js);
    int count = 0;
    qrl_json_count(js, n, "sessions", &count);
    printf("  %-24s  %-4s  %-16s  %-16s  %-15s  %s\n", "SESSION", "KIND", "CREATED", "LAST USED",
           "IP", "CLIENT");
    for (int i = 0; i < count; i++) {
        char key[64], sid[QRL_ID_MAX] = "", kind[16] = "", ip[64] = "", ua[256] = "";
        int64_t created = 0, used = 0, current = 0;
#define FIELD(name, dst) \
    snprintf(key, sizeof key, "sessions.%d." name, i), qrl_json_string(js, n, key, dst, sizeof dst)
        FIELD("session_id", sid);
        FIELD("kind", kind);
        FIELD("ip", ip);
        FIELD("user_agent", ua);
#undef FIELD
        snprintf(key, sizeof key, "sessions.%d.created_at", i);
        qrl_json_int(js, n, key, &created);
        snprintf(key, sizeof key, "sessions.%d.last_used_at", i);
        qrl_json_int(js, n, key, &used);
        snprintf(key, sizeof key, "sessions.%d.current", i);
        qrl_json_int(js, n, key, &current);
        printf("%c %-24s  %-4s", current ? '*' : ' ', sid, kind);
        print_time(created);
        print_time(used);
        printf("  %-15s  %.40s\n", ip, ua);
    }
}

int cmd_sessions(const struct cli *o, int argc, char **argv)
{
    if (argc != 0) {
        err_msg(o, "usage: qrlogin sessions");
        return EXIT_USAGE;
    }
    struct creds cr;
    int rc = load_login(o, &cr);
    if (rc)
        return rc;
    qrl_client *c = cli_connect(o, cr.server, cr.ca_file, NULL, NULL, &rc);
    if (!c)
        return rc;
    cli_use_creds(c, &cr);
    struct qrl_error err;
    char *list = NULL;
    int st = qrl_auth_token(c, &err);
    if (st == QRL_OK)
        st = qrl_session_list(c, &list, &err);
    if (st != QRL_OK) {
        qrl_client_free(c);
        return failed(o, "sessions", st, &err);
    }
    rc = cli_save_if_changed(o, "login", &cr, c) ? EXIT_LOCAL : EXIT_OK;
    if (o->json) {
        /* The broker's own answer; "sessions" is the array. */
        printf("%s\n", list);
    } else {
        print_sessions(list);
    }
    qrl_free(list);
    memset(&cr, 0, sizeof cr);
    qrl_client_free(c);
    return rc;
}

int cmd_logout(const struct cli *o, int argc, char **argv)
{
    if (argc != 0) {
        err_msg(o, "usage: qrlogin logout [--all]");
        return EXIT_USAGE;
    }
    struct creds cr;
    int rc = creds_load(o, "login", &cr);
    if (rc == 1) {
        if (o->json)
            printf("{\"signed_out\":true,\"already\":true}\n");
        else
            printf("Not signed in.\n");
        return EXIT_OK;
    }
    if (rc)
        return EXIT_LOCAL;
    qrl_client *c = cli_connect(o, cr.server, cr.ca_file, NULL, NULL, &rc);
    if (!c)
        return rc;
    cli_use_creds(c, &cr);
    struct qrl_error err;
    int st;
    if (o->all) {
        st = qrl_auth_token(c, &err);
        if (st == QRL_OK)
            st = qrl_logout_all(c, &err);
    } else {
        char tok[QRL_TOKEN_MAX];
        /* A valid access token attaches the socket, which logout needs. */
        st = qrl_access_token(c, tok, sizeof tok, &err);
        memset(tok, 0, sizeof tok);
        if (st == QRL_OK)
            st = qrl_logout(c, &err);
    }
    qrl_client_free(c);
    int already = st == QRL_ERR_SERVER &&
                  (!strcmp(err.code, "session_revoked") || !strcmp(err.code, "refresh_reused") ||
                   !strcmp(err.code, "token_expired") || !strcmp(err.code, "invalid_token"));
    if (st != QRL_OK && !already && st != QRL_ERR_NO_TOKENS)
        return fail(o, "logout", st, &err);
    creds_remove(o, "login");
    memset(&cr, 0, sizeof cr);
    if (o->json)
        printf("{\"signed_out\":true,\"all\":%s}\n", o->all ? "true" : "false");
    else
        printf("%s\n", already || st == QRL_ERR_NO_TOKENS ? "Already signed out."
                       : o->all                           ? "Signed out everywhere."
                                                          : "Signed out.");
    return EXIT_OK;
}
