/* qrl_client.c — the client's socket: its lws context, the service thread
 * (or the caller's loop), connecting and reconnecting with backoff, reading
 * whole frames and writing queued requests, and turning pushes into events. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/x509.h>

#include "qrl_internal.h"

#define RX_MAX (256 * 1024) /* a ticket's SVG is the largest frame we expect (~10 KiB) */
#define BACKOFF_FIRST_MS 250

int64_t qrl_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void qrl_err_set(struct qrl_error *e, int status, const char *code, const char *msg)
{
    if (!e)
        return;
    memset(e, 0, sizeof *e);
    e->status = status;
    snprintf(e->code, sizeof e->code, "%s", code ? code : "");
    snprintf(e->message, sizeof e->message, "%s", msg ? msg : qrl_status_str(status));
}

const char *qrl_status_str(int status)
{
    switch (status) {
    case QRL_OK: return "ok";
    case QRL_ERR_SERVER: return "refused by the broker";
    case QRL_ERR_DISCONNECTED: return "the connection dropped";
    case QRL_ERR_TIMEOUT: return "timed out";
    case QRL_ERR_NO_TOKENS: return "not signed in";
    case QRL_ERR_INVALID: return "invalid argument";
    case QRL_ERR_NOMEM: return "out of memory";
    case QRL_ERR_CLOSED: return "the client is closing";
    case QRL_ERR_WOULD_BLOCK: return "blocking call on the service thread";
    case QRL_ERR_CONNECT: return "could not connect";
    case QRL_ERR_PROTOCOL: return "unexpected answer from the broker";
    }
    return "unknown status";
}

void qrl_free(void *p)
{
    free(p);
}

/* ---- events ---- */

void qrl_emit(qrl_client *c, const struct qrl_event *ev)
{
    if (c->cfg.on_event)
        c->cfg.on_event(ev, c->cfg.user);
}

void qrl_emit_simple(qrl_client *c, enum qrl_event_type type, const char *reason,
                     const char *session_id)
{
    struct qrl_event ev = {.type = type, .reason = reason, .session_id = session_id};
    qrl_emit(c, &ev);
}

/* ---- cross-thread wake-ups ---- */

void qrl_kick(qrl_client *c)
{
    pthread_mutex_lock(&c->mu);
    c->kicked = 1;
    pthread_mutex_unlock(&c->mu);
    lws_cancel_service(c->ctx);
}

int qrl_on_service_thread(qrl_client *c)
{
    return c->in_service && pthread_equal(c->service_tid, pthread_self());
}

/* The work other threads left: something to write, a timer to arm. */
static void drain_kicks(qrl_client *c)
{
    pthread_mutex_lock(&c->mu);
    int kicked = c->kicked, resched = c->resched_refresh, ready = c->ready;
    c->kicked = 0;
    c->resched_refresh = 0;
    pthread_mutex_unlock(&c->mu);
    if (resched)
        qrl_tokens_timer(c);
    if (kicked && ready && c->wsi)
        lws_callback_on_writable(c->wsi);
}

/* ---- connecting ---- */

static void connect_now(lws_sorted_usec_list_t *sul);

static void schedule_reconnect(qrl_client *c)
{
    if (atomic_load(&c->stopping))
        return;
    unsigned ceiling = c->cfg.reconnect_max_ms ? (unsigned)c->cfg.reconnect_max_ms : 10000;
    unsigned ms = c->backoff_ms ? c->backoff_ms : BACKOFF_FIRST_MS;
    c->backoff_ms = ms * 2 > ceiling ? ceiling : ms * 2;
    /* ±20 % jitter so that clients cut off together do not return together. */
    ms = ms * 4 / 5 + (unsigned)rand_r(&c->rand_state) % (ms * 2 / 5 + 1);
    lws_sul_schedule(c->ctx, 0, &c->sul_connect, connect_now, (lws_usec_t)ms * LWS_US_PER_MS);
}

