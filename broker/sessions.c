/* sessions.c — see sessions.h: creating sessions, the refresh decision,
 * checking access tokens, listing; ending them is sessions_revoke.c.
 *
 * Atomic refresh on one node: the store completes inline (SQLite), and every
 * decision runs on the loop thread, so "read the session, decide, write the
 * new current jti" happens with nothing in between. The only async gap is the
 * signing of the new pair on the worker pool; requests that arrive during it
 * with the token that rotation just retired wait on an in-flight record and
 * get the very same pair when it is ready. (A networked store makes the
 * decision atomic in the store itself.) */
#include "sessions.h"
#include "sessions_internal.h"

#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "clock.h"
#include "hmap.h"
#include "log.h"
#include "metrics.h"
#include "rng.h"
#include "server.h"
#include "workers.h"

#define JTI_BYTES 16
#define SID_BYTES 16

static int64_t secs_left(int64_t exp_s, int64_t now_s) { return exp_s > now_s ? exp_s - now_s : 0; }

/* ================= signing a pair on the worker pool ================= */

struct sign_job {
    struct work work;
    struct claims access;   /* claims of the access token */
    struct claims refresh;  /* claims of the refresh token */
    struct issued out;
    int rc;
    void (*then)(struct sign_job *job); /* on the loop */
};

static void sign_run(struct work *w)
{
    struct sign_job *j = (struct sign_job *)w;
    j->rc = 0;
    if (tokens_sign_access(&broker.keys, &broker.tp, &j->access, j->out.access,
                           sizeof j->out.access) < 0 ||
        tokens_sign_refresh(&broker.keys, &broker.tp, &j->refresh, j->out.refresh,
                            sizeof j->out.refresh) < 0)
        j->rc = -1;
}

static void sign_done(struct work *w)
{
    struct sign_job *j = (struct sign_job *)w;
    j->then(j);
}

/* Fills both claim sets for one pair. The two tokens get distinct jtis; the
 * refresh jti is what the session record tracks. */
static int sign_prepare(struct sign_job *j, const struct user_rec *u, const char *sid,
                        int64_t ver, const char *refresh_jti, int64_t refresh_exp, int64_t now)
{
    memset(&j->access, 0, sizeof j->access);
    j->access.sub = u->id;
    copy_str(j->access.name, sizeof j->access.name, u->name);
    copy_str(j->access.sid, sizeof j->access.sid, sid);
    j->access.ver = ver;
    j->access.iat = now;
    j->access.exp = now + broker.cfg.access_ttl;
    if (rng_token(JTI_BYTES, j->access.jti, sizeof j->access.jti) < 0)
        return -1;
    j->refresh = j->access;
    copy_str(j->refresh.jti, sizeof j->refresh.jti, refresh_jti);
    j->refresh.exp = refresh_exp;

    copy_str(j->out.sid, sizeof j->out.sid, sid);
    j->out.user_id = u->id;
    copy_str(j->out.user_name, sizeof j->out.user_name, u->name);
    j->out.expires_in = broker.cfg.access_ttl;
    j->out.refresh_expires_in = secs_left(refresh_exp, now);
    j->work.run = sign_run;
    j->work.done = sign_done;
    return 0;
}

/* The refresh exp of a rotation: sliding refresh_ttl, never past the
 * session's absolute max age. */
static int64_t refresh_exp_for(int64_t created_at_ms, int64_t now)
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
    copy_str(r->kind, sizeof r->kind, kind);
    r->created_at = r->last_used_at = r->rotated_at = now_ms;
    copy_str(r->ip, sizeof r->ip, ip);
    copy_str(r->user_agent, sizeof r->user_agent, user_agent);
    r->ver = u->token_version;
    r->refresh_exp = refresh_exp_for(now_ms, now);
    x->job.then = create_signed;
    if (sign_prepare(&x->job, u, r->sid, r->ver, r->cur_jti, r->refresh_exp, now))
        goto fail;
    workers_submit(&x->job.work);
    return;
fail:
    cb(arg, E_INTERNAL, NULL, 0);
    free(x);
}

/* ================= in-flight rotations ================= */

struct waiter {
    struct waiter *next;
    sessions_issue_cb cb;
    void *arg;
    bool grace; /* joined with the retired token (counted as a grace replay) */
};

struct inflight {
    struct hnode node;
    char sid[SID_MAX];
    char new_jti[JTI_MAX];
    struct waiter *waiters;
};

static struct hmap inflights;

static struct inflight *inflight_find(const char *sid)
{
    uint64_t h = hmap_hash_bytes(sid, strlen(sid));
    for (struct hnode *n = hmap_chain(&inflights, h); n; n = n->next) {
        struct inflight *f = hmap_entry(n, struct inflight, node);
        if (n->hash == h && !strcmp(f->sid, sid))
            return f;
    }
    return NULL;
}

