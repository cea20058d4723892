/* server.h — the lws context, vhost, mounts and the loop. */
#ifndef QRLOGIN_SERVER_H
#define QRLOGIN_SERVER_H

/* Runs the daemon until SIGTERM/SIGINT. broker.cfg must be loaded. Returns
 * the process exit status. */
int server_run(void);

/* Re-arms the one timer that drives ticket expiry and grace sweeps, after a
 * change that may have moved the earliest deadline. Loop thread only. */
void server_timers_kick(void);

#endif
