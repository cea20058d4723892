/* sessions.h — sessions and their token pairs (docs/protocol.md §5). Only this
 * file changes session records (docs/architecture.md, rule 6).
 *
 * Every call completes through its callback, on the loop thread, after any
 * worker (signing) or store step. `arg` is the caller's; it is passed back
 * untouched exactly once. */
#ifndef QRLOGIN_SESSIONS_H
#define QRLOGIN_SESSIONS_H

#include <stdbool.h>
#include <stdint.h>

#include <stdbool.h>

#include "errors.h"
#include "session_end.h"
#include "store.h"
#include "tokens.h"

/* A freshly issued (or grace-replayed) token pair. */
struct issued {
    char sid[SID_MAX];
    int64_t user_id;
    char user_name[USER_NAME_MAX + 1];
    char access[JWT_MAX_TOKEN];
    char refresh[JWT_MAX_TOKEN];
    int64_t expires_in;          /* access token, seconds from now */
    int64_t refresh_expires_in;  /* refresh token, seconds from now */
};

/* err == E_NONE → is is set. E_RATE_LIMITED → retry_after is set. */
typedef void (*sessions_issue_cb)(void *arg, enum api_err err, const struct issued *is,
                                  int64_t retry_after);

/* A new session of kind "web" or "app" for u, with its first pair. */
void sessions_create(const struct user_rec *u, const char *kind, const char *ip,
                     const char *user_agent, sessions_issue_cb cb, void *arg);

/* The same for an OIDC client (client_id; NULL or "" is sessions_create). */
void sessions_create_for_client(const struct user_rec *u, const char *kind, const char *ip,
                                const char *user_agent, const char *client_id,
                                sessions_issue_cb cb, void *arg);

/* A PC login's pair signed before its session exists (login_presign.h):
 * sid, jtis, iat and exp chosen and both tokens signed, nothing stored. */
struct sessions_pair;

/* p is NULL if signing failed; otherwise the callee owns it until it passes
 * it to sessions_create_from_pair or sessions_pair_free. */
typedef void (*sessions_pair_cb)(void *arg, struct sessions_pair *p);

/* Signs a new session's pair for u (on the worker pool with ES256). */
void sessions_presign(const struct user_rec *u, sessions_pair_cb cb, void *arg);

/* Whether p is what signing for u now would give, give or take its age: the
 * same user, name and token version, signed by the keys that sign now, and
 * at most max_age_s seconds old (and not from the future) at now_s. */
bool sessions_pair_usable(const struct sessions_pair *p, const struct user_rec *u,
                          int64_t max_age_s, int64_t now_s);

/* Writes the session of p (consumed) and answers cb as sessions_create does,
 * with the lifetimes the tokens have left. */
void sessions_create_from_pair(struct sessions_pair *p, const char *kind, const char *ip,
                               const char *user_agent, sessions_issue_cb cb, void *arg);

void sessions_pair_free(struct sessions_pair *p);

/* The refresh decision table of docs/protocol.md §5, in its order. */
void sessions_refresh(const char *token, size_t len, sessions_issue_cb cb, void *arg);

/* The same, presented by client_id ("" for our own pages and apps: the
 * socket and /api/token). A session rotates only for its own client: any
 * other gets E_INVALID_TOKEN for the current or grace token, while reuse of
 * an older one still revokes the session, whoever presents it. */
void sessions_refresh_as(const char *token, size_t len, const char *client_id,
                         sessions_issue_cb cb, void *arg);

/* An access token that is valid, of a live session, at the user's current
 * token version. On E_NONE c is set (and name is the user's). */
typedef void (*sessions_access_cb)(void *arg, enum api_err err, const struct claims *c);
void sessions_check_access(const char *token, size_t len, sessions_access_cb cb, void *arg);

typedef void (*sessions_list_cb)(void *arg, enum api_err err, const struct session_rec *s,
                                 int n);
void sessions_list(int64_t user_id, sessions_list_cb cb, void *arg);

/* Revokes the session sid if it belongs to user_id (else E_NOT_FOUND); once
 * the record says so, the ended listener hears of it. */
typedef void (*sessions_done_cb)(void *arg, enum api_err err);
void sessions_revoke(int64_t user_id, const char *sid, enum session_end why,
                     sessions_done_cb cb, void *arg);

/* Token version up, every session of the user revoked (the listener hears of
 * each). */
void sessions_logout_all(int64_t user_id, sessions_done_cb cb, void *arg);

/* What the module tells the layer above (which pushes session.revoked to the
 * session's sockets and tells the other nodes): sid ended for why. Called
 * after the caller's own callback, so a socket sees its `ok` before the push.
 * None set: nobody is told (unit tests set their own). */
typedef void (*sessions_ended_listener)(const char *sid, enum session_end why);
void sessions_set_listener(sessions_ended_listener on_ended);

/* Marks sid as used now (last_used_at); fire and forget. */
void sessions_touch(const char *sid);

/* Clears replayable pairs whose grace window is over (called from a timer);
 * returns the next deadline in ms, or 0. */
int64_t sessions_sweep_grace(int64_t now_ms);

/* The earliest grace deadline (ms) still to sweep, or 0. */
int64_t sessions_next_grace_deadline(void);

void sessions_shutdown(void);

#endif
