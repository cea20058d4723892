/* hmap.c — see hmap.h. */
#include "hmap.h"

#include <stdlib.h>

static int hmap_grow(struct hmap *m)
{
    size_t nb = m->nbuckets ? m->nbuckets * 2 : 64;
    struct hnode **b = calloc(nb, sizeof *b);
    if (!b)
        return -1;
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct hnode *n = m->buckets[i];
        while (n) {
            struct hnode *next = n->next;
            size_t j = n->hash & (nb - 1);
            n->next = b[j];
            b[j] = n;
            n = next;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = nb;
    return 0;
}

int hmap_insert(struct hmap *m, struct hnode *n, uint64_t hash)
{
    /* Two entries a bucket on average before it grows: chains stay short,
     * and the bucket array (one per socket and ticket index) costs 4-8 bytes
     * an entry instead of 8-16. A failed grow with a table in place only
     * lengthens chains. */
    if (m->count >= 2 * m->nbuckets && hmap_grow(m) && !m->nbuckets)
        return -1;
    n->hash = hash;
    size_t i = hash & (m->nbuckets - 1);
    n->next = m->buckets[i];
    m->buckets[i] = n;
    m->count++;
    return 0;
}

void hmap_remove(struct hmap *m, struct hnode *n)
{
    if (!m->nbuckets)
        return;
    struct hnode **pp = &m->buckets[n->hash & (m->nbuckets - 1)];
    for (; *pp; pp = &(*pp)->next) {
        if (*pp == n) {
            *pp = n->next;
            n->next = NULL;
            m->count--;
            return;
        }
    }
}

void hmap_free(struct hmap *m)
{
    free(m->buckets);
    m->buckets = NULL;
    m->nbuckets = m->count = 0;
}

static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

uint64_t hmap_hash_bytes(const void *p, size_t n) { return hmap_hash_bytes_keyed(p, n, 0); }

uint64_t hmap_hash_bytes_keyed(const void *p, size_t n, uint64_t key)
{
    const unsigned char *s = p;
    uint64_t h = 0xcbf29ce484222325ULL ^ key;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ULL;
    }
    return mix(h);
}

uint64_t hmap_hash_u64(uint64_t v) { return mix(v); }
