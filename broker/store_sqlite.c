/* store_sqlite.c — the embedded store backend (see store.h).
 *
 * Every op runs to completion on the calling thread. A read calls its
 * callback exactly once before it returns; so does a write, unless group
 * commit is on (the broker's loop turns it on, sqlite_group_commit.h): then
 * the write's callback runs at the end of the loop turn, once the turn's
 * transaction has committed. Results are copied out of SQLite and the
 * statement is reset *before* the callback runs, so a callback may call
 * straight back into the store (even the same op) without tripping over a
 * statement that is still busy. After an inline callback the op touches
 * nothing, so such a callback may even close the store; a held one must not.
 *
 * This file holds the schema, the statements, opening and closing, users,
 * the audit log and the ops table; sessions, federated users and OAuth
 * records have files of their own (store_sqlite_internal.h). */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "fsutil.h"
#include "log.h"
#include "sqlite_checkpointer.h"
#include "sqlite_group_commit.h"
#include "store_sqlite_internal.h"
#include "strutil.h"

#define SQ_SCHEMA_VERSION 4
#define SQ_BUSY_MS 2000

/* ---- schema ------------------------------------------------------------- */

/* migrations[v] takes the schema from version v to v + 1. Append, never edit:
 * a database in the field has already run the old entries. */
static const char *const migrations[SQ_SCHEMA_VERSION] = {
    /* 0 -> 1 */
    "CREATE TABLE users("
    " id INTEGER PRIMARY KEY,"
    " name TEXT UNIQUE NOT NULL,"
    " pwhash TEXT NOT NULL,"
    " token_version INTEGER NOT NULL DEFAULT 1,"
    " created_at INTEGER NOT NULL);"
    "CREATE TABLE sessions("
    " sid TEXT PRIMARY KEY,"
    " user_id INTEGER NOT NULL REFERENCES users(id),"
    " kind TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " last_used_at INTEGER NOT NULL,"
    " ip TEXT NOT NULL DEFAULT '',"
    " user_agent TEXT NOT NULL DEFAULT '',"
    " ver INTEGER NOT NULL,"
    " revoked INTEGER NOT NULL DEFAULT 0,"
    " revoke_reason TEXT NOT NULL DEFAULT '',"
    " cur_jti TEXT NOT NULL DEFAULT '',"
    " prev_jti TEXT NOT NULL DEFAULT '',"
    " rotated_at INTEGER NOT NULL DEFAULT 0,"
    " refresh_exp INTEGER NOT NULL DEFAULT 0,"
    " last_access TEXT NOT NULL DEFAULT '',"
    " last_refresh TEXT NOT NULL DEFAULT '',"
    " last_access_exp INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX sessions_user ON sessions(user_id, revoked);"
    "CREATE TABLE audit("
    " id INTEGER PRIMARY KEY,"
    " at INTEGER NOT NULL,"
    " user_id INTEGER NOT NULL,"
    " sid TEXT NOT NULL DEFAULT '',"
    " ticket_prefix TEXT NOT NULL DEFAULT '',"
    " pc_ip TEXT NOT NULL DEFAULT '',"
    " pc_user_agent TEXT NOT NULL DEFAULT '',"
    " phone_sid TEXT NOT NULL DEFAULT '',"
    " outcome TEXT NOT NULL);"
    "CREATE INDEX audit_user_at ON audit(user_id, at);",
    /* 1 -> 2: a revision per session for compare-and-set writes (store.h);
     * rows written before it start at 1, which no fresh read disagrees with. */
    "ALTER TABLE sessions ADD COLUMN rev INTEGER NOT NULL DEFAULT 1;",
    /* 2 -> 3: federated users (user_federated). users.name stays the unique
     * sign-in name ("ext:" + a hash of the identity for a federated user);
     * display_name, when set, is the name the user is shown by. */
    "ALTER TABLE users ADD COLUMN display_name TEXT NOT NULL DEFAULT '';"
    "CREATE TABLE identities("
    " issuer TEXT NOT NULL,"
    " subject TEXT NOT NULL,"
    " user_id INTEGER NOT NULL UNIQUE REFERENCES users(id),"
    " created_at INTEGER NOT NULL,"
    " PRIMARY KEY(issuer, subject));",
    /* 3 -> 4: the OpenID Connect provider (docs/oidc.md): a session's client,
     * and the OAuth records (clients, codes, device codes). */
    "ALTER TABLE sessions ADD COLUMN client_id TEXT NOT NULL DEFAULT '';"
    "CREATE TABLE oauth("
    " kind TEXT NOT NULL,"
    " key TEXT NOT NULL,"
    " value TEXT NOT NULL,"
    " expires_at INTEGER NOT NULL,"
    " rev INTEGER NOT NULL,"
    " PRIMARY KEY(kind, key));"
    "CREATE INDEX oauth_expiry ON oauth(expires_at) WHERE expires_at > 0;",
};

