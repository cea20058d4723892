/* keys.c — signing keys on disk and the public JWK Set, see keys.h.
 *
 * Files are read into bounded buffers that are wiped after parsing, and
 * written through a 0600 temp file that is fsync'ed and then renamed, so a
 * crash never leaves a half-written key behind. Symlinks to regular files are
 * followed on purpose: secret mounts (Kubernetes, Docker) are made of them. */
#include "keys.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/ecp.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

#include "b64url.h"
#include "clock.h"
#include "fsutil.h"
#include "log.h"
#include "rng.h"
#include "strutil.h"

/* Keeps the JWKS (about 210 bytes a key) well under 8 KiB and loads fast;
 * keygen refuses to go past it, so old keys must be pruned by hand. */
#define KEYS_MAX_ES256 32
#define KEYS_FILE_MAX 8192     /* a P-256 PEM is ~230 bytes */
#define KEYS_NAME_MAX 64
#define KEYS_COORD_B64 44      /* 43 characters for 32 bytes, plus NUL */
#define KEYS_SECRET_B64 (JWT_SECRET_MAX * 4 / 3 + 4)
#define KEYS_ACCESS_SECRET "access-hs256.key"
#define KEYS_REFRESH_SECRET "refresh-hs256.key"

struct keys_entry {
    char name[KEYS_NAME_MAX];
    int64_t created_at;
};

