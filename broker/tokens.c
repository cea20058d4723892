/* tokens.c — see tokens.h. */
#include "tokens.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static int sign_claims(const struct jwt_key *key, const char *typ, const struct token_params *p,
                       const struct claims *c, bool access, char *out, size_t outsz, char *kid)
{
    if (!key)
        return -1;
    if (kid)
        snprintf(kid, JWT_KID_MAX, "%s", key->kid);
    struct jw w;
    jw_init(&w, 0);
    jw_obj_open(&w);
    jw_kv_str(&w, "iss", p->issuer);
    char sub[24];
    snprintf(sub, sizeof sub, "%lld", (long long)c->sub);
    jw_kv_str(&w, "sub", sub);
    if (access) {
        jw_kv_str(&w, "aud", p->audience);
        jw_kv_str(&w, "client_id", c->client_id[0] ? c->client_id : p->client_id);
    }
    jw_kv_int(&w, "exp", c->exp);
    jw_kv_int(&w, "iat", c->iat);
    jw_kv_str(&w, "jti", c->jti);
    jw_kv_str(&w, "sid", c->sid);
    jw_kv_int(&w, "ver", c->ver);
    if (access)
        jw_kv_str(&w, "name", c->name);
    jw_obj_close(&w);
    size_t len;
    char *json = jw_finish(&w, &len);
    if (!json)
        return -1;
    int n = jwt_sign(key, typ, json, len, out, outsz);
    free(json);
    return n;
}

/* Keys are used under the keys read lock: a reload on the loop thread may
 * swap the ring while a worker signs or verifies (keys.h). */
int tokens_sign_access_kid(const struct keyset *ks, const struct token_params *p,
                           const struct claims *c, char *out, size_t outsz, char *kid)
{
    keys_read_lock();
    int n = sign_claims(keyring_current(&ks->access), "at+jwt", p, c, true, out, outsz, kid);
    keys_read_unlock();
    return n;
}

int tokens_sign_refresh_kid(const struct keyset *ks, const struct token_params *p,
                            const struct claims *c, char *out, size_t outsz, char *kid)
{
    keys_read_lock();
    int n = sign_claims(keyring_current(&ks->refresh), "rt+jwt", p, c, false, out, outsz, kid);
    keys_read_unlock();
    return n;
}

int tokens_sign_access(const struct keyset *ks, const struct token_params *p,
                       const struct claims *c, char *out, size_t outsz)
{
    return tokens_sign_access_kid(ks, p, c, out, outsz, NULL);
}

int tokens_sign_refresh(const struct keyset *ks, const struct token_params *p,
                        const struct claims *c, char *out, size_t outsz)
{
    return tokens_sign_refresh_kid(ks, p, c, out, outsz, NULL);
}

bool tokens_kids_current(const struct keyset *ks, const char *access_kid, const char *refresh_kid)
{
    keys_read_lock();
    const struct jwt_key *a = keyring_current(&ks->access), *r = keyring_current(&ks->refresh);
    bool same = a && r && !strcmp(a->kid, access_kid) && !strcmp(r->kid, refresh_kid);
    keys_read_unlock();
    return same;
}

/* sub is a decimal string of a positive user id: strict, no sign, no spaces. */
static int parse_sub(const char *s, int64_t *out)
{
    if (!*s || strlen(s) > 18 || *s == '0')
        return -1;
    int64_t v = 0;
    for (const char *q = s; *q; q++) {
        if (*q < '0' || *q > '9')
            return -1;
        v = v * 10 + (*q - '0');
    }
    *out = v;
    return 0;
}

static enum token_check check(const struct keyring *kr, const char *typ,
                              const struct token_params *p, const char *token, size_t len,
                              int64_t now, bool access, struct claims *c)
{
    char payload[JWT_MAX_PAYLOAD + 1];
    size_t plen;
    keys_read_lock();
    enum jwt_status st = jwt_verify(kr, token, len, typ, payload, sizeof payload - 1, &plen);
    keys_read_unlock();
    if (st == JWT_UNKNOWN_KID)
        return TOKEN_UNKNOWN_KID;
    if (st != JWT_OK)
        return TOKEN_INVALID;
    payload[plen] = '\0';

    struct json_doc d;
    if (json_parse(&d, payload, plen))
        return TOKEN_INVALID;
    char iss[512], aud[512], cid[128], sub[24];
    memset(c, 0, sizeof *c);
    if (json_get_str(&d, 0, "iss", iss, sizeof iss, NULL) || strcmp(iss, p->issuer) ||
        json_get_str(&d, 0, "sub", sub, sizeof sub, NULL) || parse_sub(sub, &c->sub) ||
        json_get_int(&d, 0, "exp", &c->exp) || json_get_int(&d, 0, "iat", &c->iat) ||
        json_get_int(&d, 0, "ver", &c->ver) ||
        json_get_str(&d, 0, "jti", c->jti, sizeof c->jti, NULL) ||
        json_get_str(&d, 0, "sid", c->sid, sizeof c->sid, NULL))
        return TOKEN_INVALID;
    if (access &&
        (json_get_str(&d, 0, "aud", aud, sizeof aud, NULL) || strcmp(aud, p->audience) ||
         json_get_str(&d, 0, "client_id", cid, sizeof cid, NULL) || !cid[0] ||
         json_get_str(&d, 0, "name", c->name, sizeof c->name, NULL)))
        return TOKEN_INVALID;
    /* Whose session it is, the session record says (sessions.c compares);
     * here only the configured client is told from an OIDC one. */
    if (access && strcmp(cid, p->client_id))
        snprintf(c->client_id, sizeof c->client_id, "%.*s", CLIENT_ID_MAX, cid);
    /* We never issue a token from the future; one that claims to be is not
     * ours to trust, beyond the allowed skew. */
    if (c->iat > now + p->leeway)
        return TOKEN_INVALID;
    if (c->exp + p->leeway <= now)
        return TOKEN_EXPIRED;
    return TOKEN_VALID;
}

enum token_check tokens_check_access(const struct keyset *ks, const struct token_params *p,
                                     const char *token, size_t len, int64_t now,
                                     struct claims *out)
{
    return check(&ks->access, "at+jwt", p, token, len, now, true, out);
}

enum token_check tokens_check_refresh(const struct keyset *ks, const struct token_params *p,
                                      const char *token, size_t len, int64_t now,
                                      struct claims *out)
{
    return check(&ks->refresh, "rt+jwt", p, token, len, now, false, out);
}
