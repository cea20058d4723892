// The PC login's ES256 pair is signed when the phone scans (broker/login_presign.h,
// docs/benchmarks.md "Issue 17"), and delivered at the confirm only while it is still exact.
// Seen from outside: the access token's iat is the scan's second, not the confirm's; a
// logout.all between scan and confirm gets a token of the new version; a denied ticket
// leaves no session behind. Also run with every socket spread over two nodes
// (blackbox_cluster_protocol), where the scan and the confirm are forwarded to the ticket's
// node.
import {
  test, describe, before, after, assert, startBroker, stopAll, connect, pcTicket, phoneLogin,
  verifyAccess, decodeJwt, apiMe, sleepUntilSec, assertLifetimeMatchesExp, PC_UA,
} from './harness.mjs';

const USERS = [['erin', 'erin-pw-1'], ['frank', 'frank-pw-2'], ['grace', 'grace-pw-3']];

const nowSec = () => Math.floor(Date.now() / 1000);

describe('the login pair is signed at the scan (ES256)', () => {
  let broker;
  const sockets = [];
  const pc = async () => {
    const c = await connect(broker, { headers: { 'User-Agent': PC_UA } });
    sockets.push(c);
    return c;
  };
  const phone = async (name, password) => {
    const p = await phoneLogin(broker, name, password);
    sockets.push(p.ws);
    return p;
  };

  before(async () => {
    broker = await startBroker({ users: USERS });
  });
  after(async () => {
    for (const s of sockets) s.close();
    await stopAll();
  });

  test('the access token carries the second of the scan, not of the confirm', async () => {
    const erin = await phone(...USERS[0]);
    const p = await pc();
    const t = await pcTicket(p);
    const scanFrom = nowSec();
    await erin.ws.call({ type: 'ticket.scan', ticket: t.ticket }, 'ticket.info');
    await p.next('ticket.scanned');
    // The subject is a time window: confirm in a later second than the scan, so a pair
    // signed at the confirm would say so. The margin lets a networked store answer the
    // scan's user lookup first.
    await sleepUntilSec(nowSec() + 1, 300);
    const confirmSec = nowSec();
    const confirmSentAt = Date.now();
    await erin.ws.call({ type: 'ticket.confirm', ticket: t.ticket }, 'ok');
    const login = await p.next('login');
    const claims = decodeJwt(login.access_token);
    assert.ok(claims.iat >= scanFrom && claims.iat < confirmSec,
      `iat ${claims.iat}: scanned from ${scanFrom}, confirmed at ${confirmSec}`);
    assert.equal(claims.exp - claims.iat, 900, 'a whole access_ttl from its iat');
    // and it says what is left, and works
    // (the broker answered between the confirm leaving and the push arriving)
    assertLifetimeMatchesExp(login.expires_in, login.access_token,
      { sentAt: confirmSentAt, receivedAt: login.receivedAt });
    const { payload } = await verifyAccess(broker, login.access_token);
    assert.equal(payload.sid, login.session_id);
    const me = await apiMe(broker, login.access_token);
    assert.equal(me.status, 200, JSON.stringify(me.body));
  });

  test('logout.all between scan and confirm: the login is of the new token version', async () => {
    const before = await phone(...USERS[1]);
    const oldVer = decodeJwt(before.auth.access_token).ver;
    const p = await pc();
    const t = await pcTicket(p);
    await before.ws.call({ type: 'ticket.scan', ticket: t.ticket }, 'ticket.info');
    await p.next('ticket.scanned');
    await before.ws.call({ type: 'logout.all' }, 'ok');
    // The scanning phone was signed out with the rest; the same person signs in again
    // and confirms the ticket bound to them.
    const again = await phone(...USERS[1]);
    const newVer = decodeJwt(again.auth.access_token).ver;
    assert.ok(newVer > oldVer, `token version ${oldVer} → ${newVer}`);
    await again.ws.call({ type: 'ticket.confirm', ticket: t.ticket }, 'ok');
    const login = await p.next('login');
    assert.equal(decodeJwt(login.access_token).ver, newVer,
      'the pair signed at the scan carried the old version and must not be delivered');
    const me = await apiMe(broker, login.access_token);
    assert.equal(me.status, 200, JSON.stringify(me.body));
  });

  test('a denied ticket leaves no session; a confirmed one leaves one', async () => {
    const grace = await phone(...USERS[2]);
    const count = async () => (await grace.ws.call({ type: 'session.list' }, 'sessions')).sessions.length;
    const n0 = await count();
    const p = await pc();
    const denied = await pcTicket(p);
    await grace.ws.call({ type: 'ticket.scan', ticket: denied.ticket }, 'ticket.info');
    await p.next('ticket.scanned');
    await grace.ws.call({ type: 'ticket.deny', ticket: denied.ticket }, 'ok');
    await p.next('ticket.denied');
    assert.equal(await count(), n0, 'the pair signed at the scan was stored');

    const t = await pcTicket(p);
    await grace.ws.call({ type: 'ticket.scan', ticket: t.ticket }, 'ticket.info');
    await grace.ws.call({ type: 'ticket.confirm', ticket: t.ticket }, 'ok');
    const login = await p.next('login');
    const sessions = (await grace.ws.call({ type: 'session.list' }, 'sessions')).sessions;
    assert.equal(sessions.length, n0 + 1);
    assert.ok(sessions.some((s) => s.session_id === login.session_id && s.kind === 'web'),
      JSON.stringify(sessions));
  });
});
