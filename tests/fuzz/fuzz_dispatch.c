/* fuzz_dispatch.c — libFuzzer target for the WebSocket message dispatcher
 * (broker/ws_dispatch.c and every handler behind it: tickets, auth, sessions,
 * the store, token signing and checking).
 *
 * Setup (once): the broker context as server.c builds it, minus lws: config
 * from argv, keys in a fresh temporary directory, an in-memory SQLite store
 * with one user, workers_start(0) so every job runs inline, the ticket
 * listener, and a frozen clock that only the input moves. broker.ctx stays
 * NULL (no timers are armed; the fuzzer plays the timer itself).
 *
 * One input = one socket's life:
 *   byte 0, bits 0-1  who the socket is:
 *                       0  anonymous
 *                       1  signed in to a session made at start-up (which
 *                          earlier inputs may have revoked)
 *                       2  signed in to a session made for this input
 *                       3  as 2, and the socket already holds a ticket
 *           bit 2     the rest is several messages separated by '\n' (at
 *                     most 8), else it is one message
 *           bits 3-5  how far the clock moves before each message (then the
 *                     ticket and grace timers run, as server.c's tick does)
 *           bit 6     the 1st, 3rd, 5th… message arrives while the socket is
 *                     over its message rate (ws_dispatch's rate_limited)
 *   the rest          the message(s). In them, $T becomes the socket's
 *                     latest ticket, and $A, $R, $S the access token,
 *                     refresh token and session id of this input's own
 *                     session, so that seeds can reach the deep paths
 *                     (scan/confirm, refresh rotation and reuse, revoke).
 * Then the socket closes as ws_conn.c closes it: hub_conn_free, then
 * tickets_cancel_pc.
 *
 * Checked: no crash, no leak, no sanitizer report; every queued message is a
 * JSON object starting with "type"; the queue bounds hold.
 * FUZZ_DISPATCH_TRACE=1 in the environment prints every message the socket
 * is sent (to see what a seed reaches). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "auth_limits.h"
#include "broker.h"
#include "clock.h"
#include "hub.h"
#include "log.h"
#include "password.h"
#include "rng.h"
#include "server.h"
#include "sessions.h"
#include "tickets.h"
#include "workers.h"
#include "ws_dispatch.h"
#include "fuzz_check.h"


#define MAX_MESSAGES 8
#define MSG_MAX 4096 /* docs/protocol.md §6: bigger frames never reach the dispatcher */

static const char fuzz_user[] = "fuzz";
static const char fuzz_password[] = "fuzz-password";
static char tmpdir[] = "/tmp/qrlogin-fuzz-dispatch-XXXXXX";
static char init_sid[SID_MAX];
static int64_t user_id;
static int trace; /* FUZZ_DISPATCH_TRACE=1: print what the socket is sent */

/* ---- set-up ---- */

static void on_user(void *arg, enum store_rc rc, const struct user_rec *u)
{
    struct user_rec *out = arg;
    out->id = 0;
    if (rc == STORE_OK)
        *out = *u;
}

struct issued_box {
    int done;
    enum api_err err;
    struct issued is;
};

static void on_issued(void *arg, enum api_err err, const struct issued *is, int64_t ra)
{
    struct issued_box *b = arg;
    (void)ra;
    b->done = 1;
    b->err = err;
    if (!err)
        b->is = *is;
}

/* A fresh "app" session of the fuzz user (inline: workers run synchronously
 * and SQLite completes before returning). 0 on success. */
static int new_session(struct issued *out)
{
    struct user_rec u;
    broker.store->ops->user_by_name(broker.store, fuzz_user, on_user, &u);
    CHECK(u.id == user_id);
    static struct issued_box b;
    memset(&b, 0, sizeof b);
    sessions_create(&u, "app", "198.51.100.7", "fuzz-phone/1.0", on_issued, &b);
    CHECK(b.done);
    if (b.err)
        return -1;
    *out = b.is;
    return 0;
}

