/* test_store_redis.c — the Redis store backend against a real redis-server
 * (redis_fixture.h), driven through the same store.h interface and the same
 * behaviours as test_store_sqlite.c, plus what only a network store has:
 * answers that come later on the loop, Redis going away and coming back, and
 * data that must survive a Redis restart (AOF).
 *
 * One redis-server and one lws context serve the whole group; every test
 * starts from an empty data set (FLUSHALL) with a freshly opened store. Each
 * op goes through a helper that runs the loop until its callback has run and
 * asserts it ran exactly once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "redis_fixture.h"

#include "clock.h"
#include "log.h"
#include "store.h"

/* Fake "now": 2100-01-01. Redis expires keys by its own, real clock, so
 * session times must lie in the future for their hashes to stay. */
#define T0 4102444800000LL
#define WAIT_MS 10000 /* generous deadline for anything "eventually" */
#define AUDIT_KEEP 1000

static struct redis_proc RP;
static struct redis_test_lws TL;

struct fixture {
    struct store *st;
};

/* ---- synchronous wrappers: one per callback shape ----------------------- */

struct res {
    int calls;
    bool done;
    enum store_rc rc;
    struct user_rec user;
    int64_t value;
    struct session_rec *sessions; /* heap copy of what the callback saw */
    struct audit_rec *audits;
    int n;
    bool rec_null; /* the callback got a NULL record pointer */
};

static void hit(struct res *r, enum store_rc rc)
{
    r->calls++;
    r->done = true;
    r->rc = rc;
}

static void on_done(void *arg, enum store_rc rc) { hit(arg, rc); }

static void on_user(void *arg, enum store_rc rc, const struct user_rec *u)
{
    struct res *r = arg;
    hit(r, rc);
    r->rec_null = (u == NULL);
    if (u)
        r->user = *u;
}

static void on_int(void *arg, enum store_rc rc, int64_t value)
{
    struct res *r = arg;
    hit(r, rc);
    r->value = value;
}

static void on_session(void *arg, enum store_rc rc, const struct session_rec *s)
{
    struct res *r = arg;
    hit(r, rc);
    r->rec_null = (s == NULL);
    if (s) {
        r->sessions = malloc(sizeof *s);
        assert_non_null(r->sessions);
        *r->sessions = *s;
        r->n = 1;
    }
}

static void on_sessions(void *arg, enum store_rc rc, const struct session_rec *s, int n)
{
    struct res *r = arg;
    hit(r, rc);
    r->n = n;
    r->rec_null = (s == NULL);
    assert_true(n >= 0 && n <= 100);
    if (n) {
        assert_non_null(s);
        r->sessions = malloc((size_t)n * sizeof *s);
        assert_non_null(r->sessions);
        memcpy(r->sessions, s, (size_t)n * sizeof *s);
    }
}

static void on_audits(void *arg, enum store_rc rc, const struct audit_rec *a, int n)
{
    struct res *r = arg;
    hit(r, rc);
    r->n = n;
    r->rec_null = (a == NULL);
    assert_true(n >= 0 && n <= 100);
    if (n) {
        assert_non_null(a);
        r->audits = malloc((size_t)n * sizeof *a);
        assert_non_null(r->audits);
        memcpy(r->audits, a, (size_t)n * sizeof *a);
    }
}

static void res_free(struct res *r)
{
    free(r->sessions);
    free(r->audits);
    memset(r, 0, sizeof *r);
}

/* Runs the loop until the callback has run (it may have already), then
 * checks it ran exactly once. */
static void wait_once(struct res *r)
{
    if (!r->done)
        run_loop_until(TL.ctx, &r->done, WAIT_MS);
    assert_int_equal(r->calls, 1);
}

static enum store_rc t_user_create(struct store *st, const char *name, const char *hash,
                                   struct user_rec *out)
{
    struct res r = {0};
    st->ops->user_create(st, name, hash, on_user, &r);
    wait_once(&r);
    assert_int_equal(r.rec_null, r.rc != STORE_OK);
    if (out)
        *out = r.user;
    return r.rc;
}

static enum store_rc t_user_by_name(struct store *st, const char *name, struct user_rec *out)
{
    struct res r = {0};
    st->ops->user_by_name(st, name, on_user, &r);
    wait_once(&r);
    assert_int_equal(r.rec_null, r.rc != STORE_OK);
    if (out)
        *out = r.user;
    return r.rc;
}

static enum store_rc t_user_by_id(struct store *st, int64_t id, struct user_rec *out)
{
    struct res r = {0};
    st->ops->user_by_id(st, id, on_user, &r);
    wait_once(&r);
    assert_int_equal(r.rec_null, r.rc != STORE_OK);
    if (out)
        *out = r.user;
    return r.rc;
}

static enum store_rc t_bump(struct store *st, int64_t id, int64_t *out)
{
    struct res r = {0};
    st->ops->user_bump_version(st, id, on_int, &r);
    wait_once(&r);
    if (out)
        *out = r.value;
    return r.rc;
}

static enum store_rc t_session_put(struct store *st, const struct session_rec *s)
{
    struct res r = {0};
    st->ops->session_put(st, s, on_done, &r);
    wait_once(&r);
    return r.rc;
}

/* out may be NULL; the record is copied to *out when found */
static enum store_rc t_session_get(struct store *st, const char *sid, struct session_rec *out)
{
    struct res r = {0};
    st->ops->session_get(st, sid, on_session, &r);
    wait_once(&r);
    assert_int_equal(r.rec_null, r.rc != STORE_OK);
    if (out && r.sessions)
        *out = r.sessions[0];
    enum store_rc rc = r.rc;
    res_free(&r);
    return rc;
}

/* the caller frees r->sessions via res_free */
static void t_session_list(struct store *st, int64_t user_id, struct res *r)
{
    memset(r, 0, sizeof *r);
    st->ops->session_list(st, user_id, on_sessions, r);
    wait_once(r);
}

static enum store_rc t_revoke_user(struct store *st, int64_t user_id, const char *reason)
{
    struct res r = {0};
    st->ops->session_revoke_user(st, user_id, reason, on_done, &r);
    wait_once(&r);
    return r.rc;
}

static enum store_rc t_audit_add(struct store *st, const struct audit_rec *a)
{
    struct res r = {0};
    st->ops->audit_add(st, a, on_done, &r);
    wait_once(&r);
    return r.rc;
}

static void t_audit_recent(struct store *st, int64_t user_id, int limit, struct res *r)
{
    memset(r, 0, sizeof *r);
    st->ops->audit_recent(st, user_id, limit, on_audits, r);
    wait_once(r);
}

/* ---- Redis on the side: set-up and inspection --------------------------- */

/* One command on a blocking connection of its own; returns the reply (the
 * caller frees it). */
static redisReply *sync_cmd(const char *fmt, ...)
{
    redisContext *c = redis_proc_connect_sync(&RP);
    assert_non_null(c);
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    redisFree(c);
    assert_non_null(r);
    if (r->type == REDIS_REPLY_ERROR)
        fail_msg("redis: %s", r->str);
    return r;
}

static long long sync_int(const char *fmt, ...)
{
    redisContext *c = redis_proc_connect_sync(&RP);
    assert_non_null(c);
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    redisFree(c);
    assert_non_null(r);
    if (r->type != REDIS_REPLY_INTEGER)
        fail_msg("redis: not an integer reply (type %d: %s)", r->type, r->str ? r->str : "");
    long long v = r->integer;
    freeReplyObject(r);
    return v;
}

static bool wait_healthy(struct store *st, bool want, int max_ms)
{
    long long deadline = redis_fixture_now_ms() + max_ms;
    while (st->ops->healthy(st) != want && redis_fixture_now_ms() < deadline)
        run_loop_until(TL.ctx, NULL, 10);
    return st->ops->healthy(st) == want;
}

/* Opens a store on the group's Redis and waits until it is connected. */
static struct store *open_started(void)
{
    char url[128], err[256] = "";
    redis_proc_url(&RP, 0, url, sizeof url);
    struct store *st = store_open(url, err, sizeof err);
    if (!st)
        fail_msg("store_open(%s): %s", url, err);
    assert_true(store_needs_loop(st));
    st->ops->start(st, TL.vh);
    assert_true(wait_healthy(st, true, WAIT_MS));
    return st;
}

/* ---- fixture ------------------------------------------------------------ */

static int group_setup(void **state)
{
    (void)state;
    log_set_level(QLOG_ERROR);
    if (redis_proc_start(&RP, 0, NULL))
        return -1;
    if (redis_test_lws_init(&TL)) {
        redis_proc_cleanup(&RP);
        return -1;
    }
    /* lws initialises the vhost's protocols on its first turn, and the link
     * needs that before it can start (the broker starts it from that turn) */
    run_loop_until(TL.ctx, NULL, 20);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    redis_test_lws_fini(&TL);
    redis_proc_cleanup(&RP);
    return 0;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    clock_set_fake_ms(T0);
    freeReplyObject(sync_cmd("FLUSHALL"));
    f->st = open_started();
    *state = f;
    return 0;
}

