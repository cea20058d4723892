/* test_store_sqlite.c — the SQLite store backend against a real file in a
 * temporary directory. Every op goes through a helper that counts callback
 * invocations and asserts exactly one happened before the call returned. */
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "clock.h"
#include "disk_full.h"
#include "log.h"
#include "sqlite_checkpointer.h"
#include "store.h"

#define T0 1700000000000LL /* fake "now", ms */

struct fixture {
    char dir[64];   /* mkdtemp root, removed at teardown */
    char path[128]; /* <dir>/data/sub/qrlogin.db: the parents do not exist yet */
    struct store *st;
};

/* ---- synchronous wrappers: one per callback shape ----------------------- */

struct res {
    int calls;
    enum store_rc rc;
    struct user_rec user;
    int64_t value;
    struct session_rec *sessions; /* heap copy of what the callback saw */
    struct audit_rec *audits;
    int n;
    bool rec_null;                /* the callback got a NULL record pointer */
};

static void on_done(void *arg, enum store_rc rc)
{
    struct res *r = arg;
    r->calls++;
    r->rc = rc;
}

static void on_user(void *arg, enum store_rc rc, const struct user_rec *u)
{
    struct res *r = arg;
    r->calls++;
    r->rc = rc;
    r->rec_null = (u == NULL);
    if (u)
        r->user = *u;
}

static void on_int(void *arg, enum store_rc rc, int64_t value)
{
    struct res *r = arg;
    r->calls++;
    r->rc = rc;
    r->value = value;
}

static void on_session(void *arg, enum store_rc rc, const struct session_rec *s)
{
    struct res *r = arg;
    r->calls++;
    r->rc = rc;
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
    r->calls++;
    r->rc = rc;
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
    r->calls++;
    r->rc = rc;
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

/* The SQLite backend completes inline, so the count is final on return. */
#define ONCE(r) assert_int_equal((r).calls, 1)

static enum store_rc t_user_create(struct store *st, const char *name, const char *hash,
                                   struct user_rec *out)
{
    struct res r = {0};
    st->ops->user_create(st, name, hash, on_user, &r);
    ONCE(r);
    assert_int_equal(r.rec_null, r.rc != STORE_OK);
    if (out)
        *out = r.user;
    return r.rc;
}

static enum store_rc t_user_by_name(struct store *st, const char *name, struct user_rec *out)
{
    struct res r = {0};
    st->ops->user_by_name(st, name, on_user, &r);
    ONCE(r);
    assert_int_equal(r.rec_null, r.rc != STORE_OK);
    if (out)
        *out = r.user;
    return r.rc;
}

static enum store_rc t_user_by_id(struct store *st, int64_t id, struct user_rec *out)
{
    struct res r = {0};
    st->ops->user_by_id(st, id, on_user, &r);
    ONCE(r);
    assert_int_equal(r.rec_null, r.rc != STORE_OK);
    if (out)
        *out = r.user;
    return r.rc;
}

static enum store_rc t_bump(struct store *st, int64_t id, int64_t *out)
{
    struct res r = {0};
    st->ops->user_bump_version(st, id, on_int, &r);
    ONCE(r);
    if (out)
        *out = r.value;
    return r.rc;
}

static enum store_rc t_session_put(struct store *st, const struct session_rec *s)
{
    struct res r = {0};
    st->ops->session_put(st, s, on_done, &r);
    ONCE(r);
    return r.rc;
}

/* out may be NULL; the record is copied to *out when found */
static enum store_rc t_session_get(struct store *st, const char *sid, struct session_rec *out)
{
    struct res r = {0};
    st->ops->session_get(st, sid, on_session, &r);
    ONCE(r);
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
    ONCE(*r);
}

static enum store_rc t_revoke_user(struct store *st, int64_t user_id, const char *reason)
{
    struct res r = {0};
    st->ops->session_revoke_user(st, user_id, reason, on_done, &r);
    ONCE(r);
    return r.rc;
}

static enum store_rc t_audit_add(struct store *st, const struct audit_rec *a)
{
    struct res r = {0};
    st->ops->audit_add(st, a, on_done, &r);
    ONCE(r);
    return r.rc;
}

static void t_audit_recent(struct store *st, int64_t user_id, int limit, struct res *r)
{
    memset(r, 0, sizeof *r);
    st->ops->audit_recent(st, user_id, limit, on_audits, r);
    ONCE(*r);
}

/* ---- fixture ------------------------------------------------------------ */

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static struct store *open_ok(const char *path)
{
    char err[256] = "";
    struct store *st = store_sqlite_open(path, err, sizeof err);
    if (!st)
        fail_msg("store_sqlite_open(%s): %s", path, err);
    assert_non_null(st->ops);
    return st;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/qrl-store-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/data/sub/qrlogin.db", f->dir);
    log_set_level(QLOG_ERROR);
    clock_set_fake_ms(T0);
    f->st = open_ok(f->path);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->st)
        f->st->ops->close(f->st);
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    clock_use_real();
    free(f);
    return 0;
}

