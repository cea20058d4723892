/* store_contract.c — see store_contract.h. Nothing here knows which backend
 * it runs on: it sees only store.h and the fixture's open/reopen/pump/close.
 * A case that needs to look behind the store's back (a file, a Redis key)
 * belongs in the backend's own test file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "clock.h"
#include "log.h"
#include "store_contract.h"

#define T0 CONTRACT_T0

/* ---- fixture ------------------------------------------------------------ */

int store_fixture_setup(void **state)
{
    const struct store_backend *be = *state;
    log_set_level(QLOG_ERROR);
    clock_set_fake_ms(T0);
    struct store_fixture *f = be->open(be);
    if (!f)
        return -1;
    assert_non_null(f->st);
    assert_non_null(f->st->ops);
    f->be = be;
    *state = f;
    return 0;
}

int store_fixture_teardown(void **state)
{
    struct store_fixture *f = *state;
    f->be->close(f);
    clock_use_real();
    return 0;
}

/* ---- completions -------------------------------------------------------- */

static void hit(struct res *r, enum store_rc rc)
{
    r->calls++;
    r->done = true;
    r->rc = rc;
}

void on_done(void *arg, enum store_rc rc) { hit(arg, rc); }

void on_user(void *arg, enum store_rc rc, const struct user_rec *u)
{
    struct res *r = arg;
    hit(r, rc);
    r->rec_null = (u == NULL);
    if (u)
        r->user = *u;
}

void on_int(void *arg, enum store_rc rc, int64_t value)
{
    struct res *r = arg;
    hit(r, rc);
    r->value = value;
}

void on_session(void *arg, enum store_rc rc, const struct session_rec *s)
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

void on_sessions(void *arg, enum store_rc rc, const struct session_rec *s, int n)
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

void on_audits(void *arg, enum store_rc rc, const struct audit_rec *a, int n)
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

void on_oauth(void *arg, enum store_rc rc, const struct oauth_rec *o)
{
    struct res *r = arg;
    hit(r, rc);
    r->rec_null = (o == NULL);
    if (o)
        r->oauth = *o;
}

void on_oauths(void *arg, enum store_rc rc, const struct oauth_rec *o, int n)
{
    struct res *r = arg;
    hit(r, rc);
    r->n = n;
    r->rec_null = (o == NULL);
    assert_true(n >= 0 && n <= 100);
    if (n) {
        assert_non_null(o);
        r->oauths = malloc((size_t)n * sizeof *o);
        assert_non_null(r->oauths);
        memcpy(r->oauths, o, (size_t)n * sizeof *o);
    }
}

void res_free(struct res *r)
{
    free(r->sessions);
    free(r->audits);
    free(r->oauths);
    memset(r, 0, sizeof *r);
}

void t_wait(struct store_fixture *f, struct res *r)
{
    f->be->pump(f, &r->done);
    assert_int_equal(r->calls, 1);
}

/* ---- synchronous wrappers ----------------------------------------------- */

enum store_rc t_user_create(struct store_fixture *f, const char *name, const char *hash,
                            struct user_rec *out)
{
    struct res r = {0};
    f->st->ops->user_create(f->st, name, hash, on_user, &r);
    t_wait(f, &r);
    assert_int_equal(r.rec_null, r.rc != STORE_OK);
    if (out)
        *out = r.user;
    return r.rc;
}

enum store_rc t_user_by_name(struct store_fixture *f, const char *name, struct user_rec *out)
{
    struct res r = {0};
    f->st->ops->user_by_name(f->st, name, on_user, &r);
    t_wait(f, &r);
    assert_int_equal(r.rec_null, r.rc != STORE_OK);
    if (out)
        *out = r.user;
    return r.rc;
}

enum store_rc t_user_federated(struct store_fixture *f, const char *iss, const char *sub,
                               const char *name, struct user_rec *out)
{
    struct res r = {0};
    f->st->ops->user_federated(f->st, iss, sub, name, on_user, &r);
    t_wait(f, &r);
    assert_int_equal(r.rec_null, r.rc != STORE_OK);
    if (out)
        *out = r.user;
    return r.rc;
}

enum store_rc t_user_by_id(struct store_fixture *f, int64_t id, struct user_rec *out)
{
    struct res r = {0};
    f->st->ops->user_by_id(f->st, id, on_user, &r);
    t_wait(f, &r);
    assert_int_equal(r.rec_null, r.rc != STORE_OK);
    if (out)
        *out = r.user;
    return r.rc;
}

enum store_rc t_bump(struct store_fixture *f, int64_t id, int64_t *out)
{
    struct res r = {0};
    f->st->ops->user_bump_version(f->st, id, on_int, &r);
    t_wait(f, &r);
    if (out)
        *out = r.value;
    return r.rc;
}

enum store_rc t_session_put(struct store_fixture *f, const struct session_rec *s)
{
    struct res r = {0};
    f->st->ops->session_put(f->st, s, on_done, &r);
    t_wait(f, &r);
    return r.rc;
}

enum store_rc t_session_get(struct store_fixture *f, const char *sid, struct session_rec *out)
{
    struct res r = {0};
    f->st->ops->session_get(f->st, sid, on_session, &r);
    t_wait(f, &r);
    assert_int_equal(r.rec_null, r.rc != STORE_OK);
    if (out && r.sessions)
        *out = r.sessions[0];
    enum store_rc rc = r.rc;
    res_free(&r);
    return rc;
}

void t_session_list(struct store_fixture *f, int64_t user_id, struct res *r)
{
    memset(r, 0, sizeof *r);
    f->st->ops->session_list(f->st, user_id, on_sessions, r);
    t_wait(f, r);
}

