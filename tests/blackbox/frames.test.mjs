// PROTOCOL.md §2 (frames) and the WebSocket handshake rules of §1 and §6 (subprotocol,
// no extension).
import {
  test, describe, before, after, assert, startBroker, stopAll, connect, assertHello, TICKET_RE,
} from './harness.mjs';

let broker;

before(async () => {
  broker = await startBroker({ args: ['--heartbeat', '25'] });
});
after(stopAll);

/** The socket still answers: a ticket.new (needs no auth) gets its ticket. */
async function assertStillServing(ws, what) {
  assert.ok(ws.isOpen, `${what}: socket was closed (${JSON.stringify(ws.closedInfo)})`);
  const t = await ws.request({ type: 'ticket.new' });
  assert.equal(t.type, 'ticket', `${what}: socket no longer serves: ${JSON.stringify(t)}`);
  assert.match(t.ticket, TICKET_RE);
}

/** Next error push (an error to a frame that could carry no id has none). */
function nextError(ws, what) {
  return ws.nextFrame((f) => f.type === 'error', 3000, `error after ${what}`);
}

describe('handshake', () => {
  test('hello: type, version 1, server_time in ms, heartbeat from --heartbeat', async () => {
    const before_ = Date.now();
    const ws = await connect(broker);
    const after_ = Date.now();
    assertHello(ws.hello);
    assert.equal(ws.hello.heartbeat, 25, '--heartbeat 25 not reported in hello');
    assert.deepEqual(Object.keys(ws.hello).sort(), ['heartbeat', 'server_time', 'type', 'version']);
    // Same machine, same clock: within a generous band around the handshake.
    assert.ok(ws.hello.server_time >= before_ - 5000 && ws.hello.server_time <= after_ + 5000,
      `server_time ${ws.hello.server_time} outside [${before_}, ${after_}]`);
    // hello is the very first frame.
    assert.equal(ws.seen[0].type, 'hello');
    ws.close();
  });

  test('subprotocol qrlogin.v1 is selected when offered', async () => {
    const ws = await connect(broker);
    assert.equal(ws.ws.protocol, 'qrlogin.v1');
    assert.equal(ws.res.headers['sec-websocket-protocol'], 'qrlogin.v1');
    ws.close();
  });

  test('a client that offers no subprotocol is served the same', async () => {
    const ws = await connect(broker, { protocol: null });
    assert.equal(ws.res.headers['sec-websocket-protocol'], undefined,
      'server named a subprotocol the client did not offer');
    await assertStillServing(ws, 'no subprotocol');
    ws.close();
  });

  test('no permessage-deflate is negotiated even when offered', async () => {
    const ws = await connect(broker, { perMessageDeflate: true });
    assert.equal(ws.res.headers['sec-websocket-extensions'], undefined,
      `server negotiated: ${ws.res.headers['sec-websocket-extensions']}`);
    assert.equal(ws.ws.extensions, '');
    await assertStillServing(ws, 'deflate offered');
    ws.close();
  });
});

describe('bad frames are answered with bad_request and the socket stays open', () => {
  test('binary frame', async () => {
    const ws = await connect(broker);
    ws.sendRaw(Buffer.from('{"type":"ticket.new","id":1}'), { binary: true });
    const e = await nextError(ws, 'binary frame');
    assert.equal(e.code, 'bad_request', JSON.stringify(e));
    assert.equal(typeof e.message, 'string');
    await assertStillServing(ws, 'binary frame');
    ws.close();
  });

  test('invalid UTF-8 in a text frame', async () => {
    const ws = await connect(broker);
    ws.sendRaw(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), { binary: false });
    const e = await nextError(ws, 'invalid UTF-8');
    assert.equal(e.code, 'bad_request', JSON.stringify(e));
    await assertStillServing(ws, 'invalid UTF-8');
    ws.close();
  });

  const nonObjects = {
    'invalid JSON': '{"type": "ticket.new",',
    'plain garbage': 'hello there',
    'JSON array': '[{"type":"ticket.new"}]',
    'JSON string': '"ticket.new"',
    'JSON number': '42',
    'JSON null': 'null',
    'empty text': '',
  };
  for (const [what, text] of Object.entries(nonObjects)) {
    test(what, async () => {
      const ws = await connect(broker);
      ws.send(text);
      const e = await nextError(ws, what);
      assert.equal(e.code, 'bad_request', JSON.stringify(e));
      assert.equal(typeof e.message, 'string');
      await assertStillServing(ws, what);
      ws.close();
    });
  }

  const badTypes = {
    'missing type': { id: 11 },
    'unknown type': { type: 'no.such.message', id: 12 },
    'type not a string': { type: 5, id: 13 },
    'type null': { type: null, id: 14 },
    'type an object': { type: { name: 'ticket.new' }, id: 15 },
    'empty type': { type: '', id: 16 },
  };
  for (const [what, obj] of Object.entries(badTypes)) {
    test(`${what} (the reply carries the id)`, async () => {
      const ws = await connect(broker);
      const e = await ws.request(obj);
      assert.equal(e.type, 'error', JSON.stringify(e));
      assert.equal(e.code, 'bad_request', JSON.stringify(e));
      assert.equal(e.id, obj.id);
      await assertStillServing(ws, what);
      ws.close();
    });
  }
});

describe('request ids', () => {
  test('an integer id is echoed on the reply', async () => {
    const ws = await connect(broker);
    for (const id of [0, 7, 123456789]) {
      const r = await ws.request({ type: 'ticket.new', id });
      assert.equal(r.type, 'ticket');
      assert.strictEqual(r.id, id);
    }
    ws.close();
  });

  test('a string id up to 64 characters is echoed on the reply', async () => {
    const ws = await connect(broker);
    for (const id of ['a', 'req-42', 'x'.repeat(64), 'äöü-ünïcødé ✓', 'with "quotes" and \\']) {
      const r = await ws.request({ type: 'ticket.new', id });
      assert.equal(r.type, 'ticket', JSON.stringify(r));
      assert.strictEqual(r.id, id);
    }
    ws.close();
  });

  test('errors carry the id too', async () => {
    const ws = await connect(broker);
    const r = await ws.request({ type: 'ticket.scan', ticket: 'x', id: 'scan-1' });
    assert.equal(r.type, 'error');
    assert.equal(r.id, 'scan-1');
    ws.close();
  });

  test('a 65-character string id → bad_request', async () => {
    const ws = await connect(broker);
    const id = 'y'.repeat(65);
    ws.send({ type: 'ticket.new', id });
    const e = await ws.nextFrame((f) => f.type === 'error' || f.type === 'ticket', 3000,
      'answer to the 65-char id');
    assert.equal(e.type, 'error', `65-char id accepted: ${JSON.stringify(e).slice(0, 200)}`);
    assert.equal(e.code, 'bad_request');
    await assertStillServing(ws, '65-char id');
    ws.close();
  });
});
