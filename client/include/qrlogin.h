/* qrlogin.h — libqrlogin, the native client of a qrlogin broker.
 *
 * One `qrl_client` is one WebSocket to one broker (ws:// or wss://). It
 * reconnects by itself with backoff, keeps the clock offset the broker
 * announces in `hello`, tells the application every push through one event
 * callback, and keeps one token pair fresh: `qrl_access_token()` returns a
 * valid access token and refreshes it first when it is close to expiry, with
 * at most one refresh in flight however many threads ask (docs/client.md).
 *
 * Two ways to run it, chosen per client in `qrl_config.external_loop`:
 *   0  the client owns a service thread (the default); every blocking call is
 *      made from any other thread.
 *   1  the caller runs the client by calling `qrl_client_service()` in its own
 *      loop; requests are then made with the asynchronous `qrl_request()` (or
 *      the blocking calls from a second thread while the loop runs).
 *
 * Threads: the library has no global state; several clients may live in one
 * process. Event and reply callbacks run on the service thread (the client's
 * own thread, or the thread inside `qrl_client_service()`); a callback may
 * call the asynchronous functions and the accessors, and must not call a
 * blocking function (those return QRL_ERR_WOULD_BLOCK there). Each function
 * states what it allows.
 *
 * Secrets: tokens and passwords are never logged by the library. */
#ifndef QRLOGIN_CLIENT_H
#define QRLOGIN_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library is built with hidden visibility; what is declared here is its
 * whole exported interface. */
#if defined(QRL_BUILDING) && defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

#define QRL_TOKEN_MAX 2048 /* room for one token and its NUL */
#define QRL_ID_MAX 128     /* room for a ticket, session or user id */
#define QRL_NAME_MAX 256   /* room for a user name */

/* Results. Negative is failure; QRL_ERR_SERVER means the broker answered an
 * `error` frame whose code is in qrl_error.code. */
enum qrl_status {
    QRL_OK = 0,
    QRL_ERR_SERVER = -1,       /* the broker refused: qrl_error.code says why */
    QRL_ERR_DISCONNECTED = -2, /* the connection dropped before the answer */
    QRL_ERR_TIMEOUT = -3,      /* no answer within the time allowed */
    QRL_ERR_NO_TOKENS = -4,    /* not signed in (no token pair, or it died) */
    QRL_ERR_INVALID = -5,      /* a bad argument */
    QRL_ERR_NOMEM = -6,
    QRL_ERR_CLOSED = -7,       /* the client is being freed */
    QRL_ERR_WOULD_BLOCK = -8,  /* a blocking call on the service thread */
    QRL_ERR_CONNECT = -9,      /* could not connect (refused, TLS, handshake) */
    QRL_ERR_PROTOCOL = -10,    /* the broker's answer did not make sense */
};

/* Where a failure is described. Every function taking one fills it on
 * failure (it may be NULL). `code` is the broker's error code for
 * QRL_ERR_SERVER, else a short word; `message` is for people. */
struct qrl_error {
    int status;
    char code[32];
    char message[200];
    int retry_after; /* seconds, with code "rate_limited"; else 0 */
};

/* Text of a qrl_status ("server error", "timed out", …). Thread-safe. */
const char *qrl_status_str(int status);

/* ---- events ---- */

enum qrl_event_type {
    QRL_EV_CONNECTED = 1,   /* `hello` received; clock offset known */
    QRL_EV_DISCONNECTED,    /* the socket dropped; a reconnect is scheduled */
    QRL_EV_CONNECT_FAILED,  /* one connection attempt failed (message says why) */
    QRL_EV_TICKET,          /* a ticket to show (`rotated` set when it replaced one) */
    QRL_EV_SCANNED,         /* a phone scanned it: user_id, user_name */
    QRL_EV_DENIED,          /* the phone denied it (or picked a wrong code) */
    QRL_EV_EXPIRED,         /* it expired for good; call qrl_ticket_new() for another */
    QRL_EV_CANCELLED,       /* (phone side) the ticket being looked at was cancelled */
    QRL_EV_LOGIN,           /* signed in: the pair is stored in the client */
    QRL_EV_TOKENS,          /* the stored pair changed (login, auth, refresh): persist it */
    QRL_EV_SESSION_REVOKED, /* a session this socket is attached to ended (reason) */
    QRL_EV_SIGNED_OUT,      /* the stored pair is dead (refresh refused, revoked); reason */
};

/* What an event carries. Pointers are valid only during the callback; fields
 * that do not apply are NULL or 0. `json` is the whole frame (NULL for events
 * that are not frames). Tokens are not in here: read them with
 * qrl_get_tokens(), so that logging an event never logs a secret. */