/* ---- prepared statements ------------------------------------------------ */


#define SQ_USER_COLS                                                                       \
    "id, CASE WHEN display_name != '' THEN display_name ELSE name END, pwhash, token_version," \
    " created_at"
#define SQ_SESSION_COLS                                                                    \
    "sid, user_id, kind, created_at, last_used_at, ip, user_agent, ver, revoked,"          \
    " revoke_reason, cur_jti, prev_jti, rotated_at, refresh_exp, last_access, last_refresh," \
    " last_access_exp, rev, client_id"
#define SQ_AUDIT_COLS "at, user_id, sid, ticket_prefix, pc_ip, pc_user_agent, phone_sid, outcome"

static const char *const stmt_sql[SQ__COUNT] = {
    [SQ_USER_INSERT] = "INSERT INTO users(name, pwhash, token_version, created_at)"
                       " VALUES(?1, ?2, 1, ?3)",
    [SQ_USER_BY_NAME] = "SELECT " SQ_USER_COLS " FROM users WHERE name = ?1",
    [SQ_USER_BY_ID] = "SELECT " SQ_USER_COLS " FROM users WHERE id = ?1",
    [SQ_USER_BUMP] = "UPDATE users SET token_version = token_version + 1 WHERE id = ?1"
                     " RETURNING token_version",
    [SQ_SESSION_INSERT] =
        "INSERT INTO sessions(" SQ_SESSION_COLS ")"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, 1,"
        " ?18)",
    /* Compare-and-set on rev: a writer that read an older revision changes
     * nothing (changes() == 0). */
    [SQ_SESSION_UPDATE] =
        "UPDATE sessions SET"
        " user_id = ?2, kind = ?3, created_at = ?4, last_used_at = ?5, ip = ?6,"
        " user_agent = ?7, ver = ?8, revoked = ?9, revoke_reason = ?10, cur_jti = ?11,"
        " prev_jti = ?12, rotated_at = ?13, refresh_exp = ?14, last_access = ?15,"
        " last_refresh = ?16, last_access_exp = ?17, rev = rev + 1, client_id = ?18"
        " WHERE sid = ?1 AND rev = ?19",
    [SQ_SESSION_GET] = "SELECT " SQ_SESSION_COLS " FROM sessions WHERE sid = ?1",
    [SQ_SESSION_LIST] = "SELECT " SQ_SESSION_COLS " FROM sessions"
                        " WHERE user_id = ?1 AND revoked = 0"
                        " ORDER BY created_at DESC, rowid DESC LIMIT ?2",
    [SQ_SESSION_REVOKE_USER] = "UPDATE sessions SET revoked = 1, revoke_reason = ?2,"
                               " last_access = '', last_refresh = '', rev = rev + 1"
                               " WHERE user_id = ?1 AND revoked = 0",
    [SQ_AUDIT_ADD] = "INSERT INTO audit(" SQ_AUDIT_COLS ")"
                     " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [SQ_AUDIT_RECENT] = "SELECT " SQ_AUDIT_COLS " FROM audit WHERE user_id = ?1"
                        " ORDER BY at DESC, id DESC LIMIT ?2",
    [SQ_IDENT_GET] = "SELECT user_id FROM identities WHERE issuer = ?1 AND subject = ?2",
    [SQ_IDENT_INSERT] = "INSERT INTO identities(issuer, subject, user_id, created_at)"
                        " VALUES(?1, ?2, ?3, ?4)",
    [SQ_FED_USER_INSERT] = "INSERT INTO users(name, pwhash, display_name, token_version,"
                           " created_at) VALUES(?1, '" FED_NO_PASSWORD "', ?2, 1, ?3)",
    [SQ_FED_USER_ID] = "SELECT id FROM users WHERE name = ?1",
    [SQ_DISPLAY_NAME_SET] = "UPDATE users SET display_name = ?2 WHERE id = ?1"
                            " AND display_name != ?2",
    /* An expired record under the key is as good as none: replaced. */
    [SQ_OAUTH_INSERT] = "INSERT INTO oauth(kind, key, value, expires_at, rev)"
                        " VALUES(?1, ?2, ?3, ?4, 1)"
                        " ON CONFLICT(kind, key) DO UPDATE SET value = excluded.value,"
                        " expires_at = excluded.expires_at, rev = 1"
                        " WHERE oauth.expires_at > 0 AND oauth.expires_at <= ?5",
    [SQ_OAUTH_UPDATE] = "UPDATE oauth SET value = ?3, expires_at = ?4, rev = rev + 1"
                        " WHERE kind = ?1 AND key = ?2 AND rev = ?5"
                        " AND (expires_at = 0 OR expires_at > ?6)",
    [SQ_OAUTH_GET] = "SELECT kind, key, value, expires_at, rev FROM oauth"
                     " WHERE kind = ?1 AND key = ?2 AND (expires_at = 0 OR expires_at > ?3)",
    [SQ_OAUTH_DEL] = "DELETE FROM oauth WHERE kind = ?1 AND key = ?2",
    [SQ_OAUTH_LIST] = "SELECT kind, key, value, expires_at, rev FROM oauth"
                      " WHERE kind = ?1 AND expires_at = 0 ORDER BY key LIMIT ?2",
    /* Short-lived records nobody asks for again (an abandoned device code)
     * are swept on the next insert, a bounded batch at a time. */
    [SQ_OAUTH_PURGE] = "DELETE FROM oauth WHERE rowid IN (SELECT rowid FROM oauth"
                       " WHERE expires_at > 0 AND expires_at <= ?1 LIMIT 100)",
};


