/* http_api.c — see http_api.h.
 *
 * Responses are built whole in the per-connection state, then written from
 * HTTP_WRITEABLE: headers in one callback, body in the next (one lws_write per
 * WRITEABLE). Requests that need a worker or the store (/api/me, /api/token)
 * hold a request id, never the wsi: a table maps live ids to their state, and
 * a result for an id that closed meanwhile is dropped (docs/architecture.md, rule 3). */
#include "http_api.h"

#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "cluster.h"
#include "clock.h"
#include "external_token.h"
#include "federation.h"
#include "form.h"
#include "hmap.h"
#include "json.h"
#include "jwks_cache.h"
#include "metrics.h"
#include "sessions.h"
#include "tickets.h"
#include "workers.h"
#include "ws_conn.h"

enum http_phase { PH_IDLE, PH_WAITING, PH_HEADERS, PH_BODY };

struct http_pss {
    struct hnode node;   /* in `pending` while a result is awaited */
    uint64_t id;
    struct lws *wsi;
    enum http_phase phase;
    bool is_token;       /* POST /api/token body being received */
    const struct http_route *route; /* a route's POST body being received */
    int status;
    const char *content_type;
    const char *cache_control;
    bool www_auth;
    char *location;      /* a redirect's target (heap) */
    bool cors;           /* an OIDC endpoint: readable from any origin */
    char www_auth_val[160]; /* a route's WWW-Authenticate ("" none) */
    char *body;          /* LWS_PRE headroom first */
    size_t body_len;
    char post[HTTP_API_BODY_MAX + 1];
    size_t post_len;
    bool post_overflow;
};

size_t http_api_pss_size(void) { return sizeof(struct http_pss); }

static struct hmap pending;
static uint64_t next_id = 1;

static struct http_pss *pending_find(uint64_t id)
{
    uint64_t h = hmap_hash_u64(id);
    for (struct hnode *n = hmap_chain(&pending, h); n; n = n->next) {
        struct http_pss *p = hmap_entry(n, struct http_pss, node);
        if (n->hash == h && p->id == id)
            return p;
    }
    return NULL;
}

static void pss_reset(struct http_pss *p)
{
    if (p->phase == PH_WAITING)
        hmap_remove(&pending, &p->node);
    free(p->body);
    p->body = NULL;
    p->body_len = 0;
    p->phase = PH_IDLE;
    p->www_auth = false;
    p->is_token = false;
    p->route = NULL;
    p->cors = false;
    free(p->location);
    p->location = NULL;
    p->www_auth_val[0] = '\0';
    p->post_len = 0;
    p->post_overflow = false;
}

/* Takes a jw started with headroom LWS_PRE as the body. */
static void respond_jw(struct http_pss *p, int status, struct jw *w)
{
    size_t len;
    char *buf = jw_finish(w, &len);
    if (p->phase == PH_WAITING)
        hmap_remove(&pending, &p->node);
    free(p->body);
    p->body = buf;
    p->body_len = buf ? len : 0;
    p->status = buf ? status : HTTP_STATUS_INTERNAL_SERVER_ERROR;
    p->content_type = "application/json";
    p->cache_control = "no-store";
    p->phase = PH_HEADERS;
    lws_callback_on_writable(p->wsi);
}

static void respond_text(struct http_pss *p, int status, const char *type, const char *cache,
                         const char *text, size_t n)
{
    free(p->body);
    p->body = malloc(LWS_PRE + n + 1);
    if (p->body)
        memcpy(p->body + LWS_PRE, text, n);
    p->body_len = p->body ? n : 0;
    p->status = p->body ? status : HTTP_STATUS_INTERNAL_SERVER_ERROR;
    p->content_type = type;
    p->cache_control = cache;
    p->phase = PH_HEADERS;
    lws_callback_on_writable(p->wsi);
}

static void respond_error(struct http_pss *p, int status, const char *code)
{
    struct jw w;
    jw_init(&w, LWS_PRE);
    jw_obj_open(&w);
    jw_kv_str(&w, "error", code);
    jw_obj_close(&w);
    respond_jw(p, status, &w);
}

static void wait_for_result(struct http_pss *p)
{
    p->id = next_id++;
    p->phase = PH_WAITING;
    hmap_insert(&pending, &p->node, hmap_hash_u64(p->id));
}

/* ---- GET /healthz, /metrics, /.well-known/jwks.json ---- */

