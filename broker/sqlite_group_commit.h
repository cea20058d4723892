/* sqlite_group_commit.h — the SQLite store's writes of one event-loop turn
 * share one transaction (group commit).
 *
 * Why: every autocommit write paid for a commit of its own — the WAL-index
 * locks (fcntl), a WAL frame per page it touched (two pwrites each) and the
 * frames' checksums — and a login flow writes twice (its session and its
 * audit row). Flat out that was about a third of the event loop's time
 * (docs/benchmarks.md). In one transaction per turn the commit is paid once,
 * and a page several writes touch (the table's last leaf, an index page) is
 * written once.
 *
 * Nothing is acknowledged before it commits: a write's completion is held
 * here and called only after the COMMIT, with STORE_ERROR in place of
 * STORE_OK if the transaction did not commit. So a reply never reports a
 * write that the next moment could take back, exactly as with autocommit.
 * Reads are not held: inside the open transaction they see the turn's
 * earlier writes, as they saw them after each autocommit.
 *
 * Off until sqlite_group_commit_set(on): then every write commits and
 * completes inline as before (the command line, tests, start-up).
 * Loop thread only (the connection's thread). */
#ifndef QRLOGIN_SQLITE_GROUP_COMMIT_H
#define QRLOGIN_SQLITE_GROUP_COMMIT_H

#include <sqlite3.h>
#include <stdbool.h>

#include "store.h"

/* One write's completion, copied in: which callback shape, and its results. */
struct sqlite_held {
    enum { SQLITE_HELD_DONE, SQLITE_HELD_INT, SQLITE_HELD_USER } kind;
    union {
        store_done_cb done;
        store_int_cb num;
        store_user_cb user;
    } cb;
    void *arg;
    enum store_rc rc;
    int64_t value;        /* SQLITE_HELD_INT */
    struct user_rec user; /* SQLITE_HELD_USER with rc == STORE_OK */
};

struct sqlite_group_commit;

/* on_error(ctx, src) is told of a COMMIT that failed (after the rollback),
 * before the held completions are called with STORE_ERROR; the store logs it
 * and decides its health there. NULL on out of memory. */
struct sqlite_group_commit *sqlite_group_commit_new(sqlite3 *db,
                                                    void (*on_error)(void *ctx, int src),
                                                    void *ctx);
/* Ends the turn first (so nothing held is lost), then frees. NULL is a no-op. */
void sqlite_group_commit_free(struct sqlite_group_commit *g);

/* Turns grouping on or off; turning it off ends the turn first. */
void sqlite_group_commit_set(struct sqlite_group_commit *g, bool on);

/* Called before each write statement: with grouping on, opens the turn's
 * transaction if none is open. Returns an SQLite result code (SQLITE_OK, or
 * why BEGIN failed: the write must then fail). */
int sqlite_group_commit_before_write(struct sqlite_group_commit *g);

/* A write is done: with grouping on its completion is held until the turn
 * ends, otherwise it is called now. (Out of memory for the hold: the turn
 * ends now, this completion included — inline, as without grouping.) */
void sqlite_group_commit_complete(struct sqlite_group_commit *g, const struct sqlite_held *h);

/* The end of a loop turn: commits and calls the held completions in the
 * order the writes were made. A completion that writes again opens a new
 * transaction, which is committed before this returns. */
void sqlite_group_commit_end_turn(struct sqlite_group_commit *g);

/* Transactions committed with grouping on (tests compare it with writes). */
unsigned long sqlite_group_commit_commits(const struct sqlite_group_commit *g);

#endif
