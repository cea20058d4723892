/* store_sqlite_sessions.c — the SQLite backend's sessions: compare-and-set
 * writes, reads, the user's list and revoking them all (store.h). Part of the
 * backend; see store_sqlite.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sqlite_group_commit.h"
#include "store_sqlite_internal.h"

/* ---- sessions ----------------------------------------------------------- */

static void sq__read_session(sqlite3_stmt *stmt, struct session_rec *r)
{
    memset(r, 0, sizeof *r);
    sq__col_text(stmt, 0, r->sid, sizeof r->sid);
    r->user_id = sqlite3_column_int64(stmt, 1);
    sq__col_text(stmt, 2, r->kind, sizeof r->kind);
    r->created_at = sqlite3_column_int64(stmt, 3);
    r->last_used_at = sqlite3_column_int64(stmt, 4);
    sq__col_text(stmt, 5, r->ip, sizeof r->ip);
    sq__col_text(stmt, 6, r->user_agent, sizeof r->user_agent);
    r->ver = sqlite3_column_int64(stmt, 7);
    r->revoked = sqlite3_column_int64(stmt, 8) != 0;
    const unsigned char *why = sqlite3_column_text(stmt, 9);
    r->revoke_reason = why ? session_end_parse((const char *)why,
                                               (size_t)sqlite3_column_bytes(stmt, 9))
                           : SESSION_LIVE;
    sq__col_text(stmt, 10, r->cur_jti, sizeof r->cur_jti);
    sq__col_text(stmt, 11, r->prev_jti, sizeof r->prev_jti);
    r->rotated_at = sqlite3_column_int64(stmt, 12);
    r->refresh_exp = sqlite3_column_int64(stmt, 13);
    sq__col_text(stmt, 14, r->last_access, sizeof r->last_access);
    sq__col_text(stmt, 15, r->last_refresh, sizeof r->last_refresh);
    r->last_access_exp = sqlite3_column_int64(stmt, 16);
    r->rev = sqlite3_column_int64(stmt, 17);
    sq__col_text(stmt, 18, r->client_id, sizeof r->client_id);
}

static void sq__read_session_row(sqlite3_stmt *stmt, void *row) { sq__read_session(stmt, row); }

/* The compare-and-set of store.h. A session whose user does not exist is
 * refused by the foreign key and reported as NOT_FOUND (the user is what was
 * not found). */
void sq__session_put(struct store *st, const struct session_rec *r, store_done_cb cb,
                            void *arg)
{
    struct sqlite_store *s = sq__from(st);
    enum store_rc rc = STORE_ERROR;

    if (!r || !r->sid[0] || strnlen(r->sid, SID_MAX) == SID_MAX) {
        log_error("store: session_put: no session id");
        goto done;
    }
    rc = sq__begin_write(s, "session_put");
    if (rc)
        goto done;
    bool insert = r->rev == 0;
    sqlite3_stmt *stmt = s->stmt[insert ? SQ_SESSION_INSERT : SQ_SESSION_UPDATE];
    struct sq_binder b = {stmt, 0, SQLITE_OK};
    sq__bind_text(&b, r->sid, sizeof r->sid);
    sq__bind_int(&b, r->user_id);
    sq__bind_text(&b, r->kind, sizeof r->kind);
    sq__bind_int(&b, r->created_at);
    sq__bind_int(&b, r->last_used_at);
    sq__bind_text(&b, r->ip, sizeof r->ip);
    sq__bind_text(&b, r->user_agent, sizeof r->user_agent);
    sq__bind_int(&b, r->ver);
    sq__bind_int(&b, r->revoked ? 1 : 0);
    const char *why = session_end_name(r->revoke_reason);
    sq__bind_text(&b, why, strlen(why) + 1);
    sq__bind_text(&b, r->cur_jti, sizeof r->cur_jti);
    sq__bind_text(&b, r->prev_jti, sizeof r->prev_jti);
    sq__bind_int(&b, r->rotated_at);
    sq__bind_int(&b, r->refresh_exp);
    sq__bind_text(&b, r->last_access, sizeof r->last_access);
    sq__bind_text(&b, r->last_refresh, sizeof r->last_refresh);
    sq__bind_int(&b, r->last_access_exp);
    sq__bind_text(&b, r->client_id, sizeof r->client_id);
    if (!insert)
        sq__bind_int(&b, r->rev);
    int src = b.rc == SQLITE_OK ? sqlite3_step(stmt) : b.rc;
    int changed = sqlite3_changes(s->db);
    if (src == SQLITE_DONE)
        rc = STORE_OK;
    else if (src == SQLITE_CONSTRAINT_FOREIGNKEY)
        rc = STORE_NOT_FOUND;
    else if (src == SQLITE_CONSTRAINT_PRIMARYKEY)
        rc = STORE_CONFLICT;
    else
        rc = sq__fail(s, "session_put", src);
    sq__reset(stmt);
    if (rc == STORE_OK && !insert && changed == 0) {
        /* changed nothing: a stale revision, or a row that is gone */
        sqlite3_stmt *get = s->stmt[SQ_SESSION_GET];
        int bound = sqlite3_bind_text(get, 1, r->sid, -1, SQLITE_STATIC);
        rc = sq__step_one(s, get, "session_put", bound, NULL, NULL);
        if (rc == STORE_OK)
            rc = STORE_CONFLICT;
    }
done:
    sq__settle(s, rc);
    sq__write_done(s, cb, arg, rc);
}

