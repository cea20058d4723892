/* test_config.c — the option table against docs/protocol.md §8: defaults, the
 * default < environment < command line order, strict value parsing, the
 * derived values, and the trusted-proxy matcher. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <sched.h>
#include <unistd.h>

#include "config.h"
#include "event_loop.h"
#include "jwt.h"
#include "log.h"

extern char **environ;

/* Every test starts from an environment without QRLOGIN_* so the developer's
 * shell cannot change results. */
static void clear_qrlogin_env(void)
{
    for (;;) {
        char name[128] = "";
        for (char **e = environ; *e; e++) {
            if (!strncmp(*e, "QRLOGIN_", 8)) {
                size_t n = strcspn(*e, "=");
                if (n < sizeof name) {
                    memcpy(name, *e, n);
                    name[n] = '\0';
                }
                break;
            }
        }
        if (!name[0])
            return;
        unsetenv(name);
    }
}

static int setup(void **state)
{
    (void)state;
    clear_qrlogin_env();
    return 0;
}

static struct config cfg;
static char err[512];

/* Loads from a NULL-terminated list of words. */
static enum config_rc load_v(const char *first, va_list ap)
{
    char *words[64];
    int n = 0;
    for (const char *w = first; w && n < 64; w = va_arg(ap, const char *))
        words[n++] = (char *)w;
    err[0] = '\0';
    return config_load(&cfg, n, words, NULL, NULL, err, sizeof err);
}

static enum config_rc load(const char *first, ...)
{
    va_list ap;
    va_start(ap, first);
    enum config_rc rc = load_v(first, ap);
    va_end(ap);
    return rc;
}

/* Asserts a rejection whose one-line message names `who`. */
static void expect_bad(const char *who, const char *first, ...)
{
    va_list ap;
    va_start(ap, first);
    enum config_rc rc = load_v(first, ap);
    va_end(ap);
    if (rc != CONFIG_BAD)
        fail_msg("expected CONFIG_BAD for %s, got %d", first ? first : "(none)", rc);
    if (!strstr(err, who))
        fail_msg("message '%s' does not name '%s'", err, who);
    assert_null(strchr(err, '\n'));
}

static void test_defaults_match_protocol(void **state)
{
    (void)state;
    assert_int_equal(load(NULL), CONFIG_OK);
    assert_string_equal(cfg.listen_host, "0.0.0.0");
    assert_int_equal(cfg.listen_port, 8080);
    assert_string_equal(cfg.data_dir, "./data");
    assert_string_equal(cfg.keys_dir, "./data/keys");
    assert_string_equal(cfg.store_url, "sqlite:./data/qrlogin.db");
    assert_string_equal(cfg.tls_cert, "");
    assert_string_equal(cfg.tls_key, "");
    assert_int_equal(cfg.access_alg, JWT_ES256);
    assert_int_equal(cfg.access_ttl, 900);
    assert_int_equal(cfg.refresh_ttl, 1209600);
    assert_int_equal(cfg.session_max_age, 2592000);
    assert_int_equal(cfg.refresh_interval, 5);
    assert_int_equal(cfg.refresh_grace, 10);
    assert_int_equal(cfg.leeway, 30);
    assert_int_equal(cfg.ticket_ttl, 60);
    assert_int_equal(cfg.max_rotations, 4);
    assert_false(cfg.number_match);
    assert_int_equal(cfg.max_conns_per_ip, 256);
    assert_int_equal(cfg.idle_timeout, 120);
    assert_int_equal(cfg.heartbeat, 30);
    assert_false(cfg.demo);
    assert_int_equal(cfg.log_level, QLOG_INFO);
    assert_string_equal(cfg.client_id, "qrlogin-web");
    assert_int_equal(cfg.max_message, 4096);
    assert_int_equal(cfg.msg_rate, 20);
    assert_int_equal(cfg.msg_burst, 40);
    assert_int_equal(cfg.pbkdf2_iterations, 600000);
    assert_int_equal(cfg.n_trusted_proxies, 0);
    int cpus = config_cpus_available();
    assert_int_equal(cfg.threads, cpus > 256 ? 256 : cpus);
    assert_true(cfg.web_root[0] != '\0');

    /* http://<an IPv4 address>:8080, the audience and the one origin follow. */
    assert_int_equal(strncmp(cfg.public_url, "http://", 7), 0);
    size_t n = strlen(cfg.public_url);
    assert_true(n > 12);
    assert_string_equal(cfg.public_url + n - 5, ":8080");
    unsigned a, b, cc, d;
    char tail[8];
    assert_int_equal(sscanf(cfg.public_url, "http://%u.%u.%u.%u:%7s", &a, &b, &cc, &d, tail), 5);
    assert_string_equal(cfg.audience, cfg.public_url);
    assert_int_equal(cfg.n_allowed_origins, 1);
    assert_string_equal(cfg.allowed_origins[0], cfg.public_url);
}

