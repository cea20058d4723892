/* test_sqlite_group_commit.c — one transaction per loop turn, on a real WAL
 * file: completions are held until the COMMIT and then called in order;
 * nothing is visible to another connection before it; a completion that
 * writes again gets a transaction of its own; a COMMIT that fails, or a
 * transaction SQLite rolled back by itself, turns every held success into
 * STORE_ERROR; with grouping off every write completes at once. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "disk_full.h"
#include "sqlite_group_commit.h"

struct fx {
    char dir[64], path[96];
    sqlite3 *db;    /* the writer, as the store's connection */
    sqlite3 *other; /* a reader elsewhere: sees only what committed */
    struct sqlite_group_commit *g;
    int errors;     /* on_error calls */
    int last_error; /* their SQLite code */
    /* completions, in the order they were called */
    int order[16];
    enum store_rc rcs[16];
    int n;
};

static void on_error(void *ctx, int src)
{
    struct fx *f = ctx;
    f->errors++;
    f->last_error = src;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/qrl-group-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/t.db", f->dir);
    assert_int_equal(sqlite3_open(f->path, &f->db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(f->db,
                                  "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                                  "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT UNIQUE);",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_open(f->path, &f->other), SQLITE_OK);
    f->g = sqlite_group_commit_new(f->db, on_error, f);
    assert_non_null(f->g);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    sqlite_group_commit_free(f->g);
    sqlite3_close(f->other);
    sqlite3_close(f->db);
    char p[128];
    static const char *const suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", f->path, suffix[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Rows of t as another connection sees them. */
static int rows_seen_elsewhere(struct fx *f)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(f->other, "SELECT count(*) FROM t", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* A completion's arg: the fixture and the number of the write it answers. */
struct call {
    struct fx *f;
    int id;
    bool write_again; /* the completion writes row id + 100 */
};

static void write_row(struct fx *f, struct call *c, const char *v);

static void on_done(void *arg, enum store_rc rc)
{
    struct call *c = arg;
    struct fx *f = c->f;
    assert_true(f->n < 16);
    f->order[f->n] = c->id;
    f->rcs[f->n] = rc;
    f->n++;
    if (c->write_again) {
        c->write_again = false;
        c->id += 100;
        write_row(f, c, "again");
    }
}

/* One write as the store makes it: join the turn, run the statement, hand
 * in the completion (STORE_CONFLICT when v is taken). */
static void write_row(struct fx *f, struct call *c, const char *v)
{
    enum store_rc rc = STORE_ERROR;
    if (sqlite_group_commit_before_write(f->g) == SQLITE_OK) {
        char sql[96];
        snprintf(sql, sizeof sql, "INSERT INTO t(id, v) VALUES(%d, '%s')", c->id, v);
        int src = sqlite3_exec(f->db, sql, NULL, NULL, NULL);
        rc = src == SQLITE_OK                          ? STORE_OK
             : sqlite3_extended_errcode(f->db) == SQLITE_CONSTRAINT_UNIQUE ? STORE_CONFLICT
                                                                           : STORE_ERROR;
    }
    struct sqlite_held h = {.kind = SQLITE_HELD_DONE, .cb.done = on_done, .arg = c, .rc = rc};
    sqlite_group_commit_complete(f->g, &h);
}

static void test_off_completes_inline(void **state)
{
    struct fx *f = *state;
    struct call c = {f, 1, false};
    write_row(f, &c, "a");
    assert_int_equal(f->n, 1);
    assert_int_equal(f->rcs[0], STORE_OK);
    assert_true(sqlite3_get_autocommit(f->db));
    assert_int_equal(rows_seen_elsewhere(f), 1);
    assert_int_equal(sqlite_group_commit_commits(f->g), 0);
}

static void test_turn_shares_one_transaction(void **state)
{
    struct fx *f = *state;
    sqlite_group_commit_set(f->g, true);
    struct call c[3] = {{f, 1, false}, {f, 2, false}, {f, 3, false}};
    write_row(f, &c[0], "a");
    write_row(f, &c[1], "b");
    write_row(f, &c[2], "a"); /* taken: its own answer is CONFLICT */

    assert_int_equal(f->n, 0);                 /* nothing answered yet */
    assert_int_equal(rows_seen_elsewhere(f), 0); /* nor visible */

    sqlite_group_commit_end_turn(f->g);
    assert_int_equal(f->n, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(f->order[i], i + 1);
    assert_int_equal(f->rcs[0], STORE_OK);
    assert_int_equal(f->rcs[1], STORE_OK);
    assert_int_equal(f->rcs[2], STORE_CONFLICT);
    assert_int_equal(rows_seen_elsewhere(f), 2);
    assert_int_equal(sqlite_group_commit_commits(f->g), 1);
    assert_true(sqlite3_get_autocommit(f->db));
    assert_int_equal(f->errors, 0);

    sqlite_group_commit_end_turn(f->g); /* an empty turn commits nothing */
    assert_int_equal(sqlite_group_commit_commits(f->g), 1);
}

static void test_completion_that_writes_gets_its_own_commit(void **state)
{
    struct fx *f = *state;
    sqlite_group_commit_set(f->g, true);
    struct call c = {f, 1, true};
    write_row(f, &c, "a");
    sqlite_group_commit_end_turn(f->g);

    assert_int_equal(f->n, 2);
    assert_int_equal(f->order[0], 1);
    assert_int_equal(f->order[1], 101);
    assert_int_equal(f->rcs[1], STORE_OK);
    assert_int_equal(sqlite_group_commit_commits(f->g), 2);
    assert_int_equal(rows_seen_elsewhere(f), 2);
    assert_true(sqlite3_get_autocommit(f->db)); /* nothing left open */
}

/* The COMMIT cannot write the WAL (RLIMIT_FSIZE, as a full disk would
 * refuse): held successes become STORE_ERROR, a CONFLICT stays what it was,
 * the store hears of it once, and nothing of the turn is kept. */
static void test_failed_commit_fails_the_held_writes(void **state)
{
    struct fx *f = *state;
    struct call first = {f, 1, false};
    write_row(f, &first, "taken");
    /* an empty WAL, so the commit has to grow the file */
    assert_int_equal(sqlite3_exec(f->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL),
                     SQLITE_OK);
    f->n = 0;

    sqlite_group_commit_set(f->g, true);
    struct call c[2] = {{f, 2, false}, {f, 3, false}};
    write_row(f, &c[0], "b");
    write_row(f, &c[1], "taken");

    struct disk_full full;
    disk_full_begin(&full);
    sqlite_group_commit_end_turn(f->g);
    disk_full_end(&full);

    assert_int_equal(f->n, 2);
    assert_int_equal(f->rcs[0], STORE_ERROR);
    assert_int_equal(f->rcs[1], STORE_CONFLICT);
    assert_int_equal(f->errors, 1);
    assert_int_not_equal(f->last_error, SQLITE_OK);
    assert_true(sqlite3_get_autocommit(f->db));
    assert_int_equal(rows_seen_elsewhere(f), 1);

    /* the disk is back: the next turn commits */
    struct call again = {f, 4, false};
    write_row(f, &again, "d");
    sqlite_group_commit_end_turn(f->g);
    assert_int_equal(f->rcs[2], STORE_OK);
    assert_int_equal(rows_seen_elsewhere(f), 2);
}

/* SQLite ended the transaction by itself (as it does after some I/O errors;
 * here a ROLLBACK stands in for it): what was held is lost and says so, and
 * the next write starts a transaction that commits. */
static void test_rollback_behind_our_back(void **state)
{
    struct fx *f = *state;
    sqlite_group_commit_set(f->g, true);
    struct call a = {f, 1, false}, b = {f, 2, false};
    write_row(f, &a, "a");
    assert_int_equal(sqlite3_exec(f->db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    write_row(f, &b, "b");
    sqlite_group_commit_end_turn(f->g);

    assert_int_equal(f->n, 2);
    assert_int_equal(f->rcs[0], STORE_ERROR);
    assert_int_equal(f->rcs[1], STORE_OK);
    assert_int_equal(rows_seen_elsewhere(f), 1);

    /* the same when it happens after the last write of the turn */
    struct call c = {f, 3, false};
    write_row(f, &c, "c");
    assert_int_equal(sqlite3_exec(f->db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite_group_commit_end_turn(f->g);
    assert_int_equal(f->rcs[2], STORE_ERROR);
    assert_int_equal(rows_seen_elsewhere(f), 1);
}

/* Turning grouping off (the broker's shutdown) commits and answers what is
 * held; from then on writes complete inline again. */
static void test_turning_off_ends_the_turn(void **state)
{
    struct fx *f = *state;
    sqlite_group_commit_set(f->g, true);
    struct call a = {f, 1, false}, b = {f, 2, false};
    write_row(f, &a, "a");
    sqlite_group_commit_set(f->g, false);
    assert_int_equal(f->n, 1);
    assert_int_equal(f->rcs[0], STORE_OK);
    assert_int_equal(rows_seen_elsewhere(f), 1);
    write_row(f, &b, "b");
    assert_int_equal(f->n, 2);
    assert_int_equal(rows_seen_elsewhere(f), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_off_completes_inline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_turn_shares_one_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_completion_that_writes_gets_its_own_commit, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_failed_commit_fails_the_held_writes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rollback_behind_our_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_turning_off_ends_the_turn, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
