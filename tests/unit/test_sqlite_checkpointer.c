/* test_sqlite_checkpointer.c — the WAL checkpoint thread on a real file, with
 * small page counts: the WAL starts over even when the writer never pauses
 * (without the cap, PASSIVE checkpoints never let it), and stopping unhooks
 * it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "sqlite_checkpointer.h"

#define PAGES 50
#define CAP 200
#define ROWS 6000 /* ~3 WAL frames each: 90x the cap */

struct fx {
    char dir[64], path[96], wal[104];
    sqlite3 *db;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/qrl-ckpt-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/t.db", f->dir);
    snprintf(f->wal, sizeof f->wal, "%s-wal", f->path);
    assert_int_equal(sqlite3_open(f->path, &f->db), SQLITE_OK);
    sqlite3_busy_timeout(f->db, 5000);
    assert_int_equal(sqlite3_exec(f->db,
                                  "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                                  "CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB);",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    sqlite3_close(f->db);
    unlink(f->wal);
    char shm[112];
    snprintf(shm, sizeof shm, "%s-shm", f->path);
    unlink(shm);
    unlink(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* One commit of one ~3 KB row: about one WAL page. */
static void write_rows(sqlite3 *db, int n)
{
    static char blob[3000];
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO t(v) VALUES(?)", -1, &st, NULL),
                     SQLITE_OK);
    for (int i = 0; i < n; i++) {
        memset(blob, 'a' + i % 26, sizeof blob);
        assert_int_equal(sqlite3_bind_blob(st, 1, blob, sizeof blob, SQLITE_STATIC), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_DONE);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
}

/* The writer never pauses for as long as a checkpoint takes: every checkpoint
 * overlaps commits, so a PASSIVE one never catches up and the WAL could never
 * start over; past the cap the checkpointer restarts the WAL, parking the
 * writer after a commit for as long as that takes. The test waits for the
 * event itself — the WAL starting over, seen by the commit that starts it —
 * and the row bound only turns "never" into a failure instead of a hang
 * (a WAL that started over twice in ROWS rows has done so within ~2 caps'
 * worth of pages, however the threads were scheduled). */
static void wal_starts_over_under_nonstop_writes(void **state)
{
    struct fx *f = *state;
    char err[256] = "";
    struct sqlite_checkpointer *c = sqlite_checkpointer_start(f->db, f->path, PAGES, CAP, err,
                                                              sizeof err);
    if (!c)
        fail_msg("start: %s", err);
    int rows = 0;
    while (sqlite_checkpointer_wal_starts(c) < 2 && rows < 50 * ROWS) {
        write_rows(f->db, 10);
        rows += 10;
    }
    if (sqlite_checkpointer_wal_starts(c) < 2)
        fail_msg("the WAL never started over in %d rows (~%d frames; cap %d pages)", rows,
                 3 * rows, CAP);
    assert_true(sqlite_checkpointer_done(c) >= 1);
    sqlite_checkpointer_stop(c);
    /* the hook is gone: more commits do not touch the freed checkpointer */
    write_rows(f->db, PAGES * 3);
}

static void start_fails_cleanly_on_a_missing_file(void **state)
{
    struct fx *f = *state;
    char err[256] = "";
    char missing[128];
    snprintf(missing, sizeof missing, "%s/none/x.db", f->dir);
    assert_null(sqlite_checkpointer_start(f->db, missing, PAGES, CAP, err, sizeof err));
    assert_non_null(strstr(err, "x.db"));
    write_rows(f->db, 10); /* the store's connection still works, no hook left */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(wal_starts_over_under_nonstop_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(start_fails_cleanly_on_a_missing_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
