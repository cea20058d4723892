// Bring your own users (docs/federation.md): a phone signs in with the JWT its app already
// has from the app's own identity provider — here the unmodified npm `oidc-provider` on
// loopback — and confirms a PC login with it. Key rotation, a JWKS endpoint that goes down,
// and every kind of bad token, each refused with the documented error and nothing else
// changed. Runs against one broker, and (blackbox_cluster_protocol) against two nodes.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  test, describe, before, after, assert, startBroker, stopAll, connect, qrLogin, get, getJson,
  postToken, runCli, jose, decodeJwt, PHONE_UA, sleep,
} from './harness.mjs';
import { Idp, AUDIENCE, rsaKey, craft } from './idp.mjs';

const MAKE_CERTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../certs/make-dev-certs.sh');
const nodesOf = (b) => b.nodes || [b];

async function metric(b, series) {
  let sum = 0;
  for (const n of nodesOf(b)) {
    const r = await get(n, '/metrics');
    const line = r.body.split('\n').find((l) => l.startsWith(`${series} `));
    sum += line ? Number(line.split(' ')[1]) : 0;
  }
  return sum;
}

/** Every node's /healthz jwks entry for issuer. */
async function jwksHealth(b, issuer) {
  const out = [];
  for (const n of nodesOf(b)) {
    const r = await getJson(n, '/healthz');
    assert.equal(r.status, 200, `/healthz: ${r.body}`);
    out.push(r.json.jwks.find((e) => e.issuer === issuer));
  }
  return out;
}

async function eventually(fn, what, deadlineMs = 15000) {
  const end = Date.now() + deadlineMs;
  let last;
  while (Date.now() < end) {
    last = await fn();
    if (last) return last;
    await sleep(100);
  }
  assert.fail(`${what}: not within ${deadlineMs} ms (last: ${JSON.stringify(last)})`);
}

async function phone(b) {
  return connect(b, { headers: { 'User-Agent': PHONE_UA } });
}

async function signIn(b, token) {
  const ws = await phone(b);
  const auth = await ws.call({ type: 'auth.external', token }, 'auth');
  return { ws, auth };
}

/** auth.external with token must fail with code; the socket stays signed out and no
 * session is created anywhere. */
async function assertRefused(b, token, code, what) {
  const before = await metric(b, 'qrlogin_logins_total{kind="app"}');
  const ws = await phone(b);
  const r = await ws.request({ type: 'auth.external', token });
  assert.equal(r.type, 'error', `${what}: expected an error, got ${JSON.stringify(r)}`);
  assert.equal(r.code, code, `${what}: ${JSON.stringify(r)}`);
  const scan = await ws.request({ type: 'ticket.scan', ticket: 'A'.repeat(22) });
  assert.equal(scan.code, 'unauthorized', `${what}: the socket must stay signed out`);
  assert.equal(await metric(b, 'qrlogin_logins_total{kind="app"}'), before,
    `${what}: a session was created`);
  for (const path of ['/api/token', '/token']) {
    const ex = await postToken(b, {
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: token,
      subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
    }, { path });
    assert.equal(ex.status, 400, `${what}: token exchange at ${path}: ${ex.body}`);
    assert.equal(ex.json.error, 'invalid_grant', `${what}: token exchange at ${path}: ${ex.body}`);
  }
  ws.close();
}

const now = () => Math.floor(Date.now() / 1000);

