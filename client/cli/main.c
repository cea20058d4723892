/* main.c — `qrlogin`: options, the command table, usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "cli.h"

static const char usage[] =
    "usage: qrlogin [options] COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  login URL            show a QR code for URL's broker, wait for a phone to approve,\n"
    "                       store the sign-in\n"
    "  token                print a valid access token (refreshed when due)\n"
    "  sessions             list the signed-in user's sessions\n"
    "  logout [--all]       end this sign-in (--all: every session of the user)\n"
    "  signin URL USER      sign in as the phone side (password from stdin or a prompt)\n"
    "  approve URL|TICKET   approve a login as the phone side (--deny: refuse it)\n"
    "\n"
    "options:\n"
    "  --json               machine-readable output on stdout\n"
    "  --ca FILE            trust this CA for wss:// (stored with the sign-in)\n"
    "  --config-dir DIR     where sign-ins are kept (default $XDG_CONFIG_HOME/qrlogin)\n"
    "  --invert             login: dark modules on a light terminal\n"
    "  --name NAME          login: the name the phone shows for this machine\n"
    "  --code NN            approve: the two digits the login screen shows (number matching)\n"
    "\n"
    "exit status: 0 ok, 1 refused by the broker, 2 usage, 3 not signed in, 4 broker\n"
    "unreachable, 5 login denied, 6 login code expired, 7 local error\n";

static const struct {
    const char *name;
    int (*fn)(const struct cli *, int, char **);
} commands[] = {
    {"login", cmd_login},       {"token", cmd_token},   {"sessions", cmd_sessions},
    {"logout", cmd_logout},     {"signin", cmd_signin}, {"approve", cmd_approve},
};

int main(int argc, char **argv)
{
    /* lws's notices would mix with our output: errors only. */
    lws_set_log_level(LLL_ERR, NULL);
    struct cli o = {0};
    char **pos = calloc((size_t)argc + 1, sizeof *pos);
    if (!pos)
        return EXIT_LOCAL;
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **val = NULL;
        if (!strcmp(a, "--json"))
            o.json = 1;
        else if (!strcmp(a, "--invert"))
            o.invert = 1;
        else if (!strcmp(a, "--all"))
            o.all = 1;
        else if (!strcmp(a, "--deny"))
            o.deny = 1;
        else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            free(pos);
            return EXIT_OK;
        } else if (!strcmp(a, "--ca"))
            val = &o.ca;
        else if (!strcmp(a, "--name"))
            val = &o.name;
        else if (!strcmp(a, "--code"))
            val = &o.code;
        else if (!strcmp(a, "--config-dir"))
            val = &o.config_dir;
        else if (!strcmp(a, "--")) {
            while (++i < argc)
                pos[npos++] = argv[i];
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "qrlogin: unknown option %s\n%s", a, usage);
            free(pos);
            return EXIT_USAGE;
        } else {
            pos[npos++] = argv[i];
        }
        if (val) {
            if (i + 1 >= argc) {
                fprintf(stderr, "qrlogin: %s needs a value\n", a);
                free(pos);
                return EXIT_USAGE;
            }
            *val = argv[++i];
        }
    }
    int rc = EXIT_USAGE;
    if (npos == 0) {
        fputs(usage, stderr);
    } else {
        size_t i;
        for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
            if (!strcmp(pos[0], commands[i].name))
                break;
        if (i < sizeof commands / sizeof commands[0])
            rc = commands[i].fn(&o, npos - 1, pos + 1);
        else
            fprintf(stderr, "qrlogin: unknown command %s\n%s", pos[0], usage);
    }
    free(pos);
    return rc;
}
