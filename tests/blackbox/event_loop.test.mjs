// --event-loop poll|libuv|libev (broker/event_loop.h): on each of lws's event loops this
// machine can load, the broker does a whole QR login (worker threads waking the loop, lws
// timers, HTTP and WebSockets) and a clean SIGTERM shutdown. The other test files run on one
// loop: poll, or whatever QRLOGIN_EVENT_LOOP says.
import {
  test, after, assert, startBroker, stopAll, connect, phoneLogin, pcTicket, qrLogin, verifyAccess,
} from './harness.mjs';

const USERS = [['alice', 'alice-pw-1']];

// Loops with a known defect that makes this test fail, and the defect.
const KNOWN = {
  libuv: 'lws 4.1.6 as Debian builds it (_DEBUG) closes a connection twice on libuv when a '
    + 'callback returns -1, so the close frame never leaves (the peer sees 1006): '
    + 'lib/core-net/service.c "uv repeat test"',
};

after(stopAll);

/** A broker on `loop`, or null after skipping the test if this machine cannot load it. */
async function brokerOn(t, loop) {
  try {
    return await startBroker({ users: USERS, args: ['--event-loop', loop] });
  } catch (e) {
    const missing = /cannot load lws's plugin[^\n]*|this build has no [^\n]*/.exec(e.message);
    if (!missing) throw e;
    t.skip(missing[0]);
    return null;
  }
}

for (const loop of ['poll', 'libuv', 'libev']) {
  test(`--event-loop ${loop}: a QR login, then SIGTERM closes every socket 1001 and exits 0`,
    { todo: KNOWN[loop] || false }, async (t) => {
      const broker = await brokerOn(t, loop);
      if (!broker) return;
      // The command line wins over QRLOGIN_EVENT_LOOP: the broker says which loop it is on.
      assert.match(broker.log(), new RegExp(`listening on .*event loop ${loop}`));

      const { ws: phone } = await phoneLogin(broker, 'alice', 'alice-pw-1');
      const { pc, login } = await qrLogin(broker, phone);
      await verifyAccess(broker, login.access_token);
      const waiting = await connect(broker);
      await pcTicket(waiting);

      const closes = [phone.closed, pc.closed, waiting.closed];
      await broker.stop({ signal: 'SIGTERM' }); // asserts exit status 0, no signal
      for (const c of await Promise.all(closes)) assert.equal(c.code, 1001, `close ${JSON.stringify(c)}`);
      assert.match(broker.log(), /info {2}stopped/);
      assert.doesNotMatch(broker.log(), /left its context or handles behind/);
      await broker.dispose();
    });
}
