/* A PC-side login in 30 lines: cc login.c $(pkg-config --cflags --libs qrlogin) */
#include <qrlogin.h>
#include <semaphore.h>
#include <stdio.h>

static sem_t finished;

static void on_event(const struct qrl_event *ev, void *user)
{
    (void)user;
    if (ev->type == QRL_EV_TICKET)
        printf("Scan with your phone: %s\n", ev->url); /* or draw it as a QR code */
    else if (ev->type == QRL_EV_SCANNED)
        printf("Scanned by %s, confirm on the phone\n", ev->user_name);
    else if (ev->type == QRL_EV_LOGIN || ev->type == QRL_EV_DENIED || ev->type == QRL_EV_EXPIRED)
        sem_post(&finished);
}

int main(int argc, char **argv)
{
    struct qrl_config cfg = {.url = argc > 1 ? argv[1] : "http://127.0.0.1:8080",
                             .on_event = on_event, .auto_refresh = 1};
    struct qrl_error err;
    char token[QRL_TOKEN_MAX];
    sem_init(&finished, 0, 0);
    qrl_client *c = qrl_client_new(&cfg, &err);
    if (!c || qrl_client_wait_connected(c, 0, &err) != QRL_OK || qrl_ticket_new(c, &err) != QRL_OK)
        return fprintf(stderr, "qrlogin: %s\n", err.message), 1;
    sem_wait(&finished);
    int rc = qrl_access_token(c, token, sizeof token, &err); /* fresh, refreshed when due */
    printf(rc == QRL_OK ? "Signed in; send Authorization: Bearer <token>\n" : "Not signed in\n");
    qrl_client_free(c);
    return rc == QRL_OK ? 0 : 1;
}
