/* oidc_authorize.h — the authorization code flow's records (OpenID Connect
 * Core §3.1, RFC 7636 PKCE):
 *   authz  a checked GET /authorize request, waiting for the phone (key: a
 *          random handle the hosted PC page gets in its URL fragment);
 *          lives OIDC_AUTHZ_TTL_MS, used by one login.
 *   code   an authorization code (key: its hash), single use, lives
 *          OIDC_CODE_TTL_MS, bound to the client, the redirect URI and the
 *          PKCE challenge; after its use it remembers the session it made,
 *          so that a second use revokes that session (RFC 6749 §4.1.2). */
#ifndef QRLOGIN_OIDC_AUTHORIZE_H
#define QRLOGIN_OIDC_AUTHORIZE_H

#include <stdint.h>

#include "oidc_clients.h"
#include "oidc_common.h"

#define OIDC_AUTHZ_TTL_MS (600 * 1000)
#define OIDC_CODE_TTL_MS (60 * 1000)

struct authz_rec {
    char client_id[CLIENT_ID_MAX + 1];
    char redirect_uri[OIDC_REDIRECT_URI_MAX];
    char state[OIDC_STATE_MAX + 1];
    char nonce[OIDC_NONCE_MAX + 1];
    char challenge[OIDC_CHALLENGE_MAX + 1]; /* "" without PKCE */
    char scope[OIDC_SCOPE_MAX + 1];
};

struct code_rec {
    char client_id[CLIENT_ID_MAX + 1];
    char redirect_uri[OIDC_REDIRECT_URI_MAX];
    char nonce[OIDC_NONCE_MAX + 1];
    char challenge[OIDC_CHALLENGE_MAX + 1];
    char scope[OIDC_SCOPE_MAX + 1];
    int64_t user_id;
    int64_t auth_time; /* s */
    char used[8];      /* "no" | "yes" */
    char sid[SID_MAX]; /* the session its use made ("" until then) */
};

int oidc_authz_decode(const struct oauth_rec *r, struct authz_rec *a);
int oidc_code_decode(const struct oauth_rec *r, struct code_rec *c);
int oidc_code_encode(const struct code_rec *c, struct oauth_rec *r);

/* The URL a response goes back to: redirect_uri with the parameters added
 * to its query (RFC 6749 §4.1.2), iss included (RFC 9207). names/values end
 * with NULL; a NULL or empty value is left out. 0 or -1 (too long). */
int oidc_redirect_url(const char *redirect_uri, const char *const *names,
                      const char *const *values, char *out, size_t outsz);

#endif