static void cleanup_tmpdir(void)
{
    char cmd[sizeof tmpdir + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd)) {
        /* best effort */
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char err[512];
    trace = getenv("FUZZ_DISPATCH_TRACE") != NULL;
    CHECK(mkdtemp(tmpdir));
    atexit(cleanup_tmpdir);
    CHECK(rng_init() == 0);

    char *args[] = {"--data-dir", tmpdir, "--public-url", "http://127.0.0.1:1",
                    "--pbkdf2-iterations", "1000", "--log-level", "error"};
    enum config_rc rc = config_load(&broker.cfg, (int)(sizeof args / sizeof args[0]), args,
                                    NULL, NULL, err, sizeof err);
    if (rc != CONFIG_OK) {
        fprintf(stderr, "fuzz_dispatch: config: %s\n", err);
        abort();
    }
    log_set_level(QLOG_ERROR);
    broker_token_params_init();
    if (keys_load(broker.cfg.keys_dir, (enum jwt_alg)broker.cfg.access_alg, &broker.keys, err,
                  sizeof err)) {
        fprintf(stderr, "fuzz_dispatch: keys: %s\n", err);
        abort();
    }
    broker.store = store_open("sqlite::memory:", err, sizeof err);
    if (!broker.store) {
        fprintf(stderr, "fuzz_dispatch: store: %s\n", err);
        abort();
    }
    char hash[PASSWORD_HASH_MAX];
    CHECK(password_hash(fuzz_password, strlen(fuzz_password), broker.cfg.pbkdf2_iterations, hash,
                        sizeof hash) == 0);
    struct user_rec u = {0};
    broker.store->ops->user_create(broker.store, fuzz_user, hash, on_user, &u);
    CHECK(u.id > 0);
    user_id = u.id;

    CHECK(workers_start(0, NULL, NULL) == 0);
    server_wire_layers();

    /* Time moves only when an input says so: runs do not depend on how fast
     * the machine is. */
    clock_set_fake_ms(1700000000000LL);

    struct issued is;
    CHECK(new_session(&is) == 0);
    snprintf(init_sid, sizeof init_sid, "%s", is.sid);
    return 0;
}

/* ---- one input ---- */

struct ctx {
    struct conn *c;
    uint64_t id;
    struct out_msg *seen;  /* last queued message already checked */
    char ticket[TICKET_LEN + 1];
    int have_session;
    struct issued is;
};

/* Checks every message queued since the last call and remembers the
 * newest ticket id handed to the socket. */
static void scan_queue(struct ctx *x)
{
    struct conn *c = x->c;
    CHECK(c->q_count <= HUB_QUEUE_MAX_MSGS && c->q_bytes <= HUB_QUEUE_MAX_BYTES);
    struct out_msg *m;
    if (x->seen && !c->q_head)
        m = NULL; /* the queue was dropped (overflow): nothing new to see */
    else
        m = x->seen ? x->seen->next : c->q_head;
    for (; m; m = m->next) {
        const char *p = m->buf + LWS_PRE;
        CHECK(m->len >= 11 && !memcmp(p, "{\"type\":\"", 9) && p[m->len - 1] == '}');
        CHECK(memchr(p, '\0', m->len) == NULL);
        if (trace)
            fprintf(stderr, "conn %llu <- %.*s\n", (unsigned long long)x->id,
                    (int)(m->len > 300 ? 300 : m->len), p);
        if (m->len > 16 && !memcmp(p, "{\"type\":\"ticket\"", 16)) {
            const char *k = memmem(p, m->len, ",\"ticket\":\"", 11);
            CHECK(k && (size_t)(k - p) + 11 + TICKET_LEN < m->len);
            memcpy(x->ticket, k + 11, TICKET_LEN);
            x->ticket[TICKET_LEN] = '\0';
        }
        x->seen = m;
    }
}

/* Copies msg into out replacing the placeholders. Returns the length, or
 * -1 if the result is longer than a frame may be. */
