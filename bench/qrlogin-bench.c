/* qrlogin-bench — load generator for the qrlogin broker (docs/protocol.md §3–5).
 *
 * Three workloads, run in this order when several are asked for, all from one
 * lws client context on one thread:
 *
 *   --idle N     N PC sockets that each get a ticket and then wait, as browsers
 *                showing a QR code do. Reports the broker's RSS growth per
 *                socket and its CPU while they wait (--hold S). They stay open
 *                for the later workloads, so "latency with 10k sockets
 *                waiting" is --idle 10000 --flows R.
 *   --flows R    complete QR logins: PC ticket.new → phone ticket.scan →
 *                ticket.confirm → PC receives login. Latency is measured from
 *                the moment the confirm is written to the moment the PC has the
 *                whole login message. R flows per second (open loop), or 0 for
 *                flat out with --inflight flows at a time. A PC socket is
 *                reused for its next flow (a new ticket.new replaces the old
 *                ticket, docs/protocol.md §3), so the figure is the login path, not
 *                TCP and WebSocket handshakes.
 *   --refresh R  token.refresh rotations by --sessions signed-in sockets
 *                (run the broker with --refresh-interval 0).
 *
 * The broker is observed from outside through /proc/<--broker-pid>. */
#include <errno.h>
#include <libwebsockets.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "hist.h"
#include "options.h"
#include "procstat.h"
#include "procs.h"
#include "report.h"

#define MAX_CONNECTING 256   /* handshakes in progress at once: stays under the listen backlog */
#define FLOW_TIMEOUT_US (10 * 1000000ull)
#define DRAIN_MAX_US (5 * 1000000ull)
#define STALL_MAX_US (30 * 1000000ull)


enum phase {
    PH_IDLE_OPEN, PH_HOLD, PH_LINGER,
    PH_FLOW_POOL, PH_FLOWS, PH_FLOW_DRAIN,
    PH_REF_POOL, PH_REFRESH, PH_REF_DRAIN,
    PH_DONE,
};
static const char *const phase_name[] = {
    "opening idle", "holding idle", "lingering", "flow pool", "flows", "flow drain",
    "refresh pool", "refresh", "refresh drain", "done",
};

static enum phase phase;
static volatile sig_atomic_t interrupted;
static uint64_t phase_t0, last_progress_us, last_change_us, last_reap_us;
static struct idle_result idle_res;
static struct load_result flow_res = {.what = "login flows"},
                          ref_res = {.what = "refresh rotations"};
static struct load_result *cur;     /* the workload now running */
static bool measuring;              /* inside the measured window */
static uint64_t window_start_us;
static double cpu_broker0, cpu_self0, cpu_machine0;
static double cpu_loop0 = -1, cpu_workers0; /* the broker's threads, -1: unknown */
static uint64_t started;            /* flows / rotations started since phase start */
static uint64_t done_total, errors_total;

/* per-second view for the progress line */
static struct hist sec_hist;
static uint64_t sec_done;
static double sec_cpu_broker, sec_cpu_machine;

struct err_count { char code[32]; uint64_t n; };
static struct err_count errs[8];

/* ---- sockets and free lists ---- */

static struct conn *idle_c, *pc_c, *phone_c, *sess_c;
static int idle_next, idle_ready, idle_failed, pool_next, pool_next2, pool_ready, pool_failed;

struct stack { int *v; int n; };
static struct stack pc_free, phone_free, flow_free, sess_free;

static void push(struct stack *s, int i) { s->v[s->n++] = i; }

/* Pops a live socket; dead ones are dropped from the list on the way. */
static struct conn *pop_conn(struct stack *s, struct conn *arr)
{
    while (s->n) {
        struct conn *c = &arr[s->v[--s->n]];
        if (c->state == CS_READY)
            return c;
    }
    return NULL;
}

/* F_READING: ticket.info arrived, the phone's person reads it (--read-ms) */
enum flow_state { F_FREE, F_TICKET, F_SCAN, F_READING, F_CONFIRM, F__N };
struct flow {
    int idx;
    enum flow_state state;
    struct conn *pc, *phone;
    char ticket[128];
    uint64_t t_start, t_confirm;
    uint64_t confirm_at; /* F_READING: when the phone confirms */
    bool got_login, got_ok;
};
static struct flow *flows;
static int nflows, flows_active;

