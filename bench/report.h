/* report.h — the bench's results, printed as a table for people or as one
 * JSON object (--json) for scripts such as run.sh. */
#ifndef QRLOGIN_BENCH_REPORT_H
#define QRLOGIN_BENCH_REPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "hist.h"

struct idle_result {
    bool ran;
    int requested, ready, failed;
    long rss_before_kib, rss_after_kib;
    long rss_held_kib;          /* at the end of the hold: what waiting sockets keep */
    double open_s;              /* time to open them all and get every ticket */
    double hold_s;
    double broker_cpu_pct;      /* over the hold, 100 = one core */
    double bench_cpu_pct;
    double other_cpu_pct;       /* the rest of the machine (other tenants) */
};

struct load_result {            /* flows or refresh rotations */
    bool ran;
    const char *what;           /* "flows" / "refresh" */
    double target_rate;         /* 0 = flat out */
    double read_ms;             /* flows: ticket.info → confirm, the person reading */
    int inflight, pcs, phones;  /* pool shape (pcs/phones: flows only) */
    int idle_open;              /* idle PC sockets held open meanwhile */
    double secs;                /* measured window (after warm-up) */
    uint64_t done, errors, missed;
    double rate;
    struct hist lat;            /* confirm sent → login received / refresh sent → token */
    struct hist whole;          /* flows: ticket.new sent → login received */
    double broker_cpu_pct, bench_cpu_pct, other_cpu_pct;
    /* of broker_cpu_pct: its event-loop thread, and its worker pool (signing,
     * QR drawing); -1 if /proc did not say */
    double loop_cpu_pct, workers_cpu_pct;
    long rss_kib;
    char error_codes[256];      /* "code=n, …" */
};

void report_table(const struct idle_result *idle, const struct load_result *flows,
                  const struct load_result *refresh);
void report_json(const struct idle_result *idle, const struct load_result *flows,
                 const struct load_result *refresh);

#endif