enum store_rc t_revoke_user(struct store_fixture *f, int64_t user_id, enum session_end reason)
{
    struct res r = {0};
    f->st->ops->session_revoke_user(f->st, user_id, reason, on_done, &r);
    t_wait(f, &r);
    return r.rc;
}

enum store_rc t_audit_add(struct store_fixture *f, const struct audit_rec *a)
{
    struct res r = {0};
    f->st->ops->audit_add(f->st, a, on_done, &r);
    t_wait(f, &r);
    return r.rc;
}

void t_audit_recent(struct store_fixture *f, int64_t user_id, int limit, struct res *r)
{
    memset(r, 0, sizeof *r);
    f->st->ops->audit_recent(f->st, user_id, limit, on_audits, r);
    t_wait(f, r);
}

/* ---- records ------------------------------------------------------------ */

int64_t new_user(struct store_fixture *f, const char *name)
{
    struct user_rec u;
    assert_int_equal(t_user_create(f, name, CONTRACT_PWHASH, &u), STORE_OK);
    assert_true(u.id > 0);
    return u.id;
}

void make_session(struct session_rec *s, const char *sid, int64_t user_id, int64_t created_at)
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

void make_audit(struct audit_rec *a, int64_t uid, int64_t at, const char *outcome)
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

void assert_session_eq(const struct session_rec *a, const struct session_rec *b)
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
    assert_int_equal(a->revoke_reason, b->revoke_reason);
    assert_string_equal(a->cur_jti, b->cur_jti);
    assert_string_equal(a->prev_jti, b->prev_jti);
    assert_int_equal(a->rotated_at, b->rotated_at);
    assert_int_equal(a->refresh_exp, b->refresh_exp);
    assert_string_equal(a->last_access, b->last_access);
    assert_string_equal(a->last_refresh, b->last_refresh);
    assert_int_equal(a->last_access_exp, b->last_access_exp);
}

void fill(char *dst, size_t n, char c)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = (char)(c + i % 23);
    dst[n] = '\0';
}

/* ---- users -------------------------------------------------------------- */

void store_contract_user_roundtrip(void **state)
{
    struct store_fixture *f = *state;
    const char *hash = "$pbkdf2-sha256$i=600000$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo";
    struct user_rec u, byname, byid;

    assert_int_equal(t_user_create(f, "alice", hash, &u), STORE_OK);
    assert_true(u.id > 0);
    assert_string_equal(u.name, "alice");
    assert_string_equal(u.pwhash, hash);
    assert_int_equal(u.token_version, 1);
    assert_int_equal(u.created_at, T0);

    assert_int_equal(t_user_by_name(f, "alice", &byname), STORE_OK);
    assert_int_equal(t_user_by_id(f, u.id, &byid), STORE_OK);
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
    assert_int_equal(t_user_create(f, longest, hash, &u2), STORE_OK);
    assert_int_not_equal(u2.id, u.id);
    assert_int_equal(u2.created_at, T0 + 5);
    assert_int_equal(t_user_by_name(f, longest, &byname), STORE_OK);
    assert_int_equal(byname.id, u2.id);
    assert_string_equal(byname.name, longest);
    assert_true(f->st->ops->healthy(f->st));
}

void store_contract_user_conflict_and_bad_input(void **state)
{
    struct store_fixture *f = *state;
    struct user_rec u;
    int64_t id = new_user(f, "bob");

    assert_int_equal(t_user_create(f, "bob", "$other$hash", &u), STORE_CONFLICT);
    /* the original is untouched, and the refused create used no id */
    assert_int_equal(t_user_by_name(f, "bob", &u), STORE_OK);
    assert_int_equal(u.id, id);
    assert_string_equal(u.pwhash, CONTRACT_PWHASH);
    /* names are compared exactly */
    assert_int_equal(t_user_create(f, "Bob", "$h", &u), STORE_OK);
    assert_int_equal(u.id, id + 1);

    /* a name one byte too long is refused, not truncated into another name */
    char toolong[USER_NAME_MAX + 2];
    memset(toolong, 'x', USER_NAME_MAX + 1);
    toolong[USER_NAME_MAX + 1] = '\0';
    assert_int_equal(t_user_create(f, toolong, "$h", NULL), STORE_ERROR);
    assert_int_equal(t_user_by_name(f, toolong, NULL), STORE_NOT_FOUND);
    toolong[USER_NAME_MAX] = '\0';
    assert_int_equal(t_user_by_name(f, toolong, NULL), STORE_NOT_FOUND);
    char bighash[PASSWORD_HASH_MAX + 1];
    memset(bighash, 'h', PASSWORD_HASH_MAX);
    bighash[PASSWORD_HASH_MAX] = '\0';
    assert_int_equal(t_user_create(f, "carol", bighash, NULL), STORE_ERROR);
    assert_int_equal(t_user_by_name(f, "carol", NULL), STORE_NOT_FOUND);
    assert_int_equal(t_user_create(f, "", "$h", NULL), STORE_ERROR);
    assert_int_equal(t_user_create(f, "dan", "", NULL), STORE_ERROR);
    assert_int_equal(t_user_by_name(f, "dan", NULL), STORE_NOT_FOUND);
    assert_int_equal(t_user_by_name(f, "", NULL), STORE_NOT_FOUND);
    /* input errors are not backend failures */
    assert_true(f->st->ops->healthy(f->st));
}

/* Names, hashes and record fields come back exactly, whatever bytes they
 * hold: protocol characters (a network store must send them with lengths,
 * never formatted into a command), quotes, format directives, and bytes that
 * are not UTF-8. */
/* A user signed in through a trusted issuer: one record per (issuer, subject),
 * never found by a password sign-in, with token versions like anyone's. */
