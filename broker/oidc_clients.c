/* oidc_clients.c — see oidc_clients.h. */
#include "oidc_clients.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "json.h"

bool oidc_client_id_ok(const char *id)
{
    size_t n = strnlen(id, CLIENT_ID_MAX + 1);
    return n >= 1 && n <= CLIENT_ID_MAX &&
           strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

static const struct {
    unsigned bit;
    const char *name;
} grant_names[] = {
    {OIDC_GRANT_CODE, "authorization_code"},
    {OIDC_GRANT_REFRESH, "refresh_token"},
    {OIDC_GRANT_DEVICE, OIDC_GRANT_DEVICE_NAME},
};
#define N_GRANTS (sizeof grant_names / sizeof grant_names[0])

int oidc_grants_parse(const char *csv, unsigned *out)
{
    unsigned bits = 0;
    const char *p = csv;
    while (*p) {
        size_t n = strcspn(p, ",");
        size_t i;
        for (i = 0; i < N_GRANTS; i++)
            if (strlen(grant_names[i].name) == n && !memcmp(p, grant_names[i].name, n))
                break;
        if (i == N_GRANTS)
            return -1;
        bits |= grant_names[i].bit;
        p += n;
        if (*p == ',')
            p++;
    }
    if (!bits)
        return -1;
    *out = bits;
    return 0;
}

void oidc_grants_format(unsigned grants, char *out, size_t outsz)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < N_GRANTS; i++) {
        if (!(grants & grant_names[i].bit))
            continue;
        int n = snprintf(out + o, outsz - o, "%s%s", o ? "," : "", grant_names[i].name);
        if (n < 0 || (size_t)n >= outsz - o)
            return;
        o += (size_t)n;
    }
}

/* The host part of an http URI is a loopback literal: where the port starts
 * (at ':'), or NULL. RFC 8252 §8.3 recommends the literal over "localhost". */
static const char *loopback_port(const char *uri)
{
    static const char *const hosts[] = {"http://127.0.0.1:", "http://[::1]:"};
    for (int i = 0; i < 2; i++) {
        size_t n = strlen(hosts[i]);
        if (!strncmp(uri, hosts[i], n))
            return uri + n - 1;
    }
    return NULL;
}

bool oidc_redirect_uri_ok(const char *uri)
{
    size_t n = strnlen(uri, OIDC_REDIRECT_URI_MAX);
    if (n == 0 || n >= OIDC_REDIRECT_URI_MAX || strchr(uri, '#') || strpbrk(uri, " \t\r\n\"<>\\"))
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)uri[i] < 0x21 || (unsigned char)uri[i] > 0x7e)
            return false;
    if (!strncmp(uri, "https://", 8))
        return n > 8 && uri[8] != '/';
    if (!strncmp(uri, "http://", 7))
        return loopback_port(uri) != NULL;
    return false;
}

/* a and b equal but for the digits of the port after a loopback host */
static bool loopback_equal(const char *reg, const char *uri)
{
    const char *rp = loopback_port(reg), *up = loopback_port(uri);
    if (!rp || !up || rp - reg != up - uri || memcmp(reg, uri, (size_t)(rp - reg)))
        return false;
    rp++, up++;
    size_t rn = strspn(rp, "0123456789"), un = strspn(up, "0123456789");
    if (!un || un > 5)
        return false;
    return !strcmp(rp + rn, up + un);
}

bool oidc_client_redirect_ok(const struct oidc_client *c, const char *uri)
{
    for (int i = 0; i < c->n_redirects; i++)
        if (!strcmp(c->redirects[i], uri) || loopback_equal(c->redirects[i], uri))
            return true;
    return false;
}

int oidc_client_encode(const struct oidc_client *c, char *out, size_t outsz)
{
    struct jw w;
    char joined[OIDC_REDIRECTS_MAX * OIDC_REDIRECT_URI_MAX];
    size_t o = 0;
    for (int i = 0; i < c->n_redirects; i++)
        o += (size_t)snprintf(joined + o, sizeof joined - o, "%s%s", i ? " " : "", c->redirects[i]);
    joined[o] = '\0';
    jw_init(&w, 0);
    jw_obj_open(&w);
    jw_kv_str(&w, "secret_hash", c->secret_hash);
    jw_kv_str(&w, "redirect_uris", joined);
    jw_kv_int(&w, "grants", c->grants);
    jw_kv_int(&w, "created_at", c->created_at);
    jw_obj_close(&w);
    size_t len;
    char *json = jw_finish(&w, &len);
    int rc = json && len < outsz ? 0 : -1;
    if (!rc)
        memcpy(out, json, len + 1);
    free(json);
    return rc;
}

int oidc_client_decode(const char *id, const char *json, size_t len, struct oidc_client *c)
{
    struct json_doc d;
    char joined[OIDC_REDIRECTS_MAX * OIDC_REDIRECT_URI_MAX];
    int64_t grants;
    memset(c, 0, sizeof *c);
    if (!oidc_client_id_ok(id) || json_parse(&d, json, len) ||
        json_get_str(&d, 0, "secret_hash", c->secret_hash, sizeof c->secret_hash, NULL) ||
        json_get_str(&d, 0, "redirect_uris", joined, sizeof joined, NULL) ||
        json_get_int(&d, 0, "grants", &grants) ||
        json_get_int(&d, 0, "created_at", &c->created_at))
        return -1;
    snprintf(c->id, sizeof c->id, "%s", id);
    c->grants = (unsigned)grants;
    for (char *save = NULL, *tok = strtok_r(joined, " ", &save); tok;
         tok = strtok_r(NULL, " ", &save)) {
        if (c->n_redirects == OIDC_REDIRECTS_MAX || strlen(tok) >= OIDC_REDIRECT_URI_MAX)
            return -1;
        snprintf(c->redirects[c->n_redirects++], OIDC_REDIRECT_URI_MAX, "%s", tok);
    }
    return 0;
}

struct get_ctx {
    oidc_client_cb cb;
    void *arg;
};

static void got(void *arg, enum store_rc rc, const struct oauth_rec *r)
{
    struct get_ctx *x = arg;
    struct oidc_client *c = NULL;
    if (!rc) {
        c = malloc(sizeof *c);
        if (!c || oidc_client_decode(r->key, r->value, strlen(r->value), c))
            rc = STORE_ERROR;
    }
    x->cb(x->arg, rc, rc ? NULL : c);
    free(c);
    free(x);
}

void oidc_client_get(const char *id, oidc_client_cb cb, void *arg)
{
    struct get_ctx *x;
    if (!id || !oidc_client_id_ok(id)) {
        cb(arg, STORE_NOT_FOUND, NULL);
        return;
    }
    if (!(x = malloc(sizeof *x))) {
        cb(arg, STORE_ERROR, NULL);
        return;
    }
    x->cb = cb;
    x->arg = arg;
    broker.store->ops->oauth_get(broker.store, "client", id, got, x);
}