/* ---- small helpers ------------------------------------------------------ */

/* These are the errors after which the store cannot be trusted to serve until
 * something changes outside the process (disk freed, file restored), which is
 * what /healthz must report. BUSY or a constraint failure is not among them. */
static bool sq__is_fatal(int src)
{
    switch (src & 0xff) {
    case SQLITE_IOERR:
    case SQLITE_CORRUPT:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_NOTADB:
        return true;
    default:
        return false;
    }
}

/* Logs a backend failure and returns STORE_ERROR. SQLite's messages name
 * tables and columns, never bound values, so no hash or token reaches the log. */
enum store_rc sq__fail(struct sqlite_store *s, const char *op, int src)
{
    const char *msg = sqlite3_extended_errcode(s->db) == src ? sqlite3_errmsg(s->db)
                                                             : sqlite3_errstr(src);
    log_error("store: sqlite %s failed: %s (%d)", op, msg, src);
    if (sq__is_fatal(src))
        s->broken = true;
    return STORE_ERROR;
}

/* Run after every op: an op that reached the database without a backend
 * error proves the store works again. */
void sq__settle(struct sqlite_store *s, enum store_rc rc)
{
    if (rc != STORE_ERROR)
        s->broken = false;
}

/* Every write starts here: with group commit on, it joins the turn's
 * transaction (opening it). A BEGIN that fails fails the write. */
enum store_rc sq__begin_write(struct sqlite_store *s, const char *op)
{
    int src = sqlite_group_commit_before_write(s->gc);
    return src == SQLITE_OK ? STORE_OK : sq__fail(s, op, src);
}

/* A write's callback: now, or held until its transaction commits. */
void sq__write_done(struct sqlite_store *s, store_done_cb cb, void *arg, enum store_rc rc)
{
    struct sqlite_held h = {.kind = SQLITE_HELD_DONE, .cb.done = cb, .arg = arg, .rc = rc};
    sqlite_group_commit_complete(s->gc, &h);
}

/* A turn's COMMIT failed: logged, and the store's health reflects it. */
static void sq__commit_failed(void *ctx, int src) { sq__fail(ctx, "commit", src); }

void sq__reset(sqlite3_stmt *stmt)
{
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
}

