/* event_loop.c — see event_loop.h.
 *
 * The libuv and libev functions we call (create, run one turn, free) are
 * looked up in the library the lws plugin itself links, through our own
 * handle on the plugin: a broker on poll() needs neither library, a missing
 * plugin is reported by package name before lws tries, and our handle keeps
 * plugin and library mapped until our loop is gone (lws unloads its handle
 * while freeing the context). The headers only give types and constants; a
 * build without one leaves that backend out. */
#include "event_loop.h"

#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>

#include <libwebsockets.h>

#if __has_include(<uv.h>)
#include <uv.h>
#define HAVE_UV 1
#else
#define HAVE_UV 0
#endif
#if __has_include(<ev.h>)
#include <ev.h>
#define HAVE_EV 1
#else
#define HAVE_EV 0
#endif

#include "log.h"

/* Turns of the loop allowed for lws's last libuv close callbacks at
 * shutdown; they need one or two. */
#define UV_CLOSE_TURNS 1000

struct backend {
    const char *name;    /* the --event-loop word */
    const char *plugin;  /* lws's plugin, in LWS_INSTALL_LIBDIR */
    const char *package; /* the Debian package that has it */
    uint64_t option;     /* LWS_SERVER_OPTION_* that selects it */
};

static const struct backend backends[] = {
    [EVENT_LOOP_POLL] = {"poll", NULL, NULL, 0},
    [EVENT_LOOP_LIBUV] = {"libuv", "libwebsockets-evlib_uv.so", "libwebsockets-evlib-uv",
                          LWS_SERVER_OPTION_LIBUV},
    [EVENT_LOOP_LIBEV] = {"libev", "libwebsockets-evlib_ev.so", "libwebsockets-evlib-ev",
                          LWS_SERVER_OPTION_LIBEV},
};

static struct {
    enum event_loop_kind kind;
    void *plugin;             /* our dlopen handle on lws's plugin */
    void *foreign[1];         /* info.foreign_loops */
    struct lws_context *ctx;  /* info.pcontext: lws NULLs it when the context is freed */
    bool kicked;
    char desc[32];
#if HAVE_UV
    uv_loop_t uv;
    int (*uv_loop_init)(uv_loop_t *);
    int (*uv_run)(uv_loop_t *, uv_run_mode);
    int (*uv_loop_close)(uv_loop_t *);
#endif
#if HAVE_EV
    struct ev_loop *ev;
    struct ev_loop *(*ev_loop_new)(unsigned int);
    int (*ev_run)(struct ev_loop *, int);
    void (*ev_loop_destroy)(struct ev_loop *);
    unsigned int (*ev_backend)(struct ev_loop *);
#endif
} el;

/* el.f = the function f of the plugin's libuv/libev; false if it has none.
 * (Stored through void ** as POSIX's dlsym page does: ISO C has no cast from
 * an object pointer to a function pointer.) */
#define LOAD(f) load_fn((void **)&el.f, #f)

static bool load_fn(void **slot, const char *name)
{
    *slot = dlsym(el.plugin, name);
    return *slot != NULL;
}

/* With --event-loop auto a backend that cannot be had is a warning (poll()
 * takes over); asked for by name, it is an error and the broker stops. */
static bool falling_back;

static int missing(const struct backend *b, const char *what)
{
    if (falling_back)
        log_warn("event loop %s: %s; using poll(), whose cost grows with every open socket",
                 b->name, what);
    else
        log_error("--event-loop %s: %s", b->name, what);
    return -1;
}

static int load_plugin(const struct backend *b)
{
    char path[512], why[768];
    snprintf(path, sizeof path, "%s/%s", LWS_INSTALL_LIBDIR, b->plugin);
    el.plugin = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!el.plugin) {
        snprintf(why, sizeof why, "cannot load lws's plugin (%s): apt-get install -y %s",
                 dlerror(), b->package);
        return missing(b, why);
    }
    return 0;
}

static int prepare_uv(const struct backend *b)
{
#if HAVE_UV
    if (!LOAD(uv_loop_init) || !LOAD(uv_run) || !LOAD(uv_loop_close))
        return missing(b, "the plugin's libuv lacks uv_loop_init/uv_run/uv_loop_close");
    if (el.uv_loop_init(&el.uv))
        return missing(b, "uv_loop_init failed");
    el.foreign[0] = &el.uv;
    snprintf(el.desc, sizeof el.desc, "libuv (epoll)");
    return 0;
#else
    return missing(b, "this build has no uv.h: apt-get install -y libuv1-dev, then rebuild");
#endif
}

#if HAVE_EV
static const char *ev_backend_name(unsigned int be)
{
    return be == EVBACKEND_EPOLL ? "epoll" : be == EVBACKEND_POLL ? "poll" :
           be == EVBACKEND_SELECT ? "select" : "other";
}
#endif

