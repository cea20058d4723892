/* config.c — see config.h.
 *
 * Every option lives in one table (opts[] below): name, type, metavar, default
 * text, bounds, help, and where it lands in struct config. Defaults are stored
 * as text and go through the same parser as user input, so a default can never
 * escape the bounds it advertises in --help. Sources are applied in order
 * default < environment < command line; options whose default depends on
 * another option (keys_dir, store_url, public_url, audience, the origin
 * allow-list, web_root, threads) are left empty and derived at the end. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "event_loop.h"
#include "jwt.h"
#include "log.h"
#include "net_parse.h"

/* CMake sets both; the fallbacks let this file compile on its own (tests,
 * fuzzers). */
#ifndef QRLOGIN_SOURCE_WEB_ROOT
#define QRLOGIN_SOURCE_WEB_ROOT "web"
#endif
#ifndef QRLOGIN_INSTALL_WEB_ROOT
#define QRLOGIN_INSTALL_WEB_ROOT "/usr/local/share/qrlogin/web"
#endif

#define ENV_PREFIX "QRLOGIN_"
#define MAX_SECONDS 315360000LL /* ten years of 365 days */
#define MAX_POSITIONAL 4
#define CPU_MAX_PATH "/sys/fs/cgroup/cpu.max"

enum opt_type {
    T_LISTEN,  /* HOST:PORT → listen_host, listen_port */
    T_URL,     /* http(s)://… without trailing '/' */
    T_STORE,   /* sqlite:<path> | redis://… */
    T_PATH,    /* a file or directory name */
    T_STRING,  /* a JWT claim value: printable, no quote/backslash */
    T_SECONDS, /* int64_t */
    T_COUNT,   /* int */
    T_BYTES,   /* int */
    T_FLAG,    /* bool; no value on the command line */
    T_ENUM,    /* int, from a choice list */
    T_ORIGINS, /* repeatable → allowed_origins[] */
    T_CIDRS,   /* repeatable → trusted_proxies[] */
    T_TRUST,   /* repeatable → trust_issuers[] (env: ';'-separated) */
};

struct choice {
    const char *name;
    int value;
};

struct opt {
    const char *name;     /* without "--" */
    enum opt_type type;
    const char *metavar;  /* for --help; NULL for flags */
    const char *dflt;     /* parsed like user input; NULL = off / derived */
    const char *dflt_doc; /* what --help shows when dflt is NULL */
    long long min, max;   /* integer types only */
    size_t off, size;     /* into struct config */
    const struct choice *choices; /* T_ENUM only */
    const char *help;
};

static const struct choice alg_choices[] = {
    {"ES256", JWT_ES256}, {"HS256", JWT_HS256}, {NULL, 0}};
/* Same ints log_level_parse() returns (enum log_level). */
static const struct choice level_choices[] = {
    {"error", QLOG_ERROR}, {"warn", QLOG_WARN}, {"info", QLOG_INFO},
    {"debug", QLOG_DEBUG}, {NULL, 0}};
static const struct choice onoff_choices[] = {{"on", 1}, {"off", 0}, {NULL, 0}};
static const struct choice loop_choices[] = {
    {"auto", EVENT_LOOP_AUTO}, {"poll", EVENT_LOOP_POLL}, {"libuv", EVENT_LOOP_LIBUV},
    {"libev", EVENT_LOOP_LIBEV}, {NULL, 0}};

#define FIELD(m) offsetof(struct config, m), sizeof(((struct config *)0)->m)
#define NOFIELD 0, 0
#define SECS(name, dflt, min, help, m) \
    {name, T_SECONDS, "SECONDS", dflt, NULL, min, MAX_SECONDS, FIELD(m), NULL, help}
#define COUNT(name, meta, dflt, min, max, help, m) \
    {name, T_COUNT, meta, dflt, NULL, min, max, FIELD(m), NULL, help}

