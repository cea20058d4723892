/* replies.c — see replies.h. */
#include "replies.h"

#include <stdio.h>
#include <string.h>

#include "hub.h"
#include "metrics.h"
#include "sessions.h"

void reply_start(struct jw *w, const struct req *r, const char *type)
{
    hub_jw_init(w);
    jw_obj_open(w);
    jw_kv_str(w, "type", type);
    if (r->id_raw[0]) {
        jw_key(w, "id");
        jw_raw(w, r->id_raw, strlen(r->id_raw));
    }
}

void reply_finish(const struct req *r, struct jw *w)
{
    jw_obj_close(w);
    hub_send_jw(r->conn, w);
}

void reply_finish_timed(const struct req *r, struct jw *w, int hist, int64_t t0_us)
{
    jw_obj_close(w);
    hub_send_jw_timed(r->conn, w, hist, t0_us);
}

void push_finish_timed(uint64_t conn, struct jw *w, int hist, int64_t t0_us)
{
    jw_obj_close(w);
    hub_send_jw_timed(conn, w, hist, t0_us);
}

void jw_user(struct jw *w, int64_t id, const char *name)
{
    char s[24];
    snprintf(s, sizeof s, "%lld", (long long)id);
    jw_key(w, "user");
    jw_obj_open(w);
    jw_kv_str(w, "id", s);
    jw_kv_str(w, "name", name);
    jw_obj_close(w);
}

void reply_error(const struct req *r, enum api_err e, const char *message)
{
    struct jw w;
    if (e == E_BAD_REQUEST)
        metrics.bad_requests++;
    reply_start(&w, r, "error");
    jw_kv_str(&w, "code", api_err_code(e));
    jw_kv_str(&w, "message", message ? message : api_err_message(e));
    reply_finish(r, &w);
}

void reply_rate_limited(const struct req *r, int64_t retry_after, const char *message)
{
    struct jw w;
    metrics.rate_limited++;
    reply_start(&w, r, "error");
    jw_kv_str(&w, "code", api_err_code(E_RATE_LIMITED));
    jw_kv_str(&w, "message", message ? message : api_err_message(E_RATE_LIMITED));
    jw_kv_int(&w, "retry_after", retry_after < 1 ? 1 : retry_after);
    reply_finish(r, &w);
}

void reply_ok(const struct req *r, const char *ticket)
{
    struct jw w;
    reply_start(&w, r, "ok");
    if (ticket)
        jw_kv_str(&w, "ticket", ticket);
    reply_finish(r, &w);
}

void push_start(struct jw *w, const char *type)
{
    hub_jw_init(w);
    jw_obj_open(w);
    jw_kv_str(w, "type", type);
}

void push_finish(uint64_t conn, struct jw *w)
{
    jw_obj_close(w);
    hub_send_jw(conn, w);
}

void reply_signed_in(struct conn *c, const struct req *r, const struct issued *is)
{
    hub_attach(c, is->user_id, is->user_name, is->sid);
    hub_conn_changed(c);
    struct jw w;
    reply_start(&w, r, "auth");
    jw_user(&w, is->user_id, is->user_name);
    jw_kv_str(&w, "session_id", is->sid);
    jw_kv_str(&w, "access_token", is->access);
    jw_kv_str(&w, "refresh_token", is->refresh);
    jw_kv_str(&w, "token_type", "Bearer");
    jw_kv_int(&w, "expires_in", is->expires_in);
    jw_kv_int(&w, "refresh_expires_in", is->refresh_expires_in);
    reply_finish(r, &w);
}
