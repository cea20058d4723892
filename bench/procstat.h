/* procstat.h — what the broker costs, read from outside through /proc: the
 * bench cannot (and should not) ask the broker itself. */
#ifndef QRLOGIN_BENCH_PROCSTAT_H
#define QRLOGIN_BENCH_PROCSTAT_H

#include <stdint.h>
#include <sys/types.h>

/* VmRSS of pid in KiB, or -1. */
long procstat_rss_kib(pid_t pid);
/* utime + stime of pid (all its threads) in seconds, or -1. */
double procstat_cpu_s(pid_t pid);
/* The broker's CPU by thread, in seconds: *loop_s for its main thread (the
 * event loop), *workers_s for the threads named "qrl-worker" (the pool that
 * signs and draws QR codes). -1 if /proc could not be read. */
int procstat_threads_cpu_s(pid_t pid, double *loop_s, double *workers_s);
/* CPU time all processes of the machine have used (busy, not idle or
 * iowait), in seconds summed over CPUs: the bench shares the machine, and a
 * figure measured while something else was busy must say so. */
double procstat_machine_busy_s(void);
/* The same for this process (the load generator's own share of the CPU). */
double procstat_self_cpu_s(void);

#endif