static void reopen(struct fixture *f)
{
    f->st->ops->close(f->st);
    f->st = open_ok(f->path);
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
    /* the original is untouched */
    assert_int_equal(t_user_by_name(f->st, "bob", &u), STORE_OK);
    assert_int_equal(u.id, id);
    assert_string_equal(u.pwhash, "$pbkdf2-sha256$i=600000$salt$hash");
    /* names are compared exactly */
    assert_int_equal(t_user_create(f->st, "Bob", "$h", NULL), STORE_OK);

    /* a name one byte too long is refused, not truncated into another name */
    char toolong[USER_NAME_MAX + 2];
    memset(toolong, 'x', USER_NAME_MAX + 1);
    toolong[USER_NAME_MAX + 1] = '\0';
    assert_int_equal(t_user_create(f->st, toolong, "$h", NULL), STORE_ERROR);
    toolong[USER_NAME_MAX] = '\0';
    assert_int_equal(t_user_by_name(f->st, toolong, NULL), STORE_NOT_FOUND);
    char bighash[PASSWORD_HASH_MAX + 1];
    memset(bighash, 'h', PASSWORD_HASH_MAX);
    bighash[PASSWORD_HASH_MAX] = '\0';
    assert_int_equal(t_user_create(f->st, "carol", bighash, NULL), STORE_ERROR);
    assert_int_equal(t_user_by_name(f->st, "carol", NULL), STORE_NOT_FOUND);
    assert_int_equal(t_user_create(f->st, "", "$h", NULL), STORE_ERROR);
    /* input errors are not backend failures */
    assert_true(f->st->ops->healthy(f->st));
}

static void test_not_found(void **state)
{
    struct fixture *f = *state;
    int64_t v = 77;

    assert_int_equal(t_user_by_name(f->st, "nobody", NULL), STORE_NOT_FOUND);
    assert_int_equal(t_user_by_id(f->st, 424242, NULL), STORE_NOT_FOUND);
    assert_int_equal(t_bump(f->st, 424242, &v), STORE_NOT_FOUND);
    assert_int_equal(t_session_get(f->st, "AAAAAAAAAAAAAAAAAAAAAA", NULL), STORE_NOT_FOUND);
    assert_int_equal(t_session_get(f->st, "", NULL), STORE_NOT_FOUND);

    struct res r;
    t_session_list(f->st, 424242, &r);
    assert_int_equal(r.rc, STORE_OK);
    assert_int_equal(r.n, 0);
    res_free(&r);
    t_audit_recent(f->st, 424242, 10, &r);
    assert_int_equal(r.rc, STORE_OK);
    assert_int_equal(r.n, 0);
    res_free(&r);

    /* a session for a user that does not exist is refused */
    struct session_rec s;
    make_session(&s, "orphanorphanorphanorph", 424242, T0);
    assert_int_equal(t_session_put(f->st, &s), STORE_NOT_FOUND);
    assert_int_equal(t_session_get(f->st, s.sid, NULL), STORE_NOT_FOUND);
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

static void fill(char *dst, size_t n, char c)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = (char)(c + i % 23);
    dst[n] = '\0';
}

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
    assert_int_equal(t_session_get(f->st, s.sid, &got), STORE_OK);
    assert_string_equal(got.cur_jti, s.cur_jti);
    assert_true(f->st->ops->healthy(f->st));
}

