/* heap_trim.c — see heap_trim.h. */
#include "heap_trim.h"

#include <malloc.h>
#include <stdbool.h>
#include <stdlib.h>

#include "clock.h"
#include "log.h"
#include "slab.h"
#include "workers.h"

/* Sockets opened or closed since the last trim that make one worth it: a
 * burst of this many leaves a few hundred kB of holes. */
#define TRIM_AFTER_CHANGE 256
/* Still enough between two ticks to call the burst over. */
#define TRIM_STILL 16
/* glibc shrinks a thread's arena when a free that reaches its top leaves at
 * least M_TRIM_THRESHOLD there (and merged at least 64 KiB); no free after a
 * burst need be that large, so each worker makes one: ARENA_NUDGE, below the
 * mmap threshold so that it comes from the arena, above the trim threshold so
 * that its free trims. The trim threshold is glibc's default: lower, the main
 * arena gives its top back after every large free and asks for it again at
 * once (brk 3,800 times a second under refresh rotations, flat out, at 64 KiB).
 * TOP_PAD: what an arena keeps above its top after a trim and adds when it
 * grows — glibc's default 128 KiB stayed resident in each worker's arena after
 * a burst; with none, the loop's heap asked for memory 600 times a second under
 * refresh rotations flat out, with 32 KiB 40 times. */
#define TOP_PAD (32 * 1024)
#define TRIM_THRESHOLD (128 * 1024)
#define MMAP_THRESHOLD (256 * 1024)
#define ARENA_NUDGE (192 * 1024)

struct trim_job {
    struct work work;
    bool whole_heap; /* one of the jobs also trims the main arena and the slabs */
    int64_t took_us;
};

static size_t at_last_trim, at_last_tick;
static bool trimming;
static int jobs_out;

void heap_trim_configure(void)
{
    /* Setting any of these stops glibc adapting the mmap and trim thresholds
     * as the program runs: these are where it starts them, or above. */
    mallopt(M_TOP_PAD, TOP_PAD);
    mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD);
    mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD);
}

/* On a worker: malloc_trim walks every arena under that arena's lock, so the
 * loop waits for it only if it allocates from the main arena meanwhile and
 * its thread cache cannot serve it. */
static void trim_run(struct work *w)
{
    struct trim_job *j = (struct trim_job *)w;
    int64_t t0 = clock_mono_us();
    if (j->whole_heap) {
        malloc_trim(0); /* whole free pages of every arena, the main one's top */
        slab_trim();
    }
    /* This thread's arena's top (malloc_trim leaves it): a free large enough
     * that glibc trims the top. volatile: the pair must not be optimised away. */
    void *volatile nudge = malloc(ARENA_NUDGE);
    free(nudge);
    j->took_us = clock_mono_us() - t0;
}

static void trim_done(struct work *w)
{
    struct trim_job *j = (struct trim_job *)w;
    if (j->whole_heap)
        log_debug("heap trimmed in %lld µs", (long long)j->took_us);
    if (--jobs_out == 0)
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
    at_last_trim = open_sockets;
    /* One job on each worker thread, each of which owns an arena. */
    int threads = workers_threads();
    for (int i = 0; i < (threads ? threads : 1); i++) {
        struct trim_job *j = calloc(1, sizeof *j);
        if (!j)
            break;
        j->work.run = trim_run;
        j->work.done = trim_done;
        j->whole_heap = i == 0;
        jobs_out++;
        trimming = true;
        workers_submit_ordered(&j->work, (uint64_t)i);
    }
}
