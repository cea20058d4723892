/* qrl_json.h — the client's own small JSON reader (on jsmn) and writer.
 *
 * The library stands alone (it does not link the broker), so it carries its
 * own. Reading is for frames from the broker: one object, tokens allocated to
 * fit (bounded by QJ_MAX_TOKENS), strings unescaped on access. Writing builds
 * request bodies with every string escaped. */
#ifndef QRL_JSON_H
#define QRL_JSON_H

#include <stddef.h>
#include <stdint.h>

/* A frame of the broker's is at most a few hundred tokens; a long session
 * list may be more. Past this the frame is refused, not truncated. */
#define QJ_MAX_TOKENS 16384

struct qj {
    const char *js;
    size_t len;
    void *tok; /* jsmn's tokens; jsmn is compiled (static) into qrl_json.c only,
                * so the library exports none of its symbols */
    int ntok;
};

/* 0 when js[0..len) is one JSON object (and only whitespace after it), -1
 * otherwise. On 0, qj_free() releases the tokens. */
int qj_parse(struct qj *d, const char *js, size_t len);
void qj_free(struct qj *d);

/* Token index of member `key` of the object at index obj, or -1. */
int qj_member(const struct qj *d, int obj, const char *key);
/* Token index at a dotted path from the top object ("user.name",
 * "sessions.0.kind"), or -1. */
int qj_path(const struct qj *d, const char *path);

/* Unescaped string at token i into out (NUL-terminated). -1 if i is not a
 * string, holds \u0000 or a broken escape, or does not fit. */
int qj_str(const struct qj *d, int i, char *out, size_t size);
/* An integer (no fraction or exponent, fits int64) or true/false at token i. */
int qj_int(const struct qj *d, int i, int64_t *out);
/* The index just past the value at token i (and all it contains). */
int qj_next(const struct qj *d, int i);
/* The raw text of token i (a string without its quotes, escapes as they are). */
void qj_raw(const struct qj *d, int i, const char **p, size_t *n);
/* Members of an object or elements of an array at token i. */
int qj_size(const struct qj *d, int i, int *out);
/* Shorthands on top-level members: 0 found, -1 absent or not that type. */
int qj_get_str(const struct qj *d, const char *key, char *out, size_t size);
int qj_get_int(const struct qj *d, const char *key, int64_t *out);

/* ---- writing ---- */

struct qjw {
    char *p;
    size_t len, cap;
    int oom;
};

/* Starts "{\"type\":\"<type>\"". */
void qjw_begin(struct qjw *w, const char *type);
void qjw_str(struct qjw *w, const char *key, const char *val);
void qjw_int(struct qjw *w, const char *key, int64_t val);
/* "key":{"sub":"val"} */
void qjw_nested_str(struct qjw *w, const char *key, const char *sub, const char *val);
/* Appends raw text (already JSON). */
void qjw_raw(struct qjw *w, const char *text);
/* Closes the object; returns the text (owned by the caller) or NULL on OOM. */
char *qjw_end(struct qjw *w);

#endif
