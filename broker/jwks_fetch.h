/* jwks_fetch.h — one HTTP(S) GET of a JWK Set on the event loop (lws client),
 * never blocking: connect, TLS (the system CA store, or --trust-ca), headers
 * and body are all driven by the loop, the body is capped, and a timer gives
 * up on an endpoint that is slow to connect, answer or finish.
 *
 * All calls on the loop thread. The result is always delivered from a later
 * loop turn (never from inside jwks_fetch_start), exactly once, unless the
 * fetch is cancelled first. */
#ifndef QRLOGIN_JWKS_FETCH_H
#define QRLOGIN_JWKS_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>

#define JWKS_FETCH_PROTOCOL "qrlogin-jwks"

/* body/len: the response body when err is NULL (status 200, within the
 * cap). max_age_s: Cache-Control max-age, or -1 if the response had none.
 * err: why it failed, for logs and /healthz (never response text). */
typedef void (*jwks_fetch_cb)(void *arg, const char *body, size_t len, int64_t max_age_s,
                              const char *err);

struct jwks_fetch;

/* Makes the client vhost on ctx (TLS trusting ca_file, or the system store
 * if ca_file is NULL or ""). Returns 0 or -1. */
int jwks_fetch_init(struct lws_context *ctx, const char *ca_file);

/* Starts GET url; the body may be at most cap bytes; the whole exchange at
 * most timeout_ms. NULL if it could not even start (bad URL, no vhost, out
 * of memory): then cb is never called. */
struct jwks_fetch *jwks_fetch_start(const char *url, size_t cap, int timeout_ms,
                                    jwks_fetch_cb cb, void *arg);

/* Drops a fetch in flight; cb is not called. */
void jwks_fetch_cancel(struct jwks_fetch *f);

/* The lws protocol callback of the client vhost. */
int jwks_fetch_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len);

/* max-age from a Cache-Control value, or -1. Exposed for tests. */
int64_t jwks_fetch_max_age(const char *cache_control);

#endif
