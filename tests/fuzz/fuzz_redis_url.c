/* fuzz_redis_url.c — libFuzzer target for redis_url_parse (broker/redis_link.c), the parser
 * of --store redis://[[user]:password@]host[:port][/db].
 *
 * 1. Any input: accepted or refused, never a crash or an overrun; an error message is
 *    terminated and never holds the password part of the URL.
 * 2. Accepted: port in 1..65535, db >= 0, a non-empty terminated host, and the description
 *    (what logs show) is exactly host:port/db — no room for a password.
 * 3. The password found in a URL built from the fuzzed password (percent-encoded) is exactly
 *    that password: decoding gives back what encoding put in. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "redis_link.h"

static void any_input(const uint8_t *data, size_t size)
{
    char *url = malloc(size + 1);
    CHECK(url);
    memcpy(url, data, size);
    url[size] = '\0';
    struct redis_target t;
    char err[256];
    memset(err, 'x', sizeof err);
    if (redis_url_parse(url, &t, err, sizeof err) == 0) {
        CHECK(t.port >= 1 && t.port <= 65535);
        CHECK(t.db >= 0);
        CHECK(t.host[0] && memchr(t.host, '\0', sizeof t.host));
        CHECK(memchr(t.password, '\0', sizeof t.password));
        /* the description is host, port and db, nothing else */
        char desc[512], plain[512], bracketed[512];
        redis_target_describe(&t, desc, sizeof desc);
        CHECK(memchr(desc, '\0', sizeof desc));
        snprintf(plain, sizeof plain, "%s:%d/%d", t.host, t.port, t.db);
        snprintf(bracketed, sizeof bracketed, "[%s]:%d/%d", t.host, t.port, t.db);
        CHECK(!strcmp(desc, plain) || !strcmp(desc, bracketed));
    } else {
        CHECK(memchr(err, '\0', sizeof err));
    }
    free(url);
}

static void round_trip(const uint8_t *data, size_t size)
{
    if (size == 0 || size > 200)
        return;
    char url[1024];
    size_t n = (size_t)snprintf(url, sizeof url, "redis://:");
    for (size_t i = 0; i < size; i++)
        n += (size_t)snprintf(url + n, sizeof url - n, "%%%02X", data[i]);
    snprintf(url + n, sizeof url - n, "@127.0.0.1:6379/2");
    struct redis_target t;
    char err[256];
    int rc = redis_url_parse(url, &t, err, sizeof err);
    if (memchr(data, 0, size)) {
        CHECK(rc != 0); /* a NUL cannot travel in a C string */
        return;
    }
    CHECK(rc == 0);
    CHECK(strlen(t.password) == size && memcmp(t.password, data, size) == 0);
    CHECK(t.port == 6379 && t.db == 2 && !strcmp(t.host, "127.0.0.1"));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    any_input(data, size);
    round_trip(data, size);
    return 0;
}