/* Leaves the group's Redis running and answering, whatever the test did. */
static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->st)
        f->st->ops->close(f->st);
    redis_proc_resume(&RP);
    if (!RP.pid && redis_proc_spawn(&RP))
        fail_msg("cannot restart redis-server");
    run_loop_until(TL.ctx, NULL, 20); /* let lws reap the closed sockets */
    clock_use_real();
    free(f);
    return 0;
}

static void reopen(struct fixture *f)
{
    f->st->ops->close(f->st);
    f->st = open_started();
}

/* A fully populated session record with distinct values in every field. */
static void make_session(struct session_rec *s, const char *sid, int64_t user_id,
                         int64_t created_at)
{
    memset(s, 0, sizeof *s);
    snprintf(s->sid, sizeof s->sid, "%s", sid);
    s->user_id = user_id;
    snprintf(s->kind, sizeof s->kind, "web");
    s->created_at = created_at;
    s->last_used_at = created_at + 1;
    snprintf(s->ip, sizeof s->ip, "203.0.113.7");
    snprintf(s->user_agent, sizeof s->user_agent, "Mozilla/5.0 (X11; Linux) %s", sid);
    s->ver = 1;
    s->revoked = false;
    snprintf(s->cur_jti, sizeof s->cur_jti, "jti-cur-%s", sid);
    s->rotated_at = created_at;
    s->refresh_exp = created_at / 1000 + 14 * 86400;
}

static void assert_session_eq(const struct session_rec *a, const struct session_rec *b)
{
    assert_string_equal(a->sid, b->sid);
    assert_int_equal(a->user_id, b->user_id);
    assert_string_equal(a->kind, b->kind);
    assert_int_equal(a->created_at, b->created_at);
    assert_int_equal(a->last_used_at, b->last_used_at);
    assert_string_equal(a->ip, b->ip);
    assert_string_equal(a->user_agent, b->user_agent);
    assert_int_equal(a->ver, b->ver);
    assert_int_equal(a->revoked, b->revoked);
    assert_string_equal(a->revoke_reason, b->revoke_reason);
    assert_string_equal(a->cur_jti, b->cur_jti);
    assert_string_equal(a->prev_jti, b->prev_jti);
    assert_int_equal(a->rotated_at, b->rotated_at);
    assert_int_equal(a->refresh_exp, b->refresh_exp);
    assert_string_equal(a->last_access, b->last_access);
    assert_string_equal(a->last_refresh, b->last_refresh);
    assert_int_equal(a->last_access_exp, b->last_access_exp);
}

static int64_t new_user(struct store *st, const char *name)
{
    struct user_rec u;
    assert_int_equal(t_user_create(st, name, "$pbkdf2-sha256$i=600000$salt$hash", &u), STORE_OK);
    assert_true(u.id > 0);
    return u.id;
}

static void fill(char *dst, size_t n, char c)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = (char)(c + i % 23);
    dst[n] = '\0';
}

static void make_audit(struct audit_rec *a, int64_t uid, int64_t at, const char *outcome)
{
    memset(a, 0, sizeof *a);
    a->at = at;
    a->user_id = uid;
    snprintf(a->sid, sizeof a->sid, "audit-sid-%lld", (long long)at % 1000);
    snprintf(a->ticket_prefix, sizeof a->ticket_prefix, "Tk3x9Q");
    snprintf(a->pc_ip, sizeof a->pc_ip, "198.51.100.4");
    snprintf(a->pc_user_agent, sizeof a->pc_user_agent, "Firefox/128.0");
    snprintf(a->phone_sid, sizeof a->phone_sid, "phone-sid-1");
    snprintf(a->outcome, sizeof a->outcome, "%s", outcome);
}

/* ---- users -------------------------------------------------------------- */

static void test_user_roundtrip(void **state)
{
    struct fixture *f = *state;
    const char *hash = "$pbkdf2-sha256$i=600000$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo";
    struct user_rec u, byname, byid;

    assert_int_equal(t_user_create(f->st, "alice", hash, &u), STORE_OK);
    assert_true(u.id > 0);
    assert_string_equal(u.name, "alice");
    assert_string_equal(u.pwhash, hash);
    assert_int_equal(u.token_version, 1);
    assert_int_equal(u.created_at, T0);

    assert_int_equal(t_user_by_name(f->st, "alice", &byname), STORE_OK);
    assert_int_equal(t_user_by_id(f->st, u.id, &byid), STORE_OK);
    const struct user_rec *got[] = {&byname, &byid};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(got[i]->id, u.id);
        assert_string_equal(got[i]->name, "alice");
        assert_string_equal(got[i]->pwhash, hash);
        assert_int_equal(got[i]->token_version, 1);
        assert_int_equal(got[i]->created_at, T0);
    }

    /* a second user gets a different id; a 64-byte name fits exactly */
    char longest[USER_NAME_MAX + 1];
    memset(longest, 'n', USER_NAME_MAX);
    longest[USER_NAME_MAX] = '\0';
    struct user_rec u2;
    clock_advance_ms(5);
    assert_int_equal(t_user_create(f->st, longest, hash, &u2), STORE_OK);
    assert_int_not_equal(u2.id, u.id);
    assert_int_equal(u2.created_at, T0 + 5);
    assert_int_equal(t_user_by_name(f->st, longest, &byname), STORE_OK);
    assert_int_equal(byname.id, u2.id);
    assert_string_equal(byname.name, longest);
    assert_true(f->st->ops->healthy(f->st));
}

static void test_user_conflict_and_bad_input(void **state)
{
    struct fixture *f = *state;
    struct user_rec u;
    int64_t id = new_user(f->st, "bob");

    assert_int_equal(t_user_create(f->st, "bob", "$other$hash", &u), STORE_CONFLICT);
    /* the original is untouched, and the refused create used no id */
    assert_int_equal(t_user_by_name(f->st, "bob", &u), STORE_OK);
    assert_int_equal(u.id, id);
    assert_string_equal(u.pwhash, "$pbkdf2-sha256$i=600000$salt$hash");
    /* names are compared exactly */
    assert_int_equal(t_user_create(f->st, "Bob", "$h", &u), STORE_OK);
    assert_int_equal(u.id, id + 1);

    /* a name one byte too long is refused, not truncated into another name */
    char toolong[USER_NAME_MAX + 2];
    memset(toolong, 'x', USER_NAME_MAX + 1);
    toolong[USER_NAME_MAX + 1] = '\0';
    assert_int_equal(t_user_create(f->st, toolong, "$h", NULL), STORE_ERROR);
    assert_int_equal(t_user_by_name(f->st, toolong, NULL), STORE_NOT_FOUND);
    toolong[USER_NAME_MAX] = '\0';
    assert_int_equal(t_user_by_name(f->st, toolong, NULL), STORE_NOT_FOUND);
    char bighash[PASSWORD_HASH_MAX + 1];
    memset(bighash, 'h', PASSWORD_HASH_MAX);
    bighash[PASSWORD_HASH_MAX] = '\0';
    assert_int_equal(t_user_create(f->st, "carol", bighash, NULL), STORE_ERROR);
    assert_int_equal(t_user_by_name(f->st, "carol", NULL), STORE_NOT_FOUND);
    assert_int_equal(t_user_create(f->st, "", "$h", NULL), STORE_ERROR);
    assert_int_equal(t_user_create(f->st, "dan", "", NULL), STORE_ERROR);
    assert_int_equal(t_user_by_name(f->st, "", NULL), STORE_NOT_FOUND);
    /* input errors are not backend failures */
    assert_true(f->st->ops->healthy(f->st));
}

/* Names, hashes and record fields travel as argv with lengths, never
 * formatted into a command: protocol characters, quotes, format directives
 * and bytes that are not UTF-8 come back exactly. */
static void test_binary_safe_values(void **state)
{
    struct fixture *f = *state;
    const char *name = "a b\r\n*3\r\n$3\r\nDEL\r\n\"q'%s%n\xff\xfe:sess";
    const char *hash = "$h with spaces\r\nand %d";
    struct user_rec u;

    assert_int_equal(t_user_create(f->st, name, hash, &u), STORE_OK);
    assert_int_equal(t_user_by_name(f->st, name, &u), STORE_OK);
    assert_string_equal(u.name, name);
    assert_string_equal(u.pwhash, hash);
    assert_int_equal(t_user_create(f->st, name, "$h", NULL), STORE_CONFLICT);
    assert_int_equal(t_user_by_name(f->st, "a b", NULL), STORE_NOT_FOUND);
    assert_int_equal(sync_int("DBSIZE"), 3); /* user, name index, id counter */

    struct session_rec s, got;
    make_session(&s, "sid with\r\nCRLF \xc3\x28", u.id, T0);
    snprintf(s.user_agent, sizeof s.user_agent, "UA \"quoted\" \xc3\x28\xa0\xa1 %%s\r\n");
    snprintf(s.ip, sizeof s.ip, "%%n%%n");
    assert_int_equal(t_session_put(f->st, &s), STORE_OK);
    assert_int_equal(t_session_get(f->st, s.sid, &got), STORE_OK);
    assert_session_eq(&got, &s);

    struct audit_rec a;
    make_audit(&a, u.id, T0, "confirmed");
    snprintf(a.pc_user_agent, sizeof a.pc_user_agent, "\xc3\x28 \"x\" \\ \xed\xa0\x80");
    snprintf(a.sid, sizeof a.sid, "%s", s.sid);
    struct res r;
    assert_int_equal(t_audit_add(f->st, &a), STORE_OK);
    t_audit_recent(f->st, u.id, 5, &r);
    assert_int_equal(r.n, 1);
    assert_memory_equal(&r.audits[0], &a, sizeof a);
    res_free(&r);
}

