/* conn.h — the bench's WebSocket clients: one lws context, many sockets, one
 * message in flight per socket.
 *
 * Every socket of the bench speaks request → reply in lock step (a PC asks
 * for a ticket and waits; a phone scans, then confirms; a session refreshes
 * and waits), so a connection needs room for exactly one outgoing message.
 * Replies and pushes are handed, whole, to the role's handler. */
#ifndef QRLOGIN_BENCH_CONN_H
#define QRLOGIN_BENCH_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msg.h"

struct lws_context;
struct lws;

enum conn_role { ROLE_IDLE_PC, ROLE_PC, ROLE_PHONE, ROLE_SESSION, ROLE_COUNT };
enum conn_state { CS_NEW, CS_CONNECTING, CS_OPEN, CS_READY, CS_DEAD };

/* What the pending outgoing message is: the handlers want the exact moment
 * some of them leave (confirm, refresh) to start a latency clock. */
enum tx_kind { TX_PLAIN, TX_CONFIRM, TX_REFRESH };

struct conn {
    struct lws *wsi;
    enum conn_role role;
    enum conn_state state;
    int idx;          /* index in its role's array */
    void *owner;      /* the flow using this socket, if any */
    char *rx;         /* message assembly when a message spans several reads */
    size_t rx_len, rx_cap;
    char *tx;         /* LWS_PRE headroom + JSON; NULL = nothing to send */
    size_t tx_len;
    enum tx_kind tx_kind;
    uint64_t t_sent;  /* µs (monotonic): when the last TX_REFRESH/TX_CONFIRM left */
    char *token;      /* ROLE_SESSION: its current refresh token */
};

/* What the role modules implement. */
struct conn_hooks {
    void (*established)(struct conn *c);
    void (*message)(struct conn *c, const struct msg *m);
    /* The socket is gone (error or close); c->state is already CS_DEAD. */
    void (*gone)(struct conn *c, const char *why);
    /* The message marked TX_CONFIRM / TX_REFRESH has just been written. */
    void (*sent)(struct conn *c, enum tx_kind kind, uint64_t now_us);
};

struct conn_target {
    char host[256];
    int port;
    char path[256];
    int sources; /* source addresses 127.0.0.2 … 127.0.0.(1+sources) */
};

/* Raises RLIMIT_NOFILE to its hard limit and creates the one client context
 * with room for max_conns sockets. Returns the number of sockets it can hold
 * (may be below max_conns if the hard limit is lower), or -1. */
int conn_init(const struct conn_target *t, int max_conns, int event_loop,
              const struct conn_hooks hooks[ROLE_COUNT]);
/* One turn of the loop (lws_service); <0 when it cannot go on. */
int conn_service(void);
/* Which loop the sockets run on ("libuv (epoll)"), for the report. */
const char *conn_event_loop(void);
void conn_fini(void);
struct lws_context *conn_context(void);

/* Starts connecting c (zeroed except role and idx). The n-th connection goes
 * out from source address number n % sources. 0, or -1 if it failed at once. */
int conn_open(struct conn *c);
/* Queues one message (printf-style JSON) and asks for a WRITEABLE. -1 if the
 * socket is not open or still has an unsent message. */
int conn_send(struct conn *c, enum tx_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Copies s into out as the inside of a JSON string. */
void conn_json_escape(const char *s, char *out, size_t outsz);

int conn_connecting(void); /* sockets whose handshake has not finished */
uint64_t now_us(void);

#endif
