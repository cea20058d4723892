/* qrl_calls.c — the protocol's requests as blocking calls (PC side and
 * phone side). */
#include <stdlib.h>
#include <string.h>

#include "qrl_internal.h"

static int call_with(qrl_client *c, char *body, char **reply, struct qrl_error *err,
                     qrl_hook hook)
{
    if (!body) {
        qrl_err_set(err, QRL_ERR_NOMEM, "nomem", NULL);
        return QRL_ERR_NOMEM;
    }
    int rc = qrl_call_internal(c, body, reply, err, hook);
    free(body);
    return rc;
}

static char *body1(const char *type, const char *key, const char *val)
{
    struct qjw w;
    qjw_begin(&w, type);
    if (key)
        qjw_str(&w, key, val);
    return qjw_end(&w);
}

static int need(const char *s, struct qrl_error *err)
{
    if (s && *s)
        return 0;
    qrl_err_set(err, QRL_ERR_INVALID, "invalid", "a required argument is empty");
    return -1;
}

/* ---- PC side ---- */

char *qrl_ticket_new_body(qrl_client *c)
{
    struct qjw w;
    qjw_begin(&w, "ticket.new");
    if (c->client_name)
        qjw_nested_str(&w, "client", "name", c->client_name);
    return qjw_end(&w);
}

static void want_ticket_hook(qrl_client *c, const struct qrl_reply *r)
{
    if (r->status != QRL_OK)
        return;
    pthread_mutex_lock(&c->mu);
    c->want_ticket = 1;
    pthread_mutex_unlock(&c->mu);
}

int qrl_ticket_new(qrl_client *c, struct qrl_error *err)
{
    return call_with(c, qrl_ticket_new_body(c), NULL, err, want_ticket_hook);
}

static void cancel_hook(qrl_client *c, const struct qrl_reply *r)
{
    pthread_mutex_lock(&c->mu);
    c->want_ticket = 0;
    pthread_mutex_unlock(&c->mu);
}

int qrl_ticket_cancel(qrl_client *c, struct qrl_error *err)
{
    return call_with(c, body1("ticket.cancel", NULL, NULL), NULL, err, cancel_hook);
}

/* ---- phone side ---- */

int qrl_ticket_scan(qrl_client *c, const char *ticket, char **info_json, struct qrl_error *err)
{
    if (need(ticket, err))
        return QRL_ERR_INVALID;
    return call_with(c, body1("ticket.scan", "ticket", ticket), info_json, err, NULL);
}

int qrl_ticket_confirm(qrl_client *c, const char *ticket, const char *code,
                       struct qrl_error *err)
{
    if (need(ticket, err))
        return QRL_ERR_INVALID;
    struct qjw w;
    qjw_begin(&w, "ticket.confirm");
    qjw_str(&w, "ticket", ticket);
    if (code && *code)
        qjw_str(&w, "code", code);
    return call_with(c, qjw_end(&w), NULL, err, NULL);
}

int qrl_ticket_deny(qrl_client *c, const char *ticket, struct qrl_error *err)
{
    if (need(ticket, err))
        return QRL_ERR_INVALID;
    return call_with(c, body1("ticket.deny", "ticket", ticket), NULL, err, NULL);
}

int qrl_session_list(qrl_client *c, char **sessions_json, struct qrl_error *err)
{
    return call_with(c, body1("session.list", NULL, NULL), sessions_json, err, NULL);
}

int qrl_session_revoke(qrl_client *c, const char *session_id, struct qrl_error *err)
{
    if (need(session_id, err))
        return QRL_ERR_INVALID;
    return call_with(c, body1("session.revoke", "session_id", session_id), NULL, err, NULL);
}

int qrl_logout_all(qrl_client *c, struct qrl_error *err)
{
    return call_with(c, body1("logout.all", NULL, NULL), NULL, err, NULL);
}
