/* slab.c — see slab.h.
 *
 * One range of address space is reserved at the first allocation (no memory:
 * PROT_NONE) and cut into SLAB_SIZE-aligned slabs, made writable one at a
 * time as they are needed. A slab serves one class: its header, then equal
 * slots, handed out first from its untouched end and then from the slots freed
 * since. The header is found from any object by masking the address, so an
 * object carries no header of its own. A class keeps the slabs that have a
 * free slot on a list; a slab whose last object goes is put aside, empty, for
 * any class to take again, and its pages are given back by slab_trim. */
#include "slab.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#if defined(__SANITIZE_ADDRESS__)
#define QRLOGIN_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) /* clang before 16 */
#define QRLOGIN_ASAN 1
#endif
#endif

#if defined(QRLOGIN_ASAN)
#include <sanitizer/asan_interface.h>
#define SANITIZED_BUILD 1
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define SANITIZED_BUILD 0
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define SLAB_SIZE ((size_t)64 * 1024)
/* Address space only: 64k slabs, ~4 MiB of them for each 2,400 sockets. */
#define REGION_SIZE ((size_t)4 << 30)
#define GRAIN 16

struct slab_class;

struct slab {
    struct slab *prev, *next; /* its class's slabs with a free slot, or the empty ones */
    struct slab_class *cls;
    void *freed;       /* slots freed since, linked through their first word */
    unsigned used;     /* live objects */
    unsigned carved;   /* slots handed out from the untouched end so far */
    bool released;     /* empty, and its pages given back */
};

#define HEADER_SIZE ((sizeof(struct slab) + GRAIN - 1) / GRAIN * GRAIN)

