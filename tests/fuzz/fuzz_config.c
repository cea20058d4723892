/* fuzz_config.c — libFuzzer target for config_load: the input is split into
 * argv words on '\0' or '\n'. Whatever the words, config_load must return one
 * of its three codes without crashing, and on CONFIG_OK the result must hold
 * the invariants the rest of the broker relies on. Each word is also fed to
 * net_url_origin and config_is_trusted_proxy. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define MAX_WORDS 64

extern char **environ;

/* The environment is a second input; keep it out so runs are reproducible. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    for (;;) {
        char name[256] = "";
        for (char **e = environ; *e; e++)
            if (!strncmp(*e, "QRLOGIN_", 8)) {
                size_t n = strcspn(*e, "=");
                if (n < sizeof name) {
                    memcpy(name, *e, n);
                    name[n] = '\0';
                }
                break;
            }
        if (!name[0])
            return 0;
        unsetenv(name);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192)
        return 0;
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';

    char *words[MAX_WORDS];
    int n = 0;
    char *start = buf;
    for (size_t i = 0; i <= size && n < MAX_WORDS; i++) {
        if (i == size || buf[i] == '\0' || buf[i] == '\n') {
            buf[i] = '\0';
            words[n++] = start;
            start = buf + i + 1;
        }
    }

    static struct config c; /* ~20 KB: keep it off the stack */
    const char *pos[4];
    int npos = 0;
    char err[256];
    enum config_rc rc = config_load(&c, n, words, pos, &npos, err, sizeof err);
    if (rc != CONFIG_OK && rc != CONFIG_HELP && rc != CONFIG_BAD)
        abort();
    if (rc == CONFIG_BAD && (strlen(err) == 0 || strchr(err, '\n')))
        abort(); /* the caller prints exactly one line */
    if (rc == CONFIG_OK) {
        if (npos < 0 || npos > 4 || c.listen_port < 1 || c.listen_port > 65535 ||
            c.n_allowed_origins < 1 || c.n_allowed_origins > CONFIG_MAX_ORIGINS ||
            c.n_trusted_proxies < 0 || c.n_trusted_proxies > CONFIG_MAX_PROXIES ||
            c.threads < 1 || c.threads > 256 || !c.public_url[0] || !c.audience[0] ||
            !c.keys_dir[0] || !c.store_url[0] || !c.web_root[0])
            abort();
        if (!c.tls_cert[0] != !c.tls_key[0])
            abort();
        for (int i = 0; i < n; i++)
            (void)config_is_trusted_proxy(&c, words[i]);
    }
    char origin[256];
    for (int i = 0; i < n; i++)
        (void)net_url_origin(words[i], origin, sizeof origin);
    free(buf);
    return 0;
}
