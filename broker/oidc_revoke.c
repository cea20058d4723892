/* oidc_revoke.c — POST /revoke (RFC 7009). Our tokens are bound to their
 * session, so revoking one ends the session it belongs to (both tokens, and
 * the sockets attached to it hear session.revoked). Only the client the
 * session was issued to may revoke it. As §2.2 asks, the answer is 200
 * whether or not the token was valid: a prober learns nothing. */
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "clock.h"
#include "form.h"
#include "jwt.h"
#include "oidc.h"
#include "oidc_client_auth.h"
#include "sessions.h"

struct revoke {
    uint64_t http;
    bool used_basic;
    char body[HTTP_API_BODY_MAX + 1];
    size_t len;
    char client_id[CLIENT_ID_MAX + 1];
    char token[JWT_MAX_TOKEN + 1];
    struct claims c;
};

static void answer(struct revoke *x, int status, const char *error)
{
    struct http_req *q = http_req_find(x->http);
    if (q) {
        if (error)
            http_reply_oauth_error(q, status, error, NULL, NULL);
        else
            http_reply_text(q, 200, "application/json", "no-store", "{}", 2);
    }
    free(x);
}

static void revoked(void *arg, enum api_err err)
{
    struct revoke *x = arg;
    answer(x, err == E_INTERNAL ? 500 : 200, err == E_INTERNAL ? "server_error" : NULL);
}

static void session_read(void *arg, enum store_rc rc, const struct session_rec *s)
{
    struct revoke *x = arg;
    if (rc == STORE_ERROR) {
        answer(x, 500, "server_error");
        return;
    }
    if (rc || s->revoked || s->user_id != x->c.sub || strcmp(s->client_id, x->client_id)) {
        answer(x, 200, NULL); /* not this client's, or gone already */
        return;
    }
    sessions_revoke(s->user_id, s->sid, SESSION_END_REVOKED, revoked, x);
}

static void access_checked(void *arg, enum api_err err, const struct claims *c)
{
    struct revoke *x = arg;
    if (err == E_INTERNAL) {
        answer(x, 500, "server_error");
        return;
    }
    if (err) {
        answer(x, 200, NULL);
        return;
    }
    x->c = *c;
    broker.store->ops->session_get(broker.store, c->sid, session_read, x);
}

static void authenticated(void *arg, enum oidc_auth_rc rc, const struct oidc_client *cl)
{
    struct revoke *x = arg;
    if (rc == OIDC_AUTH_INVALID_CLIENT) {
        struct http_req *q = http_req_find(x->http);
        if (q)
            oidc_reply_invalid_client(q, x->used_basic);
        free(x);
        return;
    }
    if (rc) {
        answer(x, rc == OIDC_AUTH_ERROR ? 500 : 400,
               rc == OIDC_AUTH_ERROR ? "server_error" : "invalid_request");
        return;
    }
    snprintf(x->client_id, sizeof x->client_id, "%s", cl->id);
    int n = form_value(x->body, x->len, "token", x->token, sizeof x->token);
    if (n == -1) {
        answer(x, 400, "invalid_request");
        return;
    }
    if (n < 0) {
        answer(x, 200, NULL);
        return;
    }
    /* A refresh token is an HMAC: checked here. An expired one still names
     * its session, which ends. Anything else may be an access token (ES256:
     * the worker pool). */
    enum token_check tc = tokens_check_refresh(&broker.keys, &broker.tp, x->token, (size_t)n,
                                               clock_now_s(), &x->c);
    if (tc == TOKEN_VALID || tc == TOKEN_EXPIRED) {
        broker.store->ops->session_get(broker.store, x->c.sid, session_read, x);
        return;
    }
    sessions_check_access(x->token, (size_t)n, access_checked, x);
}

void oidc_post_revoke(struct http_req *q)
{
    size_t len;
    bool overflow;
    const char *body = http_req_body(q, &len, &overflow);
    if (overflow) {
        http_reply_oauth_error(q, 400, "invalid_request", "the request body is too long", NULL);
        return;
    }
    struct revoke *x = calloc(1, sizeof *x);
    if (!x) {
        http_reply_oauth_error(q, 500, "server_error", NULL, NULL);
        return;
    }
    memcpy(x->body, body, len);
    x->len = len;
    x->http = http_req_hold(q);
    oidc_client_authenticate(q, x->body, x->len, &x->used_basic, authenticated, x);
}
