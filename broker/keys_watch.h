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

/* A token named a kid we do not have. Another node sharing the keys
 * directory may have made a new key current a moment ago (`keygen`, then
 * SIGHUP on that node only): this node would see it within seconds, and
 * meanwhile refuse the other node's fresh tokens. So the keys are read again
 * now — at most once a second, whatever tokens arrive — and done(arg) runs
 * on the loop once that read is in (at once when the last one is too
 * recent). Loop thread. */
void keys_watch_unknown_kid(void (*done)(void *arg), void *arg);

#endif