/* The record is ~4.8 KB (two whole tokens ride along), so it lives on the
 * heap rather than the event loop's stack. */
void sq__session_get(struct store *st, const char *sid, store_session_cb cb, void *arg)
{
    struct sqlite_store *s = sq__from(st);
    sqlite3_stmt *stmt = s->stmt[SQ_SESSION_GET];
    enum store_rc rc = STORE_NOT_FOUND;
    struct session_rec *r = NULL;

    if (!sid || !*sid || strnlen(sid, SID_MAX) == SID_MAX)
        goto done; /* session_put never stores such an id */
    r = malloc(sizeof *r);
    if (!r) {
        log_error("store: session_get: out of memory");
        rc = STORE_ERROR;
        goto done;
    }
    rc = sq__step_one(s, stmt, "session_get", sqlite3_bind_text(stmt, 1, sid, -1, SQLITE_STATIC),
                      r, sq__read_session_row);
done:
    sq__settle(s, rc);
    if (cb)
        cb(arg, rc, rc == STORE_OK ? r : NULL);
    free(r);
}

/* Rows are copied into one heap array of SQ_LIST_MAX records (~480 KB of
 * address space, of which only the rows written get touched) so the
 * statement is reset before the callback runs. */
void sq__session_list(struct store *st, int64_t user_id, store_sessions_cb cb, void *arg)
{
    struct sqlite_store *s = sq__from(st);
    sqlite3_stmt *stmt = s->stmt[SQ_SESSION_LIST];
    enum store_rc rc = STORE_OK;
    int n = 0;
    struct session_rec *rows = malloc(SQ_LIST_MAX * sizeof *rows);

    if (!rows) {
        log_error("store: session_list: out of memory");
        rc = STORE_ERROR;
        goto done;
    }
    struct sq_binder b = {stmt, 0, SQLITE_OK};
    sq__bind_int(&b, user_id);
    sq__bind_int(&b, SQ_LIST_MAX);
    rc = sq__step_rows(s, stmt, "session_list", b.rc, rows, sizeof *rows, SQ_LIST_MAX,
                       sq__read_session_row, &n);
done:
    sq__settle(s, rc);
    if (cb)
        cb(arg, rc, rc == STORE_OK ? rows : NULL, n);
    free(rows);
}

void sq__session_revoke_user(struct store *st, int64_t user_id, enum session_end reason,
                                    store_done_cb cb, void *arg)
{
    struct sqlite_store *s = sq__from(st);
    sqlite3_stmt *stmt = s->stmt[SQ_SESSION_REVOKE_USER];
    enum store_rc rc;
    const char *why = session_end_name(reason);

    rc = sq__begin_write(s, "session_revoke_user");
    if (rc == STORE_OK) {
        struct sq_binder b = {stmt, 0, SQLITE_OK};
        sq__bind_int(&b, user_id);
        sq__bind_text(&b, why, strlen(why) + 1);
        int src = b.rc == SQLITE_OK ? sqlite3_step(stmt) : b.rc;
        rc = src == SQLITE_DONE ? STORE_OK : sq__fail(s, "session_revoke_user", src);
        sq__reset(stmt);
    }
    sq__settle(s, rc);
    sq__write_done(s, cb, arg, rc);
}
