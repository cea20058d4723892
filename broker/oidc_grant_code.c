/* oidc_grant_code.c — grant_type=authorization_code at /token (RFC 6749
 * §4.1.3, RFC 7636 §4.5). The code is taken with one compare-and-set, so it
 * is used once even when two nodes see it at the same moment; a second use
 * revokes the session the first one made. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "log.h"
#include "oidc_authorize.h"
#include "oidc_token.h"

enum take { TAKE_INVALID, TAKE_REUSED, TAKE_OK };

struct code_use {
    struct token_req *tr;
    char key[OAUTH_KEY_MAX];
    char redirect_uri[OIDC_REDIRECT_URI_MAX];
    char verifier[130];
    bool has_verifier;
    enum take take;
    struct code_rec c;
};

/* The answer to a second use waits for the revocation, so that the client
 * (or a test) never sees the first use's tokens still working after it. */
static void revoked(void *arg, enum api_err e)
{
    struct code_use *x = arg;
    (void)e; /* gone already, or a store failure logged there */
    token_fail(x->tr, 400, "invalid_grant", "the code was already used");
    free(x);
}

static bool take_code(void *arg, struct oauth_rec *r)
{
    struct code_use *x = arg;
    struct code_rec *c = &x->c;
    x->take = TAKE_INVALID;
    if (oidc_code_decode(r, c))
        return false;
    if (!strcmp(c->used, "yes")) {
        x->take = TAKE_REUSED;
        return false;
    }
    /* Bound to the client, the redirect URI and the PKCE verifier. A
     * mismatch does not burn the code: only its rightful holder could have
     * used it, and a guess does not take it from them. */
    if (strcmp(c->client_id, x->tr->client.id) || strcmp(c->redirect_uri, x->redirect_uri))
        return false;
    if (c->challenge[0] ? !x->has_verifier || !oidc_pkce_s256_ok(x->verifier, c->challenge)
                        : x->has_verifier)
        return false;
    snprintf(c->used, sizeof c->used, "yes");
    x->take = TAKE_OK;
    return oidc_code_encode(c, r) == 0;
}

static bool record_sid(void *arg, struct oauth_rec *r)
{
    const char *sid = arg;
    struct code_rec c;
    if (oidc_code_decode(r, &c) || c.sid[0])
        return false;
    snprintf(c.sid, sizeof c.sid, "%s", sid);
    return oidc_code_encode(&c, r) == 0;
}

static void sid_recorded(void *arg, enum store_rc rc, bool wrote)
{
    char *sid = arg;
    if (!wrote)
        log_warn("authorization code: its session %s was not recorded (rc %d); a second use "
                 "of the code cannot revoke it", sid, (int)rc);
    free(sid);
}

static void on_session(const char *key, const char *sid)
{
    char *copy = strdup(sid);
    if (copy)
        oidc_rec_update("code", key, record_sid, sid_recorded, copy);
}

static void user_found(void *arg, enum store_rc rc, const struct user_rec *u)
{
    struct code_use *x = arg;
    if (rc) {
        token_fail(x->tr, rc == STORE_NOT_FOUND ? 400 : 500,
                   rc == STORE_NOT_FOUND ? "invalid_grant" : "server_error", NULL);
        free(x);
        return;
    }
    struct token_issue_opts o = {.auth_time = x->c.auth_time, .on_session = on_session};
    snprintf(o.scope, sizeof o.scope, "%s", x->c.scope);
    snprintf(o.nonce, sizeof o.nonce, "%s", x->c.nonce);
    snprintf(o.ref, sizeof o.ref, "%s", x->key);
    token_issue(x->tr, u, &o);
    free(x);
}

static void taken(void *arg, enum store_rc rc, bool wrote)
{
    struct code_use *x = arg;
    if (rc == STORE_ERROR || rc == STORE_CONFLICT) {
        token_fail(x->tr, 500, "server_error", NULL);
    } else if (x->take == TAKE_REUSED && !rc) {
        log_warn("authorization code used twice (client %s): revoking session %s",
                 x->tr->client.id, x->c.sid[0] ? x->c.sid : "(not yet recorded)");
        if (x->c.sid[0]) {
            sessions_revoke(x->c.user_id, x->c.sid, SESSION_END_REVOKED, revoked, x);
            return;
        }
        token_fail(x->tr, 400, "invalid_grant", "the code was already used");
    } else if (rc || x->take != TAKE_OK || !wrote) {
        token_fail(x->tr, 400, "invalid_grant", NULL);
    } else {
        broker.store->ops->user_by_id(broker.store, x->c.user_id, user_found, x);
        return;
    }
    free(x);
}

void oidc_grant_code(struct token_req *tr)
{
    char code[OIDC_CODE_LEN + 2];
    struct code_use *x = calloc(1, sizeof *x);
    if (!x) {
        token_fail(tr, 500, "server_error", NULL);
        return;
    }
    x->tr = tr;
    int n = token_param(tr, "code", code, sizeof code);
    int ru = token_param(tr, "redirect_uri", x->redirect_uri, sizeof x->redirect_uri);
    int v = token_param(tr, "code_verifier", x->verifier, sizeof x->verifier);
    if (n == -1 || ru == -1) {
        token_fail(tr, 400, "invalid_request", n == -1 ? "code is missing" : "redirect_uri is missing");
        free(x);
        return;
    }
    if (n != OIDC_CODE_LEN || ru < 0 || v == -2) {
        token_fail(tr, 400, "invalid_grant", NULL);
        free(x);
        return;
    }
    x->has_verifier = v >= 0;
    oidc_secret_key(code, x->key);
    oidc_rec_update("code", x->key, take_code, taken, x);
}
