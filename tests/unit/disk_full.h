/* disk_full.h — for the length of a test step, every write that would grow a
 * file fails as on a full disk: RLIMIT_FSIZE of one byte, with SIGXFSZ
 * ignored so that write() returns EFBIG instead of killing the test. SQLite
 * reports it as an I/O error. Start from an empty WAL so that the write under
 * test has to grow one. */
#ifndef QRLOGIN_TEST_DISK_FULL_H
#define QRLOGIN_TEST_DISK_FULL_H

#include <signal.h>
#include <sys/resource.h>

struct disk_full {
    struct rlimit old;
    void (*old_handler)(int);
};

static inline void disk_full_begin(struct disk_full *d)
{
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &d->old), 0);
    d->old_handler = signal(SIGXFSZ, SIG_IGN);
    struct rlimit tiny = {1, d->old.rlim_max};
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &tiny), 0);
}

static inline void disk_full_end(struct disk_full *d)
{
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &d->old), 0);
    signal(SIGXFSZ, d->old_handler);
}

#endif