void store_contract_user_federated(void **state)
{
    struct store_fixture *f = *state;
    struct user_rec a, again, other, byid, byname;
    int64_t local = new_user(f, "Alice"); /* a local user with the same display name */

    assert_int_equal(t_user_federated(f, "https://idp.example", "u-1", "Alice", &a), STORE_OK);
    assert_true(a.id > 0);
    assert_int_not_equal(a.id, local);
    assert_string_equal(a.name, "Alice");
    assert_int_equal(a.token_version, 1);
    /* the same identity is the same user; a changed name is taken */
    assert_int_equal(t_user_federated(f, "https://idp.example", "u-1", "Alice B.", &again),
                     STORE_OK);
    assert_int_equal(again.id, a.id);
    assert_string_equal(again.name, "Alice B.");
    assert_int_equal(t_user_by_id(f, a.id, &byid), STORE_OK);
    assert_string_equal(byid.name, "Alice B.");
    /* the same subject at another issuer is someone else */
    assert_int_equal(t_user_federated(f, "https://other.example", "u-1", "Alice", &other),
                     STORE_OK);
    assert_int_not_equal(other.id, a.id);
    /* a password sign-in never finds a federated user by its display name */
    assert_int_equal(t_user_by_name(f, "Alice B.", &byname), STORE_NOT_FOUND);
    assert_int_equal(t_user_by_name(f, "Alice", &byname), STORE_OK);
    assert_int_equal(byname.id, local);
    /* token versions (logout.all) work as for local users, and survive */
    int64_t v = 0;
    assert_int_equal(t_bump(f, a.id, &v), STORE_OK);
    assert_int_equal(v, 2);
    f->be->reopen(f);
    assert_int_equal(t_user_federated(f, "https://idp.example", "u-1", "Alice B.", &again),
                     STORE_OK);
    assert_int_equal(again.id, a.id);
    assert_int_equal(again.token_version, 2);
    /* bad input is refused, not cut */
    char longsub[FED_SUBJECT_MAX + 2];
    memset(longsub, 's', FED_SUBJECT_MAX + 1);
    longsub[FED_SUBJECT_MAX + 1] = '\0';
    assert_int_equal(t_user_federated(f, "", "u", "n", NULL), STORE_ERROR);
    assert_int_equal(t_user_federated(f, "i", longsub, "n", NULL), STORE_ERROR);
    assert_int_equal(t_user_federated(f, "i", "u", "", NULL), STORE_ERROR);
    assert_true(f->st->ops->healthy(f->st));
}

/* ---- OAuth records ------------------------------------------------------ */

static enum store_rc t_oauth_put(struct store_fixture *f, const struct oauth_rec *o)
{
    struct res r = {0};
    f->st->ops->oauth_put(f->st, o, on_done, &r);
    t_wait(f, &r);
    return r.rc;
}

static enum store_rc t_oauth_get(struct store_fixture *f, const char *kind, const char *key,
                                 struct oauth_rec *out)
{
    struct res r = {0};
    f->st->ops->oauth_get(f->st, kind, key, on_oauth, &r);
    t_wait(f, &r);
    assert_int_equal(r.rec_null, r.rc != STORE_OK);
    if (out)
        *out = r.oauth;
    return r.rc;
}

static enum store_rc t_oauth_del(struct store_fixture *f, const char *kind, const char *key)
{
    struct res r = {0};
    f->st->ops->oauth_del(f->st, kind, key, on_done, &r);
    t_wait(f, &r);
    return r.rc;
}

static void make_oauth(struct oauth_rec *o, const char *kind, const char *key, const char *value,
                       int64_t expires_at)
{
    memset(o, 0, sizeof *o);
    snprintf(o->kind, sizeof o->kind, "%s", kind);
    snprintf(o->key, sizeof o->key, "%s", key);
    snprintf(o->value, sizeof o->value, "%s", value);
    o->expires_at = expires_at;
}

/* The records of the OpenID provider (clients, codes, device codes): keyed
 * within a kind, compare-and-set like sessions, expiring, and those that
 * never expire listable — on every node alike, since a code issued on one
 * is redeemed on another. Expiry is judged by the wall clock on both
 * backends, so the "live" records here expire an hour from now. */
