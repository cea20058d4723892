/* workers.h — a small pthread pool for CPU work (ES256 signing and
 * verification, PBKDF2), so the event loop never blocks (docs/architecture.md,
 * rule 1).
 *
 * A job embeds `struct work`. run() executes on a worker thread and must touch
 * nothing owned by the loop (no lws calls, no hub/tickets/sessions state);
 * done() runs later on the loop thread, from workers_drain(), and owns the job
 * (frees it). Jobs carry connection ids, never `struct lws *` (rule 3). */
#ifndef QRLOGIN_WORKERS_H
#define QRLOGIN_WORKERS_H

#include <stdint.h>

struct work {
    void (*run)(struct work *w);  /* worker thread */
    void (*done)(struct work *w); /* loop thread */
    struct work *next;
};

/* Starts n threads. wake(arg) is called from a worker after it queues a
 * finished job (lws_cancel_service). n == 0 runs each job inline inside
 * workers_submit (unit tests; run then done, synchronously). */
int workers_start(int n, void (*wake)(void *arg), void *wake_arg);

/* Loop thread: queue a job. */
void workers_submit(struct work *w);

/* Loop thread: queue a job whose done() must run after every earlier job
 * submitted with the same key (all go to one thread, in order); e.g. the QR
 * codes of one connection, whose messages must leave in request order. */
void workers_submit_ordered(struct work *w, uint64_t key);

/* Loop thread: run done() for every finished job. Returns how many. */
int workers_drain(void);

/* Threads running (0: jobs run inline). workers_submit_ordered with keys
 * 0 .. n-1 puts one job on each. */
int workers_threads(void);

/* Jobs queued or running (for /metrics and shutdown). */
int workers_pending(void);

/* Finishes every queued job, joins the threads, then runs the remaining
 * done() callbacks so each job is freed. Loop thread, at shutdown. */
void workers_stop(void);

#endif
