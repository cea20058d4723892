/* sessions_revoke.c — ending sessions: session.revoke, logout, logout.all
 * (docs/protocol.md §4–5). Part of the sessions module (sessions.h): like
 * sessions.c, it is the only place session records change. Who is told of an
 * ended session (its sockets, the other nodes) is the listener's business. */
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "log.h"
#include "metrics.h"
#include "sessions.h"
#include "sessions_internal.h"

static sessions_ended_listener ended_listener;

void sessions_set_listener(sessions_ended_listener on_ended) { ended_listener = on_ended; }

void sessions__announce_revoked(const char *sid, enum session_end why)
{
    metrics.revoked[why < SESSION_END__N ? why : SESSION_LIVE]++;
    log_info("session %s revoked (%s)", sid, session_end_name(why));
    if (ended_listener)
        ended_listener(sid, why);
}

void sessions__mark_revoked(struct session_rec *r, enum session_end why)
{
    r->revoked = true;
    r->revoke_reason = why;
    r->last_access[0] = r->last_refresh[0] = '\0';
}

#define REVOKE_MAX_CONFLICTS 8

struct revoke_ctx {
    int attempts;
    int64_t user_id;
    char sid[SID_MAX];
    enum session_end why;
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
        sessions__announce_revoked(x->sid, x->why);
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
            sessions__mark_revoked(r, x->why);
            str_copy(x->sid, sizeof x->sid, r->sid);
            broker.store->ops->session_put(broker.store, r, revoke_written, x);
            free(r);
            return; /* revoke_written frees x */
        }
    }
    free(x);
}

void sessions_revoke(int64_t user_id, const char *sid, enum session_end why,
                     sessions_done_cb cb, void *arg)
{
    struct revoke_ctx *x = calloc(1, sizeof *x);
    if (!x) {
        cb(arg, E_INTERNAL);
        return;
    }
    x->user_id = user_id;
    str_copy(x->sid, sizeof x->sid, sid);
    x->why = why;
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
        sessions__announce_revoked(x->sids[i], SESSION_END_LOGOUT_ALL);
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
        str_copy(x->sids[i], SID_MAX, s[i].sid);
    broker.store->ops->session_revoke_user(broker.store, x->user_id, SESSION_END_LOGOUT_ALL,
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
