/* ext_keys.h — test helpers shared by test_jwks.c and test_external_token.c:
 * fresh EC P-256 and RSA key pairs, their public JWKs as an identity
 * provider publishes them, and JWS signing with them. */
#ifndef QRLOGIN_TEST_EXT_KEYS_H
#define QRLOGIN_TEST_EXT_KEYS_H

#include <stdio.h>
#include <string.h>

#include <mbedtls/ecp.h>
#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>
#include <mbedtls/sha256.h>

#include "b64url.h"
#include "jwt.h"
#include "rng.h"

static inline int tk_gen_ec(mbedtls_pk_context *pk)
{
    mbedtls_pk_init(pk);
    return mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) ||
           mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*pk), rng_mbedtls, NULL);
}

static inline int tk_gen_rsa(mbedtls_pk_context *pk, unsigned bits)
{
    mbedtls_pk_init(pk);
    return mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA)) ||
           mbedtls_rsa_gen_key(mbedtls_pk_rsa(*pk), rng_mbedtls, NULL, bits, 65537);
}

static inline void tk_b64_mpi(const mbedtls_mpi *v, size_t len, char *out, size_t outsz)
{
    unsigned char buf[1024];
    if (!len)
        len = mbedtls_mpi_size(v);
    mbedtls_mpi_write_binary(v, buf, len);
    b64url_encode(buf, len, out, outsz);
}

/* {"kty":"EC",…} or {"kty":"RSA",…} with kid, plus `extra` members
 * (",\"alg\":\"ES256\"" or ""). */
static inline void tk_jwk(const mbedtls_pk_context *pk, const char *kid, const char *extra,
                          char *out, size_t outsz)
{
    char a[1400], b[1400];
    if (mbedtls_pk_get_type(pk) == MBEDTLS_PK_ECKEY) {
        const mbedtls_ecp_keypair *ec = mbedtls_pk_ec(*pk);
        tk_b64_mpi(&ec->Q.X, 32, a, sizeof a);
        tk_b64_mpi(&ec->Q.Y, 32, b, sizeof b);
        int w = snprintf(out, outsz, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\","
                                     "\"y\":\"%s\",\"kid\":\"%s\"%s}", a, b, kid, extra);
        if (w < 0 || (size_t)w >= outsz)
            out[0] = '\0';
    } else {
        mbedtls_rsa_context *rsa = mbedtls_pk_rsa(*pk);
        mbedtls_mpi n, e;
        mbedtls_mpi_init(&n);
        mbedtls_mpi_init(&e);
        mbedtls_rsa_export(rsa, &n, NULL, NULL, NULL, &e);
        tk_b64_mpi(&n, 0, a, sizeof a);
        tk_b64_mpi(&e, 0, b, sizeof b);
        mbedtls_mpi_free(&n);
        mbedtls_mpi_free(&e);
        int w = snprintf(out, outsz, "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\","
                                     "\"kid\":\"%s\"%s}", a, b, kid, extra);
        if (w < 0 || (size_t)w >= outsz)
            out[0] = '\0';
    }
}

/* b64url(header).b64url(payload).b64url(signature by pk with alg). alg
 * "ES256"/"RS256" signs with pk; "HS256" uses secret; "none" leaves the
 * signature empty. Returns the length or -1. */
static inline int tk_sign(const char *header, const char *payload, const char *alg,
                          const mbedtls_pk_context *pk, const uint8_t *secret, size_t secret_len,
                          char *out, size_t outsz)
{
    int h = b64url_encode(header, strlen(header), out, outsz);
    if (h < 0 || (size_t)h + 2 >= outsz)
        return -1;
    out[h] = '.';
    int p = b64url_encode(payload, strlen(payload), out + h + 1, outsz - (size_t)h - 1);
    if (p < 0)
        return -1;
    size_t n = (size_t)h + 1 + (size_t)p;
    uint8_t sig[1024];
    size_t siglen = 0;
    if (!strcmp(alg, "ES256")) {
        if (jwt_es256_sign(pk, out, n, sig))
            return -1;
        siglen = 64;
    } else if (!strcmp(alg, "RS256")) {
        uint8_t hash[32];
        mbedtls_rsa_context *rsa = mbedtls_pk_rsa(*pk);
        mbedtls_sha256_ret((const uint8_t *)out, n, hash, 0);
        if (mbedtls_rsa_pkcs1_sign(rsa, rng_mbedtls, NULL, MBEDTLS_RSA_PRIVATE,
                                   MBEDTLS_MD_SHA256, 32, hash, sig))
            return -1;
        siglen = mbedtls_rsa_get_len(rsa);
    } else if (!strcmp(alg, "HS256")) {
        if (jwt_hs256(secret, secret_len, out, n, sig))
            return -1;
        siglen = 32;
    }
    if (n + 2 >= outsz)
        return -1;
    out[n++] = '.';
    out[n] = '\0';
    if (siglen) {
        int s = b64url_encode(sig, siglen, out + n, outsz - n);
        if (s < 0)
            return -1;
        n += (size_t)s;
    }
    return (int)n;
}

#endif
