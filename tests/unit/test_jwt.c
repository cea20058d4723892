/* test_jwt.c — RFC 7515 vectors, round trips, and every bad-input class the
 * verifier must refuse (docs/architecture.md, rule 7). Also the rng module it relies on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>

#include <mbedtls/ecp.h>
#include <mbedtls/md.h>
#include <mbedtls/pk.h>

#include "b64url.h"
#include "jwt.h"
#include "rng.h"

/* RFC 7515 A.1 and A.3 share this payload. */
#define RFC_PAYLOAD_B64                                                                          \
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0" \
    "cnVlfQ"

#define TOK_MAX 4096

static struct keyring g_kr; /* keys[0]: ES256 "es-1"; keys[1]: HS256 "hs-1" */

static const char HDR_ES[] = "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"es-1\"}";
static const char HDR_HS[] = "{\"alg\":\"HS256\",\"typ\":\"at+jwt\",\"kid\":\"hs-1\"}";
static const char PAYLOAD[] = "{\"sub\":\"42\",\"exp\":1700000000}";

/* ---- helpers -------------------------------------------------------------- */

static int make_es256(struct jwt_key *k, const char *kid)
{
    memset(k, 0, sizeof *k);
    mbedtls_pk_init(&k->pk);
    k->alg = JWT_ES256;
    snprintf(k->kid, sizeof k->kid, "%s", kid);
    if (mbedtls_pk_setup(&k->pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)))
        return -1;
    return mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(k->pk), rng_mbedtls, NULL);
}

static void make_hs256(struct jwt_key *k, const char *kid, uint8_t fill, size_t len)
{
    memset(k, 0, sizeof *k);
    mbedtls_pk_init(&k->pk);
    k->alg = JWT_HS256;
    snprintf(k->kid, sizeof k->kid, "%s", kid);
    for (size_t i = 0; i < len; i++)
        k->secret[i] = (uint8_t)(fill + i);
    k->secret_len = len;
}

static int group_setup(void **state)
{
    (void)state;
    if (rng_init())
        return -1;
    g_kr.keys = calloc(2, sizeof *g_kr.keys);
    if (!g_kr.keys)
        return -1;
    g_kr.count = 2;
    g_kr.current = 0;
    if (make_es256(&g_kr.keys[0], "es-1"))
        return -1;
    make_hs256(&g_kr.keys[1], "hs-1", 0x40, 32);
    /* Warm-up, as keys_load does, before the threaded test. */
    uint8_t sig[64];
    return jwt_es256_sign(&g_kr.keys[0].pk, "w", 1, sig);
}

static int group_teardown(void **state)
{
    (void)state;
    keyring_free(&g_kr);
    rng_free();
    return 0;
}

/* b64(hdr) "." b64(payload) — a signing input with exactly the header text
 * the test wants, so each test breaks one thing only. */
static size_t forge_input(char *out, size_t outsz, const char *hdr, size_t hlen,
                          const char *payload, size_t plen)
{
    int a = b64url_encode(hdr, hlen, out, outsz);
    assert_true(a > 0);
    assert_true((size_t)a + 2 < outsz);
    out[a] = '.';
    int b = b64url_encode(payload, plen, out + a + 1, outsz - (size_t)a - 1);
    assert_true(b > 0);
    return (size_t)a + 1 + (size_t)b;
}

static size_t append_sig(char *out, size_t outsz, size_t pos, const uint8_t *sig, size_t n)
{
    assert_true(pos + 2 < outsz);
    out[pos++] = '.';
    int w = b64url_encode(sig, n, out + pos, outsz - pos);
    assert_true(w >= 0);
    return pos + (size_t)w;
}

/* The correct signature of input under key (whatever alg the header claims). */
static size_t sign_raw(const struct jwt_key *key, const char *input, size_t n, uint8_t sig[64])
{
    if (key->alg == JWT_HS256) {
        assert_int_equal(jwt_hs256(key->secret, key->secret_len, input, n, sig), 0);
        return 32;
    }
    assert_int_equal(jwt_es256_sign(&key->pk, input, n, sig), 0);
    return 64;
}

/* A token with header text hdr, signed correctly by key. */
static size_t forge(char *out, size_t outsz, const char *hdr, const char *payload,
                    const struct jwt_key *key)
{
    uint8_t sig[64];
    size_t pos = forge_input(out, outsz, hdr, strlen(hdr), payload, strlen(payload));
    size_t n = sign_raw(key, out, pos, sig);
    return append_sig(out, outsz, pos, sig, n);
}

static enum jwt_status verify_kr(const struct keyring *kr, const char *tok, size_t len,
                                 const char *typ)
{
    char payload[JWT_MAX_PAYLOAD + 1];
    size_t plen = 12345;
    enum jwt_status st = jwt_verify(kr, tok, len, typ, payload, sizeof payload, &plen);
    if (st != JWT_OK)
        assert_int_equal(plen, 0);
    return st;
}

static enum jwt_status verify(const char *tok, size_t len, const char *typ)
{
    return verify_kr(&g_kr, tok, len, typ);
}

#define ES (&g_kr.keys[0])
#define HS (&g_kr.keys[1])

/* ---- RFC 7515 vectors ----------------------------------------------------- */

static void test_rfc7515_a1_hs256(void **state)
{
    (void)state;
    static const char input[] = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9." RFC_PAYLOAD_B64;
    static const char k_b64[] =
        "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
    static const char sig_b64[] = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    uint8_t key[64], want[32], mac[32];
    char mac_b64[64];

    assert_int_equal(b64url_decode(k_b64, strlen(k_b64), key, sizeof key), 64);
    assert_int_equal(b64url_decode(sig_b64, strlen(sig_b64), want, sizeof want), 32);
    assert_int_equal(jwt_hs256(key, sizeof key, input, strlen(input), mac), 0);
    assert_memory_equal(mac, want, 32);
    assert_int_equal(b64url_encode(mac, sizeof mac, mac_b64, sizeof mac_b64), 43);
    assert_string_equal(mac_b64, sig_b64);

    /* One byte less of key or input changes the MAC. */
    assert_int_equal(jwt_hs256(key, 63, input, strlen(input), mac), 0);
    assert_memory_not_equal(mac, want, 32);
    assert_int_equal(jwt_hs256(key, 64, input, strlen(input) - 1, mac), 0);
    assert_memory_not_equal(mac, want, 32);
}

