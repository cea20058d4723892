// The OIDC provider in a cluster (docs/cluster.md): two nodes on one Redis. The device or
// the PC page talks to node A; the phone and the client's /token requests go to node B.
// Device records, pending authorize requests and codes live in Redis, and the phone's
// decision reaches the ticket on A through the ordinary forwarding of ticket.* requests.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  test, describe, before, after, assert, startBroker, stopAll, runCli, phoneLogin, PBKDF2,
  decodeJwt,
} from './harness.mjs';
import { startRedis } from './redis.mjs';
import {
  DEVICE_GRANT, addClient, postForm, basic, ticketOf, phoneDecides, codeVia, pkce,
} from './oidc_helpers.mjs';

const ALICE = ['alice', 'alice-pw-1'];
const CAROL = ['carol', 'carol-pw-1']; // wrong user codes: her count only

describe('OIDC across two nodes', () => {
  let redis;
  let keysDir;
  let A;
  let B;
  let secret;

  before(async () => {
    redis = await startRedis({ aof: true });
    keysDir = mkdtempSync(path.join(tmpdir(), 'qrlogin-keys-'));
    const args = (pub) => ['--store', redis.url, '--keys-dir', keysDir, ...PBKDF2,
      '--device-interval', '1', '--refresh-interval', '0', ...(pub ? ['--public-url', pub] : [])];
    A = await startBroker({ args: args(null) });
    // one issuer for the cluster: every node says A's URL, as behind a load balancer
    B = await startBroker({ args: args(A.url) });
    const r = await runCli(['useradd', '--store', redis.url, ...PBKDF2, ALICE[0]],
      { input: `${ALICE[1]}\n` });
    assert.equal(r.code, 0, r.stderr);
    await addClient({ redis }, 'cli', ['--public', '--grant', `${DEVICE_GRANT},refresh_token`]);
    secret = await addClient({ redis }, 'app', ['--redirect-uri', 'https://rp.example/cb']);
  });
  after(async () => {
    await stopAll();
    if (redis) await redis.dispose();
    rmSync(keysDir, { recursive: true, force: true });
  });

  test('clientlist reads the clients from Redis', async () => {
    const r = await runCli(['clientlist', '--store', redis.url]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^app\tconfidential\tauthorization_code,refresh_token\thttps:\/\/rp\.example\/cb$/m);
    assert.match(r.stdout, /^cli\tpublic\t/m);
    await addClient({ redis }, 'gone-soon', ['--public', '--redirect-uri', 'https://x.example/cb']);
    const del = await runCli(['clientdel', '--store', redis.url, 'gone-soon']);
    assert.equal(del.code, 0, del.stderr);
    const again = await runCli(['clientdel', '--store', redis.url, 'gone-soon']);
    assert.equal(again.code, 1, 'deleting a missing client fails');
    assert.doesNotMatch((await runCli(['clientlist', '--store', redis.url])).stdout, /gone-soon/);
    // and a deleted client is unknown to the nodes at once
    const d = await postForm(B, '/device_authorization', { client_id: 'gone-soon' });
    assert.equal(d.status, 401, d.body);
  });

  test('device grant: device on A; phone and /token on B', async () => {
    const da = await postForm(A, '/device_authorization', { client_id: 'cli', scope: 'openid' });
    assert.equal(da.status, 200, da.body);
    const a = da.json;
    const poll = () => postForm(B, '/token',
      { grant_type: DEVICE_GRANT, device_code: a.device_code, client_id: 'cli' });
    const pending = await poll();
    assert.equal(pending.json.error, 'authorization_pending', pending.body);
    const { info } = await phoneDecides(B, ...ALICE, { ticket: ticketOf(a.verification_uri_complete) });
    assert.equal(info.pc.client_name, 'cli');
    const ok = await poll();
    assert.equal(ok.status, 200, ok.body);
    assert.equal(decodeJwt(ok.json.id_token).aud, 'cli');
    // the refresh lands on A
    const r = await postForm(A, '/token',
      { grant_type: 'refresh_token', refresh_token: ok.json.refresh_token, client_id: 'cli' });
    assert.equal(r.status, 200, r.body);
    // tokens once, whichever node is asked
    const again = await postForm(A, '/token',
      { grant_type: DEVICE_GRANT, device_code: a.device_code, client_id: 'cli' });
    assert.equal(again.json.error, 'invalid_grant', again.body);
  });

  test('device grant: a user code typed on B; a denial on B', async () => {
    const a = (await postForm(A, '/device_authorization', { client_id: 'cli' })).json;
    await phoneDecides(B, ...ALICE, { userCode: a.user_code });
    const ok = await postForm(B, '/token',
      { grant_type: DEVICE_GRANT, device_code: a.device_code, client_id: 'cli' });
    assert.equal(ok.status, 200, ok.body);

    const d = (await postForm(A, '/device_authorization', { client_id: 'cli' })).json;
    await phoneDecides(B, ...ALICE, { ticket: ticketOf(d.verification_uri_complete), confirm: false });
    const denied = await postForm(B, '/token',
      { grant_type: DEVICE_GRANT, device_code: d.device_code, client_id: 'cli' });
    assert.equal(denied.json.error, 'access_denied', denied.body);
  });

  test('wrong user codes typed on A and on B count together', async () => {
    const r = await runCli(['useradd', '--store', redis.url, ...PBKDF2, CAROL[0]],
      { input: `${CAROL[1]}\n` });
    assert.equal(r.code, 0, r.stderr);
    const a = (await postForm(A, '/device_authorization', { client_id: 'cli' })).json;
    const wrong = a.user_code === 'BCDF-GHJK' ? 'BCDF-GHJL' : 'BCDF-GHJK';
    const { ws: onA } = await phoneLogin(A, ...CAROL);
    const { ws: onB } = await phoneLogin(B, ...CAROL);
    for (const ws of [onA, onB, onA, onB, onA]) {
      await ws.fails({ type: 'ticket.scan', user_code: wrong }, 'not_found');
    }
    const limited = await onB.fails({ type: 'ticket.scan', user_code: a.user_code }, 'rate_limited');
    assert.ok(limited.retry_after > 0, JSON.stringify(limited));
    await onA.fails({ type: 'ticket.scan', user_code: a.user_code }, 'rate_limited');
  });

  test('code flow: /authorize and the page on A; phone and /token on B', async () => {
    const p = pkce();
    const params = { client_id: 'app', redirect_uri: 'https://rp.example/cb', response_type: 'code',
      scope: 'openid', state: 'x', nonce: 'n', code_challenge: p.challenge,
      code_challenge_method: 'S256' };
    const { code } = await codeVia({ authorize: A, pc: A, phone: B }, params, ALICE);
    const form = { grant_type: 'authorization_code', code, redirect_uri: params.redirect_uri,
      code_verifier: p.verifier };
    const r = await postForm(B, '/token', form, { Authorization: basic('app', secret) });
    assert.equal(r.status, 200, r.body);
    assert.equal(decodeJwt(r.json.id_token).nonce, 'n');
    // the second use, on the other node, is refused and revokes the first's session
    const again = await postForm(A, '/token', form, { Authorization: basic('app', secret) });
    assert.equal(again.json.error, 'invalid_grant', again.body);
    const ui = await fetch(`${B.url}/userinfo`, { headers: { Authorization: `Bearer ${r.json.access_token}` } });
    assert.equal(ui.status, 401);
  });

  test('code flow: /authorize on A, the page\'s socket and the phone on B', async () => {
    const params = { client_id: 'app', redirect_uri: 'https://rp.example/cb', response_type: 'code',
      scope: 'openid', state: 'y' };
    const { code, phone } = await codeVia({ authorize: A, pc: B, phone: B }, params, ALICE);
    const r = await postForm(A, '/token',
      { grant_type: 'authorization_code', code, redirect_uri: params.redirect_uri },
      { Authorization: basic('app', secret) });
    assert.equal(r.status, 200, r.body);
    const { sid } = decodeJwt(r.json.id_token);
    const list = await phone.call({ type: 'session.list' }, 'sessions');
    assert.equal(list.sessions.find((s) => s.session_id === sid)?.client_name, 'app');
    await phoneLogin(B, ...ALICE); // the store still serves sign-ins on B
  });
});
