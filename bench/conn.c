/* conn.c — see conn.h. */
#include "conn.h"

#include <libwebsockets.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "event_loop.h"

static struct lws_context *ctx;
static struct conn_target target;
static struct conn_hooks hooks[ROLE_COUNT];
static int connecting;
static unsigned long opened;

uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int conn_connecting(void) { return connecting; }
struct lws_context *conn_context(void) { return ctx; }

static void mark_dead(struct conn *c, const char *why)
{
    if (c->state == CS_DEAD)
        return;
    if (c->state == CS_CONNECTING)
        connecting--;
    c->state = CS_DEAD;
    c->wsi = NULL;
    free(c->tx);
    c->tx = NULL;
    free(c->rx);
    c->rx = NULL;
    c->rx_len = c->rx_cap = 0;
    hooks[c->role].gone(c, why);
}

/* A message is complete when this chunk ends both the frame and the
 * message; only then does the handler see it. Most replies fit one read,
 * and those are parsed in place without a copy. */
static void on_receive(struct lws *wsi, struct conn *c, const char *in, size_t len)
{
    bool done = lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi);
    if (done && !c->rx_len) {
        struct msg m;
        if (!msg_parse(&m, in, len))
            hooks[c->role].message(c, &m);
        return;
    }
    if (c->rx_len + len + 1 > c->rx_cap) {
        size_t cap = c->rx_cap ? c->rx_cap : 8192;
        while (cap < c->rx_len + len + 1)
            cap *= 2;
        char *nb = realloc(c->rx, cap);
        if (!nb) {
            c->rx_len = 0; /* drop the message; the flow will time out */
            return;
        }
        c->rx = nb;
        c->rx_cap = cap;
    }
    memcpy(c->rx + c->rx_len, in, len);
    c->rx_len += len;
    if (!done)
        return;
    struct msg m;
    size_t n = c->rx_len;
    c->rx_len = 0; /* before the handler: it may send, and a reply may follow */
    if (!msg_parse(&m, c->rx, n))
        hooks[c->role].message(c, &m);
}

static int on_writeable(struct lws *wsi, struct conn *c)
{
    if (!c->tx)
        return 0;
    char *buf = c->tx;
    size_t n = c->tx_len;
    enum tx_kind kind = c->tx_kind;
    c->tx = NULL;
    /* The latency clock starts when the request is handed to the kernel,
     * not when the bench decided to send it. */
    uint64_t t = now_us();
    int w = lws_write(wsi, (unsigned char *)buf + LWS_PRE, n, LWS_WRITE_TEXT);
    free(buf);
    if (w < (int)n)
        return -1;
    if (kind != TX_PLAIN) {
        c->t_sent = t;
        hooks[c->role].sent(c, kind, t);
    }
    return 0;
}

/* Browsers send a User-Agent of ~110 bytes, and the broker keeps it for the
 * phone to show (and counts it in the memory a waiting PC costs); a few
 * builds, as a real population of PCs and phones would have. */
static const char *const pc_agents[] = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36",
};
static const char phone_agent[] =
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36";

static int add_user_agent(struct lws *wsi, const struct conn *c, void *in, size_t len)
{
    const char *ua = c->role == ROLE_IDLE_PC || c->role == ROLE_PC
                         ? pc_agents[c->idx % (int)(sizeof pc_agents / sizeof *pc_agents)]
                         : phone_agent;
    unsigned char **p = in, *end = *p + len;
    return lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_USER_AGENT, (const unsigned char *)ua,
                                        (int)strlen(ua), p, end);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    struct conn *c = lws_get_opaque_user_data(wsi);
    switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
        return c ? add_user_agent(wsi, c, in, len) : 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (c)
            mark_dead(c, in ? (const char *)in : "connection error");
        return 0;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (!c)
            return -1;
        connecting--;
        c->state = CS_OPEN;
        hooks[c->role].established(c);
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (c && c->state != CS_DEAD)
            on_receive(wsi, c, in, len);
        return 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return c ? on_writeable(wsi, c) : 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (c)
            mark_dead(c, "closed");
        return 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
    {.name = "qrlogin.v1", .callback = callback},
    {0},
};

