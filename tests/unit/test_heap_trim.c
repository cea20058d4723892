/* test_heap_trim.c — when the broker trims its heap (heap_trim.c): once the
 * number of open sockets has moved by a burst's worth and then held still,
 * with one job on each worker thread (each trims its own arena), never twice
 * for the same burst, never while a trim is still out, and again after the
 * next burst. On a real pool of two threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "heap_trim.h"
#include "workers.h"

#define THREADS 2

/* Runs done() of every finished job until none is out (the event, not a
 * time: each wait is a millisecond before looking again). */
static void finish_jobs(void)
{
    while (workers_pending() > 0) {
        if (!workers_drain())
            nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
    }
}

static void test_trims_once_per_burst_on_every_worker(void **state)
{
    (void)state;
    heap_trim_configure();
    assert_int_equal(workers_start(THREADS, NULL, NULL), 0);
    assert_int_equal(workers_threads(), THREADS);

    /* small changes: no trim */
    heap_trim_tick(0);
    heap_trim_tick(100);
    heap_trim_tick(100);
    assert_int_equal(workers_pending(), 0);

    /* a burst of 300: nothing while it goes on, one job per worker once still */
    heap_trim_tick(400);
    assert_int_equal(workers_pending(), 0);
    heap_trim_tick(400);
    assert_int_equal(workers_pending(), THREADS);

    /* another burst while those are out (their done() has not run): waits */
    heap_trim_tick(800);
    heap_trim_tick(800);
    assert_int_equal(workers_pending(), THREADS);
    finish_jobs();

    /* still at 800, which moved 400 since the last trim: trims now, once */
    heap_trim_tick(800);
    assert_int_equal(workers_pending(), THREADS);
    finish_jobs();
    heap_trim_tick(800);
    heap_trim_tick(800);
    assert_int_equal(workers_pending(), 0);

    /* a burst of closes counts the same */
    heap_trim_tick(100);
    heap_trim_tick(100);
    assert_int_equal(workers_pending(), THREADS);
    finish_jobs();

    workers_stop();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trims_once_per_burst_on_every_worker),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