static int inflight_wait(struct inflight *f, sessions_issue_cb cb, void *arg, bool grace)
{
    struct waiter *w = malloc(sizeof *w);
    if (!w)
        return -1;
    w->cb = cb;
    w->arg = arg;
    w->grace = grace;
    w->next = f->waiters;
    f->waiters = w;
    return 0;
}

/* Answers every waiter with the same result and forgets the rotation. */
static void inflight_finish(struct inflight *f, enum api_err err, const struct issued *is)
{
    hmap_remove(&inflights, &f->node);
    struct waiter *w = f->waiters;
    while (w) {
        struct waiter *next = w->next;
        if (!err)
            metrics.refresh[w->grace ? MR_GRACE : MR_OK]++;
        w->cb(w->arg, err, is, 0);
        free(w);
        w = next;
    }
    free(f);
}

/* ================= grace sweep ================= */
/* Replayable pairs are kept only for refresh_grace. Deadlines are all
 * rotation + grace, so a FIFO is sorted. Lost on restart; the refresh path
 * also clears a stale pair lazily. */

struct grace_entry {
    struct grace_entry *next;
    char sid[SID_MAX];
    int64_t deadline; /* ms */
};
static struct grace_entry *grace_head, *grace_tail;

static void grace_add(const char *sid, int64_t deadline)
{
    struct grace_entry *g = calloc(1, sizeof *g);
    if (!g)
        return;
    copy_str(g->sid, sizeof g->sid, sid);
    g->deadline = deadline;
    if (grace_tail)
        grace_tail->next = g;
    else
        grace_head = g;
    grace_tail = g;
}

/* Forgets the replayable pair of a session whose grace window is over. */
static void forget_pair(const struct session_rec *s)
{
    struct session_rec *r = malloc(sizeof *r);
    if (!r)
        return;
    *r = *s;
    r->last_access[0] = r->last_refresh[0] = '\0';
    broker.store->ops->session_put(broker.store, r, store_ignore_done, NULL);
    free(r); /* the store copies what it keeps before returning */
}

static void grace_clear_cb(void *arg, enum store_rc rc, const struct session_rec *s)
{
    (void)arg;
    if (rc || !s->last_access[0] ||
        clock_now_ms() - s->rotated_at < broker.cfg.refresh_grace * 1000)
        return;
    forget_pair(s);
}

int64_t sessions_next_grace_deadline(void) { return grace_head ? grace_head->deadline : 0; }

int64_t sessions_sweep_grace(int64_t now_ms)
{
    while (grace_head && grace_head->deadline <= now_ms) {
        struct grace_entry *g = grace_head;
        grace_head = g->next;
        if (!grace_head)
            grace_tail = NULL;
        if (!inflight_find(g->sid))
            broker.store->ops->session_get(broker.store, g->sid, grace_clear_cb, NULL);
        free(g);
    }
    return grace_head ? grace_head->deadline : 0;
}

/* ================= the refresh decision table ================= */

struct refresh_ctx {
    struct claims c;
    struct session_rec rec;
    sessions_issue_cb cb;
    void *arg;
};

struct rotate_ctx {
    struct sign_job job;
    struct inflight *f;
    struct user_rec user;  /* the claims' subject */
    int64_t exp, now;      /* the new refresh exp; the rotation time (s) */
};

static void refresh_fail(struct refresh_ctx *x, enum api_err e, enum metric_refresh m,
                         int64_t retry_after)
{
    metrics.refresh[m]++;
    x->cb(x->arg, e, NULL, retry_after);
    free(x);
}

/* The rotation's pair is signed: keep it for grace replays (unless the session
 * was revoked meanwhile), then answer everyone who waited for it. */
static void rotate_stored_cb(void *arg, enum store_rc rc, const struct session_rec *s)
{
    struct rotate_ctx *x = arg;
    struct inflight *f = x->f;
    struct session_rec *r = NULL;
    if (rc) {
        inflight_finish(f, E_INTERNAL, NULL);
    } else if (s->revoked || strcmp(s->cur_jti, f->new_jti)) {
        inflight_finish(f, E_SESSION_REVOKED, NULL);
    } else if (!(r = malloc(sizeof *r))) {
        inflight_finish(f, E_INTERNAL, NULL);
    } else {
        *r = *s;
        copy_str(r->last_access, sizeof r->last_access, x->job.out.access);
        copy_str(r->last_refresh, sizeof r->last_refresh, x->job.out.refresh);
        r->last_access_exp = x->job.access.exp;
        broker.store->ops->session_put(broker.store, r, store_ignore_done, NULL);
        grace_add(r->sid, r->rotated_at + broker.cfg.refresh_grace * 1000);
        server_timers_kick();
        free(r);
        inflight_finish(f, E_NONE, &x->job.out);
    }
    free(x);
}