static const struct opt opts[] = {
    {"listen", T_LISTEN, "HOST:PORT", "0.0.0.0:8080", NULL, 0, 0, NOFIELD, NULL,
     "address and port to listen on (IPv6 as [::]:8080)"},
    {"public-url", T_URL, "URL", NULL,
     "http(s)://<listen host, or first non-loopback IPv4 if it is a wildcard>:<port>", 0, 0,
     FIELD(public_url), NULL, "URL phones and browsers use to reach the broker (put in the QR)"},
    {"data-dir", T_PATH, "DIR", "./data", NULL, 0, 0, FIELD(data_dir), NULL,
     "SQLite file and, unless --keys-dir, the signing keys"},
    {"keys-dir", T_PATH, "DIR", NULL, "<data-dir>/keys", 0, 0, FIELD(keys_dir), NULL,
     "PEM signing keys (every node of a cluster shares them)"},
    {"web-root", T_PATH, "DIR", NULL, "the web/ of the source tree, else of the install", 0, 0,
     FIELD(web_root), NULL, "static pages and the JS client"},
    {"store", T_STORE, "URL", NULL, "sqlite:<data-dir>/qrlogin.db", 0, 0, FIELD(store_url), NULL,
     "sqlite:<file>, or redis://host:port/db for a cluster"},
    {"tls-cert", T_PATH, "FILE", NULL, "none (plain HTTP)", 0, 0, FIELD(tls_cert), NULL,
     "PEM certificate chain; with --tls-key, serve HTTPS and WSS"},
    {"tls-key", T_PATH, "FILE", NULL, "none", 0, 0, FIELD(tls_key), NULL,
     "PEM private key for --tls-cert"},
    {"allowed-origin", T_ORIGINS, "ORIGIN", NULL, "the public URL's origin", 0, 0, NOFIELD, NULL,
     "browser Origin allowed to open a WebSocket (repeatable; env: comma-separated)"},
    {"trusted-proxy", T_CIDRS, "CIDR", NULL, "none", 0, 0, NOFIELD, NULL,
     "reverse proxy whose X-Forwarded-For is believed (repeatable; env: comma-separated)"},
    {"access-alg", T_ENUM, "ES256|HS256", "ES256", NULL, 0, 0, FIELD(access_alg), alg_choices,
     "signature algorithm of access tokens"},
    {"audience", T_STRING, "AUD", NULL, "the public URL", 0, 0, FIELD(audience), NULL,
     "\"aud\" claim of access tokens"},
    {"client-id", T_STRING, "ID", "qrlogin-web", NULL, 0, 0, FIELD(client_id), NULL,
     "client_id claim of access tokens"},
    SECS("access-ttl", "900", 1, "lifetime of an access token", access_ttl),
    SECS("refresh-ttl", "1209600", 1, "lifetime of a refresh token", refresh_ttl),
    SECS("session-max-age", "2592000", 1, "a session ends this long after login, refreshed or not",
         session_max_age),
    SECS("refresh-interval", "5", 0, "least time between two refreshes of one session",
         refresh_interval),
    SECS("refresh-grace", "10", 0, "a just-rotated refresh token still works this long",
         refresh_grace),
    SECS("leeway", "30", 0, "clock skew tolerated when checking exp/nbf/iat", leeway),
    SECS("ticket-ttl", "60", 1, "lifetime of a QR login ticket", ticket_ttl),
    COUNT("max-rotations", "N", "4", 0, 1000, "QR ticket rotations before the PC must ask again",
          max_rotations),
    SECS("device-code-ttl", "600", 1, "lifetime of an OAuth device code (RFC 8628)",
         device_code_ttl),
    SECS("device-interval", "5", 1, "least time between two polls of one device code",
         device_interval),
    {"number-match", T_FLAG, NULL, NULL, "off", 0, 0, FIELD(number_match), NULL,
     "tickets carry a two-digit code the PC shows and the phone must match"},
    COUNT("max-conns-per-ip", "N", "256", 1, 1000000, "WebSockets per client IP", max_conns_per_ip),
    SECS("idle-timeout", "120", 1, "close a socket with no ticket, auth or session after this",
         idle_timeout),
    SECS("heartbeat", "30", 1, "WebSocket ping interval; no pong in twice that closes",
         heartbeat),
    {"max-message", T_BYTES, "BYTES", "4096", NULL, 256, 1048576, FIELD(max_message), NULL,
     "largest WebSocket message accepted (bigger closes 1009)"},
    COUNT("msg-rate", "N", "20", 1, 100000, "messages per second per socket", msg_rate),
    COUNT("msg-burst", "N", "40", 1, 100000, "message burst per socket", msg_burst),
    COUNT("threads", "N", "0", 0, 256,
          "worker threads per process; 0 = CPUs this process may use, shared out among --workers",
          threads),
    COUNT("workers", "N", "1", 1, 64,
          "processes sharing the port (SO_REUSEPORT); more than 1 needs the redis store", workers),
    {"event-loop", T_ENUM, "auto|poll|libuv|libev", "auto", NULL, 0, 0, FIELD(event_loop),
     loop_choices,
     "lws's event loop: poll() looks at every socket on each wakeup; libuv and libev use epoll "
     "(packages libwebsockets-evlib-uv / -evlib-ev); auto = libuv, else poll"},
    COUNT("pbkdf2-iterations", "N", "600000", 1000, 10000000,
          "PBKDF2-HMAC-SHA256 iterations for new password hashes", pbkdf2_iterations),
    {"demo", T_FLAG, NULL, NULL, "off", 0, 0, FIELD(demo), NULL,
     "create user demo / password demo if missing, and say so"},
    {"trust-issuer", T_TRUST, "'ISSUER jwks=URL aud=AUD [alg=..] [sub=..] [name=..]'", NULL,
     "none", 0, 0, NOFIELD, NULL,
     "identity provider whose JWTs sign phones in (auth.external; repeatable; env: "
     "';'-separated; see docs/federation.md)"},
    {"trust-file", T_PATH, "FILE", NULL, "none", 0, 0, FIELD(trust_file), NULL,
     "more trusted issuers: one --trust-issuer spec per line ('#' starts a comment line)"},
    {"trust-ca", T_PATH, "FILE", NULL, "the system's CA store", 0, 0, FIELD(trust_ca), NULL,
     "PEM CA bundle that https:// JWKS endpoints of --trust-issuer must chain to"},
    {"passwords", T_ENUM, "on|off", "on", NULL, 0, 0, FIELD(passwords), onoff_choices,
     "off: auth.password and useradd are refused (users come only from --trust-issuer)"},
    {"log-level", T_ENUM, "error|warn|info|debug", "info", NULL, 0, 0, FIELD(log_level),
     level_choices, "least severe level that is logged"},
};

