// docs/protocol.md §6: limits and bad input (message size, message rate, sockets per IP, Origin,
// idle sockets, heartbeat). The default broker of this file uses the default limits.
import {
  test, before, after, assert, startBroker, stopAll, connect, openSocket, pcTicket, sleep,
  eventually, needWithin, retryWindow,
} from './harness.mjs';

// How long a socket the broker should close (idle, deaf to pings) may take to be closed
// before we call it "never": far longer than the windows under test (1 s), because the
// broker may be running under ASan, valgrind or beside a CPU hog.
const CLOSE_DEADLINE_MS = 30000;

/** What p resolves with, or `otherwise` if it has not after ms (a deadline for "never"). */
function orAfter(p, ms, otherwise) {
  let timer;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise((resolve) => { timer = setTimeout(() => resolve(otherwise), ms); }),
  ]);
}

let broker;
before(async () => { broker = await startBroker(); });
after(stopAll);

test('Origin: absent and the public URL’s origin are allowed, another is refused with 403', async () => {
  const a = await connect(broker);
  a.close();
  const b = await connect(broker, { origin: broker.url });
  b.close();
  await assert.rejects(openSocket(broker.wsUrl, { origin: 'http://evil.example' }),
    (e) => e.status === 403, 'a foreign Origin was not refused with 403');
  await assert.rejects(openSocket(broker.wsUrl, { origin: 'http://127.0.0.1:1' }),
    (e) => e.status === 403, 'another port of the same host was not refused with 403');
});

test('--allowed-origin (repeatable) replaces the default', async () => {
  const b = await startBroker({
    args: ['--allowed-origin', 'https://app.example', '--allowed-origin', 'https://other.example'],
  });
  (await connect(b, { origin: 'https://app.example' })).close();
  (await connect(b, { origin: 'https://other.example' })).close();
  await assert.rejects(openSocket(b.wsUrl, { origin: 'https://evil.example' }), (e) => e.status === 403);
  await b.dispose();
});

test('a message of 4096 bytes is served; one over 4096 bytes closes the socket with 1009', async () => {
  const ws = await connect(broker);
  const base = JSON.stringify({ type: 'ticket.new', id: 1, client: { name: '' } });
  const exact = JSON.stringify({ type: 'ticket.new', id: 1, client: { name: 'n'.repeat(4096 - base.length) } });
  assert.equal(Buffer.byteLength(exact), 4096);
  const r = await ws.request(JSON.parse(exact));
  assert.notEqual(r.type, undefined);
  assert.ok(ws.isOpen, 'a 4096-byte message closed the socket');
  const over = JSON.stringify({ type: 'ticket.new', id: 2, client: { name: 'n'.repeat(4097 - base.length) } });
  assert.equal(Buffer.byteLength(over), 4097);
  ws.send(over);
  const c = await ws.closed;
  assert.equal(c.code, 1009);
});

test('more than 20 msg/s (burst 40) → rate_limited with retry_after; the socket stays', (t) => retryWindow(t, async () => {
  const ws = await connect(broker);
  const sentAt = Date.now();
  for (let i = 1; i <= 60; i += 1) ws.send({ type: 'no.such.type', id: i });
  const replies = [];
  for (let i = 0; i < 60; i += 1) {
    replies.push(await ws.nextFrame((f) => f.type === 'error', undefined, `reply ${i + 1} of 60`));
  }
  const limited = replies.filter((r) => r.code === 'rate_limited');
  // 60 = the burst of 40 + 20, what the bucket refills in 1 s: some are refused only when
  // the broker took them all in less than that.
  if (limited.length === 0) {
    ws.close();
    needWithin(sentAt, 1000, 'the 60 messages');
  }
  assert.ok(limited.length > 0, 'no rate_limited among 60 messages sent at once');
  assert.ok(limited.length <= 60 - 40 + 5, `${limited.length} limited: burst of 40 not allowed`);
  for (const r of limited) {
    assert.equal(typeof r.retry_after, 'number');
    assert.ok(r.retry_after > 0);
  }
  assert.ok(ws.isOpen);
  // Every reply to a request carries its id, the rate_limited ones too.
  assert.deepEqual(replies.map((r) => r.id).sort((a, b) => a - b), Array.from({ length: 60 }, (_, i) => i + 1),
    'replies do not carry the ids of the requests');
  await sleep(1500); // the bucket refills at 20/s: a lower bound, being later only refills more
  const tk = await ws.request({ type: 'ticket.new' });
  assert.equal(tk.type, 'ticket', 'still limited after a pause');
  ws.close();
}));