static void connect_failed(qrl_client *c, const char *why)
{
    pthread_mutex_lock(&c->mu);
    c->connect_failures++;
    snprintf(c->connect_error, sizeof c->connect_error, "%s", why);
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    qrl_emit_simple(c, QRL_EV_CONNECT_FAILED, why, NULL);
    schedule_reconnect(c);
}

static void connect_now(lws_sorted_usec_list_t *sul)
{
    qrl_client *c = lws_container_of(sul, qrl_client, sul_connect);
    if (atomic_load(&c->stopping) || c->wsi)
        return;
    struct lws_client_connect_info i;
    memset(&i, 0, sizeof i);
    i.context = c->ctx;
    i.address = c->host;
    i.port = c->port;
    i.path = c->path;
    i.host = c->host;
    i.protocol = "qrlogin.v1";
    i.local_protocol_name = "qrlogin-client";
    i.ssl_connection = c->tls ? LCCSCF_USE_SSL : 0;
    i.ietf_version_or_minus_one = -1;
    i.pwsi = &c->wsi;
    i.opaque_user_data = c;
    if (!lws_client_connect_via_info(&i) && !c->wsi) {
        /* lws may already have reported CONNECTION_ERROR (which rescheduled). */
        if (!lws_dll2_is_detached(&c->sul_connect.list))
            return;
        connect_failed(c, "could not start a connection");
    }
}

/* ---- frames in ---- */

static void on_hello(qrl_client *c, const struct qrl_frame *f)
{
    pthread_mutex_lock(&c->mu);
    c->ready = 1;
    c->attached = 0;
    if (f->server_time > 0)
        c->clock_offset_ms = f->server_time - wall_ms();
    qrl_tokens_on_hello_locked(c);
    /* Tickets do not survive a reconnect (the broker cancels a closed
     * socket's ticket): a client still waiting for a login asks again. */
    if (c->want_ticket && !c->tok.have) {
        char *body = qrl_ticket_new_body(c);
        if (body)
            qrl_enqueue_locked(c, body, QRL_REQ_FRONT, NULL, NULL);
        free(body);
    }
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    c->backoff_ms = 0;
    qrl_emit_simple(c, QRL_EV_CONNECTED, NULL, NULL);
    lws_callback_on_writable(c->wsi);
}

static void on_frame(qrl_client *c, const char *js, size_t len)
{
    struct qrl_frame f;
    if (qrl_frame_parse(&f, js, len))
        return; /* not a frame of the protocol: nothing to tell anyone */
    if (!strcmp(f.type, "hello")) {
        on_hello(c, &f);
        qrl_frame_free(&f);
        return;
    }
    if (!strcmp(f.type, "login")) {
        pthread_mutex_lock(&c->mu);
        c->want_ticket = 0;
        c->want_attach = 1;
        pthread_mutex_unlock(&c->mu);
        qrl_tokens_store(c, &f, 1); /* the PC socket is attached by the login */
    } else if (!strcmp(f.type, "ticket.expired")) {
        pthread_mutex_lock(&c->mu);
        c->want_ticket = 0;
        pthread_mutex_unlock(&c->mu);
    }
    struct qrl_event ev;
    if (qrl_frame_event(&f, js, len, &ev))
        qrl_emit(c, &ev);
    if (!strcmp(f.type, "login")) {
        struct qrl_event t = {.type = QRL_EV_TOKENS,
                              .expires_in = f.expires_in,
                              .session_id = f.session_id,
                              .user_id = f.user_id,
                              .user_name = f.user_name};
        qrl_emit(c, &t);
    } else if (!strcmp(f.type, "session.revoked")) {
        qrl_tokens_forget(c, f.reason[0] ? f.reason : "revoked", f.session_id);
    }
    if (f.has_id)
        qrl_answer(c, &f, js, len);
    qrl_frame_free(&f);
}