/* ---- federated users (user_federated) ----------------------------------- */

static enum store_rc t_user_federated(struct store *st, const char *iss, const char *sub,
                                      const char *name, struct user_rec *out)
{
    struct res r = {0};
    st->ops->user_federated(st, iss, sub, name, on_user, &r);
    wait_once(&r);
    assert_int_equal(r.rec_null, r.rc != STORE_OK);
    if (out)
        *out = r.user;
    return r.rc;
}

static void test_user_federated(void **state)
{
    struct fixture *f = *state;
    struct user_rec a, again, other, byid, byname;
    int64_t local = new_user(f->st, "Alice"); /* a local user with the same display name */

    assert_int_equal(t_user_federated(f->st, "https://idp.example", "u-1", "Alice", &a), STORE_OK);
    assert_true(a.id > 0);
    assert_int_not_equal(a.id, local);
    assert_string_equal(a.name, "Alice");
    assert_int_equal(a.token_version, 1);
    /* the same identity is the same user; a changed name is taken */
    assert_int_equal(t_user_federated(f->st, "https://idp.example", "u-1", "Alice B.", &again),
                     STORE_OK);
    assert_int_equal(again.id, a.id);
    assert_string_equal(again.name, "Alice B.");
    assert_int_equal(t_user_by_id(f->st, a.id, &byid), STORE_OK);
    assert_string_equal(byid.name, "Alice B.");
    /* the same subject at another issuer is someone else */
    assert_int_equal(t_user_federated(f->st, "https://other.example", "u-1", "Alice", &other),
                     STORE_OK);
    assert_int_not_equal(other.id, a.id);
    /* a password sign-in never finds a federated user by its display name */
    assert_int_equal(t_user_by_name(f->st, "Alice B.", &byname), STORE_NOT_FOUND);
    assert_int_equal(t_user_by_name(f->st, "Alice", &byname), STORE_OK);
    assert_int_equal(byname.id, local);
    /* token versions (logout.all) work as for local users */
    int64_t v = 0;
    assert_int_equal(t_bump(f->st, a.id, &v), STORE_OK);
    assert_int_equal(v, 2);
    assert_int_equal(t_user_federated(f->st, "https://idp.example", "u-1", "Alice B.", &again),
                     STORE_OK);
    assert_int_equal(again.token_version, 2);
    /* bad input is refused, not cut */
    char longsub[FED_SUBJECT_MAX + 2];
    memset(longsub, 's', FED_SUBJECT_MAX + 1);
    longsub[FED_SUBJECT_MAX + 1] = '\0';
    assert_int_equal(t_user_federated(f->st, "", "u", "n", NULL), STORE_ERROR);
    assert_int_equal(t_user_federated(f->st, "i", longsub, "n", NULL), STORE_ERROR);
    assert_int_equal(t_user_federated(f->st, "i", "u", "", NULL), STORE_ERROR);
    assert_true(f->st->ops->healthy(f->st));
}

static void test_not_found(void **state)
{
    struct fixture *f = *state;
    int64_t v = 77;

    assert_int_equal(t_user_by_name(f->st, "nobody", NULL), STORE_NOT_FOUND);
    assert_int_equal(t_user_by_id(f->st, 424242, NULL), STORE_NOT_FOUND);
    assert_int_equal(t_bump(f->st, 424242, &v), STORE_NOT_FOUND);
    assert_int_equal(v, 0);
    assert_int_equal(t_session_get(f->st, "AAAAAAAAAAAAAAAAAAAAAA", NULL), STORE_NOT_FOUND);
    assert_int_equal(t_session_get(f->st, "", NULL), STORE_NOT_FOUND);
    char longsid[SID_MAX + 1];
    memset(longsid, 's', SID_MAX);
    longsid[SID_MAX] = '\0';
    assert_int_equal(t_session_get(f->st, longsid, NULL), STORE_NOT_FOUND);

    struct res r;
    t_session_list(f->st, 424242, &r);
    assert_int_equal(r.rc, STORE_OK);
    assert_int_equal(r.n, 0);
    res_free(&r);
    t_audit_recent(f->st, 424242, 10, &r);
    assert_int_equal(r.rc, STORE_OK);
    assert_int_equal(r.n, 0);
    res_free(&r);
    assert_int_equal(t_revoke_user(f->st, 424242, "logout_all"), STORE_OK);

    /* a session for a user that does not exist is refused */
    struct session_rec s;
    make_session(&s, "orphanorphanorphanorph", 424242, T0);
    assert_int_equal(t_session_put(f->st, &s), STORE_NOT_FOUND);
    assert_int_equal(t_session_get(f->st, s.sid, NULL), STORE_NOT_FOUND);
    /* the bump of a missing user created nothing */
    assert_int_equal(sync_int("EXISTS qrl:user:424242"), 0);
    assert_true(f->st->ops->healthy(f->st));
}

static void test_bump_version_persists(void **state)
{
    struct fixture *f = *state;
    int64_t id = new_user(f->st, "dave");
    int64_t other = new_user(f->st, "erin");
    int64_t v = 0;
    struct user_rec u;

    assert_int_equal(t_bump(f->st, id, &v), STORE_OK);
    assert_int_equal(v, 2);
    assert_int_equal(t_bump(f->st, id, &v), STORE_OK);
    assert_int_equal(v, 3);
    assert_int_equal(t_user_by_id(f->st, id, &u), STORE_OK);
    assert_int_equal(u.token_version, 3);
    assert_int_equal(t_user_by_id(f->st, other, &u), STORE_OK);
    assert_int_equal(u.token_version, 1);

    reopen(f);
    assert_int_equal(t_user_by_name(f->st, "dave", &u), STORE_OK);
    assert_int_equal(u.token_version, 3);
    assert_int_equal(t_bump(f->st, id, &v), STORE_OK);
    assert_int_equal(v, 4);
}

/* ---- sessions ----------------------------------------------------------- */

static void test_session_put_replace_get(void **state)
{
    struct fixture *f = *state;
    int64_t uid = new_user(f->st, "frank");
    struct session_rec s, got;

    make_session(&s, "Sx5-abcdefghijklmnop_q", uid, T0);
    snprintf(s.kind, sizeof s.kind, "app");
    assert_int_equal(t_session_put(f->st, &s), STORE_OK);
    assert_int_equal(t_session_get(f->st, s.sid, &got), STORE_OK);
    assert_session_eq(&got, &s);
    assert_string_equal(got.prev_jti, "");
    assert_string_equal(got.last_access, "");
    assert_int_equal(got.rev, 1);
    s.rev = got.rev; /* a writer replaces what it read */

    /* a rotation: the same sid comes back with every mutable field changed */
    snprintf(s.prev_jti, sizeof s.prev_jti, "%s", s.cur_jti);
    snprintf(s.cur_jti, sizeof s.cur_jti, "jti-rotated-000000000000000001");
    s.rotated_at = T0 + 6000;
    s.last_used_at = T0 + 6000;
    s.refresh_exp += 6;
    s.ver = 2;
    fill(s.last_access, 2000, 'A');
    fill(s.last_refresh, JWT_MAX_TOKEN - 1, 'a'); /* the longest a token may be */
    s.last_access_exp = T0 / 1000 + 906;
    snprintf(s.ip, sizeof s.ip, "2001:db8::1");
    fill(s.user_agent, UA_MAX - 1, '0');
    assert_int_equal(t_session_put(f->st, &s), STORE_OK);
    memset(&got, 0x5a, sizeof got);
    assert_int_equal(t_session_get(f->st, s.sid, &got), STORE_OK);
    assert_session_eq(&got, &s);
    assert_int_equal(strlen(got.last_access), 2000);
    assert_int_equal(strlen(got.last_refresh), JWT_MAX_TOKEN - 1);
    assert_int_equal(got.rev, 2);
    s.rev = got.rev;

    /* still one session, not two */
    struct res r;
    t_session_list(f->st, uid, &r);
    assert_int_equal(r.rc, STORE_OK);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.sessions[0].rev, 2);
    res_free(&r);

    /* the grace window ends: the kept pair is cleared; a revoked session is
     * still returned by get (the refresh path needs to see it) */
    s.last_access[0] = s.last_refresh[0] = '\0';
    s.last_access_exp = 0;
    s.revoked = true;
    snprintf(s.revoke_reason, sizeof s.revoke_reason, "refresh_reused");
    assert_int_equal(t_session_put(f->st, &s), STORE_OK);
    assert_int_equal(t_session_get(f->st, s.sid, &got), STORE_OK);
    assert_session_eq(&got, &s);
    assert_true(got.revoked);
    s.rev = got.rev;

    /* a field without a terminator is a caller bug and is refused */
    struct session_rec bad = s;
    memset(bad.cur_jti, 'j', sizeof bad.cur_jti);
    assert_int_equal(t_session_put(f->st, &bad), STORE_ERROR);
    bad = s;
    memset(bad.sid, 'S', sizeof bad.sid);
    assert_int_equal(t_session_put(f->st, &bad), STORE_ERROR);
    assert_int_equal(t_session_get(f->st, s.sid, &got), STORE_OK);
    assert_string_equal(got.cur_jti, s.cur_jti);
    assert_int_equal(got.rev, s.rev);
    assert_true(f->st->ops->healthy(f->st));
}