static void note_error(const char *code)
{
    errors_total++;
    if (!measuring)
        return; /* warm-up and drain errors show in the progress lines only */
    cur->errors++;
    for (int i = 0; i < 8; i++) {
        if (!errs[i].code[0])
            snprintf(errs[i].code, sizeof errs[i].code, "%s", code);
        if (!strcmp(errs[i].code, code)) {
            errs[i].n++;
            return;
        }
    }
}

static void err_code(const struct msg *m, char *out, size_t outsz)
{
    if (msg_copy(m, "code", out, outsz))
        snprintf(out, outsz, "error");
}

static void record(uint64_t lat_us, uint64_t whole_us)
{
    done_total++;
    sec_done++;
    hist_record(&sec_hist, lat_us);
    if (!measuring)
        return;
    cur->done++;
    hist_record(&cur->lat, lat_us);
    if (whole_us)
        hist_record(&cur->whole, whole_us);
}

/* ---- login flows ---- */

static void flow_release(struct flow *f)
{
    if (f->pc) {
        f->pc->owner = NULL;
        if (f->pc->state == CS_READY)
            push(&pc_free, f->pc->idx);
    }
    if (f->phone) {
        f->phone->owner = NULL;
        if (f->phone->state == CS_READY)
            push(&phone_free, f->phone->idx);
    }
    f->pc = f->phone = NULL;
    f->state = F_FREE;
    push(&flow_free, f->idx);
    flows_active--;
}

static void flow_fail(struct flow *f, const char *code)
{
    note_error(code);
    flow_release(f);
}

static bool flow_start(uint64_t now)
{
    if (!flow_free.n || !pc_free.n || !phone_free.n)
        return false;
    struct conn *pc = pop_conn(&pc_free, pc_c);
    struct conn *ph = pc ? pop_conn(&phone_free, phone_c) : NULL;
    if (!pc || !ph) {
        if (pc)
            push(&pc_free, pc->idx);
        return false;
    }
    struct flow *f = &flows[flow_free.v[--flow_free.n]];
    flows_active++;
    *f = (struct flow){.idx = f->idx, .state = F_TICKET, .pc = pc, .phone = ph, .t_start = now};
    pc->owner = ph->owner = f;
    started++;
    if (conn_send(pc, TX_PLAIN, "{\"type\":\"ticket.new\",\"client\":{\"name\":\"bench\"}}"))
        flow_fail(f, "send");
    return true;
}

static void flow_maybe_done(struct flow *f)
{
    if (!f->got_login || !f->got_ok)
        return;
    flow_release(f);
    if (phase == PH_FLOWS && opt.flows_rate <= 0)
        flow_start(now_us()); /* flat out: the freed slot goes straight back to work */
}

/* A late message for a flow that already failed carries the old ticket: it
 * must not be taken for the socket's next flow. */
static bool same_ticket(const struct flow *f, const struct msg *m)
{
    size_t n;
    const char *t = msg_str(m, "ticket", &n);
    return t && n == strlen(f->ticket) && !memcmp(t, f->ticket, n);
}

static void pc_message(struct conn *c, const struct msg *m)
{
    struct flow *f = c->owner;
    if (!f)
        return;
    if (msg_is(m, "type", "ticket") && f->state == F_TICKET) {
        if (msg_copy(m, "ticket", f->ticket, sizeof f->ticket)) {
            flow_fail(f, "bad ticket reply");
            return;
        }
        f->state = F_SCAN;
        if (conn_send(f->phone, TX_PLAIN, "{\"type\":\"ticket.scan\",\"ticket\":\"%s\"}",
                      f->ticket))
            flow_fail(f, "send");
    } else if (msg_is(m, "type", "login") && f->state == F_CONFIRM && same_ticket(f, m)) {
        uint64_t t = now_us();
        f->got_login = true;
        record(t - f->t_confirm, t - f->t_start);
        flow_maybe_done(f);
    } else if (msg_is(m, "type", "error") && f->state == F_TICKET) {
        char code[32];
        err_code(m, code, sizeof code);
        flow_fail(f, code);
    } else if (msg_is(m, "type", "ticket.denied") || msg_is(m, "type", "ticket.expired")) {
        if (same_ticket(f, m))
            flow_fail(f, msg_is(m, "type", "ticket.denied") ? "ticket.denied" : "ticket.expired");
    }
}

