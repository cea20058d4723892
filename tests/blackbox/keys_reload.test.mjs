// Signing keys picked up without a restart: `keygen` against a running broker's keys dir
// (every node of a cluster shares it, docs/protocol.md §8) reaches the broker at once on SIGHUP,
// and without any signal through its watch on the directory. Either way the JWKS gains the
// new kid, the next access token is signed with it and verifies against the served JWKS,
// and tokens signed before keep working.
import { createPrivateKey } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  test, after, assert, startBroker, stopAll, runCli, phoneLogin, jwks, decodeHeader,
  verifyAccess, apiMe, qrLogin, sleep, jose, decodeJwt,
} from './harness.mjs';

after(stopAll);

// Generous: the broker looks every few seconds; a loaded CI machine may be slow. Nothing
// here measures how fast the key arrives.
const DEADLINE_MS = 60000;

async function keygen(broker) {
  const r = await runCli(['keygen', '--data-dir', broker.dataDir]);
  assert.equal(r.code, 0, `keygen exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  const m = r.stdout.match(/signing key ([A-Za-z0-9_-]{43}) in /);
  assert.ok(m, `keygen did not name the new kid: ${r.stdout}`);
  return m[1];
}

/** Polls the JWKS until kid is published; returns the set. */
async function waitForKid(broker, kid, what) {
  const until = Date.now() + DEADLINE_MS;
  for (;;) {
    const set = await jwks(broker);
    if (set.keys.some((k) => k.kid === kid)) return set;
    if (Date.now() > until) {
      assert.fail(`${what}: kid ${kid} not published within ${DEADLINE_MS} ms; `
        + `JWKS has ${set.keys.map((k) => k.kid).join(', ')}`);
    }
    await sleep(200);
  }
}

/** Waits until the broker has logged at least `count` lines matching re. */
async function waitForLog(broker, re, what, count = 1) {
  const g = new RegExp(re.source, 'g');
  const until = Date.now() + DEADLINE_MS;
  while ((broker.log().match(g) || []).length < count) {
    if (Date.now() > until) assert.fail(`${what}: fewer than ${count} log lines matching ${re}`);
    await sleep(100);
  }
}

/** After a reload to newKid: published first, old kids kept, tokens old and new work. */
async function assertRotated(broker, before, newKid, oldToken, phone) {
  const set = await jwks(broker);
  const kids = set.keys.map((k) => k.kid);
  assert.equal(kids[0], newKid, `the current key is not first in the JWKS: ${kids}`);
  for (const kid of before) assert.ok(kids.includes(kid), `old kid ${kid} no longer published`);
  assert.equal(kids.length, before.length + 1, `JWKS: ${kids}`);
  for (const k of set.keys) assert.ok(!('d' in k), 'a private key member is published');

  // The next access token (a QR login) is signed with the new key and verifies against the
  // JWKS the broker serves; the one signed before the reload still does.
  const { login, pc } = await qrLogin(broker, phone);
  assert.equal(decodeHeader(login.access_token).kid, newKid);
  await verifyAccess(broker, login.access_token);
  assert.equal(decodeHeader(oldToken).kid, before[0]);
  await verifyAccess(broker, oldToken);
  assert.equal((await apiMe(broker, login.access_token)).status, 200);
  assert.equal((await apiMe(broker, oldToken)).status, 200);
  pc.close();
}

test('SIGHUP: keygen is picked up at once, old tokens still verify', async () => {
  const broker = await startBroker({ users: [['alice', 'alice-pw-1']] });
  const before = (await jwks(broker)).keys.map((k) => k.kid);
  assert.equal(before.length, 1);
  const { ws: phone, auth } = await phoneLogin(broker, 'alice', 'alice-pw-1');

  const kid = await keygen(broker);
  assert.ok(!before.includes(kid));
  broker.proc.kill('SIGHUP');
  await waitForLog(broker, /keys: SIGHUP/, 'SIGHUP');
  await waitForKid(broker, kid, 'after SIGHUP');
  await waitForLog(broker, new RegExp(`keys reloaded: current kid ${kid}, 2 published`),
    'after SIGHUP');
  await assertRotated(broker, before, kid, auth.access_token, phone);

  // A second SIGHUP with nothing new changes nothing, and the broker keeps serving.
  broker.proc.kill('SIGHUP');
  await waitForLog(broker, /keys reloaded: current kid/, 'second SIGHUP', 2);
  assert.deepEqual((await jwks(broker)).keys.map((k) => k.kid), [kid, ...before]);
  phone.close();
  await broker.dispose(); // a clean exit 0 after SIGTERM: SIGHUP did not stop it
});

test('no signal: the keys directory watch picks keygen up', async () => {
  const broker = await startBroker({ users: [['alice', 'alice-pw-1']] });
  const before = (await jwks(broker)).keys.map((k) => k.kid);
  const { ws: phone, auth } = await phoneLogin(broker, 'alice', 'alice-pw-1');

  const kid = await keygen(broker);
  await waitForKid(broker, kid, 'through the watch');
  await assertRotated(broker, before, kid, auth.access_token, phone);

  // And once more: the watch keeps watching.
  const kid2 = await keygen(broker);
  await waitForKid(broker, kid2, 'through the watch, second key');
  const kids = (await jwks(broker)).keys.map((k) => k.kid);
  assert.deepEqual(kids, [kid2, kid, ...before]);
  phone.close();
  await broker.dispose();
});

// Nodes of a cluster share the keys directory, and one of them may make a new key current
// (keygen, then SIGHUP to that node only) seconds before the others look at the directory.
// A token that node signs must not be refused meanwhile: a kid this broker does not know
// makes it read the keys again at once (at most once a second) and check the token again.
// Here the "other node" is the test itself, signing with the key keygen just wrote.
test('a token signed with a key made current elsewhere a moment ago is accepted at once', async () => {
  const broker = await startBroker({ users: [['kim', 'kim-pw-1']] });
  const { ws, auth } = await phoneLogin(broker, 'kim', 'kim-pw-1');
  const kid = await keygen(broker);
  const dir = path.join(broker.dataDir, 'keys');
  const newest = readdirSync(dir).filter((f) => /^es256-.*\.pem$/.test(f)).sort().at(-1);
  const key = createPrivateKey(readFileSync(path.join(dir, newest)));
  // the claims of the broker's own token, signed by the new key
  const token = await new jose.SignJWT(decodeJwt(auth.access_token))
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid })
    .sign(key);
  const me = await apiMe(broker, token);
  assert.equal(me.status, 200, `a fresh key's token was refused: ${me.body}`);
  assert.equal(me.json.sid, auth.session_id);
  // and one whose kid no key has is still refused (after the one reload it may cause)
  const forged = await new jose.SignJWT(decodeJwt(auth.access_token))
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'A'.repeat(43) })
    .sign(key);
  assert.equal((await apiMe(broker, forged)).status, 401);
  ws.close();
});