void store_contract_oauth_records(void **state)
{
    struct store_fixture *f = *state;
    struct oauth_rec o, got;
    int64_t later = clock_now_ms() + 3600 * 1000;

    /* insert, read back with rev 1; a second insert of the key conflicts */
    make_oauth(&o, "code", "k1", "{\"user\":7}", later);
    assert_int_equal(t_oauth_put(f, &o), STORE_OK);
    assert_int_equal(t_oauth_get(f, "code", "k1", &got), STORE_OK);
    assert_string_equal(got.kind, "code");
    assert_string_equal(got.key, "k1");
    assert_string_equal(got.value, "{\"user\":7}");
    assert_int_equal(got.expires_at, later);
    assert_int_equal(got.rev, 1);
    make_oauth(&o, "code", "k1", "{\"user\":8}", later);
    assert_int_equal(t_oauth_put(f, &o), STORE_CONFLICT);
    assert_int_equal(t_oauth_get(f, "code", "k1", &got), STORE_OK);
    assert_string_equal(got.value, "{\"user\":7}");
    /* the same key in another kind is another record */
    assert_int_equal(t_oauth_get(f, "device", "k1", NULL), STORE_NOT_FOUND);

    /* compare-and-set: the revision read wins once; stale and future lose */
    got.rev = 1;
    snprintf(got.value, sizeof got.value, "{\"used\":true}");
    assert_int_equal(t_oauth_put(f, &got), STORE_OK);
    assert_int_equal(t_oauth_put(f, &got), STORE_CONFLICT); /* rev 1 again: stale */
    got.rev = 9;
    assert_int_equal(t_oauth_put(f, &got), STORE_CONFLICT); /* from the future */
    assert_int_equal(t_oauth_get(f, "code", "k1", &got), STORE_OK);
    assert_int_equal(got.rev, 2);
    assert_string_equal(got.value, "{\"used\":true}");

    /* delete: gone for reads and for compare-and-set */
    assert_int_equal(t_oauth_del(f, "code", "k1"), STORE_OK);
    assert_int_equal(t_oauth_get(f, "code", "k1", NULL), STORE_NOT_FOUND);
    assert_int_equal(t_oauth_put(f, &got), STORE_NOT_FOUND);

    /* an expired record reads as none and its key may be taken again */
    make_oauth(&o, "ucode", "old", "{}", clock_now_ms() - 1000);
    enum store_rc rc = t_oauth_put(f, &o);
    assert_true(rc == STORE_OK || rc == STORE_ERROR); /* a backend may refuse a dead record */
    assert_int_equal(t_oauth_get(f, "ucode", "old", NULL), STORE_NOT_FOUND);
    make_oauth(&o, "ucode", "old", "{\"again\":1}", later);
    assert_int_equal(t_oauth_put(f, &o), STORE_OK);
    assert_int_equal(t_oauth_get(f, "ucode", "old", &got), STORE_OK);
    assert_string_equal(got.value, "{\"again\":1}");

    /* records that never expire are listed by kind, ordered by key, and
     * survive a restart; expiring ones of the same kind are not listed */
    const char *keys[] = {"zeta", "alpha", "mid"};
    for (int i = 0; i < 3; i++) {
        make_oauth(&o, "client", keys[i], "{\"name\":\"x\"}", 0);
        assert_int_equal(t_oauth_put(f, &o), STORE_OK);
    }
    make_oauth(&o, "client", "temporary", "{}", later);
    assert_int_equal(t_oauth_put(f, &o), STORE_OK);
    f->be->reopen(f);
    struct res r = {0};
    f->st->ops->oauth_list(f->st, "client", on_oauths, &r);
    t_wait(f, &r);
    assert_int_equal(r.rc, STORE_OK);
    assert_int_equal(r.n, 3);
    assert_string_equal(r.oauths[0].key, "alpha");
    assert_string_equal(r.oauths[1].key, "mid");
    assert_string_equal(r.oauths[2].key, "zeta");
    assert_int_equal(r.oauths[0].expires_at, 0);
    res_free(&r);
    f->st->ops->oauth_list(f->st, "nothing", on_oauths, &r);
    t_wait(f, &r);
    assert_int_equal(r.rc, STORE_OK);
    assert_int_equal(r.n, 0);
    res_free(&r);
}

void store_contract_binary_safe_values(void **state)
{
    struct store_fixture *f = *state;
    const char *name = "a b\r\n*3\r\n$3\r\nDEL\r\n\"q'%s%n\xff\xfe:sess";
    const char *hash = "$h with spaces\r\nand %d";
    struct user_rec u;

    assert_int_equal(t_user_create(f, name, hash, &u), STORE_OK);
    assert_int_equal(t_user_by_name(f, name, &u), STORE_OK);
    assert_string_equal(u.name, name);
    assert_string_equal(u.pwhash, hash);
    assert_int_equal(t_user_create(f, name, "$h", NULL), STORE_CONFLICT);
    assert_int_equal(t_user_by_name(f, "a b", NULL), STORE_NOT_FOUND);

    struct session_rec s, got;
    make_session(&s, "sid with\r\nCRLF \xc3\x28", u.id, T0);
    snprintf(s.user_agent, sizeof s.user_agent, "UA \"quoted\" \xc3\x28\xa0\xa1 %%s\r\n");
    snprintf(s.ip, sizeof s.ip, "%%n%%n");
    assert_int_equal(t_session_put(f, &s), STORE_OK);
    assert_int_equal(t_session_get(f, s.sid, &got), STORE_OK);
    assert_session_eq(&got, &s);

    struct audit_rec a;
    make_audit(&a, u.id, T0, "confirmed");
    snprintf(a.pc_user_agent, sizeof a.pc_user_agent, "\xc3\x28 \"x\" \\ \xed\xa0\x80");
    snprintf(a.sid, sizeof a.sid, "%s", s.sid);
    struct res r;
    assert_int_equal(t_audit_add(f, &a), STORE_OK);
    t_audit_recent(f, u.id, 5, &r);
    assert_int_equal(r.n, 1);
    assert_memory_equal(&r.audits[0], &a, sizeof a);
    res_free(&r);
}

