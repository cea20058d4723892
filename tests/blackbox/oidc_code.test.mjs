// The authorization code flow's rules (RFC 6749 §4.1, RFC 7636, RFC 9207), driven the way
// the hosted page drives it but over plain HTTP and the WebSocket API: /authorize sends the
// browser to /#authz=<handle>, the page asks ticket.new {authorize}, the phone confirms, and
// the page's `login` push carries only the redirect back to the client, with the code.
import {
  test, describe, before, after, assert, startBroker, stopAll, connect, PBKDF2, PC_UA,
} from './harness.mjs';
import {
  addClient, postForm, basic, pkce, authorizeUrl, getNoFollow, codeVia,
} from './oidc_helpers.mjs';

const codeFor = (broker, params) => codeVia({ authorize: broker, pc: broker, phone: broker },
  params, ALICE);

const ALICE = ['alice', 'alice-pw-1'];
const REDIRECT = 'https://rp.example/cb';
const NATIVE = 'http://127.0.0.1:8000/callback';

function assertOAuthError(r, status, error, what) {
  assert.equal(r.status, status, `${what}: status ${r.status}, body ${r.body}`);
  assert.equal(r.json && r.json.error, error, `${what}: body ${r.body}`);
}

describe('OIDC: authorization code + PKCE', () => {
  let broker;
  let secret;

  before(async () => {
    broker = await startBroker({ users: [ALICE], args: [...PBKDF2] });
    secret = await addClient(broker, 'app', ['--redirect-uri', REDIRECT]);
    await addClient(broker, 'spa', ['--public', '--redirect-uri', NATIVE]);
    await addClient(broker, 'other', ['--redirect-uri', REDIRECT], { secret: 'other-secret-0123456789' });
  });
  after(stopAll);

  const appParams = (extra = {}) => ({ client_id: 'app', redirect_uri: REDIRECT,
    response_type: 'code', scope: 'openid', state: 's-1', nonce: 'n-1', ...extra });

  test('a confidential client: code at /token with client_secret_basic', async () => {
    const { code } = await codeFor(broker, appParams());
    const r = await postForm(broker, '/token',
      { grant_type: 'authorization_code', code, redirect_uri: REDIRECT },
      { Authorization: basic('app', secret) });
    assert.equal(r.status, 200, r.body);
    assert.equal(r.headers.get('cache-control'), 'no-store');
    assert.equal(r.headers.get('pragma'), 'no-cache');
    const id = JSON.parse(Buffer.from(r.json.id_token.split('.')[1], 'base64url'));
    assert.equal(id.nonce, 'n-1');
    assert.equal(id.aud, 'app');
  });

  test('a public client must use PKCE; a wrong or missing verifier is invalid_grant', async () => {
    const p = pkce();
    const params = { client_id: 'spa', redirect_uri: 'http://127.0.0.1:51234/callback',
      response_type: 'code', scope: 'openid', state: 'st', code_challenge: p.challenge,
      code_challenge_method: 'S256' };
    const { code } = await codeFor(broker, params);
    const base = { grant_type: 'authorization_code', code, client_id: 'spa',
      redirect_uri: params.redirect_uri };
    assertOAuthError(await postForm(broker, '/token', base), 400, 'invalid_grant', 'no verifier');
    assertOAuthError(await postForm(broker, '/token', { ...base, code_verifier: pkce().verifier }),
      400, 'invalid_grant', 'wrong verifier');
    const ok = await postForm(broker, '/token', { ...base, code_verifier: p.verifier });
    assert.equal(ok.status, 200, ok.body);

    // without a challenge the request goes back to the client as an error
    const r = await getNoFollow(authorizeUrl(broker, { ...params, code_challenge: undefined,
      code_challenge_method: undefined }).replace(/&code_challenge(_method)?=undefined/g, ''));
    assert.equal(r.status, 302);
    const back = new URL(r.location);
    assert.equal(back.searchParams.get('error'), 'invalid_request');
    assert.equal(back.searchParams.get('state'), 'st');
    assert.equal(back.searchParams.get('iss'), broker.url);
  });

  test('a code is used once; its second use revokes what the first issued', async () => {
    const { code, phone } = await codeFor(broker, appParams());
    const form = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT };
    const auth = { Authorization: basic('app', secret) };
    const first = await postForm(broker, '/token', form, auth);
    assert.equal(first.status, 200, first.body);
    const again = await postForm(broker, '/token', form, auth);
    assertOAuthError(again, 400, 'invalid_grant', 'second use');
    const ui = await fetch(`${broker.url}/userinfo`,
      { headers: { Authorization: `Bearer ${first.json.access_token}` } });
    assert.equal(ui.status, 401, 'the first use\'s access token died with its session');
    assert.match(ui.headers.get('www-authenticate'), /error="invalid_token"/);
    const { sid } = JSON.parse(Buffer.from(first.json.id_token.split('.')[1], 'base64url'));
    const list = await phone.call({ type: 'session.list' }, 'sessions');
    assert.ok(!list.sessions.some((s) => s.session_id === sid), 'the session is revoked');
  });

  test('a code is bound to its client and its redirect URI', async () => {
    const { code } = await codeFor(broker, appParams());
    assertOAuthError(await postForm(broker, '/token',
      { grant_type: 'authorization_code', code, redirect_uri: REDIRECT },
      { Authorization: basic('other', 'other-secret-0123456789') }), 400, 'invalid_grant',
    'code for another client');
    assertOAuthError(await postForm(broker, '/token',
      { grant_type: 'authorization_code', code, redirect_uri: `${REDIRECT}/x` },
      { Authorization: basic('app', secret) }), 400, 'invalid_grant', 'another redirect_uri');
    // neither attempt burnt it
    const ok = await postForm(broker, '/token',
      { grant_type: 'authorization_code', code, redirect_uri: REDIRECT },
      { Authorization: basic('app', secret) });
    assert.equal(ok.status, 200, ok.body);
  });

  test('an unregistered redirect URI or an unknown client is never redirected to', async () => {
    for (const [what, params] of [
      ['unregistered URI', appParams({ redirect_uri: 'https://evil.example/cb' })],
      ['a prefix of the registered URI', appParams({ redirect_uri: 'https://rp.example/c' })],
      ['no redirect_uri', appParams({ redirect_uri: '' })],
      ['unknown client', appParams({ client_id: 'nobody' })],
      ['another port on a non-loopback URI', appParams({ redirect_uri: 'https://rp.example:444/cb' })],
    ]) {
      const r = await getNoFollow(authorizeUrl(broker, params));
      assert.equal(r.status, 400, `${what}: ${r.status} ${r.location}`);
      assert.equal(r.location, null, `${what}: redirected to ${r.location}`);
    }
  });

  test('errors for a registered URI go back by redirect with error, state and iss', async () => {
    for (const [what, params, error] of [
      ['response_type token', appParams({ response_type: 'token' }), 'unsupported_response_type'],
      ['no openid scope', appParams({ scope: 'profile' }), 'invalid_scope'],
      ['plain PKCE', appParams({ code_challenge: 'x'.repeat(43), code_challenge_method: 'plain' }),
        'invalid_request'],
      ['prompt=none', appParams({ prompt: 'none' }), 'login_required'],
    ]) {
      const r = await getNoFollow(authorizeUrl(broker, params));
      assert.equal(r.status, 302, `${what}: ${r.status} ${r.body}`);
      const back = new URL(r.location);
      assert.equal(`${back.origin}${back.pathname}`, REDIRECT, what);
      assert.equal(back.searchParams.get('error'), error, what);
      assert.equal(back.searchParams.get('state'), 's-1', what);
      assert.equal(back.searchParams.get('iss'), broker.url, what);
    }
  });

  test('state comes back exactly as sent, whatever it holds', async () => {
    for (const state of ['a+b c&d=e', '%25 and %', 'ü/?#=', 'x'.repeat(400)]) {
      const r = await getNoFollow(authorizeUrl(broker, appParams({ state, response_type: 'token' })));
      assert.equal(r.status, 302, r.body);
      assert.equal(new URL(r.location).searchParams.get('state'), state);
    }
    const { code } = await codeFor(broker, appParams({ state: 'a+b c&d=e%' }));
    assert.equal(code.length, 43);
    // a repeated parameter is refused (RFC 6749 §3.1), by redirect once the URI is known
    const r = await getNoFollow(`${authorizeUrl(broker, appParams())}&scope=openid`);
    assert.equal(new URL(r.location).searchParams.get('error'), 'invalid_request');
  });

  test('the debug log holds no secret, code, verifier or token of these flows', async () => {
    const p = pkce();
    const params = appParams({ code_challenge: p.challenge, code_challenge_method: 'S256' });
    const { code } = await codeFor(broker, params);
    const r = await postForm(broker, '/token', { grant_type: 'authorization_code', code,
      redirect_uri: REDIRECT, code_verifier: p.verifier }, { Authorization: basic('app', secret) });
    assert.equal(r.status, 200, r.body);
    await postForm(broker, '/token', { grant_type: 'authorization_code', code,
      redirect_uri: REDIRECT, code_verifier: p.verifier }, { Authorization: basic('app', secret) });
    await postForm(broker, '/token', { grant_type: 'refresh_token',
      refresh_token: r.json.refresh_token }, { Authorization: basic('app', `${secret}x`) });
    const log = broker.log();
    for (const s of [secret, code, p.verifier, r.json.access_token, r.json.refresh_token,
      r.json.id_token]) {
      assert.ok(!log.includes(s), `the log holds a secret: ${s.slice(0, 8)}…`);
      for (const part of s.split('.').filter((x) => x.length > 16)) {
        assert.ok(!log.includes(part), `the log holds part of a token: ${part.slice(0, 8)}…`);
      }
    }
    const handle = /authz=([A-Za-z0-9_-]+)/.exec(broker.log());
    assert.equal(handle, null, 'the log holds a pending request\'s handle');
  });

  test('the hosted page cannot use an unknown or used request handle', async () => {
    const pc = await connect(broker, { headers: { 'User-Agent': PC_UA } });
    await pc.fails({ type: 'ticket.new', authorize: 'no-such-handle' }, 'not_found');
    await pc.fails({ type: 'ticket.new', authorize: 42 }, 'bad_request');
  });
});
