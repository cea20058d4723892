/* qrl_internal.h — the client's state and the calls between its files.
 *
 * Ownership: fields marked [svc] are touched only on the service thread
 * (the client's own thread, or the one inside qrl_client_service); fields
 * marked [mu] only with `mu` held; [const] ones are set in qrl_client_new and
 * read-only afterwards. Callbacks into the application run without `mu`. */
#ifndef QRL_INTERNAL_H
#define QRL_INTERNAL_H

#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>

#include "qrl_frame.h"
#include "qrlogin.h"

/* One request, from qrl_request() until its answer is handed to cb. */
struct qrl_req {
    struct qrl_req *next;
    int64_t id;
    char *text;   /* the whole frame, with its id */
    size_t len;
    int sent;     /* written to the current socket */
    int resend;   /* safe to send again after a reconnect (token.refresh) */
    int barrier;  /* nothing after it is sent before its answer (sign-ins) */
    qrl_reply_cb cb;
    void *user;
};

struct qrl_tok {
    int have;
    char access[QRL_TOKEN_MAX];
    char refresh[QRL_TOKEN_MAX];
    char session_id[QRL_ID_MAX];
    char user_id[QRL_ID_MAX];
    char user_name[QRL_NAME_MAX];
    /* Deadlines on the monotonic clock, from the relative lifetimes the
     * broker gives, so that a wrong wall clock does not matter. */
    int64_t access_deadline_ms, access_life_ms, refresh_deadline_ms;
    uint64_t gen;        /* +1 whenever the pair changes */
    int refreshing;      /* a token.refresh is in flight (single-flight) */
    int rate_retries;    /* rate_limited answers to this refresh so far */
    uint64_t round;      /* +1 when a refresh finishes, either way */
    int round_status;
    struct qrl_error round_err;
    unsigned refresh_count;
};

struct qrl_client {
    struct qrl_config cfg;     /* [const] strings below are our copies */
    char *url, *ca_file, *client_name, *user_agent;
    char host[256], path[256]; /* [const] */
    int port, tls;             /* [const] */
    struct lws_context *ctx;   /* [const] */
    pthread_t thread;          /* [const] own-thread mode */
    int own_thread;            /* [const] */
    atomic_int stopping;

    /* [svc] */
    struct lws *wsi;
    lws_sorted_usec_list_t sul_connect, sul_wake, sul_refresh, sul_retry;
    unsigned backoff_ms;
    unsigned rand_state;
    char *rx;
    size_t rx_len;
    char tls_error[160]; /* why the last certificate was refused */
    uint64_t refresh_sched_gen;

    pthread_mutex_t mu;
    pthread_cond_t cv;          /* any change a blocking call may wait for */
    struct qrl_req *reqs;       /* [mu] in the order they were asked */
    int64_t next_id;            /* [mu] */
    int ready;                  /* [mu] hello received on the current socket */
    uint64_t connect_failures;  /* [mu] */
    char connect_error[200];    /* [mu] */
    int64_t clock_offset_ms;    /* [mu] */
    int want_ticket;            /* [mu] re-ask for a ticket after a reconnect */
    int phone_auth;             /* [mu] re-sign-in with auth.token after a reconnect */
    int want_attach;            /* [mu] re-attach the session after a reconnect */
    int attached;               /* [mu] this socket is bound to the session (attach or auth) */
    int kicked;                 /* [mu] the service thread has work from another thread */
    int resched_refresh;        /* [mu] the auto-refresh timer needs setting */
    pthread_t service_tid;      /* [mu] who is servicing now */
    int in_service;             /* [mu] */
    struct qrl_tok tok;         /* [mu] */
};

int64_t qrl_mono_ms(void);
void qrl_err_set(struct qrl_error *e, int status, const char *code, const char *msg);

/* qrl_client.c */
void qrl_kick(qrl_client *c); /* wake the service thread (mu not held) */
int qrl_on_service_thread(qrl_client *c); /* mu held */
void qrl_emit(qrl_client *c, const struct qrl_event *ev);
void qrl_emit_simple(qrl_client *c, enum qrl_event_type type, const char *reason,
                     const char *session_id);

/* qrl_requests.c */
/* Queues a request (mu held). body: one JSON object with a "type"; the id
 * is spliced in. front: before everything not yet sent (restoring a socket's
 * state after a reconnect). A sign-in (auth.*, session.attach) is a barrier:
 * the broker checks its token asynchronously and may answer a later request
 * first, which must not find the socket still anonymous. */
#define QRL_REQ_RESEND 1
#define QRL_REQ_FRONT 2
int qrl_enqueue_locked(qrl_client *c, const char *body, int flags, qrl_reply_cb cb, void *user);
/* Blocking request with a waiter; mu not held. hook (may be NULL) sees the
 * answer first, on the service thread, before the caller wakes. */
typedef void (*qrl_hook)(qrl_client *c, const struct qrl_reply *r);
int qrl_call_internal(qrl_client *c, const char *body, char **reply_json,
                      struct qrl_error *err, qrl_hook hook);
/* The next unsent request's text into a fresh LWS_PRE-prefixed buffer, or
 * NULL (svc). */
unsigned char *qrl_take_unsent(qrl_client *c, size_t *len, int *more);
/* An answer with this id arrived (svc). */
void qrl_answer(qrl_client *c, const struct qrl_frame *f, const char *js, size_t len);
/* The socket dropped: fail what was sent unless it may be sent again (svc). */
void qrl_requests_disconnected(qrl_client *c);
/* Fail everything (freeing). */
void qrl_requests_close(qrl_client *c);

/* qrl_calls.c: the ticket.new body with our client name (malloc'd). */
char *qrl_ticket_new_body(qrl_client *c);

/* qrl_tokens.c */
void qrl_tokens_store(qrl_client *c, const struct qrl_frame *f, int attached);
void qrl_tokens_forget(qrl_client *c, const char *reason, const char *session_id);
void qrl_tokens_on_hello_locked(qrl_client *c);
void qrl_tokens_timer(qrl_client *c); /* svc: (re)arm the auto-refresh timer */

#endif