static void flow_confirm(struct flow *f)
{
    f->state = F_CONFIRM;
    if (conn_send(f->phone, TX_CONFIRM, "{\"type\":\"ticket.confirm\",\"ticket\":\"%s\"}",
                  f->ticket))
        flow_fail(f, "send");
}

/* The phones whose person has finished reading confirm now. */
static void flows_confirm_due(uint64_t now)
{
    for (int i = 0; i < nflows; i++)
        if (flows[i].state == F_READING && flows[i].confirm_at <= now)
            flow_confirm(&flows[i]);
}

static void phone_message(struct conn *c, const struct msg *m)
{
    if (c->state == CS_OPEN) { /* waiting for auth */
        if (msg_is(m, "type", "auth")) {
            c->state = CS_READY;
            pool_ready++;
            push(&phone_free, c->idx);
        } else if (msg_is(m, "type", "error")) {
            char code[32];
            err_code(m, code, sizeof code);
            fprintf(stderr, "qrlogin-bench: phone sign-in as %s failed: %s\n", opt.user, code);
            pool_failed++;
            c->state = CS_DEAD; /* never used; lws closes it with the context */
        }
        return;
    }
    struct flow *f = c->owner;
    if (!f)
        return;
    if (msg_is(m, "type", "ticket.info") && f->state == F_SCAN && same_ticket(f, m)) {
        if (opt.read_ms > 0) {
            f->state = F_READING;
            f->confirm_at = now_us() + (uint64_t)(opt.read_ms * 1000);
        } else {
            flow_confirm(f);
        }
    } else if (msg_is(m, "type", "ok") && f->state == F_CONFIRM && same_ticket(f, m)) {
        f->got_ok = true;
        flow_maybe_done(f);
    } else if (msg_is(m, "type", "error")) {
        char code[32];
        err_code(m, code, sizeof code);
        flow_fail(f, code);
    }
}

static void phone_established(struct conn *c)
{
    char u[512], p[512];
    conn_json_escape(opt.user, u, sizeof u);
    conn_json_escape(opt.password, p, sizeof p);
    conn_send(c, TX_PLAIN, "{\"type\":\"auth.password\",\"username\":\"%s\",\"password\":\"%s\"}",
              u, p);
}

static void pc_established(struct conn *c)
{
    c->state = CS_READY;
    pool_ready++;
    push(&pc_free, c->idx);
}

static void flow_sent(struct conn *c, enum tx_kind kind, uint64_t t)
{
    struct flow *f = c->owner;
    if (f && kind == TX_CONFIRM)
        f->t_confirm = t;
}

static void pool_gone(struct conn *c, const char *why)
{
    struct flow *f = c->owner;
    c->owner = NULL;
    if (phase >= PH_DONE)
        return;
    if (f)
        flow_fail(f, "socket closed");
    else if (phase == PH_FLOW_POOL || phase == PH_REF_POOL)
        pool_failed++;
    else
        note_error("socket closed");
    if (!interrupted && phase < PH_DONE)
        fprintf(stderr, "qrlogin-bench: socket lost: %s\n", why);
}

/* A flow whose replies never came (lost socket, broker bug) must not hold
 * its sockets forever. */
static void flows_reap(uint64_t now)
{
    int stuck[F__N] = {0};
    for (int i = 0; i < nflows; i++)
        if (flows[i].state != F_FREE && now - flows[i].t_start > FLOW_TIMEOUT_US) {
            stuck[flows[i].state]++;
            flow_fail(&flows[i], "timeout");
        }
    if (stuck[F_TICKET] + stuck[F_SCAN] + stuck[F_READING] + stuck[F_CONFIRM])
        fprintf(stderr, "qrlogin-bench: flows timed out waiting for: ticket %d, ticket.info %d, "
                        "reading %d, login %d\n", stuck[F_TICKET], stuck[F_SCAN],
                stuck[F_READING], stuck[F_CONFIRM]);
}