static void on_receive(qrl_client *c, struct lws *wsi, const void *in, size_t len)
{
    if (lws_frame_is_binary(wsi))
        return;
    if (c->rx_len + len > RX_MAX) {
        /* Bigger than anything the broker sends: drop it whole. */
        c->rx_len = RX_MAX + 1;
    } else {
        char *p = realloc(c->rx, c->rx_len + len + 1);
        if (!p) {
            c->rx_len = RX_MAX + 1;
        } else {
            c->rx = p;
            memcpy(c->rx + c->rx_len, in, len);
            c->rx_len += len;
        }
    }
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
        return;
    if (c->rx_len <= RX_MAX)
        on_frame(c, c->rx, c->rx_len);
    c->rx_len = 0;
}

static int on_writeable(qrl_client *c, struct lws *wsi)
{
    size_t len;
    int more = 0;
    unsigned char *buf = qrl_take_unsent(c, &len, &more);
    if (!buf)
        return 0;
    int n = lws_write(wsi, buf + LWS_PRE, len, LWS_WRITE_TEXT);
    free(buf);
    if (n < (int)len)
        return -1;
    if (more)
        lws_callback_on_writable(wsi);
    return 0;
}

static void on_closed(qrl_client *c)
{
    c->wsi = NULL;
    c->rx_len = 0;
    pthread_mutex_lock(&c->mu);
    c->ready = 0;
    c->attached = 0;
    pthread_mutex_unlock(&c->mu);
    if (atomic_load(&c->stopping))
        return;
    qrl_requests_disconnected(c);
    qrl_emit_simple(c, QRL_EV_DISCONNECTED, "closed", NULL);
    schedule_reconnect(c);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    qrl_client *c = lws_context_user(lws_get_context(wsi));
    if (!c)
        return 0;
    switch (reason) {
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        drain_kicks(c);
        break;
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
        /* No Origin (a native client); a User-Agent the phone can show. */
        unsigned char **p = in, *end = *p + len;
        const char *ua = c->user_agent ? c->user_agent : "libqrlogin/1";
        if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_USER_AGENT,
                                         (const unsigned char *)ua, (int)strlen(ua), p, end))
            return -1;
        break;
    }
    case LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION:
        /* lws reports a refused certificate only as "SSL err 1": keep
         * OpenSSL's own words for the error a person will read. We only
         * listen here; the verdict stays OpenSSL's (len = preverify_ok). */
        if (!len && user) {
            int e = X509_STORE_CTX_get_error((X509_STORE_CTX *)user);
            snprintf(c->tls_error, sizeof c->tls_error, "TLS: the broker's certificate was refused (%s)",
                     X509_verify_cert_error_string(e));
        }
        break;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
        char why[200];
        snprintf(why, sizeof why, "%s", c->tls_error[0] ? c->tls_error
                                        : in ? (const char *)in : "connection failed");
        c->tls_error[0] = '\0';
        c->wsi = NULL;
        connect_failed(c, why);
        break;
    }
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        c->rx_len = 0;
        break; /* ready only after hello */
    case LWS_CALLBACK_CLIENT_RECEIVE:
        on_receive(c, wsi, in, len);
        break;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return on_writeable(c, wsi);
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (wsi == c->wsi)
            on_closed(c);
        break;
    default:
        break;
    }
    return 0;
}

