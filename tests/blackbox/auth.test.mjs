// docs/protocol.md §4 auth.password / auth.token and §6's password-failure limit.
import {
  test, before, after, assert, startBroker, stopAll, connect, phoneLogin, pcTicket,
  verifyAccess, decodeJwt, decodeHeader, tamper, forge, assertFreshLifetime,
} from './harness.mjs';

let broker;

before(async () => {
  broker = await startBroker({
    users: [['alice', 'alice-pw-1'], ['bob', 'bob-pw-2'], ['rita', 'rita-pw-3'], ['walt', 'walt-pw-4'], ['mona', 'mona-pw-5'],
      ['Ünïcode Üser', 'pässwörd ✓ with spaces']],
  });
});
after(stopAll);

test('auth.password → auth with user, session_id, tokens, expires_in', async () => {
  const ws = await connect(broker);
  const a = await ws.request({ type: 'auth.password', username: 'alice', password: 'alice-pw-1', id: 'a1' });
  assert.equal(a.type, 'auth', JSON.stringify(a));
  assert.equal(a.id, 'a1');
  assert.ok(a.user && a.user.id !== undefined && a.user.id !== null, JSON.stringify(a.user));
  assert.equal(a.user.name, 'alice');
  assert.equal(typeof a.session_id, 'string');
  assert.ok(a.session_id.length > 0);
  assert.equal(typeof a.access_token, 'string');
  assert.equal(typeof a.refresh_token, 'string');
  assertFreshLifetime(a.expires_in, 900);
  assert.equal(typeof a.refresh_expires_in, 'number');
  assert.ok(a.refresh_expires_in > 0 && a.refresh_expires_in <= 1209600);
  assert.ok(a.refresh_expires_in > 1209600 - 10, `refresh_expires_in ${a.refresh_expires_in}`);

  const { payload } = await verifyAccess(broker, a.access_token);
  assert.equal(payload.sid, a.session_id);
  assert.equal(payload.sub, String(a.user.id));
  assert.equal(payload.name, 'alice');
  const rh = decodeHeader(a.refresh_token);
  assert.equal(rh.typ, 'rt+jwt');
  assert.equal(decodeJwt(a.refresh_token).sid, a.session_id);
  ws.close();
});

test('each auth.password is a new session', async () => {
  const a = await phoneLogin(broker, 'alice', 'alice-pw-1');
  const b = await phoneLogin(broker, 'alice', 'alice-pw-1');
  assert.notEqual(a.auth.session_id, b.auth.session_id);
  assert.equal(String(a.auth.user.id), String(b.auth.user.id));
  a.ws.close();
  b.ws.close();
});

test('users are distinct', async () => {
  const a = await phoneLogin(broker, 'alice', 'alice-pw-1');
  const b = await phoneLogin(broker, 'bob', 'bob-pw-2');
  assert.notEqual(String(a.auth.user.id), String(b.auth.user.id));
  assert.equal(b.auth.user.name, 'bob');
  a.ws.close();
  b.ws.close();
});

test('non-ASCII user names and passwords work', async () => {
  const { ws, auth } = await phoneLogin(broker, 'Ünïcode Üser', 'pässwörd ✓ with spaces');
  assert.equal(auth.user.name, 'Ünïcode Üser');
  const { payload } = await verifyAccess(broker, auth.access_token);
  assert.equal(payload.name, 'Ünïcode Üser');
  ws.close();
});

test('wrong password and unknown user → unauthorized with the identical message', async () => {
  const ws = await connect(broker);
  const wrong = await ws.fails({ type: 'auth.password', username: 'walt', password: 'not-it' }, 'unauthorized');
  const unknown = await ws.fails({ type: 'auth.password', username: 'nobody-here', password: 'x' }, 'unauthorized');
  const caseDiff = await ws.fails({ type: 'auth.password', username: 'walt', password: 'WALT-PW-4' }, 'unauthorized');
  assert.equal(wrong.message, unknown.message);
  assert.equal(wrong.message, caseDiff.message);
  assert.deepEqual(Object.keys(wrong).sort(), Object.keys(unknown).sort());
  // The password must not be a prefix match either (5 failures for walt in all).
  await ws.fails({ type: 'auth.password', username: 'walt', password: 'walt-pw-' }, 'unauthorized');
  await ws.fails({ type: 'auth.password', username: 'walt', password: 'walt-pw-44' }, 'unauthorized');
  await ws.fails({ type: 'auth.password', username: 'walt', password: '' }, ['unauthorized', 'bad_request']);
  ws.close();
});

