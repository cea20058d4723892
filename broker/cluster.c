/* cluster.c — see cluster.h. Two Redis connections per node besides the
 * store's: "bus" runs commands (ticket places, session presence, PUBLISH) and
 * "sub" only listens on this node's channel (a subscribed connection can run
 * nothing else).
 *
 * Messages on a node channel, one per PUBLISH, first byte says what:
 *   D<conn> <frame>   write frame to local socket conn
 *   R<sid> <reason>   session sid was revoked: tell its local sockets
 *   O<json>           a phone's ticket request for a ticket whose PC is here
 * Redis delivers one publisher's messages to a subscriber in order, so
 * replies and pushes to a socket keep their order across nodes. */
#include "cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "broker.h"
#include "hub.h"
#include "log.h"
#include "redis_link.h"
#include "rng.h"

#define NODE_BITS 22
#define CHANNEL_PREFIX "qrl:node:"
#define TICKET_KEY "qrl:ticket:"
#define SESSNODES_KEY "qrl:sessnodes:"

static struct {
    bool on;
    uint32_t node;
    char channel[32];
    struct redis_link *bus, *sub;
    bool subscribed;
} cl;

static struct cluster_listeners listeners;

void cluster_set_listeners(const struct cluster_listeners *l) { listeners = *l; }

/* KEYS[1] the session's node set; ARGV[1] the message; ARGV[2] our node.
 * One round trip: every node holding the session but us gets the message. */
static struct redis_script fanout_script = {
    .name = "fanout",
    .lua = "local n = 0\n"
           "for _, node in ipairs(redis.call('SMEMBERS', KEYS[1])) do\n"
           "  if node ~= ARGV[2] then\n"
           "    n = n + redis.call('PUBLISH', '" CHANNEL_PREFIX "' .. node, ARGV[1])\n"
           "  end\n"
           "end\n"
           "return n\n",
};

/* KEYS[1] a user name's failures (zset, score = ms); ARGV now, window, max.
 * Returns the score of the max-th most recent failure in the window, or 0. */
static struct redis_script auth_check_script = {
    .name = "auth_check",
    .lua = "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (tonumber(ARGV[1]) - "
           "tonumber(ARGV[2])))\n"
           "local max = tonumber(ARGV[3])\n"
           "if redis.call('ZCARD', KEYS[1]) < max then return 0 end\n"
           "local e = redis.call('ZRANGE', KEYS[1], -max, -max, 'WITHSCORES')\n"
           "return e[2]\n",
};

/* KEYS[1] as above; ARGV now, window, max, a unique member. Keeps the newest
 * max failures, for the window. */
static struct redis_script auth_fail_script = {
    .name = "auth_fail",
    .lua = "redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])\n"
           "redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(tonumber(ARGV[3]) + 1))\n"
           "redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
           "return 1\n",
};

bool cluster_on(void) { return cl.on; }
uint32_t cluster_node(void) { return cl.node; }

bool cluster_healthy(void)
{
    return !cl.on || (redis_link_up(cl.bus) && redis_link_up(cl.sub) && cl.subscribed);
}

bool cluster_is_remote(uint64_t conn) { return cl.on && cluster_node_of(conn) != cl.node; }

static void node_hex(uint32_t node, char out[8]) { snprintf(out, 8, "%06x", node); }

/* ---- incoming ---- */

static void on_deliver(const char *p, size_t len)
{
    char *end;
    unsigned long long conn = strtoull(p, &end, 10);
    if (end == p || (size_t)(end - p) >= len || *end != ' ' || cluster_is_remote(conn))
        return;
    size_t off = (size_t)(end - p) + 1;
    struct out_msg *m = hub_msg_alloc(len - off);
    if (!m)
        return;
    memcpy(m->buf + LWS_PRE, p + off, len - off);
    m->buf[LWS_PRE + len - off] = '\0';
    hub_send(conn, m);
}

static void on_revoked(const char *p, size_t len)
{
    char sid[SID_MAX];
    const char *sp = memchr(p, ' ', len);
    size_t sl = sp ? (size_t)(sp - p) : 0;
    if (!sp || !sl || sl >= sizeof sid)
        return;
    enum session_end why = session_end_parse(sp + 1, len - sl - 1);
    if (why == SESSION_LIVE)
        return; /* not a reason we know (a newer node's): the tokens are refused anyway */
    memcpy(sid, p, sl);
    sid[sl] = '\0';
    if (listeners.session_ended)
        listeners.session_ended(sid, why);
}

