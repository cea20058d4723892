// Hardening (docs/protocol.md §2, §5, §6: "Nothing a client sends may crash the broker, leak
// memory, or change another user's state"): slow readers, half-open handshakes, garbage on
// the port, invalid WebSocket frames, hand-made token forgeries, and one user poking at
// another user's state.
//
// Not repeated here because other files prove them already: a used ticket replayed
// (ticket.test.mjs "a ticket is used once"), a refresh token replayed after rotation and
// grace (refresh.test.mjs "previous after the grace → refresh_reused").
import net from 'node:net';
import tls from 'node:tls';
import crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  test, describe, before, after, assert, startBroker, stopAll, connect, phoneLogin, qrLogin,
  pcTicket, apiMe, assertBearer401, postToken, decodeJwt, decodeHeader, jwks, get, getJson,
  sleep, EVENT_WAIT_MS,
} from './harness.mjs';

const USERS = [['alice', 'alice-pw-1'], ['bob', 'bob-pw-2']];

// One broker for the file: rate limits out of the way (the slow reader and the token sweep
// send many messages), many sockets per IP (the half-open handshakes), refresh-interval 0
// (so a real refresh after the forgeries is not rate_limited).
let broker;
before(async () => {
  broker = await startBroker({
    users: USERS,
    args: ['--msg-rate', '100000', '--msg-burst', '100000', '--max-conns-per-ip', '5000',
      '--refresh-interval', '0'],
  });
});
after(stopAll);

// ---------------------------------------------------------------------------------------------
// Helpers of this file

/** Resolve with p's value, or reject after ms (a liveness deadline, not a speed claim). */
function within(p, ms, what) {
  let timer;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms);
    }),
  ]);
}

function assertAlive(b = broker) {
  assert.equal(b.proc && b.proc.exitCode, null, `broker exited: ${b.crashed}`);
  assert.equal(b.proc.signalCode, null, `broker killed by ${b.proc.signalCode}`);
  assert.equal(b.crashed, null, `broker exited: ${b.crashed}`);
}

/** The broker still serves: the process lives, /healthz is 200, a fresh socket gets hello and a ticket. */
async function assertServing(what, b = broker) {
  assertAlive(b);
  const h = await get(b, '/healthz');
  assert.equal(h.status, 200, `${what}: /healthz ${h.status} ${h.body}`);
  const c = await connect(b);
  await pcTicket(c);
  c.close();
  assertAlive(b);
}