int conn_init(const struct conn_target *t, int max_conns, int event_loop,
              const struct conn_hooks h[ROLE_COUNT])
{
    target = *t;
    memcpy(hooks, h, sizeof hooks);

    /* lws sizes its fd tables from the soft limit when the context is
     * created (docs/architecture.md, L7), so the limit is raised first. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    int room = max_conns;
    if (rl.rlim_cur != RLIM_INFINITY && (rlim_t)max_conns + 32 > rl.rlim_cur)
        room = (int)rl.rlim_cur - 32;

    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.fd_limit_per_thread = (unsigned)room + 32;
    info.timeout_secs = 30; /* a handshake that hangs this long is a failure */
    /* The broker's own loop choice (broker/event_loop.c): on poll() a
     * bench holding 10k sockets pays for all of them on every wakeup. */
    ctx = event_loop_create_context((enum event_loop_kind)event_loop, &info);
    return ctx ? room : -1;
}

int conn_service(void) { return event_loop_service(ctx, 0); }

const char *conn_event_loop(void) { return event_loop_describe(); }

void conn_fini(void)
{
    if (ctx)
        event_loop_destroy(ctx);
    ctx = NULL;
}

/* All zero: no validity timer per socket, as in the broker (server.c): lws
 * 4.1.6 keeps its timers in one sorted list, and a per-socket timer is
 * re-inserted into it as the socket proves alive. The bench's sockets need
 * none: the broker's pings are what keeps them alive. (In the one run that
 * compared, the holder's CPU did not visibly change; kept for the reason.) */
static const lws_retry_bo_t no_validity;

int conn_open(struct conn *c)
{
    char src[32];
    int k = target.sources > 0 ? target.sources : 1;
    /* Each source address has its own ~28k ephemeral ports towards one
     * server port; spreading over several lets a test pass that. */
    snprintf(src, sizeof src, "127.0.0.%d", 2 + (int)(opened++ % (unsigned long)k));

    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = ctx;
    ci.address = target.host;
    ci.port = target.port;
    ci.path = target.path;
    ci.host = target.host;
    ci.protocol = "qrlogin.v1";
    ci.local_protocol_name = "qrlogin.v1";
    ci.ietf_version_or_minus_one = -1;
    ci.iface = src;
    ci.opaque_user_data = c;
    ci.pwsi = &c->wsi;
    ci.retry_and_idle_policy = &no_validity;
    c->state = CS_CONNECTING;
    connecting++;
    if (!lws_client_connect_via_info(&ci)) {
        /* lws may already have reported CONNECTION_ERROR (then c is dead). */
        if (c->state == CS_CONNECTING)
            mark_dead(c, "connect failed");
        return -1;
    }
    return 0;
}

void conn_json_escape(const char *s, char *out, size_t outsz)
{
    size_t o = 0;
    for (; *s && o + 7 < outsz; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            out[o++] = '\\';
            out[o++] = (char)ch;
        } else if (ch < 0x20) {
            o += (size_t)snprintf(out + o, outsz - o, "\\u%04x", ch);
        } else {
            out[o++] = (char)ch;
        }
    }
    out[o] = '\0';
}

int conn_send(struct conn *c, enum tx_kind kind, const char *fmt, ...)
{
    if (!c->wsi || (c->state != CS_OPEN && c->state != CS_READY) || c->tx)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    char *buf = malloc(LWS_PRE + (size_t)n + 1);
    if (!buf)
        return -1;
    va_start(ap, fmt);
    vsnprintf(buf + LWS_PRE, (size_t)n + 1, fmt, ap);
    va_end(ap);
    c->tx = buf;
    c->tx_len = (size_t)n;
    c->tx_kind = kind;
    lws_callback_on_writable(c->wsi);
    return 0;
}