void store_contract_not_found(void **state)
{
    struct store_fixture *f = *state;
    int64_t v = 77;

    assert_int_equal(t_user_by_name(f, "nobody", NULL), STORE_NOT_FOUND);
    assert_int_equal(t_user_by_id(f, 424242, NULL), STORE_NOT_FOUND);
    assert_int_equal(t_bump(f, 424242, &v), STORE_NOT_FOUND);
    assert_int_equal(v, 0);
    /* the bump of a missing user created nothing */
    assert_int_equal(t_user_by_id(f, 424242, NULL), STORE_NOT_FOUND);
    assert_int_equal(t_session_get(f, "AAAAAAAAAAAAAAAAAAAAAA", NULL), STORE_NOT_FOUND);
    assert_int_equal(t_session_get(f, "", NULL), STORE_NOT_FOUND);
    char longsid[SID_MAX + 1];
    memset(longsid, 's', SID_MAX);
    longsid[SID_MAX] = '\0';
    assert_int_equal(t_session_get(f, longsid, NULL), STORE_NOT_FOUND);

    struct res r;
    t_session_list(f, 424242, &r);
    assert_int_equal(r.rc, STORE_OK);
    assert_int_equal(r.n, 0);
    res_free(&r);
    t_audit_recent(f, 424242, 10, &r);
    assert_int_equal(r.rc, STORE_OK);
    assert_int_equal(r.n, 0);
    res_free(&r);
    assert_int_equal(t_revoke_user(f, 424242, SESSION_END_LOGOUT_ALL), STORE_OK);

    /* a session for a user that does not exist is refused */
    struct session_rec s;
    make_session(&s, "orphanorphanorphanorph", 424242, T0);
    assert_int_equal(t_session_put(f, &s), STORE_NOT_FOUND);
    assert_int_equal(t_session_get(f, s.sid, NULL), STORE_NOT_FOUND);
    assert_true(f->st->ops->healthy(f->st));
}

void store_contract_bump_version_persists(void **state)
{
    struct store_fixture *f = *state;
    int64_t id = new_user(f, "dave");
    int64_t other = new_user(f, "erin");
    int64_t v = 0;
    struct user_rec u;

    assert_int_equal(t_bump(f, id, &v), STORE_OK);
    assert_int_equal(v, 2);
    assert_int_equal(t_bump(f, id, &v), STORE_OK);
    assert_int_equal(v, 3);
    assert_int_equal(t_user_by_id(f, id, &u), STORE_OK);
    assert_int_equal(u.token_version, 3);
    assert_int_equal(t_user_by_id(f, other, &u), STORE_OK);
    assert_int_equal(u.token_version, 1);

    f->be->reopen(f);
    assert_int_equal(t_user_by_name(f, "dave", &u), STORE_OK);
    assert_int_equal(u.token_version, 3);
    assert_int_equal(t_bump(f, id, &v), STORE_OK);
    assert_int_equal(v, 4);
}

/* ---- sessions ----------------------------------------------------------- */

void store_contract_session_put_replace_get(void **state)
{
    struct store_fixture *f = *state;
    int64_t uid = new_user(f, "frank");
    struct session_rec s, got;

    make_session(&s, "Sx5-abcdefghijklmnop_q", uid, T0);
    snprintf(s.kind, sizeof s.kind, "app");
    assert_int_equal(t_session_put(f, &s), STORE_OK);
    assert_int_equal(t_session_get(f, s.sid, &got), STORE_OK);
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
    assert_int_equal(t_session_put(f, &s), STORE_OK);
    memset(&got, 0x5a, sizeof got);
    assert_int_equal(t_session_get(f, s.sid, &got), STORE_OK);
    assert_session_eq(&got, &s);
    assert_int_equal(strlen(got.last_access), 2000);
    assert_int_equal(strlen(got.last_refresh), JWT_MAX_TOKEN - 1);
    assert_int_equal(got.rev, 2);
    s.rev = got.rev;

    /* still one session, not two */
    struct res r;
    t_session_list(f, uid, &r);
    assert_int_equal(r.rc, STORE_OK);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.sessions[0].rev, 2);
    res_free(&r);

    /* the grace window ends: the kept pair is cleared; a revoked session is
     * still returned by get (the refresh path needs to see it) */
    s.last_access[0] = s.last_refresh[0] = '\0';
    s.last_access_exp = 0;
    s.revoked = true;
    s.revoke_reason = SESSION_END_REFRESH_REUSED;
    assert_int_equal(t_session_put(f, &s), STORE_OK);
    assert_int_equal(t_session_get(f, s.sid, &got), STORE_OK);
    assert_session_eq(&got, &s);
    assert_true(got.revoked);
    s.rev = got.rev;

    /* a field without a terminator is a caller bug and is refused */
    struct session_rec bad = s;
    memset(bad.cur_jti, 'j', sizeof bad.cur_jti);
    assert_int_equal(t_session_put(f, &bad), STORE_ERROR);
    bad = s;
    memset(bad.sid, 'S', sizeof bad.sid);
    assert_int_equal(t_session_put(f, &bad), STORE_ERROR);
    assert_int_equal(t_session_get(f, s.sid, &got), STORE_OK);
    assert_string_equal(got.cur_jti, s.cur_jti);
    assert_int_equal(got.rev, s.rev);
    assert_true(f->st->ops->healthy(f->st));
}

/* session_put is a compare-and-set on rev (store.h): what keeps a stale read
 * — another node's, or this node's before an async step — from undoing a
 * rotation or a revocation. */
