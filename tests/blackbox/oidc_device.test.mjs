// The OpenID Connect provider's discovery, the device authorization grant (RFC 8628) and
// the token endpoint's refresh, revoke and userinfo, driven by two unmodified third-party
// clients from npm (openid-client, oauth4webapi) through the examples of docs/oidc.md, and
// by plain HTTP for every error path. The phone side is the ordinary WebSocket API.
import * as oidc from 'openid-client';
import {
  test, describe, before, after, assert, startBroker, stopAll, phoneLogin, decodeJwt,
  getJson, sleep, PBKDF2,
} from './harness.mjs';
import {
  DEVICE_GRANT, addClient, postForm, basic, ticketOf, phoneDecides,
} from './oidc_helpers.mjs';
import { deviceLogin } from '../../docs/examples/device-cli.mjs';
import { deviceLogin as deviceLogin4 } from '../../docs/examples/device-oauth4webapi.mjs';

const ALICE = ['alice', 'alice-pw-1'];
const BOB = ['bob', 'bob-pw-1'];
const CLI_GRANTS = ['--grant', `${DEVICE_GRANT},refresh_token`];

async function deviceAuth(broker, fields, headers) {
  const r = await postForm(broker, '/device_authorization', fields, headers);
  assert.equal(r.status, 200, `device_authorization: ${r.status} ${r.body}`);
  return r.json;
}

function poll(broker, deviceCode, clientId = 'cli', extra = {}) {
  return postForm(broker, '/token',
    { grant_type: DEVICE_GRANT, device_code: deviceCode, client_id: clientId, ...extra });
}

function assertOAuthError(r, status, error, what) {
  assert.equal(r.status, status, `${what}: status ${r.status}, body ${r.body}`);
  assert.equal(r.json && r.json.error, error, `${what}: body ${r.body}`);
  assert.equal(r.headers.get('cache-control'), 'no-store', `${what}: Cache-Control`);
}

