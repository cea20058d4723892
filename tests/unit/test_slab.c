/* test_slab.c — the slabs that hold what a waiting socket keeps (slab.c):
 * objects of one 16-byte class share slabs and nothing else does, freed slots
 * are reused, slabs emptied go back to the system on slab_trim and are taken
 * again, sizes the slabs do not serve fall back to malloc, and every pointer,
 * from either, can be freed and reallocated here. The slabs are on in every
 * build here (slab_use_slabs), under ASan too, where a freed slot must read as
 * poisoned. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "slab.h"

#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#if defined(TEST_ASAN)
#include <sanitizer/asan_interface.h>
#endif

static struct slab_stats stats(void)
{
    struct slab_stats s;
    slab_stats(&s);
    return s;
}

static int setup(void **state)
{
    (void)state;
    slab_use_slabs(true);
    /* every test starts from no object and no empty slab kept */
    slab_trim();
    assert_int_equal(stats().objects, 0);
    assert_int_equal(stats().empty, 0);
    return 0;
}

static void test_objects_are_zeroed_and_counted(void **state)
{
    (void)state;
    unsigned char *p = slab_calloc(200);
    assert_non_null(p);
    assert_true(slab_owns(p));
    for (int i = 0; i < 200; i++)
        assert_int_equal(p[i], 0);
    memset(p, 0xa5, 200);
    assert_int_equal(stats().objects, 1);
    assert_int_equal(stats().slabs, 1);
    slab_free(p);
    assert_int_equal(stats().objects, 0);
    assert_int_equal(stats().slabs, 0);
    assert_int_equal(stats().empty, 1);

    /* the slot comes back zeroed from slab_calloc, whatever it held */
    p = slab_calloc(200);
    for (int i = 0; i < 200; i++)
        assert_int_equal(p[i], 0);
    slab_free(p);
}

static void test_a_class_is_sizes_rounded_to_16_bytes(void **state)
{
    (void)state;
    void *a = slab_malloc(150), *b = slab_malloc(160); /* both 160 */
    assert_int_equal(stats().slabs, 1);
    void *c = slab_malloc(161); /* 176: a class, and a slab, of its own */
    assert_int_equal(stats().slabs, 2);
    assert_true(slab_owns(a) && slab_owns(b) && slab_owns(c));
    /* b follows a in their slab: no per-object header between them */
    assert_int_equal((char *)b - (char *)a, 160);
    slab_free(a);
    slab_free(b);
    slab_free(c);
    assert_int_equal(stats().objects, 0);
}

static void test_a_freed_slot_is_reused(void **state)
{
    (void)state;
    void *keep = slab_malloc(64); /* keeps the slab from going empty */
    void *p = slab_malloc(64);
    slab_free(p);
#if defined(TEST_ASAN)
    assert_true(__asan_address_is_poisoned(p));
#endif
    void *q = slab_malloc(64);
    assert_ptr_equal(p, q);
#if defined(TEST_ASAN)
    assert_false(__asan_address_is_poisoned(q));
#endif
    slab_free(q);
    slab_free(keep);
}

static void test_other_sizes_come_from_malloc(void **state)
{
    (void)state;
    void *big = slab_malloc(SLAB_MAX_OBJECT + 1);
    void *edge = slab_malloc(SLAB_MAX_OBJECT);
    void *none = slab_malloc(0);
    assert_non_null(big);
    assert_false(slab_owns(big));
    assert_true(slab_owns(edge));
    assert_false(slab_owns(none));
    assert_int_equal(stats().objects, 1);
    slab_free(big);
    slab_free(edge);
    slab_free(none);
    slab_free(NULL);
    assert_int_equal(stats().objects, 0);
}

/* Once every class is taken a new size goes to malloc: of the 64 sizes
 * 16..1024, exactly SLAB_MAX_CLASSES are served by slabs, whichever earlier
 * tests created. */
static void test_sizes_beyond_the_classes_go_to_malloc(void **state)
{
    (void)state;
    void *p[SLAB_MAX_OBJECT / 16];
    size_t owned = 0;
    for (size_t i = 0; i < SLAB_MAX_OBJECT / 16; i++) {
        p[i] = slab_malloc((i + 1) * 16);
        assert_non_null(p[i]);
        owned += slab_owns(p[i]);
    }
    assert_int_equal(owned, SLAB_MAX_CLASSES);
    for (size_t i = 0; i < SLAB_MAX_OBJECT / 16; i++)
        slab_free(p[i]);
    assert_int_equal(stats().objects, 0);
}

