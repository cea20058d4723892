/* oidc_device.c — POST /device_authorization (RFC 8628 §3.1-3.2), the device
 * record, and what the phone's decision on a device ticket does to it. */
#include "oidc_device.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "clock.h"
#include "cluster.h"
#include "hub.h"
#include "json.h"
#include "log.h"
#include "oidc.h"
#include "form.h"
#include "oidc_client_auth.h"
#include "replies.h"
#include "ticket_grant.h"
#include "ws_conn.h"

/* ---- the record ---- */

int oidc_device_decode(const struct oauth_rec *r, struct device_rec *d)
{
    struct json_doc doc;
    memset(d, 0, sizeof *d);
    if (json_parse(&doc, r->value, strlen(r->value)) ||
        json_get_str(&doc, 0, "client", d->client_id, sizeof d->client_id, NULL) ||
        json_get_str(&doc, 0, "ticket", d->ticket, sizeof d->ticket, NULL) ||
        json_get_str(&doc, 0, "scope", d->scope, sizeof d->scope, NULL) ||
        json_get_str(&doc, 0, "state", d->state, sizeof d->state, NULL) ||
        json_get_int(&doc, 0, "exp", &d->exp) || json_get_int(&doc, 0, "interval", &d->interval) ||
        json_get_int(&doc, 0, "last_poll", &d->last_poll) ||
        json_get_int(&doc, 0, "user", &d->user_id) ||
        json_get_int(&doc, 0, "auth_time", &d->auth_time))
        return -1;
    return 0;
}

int oidc_device_encode(const struct device_rec *d, struct oauth_rec *r)
{
    struct jw w;
    jw_init(&w, 0);
    jw_obj_open(&w);
    jw_kv_str(&w, "client", d->client_id);
    jw_kv_str(&w, "ticket", d->ticket);
    jw_kv_str(&w, "scope", d->scope);
    jw_kv_str(&w, "state", d->state);
    jw_kv_int(&w, "exp", d->exp);
    jw_kv_int(&w, "interval", d->interval);
    jw_kv_int(&w, "last_poll", d->last_poll);
    jw_kv_int(&w, "user", d->user_id);
    jw_kv_int(&w, "auth_time", d->auth_time);
    jw_obj_close(&w);
    return oidc_rec_set_value(r, &w);
}

/* ---- POST /device_authorization ---- */

struct devauth {
    uint64_t http;
    char ip[IP_MAX];
    char user_agent[UA_MAX];
    bool used_basic;
    char body[HTTP_API_BODY_MAX + 1];
    size_t len;
    uint64_t pc_conn;              /* the ticket's reserved "PC" id */
    char device_code[OIDC_CODE_LEN + 1];
    char user_code[OIDC_USER_CODE_LEN + 1];
    struct device_rec d;
    struct oauth_rec rec;
    int tries;
};

static void devauth_fail(struct devauth *x, int status, const char *error, const char *why)
{
    struct http_req *q = http_req_find(x->http);
    if (q)
        http_reply_oauth_error(q, status, error, why, NULL);
    if (x->pc_conn)
        tickets_cancel_pc(x->pc_conn);
    free(x);
}

static void devauth_reply(struct devauth *x)
{
    struct http_req *q = http_req_find(x->http);
    if (q) {
        char uri[600], complete[640], shown[OIDC_USER_CODE_LEN + 2];
        snprintf(uri, sizeof uri, "%s/m/", broker.cfg.public_url);
        /* The QR carries the ticket, as a PC's does: the phone lands on the
         * same confirm screen. The user code is for typing. */
        snprintf(complete, sizeof complete, "%s#t=%s", uri, x->d.ticket);
        snprintf(shown, sizeof shown, "%.4s-%.4s", x->user_code, x->user_code + 4);
        struct jw w;
        jw_init(&w, LWS_PRE);
        jw_obj_open(&w);
        jw_kv_str(&w, "device_code", x->device_code);
        jw_kv_str(&w, "user_code", shown);
        jw_kv_str(&w, "verification_uri", uri);
        jw_kv_str(&w, "verification_uri_complete", complete);
        jw_kv_int(&w, "expires_in", broker.cfg.device_code_ttl);
        jw_kv_int(&w, "interval", broker.cfg.device_interval);
        jw_obj_close(&w);
        http_reply_json(q, 200, &w);
    }
    free(x);
}

static void put_user_code(struct devauth *x);

