/* test_store_redis.c — the store contract (store_contract.c) on the Redis
 * backend against a real redis-server (redis_fixture.h), then what only a
 * network store has: answers that come later on the loop, keys and expiry
 * behind the store's back, records it did not write, Redis going away,
 * restarting or freezing, and data that must survive a Redis restart (AOF).
 *
 * One redis-server and one lws context serve the whole group; every case
 * starts from an empty data set (FLUSHALL) with a freshly opened store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "redis_fixture.h"

#include "log.h"
#include "store.h"
#include "store_contract.h"

#define T0 CONTRACT_T0
#define WAIT_MS 10000 /* generous deadline for anything "eventually" */
#define AUDIT_KEEP 1000

static struct redis_proc RP;
static struct redis_test_lws TL;

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

/* ---- the backend -------------------------------------------------------- */

static struct store_fixture *redis_open(const struct store_backend *be)
{
    struct store_fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->be = be;
    freeReplyObject(sync_cmd("FLUSHALL"));
    f->st = open_started();
    return f;
}

/* A new store on the same Redis: what a broker restart finds. */
static void redis_reopen(struct store_fixture *f)
{
    f->st->ops->close(f->st);
    f->st = open_started();
}

/* Answers arrive on the loop: run it until this one has. */
static void redis_pump(struct store_fixture *f, bool *done)
{
    (void)f;
    if (!*done)
        run_loop_until(TL.ctx, done, WAIT_MS);
}

/* Leaves the group's Redis running and answering, whatever the case did. */
static void redis_close(struct store_fixture *f)
{
    if (f->st)
        f->st->ops->close(f->st);
    redis_proc_resume(&RP);
    if (!RP.pid && redis_proc_spawn(&RP))
        fail_msg("cannot restart redis-server");
    run_loop_until(TL.ctx, NULL, 20); /* let lws reap the closed sockets */
    free(f);
}

static const struct store_backend REDIS = {
    .open = redis_open,
    .reopen = redis_reopen,
    .pump = redis_pump,
    .close = redis_close,
};

/* ---- what only Redis has ------------------------------------------------ */

/* Not in the contract, on purpose: Redis keeps a user's sessions in an index
 * of its own that can point at a hash that is gone (SQLite's one table
 * cannot); it expires session hashes a day after refresh_exp and keeps the
 * newest AUDIT_KEEP audit entries per user, housekeeping the SQLite store
 * does not do (store.h promises neither); its user ids come from a counter
 * key (SQLite's from the rowid); and a record someone else wrote that does
 * not fit is refused here but cut to fit by SQLite. */

/* A connected store never answers inline: reads and writes alike come back
 * from the loop (the contract lets callers rely on neither; this backend is
 * the one that answers later, so it is where that path gets exercised). */
static void test_answers_arrive_on_the_loop(void **state)
{
    struct store_fixture *f = *state;
    struct res made = {0}, got = {0};

    f->st->ops->user_create(f->st, "ada", "$h", on_user, &made);
    f->st->ops->user_by_name(f->st, "ada", on_user, &got);
    assert_int_equal(made.calls + got.calls, 0);
    t_wait(f, &made);
    t_wait(f, &got);
    assert_int_equal(made.rc, STORE_OK);
    assert_int_equal(got.rc, STORE_OK);
    assert_int_equal(got.user.id, made.user.id);
}

/* A name full of protocol characters (it would read as a DEL if it were
 * formatted into a command) makes exactly the keys of one user: the user
 * hash, the name index and the id counter. The round trip itself is the
 * contract's binary_safe_values. */
static void test_hostile_name_makes_only_its_keys(void **state)
{
    struct store_fixture *f = *state;
    const char *name = "a b\r\n*3\r\n$3\r\nDEL\r\n\"q'%s%n\xff\xfe:sess";

    assert_int_equal(t_user_create(f, name, "$h", NULL), STORE_OK);
    assert_int_equal(t_user_create(f, name, "$h", NULL), STORE_CONFLICT);
    assert_int_equal(sync_int("DBSIZE"), 3);
}

/* A session whose hash is gone (expired) is dropped from the list, and from
 * the user's set on the way; the 100 are counted among the live ones. */
