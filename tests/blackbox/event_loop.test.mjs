// --event-loop auto|poll|libuv|libev (broker/event_loop.h): on each of lws's event loops this
// machine can load, the broker does a whole QR login (worker threads waking the loop, lws
// timers, HTTP and WebSockets), closes a socket itself with its close code (lws 4.1.6 on libuv
// used to lose that close frame), and shuts down cleanly on SIGTERM. The other test files run
// on one loop: the default, or whatever QRLOGIN_EVENT_LOOP says.
import {
  test, after, assert, startBroker, stopAll, connect, phoneLogin, pcTicket, qrLogin, verifyAccess,
} from './harness.mjs';

const USERS = [['alice', 'alice-pw-1']];

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
  test(`--event-loop ${loop}: a QR login, a 1009 close, then SIGTERM closes every socket 1001 and exits 0`,
    async (t) => {
      const broker = await brokerOn(t, loop);
      if (!broker) return;
      // The command line wins over QRLOGIN_EVENT_LOOP: the broker says which loop it is on.
      assert.match(broker.log(), new RegExp(`listening on .*event loop ${loop}`));

      const { ws: phone } = await phoneLogin(broker, 'alice', 'alice-pw-1');
      const { pc, login } = await qrLogin(broker, phone);
      await verifyAccess(broker, login.access_token);
      const waiting = await connect(broker);
      await pcTicket(waiting);

      // A close the broker starts arrives with its code, not as a dropped socket (1006).
      const big = await connect(broker);
      big.ws.send('x'.repeat(5000)); // over --max-message 4096
      assert.equal((await big.closed).code, 1009);

      const closes = [phone.closed, pc.closed, waiting.closed];
      await broker.stop({ signal: 'SIGTERM' }); // asserts exit status 0, no signal
      for (const c of await Promise.all(closes)) assert.equal(c.code, 1001, `close ${JSON.stringify(c)}`);
      assert.match(broker.log(), /info {2}stopped/);
      assert.doesNotMatch(broker.log(), /left its context or handles behind/);
      await broker.dispose();
    });
}

test('the default loop is libuv where its plugin is installed (make deps installs it)', async () => {
  const broker = await startBroker({ users: USERS, env: { QRLOGIN_EVENT_LOOP: '' } });
  assert.match(broker.log(), /listening on .*event loop libuv \(epoll\)/);
  await broker.stop({ signal: 'SIGTERM' });
  await broker.dispose();
});
