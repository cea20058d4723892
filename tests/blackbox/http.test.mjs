// docs/protocol.md §1: the HTTP endpoints (pages, JWKS, /api/me, /healthz, /metrics).
import {
  test, describe, before, after, assert, startBroker, stopAll, get, getJson, apiMe, jwks,
  phoneLogin, verifyAccess, decodeJwt, decodeHeader, tamper, forge, assertBearer401,
  sleepUntilSec, assertFreshLifetime, connect, pcTicket, eventually,
} from './harness.mjs';

let broker;
let alice;

before(async () => {
  broker = await startBroker({ users: [['alice', 'alice-pw-1']] });
  alice = await phoneLogin(broker, 'alice', 'alice-pw-1');
});
after(async () => {
  alice?.ws.close();
  await stopAll();
});

describe('static pages', () => {
  for (const p of ['/', '/m/', '/app.html']) {
    test(`GET ${p} is text/html 200`, async () => {
      const r = await get(broker, p);
      assert.equal(r.status, 200, `${p}: status ${r.status}`);
      assert.match(r.headers.get('content-type') || '', /^text\/html\b/i,
        `${p}: content-type ${r.headers.get('content-type')}`);
      assert.ok(r.body.length > 0, `${p}: empty body`);
      assert.match(r.body, /<html|<!doctype html/i, `${p}: not an HTML document`);
    });
  }

  test('GET /qrlogin.js is JavaScript', async () => {
    const r = await get(broker, '/qrlogin.js');
    assert.equal(r.status, 200, `status ${r.status}`);
    assert.match(r.headers.get('content-type') || '', /^(text|application)\/(x-)?javascript\b/i,
      `content-type ${r.headers.get('content-type')}`);
    assert.ok(r.body.length > 0);
  });

  test('a missing file is 404', async () => {
    for (const p of ['/no-such-file.html', '/m/nothing-here.js', '/definitely/not/here']) {
      const r = await get(broker, p);
      assert.equal(r.status, 404, `${p}: status ${r.status}`);
    }
  });

  test('path traversal does not escape the web root', async () => {
    for (const p of ['/../../../../etc/passwd', '/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
      '/m/..%2f..%2f..%2f..%2fetc%2fpasswd']) {
      const r = await get(broker, p);
      assert.ok(!/root:.*:0:0:/.test(r.body), `${p} served /etc/passwd`);
      assert.notEqual(r.status, 500, `${p}: status 500`);
    }
  });
});

describe('health and metrics', () => {
  test('GET /healthz is 200 {"status":"ok"}', async () => {
    const r = await getJson(broker, '/healthz');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { status: 'ok' }, `body ${r.body}`);
  });

  test('GET /metrics is Prometheus text with qrlogin_ metrics', async () => {
    const r = await get(broker, '/metrics');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') || '', /^text\/plain\b/i,
      `content-type ${r.headers.get('content-type')}`);
    assert.match(r.body, /^# TYPE qrlogin_\w+ (counter|gauge|histogram|summary|untyped)$/m,
      'no "# TYPE qrlogin_… <kind>" line');
    assert.match(r.body, /^qrlogin_\w+(\{[^}]*\})? -?[0-9.eE+-]+(\s+\d+)?$/m, 'no qrlogin_ sample line');
    // Every non-comment line is a valid sample.
    for (const line of r.body.split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      assert.match(line, /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? (-?[0-9.eE+-]+|NaN|\+Inf|-Inf)( -?\d+)?$/,
        `not a Prometheus sample line: ${line}`);
    }
  });

  test('qrlogin_tickets_live counts the tickets waiting, and drops when a PC leaves', async () => {
    const live = async () => {
      const m = (await get(broker, '/metrics')).body.match(/^qrlogin_tickets_live (\d+)$/m);
      assert.ok(m, 'no qrlogin_tickets_live sample');
      return Number(m[1]);
    };
    const before = await live();
    const pc = await connect(broker);
    await pcTicket(pc);
    assert.equal(await live(), before + 1);
    await pc.close();
    // The close reaches the broker after our close handshake ends: wait for the count to move.
    await eventually(async () => (await live()) === before,
      'the ticket of a closed PC socket is still counted');
  });
});

