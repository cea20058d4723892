/* handle_ticket.c — the PC's ticket.new / ticket.cancel and the phone's
 * ticket.scan / ticket.confirm / ticket.deny (docs/protocol.md §3–4), plus the
 * pushes for every ticket transition. The state machine itself is
 * tickets.c's. */
#include <stdlib.h>
#include <string.h>

#include "auth_limits.h"
#include "broker.h"
#include "clock.h"
#include "cluster.h"
#include "hub.h"
#include "log.h"
#include "login_presign.h"
#include "metrics.h"
#include "oidc_device.h"
#include "oidc_tickets.h"
#include "qr.h"
#include "sessions.h"
#include "tickets.h"
#include "workers.h"
#include "ws_dispatch.h"

static void push_simple(uint64_t conn, const char *type, const char *ticket)
{
    struct jw w;
    push_start(&w, type);
    jw_kv_str(&w, "ticket", ticket);
    push_finish(conn, &w);
}

static void pc_changed(uint64_t pc_conn)
{
    struct conn *pc = hub_get(pc_conn);
    if (pc)
        hub_conn_changed(pc);
}

/* Drawing a QR code costs ~40 µs for a login URL and more for a long one: at
 * the edge of rule 1's 50 µs (docs/architecture.md), on the broker's busiest
 * thread. It is drawn on the worker pool, already quoted as a JSON string (escaping it byte
 * by byte was ~7 % of the loop's time at full load), and the `ticket` message
 * — reply or rotation push — is sent when it is ready. The SVG goes straight into the message and
 * is freed: no copy is kept per waiting PC. */
struct qr_job {
    struct work work;
    uint64_t pc_conn;
    bool is_reply;  /* reply to ticket.new (r), else a rotation push */
    struct req r;
    char ticket[TICKET_LEN + 1];
    char code[3];
    int64_t expires_at;     /* ms, of the ticket when queued */
    char *svg_json; /* the SVG as a JSON string literal, quotes included */
    size_t svg_json_len;
    bool unplaced; /* the cluster could not record where the ticket lives */
    char url[];     /* sized to fit: a job lives only while its code is drawn,
                     * but hundreds at once after a burst of ticket.new leave
                     * holes in the heap (heap_trim.h) */
};

static void qr_run(struct work *w)
{
    struct qr_job *j = (struct qr_job *)w;
    size_t len;
    char *svg = qr_svg(j->url, &len);
    if (svg) {
        struct jw q;
        jw_init(&q, 0);
        jw_strn(&q, svg, len);
        j->svg_json = jw_finish(&q, &j->svg_json_len);
        free(svg);
    }
}

static void qr_done(struct work *w)
{
    struct qr_job *j = (struct qr_job *)w;
    bool pc_here = hub_get(j->pc_conn) != NULL;
    const struct ticket *t = tickets_of_pc(j->pc_conn);
    bool current = t && !strcmp(t->id, j->ticket);
    char p[7];
    if (!pc_here) {
        /* the PC left meanwhile */
    } else if (!j->is_reply && !current) {
        /* a rotation overtaken by a cancel, an expiry or a newer ticket */
    } else if (!j->svg_json) {
        log_error("ticket %s…: %s", log_ticket_prefix(j->ticket, p),
                  j->unplaced ? "Redis did not record it" : "QR encoding failed");
        if (current)
            tickets_cancel_pc(j->pc_conn);
        if (j->is_reply)
            reply_error(&j->r, E_INTERNAL,
                        j->unplaced ? "the store is unavailable" : "could not draw the QR code");
        else
            push_simple(j->pc_conn, "ticket.expired", j->ticket);
        pc_changed(j->pc_conn);
    } else {
        /* A reply goes out even if a newer ticket.new already replaced this
         * ticket: each request gets its answer, in order, and the last one
         * holds the live code. */
        struct jw m;
        if (j->is_reply) {
            reply_start(&m, &j->r, "ticket");
        } else {
            push_start(&m, "ticket");
            jw_kv_bool(&m, "rotated", true);
        }
        int64_t left = j->expires_at - clock_now_ms();
        jw_kv_str(&m, "ticket", j->ticket);
        jw_kv_str(&m, "url", j->url);
        jw_key(&m, "qr_svg");
        jw_raw(&m, j->svg_json, j->svg_json_len);
        jw_kv_int(&m, "expires_in", current ? tickets_expires_in(t, clock_now_ms())
                                            : (left > 0 ? (left + 999) / 1000 : 0));
        if (broker.cfg.number_match)
            jw_kv_str(&m, "code", j->code);
        if (j->is_reply)
            reply_finish(&j->r, &m);
        else
            push_finish(j->pc_conn, &m);
    }
    free(j->svg_json);
    free(j);
}

