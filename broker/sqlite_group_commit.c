/* sqlite_group_commit.c — see sqlite_group_commit.h.
 *
 * Held completions live in an array that grows by doubling and is reused turn
 * after turn, so a busy loop does not allocate per write. While one batch is
 * being called (`firing`), new completions go to the other array: a
 * completion may write again, and those writes belong to the next
 * transaction, not to the one whose results are being handed out. */
#include "sqlite_group_commit.h"

#include <stdlib.h>

struct held_list {
    struct sqlite_held *v;
    size_t n, cap;
};

struct sqlite_group_commit {
    sqlite3 *db;
    sqlite3_stmt *begin, *commit, *rollback;
    void (*on_error)(void *ctx, int src);
    void *ctx;
    bool on;
    bool open;   /* we began a transaction and have not ended it */
    bool ending; /* inside end_turn: it is not re-entered */
    struct held_list held, firing;
    unsigned long commits;
};

static int run(sqlite3_stmt *stmt)
{
    int src = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    return src == SQLITE_DONE ? SQLITE_OK : src;
}

static void call(const struct sqlite_held *h)
{
    switch (h->kind) {
    case SQLITE_HELD_DONE:
        if (h->cb.done)
            h->cb.done(h->arg, h->rc);
        break;
    case SQLITE_HELD_INT:
        if (h->cb.num)
            h->cb.num(h->arg, h->rc, h->rc == STORE_OK ? h->value : 0);
        break;
    case SQLITE_HELD_USER:
        if (h->cb.user)
            h->cb.user(h->arg, h->rc, h->rc == STORE_OK ? &h->user : NULL);
        break;
    }
}

/* The writes held so far did not commit: none of them may report success. */
static void fail_held(struct held_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].rc == STORE_OK)
            l->v[i].rc = STORE_ERROR;
}

/* SQLite rolls a transaction back by itself after some errors (a full disk,
 * an I/O error); autocommit mode is then back although we never ended it. */
static bool rolled_back_behind_us(const struct sqlite_group_commit *g)
{
    return g->open && sqlite3_get_autocommit(g->db);
}

struct sqlite_group_commit *sqlite_group_commit_new(sqlite3 *db,
                                                    void (*on_error)(void *ctx, int src),
                                                    void *ctx)
{
    struct sqlite_group_commit *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->db = db;
    g->on_error = on_error;
    g->ctx = ctx;
    if (sqlite3_prepare_v3(db, "BEGIN IMMEDIATE", -1, SQLITE_PREPARE_PERSISTENT, &g->begin,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v3(db, "COMMIT", -1, SQLITE_PREPARE_PERSISTENT, &g->commit, NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v3(db, "ROLLBACK", -1, SQLITE_PREPARE_PERSISTENT, &g->rollback, NULL) !=
            SQLITE_OK) {
        sqlite_group_commit_free(g);
        return NULL;
    }
    return g;
}

void sqlite_group_commit_free(struct sqlite_group_commit *g)
{
    if (!g)
        return;
    sqlite_group_commit_end_turn(g);
    sqlite3_finalize(g->begin);
    sqlite3_finalize(g->commit);
    sqlite3_finalize(g->rollback);
    free(g->held.v);
    free(g->firing.v);
    free(g);
}

void sqlite_group_commit_set(struct sqlite_group_commit *g, bool on)
{
    if (!on)
        sqlite_group_commit_end_turn(g);
    g->on = on;
}

int sqlite_group_commit_before_write(struct sqlite_group_commit *g)
{
    if (!g->on)
        return SQLITE_OK;
    if (rolled_back_behind_us(g)) { /* the failing statement has said why */
        fail_held(&g->held);
        g->open = false;
    }
    if (g->open)
        return SQLITE_OK;
    int src = run(g->begin);
    g->open = src == SQLITE_OK;
    return src;
}

static bool hold(struct held_list *l, const struct sqlite_held *h)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        struct sqlite_held *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return false;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = *h;
    return true;
}

void sqlite_group_commit_complete(struct sqlite_group_commit *g, const struct sqlite_held *h)
{
    if (!g->on) {
        call(h);
        return;
    }
    if (hold(&g->held, h))
        return;
    /* No memory to hold it: commit what we have now and answer in order. */
    sqlite_group_commit_end_turn(g);
    call(h);
}

/* Ends the open transaction, if any. Returns false if its writes are lost. */
static bool finish(struct sqlite_group_commit *g)
{
    if (!g->open)
        return true;
    if (rolled_back_behind_us(g)) {
        g->open = false;
        return false;
    }
    g->open = false;
    int src = run(g->commit);
    if (src == SQLITE_OK) {
        g->commits++;
        return true;
    }
    /* A COMMIT that failed (BUSY, I/O) may leave the transaction open. */
    if (!sqlite3_get_autocommit(g->db))
        run(g->rollback);
    if (g->on_error)
        g->on_error(g->ctx, src);
    return false;
}

void sqlite_group_commit_end_turn(struct sqlite_group_commit *g)
{
    if (g->ending)
        return; /* a completion ended the turn: the outer loop goes on */
    g->ending = true;
    while (g->open || g->held.n) {
        bool committed = finish(g);
        struct held_list batch = g->held;
        g->held = g->firing;
        g->held.n = 0;
        if (!committed)
            fail_held(&batch);
        for (size_t i = 0; i < batch.n; i++)
            call(&batch.v[i]);
        batch.n = 0;
        g->firing = batch;
    }
    g->ending = false;
}

unsigned long sqlite_group_commit_commits(const struct sqlite_group_commit *g)
{
    return g ? g->commits : 0;
}