/* session_put is a compare-and-set on rev (store.h). */
static void test_session_put_compare_and_set(void **state)
{
    struct fixture *f = *state;
    int64_t uid = new_user(f->st, "casey");
    struct session_rec s, got, stale;

    make_session(&s, "Scas-abcdefghijklmnop_q", uid, T0);
    assert_int_equal(t_session_put(f->st, &s), STORE_OK);
    /* inserting the same sid again is a conflict, not a replace */
    snprintf(s.cur_jti, sizeof s.cur_jti, "second-insert");
    assert_int_equal(t_session_put(f->st, &s), STORE_CONFLICT);
    assert_int_equal(t_session_get(f->st, s.sid, &stale), STORE_OK);
    assert_string_equal(stale.cur_jti, "jti-cur-Scas-abcdefghijklmnop_q");
    assert_int_equal(stale.rev, 1);

    got = stale;
    snprintf(got.cur_jti, sizeof got.cur_jti, "winner-jti");
    assert_int_equal(t_session_put(f->st, &got), STORE_OK);

    /* a writer holding the older read loses, and changes nothing */
    snprintf(stale.cur_jti, sizeof stale.cur_jti, "loser-jti");
    stale.last_used_at = T0 + 99;
    assert_int_equal(t_session_put(f->st, &stale), STORE_CONFLICT);
    /* so does one from the future */
    stale.rev = 7;
    assert_int_equal(t_session_put(f->st, &stale), STORE_CONFLICT);
    assert_int_equal(t_session_get(f->st, s.sid, &got), STORE_OK);
    assert_string_equal(got.cur_jti, "winner-jti");
    assert_int_equal(got.last_used_at, s.last_used_at);
    assert_int_equal(got.rev, 2);

    /* revoking every session of the user is a write too: older reads lose */
    assert_int_equal(t_revoke_user(f->st, uid, "logout_all"), STORE_OK);
    assert_int_equal(t_session_put(f->st, &got), STORE_CONFLICT);
    assert_int_equal(t_session_get(f->st, s.sid, &got), STORE_OK);
    assert_true(got.revoked);
    assert_int_equal(got.rev, 3);

    /* a replace of a sid that does not exist is not an insert */
    struct session_rec ghost = got;
    snprintf(ghost.sid, sizeof ghost.sid, "Sghost-abcdefghijklmn");
    assert_int_equal(t_session_put(f->st, &ghost), STORE_NOT_FOUND);
    assert_int_equal(t_session_get(f->st, ghost.sid, NULL), STORE_NOT_FOUND);

    /* an insert or a replace naming a user that does not exist */
    make_session(&ghost, "Sorphan-abcdefghijklm", uid + 1000, T0);
    assert_int_equal(t_session_put(f->st, &ghost), STORE_NOT_FOUND);
    got.user_id = uid + 1000;
    assert_int_equal(t_session_put(f->st, &got), STORE_NOT_FOUND);
    assert_int_equal(t_session_get(f->st, s.sid, &got), STORE_OK);
    assert_int_equal(got.user_id, uid);
    assert_int_equal(got.rev, 3);
}

/* Concurrent writers with the same read: exactly one wins. Both calls are
 * queued before either answer arrives, as two brokers would send them. */
static void test_session_put_race_one_winner(void **state)
{
    struct fixture *f = *state;
    int64_t uid = new_user(f->st, "rhea");
    struct session_rec s, a, b, got;
    make_session(&s, "Srace-abcdefghijklmnop", uid, T0);
    assert_int_equal(t_session_put(f->st, &s), STORE_OK);
    assert_int_equal(t_session_get(f->st, s.sid, &a), STORE_OK);
    b = a;
    snprintf(a.cur_jti, sizeof a.cur_jti, "from-a");
    snprintf(b.cur_jti, sizeof b.cur_jti, "from-b");

    struct res ra = {0}, rb = {0};
    f->st->ops->session_put(f->st, &a, on_done, &ra);
    f->st->ops->session_put(f->st, &b, on_done, &rb);
    memset(&a, 0, sizeof a); /* the store copied what it needs */
    memset(&b, 0, sizeof b);
    wait_once(&ra);
    wait_once(&rb);
    assert_int_equal(ra.rc, STORE_OK); /* one connection: answered in order */
    assert_int_equal(rb.rc, STORE_CONFLICT);
    assert_int_equal(t_session_get(f->st, s.sid, &got), STORE_OK);
    assert_string_equal(got.cur_jti, "from-a");
}

/* A session moved to another user (by a rev'd write) leaves the old user's
 * list and joins the new one's. */
static void test_session_changes_owner(void **state)
{
    struct fixture *f = *state;
    int64_t u1 = new_user(f->st, "owner-one");
    int64_t u2 = new_user(f->st, "owner-two");
    struct session_rec s, got;
    struct res r;

    make_session(&s, "Smove-abcdefghijklmnop", u1, T0);
    assert_int_equal(t_session_put(f->st, &s), STORE_OK);
    assert_int_equal(t_session_get(f->st, s.sid, &got), STORE_OK);
    got.user_id = u2;
    assert_int_equal(t_session_put(f->st, &got), STORE_OK);
    t_session_list(f->st, u1, &r);
    assert_int_equal(r.n, 0);
    res_free(&r);
    t_session_list(f->st, u2, &r);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.sessions[0].user_id, u2);
    res_free(&r);
    assert_int_equal(t_revoke_user(f->st, u1, "logout_all"), STORE_OK);
    assert_int_equal(t_session_get(f->st, s.sid, &got), STORE_OK);
    assert_false(got.revoked);
}

static void test_session_list_order_and_revoked(void **state)
{
    struct fixture *f = *state;
    int64_t uid = new_user(f->st, "gina");
    int64_t other = new_user(f->st, "hank");
    struct session_rec s;
    char sid[SID_MAX];

    /* created out of order on purpose: the list sorts by created_at */
    const int64_t created[] = {T0 + 300, T0 + 100, T0 + 500, T0 + 200, T0 + 400};
    for (int i = 0; i < 5; i++) {
        snprintf(sid, sizeof sid, "sess-gina-%d", i);
        make_session(&s, sid, uid, created[i]);
        s.revoked = (i == 2); /* the newest one is revoked */
        if (s.revoked)
            snprintf(s.revoke_reason, sizeof s.revoke_reason, "logout");
        assert_int_equal(t_session_put(f->st, &s), STORE_OK);
    }
    make_session(&s, "sess-hank-0", other, T0 + 999);
    assert_int_equal(t_session_put(f->st, &s), STORE_OK);

    struct res r;
    t_session_list(f->st, uid, &r);
    assert_int_equal(r.rc, STORE_OK);
    assert_int_equal(r.n, 4);
    const char *want[] = {"sess-gina-4", "sess-gina-0", "sess-gina-3", "sess-gina-1"};
    for (int i = 0; i < 4; i++) {
        assert_string_equal(r.sessions[i].sid, want[i]);
        assert_int_equal(r.sessions[i].user_id, uid);
        assert_false(r.sessions[i].revoked);
    }
    /* rows carry whole records */
    make_session(&s, "sess-gina-4", uid, T0 + 400);
    assert_session_eq(&r.sessions[0], &s);
    res_free(&r);

    /* created in the same millisecond: the one stored last comes first (as
     * SQLite's rowid orders them), whatever the sids' alphabetical order */
    make_session(&s, "zzz-tie-first", uid, T0 + 600);
    assert_int_equal(t_session_put(f->st, &s), STORE_OK);
    make_session(&s, "aaa-tie-second", uid, T0 + 600);
    assert_int_equal(t_session_put(f->st, &s), STORE_OK);
    t_session_list(f->st, uid, &r);
    assert_int_equal(r.n, 6);
    assert_string_equal(r.sessions[0].sid, "aaa-tie-second");
    assert_string_equal(r.sessions[1].sid, "zzz-tie-first");
    res_free(&r);
}

