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
    "ok", "grace", "rate_limited", "reused", "expired", "revoked", "invalid"};
static const char *const revoke_reasons[MRV__N] = {"logout", "revoked", "logout_all",
                                                   "refresh_reused"};

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

int metrics_render(char *buf, size_t outsz, int workers_pending)
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
    family(&o, "qrlogin_sessions_revoked_total", "counter", "Sessions revoked by reason.",
           "reason", revoke_reasons, metrics.revoked, MRV__N);
    single(&o, "qrlogin_auth_failures_total", "counter", "Failed password sign-ins.",
           metrics.auth_failures);
    single(&o, "qrlogin_rate_limited_total", "counter", "Requests answered rate_limited.",
           metrics.rate_limited);
    single(&o, "qrlogin_bad_requests_total", "counter", "Frames answered bad_request.",
           metrics.bad_requests);
    single(&o, "qrlogin_handshakes_refused_total", "counter",
           "WebSocket handshakes refused (origin, per-IP limit).", metrics.handshakes_refused);
    single(&o, "qrlogin_worker_jobs_pending", "gauge", "CPU jobs queued or running.",
           workers_pending);
    return o.overflow ? -1 : (int)(o.p - buf);
}

enum metric_revoke metrics_revoke_index(const char *reason)
{
    for (int i = 0; i < MRV__N; i++)
        if (!strcmp(reason, revoke_reasons[i]))
            return (enum metric_revoke)i;
    return MRV__N;
}