/* session_put is a compare-and-set on rev (store.h): what keeps a stale read
 * — another node's, or this node's before an async step — from undoing a
 * rotation or a revocation. */
static void test_session_put_compare_and_set(void **state)
{
    struct fixture *f = *state;
    int64_t uid = new_user(f->st, "casey");
    struct session_rec s, got, stale;

    make_session(&s, "Scas-abcdefghijklmnop_q", uid, T0);
    assert_int_equal(t_session_put(f->st, &s), STORE_OK);
    /* inserting the same sid again is a conflict, not a replace */
    assert_int_equal(t_session_put(f->st, &s), STORE_CONFLICT);

    assert_int_equal(t_session_get(f->st, s.sid, &stale), STORE_OK);
    got = stale;
    snprintf(got.cur_jti, sizeof got.cur_jti, "winner-jti");
    assert_int_equal(t_session_put(f->st, &got), STORE_OK);

    /* a writer holding the older read loses, and changes nothing */
    snprintf(stale.cur_jti, sizeof stale.cur_jti, "loser-jti");
    stale.last_used_at = T0 + 99;
    assert_int_equal(t_session_put(f->st, &stale), STORE_CONFLICT);
    assert_int_equal(t_session_get(f->st, s.sid, &got), STORE_OK);
    assert_string_equal(got.cur_jti, "winner-jti");
    assert_int_equal(got.last_used_at, s.last_used_at);
    assert_int_equal(got.rev, stale.rev + 1);

    /* revoking every session of the user is a write too: older reads lose */
    assert_int_equal(t_revoke_user(f->st, uid, "logout_all"), STORE_OK);
    assert_int_equal(t_session_put(f->st, &got), STORE_CONFLICT);
    assert_int_equal(t_session_get(f->st, s.sid, &got), STORE_OK);
    assert_true(got.revoked);

    /* a replace of a sid that does not exist is not an insert */
    struct session_rec ghost = got;
    snprintf(ghost.sid, sizeof ghost.sid, "Sghost-abcdefghijklmn");
    assert_int_equal(t_session_put(f->st, &ghost), STORE_NOT_FOUND);
    assert_int_equal(t_session_get(f->st, ghost.sid, &got), STORE_NOT_FOUND);
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

/* Commits never checkpoint on the caller's thread (the broker's event loop):
 * once the WAL passes SQLITE_CHECKPOINT_PAGES, the store's own thread copies
 * it back into the database file. */
static void test_checkpoints_run_on_their_own_thread(void **state)
{
    struct fixture *f = *state;
    int64_t uid = new_user(f->st, "wal");
    char wal[160];
    struct stat db0, sb;
    struct session_rec s;
    char sid[SID_MAX];

    snprintf(wal, sizeof wal, "%s-wal", f->path);
    assert_int_equal(stat(f->path, &db0), 0);
    assert_int_equal(store_sqlite_checkpoints(f->st), 0);
    /* ~3 pages a session: write until the WAL holds more than the threshold */
    for (int i = 0; i < 100000; i++) {
        snprintf(sid, sizeof sid, "wal-%06d", i);
        make_session(&s, sid, uid, T0 + i);
        assert_int_equal(t_session_put(f->st, &s), STORE_OK);
        if (i % 50 == 0 && stat(wal, &sb) == 0 &&
            sb.st_size > (off_t)SQLITE_CHECKPOINT_PAGES * 4096 + 4096)
            break;
    }
    /* Wait for the thread (a deadline for an event, not a speed limit). */
    for (int i = 0; i < 3000 && store_sqlite_checkpoints(f->st) == 0; i++)
        usleep(10000);
    assert_true(store_sqlite_checkpoints(f->st) >= 1);
    assert_int_equal(stat(f->path, &sb), 0);
    assert_true(sb.st_size > db0.st_size); /* the pages reached the database file */
    /* and the store still works after it */
    make_session(&s, "wal-after", uid, T0);
    assert_int_equal(t_session_put(f->st, &s), STORE_OK);
}

static void test_session_revoke_user(void **state)
{
    struct fixture *f = *state;
    int64_t uid = new_user(f->st, "judy");
    int64_t other = new_user(f->st, "karl");
    struct session_rec s, got;

    make_session(&s, "judy-a", uid, T0 + 1);
    assert_int_equal(t_session_put(f->st, &s), STORE_OK);
    make_session(&s, "judy-b", uid, T0 + 2);
    snprintf(s.kind, sizeof s.kind, "app");
    assert_int_equal(t_session_put(f->st, &s), STORE_OK);
    make_session(&s, "judy-old", uid, T0);
    s.revoked = true;
    snprintf(s.revoke_reason, sizeof s.revoke_reason, "logout");
    assert_int_equal(t_session_put(f->st, &s), STORE_OK);
    make_session(&s, "karl-a", other, T0 + 3);
    assert_int_equal(t_session_put(f->st, &s), STORE_OK);

    assert_int_equal(t_revoke_user(f->st, uid, "logout_all"), STORE_OK);

    const char *revoked[] = {"judy-a", "judy-b"};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(t_session_get(f->st, revoked[i], &got), STORE_OK);
        assert_true(got.revoked);
        assert_string_equal(got.revoke_reason, "logout_all");
        /* revoking touches only revoked and revoke_reason */
        char jti[JTI_MAX];
        snprintf(jti, sizeof jti, "jti-cur-%s", revoked[i]);
        assert_string_equal(got.cur_jti, jti);
    }
    /* an already revoked session keeps its original reason */
    assert_int_equal(t_session_get(f->st, "judy-old", &got), STORE_OK);
    assert_true(got.revoked);
    assert_string_equal(got.revoke_reason, "logout");
    /* another user's session is untouched */
    assert_int_equal(t_session_get(f->st, "karl-a", &got), STORE_OK);
    assert_false(got.revoked);
    assert_string_equal(got.revoke_reason, "");

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
}