static void rotate_signed(struct sign_job *j)
{
    struct rotate_ctx *x = (struct rotate_ctx *)j;
    if (j->rc) {
        inflight_finish(x->f, E_INTERNAL, NULL);
        free(x);
        return;
    }
    /* Re-read: a revocation may have landed while we signed. */
    broker.store->ops->session_get(broker.store, x->f->sid, rotate_stored_cb, x);
}

/* The new current jti is stored: now sign the pair. */
static void rotate_written(void *arg, enum store_rc rc)
{
    struct rotate_ctx *x = arg;
    if (rc || sign_prepare(&x->job, &x->user, x->f->sid, x->user.token_version, x->f->new_jti,
                           x->exp, x->now)) {
        inflight_finish(x->f, E_INTERNAL, NULL);
        free(x);
        return;
    }
    x->job.then = rotate_signed;
    workers_submit(&x->job.work);
}

/* Row 2, rotate: the new current jti is written before signing, so any later
 * request sees the presented token as "previous" and joins this rotation. */
static void refresh_rotate(struct refresh_ctx *x, const struct user_rec *u)
{
    int64_t now_ms = clock_now_ms(), now = now_ms / 1000;
    struct session_rec *r = &x->rec;
    int64_t exp = refresh_exp_for(r->created_at, now);
    if (exp <= now) {
        refresh_fail(x, E_TOKEN_EXPIRED, MR_EXPIRED, 0);
        return;
    }
    struct inflight *f = calloc(1, sizeof *f);
    struct rotate_ctx *rx = calloc(1, sizeof *rx);
    if (!f || !rx || rng_token(JTI_BYTES, f->new_jti, sizeof f->new_jti) < 0) {
        free(f);
        free(rx);
        refresh_fail(x, E_INTERNAL, MR_INVALID, 0);
        return;
    }
    copy_str(f->sid, sizeof f->sid, r->sid);
    if (hmap_insert(&inflights, &f->node, hmap_hash_bytes(f->sid, strlen(f->sid))) ||
        inflight_wait(f, x->cb, x->arg, false)) {
        hmap_remove(&inflights, &f->node);
        free(f);
        free(rx);
        refresh_fail(x, E_INTERNAL, MR_INVALID, 0);
        return;
    }
    rx->f = f;
    rx->user = *u;
    rx->exp = exp;
    rx->now = now;

    copy_str(r->prev_jti, sizeof r->prev_jti, r->cur_jti);
    copy_str(r->cur_jti, sizeof r->cur_jti, f->new_jti);
    r->rotated_at = now_ms;
    r->last_used_at = now_ms;
    r->refresh_exp = exp;
    r->last_access[0] = r->last_refresh[0] = '\0';
    r->last_access_exp = 0;
    /* The store copies the record before returning; x (and r) can go. */
    broker.store->ops->session_put(broker.store, r, rotate_written, rx);
    free(x);
}

/* Rows 2–4 once the token, session and user are known to be good. */
static void refresh_decide(struct refresh_ctx *x, const struct user_rec *u)
{
    struct session_rec *r = &x->rec;
    int64_t now_ms = clock_now_ms(), now = now_ms / 1000;
    int64_t since_rotation = now_ms - r->rotated_at;

    if (!strcmp(x->c.jti, r->cur_jti)) {
        int64_t interval_ms = broker.cfg.refresh_interval * 1000;
        if (since_rotation < interval_ms) {
            int64_t wait_ms = interval_ms - since_rotation;
            refresh_fail(x, E_RATE_LIMITED, MR_RATE_LIMITED, (wait_ms + 999) / 1000);
            return;
        }
        refresh_rotate(x, u);
        return;
    }

    bool in_grace = r->prev_jti[0] && !strcmp(x->c.jti, r->prev_jti) &&
                    since_rotation < broker.cfg.refresh_grace * 1000;
    if (in_grace) {
        struct inflight *f = inflight_find(r->sid);
        if (f) {
            if (inflight_wait(f, x->cb, x->arg, true))
                refresh_fail(x, E_INTERNAL, MR_INVALID, 0);
            else
                free(x);
            return;
        }
        if (!r->last_access[0]) {
            /* The rotation's pair never got stored (crash while signing). */
            refresh_fail(x, E_INTERNAL, MR_INVALID, 0);
            return;
        }
        struct issued *is = calloc(1, sizeof *is);
        if (!is) {
            refresh_fail(x, E_INTERNAL, MR_INVALID, 0);
            return;
        }
        copy_str(is->sid, sizeof is->sid, r->sid);
        is->user_id = u->id;
        copy_str(is->user_name, sizeof is->user_name, u->name);
        copy_str(is->access, sizeof is->access, r->last_access);
        copy_str(is->refresh, sizeof is->refresh, r->last_refresh);
        is->expires_in = secs_left(r->last_access_exp, now);
        is->refresh_expires_in = secs_left(r->refresh_exp, now);
        metrics.refresh[MR_GRACE]++;
        x->cb(x->arg, E_NONE, is, 0);
        free(is);
        free(x);
        return;
    }

    if (r->last_access[0] && since_rotation >= broker.cfg.refresh_grace * 1000)
        forget_pair(r);

    /* Row 4: a token of this session that is neither current nor inside the
     * grace window was stolen or replayed. Whoever holds the current one may
     * be the thief: end the session for everyone. */
    log_warn("session %s: refresh token reuse detected, revoking", r->sid);
    sessions__mark_revoked(r, "refresh_reused");
    broker.store->ops->session_put(broker.store, r, store_ignore_done, NULL);
    sessions__announce_revoked(r->sid, "refresh_reused");
    refresh_fail(x, E_REFRESH_REUSED, MR_REUSED, 0);
}

