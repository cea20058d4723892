/* redis_link.c — see redis_link.h.
 *
 * Glue (docs/architecture.md, L2): hiredis owns the socket, lws polls a dup()
 * of it adopted as a raw file. POLLIN stays armed for good, so the only hooks
 * that do anything are addWrite (ask lws for one POLLOUT) and cleanup (hiredis
 * is about to close its fd: let go of the wsi).
 *
 * Every command goes through a `struct pending` wrapped around the caller's
 * callback. Unanswered ones sit on a FIFO list, oldest first, so a watchdog
 * can tell how long Redis has kept us waiting: hiredis 0.14 has no timeouts,
 * and a stopped Redis must turn into errors, never into silence.
 *
 * Every way a connection ends (read/write error, lws closing the wsi, the
 * watchdog, a handshake error, redis_link_free) goes through redisAsyncFree —
 * hiredis's or ours — which runs each pending callback with NULL and then the
 * cleanup hook, where link_lost logs, tells the owner and plans the retry. */
#include "redis_link.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <mbedtls/platform_util.h>
#include <mbedtls/sha1.h>

#include "clock.h"
#include "log.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000
#define WATCHDOG_MS 500
#define REASON_MAX 160

/* ---- URL ---------------------------------------------------------------- */

static int url_err(struct redis_target *t, char *err, size_t errsz, const char *msg)
{
    mbedtls_platform_zeroize(t, sizeof *t); /* it may hold half a password */
    if (err && errsz)
        snprintf(err, errsz, "redis url: %s", msg);
    return -1;
}

static int hexval(char c)
{
    if (!isxdigit((unsigned char)c))
        return -1;
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* s[0..n) into out with %XX decoded; -1 on a bad escape, %00 or no room. */
static int pct_decode(const char *s, size_t n, char *out, size_t outsz)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            int hi = n - i >= 3 ? hexval(s[i + 1]) : -1, lo = n - i >= 3 ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi | lo) == 0)
                return -1;
            c = hi * 16 + lo;
            i += 2;
        }
        if (o + 1 >= outsz)
            return -1;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return 0;
}

/* Decimal digits only, at least one, value <= max. */
static int parse_num(const char *s, size_t n, long max, int *out)
{
    long v = 0;
    if (n == 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9' || (v = v * 10 + (s[i] - '0')) > max)
            return -1;
    }
    *out = (int)v;
    return 0;
}

/* Host: a name or IPv4 literal, or [IPv6]. Returns the end or NULL. */
static const char *parse_host(const char *p, struct redis_target *t)
{
    const char *start = p, *end;
    if (*p == '[') {
        start = p + 1;
        if (!(end = strchr(start, ']')))
            return NULL;
        p = end + 1;
    } else {
        end = p = p + strcspn(p, ":/");
    }
    size_t n = (size_t)(end - start);
    if (n == 0 || n >= sizeof t->host)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)start[i] <= ' ' || strchr("[]?#@\x7f", start[i]))
            return NULL;
    memcpy(t->host, start, n);
    t->host[n] = '\0';
    return p;
}

/* Error messages never quote a component: without its '@' a password lands in
 * the host or port field. A userinfo without ':' is a password (redis-cli). */
