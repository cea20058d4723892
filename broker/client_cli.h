/* client_cli.h — the clientadd / clientdel / clientlist commands
 * (docs/protocol.md §9, docs/oidc.md). */
#ifndef QRLOGIN_CLIENT_CLI_H
#define QRLOGIN_CLIENT_CLI_H

/* cmd is "clientadd", "clientdel" or "clientlist"; argv holds what follows
 * it. Returns the exit status: 0, 1 (the store failed or said no), 2 (bad
 * usage, one line on stderr). */
int client_cli_main(const char *cmd, int argc, char **argv);

#endif
