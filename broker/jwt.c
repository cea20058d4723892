/* jwt.c — JWS compact sign/verify for ES256 and HS256, see jwt.h.
 *
 * The verifier trusts nothing in the token: the header is parsed by a parser
 * that knows exactly one shape (three string members alg, typ, kid), the key
 * and its algorithm come from the keyring by kid, and every length is checked
 * before anything is decoded into a fixed buffer. */
#include "jwt.h"

#include <stdlib.h>
#include <string.h>

#include <mbedtls/bignum.h>
#include <mbedtls/constant_time.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/md.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

#include "b64url.h"
#include "rng.h"

#define JWT_HEADER_MAX 256 /* decoded header; ours is about 80 bytes */
#define JWT_TYP_MAX 32
#define JWT_ES256_SIG_LEN 64
#define JWT_HS256_SIG_LEN 32
#define JWT_SIG_MAX 64

/* ---- keyring ---------------------------------------------------------- */

const struct jwt_key *keyring_find(const struct keyring *kr, const char *kid, size_t kid_len)
{
    if (!kr || !kid || kid_len == 0 || kid_len >= JWT_KID_MAX)
        return NULL;
    for (int i = 0; i < kr->count; i++) {
        const struct jwt_key *k = &kr->keys[i];
        if (strnlen(k->kid, JWT_KID_MAX) == kid_len && memcmp(k->kid, kid, kid_len) == 0)
            return k;
    }
    return NULL;
}

const struct jwt_key *keyring_current(const struct keyring *kr)
{
    if (!kr || !kr->keys || kr->current < 0 || kr->current >= kr->count)
        return NULL;
    return &kr->keys[kr->current];
}

void keyring_free(struct keyring *kr)
{
    if (!kr)
        return;
    for (int i = 0; kr->keys && i < kr->count; i++) {
        mbedtls_pk_free(&kr->keys[i].pk);
        mbedtls_platform_zeroize(&kr->keys[i], sizeof kr->keys[i]);
    }
    free(kr->keys);
    kr->keys = NULL;
    kr->count = 0;
    kr->current = -1;
}

const char *jwt_alg_name(enum jwt_alg alg)
{
    switch (alg) {
    case JWT_ES256:
        return "ES256";
    case JWT_HS256:
        return "HS256";
    }
    return "?";
}

/* ---- primitives --------------------------------------------------------- */

/* The EC key pair behind pk if it is a P-256 key, else NULL. Both signing
 * and verifying go through here, so an empty or foreign pk is never used. */
static mbedtls_ecp_keypair *jwt_p256(const mbedtls_pk_context *pk)
{
    mbedtls_ecp_keypair *kp;

    if (!pk || mbedtls_pk_get_type(pk) != MBEDTLS_PK_ECKEY)
        return NULL;
    kp = mbedtls_pk_ec(*pk);
    if (!kp || kp->grp.id != MBEDTLS_ECP_DP_SECP256R1)
        return NULL;
    return kp;
}

int jwt_hs256(const uint8_t *secret, size_t secret_len, const void *input, size_t n,
              uint8_t out[32])
{
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);

    if (!secret || secret_len == 0 || secret_len > JWT_SECRET_MAX || (!input && n) || !out ||
        !md)
        return -1;
    return mbedtls_md_hmac(md, secret, secret_len, input, n, out) ? -1 : 0;
}

int jwt_es256_sign(const mbedtls_pk_context *pk, const void *input, size_t n, uint8_t sig[64])
{
    mbedtls_ecp_keypair *kp = jwt_p256(pk);
    unsigned char hash[32];
    mbedtls_mpi r, s;
    int rc;

    if (!kp || !sig || (!input && n) || mbedtls_mpi_cmp_int(&kp->d, 0) == 0)
        return -1; /* d == 0: a public key only */
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    rc = mbedtls_sha256_ret(input, n, hash, 0);
    if (rc)
        goto out;
    /* Deterministic k (RFC 6979) so a weak DRBG cannot leak d; the DRBG only
     * blinds the scalar multiplication. */
    rc = mbedtls_ecdsa_sign_det_ext(&kp->grp, &r, &s, &kp->d, hash, sizeof hash,
                                    MBEDTLS_MD_SHA256, rng_mbedtls, NULL);
    if (rc)
        goto out;
    rc = mbedtls_mpi_write_binary(&r, sig, 32);
    if (rc)
        goto out;
    rc = mbedtls_mpi_write_binary(&s, sig + 32, 32);
out:
    if (rc && sig)
        mbedtls_platform_zeroize(sig, 64);
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&s);
    return rc ? -1 : 0;
}