/* Copies a text column into a fixed field: truncated, always terminated. */
void sq__col_text(sqlite3_stmt *stmt, int col, char *dst, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(stmt, col);
    size_t n = t ? (size_t)sqlite3_column_bytes(stmt, col) : 0;
    if (n >= cap)
        n = cap - 1;
    if (n)
        memcpy(dst, t, n);
    dst[n] = '\0';
}


void sq__bind_int(struct sq_binder *b, int64_t v)
{
    if (b->rc == SQLITE_OK)
        b->rc = sqlite3_bind_int64(b->stmt, ++b->idx, v);
}

/* Binds a string that lives in a fixed field of cap bytes. A field with no
 * terminator inside it is a caller bug; refusing it beats storing a value
 * that would come back different. The text is bound SQLITE_STATIC: it
 * outlives the step, and sq__reset clears the binding before we return. */
void sq__bind_text(struct sq_binder *b, const char *str, size_t cap)
{
    if (b->rc != SQLITE_OK)
        return;
    size_t n = strnlen(str, cap);
    if (n == cap) {
        b->rc = SQLITE_TOOBIG;
        return;
    }
    b->rc = sqlite3_bind_text(b->stmt, ++b->idx, str, (int)n, SQLITE_STATIC);
}

enum store_rc sq__step_rows(struct sqlite_store *s, sqlite3_stmt *stmt, const char *op,
                            int bind_rc, void *rows, size_t elem, int cap,
                            void (*read)(sqlite3_stmt *stmt, void *row), int *n)
{
    int src = bind_rc;
    *n = 0;
    while (src == SQLITE_OK && (src = sqlite3_step(stmt)) == SQLITE_ROW && *n < cap) {
        read(stmt, (char *)rows + (size_t)(*n)++ * elem);
        src = SQLITE_OK;
    }
    enum store_rc rc = STORE_OK;
    if (src != SQLITE_DONE && src != SQLITE_ROW) {
        rc = sq__fail(s, op, src);
        *n = 0;
    }
    sq__reset(stmt);
    return rc;
}

enum store_rc sq__step_one(struct sqlite_store *s, sqlite3_stmt *stmt, const char *op,
                           int bind_rc, void *row, void (*read)(sqlite3_stmt *stmt, void *row))
{
    int src = bind_rc == SQLITE_OK ? sqlite3_step(stmt) : bind_rc;
    enum store_rc rc;
    if (src == SQLITE_ROW) {
        if (read)
            read(stmt, row);
        rc = STORE_OK;
    } else {
        rc = src == SQLITE_DONE ? STORE_NOT_FOUND : sq__fail(s, op, src);
    }
    sq__reset(stmt);
    return rc;
}

/* ---- open, health, close ------------------------------------------------ */

/* mkdir -p of the directory that will hold the database file. 0700: the
 * file holds password hashes and live refresh state. */
static int sq__mkdir_parent(const char *path, char *err, size_t errsz)
{
    char dir[PATH_MAX];
    size_t len = strlen(path);
    if (len >= sizeof dir) {
        str_format(err, errsz, "sqlite path too long (%zu bytes, max %zu)", len, sizeof dir - 1);
        return -1;
    }
    memcpy(dir, path, len + 1);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0; /* the current directory or "/" */
    *slash = '\0';
    return fs_mkdir_p(dir, err, errsz);
}

/* SQLite would create the file with 0644 & ~umask; create it ourselves first
 * so a database full of password hashes is never readable by others, even
 * for a moment. The -wal and -shm files copy this file's mode. */
static int sq__create_private(const char *path, char *err, size_t errsz)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        str_format(err, errsz, "cannot open sqlite database '%s': %s", path, strerror(errno));
        return -1;
    }
    close(fd);
    return 0;
}

/* Runs a statement that returns one integer (a PRAGMA, mostly). */
static int sq__query_int(sqlite3 *db, const char *sql, int64_t *out)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(stmt, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(stmt);
    return rc;
}

/* WAL lets readers run beside the one writer and turns each commit into one
 * append; SQLite answers with the mode it actually got, which is not WAL on a
 * filesystem without shared memory (or for ":memory:"). That still works, just
 * slower, so it is a warning and not a failure. */