static void on_message(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac, (void)priv;
    redisReply *r = reply;
    if (!r) {
        cl.subscribed = false;
        return;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
        r->element[0]->type != REDIS_REPLY_STRING)
        return;
    const char *kind = r->element[0]->str;
    if (!strcmp(kind, "subscribe")) {
        cl.subscribed = true;
        log_info("cluster: node %s listening on %s", cl.channel + sizeof CHANNEL_PREFIX - 1,
                 cl.channel);
        return;
    }
    redisReply *payload = r->element[2];
    if (strcmp(kind, "message") || payload->type != REDIS_REPLY_STRING || payload->len < 1)
        return;
    const char *p = payload->str + 1;
    size_t len = payload->len - 1;
    switch (payload->str[0]) {
    case 'D':
        on_deliver(p, len);
        break;
    case 'R':
        on_revoked(p, len);
        break;
    case 'O':
        if (listeners.ticket_request)
            listeners.ticket_request(p, len);
        break;
    default:
        log_warn("cluster: unknown message kind on %s", cl.channel);
    }
}

static void on_sub_state(struct redis_link *l, bool up, void *arg)
{
    (void)arg;
    cl.subscribed = false;
    if (up && redis_link_subscribe(l, cl.channel, on_message, NULL))
        log_warn("cluster: could not subscribe to %s", cl.channel);
}

/* ---- outgoing ---- */

static void ignore_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac, (void)priv;
    if (!redis_reply_ok(reply))
        log_debug("cluster: a fire-and-forget command failed");
}

static int publish(uint32_t node, const char *kind, const char *a, size_t alen, const char *b,
                   size_t blen, redisCallbackFn *cb, void *priv)
{
    char channel[32], hex[8];
    node_hex(node, hex);
    snprintf(channel, sizeof channel, CHANNEL_PREFIX "%s", hex);
    size_t len = 1 + alen + blen;
    char *msg = malloc(len);
    if (!msg)
        return -1;
    msg[0] = kind[0];
    memcpy(msg + 1, a, alen);
    if (blen)
        memcpy(msg + 1 + alen, b, blen);
    const char *argv[] = {"PUBLISH", channel, msg};
    size_t lens[] = {7, strlen(channel), len};
    int rc = redis_link_cmd(cl.bus, cb, priv, 3, argv, lens);
    free(msg); /* hiredis formatted the command already */
    return rc;
}

void cluster_deliver(uint64_t conn, const char *frame, size_t len)
{
    char head[24];
    int n = snprintf(head, sizeof head, "%llu ", (unsigned long long)conn);
    if (publish(cluster_node_of(conn), "D", head, (size_t)n, frame, len, ignore_reply, NULL))
        log_warn("cluster: Redis is away, a message to a socket on node %06x was dropped",
                 cluster_node_of(conn));
}

struct placed {
    void (*done)(void *arg, bool ok);
    void *arg;
};

static void on_placed(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    struct placed *p = priv;
    p->done(p->arg, redis_reply_ok(reply));
    free(p);
}

void cluster_ticket_place(const char *ticket, int64_t ttl_ms, void (*done)(void *arg, bool ok),
                          void *arg)
{
    if (!cl.on) {
        done(arg, true);
        return;
    }
    struct placed *p = malloc(sizeof *p);
    char key[64], hex[8], px[24];
    snprintf(key, sizeof key, TICKET_KEY "%s", ticket);
    node_hex(cl.node, hex);
    /* A scan restarts a ticket's clock once: it can live two ttls. */
    snprintf(px, sizeof px, "%lld", (long long)ttl_ms * 2);
    const char *argv[] = {"SET", key, hex, "PX", px};
    if (!p) {
        done(arg, false);
        return;
    }
    p->done = done;
    p->arg = arg;
    if (redis_link_cmd(cl.bus, on_placed, p, 5, argv, NULL)) {
        free(p);
        done(arg, false);
    }
}

struct locate {
    void (*cb)(void *arg, enum cluster_where w, uint32_t node);
    void *arg;
};

