/* password.h — PBKDF2-HMAC-SHA256 password hashes with a per-user salt.
 *
 * Encoded form (what the store keeps):
 *   pbkdf2-sha256$<iterations>$<salt b64url, 16 bytes>$<hash b64url, 32 bytes>
 * Both functions are CPU-heavy by design: call them on the worker pool. */
#ifndef QRLOGIN_PASSWORD_H
#define QRLOGIN_PASSWORD_H

#include <stddef.h>

#define PASSWORD_HASH_MAX 160
#define PASSWORD_MAX_LEN 1024

/* Returns 0 and the encoded hash in out, or -1. */
int password_hash(const char *pw, size_t pw_len, int iterations, char *out, size_t outsz);

/* 1 if pw matches encoded, 0 if not, -1 if encoded is malformed.
 * The final comparison is constant-time. */
int password_verify(const char *pw, size_t pw_len, const char *encoded);

/* A well-formed hash of a random password with `iterations` (made once).
 * Verifying against it when a user does not exist spends the same time as for
 * a real user, so timing does not reveal which usernames exist. */
const char *password_dummy_hash(int iterations);

#endif
