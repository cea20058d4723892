/* oidc_tickets.h — tickets that serve an OAuth request instead of a plain
 * PC login (docs/oidc.md). The phone side does not change: it scans,
 * confirms and denies these tickets through the same ticket.* messages.
 *
 *   device grant   a ticket with no PC socket (a reserved connection id),
 *                  a fixed lifetime and no rotation, made by
 *                  POST /device_authorization; its QR is drawn by the device
 *                  from verification_uri_complete. On confirm the device
 *                  record in the store becomes "approved" and /token (any
 *                  node) issues the tokens once.
 *   authorize      a ticket made by the hosted PC page for a pending
 *                  GET /authorize request. On confirm an authorization code
 *                  is stored and the PC's `login` push carries `redirect`
 *                  (the client's redirect_uri with code, state and iss)
 *                  instead of tokens: the tokens go to the client, at /token.
 */
#ifndef QRLOGIN_OIDC_TICKETS_H
#define QRLOGIN_OIDC_TICKETS_H

#include <stdbool.h>

#include "replies.h"
#include "store.h"
#include "ticket_grant.h"

struct ticket;
struct conn;
struct json_doc;

/* The bound user confirmed t (already taken out of tickets.c): finish the
 * OAuth side and answer the phone's request r. ip/user_agent: the PC's, ""
 * for a device. */
void oidc_ticket_confirmed(const struct req *r, const struct ticket *t, const struct user_rec *u,
                           const char *ip, const char *user_agent);
/* The phone denied t (or picked a wrong number: r NULL). Returns true if it
 * took over answering r (then it does, once the denial is recorded). */
bool oidc_ticket_denied(const struct ticket *t, const struct req *r);

/* ticket.new with "authorize": <handle of a pending /authorize request>.
 * Returns false when d has no such member (a plain ticket.new); true when
 * it took the request (and answers it, now or later). */
bool oidc_ticket_new(struct conn *c, const struct req *r, const struct json_doc *d);

/* From handle_ticket.c, for oidc_ticket_new once the request checked out:
 * creates the PC's ticket for grant (owned from here on) and answers r as
 * ticket.new does. */
void handle_ticket_new_grant(uint64_t pc_conn, const struct req *r, const char *client_name,
                             struct ticket_grant *grant);

#endif
