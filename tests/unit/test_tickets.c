/* test_tickets.c — the QR ticket state machine (tickets.c, docs/protocol.md §3–4)
 * on a fake clock: no sockets, no sleeping. A listener records every event
 * (with a copy of what the ticket looked like at that moment) so each test
 * can check exactly which transitions happened. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "clock.h"
#include "log.h"
#include "rng.h"
#include "tickets.h"

#define T0 1700000000000LL /* fake "now", ms */
#define TTL 60000          /* ms */
#define MAX_ROT 2

/* ---- event recorder ---------------------------------------------------- */

struct ev {
    enum ticket_event type;
    char id[TICKET_LEN + 1];
    uint64_t pc_conn, phone_conn;
    enum ticket_state state;
    int64_t expires_at;
    int rotations;
};

#define EV_MAX 512
static struct ev evs[EV_MAX];
static int nev;

static void listener(enum ticket_event e, const struct ticket *t)
{
    assert_true(nev < EV_MAX);
    struct ev *r = &evs[nev++];
    r->type = e;
    memcpy(r->id, t->id, sizeof r->id);
    r->pc_conn = t->pc_conn;
    r->phone_conn = t->scanner ? t->scanner->phone_conn : 0;
    r->state = t->state;
    r->expires_at = t->expires_at;
    r->rotations = t->rotations;
}

static int count_ev(enum ticket_event e)
{
    int n = 0;
    for (int i = 0; i < nev; i++)
        n += evs[i].type == e;
    return n;
}

/* ---- fixtures ---------------------------------------------------------- */

static void start(bool number_match)
{
    clock_set_fake_ms(T0);
    nev = 0;
    memset(evs, 0, sizeof evs);
    struct tickets_config c = {.ttl_ms = TTL, .max_rotations = MAX_ROT,
                               .number_match = number_match};
    tickets_init(&c, listener);
}

static int setup(void **state)
{
    (void)state;
    start(false);
    return 0;
}

static int setup_nm(void **state)
{
    (void)state;
    start(true);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tickets_shutdown();
    assert_int_equal(tickets_count(), 0);
    assert_int_equal(tickets_next_deadline(), 0);
    return 0;
}

static int group_setup(void **state)
{
    (void)state;
    log_set_level(QLOG_ERROR);
    return rng_init();
}

static int group_teardown(void **state)
{
    (void)state;
    rng_free();
    clock_use_real();
    return 0;
}

/* ---- helpers ----------------------------------------------------------- */

/* Creates a ticket for pc and copies its id into id. */
static void create(uint64_t pc, char id[TICKET_LEN + 1])
{
    const struct ticket *t = NULL;
    assert_int_equal(tickets_create(pc, "Test App", &t), TICKET_OK);
    assert_non_null(t);
    memcpy(id, t->id, TICKET_LEN + 1);
}

static enum ticket_rc scan(const char *id, int64_t user, uint64_t phone)
{
    const struct ticket *t = NULL;
    char name[32];
    snprintf(name, sizeof name, "user%lld", (long long)user);
    enum ticket_rc rc = tickets_scan(id, user, name, phone, "phone-sid", &t);
    if (rc == TICKET_OK) {
        assert_non_null(t);
        assert_string_equal(t->id, id);
        assert_int_equal(t->state, TICKET_SCANNED);
        assert_int_equal(t->scanner->user_id, user);
    }
    return rc;
}

/* Whether id is still live (probed without side effects on a live ticket:
 * a scan by a user that never scans anything else would bind it, so this
 * uses deny by a user that is never bound, which answers CONFLICT for a live
 * ticket and NOT_FOUND otherwise). */
static bool alive(const char *id)
{
    enum ticket_rc rc = tickets_deny(id, 999999);
    assert_true(rc == TICKET_CONFLICT || rc == TICKET_NOT_FOUND);
    return rc == TICKET_CONFLICT;
}

