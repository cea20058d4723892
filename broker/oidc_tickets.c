/* oidc_tickets.c — see oidc_tickets.h: what happens when a ticket that
 * serves an OAuth request is asked for, confirmed or denied. The device
 * grant's side is oidc_device.c; the authorization code's is here. */
#include "oidc_tickets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "clock.h"
#include "hub.h"
#include "json.h"
#include "log.h"
#include "oidc_authorize.h"
#include "oidc_device.h"
#include "tickets.h"

/* ---- ticket.new {"authorize": handle} from the hosted PC page ---- */

struct new_ctx {
    struct req r;
    uint64_t pc_conn;
    char handle[OAUTH_KEY_MAX];
};

static void authz_found(void *arg, enum store_rc rc, const struct oauth_rec *rec)
{
    struct new_ctx *x = arg;
    struct authz_rec a;
    struct ticket_grant *g;
    if (rc == STORE_NOT_FOUND || (!rc && oidc_authz_decode(rec, &a))) {
        reply_error(&x->r, E_NOT_FOUND,
                    "this sign-in request has expired; start again from the application");
    } else if (rc || !(g = calloc(1, sizeof *g))) {
        reply_error(&x->r, E_INTERNAL, NULL);
    } else {
        g->kind = TICKET_GRANT_AUTHORIZE;
        snprintf(g->client_id, sizeof g->client_id, "%s", a.client_id);
        snprintf(g->key, sizeof g->key, "%s", x->handle);
        /* the phone shows the client's name as the ticket's client */
        handle_ticket_new_grant(x->pc_conn, &x->r, a.client_id, g);
    }
    free(x);
}

bool oidc_ticket_new(struct conn *c, const struct req *r, const struct json_doc *d)
{
    char handle[OAUTH_KEY_MAX];
    if (json_member(d, 0, "authorize") < 0)
        return false;
    if (json_get_str(d, 0, "authorize", handle, sizeof handle, NULL) || !*handle) {
        reply_error(r, E_BAD_REQUEST, "authorize must be the handle of a sign-in request");
        return true;
    }
    struct new_ctx *x = calloc(1, sizeof *x);
    if (!x) {
        reply_error(r, E_INTERNAL, NULL);
        return true;
    }
    x->r = *r;
    x->pc_conn = c->id;
    snprintf(x->handle, sizeof x->handle, "%s", handle);
    broker.store->ops->oauth_get(broker.store, "authz", handle, authz_found, x);
    return true;
}

/* ---- the phone confirmed an authorize ticket ---- */

struct confirm_ctx {
    struct req r;            /* the phone's confirm */
    uint64_t pc_conn;
    char ticket[TICKET_LEN + 1];
    char handle[OAUTH_KEY_MAX];
    int64_t user_id;
    char user_name[USER_NAME_MAX + 1];
    struct authz_rec a;
    char code[OIDC_CODE_LEN + 1];
    struct oauth_rec rec;
};

static void push_denied(uint64_t pc_conn, const char *ticket)
{
    struct jw w;
    push_start(&w, "ticket.denied");
    jw_kv_str(&w, "ticket", ticket);
    push_finish(pc_conn, &w);
}

