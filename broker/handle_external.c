/* handle_external.c — auth.external: a phone signs in with the JWT its app
 * already holds from a trusted identity provider (federation.h). The reply is
 * the `auth` reply of auth.password: a new "app" session and its pair. */
#include <stdlib.h>
#include <string.h>

#include "federation.h"
#include "external_token.h"
#include "hub.h"
#include "ws_dispatch.h"

struct external_ctx {
    struct req r;
};

static void external_issued(void *arg, enum api_err err, const struct issued *is)
{
    struct external_ctx *x = arg;
    struct conn *c = hub_get(x->r.conn);
    if (err) {
        reply_error(&x->r, err,
                    err == E_UNAUTHORIZED ? "this token's issuer is not trusted here" : NULL);
    } else if (c) {
        reply_signed_in(c, &x->r, is);
    }
    free(x);
}

void handle_auth_external(struct conn *c, const struct req *r, const struct json_doc *d)
{
    char *token = malloc(EXT_TOKEN_MAX + 1);
    size_t len = 0;
    enum json_rc rc = token ? json_get_str(d, 0, "token", token, EXT_TOKEN_MAX + 1, &len)
                            : JSON_TOO_LONG;
    if (!token) {
        reply_error(r, E_INTERNAL, NULL);
        return;
    }
    if (rc == JSON_MISSING || rc == JSON_WRONG_TYPE || (rc == JSON_OK && !len)) {
        reply_error(r, E_BAD_REQUEST, "token must be a non-empty string");
        free(token);
        return;
    }
    struct external_ctx *x = rc == JSON_OK ? calloc(1, sizeof *x) : NULL;
    if (rc != JSON_OK) {
        reply_error(r, E_INVALID_TOKEN, NULL);
    } else if (!x) {
        reply_error(r, E_INTERNAL, NULL);
    } else {
        x->r = *r;
        federation_exchange(token, len, c->ip, c->user_agent, external_issued, x);
    }
    free(token);
}
