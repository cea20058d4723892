/* external_token.c — see external_token.h. */
#include "external_token.h"

#include <string.h>

#include <mbedtls/platform_util.h>
#include <mbedtls/rsa.h>
#include <mbedtls/sha256.h>

#include "b64url.h"
#include "json.h"

#define EXT_HEADER_MAX 512
#define EXT_SIG_MAX 1024 /* RSA 8192 */

struct parts {
    const char *h, *p, *s; /* header, payload, signature (b64url) */
    size_t hn, pn, sn;
};

static int split(const char *tok, size_t len, struct parts *x)
{
    if (!tok || len == 0 || len > EXT_TOKEN_MAX)
        return -1;
    const char *d1 = memchr(tok, '.', len);
    if (!d1)
        return -1;
    const char *d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - tok));
    if (!d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - tok)))
        return -1;
    x->h = tok;
    x->hn = (size_t)(d1 - tok);
    x->p = d1 + 1;
    x->pn = (size_t)(d2 - x->p);
    x->s = d2 + 1;
    x->sn = len - (size_t)(x->s - tok);
    return x->hn && x->pn && x->sn ? 0 : -1;
}

static int decode_json(const char *b64, size_t n, char *buf, size_t bufsz, struct json_doc *d)
{
    int len = b64url_decode(b64, n, (uint8_t *)buf, bufsz - 1);
    if (len <= 0)
        return -1;
    buf[len] = '\0';
    return json_parse(d, buf, (size_t)len);
}

/* The header: alg (string), optional kid; "crit" means an extension we would
 * have to understand (RFC 7515 §4.1.11), so it is refused. */
static enum ext_status read_header(const struct parts *x, struct ext_token_head *h)
{
    char buf[EXT_HEADER_MAX];
    char alg[16];
    struct json_doc d;
    size_t alg_len;
    if (decode_json(x->h, x->hn, buf, sizeof buf, &d) ||
        json_get_str(&d, 0, "alg", alg, sizeof alg, &alg_len) || json_member(&d, 0, "crit") >= 0)
        return EXT_MALFORMED;
    h->alg = trust_alg_from_name(alg, alg_len);
    enum json_rc rc = json_get_str(&d, 0, "kid", h->kid, sizeof h->kid, NULL);
    if (rc == JSON_MISSING)
        h->kid[0] = '\0';
    else if (rc)
        return EXT_MALFORMED;
    return EXT_OK;
}

enum ext_status external_token_peek(const char *token, size_t len, struct ext_token_head *h)
{
    struct parts x;
    char buf[EXT_PAYLOAD_MAX];
    struct json_doc d;
    memset(h, 0, sizeof *h);
    if (split(token, len, &x) || read_header(&x, h) ||
        decode_json(x.p, x.pn, buf, sizeof buf, &d) ||
        json_get_str(&d, 0, "iss", h->iss, sizeof h->iss, NULL))
        return EXT_MALFORMED;
    return EXT_OK;
}

static enum ext_status check_signature(const struct ext_key *key, unsigned alg,
                                       const struct parts *x)
{
    uint8_t sig[EXT_SIG_MAX];
    int n = b64url_decode(x->s, x->sn, sig, sizeof sig);
    size_t input_len = x->hn + 1 + x->pn; /* header.payload, as sent */
    if (n <= 0)
        return EXT_MALFORMED;
    if (alg == TRUST_ALG_ES256)
        return jwt_es256_verify(&key->pk, x->h, input_len, sig, (size_t)n) ? EXT_BAD_SIGNATURE
                                                                           : EXT_OK;
    mbedtls_rsa_context *rsa = mbedtls_pk_rsa(key->pk);
    uint8_t hash[32];
    if ((size_t)n != mbedtls_rsa_get_len(rsa) || mbedtls_sha256_ret((const uint8_t *)x->h,
                                                                    input_len, hash, 0))
        return EXT_BAD_SIGNATURE;
    return mbedtls_rsa_pkcs1_verify(rsa, NULL, NULL, MBEDTLS_RSA_PUBLIC, MBEDTLS_MD_SHA256,
                                    sizeof hash, hash, sig)
               ? EXT_BAD_SIGNATURE
               : EXT_OK;
}