describe('federation: phone sign-in with the app\'s own IdP token', () => {
  let idp;
  let broker;

  before(async () => {
    idp = await Idp.start();
    broker = await startBroker({ args: ['--trust-issuer', idp.spec(), '--passwords', 'off'] });
  });
  after(async () => {
    await stopAll();
    await idp.stop();
  });

  test('a PC logs in by confirming on a phone signed in with a real oidc-provider token', async () => {
    const token = await idp.token();
    const { ws, auth } = await signIn(broker, token);
    assert.equal(auth.user.name, 'Alice Example');
    assert.match(auth.user.id, /^[1-9][0-9]*$/);
    assert.notEqual(auth.user.id, decodeJwt(token).sub, 'the IdP subject is not our user id');
    assert.equal(auth.token_type, 'Bearer');
    assert.equal(decodeJwt(auth.access_token).sub, auth.user.id);
    const { login, pc } = await qrLogin(broker, ws);
    assert.equal(login.user.id, auth.user.id);
    assert.equal(login.user.name, 'Alice Example');
    // The same identity again is the same user (stable id), in a new session.
    const again = await signIn(broker, await idp.token());
    assert.equal(again.auth.user.id, auth.user.id);
    assert.notEqual(again.auth.session_id, auth.session_id);
    // logout.all works for a federated user as for a local one.
    await again.ws.call({ type: 'logout.all' }, 'ok');
    const revoked = await ws.next('session.revoked');
    assert.equal(revoked.reason, 'logout_all');
    for (const c of [ws, again.ws, pc]) c.close();
  });

  test('RFC 8693 token exchange on POST /api/token gives the same user a pair', async () => {
    const first = await signIn(broker, await idp.token());
    const r = await postToken(broker, {
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: await idp.token(),
      subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
    });
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json.issued_token_type, 'urn:ietf:params:oauth:token-type:access_token');
    assert.equal(r.json.token_type, 'Bearer');
    assert.equal(decodeJwt(r.json.access_token).sub, first.auth.user.id);
    assert.ok(r.json.refresh_token);
    first.ws.close();
  });

  test('the OpenID provider\'s POST /token takes the same exchange, and discovery lists it', async () => {
    const meta = await (await fetch(`${broker.url}/.well-known/openid-configuration`)).json();
    assert.ok(meta.grant_types_supported.includes('urn:ietf:params:oauth:grant-type:token-exchange'),
      JSON.stringify(meta.grant_types_supported));
    const first = await signIn(broker, await idp.token());
    const r = await postToken(broker, {
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: await idp.token(),
      subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
    }, { path: '/token' });
    assert.equal(r.status, 200, r.body);
    assert.equal(r.headers.get('cache-control'), 'no-store');
    assert.equal(r.json.issued_token_type, 'urn:ietf:params:oauth:token-type:access_token');
    assert.equal(r.json.token_type, 'Bearer');
    assert.equal(decodeJwt(r.json.access_token).sub, first.auth.user.id);
    assert.ok(r.json.refresh_token, 'no client asked: a first-party pair, refresh token included');
    // the pair works: /api/me knows the user
    const me = await fetch(`${broker.url}/api/me`, { headers: { Authorization: `Bearer ${r.json.access_token}` } });
    assert.equal(me.status, 200);
    assert.equal((await me.json()).sub, first.auth.user.id);
    // a subject token of the wrong type is not looked at
    const wrongType = await postToken(broker, {
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: await idp.token(),
      subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
    }, { path: '/token' });
    assert.equal(wrongType.status, 400);
    assert.equal(wrongType.json.error, 'invalid_grant');
    first.ws.close();
  });

  test('--passwords off: auth.password is forbidden and useradd refuses', async () => {
    const ws = await phone(broker);
    const r = await ws.request({ type: 'auth.password', username: 'alice', password: 'x' });
    assert.equal(r.code, 'forbidden');
    ws.close();
    const cli = await runCli(['useradd', '--passwords', 'off', '--data-dir', nodesOf(broker)[0].dataDir, 'bob'],
      { input: 'pw\n' });
    assert.equal(cli.code, 2, cli.stderr);
    assert.match(cli.stderr, /--passwords off/);
  });

  test('wrong audience, wrong issuer, expired, alg none, HS256 with the public key, foreign kid', async () => {
    const key = idp.keys.at(-1); // the provider's own signing key
    const base = () => ({ iss: idp.issuer, sub: 'phone-app', aud: AUDIENCE, iat: now(), exp: now() + 300 });
    await assertRefused(broker, await craft(key, { ...base(), aud: 'urn:someone-else' }),
      'invalid_token', 'wrong audience');
    await assertRefused(broker, await craft(key, { ...base(), iss: 'http://127.0.0.1:1/evil' }),
      'unauthorized', 'untrusted issuer');
    await assertRefused(broker, await craft(key, { ...base(), iat: now() - 600, exp: now() - 120 }),
      'token_expired', 'expired beyond leeway');
    await assertRefused(broker, await craft(key, base(), { kid: undefined }), 'invalid_token', 'no kid');
    const none = new jose.UnsecuredJWT(base()).encode();
    await assertRefused(broker, none, 'invalid_token', 'alg none');
    // HS256 "signed" with the IdP's public key, the classic algorithm confusion.
    const pubPem = await jose.exportSPKI(key.publicKey);
    const hs = await new jose.SignJWT(base()).setProtectedHeader({ alg: 'HS256', kid: key.kid })
      .sign(new TextEncoder().encode(pubPem));
    await assertRefused(broker, hs, 'invalid_token', 'HS256 with the public key');
    // A tampered payload under a real signature.
    const real = await idp.token();
    const [h, , s] = real.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...decodeJwt(real), sub: 'mallory' })).toString('base64url')}.${s}`;
    await assertRefused(broker, forged, 'invalid_token', 'tampered claims');
    // A kid the IdP never published: one refetch at most (per node), then refused.
    const foreign = await rsaKey('not-the-idps');
    const hits = idp.jwksHits;
    await assertRefused(broker, await craft(foreign, base()), 'invalid_token', 'foreign kid');
    await assertRefused(broker, await craft(foreign, base()), 'invalid_token', 'foreign kid again');
    assert.ok(idp.jwksHits - hits <= nodesOf(broker).length,
      `unknown kids made ${idp.jwksHits - hits} JWKS requests`);
    // And the real thing still works afterwards.
    (await signIn(broker, await idp.token())).ws.close();
  });
});

function idpSuite(name, fn) {
  describe(name, () => {
    const ctx = {};
    before(async () => {
      ctx.idp = await Idp.start();
      ctx.broker = await startBroker({ args: ['--trust-issuer', ctx.idp.spec()] });
    });
    after(async () => {
      await stopAll();
      await ctx.idp.stop();
    });
    fn(ctx);
  });
}

idpSuite('federation: the IdP rotates its signing key', (ctx) => {
  test('a token with the new kid is accepted; the old kid still verifies', async () => {
    const { idp, broker } = ctx;
    const oldToken = await idp.token();
    (await signIn(broker, oldToken)).ws.close();
    const fresh = await idp.rotate('idp-key-2');
    const newToken = await idp.token();
    assert.equal(jose.decodeProtectedHeader(newToken).kid, fresh.kid);
    const hits = idp.jwksHits;
    const signed = await signIn(broker, newToken);
    assert.equal(signed.auth.user.name, 'Alice Example');
    assert.ok(idp.jwksHits > hits, 'the new kid made the broker fetch the JWKS again');
    signed.ws.close();
    (await signIn(broker, oldToken)).ws.close();
  });
});

// A broker of its own: the unknown kid that discovers the outage must be the first one
// (an unknown kid refetches at most once per 30 s).
idpSuite('federation: the IdP\'s JWKS endpoint goes down', (ctx) => {
  test('the last good keys stay in use, and /healthz and /metrics say the endpoint fails', async () => {
    const { idp, broker } = ctx;
    const token = await idp.token();
    (await signIn(broker, token)).ws.close(); // every node has fetched the keys by now
    await idp.down();
    try {
      const foreign = await rsaKey('while-down');
      const claims = { iss: idp.issuer, sub: 'x', aud: AUDIENCE, iat: now(), exp: now() + 300 };
      // Every node fetches on its own; a kid it does not know makes it look (and fail).
      for (let i = 0; i < nodesOf(broker).length; i += 1) {
        await assertRefused(broker, await craft(foreign, claims), 'invalid_token', 'unknown kid while down');
      }
      const health = await eventually(async () => {
        const h = await jwksHealth(broker, idp.issuer);
        return h.some((e) => !e.ok && e.failures > 0) && h;
      }, '/healthz reports the failing JWKS endpoint');
      assert.ok(health.every((e) => e.keys >= 1), `keys kept: ${JSON.stringify(health)}`);
      assert.ok(await metric(broker, 'qrlogin_jwks_failing') >= 1);
      assert.ok(await metric(broker, 'qrlogin_jwks_fetches_total{result="error"}') >= 1);
      (await signIn(broker, token)).ws.close();
    } finally {
      await idp.up();
    }
  });
});

describe('federation: JWKS endpoints that misbehave', () => {
  let broker;
  let servers = [];
  let key;
  let fileDir;

  before(async () => {
    key = await rsaKey('served-key');
    // 100 KiB: the real key, padded past the 64 KiB cap.
    const big = JSON.stringify({ keys: [key.pub], padding: 'x'.repeat(100 * 1024) });
    const huge = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(big);
    });
    // Accepts, reads the request, never answers.
    const slow = http.createServer(() => {});
    servers = [huge, slow];
    for (const s of servers) await new Promise((r) => s.listen(0, '127.0.0.1', r));
    const url = (s) => `http://127.0.0.1:${s.address().port}/jwks`;
    // A key set copied to a local file (jwks=file:…).
    fileDir = mkdtempSync(path.join(tmpdir(), 'qrlogin-fed-jwks-'));
    writeFileSync(path.join(fileDir, 'jwks.json'), JSON.stringify({ keys: [key.pub] }));
    broker = await startBroker({
      args: ['--trust-issuer', `https://huge.example jwks=${url(huge)} aud=${AUDIENCE}`,
        '--trust-issuer', `https://slow.example jwks=${url(slow)} aud=${AUDIENCE}`,
        '--trust-issuer', `https://file.example jwks=file:${path.join(fileDir, 'jwks.json')} aud=${AUDIENCE}`],
    });
  });
  after(async () => {
    await stopAll();
    for (const s of servers) { s.closeAllConnections(); s.close(); }
    rmSync(fileDir, { recursive: true, force: true });
  });

  const claims = (iss) => ({ iss, sub: 'u1', aud: AUDIENCE, iat: now(), exp: now() + 300 });

  test('an oversized JWKS is refused: the token is invalid_token and /healthz says why', async () => {
    await assertRefused(broker, await craft(key, claims('https://huge.example')), 'invalid_token', 'oversized JWKS');
    const h = await jwksHealth(broker, 'https://huge.example');
    assert.ok(h.every((e) => e.keys === 0 && !e.ok), JSON.stringify(h));
    assert.ok(h.some((e) => /larger than/.test(e.error || '')), JSON.stringify(h));
  });

  test('a local JWKS file (jwks=file:) serves its keys', async () => {
    const { ws, auth } = await signIn(broker, await craft(key, { ...claims('https://file.example'), name: 'From A File' }));
    assert.equal(auth.user.name, 'From A File');
    ws.close();
  });

  test('a JWKS endpoint that never answers: invalid_token after the fetch times out', async () => {
    await assertRefused(broker, await craft(key, claims('https://slow.example')), 'invalid_token', 'slow JWKS');
    const h = await jwksHealth(broker, 'https://slow.example');
    assert.ok(h.some((e) => /timed out/.test(e.error || '')), JSON.stringify(h));
  });
});

