/* password.c — PBKDF2-HMAC-SHA256 password hashes, see password.h.
 *
 * Encoded: pbkdf2-sha256$<iterations>$<salt b64url>$<hash b64url>, with a
 * 16-byte salt and a 32-byte hash. Parsing is strict (one canonical spelling
 * per hash) so a corrupted or tampered row is reported as malformed instead of
 * quietly never matching. */
#include "password.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/constant_time.h>
#include <mbedtls/md.h>
#include <mbedtls/pkcs5.h>
#include <mbedtls/platform_util.h>

#include "b64url.h"
#include "rng.h"

#define PREFIX "pbkdf2-sha256$"
#define SALT_LEN 16
#define HASH_LEN 32
#define SALT_B64_LEN 22 /* b64url_encoded_len(16) */
#define HASH_B64_LEN 43 /* b64url_encoded_len(32) */
#define ITER_MIN 1000
#define ITER_MAX 10000000
#define ITER_MAX_DIGITS 8

/* One md context per call: a context holds HMAC state, so sharing it between
 * worker threads would mix their computations. */
static int pbkdf2_sha256(const char *pw, size_t pw_len, const uint8_t *salt, size_t salt_len,
                         int iterations, uint8_t out[HASH_LEN])
{
    const mbedtls_md_info_t *info = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    mbedtls_md_context_t ctx;
    int rc = -1;

    if (!info)
        return -1;
    mbedtls_md_init(&ctx);
    /* hmac = 1: PBKDF2 is HMAC iterated; without it mbedTLS refuses (-0x5100). */
    if (mbedtls_md_setup(&ctx, info, 1) != 0)
        goto out;
    if (mbedtls_pkcs5_pbkdf2_hmac(&ctx, (const unsigned char *)(pw_len ? pw : ""), pw_len, salt,
                                  salt_len, (unsigned int)iterations, HASH_LEN, out) != 0)
        goto out;
    rc = 0;
out:
    mbedtls_md_free(&ctx); /* zeroizes the HMAC pads, which derive from pw */
    if (rc)
        mbedtls_platform_zeroize(out, HASH_LEN);
    return rc;
}

static bool iterations_ok(int iterations) { return iterations >= ITER_MIN && iterations <= ITER_MAX; }

/* HMAC zero-pads short keys, so "pw" and "pw\0" would derive the same hash.
 * No real password holds a NUL byte; refusing them keeps one hash per
 * password. */
static bool password_ok(const char *pw, size_t pw_len)
{
    if (pw_len > PASSWORD_MAX_LEN || (!pw && pw_len))
        return false;
    return pw_len == 0 || !memchr(pw, '\0', pw_len);
}

static int encode(int iterations, const uint8_t salt[SALT_LEN], const uint8_t hash[HASH_LEN],
                  char *out, size_t outsz)
{
    char s64[SALT_B64_LEN + 1], h64[HASH_B64_LEN + 1];
    int rc = -1;
    if (b64url_encode(salt, SALT_LEN, s64, sizeof s64) != SALT_B64_LEN ||
        b64url_encode(hash, HASH_LEN, h64, sizeof h64) != HASH_B64_LEN)
        goto out;
    int n = snprintf(out, outsz, PREFIX "%d$%s$%s", iterations, s64, h64);
    if (n > 0 && (size_t)n < outsz)
        rc = 0;
out:
    mbedtls_platform_zeroize(h64, sizeof h64);
    return rc;
}

int password_hash(const char *pw, size_t pw_len, int iterations, char *out, size_t outsz)
{
    uint8_t salt[SALT_LEN], hash[HASH_LEN];
    int rc = -1;

    if (!password_ok(pw, pw_len) || !iterations_ok(iterations) || !out || outsz == 0)
        return -1;
    out[0] = '\0';
    if (rng_bytes(salt, sizeof salt) != 0)
        return -1;
    if (pbkdf2_sha256(pw, pw_len, salt, sizeof salt, iterations, hash) != 0)
        goto out;
    rc = encode(iterations, salt, hash, out, outsz);
out:
    mbedtls_platform_zeroize(hash, sizeof hash);
    if (rc)
        out[0] = '\0';
    return rc;
}

/* Decimal without sign or leading zero, ITER_MIN..ITER_MAX, ending at '$'.
 * Returns the digit count, or -1. */
