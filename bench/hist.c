/* hist.c — see hist.h. */
#include "hist.h"

#include <string.h>

void hist_reset(struct hist *h) { memset(h, 0, sizeof *h); }

/* Bucket b holds values whose top set bit is at position b + 7 (b >= 1), or
 * everything below 256 (b == 0). Inside it, the value shifted right by b is
 * the sub-bucket: 0..255 for b == 0, 128..255 above. slot = 128·b + sub
 * then runs without gaps. */
static unsigned slot_of(uint64_t v)
{
    unsigned b = 0;
    if (v >= (1u << HIST_SUB_BITS)) {
        unsigned msb = 63u - (unsigned)__builtin_clzll(v);
        b = msb - (HIST_SUB_BITS - 1);
    }
    if (b > HIST_MAX_BUCKET) /* clamp absurd values into the last slot */
        return HIST_SLOTS - 1;
    return HIST_HALF * b + (unsigned)(v >> b);
}

static uint64_t slot_high(unsigned s)
{
    if (s < (1u << HIST_SUB_BITS))
        return s;
    unsigned b = s / HIST_HALF - 1;
    uint64_t sub = s - HIST_HALF * b;
    return ((sub + 1) << b) - 1;
}

void hist_record(struct hist *h, uint64_t us)
{
    if (!h->count || us < h->min)
        h->min = us;
    if (us > h->max)
        h->max = us;
    h->count++;
    h->sum += (double)us;
    h->slot[slot_of(us)]++;
}

uint64_t hist_quantile(const struct hist *h, double q)
{
    if (!h->count)
        return 0;
    uint64_t want = (uint64_t)(q * (double)h->count + 0.999999);
    if (want < 1)
        want = 1;
    if (want > h->count)
        want = h->count;
    uint64_t seen = 0;
    for (unsigned s = 0; s < HIST_SLOTS; s++) {
        seen += h->slot[s];
        if (seen >= want) {
            uint64_t v = slot_high(s);
            return v > h->max ? h->max : v;
        }
    }
    return h->max;
}

double hist_mean(const struct hist *h) { return h->count ? h->sum / (double)h->count : 0.0; }

void hist_merge(struct hist *into, const struct hist *from)
{
    if (!from->count)
        return;
    if (!into->count || from->min < into->min)
        into->min = from->min;
    if (from->max > into->max)
        into->max = from->max;
    into->count += from->count;
    into->sum += from->sum;
    for (unsigned s = 0; s < HIST_SLOTS; s++)
        into->slot[s] += from->slot[s];
}
