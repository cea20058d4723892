/* tickets.c — see tickets.h. */
#include "tickets.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "loop_timer.h"
#include "rng.h"
#include "slab.h"
#include "strutil.h"

static struct tickets_config cfg;
static tickets_listener listener;
static struct hmap by_id, by_pc;
static struct ticket *head, *tail; /* expiry order, earliest first */

static int64_t expire_and_rearm(int64_t now)
{
    tickets_expire_due(now);
    return tickets_next_deadline();
}

/* Fires at the earliest deadline; armed whenever a ticket gets one. */
static struct loop_timer expiry_timer = LOOP_TIMER_INIT(expire_and_rearm);

void tickets_init(const struct tickets_config *c, tickets_listener l)
{
    cfg = *c;
    listener = l;
}

/* ---- indexes ---- */

static struct ticket *find_by_id(const char *id)
{
    size_t n = strnlen(id, TICKET_LEN + 1);
    if (n != TICKET_LEN)
        return NULL;
    uint64_t h = hmap_hash_bytes(id, n);
    for (struct hnode *node = hmap_chain(&by_id, h); node; node = node->next) {
        struct ticket *t = hmap_entry(node, struct ticket, by_id);
        if (node->hash == h && !memcmp(t->id, id, TICKET_LEN))
            return t;
    }
    return NULL;
}

/* A ticket the phone may still act on: its deadline not yet reached, even if
 * the expiry timer has not run in this loop pass yet. */
static struct ticket *find_live(const char *id)
{
    struct ticket *t = find_by_id(id);
    return t && t->expires_at > clock_now_ms() ? t : NULL;
}

static struct ticket *find_by_pc(uint64_t pc_conn)
{
    uint64_t h = hmap_hash_u64(pc_conn);
    for (struct hnode *node = hmap_chain(&by_pc, h); node; node = node->next) {
        struct ticket *t = hmap_entry(node, struct ticket, by_pc);
        if (node->hash == h && t->pc_conn == pc_conn)
            return t;
    }
    return NULL;
}

/* Appends to the expiry list; walks back from the tail only if an earlier
 * deadline arrives out of order (never, while every deadline is now + ttl). */
static void expiry_insert(struct ticket *t)
{
    struct ticket *after = tail;
    while (after && after->expires_at > t->expires_at)
        after = after->prev;
    t->prev = after;
    t->next = after ? after->next : head;
    if (t->next)
        t->next->prev = t;
    else
        tail = t;
    if (after)
        after->next = t;
    else
        head = t;
    loop_timer_at(&expiry_timer, head->expires_at);
}

static void expiry_remove(struct ticket *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else
        head = t->next;
    if (t->next)
        t->next->prev = t->prev;
    else
        tail = t->prev;
    t->prev = t->next = NULL;
}

static void ticket_unlink(struct ticket *t)
{
    hmap_remove(&by_id, &t->by_id);
    hmap_remove(&by_pc, &t->by_pc);
    expiry_remove(t);
}

static void ticket_free(struct ticket *t)
{
    tickets_release(t);
    slab_free(t);
}

static void emit(enum ticket_event ev, const struct ticket *t)
{
    if (listener)
        listener(ev, t);
}

/* ---- creation ---- */

/* Two decimal digits; choices are the code and two other distinct codes in a
 * random order, so the position of the right answer tells nothing. */
static int make_codes(struct ticket *t)
{
    uint8_t r[8];
    if (rng_bytes(r, sizeof r))
        return -1;
    int vals[3];
    vals[0] = r[0] % 100;
    int k = 1;
    for (int i = 1; i < 8 && k < 3; i++) {
        int v = r[i] % 100;
        bool dup = false;
        for (int j = 0; j < k; j++)
            dup |= vals[j] == v;
        if (!dup)
            vals[k++] = v;
    }
    /* Vanishingly rare (eight draws gave fewer than three distinct values):
     * step through the others until they are distinct. */
    for (int v = (vals[0] + 37) % 100; k < 3; v = (v + 37) % 100) {
        bool dup = false;
        for (int j = 0; j < k; j++)
            dup |= vals[j] == v;
        if (!dup)
            vals[k++] = v;
    }
    int pos = r[7] % 3;
    snprintf(t->code, sizeof t->code, "%02d", vals[0]);
    int other = 1;
    for (int i = 0; i < 3; i++)
        snprintf(t->choices[i], sizeof t->choices[i], "%02d", i == pos ? vals[0] : vals[other++]);
    return 0;
}