static int parse_iterations(const char *s, int *out)
{
    int n = 0;
    long v = 0;
    if (s[0] == '0')
        return -1;
    while (s[n] >= '0' && s[n] <= '9') {
        if (n == ITER_MAX_DIGITS)
            return -1;
        v = v * 10 + (s[n] - '0');
        n++;
    }
    if (n == 0 || s[n] != '$' || v < ITER_MIN || v > ITER_MAX)
        return -1;
    *out = (int)v;
    return n;
}

/* Splits encoded into its parts; -1 unless every part has its exact form. */
static int parse_encoded(const char *encoded, int *iterations, uint8_t salt[SALT_LEN],
                         uint8_t hash[HASH_LEN])
{
    size_t len = strnlen(encoded, PASSWORD_HASH_MAX);
    const size_t plen = sizeof PREFIX - 1;
    if (len == PASSWORD_HASH_MAX || len < plen || memcmp(encoded, PREFIX, plen) != 0)
        return -1;
    const char *p = encoded + plen;
    int digits = parse_iterations(p, iterations);
    if (digits < 0)
        return -1;
    p += digits + 1;
    const char *dollar = strchr(p, '$');
    if (!dollar || dollar - p != SALT_B64_LEN ||
        b64url_decode(p, SALT_B64_LEN, salt, SALT_LEN) != SALT_LEN)
        return -1;
    p = dollar + 1;
    if (strlen(p) != HASH_B64_LEN || b64url_decode(p, HASH_B64_LEN, hash, HASH_LEN) != HASH_LEN)
        return -1;
    return 0;
}

int password_verify(const char *pw, size_t pw_len, const char *encoded)
{
    uint8_t salt[SALT_LEN], want[HASH_LEN], got[HASH_LEN];
    int iterations, rc;

    if (!encoded || parse_encoded(encoded, &iterations, salt, want) != 0)
        return -1;
    /* No hash is ever made of these, so none can match; still a valid row. */
    if (!password_ok(pw, pw_len)) {
        rc = 0;
        goto out;
    }
    if (pbkdf2_sha256(pw, pw_len, salt, sizeof salt, iterations, got) != 0) {
        rc = 0;
        goto out;
    }
    rc = mbedtls_ct_memcmp(got, want, HASH_LEN) == 0 ? 1 : 0;
out:
    mbedtls_platform_zeroize(got, sizeof got);
    mbedtls_platform_zeroize(want, sizeof want);
    return rc;
}

/* Dummy hashes, one per iteration count asked for (in practice one: the
 * configured count). Nodes are never freed, so a returned pointer stays valid
 * for the life of the process and callers need no lock to read it. */
struct dummy {
    struct dummy *next;
    int iterations;
    char hash[PASSWORD_HASH_MAX];
};

static pthread_mutex_t dummy_lock = PTHREAD_MUTEX_INITIALIZER;
static struct dummy *dummies;

static const char *dummy_find_locked(int iterations)
{
    for (struct dummy *d = dummies; d; d = d->next)
        if (d->iterations == iterations)
            return d->hash;
    return NULL;
}

const char *password_dummy_hash(int iterations)
{
    if (!iterations_ok(iterations))
        return NULL;
    pthread_mutex_lock(&dummy_lock);
    const char *found = dummy_find_locked(iterations);
    pthread_mutex_unlock(&dummy_lock);
    if (found)
        return found;

    /* Hash outside the lock: at 600000 iterations this takes a good fraction
     * of a second, and other threads may want a dummy of another count. Two
     * threads racing here both compute; the first to insert wins. */
    struct dummy *d = calloc(1, sizeof *d);
    uint8_t raw[24];
    char pw[33]; /* text: password_hash refuses NUL bytes */
    if (!d)
        return NULL;
    d->iterations = iterations;
    if (rng_bytes(raw, sizeof raw) != 0 || b64url_encode(raw, sizeof raw, pw, sizeof pw) != 32 ||
        password_hash(pw, 32, iterations, d->hash, sizeof d->hash) != 0) {
        mbedtls_platform_zeroize(raw, sizeof raw);
        mbedtls_platform_zeroize(pw, sizeof pw);
        free(d);
        return NULL;
    }
    mbedtls_platform_zeroize(raw, sizeof raw);
    mbedtls_platform_zeroize(pw, sizeof pw);

    pthread_mutex_lock(&dummy_lock);
    found = dummy_find_locked(iterations);
    if (!found) {
        d->next = dummies;
        dummies = d;
        found = d->hash;
        d = NULL;
    }
    pthread_mutex_unlock(&dummy_lock);
    free(d);
    return found;
}
