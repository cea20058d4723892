/* test_client_reconnect.c — the broker restarts under connected clients:
 * they are told (disconnected), come back by themselves with backoff
 * (connected), a signed-in PC socket is attached to its session again (a
 * revocation still reaches it), a phone socket is signed in again, and a PC
 * still waiting for a login gets a fresh ticket (tickets do not survive). */
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

static int group_setup(void **state)
{
    static const char *const users[] = {"alice", "alice-pw-1", NULL};
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

static qrl_client *open_client(struct event_log *log, const char *name)
{
    event_log_init(log);
    struct qrl_config cfg = {.url = broker.url, .client_name = name, .on_event = event_log_cb,
                             .user = log, .reconnect_max_ms = 1000};
    struct qrl_error err;
    qrl_client *c = qrl_client_new(&cfg, &err);
    assert_non_null(c);
    assert_int_equal(qrl_client_wait_connected(c, 0, &err), QRL_OK);
    assert_int_equal(event_wait(log, QRL_EV_CONNECTED, NULL), 0);
    return c;
}

static void state_survives_a_broker_restart(void **state)
{
    struct event_log pclog, phonelog, waitlog;
    qrl_client *pc = open_client(&pclog, "PC");
    qrl_client *phone = open_client(&phonelog, "phone");
    qrl_client *waiting = open_client(&waitlog, "waiting PC");
    struct qrl_error err;
    struct logged_event t, e;

    assert_int_equal(qrl_auth_password(phone, "alice", "alice-pw-1", &err), QRL_OK);
    assert_int_equal(qrl_ticket_new(pc, &err), QRL_OK);
    assert_int_equal(event_wait(&pclog, QRL_EV_TICKET, &t), 0);
    assert_int_equal(qrl_ticket_scan(phone, t.ticket, NULL, &err), QRL_OK);
    assert_int_equal(qrl_ticket_confirm(phone, t.ticket, NULL, &err), QRL_OK);
    assert_int_equal(event_wait(&pclog, QRL_EV_LOGIN, &e), 0);
    char sid[QRL_ID_MAX];
    snprintf(sid, sizeof sid, "%s", e.session_id);

    struct logged_event before;
    assert_int_equal(qrl_ticket_new(waiting, &err), QRL_OK);
    assert_int_equal(event_wait(&waitlog, QRL_EV_TICKET, &before), 0);

    assert_int_equal(broker_stop(&broker), 0);
    assert_int_equal(event_wait(&pclog, QRL_EV_DISCONNECTED, NULL), 0);
    assert_int_equal(event_wait(&phonelog, QRL_EV_DISCONNECTED, NULL), 0);
    assert_int_equal(event_wait(&waitlog, QRL_EV_DISCONNECTED, NULL), 0);
    /* While it is down the clients keep trying (and say so). */
    assert_int_equal(event_wait(&pclog, QRL_EV_CONNECT_FAILED, NULL), 0);
    assert_false(qrl_client_connected(pc));

    assert_int_equal(broker_start(&broker), 0); /* the same port and data */
    assert_int_equal(event_wait(&pclog, QRL_EV_CONNECTED, NULL), 0);
    assert_int_equal(event_wait(&phonelog, QRL_EV_CONNECTED, NULL), 0);
    assert_int_equal(event_wait(&waitlog, QRL_EV_CONNECTED, NULL), 0);

    /* The waiting PC was handed a new ticket without asking. */
    struct logged_event after;
    assert_int_equal(event_wait(&waitlog, QRL_EV_TICKET, &after), 0);
    assert_string_not_equal(after.ticket, before.ticket);

    /* The phone is signed in again: a call that needs it works at once (the
     * sign-in goes first and is answered before anything else is sent). */
    char *list = NULL;
    int rc = qrl_session_list(phone, &list, &err);
    if (rc != QRL_OK)
        fprintf(stderr, "session.list: %s (%s)\n", err.code, err.message);
    assert_int_equal(rc, QRL_OK);
    qrl_free(list);
    /* The PC is attached again: any request is answered only after the
     * attach it queued behind (here ticket.cancel, not_found without a
     * ticket), and the revocation reaches it. */
    rc = qrl_ticket_cancel(pc, &err);
    assert_true(rc == QRL_OK || rc == QRL_ERR_SERVER);
    assert_int_equal(qrl_session_revoke(phone, sid, &err), QRL_OK);
    assert_int_equal(event_wait(&pclog, QRL_EV_SESSION_REVOKED, &e), 0);
    assert_string_equal(e.session_id, sid);
    assert_string_equal(e.reason, "revoked");

    qrl_client_free(waiting);
    qrl_client_free(phone);
    qrl_client_free(pc);
}

/* No broker at all: the first attempt's failure is reported, not a hang. */
static void nothing_listening(void **state)
{
    struct broker none = broker;
    none.port = 1; /* privileged, never ours: refused */
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/ws", none.port);
    struct event_log log;
    event_log_init(&log);
    struct qrl_config cfg = {.url = url, .on_event = event_log_cb, .user = &log};
    struct qrl_error err;
    qrl_client *c = qrl_client_new(&cfg, &err);
    assert_non_null(c);
    assert_int_equal(qrl_client_wait_connected(c, 0, &err), QRL_ERR_CONNECT);
    assert_int_equal(err.status, QRL_ERR_CONNECT);
    assert_true(strlen(err.message) > 0);
    assert_int_equal(event_wait(&log, QRL_EV_CONNECT_FAILED, NULL), 0);
    /* Requests wait for a connection; freeing fails them. */
    qrl_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(state_survives_a_broker_restart),
        cmocka_unit_test(nothing_listening),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
