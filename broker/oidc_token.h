/* oidc_token.h — POST /token (RFC 6749 §3.2) and what its grant handlers
 * share. The endpoint authenticates the client, picks the handler for
 * grant_type from one table (oidc_token.c) and hands it a token_req; the
 * handler answers exactly once with token_fail() or token_issue() /
 * token_reply_pair(), which also free the token_req. Every answer carries
 * Cache-Control: no-store and Pragma: no-cache; errors are RFC 6749 §5.2
 * bodies. */
#ifndef QRLOGIN_OIDC_TOKEN_H
#define QRLOGIN_OIDC_TOKEN_H

#include <stdbool.h>
#include <stdint.h>

#include "http_api.h"
#include "oidc_clients.h"
#include "oidc_common.h"
#include "sessions.h"

struct oidc_grant_handler;

struct token_req {
    uint64_t http;                        /* http_req_hold() id */
    const struct oidc_grant_handler *g;
    struct oidc_client client;            /* authenticated (id "" if none was needed) */
    bool used_basic;
    char ip[IP_MAX];
    char user_agent[UA_MAX];
    char body[HTTP_API_BODY_MAX + 1];
    size_t len;
    int tries;                            /* compare-and-set retries so far */
};

/* One grant type. client_grant: the enum oidc_grant bit the client must have
 * been registered with (0: any client). client_optional: the handler accepts
 * a request without client authentication (then client.id is ""). */
struct oidc_grant_handler {
    const char *grant_type;
    unsigned client_grant;
    bool client_optional;
    void (*run)(struct token_req *tr);
};

/* A form parameter of the request body; as form_value(). */
int token_param(const struct token_req *tr, const char *name, char *out, size_t outsz);

/* Answers the error and frees tr. status 400 unless said otherwise. */
void token_fail(struct token_req *tr, int status, const char *error, const char *description);

/* What token_issue() needs beyond the user. */
struct token_issue_opts {
    const char *kind;                     /* the session's kind; NULL: "web" */
    /* RFC 8693's issued_token_type for the answer; NULL: none */
    const char *issued_token_type;
    char scope[OIDC_SCOPE_MAX + 1];
    char nonce[OIDC_NONCE_MAX + 1];
    int64_t auth_time;                    /* s: when the phone confirmed */
    /* Runs once the session exists, before the answer, with ref (the code
     * grant records the sid under its code's key, so that a second use of
     * the code can revoke it). NULL: nothing to run. */
    void (*on_session)(const char *ref, const char *sid);
    char ref[OAUTH_KEY_MAX];
};

/* A new session for tr->client and u, its pair, and an ID token when the
 * scope has openid; answers and frees tr. The refresh token is in the answer
 * when the client is registered for refresh_token, or when there is no
 * client (a first-party request, client.id ""). */
void token_issue(struct token_req *tr, const struct user_rec *u, const struct token_issue_opts *o);

/* Answers a pair (a refresh) without an ID token; frees tr. */
void token_reply_pair(struct token_req *tr, const struct issued *is, const char *scope);
/* The same, for a token exchange: with RFC 8693's issued_token_type. */
void token_reply_exchanged(struct token_req *tr, const struct issued *is,
                           const char *issued_token_type);

/* sessions_* errors as RFC 6749 errors; answers and frees tr. */
void token_fail_api(struct token_req *tr, enum api_err err, int64_t retry_after);

/* The grant handlers (their own files). */
void oidc_grant_code(struct token_req *tr);    /* oidc_grant_code.c */
void oidc_grant_refresh(struct token_req *tr); /* oidc_grant_refresh.c */
void oidc_grant_device(struct token_req *tr);  /* oidc_grant_device.c */
void oidc_grant_exchange(struct token_req *tr); /* oidc_grant_exchange.c */

#define OIDC_GRANT_EXCHANGE_NAME "urn:ietf:params:oauth:grant-type:token-exchange"

#endif