int redis_url_parse(const char *url, struct redis_target *t, char *err, size_t errsz)
{
    memset(t, 0, sizeof *t);
    t->port = 6379;
    if (url && !strncmp(url, "rediss://", 9))
        return url_err(t, err, errsz,
                       "rediss:// (TLS) is not supported: hiredis 0.14 has no TLS; keep Redis "
                       "on a private network, or tunnel it (stunnel, spiped) and use redis://");
    if (!url || strncmp(url, "redis://", 8))
        return url_err(t, err, errsz, "expected redis://[[user]:password@]host[:port][/db]");
    const char *p = url + 8, *at = strrchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p)), *pw = colon ? colon + 1 : p;
        if (colon && pct_decode(p, (size_t)(colon - p), t->user, sizeof t->user))
            return url_err(t, err, errsz, "bad user (bad %-escape or too long)");
        if (pct_decode(pw, (size_t)(at - pw), t->password, sizeof t->password))
            return url_err(t, err, errsz, "bad password (bad %-escape or too long)");
        p = at + 1;
    }
    if (!(p = parse_host(p, t)))
        return url_err(t, err, errsz, "missing or bad host");
    if (*p == ':') {
        size_t n = strcspn(++p, "/");
        if (parse_num(p, n, 65535, &t->port) || t->port == 0)
            return url_err(t, err, errsz, "bad port (expected 1-65535)");
        p += n;
    }
    if (*p == '/') {
        size_t n = strlen(++p);
        if (n && parse_num(p, n, 0x7fffffff, &t->db))
            return url_err(t, err, errsz, "bad db (expected a number: /0, /1, ...)");
        p += n;
    }
    if (*p)
        return url_err(t, err, errsz, "unexpected text after the host");
    const char *env = getenv("QRLOGIN_REDIS_PASSWORD");
    if (!t->password[0] && env && snprintf(t->password, sizeof t->password, "%s", env) >=
                                      (int)sizeof t->password)
        return url_err(t, err, errsz, "QRLOGIN_REDIS_PASSWORD too long");
    if (t->user[0] && !t->password[0])
        return url_err(t, err, errsz, "a user needs a password");
    return 0;
}

void redis_target_describe(const struct redis_target *t, char *out, size_t outsz)
{
    snprintf(out, outsz, strchr(t->host, ':') ? "[%s]:%d/%d" : "%s:%d/%d", t->host, t->port,
             t->db);
}

/* ---- the link ----------------------------------------------------------- */

/* One command waiting for its reply, or one subscription. */
struct pending {
    struct lws_dll2 list; /* on l->waiting, then (subscriptions) on l->subs */
    struct redis_link *l;
    redisCallbackFn *cb;
    void *priv;
    int64_t sent_ms;
    char *channel;        /* subscriptions only */
};

struct redis_link {
    struct redis_target t;
    char name[32];
    char desc[300];
    redis_link_state_cb on_state;
    void *arg;
    struct redis_script **scripts;
    int nscripts;

    struct lws_context *ctx;
    struct lws_vhost *vh;
    redisAsyncContext *ac; /* NULL between connections */
    struct lws *wsi;       /* watches a dup() of ac's fd */
    bool up;
    bool stopping;         /* in redis_link_free: no retry, no state callback */
    bool reported_down;    /* "down" logged since the last "up" */
    char drop_reason[REASON_MAX]; /* set while we drop it ourselves */
    enum log_level drop_level;
    char last_reason[REASON_MAX]; /* last reason logged, to log changes only */
    int64_t attempt_ms;
    int backoff_ms;
    lws_dll2_owner_t waiting; /* sent, no reply yet: oldest first */
    lws_dll2_owner_t subs;    /* confirmed subscriptions */
    lws_sorted_usec_list_t retry_sul, watchdog_sul;
};

static int64_t now_ms(void) { return clock_mono_us() / 1000; }

static void connect_now(struct redis_link *l);
static void watchdog_arm(struct redis_link *l);

static void retry_cb(lws_sorted_usec_list_t *sul)
{
    connect_now(lws_container_of(sul, struct redis_link, retry_sul));
}

/* The connection is gone (all its callbacks have had their NULL). */
static void link_lost(struct redis_link *l, enum log_level level, const char *reason)
{
    bool was_up = l->up;
    l->up = false;
    l->drop_reason[0] = '\0';
    lws_sul_cancel(&l->watchdog_sul);
    if (l->stopping) {
        log_debug("redis %s (%s): closed", l->name, l->desc);
        return;
    }
    if (was_up || !l->reported_down)
        log_write(was_up ? QLOG_WARN : level, "redis %s (%s): down: %s", l->name, l->desc, reason);
    else if (strcmp(reason, l->last_reason))
        log_write(level, "redis %s (%s): still down: %s", l->name, l->desc, reason);
    else
        log_debug("redis %s (%s): attempt failed: %s", l->name, l->desc, reason);
    l->reported_down = true;
    snprintf(l->last_reason, sizeof l->last_reason, "%s", reason);
    lws_sul_schedule(l->ctx, 0, &l->retry_sul, retry_cb, l->backoff_ms * LWS_US_PER_MS);
    l->backoff_ms = l->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : l->backoff_ms * 2;
    if (was_up && l->on_state)
        l->on_state(l, false, l->arg);
}

