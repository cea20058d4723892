/* handle_session.c — token.refresh, session.list, session.revoke, logout and
 * logout.all over the socket (docs/protocol.md §4–5). The decisions are
 * sessions.c's; this file turns them into frames. */
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "clock.h"
#include "cluster.h"
#include "hub.h"
#include "log.h"
#include "sessions.h"
#include "ws_dispatch.h"

struct refresh_ctx {
    struct req r;
    int64_t t0_us;
};

static struct req *req_copy(const struct req *r)
{
    struct req *x = malloc(sizeof *x);
    if (x)
        *x = *r;
    else
        reply_error(r, E_INTERNAL, NULL);
    return x;
}

/* ---- session.revoked pushes ---- */

static void push_revoked(struct conn *c, void *arg)
{
    const enum session_end *why = arg;
    struct jw w;
    push_start(&w, "session.revoked");
    jw_kv_str(&w, "session_id", c->sid);
    jw_kv_str(&w, "reason", session_end_name(*why));
    push_finish(c->id, &w);
    hub_detach(c); /* the socket stays open, just no longer signed in */
    hub_conn_changed(c);
}

/* A session ended here: its sockets on this node are told, and the other
 * nodes holding sockets of it. */
static void session_ended_here(const char *sid, enum session_end why)
{
    hub_each_in_session(sid, push_revoked, &why);
    cluster_announce_revoked(sid, why);
}

void handlers_session_ended_elsewhere(const char *sid, enum session_end why)
{
    log_debug("session %s revoked on another node (%s)", sid, session_end_name(why));
    hub_each_in_session(sid, push_revoked, &why);
}

void handlers_sessions_init(void) { sessions_set_listener(session_ended_here); }

/* ---- token.refresh ---- */

static void refreshed(void *arg, enum api_err err, const struct issued *is, int64_t retry_after)
{
    struct refresh_ctx *x = arg;
    struct req *r = &x->r;
    if (err == E_RATE_LIMITED) {
        reply_rate_limited(r, retry_after, "refreshed too recently");
    } else if (err) {
        reply_error(r, err, NULL);
    } else {
        struct jw w;
        reply_start(&w, r, "token");
        jw_kv_str(&w, "access_token", is->access);
        jw_kv_str(&w, "refresh_token", is->refresh);
        jw_kv_str(&w, "token_type", "Bearer");
        jw_kv_int(&w, "expires_in", is->expires_in);
        jw_kv_int(&w, "refresh_expires_in", is->refresh_expires_in);
        jw_kv_str(&w, "session_id", is->sid);
        reply_finish_timed(r, &w, MH_REFRESH, x->t0_us);
    }
    free(x);
}

void handle_token_refresh(struct conn *c, const struct req *r, const struct json_doc *d)
{
    (void)c;
    char token[JWT_MAX_TOKEN + 1];
    size_t len;
    enum json_rc rc = json_get_str(d, 0, "refresh_token", token, sizeof token, &len);
    if (rc == JSON_MISSING || rc == JSON_WRONG_TYPE) {
        reply_error(r, E_BAD_REQUEST, "refresh_token must be a string");
        return;
    }
    if (rc) {
        reply_error(r, E_INVALID_TOKEN, NULL);
        return;
    }
    struct refresh_ctx *x = malloc(sizeof *x);
    if (!x) {
        reply_error(r, E_INTERNAL, NULL);
        return;
    }
    x->r = *r;
    x->t0_us = clock_mono_us();
    sessions_refresh(token, len, refreshed, x);
}

/* ---- session.list ---- */

struct list_ctx {
    struct req r;
    char current[SID_MAX];
    int64_t user_id;
    struct jw w;
};

#define HISTORY_MAX 10

/* Beyond the contract's members, `history` carries the user's latest login
 * decisions from the audit log (confirmed, denied, wrong code), so the phone
 * can show "signed in from … at …" and notice approvals it did not make. */