/* A fresh id, deadline and code on t, indexed. Used for creation and rotation
 * (a rotated ticket is a new ticket: the old id must die at once). */
static int ticket_arm(struct ticket *t, int64_t now)
{
    do {
        if (rng_token(TICKET_BYTES, t->id, sizeof t->id) != TICKET_LEN)
            return -1;
    } while (find_by_id(t->id)); /* 2^-128, but cheap to be sure */
    if (cfg.number_match && make_codes(t))
        return -1;
    t->state = TICKET_PENDING;
    t->created_at = now;
    t->expires_at = now + (t->ttl_ms ? t->ttl_ms : cfg.ttl_ms);
    t->clock_restarted = false;
    if (hmap_insert(&by_id, &t->by_id, hmap_hash_bytes(t->id, TICKET_LEN)))
        return -1;
    expiry_insert(t);
    return 0;
}

/* Capped at CLIENT_NAME_MAX; kept with the ticket, so in the slabs too. */
static char *copy_client_name(const char *name)
{
    size_t n = strnlen(name, CLIENT_NAME_MAX);
    char *copy = slab_malloc(n + 1);
    if (copy) {
        memcpy(copy, name, n);
        copy[n] = '\0';
    }
    return copy;
}

enum ticket_rc tickets_create(uint64_t pc_conn, const char *client_name,
                              const struct ticket **out)
{
    return tickets_create_grant(pc_conn, client_name, 0, NULL, out);
}

enum ticket_rc tickets_create_grant(uint64_t pc_conn, const char *client_name, int64_t ttl_ms,
                                    struct ticket_grant *grant, const struct ticket **out)
{
    struct ticket *old = find_by_pc(pc_conn);
    if (old) {
        /* "ticket.new replaces the socket's earlier ticket": a phone that had
         * scanned it learns it is gone. */
        ticket_unlink(old);
        emit(TEV_CANCELLED, old);
        ticket_free(old);
    }

    struct ticket *t = slab_calloc(sizeof *t); /* kept while its PC waits: slab.h */
    if (!t) {
        free(grant);
        return TICKET_NO_MEMORY;
    }
    t->pc_conn = pc_conn;
    t->grant = grant;
    t->ttl_ms = ttl_ms;
    if (client_name && *client_name && !(t->client_name = copy_client_name(client_name))) {
        ticket_free(t);
        return TICKET_NO_MEMORY;
    }
    if (ticket_arm(t, clock_now_ms())) {
        hmap_remove(&by_id, &t->by_id);
        ticket_free(t);
        return TICKET_NO_MEMORY;
    }
    if (hmap_insert(&by_pc, &t->by_pc, hmap_hash_u64(pc_conn))) {
        ticket_unlink(t);
        ticket_free(t);
        return TICKET_NO_MEMORY;
    }
    char p[7];
    log_debug("ticket %s… created for conn %llu", log_ticket_prefix(t->id, p),
              (unsigned long long)pc_conn);
    *out = t;
    return TICKET_OK;
}

/* ---- the phone's steps ---- */

enum ticket_rc tickets_scan(const char *id, int64_t user_id, const char *user_name,
                            uint64_t phone_conn, const char *phone_sid,
                            const struct ticket **out)
{
    struct ticket *t = find_live(id);
    if (!t)
        return TICKET_NOT_FOUND;
    if (t->state == TICKET_SCANNED) {
        if (t->scanner->user_id != user_id)
            return TICKET_CONFLICT;
        t->scanner->phone_conn = phone_conn; /* the latest socket of that user hears cancels */
        *out = t;
        return TICKET_OK;
    }
    struct ticket_scanner *who = calloc(1, sizeof *who);
    if (!who)
        return TICKET_NO_MEMORY;
    who->user_id = user_id;
    str_copy(who->user_name, sizeof who->user_name, user_name);
    who->phone_conn = phone_conn;
    str_copy(who->phone_sid, sizeof who->phone_sid, phone_sid);
    t->scanner = who;
    t->state = TICKET_SCANNED;
    if (!t->clock_restarted) {
        /* The person now reads the PC's details and decides: give them a
         * whole ttl for that, once. */
        t->clock_restarted = true;
        int64_t deadline = clock_now_ms() + cfg.ttl_ms;
        if (deadline > t->expires_at) { /* never shortens a fixed lifetime */
            expiry_remove(t);
            t->expires_at = deadline;
            expiry_insert(t);
        }
    }
    emit(TEV_SCANNED, t);
    *out = t;
    return TICKET_OK;
}