/* In a cluster the code is drawn once every node can find where the ticket
 * lives (so a phone's scan on any node reaches it); placing runs in order on
 * one Redis connection, so a PC's codes still leave in request order. */
static void ticket_placed(void *arg, bool ok)
{
    struct qr_job *j = arg;
    if (!ok) {
        j->unplaced = true;
        qr_done(&j->work);
        return;
    }
    /* One connection's codes are drawn in order, so its `ticket` messages
     * leave in the order of its requests and the last one is the live code. */
    workers_submit_ordered(&j->work, j->pc_conn);
}

/* Queues the drawing of t's QR; r is the ticket.new to answer, or NULL for a
 * rotation push. Returns -1 only when out of memory. */
static int send_ticket(const struct req *r, const struct ticket *t)
{
    int url_len = snprintf(NULL, 0, "%s/m/#t=%s", broker.cfg.public_url, t->id);
    struct qr_job *j = url_len < 0 ? NULL : calloc(1, sizeof *j + (size_t)url_len + 1);
    if (!j)
        return -1;
    j->pc_conn = t->pc_conn;
    j->is_reply = r != NULL;
    if (r)
        j->r = *r;
    memcpy(j->ticket, t->id, sizeof j->ticket);
    memcpy(j->code, t->code, sizeof j->code);
    j->expires_at = t->expires_at;
    snprintf(j->url, (size_t)url_len + 1, "%s/m/#t=%s", broker.cfg.public_url, t->id);
    j->work.run = qr_run;
    j->work.done = qr_done;
    cluster_ticket_place(t->id, broker.cfg.ticket_ttl * 1000, ticket_placed, j);
    return 0;
}


/* The PC as the phone and the audit are shown it. A ticket does not copy its
 * PC's address and agent: they are the PC connection's, on this node, and it
 * lives as long as the ticket (closing it cancels the ticket). */
struct pc_seen {
    char ip[IP_MAX];
    char user_agent[UA_MAX];
};

static void pc_seen(uint64_t pc_conn, struct pc_seen *out)
{
    const struct conn *pc = hub_get(pc_conn);
    snprintf(out->ip, sizeof out->ip, "%s", pc ? pc->ip : "");
    snprintf(out->user_agent, sizeof out->user_agent, "%s",
             pc && pc->user_agent ? pc->user_agent : "");
}

/* The same for a ticket: a device grant's has no PC socket, and shows the
 * device's HTTP request instead (oidc_tickets.h). */
static void ticket_pc_seen(const struct ticket *t, struct pc_seen *out)
{
    pc_seen(t->pc_conn, out);
    if (!out->ip[0] && t->grant) {
        snprintf(out->ip, sizeof out->ip, "%s", t->grant->ip);
        snprintf(out->user_agent, sizeof out->user_agent, "%s", t->grant->user_agent);
    }
}

/* A decision about a scanned ticket t, for the user's history; phone_sid is
 * the session of the phone that decided. */
static void audit(const struct ticket *t, const struct pc_seen *pc, const char *phone_sid,
                  const char *sid, const char *outcome)
{
    const struct ticket_scanner *who = t->scanner;
    struct audit_rec a = {.at = clock_now_ms(), .user_id = who->user_id};
    snprintf(a.sid, sizeof a.sid, "%s", sid ? sid : "");
    log_ticket_prefix(t->id, a.ticket_prefix);
    snprintf(a.pc_ip, sizeof a.pc_ip, "%s", pc->ip);
    snprintf(a.pc_user_agent, sizeof a.pc_user_agent, "%s", pc->user_agent);
    snprintf(a.phone_sid, sizeof a.phone_sid, "%s", phone_sid);
    snprintf(a.outcome, sizeof a.outcome, "%s", outcome);
    broker.store->ops->audit_add(broker.store, &a, store_ignore_done, NULL);
    char p[7];
    log_info("login decision: ticket %s… user %lld outcome %s pc %s", log_ticket_prefix(t->id, p),
             (long long)who->user_id, outcome, pc->ip);
}

