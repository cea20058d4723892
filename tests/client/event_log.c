/* event_log.c — see event_log.h. */
#include "event_log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define GUARD_SECONDS 30

void event_log_init(struct event_log *l)
{
    memset(l, 0, sizeof *l);
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
}

static void put(char *dst, size_t size, const char *s)
{
    snprintf(dst, size, "%s", s ? s : "");
}

void event_log_cb(const struct qrl_event *ev, void *user)
{
    struct event_log *l = user;
    pthread_mutex_lock(&l->mu);
    if (l->n < EVENT_LOG_MAX) {
        struct logged_event *e = &l->ev[l->n++];
        memset(e, 0, sizeof *e);
        e->type = ev->type;
        e->rotated = ev->rotated;
        e->expires_in = (long long)ev->expires_in;
        put(e->ticket, sizeof e->ticket, ev->ticket);
        put(e->url, sizeof e->url, ev->url);
        put(e->code, sizeof e->code, ev->code);
        put(e->user_name, sizeof e->user_name, ev->user_name);
        put(e->session_id, sizeof e->session_id, ev->session_id);
        put(e->reason, sizeof e->reason, ev->reason);
    }
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

int event_wait(struct event_log *l, enum qrl_event_type type, struct logged_event *out)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += GUARD_SECONDS;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        for (int i = 0; i < l->n; i++) {
            if (l->ev[i].type == type && !l->ev[i].consumed) {
                l->ev[i].consumed = 1;
                if (out)
                    *out = l->ev[i];
                pthread_mutex_unlock(&l->mu);
                return 0;
            }
        }
        if (pthread_cond_timedwait(&l->cv, &l->mu, &until) == ETIMEDOUT) {
            pthread_mutex_unlock(&l->mu);
            fprintf(stderr, "event_wait: no event of type %d within %d s\n", (int)type,
                    GUARD_SECONDS);
            return -1;
        }
    }
}

int event_count(struct event_log *l, enum qrl_event_type type)
{
    pthread_mutex_lock(&l->mu);
    int n = 0;
    for (int i = 0; i < l->n; i++)
        n += l->ev[i].type == type;
    pthread_mutex_unlock(&l->mu);
    return n;
}
