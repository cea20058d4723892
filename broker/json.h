/* json.h — strict JSON reading (on top of jsmn) and allocation-light writing.
 *
 * Reading: json_parse() first validates the whole text against RFC 8259
 * grammar (jsmn alone accepts `[1,]`, `{} {}`, `trueX`, `01`, raw control
 * characters; docs/architecture.md, L4), then tokenizes with jsmn. It rejects:
 * a top-level value that is not an object, trailing bytes other than whitespace,
 * nesting deeper than JSON_MAX_DEPTH, more than JSON_MAX_TOKENS tokens,
 * duplicate keys in any object, invalid UTF-8, and lone surrogate escapes.
 * Strings are unescaped on access. */
#ifndef QRLOGIN_JSON_H
#define QRLOGIN_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSMN_HEADER
#include <jsmn.h>
#undef JSMN_HEADER

#define JSON_MAX_TOKENS 128
#define JSON_MAX_DEPTH 8

struct json_doc {
    const char *js;
    size_t len;
    int ntok;
    jsmntok_t tok[JSON_MAX_TOKENS];
};

/* 0 on success, -1 if the text is not one acceptable JSON object. */
int json_parse(struct json_doc *d, const char *js, size_t len);

enum json_rc {
    JSON_OK = 0,
    JSON_MISSING = -1,    /* no such member */
    JSON_WRONG_TYPE = -2, /* member present, other type */
    JSON_TOO_LONG = -3,   /* string does not fit / integer out of range */
};

/* Token index of member `key` of the object at token index `obj` (0 = the
 * top-level object), or -1 if absent. Only direct members are searched. */
int json_member(const struct json_doc *d, int obj, const char *key);

/* Type of the token at index i: 's' string, 'n' number, 'b' bool, 'z' null,
 * 'o' object, 'a' array. */
char json_type(const struct json_doc *d, int i);

/* Unescapes the string member `key` of object `obj` into out (NUL-terminated;
 * a string containing \u0000 is JSON_WRONG_TYPE). *out_len (may be NULL) gets
 * the byte length. */
enum json_rc json_get_str(const struct json_doc *d, int obj, const char *key, char *out,
                          size_t outsz, size_t *out_len);
/* An integral number (no fraction, no exponent) fitting int64. */
enum json_rc json_get_int(const struct json_doc *d, int obj, const char *key, int64_t *out);
enum json_rc json_get_bool(const struct json_doc *d, int obj, const char *key, bool *out);
/* Token index of an object member, or JSON_MISSING / JSON_WRONG_TYPE. */
int json_get_obj(const struct json_doc *d, int obj, const char *key);

/* ---- writing ----
 * The writer appends into one growing heap buffer that starts with `headroom`
 * spare bytes (LWS_PRE for WebSocket sends), so the result is handed to the
 * send queue without a copy. Commas are inserted automatically. Any allocation
 * failure is sticky: jw_finish then returns NULL. */
struct jw {
    char *buf;
    size_t len; /* includes headroom */
    size_t cap;
    size_t headroom;
    int depth;
    bool need_comma[JSON_MAX_DEPTH + 2];
    bool after_key;
    bool oom;
};

void jw_init(struct jw *w, size_t headroom);
void jw_obj_open(struct jw *w);
void jw_obj_close(struct jw *w);
void jw_arr_open(struct jw *w);
void jw_arr_close(struct jw *w);
void jw_key(struct jw *w, const char *key);
void jw_str(struct jw *w, const char *s);             /* escaped */
void jw_strn(struct jw *w, const char *s, size_t n);  /* escaped */
void jw_int(struct jw *w, int64_t v);
void jw_bool(struct jw *w, bool v);
void jw_null(struct jw *w);
void jw_raw(struct jw *w, const char *json, size_t n); /* trusted JSON value */
/* key + value shorthands */
void jw_kv_str(struct jw *w, const char *key, const char *s);
void jw_kv_int(struct jw *w, const char *key, int64_t v);
void jw_kv_bool(struct jw *w, const char *key, bool v);

/* Returns the heap buffer (headroom included, NUL-terminated after the JSON)
 * and sets *json_len to the JSON's length (without headroom), or NULL on OOM
 * (buffer already freed). The caller frees the returned pointer. */
char *jw_finish(struct jw *w, size_t *json_len);
void jw_discard(struct jw *w);

#endif
