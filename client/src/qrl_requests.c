/* qrl_requests.c — requests and their answers: ids, the queue that waits
 * for a socket, matching replies, and the blocking form on top of the
 * asynchronous one. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qrl_internal.h"

/* The request's type, from a body that must be one JSON object. */
static int body_type(const char *body, size_t len, char *type, size_t size)
{
    struct qj d;
    if (qj_parse(&d, body, len))
        return -1;
    int rc = qj_get_str(&d, "type", type, size) || !type[0] || qj_member(&d, 0, "id") >= 0;
    qj_free(&d);
    return rc ? -1 : 0;
}

int qrl_enqueue_locked(qrl_client *c, const char *body, int flags, qrl_reply_cb cb, void *user)
{
    size_t blen = body ? strlen(body) : 0;
    char type[64];
    if (!body || body_type(body, blen, type, sizeof type))
        return QRL_ERR_INVALID;
    /* The body must be one object; the id goes in before its last '}'. */
    while (blen && strchr(" \t\r\n", body[blen - 1]))
        blen--;
    if (blen < 2 || body[0] != '{' || body[blen - 1] != '}')
        return QRL_ERR_INVALID;
    struct qrl_req *r = calloc(1, sizeof *r);
    if (!r)
        return QRL_ERR_NOMEM;
    r->id = c->next_id++;
    char idpart[40];
    int empty = blen == 2 || body[1] == '}';
    int n = snprintf(idpart, sizeof idpart, "%s\"id\":%lld}", empty ? "" : ",", (long long)r->id);
    r->len = blen - 1 + (size_t)n;
    r->text = malloc(r->len + 1);
    if (!r->text) {
        free(r);
        return QRL_ERR_NOMEM;
    }
    memcpy(r->text, body, blen - 1);
    memcpy(r->text + blen - 1, idpart, (size_t)n + 1);
    r->resend = (flags & QRL_REQ_RESEND) != 0;
    r->barrier = !strncmp(type, "auth.", 5) || !strcmp(type, "session.attach");
    r->cb = cb;
    r->user = user;
    struct qrl_req **at = &c->reqs;
    if (flags & QRL_REQ_FRONT) {
        while (*at && (*at)->sent)
            at = &(*at)->next;
    } else {
        while (*at)
            at = &(*at)->next;
    }
    r->next = *at;
    *at = r;
    c->kicked = 1;
    return QRL_OK;
}

int qrl_request(qrl_client *c, const char *body, qrl_reply_cb cb, void *user)
{
    pthread_mutex_lock(&c->mu);
    int rc = atomic_load(&c->stopping) ? QRL_ERR_CLOSED
                                       : qrl_enqueue_locked(c, body, 0, cb, user);
    pthread_mutex_unlock(&c->mu);
    if (rc == QRL_OK)
        lws_cancel_service(c->ctx);
    return rc;
}

