/* field_sizes.h — the bounds of the identifiers every layer passes around
 * (user names, session ids, token ids, addresses, User-Agents). They live
 * here, below everything, so that the token code and the store agree on
 * them without either including the other. Each bound is in bytes, without
 * the terminating NUL unless it says so. */
#ifndef QRLOGIN_FIELD_SIZES_H
#define QRLOGIN_FIELD_SIZES_H

#define USER_NAME_MAX 64     /* bytes */
#define SID_MAX 32           /* buffer size; session ids are 22 base64url chars */
#define JTI_MAX 32           /* buffer size; token ids likewise */
#define IP_MAX 64            /* buffer size */
#define UA_MAX 256           /* buffer size */
#define CLIENT_ID_MAX 64     /* OIDC client ids: 1-64 of [A-Za-z0-9._-] */

#endif
