/* federation.c — see federation.h. */
#include "federation.h"

#include <stdlib.h>
#include <string.h>

#include <mbedtls/platform_util.h>

#include "broker.h"
#include "clock.h"
#include "external_token.h"
#include "jwks_cache.h"
#include "jwks_fetch.h"
#include "log.h"
#include "metrics.h"
#include "workers.h"

struct fed_job {
    struct work work;
    federation_cb cb;
    void *arg;
    int issuer;
    const struct trust_issuer *t; /* broker.cfg's: read-only while jobs run */
    int64_t now;                  /* s, taken on the loop (the clock is the loop's) */
    struct ext_keyset *ks;
    const struct ext_key *key;
    enum ext_status status;
    struct ext_claims claims;
    char ip[IP_MAX];
    char user_agent[UA_MAX];
    size_t len;
    char token[EXT_TOKEN_MAX + 1];
};

static void finish(struct fed_job *j, enum api_err err, const struct issued *is)
{
    if (err)
        metrics.ext_auth_failed++;
    else
        metrics.ext_auth_ok++;
    j->cb(j->arg, err, is);
    jwks_keyset_unref(j->ks);
    mbedtls_platform_zeroize(j->token, sizeof j->token);
    free(j);
}

static void refuse(struct fed_job *j, enum api_err err, const char *why)
{
    const struct trust_issuer *t = j->t;
    /* The issuer is from our configuration; nothing of the token is logged. */
    log_info("external sign-in from %s refused: %s%s%s%s", j->ip, why, t ? " (issuer " : "",
             t ? t->issuer : "", t ? ")" : "");
    finish(j, err, NULL);
}

static void issued(void *arg, enum api_err err, const struct issued *is, int64_t retry_after)
{
    (void)retry_after;
    struct fed_job *j = arg;
    if (!err)
        log_info("external sign-in: user %lld, session %s, from %s (issuer %s)",
                 (long long)is->user_id, is->sid, j->ip, j->t->issuer);
    finish(j, err, is);
}

static void user_found(void *arg, enum store_rc rc, const struct user_rec *u)
{
    struct fed_job *j = arg;
    if (rc) {
        finish(j, E_INTERNAL, NULL);
        return;
    }
    sessions_create(u, "app", j->ip, j->user_agent, issued, j);
}

static void verify_run(struct work *w)
{
    struct fed_job *j = (struct fed_job *)w;
    j->status = external_token_verify(j->t, j->key, j->token, j->len, j->now, broker.cfg.leeway,
                                      &j->claims);
}

static void verify_done(struct work *w)
{
    struct fed_job *j = (struct fed_job *)w;
    if (j->status == EXT_EXPIRED) {
        refuse(j, E_TOKEN_EXPIRED, "token expired");
        return;
    }
    if (j->status) {
        refuse(j, E_INVALID_TOKEN, external_status_name(j->status));
        return;
    }
    /* A display name is needed; with no name claim the subject stands in
     * (it is shown, never used as our user id). */
    char name[USER_NAME_MAX + 1];
    if (j->claims.name[0]) {
        memcpy(name, j->claims.name, sizeof name);
    } else {
        size_t n = strlen(j->claims.subject);
        if (n > USER_NAME_MAX)
            n = USER_NAME_MAX;
        while (n > 0 && n < strlen(j->claims.subject) &&
               ((unsigned char)j->claims.subject[n] & 0xC0) == 0x80)
            n--;
        memcpy(name, j->claims.subject, n);
        name[n] = '\0';
    }
    broker.store->ops->user_federated(broker.store, j->t->issuer, j->claims.subject, name,
                                      user_found, j);
}

static void key_found(void *arg, struct ext_keyset *ks, const struct ext_key *key)
{
    struct fed_job *j = arg;
    if (!key) {
        refuse(j, E_INVALID_TOKEN, "no key with the token's kid");
        return;
    }
    j->ks = ks;
    j->key = key;
    j->now = clock_now_s();
    j->work.run = verify_run;
    j->work.done = verify_done;
    workers_submit(&j->work);
}

void federation_exchange(const char *token, size_t len, const char *ip, const char *user_agent,
                         federation_cb cb, void *arg)
{
    struct fed_job *j = calloc(1, sizeof *j);
    if (!j) {
        cb(arg, E_INTERNAL, NULL);
        return;
    }
    j->cb = cb;
    j->arg = arg;
    j->issuer = -1;
    snprintf(j->ip, sizeof j->ip, "%s", ip ? ip : "");
    snprintf(j->user_agent, sizeof j->user_agent, "%s", user_agent ? user_agent : "");
    struct ext_token_head h;
    if (len > EXT_TOKEN_MAX || external_token_peek(token, len, &h)) {
        refuse(j, E_INVALID_TOKEN, "malformed token");
        return;
    }
    memcpy(j->token, token, len);
    j->token[len] = '\0';
    j->len = len;
    j->issuer = jwks_cache_issuer_index(h.iss);
    j->t = jwks_cache_issuer(j->issuer);
    if (!j->t) {
        refuse(j, E_UNAUTHORIZED, "issuer not trusted");
        return;
    }
    /* Refused before any key is looked up, so a token with a forbidden
     * algorithm can never make us fetch. */
    if (!h.alg || !(h.alg & j->t->algs)) {
        refuse(j, E_INVALID_TOKEN, "algorithm not allowed");
        return;
    }
    if (!h.kid[0]) {
        refuse(j, E_INVALID_TOKEN, "no kid in the header");
        return;
    }
    jwks_cache_lookup(j->issuer, h.kid, key_found, j);
}

int federation_start(void)
{
    if (!broker.cfg.n_trust_issuers)
        return 0;
    if (jwks_fetch_init(broker.ctx, broker.cfg.trust_ca)) {
        log_error("federation: cannot set up the JWKS client (TLS with %s)",
                  broker.cfg.trust_ca[0] ? broker.cfg.trust_ca : "the system CA store");
        return -1;
    }
    jwks_cache_start(broker.cfg.trust_issuers, broker.cfg.n_trust_issuers);
    return 0;
}

void federation_shutdown(void) { jwks_cache_shutdown(); }