/* The RFC's public key from its JWK x and y. */
static void load_rfc_a3_public(mbedtls_pk_context *pk)
{
    static const char x_b64[] = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
    static const char y_b64[] = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
    uint8_t x[32], y[32];

    assert_int_equal(b64url_decode(x_b64, strlen(x_b64), x, sizeof x), 32);
    assert_int_equal(b64url_decode(y_b64, strlen(y_b64), y, sizeof y), 32);
    mbedtls_pk_init(pk);
    assert_int_equal(mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)), 0);
    mbedtls_ecp_keypair *kp = mbedtls_pk_ec(*pk);
    assert_int_equal(mbedtls_ecp_group_load(&kp->grp, MBEDTLS_ECP_DP_SECP256R1), 0);
    assert_int_equal(mbedtls_mpi_read_binary(&kp->Q.X, x, 32), 0);
    assert_int_equal(mbedtls_mpi_read_binary(&kp->Q.Y, y, 32), 0);
    assert_int_equal(mbedtls_mpi_lset(&kp->Q.Z, 1), 0);
    assert_int_equal(mbedtls_ecp_check_pubkey(&kp->grp, &kp->Q), 0);
}

static void test_rfc7515_a3_es256(void **state)
{
    (void)state;
    static const char input[] = "eyJhbGciOiJFUzI1NiJ9." RFC_PAYLOAD_B64;
    static const char sig_b64[] =
        "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
    mbedtls_pk_context pk;
    uint8_t sig[64], bad[64];

    load_rfc_a3_public(&pk);
    assert_int_equal(b64url_decode(sig_b64, strlen(sig_b64), sig, sizeof sig), 64);
    assert_int_equal(jwt_es256_verify(&pk, input, strlen(input), sig, 64), 0);

    memcpy(bad, sig, 64);
    bad[10] ^= 0x01; /* in r */
    assert_int_not_equal(jwt_es256_verify(&pk, input, strlen(input), bad, 64), 0);
    memcpy(bad, sig, 64);
    bad[63] ^= 0x80; /* in s */
    assert_int_not_equal(jwt_es256_verify(&pk, input, strlen(input), bad, 64), 0);
    /* Tampered input, or the signature under another key. */
    assert_int_not_equal(jwt_es256_verify(&pk, input, strlen(input) - 1, sig, 64), 0);
    assert_int_not_equal(jwt_es256_verify(&ES->pk, input, strlen(input), sig, 64), 0);
    /* Wrong lengths are refused before anything else. */
    assert_int_not_equal(jwt_es256_verify(&pk, input, strlen(input), sig, 63), 0);
    /* A public key cannot sign. */
    assert_int_not_equal(jwt_es256_sign(&pk, input, strlen(input), bad), 0);
    mbedtls_pk_free(&pk);
}

/* ---- round trips ---------------------------------------------------------- */

static void round_trip(const struct jwt_key *key, const char *want_header)
{
    char tok[TOK_MAX], payload[JWT_MAX_PAYLOAD + 1];
    uint8_t hdr[256];
    size_t plen = 0;
    int n = jwt_sign(key, "at+jwt", PAYLOAD, strlen(PAYLOAD), tok, sizeof tok);

    assert_true(n > 0);
    assert_int_equal(strlen(tok), (size_t)n);
    const char *dot = strchr(tok, '.');
    assert_non_null(dot);
    int hl = b64url_decode(tok, (size_t)(dot - tok), hdr, sizeof hdr - 1);
    assert_true(hl > 0);
    hdr[hl] = '\0';
    assert_string_equal((char *)hdr, want_header);

    assert_int_equal(jwt_verify(&g_kr, tok, (size_t)n, "at+jwt", payload, sizeof payload, &plen),
                     JWT_OK);
    assert_int_equal(plen, strlen(PAYLOAD));
    assert_string_equal(payload, PAYLOAD); /* NUL-terminated when room allows */
}

static void test_round_trip_es256(void **state)
{
    (void)state;
    round_trip(ES, HDR_ES);
}

static void test_round_trip_hs256(void **state)
{
    (void)state;
    round_trip(HS, HDR_HS);
}

/* RFC 6979: the same key and input always give the same signature. */
static void test_es256_deterministic(void **state)
{
    (void)state;
    char a[TOK_MAX], b[TOK_MAX];
    int na = jwt_sign(ES, "at+jwt", PAYLOAD, strlen(PAYLOAD), a, sizeof a);
    int nb = jwt_sign(ES, "at+jwt", PAYLOAD, strlen(PAYLOAD), b, sizeof b);
    assert_true(na > 0);
    assert_int_equal(na, nb);
    assert_string_equal(a, b);
}

static void test_keyring_lookup(void **state)
{
    (void)state;
    assert_ptr_equal(keyring_find(&g_kr, "es-1", 4), ES);
    assert_ptr_equal(keyring_find(&g_kr, "hs-1", 4), HS);
    assert_null(keyring_find(&g_kr, "es-", 3));
    assert_null(keyring_find(&g_kr, "es-10", 5));
    assert_null(keyring_find(&g_kr, "", 0));
    assert_ptr_equal(keyring_current(&g_kr), ES);
    struct keyring empty = {NULL, 0, -1};
    assert_null(keyring_current(&empty));
    assert_string_equal(jwt_alg_name(JWT_ES256), "ES256");
    assert_string_equal(jwt_alg_name(JWT_HS256), "HS256");
}

/* ---- header attacks ------------------------------------------------------- */