static void test_env_overrides_default(void **state)
{
    (void)state;
    setenv("QRLOGIN_ACCESS_TTL", "1000", 1);
    setenv("QRLOGIN_LOG_LEVEL", "debug", 1);
    setenv("QRLOGIN_NUMBER_MATCH", "yes", 1);
    setenv("QRLOGIN_LISTEN", "127.0.0.1:9100", 1);
    setenv("QRLOGIN_MAX_CONNS_PER_IP", "7", 1);
    setenv("QRLOGIN_ALLOWED_ORIGIN", "https://a.example, https://b.example:8443", 1);
    setenv("QRLOGIN_DATA_DIR", "", 1); /* empty = unset */
    assert_int_equal(load(NULL), CONFIG_OK);
    assert_int_equal(cfg.access_ttl, 1000);
    assert_int_equal(cfg.log_level, QLOG_DEBUG);
    assert_true(cfg.number_match);
    assert_string_equal(cfg.listen_host, "127.0.0.1");
    assert_int_equal(cfg.listen_port, 9100);
    assert_int_equal(cfg.max_conns_per_ip, 7);
    assert_string_equal(cfg.data_dir, "./data");
    assert_int_equal(cfg.n_allowed_origins, 2);
    assert_string_equal(cfg.allowed_origins[0], "https://a.example");
    assert_string_equal(cfg.allowed_origins[1], "https://b.example:8443");
    assert_int_equal(cfg.access_ttl, 1000);
}

static void test_env_flag_words(void **state)
{
    (void)state;
    static const struct {
        const char *v;
        int want; /* 1, 0, or -1 = rejected */
    } cases[] = {{"1", 1},  {"true", 1}, {"yes", 1},  {"TRUE", 1},  {"0", 0},
                 {"false", 0}, {"no", 0}, {"maybe", -1}, {"2", -1}, {"on", -1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        setenv("QRLOGIN_DEMO", cases[i].v, 1);
        enum config_rc rc = load(NULL);
        if (cases[i].want < 0) {
            assert_int_equal(rc, CONFIG_BAD);
            assert_non_null(strstr(err, "QRLOGIN_DEMO"));
        } else {
            assert_int_equal(rc, CONFIG_OK);
            assert_int_equal(cfg.demo, cases[i].want);
        }
    }
}

static void test_bad_env_value_names_variable(void **state)
{
    (void)state;
    setenv("QRLOGIN_ACCESS_TTL", "abc", 1);
    assert_int_equal(load(NULL), CONFIG_BAD);
    assert_non_null(strstr(err, "QRLOGIN_ACCESS_TTL"));
    assert_non_null(strstr(err, "--access-ttl"));
    assert_non_null(strstr(err, "'abc'"));
}

static void test_argv_overrides_env(void **state)
{
    (void)state;
    setenv("QRLOGIN_ACCESS_TTL", "1000", 1);
    setenv("QRLOGIN_ACCESS_ALG", "HS256", 1);
    setenv("QRLOGIN_ALLOWED_ORIGIN", "https://env.example", 1);
    setenv("QRLOGIN_TRUSTED_PROXY", "10.0.0.0/8", 1);
    assert_int_equal(load("--access-ttl", "2000", "--allowed-origin", "https://a.example",
                          "--allowed-origin", "https://b.example", NULL),
                     CONFIG_OK);
    assert_int_equal(cfg.access_ttl, 2000);
    assert_int_equal(cfg.access_alg, JWT_HS256); /* env still applies where argv is silent */
    /* A list on the command line replaces the environment's list. */
    assert_int_equal(cfg.n_allowed_origins, 2);
    assert_string_equal(cfg.allowed_origins[0], "https://a.example");
    assert_string_equal(cfg.allowed_origins[1], "https://b.example");
    /* ... and the env list stands where argv gives none. */
    assert_int_equal(cfg.n_trusted_proxies, 1);
    assert_true(config_is_trusted_proxy(&cfg, "10.9.8.7"));

    /* The last occurrence of a scalar option wins. */
    assert_int_equal(load("--access-ttl", "5", "--access-ttl=6", NULL), CONFIG_OK);
    assert_int_equal(cfg.access_ttl, 6);
}

static void test_equals_form(void **state)
{
    (void)state;
    assert_int_equal(load("--access-ttl=42", "--listen=[::]:8443", "--access-alg=HS256",
                          "--log-level=warn", "--client-id=app", "--data-dir=/srv/q", NULL),
                     CONFIG_OK);
    assert_int_equal(cfg.access_ttl, 42);
    assert_string_equal(cfg.listen_host, "::");
    assert_int_equal(cfg.listen_port, 8443);
    assert_int_equal(cfg.access_alg, JWT_HS256);
    assert_int_equal(cfg.log_level, log_level_parse("warn"));
    assert_string_equal(cfg.client_id, "app");
    assert_string_equal(cfg.data_dir, "/srv/q");
    /* An empty value is a value, and not a valid one. */
    expect_bad("--client-id", "--client-id=", NULL);
    expect_bad("--access-ttl", "--access-ttl=", NULL);
}

static const struct {
    const char *name;
    size_t off;
    long long min;
} time_opts[] = {
    {"access-ttl", offsetof(struct config, access_ttl), 1},
    {"refresh-ttl", offsetof(struct config, refresh_ttl), 1},
    {"session-max-age", offsetof(struct config, session_max_age), 1},
    {"refresh-interval", offsetof(struct config, refresh_interval), 0},
    {"refresh-grace", offsetof(struct config, refresh_grace), 0},
    {"leeway", offsetof(struct config, leeway), 0},
    {"ticket-ttl", offsetof(struct config, ticket_ttl), 1},
    {"idle-timeout", offsetof(struct config, idle_timeout), 1},
    {"heartbeat", offsetof(struct config, heartbeat), 1},
};

static int64_t time_field(size_t off) { return *(const int64_t *)((const char *)&cfg + off); }

static void test_time_options_bounds(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof time_opts / sizeof time_opts[0]; i++) {
        char opt[64];
        snprintf(opt, sizeof opt, "--%s", time_opts[i].name);

        assert_int_equal(load(opt, "1", NULL), CONFIG_OK);
        assert_int_equal(time_field(time_opts[i].off), 1);

        /* ten years */
        assert_int_equal(load(opt, "315360000", NULL), CONFIG_OK);
        assert_int_equal(time_field(time_opts[i].off), 315360000);
        expect_bad(opt, opt, "315360001", NULL);

        if (time_opts[i].min == 1) {
            expect_bad(opt, opt, "0", NULL);
            assert_non_null(strstr(err, "whole seconds from 1 to 315360000"));
            assert_non_null(strstr(err, "got '0'"));
        } else {
            assert_int_equal(load(opt, "0", NULL), CONFIG_OK);
            assert_int_equal(time_field(time_opts[i].off), 0);
        }
        expect_bad(opt, opt, "-1", NULL);
    }
}

