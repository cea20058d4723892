/* test_keys.c — the keys directory: creation, permissions, reload, rotation,
 * JWKS contents and RFC 7638 thumbprints computed independently. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* nftw */
#endif
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mbedtls/base64.h>
#include <mbedtls/ecp.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>

#include "clock.h"
#include "jwt.h"
#include "keys.h"
#include "rng.h"
#include "tokens.h"

struct fixture {
    char base[64];          /* the mkdtemp directory */
    char dir[PATH_MAX];     /* base/a/keys: two levels that do not exist yet */
};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->base, sizeof f->base, "/tmp/qrlogin-keys-XXXXXX");
    if (!mkdtemp(f->base)) {
        free(f);
        return -1;
    }
    snprintf(f->dir, sizeof f->dir, "%s/a/keys", f->base);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    int rc = nftw(f->base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    clock_use_real();
    free(f);
    return rc;
}

static int group_setup(void **state)
{
    (void)state;
    return rng_init();
}

static int group_teardown(void **state)
{
    (void)state;
    rng_free();
    return 0;
}

/* ---- independent helpers (mbedtls_base64, not b64url.c) ------------------- */

static void test_b64url(const uint8_t *in, size_t n, char *out, size_t outsz)
{
    size_t olen = 0;
    assert_int_equal(mbedtls_base64_encode((unsigned char *)out, outsz, &olen, in, n), 0);
    size_t w = 0;
    for (size_t i = 0; i < olen; i++) {
        char c = out[i];
        if (c == '=')
            break;
        out[w++] = c == '+' ? '-' : c == '/' ? '_' : c;
    }
    out[w] = '\0';
}

static void test_b64url_decode(const char *in, uint8_t *out, size_t outsz, size_t *olen)
{
    char std[128];
    size_t n = strlen(in), i;
    assert_true(n + 4 < sizeof std);
    for (i = 0; i < n; i++)
        std[i] = in[i] == '-' ? '+' : in[i] == '_' ? '/' : in[i];
    while (i % 4)
        std[i++] = '=';
    std[i] = '\0';
    assert_int_equal(mbedtls_base64_decode(out, outsz, olen, (unsigned char *)std, i), 0);
}

static void sha256_b64url(const char *json, char out[64])
{
    uint8_t h[32];
    assert_int_equal(mbedtls_sha256_ret((const unsigned char *)json, strlen(json), h, 0), 0);
    test_b64url(h, sizeof h, out, 64);
}

/* RFC 7638 thumbprint of an EC key, from its uncompressed point. */
static void independent_ec_thumbprint(const mbedtls_pk_context *pk, char out[64])
{
    mbedtls_ecp_keypair *kp = mbedtls_pk_ec(*pk);
    unsigned char pt[65];
    size_t olen = 0;
    char x[64], y[64], json[256];

    assert_int_equal(mbedtls_ecp_point_write_binary(&kp->grp, &kp->Q, MBEDTLS_ECP_PF_UNCOMPRESSED,
                                                    &olen, pt, sizeof pt),
                     0);
    assert_int_equal(olen, 65);
    assert_int_equal(pt[0], 0x04);
    test_b64url(pt + 1, 32, x, sizeof x);
    test_b64url(pt + 33, 32, y, sizeof y);
    snprintf(json, sizeof json, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", x,
             y);
    sha256_b64url(json, out);
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    return st.st_mode;
}

static void path_join(char *out, size_t outsz, const char *dir, const char *name)
{
    int n = snprintf(out, outsz, "%s/%s", dir, name);
    assert_true(n > 0 && (size_t)n < outsz);
}

/* Names in dir (not . and ..): counts ES256 files and dot files. */
static void list_dir(const char *dir, int *es256, int *hidden, int *total)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    assert_non_null(d);
    *es256 = *hidden = *total = 0;
    while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        (*total)++;
        if (de->d_name[0] == '.')
            (*hidden)++;
        if (!strncmp(de->d_name, "es256-", 6))
            (*es256)++;
    }
    closedir(d);
}

/* Writes a PEM for a fresh key on curve id under dir/name (0600). */
static void write_key_file(const char *dir, const char *name, mbedtls_ecp_group_id id,
                           char kid[64])
{
    mbedtls_pk_context pk;
    unsigned char pem[1024];
    char path[PATH_MAX];

    mbedtls_pk_init(&pk);
    assert_int_equal(mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)), 0);
    assert_int_equal(mbedtls_ecp_gen_key(id, mbedtls_pk_ec(pk), rng_mbedtls, NULL), 0);
    assert_int_equal(mbedtls_pk_write_key_pem(&pk, pem, sizeof pem), 0);
    if (kid && id == MBEDTLS_ECP_DP_SECP256R1)
        independent_ec_thumbprint(&pk, kid);
    path_join(path, sizeof path, dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    size_t len = strlen((char *)pem);
    assert_int_equal(write(fd, pem, len), (ssize_t)len);
    close(fd);
    mbedtls_pk_free(&pk);
}

