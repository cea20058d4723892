// docs/protocol.md §3 and §4: the QR ticket life cycle, seen from the PC and from the phone.
import {
  test, describe, before, after, assert, startBroker, stopAll, connect, pcTicket, phoneLogin,
  verifyAccess, jwks, decodeJwt, decodeHeader, apiMe, sleep, TICKET_RE, PC_UA,
  assertFreshLifetime, eventually, needWithin, retryWindow,
} from './harness.mjs';

const USERS = [['alice', 'alice-pw-1'], ['bob', 'bob-pw-2']];

function assertNoId(frame) {
  assert.ok(!('id' in frame), `push carries an id: ${JSON.stringify(frame)}`);
}

function assertUser(u, name) {
  assert.ok(u && typeof u === 'object', `user: ${JSON.stringify(u)}`);
  assert.ok(u.id !== undefined && u.id !== null && u.id !== '', `user.id: ${JSON.stringify(u)}`);
  assert.equal(u.name, name);
}

const CODE_RE = /^[0-9]{2}$/;

describe('default broker', () => {
  let broker;
  let alice;
  let bob;
  const pcs = [];
  const pc = async (ua = PC_UA) => {
    const c = await connect(broker, { headers: { 'User-Agent': ua } });
    pcs.push(c);
    return c;
  };

  before(async () => {
    broker = await startBroker({ users: USERS });
    alice = await phoneLogin(broker, 'alice', 'alice-pw-1');
    bob = await phoneLogin(broker, 'bob', 'bob-pw-2');
  });
  after(async () => {
    for (const c of pcs) c.close();
    alice?.ws.close();
    bob?.ws.close();
    await stopAll();
  });

  test('ticket.new → ticket with a ≥128-bit ticket, url, qr_svg, expires_in', async () => {
    const p = await pc();
    const t = await p.request({ type: 'ticket.new', client: { name: 'Work laptop' } });
    assert.equal(t.type, 'ticket', JSON.stringify(t));
    assert.match(t.ticket, TICKET_RE, `ticket ${t.ticket}`);
    assert.ok(Buffer.from(t.ticket, 'base64url').length >= 16, 'fewer than 128 bits');
    assert.equal(t.url, `${broker.url}/m/#t=${t.ticket}`);
    assert.equal(typeof t.qr_svg, 'string');
    assert.ok(t.qr_svg.startsWith('<svg'), `qr_svg starts ${JSON.stringify(t.qr_svg.slice(0, 40))}`);
    assert.match(t.qr_svg, /<\/svg>\s*$/);
    assert.equal(t.expires_in, 60, 'default ticket_ttl is 60 s');
    assert.ok(!('code' in t), 'code present without --number-match');
    assert.ok(!t.rotated, 'a fresh ticket is not "rotated"');
  });

  test('tickets are distinct (no reuse, ever)', async () => {
    const p = await pc();
    const seen = new Set();
    for (let i = 0; i < 10; i += 1) {
      const t = await pcTicket(p);
      assert.ok(!seen.has(t.ticket), 'a ticket repeated');
      seen.add(t.ticket);
    }
  });

  test('a second ticket.new replaces the first', async () => {
    const p = await pc();
    const t1 = await pcTicket(p);
    const t2 = await pcTicket(p);
    assert.notEqual(t1.ticket, t2.ticket);
    await alice.ws.fails({ type: 'ticket.scan', ticket: t1.ticket }, 'not_found');
    const info = await alice.ws.call({ type: 'ticket.scan', ticket: t2.ticket }, 'ticket.info');
    assert.equal(info.ticket, t2.ticket);
    await p.next('ticket.scanned');
  });

  test('scan → ticket.info to the phone, ticket.scanned to the PC', async () => {
    const ua = 'Mozilla/5.0 (Macintosh) blackbox-scan-test/7.1';
    const p = await pc(ua);
    const before_ = Date.now();
    const t = await pcTicket(p, { name: 'Kitchen PC' });
    const info = await alice.ws.call({ type: 'ticket.scan', ticket: t.ticket }, 'ticket.info');
    assert.equal(info.ticket, t.ticket);
    assert.equal(typeof info.expires_in, 'number');
    assert.ok(info.expires_in > 0 && info.expires_in <= 60, `expires_in ${info.expires_in}`);
    assert.ok(info.pc && typeof info.pc === 'object', JSON.stringify(info));
    assert.equal(info.pc.ip, '127.0.0.1');
    assert.equal(info.pc.user_agent, ua);
    assert.equal(info.pc.client_name, 'Kitchen PC');
    assert.equal(typeof info.pc.created_at, 'number');
    assert.ok(Number.isInteger(info.pc.created_at));
    assert.ok(info.pc.created_at >= before_ - 5000 && info.pc.created_at <= Date.now() + 5000,
      `created_at ${info.pc.created_at} is not ms since epoch of the ticket.new`);
    assert.ok(!('code_choices' in info), 'code_choices without --number-match');

    const scanned = await p.next('ticket.scanned');
    assertNoId(scanned);
    assert.equal(scanned.ticket, t.ticket);
    assertUser(scanned.user, 'alice');
    assert.equal(String(scanned.user.id), String(alice.auth.user.id));
  });

  test('the same user scans again → the same ticket.info; another user → conflict', async () => {
    const p = await pc();
    const t = await pcTicket(p, { name: 'Again PC' });
    const i1 = await alice.ws.call({ type: 'ticket.scan', ticket: t.ticket }, 'ticket.info');
    await p.next('ticket.scanned');
    // A second socket of the same user.
    const alice2 = await phoneLogin(broker, 'alice', 'alice-pw-1');
    const i2 = await alice2.ws.call({ type: 'ticket.scan', ticket: t.ticket }, 'ticket.info');
    const i3 = await alice.ws.call({ type: 'ticket.scan', ticket: t.ticket }, 'ticket.info');
    for (const i of [i2, i3]) {
      assert.equal(i.ticket, i1.ticket);
      assert.deepEqual(i.pc, i1.pc);
    }
    await bob.ws.fails({ type: 'ticket.scan', ticket: t.ticket }, 'conflict');
    // Still alice's: she can confirm.
    await alice2.ws.call({ type: 'ticket.confirm', ticket: t.ticket }, 'ok');
    const login = await p.next('login');
    assertUser(login.user, 'alice');
    alice2.ws.close();
  });

  test('only the bound user may confirm or deny', async () => {
    const p = await pc();
    const t = await pcTicket(p);
    await alice.ws.call({ type: 'ticket.scan', ticket: t.ticket }, 'ticket.info');
    await p.next('ticket.scanned');
    await bob.ws.fails({ type: 'ticket.confirm', ticket: t.ticket }, ['conflict', 'forbidden']);
    await bob.ws.fails({ type: 'ticket.deny', ticket: t.ticket }, ['conflict', 'forbidden']);
    assert.equal(await p.none('login', 300), null, 'PC logged in by the wrong user');
    assert.ok(!p.queue.some((f) => f.type === 'ticket.denied'), 'PC denied by the wrong user');
    await alice.ws.call({ type: 'ticket.confirm', ticket: t.ticket }, 'ok');
    const login = await p.next('login');
    assertUser(login.user, 'alice');
  });

  test('confirm/deny before any scan is refused', async () => {
    const p = await pc();
    const t = await pcTicket(p);
    // An unscanned ticket is bound to nobody, so nobody may confirm it yet.
    const r = await alice.ws.request({ type: 'ticket.confirm', ticket: t.ticket });
    assert.equal(r.type, 'error', `confirm without scan accepted: ${JSON.stringify(r)}`);
    assert.equal(await p.none('login', 300), null, 'PC logged in without a scan');
  });

  test('confirm → ok to the phone, login with every field to the PC; the token verifies', async () => {
    const p = await pc();
    const t = await pcTicket(p);
    await alice.ws.call({ type: 'ticket.scan', ticket: t.ticket }, 'ticket.info');
    await p.next('ticket.scanned');
    const ok = await alice.ws.call({ type: 'ticket.confirm', ticket: t.ticket, id: 'c-1' }, 'ok');
    assert.equal(ok.id, 'c-1');
    assert.equal(ok.ticket, t.ticket);
    const login = await p.next('login');
    assertNoId(login);
    assert.equal(login.ticket, t.ticket);
    assert.equal(typeof login.access_token, 'string');
    assert.equal(typeof login.refresh_token, 'string');
    assert.equal(login.token_type, 'Bearer');
    assertFreshLifetime(login.expires_in, 900);
    assert.equal(typeof login.refresh_expires_in, 'number');
    assert.ok(login.refresh_expires_in > 1209600 - 10 && login.refresh_expires_in <= 1209600,
      `refresh_expires_in ${login.refresh_expires_in} (default refresh_ttl 14 days)`);
    assert.equal(typeof login.session_id, 'string');
    assert.ok(login.session_id.length > 0);
    assert.notEqual(login.session_id, alice.auth.session_id, 'a PC login is a new session');
    assertUser(login.user, 'alice');

    const { payload, protectedHeader } = await verifyAccess(broker, login.access_token);
    assert.equal(protectedHeader.alg, 'ES256');
    assert.equal(protectedHeader.typ, 'at+jwt');
    const { keys } = await jwks(broker);
    assert.ok(keys.some((k) => k.kid === protectedHeader.kid), `kid ${protectedHeader.kid} not published`);
    assert.equal(payload.iss, broker.url);
    const aud = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    assert.ok(aud.includes(broker.url), `aud ${JSON.stringify(payload.aud)}`);
    assert.equal(payload.client_id, 'qrlogin-web');
    assert.equal(typeof payload.sub, 'string');
    assert.equal(payload.sub, String(login.user.id));
    assert.equal(payload.sid, login.session_id);
    assert.ok(Number.isInteger(payload.ver), `ver ${payload.ver}`);
    assert.equal(payload.name, 'alice');
    assert.equal(payload.exp - payload.iat, 900);
    assert.equal(typeof payload.jti, 'string');
    assert.ok(payload.jti.length > 0);
    assert.ok(payload.iat <= Math.ceil(Date.now() / 1000), 'iat ahead of the clock');
    if ('nbf' in payload) assert.ok(payload.nbf <= Math.ceil(Date.now() / 1000), 'nbf ahead of the clock');

    const rh = decodeHeader(login.refresh_token);
    assert.equal(rh.alg, 'HS256');
    assert.equal(rh.typ, 'rt+jwt');
    assert.equal(typeof rh.kid, 'string');
    const rc = decodeJwt(login.refresh_token);
    for (const c of ['iss', 'sub', 'exp', 'iat', 'jti', 'sid', 'ver']) {
      assert.ok(c in rc, `refresh token lacks claim ${c}`);
    }
    assert.equal(rc.iss, broker.url);
    assert.equal(rc.sub, payload.sub);
    assert.equal(rc.sid, login.session_id);
    assert.equal(rc.ver, payload.ver);
    assert.notEqual(rc.jti, payload.jti);

    const me = await apiMe(broker, login.access_token);
    assert.equal(me.status, 200);
    assert.equal(me.json.sid, login.session_id);
  });

  test('a ticket is used once: scan or confirm after login → not_found', async () => {
    const p = await pc();
    const t = await pcTicket(p);
    await alice.ws.call({ type: 'ticket.scan', ticket: t.ticket }, 'ticket.info');
    await alice.ws.call({ type: 'ticket.confirm', ticket: t.ticket }, 'ok');
    await p.next('login');
    await alice.ws.fails({ type: 'ticket.scan', ticket: t.ticket }, 'not_found');
    await alice.ws.fails({ type: 'ticket.confirm', ticket: t.ticket }, 'not_found');
    await bob.ws.fails({ type: 'ticket.scan', ticket: t.ticket }, 'not_found');
    assert.equal(await p.none('login', 300), null, 'a second login for one ticket');
  });

  test('deny → ok to the phone, ticket.denied to the PC; the ticket is dead', async () => {
    const p = await pc();
    const t = await pcTicket(p);
    await alice.ws.call({ type: 'ticket.scan', ticket: t.ticket }, 'ticket.info');
    const ok = await alice.ws.call({ type: 'ticket.deny', ticket: t.ticket }, 'ok');
    assert.equal(ok.ticket, t.ticket);
    const denied = await p.next('ticket.denied');
    assertNoId(denied);
    assert.equal(denied.ticket, t.ticket);
    await alice.ws.fails({ type: 'ticket.confirm', ticket: t.ticket }, 'not_found');
    await alice.ws.fails({ type: 'ticket.scan', ticket: t.ticket }, 'not_found');
    assert.equal(await p.none('login', 300), null);
  });

  test('ticket.cancel → ok; the phone that scanned gets ticket.cancelled', async () => {
    const p = await pc();
    const t = await pcTicket(p);
    await alice.ws.call({ type: 'ticket.scan', ticket: t.ticket }, 'ticket.info');
    await p.next('ticket.scanned');
    const ok = await p.request({ type: 'ticket.cancel', id: 'cancel-1' });
    assert.equal(ok.type, 'ok', JSON.stringify(ok));
    assert.equal(ok.id, 'cancel-1');
    const c = await alice.ws.next('ticket.cancelled');
    assertNoId(c);
    if ('ticket' in c) assert.equal(c.ticket, t.ticket);
    await alice.ws.fails({ type: 'ticket.confirm', ticket: t.ticket }, 'not_found');
    await alice.ws.fails({ type: 'ticket.scan', ticket: t.ticket }, 'not_found');
    assert.equal(await p.none('login', 300), null);
  });

  test('PC socket closes → the phone gets ticket.cancelled; the ticket is not_found', async () => {
    const p = await pc();
    const t = await pcTicket(p);
    await alice.ws.call({ type: 'ticket.scan', ticket: t.ticket }, 'ticket.info');
    await p.next('ticket.scanned');
    await p.close();
    const c = await alice.ws.next('ticket.cancelled');
    if ('ticket' in c) assert.equal(c.ticket, t.ticket);
    await alice.ws.fails({ type: 'ticket.confirm', ticket: t.ticket }, 'not_found');
    await alice.ws.fails({ type: 'ticket.scan', ticket: t.ticket }, 'not_found');
  });

  test('PC socket closes before any scan → the ticket is not_found', async () => {
    const p = await pc();
    const t = await pcTicket(p);
    await p.close();
    // The close is processed asynchronously; a later scan must not find it. Scan again until
    // the close has reached the broker (nothing tells a phone that had not scanned it).
    const r = await eventually(async () => {
      const f = await alice.ws.request({ type: 'ticket.scan', ticket: t.ticket });
      return f.type === 'error' && f;
    }, 'the ticket of a closed PC is still scannable');
    assert.equal(r.code, 'not_found');
  });

  test('unknown, garbage, or missing-field tickets → not_found / bad_request', async () => {
    const unknown = Buffer.alloc(16, 7).toString('base64url');
    await alice.ws.fails({ type: 'ticket.scan', ticket: unknown }, 'not_found');
    await alice.ws.fails({ type: 'ticket.scan', ticket: 'garbage!!' }, 'not_found');
    await alice.ws.fails({ type: 'ticket.scan', ticket: 'A'.repeat(200) }, 'not_found');
    await alice.ws.fails({ type: 'ticket.confirm', ticket: unknown }, 'not_found');
    await alice.ws.fails({ type: 'ticket.deny', ticket: unknown }, 'not_found');
    // The not_found answers look the same for every kind of dead ticket.
    const a = await alice.ws.fails({ type: 'ticket.scan', ticket: unknown }, 'not_found');
    const p = await pc();
    const t = await pcTicket(p);
    await pcTicket(p); // t is now replaced, i.e. dead
    const b = await alice.ws.fails({ type: 'ticket.scan', ticket: t.ticket }, 'not_found');
    assert.equal(a.message, b.message, 'not_found differs between unknown and dead tickets');
    await alice.ws.fails({ type: 'ticket.scan' }, ['bad_request', 'not_found']);
    await alice.ws.fails({ type: 'ticket.scan', ticket: 12345 }, ['bad_request', 'not_found']);
  });

  test('phone messages before auth → unauthorized', async () => {
    const anon = await connect(broker);
    const p = await pc();
    const t = await pcTicket(p);
    for (const m of [
      { type: 'ticket.scan', ticket: t.ticket },
      { type: 'ticket.confirm', ticket: t.ticket },
      { type: 'ticket.deny', ticket: t.ticket },
      { type: 'session.list' },
      { type: 'session.revoke', session_id: alice.auth.session_id },
      { type: 'logout.all' },
    ]) {
      await anon.fails(m, 'unauthorized');
    }
    // Nothing happened to the ticket: alice can still use it.
    await alice.ws.call({ type: 'ticket.scan', ticket: t.ticket }, 'ticket.info');
    anon.close();
  });

  test('a failed auth.password leaves the socket unauthenticated', async () => {
    const anon = await connect(broker);
    await anon.fails({ type: 'auth.password', username: 'alice', password: 'nope' }, 'unauthorized');
    const p = await pc();
    const t = await pcTicket(p);
    await anon.fails({ type: 'ticket.scan', ticket: t.ticket }, 'unauthorized');
    anon.close();
  });
});

