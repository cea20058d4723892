/* qrl_tokens.c — the client's token pair and its refresh.
 *
 * The same rules as web/qrlogin.js's TokenStore: one refresh in flight per
 * client, every other caller waits for its result; a caller whose token was
 * rotated meanwhile takes the new pair without asking; the pair is refreshed
 * ahead of expiry (at 80 % of the life the broker gave in expires_in, on the
 * monotonic clock); rate_limited is retried after retry_after a few times; a
 * token.refresh lost with its socket is sent again after the reconnect, which
 * the broker's refresh grace answers with the very pair it issued the first
 * time (so a lost answer costs nothing if the reconnect is quicker than the
 * grace, 10 s by default). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qrl_internal.h"

#define RATE_RETRIES 3

static int64_t remaining_ms(const struct qrl_tok *t)
{
    return t->access_deadline_ms - qrl_mono_ms();
}

/* More than a fifth of its life left: good to hand out. */
static int fresh(const struct qrl_tok *t)
{
    return t->have && remaining_ms(t) > t->access_life_ms / 5;
}

static int fatal(const char *code)
{
    static const char *const codes[] = {"invalid_token", "token_expired", "session_revoked",
                                        "refresh_reused", "unauthorized", "forbidden",
                                        "bad_request"};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (!strcmp(code, codes[i]))
            return 1;
    return 0;
}

static void wipe(struct qrl_tok *t)
{
    uint64_t gen = t->gen, round = t->round;
    int refreshing = t->refreshing;
    unsigned count = t->refresh_count;
    int status = t->round_status;
    struct qrl_error err = t->round_err;
    memset(t, 0, sizeof *t);
    t->gen = gen + 1;
    t->round = round;
    t->refreshing = refreshing;
    t->refresh_count = count;
    t->round_status = status;
    t->round_err = err;
}

/* Copies the pair a frame carries (login, auth, token). mu held. */
static void store_locked(qrl_client *c, const struct qrl_frame *f)
{
    struct qrl_tok *t = &c->tok;
    char access[QRL_TOKEN_MAX], refresh[QRL_TOKEN_MAX];
    if (qj_get_str(&f->doc, "access_token", access, sizeof access))
        return;
    int has_refresh = qj_get_str(&f->doc, "refresh_token", refresh, sizeof refresh) == 0;
    int64_t now = qrl_mono_ms();
    memcpy(t->access, access, sizeof access);
    if (has_refresh)
        memcpy(t->refresh, refresh, sizeof refresh);
    t->access_life_ms = f->expires_in * 1000;
    t->access_deadline_ms = now + t->access_life_ms;
    if (f->refresh_expires_in > 0)
        t->refresh_deadline_ms = now + f->refresh_expires_in * 1000;
    if (f->session_id[0])
        snprintf(t->session_id, sizeof t->session_id, "%s", f->session_id);
    if (f->user_id[0])
        snprintf(t->user_id, sizeof t->user_id, "%s", f->user_id);
    if (f->user_name[0])
        snprintf(t->user_name, sizeof t->user_name, "%s", f->user_name);
    t->have = t->refresh[0] != '\0';
    t->gen++;
    c->resched_refresh = 1;
    c->kicked = 1;
    memset(access, 0, sizeof access);
    memset(refresh, 0, sizeof refresh);
    pthread_cond_broadcast(&c->cv);
}

void qrl_tokens_store(qrl_client *c, const struct qrl_frame *f, int attached)
{
    pthread_mutex_lock(&c->mu);
    store_locked(c, f);
    if (attached)
        c->attached = 1;
    pthread_mutex_unlock(&c->mu);
    lws_cancel_service(c->ctx);
}

void qrl_tokens_forget(qrl_client *c, const char *reason, const char *session_id)
{
    pthread_mutex_lock(&c->mu);
    int ours = c->tok.have && (!session_id || !session_id[0] ||
                               !strcmp(session_id, c->tok.session_id));
    if (ours) {
        wipe(&c->tok);
        c->want_attach = 0;
        c->phone_auth = 0;
        c->attached = 0;
        pthread_cond_broadcast(&c->cv);
    }
    pthread_mutex_unlock(&c->mu);
    if (ours)
        qrl_emit_simple(c, QRL_EV_SIGNED_OUT, reason, session_id);
}

/* ---- the refresh ---- */

static void refresh_done(const struct qrl_reply *r, void *user);

