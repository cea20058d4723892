/* login_presign.h — a PC login's token pair signed while the person reads
 * the PC's details on the phone, so that no ES256 signature (~0.6 ms with
 * mbedTLS) lies between their confirm and the PC's `login` push (issue 17;
 * docs/benchmarks.md says why this design).
 *
 * At a ticket's first scan the scanner's user record is read and a whole
 * pair (fresh sid and jtis) is signed on the worker pool; nothing is stored.
 * At the confirm the pair is used if it is still exactly what signing then
 * would give — same user, name and token version (a logout.all in between
 * raised it), signed by the keys that are still current (no rotation in
 * between), and at most LOGIN_PRESIGN_MAX_AGE_S old — else it is dropped
 * and the pair is signed then, as without speculation. A confirm that
 * arrives while the pair is still being signed waits for it rather than
 * sign a second one. Each pair is used at most once: the confirm takes it.
 * A ticket that ends any other way (deny, wrong code, expiry, cancel,
 * replaced) drops its pair.
 *
 * It runs on the node that holds the ticket: in a cluster the phone's scan
 * and confirm are both forwarded there (handle_ticket.c), and that node
 * issues the pair. Only with ES256 access tokens: an HS256 pair costs a few
 * µs, less than keeping one. Loop thread only. */
#ifndef QRLOGIN_LOGIN_PRESIGN_H
#define QRLOGIN_LOGIN_PRESIGN_H

#include <stdbool.h>
#include <stdint.h>

#include "sessions.h"
#include "tickets.h"

/* How old (now - iat, in the whole seconds JWTs count) a pair may be when
 * it is used. A person typically confirms within seconds of the scan; past
 * this the pair is signed again at the confirm, so a token never reaches
 * its holder with more than this taken off its lifetime, and `expires_in`
 * says what is left. */
#define LOGIN_PRESIGN_MAX_AGE_S 30

/* Follows every ticket transition (handle_ticket.c passes them on): a first
 * scan starts signing, the ends without a login drop the pair. */
void login_presign_on_ticket_event(enum ticket_event ev, const struct ticket *t);

/* The confirmed ticket's login: like sessions_create(u, kind, …), with the
 * pair signed at the scan when it is still usable. Calls cb exactly once. */
void login_presign_login(const char *ticket_id, const struct user_rec *u, const char *kind,
                         const char *ip, const char *user_agent, sessions_issue_cb cb, void *arg);

/* What happened to pairs (tests; a reader of the code). */
struct login_presign_stats {
    uint64_t started; /* pairs whose signing began at a scan */
    uint64_t used;    /* confirmed with the pair signed at the scan */
    uint64_t stale;   /* confirmed, but the pair was no longer usable: signed again */
    uint64_t dropped; /* the ticket ended without a login */
    uint64_t waited;  /* confirms that arrived while their pair was being signed */
    uint64_t expired; /* held past the age bound, freed unused */
};
struct login_presign_stats login_presign_stats(void);
/* Scanned tickets with a pair held or being signed. */
size_t login_presign_count(void);

/* Frees every pair held (at shutdown, after the worker pool stopped). */
void login_presign_shutdown(void);

#endif