test('3 s over the message limit in a row → close 1008', async () => {
  const ws = await connect(broker);
  const closed = ws.closed;
  let done = false;
  closed.then(() => { done = true; });
  const start = Date.now();
  while (!done && Date.now() - start < CLOSE_DEADLINE_MS) {
    for (let i = 0; i < 10 && ws.isOpen; i += 1) ws.send({ type: 'no.such.type' });
    await sleep(20);
  }
  assert.ok(done, `a socket flooding for ${CLOSE_DEADLINE_MS} ms was not closed`);
  // The broker sends close 1008. A client that is still flooding when the close
  // frame arrives may see the TCP reset first (the kernel resets a socket closed
  // with unread data), so 1006 is accepted too — but only together with the
  // broker's own record that it closed this socket for flooding, which a crash or
  // any other close would not leave.
  const { code } = await closed;
  assert.ok(code === 1008 || code === 1006, `closed with ${code}, not 1008`);
  assert.match(broker.log(), /flooding, closing/, 'the broker did not close it for flooding');
});

test('--max-conns-per-ip 3: the 4th socket is refused with 503', async () => {
  const b = await startBroker({ args: ['--max-conns-per-ip', '3'] });
  const socks = [await connect(b), await connect(b), await connect(b)];
  await assert.rejects(openSocket(b.wsUrl), (e) => e.status === 503, '4th socket not refused with 503');
  await socks[0].close();
  // A freed slot can be used again, once the close has reached the broker.
  const ok = await eventually(() => connect(b).catch(() => null), 'slot not freed after a close');
  ok.close();
  for (const s of socks) s.close();
  await b.dispose();
});

test('--idle-timeout 1: a socket with no ticket, auth or session is closed 1000', async () => {
  const b = await startBroker({ args: ['--idle-timeout', '1'] });
  const idle = await connect(b);
  const busy = await connect(b);
  await pcTicket(busy);
  const c = await orAfter(idle.closed, CLOSE_DEADLINE_MS, null);
  assert.ok(c, `idle socket still open after ${CLOSE_DEADLINE_MS} ms`);
  assert.equal(c.code, 1000);
  assert.ok(busy.isOpen, 'a socket with a ticket was closed as idle');
  busy.close();
  await b.dispose();
});

test('--heartbeat 1: the server pings; a client that never pongs is closed', async () => {
  const b = await startBroker({ args: ['--heartbeat', '1'] });
  const good = await connect(b);
  const pinged = new Promise((resolve) => good.ws.once('ping', () => resolve(true)));
  const deaf = await connect(b, { wsOptions: { autoPong: false } });
  const c = await orAfter(deaf.closed, CLOSE_DEADLINE_MS, null);
  assert.ok(c, `a socket that never answers pings is still open after ${CLOSE_DEADLINE_MS} ms`);
  // The well-behaved socket is pinged too (it waits for the ping itself: the order in which
  // two sockets' frames reach us is not the broker's to promise).
  const gotPing = await orAfter(pinged, CLOSE_DEADLINE_MS, false);
  assert.ok(gotPing, 'no WebSocket ping within the heartbeat');
  await pcTicket(good); // the well-behaved one is alive
  good.close();
  await b.dispose();
});