static long substitute(struct ctx *x, const char *msg, size_t len, char *out, size_t outsz)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        const char *rep = NULL;
        if (msg[i] == '$' && i + 1 < len) {
            switch (msg[i + 1]) {
            case 'T': rep = x->ticket; break;
            case 'A': rep = x->have_session ? x->is.access : ""; break;
            case 'R': rep = x->have_session ? x->is.refresh : ""; break;
            case 'S': rep = x->have_session ? x->is.sid : ""; break;
            }
        }
        if (rep) {
            size_t n = strlen(rep);
            if (o + n > outsz)
                return -1;
            memcpy(out + o, rep, n);
            o += n;
            i++;
            continue;
        }
        if (o + 1 > outsz)
            return -1;
        out[o++] = msg[i];
    }
    return (long)o;
}

static void timers(void)
{
    int64_t now = clock_now_ms();
    tickets_expire_due(now);
    sessions_sweep_grace(now);
}

static void dispatch_one(struct ctx *x, const char *msg, size_t len, int64_t advance_ms,
                         bool rate_limited)
{
    static char buf[MSG_MAX];
    if (advance_ms) {
        clock_advance_ms(advance_ms);
        timers();
        scan_queue(x);
    }
    long n = substitute(x, msg, len, buf, sizeof buf);
    if (n < 0)
        return;
    ws_dispatch(x->c, buf, (size_t)n, rate_limited);
    scan_queue(x);
}

static const int64_t advances_ms[8] = {0, 1000, 6000, 11000, 31000, 61000, 301000, 901000};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 16384)
        return 0;
    const unsigned flags = data[0];
    const char *rest = (const char *)data + 1;
    size_t rest_len = size - 1;
    const int mode = flags & 3;
    const int64_t advance = advances_ms[(flags >> 3) & 7];
    const bool limited = flags & 0x40;

    static struct ctx x;
    memset(&x, 0, sizeof x);
    x.c = hub_conn_new(NULL);
    CHECK(x.c);
    x.id = x.c->id;
    hub_set_ip(x.c, "192.0.2.1");
    hub_set_user_agent(x.c, "fuzz-pc/1.0", strlen("fuzz-pc/1.0"));

    bool wants_session = mode >= 2 || memmem(rest, rest_len, "$A", 2) ||
                         memmem(rest, rest_len, "$R", 2) || memmem(rest, rest_len, "$S", 2);
    if (wants_session)
        x.have_session = new_session(&x.is) == 0;
    if (mode == 1) {
        hub_attach(x.c, user_id, fuzz_user, init_sid);
        hub_conn_changed(x.c);
    } else if (mode >= 2 && x.have_session) {
        hub_attach(x.c, user_id, fuzz_user, x.is.sid);
        hub_conn_changed(x.c);
    }
    if (mode == 3) {
        static const char tnew[] = "{\"type\":\"ticket.new\",\"client\":{\"name\":\"fuzz\"}}";
        dispatch_one(&x, tnew, sizeof tnew - 1, 0, false);
    }

    if (flags & 4) {
        size_t start = 0;
        int k = 0;
        for (size_t i = 0; i <= rest_len && k < MAX_MESSAGES; i++) {
            if (i < rest_len && rest[i] != '\n')
                continue;
            dispatch_one(&x, rest + start, i - start, advance, limited && k % 2 == 0);
            k++;
            start = i + 1;
        }
    } else {
        dispatch_one(&x, rest, rest_len, advance, limited);
    }

    /* The socket closes (ws_conn.c's order); hub_conn_free drops the queue. */
    CHECK(hub_get(x.id) == x.c);
    hub_conn_free(x.c);
    tickets_cancel_pc(x.id);
    CHECK(!tickets_pc_has(x.id));
    CHECK(hub_get(x.id) == NULL);
    timers();
    /* Per-input state that would make inputs depend on each other: the
     * password-failure counts (5 in 5 min would otherwise lock the user out
     * for every later input). */
    auth_limits_shutdown();
    return 0;
}
