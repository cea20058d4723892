/* demo_user.h — `--demo`'s user demo / password demo, created once, for a
 * store that answers only inside the event loop (Redis). The embedded store
 * creates it before the loop starts (main.c). */
#ifndef QRLOGIN_DEMO_USER_H
#define QRLOGIN_DEMO_USER_H

/* Called from the housekeeping tick: once the store is up, looks the user up
 * and creates it if missing (the password hashed on the worker pool). Tries
 * again on the next tick if the store was not up or failed. */
void demo_user_tick(void);

#endif