/* aud is the configured audience, or an array holding it (RFC 7519 §4.1.3). */
static bool audience_ok(const struct json_doc *d, const char *want)
{
    char v[TRUST_AUD_MAX];
    int i = json_member(d, 0, "aud");
    if (i < 0)
        return false;
    if (json_type(d, i) == 's')
        return !json_get_str(d, 0, "aud", v, sizeof v, NULL) && !strcmp(v, want);
    if (json_type(d, i) != 'a')
        return false;
    /* Walk the array's elements: each must be a string; nested values are
     * not an audience. */
    int n = d->tok[i].size;
    for (int k = 0, j = i + 1; k < n && j < d->ntok; k++, j++) {
        const jsmntok_t *t = &d->tok[j];
        if (t->type != JSMN_STRING)
            return false;
        size_t len = (size_t)(t->end - t->start);
        /* Raw text equals want only if it has no escapes; audiences with
         * escapes are not configurable (trust_config keeps them plain). */
        if (len == strlen(want) && !memcmp(d->js + t->start, want, len))
            return true;
    }
    return false;
}

/* Cuts s to at most max bytes without splitting a UTF-8 sequence. */
static void utf8_cut(char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max)
        return;
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    s[n] = '\0';
}

static void display_name(const struct json_doc *d, const char *claim, char *out, size_t outsz)
{
    char buf[256];
    const char *names[] = {claim, "preferred_username"};
    out[0] = '\0';
    for (size_t i = 0; i < 2; i++) {
        if (!json_get_str(d, 0, names[i], buf, sizeof buf, NULL) && buf[0]) {
            utf8_cut(buf, outsz - 1);
            memcpy(out, buf, strlen(buf) + 1);
            return;
        }
    }
}

static enum ext_status check_claims(const struct trust_issuer *t, const struct parts *x,
                                    int64_t now, int64_t leeway, struct ext_claims *out)
{
    char buf[EXT_PAYLOAD_MAX], iss[TRUST_ISSUER_MAX];
    struct json_doc d;
    int64_t v;
    size_t n;
    if (decode_json(x->p, x->pn, buf, sizeof buf, &d))
        return EXT_MALFORMED;
    if (json_get_str(&d, 0, "iss", iss, sizeof iss, NULL) || strcmp(iss, t->issuer))
        return EXT_BAD_ISSUER;
    if (!audience_ok(&d, t->audience))
        return EXT_BAD_AUDIENCE;
    if (json_get_int(&d, 0, "exp", &out->exp))
        return EXT_BAD_CLAIMS;
    if (now > out->exp + leeway)
        return EXT_EXPIRED;
    enum json_rc rc = json_get_int(&d, 0, "nbf", &v);
    if (rc == JSON_OK ? v > now + leeway : rc != JSON_MISSING)
        return rc == JSON_OK ? EXT_NOT_YET_VALID : EXT_BAD_CLAIMS;
    rc = json_get_int(&d, 0, "iat", &v);
    if (rc == JSON_OK ? v > now + leeway : rc != JSON_MISSING)
        return rc == JSON_OK ? EXT_NOT_YET_VALID : EXT_BAD_CLAIMS;
    if (json_get_str(&d, 0, t->sub_claim, out->subject, sizeof out->subject, &n) || n == 0)
        return EXT_BAD_CLAIMS;
    display_name(&d, t->name_claim, out->name, sizeof out->name);
    return EXT_OK;
}

enum ext_status external_token_verify(const struct trust_issuer *t, const struct ext_key *key,
                                      const char *token, size_t len, int64_t now_s,
                                      int64_t leeway, struct ext_claims *out)
{
    struct parts x;
    struct ext_token_head h;
    memset(out, 0, sizeof *out);
    if (!t || !key || split(token, len, &x) || read_header(&x, &h))
        return EXT_MALFORMED;
    /* The algorithm must be allowed for the issuer, be the one the key was
     * published for (if it says), and match the key's type. */
    if (!h.alg || !(h.alg & t->algs) || (key->alg && key->alg != h.alg) ||
        (h.alg == TRUST_ALG_ES256) != (key->kty == EXT_KTY_EC) || strcmp(h.kid, key->kid))
        return EXT_BAD_ALG;
    enum ext_status st = check_signature(key, h.alg, &x);
    if (st)
        return st;
    return check_claims(t, &x, now_s, leeway, out);
}

const char *external_status_name(enum ext_status st)
{
    static const char *const names[] = {
        [EXT_OK] = "ok",
        [EXT_MALFORMED] = "malformed",
        [EXT_BAD_ALG] = "algorithm not allowed",
        [EXT_BAD_SIGNATURE] = "bad signature",
        [EXT_BAD_ISSUER] = "wrong issuer",
        [EXT_BAD_AUDIENCE] = "wrong audience",
        [EXT_EXPIRED] = "expired",
        [EXT_NOT_YET_VALID] = "not yet valid",
        [EXT_BAD_CLAIMS] = "missing or bad claims",
    };
    return (unsigned)st < sizeof names / sizeof names[0] ? names[st] : "?";
}
