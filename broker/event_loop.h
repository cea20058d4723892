/* event_loop.h — which event loop lws runs on (--event-loop).
 *
 * poll is lws's own poll() loop: every wakeup hands the kernel every
 * descriptor, so its cost grows with the number of open sockets (with 10k
 * waiting PCs a login waited ~90 ms at p99, docs/benchmarks.md). libuv and
 * libev wait with epoll (cost grows with the sockets that are ready); lws
 * drives them through plugins it loads at run time (Debian packages
 * libwebsockets-evlib-uv / -evlib-ev). The default, auto, is libuv, or poll
 * with a warning on a machine without the plugin.
 *
 * With libuv or libev we create the loop and lws joins it ("foreign loop"):
 * with a loop of its own, lws_service() runs it until it is stopped, and the
 * functions that would hand us that loop to stop live inside the plugin, not
 * exported (docs/architecture.md, L3). Owning the loop lets us run one turn
 * at a time, as lws_service() does with poll(), so the rest of the broker does
 * not care which loop it is on.
 *
 * What lws 4.1.6's plugins get wrong (lib/event-libs/, lib/core-net/):
 *  - libev: a timer scheduled earlier than the one lws has armed fires only
 *    when that one does (ev_timer_set on an active watcher in the plugin's
 *    idle callback). The hub's housekeeping timer, re-armed every 20 ms
 *    (HUB_SLICES), bounds the delay to ~20 ms.
 *    This is why the default is libuv.
 *  - libuv: Debian builds lws with _DEBUG, and then lws_service_fd_tsi()
 *    closes a connection a second time ("uv repeat test") when a callback
 *    returns -1, before the close frame queued by lws_close_reason leaves.
 *    ws_conn.c therefore starts its closes from lws's timeout timer instead
 *    (close_now), which does not pass there.
 *  - both: no graceful TCP shutdown (lws waits for the peer's FIN only on
 *    poll()).
 *
 * Loop thread only, one context per process. */
#ifndef QRLOGIN_EVENT_LOOP_H
#define QRLOGIN_EVENT_LOOP_H

/* Values of config.event_loop. */
enum event_loop_kind {
    EVENT_LOOP_POLL = 0,
    EVENT_LOOP_LIBUV = 1,
    EVENT_LOOP_LIBEV = 2,
    EVENT_LOOP_AUTO = 3, /* libuv if its plugin loads, else poll */
};

struct lws_context;
struct lws_context_creation_info;

/* lws_create_context(info) on the loop of that kind: loads the plugin's
 * library, creates our loop and points info at it (options, foreign_loops,
 * pcontext). NULL if anything failed (what is missing is logged, package
 * names included); then nothing of the loop is left either. For
 * EVENT_LOOP_AUTO a missing plugin is a warning and the loop is poll. */
struct lws_context *event_loop_create_context(enum event_loop_kind kind,
                                              struct lws_context_creation_info *info);

/* One turn of the loop: waits for I/O or the next lws timer, then handles
 * what is ready, like lws_service(ctx, timeout_ms). Returns <0 if the loop
 * cannot go on. */
int event_loop_service(struct lws_context *ctx, int timeout_ms);

/* lws_context_destroy, completed: libuv closes lws's handles only as its
 * loop turns, so the loop runs until they are gone and lws is asked again to
 * free the context. Then our loop is freed. */
void event_loop_destroy(struct lws_context *ctx);

/* "poll", "libuv" or "libev", and the kernel mechanism under it when known
 * ("libev (epoll)"), for the start-up log line. */
const char *event_loop_describe(void);

#endif