/* 1 <= v < n, checked here rather than trusted to mbedtls_ecdsa_verify. */
static int jwt_scalar_in_range(const mbedtls_mpi *v, const mbedtls_ecp_group *grp)
{
    return mbedtls_mpi_cmp_int(v, 1) >= 0 && mbedtls_mpi_cmp_mpi(v, &grp->N) < 0;
}

int jwt_es256_verify(const mbedtls_pk_context *pk, const void *input, size_t n,
                     const uint8_t *sig, size_t sig_len)
{
    mbedtls_ecp_keypair *kp = jwt_p256(pk);
    unsigned char hash[32];
    mbedtls_mpi r, s;
    int rc;

    if (!kp || !sig || sig_len != JWT_ES256_SIG_LEN || (!input && n))
        return -1;
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    rc = mbedtls_mpi_read_binary(&r, sig, 32);
    if (rc)
        goto out;
    rc = mbedtls_mpi_read_binary(&s, sig + 32, 32);
    if (rc)
        goto out;
    rc = jwt_scalar_in_range(&r, &kp->grp) && jwt_scalar_in_range(&s, &kp->grp) ? 0 : -1;
    if (rc)
        goto out;
    rc = mbedtls_sha256_ret(input, n, hash, 0);
    if (rc)
        goto out;
    rc = mbedtls_ecdsa_verify(&kp->grp, hash, sizeof hash, &kp->Q, &r, &s);
out:
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&s);
    return rc ? -1 : 0;
}

/* ---- signing -------------------------------------------------------------- */

/* A key is used only if it is complete: HS256 needs a secret of sane length,
 * ES256 a P-256 pk. A zeroed or half-loaded struct is refused. */
static int jwt_key_usable(const struct jwt_key *key)
{
    if (!key)
        return 0;
    switch (key->alg) {
    case JWT_HS256:
        return key->secret_len >= 16 && key->secret_len <= JWT_SECRET_MAX;
    case JWT_ES256:
        return jwt_p256(&key->pk) != NULL;
    }
    return 0;
}

/* typ and kid go into the header unescaped, so they may only hold characters
 * that need no JSON escaping. */
static int jwt_plain_string(const char *s, size_t max)
{
    size_t n = s ? strnlen(s, max) : max;
    if (n == 0 || n >= max)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == '"' || c == '\\' || c >= 0x7f)
            return 0;
    }
    return 1;
}

/* Appends b64url(data) at out+*pos, keeping room for a NUL. */
static int jwt_append_b64(char *out, size_t outsz, size_t *pos, const void *data, size_t n)
{
    int w = b64url_encode(data, n, out + *pos, outsz - *pos);
    if (w < 0)
        return -1;
    *pos += (size_t)w;
    return 0;
}

static int jwt_append_dot(char *out, size_t outsz, size_t *pos)
{
    if (*pos + 2 > outsz)
        return -1;
    out[(*pos)++] = '.';
    out[*pos] = '\0';
    return 0;
}

/* Signature over out[0..n) with key; sig receives siglen bytes. */
static int jwt_sign_input(const struct jwt_key *key, const char *input, size_t n,
                          uint8_t sig[JWT_SIG_MAX], size_t *siglen)
{
    if (key->alg == JWT_HS256) {
        *siglen = JWT_HS256_SIG_LEN;
        return jwt_hs256(key->secret, key->secret_len, input, n, sig);
    }
    *siglen = JWT_ES256_SIG_LEN;
    return jwt_es256_sign(&key->pk, input, n, sig);
}

