/* oidc_client_auth.h — who is calling /token, /device_authorization and
 * /revoke (RFC 6749 §2.3): client_secret_basic (the Authorization header),
 * client_secret_post (client_id and client_secret in the body), or none
 * (client_id alone, for a public client). One method per request. Secrets
 * are checked against their PBKDF2 hash on the worker pool. */
#ifndef QRLOGIN_OIDC_CLIENT_AUTH_H
#define QRLOGIN_OIDC_CLIENT_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "http_api.h"
#include "oidc_clients.h"

enum oidc_auth_rc {
    OIDC_AUTH_OK = 0,
    OIDC_AUTH_INVALID_CLIENT,  /* unknown client, wrong secret, wrong method: 401 */
    OIDC_AUTH_INVALID_REQUEST, /* no client at all, or two methods at once: 400 */
    OIDC_AUTH_ERROR,           /* the store failed: 500 */
};

/* c is valid during the call only (OIDC_AUTH_OK). */
typedef void (*oidc_auth_cb)(void *arg, enum oidc_auth_rc rc, const struct oidc_client *c);

/* Reads the credentials from q now (headers and body), then answers cb once,
 * later. *used_basic says whether the header was used: a 401 then carries
 * WWW-Authenticate: Basic (RFC 6749 §5.2). */
void oidc_client_authenticate(struct http_req *q, const char *body, size_t len,
                              bool *used_basic, oidc_auth_cb cb, void *arg);

/* The 401 for invalid_client: WWW-Authenticate only when Basic was tried. */
void oidc_reply_invalid_client(struct http_req *q, bool used_basic);

#endif
