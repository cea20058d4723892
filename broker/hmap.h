/* hmap.h — an intrusive chained hash map.
 *
 * The broker indexes tickets (by id and by PC connection), connections (by
 * id), sessions (by sid) and sign-in limits (by user name). Each owner embeds
 * `struct hnode` and compares its own keys; the map only stores 64-bit hashes,
 * so it never allocates per entry and never copies keys. Grows by doubling when
 * the load passes 2; never shrinks (a long-lived daemon returns to its peak). */
#ifndef QRLOGIN_HMAP_H
#define QRLOGIN_HMAP_H

#include <stddef.h>
#include <stdint.h>

struct hnode {
    struct hnode *next;
    uint64_t hash;
};

struct hmap {
    struct hnode **buckets;
    size_t nbuckets; /* power of two, or 0 before the first insert */
    size_t count;
};

/* Returns 0, or -1 (node not inserted) if the very first table cannot be
 * allocated. */
int hmap_insert(struct hmap *m, struct hnode *n, uint64_t hash);
void hmap_remove(struct hmap *m, struct hnode *n);
void hmap_free(struct hmap *m); /* frees the bucket array, not the nodes */

/* First node in the chain of `hash` (compare n->hash, then your key). */
static inline struct hnode *hmap_chain(const struct hmap *m, uint64_t hash)
{
    return m->nbuckets ? m->buckets[hash & (m->nbuckets - 1)] : NULL;
}

/* Keyed hashes (FNV-1a 64, then a finalizer so low bits are well mixed).
 * Keys here are random tickets or ids, not attacker-chosen collisions at
 * scale; user names are, but that map is small and bounded. */
uint64_t hmap_hash_bytes(const void *p, size_t n);
/* The same with a random key in the starting state, for keys a client picks
 * (strpool.h): collisions worked out for the plain hash do not carry over.
 * (Not a cryptographic PRF; it raises the bar, it does not close it.) */
uint64_t hmap_hash_bytes_keyed(const void *p, size_t n, uint64_t key);
uint64_t hmap_hash_u64(uint64_t v);

#define hmap_entry(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

#endif