struct slab_class {
    size_t size;
    unsigned per_slab;
    struct slab *partial; /* slabs with a free slot */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t decided = PTHREAD_ONCE_INIT;
static uintptr_t region_start, region_end; /* [start, end): reserved */
static uintptr_t region_next;              /* first slab never made writable */
static struct slab_class classes[SLAB_MAX_CLASSES];
static size_t nclasses;
static struct slab *empty; /* slabs without objects, any class may take them */
static size_t live_objects, live_slabs;
/* slab_use_slabs */
static int passthrough = -1; /* -1: not decided yet */

static void reserve(void)
{
    if (region_start)
        return;
    /* One extra slab's worth to align the start to SLAB_SIZE. */
    void *m = mmap(NULL, REGION_SIZE + SLAB_SIZE, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED)
        return; /* everything comes from malloc then */
    uintptr_t a = (uintptr_t)m;
    region_start = (a + SLAB_SIZE - 1) & ~(SLAB_SIZE - 1);
    region_end = region_start + REGION_SIZE;
    region_next = region_start;
}

static void decide(void)
{
    if (passthrough < 0)
        passthrough = SANITIZED_BUILD || RUNNING_ON_VALGRIND;
    if (!passthrough)
        reserve();
}

static bool use_malloc(void)
{
    pthread_once(&decided, decide);
    return passthrough || region_start == 0;
}

void slab_use_slabs(bool on)
{
    passthrough = !on;
    if (on)
        reserve();
}

bool slab_owns(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    return a >= region_start && a < region_end;
}

static struct slab *slab_of(const void *p)
{
    return (struct slab *)((uintptr_t)p & ~(SLAB_SIZE - 1));
}

static void list_push(struct slab **head, struct slab *s)
{
    s->prev = NULL;
    s->next = *head;
    if (*head)
        (*head)->prev = s;
    *head = s;
}

static void list_unlink(struct slab **head, struct slab *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        *head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->prev = s->next = NULL;
}

/* Under the lock. */
static struct slab_class *class_for(size_t size)
{
    for (size_t i = 0; i < nclasses; i++)
        if (classes[i].size == size)
            return &classes[i];
    if (nclasses == SLAB_MAX_CLASSES)
        return NULL;
    struct slab_class *c = &classes[nclasses++];
    c->size = size;
    c->per_slab = (unsigned)((SLAB_SIZE - HEADER_SIZE) / size);
    c->partial = NULL;
    return c;
}

/* Under the lock: an empty slab for c, from those put aside or a new one. */
static struct slab *take_slab(struct slab_class *c)
{
    struct slab *s = empty;
    if (s) {
        list_unlink(&empty, s);
    } else {
        if (region_next + SLAB_SIZE > region_end)
            return NULL;
        if (mprotect((void *)region_next, SLAB_SIZE, PROT_READ | PROT_WRITE))
            return NULL;
        s = (struct slab *)region_next;
        region_next += SLAB_SIZE;
    }
    s->cls = c;
    s->freed = NULL;
    s->used = s->carved = 0;
    s->released = false;
    POISON((char *)s + HEADER_SIZE, SLAB_SIZE - HEADER_SIZE);
    list_push(&c->partial, s);
    live_slabs++;
    return s;
}

static void *slab_take(size_t size)
{
    size_t rounded = (size + GRAIN - 1) / GRAIN * GRAIN;
    pthread_mutex_lock(&lock);
    struct slab_class *c = class_for(rounded);
    struct slab *s = c ? c->partial : NULL;
    if (c && !s)
        s = take_slab(c);
    if (!s) {
        pthread_mutex_unlock(&lock);
        return NULL;
    }
    void *p;
    if (s->freed) {
        p = s->freed;
        UNPOISON(p, sizeof(void *));
        s->freed = *(void **)p;
    } else {
        p = (char *)s + HEADER_SIZE + (size_t)s->carved++ * c->size;
    }
    if (++s->used == c->per_slab)
        list_unlink(&c->partial, s);
    live_objects++;
    UNPOISON(p, c->size);
    pthread_mutex_unlock(&lock);
    return p;
}

void *slab_malloc(size_t size)
{
    if (size == 0 || size > SLAB_MAX_OBJECT || use_malloc())
        return malloc(size);
    void *p = slab_take(size);
    return p ? p : malloc(size);
}

void *slab_calloc(size_t size)
{
    if (size == 0 || size > SLAB_MAX_OBJECT || use_malloc())
        return calloc(1, size);
    void *p = slab_take(size);
    if (!p)
        return calloc(1, size);
    memset(p, 0, size);
    return p;
}

void slab_free(void *p)
{
    if (!slab_owns(p)) {
        free(p);
        return;
    }
    struct slab *s = slab_of(p);
    pthread_mutex_lock(&lock);
    struct slab_class *c = s->cls;
    POISON(p, c->size);
    UNPOISON(p, sizeof(void *));
    *(void **)p = s->freed;
    POISON(p, sizeof(void *));
    s->freed = p;
    if (s->used-- == c->per_slab)
        list_push(&c->partial, s);
    live_objects--;
    if (s->used == 0) {
        list_unlink(&c->partial, s);
        live_slabs--;
        list_push(&empty, s);
    }
    pthread_mutex_unlock(&lock);
}

void *slab_realloc(void *p, size_t size)
{
    if (!slab_owns(p))
        return realloc(p, size);
    if (size == 0) {
        slab_free(p);
        return NULL;
    }
    size_t have = slab_of(p)->cls->size; /* fixed while p lives */
    if (size <= have)
        return p;
    void *q = malloc(size);
    if (!q)
        return NULL;
    memcpy(q, p, have);
    slab_free(p);
    return q;
}

size_t slab_trim(void)
{
    /* Take the empty slabs not yet released off the list, give their pages
     * back without the lock (a madvise per slab), and put them back: an
     * allocation meanwhile simply makes a new slab. */
    struct slab *todo = NULL;
    pthread_mutex_lock(&lock);
    for (struct slab *s = empty, *next; s; s = next) {
        next = s->next;
        if (!s->released) {
            list_unlink(&empty, s);
            list_push(&todo, s);
        }
    }
    pthread_mutex_unlock(&lock);

    size_t bytes = 0;
    struct slab *done = NULL;
    while (todo) {
        struct slab *s = todo;
        list_unlink(&todo, s);
        /* The header is on the first page: keep it, give back the rest. */
        size_t keep = (size_t)sysconf(_SC_PAGESIZE);
        UNPOISON((char *)s + keep, SLAB_SIZE - keep);
        if (madvise((char *)s + keep, SLAB_SIZE - keep, MADV_DONTNEED) == 0)
            bytes += SLAB_SIZE - keep;
        POISON((char *)s + HEADER_SIZE, SLAB_SIZE - HEADER_SIZE);
        s->released = true;
        list_push(&done, s);
    }

    pthread_mutex_lock(&lock);
    while (done) {
        struct slab *s = done;
        list_unlink(&done, s);
        list_push(&empty, s);
    }
    pthread_mutex_unlock(&lock);
    return bytes;
}

void slab_stats(struct slab_stats *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&lock);
    out->objects = live_objects;
    out->slabs = live_slabs;
    for (struct slab *s = empty; s; s = s->next) {
        if (s->released)
            out->released++;
        else
            out->empty++;
    }
    pthread_mutex_unlock(&lock);
}