static void get_healthz(struct http_pss *p)
{
    bool ok = broker.store && broker.store->ops->healthy(broker.store) && cluster_healthy();
    if (!broker.cfg.n_trust_issuers) {
        const char *body = ok ? "{\"status\":\"ok\"}" : "{\"status\":\"unavailable\"}";
        respond_text(p, ok ? 200 : 503, "application/json", "no-store", body, strlen(body));
        return;
    }
    /* With trusted issuers, each one's key state is detail: an identity
     * provider whose JWKS is failing does not make this node unhealthy (the
     * last good keys stay in use), but the operator must see it. */
    struct jw w;
    jw_init(&w, LWS_PRE);
    jw_obj_open(&w);
    jw_kv_str(&w, "status", ok ? "ok" : "unavailable");
    jwks_cache_health(&w);
    jw_obj_close(&w);
    respond_jw(p, ok ? 200 : 503, &w);
}

static void get_metrics(struct http_pss *p)
{
    char buf[8192];
    int n = metrics_render(buf, sizeof buf, workers_pending(), tickets_count());
    if (n < 0)
        n = 0;
    respond_text(p, 200, "text/plain; version=0.0.4; charset=utf-8", "no-store", buf, (size_t)n);
}

static void get_jwks(struct http_pss *p)
{
    char buf[8192];
    int n = keys_jwks_json(&broker.keys, buf, sizeof buf);
    if (n < 0) {
        respond_error(p, 500, "internal");
        return;
    }
    /* Verifiers cache the set; keep it short so a new key is seen soon. */
    respond_text(p, 200, "application/json", "public, max-age=300", buf, (size_t)n);
}

/* ---- GET /api/me ---- */

static void me_checked(void *arg, enum api_err err, const struct claims *c)
{
    uint64_t id = (uint64_t)(uintptr_t)arg;
    struct http_pss *p = pending_find(id);
    if (!p)
        return; /* the client left */
    if (err == E_INTERNAL) {
        respond_error(p, 500, "internal");
        return;
    }
    if (err) {
        p->www_auth = true;
        respond_error(p, 401, "invalid_token");
        return;
    }
    struct jw w;
    jw_init(&w, LWS_PRE);
    jw_obj_open(&w);
    char sub[24];
    snprintf(sub, sizeof sub, "%lld", (long long)c->sub);
    jw_kv_str(&w, "sub", sub);
    jw_kv_str(&w, "name", c->name);
    jw_kv_str(&w, "sid", c->sid);
    jw_kv_int(&w, "iat", c->iat);
    jw_kv_int(&w, "exp", c->exp);
    jw_obj_close(&w);
    respond_jw(p, 200, &w);
}

static void get_me(struct lws *wsi, struct http_pss *p)
{
    char auth[JWT_MAX_TOKEN + 32];
    int n = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
    if (n <= 0 || n >= (int)sizeof auth ||
        lws_hdr_copy(wsi, auth, sizeof auth, WSI_TOKEN_HTTP_AUTHORIZATION) <= 0 ||
        strncasecmp(auth, "Bearer ", 7)) {
        p->www_auth = true;
        respond_error(p, 401, "invalid_token");
        return;
    }
    const char *tok = auth + 7;
    while (*tok == ' ')
        tok++;
    wait_for_result(p);
    sessions_check_access(tok, strlen(tok), me_checked, (void *)(uintptr_t)p->id);
}

/* ---- POST /api/token ---- */

/* Finishes w (an open object) as RFC 6749 §5.1's answer for a pair, with
 * RFC 8693's issued_token_type when given, and sends it. */
static void respond_pair(struct http_pss *p, struct jw *w, const struct issued *is,
                         const char *issued_token_type)
{
    jw_kv_str(w, "access_token", is->access);
    if (issued_token_type)
        jw_kv_str(w, "issued_token_type", issued_token_type);
    jw_kv_str(w, "token_type", "Bearer");
    jw_kv_int(w, "expires_in", is->expires_in);
    jw_kv_str(w, "refresh_token", is->refresh);
    jw_kv_int(w, "refresh_expires_in", is->refresh_expires_in);
    jw_kv_str(w, "session_id", is->sid);
    jw_obj_close(w);
    respond_jw(p, 200, w);
}

