/* auth_limits.h — failed guesses, 5 in 5 minutes → rate_limited
 * (docs/protocol.md §6): passwords per user name as typed, and device-grant
 * user codes typed on the phone per signed-in user (RFC 8628 §5.1: a user
 * code is short enough to guess). The two are counted apart, so a user name
 * can never stand for somebody's user codes. On one node they are kept in
 * memory, bounded in size; nodes of a cluster count them together in Redis
 * (cluster.h), so spreading guesses over nodes buys an attacker nothing. */
#ifndef QRLOGIN_AUTH_LIMITS_H
#define QRLOGIN_AUTH_LIMITS_H

#include <stdint.h>

#define AUTH_MAX_FAILURES 5
#define AUTH_WINDOW_MS (5 * 60 * 1000)

/* wait: 0 if name may try now, else seconds until it may (retry_after);
 * -1 if the cluster's count could not be read (answer with an error). Runs
 * inline on one node, when Redis answers in a cluster. */
enum auth_limit {
    AUTH_LIMIT_PASSWORD,  /* name: the user name as typed */
    AUTH_LIMIT_USER_CODE, /* name: the user id, in decimal */
};

typedef void (*auth_limits_cb)(void *arg, int64_t wait);
void auth_limits_check(enum auth_limit what, const char *name, int64_t now_ms, auth_limits_cb cb,
                       void *arg);
void auth_limits_fail(enum auth_limit what, const char *name, int64_t now_ms);
void auth_limits_shutdown(void);

#endif
