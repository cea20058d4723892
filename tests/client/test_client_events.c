/* test_client_events.c — libqrlogin against the real broker: every event a
 * PC and a phone get in a ticket's life (ticket, rotated, scanned, denied,
 * expired, cancelled, login, tokens, session revoked, signed out), and the
 * phone-side calls that cause them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "broker_fixture.h"
#include "event_log.h"
#include "qrlogin.h"

static struct broker broker;

struct peer {
    qrl_client *c;
    struct event_log log;
};

static void peer_open(struct peer *p, const struct broker *b, const char *name)
{
    event_log_init(&p->log);
    struct qrl_config cfg = {.url = b->url, .client_name = name, .on_event = event_log_cb,
                             .user = &p->log};
    struct qrl_error err;
    p->c = qrl_client_new(&cfg, &err);
    assert_non_null(p->c);
    assert_int_equal(qrl_client_wait_connected(p->c, 0, &err), QRL_OK);
    assert_int_equal(event_wait(&p->log, QRL_EV_CONNECTED, NULL), 0);
}

static void phone_open(struct peer *p, const struct broker *b, const char *user, const char *pw)
{
    peer_open(p, b, "phone");
    struct qrl_error err;
    assert_int_equal(qrl_auth_password(p->c, user, pw, &err), QRL_OK);
    assert_int_equal(event_wait(&p->log, QRL_EV_TOKENS, NULL), 0);
}

static void peer_close(struct peer *p)
{
    qrl_client_free(p->c);
    p->c = NULL;
}

static int group_setup(void **state)
{
    static const char *const users[] = {"alice", "alice-pw-1", "bob", "bob-pw-1", NULL};
    memset(&broker, 0, sizeof broker);
    if (broker_init(&broker, users) || broker_start(&broker))
        return -1;
    return 0;
}

static int group_teardown(void **state)
{
    int rc = broker_stop(&broker);
    broker_cleanup(&broker);
    return rc;
}

static void new_ticket(struct peer *pc, struct logged_event *t)
{
    struct qrl_error err;
    assert_int_equal(qrl_ticket_new(pc->c, &err), QRL_OK);
    assert_int_equal(event_wait(&pc->log, QRL_EV_TICKET, t), 0);
    assert_true(strlen(t->ticket) >= 22); /* 128 bits in base64url */
    assert_false(t->rotated);
    char want[700];
    snprintf(want, sizeof want, "%s/m/#t=%s", broker.url, t->ticket);
    assert_string_equal(t->url, want);
}

/* ticket → scanned → login → tokens that /api/me accepts → revoked by the
 * phone: session revoked and signed out on the PC. */
