// docs/protocol.md §5: refresh-token rotation, the decision table, lifetimes, POST /api/token.
import {
  test, describe, before, after, assert, startBroker, stopAll, connect, phoneLogin, verifyAccess,
  decodeJwt, decodeHeader, tamper, forge, postToken, sleep, sleepUntilSec, apiMe,
  assertFreshLifetime, assertLifetimeMatchesExp, needWithin, retryWindow,
} from './harness.mjs';

const USERS = [['alice', 'alice-pw-1'], ['bob', 'bob-pw-2']];
const INTERVAL_MS = 1000;
const GRACE_MS = 2000;
// A little more than one refresh_interval (1 s), to be past it for sure. Sleeping it is a
// lower bound only: arriving later is still past the interval.
const PAST_INTERVAL = INTERVAL_MS + 150;

// "Too soon" (inside the interval) and "the same pair" (inside the grace) hold only for a
// request that reached the broker inside that window after the rotation. Each such check
// measures from just before the rotating request was sent (`rotSent`) to the reply; a reply
// that came back later proves nothing and the test starts over (harness.mjs: retryWindow).

/** f: the reply of Client.request() (it knows when it was sent and received). */
function assertTokenFrame(f, sid) {
  assert.equal(f.type, 'token', JSON.stringify(f));
  for (const k of ['access_token', 'refresh_token', 'expires_in', 'refresh_expires_in', 'session_id']) {
    assert.ok(k in f, `token frame lacks ${k}: ${JSON.stringify(f)}`);
  }
  assert.equal(typeof f.access_token, 'string');
  assert.equal(typeof f.refresh_token, 'string');
  // A replay within the grace returns the same tokens, so expires_in is what is left of them.
  assert.ok(f.expires_in > 0 && f.expires_in <= 900, `expires_in ${f.expires_in}`);
  assertLifetimeMatchesExp(f.expires_in, f.access_token, f);
  assert.equal(typeof f.refresh_expires_in, 'number');
  assert.ok(f.refresh_expires_in > 0);
  assertLifetimeMatchesExp(f.refresh_expires_in, f.refresh_token, f, 'refresh_expires_in');
  assert.equal(f.session_id, sid);
}

const refreshOn = (ws, token) => ws.request({ type: 'token.refresh', refresh_token: token });

after(stopAll);