static void test_session_list_caps_at_100(void **state)
{
    struct fixture *f = *state;
    int64_t uid = new_user(f->st, "ivan");
    struct session_rec s;
    char sid[SID_MAX];

    for (int i = 0; i < 105; i++) {
        snprintf(sid, sizeof sid, "many-%03d", i);
        make_session(&s, sid, uid, T0 + i);
        assert_int_equal(t_session_put(f->st, &s), STORE_OK);
    }
    struct res r;
    t_session_list(f->st, uid, &r);
    assert_int_equal(r.rc, STORE_OK);
    assert_int_equal(r.n, 100);
    assert_string_equal(r.sessions[0].sid, "many-104");
    assert_string_equal(r.sessions[99].sid, "many-005");
    for (int i = 1; i < 100; i++)
        assert_true(r.sessions[i - 1].created_at > r.sessions[i].created_at);
    res_free(&r);
}

/* A session whose hash is gone (expired) is dropped from the list, and from
 * the user's set on the way; the 100 are counted among the live ones. */
static void test_session_list_skips_dangling(void **state)
{
    struct fixture *f = *state;
    int64_t uid = new_user(f->st, "dora");
    struct session_rec s;
    char sid[SID_MAX];

    for (int i = 0; i < 103; i++) {
        snprintf(sid, sizeof sid, "dang-%03d", i);
        make_session(&s, sid, uid, T0 + i);
        assert_int_equal(t_session_put(f->st, &s), STORE_OK);
    }
    char key[64];
    /* the newest five vanish behind the store's back */
    for (int i = 98; i < 103; i++) {
        snprintf(key, sizeof key, "qrl:sess:dang-%03d", i);
        assert_int_equal(sync_int("DEL %s", key), 1);
    }
    snprintf(key, sizeof key, "qrl:user:%lld:sess", (long long)uid);
    assert_int_equal(sync_int("ZCARD %s", key), 103);

    struct res r;
    t_session_list(f->st, uid, &r);
    assert_int_equal(r.rc, STORE_OK);
    assert_int_equal(r.n, 98);
    assert_string_equal(r.sessions[0].sid, "dang-097");
    assert_string_equal(r.sessions[97].sid, "dang-000");
    res_free(&r);
    assert_int_equal(sync_int("ZCARD %s", key), 98);

    /* revoked sessions leave the set when they are written */
    assert_int_equal(t_session_get(f->st, "dang-000", &s), STORE_OK);
    s.revoked = true;
    snprintf(s.revoke_reason, sizeof s.revoke_reason, "logout");
    assert_int_equal(t_session_put(f->st, &s), STORE_OK);
    assert_int_equal(sync_int("ZCARD %s", key), 97);
    t_session_list(f->st, uid, &r);
    assert_int_equal(r.n, 97);
    assert_string_equal(r.sessions[96].sid, "dang-001");
    res_free(&r);
}

/* Session hashes expire a day after refresh_exp (Redis's clock); the user's
 * set and other keys do not expire. */
static void test_session_expiry(void **state)
{
    struct fixture *f = *state;
    int64_t uid = new_user(f->st, "tess");
    struct session_rec s, got;
    char key[64], zkey[64];

    make_session(&s, "Sttl-abcdefghijklmnop", uid, T0);
    assert_int_equal(t_session_put(f->st, &s), STORE_OK);
    snprintf(key, sizeof key, "qrl:sess:%s", s.sid);
    assert_int_equal(sync_int("EXPIRETIME %s", key), s.refresh_exp + 86400);

    /* a rotation moves it along; revoking keeps it */
    assert_int_equal(t_session_get(f->st, s.sid, &got), STORE_OK);
    got.refresh_exp += 3600;
    assert_int_equal(t_session_put(f->st, &got), STORE_OK);
    assert_int_equal(sync_int("EXPIRETIME %s", key), got.refresh_exp + 86400);
    assert_int_equal(t_revoke_user(f->st, uid, "logout_all"), STORE_OK);
    assert_int_equal(sync_int("EXPIRETIME %s", key), got.refresh_exp + 86400);

    /* no refresh_exp, no expiry */
    make_session(&s, "Snottl-abcdefghijklmno", uid, T0);
    s.refresh_exp = 0;
    assert_int_equal(t_session_put(f->st, &s), STORE_OK);
    snprintf(key, sizeof key, "qrl:sess:%s", s.sid);
    assert_int_equal(sync_int("TTL %s", key), -1);
    snprintf(zkey, sizeof zkey, "qrl:user:%lld:sess", (long long)uid);
    assert_int_equal(sync_int("TTL %s", zkey), -1);
    snprintf(zkey, sizeof zkey, "qrl:user:%lld", (long long)uid);
    assert_int_equal(sync_int("TTL %s", zkey), -1);

    /* a session whose refresh_exp ended more than a day ago is gone at once:
     * none of its tokens can be used any more */
    make_session(&s, "Sdead-abcdefghijklmnop", uid, T0);
    s.refresh_exp = 1000;
    assert_int_equal(t_session_put(f->st, &s), STORE_OK);
    assert_int_equal(t_session_get(f->st, s.sid, NULL), STORE_NOT_FOUND);
    struct res r;
    t_session_list(f->st, uid, &r);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.sessions[0].sid, "Snottl-abcdefghijklmno");
    res_free(&r);
}

static void test_session_revoke_user(void **state)
{
    struct fixture *f = *state;
    int64_t uid = new_user(f->st, "judy");
    int64_t other = new_user(f->st, "karl");
    struct session_rec s, got;

    make_session(&s, "judy-a", uid, T0 + 1);
    fill(s.last_access, 900, 'P');
    fill(s.last_refresh, 700, 'p');
    s.last_access_exp = T0 / 1000 + 900;
    snprintf(s.prev_jti, sizeof s.prev_jti, "jti-prev-a");
    assert_int_equal(t_session_put(f->st, &s), STORE_OK);
    make_session(&s, "judy-b", uid, T0 + 2);
    snprintf(s.kind, sizeof s.kind, "app");
    assert_int_equal(t_session_put(f->st, &s), STORE_OK);
    assert_int_equal(t_session_get(f->st, "judy-b", &got), STORE_OK);
    assert_int_equal(t_session_put(f->st, &got), STORE_OK); /* rev 2 now */
    make_session(&s, "judy-old", uid, T0);
    s.revoked = true;
    snprintf(s.revoke_reason, sizeof s.revoke_reason, "logout");
    fill(s.last_access, 100, 'Q');
    assert_int_equal(t_session_put(f->st, &s), STORE_OK);
    make_session(&s, "karl-a", other, T0 + 3);
    assert_int_equal(t_session_put(f->st, &s), STORE_OK);

    assert_int_equal(t_revoke_user(f->st, uid, "logout_all"), STORE_OK);

    const char *revoked[] = {"judy-a", "judy-b"};
    const int64_t rev_after[] = {2, 3};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(t_session_get(f->st, revoked[i], &got), STORE_OK);
        assert_true(got.revoked);
        assert_string_equal(got.revoke_reason, "logout_all");
        /* the replayable pair is gone, the rev moved on, the rest is kept */
        assert_string_equal(got.last_access, "");
        assert_string_equal(got.last_refresh, "");
        assert_int_equal(got.rev, rev_after[i]);
        char jti[JTI_MAX];
        snprintf(jti, sizeof jti, "jti-cur-%s", revoked[i]);
        assert_string_equal(got.cur_jti, jti);
    }
    assert_int_equal(t_session_get(f->st, "judy-a", &got), STORE_OK);
    assert_string_equal(got.prev_jti, "jti-prev-a");
    assert_int_equal(got.last_access_exp, T0 / 1000 + 900); /* as in SQLite */
    /* an already revoked session keeps its original reason, pair and rev */
    assert_int_equal(t_session_get(f->st, "judy-old", &got), STORE_OK);
    assert_true(got.revoked);
    assert_string_equal(got.revoke_reason, "logout");
    assert_int_equal(strlen(got.last_access), 100);
    assert_int_equal(got.rev, 1);
    /* another user's session is untouched */
    assert_int_equal(t_session_get(f->st, "karl-a", &got), STORE_OK);
    assert_false(got.revoked);
    assert_string_equal(got.revoke_reason, "");
    assert_int_equal(got.rev, 1);

    struct res r;
    t_session_list(f->st, uid, &r);
    assert_int_equal(r.rc, STORE_OK);
    assert_int_equal(r.n, 0);
    res_free(&r);
    t_session_list(f->st, other, &r);
    assert_int_equal(r.n, 1);
    res_free(&r);

    /* nothing left to revoke is still success; an over-long reason is cut to fit */
    assert_int_equal(t_revoke_user(f->st, uid, "revoked"), STORE_OK);
    assert_int_equal(t_revoke_user(f->st, other, "a-reason-that-is-far-too-long-for-the-field"),
                     STORE_OK);
    assert_int_equal(t_session_get(f->st, "karl-a", &got), STORE_OK);
    assert_true(got.revoked);
    assert_int_equal(strlen(got.revoke_reason), sizeof got.revoke_reason - 1);
    assert_memory_equal(got.revoke_reason, "a-reason-that-is-far-too", sizeof got.revoke_reason - 1);
    assert_int_equal(t_revoke_user(f->st, other, NULL), STORE_OK);
}

/* ---- audit -------------------------------------------------------------- */

