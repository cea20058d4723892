/* ws_conn.c — see ws_conn.h. */
#include "ws_conn.h"

#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "clock.h"
#include "hub.h"
#include "log.h"
#include "metrics.h"
#include "replies.h"
#include "tickets.h"
#include "ws_dispatch.h"

/* Room for any User-Agent lws accepts: its whole header block is no larger
 * (max_http_header_data, lws's default 4096; server.c leaves it). */
#define UA_HEADER_MAX 4096

/* The socket's lws user pointer is its conn, set at ESTABLISHED with
 * lws_set_wsi_user (NULL before): no per-session data for lws to allocate,
 * 32 bytes less per socket than a pss holding the pointer. */

static void strip_mapped(char *ip)
{
    if (!strncmp(ip, "::ffff:", 7) && strchr(ip + 7, '.'))
        memmove(ip, ip + 7, strlen(ip + 7) + 1);
}

/* X-Forwarded-For lists client, proxy1, proxy2…; each trusted proxy appends
 * the address it saw. Walking from the right, the first address that is not a
 * trusted proxy is the client as far as anyone we trust can tell. */
static void ip_from_forwarded(const char *xff, char *out, size_t outsz)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", xff);
    for (;;) {
        char *comma = strrchr(buf, ',');
        char *item = comma ? comma + 1 : buf;
        while (*item == ' ' || *item == '\t')
            item++;
        size_t n = strlen(item);
        while (n && (item[n - 1] == ' ' || item[n - 1] == '\t'))
            item[--n] = '\0';
        strip_mapped(item);
        if (*item && (!comma || !config_is_trusted_proxy(&broker.cfg, item))) {
            snprintf(out, outsz, "%s", item);
            return;
        }
        if (!comma)
            return;
        *comma = '\0';
    }
}

void ws_client_ip(struct lws *wsi, char *out, size_t outsz)
{
    char peer[IP_MAX] = "";
    lws_get_peer_simple(wsi, peer, sizeof peer);
    strip_mapped(peer);
    snprintf(out, outsz, "%s", peer);
    if (!broker.cfg.n_trusted_proxies || !config_is_trusted_proxy(&broker.cfg, peer))
        return;
    char xff[512];
    if (lws_hdr_copy(wsi, xff, sizeof xff, WSI_TOKEN_X_FORWARDED_FOR) > 0)
        ip_from_forwarded(xff, out, outsz);
}

void ws_client_of(struct lws *wsi, char *ip, size_t ipsz, char *ua, size_t uasz)
{
    ws_client_ip(wsi, ip, ipsz);
    if (lws_hdr_copy(wsi, ua, (int)uasz, WSI_TOKEN_HTTP_USER_AGENT) < 0)
        ua[0] = '\0';
}

static bool origin_allowed(struct lws *wsi)
{
    char origin[256];
    int n = lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN);
    if (lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) <= 0)
        return true; /* native apps send none */
    if (n <= 0)
        return false; /* present but too long to be one of ours */
    for (int i = 0; i < broker.cfg.n_allowed_origins; i++)
        if (!strcmp(origin, broker.cfg.allowed_origins[i]))
            return true;
    return false;
}

/* Runs before the 101: refusals here still get a proper HTTP status. */
static int confirm_upgrade(struct lws *wsi)
{
    char uri[16] = "";
    if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0 || strcmp(uri, "/ws")) {
        lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, "the WebSocket API is at /ws");
        return 1;
    }
    if (!origin_allowed(wsi)) {
        metrics.handshakes_refused++;
        lws_return_http_status(wsi, HTTP_STATUS_FORBIDDEN, "origin not allowed");
        return 1;
    }
    char ip[IP_MAX];
    ws_client_ip(wsi, ip, sizeof ip);
    if (hub_ip_count(ip) >= broker.cfg.max_conns_per_ip) {
        metrics.handshakes_refused++;
        log_warn("refusing socket from %s: %d open (--max-conns-per-ip)", ip,
                 broker.cfg.max_conns_per_ip);
        lws_return_http_status(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, "too many connections");
        return 1;
    }
    return 0;
}

