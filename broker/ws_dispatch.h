/* ws_dispatch.h — one complete text message from a socket: strict JSON
 * parse, `id` and `type` checks, then the handler for that type from a table
 * (with whether it needs an authenticated socket). */
#ifndef QRLOGIN_WS_DISPATCH_H
#define QRLOGIN_WS_DISPATCH_H

#include <stddef.h>

#include "hub.h"
#include "json.h"
#include "replies.h"
#include "session_end.h"

/* rate_limited: the socket is over its message rate; the message is parsed
 * only so the rate_limited answer can carry its id. */
void ws_dispatch(struct conn *c, const char *msg, size_t len, bool rate_limited);

/* Handlers: one per message type. Each replies (now or after async steps)
 * through replies.h with r. */
typedef void (*ws_handler)(struct conn *c, const struct req *r, const struct json_doc *d);

/* Connects tickets.c's transitions to their pushes (call once at start). */
void handlers_tickets_init(void);
/* Connects the end of a session (sessions.h) to its session.revoked pushes
 * and the other nodes (call once at start). */
void handlers_sessions_init(void);
/* Another node ended sid (cluster.c's listener): push to its sockets here. */
void handlers_session_ended_elsewhere(const char *sid, enum session_end why);

void handle_ticket_new(struct conn *c, const struct req *r, const struct json_doc *d);
void handle_ticket_cancel(struct conn *c, const struct req *r, const struct json_doc *d);
void handle_ticket_scan(struct conn *c, const struct req *r, const struct json_doc *d);
void handle_ticket_confirm(struct conn *c, const struct req *r, const struct json_doc *d);
void handle_ticket_deny(struct conn *c, const struct req *r, const struct json_doc *d);
/* A phone's scan/confirm/deny forwarded by another node (cluster.c). */
void handle_ticket_forwarded(const char *json, size_t len);
void handle_auth_password(struct conn *c, const struct req *r, const struct json_doc *d);
void handle_auth_token(struct conn *c, const struct req *r, const struct json_doc *d);
void handle_auth_external(struct conn *c, const struct req *r, const struct json_doc *d);
void handle_session_attach(struct conn *c, const struct req *r, const struct json_doc *d);
void handle_token_refresh(struct conn *c, const struct req *r, const struct json_doc *d);
void handle_session_list(struct conn *c, const struct req *r, const struct json_doc *d);
void handle_session_revoke(struct conn *c, const struct req *r, const struct json_doc *d);
void handle_logout(struct conn *c, const struct req *r, const struct json_doc *d);
void handle_logout_all(struct conn *c, const struct req *r, const struct json_doc *d);

#endif