void store_contract_session_put_compare_and_set(void **state)
{
    struct store_fixture *f = *state;
    int64_t uid = new_user(f, "casey");
    struct session_rec s, got, stale;

    make_session(&s, "Scas-abcdefghijklmnop_q", uid, T0);
    assert_int_equal(t_session_put(f, &s), STORE_OK);
    /* inserting the same sid again is a conflict, not a replace */
    snprintf(s.cur_jti, sizeof s.cur_jti, "second-insert");
    assert_int_equal(t_session_put(f, &s), STORE_CONFLICT);
    assert_int_equal(t_session_get(f, s.sid, &stale), STORE_OK);
    assert_string_equal(stale.cur_jti, "jti-cur-Scas-abcdefghijklmnop_q");
    assert_int_equal(stale.rev, 1);

    got = stale;
    snprintf(got.cur_jti, sizeof got.cur_jti, "winner-jti");
    assert_int_equal(t_session_put(f, &got), STORE_OK);

    /* a writer holding the older read loses, and changes nothing */
    snprintf(stale.cur_jti, sizeof stale.cur_jti, "loser-jti");
    stale.last_used_at = T0 + 99;
    assert_int_equal(t_session_put(f, &stale), STORE_CONFLICT);
    /* so does one from the future */
    stale.rev = 7;
    assert_int_equal(t_session_put(f, &stale), STORE_CONFLICT);
    assert_int_equal(t_session_get(f, s.sid, &got), STORE_OK);
    assert_string_equal(got.cur_jti, "winner-jti");
    assert_int_equal(got.last_used_at, s.last_used_at);
    assert_int_equal(got.rev, 2);

    /* revoking every session of the user is a write too: older reads lose */
    assert_int_equal(t_revoke_user(f, uid, SESSION_END_LOGOUT_ALL), STORE_OK);
    assert_int_equal(t_session_put(f, &got), STORE_CONFLICT);
    assert_int_equal(t_session_get(f, s.sid, &got), STORE_OK);
    assert_true(got.revoked);
    assert_int_equal(got.rev, 3);

    /* a replace of a sid that does not exist is not an insert */
    struct session_rec ghost = got;
    snprintf(ghost.sid, sizeof ghost.sid, "Sghost-abcdefghijklmn");
    assert_int_equal(t_session_put(f, &ghost), STORE_NOT_FOUND);
    assert_int_equal(t_session_get(f, ghost.sid, NULL), STORE_NOT_FOUND);

    /* an insert or a replace naming a user that does not exist */
    make_session(&ghost, "Sorphan-abcdefghijklm", uid + 1000, T0);
    assert_int_equal(t_session_put(f, &ghost), STORE_NOT_FOUND);
    got.user_id = uid + 1000;
    assert_int_equal(t_session_put(f, &got), STORE_NOT_FOUND);
    assert_int_equal(t_session_get(f, s.sid, &got), STORE_OK);
    assert_int_equal(got.user_id, uid);
    assert_int_equal(got.rev, 3);
}

/* Two writers with the same read, both calls made before either completes
 * (as two brokers would send them): the first wins, the second conflicts. */
void store_contract_session_put_race_one_winner(void **state)
{
    struct store_fixture *f = *state;
    int64_t uid = new_user(f, "rhea");
    struct session_rec s, a, b, got;
    make_session(&s, "Srace-abcdefghijklmnop", uid, T0);
    assert_int_equal(t_session_put(f, &s), STORE_OK);
    assert_int_equal(t_session_get(f, s.sid, &a), STORE_OK);
    b = a;
    snprintf(a.cur_jti, sizeof a.cur_jti, "from-a");
    snprintf(b.cur_jti, sizeof b.cur_jti, "from-b");

    struct res ra = {0}, rb = {0};
    f->st->ops->session_put(f->st, &a, on_done, &ra);
    f->st->ops->session_put(f->st, &b, on_done, &rb);
    memset(&a, 0, sizeof a); /* the store copied what it needs */
    memset(&b, 0, sizeof b);
    t_wait(f, &ra);
    t_wait(f, &rb);
    assert_int_equal(ra.rc, STORE_OK); /* applied in the order they were made */
    assert_int_equal(rb.rc, STORE_CONFLICT);
    assert_int_equal(t_session_get(f, s.sid, &got), STORE_OK);
    assert_string_equal(got.cur_jti, "from-a");
}

/* A session moved to another user (by a rev'd write) leaves the old user's
 * list and joins the new one's. */
void store_contract_session_changes_owner(void **state)
{
    struct store_fixture *f = *state;
    int64_t u1 = new_user(f, "owner-one");
    int64_t u2 = new_user(f, "owner-two");
    struct session_rec s, got;
    struct res r;

    make_session(&s, "Smove-abcdefghijklmnop", u1, T0);
    assert_int_equal(t_session_put(f, &s), STORE_OK);
    assert_int_equal(t_session_get(f, s.sid, &got), STORE_OK);
    got.user_id = u2;
    assert_int_equal(t_session_put(f, &got), STORE_OK);
    t_session_list(f, u1, &r);
    assert_int_equal(r.n, 0);
    res_free(&r);
    t_session_list(f, u2, &r);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.sessions[0].user_id, u2);
    res_free(&r);
    assert_int_equal(t_revoke_user(f, u1, SESSION_END_LOGOUT_ALL), STORE_OK);
    assert_int_equal(t_session_get(f, s.sid, &got), STORE_OK);
    assert_false(got.revoked);
}

void store_contract_session_list_order_and_revoked(void **state)
{
    struct store_fixture *f = *state;
    int64_t uid = new_user(f, "gina");
    int64_t other = new_user(f, "hank");
    struct session_rec s;
    char sid[SID_MAX];

    /* created out of order on purpose: the list sorts by created_at */
    const int64_t created[] = {T0 + 300, T0 + 100, T0 + 500, T0 + 200, T0 + 400};
    for (int i = 0; i < 5; i++) {
        snprintf(sid, sizeof sid, "sess-gina-%d", i);
        make_session(&s, sid, uid, created[i]);
        s.revoked = (i == 2); /* the newest one is revoked */
        if (s.revoked)
            s.revoke_reason = SESSION_END_LOGOUT;
        assert_int_equal(t_session_put(f, &s), STORE_OK);
    }
    make_session(&s, "sess-hank-0", other, T0 + 999);
    assert_int_equal(t_session_put(f, &s), STORE_OK);

    struct res r;
    t_session_list(f, uid, &r);
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

    /* created in the same millisecond: the one stored last comes first,
     * whatever the sids' alphabetical order */
    make_session(&s, "zzz-tie-first", uid, T0 + 600);
    assert_int_equal(t_session_put(f, &s), STORE_OK);
    make_session(&s, "aaa-tie-second", uid, T0 + 600);
    assert_int_equal(t_session_put(f, &s), STORE_OK);
    t_session_list(f, uid, &r);
    assert_int_equal(r.n, 6);
    assert_string_equal(r.sessions[0].sid, "aaa-tie-second");
    assert_string_equal(r.sessions[1].sid, "zzz-tie-first");
    res_free(&r);
}