/* Ends the connection now, or — inside one of its reply callbacks — as soon
 * as that callback returns (hiredis defers redisAsyncFree there). */
static void link_drop(struct redis_link *l, enum log_level level, const char *fmt, ...)
{
    if (!l->ac || l->drop_reason[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->drop_reason, sizeof l->drop_reason, fmt, ap);
    va_end(ap);
    l->drop_level = level;
    redisAsyncFree(l->ac);
}

/* hiredis hooks: ev.data is the link. */
static void ev_add_write(void *data)
{
    struct redis_link *l = data;
    if (l->wsi)
        lws_callback_on_writable(l->wsi);
}

static void ev_cleanup(void *data)
{
    struct redis_link *l = data;
    redisAsyncContext *ac = l->ac;
    if (!ac)
        return;
    l->ac = NULL;
    ac->ev.addWrite = NULL;
    ac->ev.cleanup = NULL;
    if (l->wsi) { /* hiredis closes its fd; ours goes with the wsi, later */
        lws_set_opaque_user_data(l->wsi, NULL);
        lws_set_timeout(l->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        l->wsi = NULL;
    }
    char reason[REASON_MAX];
    enum log_level level = l->drop_reason[0] ? l->drop_level : QLOG_WARN;
    snprintf(reason, sizeof reason, "%s",
             l->drop_reason[0] ? l->drop_reason : ac->err ? ac->errstr : "connection closed");
    link_lost(l, level, reason);
}

/* Every reply, ours and the callers', comes through here. */
static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct pending *p = privdata;
    bool keep = p->channel && reply; /* a subscription lives as long as its connection */
    lws_dll2_remove(&p->list);
    if (keep)
        lws_dll2_add_tail(&p->list, &p->l->subs);
    if (p->cb)
        p->cb(ac, reply, p->priv);
    if (!keep) {
        free(p->channel);
        free(p);
    }
}

static int link_send(struct redis_link *l, redisCallbackFn *cb, void *priv, const char *channel,
                     int argc, const char **argv, const size_t *argvlen)
{
    struct pending *p = calloc(1, sizeof *p);
    if (!p || (channel && !(p->channel = strdup(channel)))) {
        free(p);
        return -1;
    }
    p->l = l;
    p->cb = cb;
    p->priv = priv;
    p->sent_ms = now_ms();
    if (redisAsyncCommandArgv(l->ac, on_reply, p, argc, argv, argvlen) != REDIS_OK) {
        free(p->channel);
        free(p);
        return -1;
    }
    lws_dll2_add_tail(&p->list, &l->waiting);
    watchdog_arm(l);
    return 0;
}

/* ---- watchdog ----------------------------------------------------------- */

static void watchdog_cb(lws_sorted_usec_list_t *sul)
{
    struct redis_link *l = lws_container_of(sul, struct redis_link, watchdog_sul);
    struct lws_dll2 *oldest = l->waiting.head;
    int64_t now = now_ms();
    if (!l->ac)
        return;
    if (!l->up && now - l->attempt_ms >= REDIS_LINK_TIMEOUT_MS)
        link_drop(l, QLOG_WARN, "no connection after %d ms", REDIS_LINK_TIMEOUT_MS);
    else if (oldest && now - lws_container_of(oldest, struct pending, list)->sent_ms >=
                           REDIS_LINK_TIMEOUT_MS)
        link_drop(l, QLOG_WARN, "no reply for %d ms", REDIS_LINK_TIMEOUT_MS);
    else
        watchdog_arm(l);
}

/* Ticks while connecting or while anything waits; an idle up link costs nothing. */
static void watchdog_arm(struct redis_link *l)
{
    if (l->ac && (!l->up || l->waiting.head) && lws_dll2_is_detached(&l->watchdog_sul.list))
        lws_sul_schedule(l->ctx, 0, &l->watchdog_sul, watchdog_cb, WATCHDOG_MS * LWS_US_PER_MS);
}

/* ---- handshake: AUTH, SELECT, SCRIPT LOAD…, PING ------------------------ */

/* False (and the connection dropped) on an error reply. NULL: being dropped. */
static bool hs_ok(redisAsyncContext *ac, redisReply *r, const char *what, enum log_level level)
{
    if (!r)
        return false;
    if (r->type != REDIS_REPLY_ERROR)
        return true;
    link_drop(ac->data, level, "%s failed: %s", what, r->str);
    return false;
}

/* AUTH, SELECT: priv is the command's name. Wrong password or db: an
 * operator must act, hence error level. */
static void on_step(redisAsyncContext *ac, void *reply, void *priv)
{
    hs_ok(ac, reply, priv, QLOG_ERROR);
}

static void on_script(redisAsyncContext *ac, void *reply, void *priv)
{
    const struct redis_script *s = priv;
    redisReply *r = reply;
    if (hs_ok(ac, r, "SCRIPT LOAD", QLOG_ERROR) &&
        (r->type != REDIS_REPLY_STRING || strcmp(r->str, s->sha)))
        link_drop(ac->data, QLOG_ERROR, "SCRIPT LOAD %s: unexpected sha", s->name);
}

static void on_ping(redisAsyncContext *ac, void *reply, void *priv)
{
    struct redis_link *l = ac->data;
    if (!hs_ok(ac, reply, "PING", QLOG_WARN) || l->drop_reason[0])
        return;
    l->up = true;
    l->backoff_ms = BACKOFF_MIN_MS;
    l->reported_down = false;
    l->last_reason[0] = '\0';
    log_info("redis %s (%s): up", l->name, l->desc);
    if (l->on_state)
        l->on_state(l, true, l->arg);
}

/* Queued at once: hiredis buffers them until the socket connects. */
static int handshake(struct redis_link *l)
{
    const char *argv[3];
    char db[16];
    int n = 0;
    if (l->t.password[0]) {
        argv[n++] = "AUTH";
        if (l->t.user[0])
            argv[n++] = l->t.user;
        argv[n++] = l->t.password;
        if (link_send(l, on_step, "AUTH", NULL, n, argv, NULL))
            return -1;
    }
    if (l->t.db) {
        snprintf(db, sizeof db, "%d", l->t.db);
        if (link_send(l, on_step, "SELECT", NULL, 2, (const char *[]){"SELECT", db}, NULL))
            return -1;
    }
    for (int i = 0; i < l->nscripts; i++) {
        const char *load[3] = {"SCRIPT", "LOAD", l->scripts[i]->lua};
        if (link_send(l, on_script, l->scripts[i], NULL, 3, load, NULL))
            return -1;
    }
    return link_send(l, on_ping, NULL, NULL, 1, (const char *[]){"PING"}, NULL);
}

static void connect_now(struct redis_link *l)
{
    l->attempt_ms = now_ms();
    redisAsyncContext *ac = redisAsyncConnect(l->t.host, l->t.port);
    if (!ac || ac->err) {
        char reason[REASON_MAX];
        snprintf(reason, sizeof reason, "%s", ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        link_lost(l, QLOG_WARN, reason);
        return;
    }
    /* A dup: closing a raw-file wsi closes its fd, and hiredis closes its own. */
    int fd = fcntl(ac->c.fd, F_DUPFD_CLOEXEC, 0);
    struct lws *wsi = NULL;
    if (fd >= 0) {
        lws_adopt_desc_t d = {.vh = l->vh, .type = LWS_ADOPT_RAW_FILE_DESC, .fd.filefd = fd,
                              .vh_prot_name = REDIS_LINK_PROTOCOL, .opaque = l};
        if (!(wsi = lws_adopt_descriptor_vhost_via_info(&d)))
            close(fd); /* lws closes only sockets when adoption fails */
    }
    if (!wsi) {
        redisAsyncFree(ac);
        link_lost(l, QLOG_ERROR, fd < 0 ? "dup() failed" : "lws could not adopt the socket");
        return;
    }
    l->ac = ac;
    l->wsi = wsi;
    ac->data = l;
    ac->ev.data = l;
    ac->ev.addWrite = ev_add_write;
    ac->ev.cleanup = ev_cleanup;
    if (handshake(l))
        link_drop(l, QLOG_ERROR, "out of memory");
    else
        watchdog_arm(l);
}

/* ---- lws side ----------------------------------------------------------- */

int redis_link_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                            void *in, size_t len)
{
    if (reason != LWS_CALLBACK_RAW_RX_FILE && reason != LWS_CALLBACK_RAW_WRITEABLE_FILE &&
        reason != LWS_CALLBACK_RAW_CLOSE_FILE)
        return 0; /* stand-in wsis (EVENT_WAIT_CANCELLED…) carry no opaque pointer */
    struct redis_link *l = lws_get_opaque_user_data(wsi);
    bool live = l && l->wsi == wsi && l->ac;
    switch (reason) {
    case LWS_CALLBACK_RAW_RX_FILE:
        if (!live)
            return -1; /* left over from a dropped connection: close it */
        redisAsyncHandleRead(l->ac);
        return 0;
    case LWS_CALLBACK_RAW_WRITEABLE_FILE:
        if (!live)
            return -1;
        redisAsyncHandleWrite(l->ac);
        return 0;
    case LWS_CALLBACK_RAW_CLOSE_FILE:
        if (!l || l->wsi != wsi)
            return 0;
        /* Detach first: the cleanup hook must leave a closing wsi alone. */
        lws_set_opaque_user_data(wsi, NULL);
        l->wsi = NULL;
        link_drop(l, QLOG_WARN, "socket closed");
        return 0;
    default:
        return 0;
    }
}

/* ---- API ---------------------------------------------------------------- */

struct redis_link *redis_link_new(const struct redis_target *t, const char *name,
                                  redis_link_state_cb on_state, void *arg)
{
    struct redis_link *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->t = *t;
    snprintf(l->name, sizeof l->name, "%s", name ? name : "link");
    redis_target_describe(t, l->desc, sizeof l->desc);
    l->on_state = on_state;
    l->arg = arg;
    l->backoff_ms = BACKOFF_MIN_MS;
    return l;
}

void redis_link_add_script(struct redis_link *l, struct redis_script *s)
{
    unsigned char h[20];
    mbedtls_sha1_ret((const unsigned char *)s->lua, strlen(s->lua), h);
    for (int i = 0; i < 20; i++)
        snprintf(s->sha + 2 * i, 3, "%02x", h[i]);
    struct redis_script **v = realloc(l->scripts, (size_t)(l->nscripts + 1) * sizeof *v);
    if (!v) {
        log_error("redis %s: out of memory adding script %s", l->name, s->name);
        return;
    }
    l->scripts = v;
    l->scripts[l->nscripts++] = s;
}

/* The timers need the context, and lws 4.1.6 has no vhost -> context call
 * (PROTOCOL_INIT, which sees both, may not have run yet: lws does it on the
 * loop's first turn). So adopt a throw-away eventfd on vh, ask its wsi, and
 * close it again at once; this also proves vh offers our protocol. */
static struct lws_context *vhost_context(struct lws_vhost *vh)
{
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0)
        return NULL;
    lws_adopt_desc_t d = {.vh = vh, .type = LWS_ADOPT_RAW_FILE_DESC, .fd.filefd = fd,
                          .vh_prot_name = REDIS_LINK_PROTOCOL};
    struct lws *wsi = lws_adopt_descriptor_vhost_via_info(&d);
    if (!wsi) {
        close(fd);
        return NULL;
    }
    struct lws_context *ctx = lws_get_context(wsi);
    lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC); /* closes fd */
    return ctx;
}