/* Sends token.refresh with the stored refresh token. mu held. */
static int send_refresh_locked(qrl_client *c)
{
    struct qjw w;
    qjw_begin(&w, "token.refresh");
    qjw_str(&w, "refresh_token", c->tok.refresh);
    char *body = qjw_end(&w);
    if (!body)
        return QRL_ERR_NOMEM;
    /* resend: the broker's grace answers a repeat with the same pair. */
    int rc = qrl_enqueue_locked(c, body, QRL_REQ_RESEND, refresh_done, c);
    memset(body, 0, strlen(body));
    free(body);
    if (rc == QRL_OK)
        c->tok.refresh_count++;
    return rc;
}

static int start_refresh_locked(qrl_client *c)
{
    if (c->tok.refreshing)
        return QRL_OK;
    c->tok.refreshing = 1;
    c->tok.rate_retries = 0;
    int rc = send_refresh_locked(c);
    if (rc != QRL_OK)
        c->tok.refreshing = 0;
    return rc;
}

/* The refresh is over, one way or the other. mu held. */
static void round_over_locked(qrl_client *c, int status, const struct qrl_error *e)
{
    c->tok.refreshing = 0;
    c->tok.round++;
    c->tok.round_status = status;
    if (e)
        c->tok.round_err = *e;
    else
        memset(&c->tok.round_err, 0, sizeof c->tok.round_err);
    pthread_cond_broadcast(&c->cv);
}

static void retry_refresh(lws_sorted_usec_list_t *sul)
{
    qrl_client *c = lws_container_of(sul, qrl_client, sul_retry);
    pthread_mutex_lock(&c->mu);
    if (c->tok.refreshing && c->tok.have) {
        int rc = send_refresh_locked(c);
        if (rc != QRL_OK) {
            struct qrl_error e;
            qrl_err_set(&e, rc, "nomem", NULL);
            round_over_locked(c, rc, &e);
        }
    }
    int ready = c->ready;
    pthread_mutex_unlock(&c->mu);
    if (ready && c->wsi)
        lws_callback_on_writable(c->wsi);
}

/* session.attach or auth.token answered: the socket follows the session. */
static void bound(const struct qrl_reply *r, void *user)
{
    qrl_client *c = user;
    if (r->status == QRL_OK && r->type && (!strcmp(r->type, "session") || !strcmp(r->type, "auth"))) {
        pthread_mutex_lock(&c->mu);
        c->attached = 1;
        pthread_mutex_unlock(&c->mu);
    }
}

/* session.attach with the stored access token. mu held. */
static void send_attach_locked(qrl_client *c, int front)
{
    struct qjw w;
    qjw_begin(&w, "session.attach");
    qjw_str(&w, "access_token", c->tok.access);
    char *body = qjw_end(&w);
    if (body) {
        qrl_enqueue_locked(c, body, front ? QRL_REQ_FRONT : 0, bound, c);
        memset(body, 0, strlen(body));
        free(body);
    }
}

static void send_auth_token_locked(qrl_client *c, int front)
{
    struct qjw w;
    qjw_begin(&w, "auth.token");
    qjw_str(&w, "access_token", c->tok.access);
    char *body = qjw_end(&w);
    if (body) {
        qrl_enqueue_locked(c, body, front ? QRL_REQ_FRONT : 0, bound, c);
        memset(body, 0, strlen(body));
        free(body);
    }
}

