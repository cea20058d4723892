/* test_client_tls.c — wss:// with the certificates certs/make-dev-certs.sh
 * makes: the client verifies the broker's chain against the CA it is given
 * and signs in; a client given another CA, or none (the system's store), is
 * refused and says why. */
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
static char certs[320], right_ca[400], wrong_ca[400], cert[400], key[400];

static int make_certs(const char *dir)
{
    char script[512];
    const char *src = getenv("QRLOGIN_SOURCE_DIR");
    snprintf(script, sizeof script, "%s/certs/make-dev-certs.sh", src ? src : ".");
    const char *argv[] = {script, dir, NULL};
    return run_cmd(argv, NULL, NULL, 0);
}

static int group_setup(void **state)
{
    static const char *const users[] = {"alice", "alice-pw-1", NULL};
    memset(&broker, 0, sizeof broker);
    if (broker_init(&broker, users))
        return -1;
    snprintf(certs, sizeof certs, "%s/certs", broker.dir);
    char other[320];
    snprintf(other, sizeof other, "%s/other", broker.dir);
    if (make_certs(certs) || make_certs(other))
        return -1;
    snprintf(right_ca, sizeof right_ca, "%s/ca.pem", certs);
    snprintf(wrong_ca, sizeof wrong_ca, "%s/ca.pem", other);
    snprintf(cert, sizeof cert, "%s/server.pem", certs);
    snprintf(key, sizeof key, "%s/server.key", certs);
    broker.tls = 1;
    broker.args[0] = "--tls-cert";
    broker.args[1] = cert;
    broker.args[2] = "--tls-key";
    broker.args[3] = key;
    return broker_start(&broker);
}

static int group_teardown(void **state)
{
    int rc = broker_stop(&broker);
    broker_cleanup(&broker);
    return rc;
}

static void the_test_ca_is_trusted(void **state)
{
    struct event_log log;
    event_log_init(&log);
    assert_non_null(strstr(broker.ws_url, "wss://"));
    struct qrl_config cfg = {.url = broker.ws_url, .ca_file = right_ca, .on_event = event_log_cb,
                             .user = &log};
    struct qrl_error err;
    qrl_client *c = qrl_client_new(&cfg, &err);
    assert_non_null(c);
    assert_int_equal(qrl_client_wait_connected(c, 0, &err), QRL_OK);
    assert_int_equal(qrl_auth_password(c, "alice", "alice-pw-1", &err), QRL_OK);
    struct qrl_tokens t;
    assert_int_equal(qrl_get_tokens(c, &t), QRL_OK);
    assert_string_equal(t.user_name, "alice");
    memset(&t, 0, sizeof t);
    qrl_client_free(c);
}

static void refused(const char *ca)
{
    struct event_log log;
    event_log_init(&log);
    struct qrl_config cfg = {.url = broker.ws_url, .ca_file = ca, .on_event = event_log_cb,
                             .user = &log};
    struct qrl_error err;
    qrl_client *c = qrl_client_new(&cfg, &err);
    assert_non_null(c);
    assert_int_equal(qrl_client_wait_connected(c, 0, &err), QRL_ERR_CONNECT);
    struct logged_event e;
    assert_int_equal(event_wait(&log, QRL_EV_CONNECT_FAILED, &e), 0);
    assert_non_null(strstr(e.reason, "certificate was refused"));
    assert_non_null(strstr(err.message, "certificate was refused"));
    assert_int_equal(event_count(&log, QRL_EV_CONNECTED), 0);
    assert_false(qrl_client_connected(c));
    qrl_client_free(c);
}

static void another_ca_is_refused(void **state)
{
    refused(wrong_ca);
}

static void the_system_store_does_not_know_it(void **state)
{
    refused(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_test_ca_is_trusted),
        cmocka_unit_test(another_ca_is_refused),
        cmocka_unit_test(the_system_store_does_not_know_it),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
