/* jwt.h — JWS compact serialization for the two algorithms the broker uses.
 *
 * Crypto hygiene (docs/architecture.md, rule 7): the algorithm and key come
 * from the keyring by `kid`, never from the token header; `alg` and `typ` are compared
 * exactly; "none" and every other alg are refused; HMAC is compared in constant
 * time; an ES256 signature must be exactly 64 bytes (raw R||S) with
 * 1 <= r,s < n; every buffer is bounded. */
#ifndef QRLOGIN_JWT_H
#define QRLOGIN_JWT_H

#include <stddef.h>
#include <stdint.h>

#include <mbedtls/pk.h>

enum jwt_alg { JWT_ES256 = 1, JWT_HS256 = 2 };

#define JWT_KID_MAX 64       /* RFC 7638 SHA-256 thumbprint is 43 chars */
#define JWT_SECRET_LEN 32      /* what we generate */
#define JWT_SECRET_MAX 64      /* what a key may hold (RFC 7515 A.1 uses 64) */
#define JWT_MAX_TOKEN 2048   /* longest compact token we issue or accept */
#define JWT_MAX_PAYLOAD 1024 /* longest decoded claims JSON we accept */

struct jwt_key {
    char kid[JWT_KID_MAX];
    enum jwt_alg alg;
    mbedtls_pk_context pk;             /* ES256: the EC key pair (P-256) */
    uint8_t secret[JWT_SECRET_MAX];    /* HS256: the shared secret */
    size_t secret_len;                 /* HS256: 16..64; 0 is refused */
    int64_t created_at;                /* seconds; newest is "current" */
};

struct keyring {
    struct jwt_key *keys; /* heap array */
    int count;
    int current;          /* index of the key that signs; -1 if none */
};

/* Looks a key up by kid (exact match). NULL if absent. */
const struct jwt_key *keyring_find(const struct keyring *kr, const char *kid, size_t kid_len);
const struct jwt_key *keyring_current(const struct keyring *kr);
void keyring_free(struct keyring *kr);

/* Signs payload_json (a JSON object) with key, header
 * {"alg":<key alg>,"typ":<typ>,"kid":<key kid>}, into out as
 * b64url(header).b64url(payload).b64url(signature), NUL-terminated.
 * Thread-safe (runs on the worker pool). Returns the token length or -1. */
int jwt_sign(const struct jwt_key *key, const char *typ, const char *payload_json,
             size_t payload_len, char *out, size_t outsz);

enum jwt_status {
    JWT_OK = 0,
    JWT_MALFORMED,   /* not three b64url parts, bad header JSON, too long */
    JWT_BAD_HEADER,  /* alg/typ not exactly what the key and caller demand */
    JWT_UNKNOWN_KID, /* no key with that kid in the keyring */
    JWT_BAD_SIGNATURE,
};

/* Verifies token against keyring kr: header must be a JSON object with exactly
 * string members alg, typ, kid (no others); kid must name a key in kr; alg must
 * equal that key's alg; typ must equal want_typ. On JWT_OK the decoded payload
 * (not NUL-terminated unless room allows; *payload_len set) is in payload.
 * Thread-safe. */
enum jwt_status jwt_verify(const struct keyring *kr, const char *token, size_t token_len,
                           const char *want_typ, char *payload, size_t payload_size,
                           size_t *payload_len);

const char *jwt_alg_name(enum jwt_alg alg); /* "ES256" / "HS256" */

/* The raw primitives under jwt_sign/jwt_verify, exposed for the RFC 7515
 * test vectors (A.1 HS256, A.3 ES256), whose headers carry no kid.
 * hs256: out = HMAC-SHA256(secret, input). es256_sign: 64-byte R||S.
 * es256_verify: 0 if sig (exactly sig_len == 64, 1 <= r,s < n) is valid. */
int jwt_hs256(const uint8_t *secret, size_t secret_len, const void *input, size_t n,
              uint8_t out[32]);
int jwt_es256_sign(const mbedtls_pk_context *pk, const void *input, size_t n, uint8_t sig[64]);
int jwt_es256_verify(const mbedtls_pk_context *pk, const void *input, size_t n,
                     const uint8_t *sig, size_t sig_len);

#endif
