/* oidc_idtoken.h — the ID Token (OpenID Connect Core §2): a JWS signed with
 * the broker's current access-token key (ES256 by default, published in the
 * JWKS), header typ "JWT". Claims: iss, sub, aud (the client_id), exp, iat,
 * auth_time, nonce (when the request had one), sid, amr ["qr"], name,
 * preferred_username. Lifetime: access_ttl. */
#ifndef QRLOGIN_OIDC_IDTOKEN_H
#define QRLOGIN_OIDC_IDTOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "oidc_common.h"
#include "store.h"

struct oidc_idtoken {
    int64_t sub;
    char name[USER_NAME_MAX + 1];
    char client_id[CLIENT_ID_MAX + 1];
    char sid[SID_MAX];
    char nonce[OIDC_NONCE_MAX + 1]; /* "" none */
    int64_t auth_time;              /* s */
    int64_t iat;                    /* s */
};

/* Signs; thread-safe (run it on the worker pool). Length, or -1. */
int oidc_idtoken_sign(const struct oidc_idtoken *c, char *out, size_t outsz);

/* Verifies an ID token we issued (signature, iss) without regard to its
 * expiry — an RP-initiated logout may come long after it — and gives back
 * sub, sid and aud. Thread-safe. 0 or -1. */
int oidc_idtoken_check_hint(const char *token, int64_t *sub, char sid[SID_MAX],
                            char aud[CLIENT_ID_MAX + 1]);

#endif