static void token_issued(void *arg, enum api_err err, const struct issued *is, int64_t retry)
{
    uint64_t id = (uint64_t)(uintptr_t)arg;
    struct http_pss *p = pending_find(id);
    if (!p)
        return;
    struct jw w;
    jw_init(&w, LWS_PRE);
    jw_obj_open(&w);
    if (err) {
        jw_kv_str(&w, "error", api_err_code(err));
        if (err == E_RATE_LIMITED)
            jw_kv_int(&w, "retry_after", retry < 1 ? 1 : retry);
        jw_obj_close(&w);
        respond_jw(p, err == E_INTERNAL ? 500 : 400, &w);
        return;
    }
    respond_pair(p, &w, is, NULL);
}

/* ---- RFC 8693 token exchange: a trusted issuer's JWT for our pair ---- */

#define TOKEN_EXCHANGE_GRANT "urn:ietf:params:oauth:grant-type:token-exchange"
#define JWT_TOKEN_TYPE "urn:ietf:params:oauth:token-type:jwt"

static void exchange_issued(void *arg, enum api_err err, const struct issued *is)
{
    struct http_pss *p = pending_find((uint64_t)(uintptr_t)arg);
    if (!p)
        return;
    if (err == E_INTERNAL) {
        respond_error(p, 500, "internal");
        return;
    }
    if (err) { /* RFC 8693 §2.2.2: the subject token is not acceptable */
        respond_error(p, 400, "invalid_grant");
        return;
    }
    struct jw w;
    jw_init(&w, LWS_PRE);
    jw_obj_open(&w);
    respond_pair(p, &w, is, "urn:ietf:params:oauth:token-type:access_token");
}

static void post_token_exchange(struct http_pss *p)
{
    struct lws *wsi = p->wsi;
    char type[64], ip[IP_MAX] = "", ua[UA_MAX] = "";
    char *token = malloc(EXT_TOKEN_MAX + 1);
    if (!token) {
        respond_error(p, 500, "internal");
        return;
    }
    int ty = form_value(p->post, p->post_len, "subject_token_type", type, sizeof type);
    int t = form_value(p->post, p->post_len, "subject_token", token, EXT_TOKEN_MAX + 1);
    if (ty == -1 || t == -1) {
        respond_error(p, 400, "invalid_request");
    } else if (ty < 0 || strcmp(type, JWT_TOKEN_TYPE) || t <= 0) {
        respond_error(p, 400, "invalid_grant");
    } else {
        ws_client_of(wsi, ip, sizeof ip, ua, sizeof ua);
        wait_for_result(p);
        federation_exchange(token, (size_t)t, ip, ua, exchange_issued,
                            (void *)(uintptr_t)p->id);
    }
    free(token);
}

static void post_token(struct http_pss *p)
{
    char grant[64], token[JWT_MAX_TOKEN + 1];
    if (p->post_overflow) {
        respond_error(p, 400, "bad_request");
        return;
    }
    int g = form_value(p->post, p->post_len, "grant_type", grant, sizeof grant);
    if (g >= 0 && !strcmp(grant, TOKEN_EXCHANGE_GRANT) && broker.cfg.n_trust_issuers) {
        post_token_exchange(p);
        return;
    }
    if (g < 0 || strcmp(grant, "refresh_token")) {
        respond_error(p, 400, g == -1 ? "bad_request" : "unsupported_grant_type");
        return;
    }
    int t = form_value(p->post, p->post_len, "refresh_token", token, sizeof token);
    if (t == -1) {
        respond_error(p, 400, "bad_request");
        return;
    }
    if (t < 0) {
        respond_error(p, 400, "invalid_token");
        return;
    }
    wait_for_result(p);
    sessions_refresh(token, (size_t)t, token_issued, (void *)(uintptr_t)p->id);
}

/* ---- lws glue ---- */

