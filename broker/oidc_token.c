/* oidc_token.c — see oidc_token.h. */
#include "oidc_token.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "clock.h"
#include "form.h"
#include "json.h"
#include "log.h"
#include "oidc.h"
#include "oidc_client_auth.h"
#include "oidc_idtoken.h"
#include "workers.h"
#include "ws_conn.h"

/* The grant types /token answers. To add one (RFC 8693 token exchange is
 * the next), append a row: its grant_type, the registration bit a client
 * needs for it (0 for none), whether it may come without client
 * authentication, and its handler, which gets a token_req and answers it
 * once with token_fail()/token_issue()/token_reply_pair(). Nothing else in
 * this file needs to change. */
static const struct oidc_grant_handler grant_handlers[] = {
    {"authorization_code", OIDC_GRANT_CODE, false, oidc_grant_code},
    {"refresh_token", OIDC_GRANT_REFRESH, false, oidc_grant_refresh},
    {OIDC_GRANT_DEVICE_NAME, OIDC_GRANT_DEVICE, false, oidc_grant_device},
    /* a trusted issuer's JWT; without trusted issuers it answers
     * unsupported_grant_type (oidc_grant_exchange.c) */
    {OIDC_GRANT_EXCHANGE_NAME, 0, true, oidc_grant_exchange},
    /* ---- extension point: further grant types go here ---- */
};

static const struct oidc_grant_handler *handler_for(const char *grant_type)
{
    for (size_t i = 0; i < sizeof grant_handlers / sizeof grant_handlers[0]; i++)
        if (!strcmp(grant_handlers[i].grant_type, grant_type))
            return &grant_handlers[i];
    return NULL;
}

int token_param(const struct token_req *tr, const char *name, char *out, size_t outsz)
{
    return form_value(tr->body, tr->len, name, out, outsz);
}

void token_fail(struct token_req *tr, int status, const char *error, const char *description)
{
    struct http_req *q = http_req_find(tr->http);
    if (q) {
        if (!strcmp(error, "invalid_client"))
            oidc_reply_invalid_client(q, tr->used_basic);
        else
            http_reply_oauth_error(q, status, error, description, NULL);
    }
    free(tr);
}

void token_fail_api(struct token_req *tr, enum api_err err, int64_t retry_after)
{
    char why[96];
    switch (err) {
    case E_INTERNAL:
        token_fail(tr, 500, "server_error", NULL);
        return;
    case E_RATE_LIMITED:
        /* RFC 6749 has no code for it; the description says when. */
        snprintf(why, sizeof why, "refreshed too recently; retry after %lld s",
                 (long long)(retry_after < 1 ? 1 : retry_after));
        token_fail(tr, 400, "invalid_request", why);
        return;
    default:
        /* invalid_token, token_expired, session_revoked, refresh_reused:
         * the grant is no good; our finer code is the description. */
        token_fail(tr, 400, "invalid_grant", api_err_code(err));
        return;
    }
}

/* ---- answering with tokens ---- */

struct issue_job {
    struct work work;
    struct token_req *tr;
    struct issued is;
    struct oidc_idtoken idt;
    bool want_id;
    char id_token[JWT_MAX_TOKEN];
    int rc;
    struct token_issue_opts o;
};

static void reply_tokens(struct token_req *tr, const struct issued *is, const char *scope,
                         const char *id_token, const char *issued_token_type)
{
    struct http_req *q = http_req_find(tr->http);
    if (q) {
        struct jw w;
        jw_init(&w, LWS_PRE);
        jw_obj_open(&w);
        jw_kv_str(&w, "access_token", is->access);
        jw_kv_str(&w, "token_type", "Bearer");
        jw_kv_int(&w, "expires_in", is->expires_in);
        if (!tr->client.id[0] || (tr->client.grants & OIDC_GRANT_REFRESH))
            jw_kv_str(&w, "refresh_token", is->refresh);
        if (issued_token_type)
            jw_kv_str(&w, "issued_token_type", issued_token_type);
        if (id_token)
            jw_kv_str(&w, "id_token", id_token);
        if (scope && *scope)
            jw_kv_str(&w, "scope", scope);
        jw_obj_close(&w);
        http_reply_json(q, 200, &w);
    }
    free(tr);
}

void token_reply_pair(struct token_req *tr, const struct issued *is, const char *scope)
{
    reply_tokens(tr, is, scope, NULL, NULL);
}

void token_reply_exchanged(struct token_req *tr, const struct issued *is,
                           const char *issued_token_type)
{
    reply_tokens(tr, is, NULL, NULL, issued_token_type);
}