/* ---- refresh rotations ---- */

static void sess_established(struct conn *c) { phone_established(c); }

static bool refresh_start(void)
{
    struct conn *c = pop_conn(&sess_free, sess_c);
    if (!c)
        return false;
    started++;
    c->owner = c; /* busy */
    if (conn_send(c, TX_REFRESH, "{\"type\":\"token.refresh\",\"refresh_token\":\"%s\"}",
                  c->token)) {
        c->owner = NULL;
        note_error("send");
        push(&sess_free, c->idx);
    }
    return true;
}

static int take_token(struct conn *c, const struct msg *m)
{
    size_t n;
    const char *t = msg_str(m, "refresh_token", &n);
    if (!t)
        return -1;
    char *nt = realloc(c->token, n + 1);
    if (!nt)
        return -1;
    memcpy(nt, t, n);
    nt[n] = '\0';
    c->token = nt;
    return 0;
}

static void sess_message(struct conn *c, const struct msg *m)
{
    if (c->state == CS_OPEN) {
        if (msg_is(m, "type", "auth") && !take_token(c, m)) {
            c->state = CS_READY;
            pool_ready++;
            push(&sess_free, c->idx);
        } else if (msg_is(m, "type", "error")) {
            char code[32];
            err_code(m, code, sizeof code);
            fprintf(stderr, "qrlogin-bench: sign-in as %s failed: %s\n", opt.user, code);
            pool_failed++;
            c->state = CS_DEAD;
        }
        return;
    }
    if (!c->owner)
        return;
    if (msg_is(m, "type", "token")) {
        record(now_us() - c->t_sent, 0);
        if (take_token(c, m))
            note_error("no refresh_token");
    } else if (msg_is(m, "type", "error")) {
        char code[32];
        err_code(m, code, sizeof code);
        note_error(code);
        if (!strcmp(code, "session_revoked") || !strcmp(code, "refresh_reused")) {
            c->owner = NULL;
            return; /* this session is finished; its socket is not reused */
        }
    } else {
        return; /* a push (hello, ping) */
    }
    c->owner = NULL;
    push(&sess_free, c->idx);
    if (phase == PH_REFRESH && opt.refresh_rate <= 0)
        refresh_start();
}

static void sess_sent(struct conn *c, enum tx_kind kind, uint64_t t) { (void)c, (void)kind, (void)t; }

/* ---- idle PC sockets ---- */

static void idle_established(struct conn *c)
{
    if (conn_send(c, TX_PLAIN, "{\"type\":\"ticket.new\",\"client\":{\"name\":\"idle\"}}")) {
        idle_failed++;
        c->state = CS_DEAD;
    }
}

static void idle_message(struct conn *c, const struct msg *m)
{
    if (c->state == CS_OPEN && msg_is(m, "type", "ticket")) {
        c->state = CS_READY;
        idle_ready++;
        last_change_us = now_us();
    } else if (c->state == CS_OPEN && msg_is(m, "type", "error")) {
        char code[32];
        err_code(m, code, sizeof code);
        note_error(code);
        idle_failed++;
        last_change_us = now_us();
    }
}

static void idle_gone(struct conn *c, const char *why)
{
    if (phase >= PH_DONE)
        return;
    if (phase == PH_IDLE_OPEN) {
        idle_failed++;
        last_change_us = now_us();
        if (idle_failed <= 5)
            fprintf(stderr, "qrlogin-bench: idle socket %d failed: %s\n", c->idx, why);
    } else {
        note_error("idle socket closed");
        idle_ready--;
    }
}

static void nothing_sent(struct conn *c, enum tx_kind k, uint64_t t) { (void)c, (void)k, (void)t; }

/* ---- phases ---- */

static double broker_cpu(void) { return opt.broker_pid ? procstat_cpu_s(opt.broker_pid) : -1; }
static long broker_rss(void) { return opt.broker_pid ? procstat_rss_kib(opt.broker_pid) : -1; }

