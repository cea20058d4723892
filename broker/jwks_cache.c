/* jwks_cache.c — see jwks_cache.h. */
#include "jwks_cache.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "broker.h"
#include "clock.h"
#include "jwks_fetch.h"
#include "log.h"
#include "metrics.h"
#include "workers.h"

struct waiter {
    struct waiter *next;
    jwks_lookup_cb cb;
    void *arg;
    char kid[JWT_KID_MAX];
};

struct source {
    const struct trust_issuer *t;
    struct ext_keyset *keys;       /* last good set, or NULL */
    struct jwks_fetch *fetch;      /* HTTP fetch in flight */
    bool busy;                     /* a fetch or parse is under way */
    int64_t kid_refetch_ms;        /* when an unknown kid last caused a fetch; 0 never */
    int64_t ttl_s;                 /* of the set being fetched */
    struct waiter *waiters, **tail;
    int nwaiters;
    lws_sorted_usec_list_t sul;    /* next scheduled fetch */
    int64_t failures;              /* consecutive */
    const char *error;             /* last failure, static text; NULL after a success */
};

static struct source *sources;
static int nsources;

/* ---- resolving lookups ---- */

static void answer(struct source *s, jwks_lookup_cb cb, void *arg, const char *kid)
{
    const struct ext_key *k = jwks_find(s->keys, kid);
    if (k) {
        jwks_keyset_ref(s->keys);
        cb(arg, s->keys, k);
    } else {
        cb(arg, NULL, NULL);
    }
}

static void answer_waiters(struct source *s)
{
    struct waiter *w = s->waiters;
    s->waiters = NULL;
    s->tail = &s->waiters;
    s->nwaiters = 0;
    while (w) {
        struct waiter *next = w->next;
        answer(s, w->cb, w->arg, w->kid);
        free(w);
        w = next;
    }
}

/* ---- fetching ---- */

static void start_fetch(struct source *s);

static void on_sul(lws_sorted_usec_list_t *sul)
{
    struct source *s = lws_container_of(sul, struct source, sul);
    if (!s->busy)
        start_fetch(s);
}

static void schedule(struct source *s, int64_t seconds)
{
    lws_sul_schedule(broker.ctx, 0, &s->sul, on_sul, (lws_usec_t)seconds * LWS_US_PER_SEC);
}

static void fetch_failed(struct source *s, const char *why)
{
    s->busy = false;
    s->failures++;
    s->error = why;
    metrics.jwks_fetch_failed++;
    /* Once per failure run, then quietly: an endpoint that stays down must
     * not fill the log every 30 s. */
    if (s->failures == 1)
        log_warn("jwks: fetching the keys of %s failed: %s; %s", s->t->issuer, why,
                 s->keys ? "keeping the last good keys" : "no keys yet");
    schedule(s, JWKS_RETRY_S);
    metrics.jwks_failing = jwks_cache_failing();
    answer_waiters(s);
}

struct parse_job {
    struct work work;
    struct source *s;
    char *body;
    size_t len;
    struct ext_keyset *ks;
    int skipped;
    char err[160];
};

static void parse_run(struct work *w)
{
    struct parse_job *j = (struct parse_job *)w;
    if (!jwks_parse(j->body, j->len, &j->ks, &j->skipped, j->err, sizeof j->err))
        jwks_keyset_warm(j->ks);
}

static bool same_kids(const struct ext_keyset *a, const struct ext_keyset *b)
{
    if (!a || !b || a->count != b->count)
        return false;
    for (int i = 0; i < a->count; i++)
        if (!jwks_find(b, a->keys[i].kid))
            return false;
    return true;
}

static void parse_done(struct work *w)
{
    struct parse_job *j = (struct parse_job *)w;
    struct source *s = j->s;
    if (!j->ks) {
        if (!s->failures) /* like fetch_failed: once per failure run */
            log_warn("jwks: the key set of %s is not usable: %s", s->t->issuer, j->err);
        fetch_failed(s, "no usable key set in the response");
    } else {
        if (s->failures)
            log_info("jwks: keys of %s fetched again after %lld failures", s->t->issuer,
                     (long long)s->failures);
        /* A refresh that changes nothing is routine: not worth a line at info. */
        log_write(same_kids(s->keys, j->ks) ? QLOG_DEBUG : QLOG_INFO,
                  "jwks: %d keys for %s (%d skipped), next fetch in %lld s", j->ks->count,
                  s->t->issuer, j->skipped, (long long)s->ttl_s);
        jwks_keyset_unref(s->keys);
        s->keys = j->ks;
        s->busy = false;
        s->failures = 0;
        s->error = NULL;
        metrics.jwks_fetch_ok++;
        schedule(s, s->ttl_s);
        metrics.jwks_failing = jwks_cache_failing();
        answer_waiters(s);
    }
    free(j->body);
    free(j);
}

/* Parses a copy of body on the worker pool. */
static void parse_body(struct source *s, const char *body, size_t len)
{
    struct parse_job *j = calloc(1, sizeof *j);
    char *copy = malloc(len + 1);
    if (!j || !copy) {
        free(j);
        free(copy);
        fetch_failed(s, "out of memory");
        return;
    }
    memcpy(copy, body, len);
    copy[len] = '\0';
    j->s = s;
    j->body = copy;
    j->len = len;
    j->work.run = parse_run;
    j->work.done = parse_done;
    workers_submit(&j->work);
}

