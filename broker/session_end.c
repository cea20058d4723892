/* session_end.c — see session_end.h. */
#include "session_end.h"

#include <string.h>

static const char *const names[SESSION_END__N] = {
    [SESSION_LIVE] = "",
    [SESSION_END_LOGOUT] = "logout",
    [SESSION_END_REVOKED] = "revoked",
    [SESSION_END_LOGOUT_ALL] = "logout_all",
    [SESSION_END_REFRESH_REUSED] = "refresh_reused",
};

const char *session_end_name(enum session_end why)
{
    return (unsigned)why < SESSION_END__N ? names[why] : "";
}

enum session_end session_end_parse(const char *s, size_t len)
{
    for (int i = SESSION_END_LOGOUT; i < SESSION_END__N; i++)
        if (strlen(names[i]) == len && !memcmp(names[i], s, len))
            return (enum session_end)i;
    return SESSION_LIVE;
}
