/* qrl_json.c — see qrl_json.h. */
#include "qrl_json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSMN_STATIC
#define JSMN_STRICT
#include <jsmn.h>

#define TOK(d) ((jsmntok_t *)(d)->tok)

/* ---- grammar ----
 *
 * jsmn tokenizes but does not validate: even strict, it takes `"a""b"`,
 * `[1,]`, `01` or `trueX`, and an object whose sizes then disagree with its
 * tokens. The text is first checked against RFC 8259's grammar (nesting
 * bounded), so that jsmn only ever sees well-formed JSON. */

#define QJ_MAX_DEPTH 32

struct cur {
    const char *p, *end;
};

static void ws(struct cur *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int lit(struct cur *c, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n))
        return -1;
    c->p += n;
    return 0;
}

static int digits(struct cur *c)
{
    const char *start = c->p;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
        c->p++;
    return c->p > start ? 0 : -1;
}

static int number(struct cur *c)
{
    if (c->p < c->end && *c->p == '-')
        c->p++;
    if (c->p < c->end && *c->p == '0')
        c->p++;
    else if (digits(c))
        return -1;
    if (c->p < c->end && *c->p == '.') {
        c->p++;
        if (digits(c))
            return -1;
    }
    if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
        c->p++;
        if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
            c->p++;
        if (digits(c))
            return -1;
    }
    return 0;
}

static int string(struct cur *c)
{
    if (c->p >= c->end || *c->p != '"')
        return -1;
    for (c->p++; c->p < c->end; c->p++) {
        unsigned char ch = (unsigned char)*c->p;
        if (ch == '"') {
            c->p++;
            return 0;
        }
        if (ch < 0x20)
            return -1;
        if (ch != '\\')
            continue;
        if (++c->p >= c->end)
            return -1;
        if (*c->p == 'u') {
            for (int k = 0; k < 4; k++) {
                if (++c->p >= c->end || !strchr("0123456789abcdefABCDEF", *c->p) || !*c->p)
                    return -1;
            }
        } else if (!strchr("\"\\/bfnrt", *c->p) || !*c->p) {
            return -1;
        }
    }
    return -1;
}

static int value(struct cur *c, int depth);

static int container(struct cur *c, int depth, char close, int object)
{
    if (depth >= QJ_MAX_DEPTH)
        return -1;
    c->p++;
    ws(c);
    if (c->p < c->end && *c->p == close) {
        c->p++;
        return 0;
    }
    for (;;) {
        if (object) {
            if (string(c))
                return -1;
            ws(c);
            if (c->p >= c->end || *c->p++ != ':')
                return -1;
        }
        if (value(c, depth + 1))
            return -1;
        ws(c);
        if (c->p >= c->end)
            return -1;
        if (*c->p == close) {
            c->p++;
            return 0;
        }
        if (*c->p++ != ',')
            return -1;
        ws(c);
    }
}

static int value(struct cur *c, int depth)
{
    ws(c);
    if (c->p >= c->end)
        return -1;
    switch (*c->p) {
    case '{': return container(c, depth, '}', 1);
    case '[': return container(c, depth, ']', 0);
    case '"': return string(c);
    case 't': return lit(c, "true");
    case 'f': return lit(c, "false");
    case 'n': return lit(c, "null");
    default: return number(c);
    }
}

/* One object and nothing but whitespace after it. */
static int well_formed(const char *js, size_t len)
{
    struct cur c = {js, js + len};
    ws(&c);
    if (c.p >= c.end || *c.p != '{' || value(&c, 0))
        return -1;
    ws(&c);
    return c.p == c.end ? 0 : -1;
}

int qj_parse(struct qj *d, const char *js, size_t len)
{
    memset(d, 0, sizeof *d);
    if (!js || len == 0 || well_formed(js, len))
        return -1;
    jsmn_parser p;
    jsmn_init(&p);
    int n = jsmn_parse(&p, js, len, NULL, 0);
    if (n <= 0 || n > QJ_MAX_TOKENS)
        return -1;
    jsmntok_t *tok = calloc((size_t)n, sizeof *tok);
    if (!tok)
        return -1;
    jsmn_init(&p);
    int got = jsmn_parse(&p, js, len, tok, (unsigned)n);
    if (got <= 0 || tok[0].type != JSMN_OBJECT) {
        free(tok);
        return -1;
    }
    d->js = js;
    d->len = len;
    d->tok = tok;
    d->ntok = got;
    return 0;
}

