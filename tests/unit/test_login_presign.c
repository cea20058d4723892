/* test_login_presign.c — the login pair signed at the scan (login_presign.c)
 * is used at the confirm only while it is exactly what signing then would
 * give, at most once, and dropped with its ticket otherwise. Real tickets.c
 * (its events reach login_presign as handle_ticket.c passes them), a real
 * SQLite store, real keys (ES256 access), a fake clock, and the worker pool
 * inline (workers_start(0)) or on one real thread. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* nftw */
#endif
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "b64url.h"
#include "broker.h"
#include "clock.h"
#include "errors.h"
#include "keys.h"
#include "log.h"
#include "login_presign.h"
#include "password.h"
#include "rng.h"
#include "sessions.h"
#include "store.h"
#include "tickets.h"
#include "tokens.h"
#include "workers.h"

#define T0 1700000000000LL /* fake epoch, ms, on a whole second */
#define T0S (T0 / 1000)
#define ACCESS_TTL 900
#define REFRESH_TTL 3600
#define TICKET_TTL_MS 120000 /* longer than LOGIN_PRESIGN_MAX_AGE_S */
#define PC 7
#define PHONE 8

static char base_dir[64];
static char keys_dir[128];
static char db_path[128];
static int db_seq;
static struct user_rec alice, bob;

/* ---- helpers ------------------------------------------------------------- */

struct res {
    int calls;
    enum api_err err;
    struct issued is;
};

static void on_issue(void *arg, enum api_err err, const struct issued *is, int64_t retry_after)
{
    (void)retry_after;
    struct res *r = arg;
    r->calls++;
    r->err = err;
    if (is)
        r->is = *is;
}

static void on_user(void *arg, enum store_rc rc, const struct user_rec *u)
{
    struct user_rec *out = arg;
    assert_int_equal(rc, STORE_OK);
    *out = *u;
}

static struct user_rec get_user(int64_t id)
{
    struct user_rec u = {0};
    broker.store->ops->user_by_id(broker.store, id, on_user, &u);
    assert_int_equal(u.id, id);
    return u;
}

struct sess_res {
    int calls;
    enum store_rc rc;
    struct session_rec s;
};

static void on_session(void *arg, enum store_rc rc, const struct session_rec *s)
{
    struct sess_res *r = arg;
    r->calls++;
    r->rc = rc;
    if (s)
        r->s = *s;
}

static struct sess_res get_session(const char *sid)
{
    struct sess_res r = {0};
    broker.store->ops->session_get(broker.store, sid, on_session, &r);
    assert_int_equal(r.calls, 1);
    return r;
}

static void on_list(void *arg, enum store_rc rc, const struct session_rec *s, int n)
{
    (void)s;
    assert_int_equal(rc, STORE_OK);
    *(int *)arg = n;
}

/* Sessions of a user in the store: a dropped pair must leave none. */
static int sessions_of(int64_t user_id)
{
    int n = -1;
    broker.store->ops->session_list(broker.store, user_id, on_list, &n);
    return n;
}

static void on_done(void *arg, enum api_err err)
{
    assert_int_equal(err, E_NONE);
    (*(int *)arg)++;
}

static struct claims access_claims(const char *token)
{
    struct claims c;
    assert_int_equal(tokens_check_access(&broker.keys, &broker.tp, token, strlen(token),
                                         clock_now_s(), &c),
                     TOKEN_VALID);
    return c;
}

/* The kid in a token's protected header. */
static void header_kid(const char *token, char *kid, size_t kidsz)
{
    uint8_t hdr[512];
    const char *dot = strchr(token, '.');
    assert_non_null(dot);
    int n = b64url_decode(token, (size_t)(dot - token), hdr, sizeof hdr - 1);
    assert_true(n > 0);
    hdr[n] = '\0';
    const char *k = strstr((const char *)hdr, "\"kid\":\"");
    assert_non_null(k);
    k += 7;
    const char *end = strchr(k, '"');
    assert_non_null(end);
    snprintf(kid, kidsz, "%.*s", (int)(end - k), k);
}

