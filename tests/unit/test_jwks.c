/* test_jwks.c — the JWK Set parser (jwks_parse.c): the keys an identity
 * provider publishes become verification keys, and everything we cannot use
 * safely is skipped or refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ext_keys.h"
#include "jwks_fetch.h"
#include "jwks_parse.h"
#include "trust_config.h"

static mbedtls_pk_context ec, rsa, rsa_small;
static char ec_jwk[512], rsa_jwk[2048];

static int group_setup(void **state)
{
    (void)state;
    if (rng_init() || tk_gen_ec(&ec) || tk_gen_rsa(&rsa, 2048) || tk_gen_rsa(&rsa_small, 1024))
        return -1;
    tk_jwk(&ec, "ec-1", ",\"alg\":\"ES256\",\"use\":\"sig\"", ec_jwk, sizeof ec_jwk);
    tk_jwk(&rsa, "rsa-1", ",\"alg\":\"RS256\"", rsa_jwk, sizeof rsa_jwk);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    mbedtls_pk_free(&ec);
    mbedtls_pk_free(&rsa);
    mbedtls_pk_free(&rsa_small);
    rng_free();
    return 0;
}

/* Parses {"keys":[a,b,…]} built from the given key texts. */
static int parse_keys(const char *const *keys, int n, struct ext_keyset **ks, int *skipped)
{
    static char buf[JWKS_MAX_BYTES + 1024];
    size_t len = (size_t)snprintf(buf, sizeof buf, "{\"keys\":[");
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", i ? "," : "", keys[i]);
    len += (size_t)snprintf(buf + len, sizeof buf - len, "]}");
    char err[160];
    return jwks_parse(buf, len, ks, skipped, err, sizeof err);
}

static void test_ec_and_rsa_keys(void **state)
{
    (void)state;
    struct ext_keyset *ks;
    int skipped = -1;
    const char *keys[] = {ec_jwk, rsa_jwk};
    assert_int_equal(parse_keys(keys, 2, &ks, &skipped), 0);
    assert_int_equal(skipped, 0);
    assert_int_equal(ks->count, 2);
    const struct ext_key *e = jwks_find(ks, "ec-1"), *r = jwks_find(ks, "rsa-1");
    assert_non_null(e);
    assert_non_null(r);
    assert_int_equal(e->kty, EXT_KTY_EC);
    assert_int_equal(e->alg, TRUST_ALG_ES256);
    assert_int_equal(r->kty, EXT_KTY_RSA);
    assert_int_equal(mbedtls_rsa_get_len(mbedtls_pk_rsa(r->pk)), 256);
    assert_null(jwks_find(ks, "nope"));
    jwks_keyset_warm(ks); /* must not disturb the keys */
    assert_int_equal(mbedtls_ecp_check_pubkey(&mbedtls_pk_ec(e->pk)->grp,
                                              &mbedtls_pk_ec(e->pk)->Q), 0);
    jwks_keyset_ref(ks);
    jwks_keyset_unref(ks);
    jwks_keyset_unref(ks);
}

/* Each of these is skipped; a good key next to it survives. */
static void test_unusable_keys_are_skipped(void **state)
{
    (void)state;
    char small[1024], priv[700], no_kid[512], enc[600], wrong_alg[600], hs_alg[600], bad_crv[600],
        off_curve[600], oct[128], long_kid[700], dup[600], rsa_as_es[2100];
    tk_jwk(&rsa_small, "small", "", small, sizeof small);
    tk_jwk(&ec, "priv", ",\"d\":\"AAAA\"", priv, sizeof priv);
    tk_jwk(&ec, "", "", no_kid, sizeof no_kid);
    tk_jwk(&ec, "enc", ",\"use\":\"enc\"", enc, sizeof enc);
    tk_jwk(&ec, "es384", ",\"alg\":\"ES384\"", wrong_alg, sizeof wrong_alg);
    tk_jwk(&ec, "hs", ",\"alg\":\"HS256\"", hs_alg, sizeof hs_alg);
    tk_jwk(&rsa, "rsa-as-es", ",\"alg\":\"ES256\"", rsa_as_es, sizeof rsa_as_es);
    tk_jwk(&ec, "ec-1", "", dup, sizeof dup); /* same kid as ec_jwk, which comes first */
    snprintf(bad_crv, sizeof bad_crv, "%s", ec_jwk);
    memcpy(strstr(bad_crv, "P-256"), "P-384", 5);
    strcpy(strstr(bad_crv, "\"kid\":\"ec-1\""), "\"kid\":\"crv\"}");
    snprintf(off_curve, sizeof off_curve, "%s", ec_jwk);
    char *y = strstr(off_curve, "\"y\":\"") + 5;
    y[0] = y[0] == 'A' ? 'B' : 'A'; /* another y: not on the curve */
    strcpy(strstr(off_curve, "\"kid\":\"ec-1\""), "\"kid\":\"off\"}");
    snprintf(oct, sizeof oct, "{\"kty\":\"oct\",\"k\":\"c2VjcmV0\",\"kid\":\"oct\"}");
    char kid70[71];
    memset(kid70, 'k', 70);
    kid70[70] = '\0';
    tk_jwk(&ec, kid70, "", long_kid, sizeof long_kid);
    const char *keys[] = {ec_jwk,  small,   priv,      no_kid, enc,      wrong_alg, hs_alg,
                          bad_crv, oct,     long_kid,  dup,    rsa_as_es, off_curve, "17",
                          "{\"kid\":\"x\"}"};
    int n = (int)(sizeof keys / sizeof keys[0]);
    struct ext_keyset *ks;
    int skipped = 0;
    assert_int_equal(parse_keys(keys, n, &ks, &skipped), 0);
    assert_int_equal(ks->count, 1);
    assert_int_equal(skipped, n - 1);
    assert_non_null(jwks_find(ks, "ec-1"));
    jwks_keyset_unref(ks);
}

