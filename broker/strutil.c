/* strutil.c — see strutil.h. */
#include "strutil.h"

#include <stdarg.h>
#include <stdio.h>

void str_format(char *dst, size_t size, const char *fmt, ...)
{
    if (!dst || !size)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, size, fmt, ap);
    va_end(ap);
}