static void test_session_list_skips_dangling(void **state)
{
    struct store_fixture *f = *state;
    int64_t uid = new_user(f, "dora");
    struct session_rec s;
    char sid[SID_MAX];

    for (int i = 0; i < 103; i++) {
        snprintf(sid, sizeof sid, "dang-%03d", i);
        make_session(&s, sid, uid, T0 + i);
        assert_int_equal(t_session_put(f, &s), STORE_OK);
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
    t_session_list(f, uid, &r);
    assert_int_equal(r.rc, STORE_OK);
    assert_int_equal(r.n, 98);
    assert_string_equal(r.sessions[0].sid, "dang-097");
    assert_string_equal(r.sessions[97].sid, "dang-000");
    res_free(&r);
    assert_int_equal(sync_int("ZCARD %s", key), 98);

    /* revoked sessions leave the set when they are written */
    assert_int_equal(t_session_get(f, "dang-000", &s), STORE_OK);
    s.revoked = true;
    s.revoke_reason = SESSION_END_LOGOUT;
    assert_int_equal(t_session_put(f, &s), STORE_OK);
    assert_int_equal(sync_int("ZCARD %s", key), 97);
    t_session_list(f, uid, &r);
    assert_int_equal(r.n, 97);
    assert_string_equal(r.sessions[96].sid, "dang-001");
    res_free(&r);
}

/* Session hashes expire a day after refresh_exp (Redis's clock); the user's
 * set and other keys do not expire. */
static void test_session_expiry(void **state)
{
    struct store_fixture *f = *state;
    int64_t uid = new_user(f, "tess");
    struct session_rec s, got;
    char key[64], zkey[64];

    make_session(&s, "Sttl-abcdefghijklmnop", uid, T0);
    assert_int_equal(t_session_put(f, &s), STORE_OK);
    snprintf(key, sizeof key, "qrl:sess:%s", s.sid);
    assert_int_equal(sync_int("EXPIRETIME %s", key), s.refresh_exp + 86400);

    /* a rotation moves it along; revoking keeps it */
    assert_int_equal(t_session_get(f, s.sid, &got), STORE_OK);
    got.refresh_exp += 3600;
    assert_int_equal(t_session_put(f, &got), STORE_OK);
    assert_int_equal(sync_int("EXPIRETIME %s", key), got.refresh_exp + 86400);
    assert_int_equal(t_revoke_user(f, uid, SESSION_END_LOGOUT_ALL), STORE_OK);
    assert_int_equal(sync_int("EXPIRETIME %s", key), got.refresh_exp + 86400);

    /* no refresh_exp, no expiry */
    make_session(&s, "Snottl-abcdefghijklmno", uid, T0);
    s.refresh_exp = 0;
    assert_int_equal(t_session_put(f, &s), STORE_OK);
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
    assert_int_equal(t_session_put(f, &s), STORE_OK);
    assert_int_equal(t_session_get(f, s.sid, NULL), STORE_NOT_FOUND);
    struct res r;
    t_session_list(f, uid, &r);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.sessions[0].sid, "Snottl-abcdefghijklmno");
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
    struct store_fixture *f = *state;
    int64_t uid = new_user(f, "olive");
    struct audit_rec a;
    struct counter c = {.want = AUDIT_KEEP + 5};

    for (int i = 0; i < c.want; i++) {
        make_audit(&a, uid, T0 + i, i % 2 ? "denied" : "confirmed");
        f->st->ops->audit_add(f->st, &a, on_count, &c);
    }
    f->be->pump(f, &c.done);
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
    t_audit_recent(f, uid, 100, &r);
    assert_int_equal(r.n, 100);
    assert_int_equal(r.audits[0].at, T0 + AUDIT_KEEP + 4);
    assert_int_equal(r.audits[99].at, T0 + AUDIT_KEEP - 95);
    res_free(&r);
}

/* A lost id counter (a partial restore) must not hand out an id that is in
 * use: the create skips to a free one. */
static void test_user_create_skips_used_ids(void **state)
{
    struct store_fixture *f = *state;
    int64_t first = new_user(f, "ursula");
    int64_t second = new_user(f, "victor");
    freeReplyObject(sync_cmd("DEL qrl:user:next"));
    int64_t third = new_user(f, "wendy");
    assert_true(third > second && second > first);
    struct user_rec u;
    assert_int_equal(t_user_by_id(f, first, &u), STORE_OK);
    assert_string_equal(u.name, "ursula");
}

/* ---- records not written by this store ---------------------------------- */

/* Unlike SQLite, which cuts an over-long column to fit, a value that does
 * not fit its field — or a number that is not one, or a missing field —
 * makes the record corrupt: STORE_ERROR, logged, and the store stays
 * healthy (it is the record, not Redis, that is broken). */
