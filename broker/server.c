/* server.c — see server.h. One lws context, one vhost: static files from the
 * web root, the HTTP API mounts, and the WebSocket API; one timer for ticket
 * expiry and grace sweeps; worker results drained on EVENT_WAIT_CANCELLED. */
#include "server.h"

#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <string.h>

#include "auth_limits.h"
#include "broker.h"
#include "clock.h"
#include "demo_user.h"
#include "event_loop.h"
#include "cluster.h"
#include "federation.h"
#include "heap_trim.h"
#include "lws_alloc.h"
#include "http_api.h"
#include "keys_watch.h"
#include "hub.h"
#include "listen_share.h"
#include "log.h"
#include "loop_timer.h"
#include "login_presign.h"
#include "redis_link.h"
#include "sessions.h"
#include "supervisor.h"
#include "tickets.h"
#include "workers.h"
#include "ws_conn.h"
#include "ws_dispatch.h"

struct broker broker;

static volatile sig_atomic_t stopping;
static lws_sorted_usec_list_t housekeeping_sul;
static lws_sorted_usec_list_t hub_sul;
static lws_sorted_usec_list_t connect_sul;

void broker_token_params_init(void)
{
    broker.tp.issuer = broker.cfg.public_url;
    broker.tp.audience = broker.cfg.audience;
    broker.tp.client_id = broker.cfg.client_id;
    broker.tp.leeway = broker.cfg.leeway;
}

/* The networked store and the cluster links connect from the loop's first
 * turn (lws initialises the vhost's protocols there); until they are up
 * requests get errors and /healthz says 503. */
static void on_connect_links(lws_sorted_usec_list_t *sul)
{
    (void)sul;
    struct lws_vhost *vh = lws_get_vhost_by_name(broker.ctx, "qrlogin");
    if (broker.store->ops->start)
        broker.store->ops->start(broker.store, vh);
    cluster_start(vh);
}

/* A slice of the connection table (hub.h: all of it once a second). */
static void on_hub_slice(lws_sorted_usec_list_t *sul)
{
    hub_housekeep(clock_now_ms(), broker.cfg.heartbeat);
    lws_sul_schedule(broker.ctx, 0, sul, on_hub_slice, LWS_US_PER_SEC / HUB_SLICES);
}

static void on_housekeeping(lws_sorted_usec_list_t *sul)
{
    keys_watch_tick();
    heap_trim_tick(hub_count()); /* after a burst of sockets opening or closing */
    if (broker.cfg.cluster)
        demo_user_tick();
    lws_sul_schedule(broker.ctx, 0, sul, on_housekeeping, LWS_US_PER_SEC);
}

/* ---- the loop protocol: worker results and shutdown ---- */

