/* keys_watch.c — see keys_watch.h. */
#include "keys_watch.h"

#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>

#include "broker.h"
#include "clock.h"
#include "log.h"
#include "workers.h"


/* keygen on any node sharing --keys-dir reaches this one without a signal:
 * the housekeeping pass looks at the directory this often (a stat and a
 * readdir of a few names). */
#define KEYS_WATCH_EVERY_S 3

static volatile sig_atomic_t reload_requested; /* set by SIGHUP */

void keys_watch_signal(void) { reload_requested = 1; }
static struct keys_dir_stamp keys_stamp;
static int keys_watch_countdown = KEYS_WATCH_EVERY_S;
static bool reload_running, reload_again;

/* Callers of keys_watch_unknown_kid waiting for the reload under way. */
struct kid_waiter {
    struct kid_waiter *next;
    void (*done)(void *arg);
    void *arg;
};
static struct kid_waiter *kid_waiters;
static int64_t kid_reload_at; /* ms of the last reload an unknown kid asked for */
#define KID_RELOAD_EVERY_MS 1000

static void kid_waiters_answer(void)
{
    struct kid_waiter *w = kid_waiters;
    kid_waiters = NULL;
    while (w) {
        struct kid_waiter *next = w->next;
        w->done(w->arg);
        free(w);
        w = next;
    }
}

struct keys_reload_job {
    struct work work;
    struct keyring staged;
    int rc;
    char err[256];
};

/* Worker thread: reading the files and one warm-up signature per key would
 * hold the loop for milliseconds per key. Touches no live state. */
static void keys_reload_run(struct work *w)
{
    struct keys_reload_job *j = (struct keys_reload_job *)w;
    j->rc = keys_reload_stage(broker.cfg.keys_dir, &j->staged, j->err, sizeof j->err);
}

static void keys_reload_begin(void);

/* Loop thread: the swap (under the keys write lock, keys.h). */
static void keys_reload_done(struct work *w)
{
    struct keys_reload_job *j = (struct keys_reload_job *)w;
    if (j->rc) {
        log_error("keys: reload failed, keeping the current keys: %s", j->err);
    } else if (keys_reload_commit(&broker.keys, &j->staged) == 0) {
        const struct jwt_key *cur = keyring_current(&broker.keys.access);
        log_info("keys reloaded: current kid %s, %d published", cur ? cur->kid : "-",
                 broker.keys.access.count);
    }
    free(j);
    reload_running = false;
    if (reload_again) {
        reload_again = false;
        keys_reload_begin();
        return; /* the waiters want what the last read finds */
    }
    kid_waiters_answer();
}

/* One reload at a time; a request while one runs queues exactly one more,
 * so the last change to the directory is always the one read. */
static void keys_reload_begin(void)
{
    if (reload_running) {
        reload_again = true;
        return;
    }
    struct keys_reload_job *j = calloc(1, sizeof *j);
    if (!j) {
        log_error("keys: reload: out of memory");
        kid_waiters_answer();
        return;
    }
    j->work.run = keys_reload_run;
    j->work.done = keys_reload_done;
    reload_running = true;
    workers_submit(&j->work);
}

/* With HS256 access tokens there is no ES256 ring to reload (the secrets
 * never change under a running broker: every refresh token depends on
 * them). */
static void keys_reload_request(const char *why)
{
    if (broker.cfg.access_alg != JWT_ES256) {
        log_info("keys: %s, but access tokens are HS256: nothing to reload", why);
        return;
    }
    log_info("keys: %s; reloading", why);
    /* What the reload will read: the watch need not start another. */
    keys_dir_stamp(broker.cfg.keys_dir, &keys_stamp);
    keys_reload_begin();
}

/* Loop thread: acts on a SIGHUP the handler only flagged. */
void keys_watch_check_signal(void)
{
    if (!reload_requested)
        return;
    reload_requested = 0;
    keys_reload_request("SIGHUP");
}

/* The watch: a changed stamp (directory mtime, ES256 file count) means a
 * key was added or removed. A directory that cannot be read keeps the old
 * stamp, so the reload happens once it is back. */
static void keys_watch_dir(void)
{
    struct keys_dir_stamp now;

    if (broker.cfg.access_alg != JWT_ES256 || --keys_watch_countdown > 0)
        return;
    keys_watch_countdown = KEYS_WATCH_EVERY_S;
    if (keys_dir_stamp(broker.cfg.keys_dir, &now) || keys_dir_stamp_equal(&now, &keys_stamp))
        return;
    keys_reload_request("the keys directory changed");
}

/* The stamp the watch compares against. keys_load ran before it was taken:
 * a key that arrived in between shows as a count that differs from what was
 * loaded, and is read at once. */
void keys_watch_start(void)
{
    if (broker.cfg.access_alg != JWT_ES256 || keys_dir_stamp(broker.cfg.keys_dir, &keys_stamp))
        return;
    if (keys_stamp.es256_files != broker.keys.access.count)
        keys_reload_request("the keys directory changed during start-up");
}

void keys_watch_unknown_kid(void (*done)(void *arg), void *arg)
{
    int64_t now = clock_now_ms();
    bool recent = kid_reload_at && now - kid_reload_at < KID_RELOAD_EVERY_MS;
    struct kid_waiter *w = NULL;
    if (broker.cfg.access_alg != JWT_ES256 || (recent && !reload_running) ||
        !(w = malloc(sizeof *w))) {
        done(arg); /* nothing new to read, or read a moment ago */
        return;
    }
    w->done = done;
    w->arg = arg;
    w->next = kid_waiters;
    kid_waiters = w;
    if (reload_running)
        return; /* answered when it is in */
    kid_reload_at = now;
    keys_reload_request("a token names a key this node does not have");
}

void keys_watch_tick(void)
{
    keys_watch_check_signal();
    keys_watch_dir();
}
