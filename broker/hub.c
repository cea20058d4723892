/* hub.c — see hub.h. */
#include "hub.h"

#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "slab.h"
#include "strpool.h"

/* The sockets attached to one session (all of one user). */
struct hub_session {
    struct hnode node;
    char sid[SID_MAX];
    char user_name[USER_NAME_MAX + 1];
    struct conn *head;
};

/* What a conn's identity fields point at while it has none. */
static const char nothing[] = "";

/* How many connections one client IP holds. */

static struct hmap conns;
/* Addresses and User-Agents, one copy each however many sockets share them. */
static struct strpool ips = STRPOOL_INIT(IP_MAX - 1);
static struct strpool agents = STRPOOL_INIT(UA_MAX - 1);
static struct hmap sessions;
static uint64_t next_id = 1;
static uint64_t id_base; /* the cluster node's bits (cluster.h) */
static int64_t idle_timeout;
/* Set by the layers above (server.c wires them); NULL: no ticket layer, one
 * node. */
static bool (*pc_has_ticket)(uint64_t conn_id);
static const struct hub_remote *remote;

void hub_set_ticket_probe(bool (*has_ticket)(uint64_t conn_id)) { pc_has_ticket = has_ticket; }

void hub_set_remote(const struct hub_remote *r) { remote = r; }

static struct hub_session *session_find(const char *sid)
{
    uint64_t h = hmap_hash_bytes(sid, strlen(sid));
    for (struct hnode *n = hmap_chain(&sessions, h); n; n = n->next) {
        struct hub_session *s = hmap_entry(n, struct hub_session, node);
        if (n->hash == h && !strcmp(s->sid, sid))
            return s;
    }
    return NULL;
}

struct conn *hub_conn_new(struct lws *wsi)
{
    struct conn *c = slab_calloc(sizeof *c); /* kept as long as the socket: slab.h */
    if (!c)
        return NULL;
    c->id = id_base | next_id++;
    c->wsi = wsi;
    c->kind = CONN_KIND_ANON;
    c->ip = c->user_name = c->sid = nothing;
    if (hmap_insert(&conns, &c->by_id, hmap_hash_u64(c->id))) {
        slab_free(c);
        return NULL;
    }
    metrics.conns[c->kind]++;
    return c;
}

struct conn *hub_get(uint64_t id)
{
    uint64_t h = hmap_hash_u64(id);
    for (struct hnode *n = hmap_chain(&conns, h); n; n = n->next) {
        struct conn *c = hmap_entry(n, struct conn, by_id);
        if (n->hash == h && c->id == id)
            return c;
    }
    return NULL;
}

size_t hub_count(void) { return conns.count; }

static void session_unlink(struct conn *c)
{
    struct hub_session *s = c->sess;
    if (!s)
        return;
    if (c->sess_prev)
        c->sess_prev->sess_next = c->sess_next;
    else
        s->head = c->sess_next;
    if (c->sess_next)
        c->sess_next->sess_prev = c->sess_prev;
    c->sess_prev = c->sess_next = NULL;
    c->sess = NULL;
    if (!s->head) {
        if (remote)
            remote->session_here(s->sid, false);
        hmap_remove(&sessions, &s->node);
        free(s);
    }
}

void hub_set_id_base(uint64_t base) { id_base = base; }

uint64_t hub_reserve_id(void) { return id_base | next_id++; }

void hub_set_idle_timeout(int64_t secs) { idle_timeout = secs; }

void hub_conn_changed(struct conn *c)
{
    bool has_ticket = pc_has_ticket && pc_has_ticket(c->id);
    enum metric_conn_kind k = c->user_id ? CONN_KIND_AUTHED
                              : has_ticket ? CONN_KIND_PC
                                           : CONN_KIND_ANON;
    metrics.conns[c->kind]--;
    metrics.conns[k]++;
    c->kind = k;

    if (k != CONN_KIND_ANON)
        c->idle_since = 0;
    else if (!c->idle_since)
        c->idle_since = clock_now_ms();
}