static void user_code_stored(void *arg, enum store_rc rc)
{
    struct devauth *x = arg;
    if (rc == STORE_CONFLICT && ++x->tries < 3) {
        put_user_code(x); /* taken by a live code: 1 in 2^34 per code alive */
        return;
    }
    if (rc) {
        devauth_fail(x, 500, "server_error", NULL);
        return;
    }
    devauth_reply(x);
}

/* ucode:<code> → the ticket, so a typed code finds its ticket on any node. */
static void put_user_code(struct devauth *x)
{
    struct oauth_rec *r = &x->rec;
    memset(r, 0, sizeof *r);
    if (oidc_user_code(x->user_code)) {
        devauth_fail(x, 500, "server_error", NULL);
        return;
    }
    snprintf(r->kind, sizeof r->kind, "ucode");
    snprintf(r->key, sizeof r->key, "%s", x->user_code);
    snprintf(r->value, sizeof r->value, "{\"ticket\":\"%s\"}", x->d.ticket);
    r->expires_at = x->d.exp;
    broker.store->ops->oauth_put(broker.store, r, user_code_stored, x);
}

static void device_stored(void *arg, enum store_rc rc)
{
    struct devauth *x = arg;
    if (rc) {
        devauth_fail(x, 500, "server_error", NULL);
        return;
    }
    put_user_code(x);
}

static void ticket_placed(void *arg, bool ok)
{
    struct devauth *x = arg;
    if (!ok) {
        devauth_fail(x, 500, "server_error", NULL);
        return;
    }
    struct oauth_rec *r = &x->rec;
    memset(r, 0, sizeof *r);
    snprintf(r->kind, sizeof r->kind, "device");
    oidc_secret_key(x->device_code, r->key);
    r->expires_at = x->d.exp + OIDC_DEVICE_LINGER_MS;
    if (oidc_device_encode(&x->d, r)) {
        devauth_fail(x, 500, "server_error", NULL);
        return;
    }
    broker.store->ops->oauth_put(broker.store, r, device_stored, x);
}

static void devauth_client(void *arg, enum oidc_auth_rc rc, const struct oidc_client *c)
{
    struct devauth *x = arg;
    if (rc == OIDC_AUTH_INVALID_CLIENT) {
        struct http_req *q = http_req_find(x->http);
        if (q)
            oidc_reply_invalid_client(q, x->used_basic);
        free(x);
        return;
    }
    if (rc == OIDC_AUTH_INVALID_REQUEST) {
        devauth_fail(x, 400, "invalid_request", "say which client is asking");
        return;
    }
    if (rc) {
        devauth_fail(x, 500, "server_error", NULL);
        return;
    }
    if (!(c->grants & OIDC_GRANT_DEVICE)) {
        devauth_fail(x, 400, "unauthorized_client",
                     "the client is not registered for the device grant");
        return;
    }
    struct device_rec *d = &x->d;
    int s = form_value(x->body, x->len, "scope", d->scope, sizeof d->scope);
    if (s == -2) {
        devauth_fail(x, 400, "invalid_scope", NULL);
        return;
    }
    snprintf(d->client_id, sizeof d->client_id, "%s", c->id);
    snprintf(d->state, sizeof d->state, "pending");
    int64_t ttl_ms = broker.cfg.device_code_ttl * 1000;
    d->exp = clock_now_ms() + ttl_ms;
    d->interval = broker.cfg.device_interval;

    struct ticket_grant *g = calloc(1, sizeof *g);
    const struct ticket *t;
    if (!g || oidc_random_code(x->device_code)) {
        free(g);
        devauth_fail(x, 500, "server_error", NULL);
        return;
    }
    g->kind = TICKET_GRANT_DEVICE;
    snprintf(g->client_id, sizeof g->client_id, "%s", c->id);
    memcpy(g->ip, x->ip, sizeof g->ip);
    memcpy(g->user_agent, x->user_agent, sizeof g->user_agent);
    oidc_secret_key(x->device_code, g->key);
    x->pc_conn = hub_reserve_id();
    if (tickets_create_grant(x->pc_conn, c->id, ttl_ms, g, &t)) {
        x->pc_conn = 0;
        devauth_fail(x, 500, "server_error", NULL);
        return;
    }
    snprintf(d->ticket, sizeof d->ticket, "%s", t->id);
    char p[7];
    log_info("device authorization for client %s: ticket %s…", c->id,
             log_ticket_prefix(t->id, p));
    cluster_ticket_place(t->id, ttl_ms, ticket_placed, x);
}

