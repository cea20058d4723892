/* test_lws_alloc.c — lws's allocation hook (lws_alloc.c): what lws keeps per
 * connection lands in the slabs, everything else in malloc, and lws's frees
 * and reallocations of either kind find their way back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lws_alloc.h"
#include "slab.h"

static void test_per_connection_objects_go_to_the_slabs(void **state)
{
    (void)state;
    const char *kept[] = {"new server wsi", "ws struct", "rx_ubuf", "uvh"};
    for (size_t i = 0; i < sizeof kept / sizeof *kept; i++) {
        void *p = lws_alloc_realloc(NULL, 200 + i * 16, kept[i]);
        assert_non_null(p);
        assert_true(slab_owns(p));
        assert_null(lws_alloc_realloc(p, 0, "lws_free"));
    }
    struct slab_stats s;
    slab_stats(&s);
    assert_int_equal(s.objects, 0);
}

static void test_short_lived_ones_go_to_malloc(void **state)
{
    (void)state;
    const char *brief[] = {"ah struct", "ah data", "client wsi", "buflist", NULL};
    for (size_t i = 0; i < sizeof brief / sizeof *brief; i++) {
        void *p = lws_alloc_realloc(NULL, 96, brief[i]);
        assert_non_null(p);
        assert_false(slab_owns(p));
        lws_alloc_realloc(p, 0, "lws_free");
    }
}

static void test_growing_a_kept_object_moves_it_with_its_contents(void **state)
{
    (void)state;
    char *p = lws_alloc_realloc(NULL, 84, "rx_ubuf");
    assert_true(slab_owns(p));
    memset(p, 'r', 84);
    char *q = lws_alloc_realloc(p, 4096, "rx_ubuf");
    assert_non_null(q);
    assert_false(slab_owns(q));
    for (int i = 0; i < 84; i++)
        assert_int_equal(q[i], 'r');
    lws_alloc_realloc(q, 0, "lws_free");
    struct slab_stats s;
    slab_stats(&s);
    assert_int_equal(s.objects, 0);
}

int main(void)
{
    slab_use_slabs(true); /* under ASan and valgrind too */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_per_connection_objects_go_to_the_slabs),
        cmocka_unit_test(test_short_lived_ones_go_to_malloc),
        cmocka_unit_test(test_growing_a_kept_object_moves_it_with_its_contents),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
