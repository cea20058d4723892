/* jwks_parse.c — see jwks_parse.h.
 *
 * json.h caps a document at 128 tokens, which a set of a few RSA keys with
 * certificate chains passes. So the outer shape ({"keys":[…]}) is walked with
 * jsmn over a heap token array, and each key object's own text is then handed
 * to the strict parser, which is what reads every value we use. */
/* A private copy of jsmn for the outer walk, as json.c keeps its own: it
 * must come before any header that includes jsmn.h with JSMN_HEADER. */
#define JSMN_STATIC
#define JSMN_STRICT
#include <jsmn.h>

#include "jwks_parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/ecp.h>
#include <mbedtls/rsa.h>

#include "b64url.h"
#include "json.h"
#include "trust_config.h"

#define JWKS_MAX_TOKENS 8192
#define RSA_MIN_BYTES 256   /* 2048 bits */
#define RSA_MAX_BYTES 1024  /* 8192 bits */
#define RSA_E_MAX_BYTES 8

static bool tok_is(const char *js, const jsmntok_t *t, const char *s)
{
    size_t n = strlen(s);
    return t->type == JSMN_STRING && (size_t)(t->end - t->start) == n &&
           !memcmp(js + t->start, s, n);
}

/* Index of the token after the value at i (its whole subtree). */
static int skip_value(const jsmntok_t *tok, int ntok, int i)
{
    int pending = 1;
    while (pending > 0 && i < ntok) {
        if (tok[i].type == JSMN_OBJECT)
            pending += tok[i].size * 2;
        else if (tok[i].type == JSMN_ARRAY)
            pending += tok[i].size;
        pending--;
        i++;
    }
    return i;
}

/* A b64url member decoded into out; its length, or -1. */
static int get_b64(const struct json_doc *d, const char *name, uint8_t *out, size_t outsz)
{
    char text[RSA_MAX_BYTES * 2];
    size_t n;
    if (json_get_str(d, 0, name, text, sizeof text, &n) || !n)
        return -1;
    return b64url_decode(text, n, out, outsz);
}

static int load_ec(const struct json_doc *d, struct ext_key *k)
{
    char crv[16];
    uint8_t point[65];
    if (json_get_str(d, 0, "crv", crv, sizeof crv, NULL) || strcmp(crv, "P-256"))
        return -1;
    point[0] = 0x04; /* uncompressed */
    if (get_b64(d, "x", point + 1, 32) != 32 || get_b64(d, "y", point + 33, 32) != 32)
        return -1;
    if (mbedtls_pk_setup(&k->pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)))
        return -1;
    mbedtls_ecp_keypair *ec = mbedtls_pk_ec(k->pk);
    if (mbedtls_ecp_group_load(&ec->grp, MBEDTLS_ECP_DP_SECP256R1) ||
        mbedtls_ecp_point_read_binary(&ec->grp, &ec->Q, point, sizeof point) ||
        mbedtls_ecp_check_pubkey(&ec->grp, &ec->Q))
        return -1;
    k->kty = EXT_KTY_EC;
    return 0;
}

static int load_rsa(const struct json_doc *d, struct ext_key *k)
{
    uint8_t n[RSA_MAX_BYTES + 1], e[RSA_E_MAX_BYTES];
    int nlen = get_b64(d, "n", n, sizeof n), elen = get_b64(d, "e", e, sizeof e);
    if (nlen <= 0 || elen <= 0)
        return -1;
    int skip = 0; /* leading zero bytes do not count towards the size */
    while (skip < nlen && n[skip] == 0)
        skip++;
    if (nlen - skip < RSA_MIN_BYTES || nlen - skip > RSA_MAX_BYTES)
        return -1;
    if (mbedtls_pk_setup(&k->pk, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA)))
        return -1;
    mbedtls_rsa_context *rsa = mbedtls_pk_rsa(k->pk);
    if (mbedtls_rsa_import_raw(rsa, n + skip, (size_t)(nlen - skip), NULL, 0, NULL, 0, NULL, 0,
                               e, (size_t)elen) ||
        mbedtls_rsa_complete(rsa) || mbedtls_rsa_check_pubkey(rsa))
        return -1;
    mbedtls_rsa_set_padding(rsa, MBEDTLS_RSA_PKCS_V15, MBEDTLS_MD_NONE);
    k->kty = EXT_KTY_RSA;
    return 0;
}

/* One key object's text into k. 0 = usable; -1 = skip it. */
static int load_key(const char *js, size_t len, struct ext_key *k)
{
    struct json_doc d;
    char kty[8], use[8], alg[16];
    size_t kid_len;
    if (json_parse(&d, js, len))
        return -1;
    /* Private members: RSA d p q dp dq qi oth, EC d. */
    static const char *const priv[] = {"d", "p", "q", "dp", "dq", "qi", "oth"};
    for (size_t i = 0; i < sizeof priv / sizeof priv[0]; i++)
        if (json_member(&d, 0, priv[i]) >= 0)
            return -1;
    if (json_get_str(&d, 0, "kid", k->kid, sizeof k->kid, &kid_len) || !kid_len)
        return -1;
    enum json_rc rc = json_get_str(&d, 0, "use", use, sizeof use, NULL);
    if (rc != JSON_MISSING && (rc || strcmp(use, "sig")))
        return -1;
    rc = json_get_str(&d, 0, "alg", alg, sizeof alg, NULL);
    if (rc != JSON_MISSING && (rc || !(k->alg = trust_alg_from_name(alg, strlen(alg)))))
        return -1;
    if (json_get_str(&d, 0, "kty", kty, sizeof kty, NULL))
        return -1;
    if (!strcmp(kty, "EC"))
        return load_ec(&d, k) || (k->alg && k->alg != TRUST_ALG_ES256) ? -1 : 0;
    if (!strcmp(kty, "RSA"))
        return load_rsa(&d, k) || (k->alg && k->alg != TRUST_ALG_RS256) ? -1 : 0;
    return -1;
}

