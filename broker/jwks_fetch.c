/* jwks_fetch.c — see jwks_fetch.h.
 *
 * The fetch owns its state; the wsi points at it through its opaque user
 * data. Whatever ends the exchange first (the body completes, an error, the
 * connection closing, the timer) records the outcome once and detaches the
 * wsi, so later callbacks of that wsi find nothing; the outcome is handed to
 * the caller from a zero-delay timer, so a connect that fails inside
 * lws_client_connect_via_info never calls back into a caller that is still
 * starting it.
 *
 * lws 4.1.6 as Debian builds it has no asynchronous DNS: given a host name,
 * lws_client_connect_via_info would block the loop in getaddrinfo(). So a
 * name is resolved first on the worker pool, and lws is handed the address
 * literal, with the name as Host (which is also what TLS checks the
 * certificate against and sends as SNI). */
#include "jwks_fetch.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "workers.h"

struct jwks_fetch {
    struct lws *wsi;
    lws_sorted_usec_list_t timeout_sul;
    lws_sorted_usec_list_t deliver_sul;
    jwks_fetch_cb cb;
    void *arg;
    size_t cap;
    char *body;
    size_t len;
    int64_t max_age;
    bool ended;
    bool resolving;  /* a DNS job holds f: it frees f if f is dropped meanwhile */
    bool dropped;
    bool tls;
    int port;
    const char *err; /* a static string */
    char host[256];
    char host_header[264]; /* host, with :port unless it is the scheme's */
    char address[INET6_ADDRSTRLEN];
    char path[512];
};

static struct lws_context *fetch_ctx;
static struct lws_vhost *fetch_vh;

