/* oidc_discovery.c — GET /.well-known/openid-configuration (OpenID Connect
 * Discovery 1.0 §3, RFC 8414): the issuer is the public URL, every endpoint
 * hangs off it, and only what the broker really does is listed. */
#include "oidc.h"

#include <stdio.h>
#include <string.h>

#include "broker.h"
#include "json.h"
#include "oidc_clients.h"
#include "oidc_token.h"

static void url(struct jw *w, const char *key, const char *path)
{
    char buf[600];
    snprintf(buf, sizeof buf, "%s%s", broker.cfg.public_url, path);
    jw_kv_str(w, key, buf);
}

static void strings(struct jw *w, const char *key, const char *const *v)
{
    jw_key(w, key);
    jw_arr_open(w);
    for (; *v; v++)
        jw_str(w, *v);
    jw_arr_close(w);
}

void oidc_get_discovery(struct http_req *q)
{
    static const char *const response_types[] = {"code", NULL};
    static const char *const grant_types[] = {"authorization_code", "refresh_token",
                                              OIDC_GRANT_DEVICE_NAME, NULL};
    static const char *const grant_types_federated[] = {
        "authorization_code", "refresh_token", OIDC_GRANT_DEVICE_NAME,
        OIDC_GRANT_EXCHANGE_NAME, NULL};
    static const char *const subject_types[] = {"public", NULL};
    static const char *const auth_methods[] = {"client_secret_basic", "client_secret_post",
                                               "none", NULL};
    static const char *const pkce[] = {"S256", NULL};
    static const char *const scopes[] = {"openid", "profile", NULL};
    static const char *const claims[] = {"iss", "sub", "aud", "exp", "iat", "auth_time",
                                         "nonce", "sid", "amr", "name",
                                         "preferred_username", NULL};
    static const char *const modes[] = {"query", NULL};
    const char *alg[] = {broker.cfg.access_alg == JWT_HS256 ? "HS256" : "ES256", NULL};

    struct jw w;
    jw_init(&w, LWS_PRE);
    jw_obj_open(&w);
    jw_kv_str(&w, "issuer", broker.cfg.public_url);
    url(&w, "authorization_endpoint", "/authorize");
    url(&w, "token_endpoint", "/token");
    url(&w, "device_authorization_endpoint", "/device_authorization");
    url(&w, "userinfo_endpoint", "/userinfo");
    url(&w, "revocation_endpoint", "/revoke");
    url(&w, "end_session_endpoint", "/logout");
    url(&w, "jwks_uri", "/.well-known/jwks.json");
    strings(&w, "response_types_supported", response_types);
    strings(&w, "response_modes_supported", modes);
    strings(&w, "grant_types_supported",
            broker.cfg.n_trust_issuers ? grant_types_federated : grant_types);
    strings(&w, "subject_types_supported", subject_types);
    strings(&w, "id_token_signing_alg_values_supported", alg);
    strings(&w, "token_endpoint_auth_methods_supported", auth_methods);
    strings(&w, "revocation_endpoint_auth_methods_supported", auth_methods);
    strings(&w, "code_challenge_methods_supported", pkce);
    strings(&w, "scopes_supported", scopes);
    strings(&w, "claims_supported", claims);
    jw_kv_bool(&w, "authorization_response_iss_parameter_supported", true);
    jw_kv_bool(&w, "claims_parameter_supported", false);
    jw_kv_bool(&w, "request_parameter_supported", false);
    jw_kv_bool(&w, "request_uri_parameter_supported", false);
    jw_obj_close(&w);
    http_reply_json(q, 200, &w);
}