static void write_text(const char *dir, const char *name, const char *text)
{
    char path[PATH_MAX];
    path_join(path, sizeof path, dir, name);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    chmod(path, 0600);
}

/* The keys directory made by the test, for tests that plant files first. */
static void make_keys_dir(struct fixture *f)
{
    char sub[PATH_MAX];
    path_join(sub, sizeof sub, f->base, "a");
    assert_int_equal(mkdir(sub, 0700), 0);
    assert_int_equal(mkdir(f->dir, 0700), 0);
}

/* ---- tests -------------------------------------------------------------- */

static void test_first_start_creates_files(void **state)
{
    struct fixture *f = *state;
    struct keyset ks;
    char err[256] = "", path[PATH_MAX];
    int es, hidden, total;

    /* A permissive umask must not leak into the key files' modes. */
    mode_t old = umask(0);
    int rc = keys_load(f->dir, JWT_ES256, &ks, err, sizeof err);
    umask(old);
    assert_int_equal(rc, 0);

    assert_int_equal(mode_of(f->dir) & 07777, 0700);
    assert_true(S_ISDIR(mode_of(f->dir)));
    path_join(path, sizeof path, f->base, "a");
    assert_int_equal(mode_of(path) & 07777, 0700);

    list_dir(f->dir, &es, &hidden, &total);
    assert_int_equal(es, 1);
    assert_int_equal(hidden, 0); /* no temp file left behind */
    assert_int_equal(total, 3);

    DIR *d = opendir(f->dir);
    struct dirent *de;
    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        path_join(path, sizeof path, f->dir, de->d_name);
        mode_t m = mode_of(path);
        assert_true(S_ISREG(m));
        assert_int_equal(m & 07777, 0600);
    }
    closedir(d);

    path_join(path, sizeof path, f->dir, "access-hs256.key");
    assert_true(S_ISREG(mode_of(path)));
    path_join(path, sizeof path, f->dir, "refresh-hs256.key");
    assert_true(S_ISREG(mode_of(path)));

    assert_int_equal(ks.access.count, 1);
    assert_int_equal(ks.access.current, 0);
    assert_int_equal(ks.access.keys[0].alg, JWT_ES256);
    assert_int_equal(strlen(ks.access.keys[0].kid), 43);
    assert_int_equal(ks.refresh.count, 1);
    assert_int_equal(ks.refresh.keys[0].alg, JWT_HS256);
    assert_int_equal(ks.refresh.keys[0].secret_len, 32);
    assert_int_equal(strlen(ks.refresh.keys[0].kid), 43);

    /* The loaded keys actually sign and verify. */
    char tok[JWT_MAX_TOKEN + 1], payload[256];
    size_t plen = 0;
    int n = jwt_sign(keyring_current(&ks.access), "at+jwt", "{}", 2, tok, sizeof tok);
    assert_true(n > 0);
    assert_int_equal(jwt_verify(&ks.access, tok, (size_t)n, "at+jwt", payload, sizeof payload,
                                &plen),
                     JWT_OK);
    n = jwt_sign(keyring_current(&ks.refresh), "rt+jwt", "{}", 2, tok, sizeof tok);
    assert_true(n > 0);
    assert_int_equal(jwt_verify(&ks.refresh, tok, (size_t)n, "rt+jwt", payload, sizeof payload,
                                &plen),
                     JWT_OK);
    /* A refresh token is no access token. */
    assert_int_equal(jwt_verify(&ks.access, tok, (size_t)n, "rt+jwt", payload, sizeof payload,
                                &plen),
                     JWT_UNKNOWN_KID);
    keys_free(&ks);
    assert_null(ks.access.keys);
    assert_null(ks.refresh.keys);
}

/* A restrictive umask must not leave the directory unwritable or the files
 * unreadable by the broker: modes are set explicitly. */
static void test_strict_umask_still_0700_0600(void **state)
{
    struct fixture *f = *state;
    struct keyset ks;
    char err[256] = "", path[PATH_MAX];

    mode_t old = umask(0277);
    int rc = keys_load(f->dir, JWT_ES256, &ks, err, sizeof err);
    umask(old);
    assert_int_equal(rc, 0);
    assert_int_equal(mode_of(f->dir) & 07777, 0700);
    path_join(path, sizeof path, f->dir, "refresh-hs256.key");
    assert_int_equal(mode_of(path) & 07777, 0600);
    keys_free(&ks);
    /* And it loads again as it is. */
    assert_int_equal(keys_load(f->dir, JWT_ES256, &ks, err, sizeof err), 0);
    keys_free(&ks);
}