static const struct lws_protocols protocols[] = {
    {"qrlogin-client", callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* lws pings a quiet connection and drops it when no pong comes, so a broker
 * that vanished without a FIN is noticed. The broker pings us too. */
static const lws_retry_bo_t idle_policy = {
    .secs_since_valid_ping = 40,
    .secs_since_valid_hangup = 70,
};

/* ---- the URL ---- */

static int parse_url(qrl_client *c, const char *url, struct qrl_error *err)
{
    const char *rest;
    if (!strncmp(url, "wss://", 6) || !strncmp(url, "https://", 8)) {
        c->tls = 1;
        c->port = 443;
    } else if (!strncmp(url, "ws://", 5) || !strncmp(url, "http://", 7)) {
        c->port = 80;
    } else {
        qrl_err_set(err, QRL_ERR_INVALID, "bad_url", "the URL must start with ws://, wss://, http:// or https://");
        return -1;
    }
    int http = url[0] == 'h';
    rest = strstr(url, "://") + 3;
    size_t hostlen = strcspn(rest, ":/?#");
    if (hostlen == 0 || hostlen >= sizeof c->host) {
        qrl_err_set(err, QRL_ERR_INVALID, "bad_url", "the URL has no host");
        return -1;
    }
    memcpy(c->host, rest, hostlen);
    c->host[hostlen] = '\0';
    rest += hostlen;
    if (*rest == ':') {
        char *end;
        long p = strtol(rest + 1, &end, 10);
        if (p <= 0 || p > 65535 || (*end && *end != '/')) {
            qrl_err_set(err, QRL_ERR_INVALID, "bad_url", "the URL's port is not a port");
            return -1;
        }
        c->port = (int)p;
        rest = end;
    }
    /* An http(s) base URL (what the QR and the pages use) means its /ws. */
    size_t plen = strcspn(rest, "?#");
    const char *path = plen ? rest : "/";
    if (http) {
        while (plen && rest[plen - 1] == '/')
            plen--;
        if (snprintf(c->path, sizeof c->path, "%.*s/ws", (int)plen, rest) >= (int)sizeof c->path)
            goto toolong;
    } else if (snprintf(c->path, sizeof c->path, "%.*s", (int)(plen ? plen : 1), path) >=
               (int)sizeof c->path) {
        goto toolong;
    }
    return 0;
toolong:
    qrl_err_set(err, QRL_ERR_INVALID, "bad_url", "the URL's path is too long");
    return -1;
}

/* ---- lifecycle ---- */

static void *service_thread(void *arg)
{
    qrl_client *c = arg;
    pthread_mutex_lock(&c->mu);
    c->service_tid = pthread_self();
    c->in_service = 1;
    pthread_mutex_unlock(&c->mu);
    while (!atomic_load(&c->stopping))
        lws_service(c->ctx, 0);
    return NULL;
}

static char *dup_opt(const char *s, int *oom)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *oom = 1;
    return d;
}

static void free_strings(qrl_client *c)
{
    free(c->url);
    free(c->ca_file);
    free(c->client_name);
    free(c->user_agent);
}

qrl_client *qrl_client_new(const struct qrl_config *cfg, struct qrl_error *err)
{
    if (!cfg || !cfg->url) {
        qrl_err_set(err, QRL_ERR_INVALID, "bad_url", "no URL");
        return NULL;
    }
    qrl_client *c = calloc(1, sizeof *c);
    if (!c) {
        qrl_err_set(err, QRL_ERR_NOMEM, "nomem", NULL);
        return NULL;
    }
    if (parse_url(c, cfg->url, err)) {
        free(c);
        return NULL;
    }
    int oom = 0;
    c->cfg = *cfg;
    c->url = dup_opt(cfg->url, &oom);
    c->ca_file = dup_opt(cfg->ca_file, &oom);
    c->client_name = dup_opt(cfg->client_name, &oom);
    c->user_agent = dup_opt(cfg->user_agent, &oom);
    if (oom) {
        free_strings(c);
        free(c);
        qrl_err_set(err, QRL_ERR_NOMEM, "nomem", NULL);
        return NULL;
    }
    c->cfg.url = c->url;
    c->cfg.ca_file = c->ca_file;
    c->cfg.client_name = c->client_name;
    c->cfg.user_agent = c->user_agent;
    if (c->cfg.timeout_ms <= 0)
        c->cfg.timeout_ms = 30000;
    c->rand_state = (unsigned)qrl_mono_ms() ^ (unsigned)(uintptr_t)c;
    c->next_id = 1;
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.user = c;
    info.gid = -1;
    info.uid = -1;
    info.retry_and_idle_policy = &idle_policy;
    /* One socket: do not size lws's tables from a large `ulimit -n`. */
    info.fd_limit_per_thread = 16;
    if (c->tls) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.client_ssl_ca_filepath = c->ca_file;
    }
    c->ctx = lws_create_context(&info);
    if (!c->ctx) {
        qrl_err_set(err, QRL_ERR_CONNECT, "context", "could not create the lws context (TLS set-up or CA file?)");
        goto fail;
    }
    lws_sul_schedule(c->ctx, 0, &c->sul_connect, connect_now, 1);
    c->own_thread = !cfg->external_loop;
    if (c->own_thread && pthread_create(&c->thread, NULL, service_thread, c)) {
        qrl_err_set(err, QRL_ERR_NOMEM, "thread", "could not start the service thread");
        lws_context_destroy(c->ctx);
        goto fail;
    }
    return c;
fail:
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free_strings(c);
    free(c);
    return NULL;
}