static int sq__set_wal(sqlite3 *db, const char *path, bool *wal)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &stmt, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        const char *mode = (const char *)sqlite3_column_text(stmt, 0);
        *wal = mode && !strcmp(mode, "wal");
        if (!*wal)
            log_warn("store: sqlite '%s' runs in journal mode '%s', not wal", path,
                     mode ? mode : "?");
        rc = SQLITE_OK;
    }
    sqlite3_finalize(stmt);
    return rc;
}

/* Brings the schema up to SQ_SCHEMA_VERSION. The version is read again inside
 * an IMMEDIATE transaction, so two brokers starting on one file at the same
 * moment cannot both run a migration. */
static int sq__migrate(sqlite3 *db, char *err, size_t errsz)
{
    int64_t ver = 0;
    int rc = sq__query_int(db, "PRAGMA user_version", &ver);
    if (rc != SQLITE_OK)
        goto sqlerr;
    if (ver == SQ_SCHEMA_VERSION)
        return 0;

    rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        goto sqlerr;
    rc = sq__query_int(db, "PRAGMA user_version", &ver);
    if (rc != SQLITE_OK)
        goto rollback;
    if (ver < 0 || ver > SQ_SCHEMA_VERSION) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        str_format(err, errsz, "sqlite schema version %lld is not one this broker knows (0..%d)",
                (long long)ver, SQ_SCHEMA_VERSION);
        return -1;
    }
    for (int64_t v = ver; v < SQ_SCHEMA_VERSION; v++) {
        rc = sqlite3_exec(db, migrations[v], NULL, NULL, NULL);
        if (rc != SQLITE_OK)
            goto rollback;
    }
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version=%d", SQ_SCHEMA_VERSION);
    rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        goto rollback;
    rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        goto rollback;
    if (ver != SQ_SCHEMA_VERSION)
        log_info("store: sqlite schema migrated from version %lld to %d", (long long)ver,
                 SQ_SCHEMA_VERSION);
    return 0;

rollback:
    str_format(err, errsz, "sqlite schema migration failed: %s", sqlite3_errmsg(db));
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
sqlerr:
    str_format(err, errsz, "sqlite schema check failed: %s", sqlite3_errmsg(db));
    return -1;
}

static bool sq__healthy(struct store *st)
{
    struct sqlite_store *s = sq__from(st);
    return s->db && !s->broken;
}

static void sq__free(struct sqlite_store *s)
{
    sqlite_group_commit_free(s->gc); /* answers what it still held */
    s->gc = NULL;
    sqlite_checkpointer_stop(s->ck);
    s->ck = NULL;
    for (int i = 0; i < SQ__COUNT; i++)
        sqlite3_finalize(s->stmt[i]); /* NULL is a no-op */
    if (s->db) {
        int rc = sqlite3_close(s->db);
        if (rc != SQLITE_OK)
            log_error("store: sqlite close failed: %s", sqlite3_errstr(rc));
    }
    free(s);
}

/* TRUNCATE folds the WAL back into the database file and empties it, so a
 * stopped broker leaves one self-contained file behind (easy to back up). */