static void test_integers_are_strict(void **state)
{
    (void)state;
    static const char *const bad[] = {"abc", "10s", "10 ", " 10", "+10", "1e3", "0x10", "1.5",
                                      "99999999999999999999999", "-99999999999999999999999",
                                      "9223372036854775808", "--", "-"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char arg[128];
        snprintf(arg, sizeof arg, "--access-ttl=%s", bad[i]);
        expect_bad("--access-ttl", arg, NULL);
        snprintf(arg, sizeof arg, "--max-rotations=%s", bad[i]);
        expect_bad("--max-rotations", arg, NULL);
    }
    /* The message from the brief, word for word. */
    expect_bad("--access-ttl", "--access-ttl", "abc", NULL);
    assert_string_equal(err, "--access-ttl: expected whole seconds from 1 to 315360000, got 'abc'");
    /* A value that is missing altogether. */
    expect_bad("--access-ttl", "--access-ttl", NULL);
    expect_bad("--access-ttl", "--access-ttl", "--demo", NULL);
}

static void test_count_bounds(void **state)
{
    (void)state;
    assert_int_equal(load("--max-conns-per-ip", "1000000", NULL), CONFIG_OK);
    assert_int_equal(cfg.max_conns_per_ip, 1000000);
    expect_bad("--max-conns-per-ip", "--max-conns-per-ip", "1000001", NULL);
    expect_bad("--max-conns-per-ip", "--max-conns-per-ip", "0", NULL);

    assert_int_equal(load("--max-rotations", "0", NULL), CONFIG_OK);
    assert_int_equal(cfg.max_rotations, 0);
    assert_int_equal(load("--max-rotations", "1000", NULL), CONFIG_OK);
    expect_bad("--max-rotations", "--max-rotations", "1001", NULL);

    assert_int_equal(load("--threads", "256", NULL), CONFIG_OK);
    assert_int_equal(cfg.threads, 256);
    assert_int_equal(load("--threads", "3", NULL), CONFIG_OK);
    assert_int_equal(cfg.threads, 3);
    assert_int_equal(load("--threads", "0", NULL), CONFIG_OK);
    assert_true(cfg.threads >= 1 && cfg.threads <= 256);
    expect_bad("--threads", "--threads", "257", NULL);

    expect_bad("--max-message", "--max-message", "255", NULL);
    assert_non_null(strstr(err, "256 to 1048576"));
    assert_int_equal(load("--max-message", "1048576", NULL), CONFIG_OK);
    assert_int_equal(cfg.max_message, 1048576);
    expect_bad("--max-message", "--max-message", "1048577", NULL);

    expect_bad("--msg-rate", "--msg-rate", "0", NULL);
    assert_int_equal(load("--msg-rate", "100000", "--msg-burst", "1", NULL), CONFIG_OK);
    assert_int_equal(cfg.msg_rate, 100000);
    assert_int_equal(cfg.msg_burst, 1);
    expect_bad("--msg-burst", "--msg-burst", "100001", NULL);

    expect_bad("--pbkdf2-iterations", "--pbkdf2-iterations", "999", NULL);
    assert_int_equal(load("--pbkdf2-iterations", "1000", NULL), CONFIG_OK);
    assert_int_equal(cfg.pbkdf2_iterations, 1000);
    assert_int_equal(load("--pbkdf2-iterations", "10000000", NULL), CONFIG_OK);
    expect_bad("--pbkdf2-iterations", "--pbkdf2-iterations", "10000001", NULL);
}

