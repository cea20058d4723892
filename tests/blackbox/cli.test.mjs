// docs/protocol.md §8: the command line (bad values, --help, useradd, keygen, env, --access-alg).
import {
  test, after, assert, startBroker, stopAll, runCli, makeDataDir, freePort, addUser, PBKDF2,
  connect, phoneLogin, jwks, BROKER, apiMe, decodeHeader, decodeJwt, verifyAccess, pcTicket, qrLogin,
  eventually,
} from './harness.mjs';
import { rmSync } from 'node:fs';
import { spawn } from 'node:child_process';

after(stopAll);

const dirs = [];
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
function tmpDir() {
  const d = makeDataDir();
  dirs.push(d);
  return d;
}

async function serveArgs(extra) {
  const port = await freePort();
  return ['serve', '--listen', `127.0.0.1:${port}`, '--public-url', `http://127.0.0.1:${port}`,
    '--data-dir', tmpDir(), ...PBKDF2, ...extra];
}

/** Exit status 2 and exactly one stderr line that names the option. */
function assertBadOption(r, optionRe, what) {
  assert.ok(!r.timedOut, `${what}: the broker started serving instead of refusing`);
  assert.equal(r.code, 2, `${what}: exit ${r.code} (signal ${r.signal})\nstderr: ${r.stderr}`);
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  assert.equal(lines.length, 1, `${what}: expected one stderr line, got:\n${r.stderr}`);
  assert.match(lines[0], optionRe, `${what}: the line does not name the option: ${lines[0]}`);
}

test('a bad option value → exit 2 and one stderr line naming the option', async () => {
  const cases = [
    [['--ticket-ttl', 'abc'], /ticket-ttl/],
    [['--ticket-ttl', '-5'], /ticket-ttl/],
    [['--access-ttl', '0'], /access-ttl/],
    [['--access-ttl', '12x'], /access-ttl/],
    [['--refresh-grace', ''], /refresh-grace/],
    [['--max-rotations', 'many'], /max-rotations/],
    [['--access-alg', 'RS256'], /access-alg/],
    [['--access-alg', 'none'], /access-alg/],
    [['--log-level', 'loud'], /log-level/],
    [['--heartbeat', '99999999999999999999'], /heartbeat/],
    [['--threads', '-1'], /threads/],
  ];
  for (const [extra, re] of cases) {
    const args = await serveArgs(extra);
    const r = await runCli(args);
    assertBadOption(r, re, extra.join(' '));
  }
});

test('a bad --listen value → exit 2 naming --listen', async () => {
  for (const v of ['nonsense', '127.0.0.1:99999', '127.0.0.1:port']) {
    const r = await runCli(['serve', '--listen', v, '--data-dir', tmpDir(), ...PBKDF2]);
    assertBadOption(r, /listen/, `--listen ${v}`);
  }
});

test('a missing option value → exit 2', async () => {
  const args = await serveArgs([]);
  const r = await runCli([...args, '--ticket-ttl']);
  assertBadOption(r, /ticket-ttl/, '--ticket-ttl with no value');
});

test('a bad value from the environment (QRLOGIN_<NAME>) → exit 2 naming it', async () => {
  const args = await serveArgs([]);
  const r = await runCli(args, { env: { QRLOGIN_TICKET_TTL: 'abc' } });
  assertBadOption(r, /ticket[-_]ttl/i, 'QRLOGIN_TICKET_TTL=abc');
});

test('an unknown option → exit 2', async () => {
  const args = await serveArgs(['--no-such-option', '1']);
  const r = await runCli(args);
  assert.ok(!r.timedOut, 'started serving with an unknown option');
  assert.equal(r.code, 2, `exit ${r.code}\nstderr: ${r.stderr}`);
  assert.match(r.stderr, /no-such-option/);
});

test('an unknown subcommand → non-zero exit with a message', async () => {
  const r = await runCli(['frobnicate']);
  assert.ok(!r.timedOut);
  assert.notEqual(r.code, 0);
  assert.ok(r.stderr.trim().length > 0);
});

test('serve --help → exit 0, text listing the options', async () => {
  const r = await runCli(['serve', '--help']);
  assert.equal(r.code, 0, `exit ${r.code}\n${r.stderr}`);
  const text = r.stdout + r.stderr;
  assert.match(r.stdout, /--listen\b/, `--help output:\n${text}`);
  for (const opt of ['--public-url', '--data-dir', '--ticket-ttl', '--refresh-grace', '--access-alg',
    '--number-match', '--log-level']) {
    assert.ok(text.includes(opt), `--help does not list ${opt}`);
  }
});

test('useradd twice with the same name → non-zero with a message', async () => {
  const dir = tmpDir();
  await addUser(dir, 'twice', 'pw-one');
  const r = await runCli(['useradd', '--data-dir', dir, ...PBKDF2, 'twice'], { input: 'pw-two\n' });
  assert.notEqual(r.code, 0, 'the second useradd succeeded');
  assert.ok((r.stderr + r.stdout).trim().length > 0, 'no message');
  // The first password still holds.
  const broker = await startBroker({ dataDir: dir });
  const { ws } = await phoneLogin(broker, 'twice', 'pw-one');
  await ws.fails({ type: 'auth.password', username: 'twice', password: 'pw-two' }, 'unauthorized');
  ws.close();
  await broker.dispose();
});