#define N_OPTS (sizeof opts / sizeof opts[0])

/* Where an option's current value came from: a list option given on the
 * command line replaces the environment's list instead of adding to it. */
enum source { SRC_DEFAULT = 0, SRC_ENV, SRC_ARGV };

/* ---- small helpers ---- */

static bool is_digit(char ch) { return ch >= '0' && ch <= '9'; }

static void env_name(const struct opt *o, char *out, size_t outsz)
{
    size_t n = strlen(ENV_PREFIX);
    memcpy(out, ENV_PREFIX, n);
    for (const char *p = o->name; *p && n + 1 < outsz; p++)
        out[n++] = *p == '-' ? '_' : (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
    out[n] = '\0';
}

static const struct opt *opt_find(const char *name, size_t len)
{
    for (size_t i = 0; i < N_OPTS; i++)
        if (strlen(opts[i].name) == len && !memcmp(opts[i].name, name, len))
            return &opts[i];
    return NULL;
}

static void *field(struct config *c, const struct opt *o) { return (char *)c + o->off; }

/* The error line quotes what the user gave; keep it one short printable line
 * whatever they typed (it may be binary, or megabytes long). */
static void quote_value(const char *v, char *out, size_t outsz)
{
    size_t n = 0, i = 0;
    const size_t lim = 60;
    for (; v[i] && i < lim && n + 1 < outsz; i++)
        out[n++] = (v[i] >= 0x20 && v[i] < 0x7f) ? v[i] : '?';
    if (v[i] && n + 4 < outsz) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
}

__attribute__((format(printf, 4, 5))) static int fail(char *err, size_t errsz, const char *who,
                                                      const char *fmt, ...)
{
    int n = snprintf(err, errsz, "%s: ", who);
    if (n >= 0 && (size_t)n < errsz) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err + n, errsz - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int fail_value(char *err, size_t errsz, const char *who, const char *expected,
                      const char *val)
{
    char q[80];
    quote_value(val, q, sizeof q);
    return fail(err, errsz, who, "expected %s, got '%s'", expected, q);
}

static bool has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

/* Audience, client id and the public URL (the default audience) end up inside
 * JWT claims and JSON messages: keep them to visible ASCII that needs no JSON
 * escaping. */
static bool json_safe(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s <= 0x20 || *s >= 0x7f || *s == '"' || *s == '\\')
            return false;
    return true;
}

static int copy_text(char *dst, size_t dstsz, const char *src)
{
    size_t n = strlen(src);
    if (n >= dstsz)
        return -1;
    memcpy(dst, src, n + 1);
    return 0;
}

/* Decimal, optional '-', nothing else: strtoll alone would accept leading
 * blanks, '+', and stop silently at junk. */
static int parse_ll(const char *s, long long *out)
{
    const char *p = s[0] == '-' ? s + 1 : s;
    if (!is_digit(*p))
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno == ERANGE || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

bool config_is_trusted_proxy(const struct config *c, const char *addr)
{
    return c && net_addr_in(c->trusted_proxies, c->n_trusted_proxies, addr);
}

/* ---- setters, one per type ---- */

static const char *expected_text(const struct opt *o, char *buf, size_t bufsz)
{
    switch (o->type) {
    case T_LISTEN:
        return "HOST:PORT with port 1 to 65535 (IPv6 as [::1]:8080)";
    case T_URL:
        return "an http:// or https:// URL with a host, no query or fragment";
    case T_STORE:
        return "sqlite:<file> or redis://host:port/db";
    case T_PATH:
        return "a non-empty path without control characters";
    case T_STRING:
        return "printable text without spaces, quotes or backslashes";
    case T_SECONDS:
        snprintf(buf, bufsz, "whole seconds from %lld to %lld", o->min, o->max);
        return buf;
    case T_COUNT:
        snprintf(buf, bufsz, "a whole number from %lld to %lld", o->min, o->max);
        return buf;
    case T_BYTES:
        snprintf(buf, bufsz, "a byte count from %lld to %lld", o->min, o->max);
        return buf;
    case T_FLAG:
        return "1, 0, true, false, yes or no";
    case T_ENUM: {
        size_t n = 0;
        for (const struct choice *ch = o->choices; ch->name && n < bufsz; ch++) {
            int w = snprintf(buf + n, bufsz - n, "%s%s", n ? ", " : "one of ", ch->name);
            if (w < 0)
                break;
            n += (size_t)w;
        }
        return buf;
    }
    case T_ORIGINS:
        return "origins like https://host[:port] (no path)";
    case T_CIDRS:
        return "IPv4 or IPv6 addresses or CIDRs like 10.0.0.0/8 or fd00::/8";
    case T_TRUST:
        return "'ISSUER jwks=URL aud=AUDIENCE [alg=ES256,RS256] [sub=CLAIM] [name=CLAIM]'";
    }
    return "a valid value";
}

static int set_listen(struct config *c, const char *v)
{
    const char *colon = strrchr(v, ':');
    if (!colon)
        return -1;
    size_t hlen = (size_t)(colon - v);
    /* An unbracketed IPv6 address would make the port ambiguous. */
    if (v[0] != '[' && memchr(v, ':', hlen))
        return -1;
    char host[sizeof c->listen_host];
    int port;
    if (net_parse_host(v, hlen, host, sizeof host) != 0 ||
        net_parse_port(colon + 1, strlen(colon + 1), &port) != 0)
        return -1;
    memcpy(c->listen_host, host, sizeof host);
    c->listen_port = port;
    return 0;
}

static int set_url(char *dst, size_t dstsz, const char *v)
{
    struct url_parts u;
    if (!json_safe(v) || net_parse_url(v, &u) != 0)
        return -1;
    if (strcmp(u.scheme, "http") != 0 && strcmp(u.scheme, "https") != 0)
        return -1;
    if (strpbrk(u.rest, "?#"))
        return -1;
    size_t n = strlen(v);
    while (n > 0 && v[n - 1] == '/')
        n--;
    if (n >= dstsz)
        return -1;
    memcpy(dst, v, n);
    dst[n] = '\0';
    return 0;
}

static int set_store(char *dst, size_t dstsz, const char *v)
{
    if (has_ctl(v))
        return -1;
    if (!strncmp(v, "sqlite:", 7) && v[7] != '\0')
        return copy_text(dst, dstsz, v);
    if (!strncmp(v, "redis://", 8) && v[8] != '\0')
        return copy_text(dst, dstsz, v);
    return -1;
}

/* Trailing slashes dropped so derived paths ("<dir>/keys") read cleanly. */
static int set_path(char *dst, size_t dstsz, const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || has_ctl(v))
        return -1;
    while (n > 1 && v[n - 1] == '/')
        n--;
    if (n >= dstsz)
        return -1;
    memcpy(dst, v, n);
    dst[n] = '\0';
    return 0;
}

static int set_string(char *dst, size_t dstsz, const char *v)
{
    if (!json_safe(v))
        return -1;
    return copy_text(dst, dstsz, v);
}

static int set_int(struct config *c, const struct opt *o, const char *v)
{
    long long x;
    if (parse_ll(v, &x) != 0 || x < o->min || x > o->max)
        return -1;
    if (o->type == T_SECONDS)
        *(int64_t *)field(c, o) = (int64_t)x;
    else
        *(int *)field(c, o) = (int)x;
    return 0;
}

static int parse_bool_word(const char *v, bool *out)
{
    static const char *const yes[] = {"1", "true", "yes"}, *const no[] = {"0", "false", "no"};
    for (size_t i = 0; i < 3; i++) {
        if (!strcasecmp(v, yes[i])) {
            *out = true;
            return 0;
        }
        if (!strcasecmp(v, no[i])) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

static int set_enum(struct config *c, const struct opt *o, const char *v)
{
    for (const struct choice *ch = o->choices; ch->name; ch++)
        if (!strcmp(ch->name, v)) {
            *(int *)field(c, o) = ch->value;
            return 0;
        }
    return -1;
}

static int add_origin(struct config *c, const char *tok)
{
    char buf[256], origin[256];
    if (copy_text(buf, sizeof buf, tok) != 0)
        return -1;
    size_t n = strlen(buf);
    if (n > 0 && buf[n - 1] == '/')
        buf[n - 1] = '\0';
    struct url_parts u;
    if (net_parse_url(buf, &u) != 0 || u.rest[0] != '\0' ||
        net_url_origin(buf, origin, sizeof origin) != 0)
        return -1;
    if (c->n_allowed_origins >= CONFIG_MAX_ORIGINS)
        return -2;
    memcpy(c->allowed_origins[c->n_allowed_origins++], origin, sizeof origin);
    return 0;
}

static int add_proxy(struct config *c, const char *tok)
{
    struct cidr n;
    if (net_parse_cidr(tok, &n) != 0)
        return -1;
    if (c->n_trusted_proxies >= CONFIG_MAX_PROXIES)
        return -2;
    c->trusted_proxies[c->n_trusted_proxies++] = n;
    return 0;
}

/* Lists take one or more items per occurrence, separated by commas or blanks
 * (the environment can only give one string). */
static int set_list(struct config *c, const struct opt *o, const char *v, const char *who,
                    char *err, size_t errsz, const char *expected)
{
    int (*add)(struct config *, const char *) = o->type == T_ORIGINS ? add_origin : add_proxy;
    int max = o->type == T_ORIGINS ? CONFIG_MAX_ORIGINS : CONFIG_MAX_PROXIES;
    static const char seps[] = ", \t\r\n";
    int items = 0;
    const char *p = v;
    for (;;) {
        p += strspn(p, seps);
        if (!*p)
            break;
        size_t n = strcspn(p, seps);
        char tok[300];
        if (n >= sizeof tok)
            return fail_value(err, errsz, who, expected, p);
        memcpy(tok, p, n);
        tok[n] = '\0';
        int rc = add(c, tok);
        if (rc == -2)
            return fail(err, errsz, who, "at most %d values allowed", max);
        if (rc != 0)
            return fail_value(err, errsz, who, expected, tok);
        items++;
        p += n;
    }
    if (items == 0)
        return fail_value(err, errsz, who, expected, v);
    return 0;
}

/* One --trust-issuer per occurrence; the environment holds several
 * separated by ';' (a blank-separated spec cannot use blanks between specs). */
static int set_trust(struct config *c, const char *v, const char *who, char *err, size_t errsz)
{
    int items = 0;
    const char *p = v;
    while (*p) {
        size_t n = strcspn(p, ";");
        char spec[TRUST_ISSUER_MAX + TRUST_URL_MAX + TRUST_AUD_MAX + 2 * TRUST_CLAIM_MAX + 64];
        if (n >= sizeof spec)
            return fail(err, errsz, who, "a trusted issuer's spec is too long");
        memcpy(spec, p, n);
        spec[n] = '\0';
        p += n + (p[n] == ';');
        if (!spec[strspn(spec, " \t\r\n")])
            continue; /* "a;;b" or a trailing ';' */
        if (c->n_trust_issuers >= CONFIG_MAX_TRUST)
            return fail(err, errsz, who, "at most %d values allowed", CONFIG_MAX_TRUST);
        char why[200];
        if (trust_issuer_parse(spec, &c->trust_issuers[c->n_trust_issuers], why, sizeof why))
            return fail(err, errsz, who, "%s", why);
        for (int i = 0; i < c->n_trust_issuers; i++)
            if (!strcmp(c->trust_issuers[i].issuer, c->trust_issuers[c->n_trust_issuers].issuer))
                return fail(err, errsz, who, "an issuer is trusted twice");
        c->n_trust_issuers++;
        items++;
    }
    if (items == 0)
        return fail(err, errsz, who, "expected 'ISSUER jwks=URL aud=AUDIENCE …', got nothing");
    return 0;
}

static void list_clear(struct config *c, const struct opt *o)
{
    if (o->type == T_TRUST)
        c->n_trust_issuers = 0;
    if (o->type == T_ORIGINS)
        c->n_allowed_origins = 0;
    else if (o->type == T_CIDRS)
        c->n_trusted_proxies = 0;
}

/* Parses v for option o into c. who names the source in messages
 * ("--access-ttl" or "QRLOGIN_ACCESS_TTL (--access-ttl)"). */
static int opt_set(struct config *c, const struct opt *o, const char *v, const char *who,
                   char *err, size_t errsz)
{
    char ebuf[128];
    const char *expected = expected_text(o, ebuf, sizeof ebuf);
    int rc = -1;
    switch (o->type) {
    case T_LISTEN:
        rc = set_listen(c, v);
        break;
    case T_URL:
        rc = set_url(field(c, o), o->size, v);
        break;
    case T_STORE:
        rc = set_store(field(c, o), o->size, v);
        break;
    case T_PATH:
        rc = set_path(field(c, o), o->size, v);
        break;
    case T_STRING:
        rc = set_string(field(c, o), o->size, v);
        break;
    case T_SECONDS:
    case T_COUNT:
    case T_BYTES:
        rc = set_int(c, o, v);
        break;
    case T_FLAG: {
        bool b;
        rc = parse_bool_word(v, &b);
        if (rc == 0)
            *(bool *)field(c, o) = b;
        break;
    }
    case T_ENUM:
        rc = set_enum(c, o, v);
        break;
    case T_ORIGINS:
    case T_CIDRS:
        return set_list(c, o, v, who, err, errsz, expected);
    case T_TRUST:
        return set_trust(c, v, who, err, errsz);
    }
    return rc == 0 ? 0 : fail_value(err, errsz, who, expected, v);
}

/* ---- the three sources ---- */

static int apply_defaults(struct config *c, char *err, size_t errsz)
{
    for (size_t i = 0; i < N_OPTS; i++) {
        char who[64];
        snprintf(who, sizeof who, "default of --%s", opts[i].name);
        if (opts[i].dflt && opt_set(c, &opts[i], opts[i].dflt, who, err, errsz) != 0)
            return -1;
    }
    return 0;
}

/* An empty variable counts as unset: compose files and shells often export
 * VAR= to mean "nothing". */
static int apply_env(struct config *c, enum source *src, char *err, size_t errsz)
{
    for (size_t i = 0; i < N_OPTS; i++) {
        char name[64], who[128];
        env_name(&opts[i], name, sizeof name);
        const char *v = getenv(name);
        if (!v || !*v)
            continue;
        snprintf(who, sizeof who, "%s (--%s)", name, opts[i].name);
        if (opt_set(c, &opts[i], v, who, err, errsz) != 0)
            return -1;
        src[i] = SRC_ENV;
    }
    return 0;
}

static bool is_help(const char *a) { return !strcmp(a, "--help") || !strcmp(a, "-h"); }

static bool takes_value(const struct opt *o) { return o->type != T_FLAG; }

/* Walks argv the way apply_argv does, without validating, to find --help in an
 * option position: "--client-id --help" asks for help, "--client-id=--help"
 * does not. */
static bool argv_wants_help(int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--"))
            return false;
        if (is_help(a))
            return true;
        if (strncmp(a, "--", 2) != 0 || strchr(a, '='))
            continue;
        const struct opt *o = opt_find(a + 2, strlen(a + 2));
        if (o && takes_value(o) && i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0)
            i++;
    }
    return false;
}

static int add_positional(const char *word, const char **positional, int *n_positional,
                          char *err, size_t errsz)
{
    if (!positional || !n_positional)
        return fail(err, errsz, "command line", "unexpected argument (no arguments are taken)");
    if (*n_positional >= MAX_POSITIONAL)
        return fail(err, errsz, "command line", "at most %d arguments besides options",
                    MAX_POSITIONAL);
    positional[(*n_positional)++] = word;
    return 0;
}

static int apply_argv(struct config *c, int argc, char **argv, enum source *src,
                      const char **positional, int *n_positional, char *err, size_t errsz)
{
    bool options_done = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (options_done || a[0] != '-' || !strcmp(a, "-")) {
            if (add_positional(a, positional, n_positional, err, errsz) != 0)
                return -1;
            continue;
        }
        if (!strcmp(a, "--")) {
            options_done = true;
            continue;
        }
        char q[80];
        quote_value(a, q, sizeof q);
        if (a[1] != '-')
            return fail(err, errsz, q, "unknown option (see --help)");
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const struct opt *o = opt_find(name, nlen);
        if (!o) {
            if (eq) /* name the option, not its value */
                q[(size_t)(eq - a) < sizeof q - 1 ? (size_t)(eq - a) : sizeof q - 1] = '\0';
            return fail(err, errsz, q, "unknown option (see --help)");
        }
        char who[64];
        snprintf(who, sizeof who, "--%s", o->name);
        const char *v;
        if (!takes_value(o)) {
            if (eq)
                return fail(err, errsz, who, "is a flag and takes no value");
            v = "1";
        } else if (eq) {
            v = eq + 1;
        } else if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
            v = argv[++i];
        } else {
            char ebuf[128];
            return fail(err, errsz, who, "expected %s, got nothing",
                        expected_text(o, ebuf, sizeof ebuf));
        }
        size_t idx = (size_t)(o - opts);
        if (src[idx] != SRC_ARGV)
            list_clear(c, o);
        if (opt_set(c, o, v, who, err, errsz) != 0)
            return -1;
        src[idx] = SRC_ARGV;
    }
    return 0;
}

