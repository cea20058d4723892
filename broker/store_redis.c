/* store_redis.c — the Redis store backend (see store.h), for brokers that
 * share their state: one hiredis connection (redis_link "store") inside the
 * lws loop, atomic steps as Lua scripts (store_redis_lua.h).
 *
 * Data model. Every key starts with "qrl:". Integers are decimal strings;
 * times are what the record says (ms, or s for the *_exp fields).
 *
 *   qrl:user:next          string  INCR counter of user ids (first id 1)
 *   qrl:user:<id>          hash    id, name, pwhash, token_version, created_at
 *   qrl:user:name:<name>   string  → <id> (the unique-name index)
 *   qrl:ident:<hash>       hash    issuer, subject, user_id: a federated user
 *                                  (hash = b64url SHA-256 of issuer NUL subject);
 *                                  such users have no qrl:user:name: entry
 *   qrl:sess:<sid>         hash    every field of struct session_rec (sid,
 *                                  user_id, kind, created_at, last_used_at, ip,
 *                                  user_agent, ver, revoked "0"/"1",
 *                                  revoke_reason, cur_jti, prev_jti, rotated_at,
 *                                  refresh_exp, last_access, last_refresh,
 *                                  last_access_exp), rev, and zm (its member in
 *                                  the user's set). EXPIREAT refresh_exp + 1 day:
 *                                  no refresh token of the session is valid
 *                                  after refresh_exp, and no access token of it
 *                                  outlives refresh_exp by more than access_ttl,
 *                                  so after that day the record can only say
 *                                  "gone". No expiry while refresh_exp is 0.
 *   qrl:seq:sess           string  INCR counter, the insertion order of sessions
 *   qrl:user:<id>:sess     zset    the user's sessions that are not revoked:
 *                                  member <16 hex insertion no.><sid>, score
 *                                  created_at. Members of expired sessions are
 *                                  removed lazily by session_list / revoke_user.
 *   qrl:oauth:<kind>:<key> hash    value, expires_at, rev (struct oauth_rec);
 *                                  PEXPIREAT expires_at when it is not 0
 *   qrl:oauth:<kind>       zset    the keys of that kind's records that never
 *                                  expire (score 0, so ordered by key)
 *   qrl:seq:audit          string  INCR counter, the insertion order of entries
 *   qrl:user:<id>:audit    zset    the user's login decisions: member <16 hex
 *                                  insertion no.> then the entry, score at (ms);
 *                                  trimmed to the newest RS_AUDIT_KEEP entries.
 *
 * No key but qrl:sess:* has a TTL. An audit entry is "\0" "1" (the format
 * version) then "\0" + each of at, user_id, sid, ticket_prefix, pc_ip,
 * pc_user_agent, phone_sid, outcome. Not JSON: these fields come from the
 * network, our JSON writer turns invalid UTF-8 into U+FFFD (which can triple a
 * field past its size), and a C string cannot contain the NUL that separates
 * them, so this encoding gives back exactly what was stored. A sorted set and
 * not a list, so that entries come back ordered by at and then newest-
 * inserted first, as SQLite orders them, even when several brokers' clocks
 * disagree about which entry came first.
 *
 * Completion: a call's callback runs once, when Redis answers, or at once with
 * STORE_ERROR while the link is down (redis_link never queues then). Input
 * that SQLite would refuse or not find is answered at once the same way,
 * without asking Redis. close() completes pending calls with STORE_ERROR. */
#include "store.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "redis_link.h"
#include "store_redis_lua.h"

#define RS_LIST_MAX 100           /* session_list and audit_recent return at most this */
#define RS_AUDIT_KEEP 1000        /* audit entries kept per user */
#define RS_SESSION_LINGER_S 86400 /* a session hash outlives refresh_exp by this */
#define RS_LOG_EVERY_US 1000000   /* at most one failure line per second */
#define RS_ARGV_MAX 48
#define RS_ARENA 1024

struct redis_store {
    struct store base; /* first, so a struct store * casts back to us */
    struct redis_link *link;
    struct redis_script script[RS__SCRIPTS]; /* must outlive the link */
    bool closing;            /* pending calls are being failed: do not log each */
    int64_t log_quiet_until; /* mono µs; failures before it are only counted */
    unsigned log_dropped;
};

static struct redis_store *rs__from(struct store *st) { return (struct redis_store *)st; }

/* ---- logging ------------------------------------------------------------ */

/* One line per failure would flood the log while Redis is away (every login
 * fails), so after a line the next second's failures are only counted and
 * the count rides on the next line. `why` never holds a value from a record:
 * callers pass our own words, a field name, or Redis's error text (which
 * names commands and types, not arguments). */
static void rs__log_fail(struct redis_store *s, const char *op, const char *why)
{
    if (s->closing)
        return;
    int64_t now = clock_mono_us();
    if (now < s->log_quiet_until) {
        s->log_dropped++;
        return;
    }
    if (s->log_dropped)
        log_error("store: redis %s failed: %.200s (and %u more failures in the last second)",
                  op, why, s->log_dropped);
    else
        log_error("store: redis %s failed: %.200s", op, why);
    s->log_dropped = 0;
    s->log_quiet_until = now + RS_LOG_EVERY_US;
}

/* ---- command arguments -------------------------------------------------- */

/* argv for one command: pointers into the caller's record or into the arena
 * (numbers, key names). hiredis formats the command when it is queued, so
 * all of it may die when the op returns. */
struct rs_argv {
    int n;
    bool bad; /* a field without a terminator, or out of room: do not send */
    const char *v[RS_ARGV_MAX];
    size_t len[RS_ARGV_MAX];
    size_t used;
    char arena[RS_ARENA];
};

static void ra_mem(struct rs_argv *a, const char *p, size_t n)
{
    if (a->n >= RS_ARGV_MAX) {
        a->bad = true;
        return;
    }
    a->v[a->n] = p;
    a->len[a->n++] = n;
}

static void ra_lit(struct rs_argv *a, const char *s) { ra_mem(a, s, strlen(s)); }

