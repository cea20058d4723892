// docs/protocol.md §1 "plain HTTP or TLS" and §8 --tls-cert/--tls-key: the same API over
// HTTPS/WSS, with the certificates a person makes with certs/make-dev-certs.sh (a local CA and
// a server certificate signed by it). Every client here verifies the chain against that CA:
// nothing disables certificate checks.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import {
  test, before, after, assert, startBroker, stopAll, makeDataDir, connect, phoneLogin, qrLogin,
  httpRequest, decodeJwt, jose,
} from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const MAKE_CERTS = path.resolve(here, '../../certs/make-dev-certs.sh');

let broker;
// Made before the tests are defined so that they can be skipped when openssl is missing.
const certDir = makeDataDir();
const out = path.join(certDir, 'dev');
const cert = path.join(out, 'server.pem');
const key = path.join(out, 'server.key');
let ca;
let skip = false;
try {
  execFileSync('openssl', ['version'], { stdio: 'pipe' });
  execFileSync(MAKE_CERTS, [out], { stdio: 'pipe' });
  ca = readFileSync(path.join(out, 'ca.pem'));
} catch (e) {
  if (e.code !== 'ENOENT') throw e;
  skip = 'openssl not found';
}

before(async () => {
  if (skip) return;
  broker = await startBroker({
    users: [['alice', 'alice-pw-1']],
    tls: { cert, key, ca },
  });
});
after(async () => {
  await stopAll();
  rmSync(certDir, { recursive: true, force: true });
});

test('make-dev-certs.sh: a CA and a server certificate for localhost, 127.0.0.1 and ::1',
  { skip }, async () => {
    const c = new crypto.X509Certificate(readFileSync(cert));
    const caCert = new crypto.X509Certificate(ca);
    assert.ok(c.verify(caCert.publicKey), 'server.pem is not signed by ca.pem');
    assert.ok(caCert.ca, 'ca.pem is not a CA certificate');
    assert.ok(!c.ca, 'server.pem must not be a CA certificate');
    for (const name of ['DNS:localhost', 'IP Address:127.0.0.1']) {
      assert.ok(c.subjectAltName.split(', ').includes(name), `SAN lacks ${name}: ${c.subjectAltName}`);
    }
    assert.match(c.subjectAltName, /IP Address:(0:0:0:0:0:0:0:1|::1)\b/, `SAN lacks ::1: ${c.subjectAltName}`);
    assert.ok((c.keyUsage || []).includes('1.3.6.1.5.5.7.3.1'), 'no serverAuth extended key usage');
    const days = (Date.parse(c.validTo) - Date.parse(c.validFrom)) / 86400000;
    assert.ok(days <= 825, `server certificate valid ${days} days, iOS accepts at most 825`);
    // Idempotent: a second run keeps the CA (phones that trust it keep trusting).
    const caBefore = readFileSync(path.join(out, 'ca.pem'), 'utf8');
    const log = execFileSync(MAKE_CERTS, [out], { encoding: 'utf8' });
    assert.match(log, /reusing the CA/);
    assert.match(log, /keeping the server certificate/);
    assert.equal(readFileSync(path.join(out, 'ca.pem'), 'utf8'), caBefore);
  });

test('HTTPS: /healthz, the pages and the JWKS, verified against the dev CA', { skip }, async () => {
  assert.ok(broker.url.startsWith('https://'));
  const h = await httpRequest(`${broker.url}/healthz`, { ca });
  assert.equal(h.status, 200);
  assert.deepEqual(JSON.parse(h.body), { status: 'ok' });
  const page = await httpRequest(`${broker.url}/`, { ca });
  assert.equal(page.status, 200);
  assert.match(page.headers['content-type'] || '', /^text\/html/);
  const j = await httpRequest(`${broker.url}/.well-known/jwks.json`, { ca });
  assert.equal(j.status, 200);
  assert.ok(JSON.parse(j.body).keys.length >= 1);
});

test('HTTPS: a client that does not trust the CA is refused', { skip }, async () => {
  // Proves the other tests pass because they verify the chain, not in spite of it.
  await assert.rejects(httpRequest(`${broker.url}/healthz`, { timeoutMs: 3000 }),
    (e) => /UNABLE_TO_VERIFY|SELF_SIGNED|unable to (get|verify)/i.test(`${e.code} ${e.message}`),
    'a client without the dev CA accepted the certificate');
});

test('HTTPS: Strict-Transport-Security on pages, API answers and errors', { skip }, async () => {
  for (const p of ['/', '/m/', '/healthz', '/.well-known/jwks.json', '/api/me', '/no-such-page']) {
    const r = await httpRequest(`${broker.url}${p}`, { ca });
    const sts = r.headers['strict-transport-security'];
    assert.ok(sts, `GET ${p} (${r.status}) has no Strict-Transport-Security header`);
    const m = /max-age=(\d+)/i.exec(sts);
    assert.ok(m && Number(m[1]) > 0, `GET ${p}: Strict-Transport-Security is "${sts}"`);
  }
});

