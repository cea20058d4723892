/* session_end.h — why a session ended. One enum from the handler that ends a
 * session to the record, the push and the metric; the names are what the
 * wire (`session.revoked`'s reason), the store and /metrics show. */
#ifndef QRLOGIN_SESSION_END_H
#define QRLOGIN_SESSION_END_H

#include <stddef.h>

enum session_end {
    SESSION_LIVE = 0,            /* not ended */
    SESSION_END_LOGOUT,          /* `logout` on one of its sockets, or RP-initiated */
    SESSION_END_REVOKED,         /* `session.revoke` from another of the user's devices */
    SESSION_END_LOGOUT_ALL,      /* `logout.all` */
    SESSION_END_REFRESH_REUSED,  /* a retired refresh token came back */
    SESSION_END__N
};

/* "logout", "revoked", "logout_all", "refresh_reused"; "" for SESSION_LIVE
 * and anything out of range. */
const char *session_end_name(enum session_end why);

/* The reason named by the first len bytes of s; SESSION_LIVE when it names
 * none (an empty field, or an unknown word from a newer node or store). */
enum session_end session_end_parse(const char *s, size_t len);

#endif
