/* cli_login.c — `qrlogin login URL`: the PC side. Shows the ticket's QR
 * code, says who scanned it, and stores the pair the login brings. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli.h"

struct login_state {
    const struct cli *o;
    int tty;
    int cols;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    int exit_code;
};

static void finish(struct login_state *s, int code)
{
    pthread_mutex_lock(&s->mu);
    if (!s->done) {
        s->done = 1;
        s->exit_code = code;
    }
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void json_event(const char *name, const struct qrl_event *ev)
{
    printf("{\"event\":");
    out_json_str(name);
    if (ev->type == QRL_EV_TICKET) {
        printf(",\"url\":");
        out_json_str(ev->url);
        printf(",\"expires_in\":%lld,\"rotated\":%s", (long long)ev->expires_in,
               ev->rotated ? "true" : "false");
        if (ev->code) {
            printf(",\"code\":");
            out_json_str(ev->code);
        }
    }
    if (ev->user_name) {
        printf(",\"user\":");
        out_json_str(ev->user_name);
    }
    if (ev->type == QRL_EV_LOGIN && ev->session_id) {
        printf(",\"session_id\":");
        out_json_str(ev->session_id);
    }
    printf("}\n");
    fflush(stdout);
}

static void show_ticket(struct login_state *s, const struct qrl_event *ev)
{
    if (s->tty)
        fputs("\033[H\033[2J", stdout); /* one code on the screen at a time */
    printf("%s with the phone where you are signed in:\n\n",
           ev->rotated ? "A new code. Scan it" : "Scan this code");
    if (term_qr_print(ev->url, s->o->invert, s->tty, s->cols))
        printf("(the terminal is too narrow for the code; open the link below on the phone)\n");
    printf("\n%s\n", ev->url);
    if (ev->code)
        printf("Then pick %s on the phone.\n", ev->code);
    printf("Waiting for the phone (the code is renewed in %lld s)...\n", (long long)ev->expires_in);
    fflush(stdout);
}

static void on_event(const struct qrl_event *ev, void *user)
{
    struct login_state *s = user;
    const int json = s->o->json;
    switch (ev->type) {
    case QRL_EV_TICKET:
        if (json)
            json_event("ticket", ev);
        else
            show_ticket(s, ev);
        break;
    case QRL_EV_SCANNED:
        if (json)
            json_event("scanned", ev);
        else
            printf("Scanned by %s. Confirm on the phone.\n", ev->user_name ? ev->user_name : "?");
        fflush(stdout);
        break;
    case QRL_EV_DENIED:
        if (json)
            json_event("denied", ev);
        else
            printf("Denied on the phone.\n");
        finish(s, EXIT_DENIED);
        break;
    case QRL_EV_EXPIRED:
        if (json)
            json_event("expired", ev);
        else
            printf("The code expired. Run qrlogin login again.\n");
        finish(s, EXIT_EXPIRED);
        break;
    case QRL_EV_LOGIN:
        finish(s, EXIT_OK);
        break;
    case QRL_EV_DISCONNECTED:
        if (!json)
            fprintf(stderr, "qrlogin: the connection dropped; reconnecting...\n");
        break;
    default:
        break;
    }
}

static int columns(void)
{
    struct winsize w;
    if (isatty(STDOUT_FILENO) && !ioctl(STDOUT_FILENO, TIOCGWINSZ, &w) && w.ws_col > 0)
        return w.ws_col < 80 ? w.ws_col : 80;
    return 80;
}

int cmd_login(const struct cli *o, int argc, char **argv)
{
    if (argc != 1) {
        err_msg(o, "usage: qrlogin login URL   (the broker's address, e.g. https://login.example)");
        return EXIT_USAGE;
    }
    static struct login_state s;
    memset(&s, 0, sizeof s);
    s.o = o;
    s.tty = isatty(STDOUT_FILENO);
    s.cols = columns();
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.cv, NULL);

    int rc;
    qrl_client *c = cli_connect(o, argv[0], o->ca, on_event, &s, &rc);
    if (!c)
        return rc;
    struct qrl_error err;
    int st = qrl_ticket_new(c, &err);
    if (st != QRL_OK) {
        rc = fail(o, "login", st, &err);
        qrl_client_free(c);
        return rc;
    }
    pthread_mutex_lock(&s.mu);
    while (!s.done)
        pthread_cond_wait(&s.cv, &s.mu);
    rc = s.exit_code;
    pthread_mutex_unlock(&s.mu);

    if (rc == EXIT_OK) {
        struct creds cr;
        creds_begin(&cr, argv[0], o->ca);
        creds_from_client(&cr, c);
        if (creds_save(o, "login", &cr)) {
            rc = EXIT_LOCAL;
        } else if (o->json) {
            printf("{\"event\":\"login\",\"user\":");
            out_json_str(cr.t.user_name);
            printf(",\"session_id\":");
            out_json_str(cr.t.session_id);
            printf(",\"expires_in\":%lld}\n", (long long)cr.t.expires_in);
        } else {
            printf("Signed in as %s.\n", cr.t.user_name);
        }
        memset(&cr, 0, sizeof cr);
    }
    qrl_client_free(c);
    return rc;
}
