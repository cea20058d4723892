/* main.c — the qrlogin-broker command: serve (the daemon; also what a bare
 * `qrlogin-broker` does), useradd NAME (password from stdin or a prompt),
 * keygen (a new ES256 signing key becomes current). docs/protocol.md §8. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <mbedtls/platform_util.h>

#include "broker.h"
#include "client_cli.h"
#include "log.h"
#include "password.h"
#include "rng.h"
#include "server.h"
#include "supervisor.h"
#include "store_wait.h"

static void usage(FILE *f) { config_print_help(f); }

/* Loads options for a subcommand; exits 2 on a bad value (one line naming
 * the option), 0 after --help. */
static void load_config(int argc, char **argv, const char **pos, int *npos)
{
    char err[512];
    enum config_rc rc = config_load(&broker.cfg, argc, argv, pos, npos, err, sizeof err);
    if (rc == CONFIG_HELP) {
        usage(stdout);
        exit(0);
    }
    if (rc != CONFIG_OK) {
        fprintf(stderr, "qrlogin-broker: %s\n", err);
        exit(2);
    }
    log_set_level((enum log_level)broker.cfg.log_level);
}

static struct store *open_store(void)
{
    char err[512];
    struct store *st = store_open(broker.cfg.store_url, err, sizeof err);
    if (!st)
        log_error("store: %s", err);
    return st;
}

/* ---- useradd ---- */

struct create_result {
    enum store_rc rc;
    int64_t id;
    bool done;
};

static void on_user_created(void *arg, enum store_rc rc, const struct user_rec *u)
{
    struct create_result *r = arg;
    r->rc = rc;
    r->id = rc ? 0 : u->id;
    r->done = true;
}

/* One line from stdin; with a terminal, prompt twice without echo. */
static int read_password(char *out, size_t outsz)
{
    bool tty = isatty(STDIN_FILENO);
    struct termios old, quiet;
    if (tty) {
        fprintf(stderr, "Password: ");
        tcgetattr(STDIN_FILENO, &old);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    }
    char *line = fgets(out, (int)outsz, stdin);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSANOW, &old);
        fprintf(stderr, "\n");
    }
    if (!line)
        return -1;
    size_t n = strcspn(out, "\r\n");
    if (out[n] == '\0' && n == outsz - 1)
        return -1; /* longer than we accept */
    out[n] = '\0';
    return n ? 0 : -1;
}

/* w: the loop a networked store answers on (NULL when it answers inline). */
static int create_user(struct store *st, struct store_wait *w, const char *name,
                       const char *password)
{
    char hash[PASSWORD_HASH_MAX];
    if (password_hash(password, strlen(password), broker.cfg.pbkdf2_iterations, hash,
                      sizeof hash)) {
        log_error("could not hash the password");
        return -1;
    }
    struct create_result r = {STORE_ERROR, 0, false};
    st->ops->user_create(st, name, hash, on_user_created, &r);
    mbedtls_platform_zeroize(hash, sizeof hash);
    if (w)
        store_wait_until(w, &r.done, 10000);
    if (r.rc == STORE_CONFLICT)
        fprintf(stderr, "qrlogin-broker: user '%s' already exists\n", name);
    else if (r.rc)
        fprintf(stderr, "qrlogin-broker: could not create user '%s'\n", name);
    return r.rc ? -1 : 0;
}

static int cmd_useradd(int argc, char **argv)
{
    const char *pos[4];
    int npos = 0;
    load_config(argc, argv, pos, &npos);
    if (!broker.cfg.passwords) {
        fprintf(stderr, "qrlogin-broker useradd: password sign-in is off (--passwords off); "
                        "users come from --trust-issuer\n");
        return 2;
    }
    if (npos != 1 || !*pos[0] || strlen(pos[0]) > USER_NAME_MAX) {
        fprintf(stderr, "qrlogin-broker useradd: expected one user NAME of 1-%d bytes\n",
                USER_NAME_MAX);
        return 2;
    }
    char password[PASSWORD_MAX_LEN + 2];
    if (read_password(password, sizeof password)) {
        fprintf(stderr, "qrlogin-broker useradd: expected a password of 1-%d bytes on stdin\n",
                PASSWORD_MAX_LEN);
        return 2;
    }
    struct store *st = rng_init() ? NULL : open_store();
    struct store_wait *w = st ? store_wait_open(st, 10000) : NULL;
    if (st && !w)
        fprintf(stderr, "qrlogin-broker useradd: the store did not answer within 10 s\n");
    int rc = w ? create_user(st, w, pos[0], password) : -1;
    mbedtls_platform_zeroize(password, sizeof password);
    store_wait_close(w); /* closes st */
    rng_free();
    if (!rc)
        printf("user '%s' created\n", pos[0]);
    return rc ? 1 : 0;
}

