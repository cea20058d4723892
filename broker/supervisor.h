/* supervisor.h — `serve --workers N`: one parent process that forks N copies
 * of the broker, all serving the same port (listen_share.c), and keeps them
 * running.
 *
 * The parent holds no lws context, no threads, no store and no DRBG: every
 * child builds all of that itself after fork (docs/architecture.md, L1:
 * contexts are made after fork; a DRBG state copied into two children would give both the
 * same "random" tickets and jtis). The parent only forwards signals, restarts
 * a child that dies, and reports.
 *
 * Child side, done before child() runs: a fresh DRBG seeded from the OS,
 * a log tag "[worker I pid P]", default SIGTERM/SIGINT, SIGHUP ignored until
 * the server installs its handler (a reload request before that is moot: the
 * child has not read its keys yet), and death with the parent
 * (PR_SET_PDEATHSIG), so that no orphan keeps serving the port. */
#ifndef QRLOGIN_SUPERVISOR_H
#define QRLOGIN_SUPERVISOR_H

#include <sys/types.h>

/* A child's whole life: returns its exit status. index is 0..n-1. */
typedef int (*supervisor_child_fn)(int index, void *arg);

/* Forks n children running child(index, arg) and supervises them:
 * - SIGTERM/SIGINT are forwarded; once every child has exited the call
 *   returns 0 (children that have not exited 15 s later are killed);
 * - SIGHUP is forwarded (each child reloads its keys);
 * - a child that dies otherwise is logged and started again after a
 *   backoff (1 s doubling to 30 s; back to 1 s after 60 s of good service);
 * - a child that exits before it ever reported ready (supervisor_child_ready)
 *   means the broker cannot start at all (the port is taken, the store
 *   cannot be opened…): the others are stopped and the call returns 1.
 * Call with a single thread and no lws context. Returns the parent's exit
 * status. */
int supervisor_run(int n, supervisor_child_fn child, void *arg);

/* In a supervised child, once it serves (listening, workers running): tells
 * the parent the start worked. A no-op in a process that is not one. */
void supervisor_child_ready(void);

/* The fork behind supervisor_run, with all of the child-side setup above:
 * the child runs child(index, arg) and exits with its return value. Returns
 * the child's pid, or -1. Exposed for tests. */
pid_t supervisor_spawn(int index, supervisor_child_fn child, void *arg);

#endif