static void refresh_user_cb(void *arg, enum store_rc rc, const struct user_rec *u)
{
    struct refresh_ctx *x = arg;
    if (rc == STORE_NOT_FOUND) {
        refresh_fail(x, E_SESSION_REVOKED, MR_REVOKED, 0);
        return;
    }
    if (rc) {
        refresh_fail(x, E_INTERNAL, MR_INVALID, 0);
        return;
    }
    if (x->c.ver < u->token_version) {
        refresh_fail(x, E_SESSION_REVOKED, MR_REVOKED, 0);
        return;
    }
    refresh_decide(x, u);
}

static void refresh_session_cb(void *arg, enum store_rc rc, const struct session_rec *s)
{
    struct refresh_ctx *x = arg;
    if (rc == STORE_NOT_FOUND || (!rc && (s->revoked || s->user_id != x->c.sub))) {
        refresh_fail(x, E_SESSION_REVOKED, MR_REVOKED, 0);
        return;
    }
    if (rc) {
        refresh_fail(x, E_INTERNAL, MR_INVALID, 0);
        return;
    }
    x->rec = *s;
    broker.store->ops->user_by_id(broker.store, s->user_id, refresh_user_cb, x);
}

void sessions_refresh(const char *token, size_t len, sessions_issue_cb cb, void *arg)
{
    struct refresh_ctx *x = calloc(1, sizeof *x);
    if (!x) {
        cb(arg, E_INTERNAL, NULL, 0);
        return;
    }
    x->cb = cb;
    x->arg = arg;
    /* HS256 costs microseconds: checked here on the loop, no worker hop. */
    switch (tokens_check_refresh(&broker.keys, &broker.tp, token, len, clock_now_s(), &x->c)) {
    case TOKEN_VALID:
        break;
    case TOKEN_EXPIRED:
        refresh_fail(x, E_TOKEN_EXPIRED, MR_EXPIRED, 0);
        return;
    default:
        refresh_fail(x, E_INVALID_TOKEN, MR_INVALID, 0);
        return;
    }
    broker.store->ops->session_get(broker.store, x->c.sid, refresh_session_cb, x);
}

/* ================= access tokens ================= */

struct access_job {
    struct work work;
    char token[JWT_MAX_TOKEN + 1];
    size_t len;
    int64_t now;
    enum token_check result;
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
        copy_str(j->c.name, sizeof j->c.name, u->name);
        j->cb(j->arg, E_NONE, &j->c);
    }
    free(j);
}

static void access_session_cb(void *arg, enum store_rc rc, const struct session_rec *s)
{
    struct access_job *j = arg;
    if (rc || s->revoked || s->user_id != j->c.sub) {
        j->cb(j->arg, rc && rc != STORE_NOT_FOUND ? E_INTERNAL : E_SESSION_REVOKED, NULL);
        free(j);
        return;
    }
    broker.store->ops->user_by_id(broker.store, s->user_id, access_user_cb, j);
}

static void access_done(struct work *w)
{
    struct access_job *j = (struct access_job *)w;
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
    while (grace_head) {
        struct grace_entry *g = grace_head;
        grace_head = g->next;
        free(g);
    }
    grace_tail = NULL;
    /* In-flight rotations finish through workers_stop() before this. */
    hmap_free(&inflights);
}