static void test_second_load_same_kids(void **state)
{
    struct fixture *f = *state;
    struct keyset a, b;
    char err[256] = "";
    char tok[JWT_MAX_TOKEN + 1], payload[256];
    size_t plen = 0;

    assert_int_equal(keys_load(f->dir, JWT_ES256, &a, err, sizeof err), 0);
    assert_int_equal(keys_load(f->dir, JWT_ES256, &b, err, sizeof err), 0);
    assert_int_equal(b.access.count, 1);
    assert_string_equal(a.access.keys[0].kid, b.access.keys[0].kid);
    assert_string_equal(a.refresh.keys[0].kid, b.refresh.keys[0].kid);
    assert_memory_equal(a.refresh.keys[0].secret, b.refresh.keys[0].secret, 32);

    /* Same key material, not just the same name: a token from the first load
     * verifies against the second. */
    int n = jwt_sign(keyring_current(&a.access), "at+jwt", "{\"x\":1}", 7, tok, sizeof tok);
    assert_true(n > 0);
    assert_int_equal(jwt_verify(&b.access, tok, (size_t)n, "at+jwt", payload, sizeof payload,
                                &plen),
                     JWT_OK);
    n = jwt_sign(keyring_current(&a.refresh), "rt+jwt", "{\"x\":1}", 7, tok, sizeof tok);
    assert_true(n > 0);
    assert_int_equal(jwt_verify(&b.refresh, tok, (size_t)n, "rt+jwt", payload, sizeof payload,
                                &plen),
                     JWT_OK);
    keys_free(&a);
    keys_free(&b);
}

static void test_thumbprint_is_rfc7638(void **state)
{
    struct fixture *f = *state;
    struct keyset ks;
    char err[256] = "", want[64], got[64];

    assert_int_equal(keys_load(f->dir, JWT_ES256, &ks, err, sizeof err), 0);
    independent_ec_thumbprint(&ks.access.keys[0].pk, want);
    assert_string_equal(ks.access.keys[0].kid, want);
    assert_int_equal(keys_ec_thumbprint(&ks.access.keys[0].pk, got, sizeof got), 0);
    assert_string_equal(got, want);
    assert_int_equal(keys_ec_thumbprint(&ks.access.keys[0].pk, got, 43), -1);

    /* The refresh secret's kid: RFC 7638 over {"k":…,"kty":"oct"}. */
    char path[PATH_MAX], text[128], json[256];
    uint8_t secret[64];
    size_t slen = 0;
    path_join(path, sizeof path, f->dir, "refresh-hs256.key");
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    assert_non_null(fgets(text, sizeof text, fp));
    fclose(fp);
    text[strcspn(text, "\n")] = '\0';
    test_b64url_decode(text, secret, sizeof secret, &slen);
    assert_int_equal(slen, 32);
    assert_memory_equal(secret, ks.refresh.keys[0].secret, 32);
    snprintf(json, sizeof json, "{\"k\":\"%s\",\"kty\":\"oct\"}", text);
    sha256_b64url(json, want);
    assert_string_equal(ks.refresh.keys[0].kid, want);
    keys_free(&ks);
}

/* A vector computed outside this project (Python hashlib over the canonical
 * JSON) for the RFC 7515 A.3 public key. */
static void test_thumbprint_known_vector(void **state)
{
    (void)state;
    static const char *x = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
    static const char *y = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
    mbedtls_pk_context pk;
    uint8_t bx[32], by[32];
    size_t n = 0;
    char got[64];

    test_b64url_decode(x, bx, sizeof bx, &n);
    assert_int_equal(n, 32);
    test_b64url_decode(y, by, sizeof by, &n);
    assert_int_equal(n, 32);
    mbedtls_pk_init(&pk);
    assert_int_equal(mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)), 0);
    mbedtls_ecp_keypair *kp = mbedtls_pk_ec(pk);
    assert_int_equal(mbedtls_ecp_group_load(&kp->grp, MBEDTLS_ECP_DP_SECP256R1), 0);
    assert_int_equal(mbedtls_mpi_read_binary(&kp->Q.X, bx, 32), 0);
    assert_int_equal(mbedtls_mpi_read_binary(&kp->Q.Y, by, 32), 0);
    assert_int_equal(mbedtls_mpi_lset(&kp->Q.Z, 1), 0);
    assert_int_equal(keys_ec_thumbprint(&pk, got, sizeof got), 0);
    assert_string_equal(got, "oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U");
    mbedtls_pk_free(&pk);
}

