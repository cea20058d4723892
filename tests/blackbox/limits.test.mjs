// docs/protocol.md §6: limits and bad input (message size, message rate, sockets per IP, Origin,
// idle sockets, heartbeat). The default broker of this file uses the default limits.
import {
  test, before, after, assert, startBroker, stopAll, connect, openSocket, pcTicket, sleep,
} from './harness.mjs';

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

test('more than 20 msg/s (burst 40) → rate_limited with retry_after; the socket stays', async () => {
  const ws = await connect(broker);
  for (let i = 1; i <= 60; i += 1) ws.send({ type: 'no.such.type', id: i });
  const replies = [];
  for (let i = 0; i < 60; i += 1) {
    replies.push(await ws.nextFrame((f) => f.type === 'error', 3000, `reply ${i + 1} of 60`));
  }
  const limited = replies.filter((r) => r.code === 'rate_limited');
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
  await sleep(1500);
  const t = await ws.request({ type: 'ticket.new' });
  assert.equal(t.type, 'ticket', 'still limited after a pause');
  ws.close();
});

test('3 s over the message limit in a row → close 1008', async () => {
  const ws = await connect(broker);
  const closed = ws.closed;
  let done = false;
  closed.then(() => { done = true; });
  const start = Date.now();
  while (!done && Date.now() - start < 8000) {
    for (let i = 0; i < 10 && ws.isOpen; i += 1) ws.send({ type: 'no.such.type' });
    await sleep(20);
  }
  assert.ok(done, 'a socket flooding for 8 s was not closed');
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
  // A freed slot can be used again (allow the close to reach the broker).
  let ok = null;
  for (let i = 0; i < 20 && !ok; i += 1) {
    ok = await connect(b).catch(() => null);
    if (!ok) await sleep(100);
  }
  assert.ok(ok, 'slot not freed after a close');
  ok.close();
  for (const s of socks) s.close();
  await b.dispose();
});

test('--idle-timeout 1: a socket with no ticket, auth or session is closed 1000', async () => {
  const b = await startBroker({ args: ['--idle-timeout', '1'] });
  const idle = await connect(b);
  const busy = await connect(b);
  await pcTicket(busy);
  const c = await Promise.race([idle.closed, sleep(5000).then(() => null)]);
  assert.ok(c, 'idle socket still open after 5 s');
  assert.equal(c.code, 1000);
  assert.ok(busy.isOpen, 'a socket with a ticket was closed as idle');
  busy.close();
  await b.dispose();
});

test('--heartbeat 1: the server pings; a client that never pongs is closed', async () => {
  const b = await startBroker({ args: ['--heartbeat', '1'] });
  const good = await connect(b);
  let pings = 0;
  good.ws.on('ping', () => { pings += 1; });
  const deaf = await connect(b, { wsOptions: { autoPong: false } });
  const c = await Promise.race([deaf.closed, sleep(6000).then(() => null)]);
  assert.ok(c, 'a socket that never answers pings is still open after 6 s');
  assert.ok(pings >= 1, 'no WebSocket ping within the heartbeat');
  await pcTicket(good); // the well-behaved one is alive
  good.close();
  await b.dispose();
});