static void code_stored(void *arg, enum store_rc rc)
{
    struct confirm_ctx *x = arg;
    if (rc) {
        reply_error(&x->r, E_INTERNAL, "the store is unavailable");
        push_denied(x->pc_conn, x->ticket);
        free(x);
        return;
    }
    /* One login per authorize request: its record goes. */
    broker.store->ops->oauth_del(broker.store, "authz", x->handle, store_ignore_done, NULL);
    char url[2048];
    const char *names[] = {"code", "state", "iss", NULL};
    const char *values[] = {x->code, x->a.state, broker.cfg.public_url, NULL};
    struct conn *pc = hub_get(x->pc_conn);
    if (!pc) {
        reply_error(&x->r, E_NOT_FOUND, "the computer disconnected");
    } else if (oidc_redirect_url(x->a.redirect_uri, names, values, url, sizeof url)) {
        reply_error(&x->r, E_INTERNAL, NULL);
        push_denied(x->pc_conn, x->ticket);
    } else {
        /* No tokens to the page: they go to the client, at /token. */
        struct jw w;
        push_start(&w, "login");
        jw_kv_str(&w, "ticket", x->ticket);
        jw_kv_str(&w, "redirect", url);
        jw_user(&w, x->user_id, x->user_name);
        push_finish(x->pc_conn, &w);
        hub_conn_changed(pc);
        reply_ok(&x->r, x->ticket);
        log_info("authorization code issued to client %s for user %lld", x->a.client_id,
                 (long long)x->user_id);
    }
    free(x);
}

static void authz_for_code(void *arg, enum store_rc rc, const struct oauth_rec *rec)
{
    struct confirm_ctx *x = arg;
    if (rc || oidc_authz_decode(rec, &x->a)) {
        reply_error(&x->r, rc && rc != STORE_NOT_FOUND ? E_INTERNAL : E_NOT_FOUND,
                    "this sign-in request has expired");
        push_denied(x->pc_conn, x->ticket);
        free(x);
        return;
    }
    struct code_rec c = {0};
    snprintf(c.client_id, sizeof c.client_id, "%s", x->a.client_id);
    snprintf(c.redirect_uri, sizeof c.redirect_uri, "%s", x->a.redirect_uri);
    snprintf(c.nonce, sizeof c.nonce, "%s", x->a.nonce);
    snprintf(c.challenge, sizeof c.challenge, "%s", x->a.challenge);
    snprintf(c.scope, sizeof c.scope, "%s", x->a.scope);
    c.user_id = x->user_id;
    c.auth_time = clock_now_s();
    snprintf(c.used, sizeof c.used, "no");
    struct oauth_rec *r = &x->rec;
    memset(r, 0, sizeof *r);
    snprintf(r->kind, sizeof r->kind, "code");
    r->expires_at = clock_now_ms() + OIDC_CODE_TTL_MS;
    if (oidc_random_code(x->code) || oidc_code_encode(&c, r)) {
        code_stored(x, STORE_ERROR);
        return;
    }
    oidc_secret_key(x->code, r->key);
    broker.store->ops->oauth_put(broker.store, r, code_stored, x);
}

static void authorize_confirmed(const struct req *r, const struct ticket *t,
                                const struct user_rec *u)
{
    struct confirm_ctx *x = calloc(1, sizeof *x);
    if (!x) {
        reply_error(r, E_INTERNAL, NULL);
        push_denied(t->pc_conn, t->id);
        return;
    }
    x->r = *r;
    x->pc_conn = t->pc_conn;
    snprintf(x->ticket, sizeof x->ticket, "%s", t->id);
    snprintf(x->handle, sizeof x->handle, "%s", t->grant->key);
    x->user_id = u->id;
    snprintf(x->user_name, sizeof x->user_name, "%s", u->name);
    broker.store->ops->oauth_get(broker.store, "authz", x->handle, authz_for_code, x);
}

/* ---- the hooks ---- */

void oidc_ticket_confirmed(const struct req *r, const struct ticket *t, const struct user_rec *u,
                           const char *ip, const char *user_agent)
{
    (void)ip, (void)user_agent; /* the session is made at /token, with the client's */
    if (t->grant->kind == TICKET_GRANT_DEVICE)
        oidc_device_decided(r, t, u->id, true);
    else
        authorize_confirmed(r, t, u);
}

bool oidc_ticket_denied(const struct ticket *t, const struct req *r)
{
    if (t->grant->kind == TICKET_GRANT_DEVICE) {
        oidc_device_decided(r, t, 0, false);
        return r != NULL;
    }
    /* an authorize ticket: the PC page shows the denial and may ask again */
    return false;
}