/* The phone's deny being decided right now (deny_here): the hook of an
 * OAuth ticket may take over its answer, to send it once the denial is
 * recorded where the device's poll reads it (oidc_tickets.h). */
static const struct req *deny_req;
static bool deny_taken;

/* tickets.c tells us every transition; the pushes are ours. */
static void on_ticket_event(enum ticket_event ev, const struct ticket *t)
{
    login_presign_on_ticket_event(ev, t); /* a scan starts signing the login */
    char p[7];
    log_ticket_prefix(t->id, p);
    switch (ev) {
    case TEV_ROTATED:
        metrics.tickets[MT_ROTATED]++;
        log_debug("ticket %s… rotated (%d)", p, t->rotations);
        if (send_ticket(NULL, t))
            log_error("ticket %s…: out of memory for its QR code", p);
        break;
    case TEV_EXPIRED:
        metrics.tickets[MT_EXPIRED]++;
        log_debug("ticket %s… expired", p);
        push_simple(t->pc_conn, "ticket.expired", t->id);
        pc_changed(t->pc_conn);
        break;
    case TEV_SCANNED:
        metrics.tickets[MT_SCANNED]++;
        log_info("ticket %s… scanned by user %lld", p, (long long)t->scanner->user_id);
        {
            struct jw w;
            push_start(&w, "ticket.scanned");
            jw_kv_str(&w, "ticket", t->id);
            jw_user(&w, t->scanner->user_id, t->scanner->user_name);
            push_finish(t->pc_conn, &w);
        }
        break;
    case TEV_DENIED:
    case TEV_CODE_MISMATCH: {
        metrics.tickets[ev == TEV_DENIED ? MT_DENIED : MT_CODE_MISMATCH]++;
        struct pc_seen pc;
        ticket_pc_seen(t, &pc);
        audit(t, &pc, t->scanner->phone_sid, NULL,
              ev == TEV_DENIED ? "denied" : "code_mismatch");
        if (t->grant)
            deny_taken = oidc_ticket_denied(t, ev == TEV_DENIED ? deny_req : NULL);
        push_simple(t->pc_conn, "ticket.denied", t->id);
        pc_changed(t->pc_conn);
        break;
    }
    case TEV_CANCELLED:
        metrics.tickets[MT_CANCELLED]++;
        if (t->state == TICKET_SCANNED)
            push_simple(t->scanner->phone_conn, "ticket.cancelled", t->id);
        break;
    }
}

void handlers_tickets_init(void)
{
    struct tickets_config tc = {
        .ttl_ms = broker.cfg.ticket_ttl * 1000,
        .max_rotations = broker.cfg.max_rotations,
        .number_match = broker.cfg.number_match,
    };
    tickets_init(&tc, on_ticket_event);
}

/* ---- PC side ---- */

/* The PC's ticket (for an OAuth request when grant is set; the ticket owns
 * it from here on), answered as ticket.new is. */
static void new_ticket(struct conn *c, const struct req *r, const char *client_name,
                       struct ticket_grant *grant)
{
    const struct ticket *t;
    if (tickets_create_grant(c->id, client_name, 0, grant, &t)) {
        reply_error(r, E_INTERNAL, NULL);
        return;
    }
    metrics.tickets[MT_CREATED]++;
    if (send_ticket(r, t)) {
        tickets_cancel_pc(c->id);
        reply_error(r, E_INTERNAL, NULL);
        return;
    }
    hub_conn_changed(c);
}

void handle_ticket_new(struct conn *c, const struct req *r, const struct json_doc *d)
{
    if (oidc_ticket_new(c, r, d))
        return; /* for a pending /authorize request (oidc_tickets.h) */
    char name[CLIENT_NAME_MAX + 1] = "";
    int client = json_get_obj(d, 0, "client");
    if (client == JSON_WRONG_TYPE) {
        reply_error(r, E_BAD_REQUEST, "client must be an object");
        return;
    }
    if (client >= 0) {
        enum json_rc rc = json_get_str(d, client, "name", name, sizeof name, NULL);
        if (rc && rc != JSON_MISSING) {
            reply_error(r, E_BAD_REQUEST, "client.name must be a string of at most 64 bytes");
            return;
        }
    }
    new_ticket(c, r, name, NULL);
}