static void sq__close(struct store *st)
{
    struct sqlite_store *s = sq__from(st);
    if (!s)
        return;
    sqlite_group_commit_set(s->gc, false); /* commits and answers what it held */
    sqlite_checkpointer_stop(s->ck); /* before the last checkpoint, which is ours */
    s->ck = NULL;
    if (s->db) {
        int rc = sqlite3_exec(s->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
        if (rc != SQLITE_OK)
            log_warn("store: sqlite checkpoint at close failed: %s", sqlite3_errmsg(s->db));
    }
    sq__free(s);
}

/* ---- users -------------------------------------------------------------- */

void sq__read_user(sqlite3_stmt *stmt, struct user_rec *u)
{
    memset(u, 0, sizeof *u);
    u->id = sqlite3_column_int64(stmt, 0);
    sq__col_text(stmt, 1, u->name, sizeof u->name);
    sq__col_text(stmt, 2, u->pwhash, sizeof u->pwhash);
    u->token_version = sqlite3_column_int64(stmt, 3);
    u->created_at = sqlite3_column_int64(stmt, 4);
}

void sq__read_user_row(sqlite3_stmt *stmt, void *row) { sq__read_user(stmt, row); }

/* A name or hash that does not fit the record is refused rather than cut:
 * a cut name could collide with another user's. */
static void sq__user_create(struct store *st, const char *name, const char *pwhash,
                            store_user_cb cb, void *arg)
{
    struct sqlite_store *s = sq__from(st);
    sqlite3_stmt *stmt = s->stmt[SQ_USER_INSERT];
    enum store_rc rc = STORE_ERROR;
    struct user_rec u;
    memset(&u, 0, sizeof u);

    if (!name || !pwhash || !*name || !*pwhash) {
        log_error("store: user_create: empty name or password hash");
        goto done;
    }
    size_t nlen = strlen(name), hlen = strlen(pwhash);
    if (nlen > USER_NAME_MAX || hlen >= sizeof u.pwhash) {
        log_error("store: user_create: name (%zu bytes, max %d) or password hash (%zu bytes, "
                  "max %zu) too long",
                  nlen, USER_NAME_MAX, hlen, sizeof u.pwhash - 1);
        goto done;
    }
    memcpy(u.name, name, nlen + 1);
    memcpy(u.pwhash, pwhash, hlen + 1);
    u.token_version = 1;
    u.created_at = clock_now_ms();
    rc = sq__begin_write(s, "user_create");
    if (rc)
        goto done;

    struct sq_binder b = {stmt, 0, SQLITE_OK};
    sq__bind_text(&b, u.name, sizeof u.name);
    sq__bind_text(&b, u.pwhash, sizeof u.pwhash);
    sq__bind_int(&b, u.created_at);
    int src = b.rc == SQLITE_OK ? sqlite3_step(stmt) : b.rc;
    if (src == SQLITE_DONE) {
        u.id = sqlite3_last_insert_rowid(s->db);
        rc = STORE_OK;
    } else if (src == SQLITE_CONSTRAINT_UNIQUE || src == SQLITE_CONSTRAINT_PRIMARYKEY) {
        rc = STORE_CONFLICT;
    } else {
        rc = sq__fail(s, "user_create", src);
    }
    sq__reset(stmt);
done:
    sq__settle(s, rc);
    struct sqlite_held h = {.kind = SQLITE_HELD_USER, .cb.user = cb, .arg = arg, .rc = rc,
                            .user = u};
    sqlite_group_commit_complete(s->gc, &h);
}

static void sq__user_by_name(struct store *st, const char *name, store_user_cb cb, void *arg)
{
    struct sqlite_store *s = sq__from(st);
    sqlite3_stmt *stmt = s->stmt[SQ_USER_BY_NAME];
    enum store_rc rc = STORE_NOT_FOUND;
    struct user_rec u;

    /* user_create never stores a longer name, so it cannot exist */
    if (name && *name && strnlen(name, USER_NAME_MAX + 1) <= USER_NAME_MAX) {
        int src = sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
        rc = sq__step_one(s, stmt, "user_by_name", src, &u, sq__read_user_row);
    }
    sq__settle(s, rc);
    if (cb)
        cb(arg, rc, rc == STORE_OK ? &u : NULL);
}

static void sq__user_by_id(struct store *st, int64_t id, store_user_cb cb, void *arg)
{
    struct sqlite_store *s = sq__from(st);
    sqlite3_stmt *stmt = s->stmt[SQ_USER_BY_ID];
    enum store_rc rc;
    struct user_rec u;

    rc = sq__step_one(s, stmt, "user_by_id", sqlite3_bind_int64(stmt, 1, id), &u,
                      sq__read_user_row);
    sq__settle(s, rc);
    if (cb)
        cb(arg, rc, rc == STORE_OK ? &u : NULL);
}

static void sq__user_bump_version(struct store *st, int64_t id, store_int_cb cb, void *arg)
{
    struct sqlite_store *s = sq__from(st);
    sqlite3_stmt *stmt = s->stmt[SQ_USER_BUMP];
    enum store_rc rc = STORE_NOT_FOUND;
    int64_t value = 0;

    if (sq__begin_write(s, "user_bump_version")) {
        rc = STORE_ERROR;
        goto done;
    }
    int src = sqlite3_bind_int64(stmt, 1, id);
    if (src == SQLITE_OK)
        src = sqlite3_step(stmt);
    if (src == SQLITE_ROW) {
        value = sqlite3_column_int64(stmt, 0);
        rc = STORE_OK;
        src = sqlite3_step(stmt);
    }
    if (src != SQLITE_DONE) {
        rc = sq__fail(s, "user_bump_version", src);
        value = 0;
    }
    sq__reset(stmt);
done:
    sq__settle(s, rc);
    struct sqlite_held h = {.kind = SQLITE_HELD_INT, .cb.num = cb, .arg = arg, .rc = rc,
                            .value = value};
    sqlite_group_commit_complete(s->gc, &h);
}

/* ---- audit -------------------------------------------------------------- */

/* Only the first 6 characters of a ticket are ever stored (docs/architecture.md,
 * rule 8), whatever the caller put in the field. at == 0 means "now". */
static void sq__audit_add(struct store *st, const struct audit_rec *a, store_done_cb cb,
                          void *arg)
{
    struct sqlite_store *s = sq__from(st);
    sqlite3_stmt *stmt = s->stmt[SQ_AUDIT_ADD];
    enum store_rc rc = STORE_ERROR;
    char prefix[7];

    if (!a) {
        log_error("store: audit_add: no record");
        goto done;
    }
    snprintf(prefix, sizeof prefix, "%.*s", (int)strnlen(a->ticket_prefix, 6), a->ticket_prefix);
    rc = sq__begin_write(s, "audit_add");
    if (rc)
        goto done;
    struct sq_binder b = {stmt, 0, SQLITE_OK};
    sq__bind_int(&b, a->at ? a->at : clock_now_ms());
    sq__bind_int(&b, a->user_id);
    sq__bind_text(&b, a->sid, sizeof a->sid);
    sq__bind_text(&b, prefix, sizeof prefix);
    sq__bind_text(&b, a->pc_ip, sizeof a->pc_ip);
    sq__bind_text(&b, a->pc_user_agent, sizeof a->pc_user_agent);
    sq__bind_text(&b, a->phone_sid, sizeof a->phone_sid);
    sq__bind_text(&b, a->outcome, sizeof a->outcome);
    int src = b.rc == SQLITE_OK ? sqlite3_step(stmt) : b.rc;
    rc = src == SQLITE_DONE ? STORE_OK : sq__fail(s, "audit_add", src);
    sq__reset(stmt);
done:
    sq__settle(s, rc);
    sq__write_done(s, cb, arg, rc);
}

static void sq__read_audit(sqlite3_stmt *stmt, struct audit_rec *a)
{
    memset(a, 0, sizeof *a);
    a->at = sqlite3_column_int64(stmt, 0);
    a->user_id = sqlite3_column_int64(stmt, 1);
    sq__col_text(stmt, 2, a->sid, sizeof a->sid);
    sq__col_text(stmt, 3, a->ticket_prefix, sizeof a->ticket_prefix);
    sq__col_text(stmt, 4, a->pc_ip, sizeof a->pc_ip);
    sq__col_text(stmt, 5, a->pc_user_agent, sizeof a->pc_user_agent);
    sq__col_text(stmt, 6, a->phone_sid, sizeof a->phone_sid);
    sq__col_text(stmt, 7, a->outcome, sizeof a->outcome);
}

static void sq__read_audit_row(sqlite3_stmt *stmt, void *row) { sq__read_audit(stmt, row); }

/* limit is clamped to 0..SQ_LIST_MAX; a limit of 0 (or less) is an empty,
 * successful answer. */
static void sq__audit_recent(struct store *st, int64_t user_id, int limit, store_audits_cb cb,
                             void *arg)
{
    struct sqlite_store *s = sq__from(st);
    sqlite3_stmt *stmt = s->stmt[SQ_AUDIT_RECENT];
    enum store_rc rc = STORE_OK;
    int n = 0;
    int cap = limit < 0 ? 0 : limit > SQ_LIST_MAX ? SQ_LIST_MAX : limit;
    struct audit_rec *rows = malloc((size_t)(cap ? cap : 1) * sizeof *rows);

    if (!rows) {
        log_error("store: audit_recent: out of memory");
        rc = STORE_ERROR;
        goto done;
    }
    if (!cap)
        goto done;
    struct sq_binder b = {stmt, 0, SQLITE_OK};
    sq__bind_int(&b, user_id);
    sq__bind_int(&b, cap);
    rc = sq__step_rows(s, stmt, "audit_recent", b.rc, rows, sizeof *rows, cap, sq__read_audit_row,
                       &n);
done:
    sq__settle(s, rc);
    if (cb)
        cb(arg, rc, rc == STORE_OK ? rows : NULL, n);
    free(rows);
}

/* ---- open --------------------------------------------------------------- */

static void sq__group_commit(struct store *st, bool on)
{
    sqlite_group_commit_set(sq__from(st)->gc, on);
}

static void sq__turn_end(struct store *st) { sqlite_group_commit_end_turn(sq__from(st)->gc); }

static const struct store_ops sqlite_ops = {
    .close = sq__close,
    .healthy = sq__healthy,
    .user_create = sq__user_create,
    .user_by_name = sq__user_by_name,
    .user_by_id = sq__user_by_id,
    .user_bump_version = sq__user_bump_version,
    .user_federated = sq__user_federated,
    .session_put = sq__session_put,
    .session_get = sq__session_get,
    .session_list = sq__session_list,
    .session_revoke_user = sq__session_revoke_user,
    .audit_add = sq__audit_add,
    .audit_recent = sq__audit_recent,
    .oauth_put = sq__oauth_put,
    .oauth_get = sq__oauth_get,
    .oauth_del = sq__oauth_del,
    .oauth_list = sq__oauth_list,
    .group_commit = sq__group_commit,
    .turn_end = sq__turn_end,
};

/* Every statement is compiled once here, PERSISTENT because it lives as long
 * as the store: a typo in SQL fails at startup, not on the first login. */
static int sq__prepare_all(struct sqlite_store *s, char *err, size_t errsz)
{
    for (int i = 0; i < SQ__COUNT; i++) {
        int rc = sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                                    &s->stmt[i], NULL);
        if (rc != SQLITE_OK) {
            str_format(err, errsz, "sqlite cannot prepare statement %d: %s", i,
                    sqlite3_errmsg(s->db));
            return -1;
        }
    }
    return 0;
}

