/* broker_fixture.c — see broker_fixture.h. */
#include "broker_fixture.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>

static const char *broker_bin(void)
{
    const char *b = getenv("QRLOGIN_BROKER");
    return b && *b ? b : "build/qrlogin-broker";
}

int run_cmd(const char *const *argv, const char *input, char *out, size_t size)
{
    int in[2], outp[2];
    if (pipe(in) || pipe(outp))
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(outp[1], 1);
        close(in[1]);
        close(outp[0]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(in[0]);
    close(outp[1]);
    if (input)
        (void)!write(in[1], input, strlen(input));
    close(in[1]);
    size_t got = 0;
    char sink[512];
    for (;;) {
        char *dst = out && got + 1 < size ? out + got : sink;
        size_t room = out && got + 1 < size ? size - 1 - got : sizeof sink;
        ssize_t n = read(outp[0], dst, room);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (dst != sink)
            got += (size_t)n;
    }
    if (out && size)
        out[got] = '\0';
    close(outp[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int broker_init(struct broker *b, const char *const *users)
{
    /* lws's notices (one banner per client context) only clutter the
     * output; its level is process-wide, so the program sets it. */
    lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
    memset(b->dir, 0, sizeof b->dir);
    const char *tmp = getenv("TMPDIR");
    snprintf(b->dir, sizeof b->dir, "%s/qrlogin-client-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(b->dir)) {
        perror("mkdtemp");
        return -1;
    }
    b->pid = 0;
    b->port = 0;
    for (const char *const *u = users; u && u[0]; u += 2) {
        char pw[256];
        snprintf(pw, sizeof pw, "%s\n", u[1]);
        const char *argv[] = {broker_bin(), "useradd", "--data-dir", b->dir,
                              "--pbkdf2-iterations", "1000", u[0], NULL};
        if (run_cmd(argv, pw, NULL, 0) != 0) {
            fprintf(stderr, "fixture: useradd %s failed\n", u[0]);
            return -1;
        }
    }
    return 0;
}

/* A port nobody listens on, below the ephemeral range (where our own client
 * sockets could be holding it). */
static int free_port(void)
{
    for (int i = 0; i < 100; i++) {
        int port = 20000 + (int)((unsigned)rand() % 12000);
        int s = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int ok = bind(s, (struct sockaddr *)&a, sizeof a) == 0;
        close(s);
        if (ok)
            return port;
    }
    return -1;
}

static void print_log(const struct broker *b)
{
    char path[300];
    snprintf(path, sizeof path, "%s/broker.log", b->dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[1024];
    fprintf(stderr, "----- %s -----\n", path);
    while (fgets(line, sizeof line, f))
        fputs(line, stderr);
    fclose(f);
}

static int log_has(const struct broker *b, const char *needle)
{
    char path[300];
    snprintf(path, sizeof path, "%s/broker.log", b->dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[1024];
    int found = 0;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

static int spawn_on(struct broker *b, int port)
{
    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    snprintf(b->url, sizeof b->url, "%s://127.0.0.1:%d", b->tls ? "https" : "http", port);
    snprintf(b->ws_url, sizeof b->ws_url, "%s://127.0.0.1:%d/ws", b->tls ? "wss" : "ws", port);
    const char *argv[16 + FIXTURE_MAX_ARGS];
    int n = 0;
    argv[n++] = broker_bin();
    argv[n++] = "serve";
    argv[n++] = "--listen";
    argv[n++] = listen;
    argv[n++] = "--public-url";
    argv[n++] = b->url;
    argv[n++] = "--data-dir";
    argv[n++] = b->dir;
    argv[n++] = "--pbkdf2-iterations";
    argv[n++] = "1000";
    argv[n++] = "--log-level";
    argv[n++] = "info";
    for (int i = 0; i < FIXTURE_MAX_ARGS && b->args[i]; i++)
        argv[n++] = b->args[i];
    argv[n] = NULL;
    char logpath[300];
    snprintf(logpath, sizeof logpath, "%s/broker.log", b->dir);
    int fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        int devnull = open("/dev/null", O_RDONLY);
        dup2(devnull, 0);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(fd);
    b->pid = pid;
    b->port = port;
    /* Wait for the line that says it listens, or for it to exit: every
     * 20 ms, at most 20 s (a sanitized build starts slowly). */
    for (int i = 0; i < 1000; i++) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            b->pid = 0;
            return log_has(b, "could not listen") ? 1 : -1;
        }
        if (log_has(b, "listening on"))
            return 0;
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    b->pid = 0;
    return -1;
}

int broker_start(struct broker *b)
{
    static int seeded;
    if (!seeded) {
        srand((unsigned)getpid() ^ (unsigned)time(NULL));
        seeded = 1;
    }
    int keep = b->port != 0;
    for (int attempt = 0; attempt < 5; attempt++) {
        int port = keep ? b->port : free_port();
        int rc = spawn_on(b, port);
        if (rc == 0)
            return 0;
        if (rc < 0 || keep)
            break;
    }
    fprintf(stderr, "fixture: the broker did not start\n");
    print_log(b);
    return -1;
}

int broker_stop(struct broker *b)
{
    if (!b->pid)
        return 0;
    kill(b->pid, SIGTERM);
    int st;
    while (waitpid(b->pid, &st, 0) < 0 && errno == EINTR)
        ;
    b->pid = 0;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        print_log(b);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void broker_cleanup(struct broker *b)
{
    if (b->pid) {
        kill(b->pid, SIGKILL);
        waitpid(b->pid, NULL, 0);
        b->pid = 0;
    }
    if (b->dir[0]) {
        const char *argv[] = {"/bin/rm", "-rf", b->dir, NULL};
        run_cmd(argv, NULL, NULL, 0);
        b->dir[0] = '\0';
    }
}

int broker_http(const struct broker *b, const char *method, const char *path,
                const char *bearer, const char *form, char *body, size_t size)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)b->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(s, (struct sockaddr *)&a, sizeof a)) {
        close(s);
        return -1;
    }
    char req[8192];
    int n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n", method,
                     path, b->port);
    if (bearer)
        n += snprintf(req + n, sizeof req - (size_t)n, "Authorization: Bearer %s\r\n", bearer);
    if (form)
        n += snprintf(req + n, sizeof req - (size_t)n,
                      "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %zu\r\n",
                      strlen(form));
    n += snprintf(req + n, sizeof req - (size_t)n, "\r\n%s", form ? form : "");
    (void)!write(s, req, (size_t)n);
    static char resp[256 * 1024];
    size_t got = 0;
    for (;;) {
        ssize_t r = read(s, resp + got, sizeof resp - 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0 || got + (size_t)r >= sizeof resp - 1) {
            if (r > 0)
                got += (size_t)r;
            break;
        }
        got += (size_t)r;
    }
    close(s);
    resp[got] = '\0';
    int status = -1;
    if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1)
        return -1;
    if (body && size) {
        const char *p = strstr(resp, "\r\n\r\n");
        snprintf(body, size, "%s", p ? p + 4 : "");
    }
    return status;
}

long broker_metric(const struct broker *b, const char *sample)
{
    static char text[256 * 1024];
    if (broker_http(b, "GET", "/metrics", NULL, NULL, text, sizeof text) != 200)
        return -1;
    size_t n = strlen(sample);
    for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (!strncmp(line, sample, n) && line[n] == ' ')
            return strtol(line + n + 1, NULL, 10);
    }
    return -1;
}