unsigned char *qrl_take_unsent(qrl_client *c, size_t *len, int *more)
{
    unsigned char *buf = NULL;
    pthread_mutex_lock(&c->mu);
    struct qrl_req *r = c->reqs;
    while (r && r->sent && !r->barrier)
        r = r->next;
    if (r && r->sent)
        r = NULL; /* a sign-in awaits its answer; qrl_answer() asks to write again */
    if (r && c->ready) {
        buf = malloc(LWS_PRE + r->len);
        if (buf) {
            memcpy(buf + LWS_PRE, r->text, r->len);
            *len = r->len;
            r->sent = 1;
            for (struct qrl_req *n = r->next; n; n = n->next)
                if (!n->sent)
                    *more = 1;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return buf;
}

static void finish(struct qrl_req *r, const struct qrl_reply *reply)
{
    if (r->cb)
        r->cb(reply, r->user);
    /* The frame held the id; tokens may be in it (token.refresh). */
    memset(r->text, 0, r->len);
    free(r->text);
    free(r);
}

static void fail(struct qrl_req *r, int status, const char *code)
{
    struct qrl_error e;
    qrl_err_set(&e, status, code, NULL);
    struct qrl_reply reply = {.status = status, .error = &e};
    finish(r, &reply);
}

void qrl_answer(qrl_client *c, const struct qrl_frame *f, const char *js, size_t len)
{
    pthread_mutex_lock(&c->mu);
    struct qrl_req **at = &c->reqs;
    while (*at && !((*at)->id == f->id && (*at)->sent))
        at = &(*at)->next;
    struct qrl_req *r = *at;
    if (r)
        *at = r->next;
    int more = 0;
    for (struct qrl_req *n = c->reqs; n && !more; n = n->next)
        more = !n->sent;
    pthread_mutex_unlock(&c->mu);
    if (!r)
        return; /* an answer to a request given up on */
    if (r->barrier && more && c->wsi)
        lws_callback_on_writable(c->wsi);
    struct qrl_error e;
    struct qrl_reply reply = {.status = QRL_OK, .type = f->type, .json = js, .json_len = len};
    if (!strcmp(f->type, "error")) {
        qrl_err_set(&e, QRL_ERR_SERVER, f->err_code, f->err_message[0] ? f->err_message : NULL);
        e.retry_after = (int)f->retry_after;
        reply = (struct qrl_reply){.status = QRL_ERR_SERVER, .error = &e, .type = f->type,
                                   .json = js, .json_len = len};
    }
    finish(r, &reply);
}

void qrl_requests_disconnected(qrl_client *c)
{
    struct qrl_req *dead = NULL, **tail = &dead;
    pthread_mutex_lock(&c->mu);
    struct qrl_req **at = &c->reqs;
    while (*at) {
        struct qrl_req *r = *at;
        if (r->sent && !r->resend) {
            *at = r->next;
            r->next = NULL;
            *tail = r;
            tail = &r->next;
        } else {
            r->sent = 0;
            at = &r->next;
        }
    }
    pthread_mutex_unlock(&c->mu);
    while (dead) {
        struct qrl_req *next = dead->next;
        fail(dead, QRL_ERR_DISCONNECTED, "disconnected");
        dead = next;
    }
}

void qrl_requests_close(qrl_client *c)
{
    pthread_mutex_lock(&c->mu);
    struct qrl_req *all = c->reqs;
    c->reqs = NULL;
    pthread_mutex_unlock(&c->mu);
    while (all) {
        struct qrl_req *next = all->next;
        fail(all, QRL_ERR_CLOSED, "closed");
        all = next;
    }
    pthread_mutex_lock(&c->mu);
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

/* ---- blocking calls ---- */

/* Shared by the caller and the reply callback; the last one out frees it,
 * so a caller that timed out never leaves the callback a dangling pointer. */
struct waiter {
    qrl_client *c;
    qrl_hook hook; /* runs first, on the service thread */
    int refs;
    int done;
    int status;
    int want_json; /* the caller asked for the answer's text */
    struct qrl_error err;
    char *json;
};

static void wipe_free(char *s)
{
    if (s) {
        memset(s, 0, strlen(s)); /* answers may hold tokens */
        free(s);
    }
}

static void waiter_unref_locked(struct waiter *w)
{
    if (--w->refs == 0) {
        wipe_free(w->json);
        free(w);
    }
}

static void waiter_done(const struct qrl_reply *r, void *user)
{
    struct waiter *w = user;
    qrl_client *c = w->c;
    if (w->hook)
        w->hook(c, r);
    char *copy = NULL;
    if (w->want_json && r->json && r->status == QRL_OK) {
        copy = malloc(r->json_len + 1);
        if (copy) {
            memcpy(copy, r->json, r->json_len);
            copy[r->json_len] = '\0';
        }
    }
    pthread_mutex_lock(&c->mu);
    w->done = 1;
    w->status = r->status;
    if (r->error)
        w->err = *r->error;
    if (w->want_json && r->json && !copy && r->status == QRL_OK) {
        w->status = QRL_ERR_NOMEM;
        qrl_err_set(&w->err, QRL_ERR_NOMEM, "nomem", NULL);
    }
    w->json = copy;
    pthread_cond_broadcast(&c->cv);
    waiter_unref_locked(w);
    pthread_mutex_unlock(&c->mu);
}

int qrl_call_internal(qrl_client *c, const char *body, char **reply_json, struct qrl_error *err,
                      qrl_hook hook)
{
    if (reply_json)
        *reply_json = NULL;
    struct waiter *w = calloc(1, sizeof *w);
    if (!w) {
        qrl_err_set(err, QRL_ERR_NOMEM, "nomem", NULL);
        return QRL_ERR_NOMEM;
    }
    w->c = c;
    w->hook = hook;
    w->want_json = reply_json != NULL;
    w->refs = 2;
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += c->cfg.timeout_ms / 1000;
    until.tv_nsec += (long)(c->cfg.timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&c->mu);
    int rc;
    if (qrl_on_service_thread(c))
        rc = QRL_ERR_WOULD_BLOCK;
    else if (atomic_load(&c->stopping))
        rc = QRL_ERR_CLOSED;
    else
        rc = qrl_enqueue_locked(c, body, 0, waiter_done, w);
    if (rc != QRL_OK) {
        pthread_mutex_unlock(&c->mu);
        free(w);
        qrl_err_set(err, rc, rc == QRL_ERR_WOULD_BLOCK ? "would_block" : "invalid", NULL);
        return rc;
    }
    int64_t my_id = c->next_id - 1;
    pthread_mutex_unlock(&c->mu);
    lws_cancel_service(c->ctx);

    pthread_mutex_lock(&c->mu);
    while (!w->done) {
        if (pthread_cond_timedwait(&c->cv, &c->mu, &until) == ETIMEDOUT)
            break;
    }
    if (!w->done) {
        /* Still queued or unanswered: take it back so it is not sent (or
         * its late answer is dropped). If it is gone, its callback is about
         * to run; the reference count covers that. */
        for (struct qrl_req **at = &c->reqs; *at; at = &(*at)->next) {
            if ((*at)->id == my_id) {
                struct qrl_req *r = *at;
                *at = r->next;
                memset(r->text, 0, r->len);
                free(r->text);
                free(r);
                w->refs--;
                break;
            }
        }
        rc = QRL_ERR_TIMEOUT;
        qrl_err_set(err, rc, "timeout", NULL);
    } else {
        rc = w->status;
        if (rc != QRL_OK && err)
            *err = w->err;
        if (reply_json) {
            *reply_json = w->json;
            w->json = NULL;
        }
    }
    waiter_unref_locked(w);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int qrl_call(qrl_client *c, const char *body, char **reply_json, struct qrl_error *err)
{
    return qrl_call_internal(c, body, reply_json, err, NULL);
}