/* The bound user only; an unscanned ticket has no bound user yet, and
 * confirming without first seeing the PC's details is what QRLJacking relies
 * on, so it is refused as well. */
static enum ticket_rc check_bound(struct ticket *t, int64_t user_id)
{
    if (t->state != TICKET_SCANNED || t->scanner->user_id != user_id)
        return TICKET_CONFLICT;
    return TICKET_OK;
}

enum ticket_rc tickets_confirm(const char *id, int64_t user_id, const char *code,
                               struct ticket *taken)
{
    struct ticket *t = find_live(id);
    if (!t)
        return TICKET_NOT_FOUND;
    enum ticket_rc rc = check_bound(t, user_id);
    if (rc)
        return rc;
    ticket_unlink(t);
    if (cfg.number_match && (!code || strcmp(code, t->code))) {
        /* A wrong pick burns the ticket: guessing gets one try in three. */
        emit(TEV_CODE_MISMATCH, t);
        ticket_free(t);
        return TICKET_CODE_MISMATCH;
    }
    *taken = *t;
    taken->prev = taken->next = NULL;
    slab_free(t); /* what it points to now belongs to taken */
    return TICKET_OK;
}

void tickets_release(struct ticket *taken)
{
    slab_free(taken->client_name);
    free(taken->scanner);
    free(taken->grant);
    taken->client_name = NULL;
    taken->scanner = NULL;
    taken->grant = NULL;
}

enum ticket_rc tickets_deny(const char *id, int64_t user_id)
{
    struct ticket *t = find_live(id);
    if (!t)
        return TICKET_NOT_FOUND;
    enum ticket_rc rc = check_bound(t, user_id);
    if (rc)
        return rc;
    ticket_unlink(t);
    emit(TEV_DENIED, t);
    ticket_free(t);
    return TICKET_OK;
}

enum ticket_rc tickets_cancel_pc(uint64_t pc_conn)
{
    struct ticket *t = find_by_pc(pc_conn);
    if (!t)
        return TICKET_NOT_FOUND;
    ticket_unlink(t);
    emit(TEV_CANCELLED, t);
    ticket_free(t);
    return TICKET_OK;
}

bool tickets_pc_has(uint64_t pc_conn) { return find_by_pc(pc_conn) != NULL; }

const struct ticket *tickets_of_pc(uint64_t pc_conn) { return find_by_pc(pc_conn); }

/* ---- time ---- */

int64_t tickets_expires_in(const struct ticket *t, int64_t now_ms)
{
    int64_t left = t->expires_at - now_ms;
    return left <= 0 ? 0 : (left + 999) / 1000;
}

void tickets_expire_due(int64_t now)
{
    while (head && head->expires_at <= now) {
        struct ticket *t = head;
        if (t->state == TICKET_PENDING && !t->ttl_ms && t->rotations < cfg.max_rotations) {
            /* Unscanned: the PC is still waiting, so give it a fresh code
             * rather than make the person click. */
            hmap_remove(&by_id, &t->by_id);
            expiry_remove(t);
            t->rotations++;
            if (ticket_arm(t, now)) {
                hmap_remove(&by_id, &t->by_id);
                hmap_remove(&by_pc, &t->by_pc);
                emit(TEV_EXPIRED, t);
                ticket_free(t);
                continue;
            }
            emit(TEV_ROTATED, t);
            continue;
        }
        ticket_unlink(t);
        emit(TEV_EXPIRED, t);
        ticket_free(t);
    }
}

int64_t tickets_next_deadline(void) { return head ? head->expires_at : 0; }

size_t tickets_count(void) { return by_id.count; }

void tickets_shutdown(void)
{
    loop_timer_cancel(&expiry_timer);
    while (head) {
        struct ticket *t = head;
        ticket_unlink(t);
        ticket_free(t);
    }
    hmap_free(&by_id);
    hmap_free(&by_pc);
}
