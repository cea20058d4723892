/* keys.h — signing keys on disk (--keys-dir) and the public JWK Set.
 *
 * Layout of the keys directory (0700; files 0600, written atomically):
 *   es256-<unix seconds>-<8 hex>.pem  SEC1 "EC PRIVATE KEY" P-256; the newest
 *                                     is current, older ones stay published
 *   access-hs256.key                  32-byte secret, base64url, for
 *                                     --access-alg HS256
 *   refresh-hs256.key                 32-byte secret, base64url; refresh
 *                                     tokens only; never leaves the broker
 * kid of an EC key = RFC 7638 JWK thumbprint (SHA-256, base64url).
 * kid of a secret  = RFC 7638 thumbprint of {"k":…,"kty":"oct"}. */
#ifndef QRLOGIN_KEYS_H
#define QRLOGIN_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jwt.h"

struct keyset {
    struct keyring access;  /* all ES256 keys (newest current), or with
                               --access-alg HS256 the single access secret */
    struct keyring refresh; /* the single HS256 refresh secret */
};

/* Loads every key from dir, creating the directory and any missing key
 * (an ES256 key if there is none, both secrets) on first start.
 * access_alg chooses what `access` holds. ES256 keys get one warm-up signature
 * here: mbedTLS fills the curve's precomputed table on first use, and after
 * that worker threads only read it. Returns 0, or -1 with a reason in err. */
int keys_load(const char *dir, enum jwt_alg access_alg, struct keyset *ks, char *err, size_t errsz);
void keys_free(struct keyset *ks);

/* Writes a fresh ES256 key into dir; it becomes current for every broker
 * using dir at its next reload (keys_reload: SIGHUP, or the watch within
 * seconds). Fills new_kid. Returns 0 or -1 with err. */
int keys_generate_es256(const char *dir, char *new_kid, size_t kid_size, char *err, size_t errsz);

/* ---- reloading while worker threads sign and verify ----------------------
 *
 * A reload swaps the ES256 ring of a live keyset (keygen on one node reaches
 * every node sharing the directory without a restart). Anyone who uses a key
 * of a keyset that may be reloaded holds the read lock from looking the key
 * up until the signature is made or checked (tokens.c does; keys_jwks_json
 * takes it itself); the swap holds the write lock, and the old ring is freed
 * only after it, so no reader ever sees a freed key or a half-swapped ring.
 * The lock prefers writers: worker threads signing back to back cannot starve
 * a swap. Never take the read lock twice in one thread. */
void keys_read_lock(void);
void keys_read_unlock(void);

/* Reads and warms up every ES256 key of dir into *staged without touching
 * any live keyset or creating anything. The slow half of a reload (one
 * signature and one verification per key), so it may run off the loop, on a
 * worker thread. Returns 0, or -1 with err and *staged empty. */
int keys_reload_stage(const char *dir, struct keyring *staged, char *err, size_t errsz);

/* Makes *staged the ES256 ring of ks (newest current, all published and
 * accepted) under the write lock, frees the ring it replaces and empties
 * *staged. The HS256 secrets are never touched. Returns 0; -1 if ks signs
 * access tokens with HS256 (no ES256 ring to replace; *staged is freed). */
int keys_reload_commit(struct keyset *ks, struct keyring *staged);

/* Both halves in one call. A failure keeps the old ring and says why in err.
 * Returns 0 or -1. */
int keys_reload(const char *dir, struct keyset *ks, char *err, size_t errsz);

/* What the watch compares to notice keygen in a shared directory cheaply:
 * the directory's identity and mtime, and how many ES256 key files it holds
 * (the count catches a change within one tick of a coarse-mtime filesystem). */
struct keys_dir_stamp {
    uint64_t dev, ino;
    int64_t mtime_ns;
    int es256_files;
};
/* Fills *st. Returns 0, or -1 if dir cannot be read (*st zeroed). */
int keys_dir_stamp(const char *dir, struct keys_dir_stamp *st);
bool keys_dir_stamp_equal(const struct keys_dir_stamp *a, const struct keys_dir_stamp *b);

/* {"keys":[{"kty":"EC","crv":"P-256","x":…,"y":…,"kid":…,"alg":"ES256","use":"sig"},…]}
 * from the public halves of the ES256 keys in ks->access, current key first;
 * never a private member; {"keys":[]} with HS256 access tokens.
 * Returns the length written or -1 if out is too small. */
int keys_jwks_json(const struct keyset *ks, char *out, size_t outsz);

/* RFC 7638 thumbprint of an EC P-256 public key (base64url SHA-256 of
 * {"crv":"P-256","kty":"EC","x":…,"y":…}). Returns 0 or -1. */
int keys_ec_thumbprint(const mbedtls_pk_context *pk, char *out, size_t outsz);

#endif
