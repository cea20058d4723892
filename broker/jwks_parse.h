/* jwks_parse.h — an identity provider's JWK Set (RFC 7517) into public
 * verification keys: EC P-256 (ES256) and RSA of 2048 to 8192 bits (RS256).
 *
 * The set comes from the network, so nothing in it is trusted: the text is
 * size-capped, every key object is read by the strict JSON parser, and a key
 * we cannot use safely is skipped, not guessed at — an unknown kty or crv, a
 * "use" other than "sig", an "alg" we do not verify, a missing or over-long
 * kid, a kid seen before in the set, RSA under 2048 bits, an EC point off the
 * curve, or a key that carries private members (a published private key
 * verifies forgeries). */
#ifndef QRLOGIN_JWKS_PARSE_H
#define QRLOGIN_JWKS_PARSE_H

#include <stddef.h>

#include <mbedtls/pk.h>

#include "jwt.h"

#define JWKS_MAX_BYTES 65536 /* a response or file larger than this is refused */
#define JWKS_MAX_KEYS 32     /* usable keys kept from one set */

enum ext_kty { EXT_KTY_EC = 1, EXT_KTY_RSA = 2 };

struct ext_key {
    char kid[JWT_KID_MAX];
    enum ext_kty kty;
    unsigned alg;           /* TRUST_ALG_* named by the JWK's "alg"; 0 = not said */
    mbedtls_pk_context pk;  /* public half only */
};

/* Shared by the cache and the verification jobs in flight: refs is changed
 * on the loop thread only (the cache holds one, each job one). */
struct ext_keyset {
    struct ext_key *keys;
    int count;
    int refs;
};

/* Parses json[0..len) into a new set (refs 1). Returns 0, or -1 with a
 * reason in err (not valid JSON, no "keys" array, too big, or not one usable
 * key). *skipped (may be NULL) counts the keys left out. Thread-safe, and
 * CPU work for big RSA sets: the broker runs it on the worker pool. */
int jwks_parse(const char *json, size_t len, struct ext_keyset **out, int *skipped, char *err,
               size_t errsz);

/* Fills the lazily built caches inside each key (the P-256 comb table of the
 * generator, RSA's Montgomery constant) with one throw-away verification, so
 * that worker threads sharing a key afterwards only read it. ~2 ms per EC
 * key: worker pool. */
void jwks_keyset_warm(struct ext_keyset *ks);

const struct ext_key *jwks_find(const struct ext_keyset *ks, const char *kid);

/* Loop thread. */
void jwks_keyset_ref(struct ext_keyset *ks);
void jwks_keyset_unref(struct ext_keyset *ks);

#endif
