// The `qrlogin` command in a real terminal (docs/client.md): `qrlogin login URL` runs in a
// tmux pane and draws the QR code; the test reads the pane back, decodes the code from the
// characters, approves it with `qrlogin approve` (signed in with `qrlogin signin`), sees the
// command finish, and `qrlogin token` prints a token that GET /api/me accepts.
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  test, before, after, assert, startBroker, stopAll, httpRequest,
} from '../blackbox/harness.mjs';
import { qrlogin, configHome, Pane, qrFromPane, decodeModules } from './terminal.mjs';

let broker;
let home;
const panes = [];

before(async () => {
  // A pair may be refreshed right after it was issued (the refresh test needs it).
  broker = await startBroker({ users: [['alice', 'alice-pw-1']], args: ['--refresh-interval', '0'] });
  home = configHome();
});
after(async () => {
  for (const p of panes) await p.kill();
  await stopAll();
  rmSync(home, { recursive: true, force: true });
});

const env = () => ({ XDG_CONFIG_HOME: home });
const cfgFile = (name) => path.join(home, 'qrlogin', `${name}.json`);

function loginPane(extra = '') {
  const p = new Pane(`env XDG_CONFIG_HOME='${home}' TERM=xterm-256color '${process.env.QRLOGIN_CLI
    || path.resolve('build/client/qrlogin')}' login ${extra} '${broker.url}'`);
  panes.push(p);
  return p;
}

test('signin stores the approver sign-in, 0600 in a 0700 directory', async () => {
  const bad = await qrlogin(['signin', broker.url, 'alice'], { env: env(), input: 'wrong\n' });
  assert.equal(bad.code, 1, `a wrong password: exit ${bad.code}\n${bad.stderr}`);
  assert.match(bad.stderr, /unauthorized/);
  const r = await qrlogin(['signin', broker.url, 'alice'], { env: env(), input: 'alice-pw-1\n' });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Signed in as alice/);
  assert.equal(statSync(cfgFile('approver')).mode & 0o777, 0o600);
  assert.equal(statSync(path.join(home, 'qrlogin')).mode & 0o777, 0o700);
});

test('login in a terminal: the QR decodes, approve, the command finishes, token works', async () => {
  const pane = loginPane();
  await pane.start();
  const shown = await pane.waitFor(/Waiting for the phone/);
  const { rows, cols } = qrFromPane(shown);
  assert.ok(cols <= 80, `the code is ${cols} columns wide`);
  const url = await decodeModules(rows, path.join(home, 'pane-qr.pgm'));
  assert.match(url, new RegExp(`^${broker.url}/m/#t=[A-Za-z0-9_-]{22}$`));
  assert.ok(shown.includes(url), 'the link printed under the code is the one it encodes');

  const ok = await qrlogin(['approve', url], { env: env() });
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /Login request from .*qrlogin-cli.* at 127\.0\.0\.1/);
  const done = await pane.waitFor(/qrlogin exited \d+/);
  assert.match(done, /Scanned by alice/);
  assert.match(done, /Signed in as alice\./);
  assert.match(done, /qrlogin exited 0/);
  assert.equal(statSync(cfgFile('login')).mode & 0o777, 0o600);

  const tok = await qrlogin(['token'], { env: env() });
  assert.equal(tok.code, 0, tok.stderr);
  const token = tok.stdout.trim();
  const me = await httpRequest(`${broker.url}/api/me`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(me.status, 200);
  assert.equal(JSON.parse(me.body).name, 'alice');

  const js = await qrlogin(['--json', 'token'], { env: env() });
  assert.equal(js.code, 0, js.stderr);
  const parsed = JSON.parse(js.stdout);
  assert.equal(parsed.access_token, token); // still fresh: the same token, no refresh
  assert.equal(parsed.token_type, 'Bearer');
  assert.ok(parsed.expires_in > 0);

  const list = await qrlogin(['--json', 'sessions'], { env: env() });
  assert.equal(list.code, 0, list.stderr);
  const sessions = JSON.parse(list.stdout).sessions;
  assert.deepEqual(sessions.map((s) => s.kind).sort(), ['app', 'web']);
});

