/* ws_conn.h — the lws protocol callback for /ws: handshake policy (Origin,
 * per-IP limit), connection lifecycle, message assembly with a size cap,
 * per-socket rate limiting, the write path and closes. Complete messages go
 * to ws_dispatch.c. */
#ifndef QRLOGIN_WS_CONN_H
#define QRLOGIN_WS_CONN_H

#include <libwebsockets.h>

#define WS_PROTOCOL_NAME "qrlogin.v1"

int ws_conn_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len);

/* The client IP of an HTTP or WS connection: the peer address (IPv4 shown as
 * a.b.c.d), or, when the peer is a --trusted-proxy, the nearest untrusted
 * address in X-Forwarded-For. */
void ws_client_ip(struct lws *wsi, char *out, size_t outsz);
/* The client's address as above and its User-Agent ("" if none), for what an
 * HTTP request records on the session it makes. */
void ws_client_of(struct lws *wsi, char *ip, size_t ipsz, char *ua, size_t uasz);

#endif