void store_contract_session_list_caps_at_100(void **state)
{
    struct store_fixture *f = *state;
    int64_t uid = new_user(f, "ivan");
    struct session_rec s;
    char sid[SID_MAX];

    for (int i = 0; i < 105; i++) {
        snprintf(sid, sizeof sid, "many-%03d", i);
        make_session(&s, sid, uid, T0 + i);
        assert_int_equal(t_session_put(f, &s), STORE_OK);
    }
    struct res r;
    t_session_list(f, uid, &r);
    assert_int_equal(r.rc, STORE_OK);
    assert_int_equal(r.n, 100);
    assert_string_equal(r.sessions[0].sid, "many-104");
    assert_string_equal(r.sessions[99].sid, "many-005");
    for (int i = 1; i < 100; i++)
        assert_true(r.sessions[i - 1].created_at > r.sessions[i].created_at);
    res_free(&r);
}

void store_contract_session_revoke_user(void **state)
{
    struct store_fixture *f = *state;
    int64_t uid = new_user(f, "judy");
    int64_t other = new_user(f, "karl");
    struct session_rec s, got;

    make_session(&s, "judy-a", uid, T0 + 1);
    fill(s.last_access, 900, 'P');
    fill(s.last_refresh, 700, 'p');
    s.last_access_exp = T0 / 1000 + 900;
    snprintf(s.prev_jti, sizeof s.prev_jti, "jti-prev-a");
    assert_int_equal(t_session_put(f, &s), STORE_OK);
    make_session(&s, "judy-b", uid, T0 + 2);
    snprintf(s.kind, sizeof s.kind, "app");
    assert_int_equal(t_session_put(f, &s), STORE_OK);
    assert_int_equal(t_session_get(f, "judy-b", &got), STORE_OK);
    assert_int_equal(t_session_put(f, &got), STORE_OK); /* rev 2 now */
    make_session(&s, "judy-old", uid, T0);
    s.revoked = true;
    s.revoke_reason = SESSION_END_LOGOUT;
    fill(s.last_access, 100, 'Q');
    assert_int_equal(t_session_put(f, &s), STORE_OK);
    make_session(&s, "karl-a", other, T0 + 3);
    assert_int_equal(t_session_put(f, &s), STORE_OK);

    assert_int_equal(t_revoke_user(f, uid, SESSION_END_LOGOUT_ALL), STORE_OK);

    const char *revoked[] = {"judy-a", "judy-b"};
    const int64_t rev_after[] = {2, 3};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(t_session_get(f, revoked[i], &got), STORE_OK);
        assert_true(got.revoked);
        assert_int_equal(got.revoke_reason, SESSION_END_LOGOUT_ALL);
        /* the replayable pair is gone, the rev moved on, the rest is kept */
        assert_string_equal(got.last_access, "");
        assert_string_equal(got.last_refresh, "");
        assert_int_equal(got.rev, rev_after[i]);
        char jti[JTI_MAX];
        snprintf(jti, sizeof jti, "jti-cur-%s", revoked[i]);
        assert_string_equal(got.cur_jti, jti);
    }
    assert_int_equal(t_session_get(f, "judy-a", &got), STORE_OK);
    assert_string_equal(got.prev_jti, "jti-prev-a");
    assert_int_equal(got.last_access_exp, T0 / 1000 + 900);
    /* an already revoked session keeps its original reason, pair and rev */
    assert_int_equal(t_session_get(f, "judy-old", &got), STORE_OK);
    assert_true(got.revoked);
    assert_int_equal(got.revoke_reason, SESSION_END_LOGOUT);
    assert_int_equal(strlen(got.last_access), 100);
    assert_int_equal(got.rev, 1);
    /* another user's session is untouched */
    assert_int_equal(t_session_get(f, "karl-a", &got), STORE_OK);
    assert_false(got.revoked);
    assert_int_equal(got.revoke_reason, SESSION_LIVE);
    assert_int_equal(got.rev, 1);

    struct res r;
    t_session_list(f, uid, &r);
    assert_int_equal(r.rc, STORE_OK);
    assert_int_equal(r.n, 0);
    res_free(&r);
    t_session_list(f, other, &r);
    assert_int_equal(r.n, 1);
    res_free(&r);

    /* nothing left to revoke is still success; every reason reads back as
     * the one written */
    assert_int_equal(t_revoke_user(f, uid, SESSION_END_REVOKED), STORE_OK);
    assert_int_equal(t_revoke_user(f, other, SESSION_END_REFRESH_REUSED), STORE_OK);
    assert_int_equal(t_session_get(f, "karl-a", &got), STORE_OK);
    assert_true(got.revoked);
    assert_int_equal(got.revoke_reason, SESSION_END_REFRESH_REUSED);
}

/* ---- audit -------------------------------------------------------------- */