describe('OIDC: discovery and the device grant', () => {
  let broker;
  let secret;

  before(async () => {
    broker = await startBroker({
      users: [ALICE, BOB],
      // refresh at once and no grace, so that the refresh tests need no waiting
      args: [...PBKDF2, '--device-interval', '1', '--refresh-interval', '0',
        '--refresh-grace', '0'],
    });
    await addClient(broker, 'cli', ['--public', ...CLI_GRANTS]);
    await addClient(broker, 'other-cli', ['--public', ...CLI_GRANTS]);
    await addClient(broker, 'web-only', ['--public', '--redirect-uri', 'https://rp.example/cb']);
    secret = await addClient(broker, 'tv', CLI_GRANTS);
  });
  after(stopAll);

  test('discovery lists the endpoints, S256 and the algorithms in use', async () => {
    const r = await getJson(broker, '/.well-known/openid-configuration');
    assert.equal(r.status, 200);
    const m = r.json;
    assert.equal(m.issuer, broker.url);
    for (const [k, p] of [['authorization_endpoint', '/authorize'], ['token_endpoint', '/token'],
      ['device_authorization_endpoint', '/device_authorization'],
      ['userinfo_endpoint', '/userinfo'], ['revocation_endpoint', '/revoke'],
      ['end_session_endpoint', '/logout'], ['jwks_uri', '/.well-known/jwks.json']]) {
      assert.equal(m[k], `${broker.url}${p}`, k);
    }
    assert.deepEqual(m.code_challenge_methods_supported, ['S256']);
    assert.deepEqual(m.id_token_signing_alg_values_supported, ['ES256']);
    assert.deepEqual(m.response_types_supported, ['code']);
    assert.ok(m.grant_types_supported.includes(DEVICE_GRANT));
    assert.equal(m.authorization_response_iss_parameter_supported, true);
  });

  test('browser apps may call the endpoints from any origin (CORS, no credentials)', async () => {
    const pre = await fetch(`${broker.url}/userinfo`, { method: 'OPTIONS', headers: {
      Origin: 'https://spa.example', 'Access-Control-Request-Method': 'GET',
      'Access-Control-Request-Headers': 'authorization' } });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), '*');
    assert.match(pre.headers.get('access-control-allow-headers'), /Authorization/);
    assert.equal(pre.headers.get('access-control-allow-credentials'), null);
    for (const p of ['/.well-known/openid-configuration', '/.well-known/jwks.json']) {
      const r = await fetch(`${broker.url}${p}`, { headers: { Origin: 'https://spa.example' } });
      assert.equal(r.headers.get('access-control-allow-origin'), '*', p);
    }
    const t = await postForm(broker, '/token', { grant_type: 'refresh_token', refresh_token: 'x',
      client_id: 'cli' }, { Origin: 'https://spa.example' });
    assert.equal(t.headers.get('access-control-allow-origin'), '*');
    // not the first-party API
    assert.equal((await fetch(`${broker.url}/api/me`, { method: 'OPTIONS' })).status, 405);
  });

  test('openid-client: device grant, ID token, userinfo, refresh, revoke', async () => {
    let phone;
    const { config, tokens, claims } = await deviceLogin({
      issuer: broker.url,
      clientId: 'cli',
      insecure: true,
      show: async (a) => {
        assert.match(a.user_code, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
        assert.equal(a.verification_uri, `${broker.url}/m/`);
        // the phone scans the QR of verification_uri_complete: the same confirm screen
        // as a PC's ticket, naming the client
        const { ws, info } = await phoneDecides(broker, ...ALICE,
          { ticket: ticketOf(a.verification_uri_complete) });
        assert.equal(info.pc.client_name, 'cli');
        // no PC socket: the phone is shown who asked at /device_authorization
        assert.equal(info.pc.ip, '127.0.0.1');
        assert.match(info.pc.user_agent, /openid-client/);
        phone = ws;
      },
    });
    // openid-client validated the ID token (signature via JWKS, iss, aud, exp, iat)
    assert.equal(claims.iss, broker.url);
    assert.equal(claims.aud, 'cli');
    assert.deepEqual(claims.amr, ['qr']);
    assert.equal(claims.name, 'alice');
    assert.equal(typeof claims.auth_time, 'number');
    const at = decodeJwt(tokens.access_token);
    assert.equal(at.client_id, 'cli', 'the access token names the requesting client');
    assert.equal(at.sid, claims.sid);

    // the session is one of the user's sessions, with the client's name
    const list = await phone.call({ type: 'session.list' }, 'sessions');
    const s = list.sessions.find((x) => x.session_id === claims.sid);
    assert.ok(s, 'the OIDC session is in session.list');
    assert.equal(s.client_name, 'cli');

    const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
    assert.equal(info.name, 'alice');

    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token);
    assert.notEqual(refreshed.refresh_token, tokens.refresh_token, 'rotated');
    assert.equal(decodeJwt(refreshed.access_token).client_id, 'cli');

    await oidc.tokenRevocation(config, refreshed.refresh_token);
    await assert.rejects(oidc.refreshTokenGrant(config, refreshed.refresh_token),
      (e) => e.error === 'invalid_grant');
    const after = await phone.call({ type: 'session.list' }, 'sessions');
    assert.ok(!after.sessions.some((x) => x.session_id === claims.sid), 'revoked: gone from the list');
  });

  test('oauth4webapi: device grant with the user code typed on the phone', async () => {
    const { tokens, claims } = await deviceLogin4({
      issuer: broker.url,
      clientId: 'cli',
      insecure: true,
      show: async (a) => {
        // typed in lower case with a space: the broker folds it
        await phoneDecides(broker, ...BOB,
          { userCode: a.user_code.toLowerCase().replace('-', ' ') });
      },
    });
    assert.equal(claims.name, 'bob');
    assert.equal(claims.aud, 'cli');
    assert.equal(decodeJwt(tokens.access_token).name, 'bob');
  });

  test('polling: authorization_pending, slow_down (+5 s), tokens once', async () => {
    const a = await deviceAuth(broker, { client_id: 'cli', scope: 'openid' });
    assert.equal(a.interval, 1);
    assertOAuthError(await poll(broker, a.device_code), 400, 'authorization_pending', 'first poll');
    // at once again: too fast
    assertOAuthError(await poll(broker, a.device_code), 400, 'slow_down', 'fast poll');
    // the interval is now 6 s: a poll 1.2 s later is still too fast
    await sleep(1200); // the window is the subject
    assertOAuthError(await poll(broker, a.device_code), 400, 'slow_down', 'poll within the new interval');
    await phoneDecides(broker, ...ALICE, { ticket: ticketOf(a.verification_uri_complete) });
    const ok = await poll(broker, a.device_code);
    assert.equal(ok.status, 200, ok.body);
    assert.equal(ok.headers.get('cache-control'), 'no-store');
    assert.ok(ok.json.id_token && ok.json.access_token && ok.json.refresh_token);
    assertOAuthError(await poll(broker, a.device_code), 400, 'invalid_grant', 'tokens are issued once');
    // DESIGN rule 8: none of it in the (debug) log, and at most 6 characters of the ticket
    const log = broker.log();
    const ticket = ticketOf(a.verification_uri_complete);
    for (const s of [a.device_code, a.user_code, a.user_code.replace('-', ''), ticket.slice(0, 7),
      ok.json.access_token.split('.')[2], ok.json.refresh_token.split('.')[2]]) {
      assert.ok(!log.includes(s), `the log holds ${s.slice(0, 6)}…`);
    }
  });

  test('denied on the phone: access_denied', async () => {
    const a = await deviceAuth(broker, { client_id: 'cli' });
    await phoneDecides(broker, ...ALICE,
      { ticket: ticketOf(a.verification_uri_complete), confirm: false });
    assertOAuthError(await poll(broker, a.device_code), 400, 'access_denied', 'after deny');
  });

  test('a device code is bound to its client; unknown codes are invalid_grant', async () => {
    const a = await deviceAuth(broker, { client_id: 'cli' });
    await phoneDecides(broker, ...ALICE, { ticket: ticketOf(a.verification_uri_complete) });
    assertOAuthError(await poll(broker, a.device_code, 'other-cli'), 400, 'invalid_grant',
      'another client');
    assertOAuthError(await poll(broker, 'A'.repeat(43)), 400, 'invalid_grant', 'unknown code');
    assertOAuthError(await poll(broker, 'short'), 400, 'invalid_grant', 'malformed code');
    // the rightful client still gets the tokens
    assert.equal((await poll(broker, a.device_code)).status, 200);
  });

  test('client authentication and registration', async () => {
    // a confidential client: Basic or post, never none
    const a = await deviceAuth(broker, {}, { Authorization: basic('tv', secret) });
    assert.ok(a.device_code);
    const p = await postForm(broker, '/device_authorization', { client_id: 'tv', client_secret: secret });
    assert.equal(p.status, 200, p.body);
    const wrong = await postForm(broker, '/device_authorization', {},
      { Authorization: basic('tv', `${secret}x`) });
    assertOAuthError(wrong, 401, 'invalid_client', 'wrong secret (Basic)');
    assert.match(wrong.headers.get('www-authenticate') || '', /^Basic /);
    assertOAuthError(await postForm(broker, '/device_authorization', { client_id: 'tv' }), 401,
      'invalid_client', 'confidential client without its secret');
    assertOAuthError(await postForm(broker, '/device_authorization', { client_id: 'nobody' }), 401,
      'invalid_client', 'unknown client');
    assertOAuthError(await postForm(broker, '/device_authorization', { client_id: 'web-only' }), 400,
      'unauthorized_client', 'client without the device grant');
    assertOAuthError(await postForm(broker, '/device_authorization', { scope: 'openid' }), 400,
      'invalid_request', 'no client at all');
    assertOAuthError(await postForm(broker, '/token', { grant_type: 'password', client_id: 'cli' }),
      400, 'unsupported_grant_type', 'unknown grant type');
    assertOAuthError(await postForm(broker, '/token', { client_id: 'cli' }), 400,
      'invalid_request', 'no grant type');
  });

  test('revoke only by the session\'s own client; userinfo needs a live bearer token', async () => {
    const a = await deviceAuth(broker, { client_id: 'cli', scope: 'openid' });
    await phoneDecides(broker, ...ALICE, { ticket: ticketOf(a.verification_uri_complete) });
    const t = (await poll(broker, a.device_code)).json;
    // another client's revocation is answered 200 (RFC 7009 §2.2) and changes nothing
    const other = await postForm(broker, '/revoke', { token: t.refresh_token, client_id: 'other-cli' });
    assert.equal(other.status, 200, other.body);
    const ui = await fetch(`${broker.url}/userinfo`, { headers: { Authorization: `Bearer ${t.access_token}` } });
    assert.equal(ui.status, 200);
    assert.equal(ui.headers.get('cache-control'), 'no-store');
    assert.equal((await postForm(broker, '/revoke', { token: 'garbage', client_id: 'cli' })).status, 200);
    assertOAuthError(await postForm(broker, '/revoke', { client_id: 'cli' }), 400, 'invalid_request',
      'revoke without a token');
    const none = await fetch(`${broker.url}/userinfo`);
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate'), /^Bearer/);
    // the access token revokes its session too (for its own client)
    assert.equal((await postForm(broker, '/revoke', { token: t.access_token, client_id: 'cli' })).status, 200);
    const after = await fetch(`${broker.url}/userinfo`, { headers: { Authorization: `Bearer ${t.access_token}` } });
    assert.equal(after.status, 401);
    assert.match(after.headers.get('www-authenticate'), /error="invalid_token"/);
  });

  test('an OIDC session ends with session.revoke and logout.all like any other', async () => {
    const grant = async () => {
      const a = await deviceAuth(broker, { client_id: 'cli', scope: 'openid' });
      await phoneDecides(broker, ...BOB, { ticket: ticketOf(a.verification_uri_complete) });
      return (await poll(broker, a.device_code)).json;
    };
    const refresh = (t) => postForm(broker, '/token',
      { grant_type: 'refresh_token', refresh_token: t.refresh_token, client_id: 'cli' });
    const one = await grant();
    const { ws } = await phoneLogin(broker, ...BOB);
    await ws.call({ type: 'session.revoke', session_id: decodeJwt(one.id_token).sid }, 'ok');
    assertOAuthError(await refresh(one), 400, 'invalid_grant', 'after session.revoke');
    const two = await grant();
    await ws.call({ type: 'logout.all' }, 'ok');
    assertOAuthError(await refresh(two), 400, 'invalid_grant', 'after logout.all');
    const ui = await fetch(`${broker.url}/userinfo`, { headers: { Authorization: `Bearer ${two.access_token}` } });
    assert.equal(ui.status, 401);
  });

  test('refresh reuse across /token and the WebSocket revokes the session', async () => {
    const a = await deviceAuth(broker, { client_id: 'cli', scope: 'openid' });
    await phoneDecides(broker, ...ALICE, { ticket: ticketOf(a.verification_uri_complete) });
    const first = (await poll(broker, a.device_code)).json;
    const { ws } = await phoneLogin(broker, ...ALICE);
    // the current token is bound to its client: our own socket may not rotate it
    await ws.fails({ type: 'token.refresh', refresh_token: first.refresh_token }, 'invalid_token');
    const second = await postForm(broker, '/token',
      { grant_type: 'refresh_token', refresh_token: first.refresh_token, client_id: 'cli' });
    assert.equal(second.status, 200, second.body);
    // another client may not either
    assertOAuthError(await postForm(broker, '/token', { grant_type: 'refresh_token',
      refresh_token: second.json.refresh_token, client_id: 'other-cli' }), 400, 'invalid_grant',
    'another client refreshing');
    // the retired token replayed over the socket (grace 0): reuse, the session ends
    await ws.fails({ type: 'token.refresh', refresh_token: first.refresh_token }, 'refresh_reused');
    const after = await postForm(broker, '/token',
      { grant_type: 'refresh_token', refresh_token: second.json.refresh_token, client_id: 'cli' });
    assertOAuthError(after, 400, 'invalid_grant', 'refresh after reuse');
    assert.equal(after.json.error_description, 'session_revoked');
  });

  test('the same reuse the other way round: rotated over the socket, replayed at /token', async () => {
    const { ws, auth } = await phoneLogin(broker, ...BOB);
    const rotated = await ws.call({ type: 'token.refresh', refresh_token: auth.refresh_token }, 'token');
    const r = await postForm(broker, '/token',
      { grant_type: 'refresh_token', refresh_token: auth.refresh_token, client_id: 'cli' });
    assertOAuthError(r, 400, 'invalid_grant', 'an app session\'s retired token at /token');
    assert.equal(r.json.error_description, 'refresh_reused');
    const pushed = await ws.next('session.revoked');
    assert.equal(pushed.reason, 'refresh_reused');
    await ws.fails({ type: 'token.refresh', refresh_token: rotated.refresh_token }, 'session_revoked');
  });
});