static void login_and_revoke(void **state)
{
    struct peer pc, phone;
    peer_open(&pc, &broker, "test PC");
    int64_t off = qrl_client_clock_offset_ms(pc.c);
    assert_true(off > -60000 && off < 60000); /* same machine: hello's server_time was read */
    phone_open(&phone, &broker, "alice", "alice-pw-1");

    struct logged_event t, e;
    new_ticket(&pc, &t);
    char *info = NULL;
    struct qrl_error err;
    assert_int_equal(qrl_ticket_scan(phone.c, t.ticket, &info, &err), QRL_OK);
    char name[64];
    assert_int_equal(qrl_json_string(info, strlen(info), "pc.client_name", name, sizeof name),
                     QRL_OK);
    assert_string_equal(name, "test PC");
    qrl_free(info);
    assert_int_equal(event_wait(&pc.log, QRL_EV_SCANNED, &e), 0);
    assert_string_equal(e.ticket, t.ticket);
    assert_string_equal(e.user_name, "alice");

    assert_int_equal(qrl_ticket_confirm(phone.c, t.ticket, NULL, &err), QRL_OK);
    assert_int_equal(event_wait(&pc.log, QRL_EV_LOGIN, &e), 0);
    assert_string_equal(e.ticket, t.ticket);
    assert_string_equal(e.user_name, "alice");
    assert_true(e.expires_in > 0);
    char sid[QRL_ID_MAX];
    snprintf(sid, sizeof sid, "%s", e.session_id);
    assert_true(strlen(sid) > 0);
    assert_int_equal(event_wait(&pc.log, QRL_EV_TOKENS, NULL), 0);

    struct qrl_tokens tok;
    assert_int_equal(qrl_get_tokens(pc.c, &tok), QRL_OK);
    assert_string_equal(tok.session_id, sid);
    assert_string_equal(tok.user_name, "alice");
    assert_int_equal(broker_http(&broker, "GET", "/api/me", tok.access_token, NULL, NULL, 0), 200);
    char access[QRL_TOKEN_MAX];
    assert_int_equal(qrl_access_token(pc.c, access, sizeof access, &err), QRL_OK);
    assert_string_equal(access, tok.access_token); /* fresh: no refresh */
    assert_int_equal(qrl_refresh_count(pc.c), 0);

    assert_int_equal(qrl_session_revoke(phone.c, sid, &err), QRL_OK);
    assert_int_equal(event_wait(&pc.log, QRL_EV_SESSION_REVOKED, &e), 0);
    assert_string_equal(e.session_id, sid);
    assert_string_equal(e.reason, "revoked");
    assert_int_equal(event_wait(&pc.log, QRL_EV_SIGNED_OUT, NULL), 0);
    assert_int_equal(qrl_get_tokens(pc.c, &tok), QRL_ERR_NO_TOKENS);
    assert_int_equal(qrl_access_token(pc.c, access, sizeof access, &err), QRL_ERR_NO_TOKENS);
    assert_int_equal(broker_http(&broker, "GET", "/api/me", tok.access_token, NULL, NULL, 0), 401);
    memset(&tok, 0, sizeof tok);
    peer_close(&pc);
    peer_close(&phone);
}

static void deny(void **state)
{
    struct peer pc, phone;
    peer_open(&pc, &broker, "test PC");
    phone_open(&phone, &broker, "alice", "alice-pw-1");
    struct logged_event t, e;
    new_ticket(&pc, &t);
    struct qrl_error err;
    assert_int_equal(qrl_ticket_scan(phone.c, t.ticket, NULL, &err), QRL_OK);
    assert_int_equal(event_wait(&pc.log, QRL_EV_SCANNED, NULL), 0);
    assert_int_equal(qrl_ticket_deny(phone.c, t.ticket, &err), QRL_OK);
    assert_int_equal(event_wait(&pc.log, QRL_EV_DENIED, &e), 0);
    assert_string_equal(e.ticket, t.ticket);
    /* Used once: confirming now is not_found. */
    assert_int_equal(qrl_ticket_confirm(phone.c, t.ticket, NULL, &err), QRL_ERR_SERVER);
    assert_string_equal(err.code, "not_found");
    assert_int_equal(event_count(&pc.log, QRL_EV_LOGIN), 0);
    peer_close(&pc);
    peer_close(&phone);
}

static void cancel_reaches_the_phone(void **state)
{
    struct peer pc, phone;
    peer_open(&pc, &broker, "test PC");
    phone_open(&phone, &broker, "alice", "alice-pw-1");
    struct logged_event t, e;
    new_ticket(&pc, &t);
    struct qrl_error err;
    assert_int_equal(qrl_ticket_scan(phone.c, t.ticket, NULL, &err), QRL_OK);
    assert_int_equal(qrl_ticket_cancel(pc.c, &err), QRL_OK);
    assert_int_equal(event_wait(&phone.log, QRL_EV_CANCELLED, &e), 0);
    assert_string_equal(e.ticket, t.ticket);
    peer_close(&pc);
    peer_close(&phone);
}