void qj_free(struct qj *d)
{
    free(d->tok);
    d->tok = NULL;
    d->ntok = 0;
}

/* Index just past the subtree rooted at i. */
static int skip(const struct qj *d, int i)
{
    const jsmntok_t *t = TOK(d);
    int pending = 1;
    while (pending > 0 && i < d->ntok) {
        if (t[i].type == JSMN_OBJECT)
            pending += 2 * t[i].size; /* each member: a key and a value */
        else if (t[i].type == JSMN_ARRAY)
            pending += t[i].size;
        pending--;
        i++;
    }
    return i;
}

static int key_is(const struct qj *d, int i, const char *key, size_t klen)
{
    const jsmntok_t *t = &TOK(d)[i];
    size_t n = (size_t)(t->end - t->start);
    /* Keys with escapes never match: none of ours needs one. */
    return t->type == JSMN_STRING && n == klen && !memcmp(d->js + t->start, key, n);
}

static int member_n(const struct qj *d, int obj, const char *key, size_t klen)
{
    const jsmntok_t *t = TOK(d);
    if (obj < 0 || obj >= d->ntok || t[obj].type != JSMN_OBJECT)
        return -1;
    int i = obj + 1;
    for (int m = 0; m < t[obj].size && i + 1 < d->ntok; m++) {
        if (key_is(d, i, key, klen))
            return i + 1;
        i = skip(d, i + 1);
    }
    return -1;
}

int qj_member(const struct qj *d, int obj, const char *key)
{
    return member_n(d, obj, key, strlen(key));
}

static int element(const struct qj *d, int arr, long index)
{
    const jsmntok_t *t = TOK(d);
    if (arr < 0 || arr >= d->ntok || t[arr].type != JSMN_ARRAY || index < 0 ||
        index >= t[arr].size)
        return -1;
    int i = arr + 1;
    for (long k = 0; k < index && i < d->ntok; k++)
        i = skip(d, i);
    return i < d->ntok ? i : -1;
}

int qj_path(const struct qj *d, const char *path)
{
    int at = 0;
    const char *s = path;
    while (at >= 0 && *s) {
        const char *dot = strchr(s, '.');
        size_t n = dot ? (size_t)(dot - s) : strlen(s);
        if (TOK(d)[at].type == JSMN_ARRAY) {
            char *end;
            errno = 0;
            long idx = strtol(s, &end, 10);
            if (n == 0 || end != s + n || errno)
                return -1;
            at = element(d, at, idx);
        } else {
            at = member_n(d, at, s, n);
        }
        s += n;
        if (*s == '.')
            s++;
    }
    return at;
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        char c = p[k];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* Appends code point cp as UTF-8; -1 when it does not fit. */
static int put_utf8(char *out, size_t size, size_t *o, unsigned cp)
{
    char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        b[0] = (char)(0xF0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    if (*o + n >= size)
        return -1;
    memcpy(out + *o, b, n);
    *o += n;
    return 0;
}

int qj_str(const struct qj *d, int i, char *out, size_t size)
{
    if (i < 0 || i >= d->ntok || TOK(d)[i].type != JSMN_STRING || size == 0)
        return -1;
    const char *p = d->js + TOK(d)[i].start, *end = d->js + TOK(d)[i].end;
    size_t o = 0;
    while (p < end) {
        unsigned cp;
        if (*p != '\\') {
            if (o + 1 >= size)
                return -1;
            out[o++] = *p++;
            continue;
        }
        if (++p >= end)
            return -1;
        switch (*p++) {
        case '"': cp = '"'; break;
        case '\\': cp = '\\'; break;
        case '/': cp = '/'; break;
        case 'b': cp = '\b'; break;
        case 'f': cp = '\f'; break;
        case 'n': cp = '\n'; break;
        case 'r': cp = '\r'; break;
        case 't': cp = '\t'; break;
        case 'u':
            if (end - p < 4 || hex4(p, &cp))
                return -1;
            p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) { /* a surrogate pair */
                unsigned lo;
                if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, &lo) ||
                    lo < 0xDC00 || lo > 0xDFFF)
                    return -1;
                p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if ((cp >= 0xDC00 && cp <= 0xDFFF) || cp == 0) {
                return -1; /* a lone low surrogate, or a NUL a C string cannot hold */
            }
            break;
        default:
            return -1;
        }
        if (put_utf8(out, size, &o, cp))
            return -1;
    }
    out[o] = '\0';
    return 0;
}

