/* store_contract.h — what every store backend owes store.h, written once and
 * run against each backend: test_store_sqlite.c runs it on SQLite (with and
 * without group commit), test_store_redis.c on a real redis-server. One test
 * body, several backends, so the copies cannot drift apart again.
 *
 * A backend file supplies a struct store_backend — how to open a fresh store,
 * reopen the same data, pump until a completion has arrived, and close — and
 * lists the contract's cases with STORE_CONTRACT_CASES. Its own cases (WAL,
 * a killed Redis…) use the same fixture and the synchronous wrappers below.
 *
 *   #define SQLITE_CONTRACT(c) STORE_CONTRACT_CASE("sqlite", &SQLITE, c)
 *   const struct CMUnitTest tests[] = { STORE_CONTRACT_CASES(SQLITE_CONTRACT) … };
 *
 * Every case is named "<backend>/<case>", so a failure names the backend. */
#ifndef QRLOGIN_TEST_STORE_CONTRACT_H
#define QRLOGIN_TEST_STORE_CONTRACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* Fake "now" for every case: 2100-01-01. Redis expires session hashes by its
 * own, real clock, so session times must lie in the future for them to stay. */
#define CONTRACT_T0 4102444800000LL

struct store_fixture;

struct store_backend {
    /* A fresh store on an empty data set in f->st; NULL if it cannot be had.
     * The backend allocates the fixture (it may embed it in a larger struct
     * of its own, as its first member). */
    struct store_fixture *(*open)(const struct store_backend *be);
    /* Closes f->st and opens the same data again: what a restart keeps. */
    void (*reopen)(struct store_fixture *f);
    /* Runs the backend until *done (a completion arrived) or it gives up;
     * the caller then checks *done. Must not wait when *done already holds. */
    void (*pump)(struct store_fixture *f, bool *done);
    /* Closes f->st (if not NULL), removes the data, frees f. */
    void (*close)(struct store_fixture *f);
};

struct store_fixture {
    const struct store_backend *be;
    struct store *st;
};

/* cmocka fixtures: the case's initial state is its struct store_backend. */
int store_fixture_setup(void **state);
int store_fixture_teardown(void **state);

/* A cmocka case named "<prefix>/<name>" that runs fn on a fresh fixture of
 * backend be (prefix names the backend, so a failure does too). */
#define STORE_CASE(prefix, be, name, fn)                                                    \
    {prefix "/" #name, fn, store_fixture_setup, store_fixture_teardown, (void *)(be)},
/* The contract's case c on backend be. */
#define STORE_CONTRACT_CASE(prefix, be, c) STORE_CASE(prefix, be, c, store_contract_##c)

/* The contract. Apply X to each case name. */
#define STORE_CONTRACT_CASES(X)       \
    X(user_roundtrip)                 \
    X(user_conflict_and_bad_input)    \
    X(user_federated)                 \
    X(oauth_records)                  \
    X(binary_safe_values)             \
    X(not_found)                      \
    X(bump_version_persists)          \
    X(session_put_replace_get)        \
    X(session_put_compare_and_set)    \
    X(session_put_race_one_winner)    \
    X(session_changes_owner)          \
    X(session_list_order_and_revoked) \
    X(session_list_caps_at_100)       \
    X(session_revoke_user)            \
    X(audit_order_and_limit)          \
    X(audit_limit_clamped_to_100)     \
    X(reopen_keeps_everything)        \
    X(callback_may_reenter)           \
    X(inputs_copied)

#define STORE_CONTRACT_DECLARE(c) void store_contract_##c(void **state);
STORE_CONTRACT_CASES(STORE_CONTRACT_DECLARE)
#undef STORE_CONTRACT_DECLARE

/* ---- completions: one recorder and one callback per shape --------------- */

struct res {
    int calls;
    bool done;
    enum store_rc rc;
    struct user_rec user;
    int64_t value;
    struct session_rec *sessions; /* heap copy of what the callback saw */
    struct audit_rec *audits;
    struct oauth_rec oauth;
    struct oauth_rec *oauths; /* heap copy of a list */
    int n;
    bool rec_null; /* the callback got a NULL record pointer */
};

void on_done(void *arg, enum store_rc rc);
void on_user(void *arg, enum store_rc rc, const struct user_rec *u);
void on_int(void *arg, enum store_rc rc, int64_t value);
void on_session(void *arg, enum store_rc rc, const struct session_rec *s);
void on_sessions(void *arg, enum store_rc rc, const struct session_rec *s, int n);
void on_audits(void *arg, enum store_rc rc, const struct audit_rec *a, int n);
void on_oauth(void *arg, enum store_rc rc, const struct oauth_rec *o);
void on_oauths(void *arg, enum store_rc rc, const struct oauth_rec *o, int n);
void res_free(struct res *r);

/* Pumps the backend until r's callback has run (it may have already), then
 * checks it ran exactly once. */
void t_wait(struct store_fixture *f, struct res *r);

/* ---- synchronous wrappers: call, pump, check one completion ------------- */

enum store_rc t_user_create(struct store_fixture *f, const char *name, const char *hash,
                            struct user_rec *out);
enum store_rc t_user_by_name(struct store_fixture *f, const char *name, struct user_rec *out);
enum store_rc t_user_by_id(struct store_fixture *f, int64_t id, struct user_rec *out);
enum store_rc t_user_federated(struct store_fixture *f, const char *iss, const char *sub,
                               const char *name, struct user_rec *out);
enum store_rc t_bump(struct store_fixture *f, int64_t id, int64_t *out);
enum store_rc t_session_put(struct store_fixture *f, const struct session_rec *s);
/* out may be NULL; the record is copied to *out when found */
enum store_rc t_session_get(struct store_fixture *f, const char *sid, struct session_rec *out);
/* the caller frees r->sessions with res_free */
void t_session_list(struct store_fixture *f, int64_t user_id, struct res *r);
enum store_rc t_revoke_user(struct store_fixture *f, int64_t user_id, enum session_end reason);
enum store_rc t_audit_add(struct store_fixture *f, const struct audit_rec *a);
/* the caller frees r->audits with res_free */
void t_audit_recent(struct store_fixture *f, int64_t user_id, int limit, struct res *r);

/* ---- records ------------------------------------------------------------ */

#define CONTRACT_PWHASH "$pbkdf2-sha256$i=600000$salt$hash"

/* Creates a user with CONTRACT_PWHASH; returns its id (> 0). */
int64_t new_user(struct store_fixture *f, const char *name);
/* A fully populated session record with distinct values in every field. */
void make_session(struct session_rec *s, const char *sid, int64_t user_id, int64_t created_at);
void make_audit(struct audit_rec *a, int64_t uid, int64_t at, const char *outcome);
/* Every field but rev (which the store sets). */
void assert_session_eq(const struct session_rec *a, const struct session_rec *b);
/* n varied characters from c, then a terminator: dst holds n + 1 bytes. */
void fill(char *dst, size_t n, char c);

#endif