static void test_alg_none(void **state)
{
    (void)state;
    char tok[TOK_MAX];
    const uint8_t junk[32] = {1};
    const char *hdrs[] = {
        "{\"alg\":\"none\",\"typ\":\"at+jwt\",\"kid\":\"es-1\"}",
        "{\"alg\":\"None\",\"typ\":\"at+jwt\",\"kid\":\"hs-1\"}",
        "{\"alg\":\"NONE\",\"typ\":\"at+jwt\",\"kid\":\"nope\"}",
        "{\"alg\":\"\",\"typ\":\"at+jwt\",\"kid\":\"hs-1\"}",
    };
    for (size_t i = 0; i < sizeof hdrs / sizeof hdrs[0]; i++) {
        size_t pos = forge_input(tok, sizeof tok, hdrs[i], strlen(hdrs[i]), PAYLOAD,
                                 strlen(PAYLOAD));
        /* The classic unsecured JWS: empty third part. */
        tok[pos] = '.';
        tok[pos + 1] = '\0';
        assert_int_equal(verify(tok, pos + 1, "at+jwt"), JWT_MALFORMED);
        /* Or with some signature bytes. */
        size_t n = append_sig(tok, sizeof tok, pos, junk, sizeof junk);
        assert_int_equal(verify(tok, n, "at+jwt"), JWT_BAD_HEADER);
    }
}

static void test_other_algs_refused(void **state)
{
    (void)state;
    char tok[TOK_MAX];
    const char *hdrs[] = {
        "{\"alg\":\"HS512\",\"typ\":\"at+jwt\",\"kid\":\"hs-1\"}",
        "{\"alg\":\"RS256\",\"typ\":\"at+jwt\",\"kid\":\"es-1\"}",
        "{\"alg\":\"es256\",\"typ\":\"at+jwt\",\"kid\":\"es-1\"}",
        "{\"alg\":\"ES256 \",\"typ\":\"at+jwt\",\"kid\":\"es-1\"}",
        "{\"alg\":\"ES384\",\"typ\":\"at+jwt\",\"kid\":\"es-1\"}",
    };
    for (size_t i = 0; i < sizeof hdrs / sizeof hdrs[0]; i++) {
        size_t n = forge(tok, sizeof tok, hdrs[i], PAYLOAD, i == 0 ? HS : ES);
        assert_int_equal(verify(tok, n, "at+jwt"), JWT_BAD_HEADER);
    }
}

/* The key-confusion attack: an HS256 token naming the ES256 kid, MACed with
 * the EC public key (which anyone can fetch from the JWKS). */
static void test_alg_swap_hs256_on_es256_key(void **state)
{
    (void)state;
    static const char hdr[] = "{\"alg\":\"HS256\",\"typ\":\"at+jwt\",\"kid\":\"es-1\"}";
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    mbedtls_ecp_keypair *kp = mbedtls_pk_ec(ES->pk);
    unsigned char point[65], pem[512];
    const unsigned char *pubkeys[2];
    size_t publens[2], olen = 0;
    char tok[TOK_MAX];
    uint8_t mac[32];

    assert_int_equal(mbedtls_ecp_point_write_binary(&kp->grp, &kp->Q, MBEDTLS_ECP_PF_UNCOMPRESSED,
                                                    &olen, point, sizeof point),
                     0);
    assert_int_equal(olen, 65);
    assert_int_equal(mbedtls_pk_write_pubkey_pem(&ES->pk, pem, sizeof pem), 0);
    pubkeys[0] = point;
    publens[0] = olen;
    pubkeys[1] = pem;
    publens[1] = strlen((char *)pem);

    for (int i = 0; i < 2; i++) {
        size_t pos = forge_input(tok, sizeof tok, hdr, strlen(hdr), PAYLOAD, strlen(PAYLOAD));
        assert_int_equal(mbedtls_md_hmac(md, pubkeys[i], publens[i], (unsigned char *)tok, pos, mac),
                         0);
        size_t n = append_sig(tok, sizeof tok, pos, mac, sizeof mac);
        assert_int_equal(verify(tok, n, "at+jwt"), JWT_BAD_HEADER);
    }

    /* Also a correct HS256 MAC under the real HS key, but naming the EC kid. */
    size_t n = forge(tok, sizeof tok, hdr, PAYLOAD, HS);
    assert_int_equal(verify(tok, n, "at+jwt"), JWT_BAD_HEADER);
}

static void test_alg_swap_es256_on_hs256_key(void **state)
{
    (void)state;
    static const char hdr[] = "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"hs-1\"}";
    char tok[TOK_MAX];
    size_t n = forge(tok, sizeof tok, hdr, PAYLOAD, ES);
    assert_int_equal(verify(tok, n, "at+jwt"), JWT_BAD_HEADER);
}

static void test_unknown_kid(void **state)
{
    (void)state;
    char tok[TOK_MAX];
    const char *hdrs[] = {
        "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"es-2\"}",
        "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"\"}",
        "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"ES-1\"}",
        "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"es-1 \"}",
        /* a kid longer than any kid we make (one literal: no accidental
         * concatenation of two array elements) */
        "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"es-1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
    };
    for (size_t i = 0; i < sizeof hdrs / sizeof hdrs[0]; i++) {
        size_t n = forge(tok, sizeof tok, hdrs[i], PAYLOAD, ES);
        assert_int_equal(verify(tok, n, "at+jwt"), JWT_UNKNOWN_KID);
    }
}

