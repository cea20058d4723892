/* json.c — strict JSON reading on top of jsmn, and a small JSON writer.
 *
 * jsmn is a tokenizer, not a validator: even with JSMN_STRICT it accepts
 * `[1,]`, `{} {}`, `trueX`, `01`, raw control characters and duplicate keys
 * (docs/architecture.md, L4). Every document from the network therefore first
 * goes through validate_doc(), a small recursive-descent RFC 8259 checker, and
 * only text that passes is handed to jsmn for token positions.
 *
 * Semantics chosen (see also json.h):
 *  - json_get_int: a number with '.', 'e' or 'E' is JSON_WRONG_TYPE even if
 *    its value is integral (1.0, 1e3); an integral number outside int64 is
 *    JSON_TOO_LONG ("integer out of range"). "-0" reads as 0.
 *  - json_get_str: on any error *out is "" (when outsz > 0) and *out_len 0.
 *  - Writer misuse (nesting beyond JSON_MAX_DEPTH, closing at depth 0, a key
 *    right after a key) is sticky like OOM: jw_finish returns NULL, so a
 *    caller bug yields no message rather than malformed or unparseable JSON.
 *    jw_finish also refuses unclosed containers and a dangling key.
 *    After jw_finish the writer is spent (further calls are no-ops).
 *  - jw_str(NULL) writes null. The headroom bytes are zero-filled.
 */

/* The jsmn implementation lives in its header. It must be included here,
 * before json.h, because json.h includes it with JSMN_HEADER and the include
 * guard would then hide the implementation. JSMN_STATIC keeps the symbols
 * private to this file so other users of jsmn cannot clash with them; neither
 * macro changes jsmntok_t (only JSMN_PARENT_LINKS would, and it is never
 * defined). */
#define JSMN_STATIC
#define JSMN_STRICT
#include <jsmn.h>

#include "json.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* shared helpers                                                      */

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Reads exactly 4 hex digits at s[i..i+4) of an n-byte buffer. */
static bool hex4(const unsigned char *s, size_t n, size_t i, unsigned *out)
{
    unsigned v = 0;
    if (i > n || n - i < 4)
        return false;
    for (size_t k = 0; k < 4; k++) {
        int h = hexval(s[i + k]);
        if (h < 0)
            return false;
        v = (v << 4) | (unsigned)h;
    }
    *out = v;
    return true;
}

/* Length of the well-formed UTF-8 sequence at s (n bytes available), or 0.
 * Follows RFC 3629 table 3-7 exactly, so overlongs (C0, C1, E0 80..9F,
 * F0 80..8F), UTF-8-encoded surrogates (ED A0..BF) and code points above
 * U+10FFFF (F4 90.., F5..FF) are all rejected. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    unsigned char lo = 0x80, hi = 0xBF;
    size_t len;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t k = 2; k < len; k++)
        if (s[k] < 0x80 || s[k] > 0xBF)
            return 0;
    return len;
}

static size_t utf8_encode(uint32_t cp, unsigned char out[4])
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | (cp >> 18));
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

static bool is_high_surrogate(unsigned u) { return u >= 0xD800 && u <= 0xDBFF; }
static bool is_low_surrogate(unsigned u) { return u >= 0xDC00 && u <= 0xDFFF; }

/* ------------------------------------------------------------------ */
/* strict validator (RFC 8259)                                          */

struct vstate {
    const unsigned char *s;
    size_t n;
    size_t i;
};

static bool v_value(struct vstate *v, int depth);

