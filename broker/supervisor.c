/* supervisor.c — see supervisor.h.
 *
 * The parent waits on a signalfd (SIGTERM, SIGINT, SIGHUP, SIGCHLD blocked,
 * so none of them runs a handler and none is lost between two polls) and on
 * a pipe where each child writes its pid once it serves. Restarts are plain
 * deadlines checked after every wakeup. */
#include "supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "rng.h"

#define SUP_MAX_CHILDREN 64
#define SUP_BACKOFF_FIRST_MS 1000
#define SUP_BACKOFF_MAX_MS 30000
#define SUP_GOOD_SERVICE_MS 60000 /* up this long: the next crash restarts fast again */
#define SUP_STOP_GRACE_MS 15000   /* a child's own shutdown takes ~2 s */

struct sup_child {
    pid_t pid;          /* 0 while not running */
    bool ever_ready;    /* some start of this slot served */
    int64_t started_at; /* monotonic ms */
    int64_t restart_at; /* monotonic ms; 0 = none pending */
    int backoff_ms;
};

static struct {
    struct sup_child c[SUP_MAX_CHILDREN];
    int n;
    supervisor_child_fn fn;
    void *arg;
    bool stopping;
    bool start_failed;
    int64_t kill_at; /* monotonic ms to SIGKILL the stragglers; 0 = done */
} sup;

/* Parent: its signalfd and the read end of the ready pipe. Child: the write
 * end (inherited). All -1 outside supervisor_run. */
static int sig_fd = -1, ready_r = -1, ready_w = -1;

static int64_t sup_now_ms(void) { return clock_mono_us() / 1000; }

static void sup_signal_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGCHLD);
}

/* ---- the child side ---- */