static void test_wrong_typ(void **state)
{
    (void)state;
    char tok[TOK_MAX];
    int n = jwt_sign(HS, "rt+jwt", PAYLOAD, strlen(PAYLOAD), tok, sizeof tok);
    assert_true(n > 0);
    assert_int_equal(verify(tok, (size_t)n, "rt+jwt"), JWT_OK);
    assert_int_equal(verify(tok, (size_t)n, "at+jwt"), JWT_BAD_HEADER);
    assert_int_equal(verify(tok, (size_t)n, NULL), JWT_BAD_HEADER);

    const char *hdrs[] = {
        "{\"alg\":\"ES256\",\"typ\":\"AT+JWT\",\"kid\":\"es-1\"}",
        "{\"alg\":\"ES256\",\"typ\":\"at+jwt \",\"kid\":\"es-1\"}",
        "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"es-1\"}",
        "{\"alg\":\"ES256\",\"typ\":\"\",\"kid\":\"es-1\"}",
    };
    for (size_t i = 0; i < sizeof hdrs / sizeof hdrs[0]; i++) {
        size_t m = forge(tok, sizeof tok, hdrs[i], PAYLOAD, ES);
        assert_int_equal(verify(tok, m, "at+jwt"), JWT_BAD_HEADER);
    }
}

/* Member order and whitespace are free; the set of members is not. */
static void test_header_shape_accepted(void **state)
{
    (void)state;
    char tok[TOK_MAX];
    const char *hdrs[] = {
        "{\"kid\":\"es-1\",\"typ\":\"at+jwt\",\"alg\":\"ES256\"}",
        " { \"typ\" : \"at+jwt\" ,\r\n\t\"alg\":\"ES256\",\"kid\" :\"es-1\" } \n",
    };
    for (size_t i = 0; i < sizeof hdrs / sizeof hdrs[0]; i++) {
        size_t n = forge(tok, sizeof tok, hdrs[i], PAYLOAD, ES);
        assert_int_equal(verify(tok, n, "at+jwt"), JWT_OK);
    }
}

static void test_header_shape_refused(void **state)
{
    (void)state;
    char tok[TOK_MAX];
    const char *hdrs[] = {
        /* extra member */
        "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"es-1\",\"x\":\"y\"}",
        "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"es-1\",\"jku\":\"http://evil\"}",
        /* duplicate member, with and without a fourth member */
        "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"es-1\",\"alg\":\"ES256\"}",
        "{\"alg\":\"ES256\",\"alg\":\"ES256\",\"kid\":\"es-1\"}",
        "{\"kid\":\"es-1\",\"typ\":\"at+jwt\",\"kid\":\"es-1\"}",
        /* missing member */
        "{\"alg\":\"ES256\",\"kid\":\"es-1\"}",
        "{}",
        /* escapes, even harmless ones */
        "{\"alg\":\"ES\\u0032256\",\"typ\":\"at+jwt\",\"kid\":\"es-1\"}",
        "{\"alg\":\"ES256\",\"typ\":\"at\\/jwt\",\"kid\":\"es-1\"}",
        "{\"al\\u0067\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"es-1\"}",
        /* non-string values */
        "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":1}",
        "{\"alg\":[\"ES256\"],\"typ\":\"at+jwt\",\"kid\":\"es-1\"}",
        "{\"alg\":\"ES256\",\"typ\":null,\"kid\":\"es-1\"}",
        /* syntax */
        "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"es-1\",}",
        "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"es-1\"",
        "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"es-1\"}x",
        "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"es-1\"}{}",
        "{\"alg\":\"ES256\" \"typ\":\"at+jwt\",\"kid\":\"es-1\"}",
        "{\"alg\"=\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"es-1\"}",
        "{'alg':'ES256','typ':'at+jwt','kid':'es-1'}",
        "{alg:\"ES256\",typ:\"at+jwt\",kid:\"es-1\"}",
        "[\"alg\",\"ES256\"]",
        "\"ES256\"",
        "{\"alg\":\"ES2\n56\",\"typ\":\"at+jwt\",\"kid\":\"es-1\"}",
    };
    for (size_t i = 0; i < sizeof hdrs / sizeof hdrs[0]; i++) {
        size_t n = forge(tok, sizeof tok, hdrs[i], PAYLOAD, ES);
        if (verify(tok, n, "at+jwt") != JWT_MALFORMED)
            fail_msg("header %zu accepted or misclassified: %s", i, hdrs[i]);
    }
    /* A NUL inside the header JSON. */
    static const char nul_hdr[] = "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"es-1\"}\0";
    size_t pos = forge_input(tok, sizeof tok, nul_hdr, sizeof nul_hdr - 1, PAYLOAD,
                             strlen(PAYLOAD));
    uint8_t sig[64];
    size_t n = append_sig(tok, sizeof tok, pos, sig, sign_raw(ES, tok, pos, sig));
    assert_int_equal(verify(tok, n, "at+jwt"), JWT_MALFORMED);
}

/* ---- signature attacks ---------------------------------------------------- */

static const uint8_t P256_N[32] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
                                   0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                   0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84,
                                   0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};

/* Valid ES256 signing input + its signature; callers corrupt the signature. */
static size_t es_input(char *tok, size_t toksz, uint8_t sig[64])
{
    size_t pos = forge_input(tok, toksz, HDR_ES, strlen(HDR_ES), PAYLOAD, strlen(PAYLOAD));
    sign_raw(ES, tok, pos, sig);
    return pos;
}

static void test_es256_signature_length(void **state)
{
    (void)state;
    char tok[TOK_MAX];
    uint8_t sig[66] = {0};
    size_t pos = es_input(tok, sizeof tok, sig);

    size_t n = append_sig(tok, sizeof tok, pos, sig, 64);
    assert_int_equal(verify(tok, n, "at+jwt"), JWT_OK);
    n = append_sig(tok, sizeof tok, pos, sig, 63);
    assert_int_equal(verify(tok, n, "at+jwt"), JWT_BAD_SIGNATURE);
    n = append_sig(tok, sizeof tok, pos, sig, 65);
    assert_int_equal(verify(tok, n, "at+jwt"), JWT_BAD_SIGNATURE);
    n = append_sig(tok, sizeof tok, pos, sig, 32);
    assert_int_equal(verify(tok, n, "at+jwt"), JWT_BAD_SIGNATURE);

    /* A DER signature (what mbedtls_pk_sign emits) is not the JWS form. */
    unsigned char hash[32], der[MBEDTLS_ECDSA_MAX_LEN];
    size_t dlen = 0;
    assert_int_equal(mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256),
                                (unsigned char *)tok, pos, hash),
                     0);
    assert_int_equal(mbedtls_pk_sign(&ES->pk, MBEDTLS_MD_SHA256, hash, 32, der, &dlen,
                                     rng_mbedtls, NULL),
                     0);
    n = append_sig(tok, sizeof tok, pos, der, dlen);
    assert_int_equal(verify(tok, n, "at+jwt"), JWT_BAD_SIGNATURE);

    /* Primitive level too. */
    assert_int_not_equal(jwt_es256_verify(&ES->pk, tok, pos, sig, 65), 0);
}