int jwt_sign(const struct jwt_key *key, const char *typ, const char *payload_json,
             size_t payload_len, char *out, size_t outsz)
{
    char header[JWT_HEADER_MAX];
    uint8_t sig[JWT_SIG_MAX];
    size_t siglen = 0, pos = 0;
    size_t cap = outsz > JWT_MAX_TOKEN + 1 ? JWT_MAX_TOKEN + 1 : outsz;
    int hlen, rc = -1;

    if (!out || outsz == 0)
        return -1;
    out[0] = '\0';
    if (!jwt_key_usable(key) || !jwt_plain_string(typ, JWT_TYP_MAX) ||
        !jwt_plain_string(key->kid, JWT_KID_MAX) || !payload_json || payload_len == 0 ||
        payload_len > JWT_MAX_PAYLOAD)
        goto out;
    hlen = snprintf(header, sizeof header, "{\"alg\":\"%s\",\"typ\":\"%s\",\"kid\":\"%s\"}",
                    jwt_alg_name(key->alg), typ, key->kid);
    if (hlen < 0 || (size_t)hlen >= sizeof header)
        goto out;
    rc = jwt_append_b64(out, cap, &pos, header, (size_t)hlen);
    if (rc)
        goto out;
    rc = jwt_append_dot(out, cap, &pos);
    if (rc)
        goto out;
    rc = jwt_append_b64(out, cap, &pos, payload_json, payload_len);
    if (rc)
        goto out;
    rc = jwt_sign_input(key, out, pos, sig, &siglen);
    if (rc)
        goto out;
    rc = jwt_append_dot(out, cap, &pos);
    if (rc)
        goto out;
    rc = jwt_append_b64(out, cap, &pos, sig, siglen);
out:
    mbedtls_platform_zeroize(sig, sizeof sig);
    if (rc) {
        mbedtls_platform_zeroize(out, pos < outsz ? pos + 1 : outsz);
        return -1;
    }
    return (int)pos;
}

/* ---- header parsing ------------------------------------------------------- */

struct jwt_span {
    const char *p;
    size_t n;
};

struct jwt_header {
    struct jwt_span alg, typ, kid;
};

struct jwt_cursor {
    const char *s;
    size_t n, i;
};

static void jwt_skip_ws(struct jwt_cursor *c)
{
    while (c->i < c->n &&
           (c->s[c->i] == ' ' || c->s[c->i] == '\t' || c->s[c->i] == '\n' || c->s[c->i] == '\r'))
        c->i++;
}

static int jwt_expect(struct jwt_cursor *c, char ch)
{
    jwt_skip_ws(c);
    if (c->i >= c->n || c->s[c->i] != ch)
        return -1;
    c->i++;
    return 0;
}

/* A JSON string with nothing to unescape: backslashes and control characters
 * are refused outright, so the span is the value byte for byte. */
static int jwt_string(struct jwt_cursor *c, struct jwt_span *out)
{
    size_t start;

    if (jwt_expect(c, '"'))
        return -1;
    start = c->i;
    for (; c->i < c->n; c->i++) {
        unsigned char ch = (unsigned char)c->s[c->i];
        if (ch == '"') {
            out->p = c->s + start;
            out->n = c->i - start;
            c->i++;
            return 0;
        }
        if (ch == '\\' || ch < 0x20)
            return -1;
    }
    return -1;
}

static int jwt_span_is(const struct jwt_span *sp, const char *lit)
{
    size_t n = strlen(lit);
    return sp->n == n && memcmp(sp->p, lit, n) == 0;
}

/* Which of the three slots a member name fills; NULL for any other name. */
static struct jwt_span *jwt_header_slot(struct jwt_header *h, const struct jwt_span *name)
{
    if (jwt_span_is(name, "alg"))
        return &h->alg;
    if (jwt_span_is(name, "typ"))
        return &h->typ;
    if (jwt_span_is(name, "kid"))
        return &h->kid;
    return NULL;
}

/* Accepts exactly {"alg":"…","typ":"…","kid":"…"} in any member order with
 * optional whitespace; an unknown, duplicate or missing member, a non-string
 * value or trailing bytes all fail. Not a general JSON parser on purpose. */
static int jwt_header_parse(const char *s, size_t n, struct jwt_header *h)
{
    struct jwt_cursor c = {s, n, 0};

    memset(h, 0, sizeof *h);
    if (jwt_expect(&c, '{'))
        return -1;
    for (int m = 0; m < 3; m++) {
        struct jwt_span name, value, *slot;
        if (jwt_string(&c, &name) || jwt_expect(&c, ':') || jwt_string(&c, &value))
            return -1;
        slot = jwt_header_slot(h, &name);
        if (!slot || slot->p)
            return -1;
        *slot = value;
        if (jwt_expect(&c, m < 2 ? ',' : '}'))
            return -1;
    }
    jwt_skip_ws(&c);
    return c.i == c.n ? 0 : -1;
}

/* ---- verification --------------------------------------------------------- */

/* Splits token into its three parts; each must be non-empty. */
static int jwt_split(const char *token, size_t len, struct jwt_span part[3])
{
    size_t start = 0;
    int k = 0;

    for (size_t i = 0; i <= len; i++) {
        if (i < len && token[i] != '.')
            continue;
        if (k == 3 || i == start)
            return -1;
        part[k].p = token + start;
        part[k].n = i - start;
        k++;
        start = i + 1;
    }
    return k == 3 ? 0 : -1;
}

