/* test_oidc.c — the pure parts of the OpenID Connect provider: client ids,
 * grant lists, redirect URI rules (exact match; loopback any port, RFC 8252
 * §7.3), client records, PKCE S256 (RFC 7636 appendix B's vector), user codes,
 * scopes, form encoding; and the OAuth records of the SQLite store
 * (compare-and-set, expiry, listing) on a fake clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "broker.h"
#include "clock.h"
#include "form.h"
#include "oidc_authorize.h"
#include "oidc_clients.h"
#include "oidc_common.h"
#include "rng.h"
#include "store.h"

#define T0 1700000000000LL

static void test_client_ids(void **state)
{
    (void)state;
    assert_true(oidc_client_id_ok("my-app_1.2"));
    assert_true(oidc_client_id_ok("a"));
    assert_false(oidc_client_id_ok(""));
    assert_false(oidc_client_id_ok("has space"));
    assert_false(oidc_client_id_ok("colon:no"));
    char long_id[66];
    memset(long_id, 'x', 65);
    long_id[65] = '\0';
    assert_false(oidc_client_id_ok(long_id));
    long_id[64] = '\0';
    assert_true(oidc_client_id_ok(long_id));
}

static void test_grants(void **state)
{
    (void)state;
    unsigned g = 0;
    char out[160];
    assert_int_equal(oidc_grants_parse("authorization_code,refresh_token", &g), 0);
    assert_int_equal(g, OIDC_GRANT_CODE | OIDC_GRANT_REFRESH);
    assert_int_equal(oidc_grants_parse(OIDC_GRANT_DEVICE_NAME, &g), 0);
    assert_int_equal(g, OIDC_GRANT_DEVICE);
    assert_int_equal(oidc_grants_parse("password", &g), -1);
    assert_int_equal(oidc_grants_parse("", &g), -1);
    assert_int_equal(oidc_grants_parse("refresh_token,implicit", &g), -1);
    oidc_grants_format(OIDC_GRANT_CODE | OIDC_GRANT_DEVICE, out, sizeof out);
    assert_string_equal(out, "authorization_code," OIDC_GRANT_DEVICE_NAME);
}

static void test_redirect_rules(void **state)
{
    (void)state;
    assert_true(oidc_redirect_uri_ok("https://rp.example/cb"));
    assert_true(oidc_redirect_uri_ok("http://127.0.0.1:8000/cb"));
    assert_true(oidc_redirect_uri_ok("http://[::1]:8000/cb"));
    assert_false(oidc_redirect_uri_ok("http://rp.example/cb"));   /* plain http off loopback */
    assert_false(oidc_redirect_uri_ok("http://localhost:80/cb")); /* RFC 8252 §8.3 */
    assert_false(oidc_redirect_uri_ok("https://rp.example/cb#frag"));
    assert_false(oidc_redirect_uri_ok("https:///nohost"));
    assert_false(oidc_redirect_uri_ok("myapp://cb"));
    assert_false(oidc_redirect_uri_ok("https://rp.example/a b"));

    struct oidc_client c = {.n_redirects = 2};
    snprintf(c.redirects[0], sizeof c.redirects[0], "https://rp.example/cb");
    snprintf(c.redirects[1], sizeof c.redirects[1], "http://127.0.0.1:8000/cb?x=1");
    assert_true(oidc_client_redirect_ok(&c, "https://rp.example/cb"));
    assert_false(oidc_client_redirect_ok(&c, "https://rp.example/cb/"));
    assert_false(oidc_client_redirect_ok(&c, "https://rp.example/c"));
    assert_false(oidc_client_redirect_ok(&c, "https://rp.example:443/cb"));
    assert_false(oidc_client_redirect_ok(&c, "https://RP.example/cb"));
    /* loopback: any port, nothing else may differ */
    assert_true(oidc_client_redirect_ok(&c, "http://127.0.0.1:51234/cb?x=1"));
    assert_false(oidc_client_redirect_ok(&c, "http://127.0.0.1:51234/cb?x=2"));
    assert_false(oidc_client_redirect_ok(&c, "http://127.0.0.1:/cb?x=1"));
    assert_false(oidc_client_redirect_ok(&c, "http://127.0.0.1:123456/cb?x=1"));
    assert_false(oidc_client_redirect_ok(&c, "http://[::1]:8000/cb?x=1"));
}