void store_contract_audit_order_and_limit(void **state)
{
    struct store_fixture *f = *state;
    int64_t uid = new_user(f, "lena");
    int64_t other = new_user(f, "mike");
    struct audit_rec a;

    const int64_t at[] = {T0 + 20, T0 + 10, T0 + 40, T0 + 30, T0 + 40};
    const char *outcome[] = {"confirmed", "denied", "code_mismatch", "confirmed", "denied"};
    for (int i = 0; i < 5; i++) {
        make_audit(&a, uid, at[i], outcome[i]);
        assert_int_equal(t_audit_add(f, &a), STORE_OK);
    }
    make_audit(&a, other, T0 + 50, "confirmed");
    assert_int_equal(t_audit_add(f, &a), STORE_OK);

    struct res r;
    t_audit_recent(f, uid, 10, &r);
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

    t_audit_recent(f, uid, 2, &r);
    assert_int_equal(r.rc, STORE_OK);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.audits[0].outcome, "denied");
    assert_string_equal(r.audits[1].outcome, "code_mismatch");
    res_free(&r);

    t_audit_recent(f, uid, 0, &r);
    assert_int_equal(r.rc, STORE_OK);
    assert_int_equal(r.n, 0);
    res_free(&r);
    t_audit_recent(f, uid, -3, &r);
    assert_int_equal(r.rc, STORE_OK);
    assert_int_equal(r.n, 0);
    res_free(&r);

    /* a whole ticket in the prefix field is stored as its first 6 chars only;
     * at == 0 means now; empty strings survive as empty strings */
    make_audit(&a, other, 0, "confirmed");
    snprintf(a.ticket_prefix, sizeof a.ticket_prefix, "ABCDEFG");
    a.sid[0] = a.pc_user_agent[0] = '\0';
    clock_set_fake_ms(T0 + 60);
    assert_int_equal(t_audit_add(f, &a), STORE_OK);
    t_audit_recent(f, other, 1, &r);
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
    assert_int_equal(t_audit_add(f, &a), STORE_ERROR);
}

void store_contract_audit_limit_clamped_to_100(void **state)
{
    struct store_fixture *f = *state;
    int64_t uid = new_user(f, "nina");
    struct audit_rec a;

    for (int i = 0; i < 110; i++) {
        make_audit(&a, uid, T0 + i, "confirmed");
        assert_int_equal(t_audit_add(f, &a), STORE_OK);
    }
    struct res r;
    t_audit_recent(f, uid, 1000, &r);
    assert_int_equal(r.rc, STORE_OK);
    assert_int_equal(r.n, 100);
    assert_int_equal(r.audits[0].at, T0 + 109);
    assert_int_equal(r.audits[99].at, T0 + 10);
    res_free(&r);
}

/* ---- restart ------------------------------------------------------------ */

void store_contract_reopen_keeps_everything(void **state)
{
    struct store_fixture *f = *state;
    int64_t uid = new_user(f, "olga");
    int64_t v;
    struct session_rec s, got;
    struct audit_rec a;

    assert_int_equal(t_bump(f, uid, &v), STORE_OK);
    make_session(&s, "survivor-sid-000000000", uid, T0);
    snprintf(s.prev_jti, sizeof s.prev_jti, "jti-prev");
    fill(s.last_access, 2000, 'K');
    fill(s.last_refresh, 1500, 'k');
    s.last_access_exp = 12345;
    assert_int_equal(t_session_put(f, &s), STORE_OK);
    make_audit(&a, uid, T0 + 7, "confirmed");
    assert_int_equal(t_audit_add(f, &a), STORE_OK);

    f->be->reopen(f);

    struct user_rec u;
    assert_int_equal(t_user_by_name(f, "olga", &u), STORE_OK);
    assert_int_equal(u.id, uid);
    assert_int_equal(u.token_version, 2);
    assert_int_equal(u.created_at, T0);
    assert_int_equal(t_session_get(f, s.sid, &got), STORE_OK);
    assert_session_eq(&got, &s);
    assert_int_equal(got.rev, 1);
    struct res r;
    t_audit_recent(f, uid, 5, &r);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.audits[0].at, T0 + 7);
    res_free(&r);
    /* the name is still taken after a restart, and ids keep counting */
    assert_int_equal(t_user_create(f, "olga", "$h", NULL), STORE_CONFLICT);
    assert_true(new_user(f, "pete") > uid);
}

/* ---- re-entrancy and copies --------------------------------------------- */

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

/* Calls the very op whose callback this is, from inside the completion: the
 * store must not be using the statement, or the reply, any more. */
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

void store_contract_callback_may_reenter(void **state)
{
    struct store_fixture *f = *state;
    new_user(f, "quinn");
    int64_t rita = new_user(f, "rita");
    struct nested n = {f->st, 0, STORE_ERROR, 0, 0, false};

    f->st->ops->user_by_name(f->st, "quinn", on_outer, &n);
    f->be->pump(f, &n.done);
    assert_int_equal(n.outer_calls, 1);
    assert_int_equal(n.inner_calls, 1);
    assert_int_equal(n.inner_rc, STORE_OK);
    assert_int_equal(n.inner_id, rita);
}

/* Inputs are copied before the call returns: the caller's buffers may be
 * reused, or freed, at once. */
void store_contract_inputs_copied(void **state)
{
    struct store_fixture *f = *state;
    int64_t uid = new_user(f, "xavi");
    char name[16] = "yara", hash[16] = "$h-yara";
    struct res r1 = {0}, r2 = {0};

    f->st->ops->user_create(f->st, name, hash, on_user, &r1);
    f->st->ops->user_by_name(f->st, name, on_user, &r2);
    strcpy(name, "XXXX");
    strcpy(hash, "XXXXXX");
    t_wait(f, &r1);
    t_wait(f, &r2);
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
    t_wait(f, &r3);
    assert_int_equal(r3.rc, STORE_OK);
    struct session_rec got, want;
    make_session(&want, "Scopy-abcdefghijklmnop", uid, T0);
    assert_int_equal(t_session_get(f, want.sid, &got), STORE_OK);
    assert_session_eq(&got, &want);
}
