/* rng.c — one CTR_DRBG for the whole process, seeded from the OS entropy
 * pool, see rng.h.
 *
 * mbedTLS is built with THREADING_C here, so mbedtls_ctr_drbg_random already
 * locks the context. We still serialize with our own mutex: it also covers
 * rng_init/rng_free racing with a worker thread, and it keeps us correct on a
 * libmbedcrypto built without THREADING_C. The DRBG is fast enough that one
 * lock costs nothing measurable next to an ES256 signature. */
#include "rng.h"

#include <pthread.h>
#include <stdint.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/platform_util.h>

#include "b64url.h"

#define RNG_TOKEN_MAX_BYTES 64

static pthread_mutex_t rng_lock = PTHREAD_MUTEX_INITIALIZER;
static mbedtls_entropy_context rng_entropy;
static mbedtls_ctr_drbg_context rng_drbg;
static int rng_ready;

int rng_init(void)
{
    static const unsigned char pers[] = "qrlogin-broker-rng";
    int rc = 0;

    pthread_mutex_lock(&rng_lock);
    if (rng_ready)
        goto out; /* idempotent: keys_load and main may both ask */
    mbedtls_entropy_init(&rng_entropy);
    mbedtls_ctr_drbg_init(&rng_drbg);
    rc = mbedtls_ctr_drbg_seed(&rng_drbg, mbedtls_entropy_func, &rng_entropy, pers,
                               sizeof pers - 1);
    if (rc) {
        mbedtls_ctr_drbg_free(&rng_drbg);
        mbedtls_entropy_free(&rng_entropy);
        rc = -1;
        goto out;
    }
    rng_ready = 1;
out:
    pthread_mutex_unlock(&rng_lock);
    return rc;
}

void rng_free(void)
{
    pthread_mutex_lock(&rng_lock);
    if (rng_ready) {
        mbedtls_ctr_drbg_free(&rng_drbg);
        mbedtls_entropy_free(&rng_entropy);
        rng_ready = 0;
    }
    pthread_mutex_unlock(&rng_lock);
}

/* CTR_DRBG refuses requests above MBEDTLS_CTR_DRBG_MAX_REQUEST, so long
 * requests are served in chunks. Returns 0 or an mbedTLS error. */
static int rng_fill_locked(unsigned char *out, size_t n)
{
    while (n > 0) {
        size_t chunk = n > MBEDTLS_CTR_DRBG_MAX_REQUEST ? MBEDTLS_CTR_DRBG_MAX_REQUEST : n;
        int rc = mbedtls_ctr_drbg_random(&rng_drbg, out, chunk);
        if (rc)
            return rc;
        out += chunk;
        n -= chunk;
    }
    return 0;
}

int rng_bytes(void *out, size_t n)
{
    int rc;

    if (n == 0)
        return 0;
    if (!out)
        return -1;
    pthread_mutex_lock(&rng_lock);
    rc = rng_ready ? rng_fill_locked(out, n) : -1;
    pthread_mutex_unlock(&rng_lock);
    if (rc) {
        mbedtls_platform_zeroize(out, n);
        return -1;
    }
    return 0;
}

/* p_rng is ignored: every caller shares the one locked DRBG. A nonzero
 * return is what mbedTLS expects from a failing f_rng. */
int rng_mbedtls(void *p_rng, unsigned char *out, size_t n)
{
    (void)p_rng;
    return rng_bytes(out, n) ? MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED : 0;
}

/* The DRBG itself, so that a caller pairing it with mbedtls_ctr_drbg_random
 * (which locks it under THREADING_C) also works; rng_mbedtls ignores it. */
void *rng_mbedtls_ctx(void) { return &rng_drbg; }

int rng_token(size_t bytes, char *out, size_t outsz)
{
    uint8_t buf[RNG_TOKEN_MAX_BYTES];
    int rc = -1;

    if (bytes == 0 || bytes > sizeof buf || !out || outsz == 0)
        goto out;
    if (rng_bytes(buf, bytes))
        goto out;
    rc = b64url_encode(buf, bytes, out, outsz);
out:
    mbedtls_platform_zeroize(buf, sizeof buf);
    if (rc < 0 && out && outsz > 0)
        out[0] = '\0';
    return rc;
}