static void test_hs256_signature_length(void **state)
{
    (void)state;
    char tok[TOK_MAX];
    uint8_t sig[64] = {0};
    size_t pos = forge_input(tok, sizeof tok, HDR_HS, strlen(HDR_HS), PAYLOAD, strlen(PAYLOAD));
    sign_raw(HS, tok, pos, sig);

    size_t n = append_sig(tok, sizeof tok, pos, sig, 32);
    assert_int_equal(verify(tok, n, "at+jwt"), JWT_OK);
    n = append_sig(tok, sizeof tok, pos, sig, 31);
    assert_int_equal(verify(tok, n, "at+jwt"), JWT_BAD_SIGNATURE);
    n = append_sig(tok, sizeof tok, pos, sig, 33);
    assert_int_equal(verify(tok, n, "at+jwt"), JWT_BAD_SIGNATURE);
    n = append_sig(tok, sizeof tok, pos, sig, 16); /* a truncated MAC */
    assert_int_equal(verify(tok, n, "at+jwt"), JWT_BAD_SIGNATURE);
}

/* r and s must lie in [1, n-1]; r = s = 0 is CVE-2022-21449's "psychic
 * signature". */
static void test_es256_scalar_range(void **state)
{
    (void)state;
    char tok[TOK_MAX];
    uint8_t good[64], sig[64];
    size_t pos = es_input(tok, sizeof tok, good);
    const uint8_t zero[32] = {0};
    uint8_t ones[32];
    memset(ones, 0xff, sizeof ones);
    const uint8_t *r_vals[] = {zero, P256_N, ones, good, good, good, zero};
    const uint8_t *s_vals[] = {good + 32, good + 32, good + 32, zero, P256_N, ones, zero};

    for (size_t i = 0; i < sizeof r_vals / sizeof r_vals[0]; i++) {
        memcpy(sig, r_vals[i], 32);
        memcpy(sig + 32, s_vals[i], 32);
        assert_int_not_equal(jwt_es256_verify(&ES->pk, tok, pos, sig, 64), 0);
        size_t n = append_sig(tok, sizeof tok, pos, sig, 64);
        assert_int_equal(verify(tok, n, "at+jwt"), JWT_BAD_SIGNATURE);
    }
    assert_int_equal(jwt_es256_verify(&ES->pk, tok, pos, good, 64), 0);
}

static void test_tampered(void **state)
{
    (void)state;
    char tok[TOK_MAX];
    int n = jwt_sign(ES, "at+jwt", PAYLOAD, strlen(PAYLOAD), tok, sizeof tok);
    assert_true(n > 0);

    /* A different payload under the old signature. */
    char other[TOK_MAX];
    const char *sig = strrchr(tok, '.');
    size_t pos = forge_input(other, sizeof other, HDR_ES, strlen(HDR_ES),
                             "{\"sub\":\"1\",\"exp\":1700000000}", 28);
    snprintf(other + pos, sizeof other - pos, "%s", sig);
    assert_int_equal(verify(other, strlen(other), "at+jwt"), JWT_BAD_SIGNATURE);

    /* Signed by another ES256 key under the same kid. */
    struct jwt_key imposter;
    assert_int_equal(make_es256(&imposter, "es-1"), 0);
    int m = jwt_sign(&imposter, "at+jwt", PAYLOAD, strlen(PAYLOAD), other, sizeof other);
    assert_true(m > 0);
    assert_int_equal(verify(other, (size_t)m, "at+jwt"), JWT_BAD_SIGNATURE);
    mbedtls_pk_free(&imposter.pk);

    /* An HS256 token under a different secret with the same kid. */
    struct jwt_key hs2;
    make_hs256(&hs2, "hs-1", 0x41, 32);
    m = jwt_sign(&hs2, "at+jwt", PAYLOAD, strlen(PAYLOAD), other, sizeof other);
    assert_true(m > 0);
    assert_int_equal(verify(other, (size_t)m, "at+jwt"), JWT_BAD_SIGNATURE);
}

/* Every one-character change of an HS256 token must fail: each one changes the
 * signing input or the MAC, or is a non-canonical spelling of the same MAC. */
static void test_every_single_character_change_fails(void **state)
{
    (void)state;
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ";
    char tok[TOK_MAX];
    int n = jwt_sign(HS, "at+jwt", PAYLOAD, strlen(PAYLOAD), tok, sizeof tok);
    assert_true(n > 0);
    for (int i = 0; i < n; i++) {
        char orig = tok[i];
        for (const char *c = alphabet; *c; c++) {
            if (*c == orig)
                continue;
            tok[i] = *c;
            if (verify(tok, (size_t)n, "at+jwt") == JWT_OK)
                fail_msg("accepted with tok[%d] = '%c'", i, *c);
        }
        tok[i] = orig;
    }
    assert_int_equal(verify(tok, (size_t)n, "at+jwt"), JWT_OK);
}

/* ---- structure ------------------------------------------------------------ */