test('malformed auth.password → bad_request or unauthorized, never auth', async () => {
  const ws = await connect(broker);
  await ws.fails({ type: 'auth.password', username: 'mona' }, ['bad_request', 'unauthorized']);
  await ws.fails({ type: 'auth.password', password: 'mona-pw-5' }, ['bad_request', 'unauthorized']);
  await ws.fails({ type: 'auth.password', username: 5, password: 'mona-pw-5' }, ['bad_request', 'unauthorized']);
  await ws.fails({ type: 'auth.password', username: 'mona', password: ['mona-pw-5'] }, ['bad_request', 'unauthorized']);
  ws.close();
});

test('auth.token with an access token → auth; the socket is authenticated', async () => {
  const { ws: w1, auth: a } = await phoneLogin(broker, 'alice', 'alice-pw-1');
  w1.close();
  const ws = await connect(broker);
  const r = await ws.request({ type: 'auth.token', access_token: a.access_token, id: 77 });
  assert.equal(r.type, 'auth', JSON.stringify(r));
  assert.equal(r.id, 77);
  assert.equal(r.user.name, 'alice');
  assert.equal(String(r.user.id), String(a.user.id));
  assert.equal(r.session_id, a.session_id);
  assert.equal(typeof r.expires_in, 'number');
  assert.ok(r.expires_in > 0 && r.expires_in <= 900, `expires_in ${r.expires_in}`);
  // Now phone messages are allowed: an unknown ticket is not_found, not unauthorized.
  await ws.fails({ type: 'ticket.scan', ticket: Buffer.alloc(16, 1).toString('base64url') }, 'not_found');
  // And it can scan a real ticket.
  const pc = await connect(broker);
  const t = await pcTicket(pc);
  const info = await ws.call({ type: 'ticket.scan', ticket: t.ticket }, 'ticket.info');
  assert.equal(info.ticket, t.ticket);
  const scanned = await pc.next('ticket.scanned');
  assert.equal(scanned.user.name, 'alice');
  pc.close();
  ws.close();
});

test('auth.token with a refresh token, garbage or a forgery → invalid_token', async () => {
  const { ws: w1, auth: a } = await phoneLogin(broker, 'alice', 'alice-pw-1');
  w1.close();
  const ws = await connect(broker);
  const hdr = decodeHeader(a.access_token);
  const claims = decodeJwt(a.access_token);
  const bad = {
    'refresh token': a.refresh_token,
    garbage: 'garbage',
    'three dots': 'a.b.c',
    empty: '',
    'tampered signature': tamper(a.access_token),
    'alg none': forge({ ...hdr, alg: 'none' }, claims, ''),
    'alg HS256 on an ES256 kid': forge({ ...hdr, alg: 'HS256' }, claims),
    'claims swapped to bob': forge(hdr, { ...claims, name: 'bob', sub: '999' }, a.access_token.split('.')[2]),
    'typ rt+jwt': forge({ ...hdr, typ: 'rt+jwt' }, claims, a.access_token.split('.')[2]),
  };
  for (const [what, tok] of Object.entries(bad)) {
    const r = await ws.request({ type: 'auth.token', access_token: tok });
    assert.equal(r.type, 'error', `${what}: accepted: ${JSON.stringify(r)}`);
    assert.equal(r.code, 'invalid_token', `${what}: ${JSON.stringify(r)}`);
  }
  // Still unauthenticated.
  await ws.fails({ type: 'session.list' }, 'unauthorized');
  ws.close();
});

test('5 password failures for a username → the 6th, even right, is rate_limited', async () => {
  const ws = await connect(broker);
  for (let i = 0; i < 5; i += 1) {
    await ws.fails({ type: 'auth.password', username: 'rita', password: `wrong-${i}` }, 'unauthorized');
  }
  const r = await ws.request({ type: 'auth.password', username: 'rita', password: 'rita-pw-3' });
  assert.equal(r.type, 'error', `6th attempt answered ${JSON.stringify(r)}`);
  assert.equal(r.code, 'rate_limited', JSON.stringify(r));
  assert.equal(typeof r.retry_after, 'number', JSON.stringify(r));
  assert.ok(r.retry_after > 0, `retry_after ${r.retry_after}`);
  assert.ok(r.retry_after <= 300, `retry_after ${r.retry_after} beyond the 5 min window`);
  // From another socket too: the limit is per username, not per socket.
  const ws2 = await connect(broker);
  await ws2.fails({ type: 'auth.password', username: 'rita', password: 'rita-pw-3' }, 'rate_limited');
  // Another user is not affected.
  const { ws: b } = await phoneLogin(broker, 'bob', 'bob-pw-2');
  b.close();
  ws.close();
  ws2.close();
});
