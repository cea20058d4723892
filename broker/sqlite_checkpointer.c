/* sqlite_checkpointer.c — see sqlite_checkpointer.h. */
#include "sqlite_checkpointer.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"
#include "strutil.h"

#define CK_BUSY_MS 2000 /* the longest our connection waits for a lock */

struct sqlite_checkpointer {
    sqlite3 *store_db; /* the store's connection: only its WAL hook is ours */
    sqlite3 *db;       /* ours, used only on the thread after start */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int pages, cap; /* SQLITE_CHECKPOINT_PAGES / _CAP unless a test says */
    /* under mu: */
    bool wanted;  /* the hook asked for a checkpoint since the last one began */
    bool stopping;
    uint64_t done;
    int last_rc;  /* so a failing disk is logged once, not once a commit */
    /* Set (under mu, read without it by the hook's fast path) while a RESTART
     * checkpoint is under way: the writer parks after its commit until it is
     * cleared (see ck_wait_for_restart). */
    bool restarting;
    /* the hook's own, on the writer's thread: */
    int last_pages; /* the WAL's length after the previous commit */
    int due_at;     /* ask for a checkpoint when the WAL reaches this */
    uint64_t wal_starts; /* commits that found the WAL started over */
};

static struct timespec ck_deadline(int ms)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t); /* pthread_cond_timedwait's default clock */
    t.tv_sec += ms / 1000;
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

/* A RESTART checkpoint needs the write lock, which a writer that never pauses
 * for long hands over only by chance: SQLite's busy handler retries after
 * sleeps, and the gaps between commits are microseconds. So once the
 * checkpointer has decided to restart, the writer — here, after its commit,
 * holding no lock — waits until the checkpoint is over (bounded by
 * CK_BUSY_MS, the checkpointer's own patience). The writer would have waited
 * in its busy handler for the copy anyway; this only turns "the checkpointer
 * may get the lock" into "it gets it". */
static void ck_wait_for_restart(struct sqlite_checkpointer *c)
{
    if (!__atomic_load_n(&c->restarting, __ATOMIC_ACQUIRE))
        return;
    struct timespec until = ck_deadline(CK_BUSY_MS);
    pthread_mutex_lock(&c->mu);
    while (c->restarting && !c->stopping)
        if (pthread_cond_timedwait(&c->cv, &c->mu, &until))
            break;
    pthread_mutex_unlock(&c->mu);
}

/* Runs on the loop thread inside every commit: keep it to a flag and a
 * signal. Returning SQLITE_OK is required; the commit itself succeeded.
 *
 * A checkpoint is asked for once per SQLITE_CHECKPOINT_PAGES new pages, not
 * after every commit past the mark: while commits keep coming, the WAL only
 * starts over when a checkpoint has caught up before the next commit, so its
 * length stays past the mark and every commit would ask again (measured: a
 * checkpoint and two fsyncs per commit, thousands a second). */
static int ck_wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
    struct sqlite_checkpointer *c = arg;
    (void)db, (void)name;
    ck_wait_for_restart(c);
    if (pages < c->last_pages) { /* the WAL started over */
        c->due_at = c->pages;
        c->wal_starts++;
    }
    c->last_pages = pages;
    if (pages < c->due_at)
        return SQLITE_OK;
    c->due_at = pages + c->pages;
    pthread_mutex_lock(&c->mu);
    if (!c->wanted) {
        c->wanted = true;
        pthread_cond_broadcast(&c->cv);
    }
    pthread_mutex_unlock(&c->mu);
    return SQLITE_OK;
}