struct qrl_event {
    enum qrl_event_type type;
    const char *ticket;     /* TICKET SCANNED DENIED EXPIRED CANCELLED LOGIN */
    const char *url;        /* TICKET: what the QR encodes */
    const char *code;       /* TICKET with number matching: the two digits to show */
    int rotated;            /* TICKET: replaced an expired one */
    int64_t expires_in;     /* TICKET LOGIN TOKENS: seconds */
    const char *user_id;    /* SCANNED LOGIN */
    const char *user_name;  /* SCANNED LOGIN */
    const char *session_id; /* LOGIN TOKENS SESSION_REVOKED */
    const char *reason;     /* SESSION_REVOKED SIGNED_OUT; CONNECT_FAILED DISCONNECTED: why */
    const char *json;
    size_t json_len;
};

typedef void (*qrl_event_cb)(const struct qrl_event *ev, void *user);

/* ---- the client ---- */

struct qrl_config {
    /* ws://host:port/ws or wss://…; an http(s)://host:port base URL is turned
     * into its /ws endpoint. Required. */
    const char *url;
    /* PEM file of the CA(s) to trust for wss://; NULL: the system's. The
     * certificate and its host name are always verified. */
    const char *ca_file;
    /* Shown to the phone that scans (`client.name`) and as User-Agent. */
    const char *client_name;
    const char *user_agent;
    qrl_event_cb on_event; /* may be NULL */
    void *user;
    int external_loop;     /* 1: the caller runs qrl_client_service() */
    int auto_refresh;      /* 1: refresh on the service thread at 80 % of the access life */
    int timeout_ms;        /* blocking calls give up after this; 0: 30000 */
    int reconnect_max_ms;  /* the backoff's ceiling; 0: 10000 */
};

typedef struct qrl_client qrl_client;

/* Makes a client and starts connecting (in own-thread mode at once; in
 * external mode on the first qrl_client_service()). NULL on failure, with err
 * filled. Any thread. */
qrl_client *qrl_client_new(const struct qrl_config *cfg, struct qrl_error *err);

/* Closes the socket, joins the service thread, answers every request still
 * queued with QRL_ERR_CLOSED (their callbacks run on this thread), wipes the
 * tokens and frees everything. Not from a callback; no other call on c may
 * run during it (finish the threads that use c first) or follow it. */
void qrl_client_free(qrl_client *c);

/* External-loop mode: runs the client's socket and timers until at least one
 * thing happened or timeout_ms passed (0: do not wait). Returns 0, or -1 when
 * c runs its own thread. Only one thread may service a client. */
int qrl_client_service(qrl_client *c, int timeout_ms);

/* Blocks until the socket is open and `hello` arrived (QRL_OK), or a
 * connection attempt made after this call failed (QRL_ERR_CONNECT, err says
 * why), or the timeout. Any thread but the service thread. */
int qrl_client_wait_connected(qrl_client *c, int timeout_ms, struct qrl_error *err);

/* 1 while connected (hello received). Any thread. */
int qrl_client_connected(qrl_client *c);

/* server_time − local time, in ms, from the latest `hello` (0 before one).
 * Any thread. */
int64_t qrl_client_clock_offset_ms(qrl_client *c);

/* ---- requests ---- */

/* An answer to a request. `type` is the reply's type ("ok", "ticket.info", …)
 * and json the whole frame, or both NULL when status is not QRL_OK. */
struct qrl_reply {
    int status;
    const struct qrl_error *error; /* set when status != QRL_OK */
    const char *type;
    const char *json;
    size_t json_len;
};
typedef void (*qrl_reply_cb)(const struct qrl_reply *r, void *user);

/* Sends one request, asynchronously. `body` is a JSON object with a "type"
 * and without "id" (the client adds one); it is queued while disconnected and
 * sent after the next `hello`. cb (may be NULL) runs once: on the service
 * thread with the answer, or with QRL_ERR_DISCONNECTED if the socket dropped
 * after sending; or with QRL_ERR_CLOSED on the thread in qrl_client_free().
 * Returns QRL_OK or QRL_ERR_INVALID / QRL_ERR_NOMEM / QRL_ERR_CLOSED (then cb
 * never runs). Any thread, callbacks included. */
int qrl_request(qrl_client *c, const char *body, qrl_reply_cb cb, void *user);

/* The same, blocking until the answer: QRL_OK and, if reply_json is not
 * NULL, the reply frame in *reply_json (free with qrl_free). Any thread but
 * the service thread. */
int qrl_call(qrl_client *c, const char *body, char **reply_json, struct qrl_error *err);

void qrl_free(void *p);