/** A plain TCP socket that records what it receives and when it ends. */
function rawSocket(port) {
  const sock = net.connect(port, '127.0.0.1');
  const st = { sock, data: Buffer.alloc(0), error: null };
  sock.on('data', (d) => { st.data = Buffer.concat([st.data, d]); });
  sock.on('error', (e) => { st.error = e; });
  st.connected = new Promise((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  st.ended = new Promise((resolve) => sock.on('close', () => resolve(true)));
  return st;
}

/** A WebSocket frame built by hand (client frames are masked unless told otherwise). */
function wsFrame(opcode, payload, { fin = true, rsv = 0, mask = true } = {}) {
  const body = Buffer.from(payload);
  const n = body.length;
  const head = [(fin ? 0x80 : 0) | (rsv << 4) | opcode];
  const m = mask ? 0x80 : 0;
  if (n < 126) head.push(m | n);
  else if (n < 65536) head.push(m | 126, n >> 8, n & 255);
  else throw new Error('frame too long for this helper');
  const key = crypto.randomBytes(4);
  if (mask) for (let i = 0; i < n; i += 1) body[i] ^= key[i % 4];
  return Buffer.concat([Buffer.from(head), mask ? key : Buffer.alloc(0), body]);
}

/**
 * A WebSocket opened by hand on a raw TCP socket: the upgrade is checked (101, the accept
 * key), then server frames are parsed as they come. Resolves after `hello`.
 */
async function rawWs(b = broker) {
  const st = rawSocket(b.port);
  await st.connected;
  const key = crypto.randomBytes(16).toString('base64');
  st.sock.write(`GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${b.port}\r\nUpgrade: websocket\r\n`
    + `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n`
    + 'Sec-WebSocket-Protocol: qrlogin.v1\r\n\r\n');
  const ws = { st, frames: [], waiters: [], buf: Buffer.alloc(0), upgraded: false };
  const pump = () => {
    if (!ws.upgraded) {
      const end = st.data.indexOf('\r\n\r\n');
      if (end < 0) return;
      ws.response = st.data.subarray(0, end).toString('latin1');
      ws.buf = st.data.subarray(end + 4);
      ws.upgraded = true;
    } else {
      ws.buf = Buffer.concat([ws.buf, ws.pending]);
    }
    for (;;) {
      if (ws.buf.length < 2) break;
      const b0 = ws.buf[0];
      const b1 = ws.buf[1];
      let len = b1 & 0x7f;
      let off = 2;
      if (len === 126) { if (ws.buf.length < 4) break; len = ws.buf.readUInt16BE(2); off = 4; }
      else if (len === 127) { if (ws.buf.length < 10) break; len = Number(ws.buf.readBigUInt64BE(2)); off = 10; }
      if (b1 & 0x80) off += 4; // a server must not mask, but parse it anyway
      if (ws.buf.length < off + len) break;
      const payload = ws.buf.subarray(off, off + len);
      ws.buf = ws.buf.subarray(off + len);
      const f = { opcode: b0 & 0x0f, fin: !!(b0 & 0x80), payload };
      if (f.opcode === 1) {
        try { f.json = JSON.parse(payload.toString('utf8')); } catch { f.json = null; }
      }
      if (f.opcode === 8) f.code = payload.length >= 2 ? payload.readUInt16BE(0) : null;
      ws.frames.push(f);
      for (const w of ws.waiters.splice(0)) {
        if (w.pred(f)) w.resolve(f); else ws.waiters.push(w);
      }
    }
  };
  st.sock.removeAllListeners('data');
  st.sock.on('data', (d) => {
    if (!ws.upgraded) st.data = Buffer.concat([st.data, d]);
    else ws.pending = d;
    pump();
  });
  ws.frame = (pred) => {
    const f = ws.frames.find(pred);
    if (f) return Promise.resolve(f);
    return new Promise((resolve) => ws.waiters.push({ pred, resolve }));
  };
  const hello = await within(ws.frame((f) => f.opcode === 1), EVENT_WAIT_MS, 'hello on a raw socket');
  assert.match(ws.response, /^HTTP\/1\.1 101 /, `upgrade answered ${ws.response}`);
  const accept = crypto.createHash('sha1')
    .update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  assert.match(ws.response, new RegExp(`sec-websocket-accept: ${accept.replace(/[+/]/g, '\\$&')}`, 'i'));
  assert.equal(hello.json && hello.json.type, 'hello');
  return ws;
}

/** An anonymous socket's request; rejects nothing, returns the reply frame. */
const req = (c, obj) => c.request(obj);

// ---------------------------------------------------------------------------------------------
// 1. Slow reader

test('a client that stops reading while the broker has many frames for it is closed 1008; others are served', async () => {
  // Control: 2000 ticket.new from a client that reads (20 in flight at a time) are all
  // answered and the socket stays open, so the close below is about not reading, not volume.
  const reader = await connect(broker);
  for (let k = 0; k < 100; k += 1) {
    const batch = [];
    for (let i = 0; i < 20; i += 1) batch.push(reader.request({ type: 'ticket.new' }));
    for (const r of await Promise.all(batch)) assert.equal(r.type, 'ticket', JSON.stringify(r).slice(0, 200));
  }
  assert.ok(reader.isOpen, 'a client that reads its replies was closed');

  const bystander = await connect(broker);
  await pcTicket(bystander);

  const slow = await connect(broker);
  const first = await pcTicket(slow);
  // Enough requests for ≥ 8 MB of replies (each carries a QR SVG, ~4 KB): far more than the
  // kernel's socket buffers hold, so the rest must queue in the broker.
  const replyBytes = Buffer.byteLength(JSON.stringify(first));
  const n = Math.min(10000, Math.max(2000, Math.ceil(8e6 / replyBytes / 20) * 20));
  slow.ws._socket.pause(); // stop reading: the kernel buffers fill, then the broker's queue
  // Sent in paced batches so that the broker gets to write (and fill the kernel buffers)
  // between them.
  for (let k = 0; k < n / 20; k += 1) {
    for (let i = 0; i < 20; i += 1) slow.send({ type: 'ticket.new' });
    await sleep(5);
  }
  // Meanwhile the broker serves everyone else.
  await pcTicket(bystander);
  await assertServing('while a client does not read');

  slow.ws._socket.resume();
  const c = await within(slow.closed, 15000, 'the non-reading socket was not closed');
  // 1008 with the close frame, or 1006 when the close frame was lost to a TCP reset (the broker
  // closed while our requests were still unread in its receive buffer).
  assert.ok([1008, 1006].includes(c.code), `close ${c.code} ${c.reason}`);
  const got = slow.seen.filter((f) => f.type === 'ticket').length;
  assert.ok(got < n + 1, `all ${got} replies were delivered: the broker buffered without bound`);

  await pcTicket(bystander);
  assert.ok(reader.isOpen && bystander.isOpen, 'another socket was closed with the slow one');
  reader.close();
  bystander.close();
  await assertServing('after a slow reader');
});

// ---------------------------------------------------------------------------------------------
// 2. Half-open handshakes

function openFileLimit() {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const soft = line.trim().split(/\s+/)[3];
    return soft === 'unlimited' ? Infinity : Number(soft);
  } catch { return Infinity; }
}

test('1000 half-open handshakes do not lock out a normal client', async (t) => {
  const limit = openFileLimit();
  // Both ends of each connection are on this machine, but the broker is another process with
  // the same limit; keep ~150 descriptors for everything else.
  const n = Math.min(1000, limit - 150);
  if (n < 300) {
    t.skip(`open-file limit ${limit} is too low for this test`);
    return;
  }
  const socks = [];
  try {
    for (let i = 0; i < n; i += 1) socks.push(rawSocket(broker.port));
    await Promise.all(socks.map((s) => s.connected));
    socks.forEach((s, i) => {
      if (i % 3 === 0) return; // nothing at all
      // A partial upgrade request: headers without the final blank line.
      let head = `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${broker.port}\r\nUpgrade: websocket\r\n`;
      if (i % 3 === 2) head += `Connection: Upgrade\r\nSec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n`;
      s.sock.write(head);
    });
    // While all of them are held open: a normal client connects, gets hello, gets a ticket,
    // and a phone signs in and logs the PC in.
    const pc = await connect(broker);
    await pcTicket(pc);
    const phone = await phoneLogin(broker, 'alice', 'alice-pw-1');
    const { pc: pc2, login } = await qrLogin(broker, phone.ws);
    assert.equal((await apiMe(broker, login.access_token)).status, 200);
    const h = await get(broker, '/healthz');
    assert.equal(h.status, 200);
    let ended = 0;
    await Promise.all(socks.map((s) => Promise.race([s.ended.then(() => { ended += 1; }), sleep(0)])));
    t.diagnostic(`${n} half-open connections, ${ended} of them closed by the broker meanwhile`);
    pc.close();
    pc2.close();
    phone.ws.close();
  } finally {
    for (const s of socks) s.sock.destroy();
  }
  await assertServing('after 1000 half-open handshakes');
});

// ---------------------------------------------------------------------------------------------
// 3. Garbage on the port

/**
 * Write bytes on a fresh connection; resolve {ended, status} once the broker closed the
 * connection or answered with an HTTP status line. Never a 2xx or 101.
 */
async function garbage(bytes, what) {
  const s = rawSocket(broker.port);
  await s.connected;
  s.sock.write(bytes);
  const answered = new Promise((resolve) => {
    const check = () => { if (/^HTTP\/1\.[01] \d{3}/.test(s.data.toString('latin1'))) resolve(true); };
    s.sock.on('data', check);
  });
  await within(Promise.race([s.ended, answered]), 10000, `${what}: the broker neither answered nor closed`);
  const text = s.data.toString('latin1');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  if (status) {
    assert.ok(Number(status[1]) >= 400, `${what}: answered ${text.slice(0, 100)}`);
  } else {
    assert.equal(s.data.length, 0, `${what}: answered bytes that are no HTTP error: ${text.slice(0, 100)}`);
  }
  s.sock.destroy();
}

test('garbage bytes, a TLS ClientHello and a 64 KiB request line → closed or an HTTP error; the broker serves on', async () => {
  const bystander = await connect(broker);
  await pcTicket(bystander);
  const host = `Host: 127.0.0.1:${broker.port}`;
  await Promise.all([
    garbage(crypto.randomBytes(65536), 'random bytes'),
    garbage(Buffer.concat([Buffer.alloc(1024), Buffer.from('\r\n\r\n')]), 'NUL bytes'),
    garbage(`GET /${'a'.repeat(65536)} HTTP/1.1\r\n${host}\r\n\r\n`, '64 KiB request line'),
    garbage(`GET /healthz HTTP/1.1\r\n${host}\r\nX-Big: ${'b'.repeat(65536)}\r\n\r\n`, '64 KiB header'),
    garbage(`GET /ws HTTP/1.1\r\n${host}\r\n${'X-H: v\r\n'.repeat(2000)}\r\n`, '2000 headers'),
    garbage(`\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03${'x'.repeat(200)}`, 'a TLS-looking record'),
  ]);
  // A real TLS handshake to the plain port fails on the client side; it never connects.
  await within(new Promise((resolve, reject) => {
    const s = tls.connect({ port: broker.port, host: '127.0.0.1', rejectUnauthorized: false });
    s.on('secureConnect', () => { s.destroy(); reject(new Error('TLS handshake succeeded on the plain port')); });
    s.on('error', () => { s.destroy(); resolve(); });
    s.on('close', () => resolve());
  }), 10000, 'TLS ClientHello to the plain port');
  await pcTicket(bystander);
  bystander.close();
  await assertServing('after garbage on the port');
});

const CLOSE_CODES = [1002, 1003, 1007, 1008, 1009];

/**
 * After a valid upgrade, send `bytes` (with a ticket.new request inside where possible): the
 * broker must close (a close frame with a protocol-error code, or the TCP connection ends)
 * and must not act on the request.
 */
async function badFrame(bytes, what) {
  const ws = await rawWs();
  try {
    await badFrameOn(ws, bytes, what);
  } finally {
    ws.st.sock.destroy();
  }
}
async function badFrameOn(ws, bytes, what) {
  ws.st.sock.write(bytes);
  const closeFrame = ws.frame((f) => f.opcode === 8);
  const how = await within(Promise.race([closeFrame.then((f) => ({ frame: f })), ws.st.ended.then(() => ({ ended: true }))]),
    EVENT_WAIT_MS, `${what}: the broker kept the connection open`);
  if (how.frame) {
    assert.ok(CLOSE_CODES.includes(how.frame.code), `${what}: closed with ${how.frame.code} ${how.frame.payload.subarray(2)}`);
  }
  const acted = ws.frames.filter((f) => f.json && f.json.type !== 'hello');
  assert.deepEqual(acted.map((f) => f.json), [], `${what}: the broker acted on it`);
}

describe('invalid WebSocket frames after a valid upgrade → closed; the broker serves on', () => {
  const reqText = JSON.stringify({ type: 'ticket.new', id: 1 });
  const cases = {
    'reserved data opcode 0x3': wsFrame(0x3, reqText),
    'reserved control opcode 0xB': wsFrame(0xB, 'x'),
    'RSV1 set (no extension negotiated)': wsFrame(1, reqText, { rsv: 4 }),
    'RSV2 set': wsFrame(1, reqText, { rsv: 2 }),
    'RSV3 set': wsFrame(1, reqText, { rsv: 1 }),
    'a ping of 126 bytes (control frames are ≤ 125)': wsFrame(9, 'p'.repeat(126)),
    'a fragmented ping': wsFrame(9, 'p', { fin: false }),
    'a continuation frame with nothing to continue': wsFrame(0, reqText),
    'a new text frame inside a fragmented message': Buffer.concat([
      wsFrame(1, reqText.slice(0, 10), { fin: false }), wsFrame(1, reqText.slice(10))]),
    '64-bit length with the top bit set': Buffer.from([0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4]),
    'a frame announcing 2^40 bytes, then 10 KB of it': (() => {
      const h = Buffer.alloc(14);
      h[0] = 0x81; h[1] = 0xff; h.writeBigUInt64BE(2n ** 40n, 2); crypto.randomBytes(4).copy(h, 10);
      return Buffer.concat([h, Buffer.alloc(10000, 0x20)]);
    })(),
  };
  for (const [what, bytes] of Object.entries(cases)) {
    test(what, async () => {
      await badFrame(bytes, what);
      assertAlive();
    });
  }
  test('the broker still serves after all of them', async () => {
    await assertServing('after invalid frames');
  });
});

// RFC 6455 §5.1: "The server MUST close the connection upon receiving a frame that is not
// masked." An unmasked frame is what a cross-protocol / cache-poisoning attack through a
// non-WebSocket intermediary looks like. libwebsockets 4.1.6 (Debian 12) does not enforce
// it and tells the application nothing about masking, so this is a known deviation
// (docs/protocol.md, "Known deviations"); the test stays so it starts passing — and can be
// turned back into a hard requirement — once the library enforces it.
test('an unmasked client frame → the connection is closed, the request is not served', {
  todo: 'libwebsockets 4.1.6 accepts unmasked client frames (docs/protocol.md)',
}, async () => {
  await badFrame(wsFrame(1, JSON.stringify({ type: 'ticket.new', id: 1 }), { mask: false }), 'unmasked text frame');
  assertAlive();
});

// ---------------------------------------------------------------------------------------------
// 4. Token forgeries built by hand from real tokens

const b64u = (x) => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)).toString('base64url');
function signHs256(header, claims, key) {
  const input = `${b64u(header)}.${b64u(claims)}`;
  return `${input}.${crypto.createHmac('sha256', key).update(input).digest('base64url')}`;
}
function signEs256(header, claims, privateKey) {
  const input = `${b64u(header)}.${b64u(claims)}`;
  const sig = crypto.sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${sig.toString('base64url')}`;
}
const withSig = (header, claims, sig) => `${b64u(header)}.${b64u(claims)}.${sig}`;

describe('token forgeries → invalid_token / 401, the real tokens keep working', () => {
  let alice;
  let bob;
  let probe;
  let A; // alice's access token: {tok, hdr, claims, sig}
  let R; // alice's refresh token
  let ourJwk;
  let jwksText;
  const attacker = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const attackerJwk = attacker.publicKey.export({ format: 'jwk' });

  before(async () => {
    alice = await phoneLogin(broker, 'alice', 'alice-pw-1');
    bob = await phoneLogin(broker, 'bob', 'bob-pw-2');
    probe = await connect(broker);
    const split = (tok) => ({ tok, hdr: decodeHeader(tok), claims: decodeJwt(tok), sig: tok.split('.')[2] });
    A = split(alice.auth.access_token);
    R = split(alice.auth.refresh_token);
    const set = await jwks(broker);
    ourJwk = set.keys.find((k) => k.kid === A.hdr.kid);
    assert.ok(ourJwk, `kid ${A.hdr.kid} not in the JWKS`);
    jwksText = (await get(broker, '/.well-known/jwks.json')).body;
  });
  after(() => {
    alice.ws.close();
    bob.ws.close();
    probe.close();
  });

  async function rejectAccess(tok, what) {
    assertBearer401(await apiMe(broker, tok), what);
    if (Buffer.byteLength(tok) < 3500) { // stay below the 4096-byte message limit
      for (const type of ['auth.token', 'session.attach']) {
        const r = await req(probe, { type, access_token: tok });
        assert.equal(r.type, 'error', `${what}: ${type} accepted: ${JSON.stringify(r)}`);
        assert.equal(r.code, 'invalid_token', `${what}: ${type} → ${JSON.stringify(r)}`);
      }
    }
  }
  async function rejectRefresh(tok, what) {
    const r = await req(probe, { type: 'token.refresh', refresh_token: tok });
    assert.equal(r.type, 'error', `${what}: token.refresh accepted: ${JSON.stringify(r).slice(0, 300)}`);
    assert.equal(r.code, 'invalid_token', `${what}: token.refresh → ${JSON.stringify(r)}`);
    const h = await postToken(broker, { grant_type: 'refresh_token', refresh_token: tok });
    assert.equal(h.status, 400, `${what}: POST /api/token ${h.status} ${h.body}`);
    assert.equal(h.json && h.json.error, 'invalid_token', `${what}: POST /api/token ${h.body}`);
  }

  test('alg none with an empty signature (and spelling variants)', async () => {
    for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
      await rejectAccess(withSig({ ...A.hdr, alg }, A.claims, ''), `access alg ${alg}`);
      await rejectAccess(withSig({ ...A.hdr, alg }, A.claims, A.sig), `access alg ${alg}, old signature`);
      await rejectRefresh(withSig({ ...R.hdr, alg }, R.claims, ''), `refresh alg ${alg}`);
    }
    await rejectAccess(`${b64u({ alg: 'none' })}.${b64u(A.claims)}.`, 'bare alg none header');
  });

  test('HS256 signed with the ES256 public key (key confusion)', async () => {
    const x = Buffer.from(ourJwk.x, 'base64url');
    const y = Buffer.from(ourJwk.y, 'base64url');
    const pub = crypto.createPublicKey({ key: ourJwk, format: 'jwk' });
    const keys = {
      'uncompressed point 04||x||y': Buffer.concat([Buffer.from([4]), x, y]),
      'x||y': Buffer.concat([x, y]),
      'x alone': x,
      'the JWK JSON text': JSON.stringify(ourJwk),
      'the JWK JSON text (x, y, kty, crv)': JSON.stringify({ crv: ourJwk.crv, kty: ourJwk.kty, x: ourJwk.x, y: ourJwk.y }),
      'the JWKS document text': jwksText,
      'SPKI PEM': pub.export({ type: 'spki', format: 'pem' }),
      'SPKI DER': pub.export({ type: 'spki', format: 'der' }),
      'the kid': A.hdr.kid,
    };
    for (const [what, key] of Object.entries(keys)) {
      const tok = signHs256({ ...A.hdr, alg: 'HS256' }, A.claims, key);
      // The forgery is well made: it verifies with the key it was made with.
      const [h, p, s] = tok.split('.');
      assert.equal(crypto.createHmac('sha256', key).update(`${h}.${p}`).digest('base64url'), s);
      await rejectAccess(tok, `HS256 with ${what}`);
      // Also under the refresh header (HS256 rt+jwt) and the refresh claims.
      await rejectRefresh(signHs256(R.hdr, R.claims, key), `refresh re-signed with ${what}`);
      await rejectRefresh(signHs256({ ...R.hdr, kid: A.hdr.kid }, R.claims, key), `refresh with the ES256 kid, HMAC with ${what}`);
    }
  });

  test('a correctly signed token from a key that is not ours', async () => {
    const attackerKid = 'attacker-kid';
    await rejectAccess(signEs256({ ...A.hdr, kid: attackerKid }, A.claims, attacker.privateKey), 'foreign kid');
    await rejectAccess(signEs256(A.hdr, A.claims, attacker.privateKey), 'our kid, foreign key');
    await rejectAccess(signEs256({ alg: 'ES256', typ: 'at+jwt' }, A.claims, attacker.privateKey), 'no kid, foreign key');
    await rejectAccess(signEs256({ ...A.hdr, jwk: attackerJwk }, A.claims, attacker.privateKey), 'our kid, embedded jwk of the signer');
    await rejectAccess(signEs256({ ...A.hdr, kid: attackerKid, jwk: { ...attackerJwk, kid: attackerKid } }, A.claims,
      attacker.privateKey), 'foreign kid, embedded jwk of the signer');
    await rejectAccess(signEs256({ ...A.hdr, kid: attackerKid, jku: 'http://127.0.0.1:1/jwks.json' }, A.claims,
      attacker.privateKey), 'foreign kid with jku');
    await rejectAccess(signEs256({ ...A.hdr, kid: R.hdr.kid }, A.claims, attacker.privateKey), 'the refresh kid, foreign EC key');
    // A foreign key signing a token for bob.
    await rejectAccess(signEs256({ ...A.hdr, kid: attackerKid }, { ...A.claims, sub: bob.auth.user.id, name: 'bob', sid: bob.auth.session_id },
      attacker.privateKey), 'foreign key, bob’s claims');
    await rejectRefresh(signEs256({ ...R.hdr, alg: 'ES256' }, R.claims, attacker.privateKey), 'refresh as ES256, foreign key');
  });

  test('a refresh token re-signed with guessed keys', async () => {
    const guesses = ['', 'secret', 'qrlogin', 'changeme', Buffer.alloc(32), Buffer.alloc(64, 0xff), R.hdr.kid,
      Buffer.from(R.hdr.kid, 'base64url'), A.sig, alice.auth.session_id];
    for (const key of guesses) {
      await rejectRefresh(signHs256(R.hdr, R.claims, key), `refresh HMAC key ${JSON.stringify(String(key)).slice(0, 40)}`);
      await rejectRefresh(signHs256(R.hdr, { ...R.claims, exp: R.claims.exp + 86400 * 365 }, key), 'refresh, exp a year later, guessed key');
    }
  });

  test('typ changed, header members added, claims changed: the old signature no longer fits', async () => {
    const headers = {
      'typ JWT': { ...A.hdr, typ: 'JWT' },
      'typ rt+jwt': { ...A.hdr, typ: 'rt+jwt' },
      'no typ': { alg: A.hdr.alg, kid: A.hdr.kid },
      'crit member': { ...A.hdr, crit: ['exp'] },
      'jku member': { ...A.hdr, jku: 'http://127.0.0.1:1/jwks.json' },
      'x5u member': { ...A.hdr, x5u: 'http://127.0.0.1:1/cert.pem' },
      'b64 false': { ...A.hdr, b64: false, crit: ['b64'] },
      'kid path traversal': { ...A.hdr, kid: '../../../../../../etc/passwd' },
      'kid with a NUL': { ...A.hdr, kid: `${A.hdr.kid}\u0000x` },
      'kid 200 characters': { ...A.hdr, kid: 'k'.repeat(200) },
      'kid not a string': { ...A.hdr, kid: 1 },
      'alg array': { ...A.hdr, alg: ['ES256'] },
    };
    for (const [what, hdr] of Object.entries(headers)) await rejectAccess(withSig(hdr, A.claims, A.sig), `access: ${what}`);
    const rHeaders = {
      'typ at+jwt': { ...R.hdr, typ: 'at+jwt' },
      'typ JWT': { ...R.hdr, typ: 'JWT' },
      'extra member': { ...R.hdr, zip: 'DEF' },
      'kid path traversal': { ...R.hdr, kid: '../keys/refresh.key' },
    };
    for (const [what, hdr] of Object.entries(rHeaders)) await rejectRefresh(withSig(hdr, R.claims, R.sig), `refresh: ${what}`);

    const bobClaims = { sub: String(bob.auth.user.id), name: 'bob', sid: bob.auth.session_id };
    await rejectAccess(withSig(A.hdr, { ...A.claims, sub: bobClaims.sub }, A.sig), 'sub of bob, old signature');
    await rejectAccess(withSig(A.hdr, { ...A.claims, ...bobClaims }, A.sig), 'sub, name and sid of bob, old signature');
    await rejectAccess(withSig(A.hdr, { ...A.claims, ver: A.claims.ver + 1 }, A.sig), 'ver changed, old signature');
    await rejectRefresh(withSig(R.hdr, { ...R.claims, sub: bobClaims.sub, sid: bob.auth.session_id }, R.sig), 'refresh for bob, old signature');
    // The original bytes with something glued on.
    await rejectAccess(`${A.tok}.x`, 'a fourth segment');
    await rejectAccess(`${A.tok}AA`, 'a longer signature');
    await rejectAccess(A.tok.slice(0, -4), 'a shorter signature');
    await rejectAccess(`${A.tok.split('.').slice(0, 2).join('.')}.${Buffer.alloc(64).toString('base64url')}`, 'an all-zero signature');
    await rejectRefresh(`${R.tok}.x`, 'refresh with a fourth segment');
    // A very large token over HTTP: refused, not a crash.
    // (lws may drop the connection instead of answering: "Ran out of header data space".)
    const hugeTok = withSig({ ...A.hdr, kid: 'k'.repeat(6000) }, A.claims, A.sig);
    const huge = await getJson(broker, '/api/me', { Authorization: `Bearer ${hugeTok}` })
      .catch((e) => ({ status: `connection dropped (${e.cause?.code || e.message})` }));
    assert.notEqual(huge.status, 200, 'an 8 KB forged token was accepted');
    assertAlive();
  });

  test('after all of it the probe is not signed in, and alice’s and bob’s real tokens work', async () => {
    await probe.fails({ type: 'session.list' }, 'unauthorized');
    assert.equal((await apiMe(broker, A.tok)).status, 200);
    assert.equal((await apiMe(broker, bob.auth.access_token)).status, 200);
    const s = await connect(broker);
    const att = await s.call({ type: 'session.attach', access_token: A.tok }, 'session');
    assert.equal(att.session_id, alice.auth.session_id);
    s.close();
    // The real refresh token still rotates (nothing above revoked or reused it).
    const t = await alice.ws.call({ type: 'token.refresh', refresh_token: R.tok }, 'token');
    assert.equal(t.session_id, alice.auth.session_id);
    assertAlive();
  });
});

// ---------------------------------------------------------------------------------------------
// 5. Bob touching alice's state

/** Round trip on c: every push queued for c before now has arrived once this resolves. */
async function barrier(c) {
  const r = await c.request({ type: 'no.such.type' });
  assert.equal(r.type, 'error');
}
const revokedPushes = (c) => c.seen.filter((f) => f.type === 'session.revoked');

test('bob cannot scan, confirm, deny, cancel, revoke, attach to or log out alice’s state', async () => {
  const alice = await phoneLogin(broker, 'alice', 'alice-pw-1');
  const bob = await phoneLogin(broker, 'bob', 'bob-pw-2');
  const bobId = String(bob.auth.user.id);

  // A PC waiting on a ticket alice scanned.
  const pc = await connect(broker);
  const t = await pcTicket(pc);
  await alice.ws.call({ type: 'ticket.scan', ticket: t.ticket }, 'ticket.info');
  await pc.next('ticket.scanned');
  await bob.ws.fails({ type: 'ticket.scan', ticket: t.ticket }, 'conflict');
  await bob.ws.fails({ type: 'ticket.confirm', ticket: t.ticket }, ['conflict', 'forbidden']);
  await bob.ws.fails({ type: 'ticket.deny', ticket: t.ticket }, ['conflict', 'forbidden']);
  // ticket.cancel works on the asking socket's own ticket only; bob's socket has none.
  await bob.ws.fails({ type: 'ticket.cancel' }, 'not_found');
  await barrier(pc);
  assert.deepEqual(pc.seen.filter((f) => ['login', 'ticket.denied', 'ticket.expired'].includes(f.type)), [],
    'bob changed the state of alice’s ticket');
  assert.equal(alice.ws.seen.filter((f) => f.type === 'ticket.cancelled').length, 0, 'bob cancelled alice’s ticket');
  // Still alice's: she logs the PC in, as herself.
  await alice.ws.call({ type: 'ticket.confirm', ticket: t.ticket }, 'ok');
  const login = await pc.next('login');
  assert.equal(login.user.name, 'alice');
  const aliceWeb = login.session_id;

  // Bob's session list holds none of alice's sessions.
  const list = await bob.ws.call({ type: 'session.list' }, 'sessions');
  for (const sid of [aliceWeb, alice.auth.session_id]) {
    assert.ok(!list.sessions.some((s) => s.session_id === sid), `bob sees alice’s session ${sid}`);
  }

  // Bob revoking alice's sessions: not_found; nothing happens to them.
  await bob.ws.fails({ type: 'session.revoke', session_id: aliceWeb }, ['not_found', 'forbidden']);
  await bob.ws.fails({ type: 'session.revoke', session_id: alice.auth.session_id }, ['not_found', 'forbidden']);
  await barrier(pc);
  assert.deepEqual(revokedPushes(pc), [], 'alice’s PC was pushed a revoke by bob');
  assert.equal((await apiMe(broker, login.access_token)).status, 200);
  assert.equal((await apiMe(broker, alice.auth.access_token)).status, 200);

  // Attaching with bob's token gives bob's session, never alice's.
  const b2 = await connect(broker);
  const att = await b2.call({ type: 'session.attach', access_token: bob.auth.access_token }, 'session');
  assert.equal(att.session_id, bob.auth.session_id);
  assert.equal(att.user.name, 'bob');
  assert.equal(String(att.user.id), bobId);
  // A socket that was alice's and signs in as bob is bob's only.
  const sw = await connect(broker);
  await sw.call({ type: 'session.attach', access_token: alice.auth.access_token }, 'session');
  const swBob = await sw.call({ type: 'auth.password', username: 'bob', password: 'bob-pw-2' }, 'auth');
  const swList = await sw.call({ type: 'session.list' }, 'sessions');
  for (const s of swList.sessions) {
    assert.notEqual(s.session_id, aliceWeb, 'alice’s session listed on a socket now signed in as bob');
    assert.notEqual(s.session_id, alice.auth.session_id, 'alice’s session listed on a socket now signed in as bob');
  }
  const cur = swList.sessions.filter((s) => s.current);
  assert.deepEqual(cur.map((s) => s.session_id), [swBob.session_id], 'the current session is not bob’s new one');
  // `logout` there ends bob's new session, not alice's.
  await sw.call({ type: 'logout' }, 'ok');
  assert.equal((await apiMe(broker, alice.auth.access_token)).status, 200, 'logout as bob ended alice’s session');
  assertBearer401(await apiMe(broker, swBob.access_token), 'bob’s session after logout');

  // Bob's logout.all: all of bob's sessions end, none of alice's.
  await bob.ws.call({ type: 'logout.all' }, 'ok');
  await b2.next('session.revoked');
  await barrier(pc);
  await barrier(alice.ws);
  assert.deepEqual(revokedPushes(pc), [], 'alice’s PC hit by bob’s logout.all');
  assert.deepEqual(revokedPushes(alice.ws), [], 'alice’s phone hit by bob’s logout.all');
  assert.equal((await apiMe(broker, login.access_token)).status, 200);
  assert.equal((await apiMe(broker, alice.auth.access_token)).status, 200);
  assertBearer401(await apiMe(broker, bob.auth.access_token), 'bob after his logout.all');
  const rt = await alice.ws.call({ type: 'token.refresh', refresh_token: login.refresh_token }, 'token');
  assert.equal(rt.session_id, aliceWeb);
  // Alice's phone socket is still signed in.
  await alice.ws.call({ type: 'session.list' }, 'sessions');

  for (const c of [pc, b2, sw, alice.ws, bob.ws]) c.close();
  assertAlive();
});
