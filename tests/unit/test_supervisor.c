/* test_supervisor.c — `serve --workers N`: every child draws its own random
 * numbers (a DRBG copied by fork would give two children the same tickets
 * and jtis), and the parent forwards SIGHUP, restarts a child that dies,
 * stops on SIGTERM with status 0, and gives up with status 1 when a child
 * cannot start. Real processes and signals; no timing is asserted, only
 * generous deadlines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rng.h"
#include "supervisor.h"

#define DEADLINE_MS 15000

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads exactly n bytes from fd within the deadline; -1 on timeout or EOF. */
static int read_full(int fd, void *buf, size_t n, int64_t deadline)
{
    size_t got = 0;
    while (got < n) {
        int64_t left = deadline - now_ms();
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            return -1;
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

/* waitpid with a deadline; SIGKILLs the process when it passes. Returns the
 * wait status, or -1 on a timeout. */
static int wait_exit(pid_t pid, int64_t deadline)
{
    int status;
    while (now_ms() < deadline) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

/* ---- randomness ------------------------------------------------------------ */

static int draw_fd = -1;

static int child_draws(int index, void *arg)
{
    (void)index;
    (void)arg;
    unsigned char buf[32];
    if (rng_bytes(buf, sizeof buf) || write(draw_fd, buf, sizeof buf) != (ssize_t)sizeof buf)
        return 1;
    return 0;
}

/* The control: a plain fork copies the DRBG, so a child that does not reseed
 * draws exactly what its parent draws next. That is what the real test
 * below would catch. */
static void test_plain_fork_repeats_randomness(void **state)
{
    (void)state;
    int p[2];
    unsigned char child[32], parent[32];

    assert_int_equal(rng_init(), 0);
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        unsigned char buf[32];
        int ok = rng_bytes(buf, sizeof buf) == 0 && write(p[1], buf, sizeof buf) == 32;
        _exit(ok ? 0 : 1);
    }
    close(p[1]);
    assert_int_equal(read_full(p[0], child, sizeof child, now_ms() + DEADLINE_MS), 0);
    assert_int_equal(rng_bytes(parent, sizeof parent), 0);
    assert_memory_equal(child, parent, sizeof child);
    close(p[0]);
    int status = wait_exit(pid, now_ms() + DEADLINE_MS);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    rng_free();
}

/* Children made by supervisor_spawn reseed: two children and the parent all
 * draw different bytes. */
static void test_children_draw_their_own_randomness(void **state)
{
    (void)state;
    int p[2];
    unsigned char a[32], b[32], parent[32];

    assert_int_equal(rng_init(), 0);
    assert_int_equal(pipe(p), 0);
    draw_fd = p[1];
    pid_t c1 = supervisor_spawn(0, child_draws, NULL);
    assert_true(c1 > 0);
    int s1 = wait_exit(c1, now_ms() + DEADLINE_MS);
    pid_t c2 = supervisor_spawn(1, child_draws, NULL);
    assert_true(c2 > 0);
    int s2 = wait_exit(c2, now_ms() + DEADLINE_MS);
    close(p[1]);
    draw_fd = -1;
    assert_true(WIFEXITED(s1) && WEXITSTATUS(s1) == 0);
    assert_true(WIFEXITED(s2) && WEXITSTATUS(s2) == 0);
    assert_int_equal(read_full(p[0], a, sizeof a, now_ms() + DEADLINE_MS), 0);
    assert_int_equal(read_full(p[0], b, sizeof b, now_ms() + DEADLINE_MS), 0);
    close(p[0]);
    assert_int_equal(rng_bytes(parent, sizeof parent), 0);
    assert_memory_not_equal(a, b, sizeof a);
    assert_memory_not_equal(a, parent, sizeof a);
    assert_memory_not_equal(b, parent, sizeof b);
    rng_free();
}

/* ---- supervision ----------------------------------------------------------- */

/* What a supervised test child reports to the test through a pipe. */
struct report {
    char kind; /* 'R' ready, 'H' got SIGHUP */
    int index;
    pid_t pid;
};

static int report_fd = -1;
static int child_index;
static int fail_index = -1; /* this child exits 3 at once, never ready */

static void child_report(char kind)
{
    struct report r;
    memset(&r, 0, sizeof r); /* no uninitialised padding through the pipe */
    r.kind = kind;
    r.index = child_index;
    r.pid = getpid();
    ssize_t w = write(report_fd, &r, sizeof r);
    (void)w;
}

static void on_child_hup(int sig)
{
    (void)sig;
    child_report('H');
}

/* A stand-in for the broker: ready at once, then waits for signals. SIGTERM
 * keeps its default action, as for a broker killed before its handler. */
static int child_serves(int index, void *arg)
{
    (void)arg;
    child_index = index;
    if (index == fail_index)
        return 3;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_child_hup;
    sigaction(SIGHUP, &sa, NULL);
    supervisor_child_ready();
    child_report('R');
    for (;;)
        pause();
}

/* Forks a process that runs supervisor_run(n, child_serves) and exits with
 * its status; reports arrive on *rd. */
static pid_t start_supervisor(int n, int *rd)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        report_fd = p[1];
        _exit(supervisor_run(n, child_serves, NULL));
    }
    close(p[1]);
    *rd = p[0];
    return pid;
}

static struct report next_report(int rd, char kind)
{
    struct report r;
    int64_t deadline = now_ms() + DEADLINE_MS;
    do {
        if (read_full(rd, &r, sizeof r, deadline))
            fail_msg("no '%c' report within %d ms", kind, DEADLINE_MS);
    } while (r.kind != kind);
    return r;
}

static void test_forwards_restarts_and_stops(void **state)
{
    (void)state;
    int rd;
    fail_index = -1;
    pid_t sup = start_supervisor(2, &rd);

    struct report r0 = next_report(rd, 'R'), r1 = next_report(rd, 'R');
    assert_int_not_equal(r0.index, r1.index);
    assert_int_not_equal(r0.pid, r1.pid);

    /* SIGHUP reaches both children. */
    assert_int_equal(kill(sup, SIGHUP), 0);
    struct report h0 = next_report(rd, 'H'), h1 = next_report(rd, 'H');
    assert_int_not_equal(h0.pid, h1.pid);

    /* A child killed outright is started again, as a new process in the
     * same slot. */
    assert_int_equal(kill(r0.pid, SIGKILL), 0);
    struct report again = next_report(rd, 'R');
    assert_int_equal(again.index, r0.index);
    assert_int_not_equal(again.pid, r0.pid);

    /* SIGTERM: every child goes, and the parent exits 0. */
    assert_int_equal(kill(sup, SIGTERM), 0);
    int status = wait_exit(sup, now_ms() + DEADLINE_MS);
    assert_true(status != -1);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_true(kill(again.pid, 0) != 0 || errno == EPERM);
    assert_true(kill(r1.pid, 0) != 0 || errno == EPERM);
    close(rd);
}

/* A child that exits before it ever served (it could not bind, say): the
 * others are stopped and the parent exits 1 rather than retry forever. */
static void test_failed_start_exits_1(void **state)
{
    (void)state;
    int rd;
    fail_index = 1;
    pid_t sup = start_supervisor(2, &rd);
    int status = wait_exit(sup, now_ms() + DEADLINE_MS);
    assert_true(status != -1);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 1);
    close(rd);
    fail_index = -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_fork_repeats_randomness),
        cmocka_unit_test(test_children_draw_their_own_randomness),
        cmocka_unit_test(test_forwards_restarts_and_stops),
        cmocka_unit_test(test_failed_start_exits_1),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