static void test_audit_order_and_limit(void **state)
{
    struct fixture *f = *state;
    int64_t uid = new_user(f->st, "lena");
    int64_t other = new_user(f->st, "mike");
    struct audit_rec a;

    const int64_t at[] = {T0 + 20, T0 + 10, T0 + 40, T0 + 30, T0 + 40};
    const char *outcome[] = {"confirmed", "denied", "code_mismatch", "confirmed", "denied"};
    for (int i = 0; i < 5; i++) {
        make_audit(&a, uid, at[i], outcome[i]);
        assert_int_equal(t_audit_add(f->st, &a), STORE_OK);
    }
    make_audit(&a, other, T0 + 50, "confirmed");
    assert_int_equal(t_audit_add(f->st, &a), STORE_OK);

    struct res r;
    t_audit_recent(f->st, uid, 10, &r);
    assert_int_equal(r.rc, STORE_OK);
    assert_int_equal(r.n, 5);
    /* newest first; the two entries at T0+40 in reverse insertion order */
    const char *want[] = {"denied", "code_mismatch", "confirmed", "confirmed", "denied"};
    const int64_t want_at[] = {T0 + 40, T0 + 40, T0 + 30, T0 + 20, T0 + 10};
    for (int i = 0; i < 5; i++) {
        assert_string_equal(r.audits[i].outcome, want[i]);
        assert_int_equal(r.audits[i].at, want_at[i]);
        assert_int_equal(r.audits[i].user_id, uid);
    }
    make_audit(&a, uid, T0 + 40, "denied");
    assert_string_equal(r.audits[0].sid, a.sid);
    assert_string_equal(r.audits[0].ticket_prefix, "Tk3x9Q");
    assert_string_equal(r.audits[0].pc_ip, a.pc_ip);
    assert_string_equal(r.audits[0].pc_user_agent, a.pc_user_agent);
    assert_string_equal(r.audits[0].phone_sid, a.phone_sid);
    res_free(&r);

    t_audit_recent(f->st, uid, 2, &r);
    assert_int_equal(r.rc, STORE_OK);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.audits[0].outcome, "denied");
    assert_string_equal(r.audits[1].outcome, "code_mismatch");
    res_free(&r);

    t_audit_recent(f->st, uid, 0, &r);
    assert_int_equal(r.rc, STORE_OK);
    assert_int_equal(r.n, 0);
    res_free(&r);
    t_audit_recent(f->st, uid, -3, &r);
    assert_int_equal(r.rc, STORE_OK);
    assert_int_equal(r.n, 0);
    res_free(&r);

    /* a whole ticket in the prefix field is stored as its first 6 chars only;
     * at == 0 means now; empty strings survive as empty strings */
    make_audit(&a, other, 0, "confirmed");
    snprintf(a.ticket_prefix, sizeof a.ticket_prefix, "ABCDEFG");
    a.sid[0] = a.pc_user_agent[0] = '\0';
    clock_set_fake_ms(T0 + 60);
    assert_int_equal(t_audit_add(f->st, &a), STORE_OK);
    t_audit_recent(f->st, other, 1, &r);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.audits[0].ticket_prefix, "ABCDEF");
    assert_int_equal(r.audits[0].at, T0 + 60);
    assert_string_equal(r.audits[0].sid, "");
    assert_string_equal(r.audits[0].pc_user_agent, "");
    assert_string_equal(r.audits[0].phone_sid, "phone-sid-1");
    res_free(&r);

    /* a field without a terminator is refused */
    make_audit(&a, uid, T0, "denied");
    memset(a.outcome, 'o', sizeof a.outcome);
    assert_int_equal(t_audit_add(f->st, &a), STORE_ERROR);
}

static void test_audit_limit_clamped_to_100(void **state)
{
    struct fixture *f = *state;
    int64_t uid = new_user(f->st, "nina");
    struct audit_rec a;

    for (int i = 0; i < 110; i++) {
        make_audit(&a, uid, T0 + i, "confirmed");
        assert_int_equal(t_audit_add(f->st, &a), STORE_OK);
    }
    struct res r;
    t_audit_recent(f->st, uid, 1000, &r);
    assert_int_equal(r.rc, STORE_OK);
    assert_int_equal(r.n, 100);
    assert_int_equal(r.audits[0].at, T0 + 109);
    assert_int_equal(r.audits[99].at, T0 + 10);
    res_free(&r);
}

struct counter {
    int calls, ok;
    int want;
    bool done;
};

static void on_count(void *arg, enum store_rc rc)
{
    struct counter *c = arg;
    c->calls++;
    c->ok += rc == STORE_OK;
    c->done = c->calls >= c->want;
}

/* Each user keeps the newest AUDIT_KEEP entries; older ones are trimmed as
 * new ones come in. The adds are all in flight at once. */
static void test_audit_cap(void **state)
{
    struct fixture *f = *state;
    int64_t uid = new_user(f->st, "olive");
    struct audit_rec a;
    struct counter c = {.want = AUDIT_KEEP + 5};

    for (int i = 0; i < c.want; i++) {
        make_audit(&a, uid, T0 + i, i % 2 ? "denied" : "confirmed");
        f->st->ops->audit_add(f->st, &a, on_count, &c);
    }
    if (!c.done)
        run_loop_until(TL.ctx, &c.done, WAIT_MS);
    assert_int_equal(c.calls, c.want);
    assert_int_equal(c.ok, c.want);

    char key[64];
    snprintf(key, sizeof key, "qrl:user:%lld:audit", (long long)uid);
    assert_int_equal(sync_int("ZCARD %s", key), AUDIT_KEEP);
    redisReply *oldest = sync_cmd("ZRANGE %s 0 0 WITHSCORES", key);
    assert_int_equal(oldest->elements, 2);
    assert_string_equal(oldest->element[1]->str, "4102444800005"); /* T0 + 5 */
    freeReplyObject(oldest);

    struct res r;
    t_audit_recent(f->st, uid, 100, &r);
    assert_int_equal(r.n, 100);
    assert_int_equal(r.audits[0].at, T0 + AUDIT_KEEP + 4);
    assert_int_equal(r.audits[99].at, T0 + AUDIT_KEEP - 95);
    res_free(&r);
}

/* ---- restart ------------------------------------------------------------ */

static void test_reopen_keeps_everything(void **state)
{
    struct fixture *f = *state;
    int64_t uid = new_user(f->st, "olga");
    int64_t v;
    struct session_rec s, got;
    struct audit_rec a;

    assert_int_equal(t_bump(f->st, uid, &v), STORE_OK);
    make_session(&s, "survivor-sid-000000000", uid, T0);
    snprintf(s.prev_jti, sizeof s.prev_jti, "jti-prev");
    fill(s.last_access, 2000, 'K');
    fill(s.last_refresh, 1500, 'k');
    s.last_access_exp = 12345;
    assert_int_equal(t_session_put(f->st, &s), STORE_OK);
    make_audit(&a, uid, T0 + 7, "confirmed");
    assert_int_equal(t_audit_add(f->st, &a), STORE_OK);

    reopen(f);

    struct user_rec u;
    assert_int_equal(t_user_by_name(f->st, "olga", &u), STORE_OK);
    assert_int_equal(u.id, uid);
    assert_int_equal(u.token_version, 2);
    assert_int_equal(u.created_at, T0);
    assert_int_equal(t_session_get(f->st, s.sid, &got), STORE_OK);
    assert_session_eq(&got, &s);
    struct res r;
    t_audit_recent(f->st, uid, 5, &r);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.audits[0].at, T0 + 7);
    res_free(&r);
    /* the name is still taken after a restart, and ids keep counting */
    assert_int_equal(t_user_create(f->st, "olga", "$h", NULL), STORE_CONFLICT);
    assert_true(new_user(f->st, "pete") > uid);
}

/* A lost id counter (a partial restore) must not hand out an id that is in
 * use: the create skips to a free one. */
static void test_user_create_skips_used_ids(void **state)
{
    struct fixture *f = *state;
    int64_t first = new_user(f->st, "ursula");
    int64_t second = new_user(f->st, "victor");
    freeReplyObject(sync_cmd("DEL qrl:user:next"));
    int64_t third = new_user(f->st, "wendy");
    assert_true(third > second && second > first);
    struct user_rec u;
    assert_int_equal(t_user_by_id(f->st, first, &u), STORE_OK);
    assert_string_equal(u.name, "ursula");
}

/* ---- re-entrancy -------------------------------------------------------- */

struct nested {
    struct store *st;
    int outer_calls;
    enum store_rc inner_rc;
    int64_t inner_id;
    int inner_calls;
    bool done;
};

static void on_inner(void *arg, enum store_rc rc, const struct user_rec *u)
{
    struct nested *n = arg;
    n->inner_calls++;
    n->inner_rc = rc;
    n->inner_id = u ? u->id : -1;
    n->done = true;
}

/* Calls the very op whose callback this is, from inside the reply. */
static void on_outer(void *arg, enum store_rc rc, const struct user_rec *u)
{
    struct nested *n = arg;
    n->outer_calls++;
    assert_int_equal(rc, STORE_OK);
    assert_string_equal(u->name, "quinn");
    n->st->ops->user_by_name(n->st, "rita", on_inner, n);
    /* the outer record is still intact after the nested call */
    assert_string_equal(u->name, "quinn");
}

