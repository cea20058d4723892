/* test_external_token.c — the check of a trusted issuer's JWT
 * (external_token.c) and the --trust-issuer spec (trust_config.c): every way
 * a token can be wrong is refused with its own status, and only ES256 with an
 * EC key and RS256 with an RSA key ever verify. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "external_token.h"
#include "ext_keys.h"
#include "jwks_parse.h"
#include "trust_config.h"

#define NOW 1800000000LL
#define LEEWAY 30

static mbedtls_pk_context ec, rsa, other_ec;
static struct ext_keyset *ks; /* "ec-1" (alg ES256), "rsa-1" (no alg) */
static const struct ext_key *ec_key, *rsa_key;
static struct trust_issuer iss;

static int group_setup(void **state)
{
    (void)state;
    char ej[512], rj[2048], set[3000], err[160];
    if (rng_init() || tk_gen_ec(&ec) || tk_gen_rsa(&rsa, 2048) || tk_gen_ec(&other_ec))
        return -1;
    tk_jwk(&ec, "ec-1", ",\"alg\":\"ES256\"", ej, sizeof ej);
    tk_jwk(&rsa, "rsa-1", "", rj, sizeof rj);
    int n = snprintf(set, sizeof set, "{\"keys\":[%s,%s]}", ej, rj);
    if (jwks_parse(set, (size_t)n, &ks, NULL, err, sizeof err))
        return -1;
    ec_key = jwks_find(ks, "ec-1");
    rsa_key = jwks_find(ks, "rsa-1");
    return trust_issuer_parse("https://idp.example jwks=https://idp.example/jwks aud=qrlogin",
                              &iss, err, sizeof err);
}

static int group_teardown(void **state)
{
    (void)state;
    jwks_keyset_unref(ks);
    mbedtls_pk_free(&ec);
    mbedtls_pk_free(&rsa);
    mbedtls_pk_free(&other_ec);
    rng_free();
    return 0;
}

static char tok[EXT_TOKEN_MAX + 1];

static const char *claims(const char *extra)
{
    static char buf[1024];
    snprintf(buf, sizeof buf,
             "{\"iss\":\"https://idp.example\",\"sub\":\"u-77\",\"aud\":\"qrlogin\","
             "\"iat\":%lld,\"exp\":%lld%s}",
             NOW - 10, NOW + 300, extra);
    return buf;
}

/* Signs payload with alg by pk (or secret for HS256), header kid. */
static size_t make(const char *alg, const char *kid, const mbedtls_pk_context *pk,
                   const char *payload)
{
    char header[128];
    snprintf(header, sizeof header, "{\"alg\":\"%s\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}", alg, kid);
    static const uint8_t secret[] = "not-a-secret-but-a-public-key";
    int n = tk_sign(header, payload, alg, pk, secret, sizeof secret - 1, tok, sizeof tok);
    assert_true(n > 0);
    return (size_t)n;
}

static enum ext_status check(const struct ext_key *key, size_t n, struct ext_claims *c)
{
    return external_token_verify(&iss, key, tok, n, NOW, LEEWAY, c);
}

static void test_es256_and_rs256_verify(void **state)
{
    (void)state;
    struct ext_claims c;
    size_t n = make("ES256", "ec-1", &ec, claims(",\"name\":\"Alice\""));
    assert_int_equal(check(ec_key, n, &c), EXT_OK);
    assert_string_equal(c.subject, "u-77");
    assert_string_equal(c.name, "Alice");
    assert_int_equal(c.exp, NOW + 300);
    n = make("RS256", "rsa-1", &rsa, claims(",\"preferred_username\":\"al\""));
    assert_int_equal(check(rsa_key, n, &c), EXT_OK);
    assert_string_equal(c.name, "al"); /* name missing: preferred_username */
    n = make("RS256", "rsa-1", &rsa, claims(""));
    assert_int_equal(check(rsa_key, n, &c), EXT_OK);
    assert_string_equal(c.name, "");

    struct ext_token_head h;
    assert_int_equal(external_token_peek(tok, n, &h), EXT_OK);
    assert_int_equal(h.alg, TRUST_ALG_RS256);
    assert_string_equal(h.kid, "rsa-1");
    assert_string_equal(h.iss, "https://idp.example");
}

