/* http_api.h — the HTTP endpoints that are not static files (docs/protocol.md §1):
 * /healthz, /metrics, /.well-known/jwks.json, /api/me, /api/token; and the
 * plumbing the OpenID Connect endpoints (oidc_*.c, docs/protocol.md §9) answer
 * through, below. */
#ifndef QRLOGIN_HTTP_API_H
#define QRLOGIN_HTTP_API_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stdint.h>

#define HTTP_API_PROTOCOL_NAME "api"
#define HTTP_API_BODY_MAX 4096

struct http_pss; /* per-connection state; size via http_api_pss_size() */
size_t http_api_pss_size(void);

int http_api_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len);

void http_api_shutdown(void);

/* ---- endpoints in other files (the OpenID Connect provider, oidc_*.c) ----
 * A route names a path and a handler; GET handlers run when the request
 * arrives, POST handlers once the body (at most HTTP_API_BODY_MAX bytes) is
 * in. A handler answers with one http_reply_* call, now or later: to answer
 * after an async step it keeps http_req_hold()'s id (never the request
 * pointer) and finds the request again with http_req_find(), which is NULL
 * once the client has gone. Every reply carries Cache-Control: no-store
 * unless it says otherwise. */
struct http_req;
typedef void (*http_handler)(struct http_req *q);

struct http_route {
    const char *path;
    http_handler get, post; /* NULL: 405 for that method */
};

/* The routes of the OIDC provider (oidc_routes.c); NULL for another path. */
const struct http_route *oidc_route_find(const char *path);

uint64_t http_req_hold(struct http_req *q);
struct http_req *http_req_find(uint64_t id);
struct lws *http_req_wsi(struct http_req *q);
/* The POST body (NULL and 0 for GET); overflow: it was longer than we take. */
const char *http_req_body(struct http_req *q, size_t *len, bool *overflow);
/* A query parameter of a GET, decoded: its length, -1 if absent, -2 if
 * repeated or too long. */
int http_req_query(struct http_req *q, const char *name, char *out, size_t outsz);

struct jw;
/* jw must have been started with jw_init(w, LWS_PRE). */
void http_reply_json(struct http_req *q, int status, struct jw *w);
void http_reply_text(struct http_req *q, int status, const char *type, const char *cache,
                     const char *text, size_t n);
/* 302 to location (copied). */
void http_reply_redirect(struct http_req *q, const char *location);
/* RFC 6749 §5.2 body {"error","error_description"?}; www_authenticate, if not
 * NULL, is sent as that header (401 invalid_client, RFC 6750 errors). */
void http_reply_oauth_error(struct http_req *q, int status, const char *error,
                            const char *description, const char *www_authenticate);

#endif
