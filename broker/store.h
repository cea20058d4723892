/* store.h — the asynchronous persistence interface (docs/architecture.md,
 * rule 2).
 *
 * Every call takes a completion callback. The SQLite backend completes inline
 * (the callback runs before the call returns) — except its writes while group
 * commit is on, which complete at the end of the loop turn; a network backend
 * completes later on the event loop. Callers must work either way: never
 * assume the callback has or has not run when the call returns, and never hold a
 * `struct lws *` across the call (hold a connection id).
 *
 * Record pointers handed to callbacks are valid only during the callback.
 * Records and strings passed in are copied (or serialized) before the call
 * returns, so callers may pass stack or soon-freed memory.
 * All calls are made on the event-loop thread. */
#ifndef QRLOGIN_STORE_H
#define QRLOGIN_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "field_sizes.h"
#include "jwt.h"
#include "password.h"
#include "session_end.h"
#define FED_ISSUER_MAX 255
#define FED_SUBJECT_MAX 256
/* A federated user's password hash: not one password_verify can parse, so
 * no password matches it. */
#define FED_NO_PASSWORD "!federated"
/* An identity (issuer, subject) as every backend keys it: SHA-256 of issuer,
 * NUL, subject, in base64url (43 characters and a NUL). */
#define FED_IDENTITY_HASH_SIZE 44
void store_identity_hash(const char *issuer, const char *subject,
                         char out[FED_IDENTITY_HASH_SIZE]);
/* Whether user_federated's arguments are all there and fit (logged if not). */
bool store_federated_args_ok(const char *issuer, const char *subject, const char *display_name);

enum store_rc {
    STORE_OK = 0,
    STORE_NOT_FOUND = 1,
    STORE_CONFLICT = 2, /* unique key taken (user name) */
    STORE_ERROR = 3,    /* backend failure: the store went away, disk full… */
};

struct user_rec {
    int64_t id;
    char name[USER_NAME_MAX + 1];
    char pwhash[PASSWORD_HASH_MAX];
    int64_t token_version; /* starts at 1; logout.all increments it */
    int64_t created_at;    /* ms */
};

struct session_rec {
    char sid[SID_MAX];
    int64_t user_id;
    char kind[8];             /* "web" (a PC login) or "app" (a phone sign-in) */
    /* The OIDC client the session was issued to ("" for our own pages and
     * apps): its access tokens carry it as client_id, and only that client
     * may refresh it at /token (docs/oidc.md). */
    char client_id[CLIENT_ID_MAX + 1];
    int64_t created_at;       /* ms */
    int64_t last_used_at;     /* ms */
    char ip[IP_MAX];
    char user_agent[UA_MAX];
    int64_t ver;              /* the user's token version when issued */
    bool revoked;
    enum session_end revoke_reason; /* SESSION_LIVE while not revoked */
    char cur_jti[JTI_MAX];    /* current refresh token's jti */
    char prev_jti[JTI_MAX];   /* the one the last rotation retired ("" if none) */
    int64_t rotated_at;       /* ms of the last rotation (or creation) */
    int64_t refresh_exp;      /* s: exp of the current refresh token */
    /* The pair the last rotation issued, kept so that a retry inside the grace
     * window gets it back byte for byte (also across a restart). Cleared when
     * the grace window is over. */
    char last_access[JWT_MAX_TOKEN];
    char last_refresh[JWT_MAX_TOKEN];
    int64_t last_access_exp;  /* s */
    /* Revision for optimistic concurrency: 0 for a record not yet stored;
     * every successful write stores rev + 1 (see session_put). */
    int64_t rev;
};

struct audit_rec {
    int64_t at;               /* ms */
    int64_t user_id;
    char sid[SID_MAX];        /* the session the login created ("" if none) */
    char ticket_prefix[8];    /* first 6 chars only */
    char pc_ip[IP_MAX];
    char pc_user_agent[UA_MAX];
    char phone_sid[SID_MAX];  /* the phone session that decided */
    char outcome[16];         /* confirmed | denied | code_mismatch */
};

/* ---- OAuth records (docs/oidc.md) ----
 * One small record type serves the OpenID Connect provider: registered
 * clients (never expire), pending authorize requests, authorization codes,
 * device codes and user codes (all short-lived). The value is the owner's
 * JSON; the store only keys, expires and compare-and-sets it. */
#define OAUTH_KIND_MAX 16
#define OAUTH_KEY_MAX 96
#define OAUTH_VALUE_MAX 4096

struct oauth_rec {
    char kind[OAUTH_KIND_MAX];   /* "client", "authz", "code", "device", "ucode" */
    char key[OAUTH_KEY_MAX];     /* unique within kind */
    char value[OAUTH_VALUE_MAX]; /* JSON, the owner module's */
    int64_t expires_at;          /* ms; 0 = never (listable by kind) */
    int64_t rev;                 /* as session_rec.rev: 0 = not yet stored */
};

typedef void (*store_done_cb)(void *arg, enum store_rc rc);
typedef void (*store_user_cb)(void *arg, enum store_rc rc, const struct user_rec *u);
typedef void (*store_int_cb)(void *arg, enum store_rc rc, int64_t value);
typedef void (*store_session_cb)(void *arg, enum store_rc rc, const struct session_rec *s);
typedef void (*store_sessions_cb)(void *arg, enum store_rc rc, const struct session_rec *s,
                                  int n);
