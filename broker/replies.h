/* replies.h — building replies and pushes for a WebSocket connection.
 *
 * A request is remembered as (connection id, raw JSON of its `id`), never as
 * a `struct lws *`, so a reply can be sent after any async step; if the socket
 * is gone by then, the reply is dropped. */
#ifndef QRLOGIN_REPLIES_H
#define QRLOGIN_REPLIES_H

#include <stdint.h>

#include "errors.h"
#include "json.h"

#define REQ_ID_RAW_MAX 400 /* 64 characters, each possibly a 6-byte \u escape */

struct req {
    uint64_t conn;
    char id_raw[REQ_ID_RAW_MAX + 1]; /* "" = the request had no id */
};

/* Opens a message {"type":type[,"id":…] on w (ready to add members). */
void reply_start(struct jw *w, const struct req *r, const char *type);
/* Closes the object and queues it on r->conn. */
void reply_finish(const struct req *r, struct jw *w);

void reply_error(const struct req *r, enum api_err e, const char *message);
void reply_rate_limited(const struct req *r, int64_t retry_after, const char *message);
/* {"type":"ok"[,"id"][,"ticket":ticket]} */
void reply_ok(const struct req *r, const char *ticket);

/* "user":{"id":"<decimal id>","name":…} — the id as a string, like the
 * JWT's sub. */
void jw_user(struct jw *w, int64_t id, const char *name);

/* reply_finish / push_finish that record the request's latency in a
 * histogram when the frame is written (metrics.h). */
void reply_finish_timed(const struct req *r, struct jw *w, int hist, int64_t t0_us);
void push_finish_timed(uint64_t conn, struct jw *w, int hist, int64_t t0_us);

struct conn;
struct issued;
/* A phone signed in with a new session (auth.password, auth.external): the
 * socket c joins it, and r is answered with the `auth` reply carrying the
 * pair (docs/protocol.md §4). */
void reply_signed_in(struct conn *c, const struct req *r, const struct issued *is);

/* A push (no id) to one connection. */
void push_start(struct jw *w, const char *type);
void push_finish(uint64_t conn, struct jw *w);

#endif