static void current_access_kid(char *kid, size_t kidsz)
{
    snprintf(kid, kidsz, "%s", keyring_current(&broker.keys.access)->kid);
}

static void at(int64_t ms) { clock_set_fake_ms(T0 + ms); }

/* One turn of the loop, as far as these modules can tell. */
static void turn(void)
{
    workers_drain();
    store_turn_end(broker.store);
}

static void wait_calls(const int *calls, int want)
{
    while (*calls < want || workers_pending() > 0) {
        turn();
        sched_yield();
    }
}

static void on_ticket(enum ticket_event ev, const struct ticket *t)
{
    login_presign_on_ticket_event(ev, t); /* as handle_ticket.c does */
}

/* A PC's ticket, scanned by u. Returns its id. */
static void new_scanned(const struct user_rec *u, char id[TICKET_LEN + 1])
{
    const struct ticket *t;
    assert_int_equal(tickets_create(PC, NULL, &t), TICKET_OK);
    memcpy(id, t->id, TICKET_LEN + 1);
    assert_int_equal(tickets_scan(id, u->id, u->name, PHONE, "phone-sid", &t), TICKET_OK);
}

/* The confirm as handle_ticket.c runs it: take the ticket, read the user,
 * log in. Returns the result once it is answered. */
static struct res confirm(const char *id, const struct user_rec *u, const char *code)
{
    struct ticket taken;
    assert_int_equal(tickets_confirm(id, u->id, code, &taken), TICKET_OK);
    tickets_release(&taken);
    struct user_rec now = get_user(u->id);
    struct res r = {0};
    login_presign_login(id, &now, "web", "192.0.2.9", "TestAgent/1.0", on_issue, &r);
    wait_calls(&r.calls, 1);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.err, E_NONE);
    return r;
}

/* ---- fixtures ------------------------------------------------------------ */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static struct user_rec make_user(const char *name)
{
    char hash[PASSWORD_HASH_MAX];
    assert_int_equal(password_hash("pw-for-tests", 12, 1000, hash, sizeof hash), 0);
    struct user_rec u = {0};
    broker.store->ops->user_create(broker.store, name, hash, on_user, &u);
    return u;
}

