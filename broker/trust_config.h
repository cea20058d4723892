/* trust_config.h — one trusted identity provider ("bring your own users"):
 * the text of --trust-issuer / QRLOGIN_TRUST_ISSUER, parsed and checked.
 *
 *   ISSUER jwks=URL aud=AUDIENCE [alg=ES256,RS256] [sub=CLAIM] [name=CLAIM]
 *
 * Fields are separated by blanks. ISSUER is compared byte for byte with a
 * token's `iss`. jwks= is an http(s):// URL or file:PATH. No algorithm but
 * ES256 and RS256 can be allowed: "none" and HS* would let anyone who can
 * read the public JWKS sign tokens, and EdDSA is not in mbedTLS 2.28. */
#ifndef QRLOGIN_TRUST_CONFIG_H
#define QRLOGIN_TRUST_CONFIG_H

#include <stddef.h>

#define TRUST_ISSUER_MAX 256 /* bytes of an issuer identifier */
#define TRUST_URL_MAX 512
#define TRUST_AUD_MAX 256
#define TRUST_CLAIM_MAX 64

/* Allowed algorithms, a bit set. */
#define TRUST_ALG_ES256 1u
#define TRUST_ALG_RS256 2u

struct trust_issuer {
    char issuer[TRUST_ISSUER_MAX];
    char jwks[TRUST_URL_MAX];      /* http://…, https://… or file:… as given */
    char audience[TRUST_AUD_MAX];
    unsigned algs;                 /* TRUST_ALG_*; default both */
    char sub_claim[TRUST_CLAIM_MAX];  /* default "sub" */
    char name_claim[TRUST_CLAIM_MAX]; /* default "name" (then preferred_username) */
};

/* Parses one spec into *out. Returns 0, or -1 with one line in err saying
 * which field is wrong and what it accepts (never more than 60 bytes of the
 * input, which may be anything). */
int trust_issuer_parse(const char *spec, struct trust_issuer *out, char *err, size_t errsz);

/* "ES256" / "RS256" → TRUST_ALG_*, or 0 for anything else. Exact and
 * case-sensitive, as RFC 7518 names are. */
unsigned trust_alg_from_name(const char *name, size_t len);

/* Whether the jwks location is a local file (file:…). */
int trust_jwks_is_file(const struct trust_issuer *t);

#endif
