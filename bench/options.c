/* options.c — see options.h. */
#include "options.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "event_loop.h"

struct bench_opts opt = {
    .t = {.host = "127.0.0.1", .port = 8080, .path = "/ws", .sources = 0},
    .hold = 10, .duration = 10, .warmup = 2,
    .pcs = 64, .phones = 64, .inflight = 32, .sessions = 32, .procs = 1,
    .user = "demo", .password = "demo",
    .event_loop = EVENT_LOOP_AUTO,
};

void options_usage(FILE *f)
{
    fprintf(f,
            "usage: qrlogin-bench --url ws://127.0.0.1:PORT/ws [workloads] [options]\n"
            "workloads (run in this order; at least one):\n"
            "  --idle N            N PC sockets, each with a ticket, held open\n"
            "  --flows R           login flows at R/s (0 = flat out)\n"
            "  --refresh R         token.refresh rotations at R/s (0 = flat out)\n"
            "options:\n"
            "  --broker-pid PID    read the broker's RSS and CPU from /proc/PID\n"
            "  --sources K         source addresses 127.0.0.2..127.0.0.(1+K) (default: enough\n"
            "                      for ~25k sockets each)\n"
            "  --hold S            seconds the idle sockets are held and the broker's CPU\n"
            "                      measured (10)\n"
            "  --ready-file F      written when the hold is over (for a second bench process)\n"
            "  --linger S          seconds to keep holding them after that (0)\n"
            "  --duration S        measured seconds per flows/refresh workload (10)\n"
            "  --warmup S          unmeasured seconds before that (2)\n"
            "  --pcs P --phones Q  flow sockets (64 / 64)\n"
            "  --inflight N        flows at once when flat out (32)\n"
            "  --read-ms MS        the phone confirms MS ms after ticket.info, as a person\n"
            "                      reads the PC's details first (0: at once)\n"
            "  --sessions N        signed-in sockets for --refresh (32)\n"
            "  --user U --password P   phone sign-in (demo / demo)\n"
            "  --procs N           drive flows/refresh from N processes that share the sockets,\n"
            "                      --inflight and the rates (1); one process runs in lock step\n"
            "                      with the broker, so flat out it measures the pair\n"
            "  --json              results as one JSON object on stdout\n"
            "  --event-loop L      auto (libuv, else poll), poll, libuv or libev: the bench's\n"
            "                      own loop; poll() over 10k idle sockets costs the bench a\n"
            "                      core's share on every wakeup, taken from the broker\n"
            "Run the broker with --msg-rate 100000 --msg-burst 100000 --max-conns-per-ip 1000000\n"
            "(and --refresh-interval 0 for --refresh).\n");
}

static int parse_url(const char *u)
{
    if (strncmp(u, "ws://", 5)) {
        fprintf(stderr, "qrlogin-bench: --url must be ws://HOST:PORT/PATH (loopback, no TLS)\n");
        return -1;
    }
    const char *h = u + 5, *colon = strchr(h, ':'), *slash = strchr(h, '/');
    if (!colon || (slash && slash < colon) || (size_t)(colon - h) >= sizeof opt.t.host)
        return -1;
    memcpy(opt.t.host, h, (size_t)(colon - h));
    opt.t.host[colon - h] = '\0';
    opt.t.port = atoi(colon + 1);
    snprintf(opt.t.path, sizeof opt.t.path, "%s", slash ? slash : "/");
    return opt.t.port > 0 && opt.t.port < 65536 ? 0 : -1;
}

static int parse_loop(const char *s)
{
    static const char *const names[] = {
        [EVENT_LOOP_POLL] = "poll", [EVENT_LOOP_LIBUV] = "libuv", [EVENT_LOOP_LIBEV] = "libev",
        [EVENT_LOOP_AUTO] = "auto"};
    for (int i = 0; i < (int)(sizeof names / sizeof *names); i++)
        if (!strcmp(s, names[i]))
            return i;
    fprintf(stderr, "qrlogin-bench: --event-loop is auto, poll, libuv or libev\n");
    return -1;
}

