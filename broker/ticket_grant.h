/* ticket_grant.h — what an OAuth ticket carries besides a plain PC login's
 * data: which kind of request it serves, for which client (oidc_tickets.h
 * explains both kinds). tickets.c only holds it and frees it; the OIDC
 * modules read it. */
#ifndef QRLOGIN_TICKET_GRANT_H
#define QRLOGIN_TICKET_GRANT_H

#include "field_sizes.h"
#include "store.h"

enum ticket_grant_kind { TICKET_GRANT_DEVICE, TICKET_GRANT_AUTHORIZE };

/* Plain data (the ticket frees it with free()). */
struct ticket_grant {
    enum ticket_grant_kind kind;
    char client_id[CLIENT_ID_MAX + 1];
    /* device: the device record's key; authorize: the pending request's */
    char key[OAUTH_KEY_MAX];
    /* device: who asked at /device_authorization, shown to the phone in
     * place of a PC socket's address and browser */
    char ip[IP_MAX];
    char user_agent[UA_MAX];
};

#endif
