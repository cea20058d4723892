/* broker_fixture.h — the real qrlogin-broker for the client library's tests:
 * started on a free loopback port with a throw-away data dir and users added
 * with `qrlogin-broker useradd`, like tests/blackbox/harness.mjs does.
 *
 * The binary is $QRLOGIN_BROKER (CTest sets it to the one built in this
 * tree). The broker's stderr goes to <dir>/broker.log, printed when a start
 * fails. */
#ifndef QRL_TEST_BROKER_FIXTURE_H
#define QRL_TEST_BROKER_FIXTURE_H

#include <stddef.h>
#include <sys/types.h>

#define FIXTURE_MAX_ARGS 24

struct broker {
    pid_t pid;
    int port;
    int tls;
    char dir[256];
    char url[96];    /* http(s)://127.0.0.1:PORT */
    char ws_url[96]; /* ws(s)://127.0.0.1:PORT/ws */
    const char *args[FIXTURE_MAX_ARGS]; /* extra serve options, NULL-ended */
};

/* Makes the data dir and adds each user (NULL-ended pairs name, password).
 * Returns 0, or -1 with a message on stderr. */
int broker_init(struct broker *b, const char *const *users);
/* Starts serving (on a fresh port, or the previous one after a stop) and
 * waits until it logs that it listens. */
int broker_start(struct broker *b);
/* SIGTERM and wait: the exit status (0 expected), -1 if it died by a signal. */
int broker_stop(struct broker *b);
/* Stops if running and removes the data dir. */
void broker_cleanup(struct broker *b);

/* A plain-HTTP request to the broker; the status code (-1: no answer). The
 * body (NUL-terminated, cut to size) in body when not NULL. */
int broker_http(const struct broker *b, const char *method, const char *path,
                const char *bearer, const char *form, char *body, size_t size);
/* The value of one sample of /metrics ("name{label=\"x\"}"), -1 if absent. */
long broker_metric(const struct broker *b, const char *sample);

/* Runs a command with stdin from `input` (may be NULL), waits; its exit
 * status, stdout in out (may be NULL). argv[0] is a path. */
int run_cmd(const char *const *argv, const char *input, char *out, size_t size);

#endif
