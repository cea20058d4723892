/* sessions_revoke.c — ending sessions: session.revoke, logout, logout.all
 * and the session.revoked pushes to every socket attached to a session that
 * ended (docs/protocol.md §4–5). Part of the sessions module (sessions.h): like
 * sessions.c, it is the only place session records change. */
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "cluster.h"
#include "hub.h"
#include "log.h"
#include "metrics.h"
#include "replies.h"
#include "sessions.h"
#include "sessions_internal.h"

static void push_revoked(struct conn *c, void *arg)
{
    const char *reason = arg;
    struct jw w;
    push_start(&w, "session.revoked");
    jw_kv_str(&w, "session_id", c->sid);
    jw_kv_str(&w, "reason", reason);
    push_finish(c->id, &w);
    hub_detach(c); /* the socket stays open, just no longer signed in */
    hub_conn_changed(c);
}

void sessions__announce_revoked(const char *sid, const char *reason)
{
    enum metric_revoke i = metrics_revoke_index(reason);
    if (i < MRV__N)
        metrics.revoked[i]++;
    log_info("session %s revoked (%s)", sid, reason);
    hub_each_in_session(sid, push_revoked, (void *)reason);
    cluster_announce_revoked(sid, reason);
}

void sessions_revoked_elsewhere(const char *sid, const char *reason)
{
    log_debug("session %s revoked on another node (%s)", sid, reason);
    hub_each_in_session(sid, push_revoked, (void *)reason);
}

void sessions__mark_revoked(struct session_rec *r, const char *reason)
{
    r->revoked = true;
    copy_str(r->revoke_reason, sizeof r->revoke_reason, reason);
    r->last_access[0] = r->last_refresh[0] = '\0';
}

#define REVOKE_MAX_CONFLICTS 8

struct revoke_ctx {
    int attempts;
    int64_t user_id;
    char sid[SID_MAX];
    char reason[24];
    sessions_done_cb cb;
    void *arg;
};

static void revoke_cb(void *arg, enum store_rc rc, const struct session_rec *s);

static void revoke_written(void *arg, enum store_rc rc)
{
    struct revoke_ctx *x = arg;
    /* Lost a compare-and-set to a write made meanwhile (a rotation, a touch,
     * another node): read it again and revoke that. */
    if (rc == STORE_CONFLICT && ++x->attempts <= REVOKE_MAX_CONFLICTS) {
        broker.store->ops->session_get(broker.store, x->sid, revoke_cb, x);
        return;
    }
    /* Answer first, then push: the caller sees its ok before the
     * session.revoked that its own socket may also get. */
    x->cb(x->arg, rc ? E_INTERNAL : E_NONE);
    if (!rc)
        sessions__announce_revoked(x->sid, x->reason);
    free(x);
}

static void revoke_cb(void *arg, enum store_rc rc, const struct session_rec *s)
{
    struct revoke_ctx *x = arg;
    /* Someone else's session is "not found": asking reveals nothing. */
    if (rc == STORE_NOT_FOUND || (!rc && s->user_id != x->user_id)) {
        x->cb(x->arg, E_NOT_FOUND);
    } else if (rc) {
        x->cb(x->arg, E_INTERNAL);
    } else if (s->revoked) {
        x->cb(x->arg, E_NONE); /* already ended: revoking is idempotent */
    } else {
        struct session_rec *r = malloc(sizeof *r);
        if (!r) {
            x->cb(x->arg, E_INTERNAL);
        } else {
            *r = *s;
            sessions__mark_revoked(r, x->reason);
            copy_str(x->sid, sizeof x->sid, r->sid);
            broker.store->ops->session_put(broker.store, r, revoke_written, x);
            free(r);
            return; /* revoke_written frees x */
        }
    }
    free(x);
}

void sessions_revoke(int64_t user_id, const char *sid, const char *reason, sessions_done_cb cb,
                     void *arg)
{
    struct revoke_ctx *x = calloc(1, sizeof *x);
    if (!x) {
        cb(arg, E_INTERNAL);
        return;
    }
    x->user_id = user_id;
    copy_str(x->sid, sizeof x->sid, sid);
    copy_str(x->reason, sizeof x->reason, reason);
    x->cb = cb;
    x->arg = arg;
    broker.store->ops->session_get(broker.store, sid, revoke_cb, x);
}

/* logout.all: version up first (every outstanding token of the user is then
 * dead by the ver rule even before the sessions are marked), then the
 * sessions, then the pushes. */
struct logout_all_ctx {
    int64_t user_id;
    char (*sids)[SID_MAX];
    int n;
    sessions_done_cb cb;
    void *arg;
};

static void logout_all_finish(struct logout_all_ctx *x, enum api_err e)
{
    if (x->cb)
        x->cb(x->arg, e);
    free(x->sids);
    free(x);
}

static void logout_all_revoked(void *arg, enum store_rc rc)
{
    struct logout_all_ctx *x = arg;
    if (rc) {
        logout_all_finish(x, E_INTERNAL);
        return;
    }
    x->cb(x->arg, E_NONE);
    x->cb = NULL;
    for (int i = 0; i < x->n; i++)
        sessions__announce_revoked(x->sids[i], "logout_all");
    log_info("user %lld: logged out everywhere (%d sessions)", (long long)x->user_id, x->n);
    logout_all_finish(x, E_NONE);
}

static void logout_all_listed(void *arg, enum store_rc rc, const struct session_rec *s, int n)
{
    struct logout_all_ctx *x = arg;
    if (rc) {
        logout_all_finish(x, E_INTERNAL);
        return;
    }
    x->sids = n ? calloc((size_t)n, sizeof *x->sids) : NULL;
    if (n && !x->sids) {
        logout_all_finish(x, E_INTERNAL);
        return;
    }
    x->n = n;
    for (int i = 0; i < n; i++)
        copy_str(x->sids[i], SID_MAX, s[i].sid);
    broker.store->ops->session_revoke_user(broker.store, x->user_id, "logout_all",
                                           logout_all_revoked, x);
}

static void logout_all_bumped(void *arg, enum store_rc rc, int64_t version)
{
    struct logout_all_ctx *x = arg;
    (void)version;
    if (rc) {
        logout_all_finish(x, E_INTERNAL);
        return;
    }
    broker.store->ops->session_list(broker.store, x->user_id, logout_all_listed, x);
}

void sessions_logout_all(int64_t user_id, sessions_done_cb cb, void *arg)
{
    struct logout_all_ctx *x = calloc(1, sizeof *x);
    if (!x) {
        cb(arg, E_INTERNAL);
        return;
    }
    x->user_id = user_id;
    x->cb = cb;
    x->arg = arg;
    broker.store->ops->user_bump_version(broker.store, user_id, logout_all_bumped, x);
}
