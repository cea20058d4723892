// full-flow.mjs — the client half of tests/valgrind/full-flow.sh: drives one broker (already
// started under valgrind by the shell script) through a full flow over real WebSockets,
// written against docs/protocol.md only. Every wait is generous: the broker runs
// ~50x slower under memcheck. Exits 0 when every step behaved, 1 with a message otherwise.
// Some sockets are deliberately left open (with a live ticket, or signed in) so that the
// broker's SIGTERM shutdown has connections, tickets and sessions to clean up.
//
//   node full-flow.mjs http://127.0.0.1:PORT
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.resolve(here, '../../package.json'));
const WebSocket = require('ws');

const base = process.argv[2];
assert.ok(base, 'usage: node full-flow.mjs http://127.0.0.1:PORT');
const wsUrl = `${base.replace(/^http/, 'ws')}/ws`;
const WAIT_MS = 60000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const step = (s) => console.log(`[full-flow] ${s}`);

async function waitHealthy() {
  const deadline = Date.now() + 60000;
  for (;;) {
    try {
      const r = await fetch(`${base}/healthz`);
      if (r.status === 200) return;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error('/healthz did not answer 200 within 60 s');
    await sleep(250);
  }
}

/** Waits until the broker's /metrics counts n open WebSocket connections (every kind). */
async function waitOpenSockets(n) {
  const deadline = Date.now() + WAIT_MS;
  let last = null;
  for (;;) {
    const body = await (await fetch(`${base}/metrics`)).text();
    last = body.split('\n').filter((l) => l.startsWith('qrlogin_connections{'))
      .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
    if (last === n) return;
    if (Date.now() > deadline) throw new Error(`/metrics counts ${last} open sockets, not ${n}, after ${WAIT_MS} ms`);
    await sleep(100);
  }
}

/** A WebSocket client that queues every frame, so a wait never misses one. */
class Client {
  constructor(name) {
    this.name = name;
    this.frames = [];
    this.waiters = [];
    this.closed = null;
    this.nextId = 1;
  }

  open() {
    return new Promise((resolve, reject) => {
      this.ws = new WebSocket(wsUrl, 'qrlogin.v1');
      this.ws.on('message', (data, isBinary) => {
        assert.equal(isBinary, false, `${this.name}: binary frame from the broker`);
        this.frames.push(JSON.parse(data.toString('utf8')));
        this.pump();
      });
      this.ws.on('close', (code, reason) => {
        this.closed = { code, reason: reason.toString() };
        this.pump();
      });
      this.ws.on('error', (e) => { if (!this.ws.readyState) reject(e); });
      this.ws.on('open', async () => {
        try {
          const hello = await this.next((f) => f.type === 'hello');
          assert.equal(hello.version, 1);
          resolve(this);
        } catch (e) { reject(e); }
      });
    });
  }

  pump() {
    for (const w of [...this.waiters]) {
      const i = this.frames.findIndex(w.pred);
      if (i >= 0) {
        const [f] = this.frames.splice(i, 1);
        this.waiters.splice(this.waiters.indexOf(w), 1);
        clearTimeout(w.timer);
        w.resolve(f);
      } else if (this.closed && !w.allowClosed) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        clearTimeout(w.timer);
        w.reject(new Error(`${this.name}: closed (${this.closed.code}) while waiting for ${w.what}`));
      }
    }
  }

  /** The first queued or future frame matching pred. */
  next(pred, what = String(pred), waitMs = WAIT_MS) {
    return new Promise((resolve, reject) => {
      const w = { pred, what, resolve, reject };
      w.timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(`${this.name}: no ${what} within ${waitMs} ms; queued: ${JSON.stringify(this.frames)}`));
      }, waitMs);
      this.waiters.push(w);
      this.pump();
    });
  }

  /** Sends msg with a fresh id; resolves the reply carrying that id. */
  async request(msg) {
    const id = this.nextId++;
    this.ws.send(JSON.stringify({ ...msg, id }));
    return this.next((f) => f.id === id, `reply to ${msg.type} #${id}`);
  }

  waitClose() {
    if (this.closed) return Promise.resolve(this.closed);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${this.name}: not closed within ${WAIT_MS} ms`)), WAIT_MS);
      this.ws.once('close', (code, reason) => { clearTimeout(t); resolve({ code, reason: reason.toString() }); });
    });
  }
}

async function connect(name) { return new Client(name).open(); }

function expectType(frame, type) {
  assert.equal(frame.type, type, `expected ${type}, got ${JSON.stringify(frame)}`);
  return frame;
}

// With --ticket-ttl 2 a slow (valgrind) broker may rotate or expire a ticket between our
// steps; such a race answers `not_found`, and we simply start over with a fresh ticket.
const ATTEMPTS = 8;
const notFound = (f) => f.type === 'error' && f.code === 'not_found';

/** PC ticket.new + phone ticket.scan; resolves {ticket, info}. */
async function scanned(pc, phone) {
  for (let i = 0; i < ATTEMPTS; i++) {
    const t = expectType(await pc.request({ type: 'ticket.new', client: { name: 'valgrind' } }), 'ticket');
    assert.match(t.ticket, /^[A-Za-z0-9_-]{22,}$/);
    assert.match(t.qr_svg, /^<svg/);
    const info = await phone.request({ type: 'ticket.scan', ticket: t.ticket });
    if (notFound(info)) continue;
    expectType(info, 'ticket.info');
    assert.equal(info.ticket, t.ticket);
    await pc.next((f) => f.type === 'ticket.scanned' && f.ticket === t.ticket, 'ticket.scanned');
    return { ticket: t, info };
  }
  throw new Error(`no ticket survived until its scan in ${ATTEMPTS} attempts`);
}

/** The whole QR login: scan, confirm, the PC's `login` push. */
async function qrLogin(pc, phone) {
  for (let i = 0; i < ATTEMPTS; i++) {
    const { ticket } = await scanned(pc, phone);
    const ok = await phone.request({ type: 'ticket.confirm', ticket: ticket.ticket });
    if (notFound(ok)) continue;
    expectType(ok, 'ok');
    const login = await pc.next((f) => f.type === 'login' && f.ticket === ticket.ticket, 'login');
    assert.equal(login.user.name, 'demo');
    return login;
  }
  throw new Error(`no ticket survived until its confirm in ${ATTEMPTS} attempts`);
}

async function main() {
  step(`waiting for ${base}/healthz`);
  await waitHealthy();

  step('phone: auth.password (wrong, then right)');
  const phone = await connect('phone');
  const bad = await phone.request({ type: 'auth.password', username: 'demo', password: 'nope' });
  assert.equal(bad.code, 'unauthorized');
  const auth = expectType(await phone.request({ type: 'auth.password', username: 'demo', password: 'demo' }), 'auth');
  assert.ok(auth.access_token && auth.refresh_token && auth.session_id);

  step('PC: ticket.new; phone: scan, confirm; PC gets login');
  const pc = await connect('pc');
  const login = await qrLogin(pc, phone);

  step('HTTP: /api/me, jwks, metrics');
  const me = await fetch(`${base}/api/me`, { headers: { authorization: `Bearer ${login.access_token}` } });
  assert.equal(me.status, 200);
  assert.equal((await me.json()).sid, login.session_id);
  assert.equal((await fetch(`${base}/.well-known/jwks.json`)).status, 200);
  assert.equal((await fetch(`${base}/metrics`)).status, 200);

  step('PC: token.refresh (rotation), then the same token again (grace replay)');
  const tok = expectType(await pc.request({ type: 'token.refresh', refresh_token: login.refresh_token }), 'token');
  assert.notEqual(tok.refresh_token, login.refresh_token);
  const again = expectType(await pc.request({ type: 'token.refresh', refresh_token: login.refresh_token }), 'token');
  assert.equal(again.refresh_token, tok.refresh_token);
  const garbage = await pc.request({ type: 'token.refresh', refresh_token: 'a.b.c' });
  assert.equal(garbage.code, 'invalid_token');

  step('phone: session.list');
  const list = expectType(await phone.request({ type: 'session.list' }), 'sessions');
  const sids = list.sessions.map((s) => s.session_id);
  assert.ok(sids.includes(login.session_id) && sids.includes(auth.session_id), JSON.stringify(list));

  step('phone: session.revoke of the PC session; PC gets session.revoked');
  expectType(await phone.request({ type: 'session.revoke', session_id: login.session_id }), 'ok');
  const revoked = await pc.next((f) => f.type === 'session.revoked', 'session.revoked');
  assert.equal(revoked.reason, 'revoked');

  step('a second PC login, then phone: logout.all');
  const pc2 = await connect('pc2');
  await qrLogin(pc2, phone);
  expectType(await phone.request({ type: 'logout.all' }), 'ok');
  const r2 = await pc2.next((f) => f.type === 'session.revoked', 'session.revoked (pc2)');
  assert.equal(r2.reason, 'logout_all');
  const r3 = await phone.next((f) => f.type === 'session.revoked', 'session.revoked (phone)');
  assert.equal(r3.reason, 'logout_all');

  step('rotation: a waiting PC sees its ticket rotate, then expire (ticket_ttl 2, max_rotations 1)');
  const pc3 = await connect('pc3');
  const t3 = expectType(await pc3.request({ type: 'ticket.new' }), 'ticket');
  const rot = await pc3.next((f) => f.type === 'ticket' && f.rotated === true, 'rotated ticket');
  assert.notEqual(rot.ticket, t3.ticket);
  const exp = await pc3.next((f) => f.type === 'ticket.expired', 'ticket.expired');
  assert.equal(exp.ticket, rot.ticket);

  step('bad input: malformed JSON, binary frame, unknown type, bad id, unauthorized');
  const bad1 = await connect('bad');
  bad1.ws.send('{"type":');
  assert.equal((await bad1.next((f) => f.type === 'error', 'error (malformed)')).code, 'bad_request');
  bad1.ws.send(Buffer.from([1, 2, 3]), { binary: true });
  assert.equal((await bad1.next((f) => f.type === 'error', 'error (binary)')).code, 'bad_request');
  bad1.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d])); // invalid UTF-8 as text
  assert.equal((await bad1.next((f) => f.type === 'error', 'error (utf-8)')).code, 'bad_request');
  assert.equal((await bad1.request({ type: 'no.such.type' })).code, 'bad_request');
  bad1.ws.send(JSON.stringify({ type: 'session.list', id: 'x'.repeat(65) }));
  assert.equal((await bad1.next((f) => f.type === 'error', 'error (id)')).code, 'bad_request');
  assert.equal((await bad1.request({ type: 'session.list' })).code, 'unauthorized');
  assert.equal((await bad1.request({ type: 'ticket.scan', ticket: 'A'.repeat(22) })).code, 'unauthorized');

  step('oversized frame: closed with 1009');
  bad1.ws.send(JSON.stringify({ type: 'ticket.new', pad: 'x'.repeat(8192) }));
  const closed = await bad1.waitClose();
  assert.equal(closed.code, 1009);

  step('abrupt disconnects: a scanned PC vanishes (phone told), a signed-in phone vanishes');
  const phone2 = await connect('phone2');
  expectType(await phone2.request({ type: 'auth.password', username: 'demo', password: 'demo' }), 'auth');
  const pc4 = await connect('pc4');
  const { ticket: t4 } = await scanned(pc4, phone2);
  pc4.ws.terminate(); // no close frame: the TCP connection just goes away
  // Told ticket.cancelled, unless the (slow) broker expired the scanned ticket first.
  await phone2.next((f) => f.type === 'ticket.cancelled' && f.ticket === t4.ticket,
    'ticket.cancelled', 15000).catch((e) => { step(`note: ${e.message.split(';')[0]}`); });
  const pc5 = await connect('pc5');
  expectType(await pc5.request({ type: 'ticket.new' }), 'ticket');
  pc5.ws.send('{"type":"ticket.ne'); // half a request, then gone
  pc5.ws.terminate();
  phone2.ws.terminate();

  step('left open for shutdown: a PC with a live ticket, a signed-in phone, a revoked PC');
  const pc6 = await connect('pc6');
  expectType(await pc6.request({ type: 'ticket.new' }), 'ticket');
  const phone3 = await connect('phone3');
  expectType(await phone3.request({ type: 'auth.password', username: 'demo', password: 'demo' }), 'auth');
  // pc, pc2, pc3, pc6, phone, phone3 stay open. FLOW-OK tells the shell to send SIGTERM;
  // then every one of them must be closed by the broker with 1001 (docs/protocol.md §8).
  const open = [pc, pc2, pc3, pc6, phone, phone3];
  // The terminated sockets are cleaned up before the shutdown (so that memcheck judges that
  // path, not only the shutdown's): wait until the broker counts only the open ones.
  await waitOpenSockets(open.length);
  assert.equal((await fetch(`${base}/healthz`)).status, 200);
  const closes = open.map((c) => c.waitClose());
  for (const p of closes) p.catch(() => {}); // judged below, after the wait
  console.log('FLOW-OK');
  step('flow done; waiting for the broker to close the open sockets (SIGTERM)');
  const results = await Promise.allSettled(closes);
  results.forEach((r, i) => {
    assert.equal(r.status, 'fulfilled', `${open[i].name}: ${r.reason}`);
    assert.equal(r.value.code, 1001, `${open[i].name}: closed with ${r.value.code}, not 1001`);
  });
  step('every open socket was closed with 1001');
  process.exit(0);
}

main().catch((e) => {
  console.error(`[full-flow] FAILED: ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});