static void test_generate_rotates(void **state)
{
    struct fixture *f = *state;
    struct keyset ks;
    char err[256] = "", old_kid[64], new_kid[JWT_KID_MAX], newer_kid[JWT_KID_MAX];
    char jwks[4096];
    int es, hidden, total;

    /* All in one frozen second: the newer key must still win. */
    clock_set_fake_ms(1700000000000);
    assert_int_equal(keys_load(f->dir, JWT_ES256, &ks, err, sizeof err), 0);
    snprintf(old_kid, sizeof old_kid, "%s", ks.access.keys[0].kid);
    keys_free(&ks);

    assert_int_equal(keys_generate_es256(f->dir, new_kid, sizeof new_kid, err, sizeof err), 0);
    assert_int_equal(strlen(new_kid), 43);
    assert_string_not_equal(new_kid, old_kid);
    list_dir(f->dir, &es, &hidden, &total);
    assert_int_equal(es, 2);
    assert_int_equal(hidden, 0);

    assert_int_equal(keys_load(f->dir, JWT_ES256, &ks, err, sizeof err), 0);
    assert_int_equal(ks.access.count, 2);
    assert_string_equal(keyring_current(&ks.access)->kid, new_kid);
    assert_non_null(keyring_find(&ks.access, old_kid, strlen(old_kid)));

    int n = keys_jwks_json(&ks, jwks, sizeof jwks);
    assert_true(n > 0);
    assert_int_equal(strlen(jwks), (size_t)n);
    char *pn = strstr(jwks, new_kid), *po = strstr(jwks, old_kid);
    assert_non_null(pn);
    assert_non_null(po);
    assert_true(pn < po); /* current key first */
    keys_free(&ks);

    /* A third one, still the same second. */
    assert_int_equal(keys_generate_es256(f->dir, newer_kid, sizeof newer_kid, err, sizeof err),
                     0);
    assert_int_equal(keys_load(f->dir, JWT_ES256, &ks, err, sizeof err), 0);
    assert_int_equal(ks.access.count, 3);
    assert_string_equal(keyring_current(&ks.access)->kid, newer_kid);
    n = keys_jwks_json(&ks, jwks, sizeof jwks);
    assert_true(n > 0);
    char *p3 = strstr(jwks, newer_kid);
    pn = strstr(jwks, new_kid);
    po = strstr(jwks, old_kid);
    assert_true(p3 && pn && po && p3 < pn && pn < po);
    keys_free(&ks);
}

/* keygen stops at the key limit, and a full set still fits the 8 KiB
 * buffer the HTTP handler serves it from. */
static void test_key_limit(void **state)
{
    struct fixture *f = *state;
    struct keyset ks;
    char err[256] = "", jwks[8192], kid[JWT_KID_MAX];
    int made = 0;

    clock_set_fake_ms(1700000000000);
    while (keys_generate_es256(f->dir, kid, sizeof kid, err, sizeof err) == 0) {
        made++;
        assert_true(made <= 64);
    }
    assert_true(made >= 2);
    assert_non_null(strstr(err, "remove old ones"));
    assert_int_equal(keys_load(f->dir, JWT_ES256, &ks, err, sizeof err), 0);
    assert_int_equal(ks.access.count, made);
    assert_string_equal(keyring_current(&ks.access)->kid, kid);
    int n = keys_jwks_json(&ks, jwks, sizeof jwks);
    assert_true(n > 0);
    int count = 0;
    for (const char *p = jwks; (p = strstr(p, "\"kid\"")) != NULL; p++)
        count++;
    assert_int_equal(count, made);
    keys_free(&ks);
}

static void test_jwks_is_public_only(void **state)
{
    struct fixture *f = *state;
    struct keyset ks;
    char err[256] = "", jwks[4096], x[64], y[64], d[64], expect[512];
    uint8_t raw[32];

    assert_int_equal(keys_load(f->dir, JWT_ES256, &ks, err, sizeof err), 0);
    int n = keys_jwks_json(&ks, jwks, sizeof jwks);
    assert_true(n > 0);

    mbedtls_ecp_keypair *kp = mbedtls_pk_ec(ks.access.keys[0].pk);
    assert_int_equal(mbedtls_mpi_write_binary(&kp->Q.X, raw, 32), 0);
    test_b64url(raw, 32, x, sizeof x);
    assert_int_equal(mbedtls_mpi_write_binary(&kp->Q.Y, raw, 32), 0);
    test_b64url(raw, 32, y, sizeof y);
    assert_int_equal(mbedtls_mpi_write_binary(&kp->d, raw, 32), 0);
    test_b64url(raw, 32, d, sizeof d);

    snprintf(expect, sizeof expect,
             "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"kid\":\"%s\","
             "\"alg\":\"ES256\",\"use\":\"sig\"}]}",
             x, y, ks.access.keys[0].kid);
    assert_string_equal(jwks, expect);
    assert_null(strstr(jwks, "\"d\""));
    assert_null(strstr(jwks, d));
    assert_null(strstr(jwks, ks.refresh.keys[0].kid)); /* secrets never published */

    /* Too small a buffer: -1, never a truncated document. */
    assert_int_equal(keys_jwks_json(&ks, jwks, (size_t)n), -1);
    assert_string_equal(jwks, "");
    assert_int_equal(keys_jwks_json(&ks, jwks, (size_t)n + 1), n);
    keys_free(&ks);
}

static void test_hs256_access_mode(void **state)
{
    struct fixture *f = *state;
    struct keyset ks;
    char err[256] = "", jwks[256];

    assert_int_equal(keys_load(f->dir, JWT_HS256, &ks, err, sizeof err), 0);
    assert_int_equal(ks.access.count, 1);
    assert_int_equal(ks.access.keys[0].alg, JWT_HS256);
    assert_int_equal(ks.access.keys[0].secret_len, 32);
    assert_string_not_equal(ks.access.keys[0].kid, ks.refresh.keys[0].kid);
    assert_memory_not_equal(ks.access.keys[0].secret, ks.refresh.keys[0].secret, 32);
    assert_int_equal(keys_jwks_json(&ks, jwks, sizeof jwks), 11);
    assert_string_equal(jwks, "{\"keys\":[]}");
    keys_free(&ks);
}