static void on_located(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    struct locate *q = priv;
    redisReply *r = reply;
    if (!redis_reply_ok(r)) {
        q->cb(q->arg, CLUSTER_ERROR, 0);
    } else if (r->type != REDIS_REPLY_STRING) {
        q->cb(q->arg, CLUSTER_UNKNOWN, 0);
    } else {
        char *end;
        unsigned long node = strtoul(r->str, &end, 16);
        if (end == r->str || *end || node >= (1ul << NODE_BITS))
            q->cb(q->arg, CLUSTER_UNKNOWN, 0);
        else
            q->cb(q->arg, node == cl.node ? CLUSTER_HERE : CLUSTER_ELSEWHERE, (uint32_t)node);
    }
    free(q);
}

void cluster_ticket_locate(const char *ticket,
                           void (*cb)(void *arg, enum cluster_where w, uint32_t node), void *arg)
{
    if (!cl.on) {
        cb(arg, CLUSTER_HERE, 0);
        return;
    }
    struct locate *q = malloc(sizeof *q);
    char key[64];
    snprintf(key, sizeof key, TICKET_KEY "%s", ticket);
    const char *argv[] = {"GET", key};
    if (!q) {
        cb(arg, CLUSTER_ERROR, 0);
        return;
    }
    q->cb = cb;
    q->arg = arg;
    if (redis_link_cmd(cl.bus, on_located, q, 2, argv, NULL)) {
        free(q);
        cb(arg, CLUSTER_ERROR, 0);
    }
}

struct forwarded {
    void (*cb)(void *arg, long received);
    void *arg;
};

static void on_forwarded(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    struct forwarded *f = priv;
    redisReply *r = reply;
    f->cb(f->arg, redis_reply_ok(r) && r->type == REDIS_REPLY_INTEGER ? (long)r->integer : -1);
    free(f);
}

void cluster_forward(uint32_t node, const char *json, size_t len,
                     void (*cb)(void *arg, long received), void *arg)
{
    struct forwarded *f = malloc(sizeof *f);
    if (!f) {
        cb(arg, -1);
        return;
    }
    f->cb = cb;
    f->arg = arg;
    if (publish(node, "O", json, len, NULL, 0, on_forwarded, f)) {
        free(f);
        cb(arg, -1);
    }
}

struct auth_q {
    void (*cb)(void *arg, int rc, int64_t nth_newest);
    void *arg;
};

static void on_auth_checked(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    struct auth_q *q = priv;
    long long at = 0;
    int rc = redis_reply_ok(reply) && !redis_reply_int64(reply, &at) ? 0 : -1;
    q->cb(q->arg, rc, rc ? 0 : at);
    free(q);
}

/* The key holds the name as sent (binary-safe: argv with lengths). */
static size_t auth_key(char *key, size_t keysz, const char *space, const char *name)
{
    return (size_t)snprintf(key, keysz, "%s%s", space, name);
}

void cluster_auth_failures(const char *space, const char *name, int64_t now_ms, int64_t window_ms,
                           int max, void (*cb)(void *arg, int rc, int64_t nth_newest), void *arg)
{
    char key[96], now[24], win[24], mx[12];
    size_t klen = auth_key(key, sizeof key, space, name);
    snprintf(now, sizeof now, "%lld", (long long)now_ms);
    snprintf(win, sizeof win, "%lld", (long long)window_ms);
    snprintf(mx, sizeof mx, "%d", max);
    const char *argv[] = {key, now, win, mx};
    size_t lens[] = {klen, strlen(now), strlen(win), strlen(mx)};
    struct auth_q *q = malloc(sizeof *q);
    if (!q) {
        cb(arg, -1, 0);
        return;
    }
    *q = (struct auth_q){cb, arg};
    if (redis_link_eval(cl.bus, &auth_check_script, on_auth_checked, q, 1, 4, argv, lens)) {
        free(q);
        cb(arg, -1, 0);
    }
}