static void refresh_done(const struct qrl_reply *r, void *user)
{
    qrl_client *c = user;
    struct qrl_frame f;
    if (r->status == QRL_OK && r->type && !strcmp(r->type, "token") &&
        !qrl_frame_parse(&f, r->json, r->json_len)) {
        pthread_mutex_lock(&c->mu);
        store_locked(c, &f);
        /* A socket that lost its binding in a reconnect (the access token
         * had expired then) is bound again with the new one. */
        if (!c->attached && c->ready) {
            if (c->phone_auth)
                send_auth_token_locked(c, 0);
            else if (c->want_attach)
                send_attach_locked(c, 0);
        }
        round_over_locked(c, QRL_OK, NULL);
        pthread_mutex_unlock(&c->mu);
        struct qrl_event ev = {.type = QRL_EV_TOKENS,
                               .expires_in = f.expires_in,
                               .session_id = f.session_id[0] ? f.session_id : NULL};
        qrl_emit(c, &ev);
        qrl_frame_free(&f);
        lws_cancel_service(c->ctx);
        return;
    }
    const struct qrl_error *e = r->error;
    struct qrl_error local;
    if (r->status == QRL_OK) {
        qrl_err_set(&local, QRL_ERR_PROTOCOL, "unexpected", "token.refresh was not answered with a token");
        e = &local;
    }
    if (r->status == QRL_ERR_SERVER && !strcmp(e->code, "rate_limited")) {
        pthread_mutex_lock(&c->mu);
        int again = c->tok.rate_retries++ < RATE_RETRIES;
        pthread_mutex_unlock(&c->mu);
        if (again) {
            int64_t ms = e->retry_after > 0 ? (int64_t)e->retry_after * 1000 : 1000;
            ms += rand_r(&c->rand_state) % 250; /* several clients do not return together */
            lws_sul_schedule(c->ctx, 0, &c->sul_retry, retry_refresh, ms * LWS_US_PER_MS);
            return;
        }
    }
    pthread_mutex_lock(&c->mu);
    round_over_locked(c, r->status == QRL_OK ? QRL_ERR_PROTOCOL : r->status, e);
    pthread_mutex_unlock(&c->mu);
    if (r->status == QRL_ERR_SERVER && fatal(e->code))
        qrl_tokens_forget(c, e->code, NULL);
}

/* ---- timers and reconnects ---- */

static void auto_refresh(lws_sorted_usec_list_t *sul)
{
    qrl_client *c = lws_container_of(sul, qrl_client, sul_refresh);
    pthread_mutex_lock(&c->mu);
    if (c->tok.have && c->tok.gen == c->refresh_sched_gen)
        start_refresh_locked(c);
    int ready = c->ready;
    pthread_mutex_unlock(&c->mu);
    if (ready && c->wsi)
        lws_callback_on_writable(c->wsi);
}

void qrl_tokens_timer(qrl_client *c)
{
    if (!c->cfg.auto_refresh)
        return;
    pthread_mutex_lock(&c->mu);
    int have = c->tok.have;
    int64_t at = remaining_ms(&c->tok) - c->tok.access_life_ms / 5;
    c->refresh_sched_gen = c->tok.gen;
    pthread_mutex_unlock(&c->mu);
    lws_sul_cancel(&c->sul_refresh);
    if (have)
        lws_sul_schedule(c->ctx, 0, &c->sul_refresh, auto_refresh,
                         (at > 0 ? at : 0) * LWS_US_PER_MS + 1);
}

void qrl_tokens_on_hello_locked(qrl_client *c)
{
    /* A new socket knows nothing of us: sign it in again, or attach it to
     * the session, while the access token still works. Ahead of anything
     * the application queued meanwhile, which may depend on it. */
    if (!c->tok.have || remaining_ms(&c->tok) <= 0)
        return;
    if (c->phone_auth)
        send_auth_token_locked(c, 1);
    else if (c->want_attach)
        send_attach_locked(c, 1);
}

/* ---- the public calls ---- */

int qrl_set_tokens(qrl_client *c, const struct qrl_tokens *in)
{
    if (!in || !in->access_token[0] || !in->refresh_token[0] ||
        !memchr(in->access_token, 0, sizeof in->access_token) ||
        !memchr(in->refresh_token, 0, sizeof in->refresh_token))
        return QRL_ERR_INVALID;
    pthread_mutex_lock(&c->mu);
    struct qrl_tok *t = &c->tok;
    int64_t now = qrl_mono_ms();
    snprintf(t->access, sizeof t->access, "%s", in->access_token);
    snprintf(t->refresh, sizeof t->refresh, "%s", in->refresh_token);
    snprintf(t->session_id, sizeof t->session_id, "%.*s", QRL_ID_MAX - 1, in->session_id);
    snprintf(t->user_id, sizeof t->user_id, "%.*s", QRL_ID_MAX - 1, in->user_id);
    snprintf(t->user_name, sizeof t->user_name, "%.*s", QRL_NAME_MAX - 1, in->user_name);
    /* The life it was issued with is not known here; treat what is left as
     * the whole life, which only makes the refresh come a little later. */
    int64_t left = in->expires_in > 0 ? in->expires_in * 1000 : 0;
    t->access_life_ms = left;
    t->access_deadline_ms = now + left;
    t->refresh_deadline_ms = in->refresh_expires_in > 0 ? now + in->refresh_expires_in * 1000 : 0;
    t->have = 1;
    t->gen++;
    c->want_attach = 1;
    if (left > 0)
        send_attach_locked(c, 0);
    c->resched_refresh = 1;
    c->kicked = 1;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    lws_cancel_service(c->ctx);
    return QRL_OK;
}