static void enter(enum phase p, uint64_t now)
{
    phase = p;
    phase_t0 = last_change_us = now;
    started = 0;
}

/* After the idle sockets (or instead of them): the next workload asked for. */
static void next_workload(uint64_t now)
{
    if (opt.do_flows && !flow_res.ran) {
        flow_res.ran = true;
        pool_next = pool_next2 = pool_ready = pool_failed = 0;
        enter(PH_FLOW_POOL, now);
    } else if (opt.do_refresh && !ref_res.ran) {
        ref_res.ran = true;
        pool_next = pool_next2 = pool_ready = pool_failed = 0;
        enter(PH_REF_POOL, now);
    } else {
        enter(PH_DONE, now);
    }
}

/* Tells a script driving a second bench process that the idle sockets are
 * open and measured: load from a separate process keeps this one's poll()
 * over thousands of sockets out of the latency figures. */
static void signal_ready(void)
{
    if (!opt.ready_file)
        return;
    FILE *f = fopen(opt.ready_file, "w");
    if (f) {
        fprintf(f, "%d\n", idle_ready);
        fclose(f);
    }
}

/* Opens sockets of arr[0..n) from *next on, at most MAX_CONNECTING
 * handshakes at a time. */
static void pump(struct conn *arr, int n, int *next)
{
    while (*next < n && conn_connecting() < MAX_CONNECTING)
        conn_open(&arr[(*next)++]);
}

static void window_open(struct load_result *r, uint64_t now)
{
    cur = r;
    measuring = true;
    window_start_us = now;
    cpu_broker0 = broker_cpu();
    if (!opt.broker_pid || procstat_threads_cpu_s(opt.broker_pid, &cpu_loop0, &cpu_workers0))
        cpu_loop0 = -1;
    cpu_self0 = procstat_self_cpu_s();
    cpu_machine0 = procstat_machine_busy_s();
    hist_reset(&r->lat);
    hist_reset(&r->whole);
    memset(errs, 0, sizeof errs);
}

static void window_close(struct load_result *r, uint64_t now)
{
    measuring = false;
    r->secs = (double)(now - window_start_us) / 1e6;
    r->rate = r->secs > 0 ? (double)r->done / r->secs : 0;
    double b = broker_cpu();
    r->broker_cpu_pct = b >= 0 && cpu_broker0 >= 0 ? (b - cpu_broker0) / r->secs * 100 : -1;
    double loop, workers;
    bool threads = cpu_loop0 >= 0 && r->secs > 0 &&
                   !procstat_threads_cpu_s(opt.broker_pid, &loop, &workers);
    r->loop_cpu_pct = threads ? (loop - cpu_loop0) / r->secs * 100 : -1;
    r->workers_cpu_pct = threads ? (workers - cpu_workers0) / r->secs * 100 : -1;
    r->bench_cpu_pct = (procstat_self_cpu_s() - cpu_self0) / r->secs * 100;
    r->other_cpu_pct = (procstat_machine_busy_s() - cpu_machine0) / r->secs * 100 -
                       r->bench_cpu_pct - (r->broker_cpu_pct > 0 ? r->broker_cpu_pct : 0);
    r->rss_kib = broker_rss();
    r->idle_open = idle_ready;
    size_t o = 0;
    for (int i = 0; i < 8 && errs[i].code[0]; i++)
        o += (size_t)snprintf(r->error_codes + o, sizeof r->error_codes - o, "%s%s=%llu",
                              o ? ", " : "", errs[i].code, (unsigned long long)errs[i].n);
    double rate = r == &flow_res ? opt.flows_rate : opt.refresh_rate;
    if (rate > 0) {
        /* starts the schedule asked for but no free socket could take */
        double due = (double)(now - phase_t0) / 1e6 * rate;
        r->missed = due > (double)started ? (uint64_t)(due - (double)started) : 0;
    }
}

/* The load phase common to flows and refresh: warm-up, measured window,
 * open-loop or flat-out starts. */
