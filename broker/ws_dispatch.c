/* ws_dispatch.c — see ws_dispatch.h. */
#include "ws_dispatch.h"

#include <string.h>

#include "log.h"

static const struct {
    const char *type;
    ws_handler fn;
    bool needs_auth;
} handlers[] = {
    {"ticket.new", handle_ticket_new, false},
    {"ticket.cancel", handle_ticket_cancel, false},
    {"ticket.scan", handle_ticket_scan, true},
    {"ticket.confirm", handle_ticket_confirm, true},
    {"ticket.deny", handle_ticket_deny, true},
    {"auth.password", handle_auth_password, false},
    {"auth.token", handle_auth_token, false},
    {"auth.external", handle_auth_external, false},
    {"session.attach", handle_session_attach, false},
    {"token.refresh", handle_token_refresh, false},
    {"session.list", handle_session_list, true},
    {"session.revoke", handle_session_revoke, true},
    {"logout", handle_logout, true},
    {"logout.all", handle_logout_all, true},
};

/* Characters (code points) in valid UTF-8. */
static size_t utf8_chars(const char *s, size_t n)
{
    size_t chars = 0;
    for (size_t i = 0; i < n; i++)
        chars += ((unsigned char)s[i] & 0xC0) != 0x80;
    return chars;
}

/* `id`: an integer, or a string of at most 64 characters. Kept as its raw
 * JSON text so the reply echoes exactly what was sent. Returns 0, or -1 if
 * present and not acceptable. */
static int take_id(const struct json_doc *d, struct req *r)
{
    int i = json_member(d, 0, "id");
    if (i < 0)
        return 0;
    const jsmntok_t *t = &d->tok[i];
    char type = json_type(d, i);
    int64_t v;
    if (type == 'n') {
        if (json_get_int(d, 0, "id", &v))
            return -1;
    } else if (type == 's') {
        char s[64 * 4 + 1];
        size_t n;
        if (json_get_str(d, 0, "id", s, sizeof s, &n) || utf8_chars(s, n) > 64)
            return -1;
    } else {
        return -1;
    }
    /* jsmn string tokens exclude the quotes; put them back. */
    int start = t->start - (type == 's'), end = t->end + (type == 's');
    size_t raw = (size_t)(end - start);
    if (raw > REQ_ID_RAW_MAX)
        return -1;
    memcpy(r->id_raw, d->js + start, raw);
    r->id_raw[raw] = '\0';
    return 0;
}

void ws_dispatch(struct conn *c, const char *msg, size_t len, bool rate_limited)
{
    struct req r = {.conn = c->id};
    struct json_doc d;
    if (rate_limited) {
        if (!json_parse(&d, msg, len) && take_id(&d, &r))
            r.id_raw[0] = '\0';
        reply_rate_limited(&r, 1, "slow down");
        return;
    }
    if (json_parse(&d, msg, len)) {
        reply_error(&r, E_BAD_REQUEST, "expected one JSON object in UTF-8");
        return;
    }
    if (take_id(&d, &r)) {
        reply_error(&r, E_BAD_REQUEST, "id must be an integer or a string of at most 64 characters");
        return;
    }
    char type[32];
    enum json_rc rc = json_get_str(&d, 0, "type", type, sizeof type, NULL);
    if (rc == JSON_MISSING) {
        reply_error(&r, E_BAD_REQUEST, "missing type");
        return;
    }
    if (rc) {
        reply_error(&r, E_BAD_REQUEST, "unknown type");
        return;
    }
    for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++) {
        if (strcmp(type, handlers[i].type))
            continue;
        if (handlers[i].needs_auth && !c->user_id) {
            reply_error(&r, E_UNAUTHORIZED, "sign in first (auth.password, auth.token or auth.external)");
            return;
        }
        handlers[i].fn(c, &r, &d);
        return;
    }
    reply_error(&r, E_BAD_REQUEST, "unknown type");
}