/* ---- derived values ---- */

static bool is_wildcard_host(const char *h) { return !strcmp(h, "0.0.0.0") || !strcmp(h, "::"); }

/* The address a phone on the same network can reach: the first IPv4 of an
 * interface that is up and not loopback. */
static void first_lan_ipv4(char *out, size_t outsz)
{
    struct ifaddrs *ifs = NULL;
    snprintf(out, outsz, "127.0.0.1");
    if (getifaddrs(&ifs) != 0)
        return;
    for (struct ifaddrs *it = ifs; it; it = it->ifa_next) {
        if (!it->ifa_addr || it->ifa_addr->sa_family != AF_INET)
            continue;
        if (!(it->ifa_flags & IFF_UP) || (it->ifa_flags & IFF_LOOPBACK))
            continue;
        const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)it->ifa_addr;
        if ((ntohl(sin->sin_addr.s_addr) >> 24) == 127)
            continue;
        if (inet_ntop(AF_INET, &sin->sin_addr, out, (socklen_t)outsz))
            break;
        snprintf(out, outsz, "127.0.0.1");
    }
    freeifaddrs(ifs);
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* When the listen address is a specific one, that is where clients must come:
 * a LAN address would point at a socket nobody listens on. Only a wildcard
 * bind gets the first non-loopback IPv4. */
