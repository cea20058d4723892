/* clock.c — wall clock with a switch for a fake one (see clock.h). */
#include "clock.h"

#include <stdatomic.h>
#include <time.h>

/* 0 means "real clock"; the fake epoch is never 0 in practice. Atomic because
 * worker threads read the clock while signing tokens. */
static _Atomic int64_t fake_ms;

int64_t clock_now_ms(void)
{
    int64_t f = atomic_load(&fake_ms);
    if (f)
        return f;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void clock_set_fake_ms(int64_t ms) { atomic_store(&fake_ms, ms); }
void clock_advance_ms(int64_t delta_ms) { atomic_fetch_add(&fake_ms, delta_ms); }
void clock_use_real(void) { atomic_store(&fake_ms, 0); }
