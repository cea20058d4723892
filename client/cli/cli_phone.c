/* cli_phone.c — `qrlogin signin` and `qrlogin approve`: the phone's side,
 * for headless machines and tests. The sign-in is stored as "approver";
 * without one, approve uses the "login" sign-in. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"

/* One line: from a prompt without echo on a terminal, else from stdin. */
static int read_password(char *out, size_t size)
{
    FILE *in = stdin;
    struct termios old, quiet;
    int tty = isatty(STDIN_FILENO) && !tcgetattr(STDIN_FILENO, &old);
    if (tty) {
        fputs("Password: ", stderr);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    char *got = fgets(out, (int)size, in);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    if (!got)
        return -1;
    out[strcspn(out, "\r\n")] = '\0';
    return out[0] ? 0 : -1;
}

int cmd_signin(const struct cli *o, int argc, char **argv)
{
    if (argc != 2) {
        err_msg(o, "usage: qrlogin signin URL USER   (the password from stdin or a prompt)");
        return EXIT_USAGE;
    }
    char pw[512];
    if (read_password(pw, sizeof pw)) {
        err_msg(o, "no password given");
        return EXIT_USAGE;
    }
    int rc;
    qrl_client *c = cli_connect(o, argv[0], o->ca, NULL, NULL, &rc);
    if (!c) {
        memset(pw, 0, sizeof pw);
        return rc;
    }
    struct qrl_error err;
    int st = qrl_auth_password(c, argv[1], pw, &err);
    memset(pw, 0, sizeof pw);
    if (st != QRL_OK) {
        qrl_client_free(c);
        rc = fail(o, "signin", st, &err);
        return rc == EXIT_SIGNED_OUT ? EXIT_REFUSED : rc;
    }
    struct creds cr;
    creds_begin(&cr, argv[0], o->ca);
    creds_from_client(&cr, c);
    qrl_client_free(c);
    rc = creds_save(o, "approver", &cr) ? EXIT_LOCAL : EXIT_OK;
    if (rc == EXIT_OK) {
        if (o->json) {
            printf("{\"signed_in\":true,\"user\":");
            out_json_str(cr.t.user_name);
            printf("}\n");
        } else {
            printf("Signed in as %s; `qrlogin approve` now approves logins.\n", cr.t.user_name);
        }
    }
    memset(&cr, 0, sizeof cr);
    return rc;
}

/* The ticket from a QR's URL (…/m/#t=TICKET) or the ticket itself. */
static int ticket_of(const char *arg, char *out, size_t size)
{
    const char *t = strstr(arg, "#t=");
    t = t ? t + 3 : arg;
    size_t n = strcspn(t, "&");
    if (n == 0 || n >= size)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char ch = t[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_'))
            return -1; /* base64url only */
    }
    memcpy(out, t, n);
    out[n] = '\0';
    return 0;
}

static void describe(const char *info)
{
    size_t n = strlen(info);
    char name[128] = "", ua[256] = "", ip[64] = "";
    qrl_json_string(info, n, "pc.client_name", name, sizeof name);
    qrl_json_string(info, n, "pc.user_agent", ua, sizeof ua);
    qrl_json_string(info, n, "pc.ip", ip, sizeof ip);
    printf("Login request from %s (%s) at %s\n", name[0] ? name : "an unnamed client",
           ua[0] ? ua : "unknown browser", ip[0] ? ip : "?");
}

int cmd_approve(const struct cli *o, int argc, char **argv)
{
    char ticket[QRL_ID_MAX];
    if (argc != 1 || ticket_of(argv[0], ticket, sizeof ticket)) {
        err_msg(o, "usage: qrlogin approve URL|TICKET [--deny] [--code NN]");
        return EXIT_USAGE;
    }
    const char *which = "approver";
    struct creds cr;
    int rc = creds_load(o, which, &cr);
    if (rc == 1) {
        which = "login";
        rc = creds_load(o, which, &cr);
    }
    if (rc == 1) {
        err_msg(o, "not signed in; run `qrlogin signin URL USER` first");
        return EXIT_SIGNED_OUT;
    }
    if (rc)
        return EXIT_LOCAL;
    qrl_client *c = cli_connect(o, cr.server, cr.ca_file, NULL, NULL, &rc);
    if (!c)
        return rc;
    cli_use_creds(c, &cr);
    struct qrl_error err;
    char *info = NULL;
    int st = qrl_auth_token(c, &err);
    if (st == QRL_OK)
        st = qrl_ticket_scan(c, ticket, &info, &err);
    if (st == QRL_OK) {
        if (!o->json)
            describe(info);
        int choices = 0;
        if (!o->deny && !o->code &&
            qrl_json_count(info, strlen(info), "code_choices", &choices) == QRL_OK && choices) {
            err_msg(o, "this login needs the two digits it shows: add --code NN");
            qrl_free(info);
            qrl_client_free(c);
            return EXIT_USAGE;
        }
        st = o->deny ? qrl_ticket_deny(c, ticket, &err)
                     : qrl_ticket_confirm(c, ticket, o->code, &err);
    }
    if (st != QRL_OK) {
        qrl_free(info);
        qrl_client_free(c);
        rc = fail(o, "approve", st, &err);
        if (rc == EXIT_SIGNED_OUT)
            creds_remove(o, which);
        return rc;
    }
    rc = cli_save_if_changed(o, which, &cr, c) ? EXIT_LOCAL : EXIT_OK;
    if (o->json) {
        printf("{\"result\":\"%s\",\"request\":%s}\n", o->deny ? "denied" : "approved", info);
    } else {
        printf("%s.\n", o->deny ? "Denied" : "Approved");
    }
    qrl_free(info);
    memset(&cr, 0, sizeof cr);
    qrl_client_free(c);
    return rc;
}
