/* store.c — picks a store backend from its URL (see store.h). */
#include "store.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <mbedtls/sha256.h>

#include "b64url.h"
#include "log.h"

static void store__err(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void store__err(char *err, size_t errsz, const char *fmt, ...)
{
    if (!err || !errsz)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errsz, fmt, ap);
    va_end(ap);
}

void store_identity_hash(const char *issuer, const char *subject,
                         char out[FED_IDENTITY_HASH_SIZE])
{
    uint8_t h[32];
    mbedtls_sha256_context c;
    mbedtls_sha256_init(&c);
    mbedtls_sha256_starts_ret(&c, 0);
    mbedtls_sha256_update_ret(&c, (const uint8_t *)issuer, strlen(issuer) + 1); /* with NUL */
    mbedtls_sha256_update_ret(&c, (const uint8_t *)subject, strlen(subject));
    mbedtls_sha256_finish_ret(&c, h);
    mbedtls_sha256_free(&c);
    b64url_encode(h, sizeof h, out, FED_IDENTITY_HASH_SIZE);
}

bool store_federated_args_ok(const char *issuer, const char *subject, const char *display_name)
{
    if (issuer && subject && display_name && *issuer && *subject && *display_name &&
        strlen(issuer) <= FED_ISSUER_MAX && strlen(subject) <= FED_SUBJECT_MAX &&
        strlen(display_name) <= USER_NAME_MAX)
        return true;
    log_error("store: user_federated: empty or too long issuer, subject or name");
    return false;
}

/* A redis URL may carry a password (redis://:secret@host), so an error message
 * names only the scheme of a URL we do not understand, never the whole URL. */
struct store *store_open(const char *url, char *err, size_t errsz)
{
    static const char sqlite_prefix[] = "sqlite:";

    if (err && errsz)
        err[0] = '\0';
    if (!url || !*url) {
        store__err(err, errsz, "empty store url (expected sqlite:<path> or redis://host:port/db)");
        return NULL;
    }
    if (!strncmp(url, sqlite_prefix, sizeof sqlite_prefix - 1)) {
        const char *path = url + sizeof sqlite_prefix - 1;
        if (!*path) {
            store__err(err, errsz, "store url 'sqlite:' has no path (expected sqlite:<path>)");
            return NULL;
        }
        return store_sqlite_open(path, err, errsz);
    }
    /* rediss:// goes there too, so that redis_url_parse says why it is refused */
    if (!strncmp(url, "redis://", 8) || !strncmp(url, "rediss://", 9))
        return store_redis_open(url, err, errsz);

    size_t scheme_len = strcspn(url, ":");
    if (url[scheme_len] != ':' || scheme_len > 16)
        store__err(err, errsz,
                   "store url has no known scheme (expected sqlite:<path> or redis://host:port/db)");
    else
        store__err(err, errsz,
                   "unsupported store scheme '%.*s:' (expected sqlite:<path> or redis://host:port/db)",
                   (int)scheme_len, url);
    return NULL;
}

/* A backend that needs the loop is one with a start op (store.h). */
bool store_needs_loop(const struct store *st)
{
    return st && st->ops && st->ops->start;
}

void store_ignore_done(void *arg, enum store_rc rc)
{
    (void)arg;
    (void)rc;
}

void store_group_commit(struct store *st, bool on)
{
    if (st && st->ops->group_commit)
        st->ops->group_commit(st, on);
}

void store_turn_end(struct store *st)
{
    if (st && st->ops->turn_end)
        st->ops->turn_end(st);
}