static void test_algorithms_refused(void **state)
{
    (void)state;
    struct ext_claims c;
    /* alg none: no signature at all. */
    size_t n = make("none", "ec-1", NULL, claims(""));
    assert_int_equal(check(ec_key, n, &c), EXT_MALFORMED);
    struct ext_token_head h;
    assert_int_equal(external_token_peek(tok, n, &h), EXT_MALFORMED);
    /* none with a signature part, so it parses: the alg is refused. */
    n = make("none", "ec-1", NULL, claims(""));
    memcpy(tok + n, "AAAA", 5);
    assert_int_equal(check(ec_key, n + 4, &c), EXT_BAD_ALG);
    /* HS256 keyed with anything (the attacker's "public key") never verifies. */
    n = make("HS256", "rsa-1", NULL, claims(""));
    assert_int_equal(check(rsa_key, n, &c), EXT_BAD_ALG);
    /* ES256 header on the RSA key, RS256 on the EC key: the key's type decides. */
    n = make("ES256", "rsa-1", &ec, claims(""));
    assert_int_equal(check(rsa_key, n, &c), EXT_BAD_ALG);
    n = make("RS256", "ec-1", &rsa, claims(""));
    assert_int_equal(check(ec_key, n, &c), EXT_BAD_ALG);
    /* RS384, EdDSA: not ours. */
    n = make("EdDSA", "ec-1", NULL, claims(""));
    memcpy(tok + n, "AAAA", 5);
    assert_int_equal(check(ec_key, n + 4, &c), EXT_BAD_ALG);
    /* An issuer that allows only ES256 refuses RS256 even with a good signature. */
    struct trust_issuer es_only = iss;
    es_only.algs = TRUST_ALG_ES256;
    n = make("RS256", "rsa-1", &rsa, claims(""));
    assert_int_equal(external_token_verify(&es_only, rsa_key, tok, n, NOW, LEEWAY, &c),
                     EXT_BAD_ALG);
    /* The header's kid must be the key's. */
    n = make("ES256", "ec-2", &ec, claims(""));
    assert_int_equal(check(ec_key, n, &c), EXT_BAD_ALG);
}

static void test_signatures_refused(void **state)
{
    (void)state;
    struct ext_claims c;
    size_t n = make("ES256", "ec-1", &other_ec, claims("")); /* another key */
    assert_int_equal(check(ec_key, n, &c), EXT_BAD_SIGNATURE);
    n = make("RS256", "rsa-1", &rsa, claims(""));
    tok[n - 5] = tok[n - 5] == 'A' ? 'B' : 'A';
    assert_int_equal(check(rsa_key, n, &c), EXT_BAD_SIGNATURE);
    /* A signature cut short (a whole number of bytes, so it still decodes). */
    n = make("RS256", "rsa-1", &rsa, claims(""));
    assert_int_equal(check(rsa_key, n - 2, &c), EXT_BAD_SIGNATURE); /* 255 bytes */
    n = make("RS256", "rsa-1", &rsa, claims(""));
    assert_int_not_equal(check(rsa_key, n - 1, &c), EXT_OK);
    /* Claims changed under a good signature. */
    n = make("ES256", "ec-1", &ec, claims(""));
    char *dot = strchr(tok, '.');
    dot[3] = dot[3] == 'A' ? 'B' : 'A';
    assert_int_not_equal(check(ec_key, n, &c), EXT_OK);
}

