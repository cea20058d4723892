/* qrl_frame.c — see qrl_frame.h. */
#include "qrl_frame.h"

#include <stdio.h>
#include <string.h>

int qrl_frame_parse(struct qrl_frame *f, const char *js, size_t len)
{
    memset(f, 0, sizeof *f);
    if (qj_parse(&f->doc, js, len))
        return -1;
    struct qj *d = &f->doc;
    if (qj_get_str(d, "type", f->type, sizeof f->type) || !f->type[0]) {
        qj_free(d);
        return -1;
    }
    f->has_id = qj_get_int(d, "id", &f->id) == 0;
    /* Optional fields: a failed read leaves the zeroed default. */
    (void)qj_get_str(d, "ticket", f->ticket, sizeof f->ticket);
    (void)qj_get_str(d, "url", f->url, sizeof f->url);
    (void)qj_get_str(d, "code", f->code, sizeof f->code);
    int64_t v;
    if (!qj_get_int(d, "rotated", &v))
        f->rotated = v != 0;
    (void)qj_get_int(d, "expires_in", &f->expires_in);
    (void)qj_get_int(d, "refresh_expires_in", &f->refresh_expires_in);
    (void)qj_get_int(d, "retry_after", &f->retry_after);
    (void)qj_get_int(d, "server_time", &f->server_time);
    (void)qj_get_int(d, "heartbeat", &f->heartbeat);
    (void)qj_str(d, qj_path(d, "user.id"), f->user_id, sizeof f->user_id);
    if (!f->user_id[0] && !qj_int(d, qj_path(d, "user.id"), &v))
        snprintf(f->user_id, sizeof f->user_id, "%lld", (long long)v);
    (void)qj_str(d, qj_path(d, "user.name"), f->user_name, sizeof f->user_name);
    (void)qj_get_str(d, "session_id", f->session_id, sizeof f->session_id);
    (void)qj_get_str(d, "reason", f->reason, sizeof f->reason);
    if (!strcmp(f->type, "error")) {
        (void)qj_get_str(d, "code", f->err_code, sizeof f->err_code);
        (void)qj_get_str(d, "message", f->err_message, sizeof f->err_message);
        f->code[0] = '\0';
    }
    return 0;
}

void qrl_frame_free(struct qrl_frame *f)
{
    qj_free(&f->doc);
}

static const struct {
    const char *type;
    enum qrl_event_type ev;
} events[] = {
    {"ticket", QRL_EV_TICKET},           {"ticket.scanned", QRL_EV_SCANNED},
    {"ticket.denied", QRL_EV_DENIED},    {"ticket.expired", QRL_EV_EXPIRED},
    {"ticket.cancelled", QRL_EV_CANCELLED}, {"login", QRL_EV_LOGIN},
    {"session.revoked", QRL_EV_SESSION_REVOKED},
};

static const char *opt(const char *s)
{
    return s[0] ? s : NULL;
}

int qrl_frame_event(const struct qrl_frame *f, const char *js, size_t len, struct qrl_event *ev)
{
    memset(ev, 0, sizeof *ev);
    for (size_t i = 0; i < sizeof events / sizeof events[0]; i++) {
        if (strcmp(f->type, events[i].type))
            continue;
        ev->type = events[i].ev;
        ev->ticket = opt(f->ticket);
        ev->url = opt(f->url);
        ev->code = opt(f->code);
        ev->rotated = f->rotated;
        ev->expires_in = f->expires_in;
        ev->user_id = opt(f->user_id);
        ev->user_name = opt(f->user_name);
        ev->session_id = opt(f->session_id);
        ev->reason = opt(f->reason);
        ev->json = js;
        ev->json_len = len;
        return 1;
    }
    return 0;
}
