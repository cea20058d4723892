/* oidc_clients.h — registered OpenID Connect clients (docs/oidc.md): what a
 * client record holds, how it is kept in the store (an oauth_rec of kind
 * "client", its value JSON), and the checks every endpoint makes against it:
 * grant types, redirect URIs, client authentication. */
#ifndef QRLOGIN_OIDC_CLIENTS_H
#define QRLOGIN_OIDC_CLIENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "password.h"
#include "store.h"

#define OIDC_REDIRECTS_MAX 8
#define OIDC_REDIRECT_URI_MAX 400

/* The grant types of docs/protocol.md §9, as bits. */
enum oidc_grant {
    OIDC_GRANT_CODE = 1,
    OIDC_GRANT_REFRESH = 2,
    OIDC_GRANT_DEVICE = 4,
};
#define OIDC_GRANT_DEVICE_NAME "urn:ietf:params:oauth:grant-type:device_code"

struct oidc_client {
    char id[CLIENT_ID_MAX + 1];
    char secret_hash[PASSWORD_HASH_MAX]; /* "" for a public client */
    int n_redirects;
    char redirects[OIDC_REDIRECTS_MAX][OIDC_REDIRECT_URI_MAX];
    unsigned grants;                     /* enum oidc_grant bits */
    int64_t created_at;                  /* ms */
};

/* 1-64 characters of [A-Za-z0-9._-] (docs/protocol.md §9). */
bool oidc_client_id_ok(const char *id);

/* "authorization_code,refresh_token,…" into bits; -1 names an unknown grant. */
int oidc_grants_parse(const char *csv, unsigned *out);
/* The bits as the grant type names, comma-separated. */
void oidc_grants_format(unsigned grants, char *out, size_t outsz);

/* A redirect URI a client may register: absolute http(s), no fragment;
 * plain http only for a loopback address (RFC 8252 §7.3, §8.3). */
bool oidc_redirect_uri_ok(const char *uri);

/* Exact match against a registered URI, except that a registered loopback
 * URI (http://127.0.0.1:PORT/… or http://[::1]:PORT/…) matches any port
 * (RFC 8252 §7.3). */
bool oidc_client_redirect_ok(const struct oidc_client *c, const char *uri);

/* The store's value for the client, and back. 0 or -1. */
int oidc_client_encode(const struct oidc_client *c, char *out, size_t outsz);
int oidc_client_decode(const char *id, const char *json, size_t len, struct oidc_client *c);

/* Reads a client by id; NOT_FOUND for an id that cannot exist. c is valid
 * during the callback only. */
typedef void (*oidc_client_cb)(void *arg, enum store_rc rc, const struct oidc_client *c);
void oidc_client_get(const char *id, oidc_client_cb cb, void *arg);

#endif
