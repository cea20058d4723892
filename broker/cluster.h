/* cluster.h — several broker nodes on one Redis (docs/cluster.md).
 *
 * With the Redis store every process is a node with a random 22-bit number.
 * Connection ids carry it in their top bits (hub.c), so a reply or a push for
 * a socket on another node is recognised by its id alone and published to
 * that node's channel, qrl:node:<hex>; each node subscribes only to its own.
 *
 *   - A ticket lives on the node that holds its PC's socket (tickets.c, as on
 *     one node); Redis records which node that is (qrl:ticket:<id>, expiring
 *     with the ticket). A phone's scan/confirm/deny that lands on another node
 *     is forwarded there and runs against the one copy of the ticket, so each
 *     transition is decided in one place; replies come back by connection id.
 *   - A session records the nodes that hold its sockets (qrl:sessnodes:<sid>);
 *     a revocation is published to those nodes only.
 *
 * Without the Redis store every call here is a cheap no-op: one node. */
#ifndef QRLOGIN_CLUSTER_H
#define QRLOGIN_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "session_end.h"

struct lws_vhost;

/* What arrives from other nodes for the layers above, which set these
 * (server.c wires them) so that this file includes none of their headers. */
struct cluster_listeners {
    /* another node ended sid: tell its sockets here */
    void (*session_ended)(const char *sid, enum session_end why);
    /* a phone's scan/confirm/deny (JSON) for a ticket whose PC is here */
    void (*ticket_request)(const char *json, size_t len);
};
void cluster_set_listeners(const struct cluster_listeners *l);

/* With broker.cfg.cluster (config.c decides it), makes this process a node:
 * picks the node number, sets hub's connection id base and its remote
 * hooks; store_url is the Redis to meet the others on. A no-op on one node.
 * 0, or -1 with err. */
int cluster_init(const char *store_url, char *err, size_t errsz);
/* Connects (after the lws context exists). */
void cluster_start(struct lws_vhost *vh);
void cluster_shutdown(void);

bool cluster_on(void);
/* Connected and subscribed (always true when not a cluster). */
bool cluster_healthy(void);
uint32_t cluster_node(void);

/* Records that ticket lives here for ttl_ms; done(arg, ok) runs once Redis has
 * it (at once with ok when not a cluster), so the PC is shown a code only when
 * every node can find it. */
void cluster_ticket_place(const char *ticket, int64_t ttl_ms, void (*done)(void *arg, bool ok),
                          void *arg);

enum cluster_where { CLUSTER_HERE, CLUSTER_ELSEWHERE, CLUSTER_UNKNOWN, CLUSTER_ERROR };
/* Where the ticket's PC is: here (also when not a cluster), on node *node, no
 * node has it, or Redis could not say. */
void cluster_ticket_locate(const char *ticket,
                           void (*cb)(void *arg, enum cluster_where w, uint32_t node), void *arg);

/* Publishes a forwarded phone request (JSON) to node; cb gets how many nodes
 * received it (0: that node is gone) or -1 if Redis could not take it. */
void cluster_forward(uint32_t node, const char *json, size_t len,
                     void (*cb)(void *arg, long received), void *arg);

/* The node of a connection id (hub.c puts it in the top bits). */
#define CLUSTER_NODE_SHIFT 40
static inline uint32_t cluster_node_of(uint64_t conn) { return (uint32_t)(conn >> CLUSTER_NODE_SHIFT); }
/* Whether conn is a socket of another node. */
bool cluster_is_remote(uint64_t conn);
/* Sends one frame to a socket of another node (hub_send does this for ids
 * that are not ours). Fire and forget: order is kept per pair of nodes. */
void cluster_deliver(uint64_t conn, const char *frame, size_t len);

/* Failures counted by every node together (auth_limits.c), under the Redis
 * key `space` + name (space: "qrl:authfail:" for passwords by user name, ...):
 * the time (ms) of the max-th most recent failure inside the window, or 0 if
 * there are fewer; rc -1 if Redis could not say. */
void cluster_auth_failures(const char *space, const char *name, int64_t now_ms, int64_t window_ms,
                           int max, void (*cb)(void *arg, int rc, int64_t nth_newest), void *arg);
void cluster_auth_failure_add(const char *space, const char *name, int64_t now_ms,
                              int64_t window_ms, int max);

/* A session's sockets on this node: the first arrived / the last left. */
void cluster_session_here(const char *sid, bool here);
/* Tells the other nodes holding sockets of sid that it was revoked. */
void cluster_announce_revoked(const char *sid, enum session_end why);

#endif
