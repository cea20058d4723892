/* lws_alloc.h — puts what lws keeps per connection in the slabs (slab.h).
 *
 * lws allocates everything through one hook (lws_set_allocator) and names
 * each allocation. The four that live as long as a connection — the
 * connection itself with its event-loop state, the websocket state, the
 * websocket read buffer, libuv's poll handle — go to the slabs; the rest
 * (the handshake's header table, buffered output, ...) is short-lived and
 * goes to malloc. Frees and reallocations find their way by the address. */
#ifndef QRLOGIN_LWS_ALLOC_H
#define QRLOGIN_LWS_ALLOC_H

#include <stddef.h>

/* Before the first lws context is created; lasts for the process. */
void lws_alloc_install(void);

/* The hook itself (for its unit test). */
void *lws_alloc_realloc(void *p, size_t size, const char *reason);

#endif
