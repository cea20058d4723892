/* output.c — what the command prints: JSON strings, error lines, and the
 * exit code a library failure maps to. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

void out_json_str(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

void err_msg(const struct cli *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("qrlogin: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    (void)o;
}

int fail(const struct cli *o, const char *what, int status, const struct qrl_error *e)
{
    int code;
    switch (status) {
    case QRL_ERR_SERVER:
        code = EXIT_REFUSED;
        if (!strcmp(e->code, "session_revoked") || !strcmp(e->code, "refresh_reused") ||
            !strcmp(e->code, "token_expired") || !strcmp(e->code, "invalid_token"))
            code = EXIT_SIGNED_OUT;
        break;
    case QRL_ERR_NO_TOKENS:
        code = EXIT_SIGNED_OUT;
        break;
    case QRL_ERR_CONNECT:
    case QRL_ERR_DISCONNECTED:
    case QRL_ERR_TIMEOUT:
        code = EXIT_UNREACHABLE;
        break;
    default:
        code = EXIT_LOCAL;
    }
    const char *msg = e && e->message[0] ? e->message : qrl_status_str(status);
    if (status == QRL_ERR_SERVER)
        err_msg(o, "%s: %s (%s)", what, msg, e->code);
    else
        err_msg(o, "%s: %s", what, msg);
    if (code == EXIT_SIGNED_OUT)
        fputs("qrlogin: sign in again with `qrlogin login URL`\n", stderr);
    if (o->json) {
        printf("{\"error\":");
        out_json_str(status == QRL_ERR_SERVER ? e->code : qrl_status_str(status));
        printf(",\"message\":");
        out_json_str(msg);
        printf(",\"exit\":%d}\n", code);
    }
    return code;
}