void redis_link_start(struct redis_link *l, struct lws_vhost *vh)
{
    if (l->vh) /* started already */
        return;
    if (!(l->ctx = vhost_context(vh))) {
        log_error("redis %s (%s): cannot start: does the vhost offer the %s protocol?",
                  l->name, l->desc, REDIS_LINK_PROTOCOL);
        return;
    }
    l->vh = vh;
    connect_now(l);
}

bool redis_link_up(const struct redis_link *l) { return l && l->up; }

/* Not from inside one of the link's own callbacks (reply or state): hiredis
 * would only defer the free while we free the link under it. */
void redis_link_free(struct redis_link *l)
{
    if (!l)
        return;
    l->stopping = true;
    lws_sul_cancel(&l->retry_sul);
    lws_sul_cancel(&l->watchdog_sul);
    link_drop(l, QLOG_DEBUG, "closed"); /* pending callbacks get NULL, the wsi is let go */
    free(l->scripts);
    mbedtls_platform_zeroize(&l->t, sizeof l->t);
    free(l);
}

int redis_link_cmd(struct redis_link *l, redisCallbackFn *cb, void *priv, int argc,
                   const char **argv, const size_t *argvlen)
{
    if (!l || !l->up || !l->ac || argc < 1)
        return -1;
    return link_send(l, cb, priv, NULL, argc, argv, argvlen);
}

