/* oidc_authorize.c — GET /authorize: checks the request, keeps it as an
 * authz record and sends the browser to the hosted PC page, which shows the
 * QR for it (/#authz=<handle>; a fragment, so no log or Referer carries it).
 *
 * Errors follow RFC 6749 §4.1.2.1: while the client or the redirect URI is
 * in doubt nothing is redirected (a 400 page says what is wrong); once both
 * are known good, every other error goes back to the client by redirect with
 * error, state and iss. */
#include "oidc_authorize.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "clock.h"
#include "form.h"
#include "json.h"
#include "oidc.h"
#include "rng.h"

/* ---- records ---- */

int oidc_authz_decode(const struct oauth_rec *r, struct authz_rec *a)
{
    struct json_doc d;
    memset(a, 0, sizeof *a);
    return json_parse(&d, r->value, strlen(r->value)) ||
                   json_get_str(&d, 0, "client", a->client_id, sizeof a->client_id, NULL) ||
                   json_get_str(&d, 0, "redirect_uri", a->redirect_uri, sizeof a->redirect_uri,
                                NULL) ||
                   json_get_str(&d, 0, "state", a->state, sizeof a->state, NULL) ||
                   json_get_str(&d, 0, "nonce", a->nonce, sizeof a->nonce, NULL) ||
                   json_get_str(&d, 0, "challenge", a->challenge, sizeof a->challenge, NULL) ||
                   json_get_str(&d, 0, "scope", a->scope, sizeof a->scope, NULL)
               ? -1
               : 0;
}

static int authz_encode(const struct authz_rec *a, struct oauth_rec *r)
{
    struct jw w;
    jw_init(&w, 0);
    jw_obj_open(&w);
    jw_kv_str(&w, "client", a->client_id);
    jw_kv_str(&w, "redirect_uri", a->redirect_uri);
    jw_kv_str(&w, "state", a->state);
    jw_kv_str(&w, "nonce", a->nonce);
    jw_kv_str(&w, "challenge", a->challenge);
    jw_kv_str(&w, "scope", a->scope);
    jw_obj_close(&w);
    return oidc_rec_set_value(r, &w);
}

int oidc_code_decode(const struct oauth_rec *r, struct code_rec *c)
{
    struct json_doc d;
    memset(c, 0, sizeof *c);
    return json_parse(&d, r->value, strlen(r->value)) ||
                   json_get_str(&d, 0, "client", c->client_id, sizeof c->client_id, NULL) ||
                   json_get_str(&d, 0, "redirect_uri", c->redirect_uri, sizeof c->redirect_uri,
                                NULL) ||
                   json_get_str(&d, 0, "nonce", c->nonce, sizeof c->nonce, NULL) ||
                   json_get_str(&d, 0, "challenge", c->challenge, sizeof c->challenge, NULL) ||
                   json_get_str(&d, 0, "scope", c->scope, sizeof c->scope, NULL) ||
                   json_get_int(&d, 0, "user", &c->user_id) ||
                   json_get_int(&d, 0, "auth_time", &c->auth_time) ||
                   json_get_str(&d, 0, "used", c->used, sizeof c->used, NULL) ||
                   json_get_str(&d, 0, "sid", c->sid, sizeof c->sid, NULL)
               ? -1
               : 0;
}

int oidc_code_encode(const struct code_rec *c, struct oauth_rec *r)
{
    struct jw w;
    jw_init(&w, 0);
    jw_obj_open(&w);
    jw_kv_str(&w, "client", c->client_id);
    jw_kv_str(&w, "redirect_uri", c->redirect_uri);
    jw_kv_str(&w, "nonce", c->nonce);
    jw_kv_str(&w, "challenge", c->challenge);
    jw_kv_str(&w, "scope", c->scope);
    jw_kv_int(&w, "user", c->user_id);
    jw_kv_int(&w, "auth_time", c->auth_time);
    jw_kv_str(&w, "used", c->used);
    jw_kv_str(&w, "sid", c->sid);
    jw_obj_close(&w);
    return oidc_rec_set_value(r, &w);
}

