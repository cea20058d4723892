/* hub.h — who is connected: WebSocket connections by id, and the sockets
 * attached to each session. Only this file changes those maps
 * (docs/architecture.md, rule 6). Everything that outlives one callback refers
 * to a connection by its 64-bit id and looks it up here; a missing id means the
 * socket is gone and the result is dropped (rule 3).
 *
 * Sending: hub_send() queues a message on the connection and asks lws for a
 * WRITEABLE callback; ws_conn.c writes one message per callback (rule 4). The
 * queue is bounded: a client that does not read is closed, never allowed to
 * grow our memory. */
#ifndef QRLOGIN_HUB_H
#define QRLOGIN_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hmap.h"
#include "json.h"
#include "metrics.h"
#include "store.h"

struct lws;

/* The close codes the broker sends (RFC 6455 §7.4.1), named for why. */
enum close_code {
    CLOSE_NONE = 0,
    CLOSE_IDLE = 1000,          /* no ticket, sign-in or session for --idle-timeout */
    CLOSE_SHUTDOWN = 1001,      /* the broker is stopping */
    CLOSE_NO_PONG = 1006,       /* never sent: the peer vanished, we only drop it */
    CLOSE_POLICY = 1008,        /* over the message rate, or not reading its queue */
    CLOSE_TOO_LARGE = 1009,     /* a message over --max-message */
    CLOSE_INTERNAL = 1011,      /* we could not go on with it (out of memory) */
};

#define HUB_QUEUE_MAX_MSGS 256
#define HUB_QUEUE_MAX_BYTES (256 * 1024)

struct out_msg {
    struct out_msg *next;
    size_t len;   /* payload bytes after the LWS_PRE headroom */
    int hist;     /* enum metric_hist to observe when written, or -1 */
    int64_t t0_us; /* clock_mono_us() when the request that caused it arrived */
    char buf[];   /* LWS_PRE headroom, then payload */
};

/* One per socket, so kept small (docs/architecture.md, "Performance budget"):
 * strings that many sockets share live once (strpool.h, and the per-session
 * entries) and the fields point at them. */
struct conn {
    uint64_t id;
    struct lws *wsi;
    struct hnode by_id;

    const char *ip;            /* set once by hub_set_ip; "" until then */
    const char *user_agent;    /* set by hub_set_user_agent; NULL = none sent */

    /* identity, once auth.*, session.attach or a login made it known */
    int64_t user_id;           /* 0 = not authenticated */
    const char *user_name;     /* the session entry's copy; "" = none */
    const char *sid;           /* attached session ("" = none), likewise */
    struct conn *sess_prev, *sess_next;
    struct hub_session *sess;  /* the attachment list this conn is on */

    /* message assembly (frames may arrive in several chunks) */
    char *rx;

    /* send queue */
    struct out_msg *q_head, *q_tail;
    size_t q_bytes;
    uint16_t q_count;          /* at most HUB_QUEUE_MAX_MSGS */

    bool rx_binary;
    bool ping_due;             /* a PING waits for the next WRITEABLE */
    enum metric_conn_kind kind;

    /* per-socket message rate (token bucket) */
    double bucket;
    int64_t bucket_at;         /* ms */
    int64_t limited_since;     /* ms; start of the current run of refusals */
    int64_t last_refused;      /* ms; the latest refused message */

    /* a close requested from outside this conn's own callback */
    const char *close_reason;  /* a string literal */
    enum close_code close_code;
    uint32_t rx_len;           /* bytes in rx; at most --max-message */

    /* liveness, checked once a second by hub_housekeep(), in slices */
    int64_t idle_since;        /* ms; 0 = has a ticket, a sign-in or a session */
    int64_t last_ping_at;      /* ms */
    int64_t last_pong_at;      /* ms */
};

void hub_shutdown(void);

/* A new connection with a fresh id, indexed. NULL on OOM. */
struct conn *hub_conn_new(struct lws *wsi);
/* Unindexes, detaches, frees its queue and buffers, frees c. */
void hub_conn_free(struct conn *c);
struct conn *hub_get(uint64_t id);
/* A fresh connection id that no socket will ever have: the "PC" of a ticket
 * with no socket behind it (a device grant's, oidc_tickets.h). Messages to
 * it go nowhere. */
uint64_t hub_reserve_id(void);
size_t hub_count(void);

/* Sets the connection's identity and attaches it to sid (detaching from any
 * earlier session). */
