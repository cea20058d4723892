/* store_sqlite_federated.c — the SQLite backend's users of trusted issuers
 * (user_federated, store.h): one user per (issuer, subject). Part of the
 * backend; see store_sqlite.c. */
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "sqlite_group_commit.h"
#include "store_sqlite_internal.h"

/* ---- federated users --------------------------------------------------- */

/* A statement's one integer column (for sq__step_one). */
static void sq__read_id_row(sqlite3_stmt *stmt, void *row)
{
    *(int64_t *)row = sqlite3_column_int64(stmt, 0);
}

/* The sign-in name of a federated user: unique per identity, and not a name
 * anyone types (it never has a password anyway). */
static void sq__federated_name(const char *issuer, const char *subject, char out[48])
{
    memcpy(out, "ext:", 4);
    store_identity_hash(issuer, subject, out + 4);
}

/* Finds or creates the user, then sets its display name: all inside the
 * turn's transaction, so a crash leaves either the whole new user or none.
 * A user row left by an identity insert that failed is adopted by name. */
static enum store_rc sq__federated_id(struct sqlite_store *s, const char *issuer,
                                      const char *subject, const char *display, int64_t *id)
{
    const char *op = "user_federated";
    struct sq_binder b = {s->stmt[SQ_IDENT_GET], 0, SQLITE_OK};
    sq__bind_text(&b, issuer, FED_ISSUER_MAX + 1);
    sq__bind_text(&b, subject, FED_SUBJECT_MAX + 1);
    enum store_rc rc = sq__step_one(s, b.stmt, op, b.rc, id, sq__read_id_row);
    if (rc == STORE_OK) {
        if (sq__begin_write(s, op))
            return STORE_ERROR;
        b = (struct sq_binder){s->stmt[SQ_DISPLAY_NAME_SET], 0, SQLITE_OK};
        sq__bind_int(&b, *id);
        sq__bind_text(&b, display, USER_NAME_MAX + 1);
        int src = b.rc == SQLITE_OK ? sqlite3_step(b.stmt) : b.rc;
        sq__reset(b.stmt);
        return src == SQLITE_DONE ? STORE_OK : sq__fail(s, op, src);
    }
    if (rc != STORE_NOT_FOUND || sq__begin_write(s, op))
        return STORE_ERROR;
    char name[48];
    sq__federated_name(issuer, subject, name);
    b = (struct sq_binder){s->stmt[SQ_FED_USER_INSERT], 0, SQLITE_OK};
    sq__bind_text(&b, name, sizeof name);
    sq__bind_text(&b, display, USER_NAME_MAX + 1);
    sq__bind_int(&b, clock_now_ms());
    int src = b.rc == SQLITE_OK ? sqlite3_step(b.stmt) : b.rc;
    sq__reset(b.stmt);
    if (src == SQLITE_DONE) {
        *id = sqlite3_last_insert_rowid(s->db);
    } else if (src == SQLITE_CONSTRAINT_UNIQUE) {
        b = (struct sq_binder){s->stmt[SQ_FED_USER_ID], 0, SQLITE_OK};
        sq__bind_text(&b, name, sizeof name);
        rc = sq__step_one(s, b.stmt, op, b.rc, id, sq__read_id_row);
        if (rc)
            return STORE_ERROR;
    } else {
        return sq__fail(s, op, src);
    }
    b = (struct sq_binder){s->stmt[SQ_IDENT_INSERT], 0, SQLITE_OK};
    sq__bind_text(&b, issuer, FED_ISSUER_MAX + 1);
    sq__bind_text(&b, subject, FED_SUBJECT_MAX + 1);
    sq__bind_int(&b, *id);
    sq__bind_int(&b, clock_now_ms());
    src = b.rc == SQLITE_OK ? sqlite3_step(b.stmt) : b.rc;
    sq__reset(b.stmt);
    return src == SQLITE_DONE ? STORE_OK : sq__fail(s, op, src);
}

void sq__user_federated(struct store *st, const char *issuer, const char *subject,
                               const char *display_name, store_user_cb cb, void *arg)
{
    struct sqlite_store *s = sq__from(st);
    enum store_rc rc = STORE_ERROR;
    struct user_rec u;
    int64_t id = 0;
    memset(&u, 0, sizeof u);
    if (!store_federated_args_ok(issuer, subject, display_name))
        goto done;
    rc = sq__federated_id(s, issuer, subject, display_name, &id);
    if (rc == STORE_OK) {
        sqlite3_stmt *stmt = s->stmt[SQ_USER_BY_ID];
        rc = sq__step_one(s, stmt, "user_federated", sqlite3_bind_int64(stmt, 1, id), &u,
                          sq__read_user_row);
        if (rc == STORE_NOT_FOUND)
            rc = STORE_ERROR;
    }
done:
    sq__settle(s, rc);
    struct sqlite_held h = {.kind = SQLITE_HELD_USER, .cb.user = cb, .arg = arg, .rc = rc,
                            .user = u};
    sqlite_group_commit_complete(s->gc, &h);
}

/* One UPDATE … RETURNING, so the increment and the value read back are one
 * atomic step. It is stepped to SQLITE_DONE because that is where the commit
 * happens and where a commit failure would show. */
