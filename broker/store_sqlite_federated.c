/* store_sqlite_federated.c — the SQLite backend's users of trusted issuers
 * (user_federated, store.h): one user per (issuer, subject). Part of the
 * backend; see store_sqlite.c. */
#include <stdio.h>
#include <string.h>

#include <mbedtls/sha256.h>

#include "b64url.h"
#include "clock.h"
#include "log.h"
#include "sqlite_group_commit.h"
#include "store_sqlite_internal.h"

/* ---- federated users --------------------------------------------------- */

/* Steps a statement that yields at most one integer. */
static enum store_rc sq__fetch_id(struct sqlite_store *s, sqlite3_stmt *stmt, const char *op,
                                  int64_t *id)
{
    int src = sqlite3_step(stmt);
    if (src == SQLITE_ROW) {
        *id = sqlite3_column_int64(stmt, 0);
        return STORE_OK;
    }
    return src == SQLITE_DONE ? STORE_NOT_FOUND : sq__fail(s, op, src);
}

/* The sign-in name of a federated user: unique per identity, and not a name
 * anyone types (it never has a password anyway). */
static void sq__federated_name(const char *issuer, const char *subject, char out[48])
{
    uint8_t h[32];
    mbedtls_sha256_context c;
    mbedtls_sha256_init(&c);
    mbedtls_sha256_starts_ret(&c, 0);
    mbedtls_sha256_update_ret(&c, (const uint8_t *)issuer, strlen(issuer) + 1); /* with NUL */
    mbedtls_sha256_update_ret(&c, (const uint8_t *)subject, strlen(subject));
    mbedtls_sha256_finish_ret(&c, h);
    mbedtls_sha256_free(&c);
    memcpy(out, "ext:", 4);
    b64url_encode(h, sizeof h, out + 4, 44);
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
    enum store_rc rc = b.rc == SQLITE_OK ? sq__fetch_id(s, b.stmt, op, id) : sq__fail(s, op, b.rc);
    sq__reset(b.stmt);
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
        rc = b.rc == SQLITE_OK ? sq__fetch_id(s, b.stmt, op, id) : sq__fail(s, op, b.rc);
        sq__reset(b.stmt);
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
    if (!issuer || !subject || !display_name || !*issuer || !*subject || !*display_name ||
        strlen(issuer) > FED_ISSUER_MAX || strlen(subject) > FED_SUBJECT_MAX ||
        strlen(display_name) > USER_NAME_MAX) {
        log_error("store: user_federated: empty or too long issuer, subject or name");
        goto done;
    }
    rc = sq__federated_id(s, issuer, subject, display_name, &id);
    if (rc == STORE_OK) {
        sqlite3_stmt *stmt = s->stmt[SQ_USER_BY_ID];
        int src = sqlite3_bind_int64(stmt, 1, id);
        rc = src == SQLITE_OK ? sq__fetch_user(s, stmt, "user_federated", &u)
                              : sq__fail(s, "user_federated", src);
        sq__reset(stmt);
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
