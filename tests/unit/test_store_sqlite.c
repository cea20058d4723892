/* test_store_sqlite.c — the store contract (store_contract.c) on the SQLite
 * backend, twice: as the useradd command uses it (every call answers before
 * it returns) and as the broker's loop does (group commit: writes answer at
 * the turn's end). Then what only SQLite has: the file and its directory, the
 * WAL and its checkpoint thread, schema versions, another process holding
 * the lock, a full disk, and group commit itself.
 *
 * Every case runs on a real file in a fresh temporary directory. */
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "clock.h"
#include "disk_full.h"
#include "sqlite_checkpointer.h"
#include "store.h"
#include "store_contract.h"

#define T0 CONTRACT_T0

/* ---- the backend -------------------------------------------------------- */

struct sqlite_fixture {
    struct store_fixture base; /* first: the contract sees only this */
    char dir[64];              /* mkdtemp root, removed at close */
    char path[128];            /* <dir>/data/sub/qrlogin.db: the parents do not exist yet */
    bool grouped;              /* group commit on, as in the broker's loop */
};

static struct sqlite_fixture *sqlite_of(struct store_fixture *f)
{
    return (struct sqlite_fixture *)f;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static struct store *open_ok(const char *path)
{
    char err[256] = "";
    struct store *st = store_sqlite_open(path, err, sizeof err);
    if (!st)
        fail_msg("store_sqlite_open(%s): %s", path, err);
    assert_non_null(st->ops);
    return st;
}

static void sqlite_start(struct sqlite_fixture *sq)
{
    sq->base.st = open_ok(sq->path);
    if (sq->grouped)
        store_group_commit(sq->base.st, true);
}

static struct store_fixture *sqlite_open(const struct store_backend *be, bool grouped)
{
    struct sqlite_fixture *sq = calloc(1, sizeof *sq);
    assert_non_null(sq);
    sq->base.be = be;
    sq->grouped = grouped;
    snprintf(sq->dir, sizeof sq->dir, "/tmp/qrl-store-XXXXXX");
    assert_non_null(mkdtemp(sq->dir));
    snprintf(sq->path, sizeof sq->path, "%s/data/sub/qrlogin.db", sq->dir);
    sqlite_start(sq);
    return &sq->base;
}

static struct store_fixture *sqlite_open_plain(const struct store_backend *be)
{
    return sqlite_open(be, false);
}

static struct store_fixture *sqlite_open_grouped(const struct store_backend *be)
{
    return sqlite_open(be, true);
}

static void sqlite_reopen(struct store_fixture *f)
{
    f->st->ops->close(f->st);
    sqlite_start(sqlite_of(f));
}

/* Without group commit every call has answered before it returned: nothing
 * to run, and a missing answer is a failure right here. With it, reads still
 * answer at once and writes at the end of the loop's turn. */
static void sqlite_pump(struct store_fixture *f, bool *done)
{
    if (!*done && sqlite_of(f)->grouped)
        store_turn_end(f->st);
    assert_true(*done);
}

static void sqlite_close(struct store_fixture *f)
{
    struct sqlite_fixture *sq = sqlite_of(f);
    if (f->st)
        f->st->ops->close(f->st);
    nftw(sq->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(sq);
}

static const struct store_backend SQLITE = {
    .open = sqlite_open_plain,
    .reopen = sqlite_reopen,
    .pump = sqlite_pump,
    .close = sqlite_close,
};

static const struct store_backend SQLITE_GROUPED = {
    .open = sqlite_open_grouped,
    .reopen = sqlite_reopen,
    .pump = sqlite_pump,
    .close = sqlite_close,
};

/* ---- the WAL ------------------------------------------------------------ */

/* Commits never checkpoint on the caller's thread (the broker's event loop):
 * once the WAL passes SQLITE_CHECKPOINT_PAGES, the store's own thread copies
 * it back into the database file. */
static void test_checkpoints_run_on_their_own_thread(void **state)
{
    struct store_fixture *f = *state;
    struct sqlite_fixture *sq = sqlite_of(f);
    int64_t uid = new_user(f, "wal");
    char wal[160];
    struct stat db0, sb;
    struct session_rec s;
    char sid[SID_MAX];

    snprintf(wal, sizeof wal, "%s-wal", sq->path);
    assert_int_equal(stat(sq->path, &db0), 0);
    assert_int_equal(store_sqlite_checkpoints(f->st), 0);
    /* ~3 pages a session: write until the WAL holds more than the threshold */
    for (int i = 0; i < 100000; i++) {
        snprintf(sid, sizeof sid, "wal-%06d", i);
        make_session(&s, sid, uid, T0 + i);
        assert_int_equal(t_session_put(f, &s), STORE_OK);
        if (i % 50 == 0 && stat(wal, &sb) == 0 &&
            sb.st_size > (off_t)SQLITE_CHECKPOINT_PAGES * 4096 + 4096)
            break;
    }
    /* Wait for the thread (a deadline for an event, not a speed limit). */
    for (int i = 0; i < 3000 && store_sqlite_checkpoints(f->st) == 0; i++)
        usleep(10000);
    assert_true(store_sqlite_checkpoints(f->st) >= 1);
    assert_int_equal(stat(sq->path, &sb), 0);
    assert_true(sb.st_size > db0.st_size); /* the pages reached the database file */
    /* and the store still works after it */
    make_session(&s, "wal-after", uid, T0);
    assert_int_equal(t_session_put(f, &s), STORE_OK);
}

/* close checkpoints: a restart finds everything in the database file and
 * an empty WAL. */
static void test_close_empties_the_wal(void **state)
{
    struct store_fixture *f = *state;
    struct sqlite_fixture *sq = sqlite_of(f);
    char wal[160];
    struct stat sb;
    struct session_rec s;

    int64_t uid = new_user(f, "olga");
    make_session(&s, "survivor-sid-000000000", uid, T0);
    assert_int_equal(t_session_put(f, &s), STORE_OK);
    snprintf(wal, sizeof wal, "%s-wal", sq->path);
    assert_int_equal(stat(wal, &sb), 0);
    assert_true(sb.st_size > 0); /* the writes are in the WAL, not yet in the file */

    f->st->ops->close(f->st);
    f->st = NULL;
    if (stat(wal, &sb) == 0)
        assert_int_equal(sb.st_size, 0);
    f->st = open_ok(sq->path);
    assert_int_equal(t_user_by_name(f, "olga", NULL), STORE_OK);
    assert_int_equal(t_session_get(f, s.sid, NULL), STORE_OK);
}

/* ---- opening ------------------------------------------------------------ */

static void test_open_creates_private_dirs_and_wal(void **state)
{
    struct store_fixture *f = *state;
    struct sqlite_fixture *sq = sqlite_of(f);
    struct stat sb;
    char dir[128];

    /* setup opened <dir>/data/sub/qrlogin.db with neither parent existing */
    snprintf(dir, sizeof dir, "%s/data/sub", sq->dir);
    assert_int_equal(stat(dir, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    assert_int_equal(sb.st_mode & 0777, 0700);
    assert_int_equal(stat(sq->path, &sb), 0);
    assert_int_equal(sb.st_mode & 0077, 0);

    new_user(f, "sam"); /* something in the WAL */

    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(sq->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(stmt, 0), "wal");
    sqlite3_finalize(stmt);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(stmt, 0), 4);
    sqlite3_finalize(stmt);
    /* another connection sees the committed user */
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT token_version FROM users WHERE name='sam'",
                                        -1, &stmt, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(stmt, 0), 1);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
}

static void test_open_parent_is_a_file(void **state)
{
    struct store_fixture *f = *state;
    struct sqlite_fixture *sq = sqlite_of(f);
    char file[128], path[192], err[256] = "";

    snprintf(file, sizeof file, "%s/plainfile", sq->dir);
    FILE *fp = fopen(file, "w");
    assert_non_null(fp);
    fputs("not a directory\n", fp);
    fclose(fp);

    snprintf(path, sizeof path, "%s/qrlogin.db", file);
    assert_null(store_sqlite_open(path, err, sizeof err));
    assert_non_null(strstr(err, file));
    assert_non_null(strstr(err, "not"));

    snprintf(path, sizeof path, "%s/deeper/qrlogin.db", file);
    err[0] = '\0';
    assert_null(store_sqlite_open(path, err, sizeof err));
    assert_non_null(strstr(err, file));

    /* the same through store_open */
    char url[224];
    snprintf(url, sizeof url, "sqlite:%s/qrlogin.db", file);
    err[0] = '\0';
    assert_null(store_open(url, err, sizeof err));
    assert_non_null(strstr(err, file));
}

static void test_open_not_a_database(void **state)
{
    struct store_fixture *f = *state;
    struct sqlite_fixture *sq = sqlite_of(f);
    char path[128], err[256] = "";

    snprintf(path, sizeof path, "%s/garbage.db", sq->dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    for (int i = 0; i < 512; i++)
        fputs("this is certainly not an sqlite file\n", fp);
    fclose(fp);
    assert_null(store_sqlite_open(path, err, sizeof err));
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "not a database"));
}

static void test_open_refuses_newer_schema(void **state)
{
    struct store_fixture *f = *state;
    struct sqlite_fixture *sq = sqlite_of(f);
    char err[256] = "";

    f->st->ops->close(f->st);
    f->st = NULL;
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(sq->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version=7", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    assert_null(store_sqlite_open(sq->path, err, sizeof err));
    assert_non_null(strstr(err, "version 7"));
}

static void test_store_open_urls(void **state)
{
    struct store_fixture *f = *state;
    struct sqlite_fixture *sq = sqlite_of(f);
    char err[256];

    /* (redis:// URLs: test_store_redis.c) an unknown scheme, or none */
    strcpy(err, "");
    assert_null(store_open("foo:bar", err, sizeof err));
    assert_non_null(strstr(err, "foo"));
    assert_non_null(strstr(err, "sqlite:"));
    strcpy(err, "");
    assert_null(store_open("sqlite:", err, sizeof err));
    assert_true(strlen(err) > 0);
    strcpy(err, "");
    assert_null(store_open("", err, sizeof err));
    assert_true(strlen(err) > 0);
    strcpy(err, "");
    assert_null(store_open("/just/a/path.db", err, sizeof err));
    assert_true(strlen(err) > 0);
    assert_null(store_open("foo:bar", NULL, 0)); /* no err buffer: no crash */

    /* sqlite:<path> opens the same database the fixture uses */
    new_user(f, "tina");
    f->st->ops->close(f->st);
    char url[160];
    snprintf(url, sizeof url, "sqlite:%s", sq->path);
    err[0] = '\0';
    f->st = store_open(url, err, sizeof err);
    assert_non_null(f->st);
    assert_string_equal(err, "");
    assert_int_equal(t_user_by_name(f, "tina", NULL), STORE_OK);

    /* and ":memory:" works for tests of other modules; the embedded store
     * needs no loop */
    struct store_fixture mem = {f->be, store_open("sqlite::memory:", err, sizeof err)};
    assert_non_null(mem.st);
    assert_false(store_needs_loop(mem.st));
    assert_null(mem.st->ops->start);
    assert_true(new_user(&mem, "uma") > 0);
    assert_int_equal(t_user_by_name(&mem, "uma", NULL), STORE_OK);
    mem.st->ops->close(mem.st);
    assert_false(store_needs_loop(NULL));
}

/* Values written by something other than this store (an older broker, a
 * hand edit) may be longer than the record's fields: they come back cut to
 * fit and terminated, never overflowing. */
static void test_oversized_columns_truncated(void **state)
{
    struct store_fixture *f = *state;
    struct sqlite_fixture *sq = sqlite_of(f);
    int64_t uid = new_user(f, "yuri");
    struct session_rec s, got;
    make_session(&s, "long-cols", uid, T0);
    assert_int_equal(t_session_put(f, &s), STORE_OK);

    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(sq->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "UPDATE sessions SET kind = 'webwebwebweb',"
                                  " ip = printf('%.200c', 'i'),"
                                  " last_access = printf('%.5000c', 'a')"
                                  " WHERE sid = 'long-cols';"
                                  "UPDATE users SET name = printf('%.300c', 'n') WHERE name = 'yuri'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);

    assert_int_equal(t_session_get(f, "long-cols", &got), STORE_OK);
    assert_string_equal(got.kind, "webwebw");
    assert_int_equal(strlen(got.ip), IP_MAX - 1);
    assert_int_equal(strlen(got.last_access), JWT_MAX_TOKEN - 1);
    assert_int_equal(got.last_access[0], 'a');
    assert_string_equal(got.user_agent, s.user_agent); /* neighbours intact */
    struct user_rec u;
    assert_int_equal(t_user_by_id(f, uid, &u), STORE_OK);
    assert_int_equal(strlen(u.name), USER_NAME_MAX);
    assert_string_equal(u.pwhash, "$pbkdf2-sha256$i=600000$salt$hash");
}

/* ---- failures ----------------------------------------------------------- */

/* Another connection holds the write lock longer than busy_timeout: the op
 * fails with STORE_ERROR after ~2 s, reads still work (WAL), and a lock is not
 * a sign of a broken store. */
static void test_busy_is_error_but_healthy(void **state)
{
    struct store_fixture *f = *state;
    struct sqlite_fixture *sq = sqlite_of(f);
    int64_t uid = new_user(f, "vera");

    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(sq->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);

    int64_t v = 0;
    assert_int_equal(t_bump(f, uid, &v), STORE_ERROR);
    assert_int_equal(t_user_create(f, "walt", "$h", NULL), STORE_ERROR);
    assert_int_equal(t_user_by_id(f, uid, NULL), STORE_OK);
    assert_true(f->st->ops->healthy(f->st));

    assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(t_bump(f, uid, &v), STORE_OK);
    assert_int_equal(v, 2); /* the failed bump did not count */
    assert_int_equal(t_user_by_name(f, "walt", NULL), STORE_NOT_FOUND);
}

/* A write that the OS refuses (here: RLIMIT_FSIZE, as a full disk would) is
 * an I/O error: the op fails and healthy() says so until an op succeeds. */
static void test_write_failure_marks_unhealthy(void **state)
{
    struct store_fixture *f = *state;
    int64_t uid = new_user(f, "xena");
    struct session_rec s;
    make_session(&s, "fsize-sid", uid, T0);

    /* make sure the next write has to grow a file: start from an empty WAL */
    f->be->reopen(f);
    assert_true(f->st->ops->healthy(f->st));

    struct disk_full full;
    disk_full_begin(&full);

    enum store_rc rc = t_session_put(f, &s);
    bool healthy = f->st->ops->healthy(f->st);

    disk_full_end(&full);

    assert_int_equal(rc, STORE_ERROR);
    assert_false(healthy);
    /* the disk is back: the next op works and the store is healthy again */
    assert_int_equal(t_session_put(f, &s), STORE_OK);
    assert_true(f->st->ops->healthy(f->st));
    assert_int_equal(t_session_get(f, "fsize-sid", NULL), STORE_OK);
}

/* ---- group commit (the broker's loop turns it on) ----------------------- */

static int sessions_seen_elsewhere(const char *path)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM sessions", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* Writes answer at the turn's end, after their commit; until then another
 * connection sees nothing, while reads on the store's own connection see
 * the turn's writes at once. Every write op is held, not only session_put. */
static void test_group_commit_answers_after_commit(void **state)
{
    struct store_fixture *f = *state;
    struct sqlite_fixture *sq = sqlite_of(f);
    int64_t uid = new_user(f, "gina");
    struct session_rec s;
    make_session(&s, "group-sid", uid, T0);
    struct audit_rec a = {.at = T0, .user_id = uid, .outcome = "confirmed"};
    struct res put = {0}, audit = {0}, bump = {0}, made = {0}, revoked = {0}, got = {0};

    store_group_commit(f->st, true);
    f->st->ops->session_put(f->st, &s, on_done, &put);
    f->st->ops->audit_add(f->st, &a, on_done, &audit);
    f->st->ops->user_bump_version(f->st, uid, on_int, &bump);
    f->st->ops->user_create(f->st, "hugo", "$h", on_user, &made);
    f->st->ops->session_revoke_user(f->st, 424242, SESSION_END_LOGOUT_ALL, on_done, &revoked);
    assert_int_equal(put.calls + audit.calls + bump.calls + made.calls + revoked.calls, 0);
    assert_int_equal(sessions_seen_elsewhere(sq->path), 0);

    f->st->ops->session_get(f->st, "group-sid", on_session, &got);
    assert_int_equal(got.calls, 1); /* a read answers at once */
    assert_int_equal(got.rc, STORE_OK);

    store_turn_end(f->st);
    assert_int_equal(put.calls, 1);
    assert_int_equal(put.rc, STORE_OK);
    assert_int_equal(audit.calls, 1);
    assert_int_equal(bump.calls, 1);
    assert_int_equal(bump.value, 2);
    assert_int_equal(made.calls, 1);
    assert_int_equal(made.rc, STORE_OK);
    assert_string_equal(made.user.name, "hugo");
    assert_int_equal(revoked.calls, 1);
    assert_int_equal(sessions_seen_elsewhere(sq->path), 1);
    store_group_commit(f->st, false);
    res_free(&got);
}

/* The turn's COMMIT cannot write (RLIMIT_FSIZE, as a full disk would
 * refuse): the held write answers STORE_ERROR, not OK, the store reports
 * itself unhealthy, and nothing of the turn was kept. */
static void test_group_commit_failure_is_an_error(void **state)
{
    struct store_fixture *f = *state;
    int64_t uid = new_user(f, "ivan");
    struct session_rec s;
    make_session(&s, "lost-sid", uid, T0);
    f->be->reopen(f); /* an empty WAL: the commit has to grow it */
    struct res put = {0};

    store_group_commit(f->st, true);
    f->st->ops->session_put(f->st, &s, on_done, &put);

    struct disk_full full;
    disk_full_begin(&full);
    store_turn_end(f->st);
    bool healthy = f->st->ops->healthy(f->st);
    disk_full_end(&full);

    assert_int_equal(put.calls, 1);
    assert_int_equal(put.rc, STORE_ERROR);
    assert_false(healthy);
    store_group_commit(f->st, false);
    assert_int_equal(t_session_get(f, "lost-sid", NULL), STORE_NOT_FOUND);
    assert_true(f->st->ops->healthy(f->st));
}

int main(void)
{
#define SQLITE_CONTRACT(c) STORE_CONTRACT_CASE("sqlite", &SQLITE, c)
#define SQLITE_GROUPED_CONTRACT(c) STORE_CONTRACT_CASE("sqlite-group-commit", &SQLITE_GROUPED, c)
#define T(fn) STORE_CASE("sqlite", &SQLITE, fn, test_##fn)
    const struct CMUnitTest tests[] = {
        STORE_CONTRACT_CASES(SQLITE_CONTRACT)
        STORE_CONTRACT_CASES(SQLITE_GROUPED_CONTRACT)
        T(checkpoints_run_on_their_own_thread)
        T(close_empties_the_wal)
        T(open_creates_private_dirs_and_wal)
        T(open_parent_is_a_file)
        T(open_not_a_database)
        T(open_refuses_newer_schema)
        T(store_open_urls)
        T(oversized_columns_truncated)
        T(busy_is_error_but_healthy)
        T(write_failure_marks_unhealthy)
        T(group_commit_answers_after_commit)
        T(group_commit_failure_is_an_error)
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
