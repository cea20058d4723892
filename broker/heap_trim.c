/* heap_trim.c — see heap_trim.h. */
#include "heap_trim.h"

#include <malloc.h>
#include <stdbool.h>
#include <stdlib.h>

#include "clock.h"
#include "log.h"
#include "workers.h"

/* Sockets opened or closed since the last trim that make one worth it: a
 * burst of this many leaves a few hundred kB of holes. */
#define TRIM_AFTER_CHANGE 256
/* Still enough between two ticks to call the burst over. */
#define TRIM_STILL 16

struct trim_job {
    struct work work;
    int64_t took_us;
};

static size_t at_last_trim, at_last_tick;
static bool trimming;

/* On a worker: malloc_trim walks every arena under that arena's lock, so the
 * loop waits for it only if it allocates from the main arena meanwhile and
 * its thread cache cannot serve it. */
static void trim_run(struct work *w)
{
    struct trim_job *j = (struct trim_job *)w;
    int64_t t0 = clock_mono_us();
    malloc_trim(0);
    j->took_us = clock_mono_us() - t0;
}

static void trim_done(struct work *w)
{
    struct trim_job *j = (struct trim_job *)w;
    log_debug("heap trimmed in %lld µs", (long long)j->took_us);
    trimming = false;
    free(j);
}

static size_t distance(size_t a, size_t b) { return a > b ? a - b : b - a; }

void heap_trim_tick(size_t open_sockets)
{
    bool still = distance(open_sockets, at_last_tick) < TRIM_STILL;
    at_last_tick = open_sockets;
    if (trimming || !still || distance(open_sockets, at_last_trim) < TRIM_AFTER_CHANGE)
        return;
    struct trim_job *j = calloc(1, sizeof *j);
    if (!j)
        return;
    j->work.run = trim_run;
    j->work.done = trim_done;
    at_last_trim = open_sockets;
    trimming = true;
    workers_submit(&j->work);
}
