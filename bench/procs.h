/* procs.h — `--procs N`: one workload driven by N bench processes.
 *
 * One single-threaded load generator runs in lock step with the broker: it
 * reads a batch of replies, answers them all, and waits while the broker
 * works through that batch; the broker then waits for it. The flows then cost
 * broker time *plus* bench time each, and the figure measures the pair, not
 * the broker. Several processes break the lock step, as thousands of separate
 * clients do. Each process takes its share of the sockets, the in-flight
 * bound and the rates; the first one reports the merged results. */
#ifndef QRLOGIN_BENCH_PROCS_H
#define QRLOGIN_BENCH_PROCS_H

#include "report.h"

/* Forks n - 1 children and gives every process its share of opt. Returns this
 * process's index (0 = the one that reports), or -1 if a fork failed (the
 * children already started are stopped). n <= 1 does nothing and returns 0. */
int procs_start(int n);

/* In a child: hands the results to process 0 and exits. */
void procs_child_finish(const struct load_result *flows, const struct load_result *refresh)
    __attribute__((noreturn));

/* In process 0: waits for every child and folds its results into these.
 * Returns the number of children whose results were lost. */
int procs_collect(struct load_result *flows, struct load_result *refresh);

#endif