/* Header checks in the order that keeps the keyring out of it as long as
 * possible: the alg must be one we implement ("none" is not), typ exact, then
 * the key by kid, then the alg must be that key's alg. */
static enum jwt_status jwt_check_header(const struct keyring *kr, const struct jwt_header *h,
                                        const char *want_typ, const struct jwt_key **key)
{
    enum jwt_alg alg;

    if (jwt_span_is(&h->alg, "ES256"))
        alg = JWT_ES256;
    else if (jwt_span_is(&h->alg, "HS256"))
        alg = JWT_HS256;
    else
        return JWT_BAD_HEADER;
    if (!want_typ || !jwt_span_is(&h->typ, want_typ))
        return JWT_BAD_HEADER;
    *key = keyring_find(kr, h->kid.p, h->kid.n);
    if (!*key || !jwt_key_usable(*key))
        return JWT_UNKNOWN_KID;
    if ((*key)->alg != alg)
        return JWT_BAD_HEADER;
    return JWT_OK;
}

static enum jwt_status jwt_check_signature(const struct jwt_key *key, const char *input,
                                           size_t n, const struct jwt_span *sig_b64)
{
    uint8_t sig[JWT_SIG_MAX], mac[JWT_HS256_SIG_LEN];
    size_t want = key->alg == JWT_ES256 ? JWT_ES256_SIG_LEN : JWT_HS256_SIG_LEN;
    enum jwt_status st = JWT_BAD_SIGNATURE;
    int got;

    /* Exact encoded length first: a 63- or 65-byte signature never reaches
     * the decoder or the curve code. */
    if (sig_b64->n != b64url_encoded_len(want))
        return JWT_BAD_SIGNATURE;
    got = b64url_decode(sig_b64->p, sig_b64->n, sig, sizeof sig);
    if (got < 0)
        return JWT_MALFORMED;
    if ((size_t)got != want)
        goto out;
    if (key->alg == JWT_ES256) {
        if (jwt_es256_verify(&key->pk, input, n, sig, want) == 0)
            st = JWT_OK;
    } else if (jwt_hs256(key->secret, key->secret_len, input, n, mac) == 0 &&
               mbedtls_ct_memcmp(mac, sig, sizeof mac) == 0) {
        st = JWT_OK;
    }
out:
    mbedtls_platform_zeroize(mac, sizeof mac);
    mbedtls_platform_zeroize(sig, sizeof sig);
    return st;
}

/* Decoded size bound of n base64url characters, without decoding. */
static size_t jwt_decoded_max(size_t n) { return n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0); }

enum jwt_status jwt_verify(const struct keyring *kr, const char *token, size_t token_len,
                           const char *want_typ, char *payload, size_t payload_size,
                           size_t *payload_len)
{
    struct jwt_span part[3];
    struct jwt_header h;
    uint8_t header[JWT_HEADER_MAX];
    const struct jwt_key *key = NULL;
    size_t pmax;
    int hlen, plen = 0;
    enum jwt_status st = JWT_MALFORMED;

    if (payload_len)
        *payload_len = 0;
    if (!kr || !token || token_len == 0 || token_len > JWT_MAX_TOKEN || !payload ||
        !payload_len)
        return JWT_MALFORMED;
    if (jwt_split(token, token_len, part))
        return JWT_MALFORMED;

    if (part[0].n > b64url_encoded_len(sizeof header))
        return JWT_MALFORMED;
    hlen = b64url_decode(part[0].p, part[0].n, header, sizeof header);
    if (hlen < 0 || jwt_header_parse((const char *)header, (size_t)hlen, &h))
        return JWT_MALFORMED;
    st = jwt_check_header(kr, &h, want_typ, &key);
    if (st != JWT_OK)
        return st;

    pmax = payload_size < JWT_MAX_PAYLOAD ? payload_size : JWT_MAX_PAYLOAD;
    if (jwt_decoded_max(part[1].n) > pmax)
        return JWT_MALFORMED;
    plen = b64url_decode(part[1].p, part[1].n, (uint8_t *)payload, pmax);
    if (plen < 0)
        return JWT_MALFORMED;

    /* The signing input is the token up to the second dot. */
    st = jwt_check_signature(key, token, part[0].n + 1 + part[1].n, &part[2]);
    if (st != JWT_OK) {
        mbedtls_platform_zeroize(payload, (size_t)plen);
        return st;
    }
    if ((size_t)plen < payload_size)
        payload[plen] = '\0';
    *payload_len = (size_t)plen;
    return JWT_OK;
}
