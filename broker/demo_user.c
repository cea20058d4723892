/* demo_user.c — see demo_user.h. */
#include "demo_user.h"

#include <stdlib.h>
#include <string.h>

#include <mbedtls/platform_util.h>

#include "broker.h"
#include "log.h"
#include "password.h"
#include "workers.h"

static enum { DEMO_TODO, DEMO_BUSY, DEMO_DONE } state;

struct hash_job {
    struct work work;
    char hash[PASSWORD_HASH_MAX];
    int rc;
};

static void created(void *arg, enum store_rc rc, const struct user_rec *u)
{
    (void)arg, (void)u;
    /* CONFLICT: another node created it first, which is as good. */
    if (rc == STORE_OK || rc == STORE_CONFLICT) {
        state = DEMO_DONE;
        if (rc == STORE_OK)
            log_info("--demo: created user 'demo' with password 'demo'");
    } else {
        state = DEMO_TODO;
    }
}

static void hash_run(struct work *w)
{
    struct hash_job *j = (struct hash_job *)w;
    j->rc = password_hash("demo", 4, broker.cfg.pbkdf2_iterations, j->hash, sizeof j->hash);
}

static void hash_done(struct work *w)
{
    struct hash_job *j = (struct hash_job *)w;
    if (j->rc || !broker.store)
        state = DEMO_TODO;
    else
        broker.store->ops->user_create(broker.store, "demo", j->hash, created, NULL);
    mbedtls_platform_zeroize(j->hash, sizeof j->hash);
    free(j);
}

static void looked_up(void *arg, enum store_rc rc, const struct user_rec *u)
{
    (void)arg, (void)u;
    if (rc == STORE_OK) {
        state = DEMO_DONE;
        return;
    }
    struct hash_job *j = rc == STORE_NOT_FOUND ? calloc(1, sizeof *j) : NULL;
    if (!j) {
        state = DEMO_TODO;
        return;
    }
    j->work.run = hash_run;
    j->work.done = hash_done;
    workers_submit(&j->work);
}

void demo_user_tick(void)
{
    if (!broker.cfg.demo || state != DEMO_TODO || !broker.store ||
        !broker.store->ops->healthy(broker.store))
        return;
    state = DEMO_BUSY;
    broker.store->ops->user_by_name(broker.store, "demo", looked_up, NULL);
}