/* A string that lives in a fixed field of cap bytes. One with no terminator
 * inside it is a caller bug; refusing it beats storing a value that would
 * come back different (SQLite's backend refuses it too). */
static void ra_field(struct rs_argv *a, const char *str, size_t cap)
{
    size_t n = strnlen(str, cap);
    if (n == cap)
        a->bad = true;
    else
        ra_mem(a, str, n);
}

/* Copies prefix + bytes + suffix into the arena as one argument: key names
 * are built by copying, never by formatting user input. */
static void ra_key(struct rs_argv *a, const char *prefix, const char *mid, size_t midlen,
                   const char *suffix)
{
    size_t pl = strlen(prefix), sl = strlen(suffix);
    if (a->used + pl + midlen + sl > sizeof a->arena) {
        a->bad = true;
        return;
    }
    char *p = a->arena + a->used;
    memcpy(p, prefix, pl);
    memcpy(p + pl, mid, midlen);
    memcpy(p + pl + midlen, suffix, sl);
    a->used += pl + midlen + sl;
    ra_mem(a, p, pl + midlen + sl);
}

static void ra_int_key(struct rs_argv *a, const char *prefix, int64_t id, const char *suffix)
{
    char num[24];
    int n = snprintf(num, sizeof num, "%lld", (long long)id);
    ra_key(a, prefix, num, (size_t)n, suffix);
}

static void ra_int(struct rs_argv *a, int64_t v) { ra_int_key(a, "", v, ""); }

/* ---- records <-> hashes ------------------------------------------------- */

enum rs_type { RS_STR, RS_INT, RS_BOOL, RS_END /* enum session_end, by name */ };

struct rs_field {
    const char *name;
    enum rs_type type;
    size_t off;
    size_t cap; /* RS_STR: the field's size, terminator included */
    bool opt;   /* added after records were written: absent reads as empty */
};

#define RS_F(rec, type, f) {#f, type, offsetof(struct rec, f), sizeof ((struct rec *)0)->f, false}
#define RS_FO(rec, type, f) {#f, type, offsetof(struct rec, f), sizeof ((struct rec *)0)->f, true}

static const struct rs_field user_fields[] = {
    RS_F(user_rec, RS_INT, id),
    RS_F(user_rec, RS_STR, name),
    RS_F(user_rec, RS_STR, pwhash),
    RS_F(user_rec, RS_INT, token_version),
    RS_F(user_rec, RS_INT, created_at),
};

/* rev is last: session_put writes every field but it (the script sets rev). */
static const struct rs_field session_fields[] = {
    RS_F(session_rec, RS_STR, sid),
    RS_F(session_rec, RS_INT, user_id),
    RS_F(session_rec, RS_STR, kind),
    RS_F(session_rec, RS_INT, created_at),
    RS_F(session_rec, RS_INT, last_used_at),
    RS_F(session_rec, RS_STR, ip),
    RS_F(session_rec, RS_STR, user_agent),
    RS_F(session_rec, RS_INT, ver),
    RS_F(session_rec, RS_BOOL, revoked),
    RS_F(session_rec, RS_END, revoke_reason),
    RS_F(session_rec, RS_STR, cur_jti),
    RS_F(session_rec, RS_STR, prev_jti),
    RS_F(session_rec, RS_INT, rotated_at),
    RS_F(session_rec, RS_INT, refresh_exp),
    RS_F(session_rec, RS_STR, last_access),
    RS_F(session_rec, RS_STR, last_refresh),
    RS_F(session_rec, RS_INT, last_access_exp),
    RS_FO(session_rec, RS_STR, client_id),
    RS_F(session_rec, RS_INT, rev),
};

/* audit entries are encoded in this order */
static const struct rs_field audit_fields[] = {
    RS_F(audit_rec, RS_INT, at),
    RS_F(audit_rec, RS_INT, user_id),
    RS_F(audit_rec, RS_STR, sid),
    RS_F(audit_rec, RS_STR, ticket_prefix),
    RS_F(audit_rec, RS_STR, pc_ip),
    RS_F(audit_rec, RS_STR, pc_user_agent),
    RS_F(audit_rec, RS_STR, phone_sid),
    RS_F(audit_rec, RS_STR, outcome),
};

#define RS_N(tab) ((int)(sizeof tab / sizeof tab[0]))

/* A decimal int64 exactly as Redis and we write them: optional '-', digits,
 * nothing else. */
