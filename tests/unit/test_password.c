/* test_password.c — PBKDF2-HMAC-SHA256 hashes: a known-answer vector, the
 * round trip, strict parsing of the encoded form, salts, the dummy hash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <mbedtls/md.h>
#include <mbedtls/pkcs5.h>
#include <pthread.h>

#include "password.h"
#include "rng.h"

#define ITER 1000 /* the least the encoded form allows; keeps the tests fast */

/* Known answer, independent of this code: computed with Python's hashlib,
 *   hashlib.pbkdf2_hmac('sha256', b'password', b'saltSALTsaltSALT', 1000)
 *   = 46f895baaa185f0265c1da708d799953de592f576c4538b7eba99ced700ee75b
 * and encoded with base64.urlsafe_b64encode(...).rstrip(b'=') for salt and hash.
 * (RFC 6070 style inputs; its own vectors are SHA-1 and use a 4- or 36-byte
 * salt, which the encoded form's fixed 16-byte salt cannot carry.) */
static const char known_hash[] = "pbkdf2-sha256$1000$c2FsdFNBTFRzYWx0U0FMVA$"
                                 "RviVuqoYXwJlwdpwjXmZU95ZL1dsRTi366mc7XAO51s";

static int group_setup(void **state)
{
    (void)state;
    return rng_init();
}

static int group_teardown(void **state)
{
    (void)state;
    rng_free();
    return 0;
}

static int verify(const char *pw, const char *encoded)
{
    return password_verify(pw, pw ? strlen(pw) : 0, encoded);
}

/* The primitive the module is built on, with the parameters it uses
 * (mbedtls_md_setup(..., hmac = 1)): PBKDF2-HMAC-SHA256("password", "salt", 1),
 * first 32 bytes = 120fb6cf… (the widely published SHA-256 companion of the
 * RFC 6070 vectors; also docs/architecture.md, L8). */
static void test_pbkdf2_primitive_vector(void **state)
{
    (void)state;
    static const uint8_t want[32] = {0x12, 0x0f, 0xb6, 0xcf, 0xfc, 0xf8, 0xb3, 0x2c,
                                     0x43, 0xe7, 0x22, 0x52, 0x56, 0xc4, 0xf8, 0x37,
                                     0xa8, 0x65, 0x48, 0xc9, 0x2c, 0xcc, 0x35, 0x48,
                                     0x08, 0x05, 0x98, 0x7c, 0xb7, 0x0b, 0xe1, 0x7b};
    uint8_t out[32];
    mbedtls_md_context_t ctx;
    mbedtls_md_init(&ctx);
    assert_int_equal(mbedtls_md_setup(&ctx, mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), 1), 0);
    assert_int_equal(mbedtls_pkcs5_pbkdf2_hmac(&ctx, (const unsigned char *)"password", 8,
                                               (const unsigned char *)"salt", 4, 1, 32, out),
                     0);
    mbedtls_md_free(&ctx);
    assert_memory_equal(out, want, 32);
}

static void test_known_vector(void **state)
{
    (void)state;
    assert_int_equal(verify("password", known_hash), 1);
    assert_int_equal(verify("passwore", known_hash), 0);
    assert_int_equal(verify("Password", known_hash), 0);
    assert_int_equal(verify("password ", known_hash), 0);
    assert_int_equal(verify("", known_hash), 0);
    /* Length, not NUL, ends the password... */
    assert_int_equal(password_verify("passwordXYZ", 8, known_hash), 1);
    /* ...and a NUL byte is refused: HMAC zero-pads its key, so "password\0"
     * would otherwise derive exactly the hash of "password". */
    assert_int_equal(password_verify("password\0", 9, known_hash), 0);
    assert_int_equal(password_verify("password\0x", 10, known_hash), 0);

    /* The iteration count is part of the hash. */
    char other[sizeof known_hash + 1];
    snprintf(other, sizeof other, "pbkdf2-sha256$1001$%s", known_hash + strlen("pbkdf2-sha256$1000$"));
    assert_int_equal(verify("password", other), 0);
}

