/* msg.c — see msg.h. The one translation unit that holds jsmn's code. */
#include <jsmn.h>

#include "msg.h"

#include <string.h>

int msg_parse(struct msg *m, const char *js, size_t len)
{
    jsmn_parser p;
    jsmn_init(&p);
    m->js = js;
    m->ntok = jsmn_parse(&p, js, len, m->tok, MSG_MAX_TOKENS);
    if (m->ntok < 1 || m->tok[0].type != JSMN_OBJECT)
        return -1;
    return 0;
}

/* Index just past the subtree that starts at token i. */
static int skip(const struct msg *m, int i)
{
    int pending = 1;
    while (pending && i < m->ntok) {
        /* jsmn's size counts direct children: members of an object (each
         * key then owns its value as its one child), elements of an array. */
        pending += m->tok[i].size;
        pending--;
        i++;
    }
    return i;
}

const char *msg_str(const struct msg *m, const char *key, size_t *len)
{
    size_t klen = strlen(key);
    int i = 1;
    for (int k = 0; k < m->tok[0].size && i + 1 < m->ntok; k++) {
        const jsmntok_t *kt = &m->tok[i], *vt = &m->tok[i + 1];
        if (kt->type == JSMN_STRING && (size_t)(kt->end - kt->start) == klen &&
            !memcmp(m->js + kt->start, key, klen)) {
            if (vt->type != JSMN_STRING)
                return NULL;
            *len = (size_t)(vt->end - vt->start);
            return m->js + vt->start;
        }
        i = skip(m, i + 1);
    }
    return NULL;
}

bool msg_is(const struct msg *m, const char *key, const char *s)
{
    size_t n;
    const char *v = msg_str(m, key, &n);
    return v && n == strlen(s) && !memcmp(v, s, n);
}

int msg_copy(const struct msg *m, const char *key, char *out, size_t outsz)
{
    size_t n;
    const char *v = msg_str(m, key, &n);
    if (!v || n >= outsz)
        return -1;
    memcpy(out, v, n);
    out[n] = '\0';
    return 0;
}
