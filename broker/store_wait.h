/* store_wait.h — running a store call to completion outside the daemon (the
 * useradd command). A store that answers inside the event loop (Redis) gets a
 * small lws context of its own, with no listening socket, serviced until the
 * answer arrives; the embedded store answers inline and needs none. */
#ifndef QRLOGIN_STORE_WAIT_H
#define QRLOGIN_STORE_WAIT_H

#include <stdbool.h>

#include "store.h"

struct store_wait;

/* Starts st if it needs a loop and waits (at most timeout_ms) until it is
 * healthy. NULL if it did not come up (then say why from the store's log). */
struct store_wait *store_wait_open(struct store *st, int timeout_ms);
/* Services the loop until *done or timeout_ms pass; returns *done. */
bool store_wait_until(struct store_wait *w, const bool *done, int timeout_ms);
/* Closes the store (which must be closed before the loop it lives on) and the loop. */
void store_wait_close(struct store_wait *w);

#endif
