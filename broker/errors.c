/* errors.c — see errors.h. */
#include "errors.h"

static const struct {
    const char *code, *message;
} table[] = {
    [E_NONE] = {"ok", "ok"},
    [E_BAD_REQUEST] = {"bad_request", "the request is malformed"},
    [E_UNAUTHORIZED] = {"unauthorized", "sign in first"},
    [E_FORBIDDEN] = {"forbidden", "not allowed"},
    [E_NOT_FOUND] = {"not_found", "no such ticket or it is no longer valid"},
    [E_CONFLICT] = {"conflict", "this ticket belongs to another user"},
    [E_RATE_LIMITED] = {"rate_limited", "too many requests, retry later"},
    [E_CODE_MISMATCH] = {"code_mismatch", "the number did not match; the code is void"},
    [E_INVALID_TOKEN] = {"invalid_token", "the token is not valid"},
    [E_TOKEN_EXPIRED] = {"token_expired", "the token has expired"},
    [E_REFRESH_REUSED] = {"refresh_reused",
                          "this refresh token was already used; the session is revoked"},
    [E_SESSION_REVOKED] = {"session_revoked", "the session has ended"},
    [E_INTERNAL] = {"internal", "internal error, try again"},
};

const char *api_err_code(enum api_err e) { return table[e].code; }
const char *api_err_message(enum api_err e) { return table[e].message; }