void oidc_post_device(struct http_req *q)
{
    size_t len;
    bool overflow;
    const char *body = http_req_body(q, &len, &overflow);
    if (overflow) {
        http_reply_oauth_error(q, 400, "invalid_request", "the request body is too long", NULL);
        return;
    }
    struct devauth *x = calloc(1, sizeof *x);
    if (!x) {
        http_reply_oauth_error(q, 500, "server_error", NULL, NULL);
        return;
    }
    memcpy(x->body, body, len);
    x->len = len;
    ws_client_of(http_req_wsi(q), x->ip, sizeof x->ip, x->user_agent, sizeof x->user_agent);
    x->http = http_req_hold(q);
    oidc_client_authenticate(q, x->body, x->len, &x->used_basic, devauth_client, x);
}

/* ---- the phone's decision (oidc_tickets.c calls these) ---- */

struct decision {
    struct req r;             /* the phone's confirm or deny */
    bool has_req;             /* a wrong number's denial has no request to answer */
    bool approve;
    int64_t user_id;
    char ticket[TICKET_LEN + 1];
};

static bool decide(void *arg, struct oauth_rec *r)
{
    struct decision *x = arg;
    struct device_rec d;
    if (oidc_device_decode(r, &d) || strcmp(d.state, "pending") || strcmp(d.ticket, x->ticket) ||
        d.exp <= clock_now_ms())
        return false;
    snprintf(d.state, sizeof d.state, "%s", x->approve ? "approved" : "denied");
    if (x->approve) {
        d.user_id = x->user_id;
        d.auth_time = clock_now_s();
    }
    return oidc_device_encode(&d, r) == 0;
}

static void decided(void *arg, enum store_rc rc, bool wrote)
{
    struct decision *x = arg;
    if (x->approve) {
        if (wrote)
            reply_ok(&x->r, x->ticket);
        else if (rc == STORE_ERROR || rc == STORE_CONFLICT)
            reply_error(&x->r, E_INTERNAL, "the store is unavailable");
        else
            reply_error(&x->r, E_NOT_FOUND, NULL); /* expired meanwhile */
    } else {
        if (!wrote)
            log_warn("device grant: a denial was not recorded (store rc %d)", (int)rc);
        /* the ticket is gone either way; a record that moved on (expired) needs
         * no denial */
        if (x->has_req && (wrote || rc == STORE_OK || rc == STORE_NOT_FOUND))
            reply_ok(&x->r, x->ticket);
        else if (x->has_req)
            reply_error(&x->r, E_INTERNAL, "the store is unavailable");
    }
    free(x);
}

void oidc_device_decided(const struct req *r, const struct ticket *t, int64_t user_id,
                         bool approve)
{
    struct decision *x = calloc(1, sizeof *x);
    if (!x) {
        if (r)
            reply_error(r, E_INTERNAL, NULL);
        return;
    }
    if (r) {
        x->r = *r;
        x->has_req = true;
    }
    x->approve = approve;
    x->user_id = user_id;
    snprintf(x->ticket, sizeof x->ticket, "%s", t->id);
    oidc_rec_update("device", t->grant->key, decide, decided, x);
}

/* ---- a typed user code ---- */

struct resolve {
    oidc_user_code_cb cb;
    void *arg;
};

static void resolved(void *arg, enum store_rc rc, const struct oauth_rec *r)
{
    struct resolve *x = arg;
    char ticket[TICKET_LEN + 2] = "";
    struct json_doc d;
    if (!rc && (json_parse(&d, r->value, strlen(r->value)) ||
                json_get_str(&d, 0, "ticket", ticket, sizeof ticket, NULL) ||
                strlen(ticket) != TICKET_LEN))
        ticket[0] = '\0';
    x->cb(x->arg, ticket[0] ? ticket : NULL);
    free(x);
}

void oidc_resolve_user_code(const char *user_code, oidc_user_code_cb cb, void *arg)
{
    char code[OIDC_USER_CODE_LEN + 1];
    struct resolve *x;
    if (!oidc_user_code_normalize(user_code, code) || !(x = malloc(sizeof *x))) {
        cb(arg, NULL);
        return;
    }
    x->cb = cb;
    x->arg = arg;
    broker.store->ops->oauth_get(broker.store, "ucode", code, resolved, x);
}
