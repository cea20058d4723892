/* cli.h — the `qrlogin` command: shared options, exit codes, and the
 * commands (one file per group). Documented in docs/client.md. */
#ifndef QRLOGIN_CLI_H
#define QRLOGIN_CLI_H

#include "qrlogin.h"

/* Exit codes a script can rely on (docs/client.md lists them). */
enum cli_exit {
    EXIT_OK = 0,
    EXIT_REFUSED = 1,     /* the broker said no (not found, conflict, …) */
    EXIT_USAGE = 2,
    EXIT_SIGNED_OUT = 3,  /* no stored sign-in, or its session ended */
    EXIT_UNREACHABLE = 4, /* could not connect (refused, TLS, timeout) */
    EXIT_DENIED = 5,      /* login: denied on the phone */
    EXIT_EXPIRED = 6,     /* login: the code expired unscanned */
    EXIT_LOCAL = 7,       /* a local problem: the config directory, memory */
};

struct cli {
    int json;
    int invert;
    int all;
    int deny;
    const char *ca;         /* --ca FILE */
    const char *name;       /* --name: what the phone sees */
    const char *code;       /* --code NN: number matching */
    const char *config_dir; /* --config-dir, else $XDG_CONFIG_HOME/qrlogin */
};

/* Stored sign-ins: "login" (this machine, from `qrlogin login`) and
 * "approver" (the phone side, from `qrlogin signin`). */
struct creds {
    char server[1024];
    char ca_file[4096]; /* absolute, so any working directory finds it */
    struct qrl_tokens t;
    long long life;       /* the access token's whole life, seconds */
    long long expires_at; /* wall clock, seconds */
    long long refresh_expires_at;
};

/* creds.c */
int creds_dir(const struct cli *o, char *out, size_t size);
/* 0 loaded, 1 there is none, -1 unreadable (message printed). */
int creds_load(const struct cli *o, const char *which, struct creds *c);
/* Written to a temporary file (mode 0600) and renamed over: a reader never
 * sees half a file, a crash never loses the old one. 0 or -1 (message). */
int creds_save(const struct cli *o, const char *which, const struct creds *c);
int creds_remove(const struct cli *o, const char *which);
/* A new sign-in for server (and the CA file given, made absolute). */
void creds_begin(struct creds *c, const char *server, const char *ca);
/* Fills c->t's lifetimes from the client's pair, for saving. */
void creds_from_client(struct creds *c, qrl_client *client);

/* output.c */
void out_json_str(const char *s); /* a quoted, escaped JSON string on stdout */
void err_msg(const struct cli *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The exit code for a failed library call, with its message printed. */
int fail(const struct cli *o, const char *what, int status, const struct qrl_error *e);

/* term_qr.c: draws text as a QR code with Unicode half blocks, two modules
 * per character cell, quiet zone included. 0, or -1 if it cannot fit
 * max_cols columns. */
int term_qr_print(const char *text, int invert, int colour, int max_cols);

/* A connected client for a stored or given server. */
qrl_client *cli_connect(const struct cli *o, const char *server, const char *ca,
                        qrl_event_cb cb, void *user, int *exit_code);
/* The stored pair in a client (refreshed on use when due). */
void cli_use_creds(qrl_client *c, const struct creds *cr);
/* Saves the pair back if a refresh changed it. */
int cli_save_if_changed(const struct cli *o, const char *which, struct creds *cr, qrl_client *c);

/* Commands: argc/argv after the command name. */
int cmd_login(const struct cli *o, int argc, char **argv);
int cmd_token(const struct cli *o, int argc, char **argv);
int cmd_sessions(const struct cli *o, int argc, char **argv);
int cmd_logout(const struct cli *o, int argc, char **argv);
int cmd_signin(const struct cli *o, int argc, char **argv);
int cmd_approve(const struct cli *o, int argc, char **argv);

#endif
