/* strpool.h — strings that many connections share, kept once and counted.
 *
 * Thousands of PC sockets come from a handful of addresses and browser
 * builds: each socket holding its own copy of its address and User-Agent
 * cost more than its ticket (docs/architecture.md, "Performance budget"). A
 * pool hands out one copy per distinct string with a count of holders; the count of an
 * address is also the per-IP connection limit's number.
 *
 * User-Agents are chosen by clients, so the pool's hash is keyed with a
 * random seed: collisions precomputed against the plain hash do not
 * lengthen its chains.
 * Loop thread only. */
#ifndef QRLOGIN_STRPOOL_H
#define QRLOGIN_STRPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hmap.h"

struct strpool {
    struct hmap map;
    uint64_t seed; /* drawn at the first hold */
    bool seeded;
    size_t max_len; /* longer strings are cut to this many bytes */
};

#define STRPOOL_INIT(max) {.max_len = (max)}

/* The pool's copy of the first min(n, max_len) bytes of s, held once more
 * (NUL-terminated). NULL when out of memory. */
const char *strpool_hold(struct strpool *p, const char *s, size_t n);
/* Lets go of a string strpool_hold returned (NULL is ignored); the copy is
 * freed with its last holder. */
void strpool_release(struct strpool *p, const char *held);
/* How many hold s (0 if none). */
int strpool_count(const struct strpool *p, const char *s);
/* Distinct strings held. */
size_t strpool_size(const struct strpool *p);
/* Frees every copy (at shutdown; what was held must not be used after). */
void strpool_free(struct strpool *p);

#endif
