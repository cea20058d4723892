/* config.h — every option of docs/protocol.md §8 (plus a few of our own), from one
 * table: name, env var (QRLOGIN_<NAME>, dashes as underscores), type, default,
 * bounds and help. The table drives parsing, validation, --help and the env
 * fallback (command line wins over environment, environment over default). */
#ifndef QRLOGIN_CONFIG_H
#define QRLOGIN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net_parse.h"
#include "trust_config.h"

#define CONFIG_MAX_ORIGINS 16
#define CONFIG_MAX_PROXIES 16
#define CONFIG_PATH_MAX 512
#define CONFIG_MAX_TRUST 8

struct config {
    char listen_host[256];        /* --listen HOST:PORT, default 0.0.0.0:8080 */
    int listen_port;
    char public_url[512];         /* no trailing slash */
    char data_dir[CONFIG_PATH_MAX];
    char keys_dir[CONFIG_PATH_MAX];
    char web_root[CONFIG_PATH_MAX];
    char store_url[CONFIG_PATH_MAX];
    char tls_cert[CONFIG_PATH_MAX];
    char tls_key[CONFIG_PATH_MAX];
    char allowed_origins[CONFIG_MAX_ORIGINS][256];
    int n_allowed_origins;
    struct cidr trusted_proxies[CONFIG_MAX_PROXIES];
    int n_trusted_proxies;
    int access_alg;               /* enum jwt_alg: JWT_ES256 (1) or JWT_HS256 (2) */
    char audience[512];           /* default: public_url */
    char client_id[128];          /* default: qrlogin-web */
    int64_t access_ttl;           /* seconds, default 900 */
    int64_t refresh_ttl;          /* 1209600 */
    int64_t session_max_age;      /* 2592000 */
    int64_t refresh_interval;     /* 5 */
    int64_t refresh_grace;        /* 10 */
    int64_t leeway;               /* 30 */
    int64_t ticket_ttl;           /* 60 */
    int max_rotations;            /* 4 */
    int64_t device_code_ttl;      /* 600: RFC 8628 device codes (docs/oidc.md) */
    int64_t device_interval;      /* 5: least seconds between two polls of one */
    bool number_match;
    int max_conns_per_ip;         /* 256 */
    int64_t idle_timeout;         /* 120 */
    int64_t heartbeat;            /* 30 */
    int max_message;              /* bytes, 4096 */
    int msg_rate;                 /* messages per second per socket, 20 */
    int msg_burst;                /* 40 */
    int threads;                  /* 0 = CPUs this process may use (per worker) */
    int workers;                  /* processes sharing the port, 1 (default) to 64 */
    /* Decided once, from --store: a shared (Redis) store makes this process
     * one node of a cluster. Everything that asks "are we a cluster?" reads
     * this. */
    bool cluster;
    int event_loop;               /* enum event_loop_kind: auto (default), poll, libuv, libev */
    int pbkdf2_iterations;        /* 600000 */
    bool demo;
    int log_level;                /* enum log_level */
    /* federation (docs/federation.md) */
    struct trust_issuer trust_issuers[CONFIG_MAX_TRUST]; /* --trust-issuer, repeatable */
    int n_trust_issuers;
    char trust_file[CONFIG_PATH_MAX]; /* more issuers, one spec per line */
    char trust_ca[CONFIG_PATH_MAX]; /* CA bundle for https JWKS; "" = the system's */
    int passwords;                /* 1 (on, default) or 0: auth.password and useradd off */
};

enum config_rc { CONFIG_OK = 0, CONFIG_HELP = 1, CONFIG_BAD = 2 };

/* Fills c from defaults, then the environment (getenv), then argv[0..argc)
 * (options only; the subcommand and positional NAME are handled by the caller,
 * which passes any positional words back through *positional / *n_positional
 * if non-NULL, max 4). Then derives what depends on other options:
 * keys_dir, store_url, public_url (first non-loopback IPv4 + port), audience,
 * allowed origin (public URL's origin), web_root (source tree's web/ or the
 * installed one), threads (sched_getaffinity and cgroup cpu.max, shared out
 * among workers). workers > 1 without a redis:// store is CONFIG_BAD.
 * On CONFIG_BAD, err holds one line naming the option and what it accepts.
 * On CONFIG_HELP, nothing was validated. */
enum config_rc config_load(struct config *c, int argc, char **argv, const char **positional,
                           int *n_positional, char *err, size_t errsz);

/* Writes --help text (every option, env var, default, bounds) to f. */
#include <stdio.h>
void config_print_help(FILE *f);

/* true if addr (text, IPv4 or IPv6) lies in one of c->trusted_proxies. */
bool config_is_trusted_proxy(const struct config *c, const char *addr);

/* CPUs this process may use: affinity mask, capped by cgroup v2 cpu.max. */
int config_cpus_available(void);

#endif
