/* metrics.h — counters and gauges for GET /metrics (Prometheus text format).
 * Updated only on the loop thread, so plain integers suffice. */
#ifndef QRLOGIN_METRICS_H
#define QRLOGIN_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "session_end.h"

enum metric_conn_kind { CONN_KIND_ANON, CONN_KIND_PC, CONN_KIND_AUTHED, CONN_KIND__N };

enum metric_ticket {
    MT_CREATED, MT_ROTATED, MT_SCANNED, MT_CONFIRMED, MT_DENIED, MT_EXPIRED,
    MT_CANCELLED, MT_CODE_MISMATCH, MT__N
};

enum metric_refresh {
    MR_OK, MR_GRACE, MR_RATE_LIMITED, MR_REUSED, MR_EXPIRED, MR_REVOKED, MR_INVALID,
    MR_INTERNAL, /* answered internal: the store failed (the token may be fine) */
    MR__N
};

/* Latency histograms: confirm received → `login` written to the PC's socket,
 * and refresh received → `token` written. */
enum metric_hist { MH_CONFIRM_TO_LOGIN, MH_REFRESH, MH__N };
#define METRICS_BUCKETS 12

struct histogram {
    int64_t buckets[METRICS_BUCKETS]; /* cumulative counts are computed on render */
    int64_t count;
    double sum_seconds;
};

struct metrics {
    int64_t conns[CONN_KIND__N];   /* gauge: open WebSocket connections by kind */
    int64_t tickets[MT__N];        /* counter: ticket events by outcome */
    int64_t logins_web, logins_app;
    int64_t refresh[MR__N];
    int64_t revoked[SESSION_END__N]; /* by why it ended; [SESSION_LIVE] unused */
    int64_t auth_failures;
    int64_t rate_limited;
    int64_t bad_requests;
    int64_t handshakes_refused;
    /* federation (jwks_cache.c, federation.c) */
    int64_t jwks_fetch_ok, jwks_fetch_failed;
    int64_t ext_auth_ok, ext_auth_failed;
    int64_t jwks_failing; /* gauge: trusted issuers whose last key fetch failed */
    struct histogram hist[MH__N];
};

void metrics_observe(enum metric_hist h, int64_t usec);

extern struct metrics metrics;

/* Renders the exposition text into out. Returns the length or -1 if short. */
/* workers_pending and tickets_live are gauges owned by other modules. */
int metrics_render(char *out, size_t outsz, int workers_pending, size_t tickets_live);

#endif
