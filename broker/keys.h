/* keys.h — signing keys on disk (--keys-dir) and the public JWK Set.
 *
 * Layout of the keys directory (0700; files 0600, written atomically):
 *   es256-<unix seconds>-<8 hex>.pem  SEC1 "EC PRIVATE KEY" P-256; the newest
 *                                     is current, older ones stay published
 *   access-hs256.key                  32-byte secret, base64url, for
 *                                     --access-alg HS256
 *   refresh-hs256.key                 32-byte secret, base64url; refresh
 *                                     tokens only; never leaves the broker
 * kid of an EC key = RFC 7638 JWK thumbprint (SHA-256, base64url).
 * kid of a secret  = RFC 7638 thumbprint of {"k":…,"kty":"oct"}. */
#ifndef QRLOGIN_KEYS_H
#define QRLOGIN_KEYS_H

#include <stddef.h>

#include "jwt.h"

struct keyset {
    struct keyring access;  /* all ES256 keys (newest current), or with
                               --access-alg HS256 the single access secret */
    struct keyring refresh; /* the single HS256 refresh secret */
};

/* Loads every key from dir, creating the directory and any missing key
 * (an ES256 key if there is none, both secrets) on first start.
 * access_alg chooses what `access` holds. ES256 keys get one warm-up signature
 * here: mbedTLS fills the curve's precomputed table on first use, and after
 * that worker threads only read it. Returns 0, or -1 with a reason in err. */
int keys_load(const char *dir, enum jwt_alg access_alg, struct keyset *ks, char *err, size_t errsz);
void keys_free(struct keyset *ks);

/* Writes a fresh ES256 key into dir, making it current for the next start.
 * Fills new_kid. Returns 0 or -1 with err. */
int keys_generate_es256(const char *dir, char *new_kid, size_t kid_size, char *err, size_t errsz);

/* {"keys":[{"kty":"EC","crv":"P-256","x":…,"y":…,"kid":…,"alg":"ES256","use":"sig"},…]}
 * from the public halves of the ES256 keys in ks->access, current key first;
 * never a private member; {"keys":[]} with HS256 access tokens.
 * Returns the length written or -1 if out is too small. */
int keys_jwks_json(const struct keyset *ks, char *out, size_t outsz);

/* RFC 7638 thumbprint of an EC P-256 public key (base64url SHA-256 of
 * {"crv":"P-256","kty":"EC","x":…,"y":…}). Returns 0 or -1. */
int keys_ec_thumbprint(const mbedtls_pk_context *pk, char *out, size_t outsz);

#endif
