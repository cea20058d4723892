/* tokens.h — the claims of our two JWTs (docs/protocol.md §5): building and
 * signing them (worker threads), and checking them back into structs.
 *
 * Access:  {"alg":"ES256"|"HS256","typ":"at+jwt","kid"} with iss, sub, aud,
 *          client_id, exp, iat, jti, sid, ver, name.
 * Refresh: {"alg":"HS256","typ":"rt+jwt","kid"} with iss, sub, exp, iat, jti,
 *          sid, ver; signed with a key that never leaves the broker. */
#ifndef QRLOGIN_TOKENS_H
#define QRLOGIN_TOKENS_H

#include <stdbool.h>
#include <stdint.h>

#include "field_sizes.h"
#include "keys.h"

struct token_params {          /* what the issuer needs from config */
    const char *issuer;        /* public URL */
    const char *audience;
    const char *client_id;
    int64_t leeway;            /* seconds */
};

struct claims {
    int64_t sub;               /* user id */
    char name[USER_NAME_MAX + 1];
    char sid[SID_MAX];
    char jti[JTI_MAX];
    int64_t ver, iat, exp;
    /* Access tokens: the OIDC client the session belongs to; "" signs the
     * configured client_id (our own pages and apps). */
    char client_id[CLIENT_ID_MAX + 1];
};

/* Signs an access token for c (iat/exp/jti/sid/sub/ver/name taken from c).
 * Thread-safe. Returns length or -1. */
int tokens_sign_access(const struct keyset *ks, const struct token_params *p,
                       const struct claims *c, char *out, size_t outsz);
/* Signs a refresh token (name unused). Thread-safe. */
int tokens_sign_refresh(const struct keyset *ks, const struct token_params *p,
                        const struct claims *c, char *out, size_t outsz);

/* The same two, also copying the kid of the key that signed into kid
 * (JWT_KID_MAX bytes; NULL: not wanted). A pair signed ahead of its use
 * (login_presign.h) remembers them, to be used only while those keys still
 * sign. */
int tokens_sign_access_kid(const struct keyset *ks, const struct token_params *p,
                           const struct claims *c, char *out, size_t outsz, char *kid);
int tokens_sign_refresh_kid(const struct keyset *ks, const struct token_params *p,
                            const struct claims *c, char *out, size_t outsz, char *kid);

/* Whether the keys that sign access and refresh tokens now have these kids
 * (a reload may have made a newer key current). Thread-safe. */
bool tokens_kids_current(const struct keyset *ks, const char *access_kid, const char *refresh_kid);

enum token_check {
    TOKEN_VALID = 0,
    TOKEN_INVALID, /* signature, typ, alg, kid, issuer, audience, malformed claims */
    TOKEN_EXPIRED, /* exp + leeway <= now */
    /* signed with a kid not in our keys (yet: another node may have made a
     * new key current a moment ago, keys_watch_unknown_kid) */
    TOKEN_UNKNOWN_KID,
};

/* Verify signature and claims. An access token's client_id is the
 * configured one or a registered OIDC client's; it comes back in
 * out->client_id ("" for the configured one).  `now` in seconds. Thread-safe (the ES256 path
 * costs ~2 ms: call it on the worker pool). */
enum token_check tokens_check_access(const struct keyset *ks, const struct token_params *p,
                                     const char *token, size_t len, int64_t now,
                                     struct claims *out);
enum token_check tokens_check_refresh(const struct keyset *ks, const struct token_params *p,
                                      const char *token, size_t len, int64_t now,
                                      struct claims *out);

#endif