static int derive_public_url(struct config *c)
{
    if (c->public_url[0])
        return 0;
    bool tls = c->tls_cert[0] && c->tls_key[0];
    char host[sizeof c->listen_host + 2]; /* room for [brackets] */
    if (is_wildcard_host(c->listen_host))
        first_lan_ipv4(host, sizeof host);
    else if (strchr(c->listen_host, ':'))
        snprintf(host, sizeof host, "[%s]", c->listen_host);
    else
        snprintf(host, sizeof host, "%s", c->listen_host);
    int n = snprintf(c->public_url, sizeof c->public_url, "%s://%s:%d", tls ? "https" : "http",
                     host, c->listen_port);
    return n < 0 || (size_t)n >= sizeof c->public_url ? -1 : 0;
}

/* --trust-file: each line that is not blank or a '#' comment is one spec,
 * added to those of --trust-issuer. Read once, at start. */
static int load_trust_file(struct config *c, char *err, size_t errsz)
{
    FILE *f = fopen(c->trust_file, "re");
    if (!f)
        return fail(err, errsz, "--trust-file", "cannot open '%s': %s", c->trust_file,
                    strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode) || st.st_size > 1024 * 1024) {
        fclose(f); /* a FIFO or a device could block start-up or never end */
        return fail(err, errsz, "--trust-file", "'%s' is not a regular file of at most 1 MiB",
                    c->trust_file);
    }
    char line[2048], who[64];
    int rc = 0, lineno = 0;
    while (!rc && fgets(line, sizeof line, f)) {
        lineno++;
        size_t n = strcspn(line, "\r\n");
        if (line[n] == '\0' && !feof(f)) {
            rc = fail(err, errsz, "--trust-file", "line %d is longer than %zu bytes", lineno,
                      sizeof line - 2);
            break;
        }
        line[n] = '\0';
        const char *p = line + strspn(line, " \t");
        if (!*p || *p == '#')
            continue;
        snprintf(who, sizeof who, "--trust-file line %d", lineno);
        rc = set_trust(c, p, who, err, errsz);
    }
    fclose(f);
    return rc;
}

