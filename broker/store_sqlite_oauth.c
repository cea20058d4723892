/* store_sqlite_oauth.c — the SQLite backend's OAuth records (clients, codes,
 * device codes: oauth_put/get/del/list, store.h). Part of the backend; see
 * store_sqlite.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "store_sqlite_internal.h"

/* ---- OAuth records ------------------------------------------------------ */

static bool sq__oauth_names_ok(const char *kind, const char *key)
{
    return kind && key && *kind && *key && strnlen(kind, OAUTH_KIND_MAX) < OAUTH_KIND_MAX &&
           strnlen(key, OAUTH_KEY_MAX) < OAUTH_KEY_MAX;
}

/* Whether a live record has the key (to tell a stale revision from a gone
 * record after an update changed nothing). */
static enum store_rc sq__oauth_exists(struct sqlite_store *s, const char *kind, const char *key)
{
    sqlite3_stmt *stmt = s->stmt[SQ_OAUTH_GET];
    struct sq_binder b = {stmt, 0, SQLITE_OK};
    sq__bind_text(&b, kind, OAUTH_KIND_MAX);
    sq__bind_text(&b, key, OAUTH_KEY_MAX);
    sq__bind_int(&b, clock_now_ms());
    return sq__step_one(s, stmt, "oauth_put", b.rc, NULL, NULL);
}

void sq__oauth_put(struct store *st, const struct oauth_rec *r, store_done_cb cb,
                          void *arg)
{
    struct sqlite_store *s = sq__from(st);
    enum store_rc rc = STORE_ERROR;
    int64_t now = clock_now_ms();

    if (!r || !sq__oauth_names_ok(r->kind, r->key)) {
        log_error("store: oauth_put: no kind or key");
        goto done;
    }
    rc = sq__begin_write(s, "oauth_put");
    if (rc)
        goto done;
    bool insert = r->rev == 0;
    if (insert) {
        sqlite3_stmt *purge = s->stmt[SQ_OAUTH_PURGE];
        int src = sqlite3_bind_int64(purge, 1, now);
        if (src == SQLITE_OK)
            src = sqlite3_step(purge);
        sq__reset(purge);
        if (src != SQLITE_DONE) {
            rc = sq__fail(s, "oauth_put", src);
            goto done;
        }
    }
    sqlite3_stmt *stmt = s->stmt[insert ? SQ_OAUTH_INSERT : SQ_OAUTH_UPDATE];
    struct sq_binder b = {stmt, 0, SQLITE_OK};
    sq__bind_text(&b, r->kind, sizeof r->kind);
    sq__bind_text(&b, r->key, sizeof r->key);
    sq__bind_text(&b, r->value, sizeof r->value);
    sq__bind_int(&b, r->expires_at);
    if (!insert)
        sq__bind_int(&b, r->rev);
    sq__bind_int(&b, now);
    int src = b.rc == SQLITE_OK ? sqlite3_step(stmt) : b.rc;
    int changed = sqlite3_changes(s->db);
    rc = src == SQLITE_DONE ? STORE_OK : sq__fail(s, "oauth_put", src);
    sq__reset(stmt);
    if (rc == STORE_OK && changed == 0) {
        if (insert)
            rc = STORE_CONFLICT;
        else if ((rc = sq__oauth_exists(s, r->kind, r->key)) == STORE_OK)
            rc = STORE_CONFLICT;
    }
done:
    sq__settle(s, rc);
    sq__write_done(s, cb, arg, rc);
}

static void sq__read_oauth(sqlite3_stmt *stmt, struct oauth_rec *r)
{
    memset(r, 0, sizeof *r);
    sq__col_text(stmt, 0, r->kind, sizeof r->kind);
    sq__col_text(stmt, 1, r->key, sizeof r->key);
    sq__col_text(stmt, 2, r->value, sizeof r->value);
    r->expires_at = sqlite3_column_int64(stmt, 3);
    r->rev = sqlite3_column_int64(stmt, 4);
}

static void sq__read_oauth_row(sqlite3_stmt *stmt, void *row) { sq__read_oauth(stmt, row); }

/* The record is ~4 KB: on the heap, not the loop's stack. */
void sq__oauth_get(struct store *st, const char *kind, const char *key,
                          store_oauth_cb cb, void *arg)
{
    struct sqlite_store *s = sq__from(st);
    sqlite3_stmt *stmt = s->stmt[SQ_OAUTH_GET];
    enum store_rc rc = STORE_NOT_FOUND;
    struct oauth_rec *r = NULL;

    if (!sq__oauth_names_ok(kind, key))
        goto done; /* oauth_put never stores such a key */
    if (!(r = malloc(sizeof *r))) {
        rc = STORE_ERROR;
        goto done;
    }
    struct sq_binder b = {stmt, 0, SQLITE_OK};
    sq__bind_text(&b, kind, OAUTH_KIND_MAX);
    sq__bind_text(&b, key, OAUTH_KEY_MAX);
    sq__bind_int(&b, clock_now_ms());
    rc = sq__step_one(s, stmt, "oauth_get", b.rc, r, sq__read_oauth_row);
done:
    sq__settle(s, rc);
    if (cb)
        cb(arg, rc, rc == STORE_OK ? r : NULL);
    free(r);
}

void sq__oauth_del(struct store *st, const char *kind, const char *key,
                          store_done_cb cb, void *arg)
{
    struct sqlite_store *s = sq__from(st);
    sqlite3_stmt *stmt = s->stmt[SQ_OAUTH_DEL];
    enum store_rc rc = STORE_NOT_FOUND;

    if (!sq__oauth_names_ok(kind, key))
        goto done;
    rc = sq__begin_write(s, "oauth_del");
    if (rc)
        goto done;
    struct sq_binder b = {stmt, 0, SQLITE_OK};
    sq__bind_text(&b, kind, OAUTH_KIND_MAX);
    sq__bind_text(&b, key, OAUTH_KEY_MAX);
    int src = b.rc == SQLITE_OK ? sqlite3_step(stmt) : b.rc;
    if (src == SQLITE_DONE)
        rc = sqlite3_changes(s->db) ? STORE_OK : STORE_NOT_FOUND;
    else
        rc = sq__fail(s, "oauth_del", src);
    sq__reset(stmt);
done:
    sq__settle(s, rc);
    sq__write_done(s, cb, arg, rc);
}

void sq__oauth_list(struct store *st, const char *kind, store_oauths_cb cb, void *arg)
{
    struct sqlite_store *s = sq__from(st);
    sqlite3_stmt *stmt = s->stmt[SQ_OAUTH_LIST];
    enum store_rc rc = STORE_OK;
    int n = 0;
    struct oauth_rec *rows = malloc(SQ_LIST_MAX * sizeof *rows);

    if (!rows) {
        rc = STORE_ERROR;
        goto done;
    }
    struct sq_binder b = {stmt, 0, SQLITE_OK};
    sq__bind_text(&b, kind ? kind : "", OAUTH_KIND_MAX);
    sq__bind_int(&b, SQ_LIST_MAX);
    rc = sq__step_rows(s, stmt, "oauth_list", b.rc, rows, sizeof *rows, SQ_LIST_MAX,
                       sq__read_oauth_row, &n);
done:
    sq__settle(s, rc);
    if (cb)
        cb(arg, rc, rc == STORE_OK ? rows : NULL, n);
    free(rows);
}
