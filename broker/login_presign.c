/* login_presign.c — see login_presign.h.
 *
 * One entry per scanned ticket, indexed by ticket id. It goes
 *   LOOKING_UP (the user record) → SIGNING (the pool) → READY or FAILED
 * and leaves the index when its ticket is confirmed (the confirm takes it)
 * or ends otherwise (dropped). An entry taken or dropped while a step is
 * still running stays allocated until that step's callback, which then
 * finishes the confirm or frees it.
 *
 * Indexed entries are also kept in the order they were made: one whose pair
 * is past the age bound can never be used, so the next call here frees it.
 * That bounds what a scanned ticket holds to the bound (not its ttl), and
 * frees an entry whose ticket ended by a way nobody told us about. */
#include "login_presign.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "clock.h"
#include "hmap.h"
#include "log.h"

enum presign_state { PS_LOOKING_UP, PS_SIGNING, PS_READY, PS_FAILED };

/* The confirm of a ticket whose pair was still being signed. */
struct login_wait {
    struct user_rec u; /* as read at the confirm */
    char kind[8];
    char ip[IP_MAX];
    char user_agent[UA_MAX];
    sessions_issue_cb cb;
    void *arg;
};

struct presign {
    struct hnode node;
    char ticket[TICKET_LEN + 1];
    enum presign_state state;
    bool detached;            /* out of the index: taken by a confirm, or dropped */
    struct login_wait *wait;  /* the confirm that took it while it was pending */
    struct sessions_pair *pair;
    int64_t born_ms;          /* when the scan started it */
    struct presign *older, *newer; /* age order, while indexed */
};

static struct hmap presigns;
static struct presign *oldest, *newest;
static struct login_presign_stats stats;

static struct presign *find(const char *ticket)
{
    uint64_t h = hmap_hash_bytes(ticket, strnlen(ticket, TICKET_LEN + 1));
    for (struct hnode *n = hmap_chain(&presigns, h); n; n = n->next) {
        struct presign *e = hmap_entry(n, struct presign, node);
        if (n->hash == h && !strcmp(e->ticket, ticket))
            return e;
    }
    return NULL;
}

static int index_add(struct presign *e)
{
    if (hmap_insert(&presigns, &e->node, hmap_hash_bytes(e->ticket, TICKET_LEN)))
        return -1;
    e->older = newest; /* every entry is born now: appending keeps the order */
    if (newest)
        newest->newer = e;
    else
        oldest = e;
    newest = e;
    return 0;
}

static void detach(struct presign *e)
{
    hmap_remove(&presigns, &e->node);
    if (e->older)
        e->older->newer = e->newer;
    else
        oldest = e->newer;
    if (e->newer)
        e->newer->older = e->older;
    else
        newest = e->older;
    e->older = e->newer = NULL;
    e->detached = true;
}

static void presign_free(struct presign *e)
{
    if (e->pair)
        sessions_pair_free(e->pair);
    free(e->wait);
    free(e);
}

static bool pending(const struct presign *e)
{
    return e->state == PS_LOOKING_UP || e->state == PS_SIGNING;
}

/* The confirm's login, with e's pair if it is still exactly what signing
 * now would give; e is freed. */
static void finish_login(struct presign *e, const struct user_rec *u, const char *kind,
                         const char *ip, const char *user_agent, sessions_issue_cb cb, void *arg)
{
    struct sessions_pair *p = e->pair;
    e->pair = NULL;
    if (p && sessions_pair_usable(p, u, LOGIN_PRESIGN_MAX_AGE_S, clock_now_s())) {
        stats.used++;
        sessions_create_from_pair(p, kind, ip, user_agent, cb, arg);
        presign_free(e);
        return;
    }
    if (p) {
        char t[7];
        stats.stale++;
        log_debug("ticket %s…: the pair signed at the scan is stale, signing again",
                  log_ticket_prefix(e->ticket, t));
        sessions_pair_free(p);
    }
    /* none (its signing or the user lookup failed) or stale: as without speculation */
    sessions_create(u, kind, ip, user_agent, cb, arg);
    presign_free(e);
}

/* A pending step ended (state set): a detached entry is either freed or
 * finishes the confirm that waits for it. */