int oidc_redirect_url(const char *redirect_uri, const char *const *names,
                      const char *const *values, char *out, size_t outsz)
{
    size_t o = (size_t)snprintf(out, outsz, "%s", redirect_uri);
    if (o >= outsz)
        return -1;
    char sep = strchr(redirect_uri, '?') ? '&' : '?';
    for (int i = 0; names[i]; i++) {
        if (!values[i] || !*values[i])
            continue;
        int n = snprintf(out + o, outsz - o, "%c%s=", sep, names[i]);
        if (n < 0 || (size_t)n >= outsz - o)
            return -1;
        o += (size_t)n;
        if (form_append_encoded(out, outsz, &o, values[i]))
            return -1;
        sep = '&';
    }
    return 0;
}

/* ---- GET /authorize ---- */

struct authorize {
    uint64_t http;
    struct authz_rec a;
    char response_type[32];
    char method[16];
    bool has_challenge, has_prompt_none, has_request;
    bool bad_param; /* malformed or repeated: told once the redirect is proven */
    struct oauth_rec rec;
    char handle[32];
};

static void page_error(struct authorize *x, const char *why)
{
    struct http_req *q = http_req_find(x->http);
    if (q) {
        char body[512];
        int n = snprintf(body, sizeof body,
                         "This sign-in request cannot be served: %s.\n"
                         "Go back to the application and start again.\n",
                         why);
        http_reply_text(q, 400, "text/plain; charset=utf-8", "no-store", body, (size_t)n);
    }
    free(x);
}

static void redirect_error(struct authorize *x, const char *error, const char *description)
{
    struct http_req *q = http_req_find(x->http);
    if (q) {
        char url[2048];
        const char *names[] = {"error", "error_description", "state", "iss", NULL};
        const char *values[] = {error, description, x->a.state, broker.cfg.public_url, NULL};
        if (oidc_redirect_url(x->a.redirect_uri, names, values, url, sizeof url))
            http_reply_text(q, 400, "text/plain", "no-store", "redirect URI too long\n", 22);
        else
            http_reply_redirect(q, url);
    }
    free(x);
}

static void authz_stored(void *arg, enum store_rc rc)
{
    struct authorize *x = arg;
    if (rc) {
        redirect_error(x, "server_error", "the request could not be kept");
        return;
    }
    struct http_req *q = http_req_find(x->http);
    if (q) {
        char url[64];
        snprintf(url, sizeof url, "/#authz=%s", x->handle);
        http_reply_redirect(q, url);
    }
    free(x);
}

