/* redis_link.h — one hiredis asynchronous connection that lives inside the
 * lws event loop (docs/architecture.md, L2) and keeps itself connected.
 *
 * hiredis owns the socket; lws watches a dup() of it, adopted as a raw file
 * on our vhost, and hands readiness back to hiredis. Nothing here ever blocks
 * the loop, except the name lookup inside redisAsyncConnect (getaddrinfo) —
 * give an IP address or a name the local resolver answers at once.
 *
 * Life of a link: start → connecting → (AUTH, SELECT, SCRIPT LOAD for every
 * registered script, PING) → up. Any failure, a disconnect, or a reply that
 * takes longer than REDIS_LINK_TIMEOUT_MS drops the connection: every pending
 * callback runs with reply == NULL, the state callback says "down", and the
 * link reconnects with exponential backoff (100 ms doubling to 2 s) forever.
 *
 * All calls on the loop thread. */
#ifndef QRLOGIN_REDIS_LINK_H
#define QRLOGIN_REDIS_LINK_H

#include <stdbool.h>
#include <stddef.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <libwebsockets.h>

#define REDIS_LINK_PROTOCOL "qrlogin-redis"
#define REDIS_LINK_TIMEOUT_MS 3000

/* Where Redis is: redis://[[user]:password@]host[:port][/db], the form Redis
 * clients share (user and password are Redis 6 ACL AUTH; a password alone is
 * classic AUTH). Port 6379, db 0 by default. A password may also come from
 * QRLOGIN_REDIS_PASSWORD so that it stays out of `ps`. rediss:// (TLS) is
 * refused with a reason: hiredis 0.14, Debian 12's, has no TLS. */
struct redis_target {
    char host[256];
    int port;
    int db;
    char user[128];
    char password[256];
};
int redis_url_parse(const char *url, struct redis_target *t, char *err, size_t errsz);
/* "host:port/db" — never the password (for logs). */
void redis_target_describe(const struct redis_target *t, char *out, size_t outsz);

/* A Lua script run with EVALSHA; its SHA1 is computed locally and the text is
 * SCRIPT LOADed on every (re)connect, so EVALSHA never meets NOSCRIPT unless
 * someone flushes the script cache under us (then the command fails and the
 * caller answers with an error, as for any Redis error). */
struct redis_script {
    const char *name; /* for logs */
    const char *lua;
    char sha[41];     /* filled by redis_link_add_script */
};

struct redis_link;
/* up == true once connected, authenticated, db selected and scripts loaded;
 * false when that connection is lost (not called for failed attempts in a row
 * — only on the transition, and not by redis_link_free). It may send commands;
 * it must not free the link. */
typedef void (*redis_link_state_cb)(struct redis_link *l, bool up, void *arg);

/* name is for logs ("store", "bus", "pubsub"). The link does nothing until
 * redis_link_start. Returns NULL only when out of memory. */
struct redis_link *redis_link_new(const struct redis_target *t, const char *name,
                                  redis_link_state_cb on_state, void *arg);
/* Before redis_link_start. s must outlive the link. */
void redis_link_add_script(struct redis_link *l, struct redis_script *s);
/* Begins connecting at once (it need not wait for lws's PROTOCOL_INIT); vh
 * must offer the REDIS_LINK_PROTOCOL protocol (redis_link_lws_callback), else
 * an error is logged and the link stays down. */
void redis_link_start(struct redis_link *l, struct lws_vhost *vh);
bool redis_link_up(const struct redis_link *l);
/* Disconnects (pending callbacks get NULL; the state callback does not run)
 * and frees. Not from inside one of the link's own callbacks. Free every link
 * before lws_context_destroy: its timers live in the context. */
void redis_link_free(struct redis_link *l);

/* Commands. When the link is up, queue the command and return 0: cb then runs
 * exactly once, with the reply, or with reply == NULL if the connection is
 * lost first. When the link is down, return -1 and cb is never called: the
 * caller answers with an error at once (never silence, never a queue that
 * grows while Redis is away). The reply is hiredis's; it is freed after cb. */
int redis_link_cmd(struct redis_link *l, redisCallbackFn *cb, void *priv, int argc,
                   const char **argv, const size_t *argvlen);
/* EVALSHA s->sha nkeys keys… args…: argv holds the nkeys keys then the args. */
int redis_link_eval(struct redis_link *l, const struct redis_script *s, redisCallbackFn *cb,
                    void *priv, int nkeys, int argc, const char **argv, const size_t *argvlen);

/* Subscribes this link to channel (a link used for this runs nothing else).
 * cb runs for every reply of the subscription: ["subscribe", ch, n] and each
 * ["message", ch, payload]; with NULL when the connection is lost. Call again
 * after every "up": a new connection has no subscriptions. -1 (as when down)
 * if this connection already has channel: hiredis keeps one callback each. */
int redis_link_subscribe(struct redis_link *l, const char *channel, redisCallbackFn *cb,
                         void *priv);

/* The lws protocol callback for REDIS_LINK_PROTOCOL (raw file events). Its
 * type is lws_callback_function so it can go straight into a lws_protocols. */
int redis_link_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                            void *in, size_t len);

/* Reply helpers: a reply that is an error, or NULL, is a failure. */
bool redis_reply_ok(const redisReply *r);
/* r->str as a signed 64-bit decimal (status/string/integer replies). */
int redis_reply_int64(const redisReply *r, long long *out);

#endif