/* ---- audit -------------------------------------------------------------- */

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
     * at == 0 means now */
    make_audit(&a, other, 0, "confirmed");
    snprintf(a.ticket_prefix, sizeof a.ticket_prefix, "ABCDEFG");
    clock_set_fake_ms(T0 + 60);
    assert_int_equal(t_audit_add(f->st, &a), STORE_OK);
    t_audit_recent(f->st, other, 1, &r);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.audits[0].ticket_prefix, "ABCDEF");
    assert_int_equal(r.audits[0].at, T0 + 60);
    res_free(&r);
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

    /* the checkpoint at close left the WAL empty */
    f->st->ops->close(f->st);
    f->st = NULL;
    char wal[160];
    struct stat sb;
    snprintf(wal, sizeof wal, "%s-wal", f->path);
    if (stat(wal, &sb) == 0)
        assert_int_equal(sb.st_size, 0);
    f->st = open_ok(f->path);
    assert_int_equal(t_user_by_name(f->st, "pete", NULL), STORE_OK);
}

/* ---- re-entrancy -------------------------------------------------------- */

struct nested {
    struct store *st;
    int outer_calls;
    enum store_rc inner_rc;
    int64_t inner_id;
    int inner_calls;
};

static void on_inner(void *arg, enum store_rc rc, const struct user_rec *u)
{
    struct nested *n = arg;
    n->inner_calls++;
    n->inner_rc = rc;
    n->inner_id = u ? u->id : -1;
}

/* Calls the very op whose callback this is: the store must not be using the
 * statement any more. */
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
    struct nested n = {f->st, 0, STORE_ERROR, 0, 0};

    f->st->ops->user_by_name(f->st, "quinn", on_outer, &n);
    assert_int_equal(n.outer_calls, 1);
    assert_int_equal(n.inner_calls, 1);
    assert_int_equal(n.inner_rc, STORE_OK);
    assert_int_equal(n.inner_id, rita);
}

/* ---- opening ------------------------------------------------------------ */

