/* oidc_device.h — the device authorization grant's record (RFC 8628), kept
 * in the store (kind "device", key = hash of the device code) so that the
 * /token poll on any node sees what the phone decided on the ticket's node.
 *
 *   pending ──phone confirms──► approved ──/token──► issued (tokens once)
 *      └─────phone denies─────► denied
 * Past exp the poll answers expired_token, whatever the state. */
#ifndef QRLOGIN_OIDC_DEVICE_H
#define QRLOGIN_OIDC_DEVICE_H

#include <stdbool.h>
#include <stdint.h>

#include "oidc_common.h"
#include "tickets.h"

/* The record outlives the code by this, so a late poll still hears
 * expired_token rather than invalid_grant. */
#define OIDC_DEVICE_LINGER_MS (600 * 1000)

struct device_rec {
    char client_id[CLIENT_ID_MAX + 1];
    char ticket[TICKET_LEN + 1];
    char scope[OIDC_SCOPE_MAX + 1];
    char state[12];          /* pending | approved | denied | issued */
    int64_t exp;             /* ms */
    int64_t interval;        /* s; slow_down adds 5 */
    int64_t last_poll;       /* ms; 0 before the first */
    int64_t user_id;         /* approved and after */
    int64_t auth_time;       /* s */
};

int oidc_device_decode(const struct oauth_rec *r, struct device_rec *d);
/* Into r->value; -1 if it does not fit. */
int oidc_device_encode(const struct device_rec *d, struct oauth_rec *r);

/* The phone confirmed (approve) or denied the device ticket t: the record
 * moves from pending. r (NULL: nothing to answer) is the phone's request,
 * answered once the record says so. */
struct req;
void oidc_device_decided(const struct req *r, const struct ticket *t, int64_t user_id,
                         bool approve);

/* ticket.scan with "user_code" (typed on the phone) instead of "ticket":
 * resolves it and calls back with the ticket id, or NULL (unknown, expired,
 * malformed: one answer, not_found). */
typedef void (*oidc_user_code_cb)(void *arg, const char *ticket);
void oidc_resolve_user_code(const char *user_code, oidc_user_code_cb cb, void *arg);

#endif