static void test_corrupt_records(void **state)
{
    struct store_fixture *f = *state;
    int64_t uid = new_user(f, "yuri");
    struct session_rec s;
    struct res r;
    char key[64];

    make_session(&s, "long-cols", uid, T0);
    assert_int_equal(t_session_put(f, &s), STORE_OK);
    make_session(&s, "long-cols-2", uid, T0 + 1);
    assert_int_equal(t_session_put(f, &s), STORE_OK);

    char big[JWT_MAX_TOKEN + 1];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    freeReplyObject(sync_cmd("HSET qrl:sess:long-cols last_access %s", big));
    assert_int_equal(t_session_get(f, "long-cols", NULL), STORE_ERROR);
    t_session_list(f, uid, &r);
    assert_int_equal(r.rc, STORE_ERROR);
    assert_int_equal(r.n, 0);
    assert_true(r.rec_null);
    res_free(&r);
    /* the longest value that fits is fine */
    big[JWT_MAX_TOKEN - 1] = '\0';
    freeReplyObject(sync_cmd("HSET qrl:sess:long-cols last_access %s", big));
    assert_int_equal(t_session_get(f, "long-cols", &s), STORE_OK);
    assert_int_equal(strlen(s.last_access), JWT_MAX_TOKEN - 1);

    freeReplyObject(sync_cmd("HSET qrl:sess:long-cols kind webwebweb"));
    assert_int_equal(t_session_get(f, "long-cols", NULL), STORE_ERROR);
    freeReplyObject(sync_cmd("HSET qrl:sess:long-cols kind web ver 1x"));
    assert_int_equal(t_session_get(f, "long-cols", NULL), STORE_ERROR);
    freeReplyObject(sync_cmd("HSET qrl:sess:long-cols ver 99999999999999999999"));
    assert_int_equal(t_session_get(f, "long-cols", NULL), STORE_ERROR);
    freeReplyObject(sync_cmd("HSET qrl:sess:long-cols ver 1 revoked yes"));
    assert_int_equal(t_session_get(f, "long-cols", NULL), STORE_ERROR);
    freeReplyObject(sync_cmd("HSET qrl:sess:long-cols revoked 0"));
    freeReplyObject(sync_cmd("HDEL qrl:sess:long-cols cur_jti"));
    assert_int_equal(t_session_get(f, "long-cols", NULL), STORE_ERROR);
    freeReplyObject(sync_cmd("HSET qrl:sess:long-cols cur_jti x extra-field y"));
    assert_int_equal(t_session_get(f, "long-cols", NULL), STORE_OK);
    freeReplyObject(sync_cmd("HSET qrl:sess:long-cols ip %b", "a\0b", (size_t)3));
    assert_int_equal(t_session_get(f, "long-cols", NULL), STORE_ERROR);
    assert_int_equal(t_session_get(f, "long-cols-2", NULL), STORE_OK); /* neighbour */

    /* a key of the wrong type is an error reply from Redis */
    freeReplyObject(sync_cmd("DEL qrl:sess:long-cols"));
    freeReplyObject(sync_cmd("SET qrl:sess:long-cols plain"));
    assert_int_equal(t_session_get(f, "long-cols", NULL), STORE_ERROR);

    /* users */
    snprintf(key, sizeof key, "qrl:user:%lld", (long long)uid);
    char longname[300];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    freeReplyObject(sync_cmd("HSET %s name %s", key, longname));
    assert_int_equal(t_user_by_id(f, uid, NULL), STORE_ERROR);
    freeReplyObject(sync_cmd("HSET %s name yuri token_version nope", key));
    assert_int_equal(t_user_by_name(f, "yuri", NULL), STORE_ERROR);
    int64_t v;
    assert_int_equal(t_bump(f, uid, &v), STORE_ERROR); /* HINCRBY refuses */
    freeReplyObject(sync_cmd("HSET %s token_version 1", key));
    assert_int_equal(t_user_by_name(f, "yuri", NULL), STORE_OK);
    /* a name index pointing at another user */
    freeReplyObject(sync_cmd("SET qrl:user:name:zed %lld", (long long)uid));
    assert_int_equal(t_user_by_name(f, "zed", NULL), STORE_ERROR);

    /* audit entries */
    snprintf(key, sizeof key, "qrl:user:%lld:audit", (long long)uid);
    freeReplyObject(sync_cmd("ZADD %s 1 %s", key, "0000000000000001garbage"));
    t_audit_recent(f, uid, 10, &r);
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
    AT_ONCE(st->ops->session_revoke_user(st, uid, SESSION_END_LOGOUT_ALL, on_done, &r));
    AT_ONCE(st->ops->audit_add(st, &a, on_done, &r));
    AT_ONCE(st->ops->audit_recent(st, uid, 10, on_audits, &r));
#undef AT_ONCE
}

