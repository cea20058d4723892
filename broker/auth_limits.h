/* auth_limits.h — password failures per user name (PROTOCOL.md §6: 5 in
 * 5 minutes → rate_limited). Kept in memory; bounded in size. */
#ifndef QRLOGIN_AUTH_LIMITS_H
#define QRLOGIN_AUTH_LIMITS_H

#include <stdint.h>

#define AUTH_MAX_FAILURES 5
#define AUTH_WINDOW_MS (5 * 60 * 1000)

/* 0 if name may try now, else seconds until it may (retry_after). */
int64_t auth_limits_check(const char *name, int64_t now_ms);
void auth_limits_fail(const char *name, int64_t now_ms);
void auth_limits_shutdown(void);

#endif
