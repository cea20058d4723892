/* clock.h — the one source of time for the broker.
 *
 * Every expiry, grace window, rate limit and token lifetime reads time from
 * here, so unit tests can freeze and advance it instead of sleeping. */
#ifndef QRLOGIN_CLOCK_H
#define QRLOGIN_CLOCK_H

#include <stdint.h>

/* Milliseconds since the Unix epoch (wall clock, or the fake one). */
int64_t clock_now_ms(void);

/* Seconds since the Unix epoch (what JWT claims carry). */
static inline int64_t clock_now_s(void) { return clock_now_ms() / 1000; }

/* Monotonic microseconds, never faked: for measuring latencies. */
int64_t clock_mono_us(void);

/* Tests only: freeze time at ms; clock_advance_ms moves it forward. */
void clock_set_fake_ms(int64_t ms);
void clock_advance_ms(int64_t delta_ms);
void clock_use_real(void);

#endif