static void sup_close(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* Everything a child must not share with its parent or siblings, redone
 * before it runs any of the broker. */
static void sup_child_setup(int index, pid_t parent)
{
    char tag[48];
    sigset_t set;

    snprintf(tag, sizeof tag, "[worker %d pid %ld]", index + 1, (long)getpid());
    log_set_tag(tag);
    sup_close(&sig_fd);
    sup_close(&ready_r);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
    signal(SIGHUP, SIG_IGN); /* server.c installs the reload handler */
    sup_signal_set(&set);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    /* A parent killed with SIGKILL cannot forward anything: the children
     * follow it rather than serve the port unsupervised. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        _exit(1);
    /* The DRBG state in this address space is the parent's (or unseeded):
     * two children continuing it would draw the same tickets, jtis and
     * session ids. Drop it and seed anew from the OS. */
    rng_free();
    if (rng_init()) {
        log_error("no entropy source");
        _exit(1);
    }
}

pid_t supervisor_spawn(int index, supervisor_child_fn child, void *arg)
{
    pid_t parent = getpid();

    fflush(NULL); /* else both would write what stdio still holds */
    pid_t pid = fork();
    if (pid != 0)
        return pid; /* the parent, or -1 */
    sup_child_setup(index, parent);
    int rc = child(index, arg);
    exit(rc & 0xff);
}

void supervisor_child_ready(void)
{
    pid_t me = getpid();
    ssize_t w;

    if (ready_w < 0)
        return;
    /* One pid_t: under PIPE_BUF, so children never interleave. */
    do
        w = write(ready_w, &me, sizeof me);
    while (w < 0 && errno == EINTR);
    sup_close(&ready_w);
}

/* ---- the parent side ---- */

static struct sup_child *sup_find(pid_t pid)
{
    for (int i = 0; i < sup.n; i++)
        if (sup.c[i].pid == pid)
            return &sup.c[i];
    return NULL;
}

static int sup_index(const struct sup_child *c) { return (int)(c - sup.c); }

static int sup_running(void)
{
    int n = 0;
    for (int i = 0; i < sup.n; i++)
        n += sup.c[i].pid > 0;
    return n;
}

static void sup_describe(int status, char *out, size_t outsz)
{
    if (WIFEXITED(status))
        snprintf(out, outsz, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(out, outsz, "was killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(out, outsz, "ended (wait status 0x%x)", (unsigned)status);
}

static void sup_start(struct sup_child *c)
{
    int i = sup_index(c);

    c->restart_at = 0;
    c->started_at = sup_now_ms();
    c->pid = supervisor_spawn(i, sup.fn, sup.arg);
    if (c->pid > 0) {
        log_info("worker %d started (pid %ld)", i + 1, (long)c->pid);
        return;
    }
    c->pid = 0;
    log_error("worker %d: fork failed: %s", i + 1, strerror(errno));
    if (!c->ever_ready) {
        sup.start_failed = true;
        return; /* supervisor_run stops the others */
    }
    c->restart_at = sup_now_ms() + c->backoff_ms;
}

static void sup_stop(int sig)
{
    if (!sup.stopping) {
        sup.stopping = true;
        sup.kill_at = sup_now_ms() + SUP_STOP_GRACE_MS;
        log_info("stopping %d workers", sup_running());
    }
    for (int i = 0; i < sup.n; i++) {
        sup.c[i].restart_at = 0;
        if (sup.c[i].pid > 0)
            kill(sup.c[i].pid, sig);
    }
}

/* A child is gone: expected while stopping; before it ever served, the
 * broker cannot run (stop all, exit 1); otherwise a crash, restarted after
 * its backoff so that a child dying at once does not fork in a tight loop. */
static void sup_reaped(struct sup_child *c, int status)
{
    int i = sup_index(c);
    long pid = (long)c->pid;
    char how[96];
    int64_t now = sup_now_ms();

    c->pid = 0;
    sup_describe(status, how, sizeof how);
    if (sup.stopping) {
        bool clean = (WIFEXITED(status) && WEXITSTATUS(status) == 0) ||
                     (WIFSIGNALED(status) &&
                      (WTERMSIG(status) == SIGTERM || WTERMSIG(status) == SIGINT));
        if (clean)
            log_info("worker %d (pid %ld) stopped", i + 1, pid);
        else
            log_warn("worker %d (pid %ld) %s while stopping", i + 1, pid, how);
        return;
    }
    if (!c->ever_ready) {
        log_error("worker %d (pid %ld) %s before it could serve; stopping", i + 1, pid, how);
        sup.start_failed = true;
        sup_stop(SIGTERM);
        return;
    }
    if (now - c->started_at >= SUP_GOOD_SERVICE_MS)
        c->backoff_ms = SUP_BACKOFF_FIRST_MS;
    log_error("worker %d (pid %ld) %s; starting it again in %d ms", i + 1, pid, how,
              c->backoff_ms);
    c->restart_at = now + c->backoff_ms;
    c->backoff_ms = c->backoff_ms * 2 > SUP_BACKOFF_MAX_MS ? SUP_BACKOFF_MAX_MS
                                                           : c->backoff_ms * 2;
}

static void sup_read_ready(void);

static void sup_reap_all(void)
{
    int status;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        /* A child may report ready and die between our two reads: take its
         * report first, or a crash would pass for a failed start. */
        sup_read_ready();
        struct sup_child *c = sup_find(pid);
        if (c)
            sup_reaped(c, status);
    }
}

static void sup_read_signals(void)
{
    struct signalfd_siginfo si;

    while (read(sig_fd, &si, sizeof si) == (ssize_t)sizeof si) {
        int sig = (int)si.ssi_signo;
        if (sig == SIGTERM || sig == SIGINT) {
            sup_stop(sig);
        } else if (sig == SIGHUP && !sup.stopping) {
            log_info("SIGHUP: asking %d workers to reload their keys", sup_running());
            for (int i = 0; i < sup.n; i++)
                if (sup.c[i].pid > 0)
                    kill(sup.c[i].pid, SIGHUP);
        }
        /* SIGCHLD only wakes us: every pass reaps. */
    }
}

static void sup_read_ready(void)
{
    pid_t pid;

    while (read(ready_r, &pid, sizeof pid) == (ssize_t)sizeof pid) {
        struct sup_child *c = sup_find(pid);
        if (!c)
            continue; /* it died since */
        c->ever_ready = true;
        log_debug("worker %d (pid %ld) is serving", sup_index(c) + 1, (long)pid);
    }
}

/* Restarts that are due, and the SIGKILL deadline of a stop. Returns the
 * poll timeout until the next deadline (-1: none). */
static int sup_deadlines(void)
{
    int64_t now = sup_now_ms(), next = -1;

    if (sup.stopping && sup.kill_at && now >= sup.kill_at) {
        log_warn("%d workers still running %d ms after the stop; killing them", sup_running(),
                 SUP_STOP_GRACE_MS);
        for (int i = 0; i < sup.n; i++)
            if (sup.c[i].pid > 0)
                kill(sup.c[i].pid, SIGKILL);
        sup.kill_at = 0;
    }
    if (sup.stopping && sup.kill_at)
        next = sup.kill_at;
    for (int i = 0; i < sup.n && !sup.stopping; i++) {
        struct sup_child *c = &sup.c[i];
        if (c->pid == 0 && c->restart_at && now >= c->restart_at)
            sup_start(c);
        if (c->pid == 0 && c->restart_at && (next < 0 || c->restart_at < next))
            next = c->restart_at;
    }
    if (next < 0)
        return -1;
    return next - now > 60000 ? 60000 : (int)(next - now);
}

static int sup_open(sigset_t *old)
{
    sigset_t set;
    int p[2];

    sup_signal_set(&set);
    signal(SIGCHLD, SIG_DFL); /* SIG_IGN inherited from a caller would auto-reap */
    if (sigprocmask(SIG_BLOCK, &set, old) != 0)
        return -1;
    sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sig_fd < 0 || pipe2(p, O_NONBLOCK | O_CLOEXEC) != 0)
        return -1;
    ready_r = p[0];
    ready_w = p[1];
    return 0;
}

static void sup_close_all(const sigset_t *old)
{
    sup_close(&sig_fd);
    sup_close(&ready_r);
    sup_close(&ready_w);
    sigprocmask(SIG_SETMASK, old, NULL);
}

int supervisor_run(int n, supervisor_child_fn child, void *arg)
{
    sigset_t old;
    char tag[48];

    if (n < 1 || n > SUP_MAX_CHILDREN || !child)
        return 1;
    memset(&sup, 0, sizeof sup);
    sup.n = n;
    sup.fn = child;
    sup.arg = arg;
    snprintf(tag, sizeof tag, "[supervisor pid %ld]", (long)getpid());
    log_set_tag(tag);
    if (sup_open(&old)) {
        log_error("supervisor: %s", strerror(errno));
        sup_close_all(&old);
        return 1;
    }
    for (int i = 0; i < n && !sup.start_failed; i++) {
        sup.c[i].backoff_ms = SUP_BACKOFF_FIRST_MS;
        sup_start(&sup.c[i]);
    }
    if (sup.start_failed)
        sup_stop(SIGTERM);

    while (!sup.stopping || sup_running() > 0) {
        struct pollfd pfd[2] = {{.fd = sig_fd, .events = POLLIN}, {.fd = ready_r, .events = POLLIN}};
        int timeout = sup_deadlines();
        if (poll(pfd, 2, timeout) < 0 && errno != EINTR) {
            log_error("supervisor: poll: %s", strerror(errno));
            sup_stop(SIGTERM);
            sleep(1);
        }
        sup_read_signals();
        sup_read_ready();
        sup_reap_all();
    }
    sup_close_all(&old);
    log_info(sup.start_failed ? "stopped: a worker could not start" : "stopped");
    return sup.start_failed ? 1 : 0;
}
