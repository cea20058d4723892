/* sessions.c — see sessions.h: creating sessions, signing pairs, checking
 * access tokens, listing, touching. The refresh decision is
 * sessions_refresh.c; ending sessions is sessions_revoke.c. */
#include "sessions.h"
#include "sessions_internal.h"

#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "clock.h"
#include "keys_watch.h"
#include "log.h"
#include "metrics.h"
#include "rng.h"
#include "workers.h"

#define SID_BYTES 16

int64_t sessions__secs_left(int64_t exp_s, int64_t now_s) { return exp_s > now_s ? exp_s - now_s : 0; }

/* ================= signing a pair on the worker pool ================= */

static void sign_run(struct work *w)
{
    struct sign_job *j = (struct sign_job *)w;
    j->rc = 0;
    if (tokens_sign_access_kid(&broker.keys, &broker.tp, &j->access, j->out.access,
                               sizeof j->out.access, j->access_kid) < 0 ||
        tokens_sign_refresh_kid(&broker.keys, &broker.tp, &j->refresh, j->out.refresh,
                                sizeof j->out.refresh, j->refresh_kid) < 0)
        j->rc = -1;
}

static void sign_done(struct work *w)
{
    struct sign_job *j = (struct sign_job *)w;
    j->then(j);
}

void sessions__sign_submit(struct sign_job *j)
{
    if (broker.cfg.access_alg == JWT_HS256) { /* within rule 1's 50 µs (docs/architecture.md) */
        j->work.run(&j->work);
        j->work.done(&j->work);
        return;
    }
    workers_submit(&j->work);
}

/* Fills both claim sets for one pair. The two tokens get distinct jtis; the
 * refresh jti is what the session record tracks. */
int sessions__sign_prepare(struct sign_job *j, const struct user_rec *u, const char *sid,
                        int64_t ver, const char *refresh_jti, int64_t refresh_exp, int64_t now,
                        const char *client_id)
{
    memset(&j->access, 0, sizeof j->access);
    str_copy(j->access.client_id, sizeof j->access.client_id, client_id);
    j->access.sub = u->id;
    str_copy(j->access.name, sizeof j->access.name, u->name);
    str_copy(j->access.sid, sizeof j->access.sid, sid);
    j->access.ver = ver;
    j->access.iat = now;
    j->access.exp = now + broker.cfg.access_ttl;
    if (rng_token(JTI_BYTES, j->access.jti, sizeof j->access.jti) < 0)
        return -1;
    j->refresh = j->access;
    str_copy(j->refresh.jti, sizeof j->refresh.jti, refresh_jti);
    j->refresh.exp = refresh_exp;

    str_copy(j->out.sid, sizeof j->out.sid, sid);
    j->out.user_id = u->id;
    str_copy(j->out.user_name, sizeof j->out.user_name, u->name);
    j->out.expires_in = broker.cfg.access_ttl;
    j->out.refresh_expires_in = sessions__secs_left(refresh_exp, now);
    j->work.run = sign_run;
    j->work.done = sign_done;
    return 0;
}

/* The refresh exp of a rotation: sliding refresh_ttl, never past the
 * session's absolute max age. */
int64_t sessions__refresh_exp_for(int64_t created_at_ms, int64_t now)
{
    int64_t sliding = now + broker.cfg.refresh_ttl;
    int64_t absolute = created_at_ms / 1000 + broker.cfg.session_max_age;
    return sliding < absolute ? sliding : absolute;
}

/* ================= creating a session ================= */

struct create_ctx {
    struct sign_job job;
    struct session_rec rec;
    sessions_issue_cb cb;
    void *arg;
};

static void create_stored(void *arg, enum store_rc rc)
{
    struct create_ctx *x = arg;
    if (rc) {
        x->cb(x->arg, E_INTERNAL, NULL, 0);
    } else {
        if (!strcmp(x->rec.kind, "web"))
            metrics.logins_web++;
        else
            metrics.logins_app++;
        log_info("session %s created (%s) for user %lld from %s", x->rec.sid, x->rec.kind,
                 (long long)x->rec.user_id, x->rec.ip);
        x->cb(x->arg, E_NONE, &x->job.out, 0);
    }
    free(x);
}

static void create_signed(struct sign_job *j)
{
    struct create_ctx *x = (struct create_ctx *)j;
    if (j->rc) {
        x->cb(x->arg, E_INTERNAL, NULL, 0);
        free(x);
        return;
    }
    broker.store->ops->session_put(broker.store, &x->rec, create_stored, x);
}

void sessions_create(const struct user_rec *u, const char *kind, const char *ip,
                     const char *user_agent, sessions_issue_cb cb, void *arg)
{
    sessions_create_for_client(u, kind, ip, user_agent, NULL, cb, arg);
}

