/* oidc_common.c — see oidc_common.h. */
#include "oidc_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/constant_time.h>
#include <mbedtls/sha256.h>

#include "b64url.h"
#include "broker.h"
#include "json.h"
#include "rng.h"

void oidc_secret_key(const char *secret, char out[OAUTH_KEY_MAX])
{
    uint8_t h[32];
    mbedtls_sha256_ret((const unsigned char *)secret, strlen(secret), h, 0);
    b64url_encode(h, sizeof h, out, OAUTH_KEY_MAX);
}

int oidc_random_code(char out[OIDC_CODE_LEN + 1])
{
    return rng_token(32, out, OIDC_CODE_LEN + 1) == OIDC_CODE_LEN ? 0 : -1;
}

static const char user_code_alphabet[] = "BCDFGHJKLMNPQRSTVWXZ";

int oidc_user_code(char out[OIDC_USER_CODE_LEN + 1])
{
    /* 256 = 12 * 20 + 16: bytes >= 240 are redrawn, so every letter is
     * equally likely. */
    int n = 0;
    while (n < OIDC_USER_CODE_LEN) {
        uint8_t r[16];
        if (rng_bytes(r, sizeof r))
            return -1;
        for (size_t i = 0; i < sizeof r && n < OIDC_USER_CODE_LEN; i++)
            if (r[i] < 240)
                out[n++] = user_code_alphabet[r[i] % 20];
    }
    out[n] = '\0';
    return 0;
}

bool oidc_user_code_normalize(const char *typed, char out[OIDC_USER_CODE_LEN + 1])
{
    int n = 0;
    for (const char *p = typed; *p; p++) {
        char ch = *p;
        if (ch == '-' || ch == ' ')
            continue;
        if (ch >= 'a' && ch <= 'z')
            ch = (char)(ch - 'a' + 'A');
        if (n == OIDC_USER_CODE_LEN || !strchr(user_code_alphabet, ch) || !ch)
            return false;
        out[n++] = ch;
    }
    out[n] = '\0';
    return n == OIDC_USER_CODE_LEN;
}

bool oidc_pkce_s256_ok(const char *verifier, const char *challenge)
{
    size_t n = strlen(verifier);
    if (n < 43 || n > 128 ||
        strspn(verifier, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~") != n)
        return false;
    uint8_t h[32];
    char want[48];
    mbedtls_sha256_ret((const unsigned char *)verifier, n, h, 0);
    if (b64url_encode(h, sizeof h, want, sizeof want) != 43 || strlen(challenge) != 43)
        return false;
    return mbedtls_ct_memcmp(want, challenge, 43) == 0;
}

bool oidc_scope_has(const char *scope, const char *one)
{
    size_t n = strlen(one);
    for (const char *p = scope; *p;) {
        size_t len = strcspn(p, " ");
        if (len == n && !memcmp(p, one, n))
            return true;
        p += len;
        while (*p == ' ')
            p++;
    }
    return false;
}

int oidc_rec_set_value(struct oauth_rec *r, struct jw *w)
{
    size_t len;
    char *json = jw_finish(w, &len);
    int rc = json && len < sizeof r->value ? 0 : -1;
    if (!rc)
        memcpy(r->value, json, len + 1);
    free(json);
    return rc;
}

struct rmw {
    char kind[OAUTH_KIND_MAX];
    char key[OAUTH_KEY_MAX];
    oidc_rec_modify modify;
    oidc_rec_done done;
    void *arg;
    int tries;
    struct oauth_rec rec;
};

static void rmw_read(struct rmw *x);

static void rmw_written(void *arg, enum store_rc rc)
{
    struct rmw *x = arg;
    if (rc == STORE_CONFLICT && ++x->tries < OIDC_CAS_TRIES) {
        rmw_read(x);
        return;
    }
    x->done(x->arg, rc, rc == STORE_OK);
    free(x);
}

static void rmw_got(void *arg, enum store_rc rc, const struct oauth_rec *r)
{
    struct rmw *x = arg;
    if (rc) {
        x->done(x->arg, rc, false);
        free(x);
        return;
    }
    x->rec = *r;
    if (!x->modify(x->arg, &x->rec)) {
        x->done(x->arg, STORE_OK, false);
        free(x);
        return;
    }
    broker.store->ops->oauth_put(broker.store, &x->rec, rmw_written, x);
}

static void rmw_read(struct rmw *x)
{
    broker.store->ops->oauth_get(broker.store, x->kind, x->key, rmw_got, x);
}

void oidc_rec_update(const char *kind, const char *key, oidc_rec_modify modify,
                     oidc_rec_done done, void *arg)
{
    struct rmw *x = calloc(1, sizeof *x);
    if (!x) {
        done(arg, STORE_ERROR, false);
        return;
    }
    snprintf(x->kind, sizeof x->kind, "%s", kind);
    snprintf(x->key, sizeof x->key, "%s", key);
    x->modify = modify;
    x->done = done;
    x->arg = arg;
    rmw_read(x);
}
