/* fuzz_jwks.c — libFuzzer target for broker/jwks_parse.c, the parser of an
 * identity provider's JWK Set (text from the network).
 *
 * Whatever the input: no crash, no leak, and an accepted set holds 1 to
 * JWKS_MAX_KEYS keys, each with a non-empty kid no other key has, of a type
 * we verify with: an EC key on P-256 whose point passes mbedtls's own check,
 * or an RSA key of 2048 to 8192 bits. The same bytes also go through
 * external_token_peek (a compact JWT's header and claims), which must either
 * refuse them or fill a NUL-terminated kid and iss. */
#include <stdint.h>
#include <string.h>

#include <mbedtls/ecp.h>
#include <mbedtls/rsa.h>

#include "external_token.h"
#include "fuzz_check.h"
#include "jwks_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ext_keyset *ks = NULL;
    int skipped = -1;
    char err[160];
    if (jwks_parse((const char *)data, size, &ks, &skipped, err, sizeof err) == 0) {
        CHECK(ks && ks->refs == 1);
        CHECK(ks->count >= 1 && ks->count <= JWKS_MAX_KEYS);
        CHECK(skipped >= 0);
        for (int i = 0; i < ks->count; i++) {
            const struct ext_key *k = &ks->keys[i];
            size_t n = strnlen(k->kid, sizeof k->kid);
            CHECK(n > 0 && n < sizeof k->kid);
            CHECK(jwks_find(ks, k->kid) == k); /* first with that kid: so unique */
            if (k->kty == EXT_KTY_EC) {
                const mbedtls_ecp_keypair *ec = mbedtls_pk_ec(k->pk);
                CHECK(ec->grp.id == MBEDTLS_ECP_DP_SECP256R1);
                CHECK(mbedtls_ecp_check_pubkey(&ec->grp, &ec->Q) == 0);
            } else {
                CHECK(k->kty == EXT_KTY_RSA);
                size_t len = mbedtls_rsa_get_len(mbedtls_pk_rsa(k->pk));
                CHECK(len >= 256 && len <= 1024);
            }
        }
        jwks_keyset_unref(ks);
    } else {
        CHECK(ks == NULL);
        CHECK(err[0] != '\0');
    }

    struct ext_token_head h;
    if (external_token_peek((const char *)data, size, &h) == EXT_OK) {
        CHECK(strnlen(h.kid, sizeof h.kid) < sizeof h.kid);
        CHECK(strnlen(h.iss, sizeof h.iss) < sizeof h.iss);
    }
    return 0;
}
