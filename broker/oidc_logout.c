/* oidc_logout.c — the end_session_endpoint, /logout (OpenID Connect
 * RP-Initiated Logout 1.0). The session named by id_token_hint (an ID token
 * we issued; its expiry does not matter) is revoked, and its sockets hear
 * session.revoked with reason "logout". The browser then goes to
 * post_logout_redirect_uri with state when that URI is registered for the
 * token's client, else it is shown a short page. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "form.h"
#include "jwt.h"
#include "oidc.h"
#include "oidc_authorize.h"
#include "oidc_idtoken.h"
#include "sessions.h"
#include "workers.h"

struct logout {
    struct work work;
    uint64_t http;
    char hint[JWT_MAX_TOKEN + 1];
    char post_uri[OIDC_REDIRECT_URI_MAX];
    char state[OIDC_STATE_MAX + 1];
    char client_id[CLIENT_ID_MAX + 2];
    int checked;      /* oidc_idtoken_check_hint's answer */
    int64_t sub;
    char sid[SID_MAX];
    char aud[CLIENT_ID_MAX + 1];
};

static void signed_out_page(struct logout *x)
{
    static const char page[] = "<!doctype html><meta charset=utf-8><title>Signed out</title>"
                               "<p>You are signed out.</p>";
    struct http_req *q = http_req_find(x->http);
    if (q)
        http_reply_text(q, 200, "text/html; charset=utf-8", "no-store", page, sizeof page - 1);
    free(x);
}

static void client_found(void *arg, enum store_rc rc, const struct oidc_client *c)
{
    struct logout *x = arg;
    char url[2048];
    const char *names[] = {"state", NULL};
    const char *values[] = {x->state, NULL};
    struct http_req *q = http_req_find(x->http);
    if (!rc && q && oidc_client_redirect_ok(c, x->post_uri) &&
        !oidc_redirect_url(x->post_uri, names, values, url, sizeof url)) {
        http_reply_redirect(q, url);
        free(x);
        return;
    }
    signed_out_page(x);
}

static void then_redirect(struct logout *x)
{
    const char *client = x->aud[0] ? x->aud : x->client_id;
    if (!x->post_uri[0] || !*client) {
        signed_out_page(x);
        return;
    }
    oidc_client_get(client, client_found, x);
}

static void revoked(void *arg, enum api_err err)
{
    (void)err; /* already ended, or a store failure logged there: the page is the same */
    then_redirect(arg);
}

static void hint_run(struct work *w)
{
    struct logout *x = (struct logout *)w;
    x->checked = oidc_idtoken_check_hint(x->hint, &x->sub, x->sid, x->aud);
}

static void hint_done(struct work *w)
{
    struct logout *x = (struct logout *)w;
    if (x->checked) {
        x->aud[0] = '\0'; /* not ours: revoke nothing, redirect by client_id only */
        then_redirect(x);
        return;
    }
    if (x->client_id[0] && strcmp(x->client_id, x->aud)) {
        x->aud[0] = '\0';
        x->client_id[0] = '\0'; /* the hint is another client's: no redirect */
    }
    sessions_revoke(x->sub, x->sid, SESSION_END_LOGOUT, revoked, x);
}

/* A parameter from the query (GET) or the form body (POST). */
static int param(struct http_req *q, const char *name, char *out, size_t outsz)
{
    size_t len;
    bool overflow;
    const char *body = http_req_body(q, &len, &overflow);
    int n = body ? form_value(body, len, name, out, outsz) : http_req_query(q, name, out, outsz);
    if (n < 0)
        out[0] = '\0';
    return n;
}

void oidc_logout(struct http_req *q)
{
    struct logout *x = calloc(1, sizeof *x);
    if (!x) {
        http_reply_text(q, 500, "text/plain", "no-store", "out of memory\n", 14);
        return;
    }
    param(q, "id_token_hint", x->hint, sizeof x->hint);
    param(q, "post_logout_redirect_uri", x->post_uri, sizeof x->post_uri);
    param(q, "state", x->state, sizeof x->state);
    param(q, "client_id", x->client_id, sizeof x->client_id);
    x->http = http_req_hold(q);
    if (!x->hint[0]) {
        then_redirect(x);
        return;
    }
    x->work.run = hint_run;
    x->work.done = hint_done;
    workers_submit(&x->work);
}
