/* heap_trim.h — gives the heap's free pages back to the system once a burst
 * of sockets opening (or closing) is over.
 *
 * Opening a socket needs memory for a moment (the handshake's header table,
 * the QR job, the `ticket` message waiting for its write) beside what it keeps
 * (which lives in the slabs, slab.h, so that it pins no heap page). After a
 * burst of hundreds at once that memory is free but resident: a fixed cost of
 * the burst, not of the sockets, that at a thousand waiting sockets was a
 * third of the memory per socket (docs/benchmarks.md, "Memory at every
 * scale"). The trim gives back every whole free page of every arena, the
 * main arena's top, each worker thread's arena's top, and the slabs emptied
 * by a burst of closes. */
#ifndef QRLOGIN_HEAP_TRIM_H
#define QRLOGIN_HEAP_TRIM_H

#include <stddef.h>

/* At start: an arena keeps 32 KiB above its top, not glibc's default 128 KiB,
 * which each worker's arena otherwise keeps resident after a burst. */
void heap_trim_configure(void);

/* Called once a second with the number of open sockets: trims, with one job
 * on each worker thread, once that number moved by a burst's worth since the
 * last trim and then held still for a second. */
void heap_trim_tick(size_t open_sockets);

#endif
