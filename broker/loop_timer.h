/* loop_timer.h — one deadline timer on the event loop for a module that
 * keeps its own sorted deadlines (ticket expiry, grace sweeps).
 *
 * The owner embeds a struct loop_timer, says what to run when it falls due,
 * and calls loop_timer_at() whenever a new deadline may be the earliest. The
 * timer keeps at most one lws timer armed, for the earliest deadline it has
 * been told of: lws 4.1 keeps its timers in one sorted list, and re-arming on
 * every new ticket would walk it each time, while a new ticket almost always
 * expires last.
 *
 * Until loop_timers_start() gives the module the loop, arming does nothing:
 * unit tests drive the owners' sweeps themselves with a fake clock, and need
 * no event loop for it. Loop thread only. */
#ifndef QRLOGIN_LOOP_TIMER_H
#define QRLOGIN_LOOP_TIMER_H

#include <stdbool.h>
#include <stdint.h>

#include <libwebsockets.h>

struct loop_timer {
    /* Runs what is due at now_ms; returns the next deadline (ms) or 0. */
    int64_t (*fire)(int64_t now_ms);
    /* the timer's own: */
    lws_sorted_usec_list_t sul;
    int64_t armed_at; /* ms the lws timer is set for; 0 = not armed */
    struct loop_timer *next_known; /* every timer armed since start */
    bool known;
};

#define LOOP_TIMER_INIT(fn) {.fire = (fn)}

/* The loop every timer runs on from now on. A timer must outlive the loop
 * (a module's static): loop_timers_stop() reaches every one armed since. */
void loop_timers_start(struct lws_context *ctx);

/* Cancels every timer and stops arming: before the lws context is
 * destroyed, since a cancel touches the context's timer list. */
void loop_timers_stop(void);

/* Makes sure t fires no later than deadline_ms (0 = nothing to do). An
 * earlier fire is harmless: the owner finds nothing due and returns its next
 * deadline. */
void loop_timer_at(struct loop_timer *t, int64_t deadline_ms);

void loop_timer_cancel(struct loop_timer *t);

#endif