describe('decision table (--refresh-interval 1 --refresh-grace 2)', () => {
  let broker;
  before(async () => {
    broker = await startBroker({ users: USERS, args: ['--refresh-interval', '1', '--refresh-grace', '2'] });
  });
  after(stopAll);

  test('rotate; current again too soon → rate_limited; previous within grace → the same pair', (t) => retryWindow(t, async () => {
    const { ws, auth } = await phoneLogin(broker, 'alice', 'alice-pw-1');
    const sid = auth.session_id;
    await sleep(PAST_INTERVAL);
    const rotSent = Date.now();
    const t1 = await refreshOn(ws, auth.refresh_token);
    assertTokenFrame(t1, sid);
    assert.notEqual(t1.refresh_token, auth.refresh_token);
    assert.notEqual(t1.access_token, auth.access_token);

    // The new current token, at once: too soon. (Asked before the slower checks of t1
    // below, so that it lands inside the interval even on a busy machine.)
    const rl = await refreshOn(ws, t1.refresh_token);
    if (rl.type !== 'error') needWithin(rotSent, INTERVAL_MS, 'the too-soon refresh');
    assert.equal(rl.type, 'error', JSON.stringify(rl));
    assert.equal(rl.code, 'rate_limited', JSON.stringify(rl));
    assert.equal(typeof rl.retry_after, 'number', JSON.stringify(rl));
    assert.ok(rl.retry_after > 0, `retry_after ${rl.retry_after}`);

    // The previous token within the grace: byte-identical pair.
    const again = await refreshOn(ws, auth.refresh_token);
    if (again.type !== 'token') needWithin(rotSent, GRACE_MS, 'the replay within the grace');
    assertTokenFrame(again, sid);
    assert.equal(again.access_token, t1.access_token);
    assert.equal(again.refresh_token, t1.refresh_token);

    const { payload } = await verifyAccess(broker, t1.access_token);
    assert.equal(payload.sid, sid);
    assert.equal(decodeHeader(t1.refresh_token).typ, 'rt+jwt');
    const rc = decodeJwt(t1.refresh_token);
    assert.equal(rc.sid, sid);
    assert.notEqual(rc.jti, decodeJwt(auth.refresh_token).jti);
    assert.equal((await apiMe(broker, t1.access_token)).status, 200);
    ws.close();
  }));

  test('five sockets presenting one token at the same moment get one identical pair', (t) => retryWindow(t, async () => {
    const { ws, auth } = await phoneLogin(broker, 'alice', 'alice-pw-1');
    const socks = await Promise.all([0, 1, 2, 3, 4].map(() => connect(broker)));
    await sleep(PAST_INTERVAL);
    const rotSent = Date.now();
    const replies = await Promise.all(socks.map((s) => refreshOn(s, auth.refresh_token)));
    if (replies.some((r) => r.type !== 'token')) needWithin(rotSent, GRACE_MS, 'the five presenters');
    for (const r of replies) assertTokenFrame(r, auth.session_id);
    const pairs = new Set(replies.map((r) => `${r.access_token} ${r.refresh_token}`));
    assert.equal(pairs.size, 1, `${pairs.size} different pairs for one token`);
    assert.notEqual(replies[0].refresh_token, auth.refresh_token);
    // Exactly one rotation happened: the result is current (too soon to rotate again) and the
    // original is its previous (same pair again).
    const rl = await refreshOn(ws, replies[0].refresh_token);
    if (rl.code !== 'rate_limited') needWithin(rotSent, INTERVAL_MS, 'the too-soon refresh');
    assert.equal(rl.code, 'rate_limited', JSON.stringify(rl));
    const again = await refreshOn(ws, auth.refresh_token);
    if (again.type !== 'token') needWithin(rotSent, GRACE_MS, 'the replay within the grace');
    assert.equal(again.refresh_token, replies[0].refresh_token);
    for (const s of socks) s.close();
    ws.close();
  }));

  test('the same pair over POST /api/token and over the socket', (t) => retryWindow(t, async () => {
    const { ws, auth } = await phoneLogin(broker, 'alice', 'alice-pw-1');
    await sleep(PAST_INTERVAL);
    const rotSent = Date.now();
    const [viaHttp, viaWs] = await Promise.all([
      postToken(broker, { grant_type: 'refresh_token', refresh_token: auth.refresh_token }),
      refreshOn(ws, auth.refresh_token),
    ]);
    if (viaHttp.status !== 200 || viaWs.type !== 'token') needWithin(rotSent, GRACE_MS, 'the two presenters');
    assert.equal(viaHttp.status, 200, viaHttp.body);
    assertTokenFrame(viaWs, auth.session_id);
    assert.equal(viaHttp.json.access_token, viaWs.access_token);
    assert.equal(viaHttp.json.refresh_token, viaWs.refresh_token);
    ws.close();
  }));

  test('previous after the grace → refresh_reused; session revoked and pushed', async () => {
    const { ws, auth } = await phoneLogin(broker, 'alice', 'alice-pw-1');
    const watcher = await connect(broker);
    await watcher.call({ type: 'session.attach', access_token: auth.access_token }, 'session');
    await sleep(PAST_INTERVAL);
    const t1 = await refreshOn(ws, auth.refresh_token);
    assertTokenFrame(t1, auth.session_id);
    const rotatedAt = Date.now();
    await sleep(GRACE_MS + 500 - (Date.now() - rotatedAt));
    const r = await refreshOn(ws, auth.refresh_token);
    assert.equal(r.type, 'error', `previous after grace: ${JSON.stringify(r)}`);
    assert.equal(r.code, 'refresh_reused', JSON.stringify(r));
    const push = await watcher.next('session.revoked');
    assert.equal(push.session_id, auth.session_id);
    assert.equal(push.reason, 'refresh_reused');
    assert.ok(watcher.isOpen);
    // The current token is dead now too, and so is the reused one.
    const cur = await refreshOn(ws, t1.refresh_token);
    assert.equal(cur.code, 'session_revoked', JSON.stringify(cur));
    const old = await refreshOn(ws, auth.refresh_token);
    assert.equal(old.code, 'session_revoked', JSON.stringify(old));
    const h = await postToken(broker, { grant_type: 'refresh_token', refresh_token: t1.refresh_token });
    assert.equal(h.status, 400);
    assert.equal(h.json?.error, 'session_revoked', h.body);
    watcher.close();
    ws.close();
  });

  test('an older token (not current, not previous) → refresh_reused even inside a grace', async () => {
    const { ws, auth } = await phoneLogin(broker, 'alice', 'alice-pw-1');
    const watcher = await connect(broker);
    await watcher.call({ type: 'session.attach', access_token: auth.access_token }, 'session');
    await sleep(PAST_INTERVAL);
    const t1 = await refreshOn(ws, auth.refresh_token);
    assertTokenFrame(t1, auth.session_id);
    await sleep(PAST_INTERVAL);
    const t2 = await refreshOn(ws, t1.refresh_token);
    assertTokenFrame(t2, auth.session_id);
    // auth.refresh_token is two rotations old (retired ~1.2 s ago, i.e. within 2 s).
    const r = await refreshOn(ws, auth.refresh_token);
    assert.equal(r.type, 'error', JSON.stringify(r));
    assert.equal(r.code, 'refresh_reused', JSON.stringify(r));
    const push = await watcher.next('session.revoked');
    assert.equal(push.reason, 'refresh_reused');
    const cur = await refreshOn(ws, t2.refresh_token);
    assert.equal(cur.code, 'session_revoked', JSON.stringify(cur));
    watcher.close();
    ws.close();
  });

  test('reuse revokes only that session', async () => {
    const { ws, auth } = await phoneLogin(broker, 'bob', 'bob-pw-2');
    const { auth: other } = await phoneLogin(broker, 'bob', 'bob-pw-2');
    await sleep(PAST_INTERVAL);
    const t1 = await refreshOn(ws, auth.refresh_token);
    assertTokenFrame(t1, auth.session_id);
    await sleep(PAST_INTERVAL);
    await refreshOn(ws, t1.refresh_token);
    const r = await refreshOn(ws, auth.refresh_token);
    assert.equal(r.code, 'refresh_reused');
    const ok = await refreshOn(ws, other.refresh_token);
    assertTokenFrame(ok, other.session_id);
    ws.close();
  });

  test('garbage, forgeries and access tokens → invalid_token', async () => {
    const { ws, auth } = await phoneLogin(broker, 'alice', 'alice-pw-1');
    const h = decodeHeader(auth.refresh_token);
    const c = decodeJwt(auth.refresh_token);
    const sig = auth.refresh_token.split('.')[2];
    const bad = {
      garbage: 'garbage',
      empty: '',
      'three dots': 'a.b.c',
      'access token': auth.access_token,
      'tampered signature': tamper(auth.refresh_token),
      'alg none': forge({ ...h, alg: 'none' }, c, ''),
      'typ at+jwt': forge({ ...h, typ: 'at+jwt' }, c, sig),
      'claims changed': forge(h, { ...c, exp: c.exp + 1000 }, sig),
      'sid changed': forge(h, { ...c, sid: 'other-session' }, sig),
    };
    for (const [what, tok] of Object.entries(bad)) {
      const r = await refreshOn(ws, tok);
      assert.equal(r.type, 'error', `${what}: ${JSON.stringify(r)}`);
      assert.equal(r.code, 'invalid_token', `${what}: ${JSON.stringify(r)}`);
    }
    // None of that hurt the real session.
    await sleep(PAST_INTERVAL);
    assertTokenFrame(await refreshOn(ws, auth.refresh_token), auth.session_id);
    ws.close();
  });

  test('token.refresh needs no authenticated socket', async () => {
    const { ws: p, auth } = await phoneLogin(broker, 'alice', 'alice-pw-1');
    p.close();
    const anon = await connect(broker);
    await sleep(PAST_INTERVAL);
    assertTokenFrame(await refreshOn(anon, auth.refresh_token), auth.session_id);
    anon.close();
  });
});