/* ---- the PC side ---- */

/* Asks for a login ticket (`ticket.new`); blocks until it arrives (it is also
 * told as QRL_EV_TICKET). From then on the client wants a login: after a
 * reconnect it asks for a fresh ticket by itself, until QRL_EV_LOGIN,
 * QRL_EV_EXPIRED or qrl_ticket_cancel(). Any thread but the service thread. */
int qrl_ticket_new(qrl_client *c, struct qrl_error *err);
int qrl_ticket_cancel(qrl_client *c, struct qrl_error *err);

/* ---- the phone side (sign in first) ---- */

/* `auth.password`: signs this socket in and stores the new pair ("app"
 * session). After a reconnect the socket signs in again with the stored
 * access token. Blocking; any thread but the service thread. */
int qrl_auth_password(qrl_client *c, const char *username, const char *password,
                      struct qrl_error *err);
/* `auth.token` with the stored access token (refreshed first if due). */
int qrl_auth_token(qrl_client *c, struct qrl_error *err);
/* `ticket.scan`; *info_json (may be NULL) gets the ticket.info frame. */
int qrl_ticket_scan(qrl_client *c, const char *ticket, char **info_json, struct qrl_error *err);
/* `ticket.confirm` (code: the two digits with number matching, else NULL). */
int qrl_ticket_confirm(qrl_client *c, const char *ticket, const char *code,
                       struct qrl_error *err);
int qrl_ticket_deny(qrl_client *c, const char *ticket, struct qrl_error *err);
/* `session.list`; *sessions_json gets the `sessions` frame. */
int qrl_session_list(qrl_client *c, char **sessions_json, struct qrl_error *err);
int qrl_session_revoke(qrl_client *c, const char *session_id, struct qrl_error *err);
int qrl_logout_all(qrl_client *c, struct qrl_error *err);

/* ---- tokens ---- */

struct qrl_tokens {
    char access_token[QRL_TOKEN_MAX];
    char refresh_token[QRL_TOKEN_MAX];
    char session_id[QRL_ID_MAX];
    char user_id[QRL_ID_MAX];
    char user_name[QRL_NAME_MAX];
    int64_t expires_in;         /* access: seconds left when read or set */
    int64_t refresh_expires_in; /* refresh: seconds left, 0 unknown */
};

/* Gives the client a stored pair (from a file, say); expires_in is what is
 * left of the access token (0 or less: refresh before use). Attaches the
 * socket to the session (`session.attach`) when it is still valid, so that a
 * revocation is pushed. Any thread. */
int qrl_set_tokens(qrl_client *c, const struct qrl_tokens *t);
/* Copies the stored pair; QRL_ERR_NO_TOKENS when there is none. Any thread. */
int qrl_get_tokens(qrl_client *c, struct qrl_tokens *out);

/* A valid access token into buf: the stored one while more than a fifth of
 * its life is left, else a refreshed one. Single-flight: while one refresh
 * runs every caller waits for it, and a caller whose token was already
 * rotated gets the new one without a request. A refused refresh
 * (invalid_token, token_expired, session_revoked, refresh_reused) forgets the
 * pair (QRL_EV_SIGNED_OUT) and returns QRL_ERR_SERVER. Blocking; any thread
 * but the service thread. */
int qrl_access_token(qrl_client *c, char *buf, size_t size, struct qrl_error *err);

/* The same, but refreshes unless the stored access token differs from
 * `stale` (one a server just refused with 401). */
int qrl_refresh(qrl_client *c, const char *stale, char *buf, size_t size, struct qrl_error *err);

/* `logout` on this socket: the stored session ends, the pair is forgotten.
 * Blocking; any thread but the service thread. */
int qrl_logout(qrl_client *c, struct qrl_error *err);

/* How many token.refresh requests this client sent (for tests and stats).
 * Any thread. */
unsigned qrl_refresh_count(qrl_client *c);

/* ---- reading answers ---- */

/* A member of a JSON text by path: keys separated by '.', array elements by
 * their index ("user.name", "sessions.0.session_id"). qrl_json_string
 * unescapes a string into out (NUL-terminated); qrl_json_int reads an integer
 * or a boolean (1/0); qrl_json_count the length of an array or object. They
 * return QRL_OK, or QRL_ERR_INVALID when the path is absent, of another type,
 * too long for out, or the text is not JSON. Pure; any thread. */
int qrl_json_string(const char *json, size_t len, const char *path, char *out, size_t size);
int qrl_json_int(const char *json, size_t len, const char *path, int64_t *out);
int qrl_json_count(const char *json, size_t len, const char *path, int *out);

#if defined(QRL_BUILDING) && defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif
