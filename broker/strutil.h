/* strutil.h — string helpers every layer uses. */
#ifndef QRLOGIN_STRUTIL_H
#define QRLOGIN_STRUTIL_H

#include <stddef.h>
#include <string.h>

/* Copies at most size - 1 bytes of src into dst and always terminates it (a
 * NULL src copies as ""): record fields are fixed-size, and a longer input is
 * cut, never overflows. size must be at least 1. */
static inline void str_copy(char *dst, size_t size, const char *src)
{
    size_t n = src ? strnlen(src, size - 1) : 0;
    memcpy(dst, src ? src : "", n);
    dst[n] = '\0';
}

/* snprintf into an error buffer the caller may have left out (NULL or 0
 * bytes): every "char *err, size_t errsz" parameter in the broker is filled
 * through this. */
void str_format(char *dst, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
