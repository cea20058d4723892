/* redis_fixture.h — a real, throw-away redis-server and a minimal lws loop for
 * cmocka tests of the Redis code (redis_link, the Redis store).
 *
 * Header-only: every helper is static inline (no unused-function warnings in
 * a test that needs only some), include it from one test file.
 *
 *   struct redis_proc rp;
 *   assert_int_equal(redis_proc_start(&rp, 0, NULL), 0);   // free port, no password
 *   struct redis_test_lws tl;
 *   assert_int_equal(redis_test_lws_init(&tl), 0);
 *   ... redis_link_start(l, tl.vh); run_loop_until(tl.ctx, &up, 5000); ...
 *   redis_test_lws_fini(&tl);
 *   redis_proc_cleanup(&rp);
 *
 * The server listens on 127.0.0.1 only, saves nothing (--save '', no AOF) and
 * keeps its log in its own mkdtemp directory, removed by redis_proc_cleanup.
 * Children get PR_SET_PDEATHSIG so a crashed test leaves no redis behind. */
#ifndef QRLOGIN_TEST_REDIS_FIXTURE_H
#define QRLOGIN_TEST_REDIS_FIXTURE_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <libwebsockets.h>

#include "redis_link.h"

#define REDIS_FIXTURE_SERVER "/usr/bin/redis-server"

struct redis_proc {
    pid_t pid;          /* 0 when not running */
    int port;
    char dir[64];       /* --dir, holds redis.log */
    char password[64];  /* --requirepass, "" for none */
    bool aof;           /* --appendonly yes (fsync always): a restart replays the writes */
};

static inline long long redis_fixture_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void redis_fixture_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) && errno == EINTR) {
    }
}

/* A loopback port nobody listens on right now (the kernel's pick). */
static inline int redis_fixture_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    int port = -1;
    if (!bind(fd, (struct sockaddr *)&a, sizeof a) && !getsockname(fd, (struct sockaddr *)&a, &al))
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static inline bool redis_fixture_port_accepts(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* fork+exec redis-server on p->port; waits up to 10 s until it accepts TCP
 * connections. Prints why on failure (missing binary, early exit). */
static inline int redis_proc_spawn(struct redis_proc *p)
{
    if (access(REDIS_FIXTURE_SERVER, X_OK)) {
        fprintf(stderr, "redis_fixture: %s not found: apt-get install -y redis-server\n",
                REDIS_FIXTURE_SERVER);
        return -1;
    }
    char port[16], logf[96];
    snprintf(port, sizeof port, "%d", p->port);
    snprintf(logf, sizeof logf, "%s/redis.log", p->dir);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        const char *argv[20];
        int n = 0;
        argv[n++] = REDIS_FIXTURE_SERVER;
        argv[n++] = "--port";        argv[n++] = port;
        argv[n++] = "--bind";        argv[n++] = "127.0.0.1";
        argv[n++] = "--save";        argv[n++] = "";
        argv[n++] = "--appendonly";  argv[n++] = p->aof ? "yes" : "no";
        if (p->aof) {
            argv[n++] = "--appendfsync";
            argv[n++] = "always";
        }
        argv[n++] = "--dir";         argv[n++] = p->dir;
        argv[n++] = "--logfile";     argv[n++] = logf;
        if (p->password[0]) {
            argv[n++] = "--requirepass";
            argv[n++] = p->password;
        }
        argv[n] = NULL;
        execv(REDIS_FIXTURE_SERVER, (char *const *)argv);
        _exit(127);
    }
    p->pid = pid;
    long long deadline = redis_fixture_now_ms() + 10000;
    while (redis_fixture_now_ms() < deadline) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            fprintf(stderr, "redis_fixture: redis-server exited at start (status %d), see %s\n",
                    st, logf);
            p->pid = 0;
            return -1;
        }
        if (redis_fixture_port_accepts(p->port))
            return 0;
        redis_fixture_sleep_ms(10);
    }
    fprintf(stderr, "redis_fixture: redis-server not accepting on port %d after 10 s\n", p->port);
    return -1;
}

/* Starts a fresh server: port 0 picks a free one; password NULL or "" = none. */
static inline int redis_proc_start(struct redis_proc *p, int port, const char *password)
{
    memset(p, 0, sizeof *p);
    snprintf(p->dir, sizeof p->dir, "/tmp/qrlogin-redis-XXXXXX");
    if (!mkdtemp(p->dir)) {
        fprintf(stderr, "redis_fixture: mkdtemp: %s\n", strerror(errno));
        return -1;
    }
    if (password)
        snprintf(p->password, sizeof p->password, "%s", password);
    for (int tries = 0; tries < 5; tries++) {
        p->port = port > 0 ? port : redis_fixture_free_port();
        if (p->port > 0 && !redis_proc_spawn(p))
            return 0;
        if (port > 0)
            break;
    }
    return -1;
}

