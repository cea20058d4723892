/* external_token.h — checking a JWT from a trusted identity provider
 * (--trust-issuer), the phone's credential with auth.external.
 *
 * Two steps, because the key depends on the token: external_token_peek()
 * reads, without trusting, the header's alg and kid and the claims' iss, so
 * the caller can find the issuer's configuration and fetch its keys; then
 * external_token_verify() checks everything against that configuration and
 * key (signature, alg allow-list AND the key's type, iss exactly, aud, exp /
 * nbf / iat with leeway, the subject claim). The algorithm is never taken
 * from the token alone: only ES256 with an EC P-256 key and RS256 with an RSA
 * key verify, so "none", HS256 signed with a public key, and algorithm
 * confusion all fail. Both are pure and thread-safe. */
#ifndef QRLOGIN_EXTERNAL_TOKEN_H
#define QRLOGIN_EXTERNAL_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "jwks_parse.h"
#include "store.h"
#include "trust_config.h"

#define EXT_TOKEN_MAX 8192    /* a compact JWT longer than this is refused */
#define EXT_PAYLOAD_MAX 6144  /* decoded claims */
#define EXT_SUBJECT_MAX 256   /* bytes of the subject claim */

enum ext_status {
    EXT_OK = 0,
    EXT_MALFORMED,      /* not a compact JWS with JSON header and claims */
    EXT_BAD_ALG,        /* alg not allowed for this issuer, or not the key's type */
    EXT_BAD_SIGNATURE,
    EXT_BAD_ISSUER,     /* iss is not the configured issuer */
    EXT_BAD_AUDIENCE,
    EXT_EXPIRED,        /* exp + leeway has passed */
    EXT_NOT_YET_VALID,  /* nbf or iat beyond now + leeway */
    EXT_BAD_CLAIMS,     /* exp missing, subject missing or not a 1-256 byte string */
};

struct ext_token_head {
    unsigned alg;                  /* TRUST_ALG_*; 0 when the header names another */
    char kid[JWT_KID_MAX];         /* "" if none */
    char iss[TRUST_ISSUER_MAX];    /* unverified */
};

struct ext_claims {
    char subject[EXT_SUBJECT_MAX + 1];
    char name[USER_NAME_MAX + 1];  /* display name; "" if the token has none */
    int64_t exp;
};

/* EXT_OK (h filled; h->alg may be 0 for an algorithm we never verify),
 * or EXT_MALFORMED. */
enum ext_status external_token_peek(const char *token, size_t len, struct ext_token_head *h);

/* The whole check of token against issuer t and key (the one whose kid the
 * header names), at now_s with leeway seconds of skew. On EXT_OK *out holds
 * the subject and display name. */
enum ext_status external_token_verify(const struct trust_issuer *t, const struct ext_key *key,
                                      const char *token, size_t len, int64_t now_s,
                                      int64_t leeway, struct ext_claims *out);

/* A short human reason, for logs and tests. */
const char *external_status_name(enum ext_status st);

#endif