static void keyset_free(struct ext_keyset *ks)
{
    if (!ks)
        return;
    for (int i = 0; i < ks->count; i++)
        mbedtls_pk_free(&ks->keys[i].pk);
    free(ks->keys);
    free(ks);
}

const struct ext_key *jwks_find(const struct ext_keyset *ks, const char *kid)
{
    for (int i = 0; ks && i < ks->count; i++)
        if (!strcmp(ks->keys[i].kid, kid))
            return &ks->keys[i];
    return NULL;
}

static int fail(char *err, size_t errsz, const char *msg)
{
    if (err && errsz)
        snprintf(err, errsz, "%s", msg);
    return -1;
}

int jwks_parse(const char *json, size_t len, struct ext_keyset **out, int *skipped, char *err,
               size_t errsz)
{
    *out = NULL;
    if (skipped)
        *skipped = 0;
    if (!json || len == 0)
        return fail(err, errsz, "empty");
    if (len > JWKS_MAX_BYTES)
        return fail(err, errsz, "larger than 64 KiB");
    jsmntok_t *tok = malloc(sizeof *tok * JWKS_MAX_TOKENS);
    struct ext_keyset *ks = calloc(1, sizeof *ks);
    struct ext_key *keys = calloc(JWKS_MAX_KEYS, sizeof *keys);
    int rc = -1, nskip = 0;
    if (!tok || !ks || !keys) {
        fail(err, errsz, "out of memory");
        goto out;
    }
    ks->keys = keys;
    ks->refs = 1;
    jsmn_parser p;
    jsmn_init(&p);
    int ntok = jsmn_parse(&p, json, len, tok, JWKS_MAX_TOKENS);
    if (ntok < 1 || tok[0].type != JSMN_OBJECT) {
        fail(err, errsz, "not a JSON object (or too many tokens)");
        goto out;
    }
    int arr = -1;
    for (int i = 1, k = 0; k < tok[0].size && i + 1 < ntok; k++) {
        if (tok_is(json, &tok[i], "keys")) {
            if (arr >= 0 || tok[i + 1].type != JSMN_ARRAY) {
                fail(err, errsz, "\"keys\" is not one array");
                goto out;
            }
            arr = i + 1;
        }
        i = skip_value(tok, ntok, i + 1);
    }
    if (arr < 0) {
        fail(err, errsz, "no \"keys\" array");
        goto out;
    }
    for (int i = arr + 1, k = 0; k < tok[arr].size && i < ntok; k++) {
        const jsmntok_t *t = &tok[i];
        struct ext_key *key = &keys[ks->count];
        i = skip_value(tok, ntok, i);
        if (t->type != JSMN_OBJECT || ks->count >= JWKS_MAX_KEYS) {
            nskip++;
            continue;
        }
        memset(key, 0, sizeof *key);
        mbedtls_pk_init(&key->pk);
        if (load_key(json + t->start, (size_t)(t->end - t->start), key) ||
            jwks_find(ks, key->kid)) {
            mbedtls_pk_free(&key->pk);
            nskip++;
            continue;
        }
        ks->count++;
    }
    if (ks->count == 0) {
        fail(err, errsz, "no usable key (EC P-256 or RSA >= 2048 bits, with a kid, for "
                         "signatures)");
        goto out;
    }
    rc = 0;
out:
    free(tok);
    if (skipped)
        *skipped = nskip;
    if (rc) {
        if (ks)
            ks->keys = keys;
        keyset_free(ks);
        if (!ks)
            free(keys);
        return -1;
    }
    *out = ks;
    return 0;
}

void jwks_keyset_warm(struct ext_keyset *ks)
{
    static const uint8_t one[64] = {[31] = 1, [63] = 1}; /* r = s = 1: in range, wrong */
    uint8_t block[RSA_MAX_BYTES] = {[RSA_MAX_BYTES - 1] = 1};
    for (int i = 0; ks && i < ks->count; i++) {
        struct ext_key *k = &ks->keys[i];
        if (k->kty == EXT_KTY_EC) {
            (void)jwt_es256_verify(&k->pk, "", 0, one, sizeof one);
        } else {
            mbedtls_rsa_context *rsa = mbedtls_pk_rsa(k->pk);
            uint8_t outb[RSA_MAX_BYTES];
            size_t n = mbedtls_rsa_get_len(rsa);
            (void)mbedtls_rsa_public(rsa, block + RSA_MAX_BYTES - n, outb);
        }
    }
}

void jwks_keyset_ref(struct ext_keyset *ks)
{
    if (ks)
        ks->refs++;
}

void jwks_keyset_unref(struct ext_keyset *ks)
{
    if (ks && --ks->refs == 0)
        keyset_free(ks);
}
