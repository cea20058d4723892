/* test_client_refresh.c — qrl_access_token()'s refresh against the real
 * broker: ten threads asking at once cause exactly one token.refresh (the
 * broker's own counter says so) and all get the same new token; a caller
 * whose token was rotated meanwhile takes the new one without a request; a
 * second holder of the old pair gets the very same pair from the broker's
 * grace; the auto-refresh ahead of expiry; a refused refresh signs out. */
#include <pthread.h>
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

#define THREADS 10
#define OK_SAMPLE "qrlogin_refresh_total{result=\"ok\"}"
#define GRACE_SAMPLE "qrlogin_refresh_total{result=\"grace\"}"

static struct broker broker;

static int group_setup(void **state)
{
    static const char *const users[] = {"alice", "alice-pw-1", NULL};
    memset(&broker, 0, sizeof broker);
    /* A pair may be refreshed at once after it was issued. */
    broker.args[0] = "--refresh-interval";
    broker.args[1] = "0";
    broker.args[2] = "--access-ttl";
    broker.args[3] = "3";
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

static qrl_client *open_client(struct event_log *log, int auto_refresh)
{
    event_log_init(log);
    struct qrl_config cfg = {.url = broker.ws_url, .on_event = event_log_cb, .user = log,
                             .auto_refresh = auto_refresh};
    struct qrl_error err;
    qrl_client *c = qrl_client_new(&cfg, &err);
    assert_non_null(c);
    assert_int_equal(qrl_client_wait_connected(c, 0, &err), QRL_OK);
    return c;
}

/* A signed-in phone's pair, as an application would have stored it. */
static void sign_in(qrl_client *c, struct qrl_tokens *pair)
{
    struct qrl_error err;
    assert_int_equal(qrl_auth_password(c, "alice", "alice-pw-1", &err), QRL_OK);
    assert_int_equal(qrl_get_tokens(c, pair), QRL_OK);
}

struct asker {
    qrl_client *c;
    pthread_barrier_t *start;
    int rc;
    char token[QRL_TOKEN_MAX];
};

static void *ask(void *arg)
{
    struct asker *a = arg;
    struct qrl_error err;
    pthread_barrier_wait(a->start);
    a->rc = qrl_access_token(a->c, a->token, sizeof a->token, &err);
    return NULL;
}

static void ten_threads_one_refresh(void **state)
{
    struct event_log plog, log, log2;
    qrl_client *phone = open_client(&plog, 0);
    struct qrl_tokens old;
    sign_in(phone, &old);

    /* The stored pair, with its access token as good as expired. */
    qrl_client *c = open_client(&log, 0);
    struct qrl_tokens stored = old;
    stored.expires_in = 0;
    assert_int_equal(qrl_set_tokens(c, &stored), QRL_OK);

    long ok_before = broker_metric(&broker, OK_SAMPLE);
    long grace_before = broker_metric(&broker, GRACE_SAMPLE);
    assert_true(ok_before >= 0 && grace_before >= 0);

    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, THREADS);
    struct asker askers[THREADS];
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        askers[i] = (struct asker){.c = c, .start = &start};
        assert_int_equal(pthread_create(&th[i], NULL, ask, &askers[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&start);

    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(askers[i].rc, QRL_OK);
        assert_string_equal(askers[i].token, askers[0].token);
    }
    assert_string_not_equal(askers[0].token, old.access_token);
    assert_int_equal(qrl_refresh_count(c), 1);
    assert_int_equal(broker_metric(&broker, OK_SAMPLE), ok_before + 1);
    assert_int_equal(broker_metric(&broker, GRACE_SAMPLE), grace_before);
    assert_int_equal(event_wait(&log, QRL_EV_TOKENS, NULL), 0);
    assert_int_equal(broker_http(&broker, "GET", "/api/me", askers[0].token, NULL, NULL, 0), 200);

    /* A caller holding the old token (a 401 on it, say) gets the new one:
     * it was rotated already, so nothing is sent. */
    char again[QRL_TOKEN_MAX];
    struct qrl_error err;
    assert_int_equal(qrl_refresh(c, old.access_token, again, sizeof again, &err), QRL_OK);
    assert_string_equal(again, askers[0].token);
    assert_int_equal(qrl_refresh_count(c), 1);

    /* Another process with the same old pair, within the broker's grace:
     * the very same pair, no second rotation. */
    qrl_client *c2 = open_client(&log2, 0);
    assert_int_equal(qrl_set_tokens(c2, &stored), QRL_OK);
    char replayed[QRL_TOKEN_MAX];
    assert_int_equal(qrl_access_token(c2, replayed, sizeof replayed, &err), QRL_OK);
    assert_string_equal(replayed, askers[0].token);
    struct qrl_tokens a, b;
    assert_int_equal(qrl_get_tokens(c, &a), QRL_OK);
    assert_int_equal(qrl_get_tokens(c2, &b), QRL_OK);
    assert_string_equal(a.refresh_token, b.refresh_token);
    assert_int_equal(broker_metric(&broker, OK_SAMPLE), ok_before + 1);
    assert_int_equal(broker_metric(&broker, GRACE_SAMPLE), grace_before + 1);

    /* logout.all ends every session: the attached sockets are told at
     * once, and the next refresh of the old pair anywhere is refused, the
     * pair forgotten and the application told. */
    assert_int_equal(qrl_logout_all(phone, &err), QRL_OK);
    struct logged_event e;
    assert_int_equal(event_wait(&log, QRL_EV_SESSION_REVOKED, &e), 0);
    assert_string_equal(e.reason, "logout_all");
    assert_int_equal(event_wait(&log, QRL_EV_SIGNED_OUT, NULL), 0);
    assert_int_equal(qrl_get_tokens(c, &a), QRL_ERR_NO_TOKENS);

    struct event_log log3;
    qrl_client *c3 = open_client(&log3, 0);
    assert_int_equal(qrl_set_tokens(c3, &b), QRL_OK);
    assert_int_equal(qrl_refresh(c3, b.access_token, again, sizeof again, &err), QRL_ERR_SERVER);
    assert_string_equal(err.code, "session_revoked");
    assert_int_equal(event_wait(&log3, QRL_EV_SIGNED_OUT, &e), 0);
    assert_string_equal(e.reason, "session_revoked");
    assert_int_equal(qrl_get_tokens(c3, &a), QRL_ERR_NO_TOKENS);
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);

    qrl_client_free(c3);
    qrl_client_free(c2);
    qrl_client_free(c);
    qrl_client_free(phone);
}

/* With auto_refresh the pair is renewed before it expires (the broker's
 * access tokens live 3 s here), with nobody asking. */
static void auto_refresh_ahead_of_expiry(void **state)
{
    struct event_log log;
    qrl_client *c = open_client(&log, 1);
    struct qrl_tokens first, next;
    sign_in(c, &first);
    assert_int_equal(event_wait(&log, QRL_EV_TOKENS, NULL), 0); /* the sign-in's */
    assert_int_equal(event_wait(&log, QRL_EV_TOKENS, NULL), 0); /* the refresh's */
    assert_int_equal(qrl_get_tokens(c, &next), QRL_OK);
    assert_string_not_equal(next.access_token, first.access_token);
    assert_int_equal(qrl_refresh_count(c), 1);
    /* The renewed socket is still signed in as the phone: it can list. */
    char *list = NULL;
    struct qrl_error err;
    assert_int_equal(qrl_session_list(c, &list, &err), QRL_OK);
    qrl_free(list);
    memset(&first, 0, sizeof first);
    memset(&next, 0, sizeof next);
    qrl_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ten_threads_one_refresh),
        cmocka_unit_test(auto_refresh_ahead_of_expiry),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