static int64_t bounded_ttl(int64_t max_age)
{
    if (max_age < 0)
        return JWKS_TTL_DEFAULT_S;
    return max_age < JWKS_TTL_MIN_S ? JWKS_TTL_MIN_S
                                    : max_age > JWKS_TTL_MAX_S ? JWKS_TTL_MAX_S : max_age;
}

static void fetched(void *arg, const char *body, size_t len, int64_t max_age, const char *err)
{
    struct source *s = arg;
    s->fetch = NULL;
    if (err) {
        fetch_failed(s, err);
        return;
    }
    s->ttl_s = bounded_ttl(max_age);
    parse_body(s, body, len);
}

/* A local file, read whole (it is small and local: no network wait). */
static void read_file(struct source *s)
{
    const char *path = s->t->jwks + 5;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fetch_failed(s, "cannot open the file");
        return;
    }
    char *buf = malloc(JWKS_MAX_BYTES + 1);
    size_t len = 0;
    ssize_t n = 0;
    while (buf && len <= JWKS_MAX_BYTES &&
           (n = read(fd, buf + len, JWKS_MAX_BYTES + 1 - len)) > 0)
        len += (size_t)n;
    close(fd);
    if (!buf || n < 0 || len > JWKS_MAX_BYTES) {
        free(buf);
        fetch_failed(s, !buf ? "out of memory" : n < 0 ? "cannot read the file"
                                                       : "file larger than the cap");
        return;
    }
    s->ttl_s = JWKS_TTL_DEFAULT_S; /* a file is cheap: look again every 5 minutes */
    parse_body(s, buf, len);
    free(buf);
}

static void start_fetch(struct source *s)
{
    lws_sul_cancel(&s->sul);
    s->busy = true;
    if (trust_jwks_is_file(s->t)) {
        read_file(s);
        return;
    }
    s->fetch = jwks_fetch_start(s->t->jwks, JWKS_MAX_BYTES, JWKS_FETCH_TIMEOUT_MS, fetched, s);
    if (!s->fetch)
        fetch_failed(s, "could not start the request");
}

/* ---- the interface ---- */

void jwks_cache_start(const struct trust_issuer *issuers, int n)
{
    if (n <= 0)
        return;
    sources = calloc((size_t)n, sizeof *sources);
    if (!sources) {
        log_error("jwks: out of memory");
        return;
    }
    nsources = n;
    for (int i = 0; i < n; i++) {
        sources[i].t = &issuers[i];
        sources[i].tail = &sources[i].waiters;
        start_fetch(&sources[i]);
    }
}

int jwks_cache_issuer_index(const char *iss)
{
    for (int i = 0; i < nsources; i++)
        if (!strcmp(sources[i].t->issuer, iss))
            return i;
    return -1;
}

const struct trust_issuer *jwks_cache_issuer(int idx)
{
    return idx >= 0 && idx < nsources ? sources[idx].t : NULL;
}

void jwks_cache_lookup(int idx, const char *kid, jwks_lookup_cb cb, void *arg)
{
    if (idx < 0 || idx >= nsources) {
        cb(arg, NULL, NULL);
        return;
    }
    struct source *s = &sources[idx];
    if (jwks_find(s->keys, kid)) {
        answer(s, cb, arg, kid);
        return;
    }
    int64_t now = clock_mono_us() / 1000;
    if (!s->busy) {
        if (s->kid_refetch_ms && now - s->kid_refetch_ms < JWKS_KID_REFETCH_S * 1000) {
            cb(arg, NULL, NULL);
            return;
        }
        s->kid_refetch_ms = now;
        start_fetch(s);
        if (!s->busy) { /* failed at once (a file): the answer is known */
            answer(s, cb, arg, kid);
            return;
        }
    }
    struct waiter *w = s->nwaiters < JWKS_WAITERS_MAX ? calloc(1, sizeof *w) : NULL;
    if (!w) {
        cb(arg, NULL, NULL);
        return;
    }
    w->cb = cb;
    w->arg = arg;
    snprintf(w->kid, sizeof w->kid, "%s", kid);
    *s->tail = w;
    s->tail = &w->next;
    s->nwaiters++;
}

void jwks_cache_health(struct jw *w)
{
    jw_key(w, "jwks");
    jw_arr_open(w);
    for (int i = 0; i < nsources; i++) {
        const struct source *s = &sources[i];
        jw_obj_open(w);
        jw_kv_str(w, "issuer", s->t->issuer);
        jw_kv_int(w, "keys", s->keys ? s->keys->count : 0);
        jw_kv_bool(w, "ok", !s->failures && s->keys);
        jw_kv_int(w, "failures", s->failures);
        if (s->error)
            jw_kv_str(w, "error", s->error);
        jw_obj_close(w);
    }
    jw_arr_close(w);
}

int jwks_cache_failing(void)
{
    int n = 0;
    for (int i = 0; i < nsources; i++)
        n += sources[i].failures > 0;
    return n;
}

/* After workers_stop: no parse job is left to hold a source. */
void jwks_cache_shutdown(void)
{
    for (int i = 0; i < nsources; i++) {
        struct source *s = &sources[i];
        lws_sul_cancel(&s->sul);
        jwks_fetch_cancel(s->fetch);
        s->fetch = NULL;
        s->failures = 1;
        s->error = "shutting down";
        jwks_keyset_unref(s->keys);
        s->keys = NULL;
        answer_waiters(s); /* each gets "no key" */
    }
    free(sources);
    sources = NULL;
    nsources = 0;
}