int options_parse(int argc, char **argv)
{
    enum { O_URL = 1000, O_IDLE, O_SOURCES, O_HOLD, O_PID, O_FLOWS, O_DURATION, O_WARMUP,
           O_PCS, O_PHONES, O_INFLIGHT, O_REFRESH, O_SESSIONS, O_USER, O_PASSWORD, O_JSON,
           O_HELP, O_READY, O_LINGER, O_LOOP, O_PROCS, O_READ_MS };
    static const struct option lo[] = {
        {"url", 1, 0, O_URL}, {"idle", 1, 0, O_IDLE}, {"sources", 1, 0, O_SOURCES},
        {"hold", 1, 0, O_HOLD}, {"broker-pid", 1, 0, O_PID}, {"flows", 1, 0, O_FLOWS},
        {"duration", 1, 0, O_DURATION}, {"warmup", 1, 0, O_WARMUP}, {"pcs", 1, 0, O_PCS},
        {"phones", 1, 0, O_PHONES}, {"inflight", 1, 0, O_INFLIGHT},
        {"refresh", 1, 0, O_REFRESH}, {"sessions", 1, 0, O_SESSIONS}, {"user", 1, 0, O_USER},
        {"password", 1, 0, O_PASSWORD}, {"json", 0, 0, O_JSON}, {"help", 0, 0, O_HELP},
        {"ready-file", 1, 0, O_READY}, {"linger", 1, 0, O_LINGER},
        {"event-loop", 1, 0, O_LOOP}, {"procs", 1, 0, O_PROCS},
        {"read-ms", 1, 0, O_READ_MS},
        {0, 0, 0, 0},
    };
    bool have_url = false;
    int o;
    while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (o) {
        case O_URL: if (parse_url(optarg)) return -1; have_url = true; break;
        case O_IDLE: opt.idle = atoi(optarg); break;
        case O_SOURCES: opt.t.sources = atoi(optarg); break;
        case O_HOLD: opt.hold = atof(optarg); break;
        case O_PID: opt.broker_pid = (pid_t)atoi(optarg); break;
        case O_FLOWS: opt.do_flows = true; opt.flows_rate = atof(optarg); break;
        case O_DURATION: opt.duration = atof(optarg); break;
        case O_WARMUP: opt.warmup = atof(optarg); break;
        case O_PCS: opt.pcs = atoi(optarg); break;
        case O_PHONES: opt.phones = atoi(optarg); break;
        case O_INFLIGHT: opt.inflight = atoi(optarg); break;
        case O_REFRESH: opt.do_refresh = true; opt.refresh_rate = atof(optarg); break;
        case O_SESSIONS: opt.sessions = atoi(optarg); break;
        case O_USER: snprintf(opt.user, sizeof opt.user, "%s", optarg); break;
        case O_PASSWORD: snprintf(opt.password, sizeof opt.password, "%s", optarg); break;
        case O_JSON: opt.json = true; break;
        case O_HELP: options_usage(stdout); exit(0);
        case O_READY: opt.ready_file = optarg; break;
        case O_LINGER: opt.linger = atof(optarg); break;
        case O_PROCS: opt.procs = atoi(optarg); break;
        case O_READ_MS: opt.read_ms = atof(optarg); break;
        case O_LOOP:
            if ((opt.event_loop = parse_loop(optarg)) < 0)
                return -1;
            break;
        default: return -1;
        }
    }
    if (!have_url || optind != argc || (!opt.idle && !opt.do_flows && !opt.do_refresh) ||
        opt.idle < 0 || opt.pcs < 1 || opt.phones < 1 || opt.inflight < 1 || opt.sessions < 1 ||
        opt.duration <= 0 || opt.warmup < 0 || opt.hold < 0 || opt.linger < 0 || opt.flows_rate < 0 ||
        opt.refresh_rate < 0 || opt.procs < 1 || opt.read_ms < 0 || opt.read_ms > 5000)
        return -1;
    return 0;
}

