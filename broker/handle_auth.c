/* handle_auth.c — signing a socket in: auth.password (a phone sign-in, new
 * "app" session), auth.token and session.attach (an existing session). */
#include <stdlib.h>
#include <string.h>

#include "auth_limits.h"
#include "broker.h"
#include "clock.h"
#include "hub.h"
#include "log.h"
#include "metrics.h"
#include "password.h"
#include "sessions.h"
#include "workers.h"
#include "ws_dispatch.h"

/* ---- auth.password ---- */

struct password_job {
    struct work work;
    struct req r;
    char name[USER_NAME_MAX + 1];
    char password[PASSWORD_MAX_LEN + 1];
    size_t password_len;
    bool user_found;
    struct user_rec user;
    int match;
    char ip[IP_MAX];
    char user_agent[UA_MAX];
};

static const char *const bad_credentials = "wrong user name or password";

/* The same PBKDF2 work whether or not the user exists, so the answer's timing
 * does not tell which names are real. */
static void password_run(struct work *w)
{
    struct password_job *j = (struct password_job *)w;
    const char *hash = j->user_found ? j->user.pwhash
                                     : password_dummy_hash(broker.cfg.pbkdf2_iterations);
    int m = hash ? password_verify(j->password, j->password_len, hash) : -1;
    j->match = j->user_found && m == 1;
    mbedtls_platform_zeroize(j->password, sizeof j->password);
}

static void password_issued(void *arg, enum api_err err, const struct issued *is, int64_t ra)
{
    struct password_job *j = arg;
    (void)ra;
    struct conn *c = hub_get(j->r.conn);
    if (err) {
        reply_error(&j->r, err, NULL);
    } else if (c) {
        reply_signed_in(c, &j->r, is);
    }
    free(j);
}

static void password_done(struct work *w)
{
    struct password_job *j = (struct password_job *)w;
    if (!j->match) {
        metrics.auth_failures++;
        auth_limits_fail(AUTH_LIMIT_PASSWORD, j->name, clock_now_ms());
        log_info("sign-in failed for a user name from %s", j->ip);
        reply_error(&j->r, E_UNAUTHORIZED, bad_credentials);
        free(j);
        return;
    }
    sessions_create(&j->user, "app", j->ip, j->user_agent, password_issued, j);
}

static void password_user_cb(void *arg, enum store_rc rc, const struct user_rec *u)
{
    struct password_job *j = arg;
    if (rc && rc != STORE_NOT_FOUND) {
        reply_error(&j->r, E_INTERNAL, NULL);
        mbedtls_platform_zeroize(j->password, sizeof j->password);
        free(j);
        return;
    }
    j->user_found = rc == STORE_OK;
    if (j->user_found)
        j->user = *u;
    j->work.run = password_run;
    j->work.done = password_done;
    workers_submit(&j->work);
}

static void password_limit_checked(void *arg, int64_t wait)
{
    struct password_job *j = arg;
    if (wait) {
        if (wait < 0)
            reply_error(&j->r, E_INTERNAL, NULL);
        else
            reply_rate_limited(&j->r, wait, "too many failed sign-ins for this user; wait");
        mbedtls_platform_zeroize(j->password, sizeof j->password);
        free(j);
        return;
    }
    broker.store->ops->user_by_name(broker.store, j->name, password_user_cb, j);
}

void handle_auth_password(struct conn *c, const struct req *r, const struct json_doc *d)
{
    if (!broker.cfg.passwords) { /* --passwords off: users come from --trust-issuer */
        reply_error(r, E_FORBIDDEN, "password sign-in is off here; use auth.external");
        return;
    }
    struct password_job *j = calloc(1, sizeof *j);
    if (!j) {
        reply_error(r, E_INTERNAL, NULL);
        return;
    }
    size_t name_len = 0;
    if (json_get_str(d, 0, "username", j->name, sizeof j->name, &name_len) || !name_len ||
        json_get_str(d, 0, "password", j->password, sizeof j->password, &j->password_len) ||
        !j->password_len) {
        reply_error(r, E_BAD_REQUEST,
                    "username (1-64 bytes) and password (1-1024 bytes) must be strings");
        mbedtls_platform_zeroize(j->password, sizeof j->password);
        free(j);
        return;
    }
    j->r = *r;
    snprintf(j->ip, sizeof j->ip, "%s", c->ip);
    snprintf(j->user_agent, sizeof j->user_agent, "%s", c->user_agent ? c->user_agent : "");
    auth_limits_check(AUTH_LIMIT_PASSWORD, j->name, clock_now_ms(), password_limit_checked, j);
}

/* ---- auth.token and session.attach ---- */

struct attach_ctx {
    struct req r;
    bool is_attach; /* session.attach (reply "session") vs auth.token ("auth") */
};

static void attach_checked(void *arg, enum api_err err, const struct claims *cl)
{
    struct attach_ctx *x = arg;
    struct conn *c = hub_get(x->r.conn);
    if (err) {
        reply_error(&x->r, err, NULL);
    } else if (c) {
        hub_attach(c, cl->sub, cl->name, cl->sid);
        hub_conn_changed(c);
        sessions_touch(cl->sid);
        int64_t left = cl->exp - clock_now_s();
        struct jw w;
        reply_start(&w, &x->r, x->is_attach ? "session" : "auth");
        if (!x->is_attach)
            jw_user(&w, cl->sub, cl->name);
        jw_kv_str(&w, "session_id", cl->sid);
        if (x->is_attach)
            jw_user(&w, cl->sub, cl->name);
        jw_kv_int(&w, "expires_in", left > 0 ? left : 0);
        reply_finish(&x->r, &w);
    }
    free(x);
}

static void attach_common(const struct req *r, const struct json_doc *d, bool is_attach)
{
    char token[JWT_MAX_TOKEN + 1];
    size_t len;
    enum json_rc rc = json_get_str(d, 0, "access_token", token, sizeof token, &len);
    if (rc == JSON_MISSING || rc == JSON_WRONG_TYPE) {
        reply_error(r, E_BAD_REQUEST, "access_token must be a string");
        return;
    }
    if (rc) {
        reply_error(r, E_INVALID_TOKEN, NULL);
        return;
    }
    struct attach_ctx *x = calloc(1, sizeof *x);
    if (!x) {
        reply_error(r, E_INTERNAL, NULL);
        return;
    }
    x->r = *r;
    x->is_attach = is_attach;
    sessions_check_access(token, len, attach_checked, x);
}

void handle_auth_token(struct conn *c, const struct req *r, const struct json_doc *d)
{
    (void)c;
    attach_common(r, d, false);
}

void handle_session_attach(struct conn *c, const struct req *r, const struct json_doc *d)
{
    (void)c;
    attach_common(r, d, true);
}