void handle_ticket_new_grant(uint64_t pc_conn, const struct req *r, const char *client_name,
                             struct ticket_grant *grant)
{
    struct conn *c = hub_get(pc_conn);
    if (!c) {
        free(grant); /* the PC left while its request was looked up */
        return;
    }
    new_ticket(c, r, client_name, grant);
}

void handle_ticket_cancel(struct conn *c, const struct req *r, const struct json_doc *d)
{
    (void)d;
    if (tickets_cancel_pc(c->id)) {
        reply_error(r, E_NOT_FOUND, "this socket has no live ticket");
        return;
    }
    reply_ok(r, NULL);
    hub_conn_changed(c);
}

/* ---- phone side ---- */
/* A phone's request about a ticket, as it runs on the node that holds the
 * ticket: taken from the phone's socket here, or forwarded by the node the
 * phone is connected to (cluster.h). Replies go to r.conn wherever it is. */

enum phone_op { OP_SCAN, OP_CONFIRM, OP_DENY };
static const char *const op_names[] = {"scan", "confirm", "deny"};

struct phone_req {
    enum phone_op op;
    struct req r;
    int64_t user_id;
    char user_name[USER_NAME_MAX + 1];
    char sid[SID_MAX];
    char ticket[TICKET_LEN + 1];
    char code[4];
    bool has_code;
};

static bool ticket_id_ok(const char *s)
{
    return strlen(s) == TICKET_LEN &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
               TICKET_LEN;
}

/* A ticket field: exactly our format, else it cannot exist (not_found). */
static int get_ticket(const struct json_doc *d, const struct req *r, char out[TICKET_LEN + 1])
{
    char buf[TICKET_LEN + 2];
    enum json_rc rc = json_get_str(d, 0, "ticket", buf, sizeof buf, NULL);
    if (rc == JSON_MISSING || rc == JSON_WRONG_TYPE) {
        reply_error(r, E_BAD_REQUEST, "ticket must be a string");
        return -1;
    }
    if (rc || !ticket_id_ok(buf)) {
        reply_error(r, E_NOT_FOUND, NULL);
        return -1;
    }
    memcpy(out, buf, TICKET_LEN + 1);
    return 0;
}

static void reply_ticket_rc(const struct req *r, enum ticket_rc rc)
{
    switch (rc) {
    case TICKET_NOT_FOUND:
        reply_error(r, E_NOT_FOUND, NULL);
        break;
    case TICKET_CONFLICT:
        reply_error(r, E_CONFLICT, "this ticket is bound to another user, or was not scanned");
        break;
    case TICKET_CODE_MISMATCH:
        reply_error(r, E_CODE_MISMATCH, NULL);
        break;
    default:
        reply_error(r, E_INTERNAL, NULL);
        break;
    }
}

static void scan_here(const struct phone_req *p)
{
    const struct ticket *t;
    enum ticket_rc rc =
        tickets_scan(p->ticket, p->user_id, p->user_name, p->r.conn, p->sid, &t);
    if (rc) {
        reply_ticket_rc(&p->r, rc);
        return;
    }
    struct pc_seen pc;
    ticket_pc_seen(t, &pc);
    struct jw w;
    reply_start(&w, &p->r, "ticket.info");
    jw_kv_str(&w, "ticket", t->id);
    jw_kv_int(&w, "expires_in", tickets_expires_in(t, clock_now_ms()));
    jw_key(&w, "pc");
    jw_obj_open(&w);
    jw_kv_str(&w, "ip", pc.ip);
    jw_kv_str(&w, "user_agent", pc.user_agent);
    jw_kv_str(&w, "client_name", t->client_name ? t->client_name : "");
    jw_kv_int(&w, "created_at", t->created_at);
    jw_obj_close(&w);
    if (broker.cfg.number_match) {
        jw_key(&w, "code_choices");
        jw_arr_open(&w);
        for (int i = 0; i < 3; i++)
            jw_str(&w, t->choices[i]);
        jw_arr_close(&w);
    }
    reply_finish(&p->r, &w);
}