void hub_attach(struct conn *c, int64_t user_id, const char *user_name, const char *sid)
{
    struct hub_session *s = session_find(sid);
    if (s && s == c->sess) {
        c->user_id = user_id; /* already on it (a session is one user's) */
        return;
    }
    hub_detach(c);
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s)
            return; /* out of memory: the socket stays signed out */
        snprintf(s->sid, sizeof s->sid, "%s", sid);
        snprintf(s->user_name, sizeof s->user_name, "%s", user_name);
        if (hmap_insert(&sessions, &s->node, hmap_hash_bytes(s->sid, strlen(s->sid)))) {
            free(s);
            return;
        }
        if (remote)
            remote->session_here(sid, true);
    }
    c->user_id = user_id;
    c->user_name = s->user_name;
    c->sid = s->sid;
    c->sess = s;
    c->sess_next = s->head;
    if (s->head)
        s->head->sess_prev = c;
    s->head = c;
}

void hub_detach(struct conn *c)
{
    c->user_id = 0;
    c->user_name = c->sid = nothing; /* before the entry they point into may go */
    session_unlink(c);
}

void hub_each(void (*fn)(struct conn *c, void *arg), void *arg)
{
    for (size_t b = 0; b < conns.nbuckets; b++)
        for (struct hnode *n = conns.buckets[b]; n; n = n->next)
            fn(hmap_entry(n, struct conn, by_id), arg);
}

void hub_each_in_session(const char *sid, void (*fn)(struct conn *c, void *arg), void *arg)
{
    struct hub_session *s = session_find(sid);
    if (!s)
        return;
    /* fn may detach c, which can free s when c was the last one. */
    struct conn *c = s->head;
    while (c) {
        struct conn *next = c->sess_next;
        fn(c, arg);
        c = next;
    }
}

static void queue_free(struct conn *c)
{
    struct out_msg *m = c->q_head;
    while (m) {
        struct out_msg *next = m->next;
        free(m);
        m = next;
    }
    c->q_head = c->q_tail = NULL;
    c->q_count = 0;
    c->q_bytes = 0;
}

int hub_ip_count(const char *ip) { return strpool_count(&ips, ip); }

void hub_set_ip(struct conn *c, const char *ip)
{
    const char *held = strpool_hold(&ips, ip, strlen(ip));
    /* Out of memory: uncounted and unnamed, the limit is best effort then. */
    c->ip = held ? held : nothing;
}

void hub_set_user_agent(struct conn *c, const char *ua, size_t len)
{
    strpool_release(&agents, c->user_agent);
    c->user_agent = len ? strpool_hold(&agents, ua, len) : NULL;
}

void hub_conn_free(struct conn *c)
{
    if (c->ip != nothing)
        strpool_release(&ips, c->ip);
    strpool_release(&agents, c->user_agent);
    hmap_remove(&conns, &c->by_id);
    session_unlink(c);
    queue_free(c);
    metrics.conns[c->kind]--;
    free(c->rx);
    slab_free(c);
}

struct out_msg *hub_msg_alloc(size_t len)
{
    struct out_msg *m = malloc(sizeof *m + LWS_PRE + len + 1);
    if (m) {
        m->next = NULL;
        m->len = len;
        m->hist = -1;
    }
    return m;
}

/* The writer's headroom holds the out_msg header and lws's LWS_PRE bytes, so
 * the finished buffer becomes the queued message without a copy. */
void hub_jw_init(struct jw *w) { jw_init(w, offsetof(struct out_msg, buf) + LWS_PRE); }

struct out_msg *hub_msg_from_jw(struct jw *w)
{
    size_t len;
    char *json = jw_finish(w, &len);
    if (!json)
        return NULL;
    struct out_msg *m = (struct out_msg *)(void *)json;
    m->next = NULL;
    m->len = len;
    m->hist = -1;
    return m;
}

void hub_close(struct conn *c, enum close_code code, const char *reason)
{
    if (c->close_code)
        return;
    c->close_code = code;
    c->close_reason = reason;
    if (c->wsi)
        lws_callback_on_writable(c->wsi);
}