static const struct lws_protocols fetch_protocols[] = {
    {JWKS_FETCH_PROTOCOL, jwks_fetch_callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

int jwks_fetch_init(struct lws_context *ctx, const char *ca_file)
{
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = fetch_protocols;
    info.vhost_name = "qrlogin-jwks";
    /* Makes lws set up the vhost's client TLS context; with no CA file
     * lws loads the system store. */
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.client_ssl_ca_filepath = ca_file && *ca_file ? ca_file : NULL;
    fetch_ctx = ctx;
    fetch_vh = lws_create_vhost(ctx, &info);
    return fetch_vh ? 0 : -1;
}

int64_t jwks_fetch_max_age(const char *cc)
{
    for (const char *p = cc; p && (p = strstr(p, "max-age")); p += 7) {
        if (p != cc && p[-1] != ' ' && p[-1] != ',')
            continue; /* s-maxage and the like */
        const char *q = p + 7;
        if (*q != '=')
            continue;
        q++;
        if (*q < '0' || *q > '9')
            return -1;
        int64_t v = 0;
        while (*q >= '0' && *q <= '9' && v < 100000000)
            v = v * 10 + (*q++ - '0');
        return v;
    }
    return -1;
}

static void free_fetch(struct jwks_fetch *f)
{
    lws_sul_cancel(&f->timeout_sul);
    lws_sul_cancel(&f->deliver_sul);
    if (f->resolving) {
        f->dropped = true;
        return;
    }
    free(f->body);
    free(f);
}

static void deliver(lws_sorted_usec_list_t *sul)
{
    struct jwks_fetch *f = lws_container_of(sul, struct jwks_fetch, deliver_sul);
    jwks_fetch_cb cb = f->cb;
    void *arg = f->arg;
    const char *body = f->err ? NULL : (f->body ? f->body : "");
    /* The callback may start the next fetch; this one is freed after it. */
    f->cb = NULL;
    if (cb)
        cb(arg, body, f->err ? 0 : f->len, f->max_age, f->err);
    free_fetch(f);
}

/* Records the outcome once and lets go of the wsi. */
static void end(struct jwks_fetch *f, const char *err)
{
    if (f->ended)
        return;
    f->ended = true;
    f->err = err;
    lws_sul_cancel(&f->timeout_sul);
    if (f->wsi) {
        lws_set_opaque_user_data(f->wsi, NULL);
        f->wsi = NULL;
    }
    lws_sul_schedule(fetch_ctx, 0, &f->deliver_sul, deliver, 0);
}

static void on_timeout(lws_sorted_usec_list_t *sul)
{
    struct jwks_fetch *f = lws_container_of(sul, struct jwks_fetch, timeout_sul);
    struct lws *wsi = f->wsi;
    end(f, "timed out");
    if (wsi)
        lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

void jwks_fetch_cancel(struct jwks_fetch *f)
{
    if (!f)
        return;
    struct lws *wsi = f->wsi;
    if (wsi) {
        lws_set_opaque_user_data(wsi, NULL);
        lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    }
    free_fetch(f);
}

/* http(s)://host[:port][/path]: no user info, no fragment. */
static int split_url(const char *url, bool *tls, char *host, size_t hostsz, int *port,
                     char *path, size_t pathsz)
{
    const char *p;
    if (!strncmp(url, "https://", 8)) {
        *tls = true;
        *port = 443;
        p = url + 8;
    } else if (!strncmp(url, "http://", 7)) {
        *tls = false;
        *port = 80;
        p = url + 7;
    } else {
        return -1;
    }
    size_t alen = strcspn(p, "/?#");
    const char *colon = NULL;
    if (p[0] == '[') {
        const char *rb = memchr(p, ']', alen);
        if (!rb)
            return -1;
        colon = rb + 1 < p + alen && rb[1] == ':' ? rb + 1 : NULL;
    } else {
        colon = memchr(p, ':', alen);
    }
    size_t hlen = colon ? (size_t)(colon - p) : alen;
    if (!hlen || hlen >= hostsz || memchr(p, '@', alen))
        return -1;
    if (p[0] == '[') { /* lws wants the literal without brackets */
        memcpy(host, p + 1, hlen - 2);
        host[hlen - 2] = '\0';
    } else {
        memcpy(host, p, hlen);
        host[hlen] = '\0';
    }
    if (colon) {
        char *e;
        long v = strtol(colon + 1, &e, 10);
        if (e != p + alen || v < 1 || v > 65535)
            return -1;
        *port = (int)v;
    }
    const char *rest = p + alen;
    if (strchr(rest, '#'))
        return -1;
    int n = snprintf(path, pathsz, "%s%s", *rest == '/' ? "" : "/", rest);
    return n < 0 || (size_t)n >= pathsz ? -1 : 0;
}

static void connect_now(struct jwks_fetch *f)
{
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = fetch_ctx;
    ci.vhost = fetch_vh;
    ci.address = f->address;
    ci.port = f->port;
    ci.path = f->path;
    ci.host = f->host_header;
    ci.origin = f->host_header;
    ci.method = "GET";
    ci.ssl_connection = f->tls ? LCCSCF_USE_SSL : 0;
    ci.alpn = "http/1.1";
    ci.protocol = NULL;
    ci.local_protocol_name = JWKS_FETCH_PROTOCOL;
    ci.opaque_user_data = f;
    ci.pwsi = &f->wsi;
    if (!lws_client_connect_via_info(&ci)) {
        /* lws may already have reported CONNECTION_ERROR (then f has ended);
         * either way the wsi is gone. */
        f->wsi = NULL;
        end(f, "could not connect");
    }
}

struct resolve_job {
    struct work work;
    struct jwks_fetch *f;
    char host[256];
    char address[INET6_ADDRSTRLEN];
};

/* Worker thread: touches only the job. IPv4 first, as most JWKS endpoints
 * and every loopback test server listen there. */
static void resolve_run(struct work *w)
{
    struct resolve_job *j = (struct resolve_job *)w;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(j->host, NULL, &hints, &res) || !res)
        return;
    const struct addrinfo *pick = res;
    for (const struct addrinfo *a = res; a; a = a->ai_next)
        if (a->ai_family == AF_INET) {
            pick = a;
            break;
        }
    const void *addr = pick->ai_family == AF_INET
                           ? (const void *)&((const struct sockaddr_in *)pick->ai_addr)->sin_addr
                           : (const void *)&((const struct sockaddr_in6 *)pick->ai_addr)->sin6_addr;
    if (!inet_ntop(pick->ai_family, addr, j->address, sizeof j->address))
        j->address[0] = '\0';
    freeaddrinfo(res);
}

static void resolve_done(struct work *w)
{
    struct resolve_job *j = (struct resolve_job *)w;
    struct jwks_fetch *f = j->f;
    f->resolving = false;
    if (f->dropped) {
        free_fetch(f);
    } else if (!f->ended) {
        if (!j->address[0]) {
            end(f, "could not resolve the host name");
        } else {
            memcpy(f->address, j->address, sizeof f->address);
            connect_now(f);
        }
    }
    free(j);
}

static bool is_address_literal(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

struct jwks_fetch *jwks_fetch_start(const char *url, size_t cap, int timeout_ms,
                                    jwks_fetch_cb cb, void *arg)
{
    if (!fetch_vh)
        return NULL;
    struct jwks_fetch *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    if (split_url(url, &f->tls, f->host, sizeof f->host, &f->port, f->path, sizeof f->path)) {
        free(f);
        return NULL;
    }
    f->cb = cb;
    f->arg = arg;
    f->cap = cap;
    f->max_age = -1;
    bool v6 = strchr(f->host, ':') != NULL;
    if (f->port == (f->tls ? 443 : 80))
        snprintf(f->host_header, sizeof f->host_header, v6 ? "[%s]" : "%s", f->host);
    else
        snprintf(f->host_header, sizeof f->host_header, v6 ? "[%s]:%d" : "%s:%d", f->host,
                 f->port);
    /* One deadline for resolving, connecting and reading. */
    lws_sul_schedule(fetch_ctx, 0, &f->timeout_sul, on_timeout,
                     (lws_usec_t)timeout_ms * LWS_US_PER_MS);
    if (is_address_literal(f->host)) {
        memcpy(f->address, f->host, strlen(f->host) + 1); /* a literal: it fits */
        connect_now(f);
        return f;
    }
    struct resolve_job *j = calloc(1, sizeof *j);
    if (!j) {
        end(f, "out of memory");
        return f;
    }
    j->f = f;
    snprintf(j->host, sizeof j->host, "%s", f->host);
    j->work.run = resolve_run;
    j->work.done = resolve_done;
    f->resolving = true;
    workers_submit(&j->work);
    return f;
}

static int append(struct jwks_fetch *f, const void *in, size_t len)
{
    if (f->len + len > f->cap) {
        end(f, "response larger than the cap");
        return -1;
    }
    char *nb = realloc(f->body, f->len + len + 1);
    if (!nb) {
        end(f, "out of memory");
        return -1;
    }
    f->body = nb;
    memcpy(f->body + f->len, in, len);
    f->len += len;
    f->body[f->len] = '\0';
    return 0;
}

static int on_established(struct lws *wsi, struct jwks_fetch *f)
{
    if (lws_http_client_http_response(wsi) != 200) {
        end(f, "HTTP status is not 200");
        return -1;
    }
    char v[256];
    if (lws_hdr_copy(wsi, v, sizeof v, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 &&
        strtoull(v, NULL, 10) > f->cap) {
        end(f, "response larger than the cap");
        return -1;
    }
    if (lws_hdr_copy(wsi, v, sizeof v, WSI_TOKEN_HTTP_CACHE_CONTROL) > 0)
        f->max_age = jwks_fetch_max_age(v);
    return 0;
}

int jwks_fetch_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len)
{
    struct jwks_fetch *f = wsi ? lws_get_opaque_user_data(wsi) : NULL;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (f) {
            log_debug("jwks fetch: %s", in ? (const char *)in : "connection error");
            end(f, "could not connect");
        }
        return 0;
    case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
        return f ? on_established(wsi, f) : -1;
    case LWS_CALLBACK_RECEIVE_CLIENT_HTTP: {
        char buf[LWS_PRE + 4096], *p = buf + LWS_PRE;
        int n = (int)sizeof buf - LWS_PRE;
        if (!f)
            return -1;
        return lws_http_client_read(wsi, &p, &n) < 0 ? -1 : 0;
    }
    case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ:
        if (!f)
            return -1;
        return append(f, in, len);
    case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
        if (f)
            end(f, NULL);
        return -1; /* one request per connection */
    case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
        if (f)
            end(f, "connection closed early");
        return 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}
