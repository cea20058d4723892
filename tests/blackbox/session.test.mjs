// docs/protocol.md §4 session.* / logout.all and §5 sockets and sessions (attach, logout,
// session.revoked pushes).
import {
  test, before, after, assert, startBroker, stopAll, connect, phoneLogin, qrLogin, apiMe,
  assertBearer401, verifyAccess, postToken, PC_UA, PHONE_UA,
} from './harness.mjs';

let broker;
const open = [];

before(async () => {
  broker = await startBroker({
    users: [['alice', 'alice-pw-1'], ['bob', 'bob-pw-2'], ['carol', 'carol-pw-3'], ['dave', 'dave-pw-4']],
  });
});
after(async () => {
  for (const c of open) c.close();
  await stopAll();
});

async function sock(opts) {
  const c = await connect(broker, opts);
  open.push(c);
  return c;
}
async function phone(name, pw) {
  const p = await phoneLogin(broker, name, pw);
  open.push(p.ws);
  return p;
}
async function attach(accessToken, opts) {
  const c = await sock(opts);
  const s = await c.call({ type: 'session.attach', access_token: accessToken }, 'session');
  return { ws: c, session: s };
}
function assertRevoked(push, sid, reason) {
  assert.ok(!('id' in push), `session.revoked carries an id: ${JSON.stringify(push)}`);
  assert.equal(push.session_id, sid, JSON.stringify(push));
  assert.equal(push.reason, reason, JSON.stringify(push));
}

test('session.attach with an access token → session frame', async () => {
  const { auth } = await phone('alice', 'alice-pw-1');
  const c = await sock();
  const s = await c.request({ type: 'session.attach', access_token: auth.access_token, id: 's-1' });
  assert.equal(s.type, 'session', JSON.stringify(s));
  assert.equal(s.id, 's-1');
  assert.equal(s.session_id, auth.session_id);
  assert.equal(s.user.name, 'alice');
  assert.equal(String(s.user.id), String(auth.user.id));
  assert.equal(typeof s.expires_in, 'number');
  assert.ok(s.expires_in > 0 && s.expires_in <= 900, `expires_in ${s.expires_in}`);
});

test('session.attach with a bad token → invalid_token', async () => {
  const { auth } = await phone('alice', 'alice-pw-1');
  const c = await sock();
  await c.fails({ type: 'session.attach', access_token: 'garbage' }, 'invalid_token');
  await c.fails({ type: 'session.attach', access_token: auth.refresh_token }, 'invalid_token');
});

test('logout on an attached socket → ok; the session is revoked; other sockets get logout', async () => {
  const { auth } = await phone('alice', 'alice-pw-1');
  const a = await attach(auth.access_token);
  const b = await attach(auth.access_token);
  const ok = await a.ws.request({ type: 'logout', id: 'bye' });
  assert.equal(ok.type, 'ok', JSON.stringify(ok));
  assert.equal(ok.id, 'bye');
  const push = await b.ws.next('session.revoked');
  assertRevoked(push, auth.session_id, 'logout');
  // The socket stays open and keeps working.
  assert.ok(b.ws.isOpen);
  const t = await b.ws.request({ type: 'ticket.new' });
  assert.equal(t.type, 'ticket');
  // The session's refresh token is dead.
  const r = await b.ws.request({ type: 'token.refresh', refresh_token: auth.refresh_token });
  assert.equal(r.type, 'error', JSON.stringify(r));
  assert.equal(r.code, 'session_revoked');
  // And it is gone from the list.
  const { ws: p2 } = await phone('alice', 'alice-pw-1');
  const list = await p2.call({ type: 'session.list' }, 'sessions');
  assert.ok(!list.sessions.some((s) => s.session_id === auth.session_id), 'logged-out session listed');
});

test('the PC socket that received login is attached to the web session', async () => {
  const { ws: p } = await phone('carol', 'carol-pw-3');
  const { pc, login } = await qrLogin(broker, p);
  open.push(pc);
  await p.call({ type: 'session.revoke', session_id: login.session_id }, 'ok');
  const push = await pc.next('session.revoked');
  assertRevoked(push, login.session_id, 'revoked');
  assert.ok(pc.isOpen, 'PC socket closed on revoke');
});

