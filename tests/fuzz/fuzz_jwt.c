/* fuzz_jwt.c — libFuzzer target for jwt_verify (broker/jwt.c).
 *
 * The keyring holds one ES256 key (kid "es") and one HS256 key (kid "hs"),
 * made once in LLVMFuzzerInitialize. Per input:
 *   1. the input is a token: jwt_verify with typ "at+jwt" and "rt+jwt" must
 *      return one of its statuses and leave *payload_len 0 on failure; on
 *      JWT_OK the payload must fit and be what the token's middle part
 *      decodes to, and a keyring with other keys under the same kids must
 *      refuse the token;
 *   2. the input (from byte 2 on) is a payload: sign it (HS256, or ES256
 *      when the low 3 bits of byte 0 are 1: ES256 costs milliseconds, so only
 *      one input in eight pays for it), verify it back (the payload must
 *      round-trip), check that the wrong typ and other keys under the same
 *      kid are refused, then flip one byte (position from byte 1) and
 *      verify must fail. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/ecp.h>
#include <mbedtls/pk.h>

#include "b64url.h"
#include "jwt.h"
#include "rng.h"
#include "fuzz_check.h"


static struct keyring kr;       /* [0] ES256 "es", [1] HS256 "hs" */
static struct keyring kr_other; /* same kids, different keys */

static int make_es256(struct jwt_key *k, const char *kid)
{
    memset(k, 0, sizeof *k);
    mbedtls_pk_init(&k->pk);
    k->alg = JWT_ES256;
    snprintf(k->kid, sizeof k->kid, "%s", kid);
    if (mbedtls_pk_setup(&k->pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)))
        return -1;
    return mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(k->pk), rng_mbedtls,
                               rng_mbedtls_ctx());
}

static int make_hs256(struct jwt_key *k, const char *kid)
{
    memset(k, 0, sizeof *k);
    mbedtls_pk_init(&k->pk);
    k->alg = JWT_HS256;
    snprintf(k->kid, sizeof k->kid, "%s", kid);
    k->secret_len = JWT_SECRET_LEN;
    return rng_bytes(k->secret, k->secret_len);
}

static int make_ring(struct keyring *r)
{
    r->keys = calloc(2, sizeof *r->keys);
    if (!r->keys)
        return -1;
    r->count = 2;
    r->current = 0;
    if (make_es256(&r->keys[0], "es") || make_hs256(&r->keys[1], "hs"))
        return -1;
    uint8_t sig[64]; /* warm-up, as keys_load does */
    return jwt_es256_sign(&r->keys[0].pk, "w", 1, sig);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (rng_init() || make_ring(&kr) || make_ring(&kr_other)) {
        fprintf(stderr, "fuzz_jwt: key setup failed\n");
        abort();
    }
    return 0;
}

/* 1: the input as a token. */
static void verify_input(const uint8_t *data, size_t size)
{
    static const char *const typs[] = {"at+jwt", "rt+jwt"};
    char payload[JWT_MAX_PAYLOAD + 1];
    for (int t = 0; t < 2; t++) {
        size_t plen = 12345;
        enum jwt_status st = jwt_verify(&kr, (const char *)data, size, typs[t], payload,
                                        sizeof payload, &plen);
        CHECK(st >= JWT_OK && st <= JWT_BAD_SIGNATURE);
        if (st != JWT_OK) {
            CHECK(plen == 0);
            continue;
        }
        CHECK(plen >= 1 && plen <= JWT_MAX_PAYLOAD);
        /* The token's middle part must decode to exactly the payload. */
        const char *d1 = memchr(data, '.', size);
        CHECK(d1);
        const char *p = d1 + 1;
        const char *d2 = memchr(p, '.', size - (size_t)(p - (const char *)data));
        CHECK(d2);
        uint8_t again[JWT_MAX_PAYLOAD];
        int n = b64url_decode(p, (size_t)(d2 - p), again, sizeof again);
        CHECK(n >= 0 && (size_t)n == plen && memcmp(again, payload, plen) == 0);
        /* Also refused under a keyring with other keys of the same kids. */
        size_t ol;
        CHECK(jwt_verify(&kr_other, (const char *)data, size, typs[t], payload, sizeof payload,
                         &ol) != JWT_OK);
    }
}

/* 2: the input as a payload, signed here. */
static void sign_and_flip(const uint8_t *data, size_t size)
{
    if (size < 3)
        return;
    const bool es = (data[0] & 7) == 1;
    const struct jwt_key *key = &kr.keys[es ? 0 : 1];
    const char *typ = data[0] & 2 ? "rt+jwt" : "at+jwt";
    const char *other_typ = data[0] & 2 ? "at+jwt" : "rt+jwt";
    unsigned flip_at = data[1];
    const char *pl = (const char *)data + 2;
    size_t pl_len = size - 2;

    char tok[JWT_MAX_TOKEN + 1];
    int n = jwt_sign(key, typ, pl, pl_len, tok, sizeof tok);
    if (pl_len > JWT_MAX_PAYLOAD) {
        CHECK(n < 0);
        return;
    }
    if (n < 0) /* the token would be longer than JWT_MAX_TOKEN */
        return;
    CHECK((size_t)n == strlen(tok));

    char payload[JWT_MAX_PAYLOAD + 1];
    size_t plen = 0;
    CHECK(jwt_verify(&kr, tok, (size_t)n, typ, payload, sizeof payload, &plen) == JWT_OK);
    CHECK(plen == pl_len && memcmp(payload, pl, pl_len) == 0);
    CHECK(jwt_verify(&kr, tok, (size_t)n, other_typ, payload, sizeof payload, &plen) ==
          JWT_BAD_HEADER);
    if (!es) /* the ES256 side of this is the flip below */
        CHECK(jwt_verify(&kr_other, tok, (size_t)n, typ, payload, sizeof payload, &plen) ==
              JWT_BAD_SIGNATURE);
    /* A payload buffer one byte too small is refused, not overrun. */
    CHECK(jwt_verify(&kr, tok, (size_t)n, typ, payload, pl_len - 1, &plen) != JWT_OK);

    /* One flipped byte anywhere: never valid. The flip is an XOR with a
     * nonzero value derived from the input, so the byte really changes. */
    size_t pos = (flip_at * 7919u + pl_len) % (size_t)n;
    uint8_t x = (uint8_t)(data[size - 1] | 1);
    tok[pos] = (char)(tok[pos] ^ x);
    plen = 7;
    CHECK(jwt_verify(&kr, tok, (size_t)n, typ, payload, sizeof payload, &plen) != JWT_OK);
    CHECK(plen == 0);
    /* Truncated by one: never valid either. */
    tok[pos] = (char)(tok[pos] ^ x);
    CHECK(jwt_verify(&kr, tok, (size_t)n - 1, typ, payload, sizeof payload, &plen) != JWT_OK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4 * JWT_MAX_TOKEN)
        return 0;
    verify_input(data, size);
    sign_and_flip(data, size);
    return 0;
}
