/* oidc_grant_device.c — grant_type=urn:ietf:params:oauth:grant-type:device_code
 * at /token: the device's poll (RFC 8628 §3.4-3.5). Each poll is one
 * compare-and-set of the device record, so two polls racing on two nodes
 * cannot both take the tokens. */
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "clock.h"
#include "oidc_device.h"
#include "oidc_token.h"

enum poll_answer { P_INVALID, P_EXPIRED, P_PENDING, P_SLOW_DOWN, P_DENIED, P_ISSUE };

struct poll {
    struct token_req *tr;
    enum poll_answer answer;
    struct device_rec d;
};

static bool poll_decide(void *arg, struct oauth_rec *r)
{
    struct poll *x = arg;
    struct device_rec *d = &x->d;
    int64_t now = clock_now_ms();
    x->answer = P_INVALID;
    if (oidc_device_decode(r, d) || strcmp(d->client_id, x->tr->client.id))
        return false;
    if (now >= d->exp) {
        x->answer = P_EXPIRED;
        return false;
    }
    if (!strcmp(d->state, "denied")) {
        x->answer = P_DENIED;
        return false;
    }
    if (!strcmp(d->state, "issued"))
        return false; /* the tokens were taken: once */
    if (!strcmp(d->state, "approved")) {
        x->answer = P_ISSUE;
        snprintf(d->state, sizeof d->state, "issued");
    } else if (d->last_poll && now - d->last_poll < d->interval * 1000) {
        /* §3.5: this and every later poll must wait 5 s longer */
        x->answer = P_SLOW_DOWN;
        d->interval += 5;
    } else {
        x->answer = P_PENDING;
    }
    d->last_poll = now;
    return oidc_device_encode(d, r) == 0;
}

static void user_found(void *arg, enum store_rc rc, const struct user_rec *u)
{
    struct poll *x = arg;
    if (rc) {
        token_fail(x->tr, rc == STORE_NOT_FOUND ? 400 : 500,
                   rc == STORE_NOT_FOUND ? "invalid_grant" : "server_error", NULL);
    } else {
        struct token_issue_opts o = {.auth_time = x->d.auth_time};
        snprintf(o.scope, sizeof o.scope, "%s", x->d.scope);
        token_issue(x->tr, u, &o);
    }
    free(x);
}

static void polled(void *arg, enum store_rc rc, bool wrote)
{
    struct poll *x = arg;
    if (rc == STORE_ERROR || rc == STORE_CONFLICT) {
        token_fail(x->tr, 500, "server_error", NULL);
    } else if (rc == STORE_NOT_FOUND) {
        token_fail(x->tr, 400, "invalid_grant", NULL);
    } else {
        switch (x->answer) {
        case P_ISSUE:
            if (wrote) {
                broker.store->ops->user_by_id(broker.store, x->d.user_id, user_found, x);
                return;
            }
            token_fail(x->tr, 500, "server_error", NULL);
            break;
        case P_PENDING:
            token_fail(x->tr, 400, "authorization_pending", NULL);
            break;
        case P_SLOW_DOWN:
            token_fail(x->tr, 400, "slow_down", NULL);
            break;
        case P_DENIED:
            token_fail(x->tr, 400, "access_denied", NULL);
            break;
        case P_EXPIRED:
            token_fail(x->tr, 400, "expired_token", NULL);
            break;
        case P_INVALID:
            token_fail(x->tr, 400, "invalid_grant", NULL);
            break;
        }
    }
    free(x);
}

void oidc_grant_device(struct token_req *tr)
{
    char code[OIDC_CODE_LEN + 2], key[OAUTH_KEY_MAX];
    int n = token_param(tr, "device_code", code, sizeof code);
    if (n == -1) {
        token_fail(tr, 400, "invalid_request", "device_code is missing");
        return;
    }
    if (n != OIDC_CODE_LEN) {
        token_fail(tr, 400, "invalid_grant", NULL);
        return;
    }
    struct poll *x = calloc(1, sizeof *x);
    if (!x) {
        token_fail(tr, 500, "server_error", NULL);
        return;
    }
    x->tr = tr;
    oidc_secret_key(code, key);
    oidc_rec_update("device", key, poll_decide, polled, x);
}
