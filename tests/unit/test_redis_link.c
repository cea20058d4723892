/* test_redis_link.c — redis_link.c against a real redis-server started per
 * test (redis_fixture.h) and a real lws loop: URL parsing, the handshake
 * (AUTH, SELECT, SCRIPT LOAD, PING), commands, pub/sub, and what callers see
 * when Redis dies, restarts or hangs. "Eventually" waits are generous
 * deadlines, never measured durations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "redis_link.h"
#include "redis_fixture.h"

#define EVENTUALLY_MS 15000 /* connect, reconnect, reply: far above what they take */

struct fx {
    struct redis_proc rp;
    struct redis_test_lws tl;
};

static int fx_setup(void **state, const char *password)
{
    static struct fx f;
    memset(&f, 0, sizeof f);
    if (redis_proc_start(&f.rp, 0, password)) {
        fprintf(stderr, "cannot start redis-server (apt-get install -y redis-server)\n");
        return -1;
    }
    if (redis_test_lws_init(&f.tl)) {
        redis_proc_cleanup(&f.rp);
        return -1;
    }
    *state = &f;
    return 0;
}

static int setup(void **state) { return fx_setup(state, NULL); }
/* requirepass with every character a URL has to escape */
#define AUTH_PW "s3cr:t@/%pw"
#define AUTH_PW_URL "s3cr%3At%40%2F%25pw"
static int setup_auth(void **state) { return fx_setup(state, AUTH_PW); }

static int teardown(void **state)
{
    struct fx *f = *state;
    redis_test_lws_fini(&f->tl);
    redis_proc_cleanup(&f->rp);
    return 0;
}

/* ---- recorders ---------------------------------------------------------- */

struct st {
    bool up, down;
    int ups, downs;
};

static void on_state(struct redis_link *l, bool up, void *arg)
{
    struct st *s = arg;
    s->up = up;
    s->down = !up;
    if (up)
        s->ups++;
    else
        s->downs++;
}

struct got {
    bool done;
    int calls, nulls;
    int type;
    long long integer;
    char str[256];
    size_t len;
    size_t elements;
    char el[4][64];
    int messages;        /* pub/sub: "message" replies */
    char payload[64];
};

static void on_got(redisAsyncContext *ac, void *reply, void *priv)
{
    struct got *g = priv;
    redisReply *r = reply;
    g->calls++;
    g->done = true;
    if (!r) {
        g->nulls++;
        return;
    }
    g->type = r->type;
    g->integer = r->integer;
    g->len = r->len;
    if (r->str)
        memcpy(g->str, r->str, r->len < sizeof g->str - 1 ? r->len + 1 : sizeof g->str - 1);
    g->elements = r->elements;
    for (size_t i = 0; i < r->elements && i < 4; i++)
        if (r->element[i]->str)
            snprintf(g->el[i], sizeof g->el[i], "%s", r->element[i]->str);
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 && !strcmp(g->el[0], "message")) {
        g->messages++;
        snprintf(g->payload, sizeof g->payload, "%s", g->el[2]);
    }
}

/* ---- helpers ------------------------------------------------------------ */

static struct redis_link *link_for(struct fx *f, const char *url, const char *name, struct st *s,
                                   struct redis_script *script)
{
    struct redis_target t;
    char err[256];
    assert_int_equal(redis_url_parse(url, &t, err, sizeof err), 0);
    struct redis_link *l = redis_link_new(&t, name, on_state, s);
    assert_non_null(l);
    if (script)
        redis_link_add_script(l, script);
    redis_link_start(l, f->tl.vh);
    return l;
}

static struct redis_link *link_up(struct fx *f, const char *name, struct st *s,
                                  struct redis_script *script)
{
    char url[128];
    redis_proc_url(&f->rp, 0, url, sizeof url);
    struct redis_link *l = link_for(f, url, name, s, script);
    assert_true(run_loop_until(f->tl.ctx, &s->up, EVENTUALLY_MS));
    assert_true(redis_link_up(l));
    return l;
}

static int cmd(struct redis_link *l, struct got *g, const char *a0, const char *a1,
               const char *a2)
{
    const char *argv[3] = {a0, a1, a2};
    memset(g, 0, sizeof *g);
    return redis_link_cmd(l, on_got, g, a2 ? 3 : a1 ? 2 : 1, argv, NULL);
}