static int loop_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len)
{
    if (reason == LWS_CALLBACK_EVENT_WAIT_CANCELLED) {
        workers_drain();
        keys_watch_check_signal();
        return 0;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static void wake_loop(void *arg) { lws_cancel_service(arg); }

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
    if (broker.ctx)
        lws_cancel_service(broker.ctx);
}

/* SIGHUP: reload the keys. Only a flag and a wake-up here; the loop thread
 * does the work. */
static void on_hup(int sig)
{
    (void)sig;
    keys_watch_signal();
    if (broker.ctx)
        lws_cancel_service(broker.ctx);
}

static void close_going_away(struct conn *c, void *arg)
{
    (void)arg;
    hub_close(c, CLOSE_SHUTDOWN, "server shutting down");
}

/* ---- the vhost ---- */

static struct lws_protocols protocols[6];
/* "/" (files), then the API paths */
static struct lws_http_mount mounts[12];
static struct lws_protocol_vhost_options headers[6];
static char csp[1024];
static lws_retry_bo_t retry;

static void setup_mounts(void)
{
    static const char *const api_paths[] = {
        "/healthz", "/metrics", "/.well-known/jwks.json", "/api",
        /* the OpenID Connect provider (docs/oidc.md) */
        "/.well-known/openid-configuration", "/authorize", "/token", "/device_authorization",
        "/userinfo", "/revoke", "/logout"};
    enum { N_API = sizeof api_paths / sizeof api_paths[0] };
    _Static_assert(N_API + 1 == sizeof mounts / sizeof mounts[0], "one mount per API path");
    mounts[0] = (struct lws_http_mount){
        .mountpoint = "/",
        .mountpoint_len = 1,
        .origin = broker.cfg.web_root,
        .def = "index.html",
        .origin_protocol = LWSMPRO_FILE,
    };
    for (int i = 0; i < N_API; i++) {
        mounts[i + 1] = (struct lws_http_mount){
            .mountpoint = api_paths[i],
            .mountpoint_len = (unsigned char)strlen(api_paths[i]),
            .origin = HTTP_API_PROTOCOL_NAME,
            .origin_protocol = LWSMPRO_CALLBACK,
        };
    }
    for (int i = 0; i < N_API; i++)
        mounts[i].mount_next = &mounts[i + 1];
}

/* Security headers on every response (files, API, errors). The CSP lets the
 * pages load only our own scripts and styles and talk only to our own origin;
 * frame-ancestors 'none' keeps the Confirm button out of anyone's iframe. */
static void setup_headers(void)
{
    char origin[512] = "", ws_origin[520] = "";
    net_url_origin(broker.cfg.public_url, origin, sizeof origin);
    /* http://h → ws://h, https://h → wss://h */
    if (!strncmp(origin, "https://", 8))
        snprintf(ws_origin, sizeof ws_origin, "wss://%s", origin + 8);
    else if (!strncmp(origin, "http://", 7))
        snprintf(ws_origin, sizeof ws_origin, "ws://%s", origin + 7);
    snprintf(csp, sizeof csp,
             "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
             "connect-src 'self' %s; base-uri 'none'; form-action 'self'; "
             "frame-ancestors 'none'",
             ws_origin);
    const char *names[] = {"content-security-policy:", "x-content-type-options:",
                           "referrer-policy:", "x-frame-options:",
                           "cross-origin-opener-policy:", "strict-transport-security:"};
    const char *values[] = {csp, "nosniff", "no-referrer", "DENY", "same-origin",
                            "max-age=31536000"};
    int n = broker.cfg.tls_cert[0] ? 6 : 5; /* HSTS only over TLS */
    for (int i = 0; i < n; i++) {
        headers[i].name = names[i];
        headers[i].value = values[i];
        headers[i].next = i + 1 < n ? &headers[i + 1] : NULL;
    }
}

static struct lws_context *create_context(void)
{
    protocols[0] = (struct lws_protocols){
        .name = WS_PROTOCOL_NAME,
        .callback = ws_conn_callback,
        /* no per_session_data_size: the user pointer is the conn (ws_conn.c) */
        /* Small: lws allocates it for every socket, and it is most of our
         * per-socket memory. Client frames are short; longer ones arrive in
         * chunks that ws_conn.c assembles (up to --max-message). */
        .rx_buffer_size = 64,
        /* Must be set with a small rx_buffer_size: at 0 lws caps every
         * send() at rx_buffer_size (+ LWS_PRE + 4) and buffers the rest, so
         * a 3 KB ticket message left in ~40 sends with a poll change each,
         * and static files (this protocol is also the vhost's HTTP default)
         * in 84-byte pieces. Any message we queue may go in one send(). */
        .tx_packet_size = HUB_QUEUE_MAX_BYTES,
    };
    protocols[1] = (struct lws_protocols){
        .name = HTTP_API_PROTOCOL_NAME,
        .callback = http_api_callback,
        .per_session_data_size = http_api_pss_size(),
    };
    protocols[2] = (struct lws_protocols){.name = "qrlogin-loop", .callback = loop_callback};
    /* Redis connections (store and cluster), adopted as raw files. */
    protocols[3] = (struct lws_protocols){.name = REDIS_LINK_PROTOCOL,
                                          .callback = redis_link_lws_callback};
    /* Our own shared listening socket with --workers N (listen_share.h). */
    protocols[4] = (struct lws_protocols){.name = LISTEN_SHARE_PROTOCOL,
                                          .callback = listen_share_callback};
    protocols[5] = (struct lws_protocols){0};

    setup_mounts();
    setup_headers();
    /* All zero: lws keeps no validity timer per socket (hangup 0 disables
     * it); hub_housekeep() pings and hangs up instead. */
    retry = (lws_retry_bo_t){0};

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    /* Several processes on one port: lws cannot share its listener in this
     * build (docs/architecture.md, L1), so each worker process opens its own
     * SO_REUSEPORT socket (server_run) and lws listens on nothing. One
     * process keeps lws's own listener, which every test exercises. */
    info.port = broker.cfg.workers > 1 ? CONTEXT_PORT_NO_LISTEN_SERVER : broker.cfg.listen_port;
    bool any = !strcmp(broker.cfg.listen_host, "0.0.0.0") || !strcmp(broker.cfg.listen_host, "::");
    info.iface = any ? NULL : broker.cfg.listen_host;
    info.protocols = protocols;
    info.mounts = mounts;
    info.headers = headers;
    info.retry_and_idle_policy = &retry;
    info.vhost_name = "qrlogin";
    /* No permessage-deflate: compressing secrets next to attacker-chosen text
     * leaks them (info.extensions stays NULL). */
    if (broker.cfg.tls_cert[0]) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = broker.cfg.tls_cert;
        info.ssl_private_key_filepath = broker.cfg.tls_key;
        info.alpn = "http/1.1"; /* keep WebSockets off h2 (docs/architecture.md, L6) */
    }
    info.timeout_secs = 30;
    lws_alloc_install(); /* before lws allocates anything it keeps per connection */
    return event_loop_create_context(broker.cfg.event_loop, &info);
}

static void lws_log_bridge(int level, const char *line)
{
    size_t n = strlen(line);
    while (n && line[n - 1] == '\n')
        n--;
    log_write(level == LLL_ERR ? QLOG_ERROR : level == LLL_WARN ? QLOG_WARN : QLOG_DEBUG,
              "lws: %.*s", (int)n, line);
}