static void test_open_creates_private_dirs_and_wal(void **state)
{
    struct fixture *f = *state;
    struct stat sb;
    char dir[128];

    /* setup opened <dir>/data/sub/qrlogin.db with neither parent existing */
    snprintf(dir, sizeof dir, "%s/data/sub", f->dir);
    assert_int_equal(stat(dir, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    assert_int_equal(sb.st_mode & 0777, 0700);
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(sb.st_mode & 0077, 0);

    new_user(f->st, "sam"); /* something in the WAL */

    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(stmt, 0), "wal");
    sqlite3_finalize(stmt);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(stmt, 0), 3);
    sqlite3_finalize(stmt);
    /* another connection sees the committed user */
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT token_version FROM users WHERE name='sam'",
                                        -1, &stmt, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(stmt, 0), 1);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
}

static void test_open_parent_is_a_file(void **state)
{
    struct fixture *f = *state;
    char file[128], path[192], err[256] = "";

    snprintf(file, sizeof file, "%s/plainfile", f->dir);
    FILE *fp = fopen(file, "w");
    assert_non_null(fp);
    fputs("not a directory\n", fp);
    fclose(fp);

    snprintf(path, sizeof path, "%s/qrlogin.db", file);
    assert_null(store_sqlite_open(path, err, sizeof err));
    assert_non_null(strstr(err, file));
    assert_non_null(strstr(err, "not"));

    snprintf(path, sizeof path, "%s/deeper/qrlogin.db", file);
    err[0] = '\0';
    assert_null(store_sqlite_open(path, err, sizeof err));
    assert_non_null(strstr(err, file));

    /* the same through store_open */
    char url[224];
    snprintf(url, sizeof url, "sqlite:%s/qrlogin.db", file);
    err[0] = '\0';
    assert_null(store_open(url, err, sizeof err));
    assert_non_null(strstr(err, file));
}

static void test_open_not_a_database(void **state)
{
    struct fixture *f = *state;
    char path[128], err[256] = "";

    snprintf(path, sizeof path, "%s/garbage.db", f->dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    for (int i = 0; i < 512; i++)
        fputs("this is certainly not an sqlite file\n", fp);
    fclose(fp);
    assert_null(store_sqlite_open(path, err, sizeof err));
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "not a database"));
}

static void test_open_refuses_newer_schema(void **state)
{
    struct fixture *f = *state;
    char err[256] = "";

    f->st->ops->close(f->st);
    f->st = NULL;
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version=7", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    assert_null(store_sqlite_open(f->path, err, sizeof err));
    assert_non_null(strstr(err, "version 7"));
}

static void test_store_open_urls(void **state)
{
    struct fixture *f = *state;
    char err[256];

    /* a redis URL opens the Redis backend (it connects only when started);
     * a bad one is refused without echoing the password */
    struct store *rs = store_open("redis://127.0.0.1:1/0", err, sizeof err);
    assert_non_null(rs);
    assert_true(store_needs_loop(rs));
    rs->ops->close(rs);
    strcpy(err, "x");
    assert_null(store_open("redis://:secret@host:notaport/0", err, sizeof err));
    assert_null(strstr(err, "secret"));
    strcpy(err, "x");
    assert_null(store_open("rediss://:secret@host:6379/0", err, sizeof err));
    assert_null(strstr(err, "secret"));
    assert_non_null(strstr(err, "TLS"));
    strcpy(err, "");
    assert_null(store_open("foo:bar", err, sizeof err));
    assert_non_null(strstr(err, "foo"));
    assert_non_null(strstr(err, "sqlite:"));
    strcpy(err, "");
    assert_null(store_open("sqlite:", err, sizeof err));
    assert_true(strlen(err) > 0);
    strcpy(err, "");
    assert_null(store_open("", err, sizeof err));
    assert_true(strlen(err) > 0);
    strcpy(err, "");
    assert_null(store_open("/just/a/path.db", err, sizeof err));
    assert_true(strlen(err) > 0);
    assert_null(store_open("foo:bar", NULL, 0)); /* no err buffer: no crash */

    /* sqlite:<path> opens the same database the fixture uses */
    new_user(f->st, "tina");
    f->st->ops->close(f->st);
    char url[160];
    snprintf(url, sizeof url, "sqlite:%s", f->path);
    err[0] = '\0';
    f->st = store_open(url, err, sizeof err);
    assert_non_null(f->st);
    assert_string_equal(err, "");
    assert_int_equal(t_user_by_name(f->st, "tina", NULL), STORE_OK);

    /* and ":memory:" works for tests of other modules */
    struct store *mem = store_open("sqlite::memory:", err, sizeof err);
    assert_non_null(mem);
    assert_true(new_user(mem, "uma") > 0);
    assert_int_equal(t_user_by_name(mem, "uma", NULL), STORE_OK);
    mem->ops->close(mem);
}

