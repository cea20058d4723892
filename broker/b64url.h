/* b64url.h — base64url (RFC 4648 §5) without padding, as JOSE uses it. */
#ifndef QRLOGIN_B64URL_H
#define QRLOGIN_B64URL_H

#include <stddef.h>
#include <stdint.h>

/* Characters needed to encode n bytes (no padding, no NUL). */
size_t b64url_encoded_len(size_t n);

/* Encodes n bytes into out and NUL-terminates it. Returns the length written
 * (without the NUL), or -1 if outsz is too small. */
int b64url_encode(const void *in, size_t n, char *out, size_t outsz);

/* Strict decode: only [A-Za-z0-9_-], no '=' padding, no whitespace, length
 * mod 4 != 1, and unused trailing bits must be zero (one canonical encoding per
 * byte string). Returns the decoded length, or -1 on any violation or if outsz
 * is too small. */
int b64url_decode(const char *in, size_t n, uint8_t *out, size_t outsz);

#endif