static void test_truncated(void **state)
{
    (void)state;
    char tok[TOK_MAX];
    int n = jwt_sign(ES, "at+jwt", PAYLOAD, strlen(PAYLOAD), tok, sizeof tok);
    assert_true(n > 0);
    for (int len = 0; len < n; len++)
        if (verify(tok, (size_t)len, "at+jwt") == JWT_OK)
            fail_msg("prefix of %d bytes accepted", len);
    assert_int_equal(verify(tok, (size_t)n - 1, "at+jwt"), JWT_BAD_SIGNATURE);
    const char *second = strrchr(tok, '.');
    assert_int_equal(verify(tok, (size_t)(second - tok), "at+jwt"), JWT_MALFORMED);
    assert_int_equal(verify(tok, (size_t)(second - tok) + 1, "at+jwt"), JWT_MALFORMED);
}

static void test_dots_and_empty_parts(void **state)
{
    (void)state;
    char tok[TOK_MAX], buf[2 * TOK_MAX + 8];
    int n = jwt_sign(ES, "at+jwt", PAYLOAD, strlen(PAYLOAD), tok, sizeof tok);
    assert_true(n > 0);
    const char *d1 = strchr(tok, '.');
    const char *d2 = strrchr(tok, '.');
    int h = (int)(d1 - tok), p = (int)(d2 - d1 - 1);

    snprintf(buf, sizeof buf, "%s.", tok); /* 3 dots, empty fourth part */
    assert_int_equal(verify(buf, strlen(buf), "at+jwt"), JWT_MALFORMED);
    snprintf(buf, sizeof buf, "%s.%s", tok, d2 + 1); /* 4 parts */
    assert_int_equal(verify(buf, strlen(buf), "at+jwt"), JWT_MALFORMED);
    snprintf(buf, sizeof buf, "%s..", tok); /* 4 dots */
    assert_int_equal(verify(buf, strlen(buf), "at+jwt"), JWT_MALFORMED);
    snprintf(buf, sizeof buf, ".%s", tok);
    assert_int_equal(verify(buf, strlen(buf), "at+jwt"), JWT_MALFORMED);
    snprintf(buf, sizeof buf, "%.*s.%s", h, tok, d2); /* no payload: "h..s" */
    assert_int_equal(verify(buf, strlen(buf), "at+jwt"), JWT_MALFORMED);
    snprintf(buf, sizeof buf, "%s", d1); /* no header: ".p.s" */
    assert_int_equal(verify(buf, strlen(buf), "at+jwt"), JWT_MALFORMED);
    snprintf(buf, sizeof buf, "%.*s%.*s", h, tok, p + 1, d1); /* one dot */
    assert_int_equal(verify(buf, strlen(buf), "at+jwt"), JWT_MALFORMED);

    const char *junk[] = {"", ".", "..", "...", "a.b", "a.b.c.d", "a..c"};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++)
        assert_int_equal(verify(junk[i], strlen(junk[i]), "at+jwt"), JWT_MALFORMED);
    assert_int_equal(verify(NULL, 10, "at+jwt"), JWT_MALFORMED);
}

static void test_oversized(void **state)
{
    (void)state;
    static char big[4 * JWT_MAX_TOKEN], tok[4 * JWT_MAX_TOKEN];
    char out[JWT_MAX_TOKEN + 1];

    /* A correctly signed token over the limit. */
    size_t plen = 1600;
    memset(big, 'a', plen);
    big[0] = '"';
    big[plen - 1] = '"';
    big[plen] = '\0';
    size_t n = forge(tok, sizeof tok, HDR_HS, big, HS);
    assert_true(n > JWT_MAX_TOKEN);
    assert_int_equal(verify(tok, n, "at+jwt"), JWT_MALFORMED);

    /* Within the token limit but the payload is over JWT_MAX_PAYLOAD. */
    big[1100] = '"';
    big[1101] = '\0';
    n = forge(tok, sizeof tok, HDR_HS, big, HS);
    assert_true(n <= JWT_MAX_TOKEN);
    assert_int_equal(verify(tok, n, "at+jwt"), JWT_MALFORMED);

    /* jwt_sign refuses what verify would refuse, and accepts the boundary. */
    static char claims[JWT_MAX_PAYLOAD + 1];
    size_t got = 0;
    assert_int_equal(jwt_sign(HS, "at+jwt", big, 1101, out, sizeof out), -1);
    assert_string_equal(out, "");
    assert_int_equal(jwt_sign(HS, "at+jwt", big, JWT_MAX_PAYLOAD + 1, out, sizeof out), -1);
    int m = jwt_sign(HS, "at+jwt", big, JWT_MAX_PAYLOAD, out, sizeof out);
    assert_true(m > 0);
    assert_int_equal(jwt_verify(&g_kr, out, (size_t)m, "at+jwt", claims, sizeof claims, &got),
                     JWT_OK);
    assert_int_equal(got, JWT_MAX_PAYLOAD);

    /* A long run of garbage. */
    memset(big, 'A', JWT_MAX_TOKEN + 1);
    big[10] = '.';
    big[20] = '.';
    assert_int_equal(verify(big, JWT_MAX_TOKEN + 1, "at+jwt"), JWT_MALFORMED);
}

static void test_payload_buffer_bounds(void **state)
{
    (void)state;
    char tok[TOK_MAX], payload[64];
    size_t plen = 99, len = strlen(PAYLOAD);
    int n = jwt_sign(HS, "at+jwt", PAYLOAD, len, tok, sizeof tok);
    assert_true(n > 0);

    memset(payload, '#', sizeof payload);
    assert_int_equal(jwt_verify(&g_kr, tok, (size_t)n, "at+jwt", payload, len, &plen), JWT_OK);
    assert_int_equal(plen, len);
    assert_memory_equal(payload, PAYLOAD, len);
    assert_int_equal(payload[len], '#'); /* no NUL without room */

    assert_int_equal(jwt_verify(&g_kr, tok, (size_t)n, "at+jwt", payload, len - 1, &plen),
                     JWT_MALFORMED);
    assert_int_equal(plen, 0);
    assert_int_equal(jwt_verify(&g_kr, tok, (size_t)n, "at+jwt", payload, 0, &plen),
                     JWT_MALFORMED);
    /* A bad signature leaves no decoded claims behind. */
    tok[n - 2] = tok[n - 2] == 'A' ? 'B' : 'A';
    memset(payload, '#', sizeof payload);
    assert_int_equal(jwt_verify(&g_kr, tok, (size_t)n, "at+jwt", payload, sizeof payload, &plen),
                     JWT_BAD_SIGNATURE);
    assert_null(memchr(payload, '"', sizeof payload));
}