static int derive(struct config *c, char *err, size_t errsz)
{
    if (c->trust_file[0] && load_trust_file(c, err, errsz))
        return -1;
    if (!c->tls_cert[0] != !c->tls_key[0])
        return fail(err, errsz, c->tls_cert[0] ? "--tls-cert" : "--tls-key",
                    "needs %s as well (HTTPS takes both)",
                    c->tls_cert[0] ? "--tls-key FILE" : "--tls-cert FILE");
    if (!c->keys_dir[0]) {
        int n = snprintf(c->keys_dir, sizeof c->keys_dir, "%s/keys",
                         strcmp(c->data_dir, "/") ? c->data_dir : "");
        if (n < 0 || (size_t)n >= sizeof c->keys_dir)
            return fail(err, errsz, "--data-dir", "too long to hold keys/ (at most %d bytes)",
                        (int)sizeof c->keys_dir - 6);
    }
    if (!c->store_url[0]) {
        int n = snprintf(c->store_url, sizeof c->store_url, "sqlite:%s/qrlogin.db",
                         strcmp(c->data_dir, "/") ? c->data_dir : "");
        if (n < 0 || (size_t)n >= sizeof c->store_url)
            return fail(err, errsz, "--data-dir", "too long to hold qrlogin.db (at most %d bytes)",
                        (int)sizeof c->store_url - 19);
    }
    if (derive_public_url(c) != 0)
        return fail(err, errsz, "--listen",
                    "host too long to make a public URL; give --public-url");
    if (!c->audience[0] && copy_text(c->audience, sizeof c->audience, c->public_url) != 0)
        return fail(err, errsz, "--audience", "public URL too long to serve as audience");
    if (c->n_allowed_origins == 0) {
        if (net_url_origin(c->public_url, c->allowed_origins[0],
                              sizeof c->allowed_origins[0]) != 0)
            return fail(err, errsz, "--allowed-origin",
                        "could not derive one from the public URL; give it");
        c->n_allowed_origins = 1;
    }
    if (!c->web_root[0])
        snprintf(c->web_root, sizeof c->web_root, "%s",
                 is_dir(QRLOGIN_SOURCE_WEB_ROOT) ? QRLOGIN_SOURCE_WEB_ROOT
                                                 : QRLOGIN_INSTALL_WEB_ROOT);
    /* Each process would open the same SQLite file and keep its own tickets,
     * so a PC's ticket confirmed through another process would never reach
     * it: only the Redis store is shared between processes. */
    c->cluster = !strncmp(c->store_url, "redis://", 8);
    if (c->workers > 1 && !c->cluster)
        return fail(err, errsz, "--workers",
                    "more than 1 needs --store redis://... (each process would open the same "
                    "SQLite file and keep its own tickets; only the Redis store is shared)");
    if (c->threads == 0) {
        /* The CPUs are shared by every process: ceil(cpus / workers) each,
         * at least one, so signing never waits for an idle CPU in another
         * process and the pools together do not exceed the CPUs by more
         * than workers - 1 threads. */
        int n = config_cpus_available();
        n = (n + c->workers - 1) / c->workers;
        c->threads = n > 256 ? 256 : n;
    }
    return 0;
}

