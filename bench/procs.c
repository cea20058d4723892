/* procs.c — see procs.h. */
#include "procs.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "options.h"

#define PROCS_MAX 64

static int nprocs = 1;
static pid_t child_pid[PROCS_MAX];
static int child_fd[PROCS_MAX]; /* process 0 reads child i's results here */
static int result_fd = -1;      /* a child writes its results here */

/* The i-th of n parts of total, the remainder spread over the first ones. */
static int share(int total, int i, int n) { return total / n + (i < total % n); }

static void take_share(int i, int n)
{
    opt.pcs = share(opt.pcs, i, n);
    opt.phones = share(opt.phones, i, n);
    opt.inflight = share(opt.inflight, i, n);
    opt.sessions = share(opt.sessions, i, n);
    opt.flows_rate /= n;
    opt.refresh_rate /= n;
}

int procs_start(int n)
{
    if (n <= 1)
        return 0;
    if (n > PROCS_MAX || opt.idle || opt.inflight < n || opt.sessions < n || opt.pcs < n ||
        opt.phones < n) {
        fprintf(stderr, "qrlogin-bench: --procs %d needs no --idle, at most %d processes and at "
                        "least one socket and flow of each kind per process\n", n, PROCS_MAX);
        return -1;
    }
    fflush(NULL); /* nothing buffered may be written twice */
    for (int i = 1; i < n; i++) {
        int fds[2];
        if (pipe(fds)) {
            perror("qrlogin-bench: pipe");
            goto fail;
        }
        pid_t pid = fork();
        if (pid < 0) {
            perror("qrlogin-bench: fork");
            close(fds[0]);
            close(fds[1]);
            goto fail;
        }
        if (pid == 0) {
            for (int j = 1; j < i; j++)
                close(child_fd[j]);
            close(fds[0]);
            result_fd = fds[1];
            nprocs = n;
            take_share(i, n);
            return i;
        }
        close(fds[1]);
        child_pid[i] = pid;
        child_fd[i] = fds[0];
        nprocs = i + 1;
    }
    take_share(0, n);
    return 0;
fail:
    for (int i = 1; i < nprocs; i++) {
        kill(child_pid[i], SIGTERM);
        close(child_fd[i]);
        waitpid(child_pid[i], NULL, 0);
    }
    nprocs = 1;
    return -1;
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_all(int fd, void *p, size_t n)
{
    char *c = p;
    while (n) {
        ssize_t r = read(fd, c, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        c += r;
        n -= (size_t)r;
    }
    return 0;
}

void procs_child_finish(const struct load_result *flows, const struct load_result *refresh)
{
    int rc = write_all(result_fd, flows, sizeof *flows) || write_all(result_fd, refresh, sizeof *refresh);
    close(result_fd);
    _exit(rc ? 1 : 0);
}

/* The shape, counts, latencies and the bench's own CPU add up; the broker's
 * CPU and RSS are process 0's reading over the same seconds, and the rest of
 * the machine is what process 0 saw minus the children's share of it. */
static void fold(struct load_result *into, const struct load_result *from)
{
    if (!from->ran)
        return;
    into->ran = true;
    into->inflight += from->inflight;
    into->pcs += from->pcs;
    into->phones += from->phones;
    into->target_rate += from->target_rate;
    into->done += from->done;
    into->errors += from->errors;
    into->missed += from->missed;
    into->rate += from->rate;
    hist_merge(&into->lat, &from->lat);
    hist_merge(&into->whole, &from->whole);
    into->bench_cpu_pct += from->bench_cpu_pct;
    into->other_cpu_pct -= from->bench_cpu_pct;
    if (!into->error_codes[0])
        memcpy(into->error_codes, from->error_codes, sizeof into->error_codes);
}

int procs_collect(struct load_result *flows, struct load_result *refresh)
{
    static struct load_result f, r; /* two histograms each: too big for the stack */
    int lost = 0;
    for (int i = 1; i < nprocs; i++) {
        int status = 0;
        bool ok = !read_all(child_fd[i], &f, sizeof f) && !read_all(child_fd[i], &r, sizeof r);
        close(child_fd[i]);
        waitpid(child_pid[i], &status, 0);
        if (!ok || !WIFEXITED(status) || WEXITSTATUS(status)) {
            fprintf(stderr, "qrlogin-bench: process %d of %d did not report\n", i + 1, nprocs);
            lost++;
            continue;
        }
        fold(flows, &f);
        fold(refresh, &r);
    }
    return lost;
}