static void send_hello(struct conn *c)
{
    struct jw w;
    push_start(&w, "hello");
    jw_kv_int(&w, "version", 1);
    jw_kv_int(&w, "server_time", clock_now_ms());
    jw_kv_int(&w, "heartbeat", broker.cfg.heartbeat);
    push_finish(c->id, &w);
}

static int on_established(struct lws *wsi)
{
    struct conn *c = hub_conn_new(wsi);
    if (!c)
        return -1;
    lws_set_wsi_user(wsi, c);
    char ip[IP_MAX];
    ws_client_ip(wsi, ip, sizeof ip);
    hub_set_ip(c, ip);
    /* Headers are freed right after ESTABLISHED: keep what we show. lws
     * copies a header only whole, and it fits the header buffer. */
    char ua[UA_HEADER_MAX];
    int n = lws_hdr_copy(wsi, ua, sizeof ua, WSI_TOKEN_HTTP_USER_AGENT);
    if (n > 0)
        hub_set_user_agent(c, ua, (size_t)n);
    c->bucket = broker.cfg.msg_burst;
    c->bucket_at = c->last_ping_at = c->last_pong_at = clock_now_ms();
    hub_conn_changed(c); /* starts its idle clock */
    log_debug("conn %llu open from %s", (unsigned long long)c->id, c->ip);
    send_hello(c);
    return 0;
}

/* Starts the closing handshake from WRITEABLE once the queue is empty.
 *
 * Not by returning -1, lws's documented way: lws_service_fd_tsi() then closes
 * the connection, and in lws 4.1.6 built with _DEBUG (as Debian builds it) on
 * the libuv loop it closes it a second time at once ("uv repeat test"), which
 * kills the socket before the close frame queued by lws_close_reason leaves —
 * the peer sees 1006. A close started from lws's timeout timer does not pass
 * there. The timeout must be PENDING_TIMEOUT_HTTP_KEEPALIVE_IDLE: any other
 * marks the socket unusable and skips the close frame (lws_sul_wsitimeout_cb).
 * lws then sends our close frame and waits up to 5 s for the peer's. */
static int close_now(struct lws *wsi, enum close_code code, const char *reason)
{
    lws_close_reason(wsi, (enum lws_close_status)code, (unsigned char *)reason, strlen(reason));
    lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_KEEPALIVE_IDLE, LWS_TO_KILL_ASYNC);
    return 0;
}

/* Token bucket: msg_rate per second, msg_burst deep. Returns 0 if the message
 * may be handled, 1 if it is answered rate_limited, -1 if the socket has been
 * over the limit for 3 s in a row and must close. */
static int rate_check(struct conn *c)
{
    int64_t now = clock_now_ms();
    c->bucket += (double)(now - c->bucket_at) * broker.cfg.msg_rate / 1000.0;
    if (c->bucket > broker.cfg.msg_burst)
        c->bucket = broker.cfg.msg_burst;
    c->bucket_at = now;
    if (c->bucket >= 1.0) {
        c->bucket -= 1.0;
        return 0;
    }
    /* A flood keeps getting a message through every 1/rate s as the bucket
     * refills, so "over the limit in a row" means refusals with no quiet
     * second between them, not an unbroken run of refusals. */
    if (!c->limited_since || now - c->last_refused >= 1000)
        c->limited_since = now;
    c->last_refused = now;
    if (now - c->limited_since >= 3000)
        return -1;
    return 1;
}

static int on_message(struct conn *c, const char *msg, size_t len, bool binary)
{
    if (c->close_code)
        return 0; /* closing: what else it sends is not answered */
    int rl = rate_check(c);
    if (rl < 0) {
        /* Closed from WRITEABLE, like every other close we start, so the close
         * frame goes out in order rather than from inside this read. */
        log_info("conn %llu from %s: flooding, closing", (unsigned long long)c->id, c->ip);
        hub_abort(c, CLOSE_POLICY, "rate limit");
        return 0;
    }
    if (binary) {
        struct req r = {.conn = c->id};
        if (rl > 0)
            reply_rate_limited(&r, 1, "slow down");
        else
            reply_error(&r, E_BAD_REQUEST, "binary frames are not accepted; send JSON text");
        return 0;
    }
    ws_dispatch(c, msg, len, rl > 0);
    return 0;
}