void sessions_create_for_client(const struct user_rec *u, const char *kind, const char *ip,
                                const char *user_agent, const char *client_id,
                                sessions_issue_cb cb, void *arg)
{
    struct create_ctx *x = calloc(1, sizeof *x);
    if (!x) {
        cb(arg, E_INTERNAL, NULL, 0);
        return;
    }
    x->cb = cb;
    x->arg = arg;
    int64_t now_ms = clock_now_ms(), now = now_ms / 1000;
    struct session_rec *r = &x->rec;
    if (rng_token(SID_BYTES, r->sid, sizeof r->sid) < 0 ||
        rng_token(JTI_BYTES, r->cur_jti, sizeof r->cur_jti) < 0)
        goto fail;
    r->user_id = u->id;
    str_copy(r->kind, sizeof r->kind, kind);
    r->created_at = r->last_used_at = r->rotated_at = now_ms;
    str_copy(r->ip, sizeof r->ip, ip);
    str_copy(r->user_agent, sizeof r->user_agent, user_agent);
    r->ver = u->token_version;
    r->refresh_exp = sessions__refresh_exp_for(now_ms, now);
    str_copy(r->client_id, sizeof r->client_id, client_id);
    x->job.then = create_signed;
    if (sessions__sign_prepare(&x->job, u, r->sid, r->ver, r->cur_jti, r->refresh_exp, now,
                               r->client_id))
        goto fail;
    sessions__sign_submit(&x->job);
    return;
fail:
    cb(arg, E_INTERNAL, NULL, 0);
    free(x);
}

/* ================= a login pair signed ahead of its session ================= */

/* login_presign.h signs a PC login's pair when the phone scans, before the
 * person confirms. Everything the pair says is chosen then (sid, both jtis,
 * iat, exp, the user's name and token version) and nothing is stored: the
 * session record is written when the pair is used, so a pair that is
 * dropped (a deny, an expiry, a cancel) leaves no trace in the store. It is
 * a create_ctx whose record waits for its kind, address and agent. */
struct sessions_pair {
    struct create_ctx x; /* first: the sign job's then() casts back to it */
    sessions_pair_cb signed_cb;
    void *signed_arg;
};

static void pair_signed(struct sign_job *j)
{
    struct sessions_pair *p = (struct sessions_pair *)j;
    sessions_pair_cb cb = p->signed_cb;
    void *arg = p->signed_arg;
    if (j->rc) {
        free(p);
        p = NULL;
    }
    cb(arg, p);
}

void sessions_presign(const struct user_rec *u, sessions_pair_cb cb, void *arg)
{
    struct sessions_pair *p = calloc(1, sizeof *p);
    if (!p) {
        cb(arg, NULL);
        return;
    }
    p->signed_cb = cb;
    p->signed_arg = arg;
    int64_t now_ms = clock_now_ms(), now = now_ms / 1000;
    struct session_rec *r = &p->x.rec;
    r->user_id = u->id;
    r->ver = u->token_version;
    r->refresh_exp = sessions__refresh_exp_for(now_ms, now);
    p->x.job.then = pair_signed;
    if (rng_token(SID_BYTES, r->sid, sizeof r->sid) < 0 ||
        rng_token(JTI_BYTES, r->cur_jti, sizeof r->cur_jti) < 0 ||
        sessions__sign_prepare(&p->x.job, u, r->sid, r->ver, r->cur_jti, r->refresh_exp, now,
                               "" /* a PC login: no OIDC client */)) {
        free(p);
        cb(arg, NULL);
        return;
    }
    sessions__sign_submit(&p->x.job);
}

bool sessions_pair_usable(const struct sessions_pair *p, const struct user_rec *u,
                          int64_t max_age_s, int64_t now_s)
{
    const struct sign_job *j = &p->x.job;
    const struct claims *a = &j->access;
    char name[sizeof a->name];
    str_copy(name, sizeof name, u->name); /* as sessions__sign_prepare copied it */
    return a->sub == u->id && a->ver == u->token_version && !strcmp(a->name, name) &&
           now_s >= a->iat && now_s - a->iat <= max_age_s &&
           tokens_kids_current(&broker.keys, j->access_kid, j->refresh_kid);
}

void sessions_create_from_pair(struct sessions_pair *p, const char *kind, const char *ip,
                               const char *user_agent, sessions_issue_cb cb, void *arg)
{
    struct create_ctx *x = &p->x;
    x->cb = cb;
    x->arg = arg;
    int64_t now_ms = clock_now_ms(), now = now_ms / 1000;
    struct session_rec *r = &x->rec;
    str_copy(r->kind, sizeof r->kind, kind);
    r->created_at = r->last_used_at = r->rotated_at = now_ms;
    str_copy(r->ip, sizeof r->ip, ip);
    str_copy(r->user_agent, sizeof r->user_agent, user_agent);
    /* The lifetimes left, not the configured ones: the pair was signed a
     * few seconds ago (login_presign.h bounds how many). */
    x->job.out.expires_in = sessions__secs_left(x->job.access.exp, now);
    x->job.out.refresh_expires_in = sessions__secs_left(x->job.refresh.exp, now);
    broker.store->ops->session_put(broker.store, r, create_stored, x);
}