test('session.list: kinds, fields, the current flag, only the user’s own sessions', async () => {
  const pcUa = `${PC_UA} list-test`;
  const { ws: phoneWs, auth } = await phone('dave', 'dave-pw-4');
  const { login } = await qrLogin(broker, phoneWs, { ua: pcUa });
  const { auth: bobAuth } = await phone('bob', 'bob-pw-2');
  const before_ = Date.now();
  const r = await phoneWs.request({ type: 'session.list', id: 'L' });
  assert.equal(r.type, 'sessions', JSON.stringify(r));
  assert.equal(r.id, 'L');
  assert.ok(Array.isArray(r.sessions));
  const byId = new Map(r.sessions.map((s) => [s.session_id, s]));
  assert.equal(byId.size, r.sessions.length, 'a session listed twice');
  assert.ok(!byId.has(bobAuth.session_id), 'another user’s session listed');
  const app = byId.get(auth.session_id);
  const web = byId.get(login.session_id);
  assert.ok(app, `phone session ${auth.session_id} not listed: ${JSON.stringify(r.sessions)}`);
  assert.ok(web, `web session ${login.session_id} not listed: ${JSON.stringify(r.sessions)}`);
  for (const s of r.sessions) {
    for (const f of ['session_id', 'kind', 'created_at', 'last_used_at', 'ip', 'user_agent', 'current']) {
      assert.ok(f in s, `session lacks ${f}: ${JSON.stringify(s)}`);
    }
    assert.ok(['web', 'app'].includes(s.kind), `kind ${s.kind}`);
    assert.equal(typeof s.created_at, 'number');
    assert.equal(typeof s.last_used_at, 'number');
    assert.ok(s.created_at > 1e12 && s.created_at <= before_ + 5000, `created_at ${s.created_at} not ms`);
    assert.ok(s.last_used_at >= s.created_at, JSON.stringify(s));
    assert.equal(typeof s.current, 'boolean');
  }
  assert.equal(app.kind, 'app');
  assert.equal(web.kind, 'web');
  assert.equal(app.current, true);
  assert.equal(web.current, false);
  assert.equal(r.sessions.filter((s) => s.current).length, 1);
  assert.equal(app.ip, '127.0.0.1');
  assert.equal(web.ip, '127.0.0.1');
  assert.equal(app.user_agent, PHONE_UA);
  // The web session is the PC's device: its user agent is the PC's.
  assert.equal(web.user_agent, pcUa);

});

test('session.revoke of one’s own session → ok, attached sockets get reason revoked', async () => {
  const { ws: p, auth } = await phone('alice', 'alice-pw-1');
  const { auth: other } = await phone('alice', 'alice-pw-1');
  const a = await attach(other.access_token);
  const ok = await p.request({ type: 'session.revoke', session_id: other.session_id, id: 9 });
  assert.equal(ok.type, 'ok', JSON.stringify(ok));
  assert.equal(ok.id, 9);
  assertRevoked(await a.ws.next('session.revoked'), other.session_id, 'revoked');
  assert.ok(a.ws.isOpen);
  const r = await p.request({ type: 'token.refresh', refresh_token: other.refresh_token });
  assert.equal(r.code, 'session_revoked', JSON.stringify(r));
  const list = await p.call({ type: 'session.list' }, 'sessions');
  assert.ok(!list.sessions.some((s) => s.session_id === other.session_id), 'revoked session listed');
  assert.ok(list.sessions.some((s) => s.session_id === auth.session_id));
  // An unknown id → not_found.
  await p.fails({ type: 'session.revoke', session_id: 'no-such-session' }, ['not_found']);
});

test('session.revoke of the asking socket’s own current session', async () => {
  const { ws: p, auth } = await phone('alice', 'alice-pw-1');
  const a = await attach(auth.access_token);
  await p.call({ type: 'session.revoke', session_id: auth.session_id }, 'ok');
  assertRevoked(await a.ws.next('session.revoked'), auth.session_id, 'revoked');
  const r = await a.ws.request({ type: 'token.refresh', refresh_token: auth.refresh_token });
  assert.equal(r.code, 'session_revoked', JSON.stringify(r));
});