int qj_int(const struct qj *d, int i, int64_t *out)
{
    if (i < 0 || i >= d->ntok || TOK(d)[i].type != JSMN_PRIMITIVE)
        return -1;
    const char *p = d->js + TOK(d)[i].start;
    size_t n = (size_t)(TOK(d)[i].end - TOK(d)[i].start);
    if (n == 4 && !memcmp(p, "true", 4)) {
        *out = 1;
        return 0;
    }
    if (n == 5 && !memcmp(p, "false", 5)) {
        *out = 0;
        return 0;
    }
    char buf[24];
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, p, n);
    buf[n] = '\0';
    char *e;
    errno = 0;
    long long v = strtoll(buf, &e, 10);
    if (*e || errno)
        return -1;
    *out = v;
    return 0;
}

int qj_next(const struct qj *d, int i)
{
    return skip(d, i);
}

void qj_raw(const struct qj *d, int i, const char **p, size_t *n)
{
    *p = d->js + TOK(d)[i].start;
    *n = (size_t)(TOK(d)[i].end - TOK(d)[i].start);
}

int qj_size(const struct qj *d, int i, int *out)
{
    if (i < 0 || i >= d->ntok ||
        (TOK(d)[i].type != JSMN_OBJECT && TOK(d)[i].type != JSMN_ARRAY))
        return -1;
    *out = TOK(d)[i].size;
    return 0;
}

int qj_get_str(const struct qj *d, const char *key, char *out, size_t size)
{
    return qj_str(d, qj_member(d, 0, key), out, size);
}

int qj_get_int(const struct qj *d, const char *key, int64_t *out)
{
    return qj_int(d, qj_member(d, 0, key), out);
}

/* ---- writing ---- */

static void put(struct qjw *w, const char *s, size_t n)
{
    if (w->oom)
        return;
    if (w->len + n + 1 > w->cap) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap < w->len + n + 1)
            cap *= 2;
        char *p = realloc(w->p, cap);
        if (!p) {
            w->oom = 1;
            return;
        }
        w->p = p;
        w->cap = cap;
    }
    memcpy(w->p + w->len, s, n);
    w->len += n;
    w->p[w->len] = '\0';
}

static void put_quoted(struct qjw *w, const char *s)
{
    put(w, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            put(w, esc, 2);
        } else if (*p < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", *p);
            put(w, esc, 6);
        } else {
            put(w, (const char *)p, 1);
        }
    }
    put(w, "\"", 1);
}

void qjw_begin(struct qjw *w, const char *type)
{
    memset(w, 0, sizeof *w);
    put(w, "{", 1);
    qjw_str(w, "type", type);
}

static void key(struct qjw *w, const char *k)
{
    if (w->len > 1)
        put(w, ",", 1);
    put_quoted(w, k);
    put(w, ":", 1);
}

void qjw_str(struct qjw *w, const char *k, const char *val)
{
    key(w, k);
    put_quoted(w, val ? val : "");
}

void qjw_int(struct qjw *w, const char *k, int64_t val)
{
    char b[24];
    int n = snprintf(b, sizeof b, "%lld", (long long)val);
    key(w, k);
    put(w, b, (size_t)n);
}

void qjw_nested_str(struct qjw *w, const char *k, const char *sub, const char *val)
{
    key(w, k);
    put(w, "{", 1);
    put_quoted(w, sub);
    put(w, ":", 1);
    put_quoted(w, val ? val : "");
    put(w, "}", 1);
}

void qjw_raw(struct qjw *w, const char *text)
{
    put(w, text, strlen(text));
}

char *qjw_end(struct qjw *w)
{
    put(w, "}", 1);
    if (w->oom) {
        free(w->p);
        return NULL;
    }
    return w->p;
}
