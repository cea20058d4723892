/* strpool.c — see strpool.h. */
#include "strpool.h"

#include <stdlib.h>
#include <string.h>

#include "rng.h"

struct entry {
    struct hnode node;
    int count;
    size_t len;
    char s[]; /* what holders point at */
};

static struct entry *entry_of(const char *held)
{
    return (struct entry *)(held - offsetof(struct entry, s));
}

static uint64_t hash(const struct strpool *p, const char *s, size_t n)
{
    return hmap_hash_bytes_keyed(s, n, p->seed);
}

static struct entry *find(const struct strpool *p, const char *s, size_t n, uint64_t h)
{
    for (struct hnode *x = hmap_chain(&p->map, h); x; x = x->next) {
        struct entry *e = hmap_entry(x, struct entry, node);
        if (x->hash == h && e->len == n && !memcmp(e->s, s, n))
            return e;
    }
    return NULL;
}

const char *strpool_hold(struct strpool *p, const char *s, size_t n)
{
    if (!p->seeded) {
        if (rng_bytes(&p->seed, sizeof p->seed))
            p->seed = 0; /* no randomness: still correct, merely predictable */
        p->seeded = true;
    }
    if (n > p->max_len)
        n = p->max_len;
    uint64_t h = hash(p, s, n);
    struct entry *e = find(p, s, n, h);
    if (!e) {
        e = malloc(sizeof *e + n + 1);
        if (!e)
            return NULL;
        e->count = 0;
        e->len = n;
        memcpy(e->s, s, n);
        e->s[n] = '\0';
        if (hmap_insert(&p->map, &e->node, h)) {
            free(e);
            return NULL;
        }
    }
    e->count++;
    return e->s;
}

void strpool_release(struct strpool *p, const char *held)
{
    if (!held)
        return;
    struct entry *e = entry_of(held);
    if (--e->count == 0) {
        hmap_remove(&p->map, &e->node);
        free(e);
    }
}

int strpool_count(const struct strpool *p, const char *s)
{
    size_t n = strnlen(s, p->max_len + 1);
    if (n > p->max_len)
        return 0; /* the pool holds nothing that long */
    struct entry *e = find(p, s, n, hash(p, s, n));
    return e ? e->count : 0;
}

size_t strpool_size(const struct strpool *p) { return p->map.count; }

void strpool_free(struct strpool *p)
{
    for (size_t b = 0; b < p->map.nbuckets; b++) {
        struct hnode *x = p->map.buckets[b];
        while (x) {
            struct hnode *next = x->next;
            free(hmap_entry(x, struct entry, node));
            x = next;
        }
    }
    hmap_free(&p->map);
}
