/* slab.h — the objects a waiting socket keeps, packed in pages of their own.
 *
 * A waiting socket keeps a handful of small objects for as long as it is
 * open (lws's connection, its websocket state and read buffer and event
 * watcher; our struct conn and its ticket), and while it opens it also needs
 * bigger ones for a moment (the handshake's 5 KB header table, the QR job,
 * the 3.4 KB `ticket` message until its write). From one heap the two kinds
 * interleave: after a burst of sockets the short-lived ones leave holes
 * between the kept ones that the heap can neither reuse for them nor give
 * back, a third of the memory per socket at a thousand (docs/benchmarks.md,
 * "Memory at every scale"). Here the kept ones come from 64 KiB slabs of one
 * object size each, so the heap holds only what is freed soon and
 * malloc_trim can return all of it; a slab costs no per-object header.
 *
 * Sizes up to SLAB_MAX_OBJECT, rounded up to 16 bytes, get a class of their
 * own (at most SLAB_MAX_CLASSES); anything else, and everything once the
 * reserved address range is used up, comes from malloc, so every caller can
 * pass every pointer it got from here back here. Thread-safe (one mutex: the
 * callers are the event loop and, for slab_trim, one worker). Under valgrind
 * and AddressSanitizer everything goes to malloc (slab_use_slabs), so their
 * reports cover these objects as any other; a test that turns the slabs on
 * under ASan still gets a use of a freed slot reported (it is poisoned). */
#ifndef QRLOGIN_SLAB_H
#define QRLOGIN_SLAB_H

#include <stdbool.h>
#include <stddef.h>

#define SLAB_MAX_OBJECT 1024
#define SLAB_MAX_CLASSES 12

/* Zeroed, like calloc(1, size); NULL when out of memory. */
void *slab_calloc(size_t size);
/* Uninitialised, like malloc(size). */
void *slab_malloc(size_t size);
/* Like realloc: an object of a slab that still fits stays where it is, one
 * that does not moves to malloc. */
void *slab_realloc(void *p, size_t size);
/* Like free; p may come from malloc. */
void slab_free(void *p);

/* Every allocation goes to malloc while off: the default under valgrind and
 * AddressSanitizer, so that their leak and use-after-free reports cover these
 * objects too. For the slab's own tests, before any other thread uses it. */
void slab_use_slabs(bool on);

/* Whether p points into the slabs' address range. */
bool slab_owns(const void *p);

/* Gives the pages of slabs that have no object left back to the system;
 * returns how many bytes. For after a burst of sockets closed (heap_trim). */
size_t slab_trim(void);

struct slab_stats {
    size_t objects;  /* live objects in slabs */
    size_t slabs;    /* slabs holding at least one object */
    size_t empty;    /* slabs without objects whose pages are still kept */
    size_t released; /* slabs whose pages were given back, ready for reuse */
};
void slab_stats(struct slab_stats *out);

#endif