static void test_realloc_keeps_the_contents(void **state)
{
    (void)state;
    char *p = slab_malloc(100); /* a 112-byte slot */
    memset(p, 'x', 100);
    assert_ptr_equal(slab_realloc(p, 112), p); /* fits its slot: stays */
    char *q = slab_realloc(p, 500);            /* does not: moves to malloc */
    assert_non_null(q);
    assert_false(slab_owns(q));
    for (int i = 0; i < 100; i++)
        assert_int_equal(q[i], 'x');
    assert_int_equal(stats().objects, 0);
    q = slab_realloc(q, 1000); /* a malloc block stays one */
    assert_false(slab_owns(q));
    assert_int_equal(q[99], 'x');
    assert_null(slab_realloc(q, 0)); /* frees */

    p = slab_malloc(48);
    assert_null(slab_realloc(p, 0));
    assert_int_equal(stats().objects, 0);
}

/* Many objects: several slabs, no two objects overlapping, all freed back;
 * the empty slabs are given back by slab_trim and then taken again. */
#define MANY 5000
static void test_empty_slabs_are_given_back_and_reused(void **state)
{
    (void)state;
    static uint32_t *obj[MANY];
    for (uint32_t i = 0; i < MANY; i++) {
        obj[i] = slab_malloc(208);
        assert_true(slab_owns(obj[i]));
        for (int w = 0; w < 208 / 4; w++)
            obj[i][w] = i;
    }
    for (uint32_t i = 0; i < MANY; i++)
        for (int w = 0; w < 208 / 4; w++)
            assert_int_equal(obj[i][w], i);
    size_t slabs = stats().slabs, released = stats().released;
    /* 64 KiB slabs of 208-byte slots: 314 a slab, 16 for 5,000 */
    assert_int_equal(slabs, (MANY + 313) / 314);

    for (uint32_t i = 0; i < MANY; i++)
        slab_free(obj[i]);
    assert_int_equal(stats().objects, 0);
    assert_int_equal(stats().slabs, 0);
    assert_int_equal(stats().empty, slabs);

    size_t bytes = slab_trim();
    assert_true(bytes >= slabs * 60 * 1024); /* all but each header's page */
    assert_int_equal(stats().empty, 0);
    assert_int_equal(stats().released, released + slabs);
    assert_int_equal(slab_trim(), 0); /* nothing left to give */

    /* taken again, by another class, and zeroed by slab_calloc */
    unsigned char *p = slab_calloc(64);
    assert_true(slab_owns(p));
    assert_int_equal(stats().released, released + slabs - 1);
    for (int i = 0; i < 64; i++)
        assert_int_equal(p[i], 0);
    slab_free(p);
}

/* The loop and a worker (slab_trim) use it at once: threads allocating,
 * checking and freeing their own objects never see another's. */
#define THREADS 4
#define ROUNDS 20000
static void *churn(void *arg)
{
    uintptr_t id = (uintptr_t)arg;
    uint64_t *held[64] = {0};
    uint32_t seed = (uint32_t)id * 2654435761u + 1;
    for (int r = 0; r < ROUNDS; r++) {
        seed = seed * 1103515245u + 12345u;
        int k = (int)(seed >> 16) % 64;
        if (held[k]) {
            if (held[k][0] != id || held[k][1] != (uint64_t)k)
                return (void *)1;
            slab_free(held[k]);
            held[k] = NULL;
        } else {
            held[k] = slab_malloc(16 + (size_t)k % 4 * 16);
            if (!held[k])
                return (void *)1;
            held[k][0] = id;
            held[k][1] = (uint64_t)k;
        }
        if (id == 0 && r % 1000 == 0)
            slab_trim();
    }
    for (int k = 0; k < 64; k++)
        slab_free(held[k]);
    return NULL;
}

static void test_threads_share_it_safely(void **state)
{
    (void)state;
    pthread_t t[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, churn, (void *)i), 0);
    for (int i = 0; i < THREADS; i++) {
        void *failed;
        pthread_join(t[i], &failed);
        assert_null(failed);
    }
    assert_int_equal(stats().objects, 0);
}

static void test_turned_off_it_is_malloc(void **state)
{
    (void)state;
    void *before = slab_malloc(64);
    assert_true(slab_owns(before));
    slab_use_slabs(false);
    void *p = slab_calloc(64);
    assert_false(slab_owns(p));
    slab_free(p);
    slab_free(before); /* an object of a slab is still freed into it */
    assert_int_equal(stats().objects, 0);
    slab_use_slabs(true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_objects_are_zeroed_and_counted, setup),
        cmocka_unit_test_setup(test_a_class_is_sizes_rounded_to_16_bytes, setup),
        cmocka_unit_test_setup(test_a_freed_slot_is_reused, setup),
        cmocka_unit_test_setup(test_other_sizes_come_from_malloc, setup),
        cmocka_unit_test_setup(test_realloc_keeps_the_contents, setup),
        cmocka_unit_test_setup(test_empty_slabs_are_given_back_and_reused, setup),
        cmocka_unit_test_setup(test_threads_share_it_safely, setup),
        cmocka_unit_test_setup(test_turned_off_it_is_malloc, setup),
        /* last: it takes every class left */
        cmocka_unit_test_setup(test_sizes_beyond_the_classes_go_to_malloc, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