static void run_load(struct load_result *r, double rate, bool (*start)(uint64_t), uint64_t now,
                     enum phase drain)
{
    double t = (double)(now - phase_t0) / 1e6;
    if (!measuring && t >= opt.warmup && t < opt.warmup + opt.duration)
        window_open(r, now);
    if (t >= opt.warmup + opt.duration) {
        window_close(r, now);
        enter(drain, now);
        return;
    }
    if (rate > 0) {
        uint64_t due = (uint64_t)(t * rate);
        while (started < due && start(now))
            ;
    } else {
        while (start(now))
            ;
    }
}

static bool refresh_start_at(uint64_t now) { (void)now; return refresh_start(); }

static int proc_index; /* 0: the process that reports (procs.h) */

static void progress(uint64_t now)
{
    double dt = (double)(now - last_progress_us) / 1e6;
    last_progress_us = now;
    double c = broker_cpu();
    double cpu_pct = c >= 0 && sec_cpu_broker >= 0 ? (c - sec_cpu_broker) / dt * 100 : -1;
    sec_cpu_broker = c;
    long rss = broker_rss();
    double m = procstat_machine_busy_s();
    double machine_pct = (m - sec_cpu_machine) / dt * 100;
    sec_cpu_machine = m;
    if (proc_index > 0) { /* one progress line a second, from process 0 */
        hist_reset(&sec_hist);
        sec_done = 0;
        return;
    }
    fprintf(stderr, "[%-13s] idle %d/%d", phase_name[phase], idle_ready, opt.idle);
    if (phase >= PH_FLOW_POOL && phase <= PH_REF_DRAIN)
        fprintf(stderr, "  %.0f/s  p50 %.2f p99 %.2f max %.2f ms  in flight %d  errors %llu",
                (double)sec_done / dt, hist_quantile(&sec_hist, .5) / 1000.0,
                hist_quantile(&sec_hist, .99) / 1000.0, sec_hist.max / 1000.0,
                phase <= PH_FLOW_DRAIN ? flows_active : opt.sessions - sess_free.n,
                (unsigned long long)errors_total);
    fprintf(stderr, "  broker cpu %.0f%% rss %.1f MiB  machine %.0f%%\n", cpu_pct, rss / 1024.0,
            machine_pct);
    hist_reset(&sec_hist);
    sec_done = 0;
}

static void tick(lws_sorted_usec_list_t *sul);
static lws_sorted_usec_list_t tick_sul;

