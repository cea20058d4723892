/* http_api.h — the HTTP endpoints that are not static files (docs/protocol.md §1):
 * /healthz, /metrics, /.well-known/jwks.json, /api/me, /api/token. */
#ifndef QRLOGIN_HTTP_API_H
#define QRLOGIN_HTTP_API_H

#include <libwebsockets.h>

#define HTTP_API_PROTOCOL_NAME "api"
#define HTTP_API_BODY_MAX 4096

struct http_pss; /* per-connection state; size via http_api_pss_size() */
size_t http_api_pss_size(void);

int http_api_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len);

void http_api_shutdown(void);

#endif
