/* test_strpool.c — shared, counted strings (strpool.c): one copy per
 * distinct string whatever the number of holders, freed with the last one,
 * cut at the pool's length, and independent of the hash seed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "rng.h"
#include "strpool.h"

static void test_one_copy_per_string(void **state)
{
    (void)state;
    struct strpool p = STRPOOL_INIT(64);
    const char *a = strpool_hold(&p, "192.0.2.1", 9);
    char same[] = "192.0.2.1"; /* equal, at another address */
    const char *b = strpool_hold(&p, same, strlen(same));
    const char *c = strpool_hold(&p, "192.0.2.10", 10);
    assert_non_null(a);
    assert_ptr_equal(a, b);
    assert_ptr_not_equal(a, c);
    assert_string_equal(a, "192.0.2.1");
    assert_string_equal(c, "192.0.2.10");
    assert_int_equal(strpool_size(&p), 2);
    assert_int_equal(strpool_count(&p, "192.0.2.1"), 2);
    assert_int_equal(strpool_count(&p, "192.0.2.10"), 1);
    assert_int_equal(strpool_count(&p, "192.0.2.2"), 0);

    /* held only by len bytes: a prefix is its own string */
    const char *pre = strpool_hold(&p, "192.0.2.10", 7);
    assert_string_equal(pre, "192.0.2");
    assert_int_equal(strpool_size(&p), 3);
    strpool_release(&p, pre);
    strpool_free(&p);
}

static void test_freed_with_last_holder(void **state)
{
    (void)state;
    struct strpool p = STRPOOL_INIT(64);
    const char *a = strpool_hold(&p, "Mozilla/5.0", 11);
    const char *b = strpool_hold(&p, "Mozilla/5.0", 11);
    strpool_release(&p, a);
    assert_int_equal(strpool_count(&p, "Mozilla/5.0"), 1);
    assert_string_equal(b, "Mozilla/5.0"); /* still there for the other holder */
    strpool_release(&p, b);
    assert_int_equal(strpool_count(&p, "Mozilla/5.0"), 0);
    assert_int_equal(strpool_size(&p), 0);
    strpool_release(&p, NULL); /* ignored */

    /* held again after it went: a fresh copy, counted from one */
    const char *c = strpool_hold(&p, "Mozilla/5.0", 11);
    assert_int_equal(strpool_count(&p, "Mozilla/5.0"), 1);
    strpool_release(&p, c);
    strpool_free(&p); /* valgrind/ASan: nothing left behind */
}

/* Longer strings are cut, and the cut ones share a copy; a lookup of a
 * string longer than anything the pool may hold finds nothing. */
static void test_cut_at_max_len(void **state)
{
    (void)state;
    struct strpool p = STRPOOL_INIT(8);
    const char *a = strpool_hold(&p, "abcdefghij", 10);
    const char *b = strpool_hold(&p, "abcdefghXYZ", 11);
    assert_string_equal(a, "abcdefgh");
    assert_ptr_equal(a, b);
    assert_int_equal(strpool_count(&p, "abcdefgh"), 2);
    assert_int_equal(strpool_count(&p, "abcdefghij"), 0);
    strpool_release(&p, a);
    strpool_release(&p, b);
    strpool_free(&p);
}

/* Many distinct strings (the map grows) and many holders of each: every
 * count right, every copy freed. */
static void test_many(void **state)
{
    (void)state;
    struct strpool p = STRPOOL_INIT(32);
    enum { N = 3000, HOLDERS = 3 };
    static const char *held[N][HOLDERS];
    char buf[32];
    for (int h = 0; h < HOLDERS; h++)
        for (int i = 0; i < N; i++) {
            int n = snprintf(buf, sizeof buf, "agent-%d", i);
            held[i][h] = strpool_hold(&p, buf, (size_t)n);
            assert_non_null(held[i][h]);
            assert_ptr_equal(held[i][h], held[i][0]);
        }
    assert_int_equal(strpool_size(&p), N);
    for (int i = 0; i < N; i++) {
        snprintf(buf, sizeof buf, "agent-%d", i);
        assert_int_equal(strpool_count(&p, buf), HOLDERS);
        for (int h = 0; h < HOLDERS; h++)
            strpool_release(&p, held[i][h]);
    }
    assert_int_equal(strpool_size(&p), 0);
    strpool_free(&p);
}

/* Two pools (two seeds) agree on every answer: the seed changes where a
 * string lives in the map, never what the pool says. */
static void test_seed_changes_nothing_visible(void **state)
{
    (void)state;
    struct strpool p = STRPOOL_INIT(32), q = STRPOOL_INIT(32);
    const char *x = strpool_hold(&p, "same", 4);
    const char *y = strpool_hold(&q, "same", 4);
    assert_true(p.seeded && q.seeded);
    assert_true(p.seed != q.seed); /* 2^-64 to fail by chance */
    assert_ptr_not_equal(x, y);
    assert_int_equal(strpool_count(&p, "same"), strpool_count(&q, "same"));
    strpool_release(&p, x);
    strpool_release(&q, y);
    strpool_free(&p);
    strpool_free(&q);
}

int main(void)
{
    if (rng_init())
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_copy_per_string),
        cmocka_unit_test(test_freed_with_last_holder),
        cmocka_unit_test(test_cut_at_max_len),
        cmocka_unit_test(test_many),
        cmocka_unit_test(test_seed_changes_nothing_visible),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
