/* oidc_grant_refresh.c — grant_type=refresh_token at /token: the decision
 * table of token.refresh (sessions_refresh_as), with the session bound to
 * the client that presents the token. */
#include <stdlib.h>

#include "jwt.h"
#include "oidc_token.h"

static void refreshed(void *arg, enum api_err err, const struct issued *is, int64_t retry)
{
    struct token_req *tr = arg;
    if (err)
        token_fail_api(tr, err, retry);
    else
        token_reply_pair(tr, is, NULL);
}

void oidc_grant_refresh(struct token_req *tr)
{
    char token[JWT_MAX_TOKEN + 1];
    int n = token_param(tr, "refresh_token", token, sizeof token);
    if (n == -1) {
        token_fail(tr, 400, "invalid_request", "refresh_token is missing");
        return;
    }
    if (n < 0) {
        token_fail(tr, 400, "invalid_grant", "invalid_token");
        return;
    }
    sessions_refresh_as(token, (size_t)n, tr->client.id, refreshed, tr);
}
