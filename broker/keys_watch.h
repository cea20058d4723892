/* keys_watch.h — signing keys picked up without a restart: on SIGHUP, and
 * when the keys directory changes (`keygen` on any node sharing it). The
 * files are read on the worker pool; the swap happens on the loop thread
 * under the keys write lock (keys.h). */
#ifndef QRLOGIN_KEYS_WATCH_H
#define QRLOGIN_KEYS_WATCH_H

/* Takes the directory's first stamp (after keys_load and workers_start). */
void keys_watch_start(void);
/* Async-signal-safe: a SIGHUP asks for a reload (the caller wakes the loop). */
void keys_watch_signal(void);
/* Loop thread: acts on a flagged SIGHUP. */
void keys_watch_check_signal(void);
/* Loop thread, once a second: the signal, and every few seconds the directory. */
void keys_watch_tick(void);

#endif
