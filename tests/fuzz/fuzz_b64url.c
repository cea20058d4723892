/* fuzz_b64url.c — libFuzzer target for broker/b64url.c.
 *
 * 1. The input as base64url text: b64url_decode must refuse it or return a
 *    length that fits; when it accepts, re-encoding the bytes must give back
 *    exactly the input (one canonical spelling per byte string), and the
 *    length must match b64url_encoded_len.
 * 2. The input as raw bytes: encode, then decode must give back the bytes,
 *    and the text must use only the alphabet.
 * 3. Buffer bounds: a decode into a buffer one byte too small, and an encode
 *    into one without room for the NUL, must both fail without writing past
 *    the end (ASan watches the heap buffers, which are exactly sized). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64url.h"
#include "fuzz_check.h"


static int in_alphabet(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
}

static void as_text(const uint8_t *data, size_t size)
{
    /* n/4*3 + 2 bounds every decode; exactly sized so ASan sees overruns. */
    size_t cap = size / 4 * 3 + 2;
    uint8_t *out = malloc(cap);
    CHECK(out);
    int n = b64url_decode((const char *)data, size, out, cap);
    if (n < 0) {
        free(out);
        return;
    }
    CHECK((size_t)n <= cap);
    CHECK(size % 4 != 1);
    for (size_t i = 0; i < size; i++)
        CHECK(in_alphabet(data[i]));
    CHECK(b64url_encoded_len((size_t)n) == size);

    /* canonical: encode(decode(x)) == x */
    char *text = malloc(size + 1);
    CHECK(text);
    int m = b64url_encode(out, (size_t)n, text, size + 1);
    CHECK(m >= 0 && (size_t)m == size);
    CHECK(memcmp(text, data, size) == 0 && text[size] == '\0');

    /* too small by one: refused, nothing written past the end */
    if (n > 0) {
        uint8_t *small = malloc((size_t)n - 1 ? (size_t)n - 1 : 1);
        CHECK(small);
        CHECK(b64url_decode((const char *)data, size, small, (size_t)n - 1) < 0);
        free(small);
    }
    free(text);
    free(out);
}

static void as_bytes(const uint8_t *data, size_t size)
{
    size_t need = b64url_encoded_len(size);
    char *text = malloc(need + 1);
    CHECK(text);
    int m = b64url_encode(data, size, text, need + 1);
    CHECK(m >= 0 && (size_t)m == need && text[need] == '\0');
    for (size_t i = 0; i < need; i++)
        CHECK(in_alphabet((unsigned char)text[i]));
    /* no room for the NUL: refused */
    CHECK(b64url_encode(data, size, text, need) < 0);

    uint8_t *back = malloc(size ? size : 1);
    CHECK(back);
    int n = b64url_decode(text, need, back, size);
    CHECK(n >= 0 && (size_t)n == size);
    CHECK(size == 0 || memcmp(back, data, size) == 0);
    free(back);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    as_text(data, size);
    as_bytes(data, size);
    return 0;
}