static void history_listed(void *arg, enum store_rc rc, const struct audit_rec *a, int n)
{
    struct list_ctx *x = arg;
    struct jw *w = &x->w;
    jw_key(w, "history");
    jw_arr_open(w);
    for (int i = 0; !rc && i < n; i++) {
        jw_obj_open(w);
        jw_kv_int(w, "at", a[i].at);
        jw_kv_str(w, "outcome", a[i].outcome);
        jw_kv_str(w, "session_id", a[i].sid);
        jw_kv_str(w, "ip", a[i].pc_ip);
        jw_kv_str(w, "user_agent", a[i].pc_user_agent);
        jw_obj_close(w);
    }
    jw_arr_close(w);
    reply_finish(&x->r, w);
    free(x);
}

static void listed(void *arg, enum api_err err, const struct session_rec *s, int n)
{
    struct list_ctx *x = arg;
    if (err) {
        reply_error(&x->r, err, NULL);
        free(x);
        return;
    }
    struct jw *w = &x->w;
    reply_start(w, &x->r, "sessions");
    jw_key(w, "sessions");
    jw_arr_open(w);
    for (int i = 0; i < n; i++) {
        jw_obj_open(w);
        jw_kv_str(w, "session_id", s[i].sid);
        jw_kv_str(w, "kind", s[i].kind);
        jw_kv_int(w, "created_at", s[i].created_at);
        jw_kv_int(w, "last_used_at", s[i].last_used_at);
        jw_kv_str(w, "ip", s[i].ip);
        jw_kv_str(w, "user_agent", s[i].user_agent);
        if (s[i].client_id[0]) /* an OIDC client's session: its name (docs/oidc.md) */
            jw_kv_str(w, "client_name", s[i].client_id);
        jw_kv_bool(w, "current", !strcmp(s[i].sid, x->current));
        jw_obj_close(w);
    }
    jw_arr_close(w);
    broker.store->ops->audit_recent(broker.store, x->user_id, HISTORY_MAX, history_listed, x);
}

void handle_session_list(struct conn *c, const struct req *r, const struct json_doc *d)
{
    (void)d;
    struct list_ctx *x = calloc(1, sizeof *x);
    if (!x) {
        reply_error(r, E_INTERNAL, NULL);
        return;
    }
    x->r = *r;
    x->user_id = c->user_id;
    snprintf(x->current, sizeof x->current, "%s", c->sid);
    sessions_list(c->user_id, listed, x);
}

/* ---- revoking ---- */

static void done_ok(void *arg, enum api_err err)
{
    struct req *r = arg;
    if (err)
        reply_error(r, err, err == E_NOT_FOUND ? "no such session" : NULL);
    else
        reply_ok(r, NULL);
    free(r);
}

void handle_session_revoke(struct conn *c, const struct req *r, const struct json_doc *d)
{
    char sid[SID_MAX];
    enum json_rc rc = json_get_str(d, 0, "session_id", sid, sizeof sid, NULL);
    if (rc == JSON_TOO_LONG) {
        reply_error(r, E_NOT_FOUND, "no such session");
        return;
    }
    if (rc) {
        reply_error(r, E_BAD_REQUEST, "session_id must be a string");
        return;
    }
    struct req *x = req_copy(r);
    if (x)
        sessions_revoke(c->user_id, sid, SESSION_END_REVOKED, done_ok, x);
}

void handle_logout(struct conn *c, const struct req *r, const struct json_doc *d)
{
    (void)d;
    if (!c->sid[0]) {
        reply_error(r, E_UNAUTHORIZED, "this socket is not attached to a session");
        return;
    }
    char sid[SID_MAX];
    snprintf(sid, sizeof sid, "%s", c->sid);
    int64_t uid = c->user_id;
    struct req *x = req_copy(r);
    if (x)
        sessions_revoke(uid, sid, SESSION_END_LOGOUT, done_ok, x);
}

void handle_logout_all(struct conn *c, const struct req *r, const struct json_doc *d)
{
    (void)d;
    struct req *x = req_copy(r);
    if (x)
        sessions_logout_all(c->user_id, done_ok, x);
}