static int prepare_ev(const struct backend *b)
{
#if HAVE_EV
    if (!LOAD(ev_loop_new) || !LOAD(ev_run) || !LOAD(ev_loop_destroy) || !LOAD(ev_backend))
        return missing(b, "the plugin's libev lacks ev_loop_new/ev_run/ev_loop_destroy");
    el.ev = el.ev_loop_new(EVFLAG_AUTO); /* epoll on Linux */
    if (!el.ev)
        return missing(b, "ev_loop_new failed");
    el.foreign[0] = el.ev;
    snprintf(el.desc, sizeof el.desc, "libev (%s)", ev_backend_name(el.ev_backend(el.ev)));
    return 0;
#else
    return missing(b, "this build has no ev.h: apt-get install -y libev-dev, then rebuild");
#endif
}

static int prepare(enum event_loop_kind kind, struct lws_context_creation_info *info)
{
    falling_back = kind == EVENT_LOOP_AUTO;
    if (falling_back)
        kind = EVENT_LOOP_LIBUV;
    const struct backend *b = &backends[kind];

    el.kind = kind;
    snprintf(el.desc, sizeof el.desc, "%s", b->name);
    if (kind == EVENT_LOOP_POLL)
        return 0;
    bool ready = load_plugin(b) == 0;
    if (ready && (kind == EVENT_LOOP_LIBUV ? prepare_uv : prepare_ev)(b)) {
        dlclose(el.plugin);
        el.plugin = NULL;
        ready = false;
    }
    if (!ready && falling_back)
        return prepare(EVENT_LOOP_POLL, info);
    if (!ready)
        return -1;
    info->options |= b->option;
    info->foreign_loops = el.foreign;
    info->pcontext = &el.ctx;
    return 0;
}

/* Frees our loop and lets go of the plugin, once lws is done with both. If
 * lws still holds the context (or handles on the loop), both stay: freeing
 * them would leave lws pointing at freed memory at exit. */
static void release(void)
{
    if (!el.plugin)
        return;
    bool busy = el.ctx != NULL;
#if HAVE_UV
    if (!busy && el.kind == EVENT_LOOP_LIBUV)
        busy = el.uv_loop_close(&el.uv) != 0;
#endif
#if HAVE_EV
    if (!busy && el.kind == EVENT_LOOP_LIBEV)
        el.ev_loop_destroy(el.ev);
#endif
    if (busy)
        log_warn("event loop %s: lws left its context or handles behind at shutdown", el.desc);
    else
        dlclose(el.plugin);
    el.plugin = NULL;
}

/* After lws_context_destroy on a foreign libuv loop: lws has asked libuv to
 * close its handles, and the close callbacks (which free the connections)
 * run as the loop turns; lws frees the context only when asked again after
 * that. Turns that do not wait: nothing of ours is on the loop, and the
 * bound keeps a handle lws forgot from hanging the shutdown. */
static void finish_uv_destroy(void)
{
#if HAVE_UV
    for (int i = 0; i < UV_CLOSE_TURNS && el.uv_run(&el.uv, UV_RUN_NOWAIT); i++)
        ;
    if (el.ctx)
        lws_context_destroy(el.ctx);
#endif
}

struct lws_context *event_loop_create_context(enum event_loop_kind kind,
                                              struct lws_context_creation_info *info)
{
    if (prepare(kind, info))
        return NULL;
    struct lws_context *ctx = lws_create_context(info);
    /* On a foreign libuv loop a failed creation (the port taken, ...) does
     * not return NULL: lws returns the context it has begun to destroy
     * ("fatal_exit_defer" in lws_create_context), without its vhost. */
    const char *vh = info->vhost_name ? info->vhost_name : "default";
    if (ctx && kind == EVENT_LOOP_LIBUV &&
        !(info->options & LWS_SERVER_OPTION_EXPLICIT_VHOSTS) && !lws_get_vhost_by_name(ctx, vh)) {
        el.ctx = ctx;
        finish_uv_destroy();
        ctx = NULL;
    }
    if (!ctx)
        release();
    return ctx;
}

int event_loop_service(struct lws_context *ctx, int timeout_ms)
{
    if (el.kind == EVENT_LOOP_POLL)
        return lws_service(ctx, timeout_ms);
    /* Both plugins arm lws's timer from their I/O and timer callbacks only
     * (libev's has not even started its idle watcher yet): one wakeup makes
     * them see the timers scheduled before the loop first turned. */
    if (!el.kicked) {
        el.kicked = true;
        lws_cancel_service(ctx);
    }
    /* One turn, like lws_service() with poll(): it waits for I/O or lws's
     * next timer, whatever timeout_ms says (lws 4.1.6 ignores it too), and a
     * signal wakes it through lws_cancel_service. */
#if HAVE_UV
    if (el.kind == EVENT_LOOP_LIBUV)
        el.uv_run(&el.uv, UV_RUN_ONCE);
#endif
#if HAVE_EV
    if (el.kind == EVENT_LOOP_LIBEV)
        el.ev_run(el.ev, EVRUN_ONCE);
#endif
    return 0;
}

void event_loop_destroy(struct lws_context *ctx)
{
    el.ctx = ctx;
    lws_context_destroy(ctx);
    if (el.kind == EVENT_LOOP_LIBUV)
        finish_uv_destroy();
    /* poll and libev have freed the context by now (for libev, lws has
     * NULLed el.ctx). */
    release();
    el.kicked = false;
}

const char *event_loop_describe(void) { return el.desc; }