static void test_invalid_base64url(void **state)
{
    (void)state;
    char tok[TOK_MAX];
    int n = jwt_sign(ES, "at+jwt", PAYLOAD, strlen(PAYLOAD), tok, sizeof tok);
    assert_true(n > 0);
    int d1 = (int)(strchr(tok, '.') - tok), d2 = (int)(strrchr(tok, '.') - tok);
    const int where[] = {3, d1 + 3, d2 + 3};
    const char bad[] = {'+', '/', '=', ' ', '\n', '\0', '"', '\\', '*', (char)0xc3};

    for (size_t w = 0; w < 3; w++) {
        for (size_t b = 0; b < sizeof bad; b++) {
            char orig = tok[where[w]];
            tok[where[w]] = bad[b];
            if (verify(tok, (size_t)n, "at+jwt") != JWT_MALFORMED)
                fail_msg("part %zu with byte 0x%02x not MALFORMED", w, (unsigned char)bad[b]);
            tok[where[w]] = orig;
        }
    }
    assert_int_equal(verify(tok, (size_t)n, "at+jwt"), JWT_OK);
}

/* '=' padding, correctly signed over the padded text, is still refused. */
static void test_padding(void **state)
{
    (void)state;
    char tok[TOK_MAX], pad[TOK_MAX];
    uint8_t sig[64];
    /* A payload whose encoding ends in a partial group, where standard base64
     * would add "==". */
    static const char p28[] = "{\"sub\":\"42\",\"exp\":170000000}";
    assert_int_equal(strlen(p28) % 3, 1);

    size_t pos = forge_input(tok, sizeof tok, HDR_HS, strlen(HDR_HS), p28, strlen(p28));
    snprintf(pad, sizeof pad, "%.*s==", (int)pos, tok); /* payload padded */
    size_t plen = strlen(pad);
    size_t n = append_sig(pad, sizeof pad, plen, sig, sign_raw(HS, pad, plen, sig));
    assert_int_equal(verify(pad, n, "at+jwt"), JWT_MALFORMED);

    /* Header padded: HDR_HS also ends in a partial group. */
    assert_int_not_equal(strlen(HDR_HS) % 3, 0);
    int h = b64url_encode(HDR_HS, strlen(HDR_HS), pad, sizeof pad);
    assert_true(h > 0);
    snprintf(pad + h, sizeof pad - (size_t)h, "=%s", strchr(tok, '.'));
    plen = strlen(pad);
    n = append_sig(pad, sizeof pad, plen, sig, sign_raw(HS, pad, plen, sig));
    assert_int_equal(verify(pad, n, "at+jwt"), JWT_MALFORMED);

    /* Signature padded: "…=" after the 43 characters of an HS256 MAC. */
    n = append_sig(tok, sizeof tok, pos, sig, sign_raw(HS, tok, pos, sig));
    assert_int_equal(verify(tok, n, "at+jwt"), JWT_OK);
    tok[n] = '=';
    tok[n + 1] = '\0';
    assert_int_not_equal(verify(tok, n + 1, "at+jwt"), JWT_OK);
}

/* ---- keys that must never be used ---------------------------------------- */

static void test_empty_hs256_key_refused(void **state)
{
    (void)state;
    struct keyring kr = {calloc(1, sizeof(struct jwt_key)), 1, 0};
    assert_non_null(kr.keys);
    make_hs256(&kr.keys[0], "hs-1", 0, 0);
    char tok[TOK_MAX];
    uint8_t mac[32];

    assert_int_equal(jwt_sign(&kr.keys[0], "at+jwt", PAYLOAD, strlen(PAYLOAD), tok, sizeof tok),
                     -1);
    assert_int_equal(jwt_hs256(kr.keys[0].secret, 0, "x", 1, mac), -1);
    /* A token MACed with the empty key. */
    size_t pos = forge_input(tok, sizeof tok, HDR_HS, strlen(HDR_HS), PAYLOAD, strlen(PAYLOAD));
    assert_int_equal(mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256),
                                     kr.keys[0].secret, 0, (unsigned char *)tok, pos, mac),
                     0);
    size_t n = append_sig(tok, sizeof tok, pos, mac, sizeof mac);
    assert_int_equal(verify_kr(&kr, tok, n, "at+jwt"), JWT_UNKNOWN_KID);
    keyring_free(&kr);
    assert_null(kr.keys);
    assert_int_equal(kr.count, 0);
}

static void test_empty_es256_key_refused(void **state)
{
    (void)state;
    struct keyring kr = {calloc(1, sizeof(struct jwt_key)), 1, 0};
    assert_non_null(kr.keys);
    mbedtls_pk_init(&kr.keys[0].pk);
    kr.keys[0].alg = JWT_ES256;
    snprintf(kr.keys[0].kid, sizeof kr.keys[0].kid, "es-1");
    char tok[TOK_MAX];
    uint8_t sig[64];

    assert_int_equal(jwt_sign(&kr.keys[0], "at+jwt", PAYLOAD, strlen(PAYLOAD), tok, sizeof tok),
                     -1);
    assert_int_not_equal(jwt_es256_sign(&kr.keys[0].pk, "x", 1, sig), 0);
    /* A genuine token from the real key: the empty one must not accept it. */
    int n = jwt_sign(ES, "at+jwt", PAYLOAD, strlen(PAYLOAD), tok, sizeof tok);
    assert_true(n > 0);
    assert_int_equal(verify_kr(&kr, tok, (size_t)n, "at+jwt"), JWT_UNKNOWN_KID);
    keyring_free(&kr);
}

