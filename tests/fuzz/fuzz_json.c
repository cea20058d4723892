/* fuzz_json.c — libFuzzer target for broker/json.c.
 *
 * For every accepted document: each object's members are looked up again by
 * their key (unescaped here by an independent decoder, so json_member and the
 * duplicate-key check are cross-checked), every value is read with the typed
 * getters, and the strings found are written back with jw_* — the result
 * must re-parse and give the same strings. The raw input is also written as
 * one string (exercising U+FFFD replacement) and must re-parse. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "fuzz_check.h"


#define MAX_STRS 60 /* 1 object + "raw" pair + 2 tokens per string stays <= 128 */

static int hexv(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static unsigned hex4_at(const char *s)
{
    unsigned v = 0;
    for (int k = 0; k < 4; k++)
        v = v << 4 | (unsigned)hexv(s[k]);
    return v;
}

static size_t put_utf8(unsigned cp, char *o)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Reference unescaper for an already validated string token; out must hold
 * the escaped length + 1. Returns the length, with *has_nul set for \u0000. */
static size_t ref_unescape(const char *s, size_t n, char *out, int *has_nul)
{
    size_t i = 0, o = 0;
    *has_nul = 0;
    while (i < n) {
        if (s[i] != '\\') {
            out[o++] = s[i++];
            continue;
        }
        char e = s[i + 1];
        i += 2;
        switch (e) {
        case 'b': out[o++] = '\b'; break;
        case 'f': out[o++] = '\f'; break;
        case 'n': out[o++] = '\n'; break;
        case 'r': out[o++] = '\r'; break;
        case 't': out[o++] = '\t'; break;
        case 'u': {
            unsigned cp = hex4_at(s + i);
            i += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) { /* validated: a low one follows */
                unsigned lo = hex4_at(s + i + 2);
                i += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            if (cp == 0)
                *has_nul = 1;
            o += put_utf8(cp, out + o);
            break;
        }
        default: out[o++] = e; break;
        }
    }
    out[o] = '\0';
    return o;
}

static int skip(const struct json_doc *d, int i)
{
    int pending = 1;
    while (pending > 0 && i < d->ntok) {
        pending += d->tok[i].size - 1;
        i++;
    }
    return i;
}

struct collected {
    char *s[MAX_STRS];
    size_t n;
};

static void check_value(const struct json_doc *d, int obj, const char *key, int v,
                        struct collected *col)
{
    char t = json_type(d, v);
    size_t tl = (size_t)(d->tok[v].end - d->tok[v].start);
    int64_t iv;
    bool bv;

    if (t == 's') {
        char *buf = malloc(tl + 1), small[4];
        size_t len = 0;
        enum json_rc rc;
        int nul;
        char *ref = malloc(tl * 2 + 8);
        CHECK(buf && ref);
        size_t rl = ref_unescape(d->js + d->tok[v].start, tl, ref, &nul);
        rc = json_get_str(d, obj, key, buf, tl + 1, &len);
        if (nul) {
            CHECK(rc == JSON_WRONG_TYPE);
        } else {
            CHECK(rc == JSON_OK);
            CHECK(len == rl && memcmp(buf, ref, rl) == 0);
            rc = json_get_str(d, obj, key, small, sizeof(small), &len);
            CHECK(rc == (rl < sizeof(small) ? JSON_OK : JSON_TOO_LONG));
            if (col->n < MAX_STRS)
                col->s[col->n++] = strdup(buf);
        }
        free(ref);
        free(buf);
    } else if (t == 'n') {
        enum json_rc rc = json_get_int(d, obj, key, &iv);
        CHECK(rc == JSON_OK || rc == JSON_TOO_LONG || rc == JSON_WRONG_TYPE);
        if (rc == JSON_OK) {
            char tmp[32];
            snprintf(tmp, sizeof(tmp), "%lld", (long long)iv);
            /* -0 is the only integral spelling that does not print back */
            CHECK((tl == strlen(tmp) && memcmp(tmp, d->js + d->tok[v].start, tl) == 0) ||
                  (iv == 0 && tl == 2));
        }
    } else if (t == 'b') {
        CHECK(json_get_bool(d, obj, key, &bv) == JSON_OK);
        CHECK(bv == (d->js[d->tok[v].start] == 't'));
    } else if (t == 'o') {
        CHECK(json_get_obj(d, obj, key) == v);
    } else {
        CHECK(t == 'a' || t == 'z');
        CHECK(json_get_obj(d, obj, key) == JSON_WRONG_TYPE);
    }
}

static void walk_object(const struct json_doc *d, int obj, struct collected *col)
{
    int j = obj + 1;
    for (int k = 0; k < d->tok[obj].size; k++) {
        size_t kl = (size_t)(d->tok[j].end - d->tok[j].start);
        char *key = malloc(kl * 2 + 8);
        int nul;
        CHECK(key);
        CHECK(json_type(d, j) == 's');
        ref_unescape(d->js + d->tok[j].start, kl, key, &nul);
        if (!nul) {
            /* keys are unique, so the lookup must land on this very member */
            CHECK(json_member(d, obj, key) == j + 1);
            check_value(d, obj, key, j + 1, col);
        }
        free(key);
        j = skip(d, j + 1);
    }
}

static void rewrite(const struct collected *col, const uint8_t *data, size_t size)
{
    struct json_doc d2;
    struct jw w;
    size_t len;
    char *out, key[16], *buf;

    jw_init(&w, 16);
    jw_obj_open(&w);
    jw_key(&w, "raw");
    jw_strn(&w, (const char *)data, size);
    for (size_t i = 0; i < col->n; i++) {
        snprintf(key, sizeof(key), "k%zu", i);
        jw_kv_str(&w, key, col->s[i]);
    }
    jw_obj_close(&w);
    out = jw_finish(&w, &len);
    CHECK(out);
    CHECK(strlen(out + 16) == len);
    CHECK(json_parse(&d2, out + 16, len) == 0);
    for (size_t i = 0; i < col->n; i++) {
        size_t sl = strlen(col->s[i]), gl;
        buf = malloc(sl + 1);
        CHECK(buf);
        snprintf(key, sizeof(key), "k%zu", i);
        CHECK(json_get_str(&d2, 0, key, buf, sl + 1, &gl) == JSON_OK);
        CHECK(gl == sl && memcmp(buf, col->s[i], sl) == 0);
        free(buf);
    }
    /* invalid bytes grow 1 -> 3, so 3x + 1 always fits */
    buf = malloc(size * 3 + 1);
    CHECK(buf);
    {
        enum json_rc rc = json_get_str(&d2, 0, "raw", buf, size * 3 + 1, NULL);
        CHECK(rc == JSON_OK || (rc == JSON_WRONG_TYPE && memchr(data, 0, size)));
    }
    free(buf);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct json_doc d;
    struct collected col = {.n = 0};

    if (json_parse(&d, (const char *)data, size) != 0) {
        CHECK(d.ntok == 0);
        col.n = 0;
        rewrite(&col, data, size); /* rejected input still writes valid JSON */
        return 0;
    }
    CHECK(d.ntok >= 1 && d.ntok <= JSON_MAX_TOKENS && json_type(&d, 0) == 'o');
    for (int i = 0; i < d.ntok; i++)
        if (json_type(&d, i) == 'o')
            walk_object(&d, i, &col);
    rewrite(&col, data, size);
    for (size_t i = 0; i < col.n; i++)
        free(col.s[i]);
    return 0;
}