static int on_http(struct lws *wsi, struct http_pss *p, const char *uri)
{
    pss_reset(p);
    p->wsi = wsi;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_OPTIONS_URI) > 0) {
        char path[64] = "";
        lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_OPTIONS_URI);
        if (!oidc_route_find(path))
            return lws_return_http_status(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED, NULL) ? -1 : 1;
        /* A browser app's preflight (CORS), e.g. before /userinfo with a
         * bearer token: allowed from any origin, never with credentials. */
        p->cors = true;
        respond_text(p, 204, "text/plain", "no-store", "", 0);
        return 0;
    }
    bool is_post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;
    if (is_post) {
        char path[64] = "";
        lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_POST_URI);
        if (!strcmp(path, "/api/token")) {
            p->is_token = true;
            return 0; /* wait for the body */
        }
        const struct http_route *rt = oidc_route_find(path);
        if (rt && rt->post) {
            p->route = rt;
            p->cors = true;
            return 0; /* wait for the body */
        }
        return lws_return_http_status(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED, NULL) ? -1 : 1;
    }
    if (!strcmp(uri, "/healthz"))
        get_healthz(p);
    else if (!strcmp(uri, "/metrics"))
        get_metrics(p);
    else if (!strcmp(uri, "/.well-known/jwks.json")) {
        p->cors = true; /* browser apps check ID tokens against it */
        get_jwks(p);
    }
    else if (!strcmp(uri, "/api/me"))
        get_me(wsi, p);
    else if (!strcmp(uri, "/api/token"))
        return lws_return_http_status(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED, NULL) ? -1 : 1;
    else if (oidc_route_find(uri)) {
        const struct http_route *rt = oidc_route_find(uri);
        if (!rt->get)
            return lws_return_http_status(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED, NULL) ? -1 : 1;
        p->cors = true;
        rt->get((struct http_req *)p);
    } else
        return lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL) ? -1 : 1;
    return 0;
}

static int on_writeable(struct lws *wsi, struct http_pss *p)
{
    if (p->phase == PH_HEADERS) {
        unsigned char buf[LWS_PRE + 2048], *start = buf + LWS_PRE, *q = start,
                                            *end = buf + sizeof buf - 1;
        if (lws_add_http_common_headers(wsi, (unsigned)p->status, p->content_type,
                                        p->body_len, &q, end) ||
            lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
                                        (const unsigned char *)p->cache_control,
                                        (int)strlen(p->cache_control), &q, end))
            return 1;
        if (p->www_auth) {
            static const char v[] = "Bearer error=\"invalid_token\"";
            if (lws_add_http_header_by_name(wsi, (const unsigned char *)"www-authenticate:",
                                            (const unsigned char *)v, sizeof v - 1, &q, end))
                return 1;
        }
        if (p->www_auth_val[0] &&
            lws_add_http_header_by_name(wsi, (const unsigned char *)"www-authenticate:",
                                        (const unsigned char *)p->www_auth_val,
                                        (int)strlen(p->www_auth_val), &q, end))
            return 1;
        if (p->location &&
            lws_add_http_header_by_name(wsi, (const unsigned char *)"location:",
                                        (const unsigned char *)p->location,
                                        (int)strlen(p->location), &q, end))
            return 1;
        if (p->cors) {
            /* OIDC endpoints serve browser apps (SPAs) too: any origin may
             * read them. No cookies are involved (credentials are never
             * allowed), so this gives a page nothing its own fetch could
             * not get; the socket's Origin check is unaffected. */
            static const struct {
                const char *name, *value;
            } h[] = {{"access-control-allow-origin:", "*"},
                     {"access-control-allow-methods:", "GET, POST"},
                     {"access-control-allow-headers:", "Authorization, Content-Type"},
                     {"access-control-max-age:", "600"}};
            for (size_t i = 0; i < sizeof h / sizeof h[0]; i++)
                if (lws_add_http_header_by_name(wsi, (const unsigned char *)h[i].name,
                                                (const unsigned char *)h[i].value,
                                                (int)strlen(h[i].value), &q, end))
                    return 1;
        }
        /* RFC 6749 §5.1: token responses also say Pragma: no-cache */
        if (!strcmp(p->cache_control, "no-store") &&
            lws_add_http_header_by_name(wsi, (const unsigned char *)"pragma:",
                                        (const unsigned char *)"no-cache", 8, &q, end))
            return 1;
        if (cluster_on()) {
            /* Which node answered, for operators behind a load balancer (and the
             * cluster tests); the node id is no secret. */
            char node[8];
            snprintf(node, sizeof node, "%06x", cluster_node());
            if (lws_add_http_header_by_name(wsi, (const unsigned char *)"x-qrlogin-node:",
                                            (const unsigned char *)node, 6, &q, end))
                return 1;
        }
        if (lws_finalize_write_http_header(wsi, start, &q, end))
            return 1;
        p->phase = PH_BODY;
        lws_callback_on_writable(wsi);
        return 0;
    }
    if (p->phase != PH_BODY)
        return 0;
    int n = p->body_len ? lws_write(wsi, (unsigned char *)p->body + LWS_PRE, p->body_len,
                                    LWS_WRITE_HTTP_FINAL)
                        : 0;
    size_t want = p->body_len;
    pss_reset(p);
    if (n < (int)want)
        return -1;
    if (lws_http_transaction_completed(wsi))
        return -1;
    return 0;
}