test('a bare `qrlogin-broker` serves like `serve`', async () => {
  const dir = tmpDir();
  await addUser(dir, 'bare', 'bare-pw');
  const port = await freePort();
  const proc = spawn(BROKER, ['--listen', `127.0.0.1:${port}`, '--public-url', `http://127.0.0.1:${port}`,
    '--data-dir', dir, ...PBKDF2], { stdio: 'ignore' });
  const exited = new Promise((r) => proc.on('exit', (code, signal) => r({ code, signal })));
  try {
    await eventually(async () => {
      assert.equal(proc.exitCode, null, `bare qrlogin-broker exited ${proc.exitCode}`);
      return (await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200;
    }, 'bare qrlogin-broker serves /healthz', { timeoutMs: 30000 });
  } finally {
    proc.kill('SIGTERM');
  }
  const res = await exited;
  assert.equal(res.code, 0, `exit ${JSON.stringify(res)}`);
});

test('settings come from QRLOGIN_* environment variables', async () => {
  const broker = await startBroker({ env: { QRLOGIN_TICKET_TTL: '7' } });
  const pc = await connect(broker);
  const t = await pcTicket(pc);
  assert.equal(t.expires_in, 7, 'QRLOGIN_TICKET_TTL=7 not honoured');
  pc.close();
  await broker.dispose();
});

test('--demo creates demo/demo', async () => {
  const broker = await startBroker({ args: ['--demo'] });
  const { ws, auth } = await phoneLogin(broker, 'demo', 'demo');
  assert.equal(auth.user.name, 'demo');
  ws.close();
  await broker.dispose();
});

test('keygen: the new kid is published first after a restart, the old kids stay', async () => {
  const broker = await startBroker({ users: [['alice', 'alice-pw-1']] });
  const before_ = (await jwks(broker)).keys.map((k) => k.kid);
  assert.ok(before_.length >= 1);
  const { ws, auth } = await phoneLogin(broker, 'alice', 'alice-pw-1');
  ws.close();
  let kg;
  await broker.restart({
    between: async (b) => {
      kg = await runCli(['keygen', '--data-dir', b.dataDir]);
    },
  });
  assert.equal(kg.code, 0, `keygen exit ${kg.code}\n${kg.stderr}`);
  const after_ = (await jwks(broker)).keys.map((k) => k.kid);
  assert.ok(!before_.includes(after_[0]), `first kid ${after_[0]} is not new (before: ${before_})`);
  for (const kid of before_) assert.ok(after_.includes(kid), `old kid ${kid} no longer published`);
  assert.equal(after_.length, before_.length + 1);
  // New tokens are signed with the new key; old ones still verify.
  const { ws: ws2, auth: auth2 } = await phoneLogin(broker, 'alice', 'alice-pw-1');
  assert.equal(decodeHeader(auth2.access_token).kid, after_[0]);
  await verifyAccess(broker, auth2.access_token);
  await verifyAccess(broker, auth.access_token);
  assert.equal((await apiMe(broker, auth.access_token)).status, 200);
  assert.equal((await apiMe(broker, auth2.access_token)).status, 200);
  ws2.close();
  await broker.dispose();
});

test('--access-alg HS256: access tokens are HS256 and /api/me accepts them', async () => {
  // --refresh-interval 0: a rotation at once (HS256 pairs are signed on the loop, not the pool).
  const broker = await startBroker({
    users: [['alice', 'alice-pw-1']], args: ['--access-alg', 'HS256', '--refresh-interval', '0'],
  });
  const { ws: phone, auth } = await phoneLogin(broker, 'alice', 'alice-pw-1');
  const h = decodeHeader(auth.access_token);
  assert.equal(h.alg, 'HS256');
  assert.equal(h.typ, 'at+jwt');
  const c = decodeJwt(auth.access_token);
  assert.equal(c.iss, broker.url);
  assert.equal(c.sid, auth.session_id);
  const me = await apiMe(broker, auth.access_token);
  assert.equal(me.status, 200, me.body);
  assert.equal(me.json.sid, auth.session_id);
  // The QR flow issues HS256 too, and the refresh token is not an access token.
  const { login, pc } = await qrLogin(broker, phone);
  assert.equal(decodeHeader(login.access_token).alg, 'HS256');
  assert.equal((await apiMe(broker, login.access_token)).status, 200);
  assert.equal((await apiMe(broker, login.refresh_token)).status, 401);
  // A rotation signs an HS256 pair as well, and the old refresh token is then the previous one.
  const t = await pc.request({ type: 'token.refresh', refresh_token: login.refresh_token });
  assert.equal(t.type, 'token', JSON.stringify(t));
  assert.equal(decodeHeader(t.access_token).alg, 'HS256');
  assert.notEqual(t.refresh_token, login.refresh_token);
  assert.equal(decodeJwt(t.access_token).sid, login.session_id);
  assert.equal((await apiMe(broker, t.access_token)).status, 200);
  // No secret is ever published.
  const set = await jwks(broker);
  for (const k of set.keys) {
    assert.ok(!('k' in k) && !('d' in k), `private member published: ${JSON.stringify(k)}`);
  }
  pc.close();
  phone.close();
  await broker.dispose();
});

test('--audience and --client-id set the aud and client_id claims', async () => {
  const broker = await startBroker({
    users: [['alice', 'alice-pw-1']],
    args: ['--audience', 'https://api.example/', '--client-id', 'blackbox-client'],
  });
  const { ws, auth } = await phoneLogin(broker, 'alice', 'alice-pw-1');
  const { payload } = await verifyAccess(broker, auth.access_token, { audience: 'https://api.example/' });
  assert.equal(payload.client_id, 'blackbox-client');
  assert.equal(payload.iss, broker.url);
  assert.equal((await apiMe(broker, auth.access_token)).status, 200);
  ws.close();
  await broker.dispose();
});
