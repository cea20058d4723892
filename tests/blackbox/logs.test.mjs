// docs/architecture.md, rule 8: logs never hold a token, a password or a full ticket —
// checked on the broker's own stderr at --log-level debug after driving every secret-bearing
// path.
import {
  test, before, after, assert, startBroker, stopAll, connect, phoneLogin, qrLogin, pcTicket,
  postToken, apiMe, sleep, eventually,
} from './harness.mjs';

/** Every socket the broker logged as opened, it has logged as closed too (debug lines). */
function allClosesLogged(b) {
  const log = b.log();
  const opened = (log.match(/conn \d+ open from/g) || []).length;
  const closed = (log.match(/conn \d+ closed/g) || []).length;
  return opened > 0 && closed === opened;
}

const PW = 'Sup3r-s3cret-passw0rd-xyzzy';
const WRONG_PW = 'wr0ng-guess-passw0rd-plugh';
let broker;
before(async () => {
  broker = await startBroker({
    users: [['alice', PW]],
    args: ['--log-level', 'debug', '--refresh-interval', '1', '--number-match'],
  });
});
after(stopAll);

test('the debug log holds no password, token or full ticket', async () => {
  const secrets = [PW, WRONG_PW];
  const tickets = [];
  const anon = await connect(broker);
  await anon.fails({ type: 'auth.password', username: 'alice', password: WRONG_PW }, 'unauthorized');
  await anon.fails({ type: 'auth.password', username: 'nobody', password: WRONG_PW }, 'unauthorized');
  const { ws: phone, auth } = await phoneLogin(broker, 'alice', PW);
  secrets.push(auth.access_token, auth.refresh_token);
  const { pc, ticket, login } = await qrLogin(broker, phone);
  tickets.push(ticket.ticket);
  secrets.push(login.access_token, login.refresh_token);
  // A denied ticket, a cancelled one, an unknown one.
  const pc2 = await connect(broker);
  const t2 = await pcTicket(pc2);
  tickets.push(t2.ticket);
  await phone.call({ type: 'ticket.scan', ticket: t2.ticket }, 'ticket.info');
  await phone.call({ type: 'ticket.deny', ticket: t2.ticket }, 'ok');
  const t3 = await pcTicket(pc2);
  tickets.push(t3.ticket);
  await pc2.call({ type: 'ticket.cancel' }, 'ok');
  const unknown = Buffer.alloc(16, 9).toString('base64url');
  tickets.push(unknown);
  await phone.fails({ type: 'ticket.scan', ticket: unknown }, 'not_found');
  // Tokens through every door: auth.token, attach, refresh (socket and HTTP), /api/me, bad ones.
  const s = await connect(broker);
  await s.call({ type: 'auth.token', access_token: auth.access_token }, 'auth');
  await s.call({ type: 'session.attach', access_token: login.access_token }, 'session');
  await sleep(1100); // past --refresh-interval 1 (a lower bound: later is past it too)
  const t = await s.call({ type: 'token.refresh', refresh_token: auth.refresh_token }, 'token');
  secrets.push(t.access_token, t.refresh_token);
  await sleep(1100);
  const h = await postToken(broker, { grant_type: 'refresh_token', refresh_token: login.refresh_token });
  assert.equal(h.status, 200, h.body);
  secrets.push(h.json.access_token, h.json.refresh_token);
  await apiMe(broker, t.access_token);
  const badTok = `${auth.access_token.slice(0, -4)}AAAA`;
  await apiMe(broker, badTok);
  await s.request({ type: 'token.refresh', refresh_token: `${auth.refresh_token}x` });
  await s.request({ type: 'auth.token', access_token: badTok });
  // The closes are logged too: read the log once the broker has handled every one of them.
  await Promise.all([anon, phone, pc, pc2, s].map((c) => c.close()));
  await eventually(() => allClosesLogged(broker), 'the broker logged every socket closing');

  const log = broker.log();
  assert.ok(log.length > 0);
  for (const secret of secrets) {
    assert.ok(!log.includes(secret), `the log holds a secret: ${secret.slice(0, 12)}…`);
    if (secret.split('.').length === 3) {
      const [, payload, sig] = secret.split('.');
      assert.ok(!log.includes(sig), `the log holds a token signature ${sig.slice(0, 8)}…`);
      assert.ok(!log.includes(payload), `the log holds a token payload ${payload.slice(0, 8)}…`);
    }
  }
  for (const tk of tickets) {
    assert.ok(!log.includes(tk), `the log holds a full ticket ${tk.slice(0, 6)}…`);
    assert.ok(!log.includes(tk.slice(0, 12)), `the log holds more than 6 characters of ticket ${tk.slice(0, 6)}…`);
  }
});