int http_api_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len)
{
    struct http_pss *p = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return on_http(wsi, p, in ? (const char *)in : "");
    case LWS_CALLBACK_HTTP_BODY:
        if (!p->is_token && !p->route)
            break;
        if (p->post_len + len > HTTP_API_BODY_MAX) {
            p->post_overflow = true;
            return 0;
        }
        if (len) { /* an empty chunk comes with in == NULL */
            memcpy(p->post + p->post_len, in, len);
            p->post_len += len;
        }
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (!p->is_token && !p->route)
            break;
        p->wsi = wsi;
        if (p->route)
            p->route->post((struct http_req *)p);
        else
            post_token(p);
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (p)
            return on_writeable(wsi, p);
        return 0;
    case LWS_CALLBACK_CLOSED_HTTP:
        if (p)
            pss_reset(p);
        return 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

void http_api_shutdown(void) { hmap_free(&pending); }

/* ---- the request interface of http_api.h ---- */

static struct http_pss *pss_of(struct http_req *q) { return (struct http_pss *)q; }

uint64_t http_req_hold(struct http_req *q)
{
    struct http_pss *p = pss_of(q);
    wait_for_result(p);
    return p->id;
}

struct http_req *http_req_find(uint64_t id) { return (struct http_req *)pending_find(id); }

struct lws *http_req_wsi(struct http_req *q) { return pss_of(q)->wsi; }

const char *http_req_body(struct http_req *q, size_t *len, bool *overflow)
{
    struct http_pss *p = pss_of(q);
    *len = p->route ? p->post_len : 0;
    *overflow = p->route && p->post_overflow;
    return p->route ? p->post : NULL;
}

int http_req_query(struct http_req *q, const char *name, char *out, size_t outsz)
{
    /* lws has already split the query at '&' into fragments and decoded
     * each one's %XX escapes (an escaped "%26" does not split), so a
     * fragment is "name=value" as sent, decoded once: it must not be decoded
     * again, or "%2525" would come out as "%". */
    struct lws *wsi = pss_of(q)->wsi;
    char frag[HTTP_API_BODY_MAX];
    size_t nlen = strlen(name);
    int found = -1;
    for (int i = 0;; i++) {
        int n = lws_hdr_copy_fragment(wsi, frag, sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n < 0)
            break;
        if ((size_t)n <= nlen || memcmp(frag, name, nlen) || frag[nlen] != '=')
            continue;
        size_t vlen = (size_t)n - nlen - 1;
        if (found != -1 || vlen >= outsz || memchr(frag + nlen + 1, '\0', vlen))
            return -2; /* repeated (RFC 6749 §3.1), too long, or a NUL */
        memcpy(out, frag + nlen + 1, vlen);
        out[vlen] = '\0';
        found = (int)vlen;
    }
    return found;
}

void http_reply_json(struct http_req *q, int status, struct jw *w)
{
    respond_jw(pss_of(q), status, w);
}

void http_reply_text(struct http_req *q, int status, const char *type, const char *cache,
                     const char *text, size_t n)
{
    struct http_pss *p = pss_of(q);
    if (p->phase == PH_WAITING)
        hmap_remove(&pending, &p->node);
    respond_text(p, status, type, cache, text, n);
}

void http_reply_redirect(struct http_req *q, const char *location)
{
    struct http_pss *p = pss_of(q);
    free(p->location);
    p->location = strdup(location);
    http_reply_text(q, p->location ? 302 : 500, "text/plain", "no-store", "", 0);
}

void http_reply_oauth_error(struct http_req *q, int status, const char *error,
                            const char *description, const char *www_authenticate)
{
    struct http_pss *p = pss_of(q);
    struct jw w;
    snprintf(p->www_auth_val, sizeof p->www_auth_val, "%s",
             www_authenticate ? www_authenticate : "");
    jw_init(&w, LWS_PRE);
    jw_obj_open(&w);
    jw_kv_str(&w, "error", error);
    if (description)
        jw_kv_str(&w, "error_description", description);
    jw_obj_close(&w);
    respond_jw(p, status, &w);
}
