/* event_log.h — collects a client's events (from its service thread) for a
 * test thread to wait on, in order, without missing any. */
#ifndef QRL_TEST_EVENT_LOG_H
#define QRL_TEST_EVENT_LOG_H

#include <pthread.h>

#include "qrlogin.h"

#define EVENT_LOG_MAX 256

struct logged_event {
    enum qrl_event_type type;
    int rotated;
    long long expires_in;
    char ticket[QRL_ID_MAX];
    char url[512];
    char code[8];
    char user_name[QRL_NAME_MAX];
    char session_id[QRL_ID_MAX];
    char reason[200];
    int consumed;
};

struct event_log {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n;
    struct logged_event ev[EVENT_LOG_MAX];
};

void event_log_init(struct event_log *l);
/* The qrl_event_cb: pass the log as the user pointer. */
void event_log_cb(const struct qrl_event *ev, void *user);
/* Takes the oldest unconsumed event of this type, waiting for one (a guard
 * of 30 s turns a hang into a failure). 0, or -1 when none came. */
int event_wait(struct event_log *l, enum qrl_event_type type, struct logged_event *out);
/* How many events of this type arrived so far (consumed or not). */
int event_count(struct event_log *l, enum qrl_event_type type);

#endif
