/* msg.h — just enough of the broker's replies to drive the protocol.
 *
 * The bench trusts the broker's JSON (it is the system under test, not an
 * attacker) and only needs a handful of top-level string members, so it
 * tokenizes with plain jsmn and reads members in place, without unescaping:
 * every value it uses (type, ticket, tokens, error code) is base64url or a
 * plain ASCII word. Keeping this cheap matters: the bench shares two cores
 * with the broker, and every microsecond it burns is one the broker loses. */
#ifndef QRLOGIN_BENCH_MSG_H
#define QRLOGIN_BENCH_MSG_H

#include <stdbool.h>
#include <stddef.h>

#define JSMN_HEADER
#include <jsmn.h>
#undef JSMN_HEADER

#define MSG_MAX_TOKENS 96

struct msg {
    const char *js;
    int ntok;
    jsmntok_t tok[MSG_MAX_TOKENS];
};

/* 0 if js is a JSON object jsmn could tokenize, else -1. */
int msg_parse(struct msg *m, const char *js, size_t len);
/* Top-level string member key: pointer into js and length, or NULL. */
const char *msg_str(const struct msg *m, const char *key, size_t *len);
/* Does top-level member key equal the string s? */
bool msg_is(const struct msg *m, const char *key, const char *s);
/* Copies a top-level string member into out (NUL-terminated). 0, or -1 if
 * absent or too long. */
int msg_copy(const struct msg *m, const char *key, char *out, size_t outsz);

#endif