/* A confirmed ticket waiting for its user record and then its session. */
struct confirm_ctx {
    struct req r;
    struct ticket t;   /* taken out of tickets.c, with its scanner */
    struct pc_seen pc; /* as it was at the confirm: the PC may leave meanwhile */
    char phone_sid[SID_MAX];
    int64_t t0_us;     /* when the confirm arrived, for the latency histogram */
};

static void confirm_free(struct confirm_ctx *x)
{
    tickets_release(&x->t);
    free(x);
}

static void orphan_revoked(void *arg, enum api_err e) { (void)arg, (void)e; }

static void confirm_issued(void *arg, enum api_err err, const struct issued *is, int64_t ra)
{
    struct confirm_ctx *x = arg;
    (void)ra;
    if (err) {
        reply_error(&x->r, err, NULL);
        push_simple(x->t.pc_conn, "ticket.denied", x->t.id);
        pc_changed(x->t.pc_conn);
        confirm_free(x);
        return;
    }
    struct conn *pc = hub_get(x->t.pc_conn);
    if (!pc) {
        /* The PC left while we signed: nobody holds this session. */
        sessions_revoke(is->user_id, is->sid, SESSION_END_REVOKED, orphan_revoked, NULL);
        reply_error(&x->r, E_NOT_FOUND, "the computer disconnected");
        confirm_free(x);
        return;
    }
    metrics.tickets[MT_CONFIRMED]++;
    audit(&x->t, &x->pc, x->phone_sid, is->sid, "confirmed");
    struct jw w;
    push_start(&w, "login");
    jw_kv_str(&w, "ticket", x->t.id);
    jw_kv_str(&w, "access_token", is->access);
    jw_kv_str(&w, "refresh_token", is->refresh);
    jw_kv_str(&w, "token_type", "Bearer");
    jw_kv_int(&w, "expires_in", is->expires_in);
    jw_kv_int(&w, "refresh_expires_in", is->refresh_expires_in);
    jw_kv_str(&w, "session_id", is->sid);
    jw_user(&w, is->user_id, is->user_name);
    push_finish_timed(pc->id, &w, MH_CONFIRM_TO_LOGIN, x->t0_us);
    hub_attach(pc, is->user_id, is->user_name, is->sid);
    hub_conn_changed(pc);
    reply_ok(&x->r, x->t.id);
    confirm_free(x);
}

static void confirm_user_cb(void *arg, enum store_rc rc, const struct user_rec *u)
{
    struct confirm_ctx *x = arg;
    if (rc) {
        reply_error(&x->r, rc == STORE_NOT_FOUND ? E_UNAUTHORIZED : E_INTERNAL, NULL);
        push_simple(x->t.pc_conn, "ticket.denied", x->t.id);
        pc_changed(x->t.pc_conn);
        confirm_free(x);
        return;
    }
    if (x->t.grant) {
        /* An OAuth request's ticket: no tokens to this PC (oidc_tickets.h). */
        metrics.tickets[MT_CONFIRMED]++;
        audit(&x->t, &x->pc, x->phone_sid, NULL, "confirmed");
        oidc_ticket_confirmed(&x->r, &x->t, u, x->pc.ip, x->pc.user_agent);
        confirm_free(x);
        return;
    }
    /* with the pair signed at the scan, if it is still usable */
    login_presign_login(x->t.id, u, "web", x->pc.ip, x->pc.user_agent, confirm_issued, x);
}

static void confirm_here(const struct phone_req *p, int64_t t0_us)
{
    struct confirm_ctx *x = calloc(1, sizeof *x);
    if (!x) {
        reply_error(&p->r, E_INTERNAL, NULL);
        return;
    }
    x->r = p->r;
    x->t0_us = t0_us;
    snprintf(x->phone_sid, sizeof x->phone_sid, "%s", p->sid);
    enum ticket_rc rc =
        tickets_confirm(p->ticket, p->user_id, p->has_code ? p->code : NULL, &x->t);
    if (rc) {
        reply_ticket_rc(&p->r, rc);
        free(x);
        return;
    }
    ticket_pc_seen(&x->t, &x->pc);
    broker.store->ops->user_by_id(broker.store, p->user_id, confirm_user_cb, x);
}