/* Sends a command and waits for its callback. */
static void cmd_wait(struct fx *f, struct redis_link *l, struct got *g, const char *a0,
                     const char *a1, const char *a2)
{
    assert_int_equal(cmd(l, g, a0, a1, a2), 0);
    assert_true(run_loop_until(f->tl.ctx, &g->done, EVENTUALLY_MS));
    assert_int_equal(g->calls, 1);
}

/* ---- URL parsing --------------------------------------------------------- */

static void test_url_good(void **state)
{
    struct redis_target t;
    char err[256];
    unsetenv("QRLOGIN_REDIS_PASSWORD");

    assert_int_equal(redis_url_parse("redis://cache.internal", &t, err, sizeof err), 0);
    assert_string_equal(t.host, "cache.internal");
    assert_int_equal(t.port, 6379);
    assert_int_equal(t.db, 0);
    assert_string_equal(t.user, "");
    assert_string_equal(t.password, "");

    assert_int_equal(redis_url_parse("redis://10.0.0.5:6380/3", &t, err, sizeof err), 0);
    assert_string_equal(t.host, "10.0.0.5");
    assert_int_equal(t.port, 6380);
    assert_int_equal(t.db, 3);

    assert_int_equal(redis_url_parse("redis://h/", &t, err, sizeof err), 0);
    assert_int_equal(t.db, 0);

    assert_int_equal(redis_url_parse("redis://[::1]:7000/2", &t, err, sizeof err), 0);
    assert_string_equal(t.host, "::1");
    assert_int_equal(t.port, 7000);
    assert_int_equal(t.db, 2);

    /* user + password (ACL), password only, a userinfo without ':' */
    assert_int_equal(redis_url_parse("redis://app:pw@h:1/0", &t, err, sizeof err), 0);
    assert_string_equal(t.user, "app");
    assert_string_equal(t.password, "pw");
    assert_int_equal(redis_url_parse("redis://:pw@h", &t, err, sizeof err), 0);
    assert_string_equal(t.user, "");
    assert_string_equal(t.password, "pw");
    assert_int_equal(redis_url_parse("redis://pw@h", &t, err, sizeof err), 0);
    assert_string_equal(t.password, "pw");

    /* percent-decoding, and an unescaped '@' in the password (last '@' wins) */
    assert_int_equal(redis_url_parse("redis://%4a%4B:%C3%A9@h", &t, err, sizeof err), 0);
    assert_string_equal(t.user, "JK");
    assert_string_equal(t.password, "\xc3\xa9"); /* UTF-8 passes through as bytes */
    assert_int_equal(redis_url_parse("redis://us%65r:" AUTH_PW_URL "@h", &t, err, sizeof err), 0);
    assert_string_equal(t.user, "user");
    assert_string_equal(t.password, AUTH_PW);
    assert_int_equal(redis_url_parse("redis://:a@b@h:2", &t, err, sizeof err), 0);
    assert_string_equal(t.password, "a@b");
    assert_string_equal(t.host, "h");
    assert_int_equal(t.port, 2);
}

static void test_url_env_password(void **state)
{
    struct redis_target t;
    char err[256];
    setenv("QRLOGIN_REDIS_PASSWORD", "from-env", 1);
    assert_int_equal(redis_url_parse("redis://h", &t, err, sizeof err), 0);
    assert_string_equal(t.password, "from-env");
    /* a user with the password from the environment */
    assert_int_equal(redis_url_parse("redis://app:@h", &t, err, sizeof err), 0);
    assert_string_equal(t.user, "app");
    assert_string_equal(t.password, "from-env");
    /* the URL's own password wins */
    assert_int_equal(redis_url_parse("redis://:url-pw@h", &t, err, sizeof err), 0);
    assert_string_equal(t.password, "url-pw");
    unsetenv("QRLOGIN_REDIS_PASSWORD");
    assert_int_equal(redis_url_parse("redis://h", &t, err, sizeof err), 0);
    assert_string_equal(t.password, "");
}