static int group_setup(void **state)
{
    (void)state;
    log_set_level(QLOG_ERROR);
    if (rng_init())
        return -1;
    snprintf(base_dir, sizeof base_dir, "/tmp/qrlogin-presign-XXXXXX");
    if (!mkdtemp(base_dir))
        return -1;
    memset(&broker.cfg, 0, sizeof broker.cfg);
    snprintf(broker.cfg.public_url, sizeof broker.cfg.public_url, "https://login.test");
    snprintf(broker.cfg.audience, sizeof broker.cfg.audience, "https://api.test");
    snprintf(broker.cfg.client_id, sizeof broker.cfg.client_id, "qrlogin-web");
    broker.cfg.access_alg = JWT_ES256;
    broker.cfg.access_ttl = ACCESS_TTL;
    broker.cfg.refresh_ttl = REFRESH_TTL;
    broker.cfg.session_max_age = 7 * 86400;
    broker.cfg.refresh_interval = 5;
    broker.cfg.refresh_grace = 10;
    broker.cfg.leeway = 30;
    broker_token_params_init();
    broker.ctx = NULL;
    snprintf(keys_dir, sizeof keys_dir, "%s/keys", base_dir);
    char err[256];
    clock_set_fake_ms(T0);
    if (keys_load(keys_dir, JWT_ES256, &broker.keys, err, sizeof err)) {
        fprintf(stderr, "keys_load: %s\n", err);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    keys_free(&broker.keys);
    nftw(base_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    rng_free();
    clock_use_real();
    return 0;
}

static int setup_with(int threads, bool number_match)
{
    clock_set_fake_ms(T0);
    snprintf(db_path, sizeof db_path, "%s/db%d.sqlite", base_dir, ++db_seq);
    char url[160], err[256];
    snprintf(url, sizeof url, "sqlite:%s", db_path);
    broker.store = store_open(url, err, sizeof err);
    if (!broker.store || workers_start(threads, NULL, NULL))
        return -1;
    struct tickets_config tc = {.ttl_ms = TICKET_TTL_MS, .max_rotations = 0,
                                .number_match = number_match};
    tickets_init(&tc, on_ticket);
    alice = make_user("alice");
    bob = make_user("bob");
    return 0;
}

static int setup(void **state)
{
    (void)state;
    return setup_with(0, false);
}

static int setup_nm(void **state)
{
    (void)state;
    return setup_with(0, true);
}

static int setup_threaded(void **state)
{
    (void)state;
    return setup_with(1, false);
}

static int teardown(void **state)
{
    (void)state;
    workers_stop();
    tickets_shutdown();
    login_presign_shutdown();
    sessions_shutdown();
    broker.store->ops->close(broker.store);
    broker.store = NULL;
    broker.cfg.access_alg = JWT_ES256;
    return 0;
}

/* ---- the pair signed at the scan is what the confirm delivers ------------ */

static void test_confirm_uses_the_pair_signed_at_the_scan(void **state)
{
    (void)state;
    char id[TICKET_LEN + 1];
    new_scanned(&alice, id);
    assert_int_equal(login_presign_stats().started, 1);
    assert_int_equal(login_presign_count(), 1);
    /* signed, not stored: a session exists only once it is confirmed */
    assert_int_equal(sessions_of(alice.id), 0);

    at(2000); /* the person reads the PC's details */
    struct res r = confirm(id, &alice, NULL);
    assert_int_equal(login_presign_stats().used, 1);
    assert_int_equal(login_presign_stats().stale, 0);
    assert_int_equal(login_presign_count(), 0);

    struct claims a = access_claims(r.is.access);
    assert_int_equal(a.iat, T0S); /* signed at the scan */
    assert_int_equal(a.exp, T0S + ACCESS_TTL);
    assert_int_equal(a.ver, alice.token_version);
    assert_string_equal(a.sid, r.is.sid);
    assert_string_equal(a.name, "alice");
    /* what is left, not the configured lifetime */
    assert_int_equal(r.is.expires_in, ACCESS_TTL - 2);
    assert_int_equal(r.is.refresh_expires_in, REFRESH_TTL - 2);

    /* the record is written at the confirm, with the scan's sid and jti */
    struct sess_res s = get_session(r.is.sid);
    assert_int_equal(s.rc, STORE_OK);
    assert_int_equal(s.s.user_id, alice.id);
    assert_string_equal(s.s.kind, "web");
    assert_string_equal(s.s.ip, "192.0.2.9");
    assert_int_equal(s.s.created_at, T0 + 2000);
    assert_int_equal(s.s.ver, alice.token_version);
    assert_int_equal(s.s.refresh_exp, T0S + REFRESH_TTL);
    struct claims f;
    assert_int_equal(tokens_check_refresh(&broker.keys, &broker.tp, r.is.refresh,
                                          strlen(r.is.refresh), clock_now_s(), &f),
                     TOKEN_VALID);
    assert_string_equal(s.s.cur_jti, f.jti);
    assert_int_equal(f.exp, s.s.refresh_exp);

    /* and the pair works as any other: it refreshes */
    at(10000);
    struct res g = {0};
    sessions_refresh(r.is.refresh, strlen(r.is.refresh), on_issue, &g);
    assert_int_equal(g.calls, 1);
    assert_int_equal(g.err, E_NONE);
    assert_string_equal(g.is.sid, r.is.sid);
}

/* Used at most once: the confirm takes the pair, and a second login for the
 * same ticket id (there can be none through tickets.c; this is the module's
 * own guarantee) signs a new session. */
static void test_pair_used_once(void **state)
{
    (void)state;
    char id[TICKET_LEN + 1];
    new_scanned(&alice, id);
    struct res r = confirm(id, &alice, NULL);
    struct res again = {0};
    login_presign_login(id, &alice, "web", "192.0.2.9", "TestAgent/1.0", on_issue, &again);
    assert_int_equal(again.calls, 1);
    assert_int_equal(again.err, E_NONE);
    assert_string_not_equal(again.is.sid, r.is.sid);
    assert_string_not_equal(again.is.access, r.is.access);
    assert_int_equal(login_presign_stats().used, 1);
    assert_int_equal(sessions_of(alice.id), 2);
}

/* A rescan by the same user answers again but signs nothing more; another
 * user's scan is refused and signs nothing either. */
static void test_rescan_signs_once(void **state)
{
    (void)state;
    char id[TICKET_LEN + 1];
    new_scanned(&alice, id);
    const struct ticket *t;
    for (int i = 0; i < 3; i++)
        assert_int_equal(tickets_scan(id, alice.id, alice.name, PHONE + 1, "phone-sid", &t),
                         TICKET_OK);
    assert_int_equal(tickets_scan(id, bob.id, bob.name, PHONE + 2, "bob-sid", &t),
                     TICKET_CONFLICT);
    assert_int_equal(login_presign_stats().started, 1);
    assert_int_equal(login_presign_count(), 1);
    confirm(id, &alice, NULL);
    assert_int_equal(login_presign_stats().used, 1);
}

/* ---- re-signed when the pair is no longer what signing now would give ---- */

/* logout.all between scan and confirm raises the token version: the pair
 * carries the old one and must not be delivered. */
static void test_token_version_change_resigns(void **state)
{
    (void)state;
    char id[TICKET_LEN + 1];
    new_scanned(&alice, id);
    int done = 0;
    sessions_logout_all(alice.id, on_done, &done);
    assert_int_equal(done, 1);
    at(1000);
    struct res r = confirm(id, &alice, NULL);
    assert_int_equal(login_presign_stats().used, 0);
    assert_int_equal(login_presign_stats().stale, 1);
    struct claims a = access_claims(r.is.access);
    assert_int_equal(a.ver, alice.token_version + 1);
    assert_int_equal(a.iat, T0S + 1); /* signed at the confirm */
    assert_int_equal(r.is.expires_in, ACCESS_TTL);
    assert_int_equal(get_session(r.is.sid).s.ver, alice.token_version + 1);
}

/* A new signing key between scan and confirm: the pair was signed by the
 * old one and is not delivered; the login is signed by the new key. */
static void test_key_rotation_resigns(void **state)
{
    (void)state;
    char id[TICKET_LEN + 1], old_kid[JWT_KID_MAX], new_kid[JWT_KID_MAX], kid[JWT_KID_MAX];
    char err[256];
    current_access_kid(old_kid, sizeof old_kid);
    new_scanned(&alice, id);
    assert_int_equal(keys_generate_es256(keys_dir, new_kid, sizeof new_kid, err, sizeof err), 0);
    assert_int_equal(keys_reload(keys_dir, &broker.keys, err, sizeof err), 0);
    current_access_kid(kid, sizeof kid);
    assert_string_equal(kid, new_kid);
    assert_string_not_equal(kid, old_kid);

    struct res r = confirm(id, &alice, NULL);
    assert_int_equal(login_presign_stats().used, 0);
    assert_int_equal(login_presign_stats().stale, 1);
    header_kid(r.is.access, kid, sizeof kid);
    assert_string_equal(kid, new_kid);

    /* and a pair signed after the rotation is used */
    new_scanned(&alice, id);
    r = confirm(id, &alice, NULL);
    assert_int_equal(login_presign_stats().used, 1);
    header_kid(r.is.access, kid, sizeof kid);
    assert_string_equal(kid, new_kid);
}

/* Up to LOGIN_PRESIGN_MAX_AGE_S old the pair is used; a second more and the
 * confirm signs afresh, so iat/exp stay within that bound of the delivery. */
static void test_age_bound(void **state)
{
    (void)state;
    char id[TICKET_LEN + 1];
    new_scanned(&alice, id);
    at(LOGIN_PRESIGN_MAX_AGE_S * 1000 + 999);
    struct res r = confirm(id, &alice, NULL);
    assert_int_equal(login_presign_stats().used, 1);
    assert_int_equal(access_claims(r.is.access).iat, T0S);
    assert_int_equal(r.is.expires_in, ACCESS_TTL - LOGIN_PRESIGN_MAX_AGE_S);

    at(100000);
    new_scanned(&alice, id);
    at(100000 + (LOGIN_PRESIGN_MAX_AGE_S + 1) * 1000);
    r = confirm(id, &alice, NULL);
    assert_int_equal(login_presign_stats().used, 1);
    assert_int_equal(login_presign_stats().stale, 1);
    assert_int_equal(access_claims(r.is.access).iat, clock_now_s());
    assert_int_equal(r.is.expires_in, ACCESS_TTL);

    /* a clock that stepped back does not deliver a token from the future */
    at(200000);
    new_scanned(&alice, id);
    at(190000);
    r = confirm(id, &alice, NULL);
    assert_int_equal(login_presign_stats().stale, 2);
    assert_int_equal(access_claims(r.is.access).iat, clock_now_s());
}

/* A pair past the age bound can never be used: the next scan or confirm
 * frees it, whatever became of its ticket (here: still waiting). */
static void test_pairs_past_the_bound_are_freed(void **state)
{
    (void)state;
    char first[TICKET_LEN + 1], second[TICKET_LEN + 1];
    new_scanned(&alice, first);
    assert_int_equal(login_presign_count(), 1);
    at((LOGIN_PRESIGN_MAX_AGE_S + 1) * 1000); /* not yet: a second of margin */
    const struct ticket *t;
    assert_int_equal(tickets_create(PC + 1, NULL, &t), TICKET_OK);
    memcpy(second, t->id, sizeof second);
    assert_int_equal(tickets_scan(second, bob.id, bob.name, PHONE, "bob-sid", &t), TICKET_OK);
    assert_int_equal(login_presign_count(), 2);
    assert_int_equal(login_presign_stats().expired, 0);

    at((LOGIN_PRESIGN_MAX_AGE_S + 2) * 1000);
    struct res r = confirm(second, &bob, NULL); /* the confirm prunes first */
    assert_int_equal(login_presign_stats().expired, 1);
    assert_int_equal(login_presign_stats().used, 1); /* bob's, 1 s old */
    assert_int_equal(access_claims(r.is.access).iat, T0S + LOGIN_PRESIGN_MAX_AGE_S + 1);
    assert_int_equal(login_presign_count(), 0);

    /* alice's ticket is still live; its confirm signs afresh */
    r = confirm(first, &alice, NULL);
    assert_int_equal(access_claims(r.is.access).iat, clock_now_s());
    assert_int_equal(login_presign_stats().used, 1);
    assert_int_equal(login_presign_stats().stale, 0);
}

/* ---- every other end of the ticket drops the pair and stores nothing ----- */

static void assert_dropped(uint64_t n)
{
    assert_int_equal(login_presign_stats().dropped, n);
    assert_int_equal(login_presign_count(), 0);
    assert_int_equal(login_presign_stats().used, 0);
    assert_int_equal(sessions_of(alice.id), 0);
}

static void test_deny_drops(void **state)
{
    (void)state;
    char id[TICKET_LEN + 1];
    new_scanned(&alice, id);
    assert_int_equal(tickets_deny(id, alice.id), TICKET_OK);
    assert_dropped(1);
}

static void test_expiry_drops(void **state)
{
    (void)state;
    char id[TICKET_LEN + 1];
    new_scanned(&alice, id);
    tickets_expire_due(T0 + TICKET_TTL_MS);
    assert_int_equal(tickets_count(), 0);
    assert_dropped(1);
}

static void test_cancel_and_replace_drop(void **state)
{
    (void)state;
    char id[TICKET_LEN + 1];
    new_scanned(&alice, id);
    assert_int_equal(tickets_cancel_pc(PC), TICKET_OK);
    assert_dropped(1);
    /* ticket.new on the same socket replaces (cancels) the scanned ticket */
    new_scanned(&alice, id);
    const struct ticket *t;
    assert_int_equal(tickets_create(PC, NULL, &t), TICKET_OK);
    assert_dropped(2);
    assert_int_equal(login_presign_stats().started, 2);
}

/* Number matching: a wrong pick burns the ticket, and its pair with it. */
static void test_code_mismatch_drops(void **state)
{
    (void)state;
    char id[TICKET_LEN + 1];
    new_scanned(&alice, id);
    const struct ticket *t = tickets_of_pc(PC);
    char wrong[12];
    snprintf(wrong, sizeof wrong, "%02d", (atoi(t->code) + 1) % 100);
    struct ticket taken;
    assert_int_equal(tickets_confirm(id, alice.id, wrong, &taken), TICKET_CODE_MISMATCH);
    assert_dropped(1);
}

/* ---- the pool: a confirm that arrives while its pair is being signed ----- */

/* It waits for that pair rather than sign a second one. */
static void test_confirm_waits_for_the_pair(void **state)
{
    (void)state;
    char id[TICKET_LEN + 1];
    new_scanned(&alice, id);
    struct ticket taken;
    assert_int_equal(tickets_confirm(id, alice.id, NULL, &taken), TICKET_OK);
    tickets_release(&taken);
    struct res r = {0};
    login_presign_login(id, &alice, "web", "192.0.2.9", "TestAgent/1.0", on_issue, &r);
    /* done() runs only from workers_drain on this thread: still signing */
    assert_int_equal(r.calls, 0);
    assert_int_equal(login_presign_stats().waited, 1);
    wait_calls(&r.calls, 1);
    assert_int_equal(r.err, E_NONE);
    assert_int_equal(login_presign_stats().used, 1);
    assert_int_equal(access_claims(r.is.access).iat, T0S);
    assert_int_equal(get_session(r.is.sid).rc, STORE_OK);
    assert_int_equal(sessions_of(alice.id), 1);
}

/* Denied while signing: the pair is freed when it is signed, never stored. */
static void test_drop_while_signing(void **state)
{
    (void)state;
    char id[TICKET_LEN + 1];
    new_scanned(&alice, id);
    assert_int_equal(workers_pending(), 1);
    assert_int_equal(tickets_deny(id, alice.id), TICKET_OK);
    assert_int_equal(login_presign_count(), 0);
    int none = 0;
    wait_calls(&none, 0);
    assert_dropped(1);
}

/* HS256 access tokens sign in microseconds at the confirm: nothing is
 * signed ahead. */
static void test_hs256_does_not_speculate(void **state)
{
    (void)state;
    broker.cfg.access_alg = JWT_HS256;
    char id[TICKET_LEN + 1];
    new_scanned(&alice, id);
    assert_int_equal(login_presign_stats().started, 0);
    assert_int_equal(login_presign_count(), 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_confirm_uses_the_pair_signed_at_the_scan),
        T(test_pair_used_once),
        T(test_rescan_signs_once),
        T(test_token_version_change_resigns),
        T(test_key_rotation_resigns),
        T(test_age_bound),
        T(test_pairs_past_the_bound_are_freed),
        T(test_deny_drops),
        T(test_expiry_drops),
        T(test_cancel_and_replace_drop),
        cmocka_unit_test_setup_teardown(test_code_mismatch_drops, setup_nm, teardown),
        cmocka_unit_test_setup_teardown(test_confirm_waits_for_the_pair, setup_threaded,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_drop_while_signing, setup_threaded, teardown),
        T(test_hs256_does_not_speculate),
    };
#undef T
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