static int rs__parse_i64(const char *p, size_t n, int64_t *out)
{
    bool neg = n > 0 && p[0] == '-';
    size_t i = neg ? 1 : 0;
    uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    if (i == n || n - i > 19)
        return -1;
    for (; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(p[i] - '0');
        if (v > lim)
            return -1;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

/* Stores one value into its field. A string that does not fit is not cut:
 * a record that is not what we wrote is corrupt, and guessing at it (a cut
 * jti, a cut token) would only fail later and more confusingly. */
static int rs__set_field(const struct rs_field *f, void *rec, const char *p, size_t n)
{
    char *dst = (char *)rec + f->off;
    int64_t v;
    switch (f->type) {
    case RS_STR:
        if (n >= f->cap || memchr(p, '\0', n))
            return -1;
        memcpy(dst, p, n);
        dst[n] = '\0';
        return 0;
    case RS_INT:
        if (rs__parse_i64(p, n, &v))
            return -1;
        memcpy(dst, &v, sizeof v);
        return 0;
    case RS_BOOL:
        if (n != 1 || (p[0] != '0' && p[0] != '1'))
            return -1;
        *(bool *)(void *)dst = p[0] == '1';
        return 0;
    case RS_END: {
        /* "" is a live session; any other word must be a reason we know */
        enum session_end why = session_end_parse(p, n);
        if (n && why == SESSION_LIVE)
            return -1;
        memcpy(dst, &why, sizeof why);
        return 0;
    }
    }
    return -1;
}

/* An HGETALL reply into rec. Every field of the table must be there (we
 * always write them all); fields we do not know (zm, or a newer broker's)
 * are skipped. On failure *why names the field, never its value. */
static int rs__from_hash(const redisReply *r, const struct rs_field *tab, int ntab, void *rec,
                         const char **why)
{
    uint32_t seen = 0;
    *why = "not a hash";
    if (r->type != REDIS_REPLY_ARRAY || r->elements % 2)
        return -1;
    for (size_t i = 0; i < r->elements; i += 2) {
        const redisReply *k = r->element[i], *v = r->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            return -1;
        for (int f = 0; f < ntab; f++) {
            if (k->len != strlen(tab[f].name) || memcmp(k->str, tab[f].name, k->len))
                continue;
            if (rs__set_field(&tab[f], rec, v->str, v->len)) {
                *why = tab[f].name;
                return -1;
            }
            seen |= 1u << f;
            break;
        }
    }
    uint32_t need = 0;
    for (int f = 0; f < ntab; f++)
        need |= tab[f].opt ? 0 : 1u << f;
    *why = "a field is missing";
    return (seen & need) == need ? 0 : -1;
}

/* ---- requests ----------------------------------------------------------- */

enum rs_kind {
    RS_K_DONE,
    RS_K_USER,
    RS_K_INT,
    RS_K_SESSION,
    RS_K_SESSIONS,
    RS_K_AUDITS,
    RS_K_OAUTH,
    RS_K_OAUTHS
};

union rs_cb {
    store_done_cb done;
    store_user_cb user;
    store_int_cb num;
    store_session_cb session;
    store_sessions_cb sessions;
    store_audits_cb audits;
    store_oauth_cb oauth;
    store_oauths_cb oauths;
};

/* What a call needs when its reply comes, copied out of the caller's memory,
 * which may be gone by then. */
struct rs_req {
    struct redis_store *s;
    const char *op;
    enum rs_kind kind;
    union rs_cb cb;
    void *arg;
    int64_t id;           /* the user asked about */
    int limit;            /* audit_recent */
    char sid[SID_MAX];    /* session_get: the id asked for */
    char okind[OAUTH_KIND_MAX], okey[OAUTH_KEY_MAX]; /* oauth_get / oauth_list */
    struct user_rec user; /* user_create: the record to hand back; user_by_name: the name */
};

/* Runs the caller's callback: rec (an int64_t for RS_K_INT) and n only with
 * STORE_OK. */
static void rs__answer(const struct rs_req *q, enum store_rc rc, const void *rec, int n)
{
    bool ok = rc == STORE_OK;
    if (!ok) {
        rec = NULL;
        n = 0;
    }
    switch (q->kind) {
    case RS_K_DONE:
        if (q->cb.done)
            q->cb.done(q->arg, rc);
        break;
    case RS_K_USER:
        if (q->cb.user)
            q->cb.user(q->arg, rc, rec);
        break;
    case RS_K_INT:
        if (q->cb.num)
            q->cb.num(q->arg, rc, ok ? *(const int64_t *)rec : 0);
        break;
    case RS_K_SESSION:
        if (q->cb.session)
            q->cb.session(q->arg, rc, rec);
        break;
    case RS_K_SESSIONS:
        if (q->cb.sessions)
            q->cb.sessions(q->arg, rc, rec, n);
        break;
    case RS_K_AUDITS:
        if (q->cb.audits)
            q->cb.audits(q->arg, rc, rec, n);
        break;
    case RS_K_OAUTH:
        if (q->cb.oauth)
            q->cb.oauth(q->arg, rc, rec);
        break;
    case RS_K_OAUTHS:
        if (q->cb.oauths)
            q->cb.oauths(q->arg, rc, rec, n);
        break;
    }
}

/* Completes a call and frees it. The callback may call straight back into
 * the store; q is not touched after it but to free it. */
static void rs__finish(struct rs_req *q, enum store_rc rc, const void *rec, int n)
{
    rs__answer(q, rc, rec, n);
    free(q);
}

/* NULL when out of memory, after answering the call with STORE_ERROR. */
static struct rs_req *rs__req(struct store *st, const char *op, enum rs_kind kind,
                              union rs_cb cb, void *arg)
{
    struct rs_req *q = calloc(1, sizeof *q);
    if (!q) {
        struct rs_req tmp = {.kind = kind, .cb = cb, .arg = arg};
        log_error("store: redis %s: out of memory", op);
        rs__answer(&tmp, STORE_ERROR, NULL, 0);
        return NULL;
    }
    *q = (struct rs_req){.s = rs__from(st), .op = op, .kind = kind, .cb = cb, .arg = arg};
    return q;
}

/* Queues the command (a script when sc >= 0, its keys first in a). If the
 * link cannot take it — Redis is down, or the arguments were refused — the
 * call completes now with STORE_ERROR. */
static void rs__send(struct rs_req *q, int sc, int nkeys, struct rs_argv *a,
                     redisCallbackFn *fn)
{
    struct redis_store *s = q->s;
    if (a->bad) {
        log_error("store: redis %s: a field is not terminated within its size", q->op);
        rs__finish(q, STORE_ERROR, NULL, 0);
        return;
    }
    int rc = sc >= 0 ? redis_link_eval(s->link, &s->script[sc], fn, q, nkeys, a->n, a->v, a->len)
                     : redis_link_cmd(s->link, fn, q, a->n, a->v, a->len);
    if (rc) {
        rs__log_fail(s, q->op, "redis is not connected");
        rs__finish(q, STORE_ERROR, NULL, 0);
    }
}

static enum store_rc rs__fail(struct rs_req *q, const char *why)
{
    rs__log_fail(q->s, q->op, why);
    return STORE_ERROR;
}

/* STORE_OK for a reply we can read; STORE_ERROR (logged) for none (the
 * connection went) or an error reply. */
static enum store_rc rs__check(struct rs_req *q, const redisReply *r)
{
    if (!r)
        return rs__fail(q, "connection to redis lost");
    if (r->type == REDIS_REPLY_ERROR)
        return rs__fail(q, r->str ? r->str : "error reply");
    return STORE_OK;
}

/* The reply is not what our scripts return: a broken record, or someone
 * else's data under our keys. Logged (by field name only), an error. */
static enum store_rc rs__corrupt(struct rs_req *q, const char *why)
{
    char msg[96];
    snprintf(msg, sizeof msg, "unexpected data (%s)", why);
    return rs__fail(q, msg);
}

/* Scripts that answer with an integer (into *v), or with nil, which means
 * on_nil (STORE_OK: nil is not expected either, so a corrupt reply). */
static enum store_rc rs__int_reply(struct rs_req *q, const redisReply *r, enum store_rc on_nil,
                                   int64_t *v)
{
    enum store_rc rc = rs__check(q, r);
    if (rc != STORE_OK)
        return rc;
    if (r->type == REDIS_REPLY_NIL && on_nil != STORE_OK)
        return on_nil;
    if (r->type != REDIS_REPLY_INTEGER)
        return rs__corrupt(q, "reply type");
    *v = r->integer;
    return STORE_OK;
}

/* For writes whose script answers with a count. */
static void rs__on_done(redisAsyncContext *ac, void *reply, void *priv)
{
    int64_t n;
    rs__finish(priv, rs__int_reply(priv, reply, STORE_OK, &n), NULL, 0);
}

/* HGETALL-shaped replies into rec; an empty array is NOT_FOUND. */
static enum store_rc rs__hash_reply(struct rs_req *q, const redisReply *r,
                                    const struct rs_field *tab, int ntab, void *rec)
{
    const char *why;
    enum store_rc rc = rs__check(q, r);
    if (rc != STORE_OK)
        return rc;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 0)
        return STORE_NOT_FOUND;
    return rs__from_hash(r, tab, ntab, rec, &why) ? rs__corrupt(q, why) : STORE_OK;
}

/* ---- users -------------------------------------------------------------- */

/* nil: the name is taken */
static void rs__on_user_create(redisAsyncContext *ac, void *reply, void *priv)
{
    struct rs_req *q = priv;
    rs__finish(q, rs__int_reply(q, reply, STORE_CONFLICT, &q->user.id), &q->user, 1);
}

/* A name or hash that does not fit the record is refused rather than cut:
 * a cut name could collide with another user's. */
static void rs__user_create(struct store *st, const char *name, const char *pwhash,
                            store_user_cb cb, void *arg)
{
    struct rs_req *q = rs__req(st, "user_create", RS_K_USER, (union rs_cb){.user = cb}, arg);
    if (!q)
        return;
    if (!name || !pwhash || !*name || !*pwhash) {
        log_error("store: user_create: empty name or password hash");
        rs__finish(q, STORE_ERROR, NULL, 0);
        return;
    }
    size_t nlen = strlen(name), hlen = strlen(pwhash);
    if (nlen > USER_NAME_MAX || hlen >= sizeof q->user.pwhash) {
        log_error("store: user_create: name (%zu bytes, max %d) or password hash (%zu bytes, "
                  "max %zu) too long",
                  nlen, USER_NAME_MAX, hlen, sizeof q->user.pwhash - 1);
        rs__finish(q, STORE_ERROR, NULL, 0);
        return;
    }
    memcpy(q->user.name, name, nlen + 1);
    memcpy(q->user.pwhash, pwhash, hlen + 1);
    q->user.token_version = 1;
    q->user.created_at = clock_now_ms();

    struct rs_argv a = {0};
    ra_key(&a, "qrl:user:name:", name, nlen, "");
    ra_lit(&a, "qrl:user:next");
    ra_mem(&a, name, nlen);
    ra_mem(&a, pwhash, hlen);
    ra_int(&a, q->user.created_at);
    rs__send(q, RS_USER_CREATE, 2, &a, rs__on_user_create);
}

/* user_by_name and user_by_id. The record must be the one asked for; an
 * index pointing elsewhere is corrupt. */
static void rs__on_user(redisAsyncContext *ac, void *reply, void *priv)
{
    struct rs_req *q = priv;
    struct user_rec u = {0};
    enum store_rc rc = rs__hash_reply(q, reply, user_fields, RS_N(user_fields), &u);
    if (rc == STORE_OK && (q->user.name[0] ? strcmp(u.name, q->user.name) != 0 : u.id != q->id))
        rc = rs__corrupt(q, "another user's record");
    rs__finish(q, rc, &u, 1);
}

static void rs__user_by_name(struct store *st, const char *name, store_user_cb cb, void *arg)
{
    struct rs_req *q = rs__req(st, "user_by_name", RS_K_USER, (union rs_cb){.user = cb}, arg);
    if (!q)
        return;
    /* user_create never stores a longer name, so it cannot exist */
    if (!name || !*name || strnlen(name, USER_NAME_MAX + 1) > USER_NAME_MAX) {
        rs__finish(q, STORE_NOT_FOUND, NULL, 0);
        return;
    }
    size_t nlen = strlen(name);
    memcpy(q->user.name, name, nlen + 1);
    struct rs_argv a = {0};
    ra_key(&a, "qrl:user:name:", name, nlen, "");
    rs__send(q, RS_USER_BY_NAME, 1, &a, rs__on_user);
}

static void rs__user_by_id(struct store *st, int64_t id, store_user_cb cb, void *arg)
{
    struct rs_req *q = rs__req(st, "user_by_id", RS_K_USER, (union rs_cb){.user = cb}, arg);
    if (!q)
        return;
    q->id = id;
    struct rs_argv a = {0};
    ra_lit(&a, "HGETALL");
    ra_int_key(&a, "qrl:user:", id, "");
    rs__send(q, -1, 0, &a, rs__on_user);
}

/* ---- federated users ---- */

static void rs__on_user_federated(redisAsyncContext *ac, void *reply, void *priv)
{
    struct rs_req *q = priv;
    struct user_rec u = {0};
    enum store_rc rc = rs__hash_reply(q, reply, user_fields, RS_N(user_fields), &u);
    if (rc == STORE_NOT_FOUND)
        rc = rs__corrupt(q, "no user after creating it");
    rs__finish(q, rc, &u, 1);
}

static void rs__user_federated(struct store *st, const char *issuer, const char *subject,
                               const char *display_name, store_user_cb cb, void *arg)
{
    struct rs_req *q = rs__req(st, "user_federated", RS_K_USER, (union rs_cb){.user = cb}, arg);
    if (!q)
        return;
    if (!store_federated_args_ok(issuer, subject, display_name)) {
        rs__finish(q, STORE_ERROR, NULL, 0);
        return;
    }
    char hb[FED_IDENTITY_HASH_SIZE];
    store_identity_hash(issuer, subject, hb);
    size_t hn = strlen(hb);
    struct rs_argv a = {0};
    ra_key(&a, "qrl:ident:", hb, hn, "");
    ra_lit(&a, "qrl:user:next");
    ra_lit(&a, display_name);
    ra_lit(&a, FED_NO_PASSWORD);
    ra_int(&a, clock_now_ms());
    ra_lit(&a, issuer);
    ra_lit(&a, subject);
    rs__send(q, RS_USER_FEDERATED, 2, &a, rs__on_user_federated);
}

/* nil: no such user */
static void rs__on_bump(redisAsyncContext *ac, void *reply, void *priv)
{
    int64_t v = 0;
    enum store_rc rc = rs__int_reply(priv, reply, STORE_NOT_FOUND, &v);
    rs__finish(priv, rc, &v, 1);
}

static void rs__user_bump_version(struct store *st, int64_t id, store_int_cb cb, void *arg)
{
    struct rs_req *q =
        rs__req(st, "user_bump_version", RS_K_INT, (union rs_cb){.num = cb}, arg);
    if (!q)
        return;
    struct rs_argv a = {0};
    ra_int_key(&a, "qrl:user:", id, "");
    rs__send(q, RS_USER_BUMP, 1, &a, rs__on_bump);
}

/* ---- sessions ----------------------------------------------------------- */

/* The script's 0 / 1 / 2 are these, in this order. */
static void rs__on_session_put(redisAsyncContext *ac, void *reply, void *priv)
{
    static const enum store_rc by_code[] = {STORE_OK, STORE_NOT_FOUND, STORE_CONFLICT};
    int64_t code = -1;
    enum store_rc rc = rs__int_reply(priv, reply, STORE_OK, &code);
    if (rc == STORE_OK)
        rc = code >= 0 && code <= 2 ? by_code[code] : rs__corrupt(priv, "reply value");
    rs__finish(priv, rc, NULL, 0);
}

/* Appends field, value pairs for every session field but rev. */
static void rs__session_args(struct rs_argv *a, const struct session_rec *r)
{
    for (int i = 0; i < RS_N(session_fields) - 1; i++) {
        const struct rs_field *f = &session_fields[i];
        const char *src = (const char *)r + f->off;
        int64_t v;
        ra_lit(a, f->name);
        if (f->type == RS_STR) {
            ra_field(a, src, f->cap);
        } else if (f->type == RS_BOOL) {
            ra_lit(a, *(const bool *)(const void *)src ? "1" : "0");
        } else if (f->type == RS_END) {
            enum session_end why;
            memcpy(&why, src, sizeof why);
            ra_lit(a, session_end_name(why));
        } else {
            memcpy(&v, src, sizeof v);
            ra_int(a, v);
        }
    }
}

static void rs__session_put(struct store *st, const struct session_rec *r, store_done_cb cb,
                            void *arg)
{
    struct rs_req *q = rs__req(st, "session_put", RS_K_DONE, (union rs_cb){.done = cb}, arg);
    if (!q)
        return;
    if (!r || !r->sid[0]) {
        log_error("store: session_put: no session id");
        rs__finish(q, STORE_ERROR, NULL, 0);
        return;
    }
    struct rs_argv a = {0};
    ra_key(&a, "qrl:sess:", r->sid, strnlen(r->sid, sizeof r->sid), "");
    ra_int_key(&a, "qrl:user:", r->user_id, "");
    ra_int_key(&a, "qrl:user:", r->user_id, ":sess");
    ra_int(&a, r->rev);
    ra_int(&a, r->rev + 1);
    ra_field(&a, r->sid, sizeof r->sid);
    ra_int(&a, r->created_at);
    ra_lit(&a, r->revoked ? "1" : "0");
    ra_int(&a, r->refresh_exp > 0 ? r->refresh_exp + RS_SESSION_LINGER_S : 0);
    rs__session_args(&a, r);
    rs__send(q, RS_SESSION_PUT, 3, &a, rs__on_session_put);
}

static void rs__on_session_get(redisAsyncContext *ac, void *reply, void *priv)
{
    struct rs_req *q = priv;
    struct session_rec *rec = calloc(1, sizeof *rec); /* ~4.8 KB: not on the loop's stack */
    enum store_rc rc = rec ? rs__hash_reply(q, reply, session_fields, RS_N(session_fields), rec)
                           : rs__fail(q, "out of memory");
    if (rc == STORE_OK && strcmp(rec->sid, q->sid))
        rc = rs__corrupt(q, "another session's record");
    rs__finish(q, rc, rec, 1);
    free(rec);
}

static void rs__session_get(struct store *st, const char *sid, store_session_cb cb, void *arg)
{
    struct rs_req *q =
        rs__req(st, "session_get", RS_K_SESSION, (union rs_cb){.session = cb}, arg);
    if (!q)
        return;
    if (!sid || !*sid || strnlen(sid, SID_MAX) == SID_MAX) {
        rs__finish(q, STORE_NOT_FOUND, NULL, 0); /* session_put never stores such an id */
        return;
    }
    size_t n = strlen(sid);
    memcpy(q->sid, sid, n + 1);
    struct rs_argv a = {0};
    ra_lit(&a, "HGETALL");
    ra_key(&a, "qrl:sess:", sid, n, "");
    rs__send(q, -1, 0, &a, rs__on_session_get);
}

/* Every row must be a whole, live session of the user asked about; one that
 * is not makes the whole answer an error rather than a silently short list. */
static void rs__on_session_list(redisAsyncContext *ac, void *reply, void *priv)
{
    struct rs_req *q = priv;
    const redisReply *r = reply;
    enum store_rc rc = rs__check(q, r);
    struct session_rec *rows = NULL;
    const char *why;
    int n = 0;

    if (rc != STORE_OK)
        ;
    else if (r->type != REDIS_REPLY_ARRAY || r->elements > RS_LIST_MAX)
        rc = rs__corrupt(q, "reply type");
    else if (!(rows = calloc(r->elements ? r->elements : 1, sizeof *rows)))
        rc = rs__fail(q, "out of memory");
    for (; rc == STORE_OK && n < (int)r->elements; n++) {
        struct session_rec *row = &rows[n];
        if (rs__from_hash(r->element[n], session_fields, RS_N(session_fields), row, &why))
            rc = rs__corrupt(q, why);
        else if (row->user_id != q->id || row->revoked)
            rc = rs__corrupt(q, "another user's or a revoked session");
    }
    rs__finish(q, rc, rows, n);
    free(rows);
}

static void rs__session_list(struct store *st, int64_t user_id, store_sessions_cb cb, void *arg)
{
    struct rs_req *q =
        rs__req(st, "session_list", RS_K_SESSIONS, (union rs_cb){.sessions = cb}, arg);
    if (!q)
        return;
    q->id = user_id;
    struct rs_argv a = {0};
    ra_int_key(&a, "qrl:user:", user_id, ":sess");
    ra_int(&a, user_id);
    ra_int(&a, RS_LIST_MAX);
    rs__send(q, RS_SESSION_LIST, 1, &a, rs__on_session_list);
}

static void rs__session_revoke_user(struct store *st, int64_t user_id, enum session_end why,
                                    store_done_cb cb, void *arg)
{
    struct rs_req *q =
        rs__req(st, "session_revoke_user", RS_K_DONE, (union rs_cb){.done = cb}, arg);
    if (!q)
        return;
    struct rs_argv a = {0};
    ra_int_key(&a, "qrl:user:", user_id, ":sess");
    ra_int(&a, user_id);
    ra_lit(&a, session_end_name(why));
    rs__send(q, RS_SESSION_REVOKE_USER, 1, &a, rs__on_done);
}

/* ---- audit -------------------------------------------------------------- */

/* The entry as described at the top of this file, into out (cap bytes).
 * Returns its length, or 0 if a field has no terminator within its size. */
static size_t rs__audit_encode(const struct audit_rec *a, char *out, size_t cap)
{
    size_t len = 2;
    memcpy(out, "\0" "1", 2);
    for (int i = 0; i < RS_N(audit_fields); i++) {
        const struct rs_field *f = &audit_fields[i];
        const char *val = (const char *)a + f->off;
        char num[24];
        size_t n;
        if (f->type == RS_INT) {
            int64_t v;
            memcpy(&v, val, sizeof v);
            n = (size_t)snprintf(num, sizeof num, "%lld", (long long)v);
            val = num;
        } else if ((n = strnlen(val, f->cap)) == f->cap) {
            return 0;
        }
        if (len + 1 + n > cap)
            return 0;
        out[len++] = '\0';
        memcpy(out + len, val, n);
        len += n;
    }
    return len;
}

/* Only the first 6 characters of a ticket are ever stored (docs/architecture.md,
 * rule 8), whatever the caller put in the field. at == 0 means "now". */
static void rs__audit_add(struct store *st, const struct audit_rec *in, store_done_cb cb,
                          void *arg)
{
    struct rs_req *q = rs__req(st, "audit_add", RS_K_DONE, (union rs_cb){.done = cb}, arg);
    if (!q)
        return;
    if (!in) {
        log_error("store: audit_add: no record");
        rs__finish(q, STORE_ERROR, NULL, 0);
        return;
    }
    struct audit_rec a = *in;
    memset(a.ticket_prefix, 0, sizeof a.ticket_prefix);
    memcpy(a.ticket_prefix, in->ticket_prefix, strnlen(in->ticket_prefix, 6));
    if (!a.at)
        a.at = clock_now_ms();
    char entry[sizeof a + 32];
    size_t elen = rs__audit_encode(&a, entry, sizeof entry);
    struct rs_argv args = {.bad = elen == 0};
    ra_int_key(&args, "qrl:user:", a.user_id, ":audit");
    ra_lit(&args, "qrl:seq:audit");
    ra_int(&args, a.at);
    ra_mem(&args, entry, elen);
    ra_int(&args, RS_AUDIT_KEEP);
    rs__send(q, RS_AUDIT_ADD, 2, &args, rs__on_done);
}

/* One sorted-set member back into a record: 16 hex digits, then the entry. */
static int rs__audit_decode(const redisReply *m, struct audit_rec *a, const char **why)
{
    *why = "not an entry";
    if (m->type != REDIS_REPLY_STRING || m->len < 18 || memcmp(m->str + 16, "\0" "1", 2))
        return -1;
    const char *p = m->str + 18, *end = m->str + m->len;
    for (int i = 0; i < RS_N(audit_fields); i++) {
        if (p == end || *p++ != '\0')
            return -1;
        const char *nul = memchr(p, '\0', (size_t)(end - p));
        const char *stop = nul ? nul : end;
        if (rs__set_field(&audit_fields[i], a, p, (size_t)(stop - p))) {
            *why = audit_fields[i].name;
            return -1;
        }
        p = stop;
    }
    return p == end ? 0 : -1;
}

static void rs__on_audit_recent(redisAsyncContext *ac, void *reply, void *priv)
{
    struct rs_req *q = priv;
    const redisReply *r = reply;
    enum store_rc rc = rs__check(q, r);
    struct audit_rec *rows = NULL;
    const char *why;
    int n = 0;

    if (rc != STORE_OK)
        ;
    else if (r->type != REDIS_REPLY_ARRAY || r->elements > (size_t)q->limit)
        rc = rs__corrupt(q, "reply type");
    else if (!(rows = calloc(r->elements ? r->elements : 1, sizeof *rows)))
        rc = rs__fail(q, "out of memory");
    for (; rc == STORE_OK && n < (int)r->elements; n++)
        if (rs__audit_decode(r->element[n], &rows[n], &why))
            rc = rs__corrupt(q, why);
    rs__finish(q, rc, rows, n);
    free(rows);
}

/* limit is clamped to 0..RS_LIST_MAX; a limit of 0 (or less) is an empty,
 * successful answer, given at once. */
static void rs__audit_recent(struct store *st, int64_t user_id, int limit, store_audits_cb cb,
                             void *arg)
{
    struct rs_req *q =
        rs__req(st, "audit_recent", RS_K_AUDITS, (union rs_cb){.audits = cb}, arg);
    if (!q)
        return;
    q->limit = limit < 0 ? 0 : limit > RS_LIST_MAX ? RS_LIST_MAX : limit;
    if (!q->limit) {
        static const struct audit_rec none;
        rs__finish(q, STORE_OK, &none, 0);
        return;
    }
    struct rs_argv a = {0};
    ra_lit(&a, "ZREVRANGE");
    ra_int_key(&a, "qrl:user:", user_id, ":audit");
    ra_lit(&a, "0");
    ra_int(&a, q->limit - 1);
    rs__send(q, -1, 0, &a, rs__on_audit_recent);
}

/* ---- OAuth records ------------------------------------------------------ */

static const struct rs_field oauth_fields[] = {
    RS_F(oauth_rec, RS_STR, value),
    RS_F(oauth_rec, RS_INT, expires_at),
    RS_F(oauth_rec, RS_INT, rev),
};

static bool rs__oauth_names_ok(const char *kind, const char *key)
{
    return kind && key && *kind && *key && strnlen(kind, OAUTH_KIND_MAX) < OAUTH_KIND_MAX &&
           strnlen(key, OAUTH_KEY_MAX) < OAUTH_KEY_MAX && !strchr(kind, ':');
}

/* The script's 0 / 1 / 2 are these, in this order (as session_put's). */
static void rs__on_oauth_put(redisAsyncContext *ac, void *reply, void *priv)
{
    rs__on_session_put(ac, reply, priv);
}

static void rs__oauth_put(struct store *st, const struct oauth_rec *r, store_done_cb cb,
                          void *arg)
{
    struct rs_req *q = rs__req(st, "oauth_put", RS_K_DONE, (union rs_cb){.done = cb}, arg);
    if (!q)
        return;
    if (!r || !rs__oauth_names_ok(r->kind, r->key)) {
        log_error("store: oauth_put: no kind or key");
        rs__finish(q, STORE_ERROR, NULL, 0);
        return;
    }
    struct rs_argv a = {0};
    size_t kl = strlen(r->kind);
    char prefix[OAUTH_KIND_MAX + 16];
    snprintf(prefix, sizeof prefix, "qrl:oauth:%s:", r->kind);
    ra_key(&a, prefix, r->key, strlen(r->key), "");
    ra_key(&a, "qrl:oauth:", r->kind, kl, "");
    ra_int(&a, r->rev);
    ra_int(&a, r->rev + 1);
    ra_field(&a, r->value, sizeof r->value);
    ra_int(&a, r->expires_at);
    ra_field(&a, r->key, sizeof r->key);
    ra_int(&a, clock_now_ms());
    rs__send(q, RS_OAUTH_PUT, 2, &a, rs__on_oauth_put);
}

static void rs__on_oauth_get(redisAsyncContext *ac, void *reply, void *priv)
{
    struct rs_req *q = priv;
    struct oauth_rec *rec = calloc(1, sizeof *rec);
    enum store_rc rc = rec ? rs__hash_reply(q, reply, oauth_fields, RS_N(oauth_fields), rec)
                           : rs__fail(q, "out of memory");
    if (rc == STORE_OK) {
        snprintf(rec->kind, sizeof rec->kind, "%s", q->okind);
        snprintf(rec->key, sizeof rec->key, "%s", q->okey);
        /* PEXPIREAT works in Redis's clock; ours decides, as SQLite's does */
        if (rec->expires_at && rec->expires_at <= clock_now_ms())
            rc = STORE_NOT_FOUND;
    }
    rs__finish(q, rc, rec, 1);
    free(rec);
}

static void rs__oauth_get(struct store *st, const char *kind, const char *key,
                          store_oauth_cb cb, void *arg)
{
    struct rs_req *q = rs__req(st, "oauth_get", RS_K_OAUTH, (union rs_cb){.oauth = cb}, arg);
    if (!q)
        return;
    if (!rs__oauth_names_ok(kind, key)) {
        rs__finish(q, STORE_NOT_FOUND, NULL, 0);
        return;
    }
    snprintf(q->okind, sizeof q->okind, "%s", kind);
    snprintf(q->okey, sizeof q->okey, "%s", key);
    char prefix[OAUTH_KIND_MAX + 16];
    snprintf(prefix, sizeof prefix, "qrl:oauth:%s:", kind);
    struct rs_argv a = {0};
    ra_lit(&a, "HGETALL");
    ra_key(&a, prefix, key, strlen(key), "");
    rs__send(q, -1, 0, &a, rs__on_oauth_get);
}

/* 1 deleted, 0 there was none */
static void rs__on_oauth_del(redisAsyncContext *ac, void *reply, void *priv)
{
    int64_t n = 0;
    enum store_rc rc = rs__int_reply(priv, reply, STORE_OK, &n);
    rs__finish(priv, rc == STORE_OK && n == 0 ? STORE_NOT_FOUND : rc, NULL, 0);
}

static void rs__oauth_del(struct store *st, const char *kind, const char *key,
                          store_done_cb cb, void *arg)
{
    struct rs_req *q = rs__req(st, "oauth_del", RS_K_DONE, (union rs_cb){.done = cb}, arg);
    if (!q)
        return;
    if (!rs__oauth_names_ok(kind, key)) {
        rs__finish(q, STORE_NOT_FOUND, NULL, 0);
        return;
    }
    char prefix[OAUTH_KIND_MAX + 16];
    snprintf(prefix, sizeof prefix, "qrl:oauth:%s:", kind);
    struct rs_argv a = {0};
    ra_key(&a, prefix, key, strlen(key), "");
    ra_key(&a, "qrl:oauth:", kind, strlen(kind), "");
    ra_field(&a, key, OAUTH_KEY_MAX);
    rs__send(q, RS_OAUTH_DEL, 2, &a, rs__on_oauth_del);
}

/* The script answers [key, HGETALL, key, HGETALL, …]. */
static void rs__on_oauth_list(redisAsyncContext *ac, void *reply, void *priv)
{
    struct rs_req *q = priv;
    const redisReply *r = reply;
    enum store_rc rc = rs__check(q, r);
    struct oauth_rec *rows = NULL;
    const char *why;
    int n = 0;

    if (rc != STORE_OK)
        ;
    else if (r->type != REDIS_REPLY_ARRAY || r->elements % 2 || r->elements > 2 * RS_LIST_MAX)
        rc = rs__corrupt(q, "reply type");
    else if (!(rows = calloc(r->elements ? r->elements / 2 : 1, sizeof *rows)))
        rc = rs__fail(q, "out of memory");
    for (size_t i = 0; rc == STORE_OK && i < r->elements; i += 2, n++) {
        struct oauth_rec *row = &rows[n];
        const redisReply *k = r->element[i];
        if (k->type != REDIS_REPLY_STRING || k->len >= sizeof row->key)
            rc = rs__corrupt(q, "key");
        else if (rs__from_hash(r->element[i + 1], oauth_fields, RS_N(oauth_fields), row, &why))
            rc = rs__corrupt(q, why);
        else {
            memcpy(row->key, k->str, k->len);
            row->key[k->len] = '\0';
            snprintf(row->kind, sizeof row->kind, "%s", q->okind);
        }
    }
    rs__finish(q, rc, rows, n);
    free(rows);
}

static void rs__oauth_list(struct store *st, const char *kind, store_oauths_cb cb, void *arg)
{
    struct rs_req *q =
        rs__req(st, "oauth_list", RS_K_OAUTHS, (union rs_cb){.oauths = cb}, arg);
    if (!q)
        return;
    if (!rs__oauth_names_ok(kind, "-")) {
        rs__finish(q, STORE_OK, NULL, 0);
        return;
    }
    snprintf(q->okind, sizeof q->okind, "%s", kind);
    struct rs_argv a = {0};
    ra_key(&a, "qrl:oauth:", kind, strlen(kind), "");
    ra_int(&a, RS_LIST_MAX);
    rs__send(q, RS_OAUTH_LIST, 1, &a, rs__on_oauth_list);
}

/* ---- life --------------------------------------------------------------- */

static bool rs__healthy(struct store *st) { return redis_link_up(rs__from(st)->link); }

static void rs__start(struct store *st, struct lws_vhost *vh)
{
    redis_link_start(rs__from(st)->link, vh);
}

/* Freeing the link runs every pending callback with a NULL reply, so every
 * outstanding call completes (STORE_ERROR) before this returns. Unlike the
 * SQLite store's, not from inside one of this store's callbacks: the link
 * cannot be freed inside its own reply callback (redis_link.h). */
static void rs__close(struct store *st)
{
    struct redis_store *s = rs__from(st);
    if (!s)
        return;
    s->closing = true;
    if (s->link)
        redis_link_free(s->link);
    free(s);
}

/* A new connection starts with a fresh log budget, so the first failure
 * after a recovery is always seen. */
static void rs__on_state(struct redis_link *l, bool up, void *arg)
{
    struct redis_store *s = arg;
    (void)l;
    if (up) {
        s->log_quiet_until = 0;
        s->log_dropped = 0;
    }
}

static const struct store_ops redis_ops = {
    .close = rs__close,
    .healthy = rs__healthy,
    .start = rs__start,
    .user_create = rs__user_create,
    .user_by_name = rs__user_by_name,
    .user_by_id = rs__user_by_id,
    .user_bump_version = rs__user_bump_version,
    .user_federated = rs__user_federated,
    .session_put = rs__session_put,
    .session_get = rs__session_get,
    .session_list = rs__session_list,
    .session_revoke_user = rs__session_revoke_user,
    .audit_add = rs__audit_add,
    .audit_recent = rs__audit_recent,
    .oauth_put = rs__oauth_put,
    .oauth_get = rs__oauth_get,
    .oauth_del = rs__oauth_del,
    .oauth_list = rs__oauth_list,
};

/* Nothing connects here: the link needs the loop's vhost (ops->start). A
 * URL error comes from redis_url_parse, which never repeats a password. */
struct store *store_redis_open(const char *url, char *err, size_t errsz)
{
    struct redis_target t;
    struct redis_store *s = NULL;

    if (err && errsz)
        err[0] = '\0';
    memset(&t, 0, sizeof t);
    if (redis_url_parse(url, &t, err, errsz))
        goto out;
    s = calloc(1, sizeof *s);
    if (s)
        s->link = redis_link_new(&t, "store", rs__on_state, s);
    if (!s || !s->link) {
        free(s);
        s = NULL;
        if (err && errsz)
            snprintf(err, errsz, "out of memory");
        goto out;
    }
    s->base.ops = &redis_ops;
    for (int i = 0; i < RS__SCRIPTS; i++) {
        s->script[i].name = rs_script_src[i].name;
        s->script[i].lua = rs_script_src[i].lua;
        redis_link_add_script(s->link, &s->script[i]);
    }
out:
    explicit_bzero(&t, sizeof t); /* the password */
    return s ? &s->base : NULL;
}