uint64_t store_sqlite_checkpoints(struct store *st)
{
    if (!st || st->ops != &sqlite_ops)
        return 0;
    return sqlite_checkpointer_done(sq__from(st)->ck);
}

struct store *store_sqlite_open(const char *path, char *err, size_t errsz)
{
    struct sqlite_store *s = NULL;
    bool memory, wal = false;
    int rc;

    if (err && errsz)
        err[0] = '\0';
    if (!path || !*path) {
        str_format(err, errsz, "sqlite store needs a path");
        return NULL;
    }
    memory = !strcmp(path, ":memory:");
    if (!memory && (sq__mkdir_parent(path, err, errsz) || sq__create_private(path, err, errsz)))
        return NULL;

    s = calloc(1, sizeof *s);
    if (!s) {
        str_format(err, errsz, "out of memory");
        return NULL;
    }
    s->base.ops = &sqlite_ops;

    rc = sqlite3_open_v2(path, &s->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        str_format(err, errsz, "cannot open sqlite database '%s': %s", path,
                s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        goto error;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, SQ_BUSY_MS); /* same as PRAGMA busy_timeout */

    /* The first statement to read the file is what notices a file that is not
     * a database, so its error message names the path. */
    rc = sq__set_wal(s->db, path, &wal);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(s->db, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;", NULL,
                          NULL, NULL);
    if (rc != SQLITE_OK) {
        str_format(err, errsz, "cannot use sqlite database '%s': %s", path, sqlite3_errmsg(s->db));
        goto error;
    }
    if (sq__migrate(s->db, err, errsz) || sq__prepare_all(s, err, errsz))
        goto error;
    s->gc = sqlite_group_commit_new(s->db, sq__commit_failed, s);
    if (!s->gc) {
        str_format(err, errsz, "cannot prepare sqlite transactions: %s", sqlite3_errmsg(s->db));
        goto error;
    }
    if (wal) {
        char why[256];
        s->ck = sqlite_checkpointer_start(s->db, path, SQLITE_CHECKPOINT_PAGES,
                                          SQLITE_CHECKPOINT_CAP, why, sizeof why);
        if (!s->ck) /* still correct, only the loop pays for checkpoints */
            log_warn("store: %s; checkpoints stay in the commits", why);
    }
    return &s->base;

error:
    sq__free(s);
    return NULL;
}
