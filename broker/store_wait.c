/* store_wait.c — see store_wait.h. */
#include "store_wait.h"

#include <stdlib.h>

#include <libwebsockets.h>

#include "clock.h"
#include "redis_link.h"

struct store_wait {
    struct store *st;
    struct lws_context *ctx;
    lws_sorted_usec_list_t tick;
};

static const struct lws_protocols protocols[] = {
    {.name = REDIS_LINK_PROTOCOL, .callback = redis_link_lws_callback},
    {0},
};

/* lws sleeps in poll() until its next timer: a 10 ms tick of our own wakes it
 * to look at the flag and the deadline. */
static void on_tick(lws_sorted_usec_list_t *sul)
{
    struct store_wait *w = lws_container_of(sul, struct store_wait, tick);
    lws_sul_schedule(w->ctx, 0, sul, on_tick, 10 * LWS_US_PER_MS);
}

struct store_wait *store_wait_open(struct store *st, int timeout_ms)
{
    struct store_wait *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->st = st;
    if (!store_needs_loop(st))
        return w;
    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info ci = {0};
    ci.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    ci.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    w->ctx = lws_create_context(&ci);
    struct lws_context_creation_info vi = {0};
    vi.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    vi.protocols = protocols;
    vi.vhost_name = "qrlogin-cli";
    struct lws_vhost *vh = w->ctx ? lws_create_vhost(w->ctx, &vi) : NULL;
    if (!vh) {
        store_wait_close(w);
        return NULL;
    }
    /* lws initialises the vhost's protocols on the loop's first turn. */
    on_tick(&w->tick);
    lws_service(w->ctx, 0);
    st->ops->start(st, vh);
    int64_t deadline = clock_now_ms() + timeout_ms;
    while (!st->ops->healthy(st) && clock_now_ms() < deadline)
        lws_service(w->ctx, 0);
    if (!st->ops->healthy(st)) {
        store_wait_close(w);
        return NULL;
    }
    return w;
}

bool store_wait_until(struct store_wait *w, const bool *done, int timeout_ms)
{
    int64_t deadline = clock_now_ms() + timeout_ms;
    while (w->ctx && !*done && clock_now_ms() < deadline)
        lws_service(w->ctx, 0);
    return *done;
}

void store_wait_close(struct store_wait *w)
{
    if (!w)
        return;
    w->st->ops->close(w->st);
    if (w->ctx) {
        lws_sul_cancel(&w->tick);
        lws_context_destroy(w->ctx);
    }
    free(w);
}