/* Values written by something other than this store (an older broker, a
 * hand edit) may be longer than the record's fields: they come back cut to
 * fit and terminated, never overflowing. */
static void test_oversized_columns_truncated(void **state)
{
    struct fixture *f = *state;
    int64_t uid = new_user(f->st, "yuri");
    struct session_rec s, got;
    make_session(&s, "long-cols", uid, T0);
    assert_int_equal(t_session_put(f->st, &s), STORE_OK);

    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "UPDATE sessions SET kind = 'webwebwebweb',"
                                  " ip = printf('%.200c', 'i'),"
                                  " last_access = printf('%.5000c', 'a')"
                                  " WHERE sid = 'long-cols';"
                                  "UPDATE users SET name = printf('%.300c', 'n') WHERE name = 'yuri'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);

    assert_int_equal(t_session_get(f->st, "long-cols", &got), STORE_OK);
    assert_string_equal(got.kind, "webwebw");
    assert_int_equal(strlen(got.ip), IP_MAX - 1);
    assert_int_equal(strlen(got.last_access), JWT_MAX_TOKEN - 1);
    assert_int_equal(got.last_access[0], 'a');
    assert_string_equal(got.user_agent, s.user_agent); /* neighbours intact */
    struct user_rec u;
    assert_int_equal(t_user_by_id(f->st, uid, &u), STORE_OK);
    assert_int_equal(strlen(u.name), USER_NAME_MAX);
    assert_string_equal(u.pwhash, "$pbkdf2-sha256$i=600000$salt$hash");
}

/* ---- failures ----------------------------------------------------------- */

/* Another connection holds the write lock longer than busy_timeout: the op
 * fails with STORE_ERROR after ~2 s, reads still work (WAL), and a lock is not
 * a sign of a broken store. */
static void test_busy_is_error_but_healthy(void **state)
{
    struct fixture *f = *state;
    int64_t uid = new_user(f->st, "vera");

    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);

    int64_t v = 0;
    assert_int_equal(t_bump(f->st, uid, &v), STORE_ERROR);
    assert_int_equal(t_user_create(f->st, "walt", "$h", NULL), STORE_ERROR);
    assert_int_equal(t_user_by_id(f->st, uid, NULL), STORE_OK);
    assert_true(f->st->ops->healthy(f->st));

    assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(t_bump(f->st, uid, &v), STORE_OK);
    assert_int_equal(v, 2); /* the failed bump did not count */
    assert_int_equal(t_user_by_name(f->st, "walt", NULL), STORE_NOT_FOUND);
}

/* A write that the OS refuses (here: RLIMIT_FSIZE, as a full disk would) is
 * an I/O error: the op fails and healthy() says so until an op succeeds. */
static void test_write_failure_marks_unhealthy(void **state)
{
    struct fixture *f = *state;
    int64_t uid = new_user(f->st, "xena");
    struct session_rec s;
    make_session(&s, "fsize-sid", uid, T0);

    /* make sure the next write has to grow a file: start from an empty WAL */
    reopen(f);
    assert_true(f->st->ops->healthy(f->st));

    struct disk_full full;
    disk_full_begin(&full);

    enum store_rc rc = t_session_put(f->st, &s);
    bool healthy = f->st->ops->healthy(f->st);

    disk_full_end(&full);

    assert_int_equal(rc, STORE_ERROR);
    assert_false(healthy);
    /* the disk is back: the next op works and the store is healthy again */
    assert_int_equal(t_session_put(f->st, &s), STORE_OK);
    assert_true(f->st->ops->healthy(f->st));
    assert_int_equal(t_session_get(f->st, "fsize-sid", NULL), STORE_OK);
}

