/* oidc_common.h — small pieces every OIDC file needs: the store keys of
 * secrets, random codes, PKCE, and reading/writing one OAuth record with
 * retries of its compare-and-set. */
#ifndef QRLOGIN_OIDC_COMMON_H
#define QRLOGIN_OIDC_COMMON_H

#include <stdbool.h>
#include <stddef.h>

#include "store.h"

#define OIDC_CODE_LEN 43      /* 32 random bytes, base64url */
#define OIDC_USER_CODE_LEN 8  /* BCDF-GHJK: shown with a dash after 4 */
#define OIDC_SCOPE_MAX 256
#define OIDC_NONCE_MAX 256
#define OIDC_STATE_MAX 512
#define OIDC_CHALLENGE_MAX 64 /* an S256 challenge is 43 characters */
#define OIDC_CAS_TRIES 5      /* lost compare-and-sets before giving up */

/* Codes that grant something are stored under a hash, never themselves: a
 * read of the store does not hand out working codes (as with refresh jtis).
 * out: base64url SHA-256 of secret (43 characters). */
void oidc_secret_key(const char *secret, char out[OAUTH_KEY_MAX]);

/* 32 random bytes, base64url: device codes, authorization codes. 0 or -1. */
int oidc_random_code(char out[OIDC_CODE_LEN + 1]);

/* A user code of RFC 8628 §6.1's kind: 8 letters from an alphabet without
 * vowels (no words) or look-alikes, "BCDFGHJKLMNPQRSTVWXZ" (20^8 ≈ 2^34.6).
 * out is the canonical form, without the dash. 0 or -1. */
int oidc_user_code(char out[OIDC_USER_CODE_LEN + 1]);
/* What a person typed into the canonical form: case folded, dashes and
 * spaces dropped. false if it cannot be a user code. */
bool oidc_user_code_normalize(const char *typed, char out[OIDC_USER_CODE_LEN + 1]);

/* PKCE S256 (RFC 7636 §4.6): base64url(SHA-256(verifier)) == challenge, and
 * the verifier is 43-128 unreserved characters. Constant time in the
 * comparison. */
bool oidc_pkce_s256_ok(const char *verifier, const char *challenge);

/* Whether the space-separated scope list contains `one`. */
bool oidc_scope_has(const char *scope, const char *one);

/* A record's JSON value from a jw (started with jw_init(w, 0)); -1 if it does
 * not fit. */
struct jw;
int oidc_rec_set_value(struct oauth_rec *r, struct jw *w);

/* Read-modify-write of one OAuth record with the store's compare-and-set:
 * reads (kind, key), lets modify() change the record (it returns true to
 * write it, false to leave it), writes, and on a lost race reads and
 * modifies again, up to OIDC_CAS_TRIES times. done() runs once: rc is the
 * read's or the write's outcome (NOT_FOUND: no live record; CONFLICT: every
 * try lost), wrote whether modify's change is in the store. */
typedef bool (*oidc_rec_modify)(void *arg, struct oauth_rec *r);
typedef void (*oidc_rec_done)(void *arg, enum store_rc rc, bool wrote);
void oidc_rec_update(const char *kind, const char *key, oidc_rec_modify modify,
                     oidc_rec_done done, void *arg);

#endif
