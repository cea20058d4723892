/* trust_config.c — see trust_config.h. */
#include "trust_config.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const char blanks[] = " \t";

static bool visible_ascii(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f || s[i] == '"' ||
            s[i] == '\\')
            return false;
    return n > 0;
}

static int copy_field(char *dst, size_t dstsz, const char *v, size_t n)
{
    if (n >= dstsz || !visible_ascii(v, n))
        return -1;
    memcpy(dst, v, n);
    dst[n] = '\0';
    return 0;
}

unsigned trust_alg_from_name(const char *name, size_t len)
{
    if (len == 5 && !memcmp(name, "ES256", 5))
        return TRUST_ALG_ES256;
    if (len == 5 && !memcmp(name, "RS256", 5))
        return TRUST_ALG_RS256;
    return 0;
}

int trust_jwks_is_file(const struct trust_issuer *t) { return !strncmp(t->jwks, "file:", 5); }

static int parse_algs(const char *v, size_t n, unsigned *out, char *err, size_t errsz)
{
    unsigned algs = 0;
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && v[j] != ',')
            j++;
        unsigned a = trust_alg_from_name(v + i, j - i);
        if (!a) {
            snprintf(err, errsz,
                     "alg: '%.*s' is not allowed (ES256 and RS256 only: never none or HS*, "
                     "and EdDSA is not available in mbedTLS 2.28)",
                     (int)(j - i > 20 ? 20 : j - i), v + i);
            return -1;
        }
        algs |= a;
        i = j + 1;
    }
    if (!algs) {
        snprintf(err, errsz, "alg: expected a comma-separated list of ES256, RS256");
        return -1;
    }
    *out = algs;
    return 0;
}

static bool jwks_location_ok(const char *v)
{
    if (!strncmp(v, "file:", 5))
        return v[5] != '\0';
    if (!strncmp(v, "http://", 7))
        return v[7] != '\0' && v[7] != '/';
    if (!strncmp(v, "https://", 8))
        return v[8] != '\0' && v[8] != '/';
    return false;
}

int trust_issuer_parse(const char *spec, struct trust_issuer *out, char *err, size_t errsz)
{
    char scratch[8];
    if (!err || !errsz) {
        err = scratch;
        errsz = sizeof scratch;
    }
    err[0] = '\0';
    memset(out, 0, sizeof *out);
    out->algs = TRUST_ALG_ES256 | TRUST_ALG_RS256;
    strcpy(out->sub_claim, "sub");
    strcpy(out->name_claim, "name");
    if (!spec) {
        snprintf(err, errsz, "empty");
        return -1;
    }
    const char *p = spec + strspn(spec, blanks);
    size_t n = strcspn(p, blanks);
    if (copy_field(out->issuer, sizeof out->issuer, p, n)) {
        snprintf(err, errsz, "expected 'ISSUER jwks=URL aud=AUDIENCE [alg=ES256,RS256] "
                             "[sub=CLAIM] [name=CLAIM]' (issuer: 1-%d visible characters)",
                 TRUST_ISSUER_MAX - 1);
        return -1;
    }
    p += n;
    for (;;) {
        p += strspn(p, blanks);
        if (!*p)
            break;
        n = strcspn(p, blanks);
        const char *eq = memchr(p, '=', n);
        if (!eq) {
            snprintf(err, errsz, "expected key=value, got '%.*s'", (int)(n > 40 ? 40 : n), p);
            return -1;
        }
        size_t klen = (size_t)(eq - p), vlen = n - klen - 1;
        const char *v = eq + 1;
        int rc;
        if (klen == 4 && !memcmp(p, "jwks", 4)) {
            rc = copy_field(out->jwks, sizeof out->jwks, v, vlen) || !jwks_location_ok(out->jwks)
                     ? -1 : 0;
            if (rc)
                snprintf(err, errsz, "jwks: expected an http(s):// URL or file:PATH");
        } else if (klen == 3 && !memcmp(p, "aud", 3)) {
            rc = copy_field(out->audience, sizeof out->audience, v, vlen);
            if (rc)
                snprintf(err, errsz, "aud: expected 1-%d visible characters", TRUST_AUD_MAX - 1);
        } else if (klen == 3 && !memcmp(p, "alg", 3)) {
            rc = parse_algs(v, vlen, &out->algs, err, errsz);
        } else if ((klen == 3 && !memcmp(p, "sub", 3)) || (klen == 4 && !memcmp(p, "name", 4))) {
            char *dst = klen == 3 ? out->sub_claim : out->name_claim;
            rc = copy_field(dst, TRUST_CLAIM_MAX, v, vlen);
            if (rc)
                snprintf(err, errsz, "%.*s: expected a claim name of 1-%d visible characters",
                         (int)klen, p, TRUST_CLAIM_MAX - 1);
        } else {
            snprintf(err, errsz, "unknown field '%.*s' (jwks, aud, alg, sub, name)",
                     (int)(klen > 20 ? 20 : klen), p);
            rc = -1;
        }
        if (rc)
            return -1;
        p += n;
    }
    if (!out->jwks[0] || !out->audience[0]) {
        snprintf(err, errsz, "jwks= and aud= are required");
        return -1;
    }
    return 0;
}
