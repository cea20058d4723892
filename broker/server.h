/* server.h — the lws context, vhost, mounts and the loop. */
#ifndef QRLOGIN_SERVER_H
#define QRLOGIN_SERVER_H

/* Runs the daemon until SIGTERM/SIGINT. broker.cfg must be loaded. Returns
 * the process exit status. */
int server_run(void);

/* Connects the layers' listeners: each lower layer reports up through a
 * callback set here (tickets → their pushes, ended sessions → session.revoked,
 * the hub's ticket probe, what other nodes send), so that none of them
 * includes a header of a layer above (docs/architecture.md). server_run does
 * it; a harness that drives the handlers without the loop calls it too. */
void server_wire_layers(void);

#endif
