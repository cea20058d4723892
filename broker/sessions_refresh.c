/* sessions_refresh.c — the refresh decision table of docs/protocol.md §5 (part of
 * the sessions module, sessions.h).
 *
 * Atomicity. A rotation reads the session, decides, and commits the new
 * current jti with the store's compare-and-set write (store.h session_put):
 * the write applies only if nobody wrote the session since it was read. So
 * when two requests — on this node or on two nodes of a cluster — present
 * the same token at the same instant, exactly one commit wins; the loser
 * reads again, now finds its token retired inside the grace window, and gets
 * the winner's pair. The decision table itself lives only here, in C, and is
 * unit-tested on a fake clock; the store only has to make the write atomic.
 *
 * The pair is signed after the commit (on the worker pool) and then stored
 * on the session for grace replays. Until it is stored:
 *   - a request on this node with the retired token joins the in-flight
 *     rotation and is answered with the same pair when it is signed;
 *   - a request on another node (networked store) finds the retired token
 *     with no pair yet, and reads again every REFRESH_POLL_MS until the pair
 *     appears or REFRESH_WAIT_MS pass;
 *   - and if it never is stored (its node died while signing, or the store
 *     applied the commit but lost the reply, so the signer gave up), the
 *     node that finds it so signs the rotation's pair itself (refresh_adopt):
 *     the first pair stored for a rotation is the one every presenter gets. */
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "broker.h"
#include "clock.h"
#include "hmap.h"
#include "log.h"
#include "metrics.h"
#include "loop_timer.h"
#include "rng.h"
#include "sessions.h"
#include "sessions_internal.h"

#define REFRESH_MAX_CONFLICTS 4   /* lost compare-and-sets before giving up */
#define REFRESH_POLL_MS 20
#define REFRESH_WAIT_MS 3000

/* One refresh request, from the token check to its answer. */
struct refresh_ctx {
    lws_sorted_usec_list_t sul; /* waiting for another node's pair */
    struct refresh_ctx *next;   /* in an in-flight rotation's waiters, or the poll list */
    struct refresh_ctx **pprev; /* in the poll list */
    struct claims c;
    char client_id[CLIENT_ID_MAX + 1]; /* who presents the token ("" first party) */
    struct session_rec rec;     /* as last read */
    sessions_issue_cb cb;
    void *arg;
    int conflicts;
    int64_t wait_until;         /* ms; 0 = not waiting for another node */
    int64_t arrived_ms;         /* when the request came: the grace window is judged by it */
    bool grace;                 /* answered with a pair it did not rotate */
};

static void refresh_read(struct refresh_ctx *x);

static void refresh_fail(struct refresh_ctx *x, enum api_err e, enum metric_refresh m,
                         int64_t retry_after)
{
    metrics.refresh[m]++;
    x->cb(x->arg, e, NULL, retry_after);
    free(x);
}

/* ================= in-flight rotations (this node) ================= */

