/* sqlite_checkpointer.h — runs a WAL database's checkpoints on a thread of
 * their own, so the event loop never waits for the disk.
 *
 * In WAL mode with synchronous=NORMAL a commit is an append without fsync;
 * the fsyncs happen when the WAL is copied back into the database file (a
 * checkpoint). SQLite's automatic checkpoint runs inside whichever commit
 * crosses 1000 pages — on the broker's loop thread, where it stalled every
 * socket for the length of two fsyncs. Instead, the store's connection turns
 * the automatic checkpoint off and calls sqlite_checkpointer_kick() from its
 * WAL hook; this thread then checkpoints PASSIVE on its own connection, which
 * never blocks the writer and never waits for a lock — unless writes never
 * pause long enough for the WAL to start over; then, past a cap, one
 * checkpoint makes the writer wait a few milliseconds (see ck_run_one and
 * ck_wait_for_restart). */
#ifndef QRLOGIN_SQLITE_CHECKPOINTER_H
#define QRLOGIN_SQLITE_CHECKPOINTER_H

#include <stddef.h>
#include <stdint.h>

struct sqlite3;

/* New WAL pages after which a commit asks for a checkpoint (SQLite's
 * default), and the WAL length past which a checkpoint makes the writer wait
 * so that the WAL can start over (~32 MiB with 4 KiB pages). */
#define SQLITE_CHECKPOINT_PAGES 1000
#define SQLITE_CHECKPOINT_CAP (8 * SQLITE_CHECKPOINT_PAGES)

struct sqlite_checkpointer;

/* Opens a second connection to the WAL database at path, turns automatic
 * checkpoints off on db (the store's connection) and hooks db's commits to
 * the thread, with the two page counts above (tests pass small ones). NULL
 * with a reason in err on failure. */
struct sqlite_checkpointer *sqlite_checkpointer_start(struct sqlite3 *db, const char *path,
                                                      int pages, int cap, char *err,
                                                      size_t errsz);

/* Stops the thread (finishing a checkpoint under way), closes its connection
 * and gives db its hook back. NULL is a no-op. */
void sqlite_checkpointer_stop(struct sqlite_checkpointer *c);

/* Checkpoints completed so far (tests, metrics). */
uint64_t sqlite_checkpointer_done(struct sqlite_checkpointer *c);

/* Commits on db that found the WAL started over from its beginning. Read it
 * on db's thread (the hook counts there, without a lock). */
uint64_t sqlite_checkpointer_wal_starts(const struct sqlite_checkpointer *c);

#endif
