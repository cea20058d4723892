// docs/protocol.md §2 (frames) and the WebSocket handshake rules of §1 and §6 (subprotocol,
// no extension).
import {
  test, describe, before, after, assert, startBroker, stopAll, connect, assertHello, TICKET_RE,
} from './harness.mjs';

let broker;

before(async () => {
  broker = await startBroker({ args: ['--heartbeat', '25'], users: [['fuzz', 'fuzz-pw-1']] });
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
  return ws.nextFrame((f) => f.type === 'error', undefined, `error after ${what}`);
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
    const e = await ws.nextFrame((f) => f.type === 'error' || f.type === 'ticket', undefined,
      'answer to the 65-char id');
    assert.equal(e.type, 'error', `65-char id accepted: ${JSON.stringify(e).slice(0, 200)}`);
    assert.equal(e.code, 'bad_request');
    await assertStillServing(ws, '65-char id');
    ws.close();
  });
});

describe('nothing a client sends crashes the broker', () => {
  const CODES = ['bad_request', 'unauthorized', 'forbidden', 'not_found', 'conflict', 'rate_limited',
    'code_mismatch', 'invalid_token', 'token_expired', 'refresh_reused', 'session_revoked', 'internal'];
  const TYPES = {
    'ticket.new': ['client'],
    'ticket.cancel': [],
    'auth.password': ['username', 'password'],
    'auth.token': ['access_token'],
    'session.attach': ['access_token'],
    'token.refresh': ['refresh_token'],
    'ticket.scan': ['ticket'],
    'ticket.confirm': ['ticket', 'code'],
    'ticket.deny': ['ticket'],
    'session.list': [],
    'session.revoke': ['session_id'],
    logout: [],
  };
  const VALUES = [null, 0, -1, 1e308, true, {}, [], '', 'x'.repeat(3000), '\u0000\u0001',
    { nested: { deeper: [1, 2, { a: 'b' }] } }];

  test('every message type with wrong-typed fields → a reply with the id, an error code from §2', async () => {
    const user = ['fuzz', 'fuzz-pw-1'];
    for (const [type, fields] of Object.entries(TYPES)) {
      // A fresh socket per type keeps each under the per-socket message rate.
      for (const authed of [false, true]) {
        const ws = await connect(broker);
        if (authed) {
          await ws.call({ type: 'auth.password', username: user[0], password: user[1] }, 'auth');
        }
        const variants = fields.length === 0 ? VALUES.map((v) => ({ extra: v })) : [];
        for (const f of fields) for (const v of VALUES) variants.push({ [f]: v });
        for (const v of variants.slice(0, 30)) {
          const r = await ws.request({ type, ...v });
          assert.ok(r.type, `no type in reply to ${type} ${JSON.stringify(v).slice(0, 80)}`);
          if (r.type === 'error') {
            assert.ok(CODES.includes(r.code), `code ${r.code} for ${type} ${JSON.stringify(v).slice(0, 80)}`);
            assert.notEqual(r.code, 'internal', `internal error for ${type} ${JSON.stringify(v).slice(0, 80)}`);
          }
        }
        ws.close();
      }
    }
    const h = await fetch(`${broker.url}/healthz`);
    assert.equal(h.status, 200);
    const ws = await connect(broker);
    await assertStillServing(ws, 'after the wrong-typed fields');
    ws.close();
  });

  test('deeply nested JSON (2000 levels) → bad_request or a reply, no crash', async () => {
    const ws = await connect(broker);
    const deep = `{"type":"ticket.new","id":1,"client":${'['.repeat(2000)}${']'.repeat(2000)}}`;
    assert.ok(Buffer.byteLength(deep) <= 4096);
    ws.send(deep);
    const r = await ws.nextFrame((f) => f.type === 'error' || f.type === 'ticket', undefined, 'answer to deep JSON');
    if (r.type === 'error') assert.equal(r.code, 'bad_request');
    const deepObj = `{"type":"ticket.new","id":2,"client":${'{"a":'.repeat(600)}1${'}'.repeat(600)}}`;
    assert.ok(Buffer.byteLength(deepObj) <= 4096);
    ws.send(deepObj);
    const r2 = await ws.nextFrame((f) => f.type === 'error' || f.type === 'ticket', undefined, 'answer to deep object');
    if (r2.type === 'error') assert.equal(r2.code, 'bad_request');
    await assertStillServing(ws, 'deep JSON');
    ws.close();
  });

  test('duplicate keys, odd escapes and numbers', async () => {
    const ws = await connect(broker);
    const texts = [
      '{"type":"ticket.new","type":"ticket.new","id":3}',
      '{"type":"ticket\\u002enew","id":4}',
      '{"type":"ticket.new","id":5,"client":{"name":"\\ud800"}}',
      '{"type":"ticket.new","id":6e0}',
      '{"type":"ticket.new","id":-0}',
      '{"type":"ticket.new","id":99999999999999999999999}',
      '{"type":"ticket.new","id":7,}',
      '{"type":"ticket.new" "id":8}',
      '{"type":"ticket.new","id":9}garbage',
      '\ufeff{"type":"ticket.new","id":10}',
    ];
    for (const t of texts) {
      ws.send(t);
      const r = await ws.nextFrame((f) => f.type === 'error' || f.type === 'ticket', undefined, `answer to ${t}`);
      if (r.type === 'error') assert.equal(r.code, 'bad_request', `${t} → ${JSON.stringify(r)}`);
    }
    await assertStillServing(ws, 'odd JSON');
    ws.close();
  });
});