test('--invert draws dark modules as blocks, and it still decodes', async () => {
  const pane = loginPane('--invert');
  await pane.start();
  const shown = await pane.waitFor(/Waiting for the phone/);
  const url = await decodeModules(qrFromPane(shown, { invert: true }).rows,
    path.join(home, 'pane-qr-inverted.pgm'));
  assert.match(url, new RegExp(`^${broker.url}/m/#t=[A-Za-z0-9_-]{22}$`));
  const deny = await qrlogin(['approve', '--deny', url], { env: env() });
  assert.equal(deny.code, 0, deny.stderr);
  const done = await pane.waitFor(/qrlogin exited \d+/);
  assert.match(done, /Denied on the phone/);
  assert.match(done, /qrlogin exited 5/);
});

test('token refreshes a pair that is due and stores the new one', async () => {
  const before = JSON.parse(readFileSync(cfgFile('login'), 'utf8'));
  // Make the stored access token look due (less than a fifth of its life left).
  writeFileSync(cfgFile('login'), JSON.stringify({ ...before, expires_at: Math.floor(Date.now() / 1000) }));
  const tok = await qrlogin(['token'], { env: env() });
  assert.equal(tok.code, 0, tok.stderr);
  const token = tok.stdout.trim();
  assert.notEqual(token, before.access_token);
  const after = JSON.parse(readFileSync(cfgFile('login'), 'utf8'));
  assert.equal(after.access_token, token);
  assert.notEqual(after.refresh_token, before.refresh_token);
  assert.equal(statSync(cfgFile('login')).mode & 0o777, 0o600);
  const me = await httpRequest(`${broker.url}/api/me`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(me.status, 200);
});

test('logout ends the session: token then exits 3, /api/me refuses the old token', async () => {
  const tok = await qrlogin(['token'], { env: env() });
  assert.equal(tok.code, 0, tok.stderr);
  const out = await qrlogin(['logout'], { env: env() });
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, /Signed out/);
  const me = await httpRequest(`${broker.url}/api/me`,
    { headers: { Authorization: `Bearer ${tok.stdout.trim()}` } });
  assert.equal(me.status, 401);
  const again = await qrlogin(['token'], { env: env() });
  assert.equal(again.code, 3);
  assert.match(again.stderr, /not signed in/);
});

test('logout --all ends every session of the user, the approver\'s too', async () => {
  const pane = loginPane();
  await pane.start();
  const shown = await pane.waitFor(/Waiting for the phone/);
  const url = await decodeModules(qrFromPane(shown).rows, path.join(home, 'pane-qr-2.pgm'));
  assert.equal((await qrlogin(['approve', url], { env: env() })).code, 0);
  assert.match(await pane.waitFor(/qrlogin exited \d+/), /qrlogin exited 0/);
  const approver = JSON.parse(readFileSync(cfgFile('approver'), 'utf8'));
  const out = await qrlogin(['--json', 'logout', '--all'], { env: env() });
  assert.equal(out.code, 0, out.stderr);
  assert.deepEqual(JSON.parse(out.stdout), { signed_out: true, all: true });
  const me = await httpRequest(`${broker.url}/api/me`,
    { headers: { Authorization: `Bearer ${approver.access_token}` } });
  assert.equal(me.status, 401);
  // The approver's stored pair is dead now: approve says so (3) and forgets it.
  const again = await qrlogin(['approve', url], { env: env() });
  assert.equal(again.code, 3, again.stderr);
  assert.ok(!existsSync(cfgFile('approver')), 'the dead approver sign-in is still stored');
});

test('exit codes: usage 2, unknown ticket 1, nobody listening 4', async () => {
  assert.equal((await qrlogin(['approve'], { env: env() })).code, 2);
  assert.equal((await qrlogin(['--nope'], { env: env() })).code, 2);
  const signin = await qrlogin(['signin', broker.url, 'alice'], { env: env(), input: 'alice-pw-1\n' });
  assert.equal(signin.code, 0, signin.stderr);
  const nf = await qrlogin(['--json', 'approve', 'AAAAAAAAAAAAAAAAAAAAAA'], { env: env() });
  assert.equal(nf.code, 1);
  assert.equal(JSON.parse(nf.stdout).error, 'not_found');
  const down = await qrlogin(['login', 'http://127.0.0.1:1'], { env: env() });
  assert.equal(down.code, 4);
});
