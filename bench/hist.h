/* hist.h — a log-linear latency histogram in the style of HdrHistogram.
 *
 * Values are microseconds. Below 256 µs every value has its own bucket (1 µs
 * resolution); above, each power of two is split into 128 buckets, so any
 * recorded value is reported within 1/128 (< 0.8 %) of what it was. Fixed
 * size, no allocation, O(1) record: cheap enough to sit on the hot path of a
 * load generator that shares the CPU with the system it measures. */
#ifndef QRLOGIN_BENCH_HIST_H
#define QRLOGIN_BENCH_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 8                       /* 256 sub-buckets in bucket 0 */
#define HIST_HALF (1u << (HIST_SUB_BITS - 1)) /* 128 per later power of two */
#define HIST_MAX_BUCKET 26                    /* covers up to 2^34 µs (~4.8 h) */
#define HIST_SLOTS (HIST_HALF * HIST_MAX_BUCKET + (1u << HIST_SUB_BITS))

struct hist {
    uint64_t count;
    uint64_t min, max;
    double sum;
    uint64_t slot[HIST_SLOTS];
};

void hist_reset(struct hist *h);
void hist_record(struct hist *h, uint64_t us);
/* The value at quantile q (0..1): the highest value that falls in the same
 * bucket as the q-th recorded value, capped at the true maximum. 0 if empty. */
uint64_t hist_quantile(const struct hist *h, double q);
double hist_mean(const struct hist *h);
/* into += from (used to fold a per-second histogram into the run's). */
void hist_merge(struct hist *into, const struct hist *from);

#endif