void hub_attach(struct conn *c, int64_t user_id, const char *user_name, const char *sid);
/* Forgets identity and session (after a revocation the socket stays open). */
void hub_detach(struct conn *c);

/* Queues a finished message for conn_id, taking ownership of msg (allocated
 * with hub_msg_alloc or hub_msg_from_jw). Returns 0, or -1 if the conn is
 * gone or its queue overflowed (then it is being closed); msg is consumed
 * either way. */
int hub_send(uint64_t conn_id, struct out_msg *msg);
/* Ids of new connections are base | counter (the cluster node's bits). */
void hub_set_id_base(uint64_t base);
struct out_msg *hub_msg_alloc(size_t len);
/* Starts a JSON message whose buffer can be queued without copying. */
void hub_jw_init(struct jw *w);
/* Turns a jw started with hub_jw_init into a message (NULL on OOM). */
struct out_msg *hub_msg_from_jw(struct jw *w);
/* Builds from w and sends to conn_id. hist >= 0: observe the latency from
 * t0_us into that histogram when the message is written to the socket. */
int hub_send_jw(uint64_t conn_id, struct jw *w);
int hub_send_jw_timed(uint64_t conn_id, struct jw *w, int hist, int64_t t0_us);

/* Calls fn for every connection (shutdown). fn must not free c. */
void hub_each(void (*fn)(struct conn *c, void *arg), void *arg);

/* Calls fn for each connection attached to sid. fn may detach c. */
void hub_each_in_session(const char *sid, void (*fn)(struct conn *c, void *arg), void *arg);

/* Asks for the connection to be closed with code/reason (a string literal)
 * at its next WRITEABLE, after anything already queued. */
void hub_close(struct conn *c, enum close_code code, const char *reason);

/* Like hub_close, but first drops whatever is still queued: for a peer
 * that floods or does not read, whose backlog nobody will miss. */
void hub_abort(struct conn *c, enum close_code code, const char *reason);

/* Closes sockets idle past the idle timeout (1000), kills those that did not
 * answer a ping within two heartbeats, and asks for a ping on those due one.
 * A pass over the connections instead of a timer per socket: lws 4.1 keeps
 * its timers in one sorted list, and re-inserting a per-socket timer on every
 * pong walks all of them.
 *
 * Each call looks at one of HUB_SLICES slices of the table; called every
 * 1/HUB_SLICES s, it sees every socket once a second. Sliced so that the
 * pings falling due together leave in small batches: 10k sockets opened in
 * a few seconds come due ~1,300 a second; sent in one batch a second they
 * held the loop for milliseconds, and a login arriving behind them waited
 * (p99 beside 10k sockets 5.5 ms with one batch, 4.6 with 10, 2.5-3 with
 * 50). 50 wakeups a second of ~200 sockets each cost ~0.1 % of a core. */
#define HUB_SLICES 50
void hub_housekeep(int64_t now_ms, int64_t heartbeat_s);

/* After c gained or lost a ticket, an identity or a session: recomputes its
 * kind (for the connections gauge) and starts its idle clock when it has none
 * of the three (docs/protocol.md §6), or stops it. */
void hub_conn_changed(struct conn *c);

/* Open WebSocket connections from one client IP (docs/protocol.md §6). A conn is
 * counted from hub_set_ip until it is freed. */
int hub_ip_count(const char *ip);
void hub_set_ip(struct conn *c, const char *ip);
/* The first len bytes of ua (cut to UA_MAX - 1) as c's User-Agent; len 0 =
 * none. */
void hub_set_user_agent(struct conn *c, const char *ua, size_t len);

/* Idle timeout in seconds for hub_conn_changed (0 = off). */
void hub_set_idle_timeout(int64_t secs);

/* What the hub asks the layers above it, through callbacks they set (the
 * hub includes none of their headers):
 *
 * whether a PC socket holds a live ticket (tickets.c), for its kind and idle
 * clock in hub_conn_changed; */
void hub_set_ticket_probe(bool (*has_ticket)(uint64_t conn_id));

/* and, in a cluster (cluster.c sets it), where sockets of other nodes are:
 * hub_send hands a message for one to deliver(), and the first socket of a
 * session to arrive on this node and the last to leave are reported to
 * session_here(). NULL (the default): every id is a local socket. */
struct hub_remote {
    bool (*is_remote)(uint64_t conn_id);
    void (*deliver)(uint64_t conn_id, const char *frame, size_t len);
    void (*session_here)(const char *sid, bool here);
};
void hub_set_remote(const struct hub_remote *r);

#endif
