// PROTOCOL.md §1 "plain HTTP or TLS" and §8 --tls-cert/--tls-key: the same API over HTTPS/WSS.
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import {
  test, before, after, assert, startBroker, stopAll, makeDataDir, connect, phoneLogin, qrLogin,
  httpRequest, decodeJwt, jose,
} from './harness.mjs';

let broker;
// Self-signed P-256 certificate for 127.0.0.1, made before the tests are defined so that they
// can be skipped when openssl is missing.
const certDir = makeDataDir();
const cert = path.join(certDir, 'cert.pem');
const key = path.join(certDir, 'key.pem');
let skip = false;
try {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
    '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'pipe' });
} catch (e) {
  if (e.code !== 'ENOENT') throw e;
  skip = 'openssl not found';
}

before(async () => {
  if (skip) return;
  broker = await startBroker({
    users: [['alice', 'alice-pw-1']],
    tls: { cert, key, ca: readFileSync(cert) },
  });
});
after(async () => {
  await stopAll();
  rmSync(certDir, { recursive: true, force: true });
});

test('HTTPS: /healthz, the pages and the JWKS', { skip }, async () => {
  assert.ok(broker.url.startsWith('https://'));
  const h = await httpRequest(`${broker.url}/healthz`, { ca: broker.ca });
  assert.equal(h.status, 200);
  assert.deepEqual(JSON.parse(h.body), { status: 'ok' });
  const page = await httpRequest(`${broker.url}/`, { ca: broker.ca });
  assert.equal(page.status, 200);
  assert.match(page.headers['content-type'] || '', /^text\/html/);
  const j = await httpRequest(`${broker.url}/.well-known/jwks.json`, { ca: broker.ca });
  assert.equal(j.status, 200);
  assert.ok(JSON.parse(j.body).keys.length >= 1);
});

test('plain HTTP to the TLS port gets no page', { skip }, async () => {
  const r = await httpRequest(`http://127.0.0.1:${broker.port}/healthz`, { timeoutMs: 3000 })
    .catch((e) => ({ error: e }));
  assert.ok(r.error || r.status !== 200, 'the TLS port answered plain HTTP with 200');
});

test('WSS: hello, the QR login, tokens issued for the https URL', { skip }, async () => {
  assert.ok(broker.wsUrl.startsWith('wss://'));
  const { ws: phone } = await phoneLogin(broker, 'alice', 'alice-pw-1');
  const { pc, ticket, login } = await qrLogin(broker, phone);
  assert.equal(ticket.url, `${broker.url}/m/#t=${ticket.ticket}`);
  const claims = decodeJwt(login.access_token);
  assert.equal(claims.iss, broker.url);
  // Verify against the JWKS served over HTTPS.
  const set = jose.createLocalJWKSet(JSON.parse(
    (await httpRequest(`${broker.url}/.well-known/jwks.json`, { ca: broker.ca })).body));
  const { payload } = await jose.jwtVerify(login.access_token, set,
    { issuer: broker.url, audience: broker.url, typ: 'at+jwt', algorithms: ['ES256'] });
  assert.equal(payload.sid, login.session_id);
  const me = await httpRequest(`${broker.url}/api/me`,
    { ca: broker.ca, headers: { Authorization: `Bearer ${login.access_token}` } });
  assert.equal(me.status, 200, me.body);
  assert.equal(JSON.parse(me.body).sid, login.session_id);
  pc.close();
  phone.close();
});

test('WSS: the default allowed Origin is the https public URL', { skip }, async () => {
  const ok = await connect(broker, { origin: broker.url });
  ok.close();
  await assert.rejects(connect(broker, { origin: `http://127.0.0.1:${broker.port}` }),
    (e) => e.status === 403, 'the http:// origin was accepted by an https broker');
});
