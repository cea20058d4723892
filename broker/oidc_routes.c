/* oidc_routes.c — which OIDC endpoint answers which path (http_api.h). */
#include <string.h>

#include "oidc.h"

static const struct http_route routes[] = {
    {"/.well-known/openid-configuration", oidc_get_discovery, NULL},
    {"/authorize", oidc_get_authorize, NULL},
    {"/device_authorization", NULL, oidc_post_device},
    {"/token", NULL, oidc_post_token},
    {"/userinfo", oidc_userinfo, oidc_userinfo},
    {"/revoke", NULL, oidc_post_revoke},
    {"/logout", oidc_logout, oidc_logout},
};

const struct http_route *oidc_route_find(const char *path)
{
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (!strcmp(routes[i].path, path))
            return &routes[i];
    return NULL;
}