static bool challenge_ok(const char *c)
{
    return strlen(c) == 43 &&
           strspn(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == 43;
}

static void client_found(void *arg, enum store_rc rc, const struct oidc_client *c)
{
    struct authorize *x = arg;
    if (rc == STORE_NOT_FOUND) {
        page_error(x, "the application (client_id) is not registered here");
        return;
    }
    if (rc) {
        page_error(x, "the server could not look the application up; try again");
        return;
    }
    if (!x->a.redirect_uri[0] || !oidc_client_redirect_ok(c, x->a.redirect_uri)) {
        page_error(x, "redirect_uri is missing or not registered for this application");
        return;
    }
    /* From here on the client is told by redirect. */
    if (x->bad_param) {
        redirect_error(x, "invalid_request", "a parameter is malformed, too long or repeated");
        return;
    }
    if (strcmp(x->response_type, "code")) {
        redirect_error(x, "unsupported_response_type", "only response_type=code is supported");
        return;
    }
    if (!(c->grants & OIDC_GRANT_CODE)) {
        redirect_error(x, "unauthorized_client", "not registered for authorization_code");
        return;
    }
    if (x->has_request) {
        redirect_error(x, "request_not_supported", NULL);
        return;
    }
    if (!oidc_scope_has(x->a.scope, "openid")) {
        redirect_error(x, "invalid_scope", "scope must include openid");
        return;
    }
    if (x->has_challenge && (strcmp(x->method, "S256") || !challenge_ok(x->a.challenge))) {
        redirect_error(x, "invalid_request", "code_challenge must be S256 (RFC 7636)");
        return;
    }
    if (!x->has_challenge && !c->secret_hash[0]) {
        redirect_error(x, "invalid_request", "a public client must use PKCE (S256)");
        return;
    }
    if (x->has_prompt_none) {
        /* signing in always takes a phone: nothing can happen silently */
        redirect_error(x, "login_required", NULL);
        return;
    }
    struct oauth_rec *r = &x->rec;
    if (rng_token(16, x->handle, sizeof x->handle) < 0) {
        redirect_error(x, "server_error", NULL);
        return;
    }
    snprintf(r->kind, sizeof r->kind, "authz");
    snprintf(r->key, sizeof r->key, "%s", x->handle);
    r->expires_at = clock_now_ms() + OIDC_AUTHZ_TTL_MS;
    if (authz_encode(&x->a, r)) {
        redirect_error(x, "invalid_request", "the request is too long");
        return;
    }
    broker.store->ops->oauth_put(broker.store, r, authz_stored, x);
}

/* One parameter: -1 absent, -2 malformed/too long/repeated (OAuth forbids
 * repeats, §3.1). */
static int param(struct http_req *q, const char *name, char *out, size_t outsz)
{
    int n = http_req_query(q, name, out, outsz);
    if (n == -1)
        out[0] = '\0';
    return n;
}

void oidc_get_authorize(struct http_req *q)
{
    struct authorize *x = calloc(1, sizeof *x);
    if (!x) {
        http_reply_text(q, 500, "text/plain", "no-store", "out of memory\n", 14);
        return;
    }
    struct authz_rec *a = &x->a;
    char client_id[CLIENT_ID_MAX + 2], prompt[64], dummy[8];
    x->http = http_req_hold(q);
    if (param(q, "client_id", client_id, sizeof client_id) < 0) {
        page_error(x, "client_id is missing or malformed");
        return;
    }
    if (param(q, "redirect_uri", a->redirect_uri, sizeof a->redirect_uri) < 0) {
        page_error(x, "redirect_uri is missing or malformed");
        return;
    }
    /* The redirect target is known only once the client is: any error
     * found now is reported after that check (client_found). */
    int bad = 0;
    bad |= param(q, "state", a->state, sizeof a->state) == -2;
    bad |= param(q, "nonce", a->nonce, sizeof a->nonce) == -2;
    bad |= param(q, "scope", a->scope, sizeof a->scope) == -2;
    bad |= param(q, "response_type", x->response_type, sizeof x->response_type) == -2;
    int ch = param(q, "code_challenge", a->challenge, sizeof a->challenge);
    bad |= ch == -2;
    x->has_challenge = ch >= 0;
    int m = param(q, "code_challenge_method", x->method, sizeof x->method);
    bad |= m == -2;
    if (m == -1 && x->has_challenge)
        snprintf(x->method, sizeof x->method, "plain"); /* RFC 7636's default: refused */
    int p = param(q, "prompt", prompt, sizeof prompt);
    x->has_prompt_none = p >= 0 && oidc_scope_has(prompt, "none");
    x->has_request = param(q, "request", dummy, sizeof dummy) != -1 ||
                     param(q, "request_uri", dummy, sizeof dummy) != -1;
    if (strlen(client_id) > CLIENT_ID_MAX) {
        page_error(x, "the application (client_id) is not registered here");
        return;
    }
    memcpy(a->client_id, client_id, strlen(client_id) + 1);
    x->bad_param = bad != 0;
    oidc_client_get(client_id, client_found, x);
}