/* Newest by the name's seconds (numerically: 99 < 100), ties by name. */
static void test_current_is_newest_by_name(void **state)
{
    struct fixture *f = *state;
    struct keyset ks;
    char err[256] = "", k99[64], k100a[64], k100b[64], kdup[64];
    const char *ignored[] = {"es256-100.pem", "es256-101-ABCDEF01.pem", "es256-102-abcdef0.pem",
                             "es256-103-abcdef012.pem", "es256-104-abcdef01.pem.bak", "x.pem"};

    make_keys_dir(f);
    write_key_file(f->dir, "es256-99-ffffffff.pem", MBEDTLS_ECP_DP_SECP256R1, k99);
    write_key_file(f->dir, "es256-100-bbbbbbbb.pem", MBEDTLS_ECP_DP_SECP256R1, k100b);
    write_key_file(f->dir, "es256-100-aaaaaaaa.pem", MBEDTLS_ECP_DP_SECP256R1, k100a);
    for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++)
        write_key_file(f->dir, ignored[i], MBEDTLS_ECP_DP_SECP256R1, kdup);

    assert_int_equal(keys_load(f->dir, JWT_ES256, &ks, err, sizeof err), 0);
    assert_int_equal(ks.access.count, 3);
    assert_string_equal(keyring_current(&ks.access)->kid, k100b);
    assert_int_equal(keyring_current(&ks.access)->created_at, 100);
    assert_non_null(keyring_find(&ks.access, k99, strlen(k99)));
    assert_non_null(keyring_find(&ks.access, k100a, strlen(k100a)));
    assert_null(keyring_find(&ks.access, kdup, strlen(kdup)));
    keys_free(&ks);
}

static void test_rejects_non_p256(void **state)
{
    struct fixture *f = *state;
    struct keyset ks;
    char err[256] = "";

    make_keys_dir(f);
    write_key_file(f->dir, "es256-1-00000000.pem", MBEDTLS_ECP_DP_SECP384R1, NULL);
    assert_int_equal(keys_load(f->dir, JWT_ES256, &ks, err, sizeof err), -1);
    assert_non_null(strstr(err, "es256-1-00000000.pem"));
    assert_null(ks.access.keys);
    assert_null(ks.refresh.keys);
}

