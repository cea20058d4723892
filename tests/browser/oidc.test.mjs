// OpenID Connect, the way an application uses it: a Node web app (docs/examples/web-rp.mjs,
// the openid-client library unmodified) sends Chromium to qrlogin's /authorize; the hosted
// PC page shows the QR; a phone reads it (a screenshot decoded by zbarimg) and confirms over
// the WebSocket API; the browser comes back to the app with a code, which the app exchanges
// at /token (PKCE, client_secret_basic) and whose ID token the library validates.
import {
  test, describe, before, after, assert, startBroker, stopAll, launch, missingPrerequisite,
  pcPage, phonePage, phoneSignIn, expectText, readTicket, artifact, WAIT, PBKDF2, decodeJwt,
  phoneLogin,
} from './browser.mjs';
import * as oidc from 'openid-client';
import { addClient, phoneDecides, DEVICE_GRANT } from '../blackbox/oidc_helpers.mjs';
import { startRp } from '../../docs/examples/web-rp.mjs';
import { deviceLogin } from '../../docs/examples/device-cli.mjs';

const skip = missingPrerequisite();
if (skip) console.log(`# skipping browser tests: ${skip}`);

const ALICE = ['alice', 'pw-alice'];
const BOB = ['bob', 'pw-bob']; // types wrong codes: his count only

describe('OIDC sign-in through the hosted QR page', { skip: skip || false }, () => {
  let broker;
  let browser;
  let rp;

  before(async () => {
    broker = await startBroker({ users: [ALICE, BOB], args: [...PBKDF2, '--refresh-interval', '0'] });
    // loopback redirect URIs match any port (RFC 8252 §7.3): the app picks a free one
    const secret = await addClient(broker, 'webapp', ['--redirect-uri',
      'http://127.0.0.1:8000/callback', '--redirect-uri', 'http://127.0.0.1:8000/']);
    await addClient(broker, 'tv-app', ['--public', '--grant', DEVICE_GRANT]);
    rp = await startRp({ issuer: broker.url, clientId: 'webapp', clientSecret: secret, insecure: true });
    browser = await launch();
  });
  after(async () => {
    if (browser) await browser.close();
    if (rp) await rp.close();
    await stopAll();
  });

  test('code + PKCE: QR on the hosted page, phone confirms, the app is signed in', async () => {
    const pc = await pcPage(browser);
    await pc.goto(`${rp.url}/login`, { waitUntil: 'commit', timeout: WAIT });
    // /authorize sent the browser to the hosted page with its request's handle
    await pc.waitForURL(new RegExp(`^${broker.url}/#authz=`), { timeout: WAIT });
    const { ticket } = await readTicket(pc, broker, artifact('oidc-qr.png'));

    const { ws, info } = await phoneDecides(broker, ...ALICE, { ticket });
    assert.equal(info.pc.client_name, 'webapp', 'the phone names the application');

    await pc.waitForURL(`${rp.url}/callback?**`, { timeout: WAIT });
    assert.equal(await pc.locator('#hello').textContent(), 'Hello alice');
    const back = new URL(pc.url());
    assert.equal(back.searchParams.get('iss'), broker.url, 'RFC 9207 iss in the response');
    await pc.screenshot({ path: artifact('oidc-rp-signed-in.png') });

    const [{ tokens, claims }] = [...rp.sessions.values()];
    assert.equal(claims.aud, 'webapp');
    assert.deepEqual(claims.amr, ['qr']);
    assert.equal(typeof claims.nonce, 'string');
    assert.equal(decodeJwt(tokens.access_token).client_id, 'webapp');

    // the session is the user's, named after the app
    const list = await ws.call({ type: 'session.list' }, 'sessions');
    const s = list.sessions.find((x) => x.session_id === claims.sid);
    assert.equal(s && s.client_name, 'webapp');

    const info2 = await oidc.fetchUserInfo(rp.config, tokens.access_token, claims.sub);
    assert.equal(info2.name, 'alice');
    const refreshed = await oidc.refreshTokenGrant(rp.config, tokens.refresh_token);
    assert.equal(decodeJwt(refreshed.access_token).sid, claims.sid);

    // RP-initiated logout: the session ends, its sockets are told, the app gets the browser back
    const { ws: attached } = await phoneLogin(broker, ...ALICE);
    await attached.call({ type: 'session.attach', access_token: refreshed.access_token }, 'session');
    await pc.goto(`${rp.url}/logout`);
    await pc.waitForURL(`${rp.url}/`, { timeout: WAIT });
    const pushed = await attached.next('session.revoked', WAIT);
    assert.equal(pushed.session_id, claims.sid);
    assert.equal(pushed.reason, 'logout');
    await assert.rejects(oidc.refreshTokenGrant(rp.config, refreshed.refresh_token),
      (e) => e.error === 'invalid_grant');
    pc.assertClean();
  });

  test('device grant: the code typed on the phone page', async () => {
    const phone = await phonePage(browser);
    await phone.goto(`${broker.url}/m/`);
    await phoneSignIn(phone, ...ALICE);
    await phone.getByTestId('user-code').waitFor({ state: 'visible', timeout: WAIT });
    const { claims } = await deviceLogin({
      issuer: broker.url,
      clientId: 'tv-app',
      insecure: true,
      show: async (a) => {
        await phone.getByTestId('user-code').fill(a.user_code.toLowerCase());
        await phone.getByTestId('user-code-go').click();
        await expectText(phone.getByTestId('pc-name'), /tv-app/, 'the phone names the client');
        await phone.screenshot({ path: artifact('oidc-phone-device.png') });
        await phone.getByTestId('confirm').click();
      },
    });
    assert.equal(claims.name, 'alice');
    assert.equal(claims.aud, 'tv-app');
    await expectText(phone.getByTestId('result'), /./, 'phone: a result after confirming');
    phone.assertClean();
  });

  test('device grant: after five wrong codes the phone page says to wait', async () => {
    const phone = await phonePage(browser);
    await phone.goto(`${broker.url}/m/`);
    await phoneSignIn(phone, ...BOB);
    for (let i = 0; i < 6; i++) {
      await phone.getByTestId('user-code').waitFor({ state: 'visible', timeout: WAIT });
      await phone.getByTestId('user-code').fill('bcdf-ghjk');
      await phone.getByTestId('user-code-go').click();
      const outcome = i < 5 ? 'notFound' : 'tooManyCodes';
      await phone.locator(`[data-testid="result"][data-outcome="${outcome}"]`)
        .waitFor({ state: 'visible', timeout: WAIT });
      await phone.getByTestId('done').click();
    }
    phone.assertClean();
  });
});
