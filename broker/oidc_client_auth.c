/* oidc_client_auth.c — see oidc_client_auth.h. */
#include "oidc_client_auth.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mbedtls/base64.h>
#include <mbedtls/platform_util.h>

#include "broker.h"
#include "form.h"
#include "password.h"
#include "workers.h"

#define SECRET_MAX 256

struct auth_ctx {
    struct work work;
    char id[CLIENT_ID_MAX + 1];
    char secret[SECRET_MAX + 1];
    bool has_secret;
    struct oidc_client client;
    int verified; /* password_verify's answer */
    oidc_auth_cb cb;
    void *arg;
};

static void finish(struct auth_ctx *x, enum oidc_auth_rc rc)
{
    mbedtls_platform_zeroize(x->secret, sizeof x->secret);
    x->cb(x->arg, rc, rc == OIDC_AUTH_OK ? &x->client : NULL);
    free(x);
}

static void verify_run(struct work *w)
{
    struct auth_ctx *x = (struct auth_ctx *)w;
    x->verified = password_verify(x->secret, strlen(x->secret), x->client.secret_hash);
}

static void verify_done(struct work *w)
{
    struct auth_ctx *x = (struct auth_ctx *)w;
    finish(x, x->verified == 1 ? OIDC_AUTH_OK : OIDC_AUTH_INVALID_CLIENT);
}

/* A dummy hash stands in for an unknown client, so the answer takes as long
 * as for a real one with a wrong secret. */
static void client_found(void *arg, enum store_rc rc, const struct oidc_client *c)
{
    struct auth_ctx *x = arg;
    if (rc && rc != STORE_NOT_FOUND) {
        finish(x, OIDC_AUTH_ERROR);
        return;
    }
    if (rc == STORE_NOT_FOUND) {
        if (!x->has_secret) {
            finish(x, OIDC_AUTH_INVALID_CLIENT);
            return;
        }
        snprintf(x->client.secret_hash, sizeof x->client.secret_hash, "%s",
                 password_dummy_hash(broker.cfg.pbkdf2_iterations));
        x->work.run = verify_run;
        x->work.done = verify_done;
        x->client.id[0] = '\0';
        workers_submit(&x->work); /* a random dummy never matches */
        return;
    }
    x->client = *c;
    bool confidential = c->secret_hash[0] != '\0';
    if (confidential != x->has_secret) {
        /* a public client presenting a secret, or a confidential one none */
        finish(x, OIDC_AUTH_INVALID_CLIENT);
        return;
    }
    if (!confidential) {
        finish(x, OIDC_AUTH_OK);
        return;
    }
    x->work.run = verify_run;
    x->work.done = verify_done;
    workers_submit(&x->work);
}

/* "Basic base64(urlencode(id):urlencode(secret))" (RFC 6749 §2.3.1). */
static int parse_basic(const char *h, struct auth_ctx *x)
{
    unsigned char raw[CLIENT_ID_MAX * 3 + SECRET_MAX * 3 + 8];
    size_t n;
    if (strncasecmp(h, "Basic ", 6))
        return -1;
    h += 6;
    while (*h == ' ')
        h++;
    if (mbedtls_base64_decode(raw, sizeof raw - 1, &n, (const unsigned char *)h, strlen(h)) ||
        !n)
        return -1;
    raw[n] = '\0';
    if (memchr(raw, '\0', n))
        return -1;
    char *colon = strchr((char *)raw, ':');
    if (!colon)
        return -1;
    *colon = '\0';
    char *id = (char *)raw, *secret = colon + 1;
    int rc = -1;
    if (!form_decode_inplace(id) && !form_decode_inplace(secret) &&
        strlen(id) <= CLIENT_ID_MAX && strlen(secret) <= SECRET_MAX && *secret) {
        memcpy(x->id, id, strlen(id) + 1);             /* lengths checked above */
        memcpy(x->secret, secret, strlen(secret) + 1);
        x->has_secret = true;
        rc = 0;
    }
    mbedtls_platform_zeroize(raw, sizeof raw);
    return rc;
}

void oidc_client_authenticate(struct http_req *q, const char *body, size_t len,
                              bool *used_basic, oidc_auth_cb cb, void *arg)
{
    struct auth_ctx *x = calloc(1, sizeof *x);
    if (!x) {
        cb(arg, OIDC_AUTH_ERROR, NULL);
        return;
    }
    x->cb = cb;
    x->arg = arg;
    *used_basic = false;

    struct lws *wsi = http_req_wsi(q);
    char auth[1024];
    int hl = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
    char body_id[CLIENT_ID_MAX + 2];
    int bid = form_value(body, len, "client_id", body_id, sizeof body_id);
    int bsec = form_value(body, len, "client_secret", x->secret, sizeof x->secret);

    if (hl > 0) {
        *used_basic = true;
        if (hl >= (int)sizeof auth || lws_hdr_copy(wsi, auth, sizeof auth,
                                                   WSI_TOKEN_HTTP_AUTHORIZATION) <= 0 ||
            parse_basic(auth, x)) {
            mbedtls_platform_zeroize(auth, sizeof auth);
            finish(x, OIDC_AUTH_INVALID_CLIENT);
            return;
        }
        mbedtls_platform_zeroize(auth, sizeof auth);
        /* RFC 6749 §2.3.1: not both methods; a body client_id that agrees
         * with the header is tolerated (some clients send it always). */
        if (bsec != -1 || (bid >= 0 && strcmp(body_id, x->id)) || bid == -2) {
            finish(x, OIDC_AUTH_INVALID_REQUEST);
            return;
        }
    } else {
        if (bid == -1) {
            finish(x, OIDC_AUTH_INVALID_REQUEST);
            return;
        }
        if (bid < 0 || bsec == -2 || (size_t)bid > CLIENT_ID_MAX) {
            finish(x, OIDC_AUTH_INVALID_CLIENT);
            return;
        }
        memcpy(x->id, body_id, (size_t)bid + 1);
        x->has_secret = bsec > 0;
    }
    oidc_client_get(x->id, client_found, x);
}

void oidc_reply_invalid_client(struct http_req *q, bool used_basic)
{
    http_reply_oauth_error(q, 401, "invalid_client", "client authentication failed",
                           used_basic ? "Basic realm=\"qrlogin\"" : NULL);
}