static void test_rejects_garbage_files(void **state)
{
    struct fixture *f = *state;
    struct keyset ks;
    char err[256] = "";

    make_keys_dir(f);
    write_text(f->dir, "es256-1-00000000.pem", "-----BEGIN EC PRIVATE KEY-----\nAAAA\n");
    assert_int_equal(keys_load(f->dir, JWT_ES256, &ks, err, sizeof err), -1);
    assert_true(strlen(err) > 0);
    assert_null(ks.access.keys);

    /* A valid key, but a refresh secret of the wrong length or alphabet. */
    char path[PATH_MAX];
    path_join(path, sizeof path, f->dir, "es256-1-00000000.pem");
    assert_int_equal(unlink(path), 0);
    write_key_file(f->dir, "es256-1-00000000.pem", MBEDTLS_ECP_DP_SECP256R1, NULL);
    const char *bad_secrets[] = {
        "AAAA\n",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",   /* padded */
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n\n",  /* two newlines */
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+\n",    /* standard alphabet */
        "",
    };
    for (size_t i = 0; i < sizeof bad_secrets / sizeof bad_secrets[0]; i++) {
        write_text(f->dir, "refresh-hs256.key", bad_secrets[i]);
        err[0] = '\0';
        if (keys_load(f->dir, JWT_ES256, &ks, err, sizeof err) != -1)
            fail_msg("secret %zu accepted", i);
        assert_non_null(strstr(err, "refresh-hs256.key"));
    }
    /* The same 32 zero bytes spelled canonically, with and without newline. */
    write_text(f->dir, "refresh-hs256.key", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    assert_int_equal(keys_load(f->dir, JWT_ES256, &ks, err, sizeof err), 0);
    keys_free(&ks);
    write_text(f->dir, "refresh-hs256.key", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n");
    assert_int_equal(keys_load(f->dir, JWT_ES256, &ks, err, sizeof err), 0);
    keys_free(&ks);
}

static void test_bad_directory(void **state)
{
    struct fixture *f = *state;
    struct keyset ks;
    char err[256] = "", path[PATH_MAX];

    path_join(path, sizeof path, f->base, "file");
    write_text(f->base, "file", "x");
    assert_int_equal(keys_load(path, JWT_ES256, &ks, err, sizeof err), -1);
    assert_true(strlen(err) > 0);
    char below[PATH_MAX + 8];
    snprintf(below, sizeof below, "%s/keys", path);
    assert_int_equal(keys_load(below, JWT_ES256, &ks, err, sizeof err), -1);
    assert_int_equal(keys_load("", JWT_ES256, &ks, err, sizeof err), -1);
    assert_int_equal(keys_load(f->dir, (enum jwt_alg)7, &ks, err, sizeof err), -1);
    assert_int_equal(keys_generate_es256(path, NULL, 0, err, sizeof err), -1);
}

/* ---- reload ------------------------------------------------------------- */

static const struct token_params reload_tp = {
    .issuer = "https://login.example", .audience = "https://login.example",
    .client_id = "qrlogin-web", .leeway = 30};

static void reload_claims(struct claims *c, int64_t sub)
{
    memset(c, 0, sizeof *c);
    c->sub = sub;
    snprintf(c->name, sizeof c->name, "user%lld", (long long)sub);
    snprintf(c->sid, sizeof c->sid, "sid-%lld", (long long)sub);
    snprintf(c->jti, sizeof c->jti, "jti-%lld", (long long)sub);
    c->ver = 1;
    c->iat = clock_now_s();
    c->exp = c->iat + 900;
}

/* The kid in a compact token's header, via the independent decoder. */
static void token_kid(const char *token, char kid[64])
{
    char part[256];
    uint8_t hdr[256];
    size_t n = strcspn(token, "."), olen = 0;
    assert_true(n < sizeof part);
    memcpy(part, token, n);
    part[n] = '\0';
    test_b64url_decode(part, hdr, sizeof hdr - 1, &olen);
    hdr[olen] = '\0';
    const char *k = strstr((const char *)hdr, "\"kid\":\"");
    assert_non_null(k);
    k += 7;
    size_t kl = strcspn(k, "\"");
    assert_true(kl < 64);
    memcpy(kid, k, kl);
    kid[kl] = '\0';
}

/* keygen, then a reload: the new key signs, the old one is still published
 * and still verifies what it signed, and the HS256 secrets are untouched. */
static void test_reload_picks_up_new_key(void **state)
{
    struct fixture *f = *state;
    struct keyset ks;
    struct keys_dir_stamp before, same, after;
    struct claims c, out;
    char err[256] = "", old_kid[64], new_kid[JWT_KID_MAX], kid[64], jwks[4096];
    char old_token[JWT_MAX_TOKEN + 1], new_token[JWT_MAX_TOKEN + 1];
    char refresh_token[JWT_MAX_TOKEN + 1];
    struct jwt_key refresh_before, access_secret_before;

    assert_int_equal(keys_load(f->dir, JWT_ES256, &ks, err, sizeof err), 0);
    snprintf(old_kid, sizeof old_kid, "%s", keyring_current(&ks.access)->kid);
    memcpy(&refresh_before, &ks.refresh.keys[0], sizeof refresh_before);
    reload_claims(&c, 7);
    assert_true(tokens_sign_access(&ks, &reload_tp, &c, old_token, sizeof old_token) > 0);
    assert_true(tokens_sign_refresh(&ks, &reload_tp, &c, refresh_token, sizeof refresh_token) > 0);
    assert_int_equal(keys_dir_stamp(f->dir, &before), 0);
    assert_int_equal(before.es256_files, 1);
    assert_int_equal(keys_dir_stamp(f->dir, &same), 0);
    assert_true(keys_dir_stamp_equal(&before, &same));

    /* Nothing new: a reload is harmless and changes nothing visible. */
    assert_int_equal(keys_reload(f->dir, &ks, err, sizeof err), 0);
    assert_string_equal(keyring_current(&ks.access)->kid, old_kid);
    assert_int_equal(ks.access.count, 1);

    assert_int_equal(keys_generate_es256(f->dir, new_kid, sizeof new_kid, err, sizeof err), 0);
    assert_int_equal(keys_dir_stamp(f->dir, &after), 0);
    assert_int_equal(after.es256_files, 2);
    assert_false(keys_dir_stamp_equal(&before, &after));

    assert_int_equal(keys_reload(f->dir, &ks, err, sizeof err), 0);
    assert_int_equal(ks.access.count, 2);
    assert_string_equal(keyring_current(&ks.access)->kid, new_kid);
    assert_non_null(keyring_find(&ks.access, old_kid, strlen(old_kid)));

    /* Both published, the new one first. */
    assert_true(keys_jwks_json(&ks, jwks, sizeof jwks) > 0);
    char *pn = strstr(jwks, new_kid), *po = strstr(jwks, old_kid);
    assert_true(pn && po && pn < po);

    /* The next token is signed with the new key; the old token still passes. */
    assert_true(tokens_sign_access(&ks, &reload_tp, &c, new_token, sizeof new_token) > 0);
    token_kid(new_token, kid);
    assert_string_equal(kid, new_kid);
    assert_int_equal(tokens_check_access(&ks, &reload_tp, new_token, strlen(new_token),
                                         c.iat, &out),
                     TOKEN_VALID);
    token_kid(old_token, kid);
    assert_string_equal(kid, old_kid);
    assert_int_equal(tokens_check_access(&ks, &reload_tp, old_token, strlen(old_token),
                                         c.iat, &out),
                     TOKEN_VALID);

    /* The refresh secret is the same bytes and kid, and its tokens pass. */
    assert_int_equal(ks.refresh.count, 1);
    assert_string_equal(ks.refresh.keys[0].kid, refresh_before.kid);
    assert_int_equal(ks.refresh.keys[0].secret_len, refresh_before.secret_len);
    assert_memory_equal(ks.refresh.keys[0].secret, refresh_before.secret,
                        refresh_before.secret_len);
    assert_int_equal(tokens_check_refresh(&ks, &reload_tp, refresh_token, strlen(refresh_token),
                                          c.iat, &out),
                     TOKEN_VALID);
    keys_free(&ks);

    /* With HS256 access tokens there is nothing to reload, and both secrets
     * stay exactly as loaded. */
    assert_int_equal(keys_load(f->dir, JWT_HS256, &ks, err, sizeof err), 0);
    memcpy(&access_secret_before, &ks.access.keys[0], sizeof access_secret_before);
    err[0] = '\0';
    assert_int_equal(keys_reload(f->dir, &ks, err, sizeof err), -1);
    assert_non_null(strstr(err, "HS256"));
    assert_int_equal(ks.access.count, 1);
    assert_int_equal(ks.access.keys[0].alg, JWT_HS256);
    assert_memory_equal(ks.access.keys[0].secret, access_secret_before.secret, 32);
    assert_memory_equal(ks.refresh.keys[0].secret, refresh_before.secret, 32);
    keys_free(&ks);
    mbedtls_platform_zeroize(&refresh_before, sizeof refresh_before);
    mbedtls_platform_zeroize(&access_secret_before, sizeof access_secret_before);
}

/* Expects a failing reload that leaves ks exactly as it was. */
static void expect_reload_fails(struct keyset *ks, const char *dir, const char *why)
{
    char err[256] = "";
    const struct jwt_key *keys_before = ks->access.keys;
    int count_before = ks->access.count, current_before = ks->access.current;

    if (keys_reload(dir, ks, err, sizeof err) != -1)
        fail_msg("reload with %s succeeded", why);
    if (!err[0])
        fail_msg("reload with %s gave no reason", why);
    assert_ptr_equal(ks->access.keys, keys_before);
    assert_int_equal(ks->access.count, count_before);
    assert_int_equal(ks->access.current, current_before);
}

/* A reload that cannot read the directory or one of its keys keeps the
 * whole old set: the broker goes on signing with what it had. */
static void test_failed_reload_keeps_old_set(void **state)
{
    struct fixture *f = *state;
    struct keyset ks;
    struct claims c, out;
    char err[256] = "", kid[64], path[PATH_MAX], moved[PATH_MAX + 8];
    char token[JWT_MAX_TOKEN + 1];

    assert_int_equal(keys_load(f->dir, JWT_ES256, &ks, err, sizeof err), 0);
    snprintf(kid, sizeof kid, "%s", keyring_current(&ks.access)->kid);

    /* A newer "key" that is not a PEM key. */
    write_text(f->dir, "es256-99999999999-00000000.pem", "-----BEGIN EC PRIVATE KEY-----\nx\n");
    expect_reload_fails(&ks, f->dir, "a bad PEM");
    path_join(path, sizeof path, f->dir, "es256-99999999999-00000000.pem");
    assert_int_equal(unlink(path), 0);

    /* One on the wrong curve. */
    write_key_file(f->dir, "es256-99999999999-00000001.pem", MBEDTLS_ECP_DP_SECP384R1, NULL);
    expect_reload_fails(&ks, f->dir, "a P-384 key");
    path_join(path, sizeof path, f->dir, "es256-99999999999-00000001.pem");
    assert_int_equal(unlink(path), 0);

    /* One that cannot be read (a directory by that name: root reads any
     * file, so permissions cannot make one unreadable here). */
    path_join(path, sizeof path, f->dir, "es256-99999999999-00000002.pem");
    assert_int_equal(mkdir(path, 0700), 0);
    expect_reload_fails(&ks, f->dir, "an unreadable key");
    assert_int_equal(rmdir(path), 0);

    /* The directory gone: nothing is created in its place. */
    snprintf(moved, sizeof moved, "%s.moved", f->dir);
    assert_int_equal(rename(f->dir, moved), 0);
    expect_reload_fails(&ks, f->dir, "no directory");
    struct stat st;
    assert_int_not_equal(stat(f->dir, &st), 0);
    assert_int_equal(rename(moved, f->dir), 0);

    /* Still the same current key, and it still signs and verifies. */
    assert_string_equal(keyring_current(&ks.access)->kid, kid);
    reload_claims(&c, 8);
    assert_true(tokens_sign_access(&ks, &reload_tp, &c, token, sizeof token) > 0);
    assert_int_equal(tokens_check_access(&ks, &reload_tp, token, strlen(token), c.iat, &out),
                     TOKEN_VALID);

    /* And once the directory is sound again, a reload works. */
    assert_int_equal(keys_reload(f->dir, &ks, err, sizeof err), 0);
    assert_string_equal(keyring_current(&ks.access)->kid, kid);
    keys_free(&ks);
}

struct reload_race {
    struct keyset *ks;
    atomic_int stop;
    atomic_int signed_ok, failures;
};

static void *reload_race_worker(void *arg)
{
    struct reload_race *r = arg;
    char token[JWT_MAX_TOKEN + 1];
    struct claims c, out;
    int64_t sub = 100;

    while (!atomic_load(&r->stop)) {
        reload_claims(&c, sub++);
        if (tokens_sign_access(r->ks, &reload_tp, &c, token, sizeof token) < 0 ||
            tokens_check_access(r->ks, &reload_tp, token, strlen(token), c.iat, &out) !=
                TOKEN_VALID)
            atomic_fetch_add(&r->failures, 1);
        else
            atomic_fetch_add(&r->signed_ok, 1);
    }
    return NULL;
}

/* Reloads while two threads sign and verify through tokens.c, as the worker
 * pool does: every token made with whichever key was current verifies (no
 * key is freed under a reader). Meant for ASan/valgrind runs as much as for
 * the asserts. */
static void test_reload_while_signing(void **state)
{
    struct fixture *f = *state;
    struct keyset ks;
    struct reload_race r;
    pthread_t th[2];
    char err[256] = "", kid[JWT_KID_MAX];

    assert_int_equal(keys_load(f->dir, JWT_ES256, &ks, err, sizeof err), 0);
    memset(&r, 0, sizeof r);
    r.ks = &ks;
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, reload_race_worker, &r), 0);
    for (int round = 0; round < 4; round++) {
        assert_int_equal(keys_generate_es256(f->dir, kid, sizeof kid, err, sizeof err), 0);
        assert_int_equal(keys_reload(f->dir, &ks, err, sizeof err), 0);
        assert_string_equal(keyring_current(&ks.access)->kid, kid);
        /* Let the signers use this key: wait until both threads' counter
         * moved on by a few tokens (an event, however slowly they run). */
        int seen = atomic_load(&r.signed_ok) + atomic_load(&r.failures);
        while (atomic_load(&r.signed_ok) + atomic_load(&r.failures) < seen + 4)
            sched_yield();
    }
    atomic_store(&r.stop, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&r.failures), 0);
    assert_true(atomic_load(&r.signed_ok) > 0);
    assert_int_equal(ks.access.count, 5);
    keys_free(&ks);
}

