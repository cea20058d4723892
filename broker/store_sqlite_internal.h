/* store_sqlite_internal.h — what the files of the SQLite backend share
 * (store_sqlite.c: schema, open, users, audit and the ops table;
 * store_sqlite_sessions.c; store_sqlite_federated.c; store_sqlite_oauth.c). Nothing outside the
 * backend includes it. */
#ifndef QRLOGIN_STORE_SQLITE_INTERNAL_H
#define QRLOGIN_STORE_SQLITE_INTERNAL_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct sqlite_checkpointer;
struct sqlite_group_commit;

#define SQ_LIST_MAX 100 /* session_list, audit_recent, oauth_list return at most this */

/* ---- prepared statements (their SQL: store_sqlite.c) ---- */

enum sq_stmt {
    SQ_USER_INSERT,
    SQ_USER_BY_NAME,
    SQ_USER_BY_ID,
    SQ_USER_BUMP,
    SQ_SESSION_INSERT,
    SQ_SESSION_UPDATE,
    SQ_SESSION_GET,
    SQ_SESSION_LIST,
    SQ_SESSION_REVOKE_USER,
    SQ_AUDIT_ADD,
    SQ_AUDIT_RECENT,
    SQ_IDENT_GET,
    SQ_IDENT_INSERT,
    SQ_FED_USER_INSERT,
    SQ_FED_USER_ID,
    SQ_DISPLAY_NAME_SET,
    SQ_OAUTH_INSERT,
    SQ_OAUTH_UPDATE,
    SQ_OAUTH_GET,
    SQ_OAUTH_DEL,
    SQ_OAUTH_LIST,
    SQ_OAUTH_PURGE,
    SQ__COUNT
};

struct sqlite_store {
    struct store base; /* first, so a struct store * casts back to us */
    sqlite3 *db;
    sqlite3_stmt *stmt[SQ__COUNT];
    bool broken; /* the last op hit an I/O, corruption or disk-full error */
    struct sqlite_checkpointer *ck; /* NULL: SQLite checkpoints inside commits */
    struct sqlite_group_commit *gc; /* holds write completions while grouping */
};

static inline struct sqlite_store *sq__from(struct store *st)
{
    return (struct sqlite_store *)st;
}

/* ---- helpers every op uses (store_sqlite.c) ---- */

/* Logs a backend failure and returns STORE_ERROR; marks the store broken
 * on an I/O, corruption or disk-full error. */
enum store_rc sq__fail(struct sqlite_store *s, const char *op, int src);
/* Run after every op: one that reached the database without a backend
 * error proves the store works again. */
void sq__settle(struct sqlite_store *s, enum store_rc rc);
/* Every write starts here (it joins the turn's transaction with group commit). */
enum store_rc sq__begin_write(struct sqlite_store *s, const char *op);
/* A write's callback: now, or held until its transaction commits. */
void sq__write_done(struct sqlite_store *s, store_done_cb cb, void *arg, enum store_rc rc);
void sq__reset(sqlite3_stmt *stmt);
/* Copies a text column into a fixed field: truncated, always terminated. */
void sq__col_text(sqlite3_stmt *stmt, int col, char *dst, size_t cap);

/* Binds parameters ?1, ?2, … in order and remembers the first failure, so a
 * long parameter list reads as a list instead of twenty error checks. */
struct sq_binder {
    sqlite3_stmt *stmt;
    int idx;
    int rc;
};

void sq__bind_int(struct sq_binder *b, int64_t v);
/* Binds a string that lives in a fixed field of cap bytes (refused without a
 * terminator inside it). */
void sq__bind_text(struct sq_binder *b, const char *str, size_t cap);

/* Steps a bound list statement (bind_rc: the binder's result) and reads up to
 * cap rows of elem bytes into rows with read; *n is how many. Resets the
 * statement. STORE_OK, or STORE_ERROR (logged as op) with *n 0. */
enum store_rc sq__step_rows(struct sqlite_store *s, sqlite3_stmt *stmt, const char *op,
                            int bind_rc, void *rows, size_t elem, int cap,
                            void (*read)(sqlite3_stmt *stmt, void *row), int *n);

/* Steps a bound statement (bind_rc: the binder's result) expected to yield at
 * most one row, and reads it into row with read (NULL: only whether there is
 * one). Resets the statement. STORE_OK, STORE_NOT_FOUND, or STORE_ERROR
 * (logged as op). */
enum store_rc sq__step_one(struct sqlite_store *s, sqlite3_stmt *stmt, const char *op,
                           int bind_rc, void *row, void (*read)(sqlite3_stmt *stmt, void *row));

/* A users row into a struct user_rec (for sq__step_one). */
void sq__read_user_row(sqlite3_stmt *stmt, void *row);

/* ---- the ops of the other files ---- */

void sq__session_put(struct store *st, const struct session_rec *r, store_done_cb cb, void *arg);
void sq__session_get(struct store *st, const char *sid, store_session_cb cb, void *arg);
void sq__session_list(struct store *st, int64_t user_id, store_sessions_cb cb, void *arg);
void sq__session_revoke_user(struct store *st, int64_t user_id, enum session_end reason,
                             store_done_cb cb, void *arg);
void sq__user_federated(struct store *st, const char *issuer, const char *subject,
                        const char *name, store_user_cb cb, void *arg);
void sq__oauth_put(struct store *st, const struct oauth_rec *r, store_done_cb cb, void *arg);
void sq__oauth_get(struct store *st, const char *kind, const char *key, store_oauth_cb cb,
                   void *arg);
void sq__oauth_del(struct store *st, const char *kind, const char *key, store_done_cb cb,
                   void *arg);
void sq__oauth_list(struct store *st, const char *kind, store_oauths_cb cb, void *arg);

#endif