describe('OIDC: device codes expire', () => {
  let broker;
  before(async () => {
    broker = await startBroker({ users: [ALICE], args: [...PBKDF2, '--device-code-ttl', '1'] });
    await addClient(broker, 'cli', ['--public', ...CLI_GRANTS]);
  });
  after(stopAll);

  test('expired_token after expires_in; the phone cannot scan it any more', async () => {
    const a = await deviceAuth(broker, { client_id: 'cli' });
    assert.equal(a.expires_in, 1);
    await sleep(1300); // the lifetime is the subject
    assertOAuthError(await poll(broker, a.device_code), 400, 'expired_token', 'after expiry');
    const { ws } = await phoneLogin(broker, ...ALICE);
    await ws.fails({ type: 'ticket.scan', ticket: ticketOf(a.verification_uri_complete) }, 'not_found');
    await ws.fails({ type: 'ticket.scan', user_code: a.user_code }, 'not_found');
  });
});

describe('OIDC: wrong user codes typed on the phone are limited per user (RFC 8628 §5.1)', () => {
  let broker;
  before(async () => {
    broker = await startBroker({ users: [ALICE, BOB], args: [...PBKDF2] });
    await addClient(broker, 'cli', ['--public', ...CLI_GRANTS]);
  });
  after(stopAll);

  test('the 6th wrong code in 5 minutes is rate_limited, on any socket of the user, even the right one; others are not', async () => {
    const a = await deviceAuth(broker, { client_id: 'cli' });
    const wrong = a.user_code === 'BCDF-GHJK' ? 'BCDF-GHJL' : 'BCDF-GHJK';
    const { ws } = await phoneLogin(broker, ...ALICE);
    for (let i = 0; i < 5; i++) {
      await ws.fails({ type: 'ticket.scan', user_code: wrong }, 'not_found');
    }
    const limited = await ws.fails({ type: 'ticket.scan', user_code: a.user_code }, 'rate_limited');
    assert.ok(limited.retry_after > 0 && limited.retry_after <= 300, JSON.stringify(limited));
    // counted per user, not per socket; and a password sign-in is a count of its own
    const { ws: again } = await phoneLogin(broker, ...ALICE);
    await again.fails({ type: 'ticket.scan', user_code: a.user_code }, 'rate_limited');
    // bob's count is his own, and the code was not used up by the refusals
    const { info } = await phoneDecides(broker, ...BOB, { userCode: a.user_code });
    assert.equal(info.pc.client_name, 'cli');
    const ok = await poll(broker, a.device_code);
    assert.equal(ok.status, 200, ok.body);
    assert.equal(decodeJwt(ok.json.access_token).name, BOB[0]);
  });
});