static void v_ws(struct vstate *v)
{
    while (v->i < v->n) {
        unsigned char c = v->s[v->i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        v->i++;
    }
}

static bool v_peek(const struct vstate *v, unsigned char c)
{
    return v->i < v->n && v->s[v->i] == c;
}

/* One escape after the backslash (v->i is at the letter). A high surrogate
 * must be immediately followed by an escaped low surrogate; a lone low
 * surrogate is rejected, because neither can become valid UTF-8. */
static bool v_escape(struct vstate *v)
{
    unsigned u, lo;

    if (v->i >= v->n)
        return false;
    switch (v->s[v->i]) {
    case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
        v->i++;
        return true;
    case 'u':
        break;
    default:
        return false;
    }
    if (!hex4(v->s, v->n, v->i + 1, &u))
        return false;
    v->i += 5;
    if (is_low_surrogate(u))
        return false;
    if (!is_high_surrogate(u))
        return true;
    if (v->n - v->i < 6 || v->s[v->i] != '\\' || v->s[v->i + 1] != 'u')
        return false;
    if (!hex4(v->s, v->n, v->i + 2, &lo) || !is_low_surrogate(lo))
        return false;
    v->i += 6;
    return true;
}

static bool v_string(struct vstate *v)
{
    if (!v_peek(v, '"'))
        return false;
    v->i++;
    while (v->i < v->n) {
        unsigned char c = v->s[v->i];
        if (c == '"') {
            v->i++;
            return true;
        }
        if (c < 0x20)
            return false;
        if (c == '\\') {
            v->i++;
            if (!v_escape(v))
                return false;
        } else if (c < 0x80) {
            v->i++;
        } else {
            size_t l = utf8_seq_len(v->s + v->i, v->n - v->i);
            if (l == 0)
                return false;
            v->i += l;
        }
    }
    return false; /* unterminated */
}

static bool v_digits(struct vstate *v)
{
    size_t start = v->i;
    while (v->i < v->n && v->s[v->i] >= '0' && v->s[v->i] <= '9')
        v->i++;
    return v->i > start;
}

/* number = [ "-" ] ( "0" / 1-9 *DIGIT ) [ "." 1*DIGIT ] [ e [ + / - ] 1*DIGIT ]
 * A digit directly after a leading "0" is not consumed here; the caller then
 * sees it where only ',' '}' ']' may stand and rejects `01`. */
static bool v_number(struct vstate *v)
{
    if (v_peek(v, '-'))
        v->i++;
    if (v_peek(v, '0'))
        v->i++;
    else if (!v_digits(v))
        return false;
    if (v_peek(v, '.')) {
        v->i++;
        if (!v_digits(v))
            return false;
    }
    if (v_peek(v, 'e') || v_peek(v, 'E')) {
        v->i++;
        if (v_peek(v, '+') || v_peek(v, '-'))
            v->i++;
        if (!v_digits(v))
            return false;
    }
    return true;
}

static bool v_literal(struct vstate *v, const char *lit)
{
    size_t l = strlen(lit);
    if (v->n - v->i < l || memcmp(v->s + v->i, lit, l) != 0)
        return false;
    v->i += l;
    return true;
}

/* The container being opened sits at `depth` (top-level object = 1). */
static bool v_object(struct vstate *v, int depth)
{
    if (depth > JSON_MAX_DEPTH)
        return false;
    v->i++; /* '{' */
    v_ws(v);
    if (v_peek(v, '}')) {
        v->i++;
        return true;
    }
    for (;;) {
        v_ws(v);
        if (!v_string(v))
            return false;
        v_ws(v);
        if (!v_peek(v, ':'))
            return false;
        v->i++;
        v_ws(v);
        if (!v_value(v, depth))
            return false;
        v_ws(v);
        if (v_peek(v, '}')) {
            v->i++;
            return true;
        }
        if (!v_peek(v, ','))
            return false;
        v->i++;
    }
}

static bool v_array(struct vstate *v, int depth)
{
    if (depth > JSON_MAX_DEPTH)
        return false;
    v->i++; /* '[' */
    v_ws(v);
    if (v_peek(v, ']')) {
        v->i++;
        return true;
    }
    for (;;) {
        v_ws(v);
        if (!v_value(v, depth))
            return false;
        v_ws(v);
        if (v_peek(v, ']')) {
            v->i++;
            return true;
        }
        if (!v_peek(v, ','))
            return false;
        v->i++;
    }
}

/* Recursion is bounded by JSON_MAX_DEPTH through v_object/v_array. */
static bool v_value(struct vstate *v, int depth)
{
    if (v->i >= v->n)
        return false;
    switch (v->s[v->i]) {
    case '{':
        return v_object(v, depth + 1);
    case '[':
        return v_array(v, depth + 1);
    case '"':
        return v_string(v);
    case 't':
        return v_literal(v, "true");
    case 'f':
        return v_literal(v, "false");
    case 'n':
        return v_literal(v, "null");
    default:
        return v_number(v);
    }
}

static bool validate_doc(const char *js, size_t len)
{
    struct vstate v = {(const unsigned char *)js, len, 0};
    v_ws(&v);
    if (!v_peek(&v, '{'))
        return false;
    if (!v_object(&v, 1))
        return false;
    v_ws(&v);
    return v.i == v.n;
}

/* ------------------------------------------------------------------ */
/* unescaping cursor                                                    */

/* Yields the unescaped bytes of a string token one at a time, so keys can be
 * compared (duplicate check, member lookup) without a scratch buffer. */
struct ucur {
    const unsigned char *s;
    size_t i, n;
    unsigned char pend[4];
    size_t np, ip;
};

static void ucur_init(struct ucur *c, const struct json_doc *d, int tok)
{
    c->s = (const unsigned char *)d->js + d->tok[tok].start;
    c->n = (size_t)(d->tok[tok].end - d->tok[tok].start);
    c->i = 0;
    c->np = c->ip = 0;
}

/* Decodes \uXXXX (c->i at the 'u'). Input was validated, but a malformed
 * escape still decodes to U+FFFD instead of reading out of bounds. */
static uint32_t ucur_u(struct ucur *c)
{
    unsigned u, lo;
    if (!hex4(c->s, c->n, c->i + 1, &u)) {
        c->i = c->n;
        return 0xFFFD;
    }
    c->i += 5;
    if (is_high_surrogate(u) && c->n - c->i >= 6 && c->s[c->i] == '\\' &&
        c->s[c->i + 1] == 'u' && hex4(c->s, c->n, c->i + 2, &lo) && is_low_surrogate(lo)) {
        c->i += 6;
        return 0x10000 + (((uint32_t)u - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
    }
    if (is_high_surrogate(u) || is_low_surrogate(u))
        return 0xFFFD;
    return u;
}

static bool ucur_next(struct ucur *c, unsigned char *b)
{
    unsigned char e;

    if (c->ip < c->np) {
        *b = c->pend[c->ip++];
        return true;
    }
    if (c->i >= c->n)
        return false;
    if (c->s[c->i] != '\\') {
        *b = c->s[c->i++];
        return true;
    }
    if (c->i + 1 >= c->n) {
        c->i = c->n;
        return false;
    }
    e = c->s[c->i + 1];
    switch (e) {
    case 'b': *b = '\b'; break;
    case 'f': *b = '\f'; break;
    case 'n': *b = '\n'; break;
    case 'r': *b = '\r'; break;
    case 't': *b = '\t'; break;
    case 'u':
        c->i++;
        c->np = utf8_encode(ucur_u(c), c->pend);
        c->ip = 1;
        *b = c->pend[0];
        return true;
    default: *b = e; break; /* '"', '\\', '/' */
    }
    c->i += 2;
    return true;
}

static bool tok_keys_equal(const struct json_doc *d, int a, int b)
{
    struct ucur ca, cb;
    unsigned char x, y;
    ucur_init(&ca, d, a);
    ucur_init(&cb, d, b);
    for (;;) {
        bool ha = ucur_next(&ca, &x), hb = ucur_next(&cb, &y);
        if (ha != hb)
            return false;
        if (!ha)
            return true;
        if (x != y)
            return false;
    }
}

/* ------------------------------------------------------------------ */
/* token tree                                                           */

static bool tok_ok(const struct json_doc *d, int i)
{
    return d && i >= 0 && i < d->ntok;
}

/* Index just past the subtree rooted at token i. Every token's size counts
 * its direct children (an object's keys, each key's single value), so the
 * subtree ends when all announced children have been visited. */
static int tok_skip(const struct json_doc *d, int i)
{
    long pending = 1;
    while (pending > 0 && i < d->ntok) {
        pending += d->tok[i].size - 1;
        i++;
    }
    return i;
}

static bool object_has_dup_keys(const struct json_doc *d, int obj)
{
    int keys[JSON_MAX_TOKENS];
    int nk = 0, j = obj + 1;

    for (int k = 0; k < d->tok[obj].size && j < d->ntok && nk < JSON_MAX_TOKENS; k++) {
        keys[nk++] = j;
        j = tok_skip(d, j + 1);
    }
    /* At most 63 keys fit in 128 tokens, so quadratic is cheap. */
    for (int a = 0; a < nk; a++)
        for (int b = a + 1; b < nk; b++)
            if (tok_keys_equal(d, keys[a], keys[b]))
                return true;
    return false;
}

int json_parse(struct json_doc *d, const char *js, size_t len)
{
    jsmn_parser p;
    int r;

    d->js = js;
    d->len = len;
    d->ntok = 0;
    /* jsmn keeps offsets in int */
    if (!js || len >= (size_t)INT_MAX)
        return -1;
    if (!validate_doc(js, len))
        return -1;
    jsmn_init(&p);
    r = jsmn_parse(&p, js, len, d->tok, JSON_MAX_TOKENS);
    if (r < 1 || r > JSON_MAX_TOKENS || d->tok[0].type != JSMN_OBJECT)
        return -1; /* JSMN_ERROR_NOMEM: more than JSON_MAX_TOKENS tokens */
    d->ntok = r;
    for (int i = 0; i < r; i++) {
        if (d->tok[i].type == JSMN_OBJECT && object_has_dup_keys(d, i)) {
            d->ntok = 0;
            return -1;
        }
    }
    return 0;
}

int json_member(const struct json_doc *d, int obj, const char *key)
{
    int j;

    if (!tok_ok(d, obj) || !key || d->tok[obj].type != JSMN_OBJECT)
        return -1;
    j = obj + 1;
    for (int k = 0; k < d->tok[obj].size && j + 1 < d->ntok; k++) {
        struct ucur c;
        unsigned char b;
        size_t ki = 0;
        bool match = true;

        ucur_init(&c, d, j);
        while (ucur_next(&c, &b)) {
            if (key[ki] == '\0' || (unsigned char)key[ki] != b) {
                match = false;
                break;
            }
            ki++;
        }
        if (match && key[ki] == '\0')
            return j + 1;
        j = tok_skip(d, j + 1);
    }
    return -1;
}

char json_type(const struct json_doc *d, int i)
{
    if (!tok_ok(d, i))
        return '\0';
    switch (d->tok[i].type) {
    case JSMN_OBJECT: return 'o';
    case JSMN_ARRAY: return 'a';
    case JSMN_STRING: return 's';
    case JSMN_PRIMITIVE:
        switch (d->js[d->tok[i].start]) {
        case 't': case 'f': return 'b';
        case 'n': return 'z';
        default: return 'n';
        }
    default:
        return '\0';
    }
}

enum json_rc json_get_str(const struct json_doc *d, int obj, const char *key, char *out,
                          size_t outsz, size_t *out_len)
{
    int i = json_member(d, obj, key);
    struct ucur c;
    unsigned char b;
    size_t o = 0;
    enum json_rc rc = JSON_OK;

    if (out_len)
        *out_len = 0;
    if (outsz > 0)
        out[0] = '\0';
    if (i < 0)
        return JSON_MISSING;
    if (d->tok[i].type != JSMN_STRING)
        return JSON_WRONG_TYPE;
    ucur_init(&c, d, i);
    while (ucur_next(&c, &b)) {
        if (b == 0) {
            rc = JSON_WRONG_TYPE; /* would be silently truncated as a C string */
            break;
        }
        if (o + 1 >= outsz) {
            rc = JSON_TOO_LONG;
            break;
        }
        out[o++] = (char)b;
    }
    if (rc != JSON_OK) {
        if (outsz > 0)
            out[0] = '\0';
        return rc;
    }
    if (outsz == 0)
        return JSON_TOO_LONG;
    out[o] = '\0';
    if (out_len)
        *out_len = o;
    return JSON_OK;
}

enum json_rc json_get_int(const struct json_doc *d, int obj, const char *key, int64_t *out)
{
    int i = json_member(d, obj, key);
    const char *s;
    size_t n, k = 0;
    bool neg = false;
    uint64_t v = 0, limit;

    if (i < 0)
        return JSON_MISSING;
    if (json_type(d, i) != 'n')
        return JSON_WRONG_TYPE;
    s = d->js + d->tok[i].start;
    n = (size_t)(d->tok[i].end - d->tok[i].start);
    if (n > 0 && s[0] == '-') {
        neg = true;
        k = 1;
    }
    if (k >= n)
        return JSON_WRONG_TYPE;
    /* Fraction/exponent first: 1e999 is "not an integer", not "too big". */
    for (size_t m = k; m < n; m++)
        if (s[m] < '0' || s[m] > '9')
            return JSON_WRONG_TYPE;
    limit = neg ? (uint64_t)INT64_MAX + 1u : (uint64_t)INT64_MAX;
    for (; k < n; k++) {
        unsigned dgt = (unsigned)(s[k] - '0');
        if (v > (limit - dgt) / 10)
            return JSON_TOO_LONG;
        v = v * 10 + dgt;
    }
    if (neg)
        *out = v == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)v;
    else
        *out = (int64_t)v;
    return JSON_OK;
}

enum json_rc json_get_bool(const struct json_doc *d, int obj, const char *key, bool *out)
{
    int i = json_member(d, obj, key);
    if (i < 0)
        return JSON_MISSING;
    if (json_type(d, i) != 'b')
        return JSON_WRONG_TYPE;
    *out = d->js[d->tok[i].start] == 't';
    return JSON_OK;
}

int json_get_obj(const struct json_doc *d, int obj, const char *key)
{
    int i = json_member(d, obj, key);
    if (i < 0)
        return JSON_MISSING;
    if (d->tok[i].type != JSMN_OBJECT)
        return JSON_WRONG_TYPE;
    return i;
}

/* ------------------------------------------------------------------ */
/* writer                                                               */

#define JW_INITIAL_CAP 256

static void jw_fail(struct jw *w)
{
    w->oom = true;
}

/* Makes room for n more bytes plus the final NUL. */
static bool jw_reserve(struct jw *w, size_t n)
{
    size_t need, cap;
    char *nb;

    if (w->oom)
        return false;
    if (n > SIZE_MAX / 4 - w->len) {
        jw_fail(w);
        return false;
    }
    need = w->len + n + 1;
    if (need <= w->cap)
        return true;
    cap = w->cap ? w->cap : JW_INITIAL_CAP;
    while (cap < need)
        cap *= 2; /* bounded: need < SIZE_MAX / 4 */
    nb = realloc(w->buf, cap);
    if (!nb) {
        jw_fail(w);
        return false;
    }
    w->buf = nb;
    w->cap = cap;
    return true;
}

static void jw_put(struct jw *w, const void *p, size_t n)
{
    if (!jw_reserve(w, n))
        return;
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

static void jw_putc(struct jw *w, char c)
{
    jw_put(w, &c, 1);
}

/* Emits the separating comma a value needs, unless it follows a key. */
static void jw_before_value(struct jw *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (w->depth == 0 && w->need_comma[0]) {
        jw_fail(w); /* a second top-level value is not one JSON text */
        return;
    }
    if (w->need_comma[w->depth])
        jw_putc(w, ',');
    w->need_comma[w->depth] = true;
}

void jw_init(struct jw *w, size_t headroom)
{
    memset(w, 0, sizeof(*w));
    w->headroom = headroom;
    if (!jw_reserve(w, headroom))
        return;
    memset(w->buf, 0, headroom);
    w->len = headroom;
}

static void jw_open(struct jw *w, char c)
{
    if (w->oom)
        return;
    if (w->depth >= JSON_MAX_DEPTH) {
        jw_fail(w); /* json_parse would reject the result anyway */
        return;
    }
    jw_before_value(w);
    jw_putc(w, c);
    w->depth++;
    w->need_comma[w->depth] = false;
}

static void jw_close(struct jw *w, char c)
{
    if (w->oom)
        return;
    if (w->depth <= 0 || w->after_key) {
        jw_fail(w);
        return;
    }
    w->depth--;
    jw_putc(w, c);
}

void jw_obj_open(struct jw *w) { jw_open(w, '{'); }
void jw_obj_close(struct jw *w) { jw_close(w, '}'); }
void jw_arr_open(struct jw *w) { jw_open(w, '['); }
void jw_arr_close(struct jw *w) { jw_close(w, ']'); }

static void jw_put_u(struct jw *w, unsigned u)
{
    char tmp[8];
    snprintf(tmp, sizeof(tmp), "\\u%04x", u & 0xFFFFu);
    jw_put(w, tmp, 6);
}

/* Escapes one ASCII byte; returns false if it can go out verbatim. */
static bool jw_escape_ascii(struct jw *w, unsigned char c)
{
    const char *e = NULL;
    switch (c) {
    case '"': e = "\\\""; break;
    case '\\': e = "\\\\"; break;
    case '\b': e = "\\b"; break;
    case '\f': e = "\\f"; break;
    case '\n': e = "\\n"; break;
    case '\r': e = "\\r"; break;
    case '\t': e = "\\t"; break;
    default:
        if (c < 0x20) {
            jw_put_u(w, c);
            return true;
        }
        return false;
    }
    jw_put(w, e, 2);
    return true;
}

/* Writes s as a JSON string. Invalid UTF-8 bytes become U+FFFD one by one so
 * the output is always valid JSON; U+2028/U+2029 are escaped because they end
 * a line in pre-ES2019 JavaScript. */
static void jw_put_string(struct jw *w, const unsigned char *s, size_t n)
{
    static const unsigned char fffd[3] = {0xEF, 0xBF, 0xBD};
    size_t i = 0;

    jw_putc(w, '"');
    while (i < n && !w->oom) {
        unsigned char c = s[i];
        size_t l;
        /* Fast path: a run of printable ASCII that needs no escape is copied
         * at once (QR SVGs and tokens are almost all such bytes). */
        size_t run = 0;
        while (i + run < n && s[i + run] >= 0x20 && s[i + run] < 0x7F && s[i + run] != '"' &&
               s[i + run] != '\\')
            run++;
        if (run) {
            jw_put(w, s + i, run);
            i += run;
            continue;
        }
        if (c < 0x80) {
            if (!jw_escape_ascii(w, c))
                jw_putc(w, (char)c);
            i++;
            continue;
        }
        l = utf8_seq_len(s + i, n - i);
        if (l == 0) {
            jw_put(w, fffd, sizeof(fffd));
            i++;
        } else if (l == 3 && c == 0xE2 && s[i + 1] == 0x80 && (s[i + 2] == 0xA8 || s[i + 2] == 0xA9)) {
            jw_put_u(w, s[i + 2] == 0xA8 ? 0x2028u : 0x2029u);
            i += 3;
        } else {
            jw_put(w, s + i, l);
            i += l;
        }
    }
    jw_putc(w, '"');
}

void jw_key(struct jw *w, const char *key)
{
    if (w->oom)
        return;
    if (w->after_key || w->depth <= 0 || !key) {
        jw_fail(w);
        return;
    }
    jw_before_value(w);
    jw_put_string(w, (const unsigned char *)key, strlen(key));
    jw_putc(w, ':');
    w->after_key = true;
}

void jw_strn(struct jw *w, const char *s, size_t n)
{
    if (w->oom)
        return;
    if (!s && n > 0) {
        jw_fail(w);
        return;
    }
    jw_before_value(w);
    jw_put_string(w, (const unsigned char *)(s ? s : ""), n);
}

void jw_str(struct jw *w, const char *s)
{
    if (!s) {
        jw_null(w); /* a missing string is written as null, not a crash */
        return;
    }
    jw_strn(w, s, strlen(s));
}

void jw_int(struct jw *w, int64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof(tmp), "%" PRId64, v);
    if (w->oom)
        return;
    jw_before_value(w);
    jw_put(w, tmp, (size_t)n);
}

void jw_bool(struct jw *w, bool v)
{
    if (w->oom)
        return;
    jw_before_value(w);
    if (v)
        jw_put(w, "true", 4);
    else
        jw_put(w, "false", 5);
}

void jw_null(struct jw *w)
{
    if (w->oom)
        return;
    jw_before_value(w);
    jw_put(w, "null", 4);
}

void jw_raw(struct jw *w, const char *json, size_t n)
{
    if (w->oom)
        return;
    if (!json || n == 0) {
        jw_fail(w); /* an empty value would leave `"k":}` behind */
        return;
    }
    jw_before_value(w);
    jw_put(w, json, n);
}

void jw_kv_str(struct jw *w, const char *key, const char *s)
{
    jw_key(w, key);
    jw_str(w, s);
}

void jw_kv_int(struct jw *w, const char *key, int64_t v)
{
    jw_key(w, key);
    jw_int(w, v);
}

void jw_kv_bool(struct jw *w, const char *key, bool v)
{
    jw_key(w, key);
    jw_bool(w, v);
}

char *jw_finish(struct jw *w, size_t *json_len)
{
    char *out;

    if (json_len)
        *json_len = 0;
    /* Unclosed containers or a dangling key would be malformed output. */
    if (!w->oom && (w->depth != 0 || w->after_key))
        jw_fail(w);
    if (!w->oom)
        jw_reserve(w, 0);
    if (w->oom) {
        jw_discard(w);
        w->oom = true;
        return NULL;
    }
    w->buf[w->len] = '\0';
    if (json_len)
        *json_len = w->len - w->headroom;
    out = w->buf;
    w->buf = NULL;
    w->len = w->cap = 0;
    w->oom = true; /* spent: further use must not hand out a second buffer */
    return out;
}

void jw_discard(struct jw *w)
{
    free(w->buf);
    w->buf = NULL;
    w->len = w->cap = 0;
    w->depth = 0;
    w->after_key = false;
}
