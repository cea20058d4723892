/* jwks_cache.h — the trusted issuers' keys, fetched and kept the way a
 * careful client does (docs/federation.md):
 *
 * - fetched at start, then again when Cache-Control max-age runs out
 *   (bounded to [60 s, 24 h]; 5 minutes when the response says nothing);
 * - a kid we do not know triggers at most one refetch per 30 s per issuer,
 *   so tokens with made-up kids cannot make us hammer the endpoint;
 * - a fetch that fails (down, slow, not 200, oversized, no usable key) keeps
 *   the last good keys, is retried after 30 s, and shows in /healthz and
 *   /metrics;
 * - file: sources are read the same way (a small local read on the loop).
 *
 * Parsing and warming the keys run on the worker pool. Loop thread only. */
#ifndef QRLOGIN_JWKS_CACHE_H
#define QRLOGIN_JWKS_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "json.h"
#include "jwks_parse.h"
#include "trust_config.h"

#define JWKS_TTL_MIN_S 60
#define JWKS_TTL_MAX_S 86400
#define JWKS_TTL_DEFAULT_S 300
#define JWKS_KID_REFETCH_S 30   /* least time between two unknown-kid refetches */
#define JWKS_RETRY_S 30         /* after a failed fetch */
#define JWKS_FETCH_TIMEOUT_MS 5000
#define JWKS_WAITERS_MAX 1024   /* lookups waiting for one issuer's fetch */

/* Starts a fetch for each of the n issuers (copied pointers: the array must
 * outlive the cache, as broker.cfg does). */
void jwks_cache_start(const struct trust_issuer *issuers, int n);

/* The configured issuer whose identifier is exactly iss, or -1. */
int jwks_cache_issuer_index(const char *iss);
const struct trust_issuer *jwks_cache_issuer(int idx);

/* ks: the set holding key, with a reference the callee must drop with
 * jwks_keyset_unref; both NULL when no key has that kid (after the refetch it
 * may have triggered). May run before jwks_cache_lookup returns. */
typedef void (*jwks_lookup_cb)(void *arg, struct ext_keyset *ks, const struct ext_key *key);
void jwks_cache_lookup(int idx, const char *kid, jwks_lookup_cb cb, void *arg);

/* "jwks":[{"issuer","keys","ok","failures","error"?}…] for /healthz. */
void jwks_cache_health(struct jw *w);
/* Issuers whose last fetch failed (a gauge for /metrics). */
int jwks_cache_failing(void);

/* Answers waiting lookups with "no key" and frees everything. Call after
 * workers_stop (no parse job may still point at a source). */
void jwks_cache_shutdown(void);

#endif
