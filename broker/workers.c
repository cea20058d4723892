/* workers.c — see workers.h.
 *
 * Two singly linked FIFO queues under one mutex: `todo` (loop → workers) and
 * `finished` (workers → loop). Jobs are few and short, so one lock is not a
 * contention point next to a 1–2 ms signature. */
#include "workers.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

struct queue {
    struct work *head, *tail;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static struct queue todo, finished;
static struct queue *lanes; /* one per thread, for ordered jobs */
static pthread_t *threads;
static int nthreads;
static int pending;
static bool stopping;
static void (*wake_fn)(void *);
static void *wake_arg_p;

static void queue_push(struct queue *q, struct work *w)
{
    w->next = NULL;
    if (q->tail)
        q->tail->next = w;
    else
        q->head = w;
    q->tail = w;
}

static struct work *queue_take_all(struct queue *q)
{
    struct work *w = q->head;
    q->head = q->tail = NULL;
    return w;
}

static struct work *queue_pop(struct queue *q)
{
    struct work *w = q->head;
    if (w) {
        q->head = w->next;
        if (!q->head)
            q->tail = NULL;
    }
    return w;
}

static void *worker_main(void *arg)
{
    struct queue *lane = arg;
    pthread_mutex_lock(&lock);
    for (;;) {
        while (!lane->head && !todo.head && !stopping)
            pthread_cond_wait(&cond, &lock);
        /* Own lane first: its jobs can run nowhere else. */
        struct work *w = queue_pop(lane);
        if (!w)
            w = queue_pop(&todo);
        if (!w)
            break; /* stopping and nothing left to do */
        pthread_mutex_unlock(&lock);

        w->run(w);

        pthread_mutex_lock(&lock);
        queue_push(&finished, w);
        pthread_mutex_unlock(&lock);
        if (wake_fn)
            wake_fn(wake_arg_p);
        pthread_mutex_lock(&lock);
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

int workers_start(int n, void (*wake)(void *arg), void *wake_arg)
{
    wake_fn = wake;
    wake_arg_p = wake_arg;
    stopping = false;
    nthreads = 0;
    if (n <= 0)
        return 0;
    threads = calloc((size_t)n, sizeof *threads);
    lanes = calloc((size_t)n, sizeof *lanes);
    if (!threads || !lanes)
        return -1;
    for (int i = 0; i < n; i++) {
        if (pthread_create(&threads[i], NULL, worker_main, &lanes[i]))
            return -1;
        /* A name in top -H, perf and /proc: the benchmark tells the pool's
         * CPU from the loop's by it. */
        pthread_setname_np(threads[i], "qrl-worker");
        nthreads++;
    }
    return 0;
}

/* Queues w on q (the shared queue or one thread's lane); inline without
 * threads. A lane's job can run on one thread only, so all are woken. */
static void submit_to(struct queue *q, struct work *w, bool wake_all)
{
    if (!nthreads) {
        w->run(w);
        w->done(w);
        return;
    }
    pthread_mutex_lock(&lock);
    pending++;
    queue_push(q, w);
    if (wake_all)
        pthread_cond_broadcast(&cond);
    else
        pthread_cond_signal(&cond);
    pthread_mutex_unlock(&lock);
}

void workers_submit(struct work *w) { submit_to(&todo, w, false); }

void workers_submit_ordered(struct work *w, uint64_t key)
{
    submit_to(nthreads ? &lanes[key % (uint64_t)nthreads] : &todo, w, true);
}

int workers_drain(void)
{
    pthread_mutex_lock(&lock);
    struct work *w = queue_take_all(&finished);
    pthread_mutex_unlock(&lock);

    int n = 0;
    while (w) {
        struct work *next = w->next;
        pthread_mutex_lock(&lock);
        pending--;
        pthread_mutex_unlock(&lock);
        w->done(w); /* may free w */
        w = next;
        n++;
    }
    return n;
}

int workers_threads(void) { return nthreads; }

int workers_pending(void)
{
    pthread_mutex_lock(&lock);
    int n = pending;
    pthread_mutex_unlock(&lock);
    return n;
}

void workers_stop(void)
{
    pthread_mutex_lock(&lock);
    stopping = true;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < nthreads; i++)
        pthread_join(threads[i], NULL);
    free(threads);
    threads = NULL;
    free(lanes);
    lanes = NULL;
    nthreads = 0;
    workers_drain();
}