typedef void (*store_audits_cb)(void *arg, enum store_rc rc, const struct audit_rec *a, int n);
typedef void (*store_oauth_cb)(void *arg, enum store_rc rc, const struct oauth_rec *r);
typedef void (*store_oauths_cb)(void *arg, enum store_rc rc, const struct oauth_rec *r, int n);

/* A store_done_cb for writes whose outcome the caller does not act on (the
 * backend logs failures itself). */
void store_ignore_done(void *arg, enum store_rc rc);

struct store;
struct lws_vhost;

struct store_ops {
    void (*close)(struct store *st); /* flushes and frees */
    bool (*healthy)(struct store *st);
    /* A networked backend starts connecting here, on the loop's vhost (which
     * offers its lws protocol); NULL for a backend that needs no loop. Until
     * it is connected, calls complete with STORE_ERROR. */
    void (*start)(struct store *st, struct lws_vhost *vh);
    /* users */
    void (*user_create)(struct store *st, const char *name, const char *pwhash,
                        store_user_cb cb, void *arg);          /* CONFLICT if taken */
    void (*user_by_name)(struct store *st, const char *name, store_user_cb cb, void *arg);
    void (*user_by_id)(struct store *st, int64_t id, store_user_cb cb, void *arg);
    void (*user_bump_version)(struct store *st, int64_t id, store_int_cb cb, void *arg);
    /* The user behind an identity provider's (issuer, subject), created on
     * first sight with an id of its own (docs/federation.md). display_name
     * (1..USER_NAME_MAX bytes) is stored, replaced when it changed, and comes
     * back as u->name; names of federated users need not be unique, and such
     * a user has no password, so auth.password never signs it in. issuer at
     * most FED_ISSUER_MAX bytes, subject at most FED_SUBJECT_MAX. */
    void (*user_federated)(struct store *st, const char *issuer, const char *subject,
                           const char *display_name, store_user_cb cb, void *arg);
    /* sessions */
    /* Compare-and-set: with s->rev == 0 inserts (CONFLICT if the sid
     * exists); otherwise replaces the record only if its stored rev is still
     * s->rev (CONFLICT if anyone wrote it since it was read, NOT_FOUND if it
     * is gone). The stored rev becomes s->rev + 1. Nodes of a cluster write
     * the same sessions; this is what keeps a stale read from undoing a
     * rotation or a revocation made elsewhere. */
    void (*session_put)(struct store *st, const struct session_rec *s, store_done_cb cb,
                        void *arg);
    void (*session_get)(struct store *st, const char *sid, store_session_cb cb, void *arg);
    /* the user's sessions that are not revoked, newest first, at most 100 */
    void (*session_list)(struct store *st, int64_t user_id, store_sessions_cb cb, void *arg);
    /* marks every non-revoked session of the user revoked with reason */
    void (*session_revoke_user)(struct store *st, int64_t user_id, enum session_end reason,
                                store_done_cb cb, void *arg);
    /* audit log of login decisions */
    void (*audit_add)(struct store *st, const struct audit_rec *a, store_done_cb cb, void *arg);
    /* the user's most recent entries, newest first, at most limit (<= 100) */
    void (*audit_recent)(struct store *st, int64_t user_id, int limit, store_audits_cb cb,
                         void *arg);
    /* OAuth records. oauth_put is session_put's compare-and-set: rev 0
     * inserts (CONFLICT if a live record has the key; an expired one is
     * replaced), otherwise it replaces only the revision it read (CONFLICT if
     * written since, NOT_FOUND if gone). oauth_get answers NOT_FOUND for an
     * expired record. oauth_list gives the records of a kind that never
     * expire, at most 100, ordered by key. */
    void (*oauth_put)(struct store *st, const struct oauth_rec *r, store_done_cb cb, void *arg);
    void (*oauth_get)(struct store *st, const char *kind, const char *key, store_oauth_cb cb,
                      void *arg);
    void (*oauth_del)(struct store *st, const char *kind, const char *key, store_done_cb cb,
                      void *arg);
    void (*oauth_list)(struct store *st, const char *kind, store_oauths_cb cb, void *arg);
    /* Group commit (NULL for a backend without it; store_group_commit()):
     * with it on, the writes of one loop turn share one transaction, and
     * their callbacks run in turn_end, once it has committed. */
    void (*group_commit)(struct store *st, bool on);
    void (*turn_end)(struct store *st);
};

struct store {
    const struct store_ops *ops;
};

/* Opens "sqlite:<path>" (creating the file, schema and parent directory) or
 * "redis://…" (store_redis.c; connects only once started). Returns NULL with
 * a reason in err. */
struct store *store_open(const char *url, char *err, size_t errsz);
struct store *store_sqlite_open(const char *path, char *err, size_t errsz);
/* WAL checkpoints the SQLite store's background thread has completed (tests;
 * 0 for ":memory:" or any other backend). */
uint64_t store_sqlite_checkpoints(struct store *st);
struct store *store_redis_open(const char *url, char *err, size_t errsz);
/* Whether the store needs the event loop (start) before it answers. */
bool store_needs_loop(const struct store *st);
/* The event loop's side of group commit: store_group_commit(st, true) before
 * the loop runs, store_turn_end(st) after each of its turns. No-ops for a
 * backend without it. */
void store_group_commit(struct store *st, bool on);
void store_turn_end(struct store *st);

#endif
