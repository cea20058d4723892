/* errors.h — the error codes of docs/protocol.md §2, shared by the WebSocket
 * replies and the HTTP API. */
#ifndef QRLOGIN_ERRORS_H
#define QRLOGIN_ERRORS_H

enum api_err {
    E_NONE = 0,
    E_BAD_REQUEST,
    E_UNAUTHORIZED,
    E_FORBIDDEN,
    E_NOT_FOUND,
    E_CONFLICT,
    E_RATE_LIMITED,
    E_CODE_MISMATCH,
    E_INVALID_TOKEN,
    E_TOKEN_EXPIRED,
    E_REFRESH_REUSED,
    E_SESSION_REVOKED,
    E_INTERNAL,
};

/* The wire name ("bad_request", …) and a default human message. */
const char *api_err_code(enum api_err e);
const char *api_err_message(enum api_err e);

#endif