static void test_enums(void **state)
{
    (void)state;
    assert_int_equal(load("--access-alg", "HS256", NULL), CONFIG_OK);
    assert_int_equal(cfg.access_alg, JWT_HS256);
    assert_int_equal(load("--access-alg", "ES256", NULL), CONFIG_OK);
    assert_int_equal(cfg.access_alg, JWT_ES256);
    expect_bad("--access-alg", "--access-alg", "es256", NULL);
    expect_bad("--access-alg", "--access-alg", "none", NULL);
    assert_non_null(strstr(err, "ES256"));
    assert_non_null(strstr(err, "HS256"));

    static const char *const levels[] = {"error", "warn", "info", "debug"};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(load("--log-level", levels[i], NULL), CONFIG_OK);
        assert_int_equal(cfg.log_level, log_level_parse(levels[i]));
    }
    expect_bad("--log-level", "--log-level", "verbose", NULL);
}

/* --event-loop: auto unless asked, the four words exactly, and the
 * environment (how CI runs every test on another loop). */
static void test_event_loop(void **state)
{
    (void)state;
    assert_int_equal(load(NULL), CONFIG_OK);
    assert_int_equal(cfg.event_loop, EVENT_LOOP_AUTO);
    assert_int_equal(load("--event-loop", "auto", NULL), CONFIG_OK);
    assert_int_equal(cfg.event_loop, EVENT_LOOP_AUTO);
    assert_int_equal(load("--event-loop", "libuv", NULL), CONFIG_OK);
    assert_int_equal(cfg.event_loop, EVENT_LOOP_LIBUV);
    assert_int_equal(load("--event-loop=libev", NULL), CONFIG_OK);
    assert_int_equal(cfg.event_loop, EVENT_LOOP_LIBEV);
    assert_int_equal(load("--event-loop", "poll", NULL), CONFIG_OK);
    assert_int_equal(cfg.event_loop, EVENT_LOOP_POLL);
    expect_bad("--event-loop", "--event-loop", "epoll", NULL);
    assert_non_null(strstr(err, "auto, poll, libuv, libev"));
    expect_bad("--event-loop", "--event-loop", "LIBUV", NULL);
    expect_bad("--event-loop", "--event-loop", "", NULL);

    setenv("QRLOGIN_EVENT_LOOP", "libev", 1);
    assert_int_equal(load(NULL), CONFIG_OK);
    assert_int_equal(cfg.event_loop, EVENT_LOOP_LIBEV);
    assert_int_equal(load("--event-loop", "poll", NULL), CONFIG_OK);
    assert_int_equal(cfg.event_loop, EVENT_LOOP_POLL);
    setenv("QRLOGIN_EVENT_LOOP", "uv", 1);
    expect_bad("QRLOGIN_EVENT_LOOP", NULL);
}

static void test_flags(void **state)
{
    (void)state;
    assert_int_equal(load("--number-match", "--demo", NULL), CONFIG_OK);
    assert_true(cfg.number_match);
    assert_true(cfg.demo);
    /* A flag does not swallow the next word. */
    const char *pos[4];
    int npos = 0;
    char *argv[] = {"--demo", "alice"};
    assert_int_equal(config_load(&cfg, 2, argv, pos, &npos, err, sizeof err), CONFIG_OK);
    assert_true(cfg.demo);
    assert_int_equal(npos, 1);
    assert_string_equal(pos[0], "alice");
    expect_bad("--demo", "--demo=1", NULL);
    expect_bad("--number-match", "--number-match=yes", NULL);
}

static void test_listen_forms(void **state)
{
    (void)state;
    static const struct {
        const char *v, *host;
        int port;
    } good[] = {
        {"[::1]:9000", "::1", 9000},         {"[::]:8080", "::", 8080},
        {"127.0.0.1:1", "127.0.0.1", 1},     {"localhost:65535", "localhost", 65535},
        {"0.0.0.0:80", "0.0.0.0", 80},       {"[fe80::1]:443", "fe80::1", 443},
        {"Broker.Example:8080", "broker.example", 8080},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_int_equal(load("--listen", good[i].v, NULL), CONFIG_OK);
        assert_string_equal(cfg.listen_host, good[i].host);
        assert_int_equal(cfg.listen_port, good[i].port);
    }
    static const char *const bad[] = {
        ":8080",     "host",         "host:",       "host:0",      "host:65536", "host:-1",
        "host:80x",  "::1:9000",     "[::1]",       "[::1]9000",   "[zz]:80",    "[]:80",
        "ho st:80",  "host:99999999999", "[1.2.3.4]:80", "host:+80",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        expect_bad("--listen", "--listen", bad[i], NULL);
        assert_non_null(strstr(err, "65535"));
    }
}