int redis_link_eval(struct redis_link *l, const struct redis_script *s, redisCallbackFn *cb,
                    void *priv, int nkeys, int argc, const char **argv, const size_t *argvlen)
{
    if (!l || !l->up || nkeys < 0 || nkeys > argc || argc < 0)
        return -1;
    const char **v = malloc((size_t)(argc + 3) * sizeof *v);
    size_t *vl = malloc((size_t)(argc + 3) * sizeof *vl);
    char nk[16];
    int rc = -1;
    if (v && vl) {
        snprintf(nk, sizeof nk, "%d", nkeys);
        v[0] = "EVALSHA", v[1] = s->sha, v[2] = nk;
        for (int i = 0; i < 3; i++)
            vl[i] = strlen(v[i]);
        for (int i = 0; i < argc; i++) {
            v[i + 3] = argv[i];
            vl[i + 3] = argvlen ? argvlen[i] : strlen(argv[i]);
        }
        rc = redis_link_cmd(l, cb, priv, argc + 3, v, vl);
    }
    free(v);
    free(vl);
    return rc;
}

int redis_link_subscribe(struct redis_link *l, const char *channel, redisCallbackFn *cb,
                         void *priv)
{
    if (!l || !l->up || !l->ac)
        return -1;
    /* hiredis keeps one callback per channel: a second would silently replace
     * (and leak) the first. */
    for (lws_dll2_owner_t *o = &l->waiting; o; o = o == &l->waiting ? &l->subs : NULL)
        for (struct lws_dll2 *d = o->head; d; d = d->next) {
            const char *ch = lws_container_of(d, struct pending, list)->channel;
            if (ch && !strcmp(ch, channel))
                return -1;
        }
    return link_send(l, cb, priv, channel, 2, (const char *[]){"SUBSCRIBE", channel}, NULL);
}

bool redis_reply_ok(const redisReply *r) { return r && r->type != REDIS_REPLY_ERROR; }

int redis_reply_int64(const redisReply *r, long long *out)
{
    char *end = NULL;
    long long v = 0;
    if (r && r->type == REDIS_REPLY_INTEGER)
        v = r->integer;
    else if (r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) && r->len &&
             (r->str[0] == '-' || (r->str[0] >= '0' && r->str[0] <= '9'))) {
        errno = 0; /* strtoll alone would take spaces, '+' and trailing junk */
        v = strtoll(r->str, &end, 10);
        if (errno || end != r->str + r->len)
            return -1;
    } else
        return -1;
    *out = v;
    return 0;
}