void hub_abort(struct conn *c, enum close_code code, const char *reason)
{
    queue_free(c);
    hub_close(c, code, reason);
}

int hub_send(uint64_t conn_id, struct out_msg *msg)
{
    if (!msg)
        return -1;
    if (remote && remote->is_remote(conn_id)) {
        /* A socket of another node: its node writes it. */
        remote->deliver(conn_id, msg->buf + LWS_PRE, msg->len);
        free(msg);
        return 0;
    }
    struct conn *c = hub_get(conn_id);
    if (!c || c->close_code) {
        free(msg);
        return -1;
    }
    if (c->q_count >= HUB_QUEUE_MAX_MSGS || c->q_bytes + msg->len > HUB_QUEUE_MAX_BYTES) {
        free(msg);
        log_info("conn %llu from %s: send queue full, closing", (unsigned long long)c->id,
                 c->ip);
        hub_abort(c, CLOSE_POLICY, "send queue full");
        return -1;
    }
    msg->next = NULL;
    if (c->q_tail)
        c->q_tail->next = msg;
    else
        c->q_head = msg;
    c->q_tail = msg;
    c->q_count++;
    c->q_bytes += msg->len;
    if (c->wsi)
        lws_callback_on_writable(c->wsi);
    return 0;
}

int hub_send_jw(uint64_t conn_id, struct jw *w) { return hub_send(conn_id, hub_msg_from_jw(w)); }

int hub_send_jw_timed(uint64_t conn_id, struct jw *w, int hist, int64_t t0_us)
{
    struct out_msg *m = hub_msg_from_jw(w);
    if (m) {
        m->hist = hist;
        m->t0_us = t0_us;
    }
    return hub_send(conn_id, m);
}

static void housekeep_one(struct conn *c, int64_t now, int64_t hb_ms)
{
    if (c->close_code || !c->wsi)
        return;
    if (idle_timeout && c->idle_since && now - c->idle_since >= idle_timeout * 1000) {
        log_debug("conn %llu idle, closing", (unsigned long long)c->id);
        hub_close(c, CLOSE_IDLE, "idle");
        return;
    }
    if (!hb_ms)
        return;
    /* Dropped only with a ping outstanding: checks come about once a
     * second, so with a short heartbeat the check before the ping was due
     * and the one after two heartbeats can be neighbours, and a peer never
     * pinged must not be dropped for not answering. */
    if (c->last_ping_at > c->last_pong_at && now - c->last_pong_at >= 2 * hb_ms) {
        /* A peer that does not answer pings will not read a close frame
         * either: drop the connection. */
        log_debug("conn %llu: no pong in two heartbeats, dropping", (unsigned long long)c->id);
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        c->close_code = CLOSE_NO_PONG;
        c->close_reason = "no pong";
        return;
    }
    if (now - c->last_ping_at >= hb_ms) {
        c->last_ping_at = now;
        c->ping_due = true;
        lws_callback_on_writable(c->wsi);
    }
}

void hub_housekeep(int64_t now_ms, int64_t heartbeat_s)
{
    /* Slice k is buckets [k*n/S, (k+1)*n/S) of the table as it is now; a
     * table that doubled between two calls only makes a socket's check come
     * a second early or late once. */
    static unsigned slice;
    size_t nb = conns.nbuckets;
    for (size_t b = nb * slice / HUB_SLICES; b < nb * (slice + 1) / HUB_SLICES; b++)
        for (struct hnode *n = conns.buckets[b]; n; n = n->next)
            housekeep_one(hmap_entry(n, struct conn, by_id), now_ms, heartbeat_s * 1000);
    slice = (slice + 1) % HUB_SLICES;
}

void hub_shutdown(void)
{
    /* Connections are freed by their CLOSED callbacks; this only drops the
     * tables in case the context went away first. */
    hmap_free(&conns);
    hmap_free(&sessions);
    strpool_free(&ips);
    strpool_free(&agents);
}
