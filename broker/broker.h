/* broker.h — the daemon's process-wide context: configuration, keys, the
 * store and the lws context. Set up once in server.c before the loop runs;
 * read-only afterwards except where a module owns a part. */
#ifndef QRLOGIN_BROKER_H
#define QRLOGIN_BROKER_H

#include "config.h"
#include "keys.h"
#include "store.h"
#include "tokens.h"

struct lws_context;

struct broker {
    struct config cfg;
    struct keyset keys;
    struct store *store;
    struct token_params tp;
    struct lws_context *ctx;
};

extern struct broker broker;

/* Fills broker.tp from broker.cfg. */
void broker_token_params_init(void);

#endif
