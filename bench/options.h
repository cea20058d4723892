/* options.h — qrlogin-bench's command line. */
#ifndef QRLOGIN_BENCH_OPTIONS_H
#define QRLOGIN_BENCH_OPTIONS_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "conn.h"

struct bench_opts {
    struct conn_target t;
    int idle;
    double hold, linger;
    const char *ready_file;
    pid_t broker_pid;
    bool do_flows, do_refresh;
    double flows_rate, refresh_rate;
    double duration, warmup;
    int pcs, phones, inflight, sessions;
    int procs; /* processes sharing the flows/refresh workload (procs.h) */
    double read_ms; /* flows: the phone waits this long between ticket.info and confirm */
    char user[256], password[256];
    bool json;
    int event_loop; /* enum event_loop_kind (broker/event_loop.h) */
};

extern struct bench_opts opt;

/* 0, or -1 after which the caller prints usage and exits 2. */
int options_parse(int argc, char **argv);
void options_usage(FILE *f);

#endif
