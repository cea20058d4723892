/* tickets.h — the QR login state machine (docs/protocol.md §3–4). Only this file
 * changes tickets (docs/architecture.md, rule 6).
 *
 *   ticket.new ──► PENDING ──scan──► SCANNED ──confirm──► (gone: login)
 *                   │  ▲              │ └──deny / wrong code──► (gone: denied)
 *          ttl, rotations left        └──ttl──► (gone: expired)
 *                   └──┘ rotated (new id, old id dead at once)
 *   PENDING ──ttl, no rotations left──► (gone: expired)
 *   any ──PC cancels / PC socket closes──► (gone: cancelled)
 *
 * Tickets live in memory only (§7). Each is indexed by id and by the PC
 * connection that made it (one live ticket per PC socket). Expiry uses one
 * list ordered by deadline: every deadline is now + ticket_ttl, so appending
 * keeps it sorted and the loop needs a single timer for the head, however many
 * PCs are waiting. */
#ifndef QRLOGIN_TICKETS_H
#define QRLOGIN_TICKETS_H

#include <stdbool.h>
#include <stdint.h>

#include "hmap.h"
#include "store.h"

#define TICKET_BYTES 16  /* 128 bits of randomness */
#define TICKET_LEN 22    /* base64url characters */
#define CLIENT_NAME_MAX 64

enum ticket_state { TICKET_PENDING, TICKET_SCANNED };

/* Who scanned a ticket (docs/protocol.md §4): set by the first scan. */
struct ticket_scanner {
    int64_t user_id;
    uint64_t phone_conn; /* the latest socket of that user: it hears a cancel */
    char user_name[USER_NAME_MAX + 1];
    char phone_sid[SID_MAX];
};

/* Kept small: one waits beside every PC socket showing a code
 * (docs/architecture.md, "Performance budget"), so what only a scanned ticket
 * needs is allocated at the scan, and the PC's address and agent are not copied: they are its
 * connection's, which outlives the ticket (closing it cancels the ticket). */
struct ticket {
    char id[TICKET_LEN + 1];
    bool clock_restarted; /* a scan restarts the clock once */
    enum ticket_state state;
    int rotations;        /* how many times this PC's code was rotated */
    uint64_t pc_conn;
    int64_t created_at;   /* ms, of this ticket (a rotation is a new ticket) */
    int64_t expires_at;   /* ms */
    char *client_name;    /* heap, capped at CLIENT_NAME_MAX; NULL = none given */
    struct ticket_scanner *scanner; /* heap; NULL while PENDING */
    /* An OAuth request the ticket serves (oidc_tickets.h), NULL for a plain
     * login: owned by the ticket, freed with it. */
    struct ticket_grant *grant;
    /* 0: ticket_ttl, and an unscanned ticket rotates. Otherwise this fixed
     * lifetime and no rotation: a device grant's code is printed on a device
     * that cannot be sent a new one. */
    int64_t ttl_ms;
    /* number matching: code shown on the PC, choices offered on the phone */
    char code[3];
    char choices[3][3];

    struct hnode by_id, by_pc;
    struct ticket *prev, *next; /* expiry order */
};

enum ticket_event {
    TEV_ROTATED,   /* t is the fresh ticket for the same PC; push `ticket` rotated */
    TEV_EXPIRED,   /* t expired; push ticket.expired to the PC */
    TEV_SCANNED,   /* push ticket.scanned to the PC */
    TEV_DENIED,    /* denied by the phone: push ticket.denied to the PC */
    TEV_CODE_MISMATCH, /* wrong number picked: the ticket burned, PC told denied */
    TEV_CANCELLED, /* cancelled or PC gone: push ticket.cancelled to the phone if scanned */
};

/* Called for every transition; t is valid only during the call. */
typedef void (*tickets_listener)(enum ticket_event ev, const struct ticket *t);

struct tickets_config {
    int64_t ttl_ms;
    int max_rotations;
    bool number_match;
};

void tickets_init(const struct tickets_config *cfg, tickets_listener listener);
void tickets_shutdown(void); /* frees every ticket without events */

enum ticket_rc {
    TICKET_OK = 0,
    TICKET_NOT_FOUND,     /* unknown, used, expired or cancelled: one answer for all */
    TICKET_CONFLICT,      /* bound to another user */
    TICKET_CODE_MISMATCH, /* wrong number: the ticket is burned */
    TICKET_NO_MEMORY,
};

/* Creates the PC's ticket, replacing (silently cancelling) its earlier one.
 * client_name may be NULL or empty (none). */
enum ticket_rc tickets_create(uint64_t pc_conn, const char *client_name,
                              const struct ticket **out);

/* A ticket for an OAuth request: as tickets_create, with grant (heap, owned
 * by the ticket from here on, even on failure) and ttl_ms (0 or a fixed
 * lifetime, see struct ticket). */
enum ticket_rc tickets_create_grant(uint64_t pc_conn, const char *client_name, int64_t ttl_ms,
                                    struct ticket_grant *grant, const struct ticket **out);

/* First scan binds the ticket to the user and restarts its clock once; the
 * same user may scan again (same answer); another user gets CONFLICT. */
enum ticket_rc tickets_scan(const char *id, int64_t user_id, const char *user_name,
                            uint64_t phone_conn, const char *phone_sid,
                            const struct ticket **out);

/* Confirm by the bound user. code is NULL when absent. On TICKET_OK the
 * ticket is removed (used once, ever) and moved into *taken for the caller,
 * which must free what it points to with tickets_release(). */
enum ticket_rc tickets_confirm(const char *id, int64_t user_id, const char *code,
                               struct ticket *taken);
void tickets_release(struct ticket *taken);

/* Deny by the bound user: removed, the PC told (TEV_DENIED). */
enum ticket_rc tickets_deny(const char *id, int64_t user_id);

/* The PC cancels, or its socket closed: removed, a scanning phone told
 * (TEV_CANCELLED). Returns TICKET_NOT_FOUND if the PC had none. */
enum ticket_rc tickets_cancel_pc(uint64_t pc_conn);

/* Whether the PC connection holds a live ticket; which one (or NULL). */
bool tickets_pc_has(uint64_t pc_conn);
const struct ticket *tickets_of_pc(uint64_t pc_conn);

/* Seconds left (rounded up) of a live ticket. */
int64_t tickets_expires_in(const struct ticket *t, int64_t now_ms);

/* Expires or rotates every ticket whose deadline is <= now. The module's own
 * timer calls it on the event loop (loop_timer.h); tests call it with a fake
 * clock. */
void tickets_expire_due(int64_t now_ms);

/* Earliest deadline (ms), or 0 if no ticket is live. */
int64_t tickets_next_deadline(void);

/* Live tickets (for /metrics and tests). */
size_t tickets_count(void);

#endif
