/* b64url.c — strict base64url (RFC 4648 §5, no padding), see b64url.h.
 *
 * Written by hand rather than on mbedtls_base64: that one speaks the standard
 * alphabet with '=' padding and silently returns nothing for unpadded input,
 * and a JOSE verifier must accept exactly one spelling of each byte string. */
#include "b64url.h"

#include <limits.h>
#include <string.h>

#include <mbedtls/platform_util.h>

static const char b64url_alphabet[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Value of one alphabet character, or -1. A switch on ranges instead of a
 * 256-entry table keeps the rule readable: only [A-Za-z0-9_-] exist. */
static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

size_t b64url_encoded_len(size_t n)
{
    static const size_t tail[3] = {0, 2, 3};
    if (n / 3 > (SIZE_MAX - 3) / 4)
        return SIZE_MAX; /* cannot be represented; every caller's outsz is smaller */
    return (n / 3) * 4 + tail[n % 3];
}

int b64url_encode(const void *in, size_t n, char *out, size_t outsz)
{
    const uint8_t *p = in;
    size_t need = b64url_encoded_len(n);
    size_t o = 0, i = 0;

    if (!out || need >= outsz || need > INT_MAX || (n && !in))
        return -1;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = b64url_alphabet[(v >> 18) & 63];
        out[o++] = b64url_alphabet[(v >> 12) & 63];
        out[o++] = b64url_alphabet[(v >> 6) & 63];
        out[o++] = b64url_alphabet[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        out[o++] = b64url_alphabet[(v >> 18) & 63];
        out[o++] = b64url_alphabet[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        out[o++] = b64url_alphabet[(v >> 18) & 63];
        out[o++] = b64url_alphabet[(v >> 12) & 63];
        out[o++] = b64url_alphabet[(v >> 6) & 63];
    }
    out[o] = '\0';
    return (int)o;
}

/* Decoded size of a well-formed input of n characters; SIZE_MAX when
 * n mod 4 == 1, which no byte string encodes to. */
static size_t b64url_decoded_len(size_t n)
{
    static const size_t tail[4] = {0, SIZE_MAX, 1, 2};
    if (n % 4 == 1)
        return SIZE_MAX;
    return (n / 4) * 3 + tail[n % 4];
}

int b64url_decode(const char *in, size_t n, uint8_t *out, size_t outsz)
{
    size_t need = b64url_decoded_len(n);
    size_t o = 0, i = 0;
    uint32_t acc = 0;
    int bits = 0;

    if (need == SIZE_MAX || need > outsz || need > INT_MAX || (n && (!in || !out)))
        return -1;
    for (; i < n; i++) {
        int v = b64url_value((unsigned char)in[i]);
        if (v < 0)
            goto bad;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* The bits left over after a short final group (4 after two characters,
     * 2 after three) must be zero, or two inputs would decode to the same bytes. */
    if (acc != 0)
        goto bad;
    return (int)o;

bad:
    mbedtls_platform_zeroize(out, o); /* a secret may have been half decoded */
    return -1;
}