static void test_claims_refused(void **state)
{
    (void)state;
    struct ext_claims c;
    char p[512];
    struct {
        const char *payload;
        enum ext_status want;
    } cases[] = {
        {"{\"iss\":\"https://idp.example.evil\",\"sub\":\"u\",\"aud\":\"qrlogin\",\"exp\":1800000300}",
         EXT_BAD_ISSUER},
        {"{\"iss\":\"https://idp.example\",\"sub\":\"u\",\"aud\":\"other\",\"exp\":1800000300}",
         EXT_BAD_AUDIENCE},
        {"{\"iss\":\"https://idp.example\",\"sub\":\"u\",\"aud\":[\"a\",\"b\"],\"exp\":1800000300}",
         EXT_BAD_AUDIENCE},
        {"{\"iss\":\"https://idp.example\",\"sub\":\"u\",\"exp\":1800000300}", EXT_BAD_AUDIENCE},
        {"{\"iss\":\"https://idp.example\",\"sub\":\"u\",\"aud\":\"qrlogin\"}", EXT_BAD_CLAIMS},
        {"{\"iss\":\"https://idp.example\",\"sub\":\"u\",\"aud\":\"qrlogin\",\"exp\":1799999969}",
         EXT_EXPIRED},
        {"{\"iss\":\"https://idp.example\",\"sub\":\"u\",\"aud\":\"qrlogin\",\"exp\":1800000300,"
         "\"nbf\":1800000031}",
         EXT_NOT_YET_VALID},
        {"{\"iss\":\"https://idp.example\",\"sub\":\"u\",\"aud\":\"qrlogin\",\"exp\":1800000300,"
         "\"iat\":1800000031}",
         EXT_NOT_YET_VALID},
        {"{\"iss\":\"https://idp.example\",\"aud\":\"qrlogin\",\"exp\":1800000300}", EXT_BAD_CLAIMS},
        {"{\"iss\":\"https://idp.example\",\"sub\":\"\",\"aud\":\"qrlogin\",\"exp\":1800000300}",
         EXT_BAD_CLAIMS},
        {"{\"iss\":\"https://idp.example\",\"sub\":7,\"aud\":\"qrlogin\",\"exp\":1800000300}",
         EXT_BAD_CLAIMS},
        {"{\"iss\":\"https://idp.example\",\"sub\":\"u\",\"aud\":\"qrlogin\",\"exp\":\"soon\"}",
         EXT_BAD_CLAIMS},
        /* within leeway on both ends: accepted */
        {"{\"iss\":\"https://idp.example\",\"sub\":\"u\",\"aud\":[\"x\",\"qrlogin\"],"
         "\"exp\":1799999970,\"nbf\":1800000030,\"iat\":1800000030}",
         EXT_OK},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(p, sizeof p, "%s", cases[i].payload);
        size_t n = make("ES256", "ec-1", &ec, p);
        enum ext_status st = check(ec_key, n, &c);
        if (st != cases[i].want)
            fail_msg("case %zu: %s, want %s", i, external_status_name(st),
                     external_status_name(cases[i].want));
    }
}

static void test_subject_and_name_claims(void **state)
{
    (void)state;
    struct ext_claims c;
    struct trust_issuer t = iss;
    strcpy(t.sub_claim, "oid");
    strcpy(t.name_claim, "display");
    size_t n = make("ES256", "ec-1", &ec, claims(",\"oid\":\"0a-1\",\"display\":\"Bo\",\"name\":\"N\""));
    assert_int_equal(external_token_verify(&t, ec_key, tok, n, NOW, LEEWAY, &c), EXT_OK);
    assert_string_equal(c.subject, "0a-1");
    assert_string_equal(c.name, "Bo");
    /* A long name is cut at a character boundary, within 64 bytes. */
    char p[512], name[200] = "";
    for (int i = 0; i < 40; i++)
        strcat(name, "\xc3\xa9"); /* é: 80 bytes */
    snprintf(p, sizeof p, ",\"name\":\"%s\"", name);
    n = make("ES256", "ec-1", &ec, claims(p));
    assert_int_equal(check(ec_key, n, &c), EXT_OK);
    assert_int_equal(strlen(c.name), 64);
}