static bool is_b64url(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
              (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
            return false;
    return true;
}

/* ---- creation ---------------------------------------------------------- */

static void test_create(void **state)
{
    (void)state;
    const struct ticket *t = NULL;
    assert_int_equal(tickets_count(), 0);
    assert_false(tickets_pc_has(1));
    assert_int_equal(tickets_create(1, "Client", &t), TICKET_OK);
    assert_non_null(t);
    assert_int_equal(strlen(t->id), TICKET_LEN);
    assert_int_equal(TICKET_LEN, 22);
    assert_true(is_b64url(t->id));
    assert_int_equal(t->state, TICKET_PENDING);
    assert_int_equal(t->pc_conn, 1);
    assert_int_equal(t->created_at, T0);
    assert_int_equal(t->expires_at, T0 + TTL);
    assert_string_equal(t->client_name, "Client");
    assert_null(t->scanner); /* nobody has scanned it */
    assert_int_equal(tickets_expires_in(t, T0), TTL / 1000);
    assert_int_equal(tickets_expires_in(t, T0 + 1), TTL / 1000); /* rounded up */
    assert_int_equal(tickets_expires_in(t, T0 + TTL), 0);
    assert_true(tickets_pc_has(1));
    assert_int_equal(tickets_count(), 1);
    assert_int_equal(tickets_next_deadline(), T0 + TTL);
    assert_int_equal(nev, 0);

    /* indexed by id: a scan finds it */
    char id[TICKET_LEN + 1];
    memcpy(id, t->id, sizeof id);
    assert_int_equal(scan(id, 10, 100), TICKET_OK);

    /* ids are unique */
    char id2[TICKET_LEN + 1];
    create(2, id2);
    assert_string_not_equal(id, id2);
    assert_int_equal(tickets_count(), 2);

    /* no client name, or an empty one: none */
    assert_int_equal(tickets_create(3, NULL, &t), TICKET_OK);
    assert_null(t->client_name);
    assert_int_equal(tickets_create(4, "", &t), TICKET_OK);
    assert_null(t->client_name);

    /* a lookup by a wrong-length or unknown id is NOT_FOUND */
    const struct ticket *o = NULL;
    assert_int_equal(tickets_scan("short", 10, "u", 100, "s", &o), TICKET_NOT_FOUND);
    assert_int_equal(tickets_scan("AAAAAAAAAAAAAAAAAAAAAA", 10, "u", 100, "s", &o),
                     TICKET_NOT_FOUND);
    char longer[TICKET_LEN + 2];
    memcpy(longer, id, TICKET_LEN);
    longer[TICKET_LEN] = 'A';
    longer[TICKET_LEN + 1] = '\0';
    assert_int_equal(tickets_scan(longer, 10, "u", 100, "s", &o), TICKET_NOT_FOUND);
}

static void test_create_replaces_earlier(void **state)
{
    (void)state;
    char a[TICKET_LEN + 1], b[TICKET_LEN + 1];
    create(7, a);
    assert_int_equal(scan(a, 10, 100), TICKET_OK);
    nev = 0;
    create(7, b);
    assert_string_not_equal(a, b);
    assert_int_equal(nev, 1);
    assert_int_equal(evs[0].type, TEV_CANCELLED);
    assert_string_equal(evs[0].id, a);
    assert_int_equal(evs[0].pc_conn, 7);
    assert_int_equal(evs[0].state, TICKET_SCANNED);
    assert_int_equal(evs[0].phone_conn, 100);
    assert_int_equal(tickets_count(), 1);
    assert_int_equal(scan(a, 10, 100), TICKET_NOT_FOUND);
    assert_int_equal(scan(b, 10, 100), TICKET_OK);
    assert_int_equal(tickets_count(), 1);
}

/* ---- scanning ---------------------------------------------------------- */

static void test_scan_binds_user(void **state)
{
    (void)state;
    char id[TICKET_LEN + 1];
    create(1, id);
    const struct ticket *t = NULL;
    assert_int_equal(tickets_scan(id, 10, "alice", 100, "sidA", &t), TICKET_OK);
    assert_non_null(t->scanner);
    assert_string_equal(t->scanner->user_name, "alice");
    assert_string_equal(t->scanner->phone_sid, "sidA");
    assert_int_equal(t->scanner->phone_conn, 100);
    assert_int_equal(count_ev(TEV_SCANNED), 1);
    assert_int_equal(evs[0].type, TEV_SCANNED);
    assert_string_equal(evs[0].id, id);
    assert_int_equal(evs[0].pc_conn, 1);
    assert_int_equal(evs[0].state, TICKET_SCANNED);

    /* the same user again, from another socket: OK, no second event, the
     * latest socket is remembered */
    assert_int_equal(tickets_scan(id, 10, "alice", 101, "sidA", &t), TICKET_OK);
    assert_int_equal(t->scanner->phone_conn, 101);
    assert_int_equal(nev, 1);

    /* another user: CONFLICT, nothing changes */
    t = NULL;
    assert_int_equal(tickets_scan(id, 11, "mallory", 200, "sidM", &t), TICKET_CONFLICT);
    assert_int_equal(nev, 1);
    assert_int_equal(tickets_scan(id, 10, "alice", 101, "sidA", &t), TICKET_OK);
    assert_int_equal(t->scanner->user_id, 10);
    assert_string_equal(t->scanner->user_name, "alice");
    assert_int_equal(nev, 1);
}

static void test_scan_restarts_clock_once(void **state)
{
    (void)state;
    char id[TICKET_LEN + 1];
    create(1, id);
    clock_advance_ms(TTL - 1);
    tickets_expire_due(clock_now_ms());
    assert_int_equal(nev, 0);
    assert_int_equal(scan(id, 10, 100), TICKET_OK);
    int64_t restarted = T0 + TTL - 1 + TTL;
    assert_int_equal(tickets_next_deadline(), restarted);

    clock_advance_ms(TTL - 1); /* past the original deadline */
    tickets_expire_due(clock_now_ms());
    assert_int_equal(count_ev(TEV_EXPIRED), 0);
    assert_true(alive(id));

    /* a rescan does not restart it again */
    assert_int_equal(scan(id, 10, 100), TICKET_OK);
    assert_int_equal(tickets_next_deadline(), restarted);
    clock_advance_ms(1);
    assert_int_equal(clock_now_ms(), restarted);
    tickets_expire_due(clock_now_ms());
    assert_int_equal(count_ev(TEV_EXPIRED), 1);
    assert_false(alive(id));
    assert_int_equal(tickets_count(), 0);
}

/* ---- expiry and rotation ----------------------------------------------- */

static void test_expiry_boundary_scanned(void **state)
{
    (void)state;
    char id[TICKET_LEN + 1];
    create(1, id);
    assert_int_equal(scan(id, 10, 100), TICKET_OK); /* deadline T0 + TTL */
    nev = 0;
    tickets_expire_due(T0 + TTL - 1);
    assert_int_equal(nev, 0);
    assert_int_equal(tickets_count(), 1);
    clock_set_fake_ms(T0 + TTL);
    tickets_expire_due(T0 + TTL);
    /* a scanned ticket is never rotated: it expires */
    assert_int_equal(nev, 1);
    assert_int_equal(evs[0].type, TEV_EXPIRED);
    assert_string_equal(evs[0].id, id);
    assert_int_equal(evs[0].state, TICKET_SCANNED);
    assert_int_equal(evs[0].pc_conn, 1);
    assert_int_equal(tickets_count(), 0);
    assert_false(tickets_pc_has(1));
    assert_int_equal(tickets_next_deadline(), 0);
    assert_int_equal(scan(id, 10, 100), TICKET_NOT_FOUND);
    struct ticket taken;
    assert_int_equal(tickets_confirm(id, 10, NULL, &taken), TICKET_NOT_FOUND);
}

static void test_rotation(void **state)
{
    (void)state;
    char ids[MAX_ROT + 1][TICKET_LEN + 1];
    create(5, ids[0]);
    int64_t deadline = T0 + TTL;
    for (int r = 1; r <= MAX_ROT; r++) {
        nev = 0;
        tickets_expire_due(deadline - 1);
        assert_int_equal(nev, 0);
        clock_set_fake_ms(deadline);
        tickets_expire_due(deadline);
        assert_int_equal(nev, 1);
        assert_int_equal(evs[0].type, TEV_ROTATED);
        assert_int_equal(evs[0].pc_conn, 5);
        assert_int_equal(evs[0].state, TICKET_PENDING);
        assert_int_equal(evs[0].rotations, r);
        assert_int_equal(evs[0].expires_at, deadline + TTL);
        memcpy(ids[r], evs[0].id, TICKET_LEN + 1);
        assert_int_equal(strlen(ids[r]), TICKET_LEN);
        for (int k = 0; k < r; k++) {
            assert_string_not_equal(ids[r], ids[k]);
            assert_int_equal(scan(ids[k], 10, 100), TICKET_NOT_FOUND);
        }
        assert_true(alive(ids[r]));
        assert_true(tickets_pc_has(5));
        assert_int_equal(tickets_count(), 1);
        deadline += TTL;
        assert_int_equal(tickets_next_deadline(), deadline);
    }
    /* no rotations left: expired and gone */
    nev = 0;
    clock_set_fake_ms(deadline);
    tickets_expire_due(deadline);
    assert_int_equal(nev, 1);
    assert_int_equal(evs[0].type, TEV_EXPIRED);
    assert_string_equal(evs[0].id, ids[MAX_ROT]);
    assert_int_equal(evs[0].state, TICKET_PENDING);
    assert_int_equal(tickets_count(), 0);
    assert_false(tickets_pc_has(5));
    assert_int_equal(tickets_next_deadline(), 0);
    assert_false(alive(ids[MAX_ROT]));

    /* a new ticket.new starts over with a full set of rotations */
    char fresh[TICKET_LEN + 1];
    create(5, fresh);
    nev = 0;
    clock_advance_ms(TTL);
    tickets_expire_due(clock_now_ms());
    assert_int_equal(nev, 1);
    assert_int_equal(evs[0].type, TEV_ROTATED);
}

static void test_rotated_ticket_can_be_scanned_and_confirmed(void **state)
{
    (void)state;
    char id[TICKET_LEN + 1];
    create(5, id);
    clock_advance_ms(TTL);
    tickets_expire_due(clock_now_ms());
    assert_int_equal(nev, 1);
    char rot[TICKET_LEN + 1];
    memcpy(rot, evs[0].id, sizeof rot);
    clock_advance_ms(TTL - 1);
    assert_int_equal(scan(rot, 10, 100), TICKET_OK); /* restarts this ticket's clock */
    clock_advance_ms(TTL - 1);
    tickets_expire_due(clock_now_ms());
    assert_int_equal(count_ev(TEV_EXPIRED), 0);
    struct ticket taken;
    assert_int_equal(tickets_confirm(rot, 10, NULL, &taken), TICKET_OK);
    assert_string_equal(taken.id, rot);
    tickets_release(&taken);
}

static void test_expire_several_in_order(void **state)
{
    (void)state;
    char a[TICKET_LEN + 1], b[TICKET_LEN + 1], c[TICKET_LEN + 1];
    create(1, a);
    clock_advance_ms(1000);
    create(2, b);
    clock_advance_ms(1000);
    create(3, c);
    assert_int_equal(tickets_count(), 3);
    assert_int_equal(tickets_next_deadline(), T0 + TTL);

    /* b scanned late: its deadline moves behind c's */
    clock_advance_ms(10000); /* T0 + 12 s */
    assert_int_equal(scan(b, 10, 100), TICKET_OK);
    assert_int_equal(tickets_next_deadline(), T0 + TTL);
    /* a scanned too: it moves behind b */
    clock_advance_ms(1000); /* T0 + 13 s */
    assert_int_equal(scan(a, 11, 101), TICKET_OK);
    assert_int_equal(tickets_next_deadline(), T0 + 2000 + TTL); /* c */

    nev = 0;
    tickets_expire_due(T0 + 2000 + TTL); /* c rotates (pending) */
    assert_int_equal(nev, 1);
    assert_int_equal(evs[0].type, TEV_ROTATED);
    assert_int_equal(evs[0].pc_conn, 3);
    assert_int_equal(tickets_next_deadline(), T0 + 12000 + TTL); /* b */

    tickets_expire_due(T0 + 12000 + TTL);
    assert_int_equal(nev, 2);
    assert_int_equal(evs[1].type, TEV_EXPIRED);
    assert_string_equal(evs[1].id, b);
    assert_int_equal(tickets_next_deadline(), T0 + 13000 + TTL); /* a */

    tickets_expire_due(T0 + 13000 + TTL);
    assert_int_equal(nev, 3);
    assert_int_equal(evs[2].type, TEV_EXPIRED);
    assert_string_equal(evs[2].id, a);
    /* the rotated c: T0 + 2000 + 2*TTL */
    assert_int_equal(tickets_next_deadline(), T0 + 2000 + 2 * TTL);
    assert_int_equal(tickets_count(), 1);

    /* one call handles everything due, in deadline order */
    char d[TICKET_LEN + 1];
    clock_set_fake_ms(T0 + 2000 + TTL + 500);
    create(4, d); /* deadline T0 + 2500 + 2*TTL */
    nev = 0;
    tickets_expire_due(T0 + 2500 + 2 * TTL);
    assert_int_equal(nev, 2);
    assert_int_equal(evs[0].type, TEV_ROTATED);
    assert_int_equal(evs[0].pc_conn, 3);
    assert_int_equal(evs[1].type, TEV_ROTATED);
    assert_int_equal(evs[1].pc_conn, 4);
    /* a rotation's fresh deadline counts from the sweep time */
    assert_int_equal(evs[0].expires_at, T0 + 2500 + 3 * TTL);
    assert_int_equal(tickets_next_deadline(), T0 + 2500 + 3 * TTL);
    assert_int_equal(tickets_count(), 2);
}

/* ---- confirm and deny -------------------------------------------------- */

static void test_confirm(void **state)
{
    (void)state;
    char id[TICKET_LEN + 1];
    create(1, id);
    assert_int_equal(scan(id, 10, 100), TICKET_OK);
    struct ticket taken;
    memset(&taken, 0, sizeof taken);
    nev = 0;
    assert_int_equal(tickets_confirm(id, 10, NULL, &taken), TICKET_OK);
    assert_int_equal(nev, 0); /* the caller pushes login itself */
    assert_string_equal(taken.id, id);
    assert_int_equal(taken.pc_conn, 1);
    assert_non_null(taken.scanner); /* moved to the caller with the ticket */
    assert_int_equal(taken.scanner->user_id, 10);
    assert_string_equal(taken.scanner->user_name, "user10");
    assert_string_equal(taken.scanner->phone_sid, "phone-sid");
    assert_string_equal(taken.client_name, "Test App");
    assert_int_equal(taken.created_at, T0);
    assert_null(taken.prev);
    assert_null(taken.next);
    tickets_release(&taken);
    assert_null(taken.scanner);
    assert_null(taken.client_name);

    /* used once, ever */
    assert_int_equal(tickets_count(), 0);
    assert_false(tickets_pc_has(1));
    assert_int_equal(tickets_next_deadline(), 0);
    assert_int_equal(tickets_confirm(id, 10, NULL, &taken), TICKET_NOT_FOUND);
    assert_int_equal(scan(id, 10, 100), TICKET_NOT_FOUND);
    assert_int_equal(tickets_deny(id, 10), TICKET_NOT_FOUND);
    assert_int_equal(tickets_cancel_pc(1), TICKET_NOT_FOUND);
    assert_int_equal(nev, 0);
}

static void test_confirm_wrong_user_or_unscanned(void **state)
{
    (void)state;
    char id[TICKET_LEN + 1];
    struct ticket taken;
    create(1, id);
    /* before any scan: no bound user, refused (QRLJacking) */
    assert_int_equal(tickets_confirm(id, 10, NULL, &taken), TICKET_CONFLICT);
    assert_int_equal(tickets_deny(id, 10), TICKET_CONFLICT);
    /* whatever id is asked for: an unscanned ticket has no bound user (its
     * zeroed user_id must not match anything) */
    assert_int_equal(tickets_confirm(id, 0, NULL, &taken), TICKET_CONFLICT);
    assert_int_equal(tickets_deny(id, 0), TICKET_CONFLICT);
    assert_int_equal(tickets_count(), 1);
    assert_int_equal(scan(id, 10, 100), TICKET_OK);
    /* another user */
    assert_int_equal(tickets_confirm(id, 11, NULL, &taken), TICKET_CONFLICT);
    assert_int_equal(tickets_deny(id, 11), TICKET_CONFLICT);
    assert_int_equal(tickets_count(), 1);
    assert_int_equal(count_ev(TEV_DENIED), 0);
    /* still confirmable by the bound user */
    assert_int_equal(tickets_confirm(id, 10, NULL, &taken), TICKET_OK);
    tickets_release(&taken);
}

static void test_deny(void **state)
{
    (void)state;
    char id[TICKET_LEN + 1];
    create(3, id);
    assert_int_equal(scan(id, 10, 100), TICKET_OK);
    nev = 0;
    assert_int_equal(tickets_deny(id, 10), TICKET_OK);
    assert_int_equal(nev, 1);
    assert_int_equal(evs[0].type, TEV_DENIED);
    assert_string_equal(evs[0].id, id);
    assert_int_equal(evs[0].pc_conn, 3);
    assert_int_equal(tickets_count(), 0);
    assert_false(tickets_pc_has(3));
    assert_int_equal(tickets_deny(id, 10), TICKET_NOT_FOUND);
    struct ticket taken;
    assert_int_equal(tickets_confirm(id, 10, NULL, &taken), TICKET_NOT_FOUND);
    assert_int_equal(nev, 1);
}

/* ---- number matching --------------------------------------------------- */

static bool two_digits(const char *s)
{
    return strlen(s) == 2 && s[0] >= '0' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9';
}

static void check_codes(const struct ticket *t)
{
    assert_true(two_digits(t->code));
    int hits = 0;
    for (int i = 0; i < 3; i++) {
        assert_true(two_digits(t->choices[i]));
        hits += !strcmp(t->choices[i], t->code);
        for (int j = i + 1; j < 3; j++)
            assert_string_not_equal(t->choices[i], t->choices[j]);
    }
    assert_int_equal(hits, 1);
}

static void test_number_match_codes(void **state)
{
    (void)state;
    int pos_seen[3] = {0};
    for (uint64_t pc = 1; pc <= 200; pc++) {
        const struct ticket *t = NULL;
        assert_int_equal(tickets_create(pc, NULL, &t), TICKET_OK);
        check_codes(t);
        for (int i = 0; i < 3; i++)
            pos_seen[i] += !strcmp(t->choices[i], t->code);
    }
    /* the right answer is not always in the same place */
    for (int i = 0; i < 3; i++)
        assert_true(pos_seen[i] > 0);

    /* a rotation draws a fresh code set too */
    nev = 0;
    clock_advance_ms(TTL);
    tickets_expire_due(clock_now_ms());
    assert_int_equal(count_ev(TEV_ROTATED), 200);
    const struct ticket *t = NULL;
    assert_int_equal(tickets_scan(evs[0].id, 10, "u", 100, "s", &t), TICKET_OK);
    check_codes(t);
}

static void test_number_match_right_code(void **state)
{
    (void)state;
    char id[TICKET_LEN + 1];
    create(1, id);
    const struct ticket *t = NULL;
    assert_int_equal(tickets_scan(id, 10, "alice", 100, "s", &t), TICKET_OK);
    char code[3];
    memcpy(code, t->code, sizeof code);
    struct ticket taken;
    nev = 0;
    assert_int_equal(tickets_confirm(id, 10, code, &taken), TICKET_OK);
    assert_int_equal(nev, 0);
    assert_string_equal(taken.code, code);
    tickets_release(&taken);
    assert_int_equal(tickets_count(), 0);
}

static void burn_with(const char *bad, bool use_wrong)
{
    char id[TICKET_LEN + 1];
    create(1, id);
    const struct ticket *t = NULL;
    assert_int_equal(tickets_scan(id, 10, "alice", 100, "s", &t), TICKET_OK);
    char wrong[3];
    /* a valid-looking two-digit code that is not the right one */
    int w = (atoi(t->code) + 1) % 100;
    wrong[0] = (char)('0' + w / 10);
    wrong[1] = (char)('0' + w % 10);
    wrong[2] = '\0';
    assert_string_not_equal(wrong, t->code);
    struct ticket taken;
    nev = 0;
    assert_int_equal(tickets_confirm(id, 10, use_wrong ? wrong : bad, &taken),
                     TICKET_CODE_MISMATCH);
    assert_int_equal(nev, 1);
    assert_int_equal(evs[0].type, TEV_CODE_MISMATCH);
    assert_string_equal(evs[0].id, id);
    assert_int_equal(evs[0].pc_conn, 1);
    /* burned: nothing left to guess at */
    assert_int_equal(tickets_count(), 0);
    assert_false(tickets_pc_has(1));
    assert_int_equal(tickets_confirm(id, 10, NULL, &taken), TICKET_NOT_FOUND);
    assert_int_equal(scan(id, 10, 100), TICKET_NOT_FOUND);
}

static void test_number_match_wrong_code(void **state)
{
    (void)state;
    burn_with(NULL, true);
}

static void test_number_match_missing_code(void **state)
{
    (void)state;
    burn_with(NULL, false);
}

static void test_number_match_empty_code(void **state)
{
    (void)state;
    burn_with("", false);
}

static void test_no_number_match_ignores_code(void **state)
{
    (void)state;
    char id[TICKET_LEN + 1];
    create(1, id);
    assert_int_equal(scan(id, 10, 100), TICKET_OK);
    struct ticket taken;
    assert_int_equal(tickets_confirm(id, 10, "42", &taken), TICKET_OK);
    tickets_release(&taken);
}

/* ---- cancel ------------------------------------------------------------ */

static void test_cancel_pc(void **state)
{
    (void)state;
    char a[TICKET_LEN + 1], b[TICKET_LEN + 1];
    create(1, a);
    create(2, b);
    assert_int_equal(scan(b, 10, 100), TICKET_OK);
    nev = 0;

    assert_int_equal(tickets_cancel_pc(1), TICKET_OK);
    assert_int_equal(nev, 1);
    assert_int_equal(evs[0].type, TEV_CANCELLED);
    assert_string_equal(evs[0].id, a);
    assert_int_equal(evs[0].state, TICKET_PENDING);
    assert_int_equal(evs[0].pc_conn, 1);

    assert_int_equal(tickets_cancel_pc(2), TICKET_OK);
    assert_int_equal(nev, 2);
    assert_int_equal(evs[1].type, TEV_CANCELLED);
    assert_string_equal(evs[1].id, b);
    assert_int_equal(evs[1].state, TICKET_SCANNED);
    assert_int_equal(evs[1].phone_conn, 100);

    assert_int_equal(tickets_count(), 0);
    assert_int_equal(tickets_next_deadline(), 0);
    assert_int_equal(scan(a, 10, 100), TICKET_NOT_FOUND);
    assert_int_equal(scan(b, 10, 100), TICKET_NOT_FOUND);
    assert_int_equal(tickets_cancel_pc(1), TICKET_NOT_FOUND);
    assert_int_equal(tickets_cancel_pc(999), TICKET_NOT_FOUND);
    assert_int_equal(nev, 2);

    /* a cancelled ticket's deadline no longer fires */
    tickets_expire_due(T0 + 10 * TTL);
    assert_int_equal(nev, 2);
}

/* ---- counting and shutdown --------------------------------------------- */

static void test_count_and_shutdown(void **state)
{
    (void)state;
    char id[TICKET_LEN + 1];
    for (uint64_t pc = 1; pc <= 50; pc++) {
        create(pc, id);
        clock_advance_ms(10);
        if (pc % 3 == 0)
            assert_int_equal(scan(id, (int64_t)pc, pc + 1000), TICKET_OK);
    }
    assert_int_equal(tickets_count(), 50);
    assert_int_equal(tickets_next_deadline(), T0 + TTL);
    create(1, id); /* replaces, does not add */
    assert_int_equal(tickets_count(), 50);
    assert_int_equal(tickets_cancel_pc(2), TICKET_OK);
    assert_int_equal(tickets_count(), 49);
    nev = 0;
    tickets_shutdown(); /* frees everything, emits nothing */
    assert_int_equal(nev, 0);
    assert_int_equal(tickets_count(), 0);
    assert_int_equal(tickets_next_deadline(), 0);
    assert_false(tickets_pc_has(3));
    /* usable again after a shutdown */
    create(3, id);
    assert_int_equal(tickets_count(), 1);
    assert_int_equal(scan(id, 10, 100), TICKET_OK);
    /* the teardown's shutdown frees this one (valgrind checks) */
}

/* A ticket for an OAuth grant (a device's): its own lifetime, no rotation,
 * a scan never shortens it, interleaved deadlines stay in order, and the
 * grant is freed with the ticket (valgrind and ASan check). */
static void test_fixed_lifetime_grant(void **state)
{
    (void)state;
    const struct ticket *dev;
    char dev_id[TICKET_LEN + 1], pc_id[TICKET_LEN + 1];
    struct ticket_grant *g = calloc(1, 64);
    assert_non_null(g);
    assert_int_equal(tickets_create_grant(7, "cli", 5 * TTL, g, &dev), TICKET_OK);
    memcpy(dev_id, dev->id, sizeof dev_id);
    assert_ptr_equal(dev->grant, g);
    assert_int_equal(dev->expires_at, T0 + 5 * TTL);
    create(1, pc_id); /* an ordinary PC ticket, expiring first */
    assert_int_equal(tickets_next_deadline(), T0 + TTL);

    /* the scan's restarted clock (ttl) would be shorter: kept */
    assert_int_equal(scan(dev_id, 10, 100), TICKET_OK);
    assert_int_equal(tickets_of_pc(7)->expires_at, T0 + 5 * TTL);

    /* the PC ticket rotates at its deadline, the device's does not */
    clock_set_fake_ms(T0 + TTL);
    tickets_expire_due(T0 + TTL);
    assert_int_equal(count_ev(TEV_ROTATED), 1);
    assert_string_equal(tickets_of_pc(7)->id, dev_id);

    /* at its own deadline it expires, whatever the rotations left */
    clock_set_fake_ms(T0 + 5 * TTL);
    tickets_expire_due(T0 + 5 * TTL);
    assert_false(tickets_pc_has(7));
    int expired = 0;
    for (int i = 0; i < nev; i++)
        expired += evs[i].type == TEV_EXPIRED && !strcmp(evs[i].id, dev_id);
    assert_int_equal(expired, 1);

    /* one left alive: the teardown's shutdown frees it with its grant */
    assert_int_equal(tickets_create_grant(8, "x", TTL, calloc(1, 64), &dev), TICKET_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_replaces_earlier, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_binds_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_restarts_clock_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_boundary_scanned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotated_ticket_can_be_scanned_and_confirmed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_expire_several_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_confirm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_confirm_wrong_user_or_unscanned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deny, setup, teardown),
        cmocka_unit_test_setup_teardown(test_number_match_codes, setup_nm, teardown),
        cmocka_unit_test_setup_teardown(test_number_match_right_code, setup_nm, teardown),
        cmocka_unit_test_setup_teardown(test_number_match_wrong_code, setup_nm, teardown),
        cmocka_unit_test_setup_teardown(test_number_match_missing_code, setup_nm, teardown),
        cmocka_unit_test_setup_teardown(test_number_match_empty_code, setup_nm, teardown),
        cmocka_unit_test_setup_teardown(test_no_number_match_ignores_code, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_pc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_count_and_shutdown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fixed_lifetime_grant, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
