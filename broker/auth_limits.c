/* auth_limits.c — see auth_limits.h.
 *
 * Each name keeps the times of its last five failures in a ring. The map is
 * capped: past AUTH_MAX_NAMES entries, names whose newest failure left the
 * window are dropped first, so a flood of made-up names cannot grow memory
 * without bound. A success does not reset the count: otherwise an attacker
 * who knows one password could interleave it to keep guessing another. */
#include "auth_limits.h"

#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "hmap.h"
#include "store.h"

#define AUTH_MAX_NAMES 100000

/* Redis keys of the cluster's counts, by enum auth_limit. */
static const char *const cluster_space[] = {"qrl:authfail:", "qrl:ucodefail:"};

struct entry {
    struct hnode node;
    enum auth_limit what;
    char name[USER_NAME_MAX + 1];
    int64_t at[AUTH_MAX_FAILURES]; /* ring of failure times, ms */
    int next;
};

static struct hmap names;

static uint64_t hash_of(enum auth_limit what, const char *name)
{
    return hmap_hash_bytes(name, strlen(name)) + (uint64_t)what;
}

static struct entry *find(enum auth_limit what, const char *name)
{
    uint64_t h = hash_of(what, name);
    for (struct hnode *n = hmap_chain(&names, h); n; n = n->next) {
        struct entry *e = hmap_entry(n, struct entry, node);
        if (n->hash == h && e->what == what && !strcmp(e->name, name))
            return e;
    }
    return NULL;
}

static int64_t newest(const struct entry *e)
{
    return e->at[(e->next + AUTH_MAX_FAILURES - 1) % AUTH_MAX_FAILURES];
}

/* Seconds until name may try again, given the time of its 5th most recent
 * failure (0: fewer than 5). */
static int64_t wait_after(int64_t fifth_newest, int64_t now)
{
    if (!fifth_newest || now - fifth_newest >= AUTH_WINDOW_MS)
        return 0;
    return (fifth_newest + AUTH_WINDOW_MS - now + 999) / 1000;
}

struct cluster_check {
    auth_limits_cb cb;
    void *arg;
    int64_t now;
};

static void cluster_checked(void *arg, int rc, int64_t fifth_newest)
{
    struct cluster_check *x = arg;
    x->cb(x->arg, rc ? -1 : wait_after(fifth_newest, x->now));
    free(x);
}

void auth_limits_check(enum auth_limit what, const char *name, int64_t now, auth_limits_cb cb,
                       void *arg)
{
    if (cluster_on()) {
        struct cluster_check *x = malloc(sizeof *x);
        if (!x) {
            cb(arg, -1);
            return;
        }
        *x = (struct cluster_check){cb, arg, now};
        cluster_auth_failures(cluster_space[what], name, now, AUTH_WINDOW_MS, AUTH_MAX_FAILURES,
                              cluster_checked, x);
        return;
    }
    struct entry *e = find(what, name);
    cb(arg, e ? wait_after(e->at[e->next], now) : 0); /* at[next]: the 5th newest */
}

static void prune(int64_t now)
{
    for (size_t b = 0; b < names.nbuckets; b++) {
        struct hnode *n = names.buckets[b];
        while (n) {
            struct hnode *next = n->next;
            struct entry *e = hmap_entry(n, struct entry, node);
            if (now - newest(e) >= AUTH_WINDOW_MS) {
                hmap_remove(&names, n);
                free(e);
            }
            n = next;
        }
    }
}

void auth_limits_fail(enum auth_limit what, const char *name, int64_t now)
{
    if (cluster_on()) {
        cluster_auth_failure_add(cluster_space[what], name, now, AUTH_WINDOW_MS, AUTH_MAX_FAILURES);
        return;
    }
    struct entry *e = find(what, name);
    if (!e) {
        if (names.count >= AUTH_MAX_NAMES)
            prune(now);
        if (names.count >= AUTH_MAX_NAMES)
            return; /* all recent: the flood itself is rate limited per socket */
        e = calloc(1, sizeof *e);
        if (!e)
            return;
        e->what = what;
        snprintf(e->name, sizeof e->name, "%s", name);
        if (hmap_insert(&names, &e->node, hash_of(what, e->name))) {
            free(e);
            return;
        }
    }
    e->at[e->next] = now;
    e->next = (e->next + 1) % AUTH_MAX_FAILURES;
}

void auth_limits_shutdown(void)
{
    prune(INT64_MAX / 2);
    hmap_free(&names);
}
