/* metrics.c — see metrics.h. */
#include "metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct metrics metrics;

static const char *const conn_kinds[CONN_KIND__N] = {"anonymous", "pc", "authenticated"};
static const char *const ticket_outcomes[MT__N] = {
    "created", "rotated", "scanned", "confirmed", "denied", "expired", "cancelled", "code_mismatch"};
static const char *const refresh_results[MR__N] = {
    "ok", "grace", "rate_limited", "reused", "expired", "revoked", "invalid", "internal"};

struct out {
    char *p;
    size_t left;
    int overflow;
};

static void emit(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(struct out *o, const char *fmt, ...)
{
    if (o->overflow)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->p, o->left, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= o->left) {
        o->overflow = 1;
        return;
    }
    o->p += n;
    o->left -= (size_t)n;
}

static void family(struct out *o, const char *name, const char *type, const char *help,
                   const char *label, const char *const *values, const int64_t *counts, int n)
{
    emit(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
    for (int i = 0; i < n; i++)
        emit(o, "%s{%s=\"%s\"} %lld\n", name, label, values[i], (long long)counts[i]);
}

static void single(struct out *o, const char *name, const char *type, const char *help,
                   int64_t v)
{
    emit(o, "# HELP %s %s\n# TYPE %s %s\n%s %lld\n", name, help, name, type, name, (long long)v);
}

/* Upper bounds in seconds; Prometheus adds +Inf. */
static const double bucket_le[METRICS_BUCKETS] = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.025,
                                                  0.05,   0.1,   0.25,  0.5,   1.0,  2.5};
static const char *const hist_names[MH__N] = {"qrlogin_confirm_to_login_seconds",
                                              "qrlogin_refresh_seconds"};
static const char *const hist_help[MH__N] = {
    "Time from ticket.confirm received to the login push written to the PC socket.",
    "Time from a token.refresh received to the token reply written."};

void metrics_observe(enum metric_hist h, int64_t usec)
{
    struct histogram *hg = &metrics.hist[h];
    double s = (double)usec / 1e6;
    for (int i = 0; i < METRICS_BUCKETS; i++) {
        if (s <= bucket_le[i]) {
            hg->buckets[i]++;
            break;
        }
    }
    hg->count++;
    hg->sum_seconds += s;
}

static void histogram(struct out *o, enum metric_hist h)
{
    const struct histogram *hg = &metrics.hist[h];
    const char *name = hist_names[h];
    emit(o, "# HELP %s %s\n# TYPE %s histogram\n", name, hist_help[h], name);
    int64_t cum = 0;
    for (int i = 0; i < METRICS_BUCKETS; i++) {
        cum += hg->buckets[i];
        emit(o, "%s_bucket{le=\"%g\"} %lld\n", name, bucket_le[i], (long long)cum);
    }
    emit(o, "%s_bucket{le=\"+Inf\"} %lld\n%s_sum %.6f\n%s_count %lld\n", name,
         (long long)hg->count, name, hg->sum_seconds, name, (long long)hg->count);
}

int metrics_render(char *buf, size_t outsz, int workers_pending, size_t tickets_live)
{
    struct out o = {buf, outsz, 0};
    family(&o, "qrlogin_connections", "gauge", "Open WebSocket connections by kind.", "kind",
           conn_kinds, metrics.conns, CONN_KIND__N);
    family(&o, "qrlogin_tickets_total", "counter", "Login tickets by outcome.", "outcome",
           ticket_outcomes, metrics.tickets, MT__N);
    int64_t logins[2] = {metrics.logins_web, metrics.logins_app};
    static const char *const login_kinds[2] = {"web", "app"};
    family(&o, "qrlogin_logins_total", "counter",
           "Sessions created: web = QR login on a PC, app = phone sign-in.", "kind", login_kinds,
           logins, 2);
    family(&o, "qrlogin_refresh_total", "counter", "Refresh requests by result.", "result",
           refresh_results, metrics.refresh, MR__N);
    const char *revoke_reasons[SESSION_END__N - 1];
    for (int i = 1; i < SESSION_END__N; i++)
        revoke_reasons[i - 1] = session_end_name((enum session_end)i);
    family(&o, "qrlogin_sessions_revoked_total", "counter", "Sessions revoked by reason.",
           "reason", revoke_reasons, metrics.revoked + 1, SESSION_END__N - 1);
    single(&o, "qrlogin_auth_failures_total", "counter", "Failed password sign-ins.",
           metrics.auth_failures);
    single(&o, "qrlogin_rate_limited_total", "counter", "Requests answered rate_limited.",
           metrics.rate_limited);
    single(&o, "qrlogin_bad_requests_total", "counter", "Frames answered bad_request.",
           metrics.bad_requests);
    single(&o, "qrlogin_handshakes_refused_total", "counter",
           "WebSocket handshakes refused (origin, per-IP limit).", metrics.handshakes_refused);
    int64_t fetches[2] = {metrics.jwks_fetch_ok, metrics.jwks_fetch_failed};
    int64_t ext_auth[2] = {metrics.ext_auth_ok, metrics.ext_auth_failed};
    static const char *const ok_error[2] = {"ok", "error"};
    family(&o, "qrlogin_jwks_fetches_total", "counter",
           "Key set fetches of trusted issuers (--trust-issuer) by result.", "result", ok_error,
           fetches, 2);
    single(&o, "qrlogin_jwks_failing", "gauge",
           "Trusted issuers whose last key fetch failed (their last good keys stay in use).",
           metrics.jwks_failing);
    family(&o, "qrlogin_external_auth_total", "counter",
           "Sign-ins with a trusted issuer's token (auth.external, token exchange) by result.",
           "result", ok_error, ext_auth, 2);
    single(&o, "qrlogin_worker_jobs_pending", "gauge", "CPU jobs queued or running.",
           workers_pending);
    single(&o, "qrlogin_tickets_live", "gauge", "Tickets waiting for a scan or a decision.",
           (int64_t)tickets_live);
    for (int h = 0; h < MH__N; h++)
        histogram(&o, (enum metric_hist)h);
    return o.overflow ? -1 : (int)(o.p - buf);
}