void cluster_auth_failure_add(const char *space, const char *name, int64_t now_ms,
                              int64_t window_ms, int max)
{
    static unsigned long long seq;
    char key[96], now[24], win[24], mx[12], member[64];
    size_t klen = auth_key(key, sizeof key, space, name);
    snprintf(now, sizeof now, "%lld", (long long)now_ms);
    snprintf(win, sizeof win, "%lld", (long long)window_ms);
    snprintf(mx, sizeof mx, "%d", max);
    snprintf(member, sizeof member, "%lld-%06x-%llu", (long long)now_ms, cl.node, ++seq);
    const char *argv[] = {key, now, win, mx, member};
    size_t lens[] = {klen, strlen(now), strlen(win), strlen(mx), strlen(member)};
    if (redis_link_eval(cl.bus, &auth_fail_script, ignore_reply, NULL, 1, 5, argv, lens))
        log_warn("cluster: Redis is away, a failure (%s) was not counted", space);
}

void cluster_session_here(const char *sid, bool here)
{
    if (!cl.on)
        return;
    char key[64], hex[8], ttl_s[24];
    snprintf(key, sizeof key, SESSNODES_KEY "%s", sid);
    node_hex(cl.node, hex);
    /* Only an address book: no session outlives session_max_age, so neither
     * need its set (a node that died leaves its id here until then; a
     * publish to its channel reaches nobody). */
    snprintf(ttl_s, sizeof ttl_s, "%lld", (long long)broker.cfg.session_max_age);
    const char *add[] = {"SADD", key, hex};
    const char *rem[] = {"SREM", key, hex};
    const char *ttl[] = {"EXPIRE", key, ttl_s};
    /* Presence is best effort: if Redis is away the revocation of this
     * session will not reach this node's sockets by push, but every token
     * they hold is refused by the store all the same. */
    if (redis_link_cmd(cl.bus, ignore_reply, NULL, 3, here ? add : rem, NULL) == 0 && here)
        redis_link_cmd(cl.bus, ignore_reply, NULL, 3, ttl, NULL);
}

void cluster_announce_revoked(const char *sid, enum session_end why)
{
    if (!cl.on)
        return;
    char key[64], hex[8], msg[SID_MAX + 32];
    snprintf(key, sizeof key, SESSNODES_KEY "%s", sid);
    node_hex(cl.node, hex);
    int n = snprintf(msg, sizeof msg, "R%s %s", sid, session_end_name(why));
    const char *argv[] = {key, msg, hex};
    size_t lens[] = {strlen(key), (size_t)n, strlen(hex)};
    if (redis_link_eval(cl.bus, &fanout_script, ignore_reply, NULL, 1, 3, argv, lens))
        log_warn("cluster: Redis is away, session %s revoked here only (its tokens are refused "
                 "everywhere)", sid);
}

/* ---- life ---- */

int cluster_init(const char *store_url, char *err, size_t errsz)
{
    if (!broker.cfg.cluster)
        return 0;
    struct redis_target t;
    if (redis_url_parse(store_url, &t, err, errsz))
        return -1;
    uint32_t node = 0;
    while (!node) {
        if (rng_bytes(&node, sizeof node)) {
            snprintf(err, errsz, "no randomness for the node number");
            return -1;
        }
        node &= (1u << NODE_BITS) - 1;
    }
    char hex[8];
    node_hex(node, hex);
    snprintf(cl.channel, sizeof cl.channel, CHANNEL_PREFIX "%s", hex);
    cl.node = node;
    cl.bus = redis_link_new(&t, "bus", NULL, NULL);
    cl.sub = redis_link_new(&t, "pubsub", on_sub_state, NULL);
    if (!cl.bus || !cl.sub) {
        snprintf(err, errsz, "out of memory");
        cluster_shutdown();
        return -1;
    }
    redis_link_add_script(cl.bus, &fanout_script);
    redis_link_add_script(cl.bus, &auth_check_script);
    redis_link_add_script(cl.bus, &auth_fail_script);
    hub_set_id_base((uint64_t)node << CLUSTER_NODE_SHIFT);
    static const struct hub_remote remote = {
        .is_remote = cluster_is_remote,
        .deliver = cluster_deliver,
        .session_here = cluster_session_here,
    };
    hub_set_remote(&remote);
    cl.on = true;
    return 0;
}

void cluster_start(struct lws_vhost *vh)
{
    if (!cl.on)
        return;
    redis_link_start(cl.bus, vh);
    redis_link_start(cl.sub, vh);
}

void cluster_shutdown(void)
{
    if (cl.on)
        hub_set_remote(NULL);
    if (cl.bus)
        redis_link_free(cl.bus);
    if (cl.sub)
        redis_link_free(cl.sub);
    memset(&cl, 0, sizeof cl);
}
