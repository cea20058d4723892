/* oidc.h — the OpenID Connect provider and the device authorization grant
 * (docs/oidc.md): the HTTP handlers each endpoint file provides, and the
 * hooks the ticket code calls for tickets that belong to an OAuth request. */
#ifndef QRLOGIN_OIDC_H
#define QRLOGIN_OIDC_H

#include "http_api.h"

void oidc_get_discovery(struct http_req *q);   /* oidc_discovery.c */
void oidc_get_authorize(struct http_req *q);   /* oidc_authorize.c */
void oidc_post_device(struct http_req *q);     /* oidc_device.c */
void oidc_post_token(struct http_req *q);      /* oidc_token.c */
void oidc_userinfo(struct http_req *q);        /* oidc_userinfo.c */
void oidc_post_revoke(struct http_req *q);     /* oidc_revoke.c */
void oidc_logout(struct http_req *q);          /* oidc_logout.c */

#endif