void qrl_client_free(qrl_client *c)
{
    if (!c)
        return;
    atomic_store(&c->stopping, 1);
    lws_cancel_service(c->ctx);
    if (c->own_thread)
        pthread_join(c->thread, NULL);
    pthread_mutex_lock(&c->mu);
    c->in_service = 0;
    pthread_mutex_unlock(&c->mu);
    lws_sul_cancel(&c->sul_connect);
    lws_sul_cancel(&c->sul_wake);
    lws_sul_cancel(&c->sul_refresh);
    lws_sul_cancel(&c->sul_retry);
    /* The context's destruction closes the socket; `stopping` keeps the
     * close from scheduling anything. */
    lws_context_destroy(c->ctx);
    qrl_requests_close(c);
    memset(&c->tok, 0, sizeof c->tok); /* no token left in freed memory */
    free(c->rx);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free_strings(c);
    free(c);
}

/* Does nothing: being due is what ends lws_service()'s wait. */
static void wake_up(lws_sorted_usec_list_t *sul)
{
    (void)sul;
}

int qrl_client_service(qrl_client *c, int timeout_ms)
{
    if (c->own_thread)
        return -1;
    pthread_mutex_lock(&c->mu);
    c->service_tid = pthread_self();
    c->in_service = 1;
    pthread_mutex_unlock(&c->mu);
    /* lws_service() sleeps until its next event or timer: a timer of ours
     * bounds the wait. */
    lws_sul_schedule(c->ctx, 0, &c->sul_wake, wake_up,
                     (lws_usec_t)(timeout_ms > 0 ? timeout_ms : 0) * LWS_US_PER_MS + 1);
    lws_service(c->ctx, 0);
    lws_sul_cancel(&c->sul_wake);
    pthread_mutex_lock(&c->mu);
    c->in_service = 0;
    pthread_mutex_unlock(&c->mu);
    return 0;
}

static struct timespec deadline_in(int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

int qrl_client_wait_connected(qrl_client *c, int timeout_ms, struct qrl_error *err)
{
    struct timespec until = deadline_in(timeout_ms > 0 ? timeout_ms : c->cfg.timeout_ms);
    int rc = QRL_OK;
    pthread_mutex_lock(&c->mu);
    if (qrl_on_service_thread(c)) {
        pthread_mutex_unlock(&c->mu);
        qrl_err_set(err, QRL_ERR_WOULD_BLOCK, "would_block", NULL);
        return QRL_ERR_WOULD_BLOCK;
    }
    uint64_t failures = c->connect_failures;
    while (!c->ready && c->connect_failures == failures && !atomic_load(&c->stopping)) {
        if (pthread_cond_timedwait(&c->cv, &c->mu, &until) == ETIMEDOUT)
            break;
    }
    if (c->ready) {
        rc = QRL_OK;
    } else if (c->connect_failures != failures) {
        rc = QRL_ERR_CONNECT;
        qrl_err_set(err, rc, "connect", c->connect_error);
    } else {
        rc = atomic_load(&c->stopping) ? QRL_ERR_CLOSED : QRL_ERR_TIMEOUT;
        qrl_err_set(err, rc, rc == QRL_ERR_CLOSED ? "closed" : "timeout", NULL);
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int qrl_client_connected(qrl_client *c)
{
    pthread_mutex_lock(&c->mu);
    int r = c->ready;
    pthread_mutex_unlock(&c->mu);
    return r;
}

int64_t qrl_client_clock_offset_ms(qrl_client *c)
{
    pthread_mutex_lock(&c->mu);
    int64_t r = c->clock_offset_ms;
    pthread_mutex_unlock(&c->mu);
    return r;
}