static void deny_here(const struct phone_req *p)
{
    deny_req = &p->r;
    deny_taken = false;
    enum ticket_rc rc = tickets_deny(p->ticket, p->user_id);
    deny_req = NULL;
    if (rc) {
        reply_ticket_rc(&p->r, rc);
        return;
    }
    if (!deny_taken)
        reply_ok(&p->r, p->ticket);
}

static void phone_run(const struct phone_req *p, int64_t t0_us)
{
    switch (p->op) {
    case OP_SCAN:
        scan_here(p);
        break;
    case OP_CONFIRM:
        confirm_here(p, t0_us);
        break;
    case OP_DENY:
        deny_here(p);
        break;
    }
}

/* ---- forwarding to the ticket's node ---- */

static void forwarded(void *arg, long received)
{
    struct phone_req *p = arg;
    /* Nobody listens on that node's channel: it died, and its PC with it. */
    if (received == 0)
        reply_error(&p->r, E_NOT_FOUND, NULL);
    else if (received < 0)
        reply_error(&p->r, E_INTERNAL, "the store is unavailable");
    free(p);
}

static void forward(struct phone_req *p, uint32_t node)
{
    struct jw w;
    jw_init(&w, 0);
    jw_obj_open(&w);
    jw_kv_str(&w, "op", op_names[p->op]);
    jw_kv_int(&w, "conn", (int64_t)p->r.conn);
    if (p->r.id_raw[0]) {
        jw_key(&w, "id");
        jw_raw(&w, p->r.id_raw, strlen(p->r.id_raw));
    }
    jw_kv_int(&w, "user_id", p->user_id);
    jw_kv_str(&w, "user_name", p->user_name);
    jw_kv_str(&w, "sid", p->sid);
    jw_kv_str(&w, "ticket", p->ticket);
    if (p->has_code)
        jw_kv_str(&w, "code", p->code);
    jw_obj_close(&w);
    size_t len;
    char *json = jw_finish(&w, &len);
    if (!json) {
        reply_error(&p->r, E_INTERNAL, NULL);
        free(p);
        return;
    }
    cluster_forward(node, json, len, forwarded, p);
    free(json);
}

static void located(void *arg, enum cluster_where where, uint32_t node)
{
    struct phone_req *p = arg;
    switch (where) {
    case CLUSTER_HERE:
    case CLUSTER_UNKNOWN: /* no node has it: here says not_found */
        phone_run(p, clock_mono_us());
        break;
    case CLUSTER_ELSEWHERE:
        forward(p, node);
        return; /* forwarded() frees p */
    case CLUSTER_ERROR:
        reply_error(&p->r, E_INTERNAL, "the store is unavailable");
        break;
    }
    free(p);
}

/* Runs p where its ticket lives (here, or forwarded to its node). */
static void phone_dispatch(const struct phone_req *p)
{
    if (!cluster_on()) {
        phone_run(p, clock_mono_us());
        return;
    }
    struct phone_req *q = malloc(sizeof *q);
    if (!q) {
        reply_error(&p->r, E_INTERNAL, NULL);
        return;
    }
    *q = *p;
    cluster_ticket_locate(q->ticket, located, q);
}

/* A typed user code on its way: its wrong guesses count against the user
 * (auth_limits.h), whatever socket or node they come from. */
struct code_scan {
    struct phone_req p;
    char code[24];
    char user[24]; /* the user id, the name the limit counts by */
};

static void user_code_resolved(void *arg, const char *ticket)
{
    struct code_scan *q = arg;
    if (!ticket) {
        auth_limits_fail(AUTH_LIMIT_USER_CODE, q->user, clock_now_ms());
        reply_error(&q->p.r, E_NOT_FOUND, NULL);
    } else {
        snprintf(q->p.ticket, sizeof q->p.ticket, "%s", ticket);
        phone_dispatch(&q->p);
    }
    free(q);
}

static void user_code_limit_checked(void *arg, int64_t wait)
{
    struct code_scan *q = arg;
    if (wait) {
        if (wait < 0)
            reply_error(&q->p.r, E_INTERNAL, "the store is unavailable");
        else
            reply_rate_limited(&q->p.r, wait, "too many wrong user codes; wait");
        free(q);
        return;
    }
    oidc_resolve_user_code(q->code, user_code_resolved, q);
}

/* ticket.scan {"user_code"} — a device grant's code typed on the phone
 * (oidc_tickets.h): once resolved, the scan of its ticket. */