// The ticket TTL is the subject here. A check that the ticket is still alive holds only for a
// request that reached the broker before the TTL ran out; each one measures from just before
// the request that started the clock was sent, and an attempt whose request came back too late
// proves nothing and starts over (harness.mjs: needWithin, retryWindow). Checks that it is
// dead are made only past a moment the broker cannot have reached yet.
const TTL_MS = 1000;

describe('expiry and rotation (--ticket-ttl 1 --max-rotations 2)', () => {
  let broker;
  let alice;

  before(async () => {
    broker = await startBroker({
      users: USERS,
      args: ['--ticket-ttl', '1', '--max-rotations', '2'],
    });
    alice = await phoneLogin(broker, 'alice', 'alice-pw-1');
  });
  after(async () => {
    alice?.ws.close();
    await stopAll();
  });

  test('an unscanned ticket rotates max_rotations times, then ticket.expired', async () => {
    const p = await connect(broker);
    const t0 = await pcTicket(p);
    assert.equal(t0.expires_in, 1);
    const r1 = await p.next('ticket');
    assertNoId(r1);
    assert.equal(r1.rotated, true, JSON.stringify(r1));
    assert.match(r1.ticket, TICKET_RE);
    assert.notEqual(r1.ticket, t0.ticket);
    assert.equal(r1.url, `${broker.url}/m/#t=${r1.ticket}`);
    assert.ok(r1.qr_svg.startsWith('<svg'));
    assert.equal(r1.expires_in, 1);
    // The old one is dead at once.
    await alice.ws.fails({ type: 'ticket.scan', ticket: t0.ticket }, 'not_found');

    const r2 = await p.next('ticket');
    assert.equal(r2.rotated, true);
    assert.notEqual(r2.ticket, r1.ticket);
    assert.notEqual(r2.ticket, t0.ticket);
    await alice.ws.fails({ type: 'ticket.scan', ticket: r1.ticket }, 'not_found');

    const exp = await p.next('ticket.expired');
    assertNoId(exp);
    assert.equal(exp.ticket, r2.ticket);
    // Rotation stops.
    assert.equal(await p.none('ticket', 1500), null, 'rotated past max_rotations');
    await alice.ws.fails({ type: 'ticket.scan', ticket: r2.ticket }, 'not_found');

    // …until the next ticket.new, which starts the count again.
    const t3 = await pcTicket(p);
    assert.ok(![t0.ticket, r1.ticket, r2.ticket].includes(t3.ticket));
    const r4 = await p.next('ticket');
    assert.equal(r4.rotated, true);
    p.close();
  });

  test('a scan restarts the clock once: still confirmable ticket_ttl after ticket.new', (t) => retryWindow(t, async () => {
    const p = await connect(broker);
    const newSent = Date.now();
    const tk = await pcTicket(p);
    const newBack = Date.now(); // the broker made the ticket before this
    await sleep(newBack + 450 - Date.now());
    const scanSent = Date.now();
    const info = await alice.ws.request({ type: 'ticket.scan', ticket: tk.ticket });
    if (info.type !== 'ticket.info') needWithin(newSent, TTL_MS, 'the scan of a fresh ticket');
    assert.equal(info.type, 'ticket.info', JSON.stringify(info));
    assert.equal(info.expires_in, 1, 'a scan restarts the ticket_ttl clock');
    await p.next('ticket.scanned');
    // Past ticket.new + ticket_ttl for sure: without the restart the ticket would be dead.
    await sleep(newBack + TTL_MS + 50 - Date.now());
    const ok = await alice.ws.request({ type: 'ticket.confirm', ticket: tk.ticket });
    if (ok.type !== 'ok') needWithin(scanSent, TTL_MS, 'the confirm before the restarted clock ran out');
    assert.equal(ok.type, 'ok', JSON.stringify(ok));
    const login = await p.next('login');
    assert.equal(login.ticket, tk.ticket);
    assert.ok(!p.seen.some((f) => f.type === 'ticket' && f.rotated), 'a scanned ticket rotated');
    p.close();
  }));

  test('a scanned ticket expires ticket_ttl after the scan → ticket.expired, not_found', (t) => retryWindow(t, async () => {
    const p = await connect(broker);
    const newSent = Date.now();
    const tk = await pcTicket(p);
    await sleep(500);
    const scanSent = Date.now();
    const info = await alice.ws.request({ type: 'ticket.scan', ticket: tk.ticket });
    if (info.type !== 'ticket.info') needWithin(newSent, TTL_MS, 'the scan of a fresh ticket');
    assert.equal(info.type, 'ticket.info', JSON.stringify(info));
    await p.next('ticket.scanned');
    const exp = await p.next('ticket.expired');
    assert.equal(exp.ticket, tk.ticket);
    // ticket_ttl after the scan, not after ticket.new (a lower bound: the broker started the
    // clock no earlier than scanSent, and a slow delivery only makes the push later).
    assert.ok(exp.receivedAt >= scanSent + TTL_MS - 20,
      `ticket.expired ${exp.receivedAt - scanSent} ms after the scan was sent, ttl ${TTL_MS} ms`);
    await alice.ws.fails({ type: 'ticket.confirm', ticket: tk.ticket }, 'not_found');
    await alice.ws.fails({ type: 'ticket.scan', ticket: tk.ticket }, 'not_found');
    // Nothing follows an expiry: no rotation, no login (an absence, watched for one ttl).
    assert.equal(await p.none('ticket', TTL_MS), null, 'a ticket after ticket.expired');
    assert.ok(!p.seen.some((f) => f.type === 'ticket' && f.rotated), 'a scanned ticket rotated');
    assert.equal(await p.none('login', 200), null);
    p.close();
  }));

  test('only once: a second scan does not restart the clock again', (t) => retryWindow(t, async () => {
    const p = await connect(broker);
    const newSent = Date.now();
    const tk = await pcTicket(p);
    await sleep(200);
    const scan1Sent = Date.now();
    const s1 = await alice.ws.request({ type: 'ticket.scan', ticket: tk.ticket });
    if (s1.type !== 'ticket.info') needWithin(newSent, TTL_MS, 'the first scan');
    assert.equal(s1.type, 'ticket.info', JSON.stringify(s1));
    // The first scan restarted the clock before s1 came back: dead ticket_ttl after that.
    const diesBy = s1.receivedAt + TTL_MS;
    await sleep(scan1Sent + 500 - Date.now());
    const scan2Sent = Date.now();
    const s2 = await alice.ws.request({ type: 'ticket.scan', ticket: tk.ticket });
    if (s2.type !== 'ticket.info') needWithin(scan1Sent, TTL_MS, 'the second scan');
    assert.equal(s2.type, 'ticket.info', JSON.stringify(s2));
    await sleep(diesBy + 50 - Date.now());
    // Always past the first restarted clock: a confirm that succeeds is wrong however late.
    await alice.ws.fails({ type: 'ticket.confirm', ticket: tk.ticket }, 'not_found');
    // It proves the second scan did not restart the clock only if a second restart would
    // still be running when the broker answered.
    needWithin(scan2Sent, TTL_MS, 'the confirm inside what a second restart would have given');
    p.close();
  }));
});

