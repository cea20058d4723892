/* log.c — see log.h. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static enum log_level current = QLOG_INFO;
static const char *const names[] = {"error", "warn", "info", "debug"};

static char tag[48]; /* with its trailing space, or "" */

void log_set_level(enum log_level level) { current = level; }

void log_set_tag(const char *t)
{
    if (t && *t)
        snprintf(tag, sizeof tag, "%s ", t);
    else
        tag[0] = '\0';
}
enum log_level log_get_level(void) { return current; }

int log_level_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, names[i]))
            return i;
    return -1;
}

void log_write(enum log_level level, const char *fmt, ...)
{
    if (level > current)
        return;
    char ts[32];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);

    /* One fprintf per line so lines from worker threads never interleave. */
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s.%03ldZ %-5s %s%s\n", ts, now.tv_nsec / 1000000, names[level], tag, line);
}

const char *log_ticket_prefix(const char *ticket, char out[7])
{
    size_t n = ticket ? strnlen(ticket, 6) : 0;
    memcpy(out, ticket ? ticket : "", n);
    out[n] = '\0';
    return out;
}
