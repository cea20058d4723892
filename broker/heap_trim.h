/* heap_trim.h — gives the heap's free pages back to the system once a burst
 * of sockets opening (or closing) is over.
 *
 * Opening a socket allocates what it keeps (lws's connection, ours, its
 * ticket) between what it needs only for a moment (the handshake's header
 * table, the QR job, the `ticket` message waiting for its write). After a
 * burst of hundreds at once the momentary ones leave free holes between the
 * kept ones, which the allocator keeps resident: a fixed cost of the burst,
 * not of the sockets, that only thousands of later sockets fill again. At a
 * thousand waiting sockets it was a third of the memory per socket
 * (docs/benchmarks.md). malloc_trim(0) returns every whole free page, in
 * every arena (the worker threads' too). */
#ifndef QRLOGIN_HEAP_TRIM_H
#define QRLOGIN_HEAP_TRIM_H

#include <stddef.h>

/* Called once a second with the number of open sockets: trims, on the
 * worker pool, once that number moved by a burst's worth since the last trim
 * and then held still for a second. */
void heap_trim_tick(size_t open_sockets);

#endif