/* ---- keygen ---- */

static int cmd_keygen(int argc, char **argv)
{
    load_config(argc, argv, NULL, NULL);
    char kid[JWT_KID_MAX], err[512];
    if (rng_init()) {
        fprintf(stderr, "qrlogin-broker: no entropy source\n");
        return 1;
    }
    int rc = keys_generate_es256(broker.cfg.keys_dir, kid, sizeof kid, err, sizeof err);
    rng_free();
    if (rc) {
        fprintf(stderr, "qrlogin-broker keygen: %s\n", err);
        return 1;
    }
    printf("new ES256 signing key %s in %s (running brokers sharing the directory make it "
           "current within seconds, or at once on SIGHUP; older keys stay published)\n",
           kid, broker.cfg.keys_dir);
    return 0;
}

/* ---- serve ---- */

static void on_demo_lookup(void *arg, enum store_rc rc, const struct user_rec *u)
{
    (void)u;
    *(enum store_rc *)arg = rc;
}

/* --demo: user demo / password demo, created once. Runs before the loop, so
 * hashing here blocks nothing. */
static int ensure_demo_user(void)
{
    enum store_rc rc = STORE_ERROR;
    broker.store->ops->user_by_name(broker.store, "demo", on_demo_lookup, &rc);
    if (rc == STORE_OK)
        return 0;
    if (rc != STORE_NOT_FOUND)
        return -1;
    if (create_user(broker.store, NULL, "demo", "demo"))
        return -1;
    log_info("--demo: created user 'demo' with password 'demo'");
    return 0;
}

/* One broker process: the whole daemon with --workers 1, or one worker of
 * --workers N (after fork, so its DRBG, keys, store and lws context are its
 * own). */
static int serve_process(void)
{
    char err[512];
    int status = 1;
    if (rng_init()) {
        log_error("no entropy source");
        return 1;
    }
    if (keys_load(broker.cfg.keys_dir, (enum jwt_alg)broker.cfg.access_alg, &broker.keys, err,
                  sizeof err)) {
        log_error("keys: %s", err);
        goto out_rng;
    }
    broker.store = open_store();
    if (!broker.store)
        goto out_keys;
    /* A Redis store answers only inside the loop: demo_user.c does it there. */
    if (broker.cfg.demo && !broker.cfg.cluster && ensure_demo_user())
        goto out_store;
    status = server_run();
out_store:
    if (broker.store) /* server_run closes a networked store itself */
        broker.store->ops->close(broker.store);
out_keys:
    keys_free(&broker.keys);
out_rng:
    rng_free();
    return status;
}

static int serve_worker(int index, void *arg)
{
    (void)index;
    (void)arg;
    return serve_process();
}

/* --workers N: the parent only makes sure the key files exist before the
 * children start (N processes loading an empty directory at once would each
 * mint a first key and their own HS256 secrets), then supervises. It keeps
 * no keys and no DRBG: each child loads and seeds its own. */
static int serve_workers(void)
{
    struct keyset ks;
    char err[512];

    if (rng_init()) {
        log_error("no entropy source");
        return 1;
    }
    int rc = keys_load(broker.cfg.keys_dir, (enum jwt_alg)broker.cfg.access_alg, &ks, err,
                       sizeof err);
    keys_free(&ks);
    rng_free();
    if (rc) {
        log_error("keys: %s", err);
        return 1;
    }
    return supervisor_run(broker.cfg.workers, serve_worker, NULL);
}

static int cmd_serve(int argc, char **argv)
{
    load_config(argc, argv, NULL, NULL);
    return broker.cfg.workers > 1 ? serve_workers() : serve_process();
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 && argv[1][0] != '-' ? argv[1] : "serve";
    int skip = argc > 1 && argv[1][0] != '-' ? 2 : 1;
    int sub_argc = argc - skip;
    char **sub_argv = argv + skip;

    if (!strcmp(cmd, "serve"))
        return cmd_serve(sub_argc, sub_argv);
    if (!strcmp(cmd, "useradd"))
        return cmd_useradd(sub_argc, sub_argv);
    if (!strcmp(cmd, "keygen"))
        return cmd_keygen(sub_argc, sub_argv);
    if (!strcmp(cmd, "clientadd") || !strcmp(cmd, "clientdel") || !strcmp(cmd, "clientlist"))
        return client_cli_main(cmd, sub_argc, sub_argv);
    fprintf(stderr, "qrlogin-broker: unknown command '%s' (serve, useradd, keygen, clientadd, "
                    "clientdel, clientlist; --help)\n",
            cmd);
    return 2;
}