int qrl_get_tokens(qrl_client *c, struct qrl_tokens *out)
{
    pthread_mutex_lock(&c->mu);
    const struct qrl_tok *t = &c->tok;
    int rc = t->have ? QRL_OK : QRL_ERR_NO_TOKENS;
    if (rc == QRL_OK) {
        memset(out, 0, sizeof *out);
        memcpy(out->access_token, t->access, sizeof out->access_token);
        memcpy(out->refresh_token, t->refresh, sizeof out->refresh_token);
        memcpy(out->session_id, t->session_id, sizeof out->session_id);
        memcpy(out->user_id, t->user_id, sizeof out->user_id);
        memcpy(out->user_name, t->user_name, sizeof out->user_name);
        int64_t now = qrl_mono_ms();
        out->expires_in = (t->access_deadline_ms - now) / 1000;
        out->refresh_expires_in =
            t->refresh_deadline_ms ? (t->refresh_deadline_ms - now) / 1000 : 0;
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static struct timespec until_ms(int ms)
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

static int copy_out(const char *tok, char *buf, size_t size, struct qrl_error *err)
{
    size_t n = strlen(tok);
    if (!buf || n >= size) {
        qrl_err_set(err, QRL_ERR_INVALID, "buffer", "the buffer is too small for the token");
        return QRL_ERR_INVALID;
    }
    memcpy(buf, tok, n + 1);
    return QRL_OK;
}

/* The heart of qrl_access_token and qrl_refresh: stale == NULL asks for a
 * fresh token, else for one that differs from stale. */
static int get_token(qrl_client *c, const char *stale, char *buf, size_t size,
                     struct qrl_error *err)
{
    struct timespec until = until_ms(c->cfg.timeout_ms);
    pthread_mutex_lock(&c->mu);
    if (qrl_on_service_thread(c)) {
        pthread_mutex_unlock(&c->mu);
        qrl_err_set(err, QRL_ERR_WOULD_BLOCK, "would_block", NULL);
        return QRL_ERR_WOULD_BLOCK;
    }
    int rc;
    for (;;) {
        struct qrl_tok *t = &c->tok;
        if (atomic_load(&c->stopping)) {
            rc = QRL_ERR_CLOSED;
            qrl_err_set(err, rc, "closed", NULL);
            break;
        }
        if (!t->have) {
            rc = QRL_ERR_NO_TOKENS;
            qrl_err_set(err, rc, "no_tokens", NULL);
            break;
        }
        if (stale ? strcmp(t->access, stale) != 0 : fresh(t)) {
            rc = copy_out(t->access, buf, size, err);
            break;
        }
        int kick = !t->refreshing;
        if (kick && (rc = start_refresh_locked(c)) != QRL_OK) {
            qrl_err_set(err, rc, "nomem", NULL);
            break;
        }
        uint64_t round = t->round;
        if (kick) {
            pthread_mutex_unlock(&c->mu);
            lws_cancel_service(c->ctx);
            pthread_mutex_lock(&c->mu);
        }
        int timed_out = 0;
        while (t->round == round && !atomic_load(&c->stopping) && !timed_out)
            timed_out = pthread_cond_timedwait(&c->cv, &c->mu, &until) == ETIMEDOUT;
        if (t->round == round) {
            rc = atomic_load(&c->stopping) ? QRL_ERR_CLOSED : QRL_ERR_TIMEOUT;
            qrl_err_set(err, rc, rc == QRL_ERR_TIMEOUT ? "timeout" : "closed", NULL);
            break;
        }
        if (t->round_status != QRL_OK) {
            rc = t->round_status;
            /* A passing failure (no connection, internal) with a token that
             * still works: hand that out rather than fail the caller. */
            if (!stale && t->have && remaining_ms(t) > 0 && rc != QRL_ERR_SERVER) {
                rc = copy_out(t->access, buf, size, err);
                break;
            }
            if (err)
                *err = t->round_err;
            break;
        }
        /* Refreshed: loop, and hand out the new token. */
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int qrl_access_token(qrl_client *c, char *buf, size_t size, struct qrl_error *err)
{
    return get_token(c, NULL, buf, size, err);
}

int qrl_refresh(qrl_client *c, const char *stale, char *buf, size_t size, struct qrl_error *err)
{
    if (!stale) {
        qrl_err_set(err, QRL_ERR_INVALID, "invalid", "no stale token given");
        return QRL_ERR_INVALID;
    }
    return get_token(c, stale, buf, size, err);
}

unsigned qrl_refresh_count(qrl_client *c)
{
    pthread_mutex_lock(&c->mu);
    unsigned n = c->tok.refresh_count;
    pthread_mutex_unlock(&c->mu);
    return n;
}

/* ---- sign-in on the phone side ---- */

/* auth.password's answer: the new "app" session's pair becomes ours. */
static void auth_password_hook(qrl_client *c, const struct qrl_reply *r)
{
    struct qrl_frame f;
    if (r->status != QRL_OK || !r->type || strcmp(r->type, "auth") ||
        qrl_frame_parse(&f, r->json, r->json_len))
        return;
    pthread_mutex_lock(&c->mu);
    store_locked(c, &f);
    c->phone_auth = 1;
    c->want_attach = 0;
    c->attached = 1;
    pthread_mutex_unlock(&c->mu);
    lws_cancel_service(c->ctx); /* the auto-refresh timer is armed there */
    struct qrl_event ev = {.type = QRL_EV_TOKENS,
                           .expires_in = f.expires_in,
                           .session_id = f.session_id[0] ? f.session_id : NULL,
                           .user_id = f.user_id[0] ? f.user_id : NULL,
                           .user_name = f.user_name[0] ? f.user_name : NULL};
    qrl_emit(c, &ev);
    qrl_frame_free(&f);
}

static void auth_token_hook(qrl_client *c, const struct qrl_reply *r)
{
    if (r->status != QRL_OK)
        return;
    pthread_mutex_lock(&c->mu);
    c->phone_auth = 1;
    c->attached = 1;
    pthread_mutex_unlock(&c->mu);
}

/* logout's answer: the pair is dead (the broker's session.revoked push says
 * so too, but only to an attached socket). */
static void logout_hook(qrl_client *c, const struct qrl_reply *r)
{
    if (r->status == QRL_OK)
        qrl_tokens_forget(c, "logout", NULL);
}

static char *sign_in_body(const char *type, const char *k1, const char *v1, const char *k2,
                          const char *v2)
{
    struct qjw w;
    qjw_begin(&w, type);
    qjw_str(&w, k1, v1);
    if (k2)
        qjw_str(&w, k2, v2);
    return qjw_end(&w);
}

/* A call whose body holds a secret: wiped after use. */
static int secret_call(qrl_client *c, char *body, qrl_hook hook, struct qrl_error *err)
{
    if (!body) {
        qrl_err_set(err, QRL_ERR_NOMEM, "nomem", NULL);
        return QRL_ERR_NOMEM;
    }
    int rc = qrl_call_internal(c, body, NULL, err, hook);
    memset(body, 0, strlen(body));
    free(body);
    return rc;
}

int qrl_auth_password(qrl_client *c, const char *username, const char *password,
                      struct qrl_error *err)
{
    if (!username || !password) {
        qrl_err_set(err, QRL_ERR_INVALID, "invalid", NULL);
        return QRL_ERR_INVALID;
    }
    return secret_call(c, sign_in_body("auth.password", "username", username, "password", password),
                       auth_password_hook, err);
}

int qrl_auth_token(qrl_client *c, struct qrl_error *err)
{
    char access[QRL_TOKEN_MAX];
    int rc = qrl_access_token(c, access, sizeof access, err);
    if (rc != QRL_OK)
        return rc;
    char *body = sign_in_body("auth.token", "access_token", access, NULL, NULL);
    memset(access, 0, sizeof access);
    return secret_call(c, body, auth_token_hook, err);
}

int qrl_logout(qrl_client *c, struct qrl_error *err)
{
    pthread_mutex_lock(&c->mu);
    int have = c->tok.have;
    pthread_mutex_unlock(&c->mu);
    if (!have) {
        qrl_err_set(err, QRL_ERR_NO_TOKENS, "no_tokens", NULL);
        return QRL_ERR_NO_TOKENS;
    }
    return qrl_call_internal(c, "{\"type\":\"logout\"}", NULL, err, logout_hook);
}