static void test_client_record(void **state)
{
    (void)state;
    struct oidc_client c = {.n_redirects = 2, .grants = OIDC_GRANT_CODE, .created_at = 7};
    struct oidc_client back;
    char json[OAUTH_VALUE_MAX];
    snprintf(c.id, sizeof c.id, "app");
    snprintf(c.secret_hash, sizeof c.secret_hash, "pbkdf2-sha256$1$x$y");
    snprintf(c.redirects[0], sizeof c.redirects[0], "https://a.example/cb");
    snprintf(c.redirects[1], sizeof c.redirects[1], "https://b.example/cb");
    assert_int_equal(oidc_client_encode(&c, json, sizeof json), 0);
    assert_int_equal(oidc_client_decode("app", json, strlen(json), &back), 0);
    assert_string_equal(back.id, "app");
    assert_string_equal(back.secret_hash, c.secret_hash);
    assert_int_equal(back.n_redirects, 2);
    assert_string_equal(back.redirects[1], "https://b.example/cb");
    assert_int_equal(back.grants, OIDC_GRANT_CODE);
    assert_int_equal(back.created_at, 7);
    assert_int_equal(oidc_client_decode("bad id", json, strlen(json), &back), -1);
    assert_int_equal(oidc_client_decode("app", "{}", 2, &back), -1);
}