/* Brokers of a cluster share one keys directory and may first start at the
 * same moment. Each creates the refresh secret if it is missing; the first one
 * written must be the one every broker loads, or tokens of one node would be
 * refused by the others. Several processes, released at once, load an empty
 * directory; they must all end with the same refresh kid. */
static void test_first_start_race_one_secret(void **state)
{
    struct fixture *f = *state;
    enum { N = 8, ROUNDS = 20 };
    for (int round = 0; round < ROUNDS; round++) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s/race%d", f->base, round);
        int go[2], out[2];
        assert_int_equal(pipe(go), 0);
        assert_int_equal(pipe(out), 0);
        for (int i = 0; i < N; i++) {
            pid_t pid = fork();
            assert_true(pid >= 0);
            if (pid == 0) {
                char c, kid[JWT_KID_MAX] = "";
                struct keyset ks;
                char err[256];
                close(go[1]);
                (void)!read(go[0], &c, 1); /* returns 0 when the parent closes go[1] */
                rng_free();                 /* never share the parent's DRBG state */
                if (!keys_load(dir, JWT_ES256, &ks, err, sizeof err)) {
                    snprintf(kid, sizeof kid, "%s", ks.refresh.keys[0].kid);
                    keys_free(&ks);
                }
                (void)!write(out[1], kid, sizeof kid);
                _exit(0);
            }
        }
        close(go[0]);
        close(out[1]);
        close(go[1]); /* release them all at once */
        char first[JWT_KID_MAX] = "", kid[JWT_KID_MAX];
        int got = 0;
        while (read(out[0], kid, sizeof kid) == (ssize_t)sizeof kid) {
            assert_true(kid[0] != '\0');
            if (!got++)
                memcpy(first, kid, sizeof first);
            else
                assert_string_equal(kid, first);
        }
        close(out[0]);
        while (wait(NULL) > 0) {
        }
        assert_int_equal(got, N);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_first_start_creates_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strict_umask_still_0700_0600, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_load_same_kids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_thumbprint_is_rfc7638, setup, teardown),
        cmocka_unit_test(test_thumbprint_known_vector),
        cmocka_unit_test_setup_teardown(test_generate_rotates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_jwks_is_public_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hs256_access_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_current_is_newest_by_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejects_non_p256, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejects_garbage_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_picks_up_new_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_reload_keeps_old_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_while_signing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_first_start_race_one_secret, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