/* lws sizes its fd table from RLIMIT_NOFILE at context creation; a broker
 * holding tens of thousands of waiting PCs needs the hard limit, not the
 * usual soft 1024. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

void server_wire_layers(void)
{
    hub_set_ticket_probe(tickets_pc_has);
    handlers_tickets_init();
    handlers_sessions_init();
    cluster_set_listeners(&(struct cluster_listeners){
        .session_ended = handlers_session_ended_elsewhere,
        .ticket_request = handle_ticket_forwarded,
    });
}

/* Runs the loop until a signal says stop, then closes every socket with
 * 1001 and gives the closes a moment to go out. */
static void serve_until_stopped(void)
{
    /* One SQLite transaction per turn (sqlite_group_commit.h); each turn
     * ends with its commit, before the loop waits again. */
    store_group_commit(broker.store, true);
    while (!stopping) {
        int rc = event_loop_service(broker.ctx, 0);
        store_turn_end(broker.store);
        if (rc < 0)
            break;
    }
    /* With --workers N the kernel sends new connections to the other
     * processes at once. */
    listen_share_stop();
    log_info("shutting down: closing %zu sockets", hub_count());
    hub_each(close_going_away, NULL);
    int64_t deadline = clock_now_ms() + 2000;
    while (hub_count() && clock_now_ms() < deadline) {
        event_loop_service(broker.ctx, 50);
        store_turn_end(broker.store);
    }
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_hup;
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* A full disk or a file-size limit must fail the write (the store
     * reports it, /healthz turns 503), not kill the daemon. */
    signal(SIGXFSZ, SIG_IGN);
}

int server_run(void)
{
    int status = 1;
    bool workers_up = false;
    raise_fd_limit();
    heap_trim_configure();
    int lws_levels = LLL_ERR | LLL_WARN;
    if (log_get_level() >= QLOG_DEBUG)
        lws_levels |= LLL_NOTICE;
    lws_set_log_level(lws_levels, lws_log_bridge);

    broker_token_params_init();
    hub_set_idle_timeout(broker.cfg.idle_timeout);
    server_wire_layers();

    char err[256];
    if (cluster_init(broker.cfg.store_url, err, sizeof err)) {
        log_error("cluster: %s", err);
        goto out;
    }
    broker.ctx = create_context();
    if (!broker.ctx) {
        log_error("could not listen on %s:%d", broker.cfg.listen_host, broker.cfg.listen_port);
        goto out;
    }
    loop_timers_start(broker.ctx);
    if (broker.cfg.workers > 1 &&
        listen_share_start(lws_get_vhost_by_name(broker.ctx, "qrlogin"), broker.cfg.listen_host,
                           broker.cfg.listen_port))
        goto out;
    lws_sul_schedule(broker.ctx, 0, &connect_sul, on_connect_links, 0);
    if (workers_start(broker.cfg.threads, wake_loop, broker.ctx)) {
        log_error("could not start %d worker threads", broker.cfg.threads);
        goto out;
    }
    workers_up = true;
    if (federation_start())
        goto out;
    lws_sul_schedule(broker.ctx, 0, &housekeeping_sul, on_housekeeping, LWS_US_PER_SEC);
    lws_sul_schedule(broker.ctx, 0, &hub_sul, on_hub_slice, LWS_US_PER_SEC / HUB_SLICES);
    install_signals();
    keys_watch_start();

    log_info("qrlogin listening on %s:%d (%d worker threads, event loop %s)",
             broker.cfg.listen_host, broker.cfg.listen_port, broker.cfg.threads,
             event_loop_describe());
    log_info("PC login page: %s/   phone page: %s/m/", broker.cfg.public_url,
             broker.cfg.public_url);
    supervisor_child_ready(); /* with --workers N: this process serves */
    serve_until_stopped();
    status = 0;

out:
    /* One way down from wherever start-up stopped; each step is a no-op for
     * what never started. */
    if (broker.ctx) {
        loop_timers_stop();
        lws_sul_cancel(&housekeeping_sul);
        lws_sul_cancel(&hub_sul);
        lws_sul_cancel(&connect_sul);
    }
    if (workers_up)
        workers_stop();
    federation_shutdown(); /* after the pool: no key parse or check is left */
    /* Back to inline completions; what the last turns (and the jobs
     * workers_stop finished) wrote is committed and answered now. */
    store_group_commit(broker.store, false);
    /* Redis connections live on lws file descriptors: closed before the
     * context that owns them. */
    cluster_shutdown();
    if (broker.cfg.cluster) {
        broker.store->ops->close(broker.store);
        broker.store = NULL;
    }
    if (broker.ctx)
        event_loop_destroy(broker.ctx);
    broker.ctx = NULL;
    tickets_shutdown();
    login_presign_shutdown();
    sessions_shutdown();
    auth_limits_shutdown();
    http_api_shutdown();
    hub_shutdown();
    if (!status)
        log_info("stopped");
    return status;
}