static void test_pkce(void **state)
{
    (void)state;
    /* RFC 7636 appendix B */
    const char *v = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const char *ch = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    assert_true(oidc_pkce_s256_ok(v, ch));
    assert_false(oidc_pkce_s256_ok(v, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"));
    assert_false(oidc_pkce_s256_ok("short", ch));
    assert_false(oidc_pkce_s256_ok("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjX!", ch));
    assert_false(oidc_pkce_s256_ok(v, ""));
}

static void test_user_codes(void **state)
{
    (void)state;
    char code[OIDC_USER_CODE_LEN + 1], norm[OIDC_USER_CODE_LEN + 1];
    for (int i = 0; i < 50; i++) {
        assert_int_equal(oidc_user_code(code), 0);
        assert_int_equal(strlen(code), 8);
        assert_int_equal(strspn(code, "BCDFGHJKLMNPQRSTVWXZ"), 8);
    }
    assert_true(oidc_user_code_normalize("wdjb-mjht", norm));
    assert_string_equal(norm, "WDJBMJHT");
    assert_true(oidc_user_code_normalize("WDJB MJHT", norm));
    assert_false(oidc_user_code_normalize("WDJB-MJH", norm));    /* too short */
    assert_false(oidc_user_code_normalize("WDJB-MJHTX", norm));  /* too long */
    assert_false(oidc_user_code_normalize("AEIO-UAEI", norm));   /* vowels never drawn */
    assert_false(oidc_user_code_normalize("WDJB_MJHT", norm));
}

static void test_scope_and_form(void **state)
{
    (void)state;
    assert_true(oidc_scope_has("openid profile", "openid"));
    assert_true(oidc_scope_has("profile  openid", "openid"));
    assert_false(oidc_scope_has("openidx profile", "openid"));
    assert_false(oidc_scope_has("", "openid"));

    char out[64];
    const char *body = "a=1&b=x%20y+z&c=%zz&d=1&d=2";
    assert_int_equal(form_value(body, strlen(body), "b", out, sizeof out), 5);
    assert_string_equal(out, "x y z");
    assert_int_equal(form_value(body, strlen(body), "c", out, sizeof out), -2);
    assert_int_equal(form_value(body, strlen(body), "d", out, sizeof out), -2); /* repeated */
    assert_int_equal(form_value(body, strlen(body), "e", out, sizeof out), -1);
    assert_int_equal(form_value("n=%00", 5, "n", out, sizeof out), -2);

    char url[128];
    const char *names[] = {"code", "state", "iss", NULL};
    const char *values[] = {"c0de", "a b&c=d", "http://127.0.0.1:1", NULL};
    assert_int_equal(oidc_redirect_url("https://rp.example/cb?x=1", names, values, url, sizeof url), 0);
    assert_string_equal(url, "https://rp.example/cb?x=1&code=c0de&state=a%20b%26c%3Dd"
                             "&iss=http%3A%2F%2F127.0.0.1%3A1");
    assert_int_equal(oidc_redirect_url("https://rp.example/cb", names, values, url, 30), -1);
}

/* ---- the OAuth records of the SQLite store ---- */

struct res {
    int calls;
    enum store_rc rc;
    struct oauth_rec rec;
    int n;
};

static void on_done(void *arg, enum store_rc rc)
{
    struct res *r = arg;
    r->calls++;
    r->rc = rc;
}

static void on_rec(void *arg, enum store_rc rc, const struct oauth_rec *o)
{
    struct res *r = arg;
    r->calls++;
    r->rc = rc;
    if (o)
        r->rec = *o;
}

static void on_list(void *arg, enum store_rc rc, const struct oauth_rec *o, int n)
{
    struct res *r = arg;
    r->calls++;
    r->rc = rc;
    r->n = n;
    if (n)
        r->rec = o[0];
}

static enum store_rc put(struct store *st, const char *kind, const char *key, const char *value,
                         int64_t expires_at, int64_t rev)
{
    struct oauth_rec o = {.expires_at = expires_at, .rev = rev};
    struct res r = {0};
    snprintf(o.kind, sizeof o.kind, "%s", kind);
    snprintf(o.key, sizeof o.key, "%s", key);
    snprintf(o.value, sizeof o.value, "%s", value);
    st->ops->oauth_put(st, &o, on_done, &r);
    assert_int_equal(r.calls, 1);
    return r.rc;
}

static struct res get(struct store *st, const char *kind, const char *key)
{
    struct res r = {0};
    st->ops->oauth_get(st, kind, key, on_rec, &r);
    assert_int_equal(r.calls, 1);
    return r;
}

static void test_store_records(void **state)
{
    (void)state;
    char err[256];
    struct store *st = store_sqlite_open(":memory:", err, sizeof err);
    assert_non_null(st);
    clock_set_fake_ms(T0);

    assert_int_equal(put(st, "code", "k1", "{\"a\":1}", T0 + 60000, 0), STORE_OK);
    assert_int_equal(put(st, "code", "k1", "{}", T0 + 60000, 0), STORE_CONFLICT); /* live */
    struct res r = get(st, "code", "k1");
    assert_int_equal(r.rc, STORE_OK);
    assert_string_equal(r.rec.value, "{\"a\":1}");
    assert_int_equal(r.rec.rev, 1);
    assert_int_equal(get(st, "device", "k1").rc, STORE_NOT_FOUND); /* kinds are apart */

    /* compare-and-set: the revision read, once */
    assert_int_equal(put(st, "code", "k1", "{\"a\":2}", T0 + 60000, 1), STORE_OK);
    assert_int_equal(put(st, "code", "k1", "{\"a\":3}", T0 + 60000, 1), STORE_CONFLICT);
    assert_string_equal(get(st, "code", "k1").rec.value, "{\"a\":2}");
    assert_int_equal(put(st, "code", "nope", "{}", T0 + 60000, 1), STORE_NOT_FOUND);

    /* expiry: gone for reads and updates, and its key is free again */
    clock_set_fake_ms(T0 + 60000);
    assert_int_equal(get(st, "code", "k1").rc, STORE_NOT_FOUND);
    assert_int_equal(put(st, "code", "k1", "{}", T0 + 90000, 2), STORE_NOT_FOUND);
    assert_int_equal(put(st, "code", "k1", "{\"b\":1}", T0 + 90000, 0), STORE_OK);
    assert_string_equal(get(st, "code", "k1").rec.value, "{\"b\":1}");

    /* records that never expire are listed by kind, in key order */
    assert_int_equal(put(st, "client", "zeta", "{}", 0, 0), STORE_OK);
    assert_int_equal(put(st, "client", "alpha", "{}", 0, 0), STORE_OK);
    struct res l = {0};
    st->ops->oauth_list(st, "client", on_list, &l);
    assert_int_equal(l.rc, STORE_OK);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.rec.key, "alpha");
    r = (struct res){0};
    st->ops->oauth_del(st, "client", "alpha", on_done, &r);
    assert_int_equal(r.rc, STORE_OK);
    r = (struct res){0};
    st->ops->oauth_del(st, "client", "alpha", on_done, &r);
    assert_int_equal(r.rc, STORE_NOT_FOUND);

    /* a key that cannot be stored cannot be found */
    char big[OAUTH_KEY_MAX + 8];
    memset(big, 'k', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(get(st, "code", big).rc, STORE_NOT_FOUND);
    assert_int_equal(put(st, "code", "", "{}", 0, 0), STORE_ERROR);

    clock_use_real();
    st->ops->close(st);
}

static void test_secret_keys(void **state)
{
    (void)state;
    char a[OAUTH_KEY_MAX], b[OAUTH_KEY_MAX], code[OIDC_CODE_LEN + 1];
    oidc_secret_key("abc", a);
    assert_string_equal(a, "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"); /* SHA-256("abc") */
    assert_int_equal(oidc_random_code(code), 0);
    assert_int_equal(strlen(code), OIDC_CODE_LEN);
    oidc_secret_key(code, b);
    assert_string_not_equal(a, b);
}

static int setup(void **state)
{
    (void)state;
    return rng_init();
}

static int teardown(void **state)
{
    (void)state;
    rng_free();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_ids),    cmocka_unit_test(test_grants),
        cmocka_unit_test(test_redirect_rules), cmocka_unit_test(test_client_record),
        cmocka_unit_test(test_pkce),          cmocka_unit_test(test_user_codes),
        cmocka_unit_test(test_scope_and_form), cmocka_unit_test(test_store_records),
        cmocka_unit_test(test_secret_keys),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