describe('federation: a JWKS endpoint over HTTPS', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'qrlogin-fed-tls-'));
  const out = path.join(dir, 'dev');
  let server;
  let key;
  let url;
  let skip = false;
  try {
    execFileSync(MAKE_CERTS, [out], { stdio: 'pipe' });
  } catch (e) {
    if (e.code !== 'ENOENT') throw e;
    skip = 'openssl not found';
  }

  before(async () => {
    if (skip) return;
    key = await rsaKey('tls-key');
    server = https.createServer({
      cert: readFileSync(path.join(out, 'server.pem')),
      key: readFileSync(path.join(out, 'server.key')),
    }, (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=5' });
      res.end(JSON.stringify({ keys: [key.pub] }));
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    url = `https://localhost:${server.address().port}/jwks`; // the name the certificate holds
  });
  after(async () => {
    await stopAll();
    if (server) { server.closeAllConnections(); server.close(); }
    rmSync(dir, { recursive: true, force: true });
  });

  const token = () => craft(key, { iss: 'https://tls.example', sub: 'u-tls', aud: AUDIENCE, iat: now(), exp: now() + 300, name: 'Tls User' });

  test('keys fetched over TLS verified against --trust-ca', { skip }, async () => {
    const b = await startBroker({
      args: ['--trust-issuer', `https://tls.example jwks=${url} aud=${AUDIENCE}`,
        '--trust-ca', path.join(out, 'ca.pem')],
    });
    const { ws, auth } = await signIn(b, await token());
    assert.equal(auth.user.name, 'Tls User');
    ws.close();
  });

  test('without the CA the certificate is not trusted: no keys, invalid_token', { skip }, async () => {
    const b = await startBroker({
      args: ['--trust-issuer', `https://tls.example jwks=${url} aud=${AUDIENCE}`],
    });
    await assertRefused(b, await token(), 'invalid_token', 'untrusted TLS certificate');
    const h = await jwksHealth(b, 'https://tls.example');
    assert.ok(h.every((e) => e.keys === 0 && !e.ok), JSON.stringify(h));
  });
});