static void expect_bad(const char *url, const char *needle)
{
    struct redis_target t;
    char err[256] = "";
    assert_int_equal(redis_url_parse(url, &t, err, sizeof err), -1);
    if (!strstr(err, needle))
        fail_msg("%s: error \"%s\" lacks \"%s\"", url, err, needle);
    /* the password-looking parts of every bad URL below contain "hunter" */
    if (strstr(err, "hunter"))
        fail_msg("%s: error \"%s\" echoes the password", url, err);
    assert_string_equal(t.password, "");
}

static void test_url_bad(void **state)
{
    unsetenv("QRLOGIN_REDIS_PASSWORD");
    expect_bad("rediss://:hunter2@h:6379/0", "TLS");
    expect_bad("rediss://h", "stunnel");
    expect_bad("http://h", "expected redis://");
    expect_bad("", "expected redis://");
    expect_bad("redis://", "host");
    expect_bad("redis://:hunter2@", "host");
    expect_bad("redis://:hunter2@:6379", "host");
    expect_bad("redis://h:0", "port");
    expect_bad("redis://h:65536", "port");
    expect_bad("redis://h:", "port");
    expect_bad("redis://h:63x9", "port");
    expect_bad("redis://user:hunter2/0", "port"); /* forgot the '@': password in the port */
    expect_bad("redis://h:1/x", "db");
    expect_bad("redis://h/-1", "db");
    expect_bad("redis://h/99999999999", "db");
    expect_bad("redis://:hunter%2@h", "password");
    expect_bad("redis://:hunter%zz@h", "password");
    expect_bad("redis://:hunter%00x@h", "password");
    expect_bad("redis://:hunter%\x10\x19@h", "password"); /* control bytes are not hex */
    expect_bad("redis://us%r:hunter2@h", "user");
    expect_bad("redis://app:@h", "password");
    expect_bad("redis://[::1:6379", "host");
    expect_bad("redis://[::1]x", "after the host");
    expect_bad("redis://a b:1", "host");

    struct redis_target t;
    char err[256], longpw[400];
    memset(longpw, 0, sizeof longpw);
    memcpy(longpw, "redis://:", 9);
    memset(longpw + 9, 'p', 300);
    strcat(longpw, "@h");
    assert_int_equal(redis_url_parse(longpw, &t, err, sizeof err), -1);
    assert_null(strstr(err, "ppp"));
    /* a NULL or tiny error buffer is fine */
    assert_int_equal(redis_url_parse("redis://h:0", &t, NULL, 0), -1);
    assert_int_equal(redis_url_parse("redis://h:0", &t, err, 1), -1);
    assert_string_equal(err, "");
}

static void test_describe_hides_password(void **state)
{
    struct redis_target t;
    char err[256], d[300];
    assert_int_equal(redis_url_parse("redis://app:hunter2@10.1.2.3:6390/4", &t, err, sizeof err),
                     0);
    redis_target_describe(&t, d, sizeof d);
    assert_string_equal(d, "10.1.2.3:6390/4");
    assert_int_equal(redis_url_parse("redis://:hunter2@[fe80::1]", &t, err, sizeof err), 0);
    redis_target_describe(&t, d, sizeof d);
    assert_string_equal(d, "[fe80::1]:6379/0");
    assert_null(strstr(d, "hunter"));
}

static void test_reply_helpers(void **state)
{
    long long v = 0;
    redisReply r = {.type = REDIS_REPLY_INTEGER, .integer = -42};
    assert_true(redis_reply_ok(&r));
    assert_int_equal(redis_reply_int64(&r, &v), 0);
    assert_int_equal(v, -42);
    r = (redisReply){.type = REDIS_REPLY_STRING, .str = "9007199254740993", .len = 16};
    assert_int_equal(redis_reply_int64(&r, &v), 0);
    assert_true(v == 9007199254740993LL);
    r = (redisReply){.type = REDIS_REPLY_STRING, .str = " 12", .len = 3};
    assert_int_equal(redis_reply_int64(&r, &v), -1);
    r = (redisReply){.type = REDIS_REPLY_STRING, .str = "12x", .len = 3};
    assert_int_equal(redis_reply_int64(&r, &v), -1);
    r = (redisReply){.type = REDIS_REPLY_STRING, .str = "99999999999999999999", .len = 20};
    assert_int_equal(redis_reply_int64(&r, &v), -1);
    r = (redisReply){.type = REDIS_REPLY_NIL};
    assert_int_equal(redis_reply_int64(&r, &v), -1);
    r = (redisReply){.type = REDIS_REPLY_ERROR, .str = "ERR x", .len = 5};
    assert_false(redis_reply_ok(&r));
    assert_false(redis_reply_ok(NULL));
    assert_int_equal(redis_reply_int64(NULL, &v), -1);
}

