/* loop_timer.c — see loop_timer.h. */
#include "loop_timer.h"

#include "clock.h"

static struct lws_context *loop;
static struct loop_timer *known; /* every timer armed since start */

void loop_timers_start(struct lws_context *ctx) { loop = ctx; }

void loop_timers_stop(void)
{
    while (known) {
        struct loop_timer *t = known;
        known = t->next_known;
        loop_timer_cancel(t);
        t->next_known = NULL;
        t->known = false;
    }
    loop = NULL;
}

static void on_due(lws_sorted_usec_list_t *sul)
{
    struct loop_timer *t = lws_container_of(sul, struct loop_timer, sul);
    t->armed_at = 0;
    loop_timer_at(t, t->fire(clock_now_ms()));
}

void loop_timer_at(struct loop_timer *t, int64_t deadline_ms)
{
    if (!loop || !deadline_ms || (t->armed_at && t->armed_at <= deadline_ms))
        return;
    int64_t delay_ms = deadline_ms - clock_now_ms();
    if (delay_ms < 0)
        delay_ms = 0;
    t->armed_at = deadline_ms;
    if (!t->known) {
        t->known = true;
        t->next_known = known;
        known = t;
    }
    lws_sul_schedule(loop, 0, &t->sul, on_due, (lws_usec_t)delay_ms * LWS_US_PER_MS);
}

void loop_timer_cancel(struct loop_timer *t)
{
    if (t->armed_at && loop)
        lws_sul_cancel(&t->sul);
    t->armed_at = 0;
}