static void advance(uint64_t now)
{
    switch (phase) {
    case PH_IDLE_OPEN:
        pump(idle_c, opt.idle, &idle_next);
        if (idle_ready + idle_failed >= opt.idle || now - last_change_us > STALL_MAX_US) {
            idle_res.open_s = (double)(now - phase_t0) / 1e6;
            idle_res.ready = idle_ready;
            idle_res.failed = opt.idle - idle_ready;
            idle_res.rss_after_kib = broker_rss();
            enter(PH_HOLD, now);
            cpu_broker0 = broker_cpu();
            cpu_self0 = procstat_self_cpu_s();
            cpu_machine0 = procstat_machine_busy_s();
        }
        break;
    case PH_HOLD:
        if ((double)(now - phase_t0) / 1e6 >= opt.hold) {
            idle_res.hold_s = (double)(now - phase_t0) / 1e6;
            idle_res.rss_held_kib = broker_rss();
            double b = broker_cpu();
            idle_res.broker_cpu_pct =
                b >= 0 && cpu_broker0 >= 0 ? (b - cpu_broker0) / idle_res.hold_s * 100 : -1;
            idle_res.bench_cpu_pct =
                (procstat_self_cpu_s() - cpu_self0) / idle_res.hold_s * 100;
            idle_res.other_cpu_pct =
                (procstat_machine_busy_s() - cpu_machine0) / idle_res.hold_s * 100 -
                idle_res.bench_cpu_pct -
                (idle_res.broker_cpu_pct > 0 ? idle_res.broker_cpu_pct : 0);
            signal_ready();
            enter(PH_LINGER, now);
        }
        break;
    case PH_LINGER:
        if ((double)(now - phase_t0) / 1e6 >= opt.linger)
            next_workload(now);
        break;
    case PH_FLOW_POOL:
        pump(pc_c, opt.pcs, &pool_next);
        pump(phone_c, opt.phones, &pool_next2);
        if (pool_ready + pool_failed >= opt.pcs + opt.phones) {
            if (!pc_free.n || !phone_free.n) {
                fprintf(stderr, "qrlogin-bench: no usable PC or phone socket\n");
                enter(PH_DONE, now);
            } else {
                enter(PH_FLOWS, now);
            }
        } else if (now - last_change_us > STALL_MAX_US) {
            fprintf(stderr, "qrlogin-bench: flow pool did not come up\n");
            enter(PH_DONE, now);
        }
        break;
    case PH_FLOWS:
        flows_confirm_due(now);
        run_load(&flow_res, opt.flows_rate, flow_start, now, PH_FLOW_DRAIN);
        if (now - last_reap_us >= 1000000u) {
            last_reap_us = now;
            flows_reap(now);
        }
        break;
    case PH_FLOW_DRAIN:
        flows_confirm_due(now);
        if (!flows_active || now - phase_t0 > DRAIN_MAX_US)
            next_workload(now);
        break;
    case PH_REF_POOL:
        pump(sess_c, opt.sessions, &pool_next);
        if (pool_ready + pool_failed >= opt.sessions) {
            if (!sess_free.n) {
                fprintf(stderr, "qrlogin-bench: no signed-in session socket\n");
                enter(PH_DONE, now);
            } else {
                enter(PH_REFRESH, now);
            }
        } else if (now - last_change_us > STALL_MAX_US) {
            fprintf(stderr, "qrlogin-bench: session pool did not come up\n");
            enter(PH_DONE, now);
        }
        break;
    case PH_REFRESH:
        run_load(&ref_res, opt.refresh_rate, refresh_start_at, now, PH_REF_DRAIN);
        break;
    case PH_REF_DRAIN:
        if (sess_free.n + pool_failed >= opt.sessions || now - phase_t0 > DRAIN_MAX_US)
            next_workload(now);
        break;
    case PH_DONE:
        break;
    }
    if (now - last_progress_us >= 1000000u)
        progress(now);
}

static void tick(lws_sorted_usec_list_t *sul)
{
    advance(now_us());
    if (phase == PH_DONE || interrupted)
        return;
    /* Open-loop starts need a fine clock; opening sockets a medium one; while
     * idle sockets are only held, each wake-up is a poll() over all of them,
     * so it is rare. */
    bool fine = (phase == PH_FLOWS && opt.flows_rate > 0) ||
                ((phase == PH_FLOWS || phase == PH_FLOW_DRAIN) && opt.read_ms > 0) ||
                (phase == PH_REFRESH && opt.refresh_rate > 0);
    bool holding = phase == PH_HOLD || phase == PH_LINGER;
    lws_sul_schedule(conn_context(), 0, sul, tick, fine ? 1000 : holding ? 250000 : 10000);
}

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
    if (conn_context())
        lws_cancel_service(conn_context());
}

static void *xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n ? n : 1, sz);
    if (!p) {
        fprintf(stderr, "qrlogin-bench: out of memory\n");
        exit(1);
    }
    return p;
}

static void init_stack(struct stack *s, int n) { s->v = xcalloc((size_t)n, sizeof(int)); }

static void init_conns(struct conn *arr, int n, enum conn_role role)
{
    for (int i = 0; i < n; i++) {
        arr[i].role = role;
        arr[i].idx = i;
    }
}

