// docs/protocol.md §7 (what lasts across a restart) and §8's SIGTERM/SIGINT behaviour.
import {
  test, after, assert, startBroker, stopAll, connect, phoneLogin, pcTicket, qrLogin, jwks, apiMe,
  assertBearer401, verifyAccess, decodeJwt, sleep,
} from './harness.mjs';

const USERS = [['alice', 'alice-pw-1'], ['bob', 'bob-pw-2']];
after(stopAll);

test('users, sessions, token versions and signing keys survive a restart; tickets do not', async () => {
  const broker = await startBroker({ users: USERS, args: ['--refresh-interval', '1'] });
  const keysBefore = (await jwks(broker)).keys;
  const { ws: phone, auth } = await phoneLogin(broker, 'alice', 'alice-pw-1');
  const { pc, login } = await qrLogin(broker, phone);
  const loggedInAt = Date.now();
  // A pending ticket from before the restart.
  const pc2 = await connect(broker);
  const pending = await pcTicket(pc2);
  // Bob signs in, then logs out everywhere: his token version goes up.
  const { ws: bobWs, auth: bobOld } = await phoneLogin(broker, 'bob', 'bob-pw-2');
  await bobWs.call({ type: 'logout.all' }, 'ok');
  assertBearer401(await apiMe(broker, bobOld.access_token), 'bob before restart');

  const closes = [phone.closed, pc.closed, pc2.closed, bobWs.closed];
  await broker.restart();
  for (const c of await Promise.all(closes)) assert.equal(c.code, 1001, `close ${JSON.stringify(c)}`);

  // Signing keys: the same set, the same key material.
  const keysAfter = (await jwks(broker)).keys;
  assert.deepEqual(keysAfter.map((k) => k.kid).sort(), keysBefore.map((k) => k.kid).sort());
  for (const k of keysBefore) {
    const k2 = keysAfter.find((x) => x.kid === k.kid);
    assert.equal(k2.x, k.x);
    assert.equal(k2.y, k.y);
  }
  // Old access tokens still verify and pass /api/me.
  for (const tok of [auth.access_token, login.access_token]) {
    await verifyAccess(broker, tok);
    const me = await apiMe(broker, tok);
    assert.equal(me.status, 200, me.body);
  }
  // The user survives: password sign-in works.
  const { ws: phone2, auth: auth2 } = await phoneLogin(broker, 'alice', 'alice-pw-1');
  assert.equal(String(auth2.user.id), String(auth.user.id));
  // Sessions survive: listed, and their refresh tokens rotate.
  const list = await phone2.call({ type: 'session.list' }, 'sessions');
  const ids = list.sessions.map((s) => s.session_id);
  assert.ok(ids.includes(auth.session_id), 'app session lost');
  assert.ok(ids.includes(login.session_id), 'web session lost');
  assert.equal(list.sessions.find((s) => s.session_id === login.session_id).kind, 'web');
  const att = await connect(broker);
  const s = await att.call({ type: 'session.attach', access_token: login.access_token }, 'session');
  assert.equal(s.session_id, login.session_id);
  // Past --refresh-interval 1 since the sessions began, so that rotation is allowed.
  await sleep(1100 - (Date.now() - loggedInAt));
  for (const [tok, sid] of [[auth.refresh_token, auth.session_id], [login.refresh_token, login.session_id]]) {
    const r = await phone2.request({ type: 'token.refresh', refresh_token: tok });
    assert.equal(r.type, 'token', JSON.stringify(r));
    assert.equal(r.session_id, sid);
  }
  // Token versions survive: bob's old tokens stay dead, his new ones carry the higher ver.
  assertBearer401(await apiMe(broker, bobOld.access_token), 'bob after restart');
  const rb = await phone2.request({ type: 'token.refresh', refresh_token: bobOld.refresh_token });
  assert.equal(rb.code, 'session_revoked', JSON.stringify(rb));
  const { ws: bob2, auth: bobNew } = await phoneLogin(broker, 'bob', 'bob-pw-2');
  const vOld = decodeJwt(bobOld.access_token).ver;
  const vNew = (await verifyAccess(broker, bobNew.access_token)).payload.ver;
  assert.ok(vNew > vOld, `bob's token version ${vOld} → ${vNew} after logout.all + restart`);
  assert.equal((await apiMe(broker, bobNew.access_token)).status, 200);
  // Tickets do not survive.
  await phone2.fails({ type: 'ticket.scan', ticket: pending.ticket }, 'not_found');
  for (const c of [phone2, att, bob2]) c.close();
  await broker.dispose();
});

test('SIGTERM → open sockets closed with 1001, exit 0', async () => {
  const broker = await startBroker({ users: USERS });
  const { ws: phone } = await phoneLogin(broker, 'alice', 'alice-pw-1');
  const pc = await connect(broker);
  await pcTicket(pc);
  const idle = await connect(broker, { protocol: null });
  const closes = [phone.closed, pc.closed, idle.closed];
  await broker.stop({ signal: 'SIGTERM' });
  for (const c of await Promise.all(closes)) assert.equal(c.code, 1001, `close ${JSON.stringify(c)}`);
  // It stopped accepting.
  await assert.rejects(fetch(`${broker.url}/healthz`, { signal: AbortSignal.timeout(2000) }));
  await broker.dispose();
});

test('SIGINT → the same: 1001 and exit 0', async () => {
  const broker = await startBroker({ users: USERS });
  const pc = await connect(broker);
  await pcTicket(pc);
  const closed = pc.closed;
  await broker.stop({ signal: 'SIGINT' });
  assert.equal((await closed).code, 1001);
  await broker.dispose();
});