static void test_redis_down_then_back(void **state)
{
    struct store_fixture *f = *state;
    int64_t uid = new_user(f, "olga");

    redis_proc_stop(&RP);
    assert_true(wait_healthy(f->st, false, WAIT_MS));
    for (int i = 0; i < 3; i++) /* a flood answers the same way (and logs little) */
        expect_all_fail_at_once(f->st, uid);

    /* the same port again (an empty Redis: the fixture saves nothing) */
    assert_int_equal(redis_proc_spawn(&RP), 0);
    assert_true(wait_healthy(f->st, true, WAIT_MS));
    assert_true(new_user(f, "olga") > 0);
    assert_int_equal(t_user_by_name(f, "olga", NULL), STORE_OK);
}

/* Redis restarts while the store is idle: the store notices by itself and
 * reconnects; a call in between fails cleanly, never hangs. */
static void test_redis_restart_while_idle(void **state)
{
    struct store_fixture *f = *state;
    new_user(f, "before");

    assert_int_equal(redis_proc_restart(&RP), 0); /* same port, empty */
    long long deadline = redis_fixture_now_ms() + WAIT_MS;
    enum store_rc rc = STORE_ERROR;
    while (redis_fixture_now_ms() < deadline) {
        rc = t_user_create(f, "after", "$h", NULL);
        if (rc != STORE_ERROR)
            break;
        run_loop_until(TL.ctx, NULL, 50);
    }
    assert_int_equal(rc, STORE_OK);
    assert_int_equal(t_user_by_name(f, "before", NULL), STORE_NOT_FOUND);
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
    struct store_fixture *f = *state;
    int64_t uid = new_user(f, "hugo");

    redis_proc_pause(&RP);
    struct res r = {0};
    f->st->ops->user_by_id(f->st, uid, on_user, &r);
    assert_int_equal(r.calls, 0);
    t_wait(f, &r);
    assert_int_equal(r.rc, STORE_ERROR);
    assert_true(r.rec_null);
    redis_proc_resume(&RP);
    assert_true(wait_healthy(f->st, true, WAIT_MS));
    assert_int_equal(t_user_by_id(f, uid, NULL), STORE_OK);
}

/* close() with calls in flight: each completes once, with STORE_ERROR,
 * before close returns. */
static void test_close_completes_pending(void **state)
{
    struct store_fixture *f = *state;
    int64_t uid = new_user(f, "ivy");
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
    struct store_fixture *f = *state;
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
    struct store_fixture af = {f->be, st}; /* the contract's wrappers, on this store */

    int64_t uid = new_user(&af, "aof-user"), v;
    assert_int_equal(t_bump(&af, uid, &v), STORE_OK);
    struct session_rec s, got;
    make_session(&s, "Saof-abcdefghijklmnopq", uid, T0);
    fill(s.last_refresh, 1200, 'r');
    assert_int_equal(t_session_put(&af, &s), STORE_OK);
    struct audit_rec a;
    make_audit(&a, uid, T0 + 3, "confirmed");
    assert_int_equal(t_audit_add(&af, &a), STORE_OK);

    redis_proc_stop(&aof);
    assert_true(wait_healthy(st, false, WAIT_MS));
    assert_int_equal(redis_proc_spawn(&aof), 0); /* aof is still set: replays */
    assert_true(wait_healthy(st, true, WAIT_MS)); /* the same store reconnects */

    struct user_rec u;
    assert_int_equal(t_user_by_name(&af, "aof-user", &u), STORE_OK);
    assert_int_equal(u.id, uid);
    assert_int_equal(u.token_version, 2);
    assert_int_equal(t_session_get(&af, s.sid, &got), STORE_OK);
    assert_session_eq(&got, &s);
    assert_int_equal(got.rev, 1);
    struct res r;
    t_session_list(&af, uid, &r);
    assert_int_equal(r.n, 1);
    res_free(&r);
    t_audit_recent(&af, uid, 5, &r);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.audits[0].at, T0 + 3);
    res_free(&r);
    assert_int_equal(t_user_create(&af, "aof-user", "$h", NULL), STORE_CONFLICT);
    assert_true(new_user(&af, "aof-user-2") > uid);

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
        "redis://:secret@host:notaport/0",
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
}

int main(void)
{
#define REDIS_CONTRACT(c) STORE_CONTRACT_CASE("redis", &REDIS, c)
#define T(fn) STORE_CASE("redis", &REDIS, fn, test_##fn)
    const struct CMUnitTest tests[] = {
        STORE_CONTRACT_CASES(REDIS_CONTRACT)
        T(answers_arrive_on_the_loop)
        T(hostile_name_makes_only_its_keys)
        T(session_list_skips_dangling)
        T(session_expiry)
        T(audit_cap)
        T(user_create_skips_used_ids)
        T(corrupt_records)
        T(redis_down_then_back)
        T(redis_restart_while_idle)
        T(not_started)
        T(redis_hangs)
        T(close_completes_pending)
        T(data_survives_redis_restart_with_aof)
        T(store_open_urls)
    };
#undef T
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