int main(int argc, char **argv)
{
    if (options_parse(argc, argv)) {
        options_usage(stderr);
        return 2;
    }
    proc_index = procs_start(opt.procs);
    if (proc_index < 0)
        return 2;
    int pool = (opt.do_flows ? opt.pcs + opt.phones : 0) + (opt.do_refresh ? opt.sessions : 0);
    int total = opt.idle + pool;
    if (opt.t.sources <= 0)
        opt.t.sources = 1 + total / 25000;

    static const struct conn_hooks hooks[ROLE_COUNT] = {
        [ROLE_IDLE_PC] = {idle_established, idle_message, idle_gone, nothing_sent},
        [ROLE_PC] = {pc_established, pc_message, pool_gone, flow_sent},
        [ROLE_PHONE] = {phone_established, phone_message, pool_gone, flow_sent},
        [ROLE_SESSION] = {sess_established, sess_message, pool_gone, sess_sent},
    };
    int room = conn_init(&opt.t, total, opt.event_loop, hooks);
    if (room < 0) {
        fprintf(stderr, "qrlogin-bench: could not create the lws context\n");
        return 1;
    }
    fprintf(stderr, "qrlogin-bench: sockets on the %s event loop\n", conn_event_loop());
    if (room < total) {
        fprintf(stderr, "qrlogin-bench: the fd limit allows %d sockets; idle sockets cut to %d\n",
                room, room - pool);
        opt.idle = room - pool > 0 ? room - pool : 0;
    }

    idle_c = xcalloc((size_t)opt.idle, sizeof *idle_c);
    pc_c = xcalloc((size_t)opt.pcs, sizeof *pc_c);
    phone_c = xcalloc((size_t)opt.phones, sizeof *phone_c);
    sess_c = xcalloc((size_t)opt.sessions, sizeof *sess_c);
    init_conns(idle_c, opt.idle, ROLE_IDLE_PC);
    init_conns(pc_c, opt.pcs, ROLE_PC);
    init_conns(phone_c, opt.phones, ROLE_PHONE);
    init_conns(sess_c, opt.sessions, ROLE_SESSION);
    nflows = opt.pcs < opt.phones ? opt.pcs : opt.phones;
    if (opt.flows_rate <= 0 && opt.inflight < nflows)
        nflows = opt.inflight; /* flat out: bounded in flight */
    flows = xcalloc((size_t)nflows, sizeof *flows);
    init_stack(&pc_free, opt.pcs);
    init_stack(&phone_free, opt.phones);
    init_stack(&flow_free, nflows);
    init_stack(&sess_free, opt.sessions);
    for (int i = nflows - 1; i >= 0; i--) {
        flows[i].idx = i;
        push(&flow_free, i);
    }
    flow_res.target_rate = opt.flows_rate;
    flow_res.read_ms = opt.read_ms;
    flow_res.inflight = nflows;
    flow_res.pcs = opt.pcs;
    flow_res.phones = opt.phones;
    ref_res.target_rate = opt.refresh_rate;
    ref_res.inflight = opt.sessions;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    uint64_t now = now_us();
    last_progress_us = now;
    sec_cpu_broker = broker_cpu();
    sec_cpu_machine = procstat_machine_busy_s();
    if (opt.idle) {
        idle_res.ran = true;
        idle_res.requested = opt.idle;
        idle_res.rss_before_kib = broker_rss();
        enter(PH_IDLE_OPEN, now);
    } else {
        next_workload(now);
    }
    /* A hard stop whatever happens: every phase is bounded, this bounds
     * their sum against bugs. */
    double budget_s = 60 + 2 * STALL_MAX_US / 1e6 + opt.hold + opt.linger +
                      (opt.do_flows + opt.do_refresh) * (opt.warmup + opt.duration + 40) +
                      opt.idle / 200.0;
    uint64_t deadline = now + (uint64_t)(budget_s * 1e6);

    lws_sul_schedule(conn_context(), 0, &tick_sul, tick, 1000);
    while (phase != PH_DONE && !interrupted && now_us() < deadline)
        if (conn_service() < 0)
            break;
    if (phase != PH_DONE) {
        fprintf(stderr, "qrlogin-bench: %s during \"%s\"; reporting what was measured\n",
                interrupted ? "interrupted" : "time budget exceeded", phase_name[phase]);
        if (measuring)
            window_close(cur, now_us());
    }
    enum phase was = phase;
    phase = PH_DONE; /* closes from here on are ours */
    lws_sul_cancel(&tick_sul);

    if (proc_index > 0) {
        conn_fini();
        procs_child_finish(&flow_res, &ref_res);
    }
    int lost = procs_collect(&flow_res, &ref_res);
    if (opt.json)
        report_json(&idle_res, &flow_res, &ref_res);
    else
        report_table(&idle_res, &flow_res, &ref_res);
    fflush(stdout);
    conn_fini();
    return was == PH_DONE && !lost ? 0 : 1;
}