describe('JWKS', () => {
  test('GET /.well-known/jwks.json publishes EC P-256 public keys only', async () => {
    const r = await getJson(broker, '/.well-known/jwks.json');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') || '', /json/i);
    assert.ok(Array.isArray(r.json?.keys), `body ${r.body}`);
    assert.ok(r.json.keys.length >= 1, 'no keys published');
    const kids = new Set();
    for (const k of r.json.keys) {
      assert.equal(k.kty, 'EC', JSON.stringify(k));
      assert.equal(k.crv, 'P-256', JSON.stringify(k));
      assert.match(k.x, /^[A-Za-z0-9_-]{43}$/, `x is not 32 bytes base64url: ${JSON.stringify(k)}`);
      assert.match(k.y, /^[A-Za-z0-9_-]{43}$/, `y is not 32 bytes base64url: ${JSON.stringify(k)}`);
      assert.equal(typeof k.kid, 'string');
      assert.ok(k.kid.length > 0);
      assert.ok(!kids.has(k.kid), `duplicate kid ${k.kid}`);
      kids.add(k.kid);
      for (const priv of ['d', 'k', 'p', 'q', 'dp', 'dq', 'qi']) {
        assert.ok(!(priv in k), `private member "${priv}" published: ${JSON.stringify(k)}`);
      }
      if ('alg' in k) assert.equal(k.alg, 'ES256');
      if ('use' in k) assert.equal(k.use, 'sig');
    }
    assert.ok(!/"d"\s*:/.test(r.body), 'a "d" member appears somewhere in the JWKS');
  });

  test('the access token is signed by a published key', async () => {
    const { protectedHeader } = await verifyAccess(broker, alice.auth.access_token);
    const { keys } = await jwks(broker);
    assert.ok(keys.some((k) => k.kid === protectedHeader.kid),
      `kid ${protectedHeader.kid} not in JWKS`);
  });
});

describe('/api/me', () => {
  test('a valid access token → 200 {sub,name,sid,iat,exp}', async () => {
    const tok = alice.auth.access_token;
    const claims = decodeJwt(tok);
    const r = await apiMe(broker, tok);
    assert.equal(r.status, 200, `status ${r.status} body ${r.body}`);
    assert.match(r.headers.get('content-type') || '', /^application\/json\b/i);
    for (const f of ['sub', 'name', 'sid', 'iat', 'exp']) {
      assert.ok(f in r.json, `/api/me lacks "${f}": ${r.body}`);
    }
    assert.equal(r.json.sub, claims.sub);
    assert.equal(r.json.sub, String(alice.auth.user.id));
    assert.equal(r.json.name, 'alice');
    assert.equal(r.json.sid, alice.auth.session_id);
    assert.equal(r.json.iat, claims.iat);
    assert.equal(r.json.exp, claims.exp);
  });

  test('no Authorization header → 401 Bearer error="invalid_token"', async () => {
    assertBearer401(await apiMe(broker), 'no header');
  });

  test('garbage, tampered, wrong-scheme and refresh tokens → 401', async () => {
    assertBearer401(await apiMe(broker, 'garbage'), 'garbage');
    assertBearer401(await apiMe(broker, 'a.b.c'), 'a.b.c');
    assertBearer401(await apiMe(broker, ''), 'empty');
    assertBearer401(await apiMe(broker, tamper(alice.auth.access_token)), 'tampered signature');
    assertBearer401(await apiMe(broker, alice.auth.refresh_token), 'refresh token as bearer');
    const claims = decodeJwt(alice.auth.access_token);
    const hdr = decodeHeader(alice.auth.access_token);
    assertBearer401(await apiMe(broker, forge({ ...hdr, alg: 'none' }, claims, '')), 'alg none');
    assertBearer401(await apiMe(broker, forge(hdr, { ...claims, name: 'mallory' },
      alice.auth.access_token.split('.')[2])), 'claims changed, old signature');
    const basic = await getJson(broker, '/api/me',
      { Authorization: `Basic ${Buffer.from('alice:alice-pw-1').toString('base64')}` });
    assertBearer401(basic, 'Basic scheme');
  });

  test('an expired access token → 401', async () => {
    // A broker of its own whose access tokens live 1 s, with no leeway.
    const short = await startBroker({
      users: [['erin', 'erin-pw-1']],
      args: ['--access-ttl', '1', '--leeway', '0'],
    });
    const { ws, auth } = await phoneLogin(short, 'erin', 'erin-pw-1');
    ws.close();
    const claims = decodeJwt(auth.access_token);
    assert.equal(claims.exp - claims.iat, 1, 'access-ttl 1 not honoured');
    assertFreshLifetime(auth.expires_in, 1);
    await sleepUntilSec(claims.exp + 1, 200);
    assertBearer401(await apiMe(short, auth.access_token), 'expired');
    await short.dispose();
  });
});