describe('POST /api/token', () => {
  let broker;
  before(async () => {
    broker = await startBroker({ users: USERS, args: ['--refresh-interval', '1', '--refresh-grace', '2'] });
  });
  after(stopAll);

  test('happy path: RFC 6749 §5 JSON, application/json, Cache-Control no-store', (t) => retryWindow(t, async () => {
    const { ws, auth } = await phoneLogin(broker, 'alice', 'alice-pw-1');
    ws.close();
    await sleep(PAST_INTERVAL);
    const rotSent = Date.now();
    const r = await postToken(broker, { grant_type: 'refresh_token', refresh_token: auth.refresh_token });
    assert.equal(r.status, 200, r.body);
    assert.match(r.headers.get('content-type') || '', /^application\/json\b/i);
    assert.match(r.headers.get('cache-control') || '', /no-store/i);
    for (const k of ['access_token', 'token_type', 'expires_in', 'refresh_token', 'refresh_expires_in', 'session_id']) {
      assert.ok(k in r.json, `lacks ${k}: ${r.body}`);
    }
    assert.equal(r.json.token_type, 'Bearer');
    assertFreshLifetime(r.json.expires_in, 900);
    assert.equal(r.json.session_id, auth.session_id);
    assert.notEqual(r.json.refresh_token, auth.refresh_token);
    // Too soon with the new current token: the same decision as on the socket.
    const rl = await postToken(broker, { grant_type: 'refresh_token', refresh_token: r.json.refresh_token });
    if (rl.status !== 400) needWithin(rotSent, INTERVAL_MS, 'the too-soon refresh');
    assert.equal(rl.status, 400, rl.body);
    assert.equal(rl.json?.error, 'rate_limited', rl.body);
    // The previous one within the grace: the same pair.
    const again = await postToken(broker, { grant_type: 'refresh_token', refresh_token: auth.refresh_token });
    if (again.status !== 200) needWithin(rotSent, GRACE_MS, 'the replay within the grace');
    assert.equal(again.status, 200, again.body);
    assert.equal(again.json.access_token, r.json.access_token);
    assert.equal(again.json.refresh_token, r.json.refresh_token);
    const { payload } = await verifyAccess(broker, r.json.access_token);
    assert.equal(payload.sid, auth.session_id);
  }));

  test('errors: 400 {"error": code}', async () => {
    const { ws, auth } = await phoneLogin(broker, 'alice', 'alice-pw-1');
    ws.close();
    const cases = [
      ['garbage token', { grant_type: 'refresh_token', refresh_token: 'garbage' }, 'invalid_token'],
      ['access token', { grant_type: 'refresh_token', refresh_token: auth.access_token }, 'invalid_token'],
      ['tampered', { grant_type: 'refresh_token', refresh_token: tamper(auth.refresh_token) }, 'invalid_token'],
      ['missing grant_type', { refresh_token: auth.refresh_token }, null],
      ['wrong grant_type', { grant_type: 'password', refresh_token: auth.refresh_token }, null],
      ['missing refresh_token', { grant_type: 'refresh_token' }, null],
    ];
    for (const [what, fields, code] of cases) {
      const r = await postToken(broker, fields);
      assert.equal(r.status, 400, `${what}: status ${r.status} body ${r.body}`);
      assert.match(r.headers.get('content-type') || '', /^application\/json\b/i, what);
      assert.equal(typeof r.json?.error, 'string', `${what}: body ${r.body}`);
      assert.ok(r.json.error.length > 0);
      if (code) assert.equal(r.json.error, code, `${what}: body ${r.body}`);
      assert.ok(!('access_token' in r.json), what);
    }
    const empty = await postToken(broker, null, { raw: '' });
    assert.equal(empty.status, 400, `empty body: ${empty.status} ${empty.body}`);
    // None of the failures touched the session.
    await sleep(PAST_INTERVAL);
    const ok = await postToken(broker, { grant_type: 'refresh_token', refresh_token: auth.refresh_token });
    assert.equal(ok.status, 200, ok.body);
  });
});