enum config_rc config_load(struct config *c, int argc, char **argv, const char **positional,
                           int *n_positional, char *err, size_t errsz)
{
    char scratch[256];
    if (!err || errsz == 0) {
        err = scratch;
        errsz = sizeof scratch;
    }
    err[0] = '\0';
    if (n_positional)
        *n_positional = 0;
    if (argc < 0 || (argc > 0 && !argv))
        argc = 0;
    memset(c, 0, sizeof *c);
    enum source src[N_OPTS] = {0};
    if (apply_defaults(c, err, errsz) != 0)
        return CONFIG_BAD;
    if (argv_wants_help(argc, argv))
        return CONFIG_HELP;
    if (apply_env(c, src, err, errsz) != 0 ||
        apply_argv(c, argc, argv, src, positional, n_positional, err, errsz) != 0 ||
        derive(c, err, errsz) != 0)
        return CONFIG_BAD;
    return CONFIG_OK;
}

/* ---- --help ---- */

static void print_bounds(FILE *f, const struct opt *o)
{
    if (o->type == T_SECONDS || o->type == T_COUNT || o->type == T_BYTES)
        fprintf(f, "; %lld..%lld", o->min, o->max);
    else if (o->type == T_LISTEN)
        fprintf(f, "; port 1..65535");
    else if (o->type == T_ORIGINS)
        fprintf(f, "; at most %d", CONFIG_MAX_ORIGINS);
    else if (o->type == T_CIDRS)
        fprintf(f, "; at most %d", CONFIG_MAX_PROXIES);
    else if (o->type == T_TRUST)
        fprintf(f, "; at most %d", CONFIG_MAX_TRUST);
}

