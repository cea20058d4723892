/* listen_share.h — our own listening socket, for several processes on one
 * port (--workers N).
 *
 * lws 4.1.6 never sets SO_REUSEPORT on its listener when built with
 * LWS_MAX_SMP=1 (docs/architecture.md, L1), so a second process gets
 * EADDRINUSE. Here each process opens its own socket with SO_REUSEPORT (the
 * kernel spreads new connections over the processes), lws watches it as a raw file on the
 * vhost, and every accepted connection is handed to lws_adopt_socket_vhost:
 * from then on HTTP, the WebSocket upgrade, TLS and the mounts work exactly
 * as for lws's own listener. The vhost itself is created with
 * CONTEXT_PORT_NO_LISTEN_SERVER.
 *
 * Loop thread only. */
#ifndef QRLOGIN_LISTEN_SHARE_H
#define QRLOGIN_LISTEN_SHARE_H

#include <stddef.h>

#include <libwebsockets.h>

#define LISTEN_SHARE_PROTOCOL "qrlogin-accept"

/* Opens host:port (SO_REUSEADDR + SO_REUSEPORT, non-blocking, close-on-exec;
 * "::" is dual-stack, "0.0.0.0" IPv4 only) and adopts it into vh, which must
 * offer LISTEN_SHARE_PROTOCOL (listen_share_callback). Returns 0, or -1 after
 * logging why (the port taken by a process that does not share it, …). */
int listen_share_start(struct lws_vhost *vh, const char *host, int port);

/* Stops accepting (the first step of a shutdown): the socket is closed, so
 * the kernel sends new connections to the other processes at once. */
void listen_share_stop(void);

/* The lws protocol callback for LISTEN_SHARE_PROTOCOL (raw file events). */
int listen_share_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                          void *in, size_t len);

#endif
