/* log.h — leveled logging to stderr.
 *
 * Never pass a token, a password or a whole ticket to these functions: log the
 * event, user id, session id, peer ip and at most the first 6 characters of a
 * ticket (see log_ticket_prefix). */
#ifndef QRLOGIN_LOG_H
#define QRLOGIN_LOG_H

enum log_level { QLOG_ERROR = 0, QLOG_WARN = 1, QLOG_INFO = 2, QLOG_DEBUG = 3 };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parses "error|warn|info|debug"; returns -1 on anything else. */
int log_level_parse(const char *s);

/* A tag written after the level on every line, e.g. "[worker 2 pid 4711]",
 * so that the processes of --workers N can be told apart in one stream.
 * Empty (the default) writes nothing. Set it before any thread starts. */
void log_set_tag(const char *tag);

void log_write(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_error(...) log_write(QLOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_write(QLOG_WARN, __VA_ARGS__)
#define log_info(...) log_write(QLOG_INFO, __VA_ARGS__)
#define log_debug(...) log_write(QLOG_DEBUG, __VA_ARGS__)

/* Copies at most the first 6 characters of a ticket into out (>= 7 bytes),
 * which is all a log line may show of it. Returns out. */
const char *log_ticket_prefix(const char *ticket, char out[7]);

#endif