void config_print_help(FILE *f)
{
    fprintf(f,
            "Usage:\n"
            "  qrlogin-broker serve   [options]        run the broker (also what a bare\n"
            "                                          `qrlogin-broker` does)\n"
            "  qrlogin-broker useradd [options] NAME   add a user; password from stdin (one "
            "line)\n"
            "                                          or a prompt on a tty\n"
            "  qrlogin-broker keygen  [options]        make a new ES256 signing key current;\n"
            "                                          old ones stay published\n"
            "\n"
            "Options (each also read from the environment variable shown; the command line\n"
            "wins over the environment). --opt VALUE and --opt=VALUE both work.\n");
    for (size_t i = 0; i < N_OPTS; i++) {
        const struct opt *o = &opts[i];
        char env[64];
        env_name(o, env, sizeof env);
        if (o->metavar)
            fprintf(f, "  --%s %s  [%s]\n", o->name, o->metavar, env);
        else
            fprintf(f, "  --%s  [%s=1|0]\n", o->name, env);
        fprintf(f, "        %s\n        default: %s", o->help, o->dflt ? o->dflt : o->dflt_doc);
        print_bounds(f, o);
        fputc('\n', f);
    }
    fprintf(f, "  -h, --help\n        this text\n");
}

/* ---- CPUs ---- */

/* cgroup v2 "cpu.max" is "<quota> <period>" or "max <period>"; a quota of
 * 150000/100000 lets us keep 2 CPUs busy part of the time, so round up.
 * Returns 0 when there is no limit or the file is absent or odd. */
static int cgroup_cpu_limit(void)
{
    FILE *f = fopen(CPU_MAX_PATH, "re");
    if (!f)
        return 0;
    char line[128];
    int limit = 0;
    if (fgets(line, sizeof line, f) && strncmp(line, "max", 3) != 0) {
        long long quota, period;
        if (sscanf(line, "%lld %lld", &quota, &period) == 2 && quota > 0 && period > 0) {
            long long n = (quota + period - 1) / period;
            limit = n > INT_MAX ? INT_MAX : (int)n;
        }
    }
    fclose(f);
    return limit;
}

int config_cpus_available(void)
{
    int n = 0;
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        n = CPU_COUNT(&set);
    if (n < 1) {
        long s = sysconf(_SC_NPROCESSORS_ONLN);
        n = s > 0 && s < INT_MAX ? (int)s : 1;
    }
    int limit = cgroup_cpu_limit();
    if (limit > 0 && limit < n)
        n = limit;
    return n < 1 ? 1 : n;
}