/* SIGTERM (plus SIGCONT in case it is paused) and wait; SIGKILL after 5 s. */
static inline void redis_proc_stop(struct redis_proc *p)
{
    if (!p->pid)
        return;
    kill(p->pid, SIGTERM);
    kill(p->pid, SIGCONT);
    long long deadline = redis_fixture_now_ms() + 5000;
    while (waitpid(p->pid, NULL, WNOHANG) == 0) {
        if (redis_fixture_now_ms() > deadline) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, NULL, 0);
            break;
        }
        redis_fixture_sleep_ms(5);
    }
    p->pid = 0;
}

/* The same server again, same port and password, empty data set. */
static inline int redis_proc_restart(struct redis_proc *p)
{
    redis_proc_stop(p);
    return redis_proc_spawn(p);
}

/* SIGSTOP: the server keeps its sockets but answers nothing (a hung Redis). */
static inline void redis_proc_pause(struct redis_proc *p)
{
    if (p->pid)
        kill(p->pid, SIGSTOP);
}

static inline void redis_proc_resume(struct redis_proc *p)
{
    if (p->pid)
        kill(p->pid, SIGCONT);
}

static int redis_fixture_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Stops the server and removes its directory. */
static inline void redis_proc_cleanup(struct redis_proc *p)
{
    redis_proc_stop(p);
    if (p->dir[0])
        nftw(p->dir, redis_fixture_rm, 8, FTW_DEPTH | FTW_PHYS);
    p->dir[0] = '\0';
}

/* "redis://[:password@]127.0.0.1:<port>/<db>"; the password goes in as is,
 * so give redis_proc_start one that needs no %-escaping. */
static inline void redis_proc_url(const struct redis_proc *p, int db, char *out, size_t outsz)
{
    if (p->password[0])
        snprintf(out, outsz, "redis://:%s@127.0.0.1:%d/%d", p->password, p->port, db);
    else
        snprintf(out, outsz, "redis://127.0.0.1:%d/%d", p->port, db);
}

/* A blocking hiredis connection (authenticated) for test set-up and checks,
 * e.g. FLUSHALL between tests. Never use it while the server is paused. */
static inline redisContext *redis_proc_connect_sync(const struct redis_proc *p)
{
    struct timeval tv = {2, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", p->port, tv);
    if (!c || c->err) {
        fprintf(stderr, "redis_fixture: connect: %s\n", c ? c->errstr : "out of memory");
        if (c)
            redisFree(c);
        return NULL;
    }
    if (p->password[0]) {
        redisReply *r = redisCommand(c, "AUTH %s", p->password);
        bool ok = r && r->type != REDIS_REPLY_ERROR;
        if (r)
            freeReplyObject(r);
        if (!ok) {
            redisFree(c);
            return NULL;
        }
    }
    return c;
}

/* ---- lws: one context, one vhost without a listening port -------------- */

struct redis_test_lws {
    struct lws_context *ctx;
    struct lws_vhost *vh;
};

static const struct lws_protocols redis_fixture_protocols[] = {
    {.name = REDIS_LINK_PROTOCOL, .callback = redis_link_lws_callback},
    {0},
};

static inline int redis_test_lws_init(struct redis_test_lws *tl)
{
    memset(tl, 0, sizeof *tl);
    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info ci = {0};
    ci.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    ci.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    tl->ctx = lws_create_context(&ci);
    if (!tl->ctx)
        return -1;
    struct lws_context_creation_info vi = {0};
    vi.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    vi.protocols = redis_fixture_protocols;
    vi.vhost_name = "redis-test";
    tl->vh = lws_create_vhost(tl->ctx, &vi);
    if (!tl->vh) {
        lws_context_destroy(tl->ctx);
        tl->ctx = NULL;
        return -1;
    }
    return 0;
}

/* Free the links before this: their suls live on ctx. */
static inline void redis_test_lws_fini(struct redis_test_lws *tl)
{
    if (tl->ctx)
        lws_context_destroy(tl->ctx);
    memset(tl, 0, sizeof *tl);
}

/* lws waits in poll() until its next timer; a 10 ms tick of our own keeps
 * run_loop_until looking at its flag and its deadline. */
static lws_sorted_usec_list_t redis_fixture_tick;
static struct lws_context *redis_fixture_tick_ctx;

static void redis_fixture_tick_cb(lws_sorted_usec_list_t *sul)
{
    lws_sul_schedule(redis_fixture_tick_ctx, 0, sul, redis_fixture_tick_cb, 10 * LWS_US_PER_MS);
}

/* Services lws until *flag is true or max_ms passed; returns *flag. With flag
 * NULL it simply runs the loop for max_ms and returns true. */
static inline bool run_loop_until(struct lws_context *ctx, bool *flag, int max_ms)
{
    long long deadline = redis_fixture_now_ms() + max_ms;
    redis_fixture_tick_ctx = ctx;
    redis_fixture_tick_cb(&redis_fixture_tick);
    while (!(flag && *flag) && redis_fixture_now_ms() < deadline)
        lws_service(ctx, 0);
    lws_sul_cancel(&redis_fixture_tick);
    return flag ? *flag : true;
}

#endif