/* ---- group commit (the broker's loop turns it on) ----------------------- */

static int sessions_seen_elsewhere(const char *path)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM sessions", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* Writes answer at the turn's end, after their commit; until then another
 * connection sees nothing, while reads on the store's own connection see
 * the turn's writes at once. Every write op is held, not only session_put. */
static void test_group_commit_answers_after_commit(void **state)
{
    struct fixture *f = *state;
    int64_t uid = new_user(f->st, "gina");
    struct session_rec s;
    make_session(&s, "group-sid", uid, T0);
    struct audit_rec a = {.at = T0, .user_id = uid, .outcome = "confirmed"};
    struct res put = {0}, audit = {0}, bump = {0}, made = {0}, revoked = {0}, got = {0};

    store_group_commit(f->st, true);
    f->st->ops->session_put(f->st, &s, on_done, &put);
    f->st->ops->audit_add(f->st, &a, on_done, &audit);
    f->st->ops->user_bump_version(f->st, uid, on_int, &bump);
    f->st->ops->user_create(f->st, "hugo", "$h", on_user, &made);
    f->st->ops->session_revoke_user(f->st, 424242, "logout_all", on_done, &revoked);
    assert_int_equal(put.calls + audit.calls + bump.calls + made.calls + revoked.calls, 0);
    assert_int_equal(sessions_seen_elsewhere(f->path), 0);

    f->st->ops->session_get(f->st, "group-sid", on_session, &got);
    assert_int_equal(got.calls, 1); /* a read answers at once */
    assert_int_equal(got.rc, STORE_OK);

    store_turn_end(f->st);
    assert_int_equal(put.calls, 1);
    assert_int_equal(put.rc, STORE_OK);
    assert_int_equal(audit.calls, 1);
    assert_int_equal(bump.calls, 1);
    assert_int_equal(bump.value, 2);
    assert_int_equal(made.calls, 1);
    assert_int_equal(made.rc, STORE_OK);
    assert_string_equal(made.user.name, "hugo");
    assert_int_equal(revoked.calls, 1);
    assert_int_equal(sessions_seen_elsewhere(f->path), 1);
    store_group_commit(f->st, false);
    res_free(&got);
}

/* The turn's COMMIT cannot write (RLIMIT_FSIZE, as a full disk would
 * refuse): the held write answers STORE_ERROR, not OK, the store reports
 * itself unhealthy, and nothing of the turn was kept. */
static void test_group_commit_failure_is_an_error(void **state)
{
    struct fixture *f = *state;
    int64_t uid = new_user(f->st, "ivan");
    struct session_rec s;
    make_session(&s, "lost-sid", uid, T0);
    reopen(f); /* an empty WAL: the commit has to grow it */
    struct res put = {0};

    store_group_commit(f->st, true);
    f->st->ops->session_put(f->st, &s, on_done, &put);

    struct disk_full full;
    disk_full_begin(&full);
    store_turn_end(f->st);
    bool healthy = f->st->ops->healthy(f->st);
    disk_full_end(&full);

    assert_int_equal(put.calls, 1);
    assert_int_equal(put.rc, STORE_ERROR);
    assert_false(healthy);
    store_group_commit(f->st, false);
    assert_int_equal(t_session_get(f->st, "lost-sid", NULL), STORE_NOT_FOUND);
    assert_true(f->st->ops->healthy(f->st));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_user_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_conflict_and_bad_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bump_version_persists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_put_replace_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_put_compare_and_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_list_order_and_revoked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_list_caps_at_100, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoints_run_on_their_own_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_revoke_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_order_and_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_limit_clamped_to_100, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_keeps_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(test_callback_may_reenter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_creates_private_dirs_and_wal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_parent_is_a_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_not_a_database, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_refuses_newer_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_open_urls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversized_columns_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_busy_is_error_but_healthy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_failure_marks_unhealthy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_commit_answers_after_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_commit_failure_is_an_error, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
