/* listen_share.c — see listen_share.h. */
#include "listen_share.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

/* Accepts per wakeup: enough to drain a burst, few enough that a flood of
 * connects cannot starve the sockets already open; poll() reports the rest
 * straight away (the listener is level-triggered). */
#define ACCEPT_BATCH 256
/* Out of descriptors (or kernel memory): leave the queue alone this long
 * instead of spinning on an accept that keeps failing. Connections wait in
 * the kernel's queue meanwhile. */
#define ACCEPT_PAUSE_MS 250
/* At most one "not accepting" warning in this long. */
#define ACCEPT_WARN_EVERY_MS 10000

static struct {
    struct lws_vhost *vh;
    struct lws *wsi;     /* the adopted listener; NULL when closed */
    int fd;
    bool paused;
    lws_sorted_usec_list_t resume_sul;
    int64_t warned_at;   /* monotonic ms of the last warning */
    unsigned suppressed; /* pauses since that warning */
} ls = {.fd = -1};

/* One socket for one getaddrinfo result. SO_REUSEPORT on every process's
 * socket is what lets them all bind the same port; SO_REUSEADDR lets a
 * restarted process bind while old connections sit in TIME_WAIT. "::" is
 * made dual-stack explicitly: the default depends on net.ipv6.bindv6only. */
static int listen_share__open_one(const struct addrinfo *ai, bool dual_stack)
{
    int one = 1, v6only = dual_stack ? 0 : 1;
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    ai->ai_protocol);
    if (fd < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) ||
        (ai->ai_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only)) ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, SOMAXCONN)) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* The first address host:port resolves to that we can listen on. */
static int listen_share__open(const char *host, int port)
{
    struct addrinfo hints, *res = NULL;
    char service[8];
    int fd = -1, rc, err = 0;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(service, sizeof service, "%d", port);
    rc = getaddrinfo(host, service, &hints, &res);
    if (rc) {
        log_error("could not listen on %s:%d: %s", host, port, gai_strerror(rc));
        return -1;
    }
    for (const struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = listen_share__open_one(ai, !strcmp(host, "::"));
        if (fd < 0)
            err = errno;
    }
    freeaddrinfo(res);
    if (fd < 0)
        log_error("could not listen on %s:%d: %s", host, port, strerror(err));
    return fd;
}

static void listen_share__resume(lws_sorted_usec_list_t *sul)
{
    (void)sul;
    ls.paused = false;
    if (ls.wsi)
        lws_rx_flow_control(ls.wsi, 1);
}

/* Takes POLLIN off the listener for a while: accept would fail again at
 * once, and a level-triggered listener would keep the loop spinning. */
static void listen_share__pause(int err)
{
    int64_t now = clock_mono_us() / 1000;

    if (!ls.wsi || ls.paused)
        return;
    if (!ls.warned_at || now - ls.warned_at >= ACCEPT_WARN_EVERY_MS) {
        log_warn("accept: %s; not accepting for %d ms (%u more pauses since the last warning)",
                 strerror(err), ACCEPT_PAUSE_MS, ls.suppressed);
        ls.warned_at = now;
        ls.suppressed = 0;
    } else {
        ls.suppressed++;
    }
    ls.paused = true;
    lws_rx_flow_control(ls.wsi, 0);
    lws_sul_schedule(lws_get_context(ls.wsi), 0, &ls.resume_sul, listen_share__resume,
                     (lws_usec_t)ACCEPT_PAUSE_MS * LWS_US_PER_MS);
}

/* Errors the peer caused on a connection still in the queue: Linux reports
 * them from accept(), and the right thing is to take the next one. */
static bool listen_share__peer_error(int err)
{
    switch (err) {
    case EINTR:
    case ECONNABORTED:
    case EPROTO:
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH:
    case EPERM: /* a firewall rule */
        return true;
    default:
        return false;
    }
}

static void listen_share__accept_batch(void)
{
    int one = 1;

    for (int i = 0; i < ACCEPT_BATCH && ls.fd >= 0; i++) {
        int cfd = accept4(ls.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (listen_share__peer_error(errno))
                continue;
            /* EMFILE, ENFILE, ENOBUFS, ENOMEM, or something unheard of:
             * all of them would fail again at once. */
            listen_share__pause(errno);
            return;
        }
        /* What lws's own listener sets on an accepted socket: small frames
         * (pushes, pongs) must not wait for Nagle. */
        (void)setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        /* On failure lws has already closed cfd (adopt.c): no close here. */
        if (!lws_adopt_socket_vhost(ls.vh, cfd))
            log_debug("accept: lws did not adopt a new connection");
    }
}

int listen_share_start(struct lws_vhost *vh, const char *host, int port)
{
    lws_sock_file_fd_type desc;
    int fd;

    if (!vh || ls.wsi)
        return -1;
    fd = listen_share__open(host, port);
    if (fd < 0)
        return -1;
    ls.vh = vh;
    ls.fd = fd;
    ls.paused = false;
    desc.filefd = fd;
    ls.wsi = lws_adopt_descriptor_vhost(vh, LWS_ADOPT_RAW_FILE_DESC, desc,
                                        LISTEN_SHARE_PROTOCOL, NULL);
    if (!ls.wsi) {
        log_error("could not listen on %s:%d: lws did not adopt the socket", host, port);
        close(fd);
        ls.fd = -1;
        return -1;
    }
    return 0;
}

void listen_share_stop(void)
{
    if (!ls.wsi)
        return;
    lws_sul_cancel(&ls.resume_sul);
    lws_rx_flow_control(ls.wsi, 0);
    /* Closing the wsi closes the socket (lws owns the fd now). */
    lws_set_timeout(ls.wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

int listen_share_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                          void *in, size_t len)
{
    switch (reason) {
    case LWS_CALLBACK_RAW_RX_FILE:
        if (wsi == ls.wsi)
            listen_share__accept_batch();
        return 0;
    case LWS_CALLBACK_RAW_CLOSE_FILE:
        if (wsi == ls.wsi) {
            lws_sul_cancel(&ls.resume_sul);
            ls.wsi = NULL;
            ls.fd = -1;
        }
        return 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}