static void scan_user_code(const struct phone_req *p, const struct json_doc *d)
{
    char code[24];
    if (json_get_str(d, 0, "user_code", code, sizeof code, NULL)) {
        reply_error(&p->r, E_NOT_FOUND, NULL);
        return;
    }
    struct code_scan *q = malloc(sizeof *q);
    if (!q) {
        reply_error(&p->r, E_INTERNAL, NULL);
        return;
    }
    q->p = *p;
    snprintf(q->code, sizeof q->code, "%s", code);
    snprintf(q->user, sizeof q->user, "%lld", (long long)p->user_id);
    auth_limits_check(AUTH_LIMIT_USER_CODE, q->user, clock_now_ms(), user_code_limit_checked, q);
}

static void phone_request(struct conn *c, const struct req *r, const struct json_doc *d,
                          enum phone_op op)
{
    struct phone_req p = {.op = op, .r = *r, .user_id = c->user_id};
    snprintf(p.user_name, sizeof p.user_name, "%s", c->user_name);
    snprintf(p.sid, sizeof p.sid, "%s", c->sid);
    if (op == OP_SCAN && json_member(d, 0, "ticket") < 0 && json_member(d, 0, "user_code") >= 0) {
        scan_user_code(&p, d);
        return;
    }
    if (get_ticket(d, r, p.ticket))
        return;
    if (op == OP_CONFIRM) {
        char code[4] = "";
        enum json_rc crc = json_get_str(d, 0, "code", code, sizeof code, NULL);
        if (crc && crc != JSON_MISSING) {
            reply_error(r, E_BAD_REQUEST, "code must be a two-digit string");
            return;
        }
        if (!crc) {
            memcpy(p.code, code, sizeof p.code);
            p.has_code = true;
        }
    }
    phone_dispatch(&p);
}

void handle_ticket_scan(struct conn *c, const struct req *r, const struct json_doc *d)
{
    phone_request(c, r, d, OP_SCAN);
}

void handle_ticket_confirm(struct conn *c, const struct req *r, const struct json_doc *d)
{
    phone_request(c, r, d, OP_CONFIRM);
}

void handle_ticket_deny(struct conn *c, const struct req *r, const struct json_doc *d)
{
    phone_request(c, r, d, OP_DENY);
}

/* A request another node forwarded (cluster.c). That node checked the
 * socket's sign-in and the fields; still, nothing from the wire is trusted
 * blindly: a malformed message is dropped. */
void handle_ticket_forwarded(const char *json, size_t len)
{
    struct json_doc d;
    struct phone_req p = {0};
    char op[16];
    int64_t conn;
    if (json_parse(&d, json, len) || json_get_str(&d, 0, "op", op, sizeof op, NULL) ||
        json_get_int(&d, 0, "conn", &conn) ||
        json_get_int(&d, 0, "user_id", &p.user_id) ||
        json_get_str(&d, 0, "user_name", p.user_name, sizeof p.user_name, NULL) ||
        json_get_str(&d, 0, "sid", p.sid, sizeof p.sid, NULL) ||
        json_get_str(&d, 0, "ticket", p.ticket, sizeof p.ticket, NULL) || !ticket_id_ok(p.ticket)) {
        log_warn("cluster: malformed forwarded ticket request dropped");
        return;
    }
    if (!strcmp(op, "scan"))
        p.op = OP_SCAN;
    else if (!strcmp(op, "confirm"))
        p.op = OP_CONFIRM;
    else if (!strcmp(op, "deny"))
        p.op = OP_DENY;
    else
        return;
    p.r.conn = (uint64_t)conn;
    p.has_code = json_get_str(&d, 0, "code", p.code, sizeof p.code, NULL) == JSON_OK;
    int id = json_member(&d, 0, "id");
    if (id >= 0) {
        /* the raw JSON of the phone's id, quotes included for a string */
        int q = json_type(&d, id) == 's';
        size_t start = (size_t)d.tok[id].start - (size_t)q, end = (size_t)d.tok[id].end + (size_t)q;
        if (end - start > REQ_ID_RAW_MAX)
            return;
        memcpy(p.r.id_raw, json + start, end - start);
        p.r.id_raw[end - start] = '\0';
    }
    phone_run(&p, clock_mono_us());
}
