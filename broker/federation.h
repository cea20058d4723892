/* federation.h — signing in with a trusted identity provider's JWT
 * ("bring your own users", docs/federation.md): the one path shared by the
 * auth.external message and the RFC 8693 token exchange over HTTP.
 *
 * token → its issuer must be configured (--trust-issuer), else
 * E_UNAUTHORIZED; its key comes from the issuer's JWKS by kid; the checks of
 * external_token.h run on the worker pool; then the user behind (issuer,
 * subject) is found or created and gets a new session of kind "app" with its
 * own pair, exactly as auth.password gives. Errors: E_INVALID_TOKEN (bad
 * signature, unknown kid, wrong audience, disallowed algorithm, malformed),
 * E_TOKEN_EXPIRED, E_INTERNAL (the store). */
#ifndef QRLOGIN_FEDERATION_H
#define QRLOGIN_FEDERATION_H

#include <stddef.h>

#include "errors.h"
#include "sessions.h"

/* Loop thread. The callback runs exactly once, perhaps before this returns;
 * is is set only with E_NONE. token, ip and user_agent are copied. */
typedef void (*federation_cb)(void *arg, enum api_err err, const struct issued *is);
void federation_exchange(const char *token, size_t len, const char *ip, const char *user_agent,
                         federation_cb cb, void *arg);

/* The server's part: the JWKS client vhost and the first fetches (after the
 * lws context exists), and the end. Returns 0 or -1. */
int federation_start(void);
void federation_shutdown(void);

#endif