static int keys_path(char *out, size_t outsz, const char *dir, const char *name)
{
    int n = snprintf(out, outsz, "%s/%s", dir, name);
    return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

/* ---- directory and files -------------------------------------------------- */

/* mkdir -p, 0700 (fsutil.h); a keys directory that already exists wider than
 * that is used, with a warning: an operator may have chosen it on purpose. */
static int keys_mkdir_p(const char *dir, char *err, size_t errsz)
{
    struct stat st;
    if (fs_mkdir_p(dir, err, errsz))
        return -1;
    if (stat(dir, &st) == 0 && (st.st_mode & 077))
        log_warn("keys directory %s is accessible to group/others (mode %03o)", dir,
                 (unsigned)(st.st_mode & 0777));
    return 0;
}

/* Reads a whole small regular file and NUL-terminates it. */
static int keys_read_file(const char *path, unsigned char *buf, size_t bufsz, size_t *len,
                          int64_t *mtime)
{
    struct stat st;
    size_t got = 0;
    int rc = -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return -1;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 0 ||
        (size_t)st.st_size >= bufsz)
        goto out;
    while (got < bufsz - 1) {
        ssize_t r = read(fd, buf + got, bufsz - 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            goto out;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    buf[got] = '\0';
    *len = got;
    if (mtime)
        *mtime = (int64_t)st.st_mtime;
    if (st.st_mode & 077)
        log_warn("key file %s is accessible to group/others", path);
    rc = 0;
out:
    close(fd);
    return rc;
}


/* ---- thumbprints and JWK coordinates ------------------------------------- */

/* base64url(SHA-256(json)) into out. */
static int keys_sha256_b64(const char *json, size_t n, char *out, size_t outsz)
{
    unsigned char hash[32];
    int rc = mbedtls_sha256_ret((const unsigned char *)json, n, hash, 0);
    if (!rc)
        rc = b64url_encode(hash, sizeof hash, out, outsz) < 0 ? -1 : 0;
    return rc ? -1 : 0;
}

/* x and y of a P-256 public key, each 32 bytes big-endian (left-padded, as
 * RFC 7518 §6.2.1.2 demands) in base64url. */
static int keys_ec_coords(const mbedtls_pk_context *pk, char x[KEYS_COORD_B64],
                          char y[KEYS_COORD_B64])
{
    unsigned char bx[32], by[32];
    mbedtls_ecp_keypair *kp;

    if (!pk || mbedtls_pk_get_type(pk) != MBEDTLS_PK_ECKEY)
        return -1;
    kp = mbedtls_pk_ec(*pk);
    if (!kp || kp->grp.id != MBEDTLS_ECP_DP_SECP256R1)
        return -1;
    if (mbedtls_mpi_write_binary(&kp->Q.X, bx, sizeof bx) ||
        mbedtls_mpi_write_binary(&kp->Q.Y, by, sizeof by))
        return -1;
    if (b64url_encode(bx, sizeof bx, x, KEYS_COORD_B64) < 0 ||
        b64url_encode(by, sizeof by, y, KEYS_COORD_B64) < 0)
        return -1;
    return 0;
}

int keys_ec_thumbprint(const mbedtls_pk_context *pk, char *out, size_t outsz)
{
    char x[KEYS_COORD_B64], y[KEYS_COORD_B64], json[160];
    int n;

    if (!out || outsz == 0)
        return -1;
    out[0] = '\0';
    if (keys_ec_coords(pk, x, y))
        return -1;
    /* RFC 7638 §3.2: required members only, sorted, no whitespace. */
    n = snprintf(json, sizeof json, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
                 x, y);
    if (n < 0 || (size_t)n >= sizeof json)
        return -1;
    return keys_sha256_b64(json, (size_t)n, out, outsz);
}

/* RFC 7638 thumbprint of {"k":…,"kty":"oct"}. The JSON holds the secret, so
 * it is wiped. */
static int keys_secret_thumbprint(const uint8_t *secret, size_t n, char *out, size_t outsz)
{
    char k[KEYS_SECRET_B64], json[KEYS_SECRET_B64 + 32];
    int len, rc = -1;

    if (b64url_encode(secret, n, k, sizeof k) < 0)
        goto out;
    len = snprintf(json, sizeof json, "{\"k\":\"%s\",\"kty\":\"oct\"}", k);
    if (len < 0 || (size_t)len >= sizeof json)
        goto out;
    rc = keys_sha256_b64(json, (size_t)len, out, outsz);
out:
    mbedtls_platform_zeroize(k, sizeof k);
    mbedtls_platform_zeroize(json, sizeof json);
    return rc;
}

/* ---- ES256 key files ------------------------------------------------------ */

/* Accepts exactly es256-<1..18 digits>-<8 lowercase hex>.pem; anything else
 * in the directory (temp files, backups) is ignored. */
static int keys_parse_es256_name(const char *name, int64_t *created_at)
{
    const char *p = name;
    int64_t v = 0;
    int digits = 0;

    if (strncmp(p, "es256-", 6) != 0)
        return -1;
    for (p += 6; *p >= '0' && *p <= '9'; p++) {
        if (++digits > 18)
            return -1;
        v = v * 10 + (*p - '0');
    }
    if (digits == 0 || *p++ != '-')
        return -1;
    for (int i = 0; i < 8; i++, p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return -1;
    if (strcmp(p, ".pem") != 0)
        return -1;
    *created_at = v;
    return 0;
}

static int keys_entry_cmp(const void *a, const void *b)
{
    const struct keys_entry *x = a, *y = b;
    if (x->created_at != y->created_at)
        return x->created_at < y->created_at ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* The ES256 key files in dir, oldest first (the last one is current). */
static int keys_scan_es256(const char *dir, struct keys_entry *list, int *count, char *err,
                           size_t errsz)
{
    struct dirent *de;
    DIR *d = opendir(dir);

    *count = 0;
    if (!d) {
        str_format(err, errsz, "cannot open %s: %s", dir, strerror(errno));
        return -1;
    }
    while ((de = readdir(d)) != NULL) {
        int64_t created;
        size_t len = strnlen(de->d_name, KEYS_NAME_MAX);
        if (len >= KEYS_NAME_MAX || keys_parse_es256_name(de->d_name, &created))
            continue;
        if (*count == KEYS_MAX_ES256) {
            closedir(d);
            str_format(err, errsz, "more than %d ES256 keys in %s", KEYS_MAX_ES256, dir);
            return -1;
        }
        memcpy(list[*count].name, de->d_name, len + 1);
        list[*count].created_at = created;
        (*count)++;
    }
    closedir(d);
    qsort(list, (size_t)*count, sizeof *list, keys_entry_cmp);
    return 0;
}

/* One signature and its verification per key at load: it fills the curve's
 * comb table while we are still single-threaded, and proves the file's
 * private and public halves belong together. */
static int keys_warm_up(const mbedtls_pk_context *pk)
{
    static const char msg[] = "qrlogin key warm-up";
    uint8_t sig[64];
    int rc = jwt_es256_sign(pk, msg, sizeof msg - 1, sig);
    if (!rc)
        rc = jwt_es256_verify(pk, msg, sizeof msg - 1, sig, sizeof sig);
    return rc;
}

static int keys_load_es256_file(const char *dir, const struct keys_entry *e,
                                struct jwt_key *key, char *err, size_t errsz)
{
    unsigned char buf[KEYS_FILE_MAX];
    char path[PATH_MAX];
    size_t len = 0;
    int rc;

    mbedtls_pk_init(&key->pk);
    key->alg = JWT_ES256;
    key->created_at = e->created_at;
    rc = keys_path(path, sizeof path, dir, e->name);
    if (!rc)
        rc = keys_read_file(path, buf, sizeof buf, &len, NULL);
    if (rc) {
        str_format(err, errsz, "cannot read %s", e->name);
        goto out;
    }
    rc = mbedtls_pk_parse_key(&key->pk, buf, len + 1, NULL, 0);
    if (rc) {
        str_format(err, errsz, "%s is not a PEM private key (mbedtls -0x%04x)", e->name,
                 (unsigned)-rc);
        goto out;
    }
    rc = keys_ec_thumbprint(&key->pk, key->kid, sizeof key->kid);
    if (rc) {
        str_format(err, errsz, "%s is not a P-256 EC key", e->name);
        goto out;
    }
    rc = keys_warm_up(&key->pk);
    if (rc)
        str_format(err, errsz, "%s does not produce valid signatures", e->name);
out:
    mbedtls_platform_zeroize(buf, sizeof buf);
    return rc ? -1 : 0;
}

static int keys_load_es256_ring(const char *dir, struct keyring *kr, char *err, size_t errsz)
{
    struct keys_entry list[KEYS_MAX_ES256];
    int count = 0;
    int rc = keys_scan_es256(dir, list, &count, err, errsz);

    if (rc)
        return -1;
    if (count == 0) {
        str_format(err, errsz, "no ES256 key in %s", dir);
        return -1;
    }
    kr->keys = calloc((size_t)count, sizeof *kr->keys);
    if (!kr->keys) {
        str_format(err, errsz, "out of memory");
        return -1;
    }
    for (int i = 0; i < count; i++) {
        struct jwt_key *k = &kr->keys[kr->count];
        rc = keys_load_es256_file(dir, &list[i], k, err, errsz);
        kr->count++; /* counted even on failure so keyring_free frees its pk */
        if (rc)
            return -1;
        if (keyring_find(kr, k->kid, strlen(k->kid)) != k) {
            log_warn("%s duplicates an older key; ignored", list[i].name);
            mbedtls_pk_free(&k->pk);
            memset(k, 0, sizeof *k);
            kr->count--;
        }
    }
    kr->current = kr->count - 1;
    return 0;
}

/* Seconds for a new key's name: now, but always after every existing key, so
 * the key just generated is the current one even within the same second. */
static int keys_next_created_at(const char *dir, int64_t *created, char *err, size_t errsz)
{
    struct keys_entry list[KEYS_MAX_ES256];
    int count = 0;

    if (keys_scan_es256(dir, list, &count, err, errsz))
        return -1;
    if (count >= KEYS_MAX_ES256) {
        str_format(err, errsz, "%s already holds %d ES256 keys; remove old ones first", dir,
                 count);
        return -1;
    }
    *created = clock_now_s();
    if (count > 0 && list[count - 1].created_at >= *created)
        *created = list[count - 1].created_at + 1;
    return 0;
}

int keys_generate_es256(const char *dir, char *new_kid, size_t kid_size, char *err,
                        size_t errsz)
{
    mbedtls_pk_context pk;
    unsigned char pem[1024];
    unsigned char tag[4];
    char name[KEYS_NAME_MAX], kid[JWT_KID_MAX];
    int64_t created = 0;
    int rc;

    mbedtls_pk_init(&pk);
    memset(pem, 0, sizeof pem);
    rc = keys_mkdir_p(dir, err, errsz);
    if (rc)
        goto out;
    rc = rng_init() || rng_bytes(tag, sizeof tag);
    if (rc) {
        str_format(err, errsz, "random generator unavailable");
        goto out;
    }
    rc = keys_next_created_at(dir, &created, err, errsz);
    if (rc)
        goto out;
    snprintf(name, sizeof name, "es256-%lld-%02x%02x%02x%02x.pem", (long long)created, tag[0],
             tag[1], tag[2], tag[3]);
    rc = mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) ||
         mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(pk), rng_mbedtls, NULL) ||
         mbedtls_pk_write_key_pem(&pk, pem, sizeof pem) ||
         keys_ec_thumbprint(&pk, kid, sizeof kid);
    if (rc) {
        str_format(err, errsz, "cannot generate an ES256 key");
        goto out;
    }
    rc = fs_write_atomic(dir, name, pem, strnlen((const char *)pem, sizeof pem), false, err,
                           errsz);
    if (rc)
        goto out;
    if (new_kid && kid_size > 0)
        snprintf(new_kid, kid_size, "%s", kid);
out:
    mbedtls_platform_zeroize(pem, sizeof pem);
    mbedtls_pk_free(&pk);
    return rc ? -1 : 0;
}

/* ---- HS256 secrets --------------------------------------------------------- */

/* Creates dir/name with a fresh 32-byte secret unless it exists. */
static int keys_ensure_secret(const char *dir, const char *name, char *err, size_t errsz)
{
    uint8_t secret[JWT_SECRET_LEN];
    char text[KEYS_SECRET_B64 + 2], path[PATH_MAX];
    struct stat st;
    int n, rc;

    if (keys_path(path, sizeof path, dir, name)) {
        str_format(err, errsz, "keys directory path too long");
        return -1;
    }
    if (lstat(path, &st) == 0)
        return 0;
    rc = rng_bytes(secret, sizeof secret);
    n = rc ? -1 : b64url_encode(secret, sizeof secret, text, sizeof text - 1);
    if (n < 0) {
        str_format(err, errsz, "cannot generate %s", name);
        rc = -1;
        goto out;
    }
    text[n++] = '\n';
    rc = fs_write_atomic(dir, name, text, (size_t)n, true, err, errsz);
out:
    mbedtls_platform_zeroize(secret, sizeof secret);
    mbedtls_platform_zeroize(text, sizeof text);
    return rc;
}

/* A one-key ring holding the secret in dir/name: base64url of exactly 32
 * bytes, optionally followed by one newline. */
static int keys_load_secret(const char *dir, const char *name, struct keyring *kr, char *err,
                            size_t errsz)
{
    unsigned char buf[KEYS_SECRET_B64 + 8];
    char path[PATH_MAX];
    struct jwt_key *k;
    size_t len = 0;
    int64_t mtime = 0;
    int n, rc = -1;

    if (keys_path(path, sizeof path, dir, name) ||
        keys_read_file(path, buf, sizeof buf, &len, &mtime)) {
        str_format(err, errsz, "cannot read %s", name);
        goto out;
    }
    if (len > 0 && buf[len - 1] == '\n')
        len--;
    kr->keys = calloc(1, sizeof *kr->keys);
    if (!kr->keys) {
        str_format(err, errsz, "out of memory");
        goto out;
    }
    k = &kr->keys[0];
    mbedtls_pk_init(&k->pk);
    kr->count = 1;
    n = b64url_decode((const char *)buf, len, k->secret, sizeof k->secret);
    if (n != JWT_SECRET_LEN) {
        str_format(err, errsz, "%s must hold %d bytes in base64url", name, JWT_SECRET_LEN);
        goto out;
    }
    k->secret_len = (size_t)n;
    k->alg = JWT_HS256;
    k->created_at = mtime;
    if (keys_secret_thumbprint(k->secret, k->secret_len, k->kid, sizeof k->kid)) {
        str_format(err, errsz, "cannot derive a kid for %s", name);
        goto out;
    }
    kr->current = 0;
    rc = 0;
out:
    mbedtls_platform_zeroize(buf, sizeof buf);
    return rc;
}

/* ---- public API ------------------------------------------------------------- */

int keys_load(const char *dir, enum jwt_alg access_alg, struct keyset *ks, char *err,
              size_t errsz)
{
    struct keys_entry list[KEYS_MAX_ES256];
    int count = 0, rc;

    if (!ks)
        return -1;
    memset(ks, 0, sizeof *ks);
    ks->access.current = -1;
    ks->refresh.current = -1;
    if (access_alg != JWT_ES256 && access_alg != JWT_HS256) {
        str_format(err, errsz, "unknown access token algorithm");
        return -1;
    }
    rc = keys_mkdir_p(dir, err, errsz);
    if (rc)
        goto out;
    rc = rng_init();
    if (rc) {
        str_format(err, errsz, "random generator unavailable");
        goto out;
    }
    rc = keys_scan_es256(dir, list, &count, err, errsz);
    if (!rc && count == 0)
        rc = keys_generate_es256(dir, NULL, 0, err, errsz);
    if (!rc)
        rc = keys_ensure_secret(dir, KEYS_ACCESS_SECRET, err, errsz);
    if (!rc)
        rc = keys_ensure_secret(dir, KEYS_REFRESH_SECRET, err, errsz);
    if (rc)
        goto out;
    if (access_alg == JWT_ES256)
        rc = keys_load_es256_ring(dir, &ks->access, err, errsz);
    else
        rc = keys_load_secret(dir, KEYS_ACCESS_SECRET, &ks->access, err, errsz);
    if (!rc)
        rc = keys_load_secret(dir, KEYS_REFRESH_SECRET, &ks->refresh, err, errsz);
out:
    if (rc)
        keys_free(ks);
    return rc ? -1 : 0;
}

void keys_free(struct keyset *ks)
{
    if (!ks)
        return;
    keyring_free(&ks->access);
    keyring_free(&ks->refresh);
}

/* ---- reload ------------------------------------------------------------------ */

/* One lock for every keyset (there is one per process; tests make several,
 * and a swap of one briefly blocking readers of another costs nothing). The
 * writer-preferring kind matters: with glibc's default, a steady stream of
 * overlapping signatures on the worker threads could hold a swap off
 * forever. A static initializer, so the lock exists before any thread and
 * needs no init/teardown order. */
#ifdef PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP
static pthread_rwlock_t keys_lock = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;
#else
static pthread_rwlock_t keys_lock = PTHREAD_RWLOCK_INITIALIZER;
#endif

void keys_read_lock(void) { pthread_rwlock_rdlock(&keys_lock); }
void keys_read_unlock(void) { pthread_rwlock_unlock(&keys_lock); }

int keys_reload_stage(const char *dir, struct keyring *staged, char *err, size_t errsz)
{
    if (!dir || !staged)
        return -1;
    memset(staged, 0, sizeof *staged);
    staged->current = -1;
    /* The same reader keys_load uses, so a reload accepts exactly what a
     * restart would; unlike keys_load it creates nothing: a directory that
     * lost its keys is an error to report, not a reason to mint a new one. */
    if (keys_load_es256_ring(dir, staged, err, errsz) == 0)
        return 0;
    keyring_free(staged);
    return -1;
}

static bool keys_signs_es256(const struct keyset *ks)
{
    const struct jwt_key *cur = keyring_current(&ks->access);
    return cur && cur->alg == JWT_ES256;
}

/* Only the thread that commits writes ks, so reading ks->access here needs
 * no lock; the swap itself is what readers must not see half done. */
int keys_reload_commit(struct keyset *ks, struct keyring *staged)
{
    struct keyring old;

    if (!ks || !staged)
        return -1;
    if (!keys_signs_es256(ks) || !keyring_current(staged)) {
        keyring_free(staged);
        return -1;
    }
    pthread_rwlock_wrlock(&keys_lock);
    old = ks->access;
    ks->access = *staged;
    pthread_rwlock_unlock(&keys_lock);
    keyring_free(&old); /* no reader can hold it any more */
    memset(staged, 0, sizeof *staged);
    staged->current = -1;
    return 0;
}

int keys_reload(const char *dir, struct keyset *ks, char *err, size_t errsz)
{
    struct keyring staged;

    if (!ks || !keys_signs_es256(ks)) {
        str_format(err, errsz, "access tokens are HS256: there are no ES256 keys to reload");
        return -1;
    }
    if (keys_reload_stage(dir, &staged, err, errsz))
        return -1;
    return keys_reload_commit(ks, &staged);
}

int keys_dir_stamp(const char *dir, struct keys_dir_stamp *st)
{
    struct stat sb;
    struct dirent *de;
    DIR *d;

    memset(st, 0, sizeof *st);
    if (!dir || stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return -1;
    d = opendir(dir);
    if (!d)
        return -1;
    while ((de = readdir(d)) != NULL) {
        int64_t created;
        if (strnlen(de->d_name, KEYS_NAME_MAX) < KEYS_NAME_MAX &&
            keys_parse_es256_name(de->d_name, &created) == 0)
            st->es256_files++;
    }
    closedir(d);
    st->dev = (uint64_t)sb.st_dev;
    st->ino = (uint64_t)sb.st_ino;
    st->mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
    return 0;
}

bool keys_dir_stamp_equal(const struct keys_dir_stamp *a, const struct keys_dir_stamp *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->mtime_ns == b->mtime_ns &&
           a->es256_files == b->es256_files;
}

/* Appends one public JWK; never touches the private scalar. */
static int keys_jwk_append(const struct jwt_key *k, int first, char *out, size_t outsz,
                           size_t *pos)
{
    char x[KEYS_COORD_B64], y[KEYS_COORD_B64];
    int n;

    if (keys_ec_coords(&k->pk, x, y))
        return -1;
    n = snprintf(out + *pos, outsz - *pos,
                 "%s{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"kid\":\"%s\","
                 "\"alg\":\"ES256\",\"use\":\"sig\"}",
                 first ? "" : ",", x, y, k->kid);
    if (n < 0 || (size_t)n >= outsz - *pos)
        return -1;
    *pos += (size_t)n;
    return 0;
}

static int keys_append_str(const char *s, char *out, size_t outsz, size_t *pos)
{
    int n = snprintf(out + *pos, outsz - *pos, "%s", s);
    if (n < 0 || (size_t)n >= outsz - *pos)
        return -1;
    *pos += (size_t)n;
    return 0;
}

int keys_jwks_json(const struct keyset *ks, char *out, size_t outsz)
{
    const struct keyring *kr;
    const struct jwt_key *cur;
    size_t pos = 0;
    int first = 1, rc;

    if (!ks || !out || outsz == 0)
        return -1;
    out[0] = '\0';
    keys_read_lock();
    kr = &ks->access;
    cur = keyring_current(kr);
    rc = keys_append_str("{\"keys\":[", out, outsz, &pos);
    if (!rc && cur && cur->alg == JWT_ES256) {
        rc = keys_jwk_append(cur, 1, out, outsz, &pos);
        first = 0;
    }
    /* The rest newest first: the array is sorted oldest first. */
    for (int i = kr->count - 1; !rc && i >= 0; i--) {
        const struct jwt_key *k = &kr->keys[i];
        if (k == cur || k->alg != JWT_ES256)
            continue;
        rc = keys_jwk_append(k, first, out, outsz, &pos);
        first = 0;
    }
    if (!rc)
        rc = keys_append_str("]}", out, outsz, &pos);
    keys_read_unlock();
    if (rc || pos > INT_MAX) {
        out[0] = '\0';
        return -1;
    }
    return (int)pos;
}