/* Frames may arrive in several chunks and several fragments; a message is
 * capped at --max-message while it is assembled, never after. */
static int on_receive(struct lws *wsi, struct conn *c, const char *in, size_t len)
{
    size_t max = (size_t)broker.cfg.max_message;
    bool first = lws_is_first_fragment(wsi), final = lws_is_final_fragment(wsi);
    if (first) {
        c->rx_len = 0;
        c->rx_binary = lws_frame_is_binary(wsi);
    }
    if (c->close_code)
        return 0; /* closing: the rest of what it sends is dropped */
    size_t remaining = lws_remaining_packet_payload(wsi);
    if (c->rx_len + len + remaining > max) {
        hub_abort(c, CLOSE_TOO_LARGE, "message too large");
        return 0;
    }
    if (first && final) /* the common case: no copy */
        return on_message(c, in, len, c->rx_binary);
    if (!c->rx && !(c->rx = malloc(max))) {
        hub_abort(c, CLOSE_INTERNAL, "out of memory");
        return 0;
    }
    if (len) { /* an empty fragment may come with in == NULL */
        memcpy(c->rx + c->rx_len, in, len);
        c->rx_len += len;
    }
    if (!final)
        return 0;
    int rc = on_message(c, c->rx, c->rx_len, c->rx_binary);
    /* Assembly buffers are rare; give the memory back rather than keep
     * max_message bytes per socket. */
    free(c->rx);
    c->rx = NULL;
    c->rx_len = 0;
    return rc;
}

static int on_writeable(struct lws *wsi, struct conn *c)
{
    if (c->ping_due) {
        /* One payload byte: lws only reports a PONG that carries data. */
        unsigned char ping[LWS_PRE + 1] = {0};
        c->ping_due = false;
        ping[LWS_PRE] = 'q';
        if (lws_write(wsi, ping + LWS_PRE, 1, LWS_WRITE_PING) < 1)
            return -1;
        if (c->q_head || c->close_code)
            lws_callback_on_writable(wsi);
        return 0;
    }
    struct out_msg *m = c->q_head;
    if (!m) {
        if (c->close_code)
            return close_now(wsi, c->close_code, c->close_reason);
        return 0; /* lws sometimes calls unasked (after its own PING) */
    }
    c->q_head = m->next;
    if (!c->q_head)
        c->q_tail = NULL;
    c->q_count--;
    c->q_bytes -= m->len;
    int n = lws_write(wsi, (unsigned char *)m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);
    size_t want = m->len;
    if (m->hist >= 0 && n >= (int)want)
        metrics_observe((enum metric_hist)m->hist, clock_mono_us() - m->t0_us);
    free(m);
    if (n < (int)want)
        return -1;
    if (c->q_head || c->close_code)
        lws_callback_on_writable(wsi);
    return 0;
}

static void on_closed(struct lws *wsi, struct conn *c)
{
    if (!c)
        return; /* refused before ESTABLISHED: nothing was set up */
    lws_set_wsi_user(wsi, NULL); /* lws still passes it to WSI_DESTROY */
    uint64_t id = c->id;
    log_debug("conn %llu closed", (unsigned long long)id);
    hub_conn_free(c);
    /* After the conn is gone, so the listener's lookups skip it. */
    tickets_cancel_pc(id);
}

int ws_conn_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len)
{
    struct conn *c = user;

    switch (reason) {
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        if (in && !strcmp(in, "websocket"))
            return confirm_upgrade(wsi);
        break;
    case LWS_CALLBACK_ESTABLISHED:
        return on_established(wsi);
    case LWS_CALLBACK_RECEIVE:
        if (!c)
            return -1;
        return on_receive(wsi, c, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (!c)
            return 0;
        return on_writeable(wsi, c);
    case LWS_CALLBACK_RECEIVE_PONG:
        if (c)
            c->last_pong_at = clock_now_ms();
        return 0;
    case LWS_CALLBACK_CLOSED:
        on_closed(wsi, c);
        return 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}