/* The broker's refusals come back as QRL_ERR_SERVER with its code. */
static void errors_carry_the_code(void **state)
{
    struct peer pc, alice, bob, anon;
    peer_open(&pc, &broker, "test PC");
    phone_open(&alice, &broker, "alice", "alice-pw-1");
    phone_open(&bob, &broker, "bob", "bob-pw-1");
    peer_open(&anon, &broker, "nobody");
    struct logged_event t;
    new_ticket(&pc, &t);
    struct qrl_error err;
    assert_int_equal(qrl_ticket_scan(anon.c, t.ticket, NULL, &err), QRL_ERR_SERVER);
    assert_string_equal(err.code, "unauthorized");
    assert_int_equal(qrl_ticket_scan(alice.c, t.ticket, NULL, &err), QRL_OK);
    assert_int_equal(qrl_ticket_scan(bob.c, t.ticket, NULL, &err), QRL_ERR_SERVER);
    assert_string_equal(err.code, "conflict");
    assert_int_equal(qrl_ticket_scan(alice.c, "AAAAAAAAAAAAAAAAAAAAAA", NULL, &err),
                     QRL_ERR_SERVER);
    assert_string_equal(err.code, "not_found");
    assert_int_equal(qrl_auth_password(anon.c, "alice", "wrong", &err), QRL_ERR_SERVER);
    assert_string_equal(err.code, "unauthorized");
    assert_int_equal(qrl_ticket_scan(alice.c, "", NULL, &err), QRL_ERR_INVALID);
    assert_int_equal(qrl_request(alice.c, "not json", NULL, NULL), QRL_ERR_INVALID);
    char *reply = NULL;
    assert_int_equal(qrl_call(alice.c, "{\"type\":\"no.such\"}", &reply, &err), QRL_ERR_SERVER);
    assert_string_equal(err.code, "bad_request");
    assert_null(reply);
    peer_close(&pc);
    peer_close(&alice);
    peer_close(&bob);
    peer_close(&anon);
}

/* logout.all from the phone: the PC's session is pushed logout_all. */
static void logout_all(void **state)
{
    struct peer pc, phone;
    peer_open(&pc, &broker, "test PC");
    phone_open(&phone, &broker, "bob", "bob-pw-1");
    struct logged_event t, e;
    new_ticket(&pc, &t);
    struct qrl_error err;
    assert_int_equal(qrl_ticket_scan(phone.c, t.ticket, NULL, &err), QRL_OK);
    assert_int_equal(qrl_ticket_confirm(phone.c, t.ticket, NULL, &err), QRL_OK);
    assert_int_equal(event_wait(&pc.log, QRL_EV_LOGIN, NULL), 0);
    char *list = NULL;
    assert_int_equal(qrl_session_list(phone.c, &list, &err), QRL_OK);
    int n = 0;
    assert_int_equal(qrl_json_count(list, strlen(list), "sessions", &n), QRL_OK);
    assert_true(n >= 2); /* the phone's own and the PC's */
    qrl_free(list);
    assert_int_equal(qrl_logout_all(phone.c, &err), QRL_OK);
    assert_int_equal(event_wait(&pc.log, QRL_EV_SESSION_REVOKED, &e), 0);
    assert_string_equal(e.reason, "logout_all");
    assert_int_equal(event_wait(&pc.log, QRL_EV_SIGNED_OUT, NULL), 0);
    assert_int_equal(event_wait(&phone.log, QRL_EV_SIGNED_OUT, NULL), 0);
    peer_close(&pc);
    peer_close(&phone);
}

/* Rotation and the final expiry, on a broker whose tickets live 1 s (the
 * time window is the subject; the test waits for the pushes). */