static void test_refused_sets(void **state)
{
    (void)state;
    struct ext_keyset *ks = (void *)1;
    char err[160];
    static const char *const bad[] = {
        "", "[]", "{}", "{\"keys\":{}}", "{\"keys\":[]}", "{\"keys\":[1,2]}", "not json",
        "{\"keys\":[],\"keys\":[]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(jwks_parse(bad[i], strlen(bad[i]), &ks, NULL, err, sizeof err), -1);
        assert_null(ks);
        assert_true(err[0]);
    }
    /* Over the size cap, even with a good key inside. */
    size_t big = JWKS_MAX_BYTES + 10;
    char *buf = malloc(big + 1);
    assert_non_null(buf);
    int n = snprintf(buf, big, "{\"keys\":[%s],\"pad\":\"", ec_jwk);
    memset(buf + n, 'x', big - (size_t)n - 2);
    memcpy(buf + big - 2, "\"}", 2);
    buf[big] = '\0';
    assert_int_equal(jwks_parse(buf, big, &ks, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "64 KiB"));
    free(buf);
}

/* Outer members besides "keys" (x5c chains, other providers' extras) are
 * walked over, whatever they hold. */
static void test_other_members_ignored(void **state)
{
    (void)state;
    char buf[4096];
    int n = snprintf(buf, sizeof buf,
                     "{\"other\":{\"a\":[1,{\"b\":[]}]},\"keys\":[%s],\"z\":[[[]]]}", ec_jwk);
    struct ext_keyset *ks;
    char err[160];
    assert_int_equal(jwks_parse(buf, (size_t)n, &ks, NULL, err, sizeof err), 0);
    assert_int_equal(ks->count, 1);
    jwks_keyset_unref(ks);
}

static void test_at_most_max_keys(void **state)
{
    (void)state;
    static char jwks[JWKS_MAX_KEYS + 5][600];
    const char *keys[JWKS_MAX_KEYS + 5];
    for (int i = 0; i < JWKS_MAX_KEYS + 5; i++) {
        char kid[16];
        snprintf(kid, sizeof kid, "k%d", i);
        tk_jwk(&ec, kid, "", jwks[i], sizeof jwks[i]);
        keys[i] = jwks[i];
    }
    struct ext_keyset *ks;
    int skipped;
    assert_int_equal(parse_keys(keys, JWKS_MAX_KEYS + 5, &ks, &skipped), 0);
    assert_int_equal(ks->count, JWKS_MAX_KEYS);
    assert_int_equal(skipped, 5);
    jwks_keyset_unref(ks);
}

/* Cache-Control as a JWKS endpoint sends it (the cache bounds the value). */
static void test_max_age(void **state)
{
    (void)state;
    assert_int_equal(jwks_fetch_max_age("max-age=300"), 300);
    assert_int_equal(jwks_fetch_max_age("public, max-age=86400, must-revalidate"), 86400);
    assert_int_equal(jwks_fetch_max_age("public,max-age=5"), 5);
    assert_int_equal(jwks_fetch_max_age("s-maxage=10, max-age=20"), 20);
    assert_int_equal(jwks_fetch_max_age("s-max-age=10"), -1);
    assert_int_equal(jwks_fetch_max_age("no-store"), -1);
    assert_int_equal(jwks_fetch_max_age("max-age="), -1);
    assert_int_equal(jwks_fetch_max_age("max-age=-3"), -1);
    assert_int_equal(jwks_fetch_max_age(""), -1);
    assert_true(jwks_fetch_max_age("max-age=99999999999999999999") > 86400); /* no overflow */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ec_and_rsa_keys),
        cmocka_unit_test(test_unusable_keys_are_skipped),
        cmocka_unit_test(test_refused_sets),
        cmocka_unit_test(test_other_members_ignored),
        cmocka_unit_test(test_at_most_max_keys),
        cmocka_unit_test(test_max_age),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
