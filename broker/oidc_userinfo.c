/* oidc_userinfo.c — GET/POST /userinfo (OpenID Connect Core §5.3): the
 * bearer's claims. Any live access token of ours is accepted, checked as
 * /api/me checks it (signature, session, token version). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "jwt.h"
#include "json.h"
#include "oidc.h"
#include "sessions.h"

static const char bearer_invalid[] = "Bearer error=\"invalid_token\"";

static void checked(void *arg, enum api_err err, const struct claims *c)
{
    struct http_req *q = http_req_find((uint64_t)(uintptr_t)arg);
    if (!q)
        return;
    if (err == E_INTERNAL) {
        http_reply_oauth_error(q, 500, "server_error", NULL, NULL);
        return;
    }
    if (err) {
        http_reply_oauth_error(q, 401, "invalid_token", api_err_code(err), bearer_invalid);
        return;
    }
    char sub[24];
    snprintf(sub, sizeof sub, "%lld", (long long)c->sub);
    struct jw w;
    jw_init(&w, LWS_PRE);
    jw_obj_open(&w);
    jw_kv_str(&w, "sub", sub);
    jw_kv_str(&w, "name", c->name);
    jw_kv_str(&w, "preferred_username", c->name);
    jw_obj_close(&w);
    http_reply_json(q, 200, &w);
}

void oidc_userinfo(struct http_req *q)
{
    struct lws *wsi = http_req_wsi(q);
    char auth[JWT_MAX_TOKEN + 32];
    int n = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
    if (n <= 0 || n >= (int)sizeof auth ||
        lws_hdr_copy(wsi, auth, sizeof auth, WSI_TOKEN_HTTP_AUTHORIZATION) <= 0 ||
        strncasecmp(auth, "Bearer ", 7)) {
        /* RFC 6750 §3.1: no credentials, no error code */
        http_reply_oauth_error(q, 401, "invalid_token", "a bearer access token is required",
                               "Bearer");
        return;
    }
    const char *tok = auth + 7;
    while (*tok == ' ')
        tok++;
    uint64_t id = http_req_hold(q);
    sessions_check_access(tok, strlen(tok), checked, (void *)(uintptr_t)id);
}