/* ---- against a live server ----------------------------------------------- */

static void test_up_set_get(void **state)
{
    struct fx *f = *state;
    struct st s = {0};
    struct got g;
    struct redis_link *l = link_up(f, "store", &s, NULL);
    assert_int_equal(s.ups, 1);
    assert_int_equal(s.downs, 0);

    /* binary-safe values through argvlen */
    const char *argv[3] = {"SET", "k", "a\0b"};
    const size_t lens[3] = {3, 1, 3};
    memset(&g, 0, sizeof g);
    assert_int_equal(redis_link_cmd(l, on_got, &g, 3, argv, lens), 0);
    assert_true(run_loop_until(f->tl.ctx, &g.done, EVENTUALLY_MS));
    assert_int_equal(g.type, REDIS_REPLY_STATUS);
    assert_string_equal(g.str, "OK");

    cmd_wait(f, l, &g, "GET", "k", NULL);
    assert_int_equal(g.type, REDIS_REPLY_STRING);
    assert_int_equal(g.len, 3);
    assert_memory_equal(g.str, "a\0b", 3);

    cmd_wait(f, l, &g, "NOSUCHCOMMAND", NULL, NULL);
    assert_int_equal(g.type, REDIS_REPLY_ERROR);
    assert_true(redis_link_up(l)); /* a Redis error is an answer, not a failure */
    redis_link_free(l);
    assert_int_equal(s.downs, 0); /* freeing is not "down" */
}

static void test_select_db(void **state)
{
    struct fx *f = *state;
    struct st s = {0};
    struct got g;
    char url[128];
    redis_proc_url(&f->rp, 5, url, sizeof url);
    struct redis_link *l = link_for(f, url, "db5", &s, NULL);
    assert_true(run_loop_until(f->tl.ctx, &s.up, EVENTUALLY_MS));
    cmd_wait(f, l, &g, "SET", "where", "five");
    redis_link_free(l);

    redisContext *c = redis_proc_connect_sync(&f->rp);
    assert_non_null(c);
    redisReply *r = redisCommand(c, "GET where");
    assert_int_equal(r->type, REDIS_REPLY_NIL); /* not in db 0 */
    freeReplyObject(r);
    r = redisCommand(c, "SELECT 5");
    freeReplyObject(r);
    r = redisCommand(c, "GET where");
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_string_equal(r->str, "five");
    freeReplyObject(r);
    redisFree(c);
}

static struct redis_script echo = {
    .name = "echo",
    .lua = "return {KEYS[1], ARGV[1], ARGV[2]}",
};

static void eval_echo(struct fx *f, struct redis_link *l, struct got *g)
{
    const char *argv[3] = {"key1", "arg1", "arg2"};
    memset(g, 0, sizeof *g);
    assert_int_equal(redis_link_eval(l, &echo, on_got, g, 1, 3, argv, NULL), 0);
    assert_true(run_loop_until(f->tl.ctx, &g->done, EVENTUALLY_MS));
    assert_int_equal(g->calls, 1);
    assert_int_equal(g->type, REDIS_REPLY_ARRAY);
    assert_int_equal(g->elements, 3);
    assert_string_equal(g->el[0], "key1");
    assert_string_equal(g->el[1], "arg1");
    assert_string_equal(g->el[2], "arg2");
}

static void test_script_evalsha(void **state)
{
    struct fx *f = *state;
    struct st s = {0};
    struct got g;
    struct redis_link *l = link_up(f, "store", &s, &echo);
    /* the sha is SHA1 of the text, lowercase hex, as Redis computes it */
    cmd_wait(f, l, &g, "SCRIPT", "LOAD", echo.lua);
    assert_string_equal(g.str, echo.sha);
    assert_int_equal(strlen(echo.sha), 40);
    eval_echo(f, l, &g);

    /* bad arity is refused locally */
    const char *argv[1] = {"k"};
    assert_int_equal(redis_link_eval(l, &echo, on_got, &g, 2, 1, argv, NULL), -1);
    redis_link_free(l);
}