static void rotated_then_expired(void **state)
{
    static const char *const users[] = {NULL};
    struct broker b;
    memset(&b, 0, sizeof b);
    b.args[0] = "--ticket-ttl";
    b.args[1] = "1";
    b.args[2] = "--max-rotations";
    b.args[3] = "1";
    assert_int_equal(broker_init(&b, users), 0);
    assert_int_equal(broker_start(&b), 0);
    struct peer pc;
    peer_open(&pc, &b, "test PC");
    struct qrl_error err;
    struct logged_event first, second, e;
    assert_int_equal(qrl_ticket_new(pc.c, &err), QRL_OK);
    assert_int_equal(event_wait(&pc.log, QRL_EV_TICKET, &first), 0);
    assert_false(first.rotated);
    assert_int_equal(event_wait(&pc.log, QRL_EV_TICKET, &second), 0);
    assert_true(second.rotated);
    assert_string_not_equal(second.ticket, first.ticket);
    assert_int_equal(event_wait(&pc.log, QRL_EV_EXPIRED, &e), 0);
    assert_string_equal(e.ticket, second.ticket);
    peer_close(&pc);
    assert_int_equal(broker_stop(&b), 0);
    broker_cleanup(&b);
}

/* Number matching: the ticket carries the two digits the PC shows; a wrong
 * pick burns the ticket (code_mismatch to the phone, denied to the PC), the
 * right one signs in. */
static void number_matching(void **state)
{
    static const char *const users[] = {"carol", "carol-pw-1", NULL};
    struct broker b;
    memset(&b, 0, sizeof b);
    b.args[0] = "--number-match";
    assert_int_equal(broker_init(&b, users), 0);
    assert_int_equal(broker_start(&b), 0);
    struct peer pc, phone;
    peer_open(&pc, &b, "test PC");
    phone_open(&phone, &b, "carol", "carol-pw-1");
    struct qrl_error err;
    struct logged_event t, e;
    char *info = NULL;

    assert_int_equal(qrl_ticket_new(pc.c, &err), QRL_OK);
    assert_int_equal(event_wait(&pc.log, QRL_EV_TICKET, &t), 0);
    assert_int_equal((int)strlen(t.code), 2);
    assert_int_equal(qrl_ticket_scan(phone.c, t.ticket, &info, &err), QRL_OK);
    int n = 0;
    assert_int_equal(qrl_json_count(info, strlen(info), "code_choices", &n), QRL_OK);
    assert_int_equal(n, 3);
    char wrong[8] = "";
    for (int i = 0; i < n && !wrong[0]; i++) {
        char key[32], choice[8];
        snprintf(key, sizeof key, "code_choices.%d", i);
        assert_int_equal(qrl_json_string(info, strlen(info), key, choice, sizeof choice), QRL_OK);
        if (strcmp(choice, t.code))
            snprintf(wrong, sizeof wrong, "%s", choice);
    }
    qrl_free(info);
    assert_int_equal(qrl_ticket_confirm(phone.c, t.ticket, wrong, &err), QRL_ERR_SERVER);
    assert_string_equal(err.code, "code_mismatch");
    assert_int_equal(event_wait(&pc.log, QRL_EV_DENIED, &e), 0);
    assert_string_equal(e.ticket, t.ticket);

    assert_int_equal(qrl_ticket_new(pc.c, &err), QRL_OK);
    assert_int_equal(event_wait(&pc.log, QRL_EV_TICKET, &t), 0);
    assert_int_equal(qrl_ticket_scan(phone.c, t.ticket, NULL, &err), QRL_OK);
    assert_int_equal(qrl_ticket_confirm(phone.c, t.ticket, t.code, &err), QRL_OK);
    assert_int_equal(event_wait(&pc.log, QRL_EV_LOGIN, &e), 0);
    assert_string_equal(e.user_name, "carol");
    peer_close(&pc);
    peer_close(&phone);
    assert_int_equal(broker_stop(&b), 0);
    broker_cleanup(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(login_and_revoke),
        cmocka_unit_test(deny),
        cmocka_unit_test(cancel_reaches_the_phone),
        cmocka_unit_test(errors_carry_the_code),
        cmocka_unit_test(logout_all),
        cmocka_unit_test(rotated_then_expired),
        cmocka_unit_test(number_matching),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
