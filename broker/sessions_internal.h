/* sessions_internal.h — what the files of the sessions module share
 * (sessions.c, sessions_revoke.c); nothing outside the module includes it. */
#ifndef QRLOGIN_SESSIONS_INTERNAL_H
#define QRLOGIN_SESSIONS_INTERNAL_H

#include <string.h>

#include "store.h"

/* Bounded copy that always terminates (NULL copies as ""). */
static inline void copy_str(char *dst, size_t size, const char *src)
{
    size_t n = src ? strnlen(src, size - 1) : 0;
    memcpy(dst, src ? src : "", n);
    dst[n] = '\0';
}

/* Marks r revoked with reason and drops its replayable pair (not stored). */
void sessions__mark_revoked(struct session_rec *r, const char *reason);

/* Counts the revocation and pushes session.revoked to every socket attached
 * to sid, which then is no longer signed in. */
void sessions__announce_revoked(const char *sid, const char *reason);

#endif
