/* form.c — see form.h. */
#include "form.h"

#include <stdbool.h>
#include <string.h>

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes [s, end) into out; -1 on a bad escape, a NUL, or no room. */
static int decode(const char *s, const char *end, char *out, size_t outsz)
{
    size_t o = 0;
    for (const char *k = s; k < end; k++) {
        int ch = (unsigned char)*k;
        if (ch == '+') {
            ch = ' ';
        } else if (ch == '%') {
            if (end - k < 3)
                return -1;
            int hi = hexval(k[1]), lo = hexval(k[2]);
            if (hi < 0 || lo < 0)
                return -1;
            ch = hi * 16 + lo;
            k += 2;
        }
        if (o + 1 >= outsz || ch == 0)
            return -1;
        out[o++] = (char)ch;
    }
    out[o] = '\0';
    return (int)o;
}

int form_value(const char *body, size_t len, const char *name, char *out, size_t outsz)
{
    size_t nlen = strlen(name);
    int found = -1;
    size_t i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && body[end] != '&')
            end++;
        if (end - i > nlen && !memcmp(body + i, name, nlen) && body[i + nlen] == '=') {
            if (found != -1)
                return -2;
            found = decode(body + i + nlen + 1, body + end, out, outsz);
            if (found < 0)
                return -2;
        }
        i = end + 1;
    }
    return found;
}

int form_append_encoded(char *out, size_t outsz, size_t *pos, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = *pos;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        bool plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                     (*p >= '0' && *p <= '9') || strchr("-._~", *p);
        if (o + (plain ? 1 : 3) >= outsz) {
            if (*pos < outsz)
                out[*pos] = '\0';
            return -1;
        }
        if (plain) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    out[o] = '\0';
    *pos = o;
    return 0;
}

int form_decode_inplace(char *s)
{
    size_t n = strlen(s);
    return decode(s, s + n, s, n + 1) < 0 ? -1 : 0;
}