struct inflight {
    struct hnode node;
    char sid[SID_MAX];
    char old_jti[JTI_MAX]; /* the token this rotation retires */
    char new_jti[JTI_MAX];
    struct refresh_ctx *waiters;
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

static void inflight_join(struct inflight *f, struct refresh_ctx *x, bool grace)
{
    x->grace = grace;
    x->next = f->waiters;
    f->waiters = x;
}

/* Answers every waiter with the same result and forgets the rotation. */
static void inflight_finish(struct inflight *f, enum api_err err, const struct issued *is)
{
    hmap_remove(&inflights, &f->node);
    struct refresh_ctx *x = f->waiters;
    while (x) {
        struct refresh_ctx *next = x->next;
        metrics.refresh[!err ? (x->grace ? MR_GRACE : MR_OK)
                        : err == E_SESSION_REVOKED ? MR_REVOKED
                                                   : MR_INTERNAL]++;
        x->cb(x->arg, err, is, 0);
        free(x);
        x = next;
    }
    free(f);
}

/* The commit lost to a write made elsewhere: every waiter decides again from
 * a fresh read (and will find the winner's rotation). */
static void inflight_retry(struct inflight *f)
{
    log_debug("session %s: rotation lost its commit to another writer, deciding again", f->sid);
    hmap_remove(&inflights, &f->node);
    struct refresh_ctx *x = f->waiters;
    free(f);
    while (x) {
        struct refresh_ctx *next = x->next;
        if (++x->conflicts > REFRESH_MAX_CONFLICTS) {
            log_warn("session %s: refresh lost %d concurrent writes, giving up", x->c.sid,
                     x->conflicts);
            refresh_fail(x, E_INTERNAL, MR_INTERNAL, 0);
        } else {
            refresh_read(x);
        }
        x = next;
    }
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
/* Fires at the earliest grace deadline (deadlines arrive in order). */
static struct loop_timer grace_timer = LOOP_TIMER_INIT(sessions_sweep_grace);

static void grace_add(const char *sid, int64_t deadline)
{
    struct grace_entry *g = calloc(1, sizeof *g);
    if (!g)
        return;
    str_copy(g->sid, sizeof g->sid, sid);
    g->deadline = deadline;
    if (grace_tail)
        grace_tail->next = g;
    else
        grace_head = g;
    grace_tail = g;
    loop_timer_at(&grace_timer, grace_head->deadline);
}

/* Forgets the replayable pair of a session whose grace window is over. A lost
 * compare-and-set is fine: whoever wrote since has cleared or replaced it. */
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

/* The pair a rotation stored on r, as a replay answers it. */
static void issued_from_stored(const struct session_rec *r, const struct user_rec *u,
                               struct issued *is)
{
    int64_t now = clock_now_s();
    memset(is, 0, sizeof *is);
    str_copy(is->sid, sizeof is->sid, r->sid);
    is->user_id = u->id;
    str_copy(is->user_name, sizeof is->user_name, u->name);
    str_copy(is->access, sizeof is->access, r->last_access);
    str_copy(is->refresh, sizeof is->refresh, r->last_refresh);
    is->expires_in = sessions__secs_left(r->last_access_exp, now);
    is->refresh_expires_in = sessions__secs_left(r->refresh_exp, now);
}

/* ================= a rotation: commit, sign, keep the pair ================= */

struct rotate_ctx {
    struct sign_job job;
    struct inflight *f;
    struct user_rec user;  /* the claims' subject */
    char client_id[CLIENT_ID_MAX + 1]; /* the session's */
    int64_t exp, now;      /* the new refresh exp; the rotation time (s) */
    int64_t rotated_at;    /* ms */
    int pair_conflicts;
};

static void rotate_reread(struct rotate_ctx *x);

static void rotate_free(struct rotate_ctx *x) { free(x); }

/* The pair is on the session (or could not be put there: the rotation is
 * committed all the same, only grace replays of it will fail). */
static void pair_stored(void *arg, enum store_rc rc)
{
    struct rotate_ctx *x = arg;
    if (rc == STORE_CONFLICT && ++x->pair_conflicts <= REFRESH_MAX_CONFLICTS) {
        rotate_reread(x); /* someone touched the session meanwhile: again */
        return;
    }
    if (rc)
        log_warn("session %s: the rotated pair was not kept for grace replays", x->f->sid);
    else
        grace_add(x->f->sid, x->rotated_at + broker.cfg.refresh_grace * 1000);
    inflight_finish(x->f, E_NONE, &x->job.out);
    rotate_free(x);
}

/* Keeps the signed pair for grace replays, unless the session was revoked or
 * rotated by someone else meanwhile. */
static void rotate_reread_cb(void *arg, enum store_rc rc, const struct session_rec *s)
{
    struct rotate_ctx *x = arg;
    struct inflight *f = x->f;
    struct session_rec *r = NULL;
    if (rc == STORE_NOT_FOUND || (!rc && (s->revoked || strcmp(s->cur_jti, f->new_jti)))) {
        inflight_finish(f, E_SESSION_REVOKED, NULL);
    } else if (!rc && s->last_refresh[0]) {
        /* Someone stored this rotation's pair first (a node that took over
         * a rotation it thought lost, or the one it took over from): that
         * pair is the answer, so one presented token never gets two. */
        struct issued is;
        issued_from_stored(s, &x->user, &is);
        inflight_finish(f, E_NONE, &is);
    } else if (rc || !(r = malloc(sizeof *r))) {
        inflight_finish(f, E_INTERNAL, NULL);
    } else {
        *r = *s;
        str_copy(r->last_access, sizeof r->last_access, x->job.out.access);
        str_copy(r->last_refresh, sizeof r->last_refresh, x->job.out.refresh);
        r->last_access_exp = x->job.access.exp;
        broker.store->ops->session_put(broker.store, r, pair_stored, x);
        free(r);
        return;
    }
    rotate_free(x);
}

static void rotate_reread(struct rotate_ctx *x)
{
    broker.store->ops->session_get(broker.store, x->f->sid, rotate_reread_cb, x);
}

static void rotate_signed(struct sign_job *j)
{
    struct rotate_ctx *x = (struct rotate_ctx *)j;
    if (j->rc) {
        inflight_finish(x->f, E_INTERNAL, NULL);
        rotate_free(x);
        return;
    }
    /* Re-read: a revocation may have landed while we signed. */
    rotate_reread(x);
}

/* Signs the pair of a rotation whose new jti is committed; rotate_signed
 * keeps it for replays and answers. */
static void rotate_sign(struct rotate_ctx *x)
{
    if (sessions__sign_prepare(&x->job, &x->user, x->f->sid, x->user.token_version,
                               x->f->new_jti, x->exp, x->now, x->client_id)) {
        inflight_finish(x->f, E_INTERNAL, NULL);
        rotate_free(x);
        return;
    }
    x->job.then = rotate_signed;
    sessions__sign_submit(&x->job);
}

/* The commit of the new current jti came back. A store error leaves it
 * unknown whether the commit landed (Redis may apply a command and lose the
 * connection before its reply): the answer is internal, and if it did land,
 * the client's retry finds the rotation without a pair and takes it over
 * (refresh_adopt). */
static void rotate_committed(void *arg, enum store_rc rc)
{
    struct rotate_ctx *x = arg;
    if (rc == STORE_CONFLICT) {
        inflight_retry(x->f);
    } else if (rc == STORE_NOT_FOUND) {
        inflight_finish(x->f, E_SESSION_REVOKED, NULL);
    } else if (rc) {
        inflight_finish(x->f, E_INTERNAL, NULL);
    } else {
        rotate_sign(x);
        return;
    }
    rotate_free(x);
}

/* Row 2, rotate: the new current jti is committed before signing, so any
 * later request sees the presented token as "previous" and gets this
 * rotation's pair. */
static void refresh_rotate(struct refresh_ctx *x, const struct user_rec *u)
{
    int64_t now_ms = clock_now_ms(), now = now_ms / 1000;
    struct session_rec *r = &x->rec;
    int64_t exp = sessions__refresh_exp_for(r->created_at, now);
    if (exp <= now) {
        refresh_fail(x, E_TOKEN_EXPIRED, MR_EXPIRED, 0);
        return;
    }
    struct inflight *f = calloc(1, sizeof *f);
    struct rotate_ctx *rx = calloc(1, sizeof *rx);
    if (!f || !rx || rng_token(JTI_BYTES, f->new_jti, sizeof f->new_jti) < 0) {
        free(f);
        free(rx);
        refresh_fail(x, E_INTERNAL, MR_INTERNAL, 0);
        return;
    }
    str_copy(f->sid, sizeof f->sid, r->sid);
    str_copy(f->old_jti, sizeof f->old_jti, r->cur_jti);
    if (hmap_insert(&inflights, &f->node, hmap_hash_bytes(f->sid, strlen(f->sid)))) {
        free(f);
        free(rx);
        refresh_fail(x, E_INTERNAL, MR_INTERNAL, 0);
        return;
    }
    inflight_join(f, x, false);
    rx->f = f;
    rx->user = *u;
    str_copy(rx->client_id, sizeof rx->client_id, r->client_id);
    rx->exp = exp;
    rx->now = now;
    rx->rotated_at = now_ms;

    struct session_rec *w = malloc(sizeof *w);
    if (!w) {
        inflight_finish(f, E_INTERNAL, NULL);
        free(rx);
        return;
    }
    *w = *r;
    str_copy(w->prev_jti, sizeof w->prev_jti, r->cur_jti);
    str_copy(w->cur_jti, sizeof w->cur_jti, f->new_jti);
    w->rotated_at = now_ms;
    w->last_used_at = now_ms;
    w->refresh_exp = exp;
    w->last_access[0] = w->last_refresh[0] = '\0';
    w->last_access_exp = 0;
    broker.store->ops->session_put(broker.store, w, rotate_committed, rx);
    free(w); /* the store copies the record before returning */
}

/* ================= waiting for another node's pair ================= */

static struct refresh_ctx *pollers; /* waiting on a timer, for shutdown */

static void poll_unlink(struct refresh_ctx *x)
{
    *x->pprev = x->next;
    if (x->next)
        x->next->pprev = x->pprev;
    x->next = NULL;
    x->pprev = NULL;
}

static void poll_fire(lws_sorted_usec_list_t *sul)
{
    struct refresh_ctx *x = lws_container_of(sul, struct refresh_ctx, sul);
    poll_unlink(x);
    refresh_read(x);
}

/* Row 3 with no pair to replay, and nobody left to store it: the rotation
 * that retired the presented token committed its new jti, but its signer died
 * before keeping the pair, or the store took the commit and lost the reply
 * (so the signer answered internal and dropped it). Nobody holds that
 * rotation's refresh token, so this node signs the rotation's pair itself.
 * If the first signer was only slow after all, whichever of the two pairs is
 * stored first is the one every presenter gets (rotate_reread_cb). */
static void refresh_adopt(struct refresh_ctx *x, const struct user_rec *u)
{
    const struct session_rec *r = &x->rec;
    int64_t now_ms = clock_now_ms();
    if (r->refresh_exp <= now_ms / 1000) {
        refresh_fail(x, E_TOKEN_EXPIRED, MR_EXPIRED, 0);
        return;
    }
    struct inflight *f = inflight_find(r->sid) ? NULL : calloc(1, sizeof *f);
    struct rotate_ctx *rx = f ? calloc(1, sizeof *rx) : NULL;
    if (f) {
        str_copy(f->sid, sizeof f->sid, r->sid);
        str_copy(f->old_jti, sizeof f->old_jti, r->prev_jti);
        str_copy(f->new_jti, sizeof f->new_jti, r->cur_jti);
    }
    if (!rx || hmap_insert(&inflights, &f->node, hmap_hash_bytes(f->sid, strlen(f->sid)))) {
        /* out of memory, or another rotation of the session runs here now */
        free(f);
        free(rx);
        refresh_fail(x, E_INTERNAL, MR_INTERNAL, 0);
        return;
    }
    log_warn("session %s: the rotation that retired this token never stored its pair; "
             "signing it here",
             r->sid);
    inflight_join(f, x, true);
    rx->f = f;
    rx->user = *u;
    str_copy(rx->client_id, sizeof rx->client_id, r->client_id);
    rx->exp = r->refresh_exp;
    rx->now = now_ms / 1000;
    rx->rotated_at = r->rotated_at;
    rotate_sign(rx);
}

/* The presented token was retired by a rotation whose pair is not stored
 * yet. With a shared store it may be being signed on another node: wait for
 * it a while. With a store only this process writes, or after the wait,
 * nobody will store it: take the rotation over. */
static void refresh_wait_pair(struct refresh_ctx *x, const struct user_rec *u)
{
    int64_t now = clock_now_ms();
    if (!broker.cfg.cluster || !broker.ctx) {
        refresh_adopt(x, u);
        return;
    }
    if (!x->wait_until)
        x->wait_until = now + REFRESH_WAIT_MS;
    if (now >= x->wait_until) {
        refresh_adopt(x, u);
        return;
    }
    x->next = pollers;
    if (pollers)
        pollers->pprev = &x->next;
    x->pprev = &pollers;
    pollers = x;
    lws_sul_schedule(broker.ctx, 0, &x->sul, poll_fire, REFRESH_POLL_MS * LWS_US_PER_MS);
}

/* ================= the decision ================= */

static void reuse_revoked(void *arg, enum api_err e) { (void)arg, (void)e; }

static void answer_with_stored_pair(struct refresh_ctx *x, const struct user_rec *u)
{
    struct issued is;
    issued_from_stored(&x->rec, u, &is);
    metrics.refresh[MR_GRACE]++;
    x->cb(x->arg, E_NONE, &is, 0);
    free(x);
}

/* Rows 2–4 once the token, session and user are known to be good. */
static void refresh_decide(struct refresh_ctx *x, const struct user_rec *u)
{
    struct session_rec *r = &x->rec;
    int64_t now_ms = clock_now_ms();
    int64_t since_rotation = now_ms - r->rotated_at;
    struct inflight *f = inflight_find(r->sid);
    /* By when the request came, not now: one that waited for another node's
     * pair past the window's end was inside it all the same. */
    bool in_grace = r->prev_jti[0] && !strcmp(x->c.jti, r->prev_jti) &&
                    x->arrived_ms - r->rotated_at < broker.cfg.refresh_grace * 1000;
    bool is_current = !strcmp(x->c.jti, r->cur_jti);

    /* A live token presented by a client the session was not issued to: no
     * rotation, no pair. (Reuse of an older token falls through below and
     * revokes the session whoever presents it: it is stolen either way.) */
    if ((is_current || in_grace) && strcmp(x->client_id, r->client_id)) {
        refresh_fail(x, E_INVALID_TOKEN, MR_INVALID, 0);
        return;
    }

    if (is_current) {
        /* Read before our own commit of a rotation of this very token
         * landed: the same request twice, so the same pair. */
        if (f && !strcmp(f->old_jti, x->c.jti)) {
            inflight_join(f, x, true);
            return;
        }
        int64_t interval_ms = broker.cfg.refresh_interval * 1000;
        if (since_rotation < interval_ms) {
            int64_t wait_ms = interval_ms - since_rotation;
            refresh_fail(x, E_RATE_LIMITED, MR_RATE_LIMITED, (wait_ms + 999) / 1000);
            return;
        }
        refresh_rotate(x, u);
        return;
    }

    if (in_grace) {
        if (f && !strcmp(f->new_jti, r->cur_jti))
            inflight_join(f, x, true);
        else if (r->last_access[0])
            answer_with_stored_pair(x, u);
        else
            refresh_wait_pair(x, u);
        return;
    }

    if (r->last_access[0] && since_rotation >= broker.cfg.refresh_grace * 1000)
        forget_pair(r);

    /* Row 4: a token of this session that is neither current nor inside the
     * grace window was stolen or replayed. Whoever holds the current one may
     * be the thief: end the session for everyone. */
    log_warn("session %s: refresh token reuse detected, revoking", r->sid);
    sessions_revoke(r->user_id, r->sid, SESSION_END_REFRESH_REUSED, reuse_revoked, NULL);
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
        refresh_fail(x, E_INTERNAL, MR_INTERNAL, 0);
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
        refresh_fail(x, E_INTERNAL, MR_INTERNAL, 0);
        return;
    }
    x->rec = *s;
    broker.store->ops->user_by_id(broker.store, s->user_id, refresh_user_cb, x);
}

static void refresh_read(struct refresh_ctx *x)
{
    broker.store->ops->session_get(broker.store, x->c.sid, refresh_session_cb, x);
}

void sessions_refresh(const char *token, size_t len, sessions_issue_cb cb, void *arg)
{
    sessions_refresh_as(token, len, "", cb, arg);
}

void sessions_refresh_as(const char *token, size_t len, const char *client_id,
                         sessions_issue_cb cb, void *arg)
{
    struct refresh_ctx *x = calloc(1, sizeof *x);
    if (!x) {
        cb(arg, E_INTERNAL, NULL, 0);
        return;
    }
    str_copy(x->client_id, sizeof x->client_id, client_id);
    x->arrived_ms = clock_now_ms();
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
    refresh_read(x);
}

void sessions__refresh_shutdown(void)
{
    loop_timer_cancel(&grace_timer);
    while (grace_head) {
        struct grace_entry *g = grace_head;
        grace_head = g->next;
        free(g);
    }
    grace_tail = NULL;
    while (pollers) {
        struct refresh_ctx *x = pollers;
        poll_unlink(x); /* its timer went with the lws context */
        free(x);
    }
    /* In-flight rotations finish through workers_stop() before this. */
    hmap_free(&inflights);
}