describe('number matching (--number-match)', () => {
  let broker;
  let alice;

  before(async () => {
    broker = await startBroker({ users: USERS, args: ['--number-match'] });
    alice = await phoneLogin(broker, 'alice', 'alice-pw-1');
  });
  after(async () => {
    alice?.ws.close();
    await stopAll();
  });

  async function scanned() {
    const p = await connect(broker);
    const t = await pcTicket(p);
    assert.match(t.code ?? '', CODE_RE, `ticket.code ${JSON.stringify(t.code)}`);
    const info = await alice.ws.call({ type: 'ticket.scan', ticket: t.ticket }, 'ticket.info');
    assert.ok(Array.isArray(info.code_choices), JSON.stringify(info));
    assert.equal(info.code_choices.length, 3);
    for (const c of info.code_choices) assert.match(c, CODE_RE);
    assert.equal(new Set(info.code_choices).size, 3, `choices not distinct: ${info.code_choices}`);
    assert.ok(info.code_choices.includes(t.code), `choices ${info.code_choices} lack ${t.code}`);
    await p.next('ticket.scanned');
    return { p, t, info };
  }

  test('ticket carries a two-digit code; ticket.info three distinct choices with it', async () => {
    const { p } = await scanned();
    p.close();
  });

  test('the right code → login', async () => {
    const { p, t } = await scanned();
    const ok = await alice.ws.call({ type: 'ticket.confirm', ticket: t.ticket, code: t.code }, 'ok');
    assert.equal(ok.ticket, t.ticket);
    const login = await p.next('login');
    assert.equal(login.ticket, t.ticket);
    assertUser(login.user, 'alice');
    p.close();
  });

  test('a wrong code → code_mismatch to the phone, ticket.denied to the PC, ticket dead', async () => {
    const { p, t, info } = await scanned();
    const wrong = info.code_choices.find((c) => c !== t.code);
    await alice.ws.fails({ type: 'ticket.confirm', ticket: t.ticket, code: wrong }, 'code_mismatch');
    const denied = await p.next('ticket.denied');
    assert.equal(denied.ticket, t.ticket);
    await alice.ws.fails({ type: 'ticket.confirm', ticket: t.ticket, code: t.code }, 'not_found');
    await alice.ws.fails({ type: 'ticket.scan', ticket: t.ticket }, 'not_found');
    assert.equal(await p.none('login', 300), null);
    p.close();
  });

  test('codes vary between tickets', async () => {
    const p = await connect(broker);
    const codes = new Set();
    for (let i = 0; i < 12; i += 1) codes.add((await pcTicket(p)).code);
    assert.ok(codes.size > 1, `12 tickets all had code ${[...codes]}`);
    p.close();
  });
});