void sessions_pair_free(struct sessions_pair *p) { free(p); }

/* ================= access tokens ================= */

struct access_job {
    struct work work;
    char token[JWT_MAX_TOKEN + 1];
    size_t len;
    int64_t now;
    enum token_check result;
    bool rechecked; /* after the keys were read again for an unknown kid */
    struct claims c;
    sessions_access_cb cb;
    void *arg;
};

static void access_run(struct work *w)
{
    struct access_job *j = (struct access_job *)w;
    j->result = tokens_check_access(&broker.keys, &broker.tp, j->token, j->len, j->now, &j->c);
}

static void access_user_cb(void *arg, enum store_rc rc, const struct user_rec *u)
{
    struct access_job *j = arg;
    if (rc)
        j->cb(j->arg, rc == STORE_NOT_FOUND ? E_SESSION_REVOKED : E_INTERNAL, NULL);
    else if (j->c.ver < u->token_version)
        j->cb(j->arg, E_SESSION_REVOKED, NULL);
    else {
        str_copy(j->c.name, sizeof j->c.name, u->name);
        j->cb(j->arg, E_NONE, &j->c);
    }
    free(j);
}

static void access_session_cb(void *arg, enum store_rc rc, const struct session_rec *s)
{
    struct access_job *j = arg;
    if (rc || s->revoked || s->user_id != j->c.sub || strcmp(s->client_id, j->c.client_id)) {
        j->cb(j->arg, rc && rc != STORE_NOT_FOUND ? E_INTERNAL : E_SESSION_REVOKED, NULL);
        free(j);
        return;
    }
    broker.store->ops->user_by_id(broker.store, s->user_id, access_user_cb, j);
}

/* The keys were read again: check the token once more. */
static void access_recheck(void *arg)
{
    struct access_job *j = arg;
    j->rechecked = true;
    workers_submit(&j->work);
}

static void access_done(struct work *w)
{
    struct access_job *j = (struct access_job *)w;
    if (j->result == TOKEN_UNKNOWN_KID && !j->rechecked) {
        /* maybe a key another node made current a moment ago */
        keys_watch_unknown_kid(access_recheck, j);
        return;
    }
    if (j->result != TOKEN_VALID) {
        j->cb(j->arg, j->result == TOKEN_EXPIRED ? E_TOKEN_EXPIRED : E_INVALID_TOKEN, NULL);
        free(j);
        return;
    }
    broker.store->ops->session_get(broker.store, j->c.sid, access_session_cb, j);
}

void sessions_check_access(const char *token, size_t len, sessions_access_cb cb, void *arg)
{
    if (len > JWT_MAX_TOKEN) {
        cb(arg, E_INVALID_TOKEN, NULL);
        return;
    }
    struct access_job *j = calloc(1, sizeof *j);
    if (!j) {
        cb(arg, E_INTERNAL, NULL);
        return;
    }
    memcpy(j->token, token, len);
    j->len = len;
    j->now = clock_now_s();
    j->cb = cb;
    j->arg = arg;
    j->work.run = access_run;
    j->work.done = access_done;
    workers_submit(&j->work);
}

/* ================= listing and revoking ================= */

struct list_ctx {
    sessions_list_cb cb;
    void *arg;
};

static void list_cb(void *arg, enum store_rc rc, const struct session_rec *s, int n)
{
    struct list_ctx *x = arg;
    x->cb(x->arg, rc ? E_INTERNAL : E_NONE, s, rc ? 0 : n);
    free(x);
}

void sessions_list(int64_t user_id, sessions_list_cb cb, void *arg)
{
    struct list_ctx *x = malloc(sizeof *x);
    if (!x) {
        cb(arg, E_INTERNAL, NULL, 0);
        return;
    }
    x->cb = cb;
    x->arg = arg;
    broker.store->ops->session_list(broker.store, user_id, list_cb, x);
}

static void touch_cb(void *arg, enum store_rc rc, const struct session_rec *s)
{
    (void)arg;
    if (rc || s->revoked)
        return;
    struct session_rec *r = malloc(sizeof *r);
    if (!r)
        return;
    *r = *s;
    r->last_used_at = clock_now_ms();
    broker.store->ops->session_put(broker.store, r, store_ignore_done, NULL);
    free(r);
}

void sessions_touch(const char *sid)
{
    broker.store->ops->session_get(broker.store, sid, touch_cb, NULL);
}

void sessions_shutdown(void)
{
    sessions__refresh_shutdown();
}