/* pbkdf2-sha256$<digits>$<22 b64url>$<43 b64url> */
static void assert_well_formed(const char *h, int iterations)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "pbkdf2-sha256$%d$", iterations);
    assert_int_equal(strncmp(h, prefix, strlen(prefix)), 0);
    const char *salt = h + strlen(prefix);
    const char *d = strchr(salt, '$');
    assert_non_null(d);
    assert_int_equal(d - salt, 22);
    assert_int_equal(strlen(d + 1), 43);
    for (const char *p = salt; *p; p++)
        if (p != d && !((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                        (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
            fail_msg("'%c' is not base64url", *p);
    assert_true(strlen(h) < PASSWORD_HASH_MAX);
}

static void test_round_trip(void **state)
{
    (void)state;
    char h[PASSWORD_HASH_MAX];
    assert_int_equal(password_hash("correct horse", 13, ITER, h, sizeof h), 0);
    assert_well_formed(h, ITER);
    assert_int_equal(verify("correct horse", h), 1);
    assert_int_equal(verify("correct hors", h), 0);
    assert_int_equal(verify("correct horse!", h), 0);
    assert_int_equal(verify("", h), 0);

    /* Boundary and non-ASCII passwords. */
    char big[PASSWORD_MAX_LEN];
    memset(big, 'x', sizeof big);
    big[100] = (char)0xc3;
    assert_int_equal(password_hash(big, sizeof big, ITER, h, sizeof h), 0);
    assert_int_equal(password_verify(big, sizeof big, h), 1);
    big[sizeof big - 1] = 'y';
    assert_int_equal(password_verify(big, sizeof big, h), 0);

    assert_int_equal(password_hash("", 0, 2345, h, sizeof h), 0);
    assert_well_formed(h, 2345);
    assert_int_equal(password_verify("", 0, h), 1);
    assert_int_equal(password_verify(NULL, 0, h), 1);
    assert_int_equal(verify("a", h), 0);
}

static void test_hash_rejects_bad_arguments(void **state)
{
    (void)state;
    char h[PASSWORD_HASH_MAX];
    assert_int_equal(password_hash("pw", 2, 999, h, sizeof h), -1);
    assert_int_equal(password_hash("pw", 2, 10000001, h, sizeof h), -1);
    assert_int_equal(password_hash("pw", 2, -5, h, sizeof h), -1);
    assert_int_equal(password_hash(NULL, 2, ITER, h, sizeof h), -1);
    assert_int_equal(password_hash("pw\0", 3, ITER, h, sizeof h), -1);
    assert_int_equal(password_hash("p\0w", 3, ITER, h, sizeof h), -1);
    static char too_long[PASSWORD_MAX_LEN + 1];
    assert_int_equal(password_hash(too_long, sizeof too_long, ITER, h, sizeof h), -1);
    /* The encoded form is 85 characters at 1000 iterations: it must fit. */
    assert_int_equal(password_hash("pw", 2, ITER, h, 85), -1);
    assert_string_equal(h, "");
    assert_int_equal(password_hash("pw", 2, ITER, h, 86), 0);
    assert_int_equal(strlen(h), 85);
    /* A password longer than any we hash never matches, and is not "malformed". */
    assert_int_equal(password_verify(too_long, sizeof too_long, known_hash), 0);
}

static void test_salts_differ(void **state)
{
    (void)state;
    char a[PASSWORD_HASH_MAX], b[PASSWORD_HASH_MAX];
    assert_int_equal(password_hash("same", 4, ITER, a, sizeof a), 0);
    assert_int_equal(password_hash("same", 4, ITER, b, sizeof b), 0);
    assert_string_not_equal(a, b);
    /* Both the salt part and the hash part differ. */
    const char *sa = a + strlen("pbkdf2-sha256$1000$"), *sb = b + strlen("pbkdf2-sha256$1000$");
    assert_int_not_equal(memcmp(sa, sb, 22), 0);
    assert_int_not_equal(memcmp(sa + 23, sb + 23, 43), 0);
    assert_int_equal(verify("same", a), 1);
    assert_int_equal(verify("same", b), 1);
}

static void test_malformed(void **state)
{
    (void)state;
    const char *salt = "c2FsdFNBTFRzYWx0U0FMVA";
    const char *hash = "RviVuqoYXwJlwdpwjXmZU95ZL1dsRTi366mc7XAO51s";
    char buf[512];
    static const char *const bad[] = {
        "",
        "pbkdf2-sha256$",
        "pbkdf2-sha1$1000$%s$%s",
        "PBKDF2-SHA256$1000$%s$%s",
        "pbkdf2_sha256$1000$%s$%s",
        "xpbkdf2-sha256$1000$%s$%s",
        "pbkdf2-sha256$999$%s$%s",       /* iterations below 1000 */
        "pbkdf2-sha256$10000001$%s$%s",  /* above 10000000 */
        "pbkdf2-sha256$99999999999$%s$%s",
        "pbkdf2-sha256$01000$%s$%s",     /* not canonical */
        "pbkdf2-sha256$+1000$%s$%s",
        "pbkdf2-sha256$-1000$%s$%s",
        "pbkdf2-sha256$$%s$%s",
        "pbkdf2-sha256$1000x$%s$%s",
        "pbkdf2-sha256$ 1000$%s$%s",
        "pbkdf2-sha256$1000$%s",         /* missing hash: args shift, see below */
        "pbkdf2-sha256$1000$%s$%s$",     /* trailing separator */
        "pbkdf2-sha256$1000$%s$%s$x",
        "pbkdf2-sha256$1000$%s$%s\n",
        "pbkdf2-sha256$1000$%s$%s=",     /* padding */
        "pbkdf2-sha256$1000$%s=$%s",
        "pbkdf2-sha256$1000$%.21s$%s",   /* salt 21 chars */
        "pbkdf2-sha256$1000$%sA$%s",     /* salt 23 chars */
        "pbkdf2-sha256$1000$%s$%.42s",   /* hash 42 chars */
        "pbkdf2-sha256$1000$%s$%sA",     /* hash 44 chars */
        "pbkdf2-sha256$1000$$%s%s",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(buf, sizeof buf, bad[i], salt, hash);
        if (password_verify("password", 8, buf) != -1)
            fail_msg("accepted malformed '%s'", buf);
    }
    assert_int_equal(password_verify("password", 8, NULL), -1);

    /* Characters outside base64url, in salt and in hash. */
    static const char swap[] = "+/=.~ \t\x80";
    for (size_t i = 0; i < sizeof swap - 1; i++) {
        snprintf(buf, sizeof buf, "pbkdf2-sha256$1000$%s$%s", salt, hash);
        buf[strlen("pbkdf2-sha256$1000$") + 3] = swap[i];
        assert_int_equal(password_verify("password", 8, buf), -1);
        snprintf(buf, sizeof buf, "pbkdf2-sha256$1000$%s$%s", salt, hash);
        buf[strlen(buf) - 5] = swap[i];
        assert_int_equal(password_verify("password", 8, buf), -1);
    }
    /* Non-canonical: the salt's last character carries 4 unused bits, which
     * must be zero ('A' -> 'B' sets one). */
    snprintf(buf, sizeof buf, "pbkdf2-sha256$1000$c2FsdFNBTFRzYWx0U0FMVB$%s", hash);
    assert_int_equal(password_verify("password", 8, buf), -1);

    /* Longer than any encoded hash can be, without a NUL in sight of the limit. */
    char longer[PASSWORD_HASH_MAX + 50];
    snprintf(longer, sizeof longer, "%s", known_hash);
    memset(longer + strlen(known_hash), 'A', sizeof longer - strlen(known_hash) - 1);
    longer[sizeof longer - 1] = '\0';
    assert_int_equal(password_verify("password", 8, longer), -1);

    /* The well-formed original still verifies: the cases above fail on form. */
    snprintf(buf, sizeof buf, "pbkdf2-sha256$1000$%s$%s", salt, hash);
    assert_int_equal(password_verify("password", 8, buf), 1);
}

static void *dummy_thread(void *arg)
{
    (void)arg;
    return (void *)password_dummy_hash(1003);
}

static void test_dummy_hash(void **state)
{
    (void)state;
    const char *d = password_dummy_hash(ITER);
    assert_non_null(d);
    assert_well_formed(d, ITER);
    assert_ptr_equal(password_dummy_hash(ITER), d); /* made once */
    static const char *const guesses[] = {"", "demo", "password", "dummy", "0000"};
    for (size_t i = 0; i < sizeof guesses / sizeof guesses[0]; i++)
        assert_int_equal(verify(guesses[i], d), 0);
    char printable[33];
    memset(printable, 'A', 32);
    printable[32] = '\0';
    assert_int_equal(verify(printable, d), 0);

    const char *d2 = password_dummy_hash(1002);
    assert_non_null(d2);
    assert_well_formed(d2, 1002);
    assert_string_not_equal(d, d2);
    assert_ptr_equal(password_dummy_hash(ITER), d);

    assert_null(password_dummy_hash(999));
    assert_null(password_dummy_hash(10000001));

    /* Racing first calls all end up with the one stored hash. */
    pthread_t t[4];
    void *got[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, dummy_thread, NULL), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_join(t[i], &got[i]), 0);
    assert_non_null(got[0]);
    for (int i = 1; i < 4; i++)
        assert_ptr_equal(got[i], got[0]);
    assert_ptr_equal(password_dummy_hash(1003), got[0]);
    assert_well_formed(got[0], 1003);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pbkdf2_primitive_vector),
        cmocka_unit_test(test_known_vector),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_hash_rejects_bad_arguments),
        cmocka_unit_test(test_salts_differ),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_dummy_hash),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