test('session.revoke of another user’s session → not_found or forbidden, nothing changes', async () => {
  const { ws: p } = await phone('alice', 'alice-pw-1');
  const { auth: bobAuth } = await phone('bob', 'bob-pw-2');
  const b = await attach(bobAuth.access_token);
  await p.fails({ type: 'session.revoke', session_id: bobAuth.session_id }, ['not_found', 'forbidden']);
  assert.equal(await b.ws.none('session.revoked', 300), null, 'bob was pushed a revoke');
  // Bob's session still works.
  await attach(bobAuth.access_token);
  const me = await apiMe(broker, bobAuth.access_token);
  assert.equal(me.status, 200);
});

test('logout.all → ok; every session of the user pushed logout_all; old tokens dead', async () => {
  // Three sessions for alice: phone (app), another phone (app), a PC (web).
  const { ws: p1, auth: s1 } = await phone('alice', 'alice-pw-1');
  const { auth: s2 } = await phone('alice', 'alice-pw-1');
  const { pc, login: s3 } = await qrLogin(broker, p1);
  open.push(pc);
  const a1 = await attach(s1.access_token);
  const a2 = await attach(s2.access_token);
  const { auth: bobAuth } = await phone('bob', 'bob-pw-2');
  const bobAttached = await attach(bobAuth.access_token);
  const verBefore = (await verifyAccess(broker, s1.access_token)).payload.ver;

  const ok = await p1.request({ type: 'logout.all', id: 'all' });
  assert.equal(ok.type, 'ok', JSON.stringify(ok));
  assert.equal(ok.id, 'all');
  assertRevoked(await a1.ws.next('session.revoked'), s1.session_id, 'logout_all');
  assertRevoked(await a2.ws.next('session.revoked'), s2.session_id, 'logout_all');
  assertRevoked(await pc.next('session.revoked'), s3.session_id, 'logout_all');
  assert.ok(a1.ws.isOpen && a2.ws.isOpen && pc.isOpen, 'a socket closed on logout.all');
  assert.equal(await bobAttached.ws.none('session.revoked', 300), null, 'bob hit by alice’s logout.all');

  // Old refresh tokens → session_revoked (socket and HTTP).
  for (const s of [s1, s2, s3]) {
    const r = await a1.ws.request({ type: 'token.refresh', refresh_token: s.refresh_token });
    assert.equal(r.type, 'error', JSON.stringify(r));
    assert.equal(r.code, 'session_revoked', JSON.stringify(r));
  }
  const h = await postToken(broker, { grant_type: 'refresh_token', refresh_token: s3.refresh_token });
  assert.equal(h.status, 400);
  assert.equal(h.json?.error, 'session_revoked', h.body);
  // Old access tokens → 401 on /api/me (token version went up).
  for (const s of [s1, s2, s3]) {
    assertBearer401(await apiMe(broker, s.access_token), 'access token after logout.all');
  }
  // …and cannot attach or authenticate a socket.
  const x = await sock();
  const r = await x.request({ type: 'session.attach', access_token: s1.access_token });
  assert.equal(r.type, 'error', `attach after logout.all: ${JSON.stringify(r)}`);
  const y = await sock();
  const r2 = await y.request({ type: 'auth.token', access_token: s2.access_token });
  assert.equal(r2.type, 'error', `auth.token after logout.all: ${JSON.stringify(r2)}`);
  // Bob is untouched.
  assert.equal((await apiMe(broker, bobAuth.access_token)).status, 200);
  // A new sign-in works and carries the higher token version.
  const { auth: fresh } = await phone('alice', 'alice-pw-1');
  const verAfter = (await verifyAccess(broker, fresh.access_token)).payload.ver;
  assert.ok(verAfter > verBefore, `ver ${verBefore} → ${verAfter}`);
  assert.equal((await apiMe(broker, fresh.access_token)).status, 200);
  const { ws: p3 } = await phone('alice', 'alice-pw-1');
  const list = await p3.call({ type: 'session.list' }, 'sessions');
  for (const s of [s1, s2, s3]) {
    assert.ok(!list.sessions.some((x2) => x2.session_id === s.session_id), 'revoked session listed');
  }
});