static void ck_set_restarting(struct sqlite_checkpointer *c, bool on)
{
    pthread_mutex_lock(&c->mu);
    __atomic_store_n(&c->restarting, on, __ATOMIC_RELEASE);
    if (!on)
        pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

/* Our connection's busy handler: retry every millisecond for CK_BUSY_MS. A
 * writer parked by ck_wait_for_restart releases the lock within one commit,
 * so a short poll finds it (SQLite's own handler backs off to 100 ms sleeps,
 * which the parked writer would sit through). */
static int ck_busy(void *arg, int tries)
{
    (void)arg;
    if (tries >= CK_BUSY_MS)
        return 0;
    struct timespec ms = {0, 1000000L};
    nanosleep(&ms, NULL);
    return 1;
}

/* PASSIVE never waits for the writer. But under writes that never pause it
 * never lets the WAL start over either, and the file would grow without end:
 * past the cap one RESTART checkpoint makes the writer wait (in its busy
 * handler) for as long as the copy takes — milliseconds on a local disk —
 * after which the next commit starts the WAL from the top. */
static void ck_run_one(struct sqlite_checkpointer *c)
{
    int log_pages = 0, copied = 0;
    int rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log_pages, &copied);
    if (rc == SQLITE_OK && log_pages >= c->cap) {
        ck_set_restarting(c, true);
        rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_RESTART, &log_pages,
                                       &copied);
        ck_set_restarting(c, false);
        if (rc == SQLITE_BUSY) /* the writer or a reader held on past the busy timeout */
            rc = SQLITE_OK;
    }
    pthread_mutex_lock(&c->mu);
    if (rc == SQLITE_OK && log_pages >= 0) /* -1: the file is not in WAL mode */
        c->done++;
    bool changed = rc != c->last_rc;
    c->last_rc = rc;
    pthread_mutex_unlock(&c->mu);
    if (rc != SQLITE_OK && changed)
        log_warn("store: sqlite checkpoint failed: %s (the WAL grows until one succeeds)",
                 sqlite3_errmsg(c->db));
    else if (rc == SQLITE_OK && changed)
        log_info("store: sqlite checkpoints work again");
}

static void *ck_thread(void *arg)
{
    struct sqlite_checkpointer *c = arg;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (!c->wanted && !c->stopping)
            pthread_cond_wait(&c->cv, &c->mu);
        if (c->stopping)
            break;
        c->wanted = false;
        pthread_mutex_unlock(&c->mu);
        ck_run_one(c);
        pthread_mutex_lock(&c->mu);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

struct sqlite_checkpointer *sqlite_checkpointer_start(sqlite3 *store_db, const char *path,
                                                      int pages, int cap, char *err,
                                                      size_t errsz)
{
    struct sqlite_checkpointer *c = calloc(1, sizeof *c);
    if (!c) {
        str_format(err, errsz, "out of memory");
        return NULL;
    }
    c->store_db = store_db;
    c->pages = c->due_at = pages > 0 ? pages : SQLITE_CHECKPOINT_PAGES;
    c->cap = cap > c->pages ? cap : SQLITE_CHECKPOINT_CAP;
    int rc = sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        str_format(err, errsz, "cannot open sqlite database '%s' for checkpoints: %s", path,
               c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        sqlite3_close(c->db);
        free(c);
        return NULL;
    }
    sqlite3_busy_handler(c->db, ck_busy, c);
    /* A connection learns that the file is in WAL mode when it first reads
     * it; until then a checkpoint is a silent no-op. */
    if (sqlite3_exec(c->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK) {
        str_format(err, errsz, "cannot use sqlite database '%s' for checkpoints: %s", path,
               sqlite3_errmsg(c->db));
        sqlite3_close(c->db);
        free(c);
        return NULL;
    }
    /* Our own connection must not checkpoint on its own either (it never
     * writes, but a hook costs nothing to be sure). */
    sqlite3_wal_autocheckpoint(c->db, 0);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    if (pthread_create(&c->thread, NULL, ck_thread, c)) {
        str_format(err, errsz, "cannot start the sqlite checkpoint thread");
        pthread_cond_destroy(&c->cv);
        pthread_mutex_destroy(&c->mu);
        sqlite3_close(c->db);
        free(c);
        return NULL;
    }
    pthread_setname_np(c->thread, "qrl-checkpoint");
    /* Replaces SQLite's automatic checkpoint, which is itself a WAL hook. */
    sqlite3_wal_hook(store_db, ck_wal_hook, c);
    return c;
}

void sqlite_checkpointer_stop(struct sqlite_checkpointer *c)
{
    if (!c)
        return;
    sqlite3_wal_hook(c->store_db, NULL, NULL);
    pthread_mutex_lock(&c->mu);
    c->stopping = true;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    int rc = sqlite3_close(c->db);
    if (rc != SQLITE_OK)
        log_error("store: sqlite checkpoint connection close failed: %s", sqlite3_errstr(rc));
    free(c);
}

uint64_t sqlite_checkpointer_wal_starts(const struct sqlite_checkpointer *c)
{
    return c ? c->wal_starts : 0;
}

uint64_t sqlite_checkpointer_done(struct sqlite_checkpointer *c)
{
    if (!c)
        return 0;
    pthread_mutex_lock(&c->mu);
    uint64_t n = c->done;
    pthread_mutex_unlock(&c->mu);
    return n;
}