static void test_pubsub(void **state)
{
    struct fx *f = *state;
    struct st s1 = {0}, s2 = {0};
    struct got sub, pub;
    struct redis_link *ls = link_up(f, "pubsub", &s1, NULL);
    struct redis_link *lp = link_up(f, "bus", &s2, NULL);

    memset(&sub, 0, sizeof sub);
    assert_int_equal(redis_link_subscribe(ls, "chan", on_got, &sub), 0);
    assert_true(run_loop_until(f->tl.ctx, &sub.done, EVENTUALLY_MS));
    assert_string_equal(sub.el[0], "subscribe");
    assert_string_equal(sub.el[1], "chan");
    /* one callback per channel and connection */
    assert_int_equal(redis_link_subscribe(ls, "chan", on_got, &sub), -1);

    for (int i = 1; i <= 2; i++) {
        char payload[16];
        snprintf(payload, sizeof payload, "hello%d", i);
        sub.done = false; /* before: the message may overtake PUBLISH's reply */
        cmd_wait(f, lp, &pub, "PUBLISH", "chan", payload);
        assert_int_equal(pub.integer, 1); /* one subscriber got it */
        assert_true(run_loop_until(f->tl.ctx, &sub.done, EVENTUALLY_MS));
        assert_int_equal(sub.messages, i);
        assert_string_equal(sub.payload, payload);
    }
    int calls = sub.calls;
    redis_link_free(ls); /* the subscription's callback hears the end */
    assert_int_equal(sub.calls, calls + 1);
    assert_int_equal(sub.nulls, 1);
    redis_link_free(lp);
}

static void test_free_with_pending(void **state)
{
    struct fx *f = *state;
    struct st s = {0};
    struct got g;
    struct redis_link *l = link_up(f, "store", &s, NULL);
    assert_int_equal(cmd(l, &g, "BLPOP", "never", "0"), 0); /* blocks server-side */
    run_loop_until(f->tl.ctx, NULL, 200);
    assert_int_equal(g.calls, 0);
    redis_link_free(l);
    assert_int_equal(g.calls, 1);
    assert_int_equal(g.nulls, 1);
    assert_int_equal(s.downs, 0);
}

static void test_auth(void **state)
{
    struct fx *f = *state;
    struct st s = {0}, s2 = {0};
    struct got g;
    char url[160];
    snprintf(url, sizeof url, "redis://:%s@127.0.0.1:%d", AUTH_PW_URL, f->rp.port);
    struct redis_link *l = link_for(f, url, "store", &s, &echo);
    assert_true(run_loop_until(f->tl.ctx, &s.up, EVENTUALLY_MS));
    eval_echo(f, l, &g);
    redis_link_free(l);

    /* Redis 6 ACL form: user "default" */
    snprintf(url, sizeof url, "redis://default:%s@127.0.0.1:%d/1", AUTH_PW_URL, f->rp.port);
    l = link_for(f, url, "acl", &s2, NULL);
    assert_true(run_loop_until(f->tl.ctx, &s2.up, EVENTUALLY_MS));
    cmd_wait(f, l, &g, "PING", NULL, NULL);
    assert_string_equal(g.str, "PONG");
    redis_link_free(l);
}