static void idtoken_run(struct work *w)
{
    struct issue_job *j = (struct issue_job *)w;
    j->rc = oidc_idtoken_sign(&j->idt, j->id_token, sizeof j->id_token) < 0 ? -1 : 0;
}

static void idtoken_done(struct work *w)
{
    struct issue_job *j = (struct issue_job *)w;
    if (j->rc)
        token_fail(j->tr, 500, "server_error", NULL);
    else
        reply_tokens(j->tr, &j->is, j->o.scope, j->id_token, j->o.issued_token_type);
    free(j);
}

static void session_created(void *arg, enum api_err err, const struct issued *is, int64_t ra)
{
    struct issue_job *j = arg;
    (void)ra;
    if (err) {
        token_fail_api(j->tr, err, 0);
        free(j);
        return;
    }
    j->is = *is;
    if (j->o.on_session)
        j->o.on_session(j->o.ref, is->sid);
    if (!j->want_id) {
        reply_tokens(j->tr, &j->is, j->o.scope, NULL, j->o.issued_token_type);
        free(j);
        return;
    }
    j->idt.sub = is->user_id;
    snprintf(j->idt.name, sizeof j->idt.name, "%s", is->user_name);
    snprintf(j->idt.client_id, sizeof j->idt.client_id, "%s", j->tr->client.id);
    snprintf(j->idt.sid, sizeof j->idt.sid, "%s", is->sid);
    snprintf(j->idt.nonce, sizeof j->idt.nonce, "%s", j->o.nonce);
    j->idt.auth_time = j->o.auth_time;
    j->idt.iat = clock_now_s();
    j->work.run = idtoken_run;
    j->work.done = idtoken_done;
    workers_submit(&j->work);
}

void token_issue(struct token_req *tr, const struct user_rec *u, const struct token_issue_opts *o)
{
    struct issue_job *j = calloc(1, sizeof *j);
    if (!j) {
        token_fail(tr, 500, "server_error", NULL);
        return;
    }
    j->tr = tr;
    j->o = *o;
    j->want_id = oidc_scope_has(o->scope, "openid");
    sessions_create_for_client(u, o->kind ? o->kind : "web", tr->ip, tr->user_agent,
                               tr->client.id, session_created, j);
}

/* ---- the endpoint ---- */

static void authenticated(void *arg, enum oidc_auth_rc rc, const struct oidc_client *c)
{
    struct token_req *tr = arg;
    switch (rc) {
    case OIDC_AUTH_OK:
        break;
    case OIDC_AUTH_INVALID_REQUEST:
        if (tr->g->client_optional) {
            tr->g->run(tr); /* no client: the handler decides */
            return;
        }
        token_fail(tr, 400, "invalid_request", "say which client is asking");
        return;
    case OIDC_AUTH_INVALID_CLIENT:
        token_fail(tr, 401, "invalid_client", NULL);
        return;
    default:
        token_fail(tr, 500, "server_error", NULL);
        return;
    }
    tr->client = *c;
    if (tr->g->client_grant && !(c->grants & tr->g->client_grant)) {
        token_fail(tr, 400, "unauthorized_client", "the client is not registered for this grant");
        return;
    }
    tr->g->run(tr);
}

void oidc_post_token(struct http_req *q)
{
    size_t len;
    bool overflow;
    const char *body = http_req_body(q, &len, &overflow);
    char grant[96];
    if (overflow) {
        http_reply_oauth_error(q, 400, "invalid_request", "the request body is too long", NULL);
        return;
    }
    int g = form_value(body, len, "grant_type", grant, sizeof grant);
    if (g < 0) {
        http_reply_oauth_error(q, 400, "invalid_request",
                               g == -1 ? "grant_type is missing" : "grant_type is malformed",
                               NULL);
        return;
    }
    const struct oidc_grant_handler *h = handler_for(grant);
    if (!h) {
        http_reply_oauth_error(q, 400, "unsupported_grant_type", NULL, NULL);
        return;
    }
    struct token_req *tr = calloc(1, sizeof *tr);
    if (!tr) {
        http_reply_oauth_error(q, 500, "server_error", NULL, NULL);
        return;
    }
    tr->g = h;
    memcpy(tr->body, body, len);
    tr->len = len;
    ws_client_of(http_req_wsi(q), tr->ip, sizeof tr->ip, tr->user_agent, sizeof tr->user_agent);
    tr->http = http_req_hold(q);
    /* may answer at once (the embedded store), freeing tr */
    oidc_client_authenticate(q, tr->body, tr->len, &tr->used_basic, authenticated, tr);
}
