/* test_b64url.c — RFC 4648 vectors and every strictness rule of b64url.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "b64url.h"

struct vector {
    const char *plain;
    const char *encoded;
};

/* RFC 4648 §10, with the padding removed as base64url (§5, JOSE) does. */
static const struct vector rfc4648[] = {
    {"", ""},          {"f", "Zg"},         {"fo", "Zm8"},          {"foo", "Zm9v"},
    {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
};

static void test_rfc4648_encode(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof rfc4648 / sizeof rfc4648[0]; i++) {
        char out[16];
        size_t n = strlen(rfc4648[i].plain);
        int w = b64url_encode(rfc4648[i].plain, n, out, sizeof out);
        assert_int_equal(w, (int)strlen(rfc4648[i].encoded));
        assert_string_equal(out, rfc4648[i].encoded);
        assert_int_equal(b64url_encoded_len(n), strlen(rfc4648[i].encoded));
    }
}

static void test_rfc4648_decode(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof rfc4648 / sizeof rfc4648[0]; i++) {
        uint8_t out[16];
        const char *e = rfc4648[i].encoded;
        int r = b64url_decode(e, strlen(e), out, sizeof out);
        assert_int_equal(r, (int)strlen(rfc4648[i].plain));
        assert_memory_equal(out, rfc4648[i].plain, (size_t)r > 0 ? (size_t)r : 0);
    }
}

/* The two characters that differ from standard base64: 0xfb 0xef 0xff is
 * "++//" in RFC 4648 §4 and must be "--__" here. */
static void test_url_alphabet(void **state)
{
    (void)state;
    const uint8_t raw[] = {0xfb, 0xef, 0xff};
    char out[8];
    uint8_t back[3];
    assert_int_equal(b64url_encode(raw, sizeof raw, out, sizeof out), 4);
    assert_string_equal(out, "--__");
    assert_int_equal(b64url_decode("--__", 4, back, sizeof back), 3);
    assert_memory_equal(back, raw, 3);
    assert_int_equal(b64url_decode("++//", 4, back, sizeof back), -1);
}

static void test_round_trip_all_lengths(void **state)
{
    (void)state;
    uint8_t raw[70], back[70];
    char enc[100];
    for (size_t i = 0; i < sizeof raw; i++)
        raw[i] = (uint8_t)(i * 37 + 11);
    for (size_t n = 0; n <= sizeof raw; n++) {
        int w = b64url_encode(raw, n, enc, sizeof enc);
        assert_int_equal(w, (int)b64url_encoded_len(n));
        assert_int_equal(strlen(enc), (size_t)w);
        memset(back, 0, sizeof back);
        assert_int_equal(b64url_decode(enc, (size_t)w, back, n), (int)n);
        assert_memory_equal(back, raw, n);
    }
}

static void expect_reject(const char *in, size_t n)
{
    uint8_t out[64];
    assert_int_equal(b64url_decode(in, n, out, sizeof out), -1);
}
#define REJECT(lit) expect_reject(lit, sizeof(lit) - 1)

static void test_reject_padding(void **state)
{
    (void)state;
    REJECT("Zg==");
    REJECT("Zm8=");
    REJECT("Zg=");
    REJECT("Zm9v====");
    REJECT("====");
    REJECT("=");
}

static void test_reject_whitespace(void **state)
{
    (void)state;
    REJECT("Zm9v Yg");
    REJECT(" Zm9v");
    REJECT("Zm9v\n");
    REJECT("Zm9v\r\nYg");
    REJECT("Zm\t9v");
}

static void test_reject_foreign_characters(void **state)
{
    (void)state;
    REJECT("Zm9+");  /* standard alphabet */
    REJECT("Zm9/");
    REJECT("Zm9.");
    REJECT("Zm9@");
    REJECT("Zm9\"");
    REJECT("Zm\x00v"); /* NUL inside the given length */
    REJECT("Zm\xc3\xa9");
    REJECT("Zm9\x7f");
}

static void test_reject_length_mod4_is_1(void **state)
{
    (void)state;
    REJECT("Z");
    REJECT("Zm9vY");
    REJECT("Zm9vYmFyZ");
}

/* "Zg" and "Zh" would both mean "f" if the unused low bits were ignored. */
static void test_reject_nonzero_trailing_bits(void **state)
{
    (void)state;
    uint8_t out[4];
    assert_int_equal(b64url_decode("Zg", 2, out, sizeof out), 1);
    REJECT("Zh");
    REJECT("Zv");
    assert_int_equal(b64url_decode("Zm8", 3, out, sizeof out), 2);
    REJECT("Zm9");
    REJECT("Zm-");
    REJECT("AB");
    REJECT("AAB");
}

static void test_output_bounds(void **state)
{
    (void)state;
    char enc[9];
    uint8_t dec[6];
    /* "foobar" needs 8 characters and a NUL. */
    assert_int_equal(b64url_encode("foobar", 6, enc, 8), -1);
    assert_int_equal(b64url_encode("foobar", 6, enc, 9), 8);
    assert_int_equal(b64url_encode("", 0, enc, 0), -1);
    assert_int_equal(b64url_encode("", 0, enc, 1), 0);
    assert_string_equal(enc, "");
    assert_int_equal(b64url_decode("Zm9vYmFy", 8, dec, 5), -1);
    assert_int_equal(b64url_decode("Zm9vYmFy", 8, dec, 6), 6);
    assert_int_equal(b64url_decode("Zm9vYg", 6, dec, 3), -1);
}

/* A rejected input must not leave half-decoded bytes (they may be a secret). */
static void test_failed_decode_wipes_output(void **state)
{
    (void)state;
    uint8_t out[8];
    memset(out, 0xaa, sizeof out);
    assert_int_equal(b64url_decode("Zm9vYmF!", 8, out, sizeof out), -1);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(out[i], 0);
}

static void test_null_arguments(void **state)
{
    (void)state;
    uint8_t out[4];
    char enc[8];
    assert_int_equal(b64url_decode(NULL, 4, out, sizeof out), -1);
    assert_int_equal(b64url_decode("Zm9v", 4, NULL, 4), -1);
    assert_int_equal(b64url_encode(NULL, 3, enc, sizeof enc), -1);
    assert_int_equal(b64url_encode("foo", 3, NULL, 8), -1);
    assert_int_equal(b64url_decode(NULL, 0, out, sizeof out), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4648_encode),
        cmocka_unit_test(test_rfc4648_decode),
        cmocka_unit_test(test_url_alphabet),
        cmocka_unit_test(test_round_trip_all_lengths),
        cmocka_unit_test(test_reject_padding),
        cmocka_unit_test(test_reject_whitespace),
        cmocka_unit_test(test_reject_foreign_characters),
        cmocka_unit_test(test_reject_length_mod4_is_1),
        cmocka_unit_test(test_reject_nonzero_trailing_bits),
        cmocka_unit_test(test_output_bounds),
        cmocka_unit_test(test_failed_decode_wipes_output),
        cmocka_unit_test(test_null_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