static void test_malformed(void **state)
{
    (void)state;
    struct ext_token_head h;
    struct ext_claims c;
    static const char *const bad[] = {
        "", "a", "a.b", "a.b.c.d", "..", "e30.e30.", "!!!.e30.AAAA", "e30.e30.AAAA",
        "eyJhbGciOiJFUzI1NiJ9.bm90IGpzb24.AAAA", /* payload not JSON */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(external_token_peek(bad[i], strlen(bad[i]), &h), EXT_MALFORMED);
        assert_int_not_equal(external_token_verify(&iss, ec_key, bad[i], strlen(bad[i]), NOW,
                                                   LEEWAY, &c),
                             EXT_OK);
    }
    /* crit in the header: an extension we would have to understand. */
    static const uint8_t none[1];
    int n = tk_sign("{\"alg\":\"ES256\",\"kid\":\"ec-1\",\"crit\":[\"x\"],\"x\":1}", claims(""),
                    "ES256", &ec, none, 0, tok, sizeof tok);
    assert_int_equal(external_token_verify(&iss, ec_key, tok, (size_t)n, NOW, LEEWAY, &c),
                     EXT_MALFORMED);
    /* Too long. */
    char *big = malloc(EXT_TOKEN_MAX + 2);
    memset(big, 'a', EXT_TOKEN_MAX + 1);
    big[10] = big[20] = '.';
    assert_int_equal(external_token_peek(big, EXT_TOKEN_MAX + 1, &h), EXT_MALFORMED);
    free(big);
}

static void test_trust_spec(void **state)
{
    (void)state;
    struct trust_issuer t;
    char err[200];
    assert_int_equal(trust_issuer_parse("https://a.example/tenant  jwks=file:/etc/jwks.json "
                                        "aud=api://x alg=ES256 sub=oid name=given_name",
                                        &t, err, sizeof err),
                     0);
    assert_string_equal(t.issuer, "https://a.example/tenant");
    assert_string_equal(t.jwks, "file:/etc/jwks.json");
    assert_true(trust_jwks_is_file(&t));
    assert_string_equal(t.audience, "api://x");
    assert_int_equal(t.algs, TRUST_ALG_ES256);
    assert_string_equal(t.sub_claim, "oid");
    assert_string_equal(t.name_claim, "given_name");
    assert_int_equal(trust_issuer_parse("i jwks=http://h/j aud=a", &t, err, sizeof err), 0);
    assert_int_equal(t.algs, TRUST_ALG_ES256 | TRUST_ALG_RS256);
    assert_string_equal(t.sub_claim, "sub");
    assert_string_equal(t.name_claim, "name");
    static const char *const bad[] = {
        "",
        "i",
        "i aud=a",
        "i jwks=http://h/j",
        "i jwks=ftp://h/j aud=a",
        "i jwks=http:///j aud=a",
        "i jwks=http://h/j aud=a alg=none",
        "i jwks=http://h/j aud=a alg=HS256",
        "i jwks=http://h/j aud=a alg=EdDSA",
        "i jwks=http://h/j aud=a alg=es256",
        "i jwks=http://h/j aud=a alg=",
        "i jwks=http://h/j aud=a color=red",
        "i jwks=http://h/j aud=a sub",
        "i jwks=http://h/j aud=\"a\"",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        if (!trust_issuer_parse(bad[i], &t, err, sizeof err))
            fail_msg("accepted: %s", bad[i]);
        assert_true(err[0]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_es256_and_rs256_verify),
        cmocka_unit_test(test_algorithms_refused),
        cmocka_unit_test(test_signatures_refused),
        cmocka_unit_test(test_claims_refused),
        cmocka_unit_test(test_subject_and_name_claims),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_trust_spec),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