static void test_callback_may_reenter(void **state)
{
    struct fixture *f = *state;
    new_user(f->st, "quinn");
    int64_t rita = new_user(f->st, "rita");
    struct nested n = {f->st, 0, STORE_ERROR, 0, 0, false};

    f->st->ops->user_by_name(f->st, "quinn", on_outer, &n);
    assert_int_equal(n.outer_calls, 0); /* Redis has not answered yet */
    run_loop_until(TL.ctx, &n.done, WAIT_MS);
    assert_int_equal(n.outer_calls, 1);
    assert_int_equal(n.inner_calls, 1);
    assert_int_equal(n.inner_rc, STORE_OK);
    assert_int_equal(n.inner_id, rita);
}

/* Inputs are copied before the call returns: the caller's buffers may be
 * reused at once. */
static void test_inputs_copied(void **state)
{
    struct fixture *f = *state;
    int64_t uid = new_user(f->st, "xavi");
    char name[16] = "yara", hash[16] = "$h-yara";
    struct res r1 = {0}, r2 = {0};

    f->st->ops->user_create(f->st, name, hash, on_user, &r1);
    f->st->ops->user_by_name(f->st, name, on_user, &r2);
    strcpy(name, "XXXX");
    strcpy(hash, "XXXXXX");
    wait_once(&r1);
    wait_once(&r2);
    assert_int_equal(r1.rc, STORE_OK);
    assert_string_equal(r1.user.name, "yara"); /* the record handed back */
    assert_string_equal(r1.user.pwhash, "$h-yara");
    assert_int_equal(r2.rc, STORE_OK);
    assert_int_equal(r2.user.id, r1.user.id);

    struct session_rec *s = malloc(sizeof *s);
    assert_non_null(s);
    make_session(s, "Scopy-abcdefghijklmnop", uid, T0);
    struct res r3 = {0};
    f->st->ops->session_put(f->st, s, on_done, &r3);
    memset(s, 0x41, sizeof *s);
    free(s);
    wait_once(&r3);
    assert_int_equal(r3.rc, STORE_OK);
    struct session_rec got, want;
    make_session(&want, "Scopy-abcdefghijklmnop", uid, T0);
    assert_int_equal(t_session_get(f->st, want.sid, &got), STORE_OK);
    assert_session_eq(&got, &want);
}

/* ---- records not written by this store ---------------------------------- */

/* Unlike SQLite, which cuts an over-long column to fit, a value that does
 * not fit its field — or a number that is not one, or a missing field —
 * makes the record corrupt: STORE_ERROR, logged, and the store stays
 * healthy (it is the record, not Redis, that is broken). */
static void test_corrupt_records(void **state)
{
    struct fixture *f = *state;
    int64_t uid = new_user(f->st, "yuri");
    struct session_rec s;
    struct res r;
    char key[64];

    make_session(&s, "long-cols", uid, T0);
    assert_int_equal(t_session_put(f->st, &s), STORE_OK);
    make_session(&s, "long-cols-2", uid, T0 + 1);
    assert_int_equal(t_session_put(f->st, &s), STORE_OK);

    char big[JWT_MAX_TOKEN + 1];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    freeReplyObject(sync_cmd("HSET qrl:sess:long-cols last_access %s", big));
    assert_int_equal(t_session_get(f->st, "long-cols", NULL), STORE_ERROR);
    t_session_list(f->st, uid, &r);
    assert_int_equal(r.rc, STORE_ERROR);
    assert_int_equal(r.n, 0);
    assert_true(r.rec_null);
    res_free(&r);
    /* the longest value that fits is fine */
    big[JWT_MAX_TOKEN - 1] = '\0';
    freeReplyObject(sync_cmd("HSET qrl:sess:long-cols last_access %s", big));
    assert_int_equal(t_session_get(f->st, "long-cols", &s), STORE_OK);
    assert_int_equal(strlen(s.last_access), JWT_MAX_TOKEN - 1);

    freeReplyObject(sync_cmd("HSET qrl:sess:long-cols kind webwebweb"));
    assert_int_equal(t_session_get(f->st, "long-cols", NULL), STORE_ERROR);
    freeReplyObject(sync_cmd("HSET qrl:sess:long-cols kind web ver 1x"));
    assert_int_equal(t_session_get(f->st, "long-cols", NULL), STORE_ERROR);
    freeReplyObject(sync_cmd("HSET qrl:sess:long-cols ver 99999999999999999999"));
    assert_int_equal(t_session_get(f->st, "long-cols", NULL), STORE_ERROR);
    freeReplyObject(sync_cmd("HSET qrl:sess:long-cols ver 1 revoked yes"));
    assert_int_equal(t_session_get(f->st, "long-cols", NULL), STORE_ERROR);
    freeReplyObject(sync_cmd("HSET qrl:sess:long-cols revoked 0"));
    freeReplyObject(sync_cmd("HDEL qrl:sess:long-cols cur_jti"));
    assert_int_equal(t_session_get(f->st, "long-cols", NULL), STORE_ERROR);
    freeReplyObject(sync_cmd("HSET qrl:sess:long-cols cur_jti x extra-field y"));
    assert_int_equal(t_session_get(f->st, "long-cols", NULL), STORE_OK);
    freeReplyObject(sync_cmd("HSET qrl:sess:long-cols ip %b", "a\0b", (size_t)3));
    assert_int_equal(t_session_get(f->st, "long-cols", NULL), STORE_ERROR);
    assert_int_equal(t_session_get(f->st, "long-cols-2", NULL), STORE_OK); /* neighbour */

    /* a key of the wrong type is an error reply from Redis */
    freeReplyObject(sync_cmd("DEL qrl:sess:long-cols"));
    freeReplyObject(sync_cmd("SET qrl:sess:long-cols plain"));
    assert_int_equal(t_session_get(f->st, "long-cols", NULL), STORE_ERROR);

    /* users */
    snprintf(key, sizeof key, "qrl:user:%lld", (long long)uid);
    char longname[300];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    freeReplyObject(sync_cmd("HSET %s name %s", key, longname));
    assert_int_equal(t_user_by_id(f->st, uid, NULL), STORE_ERROR);
    freeReplyObject(sync_cmd("HSET %s name yuri token_version nope", key));
    assert_int_equal(t_user_by_name(f->st, "yuri", NULL), STORE_ERROR);
    int64_t v;
    assert_int_equal(t_bump(f->st, uid, &v), STORE_ERROR); /* HINCRBY refuses */
    freeReplyObject(sync_cmd("HSET %s token_version 1", key));
    assert_int_equal(t_user_by_name(f->st, "yuri", NULL), STORE_OK);
    /* a name index pointing at another user */
    freeReplyObject(sync_cmd("SET qrl:user:name:zed %lld", (long long)uid));
    assert_int_equal(t_user_by_name(f->st, "zed", NULL), STORE_ERROR);

    /* audit entries */
    snprintf(key, sizeof key, "qrl:user:%lld:audit", (long long)uid);
    freeReplyObject(sync_cmd("ZADD %s 1 %s", key, "0000000000000001garbage"));
    t_audit_recent(f->st, uid, 10, &r);
    assert_int_equal(r.rc, STORE_ERROR);
    res_free(&r);

    assert_true(f->st->ops->healthy(f->st));
}

/* ---- Redis away --------------------------------------------------------- */

/* Every op answers STORE_ERROR before it returns. */
static void expect_all_fail_at_once(struct store *st, int64_t uid)
{
    struct res r = {0};
    struct session_rec s;
    struct audit_rec a;
    make_session(&s, "down-sid", uid, T0);
    make_audit(&a, uid, T0, "confirmed");

#define AT_ONCE(call)                                                                      \
    do {                                                                                   \
        memset(&r, 0, sizeof r);                                                           \
        call;                                                                              \
        assert_int_equal(r.calls, 1);                                                      \
        assert_int_equal(r.rc, STORE_ERROR);                                               \
        res_free(&r);                                                                      \
    } while (0)
    AT_ONCE(st->ops->user_create(st, "newbie", "$h", on_user, &r));
    AT_ONCE(st->ops->user_by_name(st, "olga", on_user, &r));
    AT_ONCE(st->ops->user_by_id(st, uid, on_user, &r));
    AT_ONCE(st->ops->user_bump_version(st, uid, on_int, &r));
    AT_ONCE(st->ops->session_put(st, &s, on_done, &r));
    AT_ONCE(st->ops->session_get(st, "down-sid", on_session, &r));
    AT_ONCE(st->ops->session_list(st, uid, on_sessions, &r));
    AT_ONCE(st->ops->session_revoke_user(st, uid, "logout_all", on_done, &r));
    AT_ONCE(st->ops->audit_add(st, &a, on_done, &r));
    AT_ONCE(st->ops->audit_recent(st, uid, 10, on_audits, &r));
#undef AT_ONCE
}