static void settled(struct presign *e)
{
    if (!e->detached)
        return;
    struct login_wait *w = e->wait;
    if (!w) {
        presign_free(e);
        return;
    }
    e->wait = NULL;
    finish_login(e, &w->u, w->kind, w->ip, w->user_agent, w->cb, w->arg);
    free(w);
}

static void pair_signed(void *arg, struct sessions_pair *p)
{
    struct presign *e = arg;
    e->pair = p;
    e->state = p ? PS_READY : PS_FAILED;
    settled(e);
}

static void user_read(void *arg, enum store_rc rc, const struct user_rec *u)
{
    struct presign *e = arg;
    if (rc || e->detached) {
        /* no user (the confirm will say so), or nobody wants the pair now */
        e->state = PS_FAILED;
        settled(e);
        return;
    }
    e->state = PS_SIGNING;
    sessions_presign(u, pair_signed, e);
}

/* Frees the settled entries older than any usable pair (a second of margin:
 * iat counts whole seconds). One still pending is left to finish. */
static void prune(int64_t now_ms)
{
    struct presign *e = oldest;
    while (e && now_ms - e->born_ms > (LOGIN_PRESIGN_MAX_AGE_S + 1) * 1000) {
        struct presign *next = e->newer;
        if (!pending(e)) {
            stats.expired++;
            detach(e);
            presign_free(e);
        }
        e = next;
    }
}

static void start(const struct ticket *t)
{
    if (broker.cfg.access_alg != JWT_ES256 || find(t->id))
        return; /* HS256 signs in µs at the confirm; one pair per ticket */
    if (t->grant)
        return; /* an OAuth request's ticket: its tokens are made at /token */
    struct presign *e = calloc(1, sizeof *e);
    if (!e)
        return; /* the confirm signs, as without speculation */
    memcpy(e->ticket, t->id, sizeof e->ticket);
    e->state = PS_LOOKING_UP;
    e->born_ms = clock_now_ms();
    if (index_add(e)) {
        free(e);
        return;
    }
    stats.started++;
    broker.store->ops->user_by_id(broker.store, t->scanner->user_id, user_read, e);
}

static void drop(const struct ticket *t)
{
    struct presign *e = find(t->id);
    if (!e)
        return;
    stats.dropped++;
    detach(e);
    if (!pending(e))
        presign_free(e);
    /* else its step's callback frees it */
}

void login_presign_on_ticket_event(enum ticket_event ev, const struct ticket *t)
{
    prune(clock_now_ms());
    switch (ev) {
    case TEV_SCANNED:
        start(t);
        break;
    case TEV_DENIED:
    case TEV_CODE_MISMATCH:
    case TEV_EXPIRED:
    case TEV_CANCELLED:
        drop(t);
        break;
    case TEV_ROTATED: /* only an unscanned ticket rotates: it has no pair */
        break;
    }
}

void login_presign_login(const char *ticket_id, const struct user_rec *u, const char *kind,
                         const char *ip, const char *user_agent, sessions_issue_cb cb, void *arg)
{
    prune(clock_now_ms());
    struct presign *e = find(ticket_id);
    if (!e) {
        sessions_create(u, kind, ip, user_agent, cb, arg);
        return;
    }
    detach(e); /* taken: used at most once, whatever comes of it */
    if (!pending(e)) {
        finish_login(e, u, kind, ip, user_agent, cb, arg);
        return;
    }
    /* Still being signed: waiting costs less than signing a second pair. */
    struct login_wait *w = calloc(1, sizeof *w);
    if (!w) {
        sessions_create(u, kind, ip, user_agent, cb, arg);
        return; /* e stays detached: its callback frees it */
    }
    w->u = *u;
    snprintf(w->kind, sizeof w->kind, "%s", kind);
    snprintf(w->ip, sizeof w->ip, "%s", ip ? ip : "");
    snprintf(w->user_agent, sizeof w->user_agent, "%s", user_agent ? user_agent : "");
    w->cb = cb;
    w->arg = arg;
    e->wait = w;
    stats.waited++;
}

struct login_presign_stats login_presign_stats(void) { return stats; }

size_t login_presign_count(void) { return presigns.count; }

void login_presign_shutdown(void)
{
    while (oldest) {
        struct presign *e = oldest;
        detach(e);
        if (!pending(e))
            presign_free(e); /* else its step's callback frees it */
    }
    hmap_free(&presigns);
    memset(&stats, 0, sizeof stats);
}