static void test_sign_argument_checks(void **state)
{
    (void)state;
    char tok[TOK_MAX];
    assert_int_equal(jwt_sign(NULL, "at+jwt", PAYLOAD, strlen(PAYLOAD), tok, sizeof tok), -1);
    assert_int_equal(jwt_sign(ES, NULL, PAYLOAD, strlen(PAYLOAD), tok, sizeof tok), -1);
    assert_int_equal(jwt_sign(ES, "a\"b", PAYLOAD, strlen(PAYLOAD), tok, sizeof tok), -1);
    assert_int_equal(jwt_sign(ES, "", PAYLOAD, strlen(PAYLOAD), tok, sizeof tok), -1);
    assert_int_equal(jwt_sign(ES, "at+jwt", PAYLOAD, 0, tok, sizeof tok), -1);
    /* Output one byte short, then exactly right. */
    int n = jwt_sign(ES, "at+jwt", PAYLOAD, strlen(PAYLOAD), tok, sizeof tok);
    assert_true(n > 0);
    assert_int_equal(jwt_sign(ES, "at+jwt", PAYLOAD, strlen(PAYLOAD), tok, (size_t)n), -1);
    assert_string_equal(tok, "");
    assert_int_equal(jwt_sign(ES, "at+jwt", PAYLOAD, strlen(PAYLOAD), tok, (size_t)n + 1), n);
    /* A kid that would need escaping is refused. */
    struct jwt_key k;
    make_hs256(&k, "a\"b", 1, 32);
    assert_int_equal(jwt_sign(&k, "at+jwt", PAYLOAD, strlen(PAYLOAD), tok, sizeof tok), -1);
}

/* ---- threads -------------------------------------------------------------- */

static atomic_int thread_failures;

static void *sign_verify_loop(void *arg)
{
    const struct jwt_key *key = arg;
    char tok[TOK_MAX], payload[JWT_MAX_PAYLOAD + 1];
    for (int i = 0; i < 20; i++) {
        char claims[64];
        size_t plen = 0;
        int cl = snprintf(claims, sizeof claims, "{\"i\":%d}", i);
        int n = jwt_sign(key, "at+jwt", claims, (size_t)cl, tok, sizeof tok);
        if (n <= 0 || jwt_verify(&g_kr, tok, (size_t)n, "at+jwt", payload, sizeof payload,
                                 &plen) != JWT_OK ||
            plen != (size_t)cl || memcmp(payload, claims, plen) != 0)
            atomic_fetch_add(&thread_failures, 1);
    }
    return NULL;
}

static void test_concurrent_sign_verify(void **state)
{
    (void)state;
    pthread_t t[6];
    atomic_store(&thread_failures, 0);
    for (int i = 0; i < 6; i++)
        assert_int_equal(pthread_create(&t[i], NULL, sign_verify_loop, i % 2 ? (void *)HS : (void *)ES),
                         0);
    for (int i = 0; i < 6; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(atomic_load(&thread_failures), 0);
}

/* ---- rng ------------------------------------------------------------------ */

static void test_rng(void **state)
{
    (void)state;
    uint8_t a[32], b[32], big[5000];
    char t1[64], t2[64];

    assert_int_equal(rng_init(), 0); /* idempotent */
    assert_int_equal(rng_bytes(a, sizeof a), 0);
    assert_int_equal(rng_bytes(b, sizeof b), 0);
    assert_memory_not_equal(a, b, sizeof a);
    memset(big, 0, sizeof big);
    assert_int_equal(rng_bytes(big, sizeof big), 0); /* more than one DRBG request */
    size_t zeros = 0;
    for (size_t i = 4000; i < sizeof big; i++)
        zeros += big[i] == 0;
    assert_true(zeros < 100); /* ~4 expected; the tail must have been filled */

    assert_int_equal(rng_token(16, t1, sizeof t1), 22);
    assert_int_equal(rng_token(16, t2, sizeof t2), 22);
    assert_string_not_equal(t1, t2);
    assert_int_equal(strspn(t1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
                     22);
    assert_int_equal(rng_token(16, t1, 22), -1);
    assert_string_equal(t1, "");
    assert_int_equal(rng_token(0, t1, sizeof t1), -1);
    assert_int_equal(rng_token(65, t1, sizeof t1), -1);
    assert_int_equal(rng_token(32, t1, sizeof t1), 43);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc7515_a1_hs256),
        cmocka_unit_test(test_rfc7515_a3_es256),
        cmocka_unit_test(test_round_trip_es256),
        cmocka_unit_test(test_round_trip_hs256),
        cmocka_unit_test(test_es256_deterministic),
        cmocka_unit_test(test_keyring_lookup),
        cmocka_unit_test(test_alg_none),
        cmocka_unit_test(test_other_algs_refused),
        cmocka_unit_test(test_alg_swap_hs256_on_es256_key),
        cmocka_unit_test(test_alg_swap_es256_on_hs256_key),
        cmocka_unit_test(test_unknown_kid),
        cmocka_unit_test(test_wrong_typ),
        cmocka_unit_test(test_header_shape_accepted),
        cmocka_unit_test(test_header_shape_refused),
        cmocka_unit_test(test_es256_signature_length),
        cmocka_unit_test(test_hs256_signature_length),
        cmocka_unit_test(test_es256_scalar_range),
        cmocka_unit_test(test_tampered),
        cmocka_unit_test(test_every_single_character_change_fails),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_dots_and_empty_parts),
        cmocka_unit_test(test_oversized),
        cmocka_unit_test(test_payload_buffer_bounds),
        cmocka_unit_test(test_invalid_base64url),
        cmocka_unit_test(test_padding),
        cmocka_unit_test(test_empty_hs256_key_refused),
        cmocka_unit_test(test_empty_es256_key_refused),
        cmocka_unit_test(test_sign_argument_checks),
        cmocka_unit_test(test_concurrent_sign_verify),
        cmocka_unit_test(test_rng),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
