/* oidc_idtoken.c — see oidc_idtoken.h. */
#include "oidc_idtoken.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "json.h"
#include "keys.h"

int oidc_idtoken_sign(const struct oidc_idtoken *c, char *out, size_t outsz)
{
    struct jw w;
    char sub[24];
    snprintf(sub, sizeof sub, "%lld", (long long)c->sub);
    jw_init(&w, 0);
    jw_obj_open(&w);
    jw_kv_str(&w, "iss", broker.cfg.public_url);
    jw_kv_str(&w, "sub", sub);
    jw_kv_str(&w, "aud", c->client_id);
    jw_kv_int(&w, "exp", c->iat + broker.cfg.access_ttl);
    jw_kv_int(&w, "iat", c->iat);
    jw_kv_int(&w, "auth_time", c->auth_time);
    if (c->nonce[0])
        jw_kv_str(&w, "nonce", c->nonce);
    jw_kv_str(&w, "sid", c->sid);
    jw_key(&w, "amr");
    jw_arr_open(&w);
    jw_str(&w, "qr");
    jw_arr_close(&w);
    jw_kv_str(&w, "name", c->name);
    jw_kv_str(&w, "preferred_username", c->name);
    jw_obj_close(&w);
    size_t len;
    char *json = jw_finish(&w, &len);
    if (!json)
        return -1;
    keys_read_lock();
    int n = jwt_sign(keyring_current(&broker.keys.access), "JWT", json, len, out, outsz);
    keys_read_unlock();
    free(json);
    return n;
}

int oidc_idtoken_check_hint(const char *token, int64_t *sub, char sid[SID_MAX],
                            char aud[CLIENT_ID_MAX + 1])
{
    char payload[JWT_MAX_PAYLOAD + 1], iss[512], subs[24];
    size_t plen;
    struct json_doc d;
    keys_read_lock();
    enum jwt_status st = jwt_verify(&broker.keys.access, token, strlen(token), "JWT", payload,
                                    sizeof payload - 1, &plen);
    keys_read_unlock();
    if (st != JWT_OK)
        return -1;
    payload[plen] = '\0';
    if (json_parse(&d, payload, plen) || json_get_str(&d, 0, "iss", iss, sizeof iss, NULL) ||
        strcmp(iss, broker.cfg.public_url) ||
        json_get_str(&d, 0, "sub", subs, sizeof subs, NULL) ||
        json_get_str(&d, 0, "sid", sid, SID_MAX, NULL) ||
        json_get_str(&d, 0, "aud", aud, CLIENT_ID_MAX + 1, NULL))
        return -1;
    char *end;
    long long v = strtoll(subs, &end, 10);
    if (*end || v <= 0)
        return -1;
    *sub = v;
    return 0;
}