static void test_redis_down_then_back(void **state)
{
    struct fixture *f = *state;
    int64_t uid = new_user(f->st, "olga");

    redis_proc_stop(&RP);
    assert_true(wait_healthy(f->st, false, WAIT_MS));
    for (int i = 0; i < 3; i++) /* a flood answers the same way (and logs little) */
        expect_all_fail_at_once(f->st, uid);

    /* the same port again (an empty Redis: the fixture saves nothing) */
    assert_int_equal(redis_proc_spawn(&RP), 0);
    assert_true(wait_healthy(f->st, true, WAIT_MS));
    assert_true(new_user(f->st, "olga") > 0);
    assert_int_equal(t_user_by_name(f->st, "olga", NULL), STORE_OK);
}

/* Redis restarts while the store is idle: the store notices by itself and
 * reconnects; a call in between fails cleanly, never hangs. */
static void test_redis_restart_while_idle(void **state)
{
    struct fixture *f = *state;
    new_user(f->st, "before");

    assert_int_equal(redis_proc_restart(&RP), 0); /* same port, empty */
    long long deadline = redis_fixture_now_ms() + WAIT_MS;
    enum store_rc rc = STORE_ERROR;
    while (redis_fixture_now_ms() < deadline) {
        rc = t_user_create(f->st, "after", "$h", NULL);
        if (rc != STORE_ERROR)
            break;
        run_loop_until(TL.ctx, NULL, 50);
    }
    assert_int_equal(rc, STORE_OK);
    assert_int_equal(t_user_by_name(f->st, "before", NULL), STORE_NOT_FOUND);
}

/* A store that was never started has no connection: errors at once. */
static void test_not_started(void **state)
{
    (void)state;
    char url[128], err[256] = "";
    redis_proc_url(&RP, 0, url, sizeof url);
    struct store *st = store_open(url, err, sizeof err);
    assert_non_null(st);
    assert_false(st->ops->healthy(st));
    run_loop_until(TL.ctx, NULL, 50);
    assert_false(st->ops->healthy(st)); /* nothing connects before start */
    expect_all_fail_at_once(st, 1);
    st->ops->close(st);
}

/* A Redis that stops answering (SIGSTOP) turns pending calls into errors
 * once the link gives up on it — never silence — and the store recovers
 * when Redis does. */
static void test_redis_hangs(void **state)
{
    struct fixture *f = *state;
    int64_t uid = new_user(f->st, "hugo");

    redis_proc_pause(&RP);
    struct res r = {0};
    f->st->ops->user_by_id(f->st, uid, on_user, &r);
    assert_int_equal(r.calls, 0);
    wait_once(&r);
    assert_int_equal(r.rc, STORE_ERROR);
    assert_true(r.rec_null);
    redis_proc_resume(&RP);
    assert_true(wait_healthy(f->st, true, WAIT_MS));
    assert_int_equal(t_user_by_id(f->st, uid, NULL), STORE_OK);
}

/* close() with calls in flight: each completes once, with STORE_ERROR,
 * before close returns. */
static void test_close_completes_pending(void **state)
{
    struct fixture *f = *state;
    int64_t uid = new_user(f->st, "ivy");
    struct res r1 = {0}, r2 = {0};

    redis_proc_pause(&RP); /* so that nothing can answer first */
    f->st->ops->user_by_id(f->st, uid, on_user, &r1);
    f->st->ops->session_list(f->st, uid, on_sessions, &r2);
    assert_int_equal(r1.calls + r2.calls, 0);
    f->st->ops->close(f->st);
    f->st = NULL;
    assert_int_equal(r1.calls, 1);
    assert_int_equal(r1.rc, STORE_ERROR);
    assert_int_equal(r2.calls, 1);
    assert_int_equal(r2.rc, STORE_ERROR);
    res_free(&r2);
    redis_proc_resume(&RP);
}

/* ---- persistence with AOF ----------------------------------------------- */

static void test_data_survives_redis_restart_with_aof(void **state)
{
    (void)state;
    struct redis_proc aof;
    memset(&aof, 0, sizeof aof);
    snprintf(aof.dir, sizeof aof.dir, "/tmp/qrlogin-redis-XXXXXX");
    assert_non_null(mkdtemp(aof.dir));
    aof.port = redis_fixture_free_port();
    aof.aof = true;
    assert_int_equal(redis_proc_spawn(&aof), 0);

    char url[128], err[256] = "";
    redis_proc_url(&aof, 3, url, sizeof url); /* a db other than 0 */
    struct store *st = store_open(url, err, sizeof err);
    assert_non_null(st);
    st->ops->start(st, TL.vh);
    assert_true(wait_healthy(st, true, WAIT_MS));

    int64_t uid = new_user(st, "aof-user"), v;
    assert_int_equal(t_bump(st, uid, &v), STORE_OK);
    struct session_rec s, got;
    make_session(&s, "Saof-abcdefghijklmnopq", uid, T0);
    fill(s.last_refresh, 1200, 'r');
    assert_int_equal(t_session_put(st, &s), STORE_OK);
    struct audit_rec a;
    make_audit(&a, uid, T0 + 3, "confirmed");
    assert_int_equal(t_audit_add(st, &a), STORE_OK);

    redis_proc_stop(&aof);
    assert_true(wait_healthy(st, false, WAIT_MS));
    assert_int_equal(redis_proc_spawn(&aof), 0); /* aof is still set: replays */
    assert_true(wait_healthy(st, true, WAIT_MS)); /* the same store reconnects */

    struct user_rec u;
    assert_int_equal(t_user_by_name(st, "aof-user", &u), STORE_OK);
    assert_int_equal(u.id, uid);
    assert_int_equal(u.token_version, 2);
    assert_int_equal(t_session_get(st, s.sid, &got), STORE_OK);
    assert_session_eq(&got, &s);
    assert_int_equal(got.rev, 1);
    struct res r;
    t_session_list(st, uid, &r);
    assert_int_equal(r.n, 1);
    res_free(&r);
    t_audit_recent(st, uid, 5, &r);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.audits[0].at, T0 + 3);
    res_free(&r);
    assert_int_equal(t_user_create(st, "aof-user", "$h", NULL), STORE_CONFLICT);
    assert_true(new_user(st, "aof-user-2") > uid);

    st->ops->close(st);
    redis_proc_cleanup(&aof);
}

/* ---- opening ------------------------------------------------------------ */

static void test_store_open_urls(void **state)
{
    (void)state;
    char err[256];

    /* rediss:// reaches the redis backend, which says why it is refused */
    strcpy(err, "");
    assert_null(store_open("rediss://:secret@127.0.0.1:6380/0", err, sizeof err));
    assert_non_null(strstr(err, "TLS"));
    assert_null(strstr(err, "secret"));
    /* a bad URL: the reason, never the password */
    const char *bad[] = {
        "redis://:secret@127.0.0.1:99999/0",
        "redis://:secret@/0",
        "redis://:secret@host:6379/zero",
        "redis://:sec%zzret@host",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        strcpy(err, "");
        assert_null(store_open(bad[i], err, sizeof err));
        assert_true(strlen(err) > 0);
        assert_null(strstr(err, "secret"));
        assert_null(strstr(err, "sec"));
    }
    assert_null(store_open("redis://:secret@host:0", NULL, 0)); /* no err buffer: no crash */
    assert_null(store_redis_open("sqlite:/tmp/x.db", err, sizeof err));

    /* a good URL opens without connecting (a host nobody resolves is fine) */
    strcpy(err, "x");
    struct store *st = store_open("redis://:secret@192.0.2.1:6379/2", err, sizeof err);
    assert_non_null(st);
    assert_string_equal(err, "");
    assert_true(store_needs_loop(st));
    assert_false(st->ops->healthy(st));
    st->ops->close(st);

    /* the embedded store needs no loop */
    struct store *mem = store_open("sqlite::memory:", err, sizeof err);
    assert_non_null(mem);
    assert_false(store_needs_loop(mem));
    assert_null(mem->ops->start);
    mem->ops->close(mem);
    assert_false(store_needs_loop(NULL));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_user_roundtrip),
        T(test_user_federated),
        T(test_user_conflict_and_bad_input),
        T(test_binary_safe_values),
        T(test_not_found),
        T(test_bump_version_persists),
        T(test_session_put_replace_get),
        T(test_session_put_compare_and_set),
        T(test_session_put_race_one_winner),
        T(test_session_changes_owner),
        T(test_session_list_order_and_revoked),
        T(test_session_list_caps_at_100),
        T(test_session_list_skips_dangling),
        T(test_session_expiry),
        T(test_session_revoke_user),
        T(test_audit_order_and_limit),
        T(test_audit_limit_clamped_to_100),
        T(test_audit_cap),
        T(test_reopen_keeps_everything),
        T(test_user_create_skips_used_ids),
        T(test_callback_may_reenter),
        T(test_inputs_copied),
        T(test_corrupt_records),
        T(test_redis_down_then_back),
        T(test_redis_restart_while_idle),
        T(test_not_started),
        T(test_redis_hangs),
        T(test_close_completes_pending),
        T(test_data_survives_redis_restart_with_aof),
        T(test_store_open_urls),
    };
#undef T
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