test('plain HTTP: no Strict-Transport-Security (RFC 6797 §7.2)', { skip }, async () => {
  const plain = await startBroker({});
  const r = await httpRequest(`${plain.url}/healthz`);
  assert.equal(r.status, 200);
  assert.equal(r.headers['strict-transport-security'], undefined);
});

test('TLS: ALPN does not select h2 (WebSockets stay on HTTP/1.1)', { skip }, async () => {
  const alpn = await new Promise((resolve, reject) => {
    const s = tls.connect({
      host: '127.0.0.1', port: broker.port, ca, ALPNProtocols: ['h2', 'http/1.1'],
    }, () => { const p = s.alpnProtocol; s.end(); resolve(p); });
    s.on('error', reject);
  });
  assert.ok(alpn === 'http/1.1' || alpn === false, `ALPN selected ${alpn}`);
  // A client that offers only h2 must not get it either.
  const only = await new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port: broker.port, ca, ALPNProtocols: ['h2'] },
      () => { const p = s.alpnProtocol; s.end(); resolve(p); });
    s.on('error', (e) => resolve(`error ${e.code}`)); // refusing the handshake is fine too
  });
  assert.notEqual(only, 'h2', 'the TLS port negotiated h2');
});

test('plain HTTP to the TLS port gets no page (no silent downgrade)', { skip }, async () => {
  const r = await httpRequest(`http://127.0.0.1:${broker.port}/healthz`, { timeoutMs: 3000 })
    .catch((e) => ({ error: e }));
  assert.ok(r.error || r.status !== 200, 'the TLS port answered plain HTTP with 200');
  assert.ok(r.error || !/"status"\s*:\s*"ok"/.test(r.body), 'the TLS port served /healthz over plain HTTP');
  // Nor a WebSocket over plain TCP.
  await assert.rejects(connect(`ws://127.0.0.1:${broker.port}/ws`), 'ws:// to the TLS port opened');
  // The raw bytes that come back (if any) are not an HTTP response.
  const raw = await new Promise((resolve) => {
    const s = net.connect(broker.port, '127.0.0.1', () => {
      s.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    });
    let got = Buffer.alloc(0);
    s.on('data', (d) => { got = Buffer.concat([got, d]); });
    s.setTimeout(3000, () => s.destroy());
    s.on('close', () => resolve(got));
    s.on('error', () => resolve(got));
  });
  assert.ok(!raw.toString('latin1').startsWith('HTTP/1.'), `plain HTTP answered: ${raw.toString('latin1', 0, 80)}`);
});

test('WSS: hello, the QR login, tokens issued for the https URL', { skip }, async () => {
  assert.ok(broker.wsUrl.startsWith('wss://'));
  const { ws: phone } = await phoneLogin(broker, 'alice', 'alice-pw-1');
  const { pc, ticket, info, login } = await qrLogin(broker, phone);
  assert.equal(ticket.url, `${broker.url}/m/#t=${ticket.ticket}`);
  assert.equal(info.pc.ip, '127.0.0.1');
  const claims = decodeJwt(login.access_token);
  assert.equal(claims.iss, broker.url);
  // Verify against the JWKS served over HTTPS.
  const set = jose.createLocalJWKSet(JSON.parse(
    (await httpRequest(`${broker.url}/.well-known/jwks.json`, { ca })).body));
  const { payload } = await jose.jwtVerify(login.access_token, set,
    { issuer: broker.url, audience: broker.url, typ: 'at+jwt', algorithms: ['ES256'] });
  assert.equal(payload.sid, login.session_id);
  const me = await httpRequest(`${broker.url}/api/me`,
    { ca, headers: { Authorization: `Bearer ${login.access_token}` } });
  assert.equal(me.status, 200, me.body);
  assert.equal(JSON.parse(me.body).sid, login.session_id);
  // The refresh endpoint over HTTPS too.
  const t = await httpRequest(`${broker.url}/api/token`, {
    method: 'POST', ca,
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: login.refresh_token }).toString(),
  });
  assert.ok(t.status === 200 || t.status === 400, `POST /api/token over HTTPS: ${t.status} ${t.body}`);
  const tj = JSON.parse(t.body);
  assert.ok(t.status === 200 ? typeof tj.access_token === 'string' : typeof tj.error === 'string', t.body);
  pc.close();
  phone.close();
});

test('WSS: a client without the CA cannot open the socket', { skip }, async () => {
  await assert.rejects(connect(broker.wsUrl),
    (e) => /UNABLE_TO_VERIFY|SELF_SIGNED|unable to (get|verify)/i.test(`${e.code} ${e.message}`));
});

test('WSS: the default allowed Origin is the https public URL', { skip }, async () => {
  const ok = await connect(broker, { origin: broker.url });
  ok.close();
  await assert.rejects(connect(broker, { origin: `http://127.0.0.1:${broker.port}` }),
    (e) => e.status === 403, 'the http:// origin was accepted by an https broker');
});
