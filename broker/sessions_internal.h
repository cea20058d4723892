/* sessions_internal.h — what the files of the sessions module share
 * (sessions.c, sessions_revoke.c); nothing outside the module includes it. */
#ifndef QRLOGIN_SESSIONS_INTERNAL_H
#define QRLOGIN_SESSIONS_INTERNAL_H

#include "sessions.h"
#include "store.h"
#include "strutil.h"
#include "workers.h"

#define JTI_BYTES 16

/* One pair signed on the worker pool; `then` runs on the loop. */
struct sign_job {
    struct work work;
    struct claims access;   /* claims of the access token */
    struct claims refresh;  /* claims of the refresh token */
    struct issued out;
    char access_kid[JWT_KID_MAX];  /* the keys that signed (tokens_kids_current) */
    char refresh_kid[JWT_KID_MAX];
    int rc;
    void (*then)(struct sign_job *job);
};

/* Fills both claim sets of a pair for u (distinct jtis; the refresh jti is
 * the one the session record tracks) and the job's run/done. 0 or -1. */
int sessions__sign_prepare(struct sign_job *j, const struct user_rec *u, const char *sid,
                           int64_t ver, const char *refresh_jti, int64_t refresh_exp, int64_t now,
                           const char *client_id);

/* Signs the prepared pair and calls job->then: on the worker pool when the
 * access token is ES256 (~0.6 ms), here and now when it is HS256 (two HMACs,
 * a few µs: less than the trip through the pool and back costs). */
void sessions__sign_submit(struct sign_job *j);

/* The refresh exp of a new pair: sliding refresh_ttl, never past the
 * session's absolute max age. */
int64_t sessions__refresh_exp_for(int64_t created_at_ms, int64_t now);

int64_t sessions__secs_left(int64_t exp_s, int64_t now_s);

/* Frees what the refresh module still holds (sessions_shutdown). */
void sessions__refresh_shutdown(void);

/* Marks r revoked for why and drops its replayable pair (not stored). */
void sessions__mark_revoked(struct session_rec *r, enum session_end why);

/* Counts and logs the revocation and tells the ended listener. */
void sessions__announce_revoked(const char *sid, enum session_end why);

#endif