/* Runs fn with stderr captured into buf (log.c writes there). */
static void capture_stderr_begin(int *saved, char *path)
{
    strcpy(path, "/tmp/qrlogin-redislog-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    *saved = dup(2);
    dup2(fd, 2);
    close(fd);
}

static size_t capture_stderr_end(int saved, const char *path, char *buf, size_t bufsz)
{
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    size_t n = fread(buf, 1, bufsz - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    unlink(path);
    return n;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static void test_auth_wrong_password(void **state)
{
    struct fx *f = *state;
    struct st s = {0};
    struct got g;
    char url[160], path[64], *logbuf = malloc(1 << 16);
    int saved;
    assert_non_null(logbuf);
    snprintf(url, sizeof url, "redis://:hunter2@127.0.0.1:%d", f->rp.port);

    enum log_level old = log_get_level();
    log_set_level(QLOG_DEBUG);
    capture_stderr_begin(&saved, path);
    struct redis_link *l = link_for(f, url, "store", &s, NULL);
    /* long enough for several attempts (backoff 100, 200, 400… ms) */
    run_loop_until(f->tl.ctx, &s.up, 2500);
    assert_int_equal(cmd(l, &g, "PING", NULL, NULL), -1);
    redis_link_free(l);
    capture_stderr_end(saved, path, logbuf, 1 << 16);
    log_set_level(old);

    assert_false(s.up);
    assert_int_equal(s.ups, 0);
    assert_int_equal(s.downs, 0); /* never up, so never "down" */
    assert_int_equal(g.calls, 0);
    /* logged once at error level, each retry only at debug, no password */
    assert_null(strstr(logbuf, "hunter2"));
    assert_int_equal(count(logbuf, "error redis store"), 1);
    assert_int_equal(count(logbuf, "down: AUTH failed"), 1);
    assert_true(count(logbuf, "attempt failed: AUTH failed") >= 2);
    free(logbuf);
}

static void test_cmd_refused_while_down(void **state)
{
    struct fx *f = *state;
    struct st s = {0};
    struct got g;
    char url[128];
    int port = redis_fixture_free_port(); /* nobody listens there */
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
    struct redis_target t;
    assert_int_equal(redis_url_parse(url, &t, NULL, 0), 0);
    struct redis_link *l = redis_link_new(&t, "store", on_state, &s);
    assert_int_equal(cmd(l, &g, "PING", NULL, NULL), -1); /* not started */
    redis_link_start(l, f->tl.vh);
    assert_int_equal(cmd(l, &g, "PING", NULL, NULL), -1);
    run_loop_until(f->tl.ctx, NULL, 500);
    assert_false(redis_link_up(l));
    assert_int_equal(cmd(l, &g, "PING", NULL, NULL), -1);
    assert_int_equal(redis_link_subscribe(l, "c", on_got, &g), -1);
    const char *argv[1] = {"x"};
    assert_int_equal(redis_link_eval(l, &echo, on_got, &g, 0, 1, argv, NULL), -1);
    redis_link_free(l);
    assert_int_equal(g.calls, 0);
    assert_int_equal(s.ups + s.downs, 0);

    redis_link_free(redis_link_new(&t, "never-started", on_state, &s));
}

/* A vhost without the protocol: an error, a link that stays down, no crash. */
static void test_start_without_protocol(void **state)
{
    struct fx *f = *state;
    static const struct lws_protocols other[] = {
        {.name = "other", .callback = lws_callback_http_dummy},
        {0},
    };
    struct lws_context_creation_info vi = {0};
    vi.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    vi.protocols = other;
    vi.vhost_name = "no-redis";
    struct lws_vhost *vh = lws_create_vhost(f->tl.ctx, &vi);
    assert_non_null(vh);

    struct st s = {0};
    struct got g;
    char url[128];
    struct redis_target t;
    redis_proc_url(&f->rp, 0, url, sizeof url);
    assert_int_equal(redis_url_parse(url, &t, NULL, 0), 0);
    struct redis_link *l = redis_link_new(&t, "store", on_state, &s);
    redis_link_start(l, vh);
    run_loop_until(f->tl.ctx, NULL, 300);
    assert_false(redis_link_up(l));
    assert_int_equal(cmd(l, &g, "PING", NULL, NULL), -1);
    redis_link_free(l);
    assert_int_equal(s.ups + s.downs, 0);
}

static void test_server_dies_and_returns(void **state)
{
    struct fx *f = *state;
    struct st s = {0}, s2 = {0};
    struct got g, sub;
    struct redis_link *l = link_up(f, "store", &s, &echo);
    struct redis_link *ls = link_up(f, "pubsub", &s2, NULL);
    memset(&sub, 0, sizeof sub);
    assert_int_equal(redis_link_subscribe(ls, "chan", on_got, &sub), 0);
    assert_true(run_loop_until(f->tl.ctx, &sub.done, EVENTUALLY_MS));
    sub.done = false;

    assert_int_equal(cmd(l, &g, "BLPOP", "never", "0"), 0);
    run_loop_until(f->tl.ctx, NULL, 200); /* sent: now blocked in Redis */
    redis_proc_stop(&f->rp);

    assert_true(run_loop_until(f->tl.ctx, &s.down, EVENTUALLY_MS));
    assert_true(run_loop_until(f->tl.ctx, &s2.down, EVENTUALLY_MS));
    assert_int_equal(g.calls, 1);
    assert_int_equal(g.nulls, 1); /* the pending command got NULL */
    assert_int_equal(sub.nulls, 1); /* so did the subscription */
    assert_int_equal(s.downs, 1);
    assert_false(redis_link_up(l));
    struct got g2;
    assert_int_equal(cmd(l, &g2, "PING", NULL, NULL), -1);

    /* a while of failed attempts, then Redis comes back empty on the same port */
    run_loop_until(f->tl.ctx, NULL, 700);
    assert_int_equal(s.downs, 1); /* one "down" per outage, not per attempt */
    assert_int_equal(redis_proc_restart(&f->rp), 0);
    assert_true(run_loop_until(f->tl.ctx, &s.up, EVENTUALLY_MS));
    assert_true(run_loop_until(f->tl.ctx, &s2.up, EVENTUALLY_MS));
    assert_int_equal(s.ups, 2);
    eval_echo(f, l, &g); /* the new server's script cache was filled on connect */

    /* subscribe again after "up" */
    memset(&sub, 0, sizeof sub);
    assert_int_equal(redis_link_subscribe(ls, "chan", on_got, &sub), 0);
    assert_true(run_loop_until(f->tl.ctx, &sub.done, EVENTUALLY_MS));
    assert_string_equal(sub.el[0], "subscribe");
    redis_link_free(ls);
    redis_link_free(l);
}

static void test_server_hangs(void **state)
{
    struct fx *f = *state;
    struct st s = {0};
    struct got g;
    struct redis_link *l = link_up(f, "store", &s, &echo);

    redis_proc_pause(&f->rp);
    assert_int_equal(cmd(l, &g, "GET", "k", NULL), 0);
    /* no answer: after REDIS_LINK_TIMEOUT_MS the callback gets NULL */
    assert_true(run_loop_until(f->tl.ctx, &g.done, EVENTUALLY_MS));
    assert_int_equal(g.nulls, 1);
    assert_true(s.down);
    assert_false(redis_link_up(l));
    struct got g2;
    assert_int_equal(cmd(l, &g2, "PING", NULL, NULL), -1);

    /* while stopped, the kernel still accepts connections: the handshake
     * must time out too, not hang the link forever */
    run_loop_until(f->tl.ctx, NULL, REDIS_LINK_TIMEOUT_MS + 1500);
    assert_false(redis_link_up(l));
    assert_int_equal(s.downs, 1);

    redis_proc_resume(&f->rp);
    assert_true(run_loop_until(f->tl.ctx, &s.up, EVENTUALLY_MS));
    assert_int_equal(s.ups, 2);
    cmd_wait(f, l, &g, "PING", NULL, NULL);
    assert_string_equal(g.str, "PONG");
    eval_echo(f, l, &g);
    redis_link_free(l);
}

int main(void)
{
    /* QRLOGIN_TEST_LOG=debug shows the link's log lines */
    const char *lv = getenv("QRLOGIN_TEST_LOG");
    log_set_level(lv && log_level_parse(lv) >= 0 ? (enum log_level)log_level_parse(lv) : QLOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_good),
        cmocka_unit_test(test_url_env_password),
        cmocka_unit_test(test_url_bad),
        cmocka_unit_test(test_describe_hides_password),
        cmocka_unit_test(test_reply_helpers),
        cmocka_unit_test_setup_teardown(test_up_set_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_select_db, setup, teardown),
        cmocka_unit_test_setup_teardown(test_script_evalsha, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pubsub, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_with_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth, setup_auth, teardown),
        cmocka_unit_test_setup_teardown(test_auth_wrong_password, setup_auth, teardown),
        cmocka_unit_test_setup_teardown(test_cmd_refused_while_down, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_without_protocol, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_dies_and_returns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_hangs, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