describe('lifetimes', () => {
  test('--refresh-ttl 2 --leeway 0: an expired refresh token → token_expired', async () => {
    const broker = await startBroker({
      users: USERS,
      args: ['--refresh-ttl', '2', '--leeway', '0', '--refresh-interval', '1'],
    });
    const { ws, auth } = await phoneLogin(broker, 'alice', 'alice-pw-1');
    assertFreshLifetime(auth.refresh_expires_in, 2, 'refresh_expires_in');
    const c = decodeJwt(auth.refresh_token);
    assert.equal(c.exp - c.iat, 2);
    await sleepUntilSec(c.exp + 1, 200);
    const r = await refreshOn(ws, auth.refresh_token);
    assert.equal(r.type, 'error', JSON.stringify(r));
    assert.equal(r.code, 'token_expired', JSON.stringify(r));
    const h = await postToken(broker, { grant_type: 'refresh_token', refresh_token: auth.refresh_token });
    assert.equal(h.status, 400);
    assert.equal(h.json?.error, 'token_expired', h.body);
    ws.close();
    await broker.dispose();
  });

  test('leeway: with --leeway 30 a just-expired refresh token still works', async () => {
    const broker = await startBroker({
      users: USERS,
      args: ['--refresh-ttl', '1', '--leeway', '30', '--refresh-interval', '1'],
    });
    const { ws, auth } = await phoneLogin(broker, 'alice', 'alice-pw-1');
    const c = decodeJwt(auth.refresh_token);
    await sleepUntilSec(c.exp + 1, 200);
    const r = await refreshOn(ws, auth.refresh_token);
    assertTokenFrame(r, auth.session_id);
    ws.close();
    await broker.dispose();
  });

  test('rotation slides refresh exp but never past created_at + session_max_age', async () => {
    const broker = await startBroker({
      users: USERS,
      args: ['--refresh-ttl', '60', '--session-max-age', '62', '--refresh-interval', '1'],
    });
    const { ws, auth } = await phoneLogin(broker, 'alice', 'alice-pw-1');
    const c0 = decodeJwt(auth.refresh_token);
    assert.equal(c0.exp - c0.iat, 60);
    await sleep(3100);
    const t1 = await refreshOn(ws, auth.refresh_token);
    assertTokenFrame(t1, auth.session_id);
    const c1 = decodeJwt(t1.refresh_token);
    // Uncapped it would be ≥ c0.iat + 63; the session ends at created_at + 62 ≤ c0.iat + 62.
    assert.ok(c1.exp <= c0.iat + 62, `refresh exp ${c1.exp} beyond session max age (${c0.iat} + 62)`);
    assert.ok(c1.exp >= c0.exp, 'rotation shortened the refresh lifetime');
    assert.ok(t1.refresh_expires_in <= 62 - 3, `refresh_expires_in ${t1.refresh_expires_in}`);
    assert.ok(t1.refresh_expires_in > 0);
    ws.close();
    await broker.dispose();
  });
});

describe('restart in the middle of a grace window', () => {
  test('previous token within grace after a restart → the same pair', async () => {
    // Nothing here waits for the grace to end, so it is long enough for any restart to fit
    // inside it, however slow the machine.
    const broker = await startBroker({
      users: USERS,
      args: ['--refresh-interval', '1', '--refresh-grace', '300'],
    });
    const { ws, auth } = await phoneLogin(broker, 'alice', 'alice-pw-1');
    await sleep(PAST_INTERVAL);
    const t1 = await refreshOn(ws, auth.refresh_token);
    assertTokenFrame(t1, auth.session_id);
    ws.close();
    await broker.restart();
    const ws2 = await connect(broker);
    const again = await refreshOn(ws2, auth.refresh_token);
    assertTokenFrame(again, auth.session_id);
    assert.equal(again.access_token, t1.access_token);
    assert.equal(again.refresh_token, t1.refresh_token);
    // And the current one is still current: it rotates once the interval has passed.
    await sleep(PAST_INTERVAL);
    const t2 = await refreshOn(ws2, t1.refresh_token);
    assertTokenFrame(t2, auth.session_id);
    assert.notEqual(t2.refresh_token, t1.refresh_token);
    ws2.close();
    await broker.dispose();
  });
});
