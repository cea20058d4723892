/* test_client_loop.c — a client run on the caller's loop
 * (qrl_client_service), the rule that blocking calls refuse to run on the
 * service thread, and the public JSON reader the CLI and FFI users read
 * answers with. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "broker_fixture.h"
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

struct loop_state {
    qrl_client *c;
    pthread_t loop_thread;
    int connected, tickets, replies, blocking_refused;
    char reply_type[32];
    char ticket[QRL_ID_MAX];
    atomic_int side_done;
    int side_rc;
};

static void on_event(const struct qrl_event *ev, void *user)
{
    struct loop_state *s = user;
    /* Events arrive on the thread that runs qrl_client_service. */
    assert_true(pthread_equal(pthread_self(), s->loop_thread));
    if (ev->type == QRL_EV_CONNECTED) {
        s->connected++;
        char buf[QRL_TOKEN_MAX];
        struct qrl_error err;
        /* A blocking call here would wait for this very thread. */
        if (qrl_access_token(s->c, buf, sizeof buf, &err) == QRL_ERR_WOULD_BLOCK &&
            qrl_call(s->c, "{\"type\":\"session.list\"}", NULL, &err) == QRL_ERR_WOULD_BLOCK)
            s->blocking_refused = 1;
    } else if (ev->type == QRL_EV_TICKET) {
        s->tickets++;
        snprintf(s->ticket, sizeof s->ticket, "%s", ev->ticket);
    }
}

static void on_reply(const struct qrl_reply *r, void *user)
{
    struct loop_state *s = user;
    assert_true(pthread_equal(pthread_self(), s->loop_thread));
    s->replies++;
    snprintf(s->reply_type, sizeof s->reply_type, "%s", r->status == QRL_OK ? r->type : "failed");
}

static void *side_call(void *arg)
{
    struct loop_state *s = arg;
    struct qrl_error err;
    s->side_rc = qrl_auth_password(s->c, "alice", "alice-pw-1", &err);
    atomic_store(&s->side_done, 1);
    return NULL;
}

static void the_callers_loop(void **state)
{
    static struct loop_state s;
    memset(&s, 0, sizeof s);
    s.loop_thread = pthread_self();
    struct qrl_config cfg = {.url = broker.url, .external_loop = 1, .on_event = on_event,
                             .user = &s, .client_name = "loop"};
    struct qrl_error err;
    s.c = qrl_client_new(&cfg, &err);
    assert_non_null(s.c);

    /* Asynchronous request, queued before the socket is even open. */
    assert_int_equal(qrl_request(s.c, "{\"type\":\"ticket.new\"}", on_reply, &s), QRL_OK);
    while (s.replies == 0)
        assert_int_equal(qrl_client_service(s.c, 1000), 0);
    assert_int_equal(s.connected, 1);
    assert_true(s.blocking_refused);
    assert_string_equal(s.reply_type, "ticket");
    assert_int_equal(s.tickets, 1);
    assert_true(strlen(s.ticket) >= 22);

    /* A blocking call from another thread while this one runs the loop. */
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, side_call, &s), 0);
    while (!atomic_load(&s.side_done))
        qrl_client_service(s.c, 1000);
    pthread_join(t, NULL);
    assert_int_equal(s.side_rc, QRL_OK);
    struct qrl_tokens tok;
    assert_int_equal(qrl_get_tokens(s.c, &tok), QRL_OK);
    assert_string_equal(tok.user_name, "alice");
    memset(&tok, 0, sizeof tok);
    qrl_client_free(s.c);
}

static void own_thread_clients_are_not_serviced_by_hand(void **state)
{
    struct qrl_config cfg = {.url = broker.url};
    struct qrl_error err;
    qrl_client *c = qrl_client_new(&cfg, &err);
    assert_non_null(c);
    assert_int_equal(qrl_client_service(c, 0), -1);
    qrl_client_free(c);
}

static void bad_configs(void **state)
{
    struct qrl_error err;
    const char *bad[] = {"ftp://x", "ws://", "ws://host:0/ws", "ws://host:99999/", "http//x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct qrl_config cfg = {.url = bad[i]};
        assert_null(qrl_client_new(&cfg, &err));
        assert_int_equal(err.status, QRL_ERR_INVALID);
    }
    struct qrl_config none = {0};
    assert_null(qrl_client_new(&none, &err));
}

static void json_reader(void **state)
{
    const char *j = "{\"type\":\"sessions\",\"n\":-42,\"ok\":true,\"u\":{\"name\":\"J\\u00e9r\\u00f4me "
                    "\\ud83d\\ude00 \\\"q\\\"\\n\"},\"sessions\":[{\"session_id\":\"a\"},"
                    "{\"session_id\":\"b\",\"kind\":\"web\"}]}";
    size_t n = strlen(j);
    char out[64];
    int64_t v;
    int count;
    assert_int_equal(qrl_json_string(j, n, "type", out, sizeof out), QRL_OK);
    assert_string_equal(out, "sessions");
    assert_int_equal(qrl_json_string(j, n, "u.name", out, sizeof out), QRL_OK);
    assert_string_equal(out, "J\xc3\xa9r\xc3\xb4me \xf0\x9f\x98\x80 \"q\"\n");
    assert_int_equal(qrl_json_string(j, n, "sessions.1.session_id", out, sizeof out), QRL_OK);
    assert_string_equal(out, "b");
    assert_int_equal(qrl_json_count(j, n, "sessions", &count), QRL_OK);
    assert_int_equal(count, 2);
    assert_int_equal(qrl_json_count(j, n, "", &count), QRL_OK);
    assert_int_equal(count, 5);
    assert_int_equal(qrl_json_int(j, n, "n", &v), QRL_OK);
    assert_int_equal(v, -42);
    assert_int_equal(qrl_json_int(j, n, "ok", &v), QRL_OK);
    assert_int_equal(v, 1);
    /* Absent, wrong type, out of range, too long for the buffer. */
    assert_int_equal(qrl_json_string(j, n, "sessions.2.session_id", out, sizeof out), QRL_ERR_INVALID);
    assert_int_equal(qrl_json_string(j, n, "n", out, sizeof out), QRL_ERR_INVALID);
    assert_int_equal(qrl_json_int(j, n, "type", &v), QRL_ERR_INVALID);
    assert_int_equal(qrl_json_string(j, n, "sessions.x", out, sizeof out), QRL_ERR_INVALID);
    assert_int_equal(qrl_json_string(j, n, "u.name", out, 8), QRL_ERR_INVALID);
    /* Not one object, or strings C cannot hold. */
    const char *bad[] = {"[1,2]", "{} {}", "{\"a\":1} x", "{\"a\":", "\"s\"", "",
                         "{\"a\":\"\\u0000\"}", "{\"a\":\"\\ud800\"}", "{\"a\":\"\\q\"}",
                         /* what jsmn alone would take */
                         "{\"a\":\"x\"\"b\":1}", "{\"a\":[1,]}", "{\"a\":01}", "{\"a\":trueX}",
                         "{\"a\":1,}", "{\"a\":\"tab\there\"}", "{a:1}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(qrl_json_string(bad[i], strlen(bad[i]), "a", out, sizeof out),
                         QRL_ERR_INVALID);
    assert_int_equal(qrl_json_int("{\"a\":99999999999999999999}", 26, "a", &v), QRL_ERR_INVALID);
    assert_int_equal(qrl_json_int("{\"a\":1.5}", 9, "a", &v), QRL_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(json_reader),
        cmocka_unit_test(bad_configs),
        cmocka_unit_test(own_thread_clients_are_not_serviced_by_hand),
        cmocka_unit_test(the_callers_loop),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
