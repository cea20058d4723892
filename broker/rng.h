/* rng.h — the broker's cryptographic random source (mbedTLS CTR_DRBG seeded
 * from the OS entropy pool). Safe to call from any thread after rng_init(). */
#ifndef QRLOGIN_RNG_H
#define QRLOGIN_RNG_H

#include <stddef.h>

int rng_init(void);   /* 0 on success */
void rng_free(void);

/* Fills out with n random bytes. Returns 0 on success. */
int rng_bytes(void *out, size_t n);

/* For mbedTLS APIs that take (f_rng, p_rng). */
int rng_mbedtls(void *p_rng, unsigned char *out, size_t n);
void *rng_mbedtls_ctx(void);

/* Writes a base64url string of `bytes` random bytes into out (NUL-terminated).
 * Used for tickets (16 bytes = 128 bits), jtis and session ids.
 * Returns the string length, or -1. */
int rng_token(size_t bytes, char *out, size_t outsz);

#endif