static void test_allowed_origins(void **state)
{
    (void)state;
    assert_int_equal(load("--allowed-origin", "https://a.example", "--allowed-origin",
                          "HTTPS://B.Example:443/", "--allowed-origin", "http://[::1]:8080",
                          "--allowed-origin=http://c.example:80", NULL),
                     CONFIG_OK);
    assert_int_equal(cfg.n_allowed_origins, 4);
    /* Stored the way a browser sends Origin: lower case, no default port. */
    assert_string_equal(cfg.allowed_origins[0], "https://a.example");
    assert_string_equal(cfg.allowed_origins[1], "https://b.example");
    assert_string_equal(cfg.allowed_origins[2], "http://[::1]:8080");
    assert_string_equal(cfg.allowed_origins[3], "http://c.example");

    static const char *const bad[] = {"https://a.example/path", "a.example", "*",
                                      "https://",               "https://a:0",
                                      "https://user@a.example", "https://a.example?x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_bad("--allowed-origin", "--allowed-origin", bad[i], NULL);

    char *many[2 * (CONFIG_MAX_ORIGINS + 1)];
    for (int i = 0; i < CONFIG_MAX_ORIGINS + 1; i++) {
        many[2 * i] = "--allowed-origin";
        many[2 * i + 1] = "https://x.example";
    }
    assert_int_equal(config_load(&cfg, 2 * CONFIG_MAX_ORIGINS, many, NULL, NULL, err, sizeof err),
                     CONFIG_OK);
    assert_int_equal(cfg.n_allowed_origins, CONFIG_MAX_ORIGINS);
    assert_int_equal(
        config_load(&cfg, 2 * (CONFIG_MAX_ORIGINS + 1), many, NULL, NULL, err, sizeof err),
        CONFIG_BAD);
    assert_non_null(strstr(err, "--allowed-origin"));
}

static void test_trusted_proxies(void **state)
{
    (void)state;
    assert_int_equal(load("--trusted-proxy", "10.0.0.0/8", "--trusted-proxy", "127.0.0.1",
                          "--trusted-proxy", "::1", "--trusted-proxy", "fd00::/8",
                          "--trusted-proxy", "::ffff:192.168.0.0/112", "--trusted-proxy",
                          "172.16.5.4/12", NULL),
                     CONFIG_OK);
    assert_int_equal(cfg.n_trusted_proxies, 6);
    static const struct {
        const char *addr;
        bool want;
    } cases[] = {
        {"10.1.2.3", true},         {"10.255.255.255", true},   {"11.0.0.1", false},
        {"9.255.255.255", false},   {"::ffff:10.1.2.3", true},  {"::FFFF:10.1.2.3", true},
        {"0:0:0:0:0:ffff:a01:203", true}, {"::ffff:11.0.0.1", false}, {"127.0.0.1", true},
        {"127.0.0.2", false},       {"::1", true},              {"::2", false},
        {"fd12:3456::1", true},     {"fe80::1", false},         {"192.168.7.9", true},
        {"192.169.0.1", false},     {"172.31.255.1", true},     {"172.32.0.1", false},
        {"garbage", false},         {"", false},                {"10.0.0.1/8", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (config_is_trusted_proxy(&cfg, cases[i].addr) != cases[i].want)
            fail_msg("%s: expected %d", cases[i].addr, cases[i].want);
    assert_false(config_is_trusted_proxy(&cfg, NULL));

    /* No proxies configured: nobody is trusted. */
    assert_int_equal(load(NULL), CONFIG_OK);
    assert_false(config_is_trusted_proxy(&cfg, "127.0.0.1"));

    static const char *const bad[] = {"10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/8x",
                                      "1.2.3",       "host",   "10.0.0.0/-1", "/8"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_bad("--trusted-proxy", "--trusted-proxy", bad[i], NULL);
}

/* --trust-issuer (repeatable; env ';'-separated), --trust-file, --trust-ca,
 * --passwords (docs/federation.md). */
static void test_trusted_issuers(void **state)
{
    (void)state;
    assert_int_equal(load(NULL), CONFIG_OK);
    assert_int_equal(cfg.n_trust_issuers, 0);
    assert_int_equal(cfg.passwords, 1);

    assert_int_equal(load("--trust-issuer", "https://a.example jwks=https://a.example/k aud=q",
                          "--trust-issuer", "https://b.example jwks=file:/etc/b.json aud=q alg=RS256",
                          "--passwords", "off", "--trust-ca", "/etc/ca.pem", NULL),
                     CONFIG_OK);
    assert_int_equal(cfg.n_trust_issuers, 2);
    assert_string_equal(cfg.trust_issuers[1].issuer, "https://b.example");
    assert_int_equal(cfg.trust_issuers[1].algs, TRUST_ALG_RS256);
    assert_int_equal(cfg.passwords, 0);
    assert_string_equal(cfg.trust_ca, "/etc/ca.pem");

    setenv("QRLOGIN_TRUST_ISSUER", "i1 jwks=http://h/1 aud=a; i2 jwks=http://h/2 aud=a;", 1);
    assert_int_equal(load(NULL), CONFIG_OK);
    assert_int_equal(cfg.n_trust_issuers, 2);
    assert_string_equal(cfg.trust_issuers[1].jwks, "http://h/2");
    /* the command line replaces the environment's list */
    assert_int_equal(load("--trust-issuer", "i3 jwks=http://h/3 aud=a", NULL), CONFIG_OK);
    assert_int_equal(cfg.n_trust_issuers, 1);
    assert_string_equal(cfg.trust_issuers[0].issuer, "i3");
    unsetenv("QRLOGIN_TRUST_ISSUER");

    /* a file adds to the command line's */
    char path[] = "/tmp/qrlogin-trust-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("# issuers of the apps\n\n  f1 jwks=http://h/f1 aud=a\nf2 jwks=file:/x aud=a name=nick\n", f);
    fclose(f);
    assert_int_equal(load("--trust-issuer", "i3 jwks=http://h/3 aud=a", "--trust-file", path, NULL),
                     CONFIG_OK);
    assert_int_equal(cfg.n_trust_issuers, 3);
    assert_string_equal(cfg.trust_issuers[2].name_claim, "nick");
    f = fopen(path, "w");
    fputs("f1 jwks=http://h/f1 aud=a\nf2 jwks=http://h/f2 aud=a alg=HS256\n", f);
    fclose(f);
    expect_bad("--trust-file line 2", "--trust-file", path, NULL);
    assert_non_null(strstr(err, "HS256"));
    unlink(path);
    expect_bad("--trust-file", "--trust-file", path, NULL); /* gone */

    expect_bad("--trust-issuer", "--trust-issuer", "i jwks=http://h/j", NULL);
    expect_bad("--trust-issuer", "--trust-issuer", "i jwks=http://h/j aud=a alg=none", NULL);
    expect_bad("--trust-issuer", "--trust-issuer", "i jwks=http://h/j aud=a", "--trust-issuer",
               "i jwks=http://h/k aud=b", NULL); /* the same issuer twice */
    expect_bad("--trust-issuer", "--trust-issuer", " ; ", NULL);
    expect_bad("--passwords", "--passwords", "maybe", NULL);
}

static void test_tls_needs_both(void **state)
{
    (void)state;
    expect_bad("--tls-cert", "--tls-cert", "/etc/q/cert.pem", NULL);
    assert_non_null(strstr(err, "--tls-key"));
    expect_bad("--tls-key", "--tls-key", "/etc/q/key.pem", NULL);
    assert_int_equal(load("--tls-cert", "c.pem", "--tls-key", "k.pem", "--listen",
                          "127.0.0.1:8443", NULL),
                     CONFIG_OK);
    assert_string_equal(cfg.public_url, "https://127.0.0.1:8443");
    assert_string_equal(cfg.allowed_origins[0], "https://127.0.0.1:8443");
}

static void test_unknown_and_positional(void **state)
{
    (void)state;
    expect_bad("--frobnicate", "--frobnicate", NULL);
    assert_non_null(strstr(err, "unknown option"));
    expect_bad("--frobnicate", "--frobnicate=3", NULL);
    expect_bad("-x", "-x", NULL);
    /* Without a place for them, words are an error. */
    expect_bad("argument", "alice", NULL);

    const char *pos[4];
    int npos = -1;
    char *argv[] = {"alice", "--access-ttl", "5", "bob", "--", "--carol", "-", "x"};
    assert_int_equal(config_load(&cfg, 7, argv, pos, &npos, err, sizeof err), CONFIG_OK);
    assert_int_equal(npos, 4);
    assert_string_equal(pos[0], "alice");
    assert_string_equal(pos[1], "bob");
    assert_string_equal(pos[2], "--carol"); /* after "--" */
    assert_string_equal(pos[3], "-");
    assert_int_equal(cfg.access_ttl, 5);
    assert_int_equal(config_load(&cfg, 8, argv, pos, &npos, err, sizeof err), CONFIG_BAD);
}

static void test_help(void **state)
{
    (void)state;
    assert_int_equal(load("--help", NULL), CONFIG_HELP);
    assert_int_equal(load("-h", NULL), CONFIG_HELP);
    /* Help wins over values that would not validate. */
    assert_int_equal(load("--access-ttl", "abc", "--help", NULL), CONFIG_HELP);
    setenv("QRLOGIN_ACCESS_TTL", "abc", 1);
    assert_int_equal(load("-h", NULL), CONFIG_HELP);
    /* ... but a value that is literally "--help" is not a request. */
    assert_int_equal(load("--client-id=--help", NULL), CONFIG_BAD);

    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    config_print_help(f);
    fclose(f);
    static const char *const must[] = {
        "serve",         "useradd",          "keygen",          "--listen",
        "QRLOGIN_LISTEN", "0.0.0.0:8080",    "--access-ttl",    "QRLOGIN_ACCESS_TTL",
        "315360000",     "--session-max-age", "--refresh-grace", "--max-conns-per-ip",
        "1000000",       "--number-match",   "--demo",          "--trusted-proxy",
        "--allowed-origin", "--pbkdf2-iterations", "600000",    "--log-level",
        "error|warn|info|debug", "ES256|HS256", "--tls-cert",   "--tls-key",
        "--public-url",  "--store",          "--keys-dir",      "--web-root",
        "--audience",    "--client-id",      "--max-message",   "--msg-rate",
        "--msg-burst",   "--threads",        "--help",          "QRLOGIN_MAX_CONNS_PER_IP",
        "--workers",     "QRLOGIN_WORKERS",  "--event-loop",    "QRLOGIN_EVENT_LOOP",
        "poll|libuv|libev",
    };
    for (size_t i = 0; i < sizeof must / sizeof must[0]; i++)
        if (!strstr(buf, must[i]))
            fail_msg("help lacks '%s'", must[i]);
    free(buf);
}

static void test_derived_values(void **state)
{
    (void)state;
    assert_int_equal(load("--data-dir", "/var/lib/q/", NULL), CONFIG_OK);
    assert_string_equal(cfg.data_dir, "/var/lib/q");
    assert_string_equal(cfg.keys_dir, "/var/lib/q/keys");
    assert_string_equal(cfg.store_url, "sqlite:/var/lib/q/qrlogin.db");

    assert_int_equal(load("--data-dir", "/d", "--keys-dir", "/k", "--store",
                          "redis://127.0.0.1:6379/0", NULL),
                     CONFIG_OK);
    assert_string_equal(cfg.keys_dir, "/k");
    assert_string_equal(cfg.store_url, "redis://127.0.0.1:6379/0");
    expect_bad("--store", "--store", "mysql://x", NULL);
    expect_bad("--store", "--store", "sqlite:", NULL);

    assert_int_equal(load("--public-url", "https://login.example.com/", NULL), CONFIG_OK);
    assert_string_equal(cfg.public_url, "https://login.example.com");
    assert_string_equal(cfg.audience, "https://login.example.com");
    assert_int_equal(cfg.n_allowed_origins, 1);
    assert_string_equal(cfg.allowed_origins[0], "https://login.example.com");

    assert_int_equal(load("--public-url", "http://10.1.2.3:8080/qr/", "--audience", "api://x",
                          NULL),
                     CONFIG_OK);
    assert_string_equal(cfg.public_url, "http://10.1.2.3:8080/qr");
    assert_string_equal(cfg.audience, "api://x");
    assert_string_equal(cfg.allowed_origins[0], "http://10.1.2.3:8080");

    static const char *const bad_urls[] = {"ftp://x",   "login.example.com", "https://",
                                           "https://x?y", "https://x#f",      "http://a b",
                                           "http://x:0", "https://x/\"q"};
    for (size_t i = 0; i < sizeof bad_urls / sizeof bad_urls[0]; i++)
        expect_bad("--public-url", "--public-url", bad_urls[i], NULL);
    expect_bad("--audience", "--audience", "a\"b", NULL);

    /* A specific listen address is where clients must come. */
    assert_int_equal(load("--listen", "127.0.0.1:9000", NULL), CONFIG_OK);
    assert_string_equal(cfg.public_url, "http://127.0.0.1:9000");
    assert_string_equal(cfg.allowed_origins[0], "http://127.0.0.1:9000");
    assert_int_equal(load("--listen", "[::1]:9000", NULL), CONFIG_OK);
    assert_string_equal(cfg.public_url, "http://[::1]:9000");
    assert_int_equal(load("--listen", "[::]:9001", NULL), CONFIG_OK);
    assert_int_equal(strncmp(cfg.public_url, "http://", 7), 0);
    assert_string_equal(cfg.public_url + strlen(cfg.public_url) - 5, ":9001");
}

static void test_url_origin(void **state)
{
    (void)state;
    char o[64];
    assert_int_equal(net_url_origin("https://Example.COM:443/a/b?c#d", o, sizeof o), 0);
    assert_string_equal(o, "https://example.com");
    assert_int_equal(net_url_origin("http://example.com:8080", o, sizeof o), 0);
    assert_string_equal(o, "http://example.com:8080");
    assert_int_equal(net_url_origin("http://[::1]:80/", o, sizeof o), 0);
    assert_string_equal(o, "http://[::1]");
    assert_int_equal(net_url_origin("https://a.example:80", o, sizeof o), 0);
    assert_string_equal(o, "https://a.example:80");
    assert_int_equal(net_url_origin("example.com", o, sizeof o), -1);
    assert_int_equal(net_url_origin("http://", o, sizeof o), -1);
    assert_int_equal(net_url_origin("http://a:99999", o, sizeof o), -1);
    assert_int_equal(net_url_origin("http://[::1", o, sizeof o), -1);
    assert_int_equal(net_url_origin("https://a-very-long-host.example", o, 12), -1);
}

/* --workers: default 1, 1..64, and more than one only with the Redis store
 * (separate processes on one SQLite file would each keep their own tickets). */
static void test_workers(void **state)
{
    (void)state;
    assert_int_equal(load(NULL), CONFIG_OK);
    assert_int_equal(cfg.workers, 1);
    assert_int_equal(load("--workers", "64", "--store", "redis://127.0.0.1:6379/0", NULL),
                     CONFIG_OK);
    assert_int_equal(cfg.workers, 64);
    assert_true(cfg.threads >= 1);
    expect_bad("--workers", "--workers", "0", NULL);
    expect_bad("--workers", "--workers", "65", NULL);
    assert_non_null(strstr(err, "1 to 64"));
    expect_bad("--workers", "--workers", "two", NULL);

    /* The SQLite store, default or explicit, refuses more than one. */
    expect_bad("--workers", "--workers", "2", NULL);
    assert_non_null(strstr(err, "redis"));
    assert_non_null(strstr(err, "SQLite"));
    expect_bad("--workers", "--workers", "2", "--store", "sqlite:/tmp/x.db", NULL);
    assert_int_equal(load("--workers", "1", "--store", "sqlite:/tmp/x.db", NULL), CONFIG_OK);

    /* From the environment as well. */
    setenv("QRLOGIN_WORKERS", "3", 1);
    expect_bad("--workers", NULL);
    assert_int_equal(load("--store", "redis://127.0.0.1:6379/0", NULL), CONFIG_OK);
    assert_int_equal(cfg.workers, 3);
    unsetenv("QRLOGIN_WORKERS");

    /* The default pool is the CPUs shared out among the processes, and an
     * explicit --threads is per process. */
    int cpus = config_cpus_available();
    assert_int_equal(load("--workers", "2", "--store", "redis://127.0.0.1:6379/0", NULL),
                     CONFIG_OK);
    assert_int_equal(cfg.threads, (cpus + 1) / 2);
    assert_int_equal(load("--workers", "64", "--store", "redis://h:1/0", NULL), CONFIG_OK);
    assert_int_equal(cfg.threads, 1);
    assert_int_equal(load("--workers", "2", "--threads", "5", "--store", "redis://h:1/0", NULL),
                     CONFIG_OK);
    assert_int_equal(cfg.threads, 5);
}

static void test_cpus_available(void **state)
{
    (void)state;
    cpu_set_t set;
    CPU_ZERO(&set);
    assert_int_equal(sched_getaffinity(0, sizeof set, &set), 0);
    int n = config_cpus_available();
    assert_true(n >= 1);
    assert_true(n <= CPU_COUNT(&set));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults_match_protocol, setup),
        cmocka_unit_test_setup(test_env_overrides_default, setup),
        cmocka_unit_test_setup(test_env_flag_words, setup),
        cmocka_unit_test_setup(test_bad_env_value_names_variable, setup),
        cmocka_unit_test_setup(test_argv_overrides_env, setup),
        cmocka_unit_test_setup(test_equals_form, setup),
        cmocka_unit_test_setup(test_time_options_bounds, setup),
        cmocka_unit_test_setup(test_integers_are_strict, setup),
        cmocka_unit_test_setup(test_count_bounds, setup),
        cmocka_unit_test_setup(test_enums, setup),
        cmocka_unit_test_setup(test_event_loop, setup),
        cmocka_unit_test_setup(test_flags, setup),
        cmocka_unit_test_setup(test_listen_forms, setup),
        cmocka_unit_test_setup(test_allowed_origins, setup),
        cmocka_unit_test_setup(test_trusted_proxies, setup),
        cmocka_unit_test_setup(test_trusted_issuers, setup),
        cmocka_unit_test_setup(test_tls_needs_both, setup),
        cmocka_unit_test_setup(test_unknown_and_positional, setup),
        cmocka_unit_test_setup(test_help, setup),
        cmocka_unit_test_setup(test_derived_values, setup),
        cmocka_unit_test_setup(test_url_origin, setup),
        cmocka_unit_test_setup(test_workers, setup),
        cmocka_unit_test_setup(test_cpus_available, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
