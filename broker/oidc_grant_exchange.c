/* oidc_grant_exchange.c — grant_type=urn:ietf:params:oauth:grant-type:token-exchange
 * at /token (RFC 8693): a trusted issuer's JWT (docs/federation.md) for a
 * pair of ours. The same path as auth.external and /api/token's exchange
 * (federation.h); here it answers in /token's form. A client may
 * authenticate or not: the subject token is what proves who is asking. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "external_token.h"
#include "federation.h"
#include "oidc_token.h"

#define JWT_TOKEN_TYPE "urn:ietf:params:oauth:token-type:jwt"
#define ACCESS_TOKEN_TYPE "urn:ietf:params:oauth:token-type:access_token"

static void exchanged(void *arg, enum api_err err, const struct issued *is)
{
    struct token_req *tr = arg;
    if (err == E_INTERNAL)
        token_fail(tr, 500, "server_error", NULL);
    else if (err) /* RFC 8693 §2.2.2: one answer for every refused token */
        token_fail(tr, 400, "invalid_grant", "the subject token is not accepted");
    else
        token_reply_exchanged(tr, is, ACCESS_TOKEN_TYPE);
}

void oidc_grant_exchange(struct token_req *tr)
{
    if (!broker.cfg.n_trust_issuers) {
        token_fail(tr, 400, "unsupported_grant_type", "no issuer is trusted");
        return;
    }
    char type[64];
    char *token = malloc(EXT_TOKEN_MAX + 1);
    if (!token) {
        token_fail(tr, 500, "server_error", NULL);
        return;
    }
    int ty = token_param(tr, "subject_token_type", type, sizeof type);
    int t = token_param(tr, "subject_token", token, EXT_TOKEN_MAX + 1);
    if (ty == -1 || t == -1)
        token_fail(tr, 400, "invalid_request", "subject_token and subject_token_type are required");
    else if (ty < 0 || strcmp(type, JWT_TOKEN_TYPE) || t <= 0)
        token_fail(tr, 400, "invalid_grant", "the subject token is not accepted");
    else
        federation_exchange(token, (size_t)t, tr->ip, tr->user_agent, exchanged, tr);
    free(token);
}
